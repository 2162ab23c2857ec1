//! `batch`: up to 50 calls in one request, with `$result[…]` references to earlier
//! results, answered the way a portal does (PHP-array encoding of the five result maps,
//! HTTP 200 even when every command failed). Not a transaction: each command commits on
//! its own, as on a portal.

use crate::rpc::{ApiError, Ctx, Registry, Reply, dispatch};
use crate::wire::envelope::{self, Time};
use crate::wire::params::truthy;
use crate::wire::php_array;
use crate::wire::php_query::{self, Limits};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Commands past this many are not run.
pub const MAX_COMMANDS: usize = 50;

/// Parameters of `batch`.
#[derive(Debug, Deserialize)]
pub struct BatchParams {
    cmd: Option<Value>,
    halt: Option<Value>,
}

/// Results of the commands run so far (for references), and the five maps of the answer.
/// Command keys are unique, so each map is written once per key.
#[derive(Debug, Default)]
pub struct Results {
    result: Map<String, Value>,
    error: Map<String, Value>,
    total: Map<String, Value>,
    next: Map<String, Value>,
    time: Map<String, Value>,
}

impl Results {
    /// Records one command's answer under its key.
    pub fn record(&mut self, key: String, answer: Result<(Reply, Time), ApiError>) {
        match answer {
            Ok((reply, time)) => {
                if let Some(t) = reply.total {
                    self.total.insert(key.clone(), json!(t));
                }
                if let Some(nx) = reply.next {
                    self.next.insert(key.clone(), json!(nx));
                }
                self.time.insert(
                    key.clone(),
                    serde_json::to_value(time).unwrap_or(Value::Null),
                );
                self.result.insert(key, reply.result);
            }
            Err(e) => {
                self.error.insert(key, error_object(&e));
            }
        }
    }

    fn map(&self, name: &str) -> &Map<String, Value> {
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
                    // No `]` remains, so no later reference can have a path either:
                    // stopping here keeps the scan linear.
                    if path.is_empty() {
                        return None;
                    }
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
    let commands = p.cmd.and_then(php_array::as_array).unwrap_or_default();
    let mut results = Results::default();
    let mut transport = None;
    // One unit of work for the store: the commands' writes are committed together (one
    // commit instead of one per command on SQLite), and the answer waits for that commit.
    let work = async {
        for (n, (key, command)) in commands.into_iter().enumerate() {
            let Value::String(command) = command else {
                continue;
            };
            let outcome = if n >= MAX_COMMANDS {
                Err(ApiError::BatchLengthExceeded)
            } else {
                run_one(&ctx, &command, &results).await
            };
            // A fault below the REST layer fails the whole request, as a proxy's would.
            if let Err(ApiError::Transport(t)) = &outcome {
                transport = Some(*t);
                return;
            }
            let failed = outcome.is_err();
            results.record(key, outcome);
            if failed && halt {
                break;
            }
        }
    };
    ctx.services.store.grouped(Box::pin(work)).await?;
    if let Some(t) = transport {
        return Err(ApiError::Transport(t));
    }
    let mut out = Map::new();
    out.insert("result".into(), php_array::encode(results.result));
    out.insert("result_error".into(), php_array::encode(results.error));
    out.insert("result_total".into(), php_array::encode(results.total));
    out.insert("result_next".into(), php_array::encode(results.next));
    out.insert("result_time".into(), php_array::encode(results.time));
    Ok(Value::Object(out))
}

/// Runs one command: the method looked up as the HTTP route does, its query parsed with
/// PHP rules and references substituted, then the same dispatch as a top-level call.
async fn run_one(ctx: &Ctx, command: &str, results: &Results) -> Result<(Reply, Time), ApiError> {
    let (method, query) = command.split_once('?').unwrap_or((command, ""));
    let spec = ctx
        .services
        .registry
        .get(method)
        .ok_or(ApiError::MethodNotFound)?;
    if !spec.batchable {
        return Err(ApiError::BatchMethodNotAllowed);
    }
    let params = command_params(query, results);
    let outcome = dispatch::call(&ctx.services, &ctx.caller, spec, params, Some(ctx.call_id)).await;
    let time = outcome.time(outcome.started, ctx.services.tz);
    Ok((outcome.result?, time))
}

/// A command's parameters: its query string parsed with PHP's rules, then `$result[…]`,
/// `$error[…]`, `$total[…]`, `$next[…]` and `$time[…]` references substituted from the
/// answers of the commands before it.
pub fn command_params(query: &str, results: &Results) -> Value {
    let params = php_query::parse_str(query.as_bytes(), &Limits::default());
    substitute(Value::Object(params), results)
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
        r.result.insert("lead".into(), json!(7));
        r.result
            .insert("list".into(), json!([{"ID": "5"}, {"ID": "9"}]));
        r.total.insert("list".into(), json!(2));
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
    fn unclosed_brackets_end_the_scan() {
        let r = results();
        assert_eq!(
            substitute_str("$result[lead] $result[lead", &r),
            json!("7 $result[lead")
        );
        // Each unclosed candidate used to rescan the rest of the string.
        let long = "$result[".repeat(200_000);
        assert_eq!(substitute_str(&long, &r), json!(long));
    }
}
