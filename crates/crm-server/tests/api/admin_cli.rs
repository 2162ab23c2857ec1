//! The maintenance commands of the real binary, run beside a running server on the same
//! database: users, departments, roles and applications made on the command line take
//! effect at the server's next call, and deactivating a user stops their webhooks and
//! tokens at once.

use crate::helpers::read;
use crate::process::{DEADLINE, ServerProcess, cli};
use serde_json::{Value, json};

fn ok(dir: &std::path::Path, args: &[&str]) -> String {
    let (ok, out) = cli(dir, args);
    assert!(ok, "crm-server {args:?}: {out}");
    out
}

fn refused(dir: &std::path::Path, args: &[&str], why: &str) {
    let (ok, out) = cli(dir, args);
    assert!(!ok && out.contains(why), "crm-server {args:?}: {out}");
}

#[tokio::test]
async fn users_roles_and_apps_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let d = dir.path();
    let base = server.base().to_string();
    let listen = format!("127.0.0.1:{}", server.port());
    let client = reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .unwrap();
    let admin_hook = server.hook().unwrap().to_string();
    let call = |url: String, body: Value| {
        let client = client.clone();
        async move { read(client.post(url).json(&body).send().await.unwrap()).await }
    };

    let sales = ok(d, &["department", "add", "Sales", "--sort", "100"]);
    let sales = sales.trim();
    refused(
        d,
        &["department", "add", "Lost", "--parent", "99"],
        "does not exist",
    );
    let ann = ok(
        d,
        &[
            "user",
            "add",
            "--name",
            "Ann",
            "--last-name",
            "Lee",
            "--email",
            "ann@example.org",
            "--department",
            sales,
        ],
    );
    let ann = ann.trim();
    assert_eq!(ann, "2");
    refused(
        d,
        &["user", "add", "--name", "Eve", "--department", "42"],
        "departments [42] does not exist",
    );
    let listing = ok(d, &["user", "list"]);
    let row: Vec<&str> = listing.lines().nth(2).unwrap().split_whitespace().collect();
    assert_eq!(
        row,
        ["2", "Ann", "Lee", "ann@example.org", sales, "no", "active"],
        "{listing}"
    );
    let departments = ok(d, &["department", "list"]);
    assert!(
        departments
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == [sales, "Sales", "1", "100", "-"]),
        "{departments}"
    );

    refused(
        d,
        &["role", "create", "Bad", "--grant", "lead.read=mine"],
        "unknown level `mine`",
    );
    refused(
        d,
        &["role", "create", "Bad", "--grant", "quote.read=own"],
        "unknown entity `quote`",
    );
    ok(
        d,
        &[
            "role",
            "create",
            "Sellers",
            "--grant",
            "lead.read=own",
            "--grant",
            "lead.add=own",
            "--grant",
            "contact.read=department",
        ],
    );
    refused(
        d,
        &["role", "create", "Sellers"],
        "a role named `Sellers` exists",
    );
    refused(
        d,
        &["role", "assign", "Nope", "--user", ann],
        "no role named `Nope`",
    );
    let assigned = ok(d, &["role", "assign", "Sellers", "--user", ann]);
    assert!(
        assigned.contains("role Sellers assigned to user 2"),
        "{assigned}"
    );
    let roles = ok(d, &["role", "list"]);
    assert!(
        roles.contains(
            "Sellers  grants: contact.read=department lead.add=own lead.read=own  users: 2"
        ),
        "{roles}"
    );

    // Ann's webhook (made by the CLI) and her token (made by the CLI for an app made by
    // the CLI) work on the running server, with her role's rights.
    let hook = ok(
        d,
        &[
            "webhook", "create", "--user", ann, "--scope", "crm", "--listen", &listen,
        ],
    );
    let hook = hook.trim().to_string();
    assert!(hook.starts_with(&format!("{base}/rest/2/")), "{hook}");
    let app = ok(
        d,
        &[
            "app",
            "create",
            "--name",
            "Shop",
            "--scope",
            "crm,user",
            "--redirect-uri",
            "https://shop.example/cb",
        ],
    );
    let app: Value = serde_json::from_str(app.trim()).unwrap();
    let client_id = app["client_id"].as_str().unwrap();
    refused(
        d,
        &["app", "token", "--client-id", "local.none.1", "--user", ann],
        "no application with client id",
    );
    let token = ok(
        d,
        &[
            "app",
            "token",
            "--client-id",
            client_id,
            "--user",
            ann,
            "--ttl",
            "120",
            "--listen",
            &listen,
        ],
    );
    let token: Value = serde_json::from_str(token.trim()).unwrap();
    assert_eq!(token["expires_in"], 120);
    assert_eq!(token["user_id"], 2);
    assert_eq!(token["scope"], "crm,user");
    assert_eq!(token["client_endpoint"], json!(format!("{base}/rest/")));
    let apps = ok(d, &["app", "list"]);
    assert!(
        apps.contains(client_id) && apps.contains("https://shop.example/cb"),
        "{apps}"
    );
    assert!(
        !apps.contains(app["client_secret"].as_str().unwrap()),
        "{apps}"
    );

    call(
        format!("{admin_hook}crm.lead.add"),
        json!({"fields": {"TITLE": "not Ann's"}}),
    )
    .await;
    let (status, mine) = call(
        format!("{hook}crm.lead.add"),
        json!({"fields": {"TITLE": "Ann's"}}),
    )
    .await;
    assert_eq!(status, 200, "{mine}");
    let (_, list) = call(format!("{hook}crm.lead.list"), json!({})).await;
    assert_eq!(
        (list["total"].clone(), list["result"][0]["TITLE"].clone()),
        (json!(1), json!("Ann's"))
    );
    let rest = format!("{base}/rest/");
    let with_token = |method: &str| {
        call(
            format!("{rest}{method}"),
            json!({"auth": token["access_token"]}),
        )
    };
    let (_, me) = with_token("user.current").await;
    assert_eq!(
        (
            me["result"]["ID"].clone(),
            me["result"]["EMAIL"].clone(),
            me["result"]["UF_DEPARTMENT"].clone()
        ),
        (
            json!("2"),
            json!("ann@example.org"),
            json!([sales.parse::<i64>().unwrap()])
        )
    );
    let (_, users) = call(
        format!("{admin_hook}user.get"),
        json!({"filter": {"UF_DEPARTMENT": sales}}),
    )
    .await;
    assert_eq!(
        (users["total"].clone(), users["result"][0]["NAME"].clone()),
        (json!(1), json!("Ann"))
    );

    // Deactivated: the next call fails for the webhook and the token alike.
    let out = ok(d, &["user", "deactivate", ann]);
    assert!(out.contains("user 2 deactivated"), "{out}");
    let (status, body) = call(format!("{hook}crm.lead.list"), json!({})).await;
    assert_eq!(
        (status, body["error"].clone()),
        (401, json!("INVALID_CREDENTIALS"))
    );
    let (status, body) = with_token("crm.lead.list").await;
    assert_eq!(
        (status, body["error"].clone()),
        (401, json!("invalid_token"))
    );
    refused(
        d,
        &["app", "token", "--client-id", client_id, "--user", ann],
        "no active user with id 2",
    );
    let (_, users) = call(format!("{admin_hook}user.get"), json!({"ACTIVE": "N"})).await;
    assert_eq!(users["result"][0]["ID"], "2");
    ok(d, &["user", "activate", ann]);
    let (status, _) = call(format!("{hook}crm.lead.list"), json!({})).await;
    assert_eq!(status, 200);
    refused(d, &["user", "deactivate", "99"], "no user with id 99");
    assert_eq!(server.terminate().code(), Some(0));
}
