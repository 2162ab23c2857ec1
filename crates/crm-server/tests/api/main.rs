//! The integration tests: one binary, one module per area.

mod helpers;
mod process;
mod raw;

mod admin_cli;
mod batch;
mod binary;
mod binding_families;
mod companies;
mod company_contact;
mod control;
mod crash;
mod deals;
mod directory;
mod every_method;
mod fields;
mod filters;
mod front_door;
mod hardening;
mod hostile;
mod items;
mod list;
mod lookup;
mod oauth;
mod permissions;
mod pipelines;
mod registry;
mod router;
mod seed;
mod smart;
mod status;
mod transfer;
mod transport;
mod two_servers;
mod update;
mod userfields;
