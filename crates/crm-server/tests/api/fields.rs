//! `crm.lead.fields` / `crm.contact.fields`: pinned against a field table, and against a
//! real portal's captured `crm.lead.fields` from the shared reference data (required under
//! CI, skipped with a visible `SKIPPED` line elsewhere when it is missing).

use crate::helpers::TestApp;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

/// (name, type, required, read-only, multiple) — the standard field tables.
const LEAD: &str = "ID integer - ro -|TITLE string req - -|HONORIFIC crm_status - - -|NAME string - - -|SECOND_NAME string - - -|LAST_NAME string - - -|BIRTHDATE date - - -|COMPANY_TITLE string - - -|SOURCE_ID crm_status - - -|SOURCE_DESCRIPTION string - - -|STATUS_ID crm_status - - -|STATUS_DESCRIPTION string - - -|STATUS_SEMANTIC_ID string - ro -|POST string - - -|ADDRESS string - - -|ADDRESS_2 string - - -|ADDRESS_CITY string - - -|ADDRESS_POSTAL_CODE string - - -|ADDRESS_REGION string - - -|ADDRESS_PROVINCE string - - -|ADDRESS_COUNTRY string - - -|ADDRESS_COUNTRY_CODE string - - -|ADDRESS_LOC_ADDR_ID integer - - -|CURRENCY_ID crm_currency - - -|OPPORTUNITY double - - -|IS_MANUAL_OPPORTUNITY char - - -|OPENED char - - -|COMMENTS string - - -|HAS_PHONE char - ro -|HAS_EMAIL char - ro -|HAS_IMOL char - ro -|ASSIGNED_BY_ID user - - -|CREATED_BY_ID user - ro -|MODIFY_BY_ID user - ro -|MOVED_BY_ID user - ro -|DATE_CREATE datetime - ro -|DATE_MODIFY datetime - ro -|MOVED_TIME datetime - ro -|COMPANY_ID crm_company - - -|CONTACT_ID crm_contact - - -|CONTACT_IDS crm_contact - - multi|IS_RETURN_CUSTOMER char - ro -|DATE_CLOSED datetime - ro -|ORIGINATOR_ID string - - -|ORIGIN_ID string - - -|UTM_SOURCE string - - -|UTM_MEDIUM string - - -|UTM_CAMPAIGN string - - -|UTM_CONTENT string - - -|UTM_TERM string - - -|LAST_ACTIVITY_TIME datetime - ro -|LAST_ACTIVITY_BY user - ro -|PHONE crm_multifield - - multi|EMAIL crm_multifield - - multi|WEB crm_multifield - - multi|IM crm_multifield - - multi|LINK crm_multifield - - multi";
const CONTACT: &str = "ID integer - ro -|HONORIFIC crm_status - - -|NAME string req - -|SECOND_NAME string req - -|LAST_NAME string req - -|PHOTO file - - -|BIRTHDATE date - - -|TYPE_ID crm_status - - -|SOURCE_ID crm_status - - -|SOURCE_DESCRIPTION string - - -|POST string - - -|ADDRESS string - - -|ADDRESS_2 string - - -|ADDRESS_CITY string - - -|ADDRESS_POSTAL_CODE string - - -|ADDRESS_REGION string - - -|ADDRESS_PROVINCE string - - -|ADDRESS_COUNTRY string - - -|ADDRESS_COUNTRY_CODE string - - -|ADDRESS_LOC_ADDR_ID integer - - -|COMMENTS string - - -|OPENED char - - -|EXPORT char - - -|HAS_PHONE char - ro -|HAS_EMAIL char - ro -|HAS_IMOL char - ro -|ASSIGNED_BY_ID user - - -|CREATED_BY_ID user - ro -|MODIFY_BY_ID user - ro -|DATE_CREATE datetime - ro -|DATE_MODIFY datetime - ro -|COMPANY_ID crm_company - - -|COMPANY_IDS crm_company - - multi|LEAD_ID crm_lead - ro -|ORIGINATOR_ID string - - -|ORIGIN_ID string - - -|ORIGIN_VERSION string - - -|UTM_SOURCE string - - -|UTM_MEDIUM string - - -|UTM_CAMPAIGN string - - -|UTM_CONTENT string - - -|UTM_TERM string - - -|LAST_ACTIVITY_TIME datetime - ro -|LAST_ACTIVITY_BY user - ro -|PHONE crm_multifield - - multi|EMAIL crm_multifield - - multi|WEB crm_multifield - - multi|IM crm_multifield - - multi|LINK crm_multifield - - multi";

fn check_against_table(result: &Value, table: &str, method: &str) {
    let got: Vec<&String> = result.as_object().unwrap().keys().collect();
    let rows: Vec<Vec<&str>> = table.split('|').map(|r| r.split(' ').collect()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(got, names, "{method}: names and order");
    for r in rows {
        let d = &result[r[0]];
        let want = (r[1], r[2] == "req", r[3] == "ro", r[4] == "multi");
        let have = (
            d["type"].as_str().unwrap(),
            d["isRequired"].as_bool().unwrap(),
            d["isReadOnly"].as_bool().unwrap(),
            d["isMultiple"].as_bool().unwrap(),
        );
        assert_eq!(have, want, "{method} {}", r[0]);
        assert_eq!(
            (d["isImmutable"].clone(), d["isDynamic"].clone()),
            (json!(false), json!(false)),
            "{}",
            r[0]
        );
        let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            &keys[..6],
            [
                "type",
                "isRequired",
                "isReadOnly",
                "isImmutable",
                "isMultiple",
                "isDynamic"
            ],
            "{}",
            r[0]
        );
        let tail: Vec<&str> = keys
            .iter()
            .skip_while(|k| **k != "title")
            .copied()
            .collect();
        assert!(
            tail == ["title"] || tail == ["title", "settings"],
            "{}: {keys:?}",
            r[0]
        );
    }
}

#[tokio::test]
async fn field_lists_match_the_standard_tables() {
    let app = TestApp::spawn().await;
    let lead = app.ok("crm.lead.fields", json!({})).await;
    check_against_table(&lead, LEAD, "crm.lead.fields");
    assert_eq!(lead["STATUS_ID"]["statusType"], "STATUS");
    assert_eq!(lead["CONTACT_ID"]["isDeprecated"], true);
    assert_eq!(
        lead["COMPANY_ID"]["settings"],
        json!({"parentEntityTypeId": 4})
    );
    assert_eq!(
        lead["HONORIFIC"].to_string(),
        r#"{"type":"crm_status","isRequired":false,"isReadOnly":false,"isImmutable":false,"isMultiple":false,"isDynamic":false,"statusType":"HONORIFIC","title":"Salutation"}"#
    );
    let contact = app.ok("crm.contact.fields", json!({})).await;
    check_against_table(&contact, CONTACT, "crm.contact.fields");
    assert_eq!(contact["TYPE_ID"]["statusType"], "CONTACT_TYPE");
    assert_eq!(
        contact["LEAD_ID"]["settings"],
        json!({"parentEntityTypeId": 1})
    );
}

/// The shared reference directory: `$CRM_GOLDEN_DIR` when set, else `shared/golden` beside
/// the repository, else beside the repository this checkout was cloned from (a fresh
/// clone made for a CI run lives elsewhere; its `origin` is the working checkout).
fn golden_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CRM_GOLDEN_DIR") {
        return PathBuf::from(dir);
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let beside = |root: &Path| root.join("../shared/golden");
    let origin = std::process::Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args(["remote", "get-url", "origin"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|p| p.is_dir());
    [Some(repo.clone()), origin]
        .into_iter()
        .flatten()
        .map(|root| beside(&root))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| beside(&repo))
}

/// True under CI: `CI` is set to anything but empty, `0` or `false`.
fn in_ci() -> bool {
    std::env::var("CI")
        .is_ok_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "" | "0" | "false"))
}

/// Compares with a real portal's captured answer from the shared reference data. Under CI
/// (`CI=true`) a missing reference fails the test; elsewhere the test is skipped with a
/// `SKIPPED` line written straight to stderr, so it shows in `cargo test` output even
/// though the test counts as passed.
#[tokio::test]
async fn lead_fields_agree_with_a_captured_portal_response_required_under_ci() {
    let path = golden_dir().join("fast_bitrix24/json/crm_lead_fields_success.response.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if in_ci() => panic!(
            "the shared reference {} is required under CI ({e}); set CRM_GOLDEN_DIR to its \
             golden directory",
            path.display()
        ),
        Err(e) => {
            // Not eprintln!: the test harness hides captured output of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED fields::lead_fields_agree_with_a_captured_portal_response_required_under_ci: \
                 no shared reference {} ({e}); under CI=true this fails",
                path.display()
            );
            return;
        }
    };
    let golden: Value = serde_json::from_str(&text).unwrap();
    let golden = &golden["result"];
    let app = TestApp::spawn().await;
    let ours = app.ok("crm.lead.fields", json!({})).await;
    let mut compared = 0;
    for (name, theirs) in golden.as_object().unwrap() {
        if name.starts_with("UF_") {
            continue;
        }
        let mine = &ours[name];
        assert!(mine.is_object(), "{name} missing");
        for key in [
            "type",
            "isRequired",
            "isReadOnly",
            "isImmutable",
            "isMultiple",
            "isDynamic",
            "isDeprecated",
            "statusType",
            "settings",
        ] {
            assert_eq!(mine.get(key), theirs.get(key), "{name}.{key}");
        }
        let mk: Vec<&String> = mine.as_object().unwrap().keys().collect();
        let tk: Vec<&String> = theirs.as_object().unwrap().keys().collect();
        assert_eq!(mk, tk, "{name} key order");
        compared += 1;
    }
    assert!(compared >= 50, "compared only {compared}");
}
