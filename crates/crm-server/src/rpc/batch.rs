//! `batch`: up to 50 calls in one request, with `$result[…]` references to earlier
//! results, answered the way a portal does (PHP-array encoding of the five result maps,
//! HTTP 200 even when every command failed). Not a transaction: each command commits on
//! its own, as on a portal.

use crate::rpc::{ApiError, Ctx, Registry, dispatch};
use crate::wire::envelope::{self, Time};
use crate::wire::params::truthy;
use crate::wire::php_query::{self, Limits};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::time::Instant;

/// Commands past this many are not run.
pub const MAX_COMMANDS: usize = 50;

/// Parameters of `batch`.
#[derive(Debug, Deserialize)]
pub struct BatchParams {
    cmd: Option<Value>,
    halt: Option<Value>,
}

/// An ordered PHP array under construction.
#[derive(Debug, Default)]
struct PhpArray(Vec<(String, Value)>);

impl PhpArray {
    fn set(&mut self, key: &str, v: Value) {
        self.0.retain(|(k, _)| k != key);
        self.0.push((key.to_string(), v));
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// PHP's `json_encode`: keys exactly 0..n-1 in order make a list (`[]` when empty),
    /// anything else an object.
    fn encode(&self) -> Value {
        let sequential = self
            .0
            .iter()
            .enumerate()
            .all(|(i, (k, _))| *k == i.to_string());
        if sequential {
            Value::Array(self.0.iter().map(|(_, v)| v.clone()).collect())
        } else {
            Value::Object(self.0.iter().cloned().collect())
        }
    }
}

/// Results of the commands run so far, for reference resolution.
#[derive(Debug, Default)]
struct Results {
    result: PhpArray,
    error: PhpArray,
    total: PhpArray,
    next: PhpArray,
    time: PhpArray,
}

impl Results {
    fn map(&self, name: &str) -> &PhpArray {
        match name {
            "result" => &self.result,
            "error" => &self.error,
            "total" => &self.total,
            "next" => &self.next,
            _ => &self.time,
        }
    }
}

/// One `$name[key][sub]…` reference found in a string.
#[derive(Debug, PartialEq)]
struct Reference {
    start: usize,
    end: usize,
    map: &'static str,
    path: Vec<String>,
}

/// Finds the next reference at or after byte `from`.
fn next_reference(s: &str, from: usize) -> Option<Reference> {
    let mut at = from;
    while let Some(off) = s.get(at..)?.find('$') {
        let start = at + off;
        let after = &s[start + 1..];
        let map = ["result", "error", "total", "next", "time"]
            .into_iter()
            .find(|name| {
                after.len() >= name.len()
                    && after.is_char_boundary(name.len())
                    && after[..name.len()].eq_ignore_ascii_case(name)
            });
        if let Some(map) = map {
            let mut pos = start + 1 + map.len();
            let mut path = Vec::new();
            while s[pos..].starts_with('[') {
                let Some(close) = s[pos + 1..].find(']') else {
                    break;
                };
                path.push(s[pos + 1..pos + 1 + close].to_string());
                pos += close + 2;
            }
            if !path.is_empty() {
                return Some(Reference {
                    start,
                    end: pos,
                    map,
                    path,
                });
            }
        }
        at = start + 1;
    }
    None
}

/// Resolves a reference: the command key must exist; walking stops at the first missing
/// key and uses the value reached so far.
fn resolve(results: &Results, r: &Reference) -> Option<Value> {
    let mut v = results.map(r.map).get(&r.path[0])?;
    for key in &r.path[1..] {
        let next = match v {
            Value::Object(o) => o.get(key),
            Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(n) => v = n,
            None => break,
        }
    }
    Some(v.clone())
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "" }.into()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// Substitutes references in one string value: a value that is exactly one reference is
/// replaced by the referenced value (any JSON type); references inside longer text are
/// replaced only by scalars, others are left as written.
fn substitute_str(s: &str, results: &Results) -> Value {
    if let Some(r) = next_reference(s, 0)
        && r.start == 0
        && r.end == s.len()
    {
        return resolve(results, &r).unwrap_or_else(|| Value::String(s.to_string()));
    }
    let mut out = String::new();
    let mut at = 0;
    while let Some(r) = next_reference(s, at) {
        out.push_str(&s[at..r.start]);
        match resolve(results, &r).as_ref().and_then(scalar_text) {
            Some(text) => out.push_str(&text),
            None => out.push_str(&s[r.start..r.end]),
        }
        at = r.end;
    }
    out.push_str(&s[at..]);
    Value::String(out)
}

fn substitute(v: Value, results: &Results) -> Value {
    match v {
        Value::String(s) if s.contains('$') => substitute_str(&s, results),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| substitute(x, results)).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, x)| (k, substitute(x, results)))
                .collect(),
        ),
        other => other,
    }
}

fn error_object(e: &ApiError) -> Value {
    let (code, _, text) = e.parts();
    envelope::error(code, &text)
}

/// `batch`.
pub async fn batch(ctx: Ctx, p: BatchParams) -> Result<Value, ApiError> {
    let halt = p.halt.as_ref().is_some_and(truthy);
    let commands: Vec<(String, Value)> = match p.cmd {
        Some(Value::Object(o)) => o.into_iter().collect(),
        Some(Value::Array(a)) => a
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    };
    let mut results = Results::default();
    for (n, (key, command)) in commands.into_iter().enumerate() {
        let Value::String(command) = command else {
            continue;
        };
        let outcome = if n >= MAX_COMMANDS {
            Err(ApiError::BatchLengthExceeded)
        } else {
            run_one(&ctx, &command, &results).await
        };
        match outcome {
            Ok((reply, time)) => {
                results.result.set(&key, reply.result);
                if let Some(t) = reply.total {
                    results.total.set(&key, json!(t));
                }
                if let Some(nx) = reply.next {
                    results.next.set(&key, json!(nx));
                }
                results
                    .time
                    .set(&key, serde_json::to_value(time).unwrap_or(Value::Null));
            }
            Err(e) => {
                results.error.set(&key, error_object(&e));
                if halt {
                    break;
                }
            }
        }
    }
    let mut out = Map::new();
    out.insert("result".into(), results.result.encode());
    out.insert("result_error".into(), results.error.encode());
    out.insert("result_total".into(), results.total.encode());
    out.insert("result_next".into(), results.next.encode());
    out.insert("result_time".into(), results.time.encode());
    Ok(Value::Object(out))
}

async fn run_one(
    ctx: &Ctx,
    command: &str,
    results: &Results,
) -> Result<(crate::rpc::Reply, Time), ApiError> {
    let (method, query) = command.split_once('?').unwrap_or((command, ""));
    let name = method.trim().trim_matches('/').to_ascii_lowercase();
    let name = name.strip_suffix(".json").unwrap_or(&name);
    let spec = ctx
        .services
        .registry
        .get(name)
        .ok_or(ApiError::MethodNotFound)?;
    if !spec.batchable {
        return Err(ApiError::BatchMethodNotAllowed);
    }
    let params = php_query::parse_str(query.as_bytes(), &Limits::default());
    let params = substitute(Value::Object(params), results);
    let started = ctx.now();
    let clock = Instant::now();
    let reply = dispatch::call(&ctx.services, &ctx.caller, spec, params).await?;
    let time = Time::new(
        started,
        ctx.now(),
        clock.elapsed().as_secs_f64(),
        ctx.services.tz,
    );
    Ok((reply, time))
}

/// Registers `batch` (itself not callable from a batch).
pub fn register(r: &mut Registry) {
    r.method("batch", None, batch).not_batchable("batch");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results() -> Results {
        let mut r = Results::default();
        r.result.set("lead", json!(7));
        r.result.set("list", json!([{"ID": "5"}, {"ID": "9"}]));
        r.total.set("list", json!(2));
        r
    }

    #[test]
    fn references_resolve_whole_or_spliced() {
        let r = results();
        assert_eq!(substitute_str("$result[lead]", &r), json!(7));
        assert_eq!(
            substitute_str("$RESULT[list]", &r),
            json!([{"ID": "5"}, {"ID": "9"}])
        );
        assert_eq!(substitute_str("$result[list][1][ID]", &r), json!("9"));
        assert_eq!(
            substitute_str("id-$result[lead]-$total[list]", &r),
            json!("id-7-2")
        );
        assert_eq!(
            substitute_str("x $result[list] y", &r),
            json!("x $result[list] y")
        );
        assert_eq!(substitute_str("$result[nope]", &r), json!("$result[nope]"));
        // Walking stops at the first missing key and keeps what it reached.
        assert_eq!(
            substitute_str("$result[list][0][MISSING]", &r),
            json!({"ID": "5"})
        );
        assert_eq!(substitute_str("$result", &r), json!("$result"));
        assert_eq!(substitute_str("price $5", &r), json!("price $5"));
    }

    #[test]
    fn php_arrays_encode_like_json_encode() {
        let mut a = PhpArray::default();
        assert_eq!(a.encode(), json!([]));
        a.set("0", json!(1));
        a.set("1", json!(2));
        assert_eq!(a.encode(), json!([1, 2]));
        let mut b = PhpArray::default();
        b.set("0", json!(1));
        b.set("2", json!(3));
        assert_eq!(b.encode(), json!({"0": 1, "2": 3}));
    }
}
