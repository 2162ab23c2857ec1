//! The REST methods, one module per method family. Methods see typed parameters, a
//! [`crate::rpc::Ctx`] and the domain; never HTTP or SQL.

pub mod crm;
pub mod server;
pub mod user;

use crate::rpc::Registry;

/// Builds the registry with every method; the one visible list of families.
pub fn registry() -> Registry {
    let mut r = Registry::default();
    server::register(&mut r);
    user::register(&mut r);
    crm::entity::register(&mut r);
    crm::binding::register(&mut r);
    crm::status::register(&mut r);
    crm::category::register(&mut r);
    crm::item::register(&mut r);
    crm::duplicate::register(&mut r);
    crm::userfield::register(&mut r);
    crm::types::register(&mut r);
    crm::userfieldconfig::register(&mut r);
    crate::rpc::batch::register(&mut r);
    r
}
