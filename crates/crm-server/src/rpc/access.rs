//! The permission seam: one trait that answers a caller's access [`Level`] for an entity
//! type and action, and resolves a level into the items it [`Reach`]es. Methods never ask
//! it directly; they go through the checks on [`crate::rpc::Ctx`], which apply the answer
//! to a loaded row or hand it to a list query.

use async_trait::async_trait;
use crm_core::entity::EntityType;
use crm_core::identity::User;
use crm_core::permission::{Action, Level, Reach};
use crm_core::store::StoreResult;
use std::fmt::Debug;

/// Where access levels come from.
#[async_trait]
pub trait Permissions: Send + Sync + Debug {
    /// The level `user` holds for `action` on items of `entity`.
    async fn level(&self, user: &User, entity: EntityType, action: Action) -> StoreResult<Level>;

    /// The items `level` reaches for `user` (never called with [`Level::None`]).
    async fn reach(&self, user: &User, level: Level) -> StoreResult<Reach>;
}

/// Administrators may do everything; nobody else may do anything.
#[derive(Debug, Clone, Copy, Default)]
pub struct AdministratorsOnly;

#[async_trait]
impl Permissions for AdministratorsOnly {
    async fn level(&self, user: &User, _: EntityType, _: Action) -> StoreResult<Level> {
        Ok(if user.admin { Level::All } else { Level::None })
    }

    async fn reach(&self, user: &User, level: Level) -> StoreResult<Reach> {
        Ok(match level {
            Level::All => Reach::Everything,
            _ => Reach::only(vec![user.id], level >= Level::Open),
        })
    }
}
