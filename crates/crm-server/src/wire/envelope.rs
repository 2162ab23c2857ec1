//! The success and error envelopes.
//!
//! Success: `{"result": …, ["next": n,] ["total": n,] "time": {…}}` in that key order,
//! with all eight `time` keys always present (the PHP SDK reads six of them by index and
//! requires `operating_reset_at` to be an integer). Error: `{"error": CODE,
//! "error_description": TEXT}` and no `time`.

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// The `time` object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Time {
    /// Unix time the request began (float seconds).
    pub start: f64,
    /// Unix time the response was built.
    pub finish: f64,
    /// `finish - start`.
    pub duration: f64,
    /// Seconds spent inside the method.
    pub processing: f64,
    /// `start` as ISO-8601 with the server offset.
    pub date_start: String,
    /// `finish` as ISO-8601 with the server offset.
    pub date_finish: String,
    /// When the oldest load-limiter bucket expires (unix seconds, integer).
    pub operating_reset_at: i64,
    /// Seconds this credential spent in this method recently (no limiter: 0).
    pub operating: f64,
}

fn unix_f64(t: DateTime<Utc>) -> f64 {
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_micros()) / 1e6
}

fn iso(t: DateTime<Utc>, tz: FixedOffset) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

impl Time {
    /// The `time` object of a call that started at `start`, spent `processing` seconds in
    /// its method, and finished at `finish`.
    pub fn new(
        start: DateTime<Utc>,
        finish: DateTime<Utc>,
        processing: f64,
        tz: FixedOffset,
    ) -> Self {
        let (s, f) = (unix_f64(start), unix_f64(finish));
        Self {
            start: s,
            finish: f,
            duration: (f - s).max(0.0),
            processing,
            date_start: iso(start, tz),
            date_finish: iso(finish, tz),
            operating_reset_at: start.timestamp() + 600,
            operating: 0.0,
        }
    }
}

/// The success body.
pub fn success(result: Value, next: Option<i64>, total: Option<i64>, time: &Time) -> Value {
    let mut m = Map::new();
    m.insert("result".into(), result);
    if let Some(n) = next {
        m.insert("next".into(), json!(n));
    }
    if let Some(t) = total {
        m.insert("total".into(), json!(t));
    }
    m.insert(
        "time".into(),
        serde_json::to_value(time).unwrap_or(Value::Null),
    );
    Value::Object(m)
}

/// The error body.
pub fn error(code: &str, description: &str) -> Value {
    json!({ "error": code, "error_description": description })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn time_has_eight_typed_keys_in_order() {
        let start = Utc.timestamp_opt(1_715_091_541, 642_592_000).unwrap();
        let finish = Utc.timestamp_opt(1_715_091_541, 730_599_000).unwrap();
        let tz = FixedOffset::east_opt(3 * 3600).unwrap();
        let body = success(json!(true), None, None, &Time::new(start, finish, 0.05, tz));
        let text = body.to_string();
        assert!(text.starts_with(r#"{"result":true,"time":{"start":1715091541.642592,"finish":1715091541.730599,"duration":0.08800"#), "{text}");
        let time = body["time"].as_object().unwrap();
        let keys: Vec<&str> = time.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "start",
                "finish",
                "duration",
                "processing",
                "date_start",
                "date_finish",
                "operating_reset_at",
                "operating"
            ]
        );
        assert_eq!(time["date_start"], "2024-05-07T17:19:01+03:00");
        assert!(time["operating_reset_at"].is_i64());
        assert!(time["operating"].is_f64());
    }

    #[test]
    fn list_keys_come_between_result_and_time() {
        let t = Time::new(
            Utc::now(),
            Utc::now(),
            0.0,
            FixedOffset::east_opt(0).unwrap(),
        );
        let body = success(json!([]), Some(50), Some(654), &t);
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["result", "next", "total", "time"]);
    }
}
