//! The storage contract. Backends (SQLite, PostgreSQL) implement these traits, and the
//! conformance suite holds each of them to it. Stores know nothing of the wire format or
//! of election rules (they call the plans of [`crate::binding`] and [`crate::record`]).
//!
//! # What every backend guarantees
//!
//! - **One call, one transaction.** Every mutating method is atomic: it either applies all
//!   its changes (columns, multi-field values, binding sets, owner mirror columns) or none,
//!   also when the plan it runs rejects the change or the process dies halfway.
//! - **Binding sets are edited one at a time.** Two calls that edit the same owner's set
//!   (`edit_bindings`, `update` with new sets, `delete` cascading into it, `create`) never
//!   interleave: each sees the set as the previous one left it, even across processes
//!   sharing one database. So a non-empty set always has exactly one primary, no bound id
//!   twice, and the owner's mirror column equals the primary's id.
//! - **Ids** are allocated by the database, increase, and are never reused or shared
//!   between processes.
//! - **Time** is never read by a store: every timestamp it writes comes from its caller.
//! - **Failures** are typed: [`StoreError::NotFound`] and [`StoreError::BoundNotFound`] for
//!   missing rows, [`StoreError::Rejected`] for a plan's refusal, [`StoreError::Conflict`]
//!   when concurrent work could not be serialised in time (nothing was changed; the call
//!   may be repeated; backends retry serialization failures and deadlocks themselves
//!   first), and [`StoreError::Backend`] for anything else, with its cause as the source.

use crate::binding::{Binding, BindingKind};
use crate::entity::EntityType;
use crate::field::Stored;
use crate::identity::{App, Department, Grant, NewTokens, Role, Scope, TokenGrant, User, Webhook};
use crate::permission::Reach;
use crate::pipeline::{Category, Status};
use crate::query::ListQuery;
use crate::smart::SmartType;
use crate::userfield::UserField;
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt::Debug;

/// The cause of a backend failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors a store reports.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The addressed owner entity does not exist.
    #[error("not found")]
    NotFound,
    /// An entity to bind does not exist.
    #[error("{} #{id} does not exist", entity.title())]
    BoundNotFound {
        /// Its type.
        entity: EntityType,
        /// Its id.
        id: i64,
    },
    /// The domain rejected the change (a validation message for the client).
    #[error("{0}")]
    Rejected(String),
    /// Concurrent work could not be serialised in time (a lock held past the wait, a
    /// serialization failure or deadlock that retries did not resolve). Nothing was
    /// changed; the call may be repeated.
    #[error("conflict with concurrent work: {0}")]
    Conflict(#[source] BoxError),
    /// Anything else (I/O, SQL, a stopped backend).
    #[error("storage failure: {0}")]
    Backend(#[source] BoxError),
}

impl StoreError {
    /// A backend failure with its cause.
    pub fn backend(cause: impl Into<BoxError>) -> Self {
        Self::Backend(cause.into())
    }

    /// A conflict with concurrent work, with its cause.
    pub fn conflict(cause: impl Into<BoxError>) -> Self {
        Self::Conflict(cause.into())
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// One stored value of a multi-field (a phone number, an e-mail address…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiValue {
    /// Row id (clients address values by it on update).
    pub id: i64,
    /// `PHONE`, `EMAIL`, `WEB`, `IM` or `LINK`.
    pub type_id: String,
    /// `WORK`, `MOBILE`, …
    pub value_type: String,
    /// The value as given.
    pub value: String,
}

/// A multi-field value to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMultiValue {
    /// `PHONE`, `EMAIL`, …
    pub type_id: String,
    /// `WORK`, `MOBILE`, …
    pub value_type: String,
    /// The value.
    pub value: String,
}

/// An entity as stored: its columns by field name, and its multi-field values.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Entity id.
    pub id: i64,
    /// Column values by field name (every column of the table is present).
    pub values: HashMap<&'static str, Stored>,
    /// The user-field document: field name → stored value (a list for a multiple
    /// field); fields without a value are absent.
    pub uf: Map<String, Value>,
    /// Multi-field values in insertion order.
    pub multi: Vec<MultiValue>,
}

impl Row {
    /// What permission checks read from a row: its responsible user (`ASSIGNED_BY_ID`)
    /// and whether it is open to all (`OPENED = Y`).
    pub fn access(&self) -> (Option<i64>, bool) {
        let assigned = match self.values.get("ASSIGNED_BY_ID") {
            Some(Stored::Int(id)) => Some(*id),
            _ => None,
        };
        let opened = matches!(self.values.get("OPENED"), Some(Stored::Text(t)) if t == "Y");
        (assigned, opened)
    }

    /// Whether `reach` covers this row (by its category first, when the reach differs by
    /// category).
    pub fn reached_by(&self, reach: &Reach) -> bool {
        let reach = match reach {
            Reach::ByCategory { field, .. } => {
                let category = match self.values.get(field) {
                    Some(Stored::Int(c)) => *c,
                    _ => 0,
                };
                match reach.in_category(category) {
                    Some(r) => r,
                    None => return false,
                }
            }
            r => r,
        };
        let (assigned, opened) = self.access();
        reach.covers(assigned, opened)
    }
}

/// Computes column values that depend on the new id (e.g. the default title "Lead #12").
///
/// Plans (this and the two below) are pure functions of their inputs: a backend may run
/// one more than once when it repeats a transaction that lost a race with another process.
pub type AfterInsert = Box<dyn Fn(i64) -> Vec<(&'static str, Stored)> + Send + Sync>;

/// A plan for a binding set: receives the current set (ordered by SORT) and returns the
/// new set, or `None` for "no change".
pub type BindingEdit = Box<dyn Fn(&[Binding]) -> Option<Vec<Binding>> + Send + Sync>;

/// A plan for the sets that hold one bound entity: receives the sets of its holders and of
/// the owners named by the call (owner id, set; ascending by owner) and returns the sets
/// to write (an empty list: no change).
pub type HoldersEdit = Box<HoldersPlan<'static>>;

/// The plan of a [`HoldersEdit`], possibly borrowing for `'a`.
pub type HoldersPlan<'a> =
    dyn Fn(&[(i64, Vec<Binding>)]) -> Vec<(i64, Vec<Binding>)> + Send + Sync + 'a;

/// Changes to one entity, planned by the domain from its current state.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Update {
    /// Column values to write.
    pub values: Vec<(&'static str, Stored)>,
    /// The new user-field document, when it changes.
    pub uf: Option<Map<String, Value>>,
    /// Multi-field values to add.
    pub add_multi: Vec<NewMultiValue>,
    /// Multi-field values to rewrite: (row id, the value with its unchanged type).
    pub set_multi: Vec<(i64, NewMultiValue)>,
    /// Multi-field rows to delete.
    pub delete_multi: Vec<i64>,
    /// Binding sets to replace (bound entities must exist).
    pub bindings: Vec<(BindingKind, Vec<Binding>)>,
    /// Relations this entity is the bound side of whose holders are replaced: the
    /// owners to hold it (as `bound_id`, with SORT), each making it their primary.
    pub held: Vec<(BindingKind, Vec<Binding>)>,
}

/// Plans an update from the current row and the binding sets the entity owns.
pub type UpdatePlan = Box<
    dyn Fn(&Row, &[(BindingKind, Vec<Binding>)]) -> Result<Update, crate::field::InvalidValue>
        + Send
        + Sync,
>;

/// An entity to create.
pub struct NewEntity {
    /// The id to create it with (fixtures), or `None` for the next one; ids handed out
    /// later continue after the highest.
    pub id: Option<i64>,
    /// Column values.
    pub values: Vec<(&'static str, Stored)>,
    /// The user-field document.
    pub uf: Map<String, Value>,
    /// Multi-field values.
    pub multi: Vec<NewMultiValue>,
    /// Initial binding sets owned by the new entity (bound entities must exist).
    pub bindings: Vec<(BindingKind, Vec<Binding>)>,
    /// Owners that bind the new entity in a relation it is the bound side of (a
    /// company's contacts), each making it their primary; they must exist.
    pub held: Vec<(BindingKind, Vec<Binding>)>,
    /// Values computed from the new id, written in the same transaction.
    pub after_insert: Option<AfterInsert>,
}

impl Debug for NewEntity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewEntity")
            .field("id", &self.id)
            .field("values", &self.values)
            .field("uf", &self.uf)
            .field("multi", &self.multi)
            .field("bindings", &self.bindings)
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

/// Leads, contacts and the other CRM entities.
#[async_trait]
pub trait EntityStore: Send + Sync {
    /// Inserts an entity with its multi-fields and bindings; returns the new id (the
    /// given one when `new.id` is set; later ids continue after the highest).
    /// Errors: `BoundNotFound` when a binding names a missing entity, `Rejected` when
    /// the given id is taken.
    async fn create(&self, entity: EntityType, new: NewEntity) -> StoreResult<i64>;
    /// Reads one entity.
    async fn get(&self, entity: EntityType, id: i64) -> StoreResult<Option<Row>>;
    /// Whether the entity exists.
    async fn exists(&self, entity: EntityType, id: i64) -> StoreResult<bool>;
    /// Updates an entity in one transaction: loads it and its binding sets, asks `plan`
    /// for the changes, writes them. `false` when the entity does not exist.
    async fn update(&self, entity: EntityType, id: i64, plan: UpdatePlan) -> StoreResult<bool>;
    /// One page of a list query, and the total number of matches (0 when the query does
    /// not ask for a count).
    async fn list(&self, entity: EntityType, query: ListQuery) -> StoreResult<(Vec<Row>, i64)>;
    /// Several list queries at once, answered in order (a backend may run them in one trip
    /// and one read transaction; by default they run one after another).
    async fn lists(
        &self,
        queries: Vec<(EntityType, ListQuery)>,
    ) -> StoreResult<Vec<(Vec<Row>, i64)>> {
        let mut out = Vec::with_capacity(queries.len());
        for (entity, query) in queries {
            out.push(self.list(entity, query).await?);
        }
        Ok(out)
    }
    /// Deletes an entity, its multi-fields and the sets it owns, and removes it from every
    /// set it is bound in (re-electing those owners' primaries). `false` if it was absent.
    async fn delete(&self, entity: EntityType, id: i64) -> StoreResult<bool>;
}

/// Binding sets.
#[async_trait]
pub trait BindingStore: Send + Sync {
    /// The owner's set, ordered by SORT then bound id (empty for a missing owner).
    async fn bindings(&self, kind: BindingKind, owner: i64) -> StoreResult<Vec<Binding>>;
    /// Applies `edit` to the owner's set in one transaction, checking that the owner
    /// exists (when `require_owner`) and that each id in `must_exist` is an existing
    /// bound entity; writes the difference and the owner's primary column. Returns
    /// whether anything changed.
    async fn edit_bindings(
        &self,
        kind: BindingKind,
        owner: i64,
        require_owner: bool,
        must_exist: Vec<i64>,
        edit: BindingEdit,
    ) -> StoreResult<bool>;
    /// The bindings of `kind` that bind `bound`, with their owners, ordered by SORT then
    /// owner id (the company side of contact ↔ company).
    async fn holders(&self, kind: BindingKind, bound: i64) -> StoreResult<Vec<(i64, Binding)>>;
    /// Edits, in one transaction, every set of `kind` that binds `bound` and the sets of
    /// `owners`: checks that `bound` exists (`NotFound`, when `require_bound`) and that
    /// every one of `owners` exists (`BoundNotFound` naming the owner type), hands the
    /// sets to `edit` and writes what it returns, with each owner's mirror column. Each
    /// set is edited one at a time with every other call editing it. Returns whether
    /// anything changed.
    async fn edit_holders(
        &self,
        kind: BindingKind,
        bound: i64,
        require_bound: bool,
        owners: Vec<i64>,
        edit: HoldersEdit,
    ) -> StoreResult<bool>;
}

/// Users, departments and webhooks.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// On an empty database, creates the administrator (user 1, in the root department)
    /// and a webhook for it with the given secret hash and scopes, created at `now` (unix
    /// seconds). Returns `false` when users already existed.
    async fn bootstrap(
        &self,
        admin: User,
        secret_hash: String,
        scopes: Vec<Scope>,
        now: i64,
    ) -> StoreResult<bool>;
    /// One user.
    async fn user(&self, id: i64) -> StoreResult<Option<User>>;
    /// Every user, by id.
    async fn users(&self) -> StoreResult<Vec<User>>;
    /// Adds a user: with the id given (> 0; `Rejected` when taken; later ids continue
    /// after it) or the next one (0); `NotFound` when one of its departments does not
    /// exist.
    async fn create_user(&self, user: User) -> StoreResult<i64>;
    /// Activates or deactivates a user; `false` when there is no such user.
    async fn set_user_active(&self, id: i64, active: bool) -> StoreResult<bool>;
    /// Every department, by id.
    async fn departments(&self) -> StoreResult<Vec<Department>>;
    /// Adds a department (its id is allocated); `NotFound` when its parent or head does
    /// not exist.
    async fn create_department(&self, department: Department) -> StoreResult<i64>;
    /// The users in any of the given departments (ascending, each once).
    async fn department_members(&self, departments: Vec<i64>) -> StoreResult<Vec<i64>>;
    /// The portal's member id: random, made with the database, kept by export/import.
    async fn member_id(&self) -> StoreResult<String>;
    /// Stores a webhook created at `now` (unix seconds); `NotFound` when the user does not
    /// exist.
    async fn create_webhook(
        &self,
        user_id: i64,
        secret_hash: String,
        scopes: Vec<Scope>,
        now: i64,
    ) -> StoreResult<i64>;
    /// Every webhook, revoked ones included.
    async fn webhooks(&self) -> StoreResult<Vec<Webhook>>;
    /// The active webhooks of a user.
    async fn active_webhooks(&self, user_id: i64) -> StoreResult<Vec<Webhook>>;
    /// What authenticating a webhook call needs: the user's active webhooks and the user,
    /// read together (in one round trip where the backend can; every call pays for it).
    async fn webhook_owner(&self, user_id: i64) -> StoreResult<(Vec<Webhook>, Option<User>)> {
        Ok((
            self.active_webhooks(user_id).await?,
            self.user(user_id).await?,
        ))
    }
    /// Revokes a webhook; `false` when there was no such active webhook.
    async fn revoke_webhook(&self, id: i64) -> StoreResult<bool>;
}

/// Makes the stage list of a new category from its id.
pub type CategoryStages = Box<dyn Fn(i64) -> Vec<Status> + Send + Sync>;

/// Reference lists (`crm.status.*`) and deal categories.
#[async_trait]
pub trait PipelineStore: Send + Sync {
    /// Every status, by list, SORT and id.
    async fn statuses(&self) -> StoreResult<Vec<Status>>;
    /// Adds a status (its id is allocated); `Rejected` when its code is taken in its list.
    async fn create_status(&self, status: Status) -> StoreResult<i64>;
    /// Rewrites a status's name, SORT and colour; `false` when there is no such status.
    async fn update_status(&self, status: Status) -> StoreResult<bool>;
    /// Deletes a status; `false` when there was none.
    async fn delete_status(&self, id: i64) -> StoreResult<bool>;
    /// The categories of an entity type, by SORT and id.
    async fn categories(&self, entity_type_id: i64) -> StoreResult<Vec<Category>>;
    /// Adds a category (its id is allocated) with the stage list `stages` makes from
    /// that id, in one transaction.
    async fn create_category(&self, category: Category, stages: CategoryStages)
    -> StoreResult<i64>;
    /// Rewrites a category's name and SORT; `false` when there is no such category.
    async fn update_category(&self, category: Category) -> StoreResult<bool>;
    /// Deletes a category and its stage list (`list`, e.g. `DEAL_STAGE_3`); `false` when
    /// there was none.
    async fn delete_category(&self, id: i64, list: String) -> StoreResult<bool>;
    /// A portal setting (`DEFAULT_DEAL_CATEGORY_NAME`), if set.
    async fn setting(&self, name: String) -> StoreResult<Option<String>>;
    /// Sets a portal setting (`None` removes it).
    async fn set_setting(&self, name: String, value: Option<String>) -> StoreResult<()>;
}

/// CRM roles.
#[async_trait]
pub trait RoleStore: Send + Sync {
    /// Adds a role with its grants; `Rejected` when the name is taken.
    async fn create_role(&self, name: String, grants: Vec<Grant>) -> StoreResult<i64>;
    /// Assigns a role (by name) to a user; `false` when it already was; `NotFound` when
    /// the role or the user does not exist.
    async fn assign_role(&self, name: String, user_id: i64) -> StoreResult<bool>;
    /// Every role with its grants and users, by id.
    async fn roles(&self) -> StoreResult<Vec<Role>>;
    /// Every grant of every role assigned to the user.
    async fn user_grants(&self, user_id: i64) -> StoreResult<Vec<Grant>>;
}

/// OAuth applications, their tokens and authorization codes (hashes only).
///
/// Token and code operations take the caller's `now` and clean up pairs that can no
/// longer be used.
#[async_trait]
pub trait OAuthStore: Send + Sync {
    /// Registers an application (its id is allocated); `Rejected` when the client id is
    /// taken.
    async fn create_app(&self, app: App) -> StoreResult<i64>;
    /// Every application, by id.
    async fn apps(&self) -> StoreResult<Vec<App>>;
    /// An application by its client id.
    async fn app_by_client_id(&self, client_id: String) -> StoreResult<Option<App>>;
    /// An application by its row id.
    async fn app(&self, id: i64) -> StoreResult<Option<App>>;
    /// Stores a new token pair; `NotFound` when the application or user does not exist.
    async fn issue_tokens(
        &self,
        app_id: i64,
        user_id: i64,
        scopes: Vec<Scope>,
        tokens: NewTokens,
        now: i64,
    ) -> StoreResult<TokenGrant>;
    /// What the access token with this hash grants, expired or not (`None`: unknown).
    async fn access_token(&self, access_hash: String) -> StoreResult<Option<TokenGrant>>;
    /// Exchanges an unused, unexpired refresh token of the application for a new pair
    /// with the same user and scopes, using it up; `None` when there is no such token.
    async fn refresh_tokens(
        &self,
        app_id: i64,
        refresh_hash: String,
        tokens: NewTokens,
        now: i64,
    ) -> StoreResult<Option<TokenGrant>>;
    /// Stores an authorization code for (application, user), valid until `expires`.
    async fn create_code(
        &self,
        app_id: i64,
        user_id: i64,
        code_hash: String,
        expires: i64,
    ) -> StoreResult<()>;
    /// Exchanges an unused, unexpired code of the application for a new token pair with
    /// the application's scopes, using it up; `None` when there is no such code.
    async fn redeem_code(
        &self,
        app_id: i64,
        code_hash: String,
        tokens: NewTokens,
        now: i64,
    ) -> StoreResult<Option<TokenGrant>>;
}

/// The kinds of records with database-allocated ids, as [`TransferStore::highest_ids`]
/// names them: the identity records, each entity type by its code, multi-field values.
pub fn id_kinds() -> impl Iterator<Item = &'static str> {
    [
        "user",
        "webhook",
        "department",
        "role",
        "app",
        "status",
        "category",
        "userfield",
        "userfield_enum",
        "type",
    ]
    .into_iter()
    .chain(EntityType::ALL.map(EntityType::code))
    .chain(["multi_value"])
}

/// Records written as they are, ids included (an import of an export).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportBatch {
    /// Users.
    pub users: Vec<User>,
    /// Webhooks (secret hashes only).
    pub webhooks: Vec<Webhook>,
    /// Departments (replacing those of the same id, such as the root).
    pub departments: Vec<Department>,
    /// Roles with their grants and users.
    pub roles: Vec<Role>,
    /// OAuth applications (secret hashes only; their tokens are not moved).
    pub apps: Vec<App>,
    /// The source's member id, when this batch carries it.
    pub member_id: Option<String>,
    /// Entities with their multi-field values (their ids kept too).
    pub rows: Vec<(EntityType, Row)>,
    /// Bindings: kind, owner id, binding.
    pub bindings: Vec<(BindingKind, i64, Binding)>,
    /// Whether the reference lists are replaced: every stored status is removed before
    /// this batch's are written (set on the batch carrying the first status).
    pub clear_statuses: bool,
    /// Statuses (reference values and stages), ids kept.
    pub statuses: Vec<Status>,
    /// Deal categories, ids kept.
    pub categories: Vec<Category>,
    /// Portal settings (name, value), replacing those of the same name.
    pub settings: Vec<(String, String)>,
    /// User field definitions with their lists, ids kept.
    pub user_fields: Vec<UserField>,
    /// Smart processes, ids and `entityTypeId`s kept, each with its items' table (their
    /// categories and stages come as categories and statuses).
    pub types: Vec<SmartType>,
}

/// Bulk access for moving a whole database (`crm-server export` / `import`).
#[async_trait]
pub trait TransferStore: Send + Sync {
    /// Up to `limit` bindings of `kind` after `(owner, bound)`, in that order, with their
    /// owner ids.
    async fn bindings_after(
        &self,
        kind: BindingKind,
        after: (i64, i64),
        limit: i64,
    ) -> StoreResult<Vec<(i64, Binding)>>;
    /// Whether nothing is stored yet (no user, entity or binding).
    async fn is_empty(&self) -> StoreResult<bool>;
    /// The highest id ever handed out for each kind of record ([`id_kinds`]), deleted
    /// records included, 0 for none: what an import needs so ids are never reused.
    async fn highest_ids(&self) -> StoreResult<Vec<(String, i64)>>;
    /// Writes the records exactly as given, ids included, in one transaction. Nothing is
    /// checked or planned: the records come from a consistent export.
    async fn import(&self, batch: ImportBatch) -> StoreResult<()>;
    /// After the last batch: new ids continue after the highest imported one and after
    /// the given highest ids of the source (kinds of [`id_kinds`]).
    async fn finish_import(&self, highest: &[(String, i64)]) -> StoreResult<()>;
}

/// User field definitions (`crm.<entity>.userfield.*`).
#[async_trait]
pub trait UserFieldStore: Send + Sync {
    /// The definitions of one owner (`CRM_LEAD`), or of all owners, by id.
    async fn user_fields(&self, owner: Option<String>) -> StoreResult<Vec<UserField>>;
    /// Stores a new definition: its id and the ids of its list items are allocated.
    /// `Rejected` when its owner already has a field of that name.
    async fn create_user_field(&self, field: UserField) -> StoreResult<i64>;
    /// Rewrites a definition (not its owner, name, type or multiplicity): list items
    /// with id 0 get ids, stored items missing from it are removed; `false` when there
    /// is no such definition.
    async fn update_user_field(&self, field: UserField) -> StoreResult<bool>;
    /// Deletes a definition, its list and its value in every row of its owner, in one
    /// transaction; `false` when there was none.
    async fn delete_user_field(&self, id: i64) -> StoreResult<bool>;
}

/// Makes the stage list of a smart process's new category from the type's
/// `entityTypeId` and the category's id.
pub type TypeStages = Box<dyn Fn(i64, i64) -> Vec<Status> + Send + Sync>;

/// Smart processes (`crm.type.*`).
#[async_trait]
pub trait TypeStore: Send + Sync {
    /// Every smart process, by id.
    async fn types(&self) -> StoreResult<Vec<SmartType>>;
    /// Creates a smart process in one transaction: its id, its `entityTypeId` when 0
    /// (the next even number from 1030 after the highest one in use), its items'
    /// table, and its default category (`category`, with the stage list `stages` makes
    /// from the type's `entityTypeId` and the category's id). Returns it as stored;
    /// `Rejected` when its `entityTypeId` is taken.
    async fn create_type(
        &self,
        smart: SmartType,
        category: Category,
        stages: TypeStages,
    ) -> StoreResult<SmartType>;
    /// Rewrites a smart process's title, flags, default category and last change (not
    /// its `entityTypeId`); `false` when there is no such type.
    async fn update_type(&self, smart: SmartType) -> StoreResult<bool>;
    /// Deletes a smart process with everything of it: its items' table, categories and
    /// stage lists, the bindings and multi-field values of its items, its user fields;
    /// `false` when there was none.
    async fn delete_type(&self, id: i64) -> StoreResult<bool>;
}

/// Emptying a database between tests (a test double's reset).
#[async_trait]
pub trait ResetStore: Send + Sync {
    /// Empties the CRM in one transaction: every entity, smart process (with its table),
    /// binding, multi-field value, user field, category and portal setting but the member
    /// id; reference lists back to `statuses` (a fresh portal's); ids start again at 1.
    /// With `all`, users, departments, roles, OAuth applications (with their tokens) and
    /// webhooks go too, except the administrator (user 1), the root department and the
    /// administrator's webhooks.
    async fn reset(&self, all: bool, statuses: Vec<Status>) -> StoreResult<()>;
}

/// Named snapshots of the whole database, restored in place (a test double's snapshots).
#[async_trait]
pub trait SnapshotStore: Send + Sync {
    /// Saves everything stored now under `name` (replacing a snapshot of that name).
    async fn snapshot(&self, name: String) -> StoreResult<()>;
    /// Puts back everything as it was at the snapshot, in one transaction (ids continue as
    /// they would have from there); `false` when there is no such snapshot.
    async fn restore(&self, name: String) -> StoreResult<bool>;
    /// The snapshots' names, sorted.
    async fn snapshots(&self) -> StoreResult<Vec<String>>;
    /// Deletes a snapshot; `false` when there was none.
    async fn delete_snapshot(&self, name: String) -> StoreResult<bool>;
}

/// Whether a snapshot name is usable: 1 to 40 of `a-z 0-9 _`.
pub fn valid_snapshot_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Everything a backend provides.
#[async_trait]
pub trait Store:
    EntityStore
    + BindingStore
    + IdentityStore
    + RoleStore
    + OAuthStore
    + PipelineStore
    + UserFieldStore
    + TypeStore
    + ResetStore
    + SnapshotStore
    + TransferStore
    + Debug
    + 'static
{
    /// Runs `work` — the commands of one `batch` — as one unit for the backend's writes:
    /// on SQLite they join the writer's group transaction and are committed together
    /// (each still succeeds or fails on its own, as in a portal's batch), and the unit's
    /// reads see its writes. Returns once everything it wrote is committed, or the commit's
    /// failure. Backends without such a unit just run it.
    async fn grouped<'a>(
        &'a self,
        work: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>,
    ) -> StoreResult<()> {
        work.await;
        Ok(())
    }

    /// Finishes outstanding work and closes the database cleanly.
    async fn close(&self);
}
