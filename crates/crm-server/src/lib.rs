//! A Bitrix24-compatible CRM REST server.
//!
//! # Layout
//! - [`config`]: the clap settings struct; [`telemetry`]: logging.
//! - [`app`]: start-up (store, bootstrap, listener, TLS) and graceful shutdown.
//! - [`listener`]: accepted connections (cap, idle timeout) before HTTP sees them.
//! - [`http`]: routes and the adaptation of HTTP requests to method calls.
//! - [`wire`]: Bitrix formats — PHP `parse_str`, the lenient parameter deserializer,
//!   envelopes.
//! - [`auth`]: credentials → caller.
//! - [`oauth`]: local OAuth applications, token pairs, the token endpoint; the consent
//!   page lives in [`http`].
//! - [`rpc`]: registry, call context, the error table, dispatch, the request journal.
//! - [`control`]: the test-double controls behind `/_crm/` (virtual clock, journal, faults);
//!   [`fixtures`]: entities with chosen ids from one JSON document.
//! - [`methods`]: the REST methods, one module per family.
//! - [`transfer`]: `export` / `import` of a whole database as NDJSON.
//! - [`cli`]: the maintenance commands (webhooks, users, departments, roles, apps).
//!
//! Dependencies point inward: `http` uses `rpc`, `wire`, `auth` and `oauth`; `methods` use `rpc`
//! and `crm_core`; `rpc` uses `wire` and `crm_core`.
//! Methods never see HTTP or SQL; stores never see `ApiError`.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod control;
pub mod fixtures;
pub mod http;
pub mod listener;
pub mod methods;
pub mod oauth;
pub mod rpc;
pub mod telemetry;
pub mod transfer;
pub mod wire;
