//! The method layer's runtime: the registry of methods, the call context, the one error
//! table, the permission seam, and dispatch (scope check, timing, the call). Knows
//! nothing of HTTP.

pub mod access;
pub mod batch;
pub mod coverage;
pub mod ctx;
pub mod dispatch;
pub mod error;
pub mod faults;
pub mod journal;
pub mod limits;
pub mod registry;

pub use ctx::{Caller, Ctx, Services};
pub use error::ApiError;
pub use registry::{AuthRule, MethodSpec, Page, Registry, Reply};
