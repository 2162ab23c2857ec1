//! The domain of the CRM: what leads, contacts and bindings are, how their fields are
//! typed and converted, the binding engine, and the storage contract backends implement.
//!
//! # Layout
//! - [`clock`]: the one source of "now" (replaceable for tests and a future virtual clock).
//! - [`comm`]: phone and e-mail values as list filters and the duplicate search match them.
//! - [`field`]: field descriptors, stored values and the wire ↔ storage conversions.
//! - [`entity`]: entity types and their field tables (`crm.lead.fields`, `crm.contact.fields`).
//! - [`record`]: building a new lead/contact from client input, defaults, output rows.
//! - [`binding`]: the generic owner → bound binding engine (`crm.lead.contact.*` and kin).
//! - [`identity`]: users, scopes and webhook credentials.
//! - [`item`]: the universal API's (`crm.item.*`) names and values for the entities.
//! - [`permission`]: CRM access levels and what they reach.
//! - [`pipeline`]: statuses, deal categories and the stage lists entities move through.
//! - [`schema`]: the fields of an entity type as one call sees them (standard, then dynamic).
//! - [`smart`]: smart process definitions (`crm.type.*`) and their pipelines' first stages.
//! - [`store`]: the async storage traits and their error type.
//! - [`userfield`]: user field definitions (`UF_CRM_*`) and their values.
//!
//! Nothing here knows about HTTP, the Bitrix envelope or SQL.

pub mod binding;
pub mod clock;
pub mod comm;
pub mod entity;
pub mod field;
pub mod identity;
pub mod item;
pub mod permission;
pub mod pipeline;
pub mod query;
pub mod record;
pub mod reference;
pub mod schema;
pub mod smart;
pub mod store;
pub mod userfield;
