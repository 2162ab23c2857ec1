//! `crm-server export` and `crm-server import`: a whole database as one NDJSON file, to move
//! between backends (SQLite ↔ PostgreSQL) or to back up and restore.
//!
//! # Format (version 4; versions 1 to 3 are read too)
//!
//! One JSON object per line, each with a `"type"`:
//! - first `{"type":"header","format":"crm-server-export","version":4,"exported_at":…}`;
//! - then `portal` (the member id and a renamed default deal category), `type` (smart
//!   processes, version 4), `category` and `status` (the categories of deals and smart
//!   processes and the reference lists, version 3), `user_field` (user field definitions
//!   with their lists, version 4), `department`, `user` (with its departments), `role`
//!   (grants and users), `app` (OAuth applications, secret hashes only; their tokens are
//!   not exported), `webhook` (secret hashes only), `entity` (`"entity":"lead"`,
//!   `"contact"`, `"deal"`, `"company"` or a smart process's `"dynamic_<entityTypeId>"`,
//!   its `id`, every stored column under `values` by field name, its multi-field values
//!   with their ids under `multi`, user-field values under `uf` from version 4) and `binding` (`kind`, `owner`, `bound`, `sort`,
//!   `role_id`, `primary`) lines, in that order (version 1 had no portal, department,
//!   role or app lines, and users without e-mail, departments and registration time);
//! - last `{"type":"end","counts":{…},"highest_ids":{…}}` with the number of lines of each
//!   type, so a truncated file is refused, and the highest id the source ever handed out
//!   for each kind, so ids of records deleted before the export are not reused.
//!
//! Values keep their stored types: integers as JSON integers, amounts as JSON numbers with
//! a fraction, text as strings, empty as `null`. Ids, dates (unix seconds), multi-fields,
//! bindings and credentials survive the round trip unchanged.

use anyhow::{Context, bail, ensure};
use crm_core::binding::{Binding, BindingKind};
use crm_core::entity::EntityType;
use crm_core::entity::binding_kinds;
use crm_core::field::Stored;
use crm_core::identity::{App, Department, Grant, Role, Scope, User, Webhook};
use crm_core::permission::Reach;
use crm_core::permission::{Action, Level};
use crm_core::pipeline::{Category, Status};
use crm_core::query::{Condition, Dir, ListQuery, Op};
use crm_core::smart::SmartType;
use crm_core::store::{ImportBatch, MultiValue, Row, Store};
use crm_core::userfield::UserField;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

/// The `format` of the header line.
pub const FORMAT: &str = "crm-server-export";

/// The version of the format this build writes (it reads this one and every earlier one).
pub const VERSION: u32 = 4;

/// The portal setting holding a renamed default deal category.
const DEFAULT_DEAL_CATEGORY: &str = "DEFAULT_DEAL_CATEGORY_NAME";

/// Entities exported per page, and records imported per transaction.
const CHUNK: usize = 1_000;

/// The entity types, in the order they are exported.
const ENTITIES: [EntityType; EntityType::ALL.len()] = EntityType::ALL;

/// How many lines of each type a file holds.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// `user` lines.
    pub users: u64,
    /// `webhook` lines.
    pub webhooks: u64,
    /// `entity` lines by the entity type's plural (`leads`, `contacts`, …), written
    /// beside the other counts; types without lines may be absent.
    #[serde(flatten)]
    pub entities: BTreeMap<String, u64>,
    /// Multi-field values inside `entity` lines.
    pub multi_values: u64,
    /// `binding` lines.
    pub bindings: u64,
    /// `department` lines.
    #[serde(default)]
    pub departments: u64,
    /// `role` lines.
    #[serde(default)]
    pub roles: u64,
    /// `app` lines.
    #[serde(default)]
    pub apps: u64,
    /// `status` lines (reference values and stages; version 3).
    #[serde(default)]
    pub statuses: u64,
    /// `category` lines (deal categories; version 3).
    #[serde(default)]
    pub categories: u64,
    /// `user_field` lines (user field definitions; version 4).
    #[serde(default)]
    pub user_fields: u64,
    /// `type` lines (smart processes; version 4).
    #[serde(default)]
    pub types: u64,
}

/// One multi-field value.
#[derive(Debug, Serialize, Deserialize)]
struct Multi {
    id: i64,
    type_id: String,
    value_type: String,
    value: String,
}

/// One line of the file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line {
    Header {
        format: String,
        version: u32,
        exported_at: String,
    },
    Portal {
        member_id: String,
        /// The default deal category's name, when renamed (version 3).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default_deal_category: Option<String>,
    },
    /// A reference value or stage (version 3), as the store holds it.
    Status(Status),
    /// A deal category (version 3).
    Category(Category),
    /// A user field definition with its list (version 4).
    UserField(UserField),
    /// A smart process (version 4); its items are `entity` lines of `dynamic_<id>`.
    Type(SmartType),
    Department {
        id: i64,
        name: String,
        sort: i64,
        parent: Option<i64>,
        head: Option<i64>,
    },
    User {
        id: i64,
        name: String,
        last_name: String,
        admin: bool,
        active: bool,
        #[serde(default)]
        email: String,
        #[serde(default = "root_department")]
        departments: Vec<i64>,
        #[serde(default)]
        registered_at: i64,
    },
    Role {
        id: i64,
        name: String,
        /// `entity.action` → level.
        grants: Vec<GrantLine>,
        users: Vec<i64>,
    },
    App {
        id: i64,
        client_id: String,
        secret_hash: String,
        name: String,
        scopes: Vec<String>,
        redirect_uri: String,
        created_at: i64,
    },
    Webhook {
        id: i64,
        user_id: i64,
        secret_hash: String,
        scopes: Vec<String>,
        created_at: i64,
        revoked: bool,
    },
    Entity(EntityLine),
    Binding(BindingLine),
    End {
        counts: Counts,
        /// The highest id the source ever handed out per kind (deleted records included),
        /// so the target never hands one out again.
        #[serde(default)]
        highest_ids: Map<String, Value>,
    },
}

/// One grant of a `role` line.
#[derive(Debug, Serialize, Deserialize)]
struct GrantLine {
    entity: String,
    action: String,
    level: String,
}

/// Users of a version 1 file belong to the root department, as after migrating a
/// database of that time.
fn root_department() -> Vec<i64> {
    vec![crm_core::identity::ROOT_DEPARTMENT]
}

/// The `type` of a line, read without the rest.
#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
}

/// An `entity` line (read without its `type`, which serde ignores for a struct).
#[derive(Debug, Serialize, Deserialize)]
struct EntityLine {
    entity: String,
    id: i64,
    values: Map<String, Value>,
    multi: Vec<Multi>,
    /// The user-field document (version 4; absent when empty).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    uf: Map<String, Value>,
}

/// A `binding` line.
#[derive(Debug, Serialize, Deserialize)]
struct BindingLine {
    kind: String,
    owner: i64,
    bound: i64,
    sort: i64,
    role_id: i64,
    primary: bool,
}

/// Parses one line. The numerous entity and binding lines are read straight into their
/// fields: serde reads an internally tagged enum through a buffered copy of the whole
/// line, which made imports several times slower.
fn parse_line(text: &str) -> serde_json::Result<Line> {
    let tag: Tag<'_> = serde_json::from_str(text)?;
    match tag.kind.as_ref() {
        "entity" => serde_json::from_str(text).map(Line::Entity),
        "binding" => serde_json::from_str(text).map(Line::Binding),
        _ => serde_json::from_str(text),
    }
}

fn entity_of(code: &str) -> anyhow::Result<EntityType> {
    ENTITIES
        .into_iter()
        .find(|e| e.code() == code)
        .or_else(|| EntityType::parse_code(code).filter(|e| matches!(e, EntityType::Dynamic(_))))
        .with_context(|| format!("unknown entity `{code}`"))
}

fn json_of(v: &Stored) -> Value {
    match v {
        Stored::Null => Value::Null,
        Stored::Int(i) => Value::from(*i),
        Stored::Real(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Stored::Text(s) => Value::String(s.clone()),
    }
}

fn stored_of(v: &Value) -> anyhow::Result<Stored> {
    Ok(match v {
        Value::Null => Stored::Null,
        Value::Number(n) if n.is_i64() => Stored::Int(n.as_i64().unwrap_or_default()),
        Value::Number(n) => Stored::Real(n.as_f64().context("a number out of range")?),
        Value::String(s) => Stored::Text(s.clone()),
        other => bail!("a value that is not a stored one: {other}"),
    })
}

impl Counts {
    /// The `entity` lines of one type.
    pub fn entity(&self, entity: EntityType) -> u64 {
        self.entities.get(entity.def().plural).copied().unwrap_or(0)
    }

    fn add_entity(&mut self, entity: EntityType) {
        *self.entities.entry(entity.def().plural.into()).or_default() += 1;
    }
}

/// A progress bar on a terminal (hidden elsewhere).
fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({eta} left)",
    ) {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}

/// Entities of one type with ids above `after`, by id.
async fn entities_after(
    store: &dyn Store,
    entity: EntityType,
    after: i64,
) -> anyhow::Result<Vec<Row>> {
    let id = entity.field("ID").context("entities have an ID field")?;
    let query = ListQuery {
        filter: vec![Condition::Field {
            field: id,
            op: Op::Gt,
            values: vec![Stored::Int(after)],
            negate: false,
        }],
        order: vec![(id, Dir::Asc)],
        offset: 0,
        limit: i64::try_from(CHUNK).unwrap_or(1_000),
        count: false,
        with_multi: true,
        visible: Reach::Everything,
    };
    Ok(store.list(entity, query).await?.0)
}

async fn count(store: &dyn Store, entity: EntityType) -> anyhow::Result<u64> {
    let query = ListQuery::counting(Vec::new());
    Ok(u64::try_from(store.list(entity, query).await?.1).unwrap_or(0))
}

fn write_line(out: &mut impl Write, line: &Line) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Writes the whole database to `path`; returns what was written.
pub async fn export(store: &dyn Store, path: &Path) -> anyhow::Result<Counts> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::new(file);
    let mut counts = Counts::default();
    write_line(
        &mut out,
        &Line::Header {
            format: FORMAT.into(),
            version: VERSION,
            exported_at: chrono::Utc::now().to_rfc3339(),
        },
    )?;
    write_line(
        &mut out,
        &Line::Portal {
            member_id: store.member_id().await?,
            default_deal_category: store.setting(DEFAULT_DEAL_CATEGORY.into()).await?,
        },
    )?;
    let types = store.types().await?;
    for t in &types {
        write_line(&mut out, &Line::Type(t.clone()))?;
        counts.types += 1;
    }
    let smart: Vec<EntityType> = types
        .iter()
        .map(|t| EntityType::Dynamic(t.entity_type_id))
        .collect();
    for entity in std::iter::once(EntityType::Deal).chain(smart.iter().copied()) {
        for c in store.categories(entity.type_id()).await? {
            write_line(&mut out, &Line::Category(c))?;
            counts.categories += 1;
        }
    }
    for st in store.statuses().await? {
        write_line(&mut out, &Line::Status(st))?;
        counts.statuses += 1;
    }
    for field in store.user_fields(None).await? {
        write_line(&mut out, &Line::UserField(field))?;
        counts.user_fields += 1;
    }
    for d in store.departments().await? {
        write_line(
            &mut out,
            &Line::Department {
                id: d.id,
                name: d.name,
                sort: d.sort,
                parent: d.parent,
                head: d.head,
            },
        )?;
        counts.departments += 1;
    }
    for u in store.users().await? {
        write_line(
            &mut out,
            &Line::User {
                id: u.id,
                name: u.name,
                last_name: u.last_name,
                admin: u.admin,
                active: u.active,
                email: u.email,
                departments: u.departments,
                registered_at: u.registered_at,
            },
        )?;
        counts.users += 1;
    }
    for r in store.roles().await? {
        let grants = r
            .grants
            .into_iter()
            .map(|g| GrantLine {
                entity: g.entity,
                action: g.action.code().into(),
                level: g.level.code().into(),
            })
            .collect();
        write_line(
            &mut out,
            &Line::Role {
                id: r.id,
                name: r.name,
                grants,
                users: r.users,
            },
        )?;
        counts.roles += 1;
    }
    for a in store.apps().await? {
        write_line(
            &mut out,
            &Line::App {
                id: a.id,
                client_id: a.client_id,
                secret_hash: a.secret_hash,
                name: a.name,
                scopes: a.scopes.iter().map(|s| s.code().to_string()).collect(),
                redirect_uri: a.redirect_uri,
                created_at: a.created_at,
            },
        )?;
        counts.apps += 1;
    }
    for w in store.webhooks().await? {
        write_line(
            &mut out,
            &Line::Webhook {
                id: w.id,
                user_id: w.user_id,
                secret_hash: w.secret_hash,
                scopes: w.scopes.iter().map(|s| s.code().to_string()).collect(),
                created_at: w.created_at,
                revoked: w.revoked,
            },
        )?;
        counts.webhooks += 1;
    }
    let entities: Vec<EntityType> = ENTITIES.into_iter().chain(smart.iter().copied()).collect();
    let mut total = 0;
    for entity in &entities {
        total += count(store, *entity).await?;
    }
    let bar = progress(total, "exporting entities");
    for entity in entities {
        let mut after = 0;
        loop {
            let rows = entities_after(store, entity, after).await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            for row in rows {
                counts.multi_values += row.multi.len() as u64;
                let values = entity
                    .columns()
                    .map(|f| {
                        let v = row.values.get(f.name).unwrap_or(&Stored::Null);
                        (f.name.to_string(), json_of(v))
                    })
                    .collect();
                let multi = row
                    .multi
                    .into_iter()
                    .map(|m| Multi {
                        id: m.id,
                        type_id: m.type_id,
                        value_type: m.value_type,
                        value: m.value,
                    })
                    .collect();
                write_line(
                    &mut out,
                    &Line::Entity(EntityLine {
                        entity: entity.code().into(),
                        id: row.id,
                        values,
                        multi,
                        uf: row.uf,
                    }),
                )?;
                counts.add_entity(entity);
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();
    let smart_kinds = smart.iter().flat_map(|e| e.def().owns.iter().copied());
    for kind in binding_kinds().chain(smart_kinds) {
        let mut after = (0, 0);
        loop {
            let page = store
                .bindings_after(kind, after, i64::try_from(CHUNK).unwrap_or(1_000))
                .await?;
            let Some((owner, last)) = page.last() else {
                break;
            };
            after = (*owner, last.bound_id);
            for (owner, b) in page {
                write_line(
                    &mut out,
                    &Line::Binding(BindingLine {
                        kind: kind.code.into(),
                        owner,
                        bound: b.bound_id,
                        sort: b.sort,
                        role_id: b.role_id,
                        primary: b.is_primary,
                    }),
                )?;
                counts.bindings += 1;
            }
        }
    }
    let highest_ids = store
        .highest_ids()
        .await?
        .into_iter()
        .map(|(k, v)| (k, Value::from(v)))
        .collect();
    write_line(
        &mut out,
        &Line::End {
            counts: counts.clone(),
            highest_ids,
        },
    )?;
    out.flush()?;
    Ok(counts)
}

/// Reads the file line by line, checking its header, its end line and its counts, and
/// hands every record to `each` (with the bytes read so far). Nothing else is done, so a
/// first pass with an empty `each` proves the file whole before anything is written.
async fn read_file<F, Fut>(path: &Path, mut each: F) -> anyhow::Result<(Counts, Vec<(String, i64)>)>
where
    F: FnMut(Line, u64) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut input = BufReader::new(file);
    let mut counts = Counts::default();
    let mut expected = None;
    let mut number = 0u64;
    let mut consumed = 0u64;
    let mut text = String::new();
    loop {
        text.clear();
        let read = input.read_line(&mut text)?;
        if read == 0 {
            break;
        }
        number += 1;
        consumed += read as u64;
        let line = parse_line(&text)
            .with_context(|| format!("line {number} is not a record of this format"))?;
        if number == 1 {
            match line {
                Line::Header {
                    ref format,
                    version,
                    ..
                } if format == FORMAT => ensure!(
                    (1..=VERSION).contains(&version),
                    "the file is format version {version}; this build reads versions 1 to {VERSION}"
                ),
                _ => bail!("line 1 is not a {FORMAT} header"),
            }
            continue;
        }
        ensure!(expected.is_none(), "line {number} follows the end line");
        match &line {
            Line::Header { .. } => bail!("line {number}: a second header"),
            Line::Portal { .. } => {}
            Line::Status(_) => counts.statuses += 1,
            Line::Category(_) => counts.categories += 1,
            Line::UserField(_) => counts.user_fields += 1,
            Line::Type(_) => counts.types += 1,
            Line::Department { .. } => counts.departments += 1,
            Line::User { .. } => counts.users += 1,
            Line::Role { .. } => counts.roles += 1,
            Line::App { .. } => counts.apps += 1,
            Line::Webhook { .. } => counts.webhooks += 1,
            Line::Entity(EntityLine { entity, multi, .. }) => {
                let entity = entity_of(entity).with_context(|| format!("line {number}"))?;
                counts.add_entity(entity);
                counts.multi_values += multi.len() as u64;
            }
            Line::Binding(_) => counts.bindings += 1,
            Line::End {
                counts,
                highest_ids,
            } => {
                let ids = highest_ids
                    .iter()
                    .map(|(k, v)| {
                        Ok((
                            k.clone(),
                            v.as_i64().context("an id that is not an integer")?,
                        ))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let mut declared = counts.clone();
                declared.entities.retain(|_, n| *n > 0);
                expected = Some((declared, ids));
            }
        }
        each(line, consumed)
            .await
            .with_context(|| format!("line {number}"))?;
    }
    let Some((declared, highest)) = expected else {
        bail!("the file ends without its end line: it is incomplete");
    };
    ensure!(
        declared == counts,
        "the file declares {declared:?} but holds {counts:?}"
    );
    Ok((counts, highest))
}

/// Adds one record to the batch being built.
fn add_to_batch(
    batch: &mut ImportBatch,
    line: Line,
    kinds: &HashMap<&str, BindingKind>,
    statuses_seen: &mut bool,
) -> anyhow::Result<()> {
    match line {
        Line::Portal {
            member_id,
            default_deal_category,
        } => {
            batch.member_id = Some(member_id);
            if let Some(name) = default_deal_category {
                batch.settings.push((DEFAULT_DEAL_CATEGORY.into(), name));
            }
        }
        Line::Status(status) => {
            // The first status of a file replaces the defaults the database starts with.
            batch.clear_statuses |= !*statuses_seen;
            *statuses_seen = true;
            batch.statuses.push(status);
        }
        Line::Category(category) => batch.categories.push(category),
        Line::UserField(field) => batch.user_fields.push(field),
        Line::Type(smart) => batch.types.push(smart),
        Line::Department {
            id,
            name,
            sort,
            parent,
            head,
        } => batch.departments.push(Department {
            id,
            name,
            sort,
            parent,
            head,
        }),
        Line::User {
            id,
            name,
            last_name,
            admin,
            active,
            email,
            departments,
            registered_at,
        } => batch.users.push(User {
            id,
            name,
            last_name,
            email,
            admin,
            active,
            departments,
            registered_at,
        }),
        Line::Role {
            id,
            name,
            grants,
            users,
        } => {
            let grants = grants
                .into_iter()
                .map(|g| {
                    Ok(Grant {
                        action: Action::parse(&g.action)
                            .with_context(|| format!("unknown action `{}`", g.action))?,
                        level: Level::parse(&g.level)
                            .with_context(|| format!("unknown level `{}`", g.level))?,
                        entity: g.entity,
                    })
                })
                .collect::<anyhow::Result<_>>()?;
            batch.roles.push(Role {
                id,
                name,
                grants,
                users,
            });
        }
        Line::App {
            id,
            client_id,
            secret_hash,
            name,
            scopes,
            redirect_uri,
            created_at,
        } => batch.apps.push(App {
            id,
            client_id,
            secret_hash,
            name,
            scopes: scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
            redirect_uri,
            created_at,
        }),
        Line::Webhook {
            id,
            user_id,
            secret_hash,
            scopes,
            created_at,
            revoked,
        } => batch.webhooks.push(Webhook {
            id,
            user_id,
            secret_hash,
            scopes: scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
            created_at,
            revoked,
        }),
        Line::Entity(EntityLine {
            entity,
            id,
            values,
            multi,
            uf,
        }) => {
            let entity = entity_of(&entity)?;
            let mut stored = HashMap::new();
            for (name, v) in &values {
                let field = entity
                    .columns()
                    .find(|f| f.name == name)
                    .with_context(|| format!("no column {name} on {entity:?}"))?;
                stored.insert(field.name, stored_of(v)?);
            }
            let multi = multi
                .into_iter()
                .map(|m| MultiValue {
                    id: m.id,
                    type_id: m.type_id,
                    value_type: m.value_type,
                    value: m.value,
                })
                .collect();
            batch.rows.push((
                entity,
                Row {
                    id,
                    values: stored,
                    uf,
                    multi,
                },
            ));
        }
        Line::Binding(BindingLine {
            kind,
            owner,
            bound,
            sort,
            role_id,
            primary,
        }) => {
            let kind = kinds
                .get(kind.as_str())
                .copied()
                .or_else(|| crm_core::entity::binding_kind(&kind))
                .with_context(|| format!("unknown binding kind `{kind}`"))?;
            batch.bindings.push((
                kind,
                owner,
                Binding {
                    bound_id: bound,
                    sort,
                    role_id,
                    is_primary: primary,
                },
            ));
        }
        Line::Header { .. } | Line::End { .. } => {}
    }
    Ok(())
}

/// Reads `path` into an empty database; returns what was read. The whole file is checked
/// first (format, every record, the end line's counts), then written in transactions of a
/// thousand records, then the database's counts are compared with the file's.
pub async fn import(store: &dyn Store, path: &Path) -> anyhow::Result<Counts> {
    ensure!(
        store.is_empty().await?,
        "the target database is not empty; import only into a new database"
    );
    let kinds: HashMap<&str, BindingKind> = binding_kinds().map(|k| (k.code, k)).collect();
    // First pass: the whole file, every record converted, nothing written.
    read_file(path, |line, _| {
        let mut scratch = ImportBatch::default();
        let result = add_to_batch(&mut scratch, line, &kinds, &mut false);
        async move { result }
    })
    .await?;
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let bar = progress(size, "importing");
    let batch = std::cell::RefCell::new(ImportBatch::default());
    let pending = std::cell::Cell::new(0usize);
    let statuses_seen = std::cell::Cell::new(false);
    let (counts, highest) = read_file(path, |line, consumed| {
        bar.set_position(consumed);
        let mut seen = statuses_seen.get();
        let converted = add_to_batch(&mut batch.borrow_mut(), line, &kinds, &mut seen);
        statuses_seen.set(seen);
        pending.set(pending.get() + 1);
        let full = (pending.get() >= CHUNK).then(|| {
            pending.set(0);
            batch.take()
        });
        async move {
            converted?;
            if let Some(full) = full {
                store.import(full).await?;
            }
            Ok(())
        }
    })
    .await?;
    store.import(batch.take()).await?;
    bar.finish_and_clear();
    store.finish_import(&highest).await?;
    let mut entities = Vec::new();
    let smart = store
        .types()
        .await?
        .into_iter()
        .map(|t| EntityType::Dynamic(t.entity_type_id));
    for entity in EntityType::ALL.into_iter().chain(smart) {
        entities.push((count(store, entity).await?, counts.entity(entity)));
    }
    let stored = (
        entities
            .iter()
            .map(|(stored, _)| *stored)
            .collect::<Vec<_>>(),
        store.users().await?.len() as u64,
        store.webhooks().await?.len() as u64,
        store.roles().await?.len() as u64,
        store.apps().await?.len() as u64,
    );
    let read = (
        entities.iter().map(|(_, read)| *read).collect::<Vec<_>>(),
        counts.users,
        counts.webhooks,
        counts.roles,
        counts.apps,
    );
    ensure!(
        stored == read,
        "the database holds {stored:?} (entities, users, webhooks, roles, apps) after importing {counts:?}"
    );
    Ok(counts)
}
