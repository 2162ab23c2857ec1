//! The JSON parameter path on arbitrary bytes: the bounded body reader, then the lenient
//! deserializer into every CRM method's parameter type, then the list query grammar.
//! Nothing may panic; a body within the bounds always reads as an object, and the quick
//! read of single members (the OAuth token) agrees with the full parse.
#![no_main]

use chrono::FixedOffset;
use crm_core::entity::EntityType;
use crm_core::query::{parse_filter, parse_order, parse_select};
use crm_server::methods::crm::binding::{FieldsParams, ItemsParams, OwnerParams};
use crm_server::methods::crm::entity::{AddParams, IdParams, ListParams, UpdateParams};
use crm_server::rpc::batch::BatchParams;
use crm_server::wire::json;
use crm_server::wire::params::from_params;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(params) = json::params(data) else {
        return;
    };
    // (When the body as a whole is not valid JSON, for example a number out of range in
    // another member, the full parse finds no parameters while the quick read may still
    // find the token, as a portal would.)
    if serde_json::from_slice::<Value>(data).is_ok() {
        let [auth, token] = json::members(data, ["auth", "access_token"]);
        assert_eq!(auth.as_ref(), params.get("auth"));
        assert_eq!(token.as_ref(), params.get("access_token"));
    }
    let tree = Value::Object(params.clone());
    let _ = from_params::<AddParams>(&tree);
    let _ = from_params::<UpdateParams>(&tree);
    let _ = from_params::<IdParams>(&tree);
    let _ = from_params::<ListParams>(&tree);
    let _ = from_params::<FieldsParams>(&tree);
    let _ = from_params::<ItemsParams>(&tree);
    let _ = from_params::<OwnerParams>(&tree);
    let _ = from_params::<BatchParams>(&tree);
    let tz = FixedOffset::east_opt(3 * 3600).unwrap();
    for entity in [EntityType::Lead, EntityType::Contact] {
        if let Some(Value::Object(filter)) = params.get("filter") {
            let _ = parse_filter(entity, filter, tz);
        }
        if let Some(Value::Object(order)) = params.get("order") {
            let _ = parse_order(entity, order);
        }
        let select: Vec<String> = params
            .values()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        assert!(!parse_select(entity, &select).is_empty());
    }
});
