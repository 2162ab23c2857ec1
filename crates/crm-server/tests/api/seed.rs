//! The seed document's cURL (webhook) example, run as printed with only the address
//! replaced: `crm.lead.contact.add` binding contact 1010 to lead 1.

use crate::helpers::TestApp;
use serde_json::{Value, json};
use std::process::Command;

/// The seed's example, verbatim except for the URL.
fn seed_curl(url: &str) -> Value {
    let out = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "60",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-H",
            "Accept: application/json",
            "-d",
            r#"{"id":1,"fields":{"CONTACT_ID":1010,"SORT":10,"IS_PRIMARY":"Y"}}"#,
            url,
        ])
        .output()
        .expect("curl is installed");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON answer")
}

// curl blocks its thread: the server needs another one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_curl_example_binds_then_reports_false() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.ok("crm.lead.add", json!({"fields": {"TITLE": "Seed lead"}}))
            .await,
        json!(1)
    );
    let mut last = Value::Null;
    for i in 1..=1010 {
        last = app
            .ok(
                "crm.contact.add",
                json!({"fields": {"NAME": format!("Contact {i}")}}),
            )
            .await;
    }
    assert_eq!(last, json!(1010));

    let url = format!("{}crm.lead.contact.add", app.hook);
    let first = seed_curl(&url);
    assert_eq!(first["result"], json!(true), "{first}");
    assert!(
        first["time"].is_object() && first.get("error").is_none(),
        "{first}"
    );
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["result", "time"]);

    let second = seed_curl(&url);
    assert_eq!(second["result"], json!(false), "{second}");
    assert_eq!(
        app.ok("crm.lead.contact.items.get", json!({"id": 1})).await,
        json!([{"CONTACT_ID": 1010, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"}])
    );
    assert_eq!(
        app.ok("crm.lead.get", json!({"id": 1})).await["CONTACT_ID"],
        json!("1010")
    );
}
