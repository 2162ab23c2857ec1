//! Every filter operator on an integer, a string, a datetime and a `crm_status` field, and
//! the multi-field filters, over HTTP in JSON and in form encoding (built like PHP's
//! `http_build_query`, and written by hand, raw and percent-encoded). Lead creation times
//! come from a test clock.

use crate::helpers::{self, TestApp, TestClock};
use chrono::{TimeZone, Utc};
use crm_server::wire::php_query::build_query;
use serde_json::{Value, json};
use std::sync::Arc;

/// The ids of a list answer.
fn ids(body: &Value) -> Vec<i64> {
    helpers::ids(&body["result"])
}

#[tokio::test]
async fn every_operator_on_every_field_kind_in_json_and_form() {
    let clock = Arc::new(TestClock::at(Utc::now()));
    let app = TestApp::spawn_with_clock(&[], clock.clone()).await;
    let titles = ["alpha", "beta", "gamma", "delta", "beta two", "zeta"];
    let stages = ["NEW", "IN_PROCESS", "PROCESSED", "JUNK", "NEW", "CONVERTED"];
    for i in 0..6 {
        clock.set(
            Utc.with_ymd_and_hms(2024, 1, 1 + i as u32, 12, 0, 0)
                .unwrap(),
        );
        let mut fields = json!({"TITLE": titles[i], "STATUS_ID": stages[i]});
        if i < 5 {
            fields["ADDRESS_LOC_ADDR_ID"] = json!((i + 1) * 10);
        }
        if i < 3 {
            fields["PHONE"] = json!([{"VALUE": format!("555-{}", i + 1)}]);
        }
        if i % 2 == 1 {
            fields["EMAIL"] = json!([{"VALUE": format!("lead{}@b.example", i + 1)}]);
        }
        assert_eq!(
            app.ok("crm.lead.add", json!({"fields": fields})).await,
            json!(i + 1)
        );
    }
    let d = |day: u32| format!("2024-01-0{day}T12:00:00+00:00");
    let cases: Vec<(Value, Vec<i64>)> = vec![
        // integer
        (json!({"ADDRESS_LOC_ADDR_ID": 30}), vec![3]),
        (json!({"=ADDRESS_LOC_ADDR_ID": "30"}), vec![3]),
        (json!({"!ADDRESS_LOC_ADDR_ID": 30}), vec![1, 2, 4, 5, 6]),
        (json!({"!=ADDRESS_LOC_ADDR_ID": 30}), vec![1, 2, 4, 5, 6]),
        (json!({">ADDRESS_LOC_ADDR_ID": 30}), vec![4, 5]),
        (json!({">=ADDRESS_LOC_ADDR_ID": 30}), vec![3, 4, 5]),
        (json!({"<ADDRESS_LOC_ADDR_ID": 30}), vec![1, 2]),
        (json!({"<=ADDRESS_LOC_ADDR_ID": 30}), vec![1, 2, 3]),
        (json!({"@ADDRESS_LOC_ADDR_ID": [10, 50]}), vec![1, 5]),
        (json!({"!@ADDRESS_LOC_ADDR_ID": [10, 50]}), vec![2, 3, 4, 6]),
        (json!({"%ADDRESS_LOC_ADDR_ID": 30}), vec![3]),
        (json!({"ADDRESS_LOC_ADDR_ID": [10, 20]}), vec![1, 2]),
        (json!({"ADDRESS_LOC_ADDR_ID": 0}), vec![6]),
        // string
        (json!({"TITLE": "beta"}), vec![2]),
        (json!({"!TITLE": "beta"}), vec![1, 3, 4, 5, 6]),
        (json!({">TITLE": "delta"}), vec![3, 6]),
        (json!({">=TITLE": "delta"}), vec![3, 4, 6]),
        (json!({"<TITLE": "beta"}), vec![1]),
        (json!({"<=TITLE": "beta"}), vec![1, 2]),
        (json!({"@TITLE": ["alpha", "zeta"]}), vec![1, 6]),
        (json!({"!@TITLE": ["alpha", "zeta"]}), vec![2, 3, 4, 5]),
        (json!({"%TITLE": "eta"}), vec![2, 5, 6]),
        (json!({"=%TITLE": "beta%"}), vec![2, 5]),
        (json!({"%=TITLE": "%ta"}), vec![2, 4, 6]),
        (json!({"!%TITLE": "eta"}), vec![1, 3, 4]),
        (json!({"TITLE": ["alpha", "gamma"]}), vec![1, 3]),
        // datetime
        (json!({"DATE_CREATE": d(3)}), vec![3]),
        (json!({"DATE_CREATE": "2024-01-03T15:00:00+03:00"}), vec![3]),
        (json!({"!DATE_CREATE": d(3)}), vec![1, 2, 4, 5, 6]),
        (json!({">DATE_CREATE": d(3)}), vec![4, 5, 6]),
        (json!({">=DATE_CREATE": d(3)}), vec![3, 4, 5, 6]),
        (json!({"<DATE_CREATE": d(3)}), vec![1, 2]),
        (json!({"<=DATE_CREATE": d(3)}), vec![1, 2, 3]),
        (json!({">DATE_CREATE": "2024-01-04"}), vec![4, 5, 6]),
        (json!({"@DATE_CREATE": [d(1), d(6)]}), vec![1, 6]),
        (json!({"!@DATE_CREATE": [d(1), d(6)]}), vec![2, 3, 4, 5]),
        (json!({">DATE_CREATE": "not a date", "<ID": 3}), vec![1, 2]),
        // crm_status
        (json!({"STATUS_ID": "NEW"}), vec![1, 5]),
        (json!({"!STATUS_ID": "NEW"}), vec![2, 3, 4, 6]),
        (json!({"@STATUS_ID": ["JUNK", "CONVERTED"]}), vec![4, 6]),
        (
            json!({"!@STATUS_ID": ["JUNK", "CONVERTED"]}),
            vec![1, 2, 3, 5],
        ),
        (json!({"%STATUS_ID": "NEW"}), vec![1, 5]),
        (
            json!({"STATUS_ID": ["IN_PROCESS", "PROCESSED"]}),
            vec![2, 3],
        ),
        (json!({">STATUS_ID": "JUNK"}), vec![1, 3, 5]),
        // multi-fields
        (json!({"PHONE": "555-3"}), vec![3]),
        (json!({"PHONE": "555-%"}), vec![1, 2, 3]),
        // A prefix of the value, ignoring case; a `%` is removed (so no suffix search).
        (json!({"EMAIL": "LEAD"}), vec![2, 4, 6]),
        (json!({"EMAIL": "%@b.example"}), vec![]),
        (json!({"EMAIL": ["lead4@b.example"]}), vec![4]),
        (json!({"EMAIL": " ", "<ID": 3}), vec![1, 2]),
        // combined and unknown
        (
            json!({"STATUS_ID": "NEW", ">ADDRESS_LOC_ADDR_ID": 10}),
            vec![5],
        ),
        (
            json!({"UNKNOWN": 1, "ASSOCIATED_CONTACT_ID": 5, "<ID": 2}),
            vec![1],
        ),
    ];
    for (filter, want) in cases {
        let params = json!({"filter": filter, "select": ["ID"], "order": {"ID": "ASC"}});
        let (status, body) = app.call("crm.lead.list", params.clone()).await;
        assert_eq!(status, 200, "{filter}: {body}");
        assert_eq!(ids(&body), want, "json {filter}");
        let form = build_query(params.as_object().unwrap());
        let (status, body) = app.form("crm.lead.list", &form).await;
        assert_eq!(status, 200, "{form}: {body}");
        assert_eq!(ids(&body), want, "form {form}");
    }

    // The same operators in form bodies written by hand, not by our own encoder: each as a
    // raw string (brackets and operators as typed, as with `curl -d`) and fully
    // percent-encoded the way http_build_query sends it. Even raw, a `=` inside the name
    // must be sent as `%3D` (the first `=` ends the name, see below), and `+` in a value
    // as `%2B`. A raw `%` stays literal when no two hex digits follow it (PHP's urldecode),
    // so `%TITLE` works raw while `%ADDRESS…` would not.
    let hand_written: [(&str, &str, &[i64]); 22] = [
        // integer
        (
            "filter[ADDRESS_LOC_ADDR_ID]=30",
            "filter%5BADDRESS_LOC_ADDR_ID%5D=30",
            &[3],
        ),
        (
            "filter[%3DADDRESS_LOC_ADDR_ID]=30",
            "filter%5B%3DADDRESS_LOC_ADDR_ID%5D=30",
            &[3],
        ),
        (
            "filter[!ADDRESS_LOC_ADDR_ID]=30",
            "filter%5B%21ADDRESS_LOC_ADDR_ID%5D=30",
            &[1, 2, 4, 5, 6],
        ),
        (
            "filter[!%3DADDRESS_LOC_ADDR_ID]=30",
            "filter%5B%21%3DADDRESS_LOC_ADDR_ID%5D=30",
            &[1, 2, 4, 5, 6],
        ),
        (
            "filter[>ADDRESS_LOC_ADDR_ID]=30",
            "filter%5B%3EADDRESS_LOC_ADDR_ID%5D=30",
            &[4, 5],
        ),
        (
            "filter[>%3DADDRESS_LOC_ADDR_ID]=30",
            "filter%5B%3E%3DADDRESS_LOC_ADDR_ID%5D=30",
            &[3, 4, 5],
        ),
        (
            "filter[<ADDRESS_LOC_ADDR_ID]=30",
            "filter%5B%3CADDRESS_LOC_ADDR_ID%5D=30",
            &[1, 2],
        ),
        (
            "filter[<%3DADDRESS_LOC_ADDR_ID]=30",
            "filter%5B%3C%3DADDRESS_LOC_ADDR_ID%5D=30",
            &[1, 2, 3],
        ),
        (
            "filter[@ADDRESS_LOC_ADDR_ID][]=10&filter[@ADDRESS_LOC_ADDR_ID][]=50",
            "filter%5B%40ADDRESS_LOC_ADDR_ID%5D%5B%5D=10&filter%5B%40ADDRESS_LOC_ADDR_ID%5D%5B%5D=50",
            &[1, 5],
        ),
        (
            "filter[!@ADDRESS_LOC_ADDR_ID][0]=10&filter[!@ADDRESS_LOC_ADDR_ID][1]=50",
            "filter%5B%21%40ADDRESS_LOC_ADDR_ID%5D%5B0%5D=10&filter%5B%21%40ADDRESS_LOC_ADDR_ID%5D%5B1%5D=50",
            &[2, 3, 4, 6],
        ),
        (
            "filter[ID][]=1&filter[ID][]=2",
            "filter%5BID%5D%5B%5D=1&filter%5BID%5D%5B%5D=2",
            &[1, 2],
        ),
        // string
        ("filter[%TITLE]=eta", "filter%5B%25TITLE%5D=eta", &[2, 5, 6]),
        (
            "filter[%3D%TITLE]=beta%",
            "filter%5B%3D%25TITLE%5D=beta%25",
            &[2, 5],
        ),
        (
            "filter[%%3DTITLE]=%ta",
            "filter%5B%25%3DTITLE%5D=%25ta",
            &[2, 4, 6],
        ),
        (
            "filter[!%TITLE]=eta",
            "filter%5B%21%25TITLE%5D=eta",
            &[1, 3, 4],
        ),
        (
            "filter[>TITLE]=delta",
            "filter%5B%3ETITLE%5D=delta",
            &[3, 6],
        ),
        ("filter[TITLE]=beta two", "filter%5BTITLE%5D=beta+two", &[5]),
        // datetime
        (
            "filter[>DATE_CREATE]=2024-01-04",
            "filter%5B%3EDATE_CREATE%5D=2024-01-04",
            &[4, 5, 6],
        ),
        (
            "filter[<%3DDATE_CREATE]=2024-01-03T15:00:00%2B03:00",
            "filter%5B%3C%3DDATE_CREATE%5D=2024-01-03T15%3A00%3A00%2B03%3A00",
            &[1, 2, 3],
        ),
        // crm_status
        (
            "filter[@STATUS_ID][]=JUNK&filter[@STATUS_ID][]=CONVERTED",
            "filter%5B%40STATUS_ID%5D%5B%5D=JUNK&filter%5B%40STATUS_ID%5D%5B%5D=CONVERTED",
            &[4, 6],
        ),
        // multi-fields
        ("filter[EMAIL]=Lead4@", "filter%5BEMAIL%5D=Lead4%40", &[4]),
        (
            "filter[PHONE]=555-%",
            "filter%5BPHONE%5D=555-%25",
            &[1, 2, 3],
        ),
    ];
    for (raw, encoded, want) in hand_written {
        for (form, rest) in [
            (raw, "&select[]=ID&order[ID]=ASC"),
            (encoded, "&select%5B%5D=ID&order%5BID%5D=ASC"),
        ] {
            let (status, body) = app.form("crm.lead.list", &format!("{form}{rest}")).await;
            assert_eq!((status, ids(&body)), (200, want.to_vec()), "{form}: {body}");
        }
    }
    // As in PHP's parse_str, an unencoded `=` inside the brackets ends the name: the pair
    // is `filter[>` = `…`, which is no filter at all, so every lead is listed.
    for form in [
        "filter[>=ADDRESS_LOC_ADDR_ID]=30",
        "filter[=ADDRESS_LOC_ADDR_ID]=30",
    ] {
        let (status, body) = app
            .form(
                "crm.lead.list",
                &format!("{form}&select[]=ID&order[ID]=ASC"),
            )
            .await;
        assert_eq!(
            (status, ids(&body)),
            (200, vec![1, 2, 3, 4, 5, 6]),
            "{form}: {body}"
        );
    }
}
