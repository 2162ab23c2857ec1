//! What a method receives besides its parameters: who is calling, and the services
//! (store, clock, settings, permission seam, registry for `batch`).

use crate::rpc::ApiError;
use crate::rpc::access::Permissions;
use crate::rpc::registry::Registry;
use chrono::{DateTime, FixedOffset, Utc};
use crm_core::clock::Clock;
use crm_core::entity::EntityType;
use crm_core::identity::{Portal, Scope, User};
use crm_core::permission::{Action, Level, Reach};
use crm_core::schema::Schema;
use crm_core::smart::SmartType;
use crm_core::store::{Row, Store};
use std::sync::Arc;

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// An incoming webhook (its id).
    Webhook(i64),
    /// An OAuth access token.
    OAuth {
        /// The application (row id).
        app_id: i64,
        /// When the access token expires, unix seconds.
        expires: i64,
    },
}

impl AuthKind {
    /// Whether the caller presented an OAuth access token.
    pub fn is_token(self) -> bool {
        matches!(self, Self::OAuth { .. })
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user the call runs as.
    pub user: User,
    /// Scopes granted to the credential.
    pub scopes: Vec<Scope>,
    /// The credential.
    pub auth: AuthKind,
}

#[cfg(test)]
impl Caller {
    /// User 1, an administrator, calling with `auth` (unit tests of the call gates).
    pub(crate) fn test_admin(auth: AuthKind) -> Self {
        Self {
            user: User {
                id: 1,
                name: String::new(),
                last_name: String::new(),
                email: String::new(),
                admin: true,
                active: true,
                departments: vec![1],
                registered_at: 0,
            },
            scopes: Vec::new(),
            auth,
        }
    }
}

/// Shared services, built once at start-up.
#[derive(Debug)]
pub struct Services {
    /// The storage backend.
    pub store: Arc<dyn Store>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The server's time zone for date input and output.
    pub tz: FixedOffset,
    /// The permission seam.
    pub permissions: Arc<dyn Permissions>,
    /// Every method (used by `batch`, `methods`, `method.get`).
    pub registry: Arc<Registry>,
    /// Where the server is reached and its member id (OAuth answers, `app.info`).
    pub portal: Portal,
    /// The request journal, when the control endpoints are on.
    pub journal: Option<Arc<crate::rpc::journal::Journal>>,
    /// Injected faults, when the control endpoints are on.
    pub faults: Option<Arc<crate::rpc::faults::Faults>>,
    /// The emulated portal limits (off unless asked for).
    pub limits: Arc<crate::rpc::limits::Limits>,
    /// Calls per method since start, when the control endpoints are on.
    pub coverage: Option<Arc<crate::rpc::coverage::Coverage>>,
}

/// The context of one method call.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Who is calling.
    pub caller: Arc<Caller>,
    /// The services.
    pub services: Arc<Services>,
    /// This call's id in the journal (0 without one): calls it makes (a `batch`'s
    /// commands) are recorded as its children.
    pub call_id: u64,
}

impl Ctx {
    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.services.store.as_ref()
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.services.clock.now()
    }

    /// The smart process whose items have this `entityTypeId`, if one exists.
    pub async fn smart_type(&self, entity_type_id: i64) -> Result<Option<SmartType>, ApiError> {
        Ok(self
            .store()
            .types()
            .await?
            .into_iter()
            .find(|t| t.entity_type_id == entity_type_id))
    }

    /// The entity type of an `entityTypeId`: a built-in one, or an existing smart
    /// process's.
    pub async fn entity_type(&self, entity_type_id: i64) -> Result<Option<EntityType>, ApiError> {
        Ok(match EntityType::from_type_id(entity_type_id) {
            Some(EntityType::Dynamic(id)) => {
                self.smart_type(id).await?.map(|_| EntityType::Dynamic(id))
            }
            other => other,
        })
    }

    /// The fields of `entity` for this call: its standard fields and its user fields as
    /// stored now (read on every call, so a field added by another server counts at once).
    pub async fn schema(&self, entity: EntityType) -> Result<Schema, ApiError> {
        let user = match self.user_field_owner(entity).await? {
            Some(owner) => self.store().user_fields(Some(owner)).await?,
            None => Vec::new(),
        };
        Ok(Schema::with_user_fields(entity, user))
    }

    /// The `ENTITY_ID` of `entity`'s user fields: `CRM_LEAD`…, or `CRM_<type id>` for a
    /// smart process (none when the smart process does not exist).
    pub async fn user_field_owner(&self, entity: EntityType) -> Result<Option<String>, ApiError> {
        Ok(match entity {
            EntityType::Dynamic(id) => self
                .smart_type(id)
                .await?
                .map(|t| crm_core::userfield::type_owner(t.id)),
            built_in => Some(crm_core::userfield::owner_id(built_in)),
        })
    }

    /// What `action` on items of `entity` reaches for the caller; `None` when the caller
    /// holds no such right at all.
    pub async fn reach(
        &self,
        action: Action,
        entity: EntityType,
    ) -> Result<Option<Reach>, ApiError> {
        let permissions = &self.services.permissions;
        let user = &self.caller.user;
        let levels = permissions.level(user, entity, action).await?;
        if !levels.any() {
            return Ok(None);
        }
        let resolve = |level: Level| async move {
            Ok::<_, ApiError>(match level {
                Level::None => None,
                level => Some(permissions.reach(user, level).await?),
            })
        };
        let field = entity.def().stage.and_then(|s| s.category_field);
        match (field, levels.by_category.is_empty()) {
            (Some(field), false) => {
                let mut categories = Vec::new();
                for (category, level) in &levels.by_category {
                    categories.push((*category, resolve(*level).await?));
                }
                Ok(Some(Reach::ByCategory {
                    field,
                    categories,
                    other: resolve(levels.default).await?.map(Box::new),
                }))
            }
            _ => resolve(levels.default).await,
        }
    }

    /// The entity-level gate (`*.add`, the start of `*.list`): some right for `action`.
    pub async fn require_any(
        &self,
        action: Action,
        entity: EntityType,
        denied: fn() -> ApiError,
    ) -> Result<Reach, ApiError> {
        self.reach(action, entity).await?.ok_or_else(denied)
    }

    /// The item check: whether the caller may `action` item `id`. A full right passes
    /// without reading (for ids that do not exist too, as on a portal); a partial one is
    /// tested against the stored row, and a missing row is denied.
    pub async fn require_item(
        &self,
        action: Action,
        entity: EntityType,
        id: i64,
        denied: fn() -> ApiError,
    ) -> Result<Reach, ApiError> {
        let reach = self.require_any(action, entity, denied).await?;
        if reach != Reach::Everything {
            let row = self.store().get(entity, id).await?;
            if !Self::permits(&reach, row.as_ref()) {
                return Err(denied());
            }
        }
        Ok(reach)
    }

    /// The item check on a row already loaded (`None`: it does not exist).
    pub fn permits(reach: &Reach, row: Option<&Row>) -> bool {
        match row {
            Some(r) => r.reached_by(reach),
            None => *reach == Reach::Everything,
        }
    }

    /// The read check on entities about to be bound: "[Contact #N] Access denied." (400).
    pub async fn require_readable(
        &self,
        entity: EntityType,
        ids: Vec<i64>,
    ) -> Result<(), ApiError> {
        let denied =
            |id: i64| ApiError::Invalid(format!("[{} #{id}] Access denied.", entity.title()));
        let Some(first) = ids.first().copied() else {
            return Ok(());
        };
        let Some(reach) = self.reach(Action::Read, entity).await? else {
            return Err(denied(first));
        };
        if reach == Reach::Everything {
            return Ok(());
        }
        for id in ids {
            let row = self.store().get(entity, id).await?;
            if !Self::permits(&reach, row.as_ref()) {
                return Err(denied(id));
            }
        }
        Ok(())
    }
}
