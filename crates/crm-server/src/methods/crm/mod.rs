//! CRM methods.

pub mod binding;
pub mod category;
pub mod duplicate;
pub mod entity;
pub mod item;
pub(crate) mod rows;
pub mod status;
pub mod types;
pub mod userfield;
pub mod userfieldconfig;

use crate::rpc::ApiError;
use crate::wire::php_array;
use serde_json::{Map, Value};

/// Reads an optional PHP-array parameter (`fields`, `params`, …): absent or null is empty,
/// an object or a list is accepted (a list's keys become "0", "1", …), a scalar is an error
/// with the given message.
pub(crate) fn php_array(v: Option<Value>, error: &str) -> Result<Map<String, Value>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(v) => php_array::as_array(v).ok_or_else(|| ApiError::invalid(error)),
    }
}
