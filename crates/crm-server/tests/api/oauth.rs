//! OAuth applications over HTTP, on a clock the test moves: the consent page's code,
//! the token endpoint's grants and errors, tokens in every place clients put them,
//! expiry, single-use refresh tokens and codes, deactivated users, and a database that
//! holds no plain secret.

use crate::helpers::{TestApp, TestClock, assert_error, read};
use crate::permissions::user_with_hook;
use chrono::{DateTime, Duration, Utc};
use crm_core::identity::{ROOT_DEPARTMENT, Scope, User};
use crm_server::oauth::{NewApp, new_app};
use serde_json::{Value, json};
use std::sync::Arc;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

struct OAuthApp {
    app: TestApp,
    clock: Arc<TestClock>,
    registered: NewApp,
    /// A client that does not follow redirects.
    raw: reqwest::Client,
}

async fn start(scopes: Vec<Scope>) -> OAuthApp {
    let clock = Arc::new(TestClock::at(t0()));
    let app = TestApp::spawn_with_clock(&["--oauth-token-ttl", "600"], clock.clone()).await;
    let registered = new_app(
        "Test App".into(),
        scopes,
        "https://app.example.org/callback?from=crm".into(),
        0,
    )
    .unwrap();
    app.services
        .store
        .create_app(registered.app.clone())
        .await
        .unwrap();
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    OAuthApp {
        app,
        clock,
        registered,
        raw,
    }
}

impl OAuthApp {
    fn client_id(&self) -> &str {
        &self.registered.app.client_id
    }

    /// Approves the application for `user` on the consent page; the redirect's query.
    async fn approve(&self, user: i64, state: &str) -> Vec<(String, String)> {
        let res = self
            .raw
            .post(format!("{}/oauth/authorize/", self.app.base))
            .form(&[
                ("client_id", self.client_id()),
                ("state", state),
                ("user_id", &user.to_string()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302);
        let location = res.headers()["location"].to_str().unwrap().to_string();
        let (target, query) = location.split_once("?from=crm&").unwrap();
        assert_eq!(target, "https://app.example.org/callback");
        url_pairs(query)
    }

    /// GET `/oauth/token/` with a query string (as the PHP SDK and b24pysdk send it).
    async fn token_get(&self, params: &[(&str, &str)]) -> (u16, Value) {
        let res = self
            .raw
            .get(format!("{}//oauth/token/", self.app.base))
            .query(params)
            .send()
            .await
            .unwrap();
        read(res).await
    }

    /// POST `/oauth/token/` with a form body (as the JS SDK sends it).
    async fn token_post(&self, params: &[(&str, &str)]) -> (u16, Value) {
        let res = self
            .raw
            .post(format!("{}/oauth/token/", self.app.base))
            .form(params)
            .send()
            .await
            .unwrap();
        read(res).await
    }

    async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        self.token_post(&[
            ("grant_type", "refresh_token"),
            ("client_id", self.client_id()),
            ("client_secret", &self.registered.client_secret),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// Calls `/rest/{method}` with the token as `auth` in a JSON body.
    async fn rest(&self, method: &str, token: &Value, mut params: Value) -> (u16, Value) {
        params["auth"] = token.clone();
        let res = self
            .app
            .client
            .post(format!("{}/rest/{method}", self.app.base))
            .json(&params)
            .send()
            .await
            .unwrap();
        read(res).await
    }

    fn at(&self, seconds: i64) {
        self.clock.set(t0() + Duration::seconds(seconds));
    }
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            (k.to_string(), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    &pairs.iter().find(|(k, _)| k == key).unwrap().1
}

#[tokio::test]
async fn codes_tokens_refreshes_and_expiry() {
    let o = start(vec![Scope::Crm, Scope::User]).await;
    let member_id = o.app.services.store.member_id().await.unwrap();
    let redirect = o.approve(1, "st&te").await;
    let keys: Vec<&str> = redirect.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "code",
            "state",
            "domain",
            "member_id",
            "scope",
            "server_domain"
        ]
    );
    assert_eq!(get(&redirect, "state"), "st&te");
    assert_eq!(get(&redirect, "member_id"), member_id);
    assert_eq!(get(&redirect, "scope"), "crm,user");
    let domain = o.app.base.trim_start_matches("http://");
    assert_eq!(get(&redirect, "domain"), domain);
    let code = get(&redirect, "code").to_string();

    // The code, exchanged once, by GET with a query string (and a doubled slash).
    let exchange = [
        ("grant_type", "authorization_code"),
        ("client_id", o.client_id()),
        ("client_secret", o.registered.client_secret.as_str()),
        ("code", code.as_str()),
    ];
    let (status, first) = o.token_get(&exchange).await;
    assert_eq!(status, 200, "{first}");
    let expires = t0().timestamp() + 600;
    assert_eq!(
        (
            first["expires"].clone(),
            first["expires_in"].clone(),
            first["scope"].clone(),
            first["domain"].clone(),
            first["status"].clone(),
            first["member_id"].clone(),
            first["user_id"].clone(),
        ),
        (
            json!(expires),
            json!(600),
            json!("crm,user"),
            json!(domain),
            json!("L"),
            json!(member_id),
            json!(1)
        )
    );
    assert_eq!(
        first["client_endpoint"],
        json!(format!("{}/rest/", o.app.base))
    );
    assert_eq!(first["server_endpoint"], first["client_endpoint"]);
    let cached = o
        .raw
        .get(format!("{}/oauth/token/", o.app.base))
        .query(&[("grant_type", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(cached.headers()["cache-control"], "no-store");
    let again = o.token_get(&exchange).await;
    assert_error(
        &again,
        400,
        "invalid_grant",
        "The authorization code is invalid, expired or used",
    );
    let access = first["access_token"].clone();

    // Every way a client hands over the token.
    let (status, body) = o
        .rest(
            "crm.lead.add",
            &access,
            json!({"fields": {"TITLE": "by token"}}),
        )
        .await;
    assert_eq!((status, body["result"].clone()), (200, json!(1)), "{body}");
    let as_query = o
        .app
        .get(&format!(
            "{}/rest/crm.lead.get.json?id=1&access_token={}",
            o.app.base,
            access.as_str().unwrap()
        ))
        .await;
    assert_eq!(as_query.1["result"]["TITLE"], "by token");
    let bearer = o
        .app
        .client
        .get(format!("{}/rest/user.current", o.app.base))
        .bearer_auth(access.as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(read(bearer).await.1["result"]["ID"], "1");
    let form = o
        .app
        .client
        .post(format!("{}/rest/crm.lead.get", o.app.base))
        .form(&[("id", "1"), ("auth", access.as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(read(form).await.1["result"]["ID"], "1");
    let (_, info) = o.rest("app.info", &access, json!({})).await;
    assert_eq!(info["result"]["CODE"], json!(o.client_id()));
    assert_eq!(info["result"]["client_id"], json!(o.client_id()));
    assert_eq!(info["result"]["STATUS"], "L");
    assert_eq!(info["result"]["user_id"], 1);
    assert_eq!(info["result"]["install"]["member_id"], json!(member_id));
    assert_eq!(info["result"]["expires"], "2026-03-01T10:10:00+00:00");
    assert_error(
        &o.rest("crm.lead.get", &json!("not-a-token"), json!({"id": 1}))
            .await,
        401,
        "invalid_token",
        "The access token provided is invalid",
    );

    // A refresh gives a new pair; the refresh token is used up; the previous access
    // token lasts until its own expiry.
    o.at(100);
    let (status, second) = o.refresh(first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["expires"], json!(t0().timestamp() + 700));
    assert_ne!(second["access_token"], access);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_error(
        &o.refresh(first["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
        "The refresh token is invalid, expired or used",
    );
    assert_eq!(o.rest("profile", &access, json!({})).await.0, 200);

    // Past its lifetime a token is refused with the code clients refresh on.
    o.at(601);
    assert_error(
        &o.rest("profile", &access, json!({})).await,
        401,
        "expired_token",
        "The access token provided has expired",
    );
    let newer = second["access_token"].clone();
    assert_eq!(o.rest("profile", &newer, json!({})).await.0, 200);
    o.at(700);
    assert_eq!(
        o.rest("profile", &newer, json!({})).await.1["error"],
        "expired_token"
    );
    let (status, third) = o.refresh(second["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{third}");
    assert_eq!(
        o.rest("profile", &third["access_token"], json!({})).await.0,
        200
    );

    // The endpoint's own errors.
    let wrong_secret = o
        .token_post(&[
            ("grant_type", "refresh_token"),
            ("client_id", o.client_id()),
            ("client_secret", "nope"),
            ("refresh_token", third["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_error(
        &wrong_secret,
        401,
        "invalid_client",
        "Invalid client credentials",
    );
    assert_error(
        &o.token_post(&[("client_id", o.client_id())]).await,
        400,
        "invalid_request",
        "No \"grant_type\" parameter found",
    );
    assert_error(
        &o.token_post(&[("grant_type", "password")]).await,
        400,
        "unsupported_grant_type",
        "grant_type must be refresh_token or authorization_code",
    );
    assert_error(
        &o.token_post(&[
            ("grant_type", "refresh_token"),
            ("client_id", o.client_id()),
            ("client_secret", &o.registered.client_secret),
        ])
        .await,
        400,
        "invalid_request",
        "No \"refresh_token\" parameter found",
    );
    // The refresh token refused with a wrong secret is still good.
    assert_eq!(
        o.refresh(third["refresh_token"].as_str().unwrap()).await.0,
        200
    );

    // An expired code is refused.
    let late = o.approve(1, "").await;
    o.at(700 + 31);
    let (status, body) = o
        .token_get(&[
            ("grant_type", "authorization_code"),
            ("client_id", o.client_id()),
            ("client_secret", &o.registered.client_secret),
            ("code", get(&late, "code")),
        ])
        .await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_grant"))
    );
}

#[tokio::test]
async fn scopes_and_the_consent_page() {
    let o = start(vec![Scope::Crm]).await;
    let user = User {
        id: 0,
        name: "Ann <b>".into(),
        last_name: "Lee".into(),
        email: String::new(),
        admin: false,
        active: true,
        departments: vec![ROOT_DEPARTMENT],
        registered_at: 0,
    };
    let ann = o.app.services.store.create_user(user).await.unwrap();
    let page = o
        .raw
        .get(format!(
            "{}/oauth/authorize/?client_id={}&state=s1&response_type=code",
            o.app.base,
            o.client_id()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<strong id=\"app\">Test App</strong>"),
        "{html}"
    );
    assert!(
        html.contains(&format!("<option value=\"{ann}\">Ann &lt;b&gt; Lee")),
        "{html}"
    );
    assert!(html.contains("name=\"state\" value=\"s1\""), "{html}");
    for (query, why) in [
        (
            "client_id=local.nope.1",
            "No application has this client_id.",
        ),
        (
            &format!(
                "client_id={}&redirect_uri=https://evil.example/",
                o.client_id()
            ),
            "The redirect_uri is not the one registered for the application.",
        ),
    ] {
        let res = o
            .raw
            .get(format!("{}/oauth/authorize/?{query}", o.app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        assert!(res.text().await.unwrap().contains(why), "{query}");
    }

    // Ann's token: her rights, the application's scopes.
    let code = get(&o.approve(ann, "s1").await, "code").to_string();
    let (_, tokens) = o
        .token_post(&[
            ("grant_type", "authorization_code"),
            ("client_id", o.client_id()),
            ("client_secret", &o.registered.client_secret),
            ("code", &code),
        ])
        .await;
    assert_eq!(tokens["user_id"], json!(ann));
    assert_eq!(tokens["scope"], "crm");
    let token = tokens["access_token"].clone();
    assert_error(
        &o.rest("user.current", &token, json!({})).await,
        401,
        "insufficient_scope",
        "The request requires higher privileges than provided by the access token",
    );
    assert_error(
        &o.rest("crm.lead.list", &token, json!({})).await,
        400,
        "",
        "Access denied.",
    );
    let (_, scope) = o.rest("scope", &token, json!({})).await;
    assert_eq!(scope["result"], json!(["crm"]));
    // Inactive users are not offered, and a code cannot be made for them.
    o.app
        .services
        .store
        .set_user_active(ann, false)
        .await
        .unwrap();
    let html = o
        .raw
        .get(format!(
            "{}/oauth/authorize/?client_id={}",
            o.app.base,
            o.client_id()
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains(&format!("value=\"{ann}\"")), "{html}");
    let refused = o
        .raw
        .post(format!("{}/oauth/authorize/", o.app.base))
        .form(&[("client_id", o.client_id()), ("user_id", &ann.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn deactivated_users_lose_webhooks_and_tokens_at_once() {
    let o = start(vec![Scope::Crm]).await;
    let user = User {
        id: 0,
        name: "Bob".into(),
        last_name: String::new(),
        email: String::new(),
        admin: true,
        active: true,
        departments: vec![ROOT_DEPARTMENT],
        registered_at: 0,
    };
    let (bob, hook) = user_with_hook(&o.app, user).await;
    let code = get(&o.approve(bob, "").await, "code").to_string();
    let (_, tokens) = o
        .token_post(&[
            ("grant_type", "authorization_code"),
            ("client_id", o.client_id()),
            ("client_secret", &o.registered.client_secret),
            ("code", &code),
        ])
        .await;
    let token = tokens["access_token"].clone();
    let by_hook = || async {
        let res = o
            .app
            .client
            .post(format!("{hook}crm.lead.list"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        read(res).await
    };
    assert_eq!(by_hook().await.0, 200);
    assert_eq!(o.rest("crm.lead.list", &token, json!({})).await.0, 200);

    let store = &o.app.services.store;
    store.set_user_active(bob, false).await.unwrap();
    assert_error(
        &by_hook().await,
        401,
        "INVALID_CREDENTIALS",
        "Invalid request credentials",
    );
    assert_error(
        &o.rest("crm.lead.list", &token, json!({})).await,
        401,
        "invalid_token",
        "The access token provided is invalid",
    );
    assert_eq!(
        o.refresh(tokens["refresh_token"].as_str().unwrap()).await.1["error"],
        "invalid_grant"
    );
    // Back again: the webhook works; the used refresh token stays used.
    store.set_user_active(bob, true).await.unwrap();
    assert_eq!(by_hook().await.0, 200);
    assert_eq!(o.rest("crm.lead.list", &token, json!({})).await.0, 200);
}

/// Every secret the server ever handed out, searched for in what the database stores.
#[tokio::test]
async fn the_database_holds_no_plain_secret() {
    let o = start(vec![Scope::Crm, Scope::User]).await;
    let mut secrets = vec![
        o.registered.client_secret.clone(),
        o.app.hook.split('/').rev().nth(1).unwrap().to_string(),
    ];
    let user = User {
        id: 0,
        name: "Cid".into(),
        last_name: String::new(),
        email: String::new(),
        admin: false,
        active: true,
        departments: vec![ROOT_DEPARTMENT],
        registered_at: 0,
    };
    let (_, hook) = user_with_hook(&o.app, user).await;
    secrets.push(hook.split('/').rev().nth(1).unwrap().to_string());
    let code = get(&o.approve(1, "").await, "code").to_string();
    secrets.push(code.clone());
    let (_, first) = o
        .token_get(&[
            ("grant_type", "authorization_code"),
            ("client_id", o.client_id()),
            ("client_secret", &o.registered.client_secret),
            ("code", &code),
        ])
        .await;
    let (_, second) = o.refresh(first["refresh_token"].as_str().unwrap()).await;
    let unused = get(&o.approve(1, "").await, "code").to_string();
    secrets.push(unused);
    for t in [&first, &second] {
        for key in ["access_token", "refresh_token"] {
            secrets.push(t[key].as_str().unwrap().to_string());
        }
    }
    assert!(secrets.iter().all(|s| s.len() >= 32), "{secrets:?}");

    let stored: Vec<u8> = match o.app.database_url().map(str::to_string) {
        Some(url) => {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            let tables = client
                .query(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
                    &[],
                )
                .await
                .unwrap();
            let mut all = Vec::new();
            for t in tables {
                let name: String = t.get(0);
                let rows = client
                    .query(&format!("SELECT t::text FROM {name} t"), &[])
                    .await
                    .unwrap();
                for r in rows {
                    all.extend(r.get::<_, String>(0).into_bytes());
                }
            }
            assert!(
                all.len() > 500,
                "every table was read: {}",
                String::from_utf8_lossy(&all)
            );
            all
        }
        None => {
            let path = o.app.db_path();
            let dir = o.app.stop().await;
            let mut all = std::fs::read(&path).unwrap();
            if let Ok(wal) = std::fs::read(path.with_extension("sqlite3-wal")) {
                all.extend(wal);
            }
            drop(dir);
            all
        }
    };
    let text = String::from_utf8_lossy(&stored);
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "a plain secret is stored: {s}");
    }
    // What is kept is kept as a hash (used codes are deleted, so they are not here).
    for s in secrets.iter().filter(|s| *s != &code) {
        assert!(
            text.contains(&crm_server::auth::hash_secret(s)),
            "its hash is stored instead: {s}"
        );
    }
}
