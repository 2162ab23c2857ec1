//! Users, permission scopes and incoming-webhook credentials.

use serde::Serialize;

/// A permission scope a credential may hold (`crm`, `user`, …). Methods in the global
/// scope (`batch`, `server.time`, …) need none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Scope {
    /// CRM entities (`crm.*`).
    #[serde(rename = "crm")]
    Crm,
    /// User directory (`user.*`).
    #[serde(rename = "user")]
    User,
}

impl Scope {
    /// Every scope this server knows, in the order `scope` lists them.
    pub const ALL: [Self; 2] = [Self::Crm, Self::User];

    /// The scope's wire code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Crm => "crm",
            Self::User => "user",
        }
    }

    /// Parses a wire code (case-insensitive).
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.code().eq_ignore_ascii_case(code.trim()))
    }
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
    /// Administrators pass every item-level permission check.
    pub admin: bool,
    /// Inactive users cannot call anything.
    pub active: bool,
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
