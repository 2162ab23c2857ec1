//! What a method receives besides its parameters: who is calling, and the services
//! (store, clock, settings, permission seam, registry for `batch`).

use crate::rpc::ApiError;
use crate::rpc::registry::Registry;
use chrono::{DateTime, FixedOffset, Utc};
use crm_core::clock::Clock;
use crm_core::entity::EntityType;
use crm_core::identity::{Scope, User};
use crm_core::store::Store;
use std::sync::Arc;

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// An incoming webhook (its id).
    Webhook(i64),
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

/// An action a permission check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read an item.
    Read,
    /// Create an item.
    Add,
    /// Change an item (bindings included).
    Update,
    /// Delete an item.
    Delete,
}

/// The one permission seam every method calls. Today only administrators exist and they
/// may do everything (even on ids that do not exist, as on a portal); CRM roles plug in
/// here later.
#[derive(Debug, Clone, Copy, Default)]
pub struct Permissions;

impl Permissions {
    /// Whether `caller` may perform `action` on item `id` of `entity`.
    pub fn allows(&self, caller: &Caller, _action: Action, _entity: EntityType, _id: i64) -> bool {
        caller.user.admin
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
    pub permissions: Permissions,
    /// Every method (used by `batch`, `methods`, `method.get`).
    pub registry: Arc<Registry>,
}

/// The context of one method call.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Who is calling.
    pub caller: Arc<Caller>,
    /// The services.
    pub services: Arc<Services>,
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

    /// The read check on entities about to be bound: "[Contact #N] Access denied." (400).
    pub fn require_readable(
        &self,
        entity: EntityType,
        ids: impl IntoIterator<Item = i64>,
    ) -> Result<(), ApiError> {
        for id in ids {
            if !self
                .services
                .permissions
                .allows(&self.caller, Action::Read, entity, id)
            {
                return Err(ApiError::Invalid(format!(
                    "[{} #{id}] Access denied.",
                    entity.title()
                )));
            }
        }
        Ok(())
    }

    /// Checks a permission, failing with the given error.
    pub fn require(
        &self,
        action: Action,
        entity: EntityType,
        id: i64,
        denied: ApiError,
    ) -> Result<(), ApiError> {
        if self
            .services
            .permissions
            .allows(&self.caller, action, entity, id)
        {
            Ok(())
        } else {
            Err(denied)
        }
    }
}
