//! SQL shared by the backends: table names, column lists from the field tables, and list
//! queries (`crm_core::query::ListQuery`: filter, order, paging) rendered for a
//! [`Dialect`]. Column names come only from the field tables and codes only from code;
//! every value from a client is a bound argument, never part of the text.

use crm_core::comm::search_key;
use crm_core::entity::EntityType;
use crm_core::field::{FieldDef, FieldType, Storage, Stored};
use crm_core::identity::Scope;
use crm_core::permission::Reach;
use crm_core::query::{Condition, Dir, ListQuery, Op, stage_order};
use crm_core::smart::SmartType;
use crm_core::store::{StoreError, StoreResult};
use crm_core::userfield::{self, EnumItem, UserField};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

/// The SQL dialect a statement is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Dialect {
    /// SQLite: `?N` placeholders, value lists as a JSON array read with `json_each`.
    Sqlite,
    /// PostgreSQL: `$N` placeholders, value lists as an array parameter.
    Postgres,
}

impl Dialect {
    /// The placeholder of the `n`-th argument (1-based).
    pub(crate) fn placeholder(self, n: usize) -> String {
        match self {
            Self::Sqlite => format!("?{n}"),
            Self::Postgres => format!("${n}"),
        }
    }

    /// `col` matching the LIKE pattern `p`, case-insensitively for all of Unicode and
    /// with no escape character (`\\` is an ordinary character). SQLite's `like` is
    /// replaced by the backend with a Unicode-aware one; PostgreSQL folds case with the
    /// ICU root collation, whatever the column's or database's collation.
    fn like(self, col: &str, p: &str) -> String {
        match self {
            Self::Sqlite => format!("{col} LIKE {p}"),
            Self::Postgres => format!("({col} COLLATE \"und-x-icu\") ILIKE {p} ESCAPE ''"),
        }
    }

    /// The false literal, for `NOT COALESCE(condition, false)`.
    fn false_literal(self) -> &'static str {
        match self {
            Self::Sqlite => "0",
            Self::Postgres => "false",
        }
    }

    /// `col` equal to any element of the list argument `p` (of the column's type).
    fn in_list(self, col: &str, field: &FieldDef, p: &str) -> String {
        match self {
            Self::Sqlite => format!("{col} IN (SELECT value FROM json_each({p}))"),
            Self::Postgres => format!("{col} = ANY({p}::{}[])", pg_type(field.ty)),
        }
    }

    /// `test(element)` for some element of the list argument `p`.
    fn any_element(self, field: &FieldDef, p: &str, test: impl Fn(&str) -> String) -> String {
        match self {
            Self::Sqlite => format!(
                "EXISTS (SELECT 1 FROM json_each({p}) WHERE {})",
                test("value")
            ),
            Self::Postgres => format!(
                "EXISTS (SELECT 1 FROM unnest({p}::{}[]) AS v(value) WHERE {})",
                pg_type(field.ty),
                test("v.value")
            ),
        }
    }
}

/// The PostgreSQL column type a field is stored in.
pub(crate) fn pg_type(ty: FieldType) -> &'static str {
    if ty.is_integer() || ty == FieldType::DateTime {
        "bigint"
    } else if ty == FieldType::Double {
        "double precision"
    } else {
        "text"
    }
}

/// A bound argument of a built statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    /// One value.
    Value(Stored),
    /// A list of values of one column (one parameter whatever its length).
    List(Vec<Stored>),
}

/// A statement and its arguments, in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Built {
    /// The SQL text.
    pub(crate) sql: String,
    /// The arguments of `?1`/`$1`, … in order.
    pub(crate) args: Vec<Arg>,
}

/// Collects arguments while a statement is built.
struct Binder {
    dialect: Dialect,
    args: Vec<Arg>,
}

impl Binder {
    fn bind(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        self.dialect.placeholder(self.args.len())
    }
}

/// The table of an entity type (a fixed whitelist: never built from input).
pub(crate) fn table(entity: EntityType) -> &'static str {
    entity.def().table
}

/// `ID` and the stored columns of an entity in field-table order, each prefixed with
/// `prefix` (`"t."` or `""`): the shape every row mapper reads.
pub(crate) fn row_columns(entity: EntityType, prefix: &'static str) -> Arc<str> {
    memo(Statement::Columns(entity, prefix), || {
        std::iter::once("ID")
            .chain(entity.columns().map(|f| f.name))
            .chain(std::iter::once(UF))
            .map(|c| format!("{prefix}{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// Statement texts that depend only on their key, built once per process (every read of
/// an entity needs them; building them per call showed in profiles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Statement {
    Columns(EntityType, &'static str),
    SelectById(Dialect, EntityType),
}

fn memo(key: Statement, make: impl FnOnce() -> String) -> Arc<str> {
    static TEXTS: LazyLock<RwLock<HashMap<Statement, Arc<str>>>> = LazyLock::new(Default::default);
    if let Some(text) = TEXTS.read().ok().and_then(|m| m.get(&key).cloned()) {
        return text;
    }
    let text: Arc<str> = make().into();
    if let Ok(mut m) = TEXTS.write() {
        m.insert(key, Arc::clone(&text));
    }
    text
}

/// The column of every entity table holding the row's user-field document (JSON text),
/// last in [`row_columns`].
pub(crate) const UF: &str = "UF";

/// The user-field document of a row as stored.
pub(crate) fn uf_text(doc: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(doc.clone()).to_string()
}

/// A stored user-field document (anything unreadable is an empty one).
pub(crate) fn uf_doc(text: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

/// Inserts one entity row with its id: `ID`, the stored columns in field-table order and
/// the user-field document.
pub(crate) fn insert_with_id(dialect: Dialect, entity: EntityType) -> String {
    let n = entity.columns().count() + 2;
    let marks: Vec<String> = (1..=n).map(|i| dialect.placeholder(i)).collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        table(entity),
        row_columns(entity, ""),
        marks.join(", ")
    )
}

/// Inserts a new row of `entity` with the named columns (argument n is the n-th name), or
/// with every column's default when there are none; on PostgreSQL the statement returns the
/// row's id.
pub(crate) fn insert_new(dialect: Dialect, entity: EntityType, names: &[&str]) -> String {
    let returning = match dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => " RETURNING ID",
    };
    if names.is_empty() {
        return format!("INSERT INTO {} DEFAULT VALUES{returning}", table(entity));
    }
    let marks: Vec<String> = (1..=names.len()).map(|i| dialect.placeholder(i)).collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({}){returning}",
        table(entity),
        names.join(", "),
        marks.join(", ")
    )
}

/// Inserts one multi-field value with its id and its lookup keys
/// ([`crm_core::comm::search_key`], [`crm_core::comm::match_code`]).
pub(crate) fn insert_multi_with_id(dialect: Dialect) -> String {
    let marks: Vec<String> = (1..=8).map(|i| dialect.placeholder(i)).collect();
    format!(
        "INSERT INTO crm_multifield (ID, ENTITY_TYPE_ID, ENTITY_ID, TYPE_ID, VALUE_TYPE, VALUE, \
         VALUE_KEY, COMM_CODE) VALUES ({})",
        marks.join(", ")
    )
}

/// Bindings of a kind after `(owner, bound)` (arguments 1–3), `limit` (argument 4).
pub(crate) fn bindings_after(dialect: Dialect) -> String {
    let p = |i| dialect.placeholder(i);
    format!(
        "SELECT OWNER_ID, BOUND_ID, SORT, ROLE_ID, IS_PRIMARY FROM crm_binding \
         WHERE KIND = {} AND (OWNER_ID > {} OR (OWNER_ID = {} AND BOUND_ID > {})) \
         ORDER BY OWNER_ID, BOUND_ID LIMIT {}",
        p(1),
        p(2),
        p(2),
        p(3),
        p(4)
    )
}

/// A user field definition as stored in `crm_userfield.DEFINITION`: everything but its
/// id and its list (those are columns and rows of their own).
pub(crate) fn definition_text(field: &UserField) -> String {
    let bare = UserField {
        id: 0,
        items: Vec::new(),
        ..field.clone()
    };
    serde_json::to_string(&bare).unwrap_or_default()
}

/// A stored user field definition with its id and list.
pub(crate) fn definition(id: i64, text: &str, items: Vec<EnumItem>) -> StoreResult<UserField> {
    let mut field: UserField = serde_json::from_str(text).map_err(StoreError::backend)?;
    field.id = id;
    field.items = items;
    field.sort_items();
    Ok(field)
}

/// The refusal of a second field of one name.
pub(crate) fn already_exists(field: &UserField) -> String {
    format!(
        "A field named '{}' already exists for entity '{}'.",
        field.field_name, field.entity_id
    )
}

/// The table whose rows hold the values of an owner's user fields (`CRM_LEAD` →
/// `crm_lead`).
pub(crate) fn owner_table(owner: &str) -> Option<&'static str> {
    EntityType::ALL
        .into_iter()
        .find(|e| userfield::owner_id(*e) == owner)
        .map(table)
}

/// The statements creating a smart process's items table (`ID`, one column per stored
/// field of its description, the user-field document) and its indexes.
pub(crate) fn create_item_table(dialect: Dialect, entity: EntityType) -> Vec<String> {
    let t = table(entity);
    let id = match dialect {
        Dialect::Sqlite => "ID INTEGER PRIMARY KEY AUTOINCREMENT",
        Dialect::Postgres => "ID BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    };
    let mut columns = vec![id.to_string()];
    for f in entity.columns() {
        let ty = match (dialect, pg_type(f.ty)) {
            (Dialect::Sqlite, "bigint") => "INTEGER",
            (Dialect::Sqlite, "double precision") => "REAL",
            (Dialect::Sqlite, _) => "TEXT",
            (Dialect::Postgres, "bigint") => "BIGINT",
            (Dialect::Postgres, "double precision") => "DOUBLE PRECISION",
            (Dialect::Postgres, _) => "TEXT COLLATE \"C\"",
        };
        columns.push(format!("{} {ty}", f.name));
    }
    columns.push(format!("{UF} TEXT NOT NULL DEFAULT '{{}}'"));
    let mut out = vec![format!("CREATE TABLE {t} ({})", columns.join(", "))];
    for column in [
        "CATEGORY_ID",
        "STAGE_ID",
        "ASSIGNED_BY_ID",
        "DATE_CREATE",
        "CONTACT_ID",
        "COMPANY_ID",
    ] {
        if entity.field(column).is_some() {
            // NULLS FIRST on PostgreSQL, so the index serves both directions of a list's
            // order (see migration 0012); SQLite orders NULL first already.
            let nulls = match dialect {
                Dialect::Sqlite => "",
                Dialect::Postgres => " NULLS FIRST",
            };
            out.push(format!(
                "CREATE INDEX ix_{t}_{} ON {t} ({column}{nulls}, ID)",
                column.to_ascii_lowercase()
            ));
        }
    }
    out
}

/// A smart process as stored in `crm_type.DEFINITION`.
pub(crate) fn type_text(smart: &SmartType) -> String {
    serde_json::to_string(smart).unwrap_or_default()
}

/// A stored smart process.
pub(crate) fn type_of(text: &str) -> StoreResult<SmartType> {
    serde_json::from_str(text).map_err(StoreError::backend)
}

/// The tables a reset empties completely, children before parents.
pub(crate) const CRM_TABLES: [&str; 11] = [
    "crm_binding",
    "crm_multifield",
    "crm_userfield_enum",
    "crm_userfield",
    "crm_type",
    "crm_category",
    "crm_status",
    "crm_lead",
    "crm_contact",
    "crm_deal",
    "crm_company",
];

/// The tables a reset with `all` empties completely as well.
pub(crate) const ACCESS_TABLES: [&str; 6] = [
    "oauth_code",
    "oauth_token",
    "oauth_app",
    "crm_role_user",
    "crm_role_grant",
    "crm_role",
];

/// What a reset with `all` keeps of the rest: the administrator, the root department and
/// the administrator's webhooks.
pub(crate) const ACCESS_KEPT: [&str; 4] = [
    "DELETE FROM webhook WHERE USER_ID <> 1",
    "DELETE FROM user_department WHERE USER_ID <> 1",
    "DELETE FROM app_user WHERE ID <> 1",
    "DELETE FROM department WHERE ID <> 1",
];

/// The columns of a `crm_userfield_enum` row, in the order the row mappers read them.
pub(crate) const ENUM_COLUMNS: &str = "ID, FIELD_ID, VALUE, DEF, SORT, XML_ID";

/// The columns of a `crm_status` row, in the order the row mappers read them.
pub(crate) const STATUS_COLUMNS: &str = "ID, ENTITY_ID, STATUS_ID, NAME, NAME_INIT, SORT, SYSTEM, \
     COLOR, SEMANTICS, CATEGORY_ID";

/// The columns of a `crm_category` row.
pub(crate) const CATEGORY_COLUMNS: &str = "ID, ENTITY_TYPE_ID, NAME, SORT, CREATED";

/// The table behind each kind of [`crm_core::store::id_kinds`].
pub(crate) fn id_table(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "user" => "app_user",
        "webhook" => "webhook",
        "department" => "department",
        "role" => "crm_role",
        "app" => "oauth_app",
        "multi_value" => "crm_multifield",
        "status" => "crm_status",
        "category" => "crm_category",
        "userfield" => "crm_userfield",
        "userfield_enum" => "crm_userfield_enum",
        "type" => "crm_type",
        code => return EntityType::parse_code(code).map(table),
    })
}

/// Whether anything is stored: a row from any of the tables an import fills.
pub(crate) fn any_row() -> String {
    let tables = [
        "app_user",
        "crm_binding",
        "crm_role",
        "oauth_app",
        "crm_category",
        "crm_userfield",
        "crm_type",
    ]
    .into_iter()
    .chain(EntityType::ALL.map(table));
    let mut sql: String = tables
        .map(|t| format!("SELECT 1 FROM {t} UNION ALL "))
        .collect();
    sql.push_str("SELECT 1 FROM department WHERE ID <> 1 LIMIT 1");
    sql
}

/// One entity row by id (argument 1).
pub(crate) fn select_by_id(dialect: Dialect, entity: EntityType) -> Arc<str> {
    memo(Statement::SelectById(dialect, entity), || {
        format!(
            "SELECT {} FROM {} WHERE ID = {}",
            row_columns(entity, ""),
            table(entity),
            dialect.placeholder(1)
        )
    })
}

/// Scopes from their stored text (unknown codes are skipped).
pub(crate) fn parse_scopes(text: &str) -> Vec<Scope> {
    text.split(',').filter_map(Scope::parse).collect()
}

/// Ids from their stored comma-separated text (empty: none).
pub(crate) fn parse_ids(text: &str) -> Vec<i64> {
    text.split(',')
        .filter_map(|t| t.trim().parse().ok())
        .collect()
}

/// Selects users in the order the row mappers read them: id, name, last name, e-mail,
/// administrator and active flags, registration time, and the department ids as
/// comma-separated text (ascending). Append `WHERE …`/`ORDER BY …` to it.
pub(crate) fn select_users(dialect: Dialect) -> String {
    let departments = match dialect {
        Dialect::Sqlite => {
            "(SELECT group_concat(DEPARTMENT_ID) FROM (SELECT DEPARTMENT_ID FROM user_department \
             d WHERE d.USER_ID = u.ID ORDER BY DEPARTMENT_ID))"
        }
        Dialect::Postgres => {
            "(SELECT string_agg(DEPARTMENT_ID::text, ',' ORDER BY DEPARTMENT_ID) \
             FROM user_department d WHERE d.USER_ID = u.ID)"
        }
    };
    format!(
        "SELECT u.ID, u.NAME, u.LAST_NAME, u.EMAIL, u.ADMIN, u.ACTIVE, u.DATE_REGISTER, \
         COALESCE({departments}, '') FROM app_user u"
    )
}

/// The columns of a department row, in the order the row mappers read them.
pub(crate) const DEPARTMENT_COLUMNS: &str = "ID, NAME, SORT, PARENT_ID, HEAD_ID";

/// The columns of an OAuth application row, in the order the row mappers read them.
pub(crate) const APP_COLUMNS: &str =
    "ID, CLIENT_ID, SECRET_HASH, NAME, SCOPES, REDIRECT_URI, CREATED_AT";

/// The columns of a token grant, in the order the row mappers read them.
pub(crate) const TOKEN_COLUMNS: &str = "ID, APP_ID, USER_ID, SCOPES, ACCESS_EXPIRES";

/// The columns of a webhook row, in the order the row mappers read them.
pub(crate) const WEBHOOK_COLUMNS: &str = "ID, USER_ID, SECRET_HASH, SCOPES, CREATED_AT, REVOKED";

/// A value that also matches NULL for `=` (the portal's "empty" filter values).
fn is_empty_value(v: &Stored) -> bool {
    matches!(v, Stored::Null | Stored::Int(0)) || matches!(v, Stored::Text(s) if s.is_empty())
}

/// The value of a single-valued field in a row of `t`: its column, or for a user field
/// its entry in the row's document, typed for comparison (field names are checked to be
/// `[A-Z0-9_]` when defined, so they may appear in the text).
fn column(dialect: Dialect, field: &FieldDef) -> String {
    if field.storage != Storage::User {
        return format!("t.{}", field.name);
    }
    if !plain_name(field.name) {
        return "NULL".into();
    }
    match dialect {
        Dialect::Sqlite => format!("json_extract(t.{UF}, '$.{}')", field.name),
        Dialect::Postgres => pg_cast(&format!("(t.{UF}::jsonb ->> '{}')", field.name), field),
    }
}

/// Whether a user field's name may appear in SQL text: `[A-Z0-9_]` only, as every name
/// is checked to be when defined (a definition read from an import file is not trusted
/// further: a name outside that set matches nothing).
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// A text expression cast to the type a field's values compare in on PostgreSQL.
fn pg_cast(text: &str, field: &FieldDef) -> String {
    match pg_type(field.ty) {
        "text" => text.to_string(),
        ty => format!("({text})::{ty}"),
    }
}

/// `test(element)` for some element of a multiple user field's list in a row of `t`.
fn any_of_list(dialect: Dialect, field: &FieldDef, test: &dyn Fn(&str) -> String) -> String {
    if !plain_name(field.name) {
        return "(1 = 0)".into();
    }
    match dialect {
        Dialect::Sqlite => format!(
            "EXISTS (SELECT 1 FROM json_each(t.{UF}, '$.{}') e WHERE {})",
            field.name,
            test("e.value")
        ),
        Dialect::Postgres => {
            let list = format!("(t.{UF}::jsonb -> '{}')", field.name);
            format!(
                "EXISTS (SELECT 1 FROM jsonb_array_elements_text(CASE WHEN \
                 jsonb_typeof({list}) = 'array' THEN {list} ELSE '[]'::jsonb END) AS e(value) \
                 WHERE {})",
                test(&pg_cast("e.value", field))
            )
        }
    }
}

/// One condition as SQL.
fn condition(b: &mut Binder, entity: EntityType, c: &Condition) -> String {
    match c {
        Condition::Field {
            field,
            op,
            values,
            negate,
        } if field.multiple && field.storage == Storage::User => {
            let dialect = b.dialect;
            let args: Vec<String> = values
                .iter()
                .map(|v| b.bind(Arg::Value(v.clone())))
                .collect();
            let test = |col: &str| {
                let one: Vec<String> = args
                    .iter()
                    .map(|p| match op {
                        Op::Eq => format!("{col} = {p}"),
                        Op::Lt => format!("{col} < {p}"),
                        Op::Le => format!("{col} <= {p}"),
                        Op::Gt => format!("{col} > {p}"),
                        Op::Ge => format!("{col} >= {p}"),
                        Op::Like => dialect.like(col, p),
                    })
                    .collect();
                format!("({})", one.join(" OR "))
            };
            let any = any_of_list(dialect, field, &test);
            if *negate { format!("NOT {any}") } else { any }
        }
        Condition::Field {
            field,
            op,
            values,
            negate,
        } => {
            let col = column(b.dialect, field);
            let dialect = b.dialect;
            let compare = |value: &str| match op {
                Op::Eq => format!("{col} = {value}"),
                Op::Lt => format!("{col} < {value}"),
                Op::Le => format!("{col} <= {value}"),
                Op::Gt => format!("{col} > {value}"),
                Op::Ge => format!("{col} >= {value}"),
                Op::Like => dialect.like(&col, value),
            };
            let test = match values.as_slice() {
                [one] => compare(&b.bind(Arg::Value(one.clone()))),
                many => {
                    let p = b.bind(Arg::List(many.to_vec()));
                    if *op == Op::Eq {
                        dialect.in_list(&col, field, &p)
                    } else {
                        dialect.any_element(field, &p, compare)
                    }
                }
            };
            let any = if *op == Op::Eq && values.iter().any(is_empty_value) {
                format!("({col} IS NULL OR {test})")
            } else if let Some(candidates) = text_candidates(b, entity, field, *op, values, *negate)
            {
                format!("({candidates} AND {test})")
            } else {
                format!("({test})")
            };
            if *negate {
                format!("NOT COALESCE({any}, {})", b.dialect.false_literal())
            } else {
                any
            }
        }
        // The entity type and multi-field type come from code, never from input. Both
        // conditions select the owners from the index on the value's key, so a lookup
        // costs what the matches cost, not what the table holds.
        Condition::Multi { type_id, prefix } => {
            // The literal part before the first `_` (which matches any one character)
            // bounds the search key; LIKE then decides on the value itself.
            let literal = prefix.split('_').next().unwrap_or_default();
            let mut tests = Vec::new();
            if !literal.is_empty() {
                let lo = search_key(literal);
                let hi = format!("{lo}{}", char::MAX);
                tests.push(format!(
                    "m.VALUE_KEY >= {}",
                    b.bind(Arg::Value(Stored::Text(lo)))
                ));
                tests.push(format!(
                    "m.VALUE_KEY < {}",
                    b.bind(Arg::Value(Stored::Text(hi)))
                ));
            }
            let p = b.bind(Arg::Value(Stored::Text(format!("{prefix}%"))));
            tests.push(b.dialect.like("m.VALUE", &p));
            owners_of_values(entity, type_id, &tests.join(" AND "))
        }
        Condition::Comm { type_id, code } => {
            let p = b.bind(Arg::Value(Stored::Text(code.clone())));
            owners_of_values(entity, type_id, &format!("m.COMM_CODE = {p}"))
        }
    }
}

/// The text columns of each built-in entity that substring filters find from a trigram
/// index (migration 0011 builds it for exactly these).
pub(crate) fn text_indexed(entity: EntityType) -> &'static [&'static str] {
    match entity {
        EntityType::Lead => &["TITLE", "NAME", "SECOND_NAME", "LAST_NAME", "COMPANY_TITLE"],
        EntityType::Contact => &["NAME", "SECOND_NAME", "LAST_NAME"],
        EntityType::Deal | EntityType::Company => &["TITLE"],
        EntityType::Dynamic(_) => &[],
    }
}

/// On SQLite, for a LIKE filter on an indexed text column: the rows whose column holds the
/// pattern's longest literal run, from the FTS5 trigram table (`t.ID IN (…)`); the LIKE
/// itself still decides. `None` where the index cannot help: another operator, a
/// negation, several values, or no run of three characters between the wildcards. On
/// PostgreSQL the LIKE expression reads its pg_trgm index as it stands.
fn text_candidates(
    b: &mut Binder,
    entity: EntityType,
    field: &FieldDef,
    op: Op,
    values: &[Stored],
    negate: bool,
) -> Option<String> {
    if b.dialect != Dialect::Sqlite || op != Op::Like || negate {
        return None;
    }
    let [Stored::Text(pattern)] = values else {
        return None;
    };
    if field.storage != Storage::Column || !text_indexed(entity).contains(&field.name) {
        return None;
    }
    let run = pattern
        .split(['%', '_'])
        .max_by_key(|run| run.chars().count())
        .filter(|run| run.chars().count() >= 3)?;
    let fts = format!("{}_text", table(entity));
    let query = format!("{} : \"{}\"", field.name, run.replace('"', "\"\""));
    let p = b.bind(Arg::Value(Stored::Text(query)));
    Some(format!(
        "t.ID IN (SELECT rowid FROM {fts} WHERE {fts} MATCH {p})"
    ))
}

/// The rows of `entity` owning a multi-field value (`m`) of `type_id` that passes `test`.
fn owners_of_values(entity: EntityType, type_id: &str, test: &str) -> String {
    format!(
        "t.ID IN (SELECT m.ENTITY_ID FROM crm_multifield m WHERE m.ENTITY_TYPE_ID = {} \
         AND m.TYPE_ID = '{type_id}' AND {test})",
        entity.type_id()
    )
}

/// `a AND b AND …` as a balanced tree, so a thousand conditions nest only a few levels
/// deep (a flat chain would pass SQLite's expression-depth limit of 1,000).
fn conjunction(parts: &[String]) -> String {
    match parts {
        [] => "1 = 1".into(),
        [one] => one.clone(),
        _ => {
            let (a, b) = parts.split_at(parts.len() / 2);
            format!("({} AND {})", conjunction(a), conjunction(b))
        }
    }
}

/// The rows a caller may read: assigned to one of the reached users, or open to all; for
/// a reach by category, per category (`None`: every row).
fn visibility(b: &mut Binder, visible: &Reach) -> Option<String> {
    match visible {
        Reach::Everything => None,
        Reach::Only { users, opened } => Some(only(b, users, *opened)),
        Reach::ByCategory {
            field,
            categories,
            other,
        } => {
            let column = format!("COALESCE(t.{field}, 0)");
            let mut parts = Vec::new();
            for (category, reach) in categories {
                let Some(reach) = reach else { continue };
                let is = format!("{column} = {}", b.bind(Arg::Value(Stored::Int(*category))));
                parts.push(match visibility(b, reach) {
                    Some(v) => format!("({is} AND {v})"),
                    None => format!("({is})"),
                });
            }
            if let Some(reach) = other {
                let mut rest: Vec<String> = categories
                    .iter()
                    .map(|(c, _)| format!("{column} <> {}", b.bind(Arg::Value(Stored::Int(*c)))))
                    .collect();
                rest.extend(visibility(b, reach));
                parts.push(if rest.is_empty() {
                    "(1 = 1)".into()
                } else {
                    format!("({})", rest.join(" AND "))
                });
            }
            Some(if parts.is_empty() {
                "(1 = 0)".into()
            } else {
                format!("({})", parts.join(" OR "))
            })
        }
    }
}

/// Rows assigned to one of `users`, or open to all when `opened`.
fn only(b: &mut Binder, users: &[i64], opened: bool) -> String {
    let users: Vec<Stored> = users.iter().copied().map(Stored::Int).collect();
    let assigned = match users.as_slice() {
        [] => None,
        [one] => Some(format!(
            "t.ASSIGNED_BY_ID = {}",
            b.bind(Arg::Value(one.clone()))
        )),
        _ => {
            let p = b.bind(Arg::List(users));
            Some(b.dialect.in_list("t.ASSIGNED_BY_ID", &ASSIGNED_BY_ID, &p))
        }
    };
    let open = opened.then(|| "t.OPENED = 'Y'".to_string());
    match (assigned, open) {
        (Some(a), Some(o)) => format!("({a} OR {o})"),
        (Some(one), None) | (None, Some(one)) => format!("({one})"),
        (None, None) => "(1 = 0)".into(),
    }
}

/// The type of the `ASSIGNED_BY_ID` column, for rendering a list of user ids.
const ASSIGNED_BY_ID: FieldDef = FieldDef::new("ASSIGNED_BY_ID", FieldType::User, "");

fn where_clause(b: &mut Binder, entity: EntityType, q: &ListQuery) -> String {
    let mut parts: Vec<String> = q.filter.iter().map(|c| condition(b, entity, c)).collect();
    parts.extend(visibility(b, &q.visible));
    if parts.is_empty() {
        return String::new();
    }
    format!(" WHERE {}", conjunction(&parts))
}

/// The sort keys: stage fields by pipeline position, `ID ASC` last unless named. Empty
/// values sort first ascending and last descending, as in SQLite (and a portal's MySQL);
/// PostgreSQL is told so explicitly.
fn order_clause(dialect: Dialect, order: &[(&'static FieldDef, Dir)]) -> String {
    let mut keys: Vec<String> = order
        .iter()
        .map(|(f, dir)| {
            // PostgreSQL sorts NULL last ascending; the portal (and SQLite) first, hence the
            // NULLS clauses. The id is never NULL, and with the clause its primary key could
            // not serve the order: a `>ID` keyset page sorted every later row (51 ms at
            // 100,000 leads instead of an index walk).
            let d = match (dialect, *dir) {
                (Dialect::Sqlite, Dir::Asc) => "ASC",
                (Dialect::Sqlite, Dir::Desc) => "DESC",
                (Dialect::Postgres, Dir::Asc) if f.name == "ID" => "ASC",
                (Dialect::Postgres, Dir::Desc) if f.name == "ID" => "DESC",
                (Dialect::Postgres, Dir::Asc) => "ASC NULLS FIRST",
                (Dialect::Postgres, Dir::Desc) => "DESC NULLS LAST",
            };
            match stage_order(f) {
                Some(stages) => {
                    let whens: Vec<String> = stages
                        .iter()
                        .enumerate()
                        .map(|(i, (code, _))| format!("WHEN '{code}' THEN {i}"))
                        .collect();
                    format!(
                        "CASE t.{} {} ELSE {} END {d}",
                        f.name,
                        whens.join(" "),
                        stages.len()
                    )
                }
                None => format!("{} {d}", column(dialect, f)),
            }
        })
        .collect();
    if !order.iter().any(|(f, _)| f.name == "ID") {
        keys.push("t.ID ASC".into());
    }
    format!(" ORDER BY {}", keys.join(", "))
}

/// The statements of one list page: the page itself (rows in [`row_columns`] shape) and,
/// when the query asks for a total, the count of all matches.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListSql {
    /// The page.
    pub(crate) page: Built,
    /// `SELECT COUNT(*)` over the same filter.
    pub(crate) count: Option<Built>,
}

/// Renders a list query for `dialect`.
pub(crate) fn list(dialect: Dialect, entity: EntityType, q: &ListQuery) -> ListSql {
    let mut b = Binder {
        dialect,
        args: Vec::new(),
    };
    let wh = where_clause(&mut b, entity, q);
    let count = q.count.then(|| Built {
        sql: format!("SELECT COUNT(*) FROM {} t{wh}", table(entity)),
        args: b.args.clone(),
    });
    // The page size is part of the text: SQLite re-prepares a statement whenever a
    // parameter its planner looked at is bound again, and it looks at LIMIT's.
    let limit = q.limit;
    let offset = b.bind(Arg::Value(Stored::Int(q.offset)));
    let (columns, table, order) = (
        row_columns(entity, "t."),
        table(entity),
        order_clause(dialect, &q.order),
    );
    let sql = if q.offset > 0 {
        // A deep page: the skipped rows are walked as ids only (from an index that covers
        // the filter and the order, where there is one), and only the page's rows are
        // read whole: a "deferred join".
        format!(
            "SELECT {columns} FROM {table} t WHERE t.ID IN (SELECT t.ID FROM {table} t{wh}{order} \
             LIMIT {limit} OFFSET {offset}){order}"
        )
    } else {
        format!("SELECT {columns} FROM {table} t{wh}{order} LIMIT {limit} OFFSET {offset}")
    };
    let page = Built { sql, args: b.args };
    ListSql { page, count }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_core::query::{parse_filter, parse_order};
    use serde_json::json;

    #[test]
    fn user_fields_render_as_document_entries_and_odd_names_match_nothing() {
        let mut def = FieldDef::new("UF_CRM_SIZE", FieldType::Integer, "");
        def.storage = Storage::User;
        assert_eq!(
            column(Dialect::Sqlite, &def),
            "json_extract(t.UF, '$.UF_CRM_SIZE')"
        );
        assert_eq!(
            column(Dialect::Postgres, &def),
            "((t.UF::jsonb ->> 'UF_CRM_SIZE'))::bigint"
        );
        def.name = "UF_CRM_X') OR (1=1";
        assert_eq!(column(Dialect::Sqlite, &def), "NULL");
        def.multiple = true;
        assert_eq!(
            any_of_list(Dialect::Postgres, &def, &|c| c.to_string()),
            "(1 = 0)"
        );
    }

    fn query(filter: serde_json::Value, order: serde_json::Value, count: bool) -> ListQuery {
        let tz = chrono::FixedOffset::east_opt(0).unwrap();
        ListQuery {
            filter: parse_filter(
                &crm_core::schema::Schema::standard(EntityType::Lead),
                filter.as_object().unwrap(),
                tz,
            )
            .unwrap(),
            order: parse_order(
                &crm_core::schema::Schema::standard(EntityType::Lead),
                order.as_object().unwrap(),
            ),
            offset: 50,
            limit: 50,
            count,
            with_multi: false,
            visible: Reach::Everything,
        }
    }

    #[test]
    fn lists_render_for_both_dialects() {
        let q = query(
            json!({"@ID": [1, 2], "!%TITLE": "x", ">OPPORTUNITY": 5, "EMAIL": "a@b.c", "ASSIGNED_BY_ID": 0}),
            json!({"STATUS_ID": "DESC"}),
            true,
        );
        let sqlite = list(Dialect::Sqlite, EntityType::Lead, &q);
        let pg = list(Dialect::Postgres, EntityType::Lead, &q);
        // Five conditions AND-ed as a balanced tree: (1 AND 2) AND (3 AND (4 AND 5)).
        let wh_sqlite = "(((t.ID IN (SELECT value FROM json_each(?1))) AND NOT COALESCE((t.TITLE LIKE ?2), 0)) AND ((t.OPPORTUNITY > ?3) AND (t.ID IN (SELECT m.ENTITY_ID FROM crm_multifield m WHERE m.ENTITY_TYPE_ID = 1 AND m.TYPE_ID = 'EMAIL' AND m.VALUE_KEY >= ?4 AND m.VALUE_KEY < ?5 AND m.VALUE LIKE ?6) AND (t.ASSIGNED_BY_ID IS NULL OR t.ASSIGNED_BY_ID = ?7))))";
        assert_eq!(
            sqlite.count.as_ref().unwrap().sql,
            format!("SELECT COUNT(*) FROM crm_lead t WHERE {wh_sqlite}")
        );
        let wh_pg = wh_sqlite
            .replace(
                "t.ID IN (SELECT value FROM json_each(?1))",
                "t.ID = ANY($1::bigint[])",
            )
            .replace(
                "t.TITLE LIKE ?2",
                "(t.TITLE COLLATE \"und-x-icu\") ILIKE ?2 ESCAPE ''",
            )
            .replace(
                "m.VALUE LIKE ?6",
                "(m.VALUE COLLATE \"und-x-icu\") ILIKE ?6 ESCAPE ''",
            )
            .replace(", 0)", ", false)")
            .replace('?', "$");
        assert_eq!(
            pg.count.as_ref().unwrap().sql,
            format!("SELECT COUNT(*) FROM crm_lead t WHERE {wh_pg}")
        );
        // A page past the first walks the skipped rows as ids, then reads the page.
        let order = " ORDER BY CASE t.STATUS_ID WHEN 'NEW' THEN 0 WHEN 'IN_PROCESS' THEN 1 \
                     WHEN 'PROCESSED' THEN 2 WHEN 'CONVERTED' THEN 3 WHEN 'JUNK' THEN 4 ELSE 5 \
                     END DESC, t.ID ASC";
        assert_eq!(
            sqlite.page.sql,
            format!(
                "SELECT {} FROM crm_lead t WHERE t.ID IN (SELECT t.ID FROM crm_lead t WHERE \
                 {wh_sqlite}{order} LIMIT 50 OFFSET ?8){order}",
                row_columns(EntityType::Lead, "t.")
            )
        );
        assert!(
            pg.page
                .sql
                .ends_with(" ELSE 5 END DESC NULLS LAST, t.ID ASC LIMIT 50 OFFSET $8) ORDER BY CASE t.STATUS_ID WHEN 'NEW' THEN 0 WHEN 'IN_PROCESS' THEN 1 WHEN 'PROCESSED' THEN 2 WHEN 'CONVERTED' THEN 3 WHEN 'JUNK' THEN 4 ELSE 5 END DESC NULLS LAST, t.ID ASC"),
            "{}",
            pg.page.sql
        );
        assert_eq!(
            sqlite.page.args,
            [
                Arg::List(vec![Stored::Int(1), Stored::Int(2)]),
                Arg::Value(Stored::Text("%x%".into())),
                Arg::Value(Stored::Real(5.0)),
                Arg::Value(Stored::Text("a@b.c".into())),
                Arg::Value(Stored::Text(format!("a@b.c{}", char::MAX))),
                Arg::Value(Stored::Text("a@b.c%".into())),
                Arg::Value(Stored::Int(0)),
                Arg::Value(Stored::Int(50)),
            ]
        );
        assert_eq!(sqlite.page.args, pg.page.args);
        assert_eq!(sqlite.count.unwrap().args, sqlite.page.args[..7]);
    }

    #[test]
    fn visibility_limits_the_page_and_the_count() {
        let mut q = query(json!({">ID": 3}), json!({}), true);
        q.visible = Reach::only(vec![4, 2], true);
        let sqlite = list(Dialect::Sqlite, EntityType::Lead, &q);
        let wh = " WHERE ((t.ID > ?1) AND (t.ASSIGNED_BY_ID IN (SELECT value FROM json_each(?2)) \
                  OR t.OPENED = 'Y'))";
        assert_eq!(
            sqlite.count.unwrap().sql,
            format!("SELECT COUNT(*) FROM crm_lead t{wh}")
        );
        assert!(sqlite.page.sql.contains(wh), "{}", sqlite.page.sql);
        assert_eq!(
            sqlite.page.args[1],
            Arg::List(vec![Stored::Int(2), Stored::Int(4)])
        );
        q.visible = Reach::only(vec![5], false);
        q.filter.clear();
        let pg = list(Dialect::Postgres, EntityType::Contact, &q);
        assert_eq!(
            pg.count.unwrap().sql,
            "SELECT COUNT(*) FROM crm_contact t WHERE (t.ASSIGNED_BY_ID = $1)"
        );
        q.visible = Reach::only(vec![], false);
        let nothing = list(Dialect::Postgres, EntityType::Contact, &q);
        assert!(
            nothing.page.sql.contains(" WHERE (1 = 0) "),
            "{}",
            nothing.page.sql
        );
        q.visible = Reach::only(vec![2, 3], false);
        let many = list(Dialect::Postgres, EntityType::Lead, &q);
        assert!(
            many.page
                .sql
                .contains(" WHERE (t.ASSIGNED_BY_ID = ANY($1::bigint[])) "),
            "{}",
            many.page.sql
        );
    }

    #[test]
    fn range_lists_and_no_count() {
        let q = query(json!({"<ID": [3, 9]}), json!({}), false);
        let pg = list(Dialect::Postgres, EntityType::Lead, &q);
        assert!(pg.count.is_none());
        assert!(
            pg.page.sql.contains(
                " WHERE (EXISTS (SELECT 1 FROM unnest($1::bigint[]) AS v(value) WHERE t.ID < v.value)) "
            ),
            "{}",
            pg.page.sql
        );
        let sqlite = list(Dialect::Sqlite, EntityType::Lead, &q);
        assert!(
            sqlite
                .page
                .sql
                .contains(" WHERE (EXISTS (SELECT 1 FROM json_each(?1) WHERE t.ID < value)) "),
            "{}",
            sqlite.page.sql
        );
        assert!(sqlite.page.sql.starts_with("SELECT t.ID, t.TITLE, "));
        assert_eq!(
            select_by_id(Dialect::Postgres, EntityType::Contact).to_string(),
            format!(
                "SELECT {} FROM crm_contact WHERE ID = $1",
                row_columns(EntityType::Contact, "")
            )
        );
    }
}
