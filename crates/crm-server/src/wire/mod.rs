//! The Bitrix24 wire format and nothing else: PHP-style query strings, PHP arrays in
//! JSON, the lenient parameter deserializer, and the success/error envelopes. No HTTP
//! types, no storage.

pub mod envelope;
pub mod json;
pub mod params;
pub mod php_array;
pub mod php_query;
