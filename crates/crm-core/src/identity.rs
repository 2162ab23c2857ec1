//! Users, departments, CRM roles, permission scopes and credentials (incoming webhooks,
//! OAuth applications and their tokens).

use crate::entity::EntityType;
use crate::permission::{Action, Level};
use serde::Serialize;

/// A permission scope a credential may hold (`crm`, `user`, …). Methods in the global
/// scope (`batch`, `server.time`, …) need none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Scope {
    /// CRM entities (`crm.*`).
    #[serde(rename = "crm")]
    Crm,
    /// The user directory (`user.*`), every field.
    #[serde(rename = "user")]
    User,
    /// The user directory with contact details (e-mail, phones) but no personal data.
    #[serde(rename = "user_basic")]
    UserBasic,
    /// The user directory with names only.
    #[serde(rename = "user_brief")]
    UserBrief,
    /// The company structure (`department.*`).
    #[serde(rename = "department")]
    Department,
    /// User field settings (`userfieldconfig.*`, with the module's own scope).
    #[serde(rename = "userfieldconfig")]
    Userfieldconfig,
}

impl Scope {
    /// Every scope this server knows, in the order `scope` lists them.
    pub const ALL: [Self; 6] = [
        Self::Crm,
        Self::User,
        Self::UserBasic,
        Self::UserBrief,
        Self::Department,
        Self::Userfieldconfig,
    ];

    /// The scope's wire code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Crm => "crm",
            Self::User => "user",
            Self::UserBasic => "user_basic",
            Self::UserBrief => "user_brief",
            Self::Department => "department",
            Self::Userfieldconfig => "userfieldconfig",
        }
    }

    /// Parses a wire code (case-insensitive).
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.code().eq_ignore_ascii_case(code.trim()))
    }

    /// Whether a credential holding `granted` may call a method of this scope: the scope
    /// itself, or for `user` methods either narrower user scope, as on a portal.
    pub fn granted_by(self, granted: &[Self]) -> bool {
        granted.contains(&self)
            || (self == Self::User
                && (granted.contains(&Self::UserBasic) || granted.contains(&Self::UserBrief)))
    }
}

/// Scopes as written on the command line and in OAuth answers: codes joined by commas.
pub fn scopes_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.code())
        .collect::<Vec<_>>()
        .join(",")
}

/// A portal user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// User id (1 is the bootstrap administrator).
    pub id: i64,
    /// First name.
    pub name: String,
    /// Last name.
    pub last_name: String,
    /// E-mail address (may be empty).
    pub email: String,
    /// Administrators pass every item-level permission check.
    pub admin: bool,
    /// Inactive users cannot call anything.
    pub active: bool,
    /// The departments the user belongs to (ids, ascending).
    pub departments: Vec<i64>,
    /// When the user was registered, unix seconds.
    pub registered_at: i64,
}

/// A department of the company structure (a tree under the root department 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    /// Department id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Sort weight among siblings.
    pub sort: i64,
    /// The parent department (`None` for the root).
    pub parent: Option<i64>,
    /// The head of the department.
    pub head: Option<i64>,
}

/// The root department every portal has, created with the database.
pub const ROOT_DEPARTMENT: i64 = 1;

/// The ids of `roots` and every department below them, ascending.
pub fn with_subdepartments(all: &[Department], roots: &[i64]) -> Vec<i64> {
    let mut out: Vec<i64> = roots.to_vec();
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        for d in all {
            if d.parent == Some(parent) && !out.contains(&d.id) {
                out.push(d.id);
            }
        }
        i += 1;
    }
    out.sort_unstable();
    out
}

/// A CRM role: levels granted per entity type and action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Role id.
    pub id: i64,
    /// Its unique name.
    pub name: String,
    /// What it grants.
    pub grants: Vec<Grant>,
    /// The users it is assigned to (ascending).
    pub users: Vec<i64>,
}

/// One right of a role: `lead.read=own`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The entity type's code ([`crate::entity::EntityType::code`]).
    pub entity: String,
    /// The action.
    pub action: Action,
    /// How far it reaches.
    pub level: Level,
}

impl Grant {
    /// Parses `entity.action=level` (`lead.read=own`); `entity.*=level` is not accepted,
    /// every right is written out. An entity with categories takes a category's own
    /// right as `<code>_c<n>` (`deal_c3.read=none`), which overrides the entity's right
    /// in that category.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (key, level) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}` is not ENTITY.ACTION=LEVEL"))?;
        let (entity, action) = key
            .split_once('.')
            .ok_or_else(|| format!("`{text}` is not ENTITY.ACTION=LEVEL"))?;
        let (entity, category) =
            grant_target(entity).ok_or_else(|| format!("unknown entity `{entity}` in `{text}`"))?;
        let action = Action::parse(action).ok_or_else(|| {
            format!("unknown action `{action}` in `{text}` (read, add, update, delete)")
        })?;
        let level = Level::parse(level).ok_or_else(|| {
            format!("unknown level `{level}` in `{text}` (none, own, department, subdepartment, open, all)")
        })?;
        Ok(Self {
            entity: match category {
                Some(c) => format!("{}_c{c}", entity.code()),
                None => entity.code().to_string(),
            },
            action,
            level,
        })
    }
}

/// What a grant's entity code names: an entity type, and a category for `deal_c3`
/// (only for entities with categories).
pub fn grant_target(code: &str) -> Option<(EntityType, Option<i64>)> {
    let code = code.trim().to_ascii_lowercase();
    if let Some(entity) = EntityType::parse_code(&code) {
        return Some((entity, None));
    }
    let (base, n) = code.rsplit_once("_c")?;
    let entity = EntityType::parse_code(base)?;
    let category: i64 = n.parse().ok().filter(|c| *c >= 0)?;
    entity
        .def()
        .stage
        .and_then(|s| s.category_field)
        .map(|_| (entity, Some(category)))
}

/// An incoming webhook as stored: the secret itself is never kept, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Webhook id (for `webhook list` / `webhook revoke`).
    pub id: i64,
    /// The user the webhook acts as.
    pub user_id: i64,
    /// Lower-case hex SHA-256 of the secret.
    pub secret_hash: String,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Revoked webhooks are kept for the audit trail but never authenticate.
    pub revoked: bool,
}

/// Where this server is reached: `https://127.0.0.1:8443` (no trailing slash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Portal {
    /// Scheme, host and port.
    pub base_url: String,
    /// The portal's member id.
    pub member_id: String,
}

impl Portal {
    /// The host and port, as `domain` fields carry them.
    pub fn domain(&self) -> &str {
        self.base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, rest)| rest)
    }

    /// The REST endpoint clients call (`…/rest/`).
    pub fn client_endpoint(&self) -> String {
        format!("{}/rest/", self.base_url)
    }
}

/// A local OAuth application, as stored: the client secret is kept only as its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// Row id.
    pub id: i64,
    /// The public client id (`local.…`).
    pub client_id: String,
    /// Lower-case hex SHA-256 of the client secret.
    pub secret_hash: String,
    /// Display name.
    pub name: String,
    /// Scopes the application may use.
    pub scopes: Vec<Scope>,
    /// Where `/oauth/authorize/` sends the user back (may be empty).
    pub redirect_uri: String,
    /// Creation time, unix seconds.
    pub created_at: i64,
}

/// Hashes and lifetimes of a new access/refresh token pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTokens {
    /// SHA-256 of the access token.
    pub access_hash: String,
    /// When the access token expires, unix seconds.
    pub access_expires: i64,
    /// SHA-256 of the refresh token.
    pub refresh_hash: String,
    /// When the refresh token expires, unix seconds.
    pub refresh_expires: i64,
}

/// What an access token grants, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// Row id of the token pair.
    pub id: i64,
    /// The application.
    pub app_id: i64,
    /// The user the token acts as.
    pub user_id: i64,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
    /// When the access token expires, unix seconds.
    pub access_expires: i64,
}
