//! Typed method parameters from the loose parameter tree clients send.
//!
//! Form-encoded clients send every value as a string, PHP clients send `[]` for empty
//! maps, and parameter names arrive as `fields`, `FIELDS`, `Fields` or `arFields`. All of
//! that leniency lives here, in one serde `Deserializer` over a `serde_json::Value`:
//! - integers from numbers, numeric strings (PHP `(int)` cast: `"12abc"` → 12) or bools;
//! - booleans with PHP truthiness (`""`, `"0"`, `"N"`, `"false"`, `0` are false);
//! - strings from numbers and bools;
//! - maps and structs from objects or arrays (`[]` is an empty map);
//! - sequences from arrays or objects (PHP arrays with sparse keys);
//! - struct fields looked up as written, UPPER, lower, Capitalized and `ar`-prefixed.

use crm_core::field::{php_int, php_string};
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde_json::Value;

/// A parameter that could not be read as the method's parameter type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParamsError(pub String);

impl de::Error for ParamsError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// Deserializes a method's parameter struct from the parameter tree.
pub fn from_params<T: DeserializeOwned>(params: &Value) -> Result<T, ParamsError> {
    T::deserialize(Lenient(params))
}

/// The spellings a parameter name may arrive in, in lookup order.
pub fn name_variants(name: &str) -> [String; 5] {
    let lower = name.to_ascii_lowercase();
    let mut cap = lower.clone();
    if let Some(first) = cap.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    [
        name.to_string(),
        name.to_ascii_uppercase(),
        lower,
        cap.clone(),
        format!("ar{cap}"),
    ]
}

/// Looks a parameter up by any accepted spelling of its name.
pub fn lookup<'a>(obj: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    name_variants(name).iter().find_map(|n| obj.get(n.as_str()))
}

/// PHP truthiness, extended with the `N`/`false` spellings clients use for "no".
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "n" | "false"
        ),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn php_float(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => {
            let t = s.trim();
            let end = t
                .char_indices()
                .take_while(|(i, c)| {
                    c.is_ascii_digit() || *c == '.' || (*i == 0 && (*c == '-' || *c == '+'))
                })
                .map(|(i, c)| i + c.len_utf8())
                .last()
                .unwrap_or(0);
            t[..end].parse().unwrap_or(0.0)
        }
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

/// The lenient deserializer.
#[derive(Debug, Clone, Copy)]
struct Lenient<'de>(&'de Value);

impl<'de> IntoDeserializer<'de, ParamsError> for Lenient<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

macro_rules! ints {
    ($($method:ident => $visit:ident as $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            let n = php_int(self.0);
            visitor.$visit(<$ty>::try_from(n).unwrap_or(if n < 0 { <$ty>::MIN } else { <$ty>::MAX }))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Lenient<'de> {
    type Error = ParamsError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(_) => self.deserialize_map(visitor),
            Value::Array(_) => self.deserialize_seq(visitor),
            other => de::Deserializer::deserialize_any(other, visitor)
                .map_err(|e| ParamsError(e.to_string())),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_bool(truthy(self.0))
    }

    ints! {
        deserialize_i8 => visit_i8 as i8,
        deserialize_i16 => visit_i16 as i16,
        deserialize_i32 => visit_i32 as i32,
        deserialize_i64 => visit_i64 as i64,
        deserialize_u8 => visit_u8 as u8,
        deserialize_u16 => visit_u16 as u16,
        deserialize_u32 => visit_u32 as u32,
        deserialize_u64 => visit_u64 as u64,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_f64(php_float(self.0))
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_f64(php_float(self.0))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match php_string(self.0) {
            Some(s) => visitor.visit_string(s),
            None if self.0.is_null() => visitor.visit_string(String::new()),
            None => Err(ParamsError("expected a string, got an array".into())),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        if self.0.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(a) => visitor.visit_seq(SeqDeserializer::new(a.iter().map(Lenient))),
            Value::Object(o) => visitor.visit_seq(SeqDeserializer::new(o.values().map(Lenient))),
            Value::Null => {
                visitor.visit_seq(SeqDeserializer::new(std::iter::empty::<Lenient<'de>>()))
            }
            _ => Err(ParamsError("expected an array".into())),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(o) => visitor.visit_map(MapDeserializer::new(
                o.iter().map(|(k, v)| (k.as_str(), Lenient(v))),
            )),
            Value::Array(a) => visitor.visit_map(MapDeserializer::new(
                a.iter()
                    .enumerate()
                    .map(|(i, v)| (i.to_string(), Lenient(v))),
            )),
            _ => Err(ParamsError("expected an object".into())),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let found: Vec<(&'static str, Lenient<'de>)> = match self.0 {
            Value::Object(obj) => fields
                .iter()
                .filter_map(|f| lookup(obj, f).map(|v| (*f, Lenient(v))))
                .collect(),
            Value::Array(_) | Value::Null => Vec::new(),
            _ => return Err(ParamsError("expected an object".into())),
        };
        visitor.visit_map(MapDeserializer::new(found.into_iter()))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        de::Deserializer::deserialize_enum(self.0, name, variants, visitor)
            .map_err(|e| ParamsError(e.to_string()))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    struct P {
        id: Option<i64>,
        fields: Option<Value>,
        halt: Option<bool>,
        select: Option<Vec<String>>,
    }

    #[test]
    fn coerces_like_a_portal() {
        let cases = [
            (json!({"id": "10"}), Some(10), None),
            (json!({"ID": 7}), Some(7), None),
            (json!({"id": "12abc"}), Some(12), None),
            (json!({"id": 3.9}), Some(3), None),
            (json!({"FIELDS": {"A": 1}}), None, Some(json!({"A": 1}))),
            (json!({"Fields": []}), None, Some(json!([]))),
            (
                json!({"arFields": {"B": "2"}}),
                None,
                Some(json!({"B": "2"})),
            ),
        ];
        for (input, id, fields) in cases {
            let p: P = from_params(&input).unwrap();
            assert_eq!((p.id, p.fields), (id, fields), "{input}");
        }
    }

    #[test]
    fn reads_flags_lists_and_empty_arrays() {
        let p: P = from_params(&json!({"halt": "0", "select": {"0": "ID", "5": 7}})).unwrap();
        assert_eq!(p.halt, Some(false));
        assert_eq!(p.select, Some(vec!["ID".into(), "7".into()]));
        let p: P = from_params(&json!([])).unwrap();
        assert_eq!(
            p,
            P {
                id: None,
                fields: None,
                halt: None,
                select: None
            }
        );
        for (v, want) in [
            (json!("Y"), true),
            (json!("N"), false),
            (json!(1), true),
            (json!(""), false),
        ] {
            assert_eq!(truthy(&v), want, "{v}");
        }
    }

    #[test]
    fn odd_shapes_give_defaults_or_clear_errors() {
        let empty = || P {
            id: None,
            fields: None,
            halt: None,
            select: None,
        };
        let cases = [
            (json!(null), Ok(empty())),
            (json!("x"), Err(ParamsError("expected an object".into()))),
            // An array is not a number: PHP-style cast to 0 (an invalid id downstream).
            (
                json!({"id": [1, 2]}),
                Ok(P {
                    id: Some(0),
                    ..empty()
                }),
            ),
            (
                json!({"select": "ID"}),
                Err(ParamsError("expected an array".into())),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(from_params::<P>(&input), want, "{input}");
        }
    }
}
