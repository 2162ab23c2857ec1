//! Regression tests for failures found by load and hostile-input testing: each one used to
//! answer 5xx or cost time out of proportion to the request.

use crate::helpers::TestApp;
use serde_json::{Value, json};

/// Adds `n` leads through batches; ids are 1..=n on a fresh server.
async fn add_leads(app: &TestApp, n: usize) {
    for chunk in (1..=n).collect::<Vec<_>>().chunks(50) {
        let cmd: Vec<Value> = chunk
            .iter()
            .map(|i| json!(format!("crm.lead.add?fields[TITLE]=L{i}")))
            .collect();
        let r = app.ok("batch", json!({"cmd": cmd})).await;
        assert_eq!(r["result_error"], json!([]), "{r}");
    }
}

fn ids(result: &Value) -> Vec<i64> {
    result
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {result}"))
        .iter()
        .map(|r| r["ID"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// A list filter with thousands of values used to be one `OR` chain past SQLite's
/// expression-depth limit (a 500 from 999 values on).
#[tokio::test]
async fn list_filters_take_ten_thousand_values() {
    let app = TestApp::spawn().await;
    add_leads(&app, 60).await;
    // 10,000 ids: the even ones of 1..=60 and then ids that do not exist.
    let wanted: Vec<i64> = (1..=60).filter(|i| i % 2 == 0).collect();
    let values: Vec<i64> = wanted
        .iter()
        .copied()
        .chain((1..).map(|i| 1_000_000 + i))
        .take(10_000)
        .collect();
    let (status, body) = app
        .call(
            "crm.lead.list",
            json!({"filter": {"@ID": values}, "select": ["ID"], "order": {"ID": "ASC"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body["result"]), wanted);
    assert_eq!(body["total"], json!(30));

    // The same as a form body (PHP `filter[@ID][]=…`), and negated; 9,990 values keep
    // the body within the 10,000 pairs a form body may hold.
    let form: String = values[..9_990]
        .iter()
        .map(|v| format!("filter%5B%21%40ID%5D%5B%5D={v}&"))
        .collect::<String>()
        + "select[]=ID&order[ID]=ASC";
    let (status, body) = app.form("crm.lead.list", &form).await;
    assert_eq!(status, 200, "{body}");
    let odd: Vec<i64> = (1..=60).filter(|i| i % 2 == 1).collect();
    assert_eq!(ids(&body["result"]), odd);
    assert_eq!(body["total"], json!(30));

    // Many values of a range or LIKE operator: any one of them matches.
    let titles: Vec<String> = (0..5_000)
        .map(|i| format!("nomatch{i}"))
        .chain(["L7".to_string()])
        .collect();
    let (status, body) = app
        .call(
            "crm.lead.list",
            json!({"filter": {"=%TITLE": titles}, "select": ["ID"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body["result"]), [7]);
    let bounds: Vec<i64> = (0..5_000).map(|i| 100_000 + i).chain([58]).collect();
    let (status, body) = app
        .call(
            "crm.lead.list",
            json!({"filter": {">ID": bounds}, "select": ["ID"], "order": {"ID": "ASC"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body["result"]), [59, 60]);
}

/// A thousand distinct filter keys naming the same field (`" ID"`, `"  ID"`, …) are a
/// thousand AND-ed conditions (a flat AND chain of them passed SQLite's depth limit).
#[tokio::test]
async fn list_filters_take_a_thousand_conditions() {
    let app = TestApp::spawn().await;
    add_leads(&app, 10).await;
    let mut filter = serde_json::Map::new();
    for i in 0..999 {
        filter.insert(format!("{}>ID", " ".repeat(i)), json!(i % 4));
    }
    filter.insert("<ID".into(), json!(7));
    assert_eq!(filter.len(), 1_000);
    let (status, body) = app
        .call(
            "crm.lead.list",
            json!({"filter": filter, "select": ["ID"], "order": {"ID": "ASC"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body["result"]), [4, 5, 6]);
}

/// Past the documented bound a filter is refused with a clear error, not a 5xx.
#[tokio::test]
async fn a_filter_past_a_thousand_conditions_is_refused() {
    let app = TestApp::spawn().await;
    let mut filter = serde_json::Map::new();
    for i in 0..1_001 {
        filter.insert(format!("{}ID", " ".repeat(i)), json!(1));
    }
    assert_eq!(filter.len(), 1_001);
    let got = app.call("crm.lead.list", json!({"filter": filter})).await;
    crate::helpers::assert_error(&got, 400, "", "The filter has more than 1000 conditions.");
}

/// Asserts that going from `small` to 10× and 100× the size costs near-linear time: a
/// quadratic step would be 10× the linear ratio. The bound is generous (3× linear).
fn assert_near_linear(what: &str, times: [f64; 3]) {
    let [t1, t10, t100] = times;
    eprintln!("{what}: {t1:.4} s, {t10:.4} s, {t100:.4} s");
    assert!(
        t100 / t10 < 30.0 && t10 / t1.max(1e-4) < 30.0,
        "{what} grows faster than linearly: {times:?}"
    );
}

/// Commands past the 50th of a batch are each answered ERROR_BATCH_LENGTH_EXCEEDED; each
/// answer used to be stored by a linear scan of the ones before it.
#[tokio::test]
async fn batch_past_fifty_commands_costs_near_linear_time() {
    let app = TestApp::spawn().await;
    let mut times = [0.0; 3];
    for (i, n) in [500, 5_000, 50_000].into_iter().enumerate() {
        let cmd: Vec<&str> = vec!["server.time"; n];
        let mut last = Value::Null;
        times[i] = f64::MAX;
        for _ in 0..3 {
            let (status, body) = app.call("batch", json!({"cmd": cmd})).await;
            assert_eq!(status, 200, "{body}");
            times[i] = times[i].min(body["time"]["processing"].as_f64().unwrap());
            last = body;
        }
        let result = last["result"].as_object().unwrap();
        assert_eq!(result["result"].as_array().unwrap().len(), 50);
        let errors = result["result_error"].as_object().unwrap();
        assert_eq!(errors.len(), n - 50);
        assert_eq!(
            errors[&(n - 1).to_string()],
            json!({"error": "ERROR_BATCH_LENGTH_EXCEEDED", "error_description": "Max batch length exceeded"})
        );
    }
    assert_near_linear("batch", times);
}
