//! The maintenance commands (`webhook`, `user`, `department`, `role`, `app`): each opens
//! the configured store, does one thing, prints its result and closes the store. They may
//! run while servers use the same database.

use crate::auth::{hash_secret, new_secret};
use crate::config::{
    AppCommand, Config, DepartmentCommand, FixturesCommand, RoleCommand, UserCommand,
    WebhookCommand,
};
use crate::oauth::{fresh_tokens, new_app, token_response};
use anyhow::{Context, bail};
use crm_core::clock::{Clock, SystemClock};
use crm_core::identity::{Department, Grant, Portal, ROOT_DEPARTMENT, Scope, User, scopes_text};
use crm_core::store::{Store, StoreError};

/// Parses scope codes; none given: every scope.
fn scopes(codes: &[String]) -> anyhow::Result<Vec<Scope>> {
    if codes.is_empty() {
        return Ok(Scope::ALL.to_vec());
    }
    codes
        .iter()
        .map(|s| Scope::parse(s).with_context(|| format!("unknown scope `{s}`")))
        .collect()
}

fn now() -> i64 {
    SystemClock.now().timestamp()
}

fn date(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Runs `f` on the configured store and closes it whatever happened.
async fn with_store<F, Fut>(config: &Config, f: F) -> anyhow::Result<()>
where
    F: FnOnce(std::sync::Arc<dyn Store>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let store = crate::app::open_store(config).await?;
    let outcome = f(std::sync::Arc::clone(&store)).await;
    store.close().await;
    outcome
}

/// `webhook create|list|revoke`.
pub async fn webhook(config: &Config, action: WebhookCommand) -> anyhow::Result<()> {
    with_store(config, |store| async move {
        match action {
            WebhookCommand::Create { user, scope } => {
                let scopes = scopes(&scope)?;
                let secret = new_secret()?;
                match store
                    .create_webhook(user, hash_secret(&secret), scopes, now())
                    .await
                {
                    Ok(_) => println!("{}/rest/{user}/{secret}/", config.base_url(config.listen)),
                    Err(StoreError::NotFound) => bail!(
                        "user {user} does not exist (start the server once to create the administrator)"
                    ),
                    Err(e) => bail!("{e}"),
                }
            }
            WebhookCommand::List => {
                println!(
                    "{:>4}  {:>5}  {:<10}  {:<25}  STATE",
                    "ID", "USER", "SCOPES", "CREATED"
                );
                for w in store.webhooks().await? {
                    println!(
                        "{:>4}  {:>5}  {:<10}  {:<25}  {}",
                        w.id,
                        w.user_id,
                        scopes_text(&w.scopes),
                        date(w.created_at),
                        if w.revoked { "revoked" } else { "active" }
                    );
                }
            }
            WebhookCommand::Revoke { id } => {
                if store.revoke_webhook(id).await? {
                    println!("webhook {id} revoked");
                } else {
                    bail!("no active webhook with id {id}");
                }
            }
        }
        Ok(())
    })
    .await
}

/// `user add|list|deactivate|activate`.
pub async fn user(config: &Config, action: UserCommand) -> anyhow::Result<()> {
    with_store(config, |store| async move {
        match action {
            UserCommand::Add {
                name,
                last_name,
                email,
                admin,
                departments,
            } => {
                let departments = if departments.is_empty() {
                    vec![ROOT_DEPARTMENT]
                } else {
                    departments
                };
                let user = User {
                    id: 0,
                    name,
                    last_name,
                    email,
                    admin,
                    active: true,
                    departments: departments.clone(),
                    registered_at: now(),
                };
                match store.create_user(user).await {
                    Ok(id) => println!("{id}"),
                    Err(StoreError::NotFound) => {
                        bail!("one of the departments {departments:?} does not exist")
                    }
                    Err(e) => bail!("{e}"),
                }
            }
            UserCommand::List => {
                println!(
                    "{:>5}  {:<24}  {:<28}  {:<11}  {:<6}  STATE",
                    "ID", "NAME", "EMAIL", "DEPARTMENTS", "ADMIN"
                );
                for u in store.users().await? {
                    let departments: Vec<String> =
                        u.departments.iter().map(i64::to_string).collect();
                    println!(
                        "{:>5}  {:<24}  {:<28}  {:<11}  {:<6}  {}",
                        u.id,
                        format!("{} {}", u.name, u.last_name).trim(),
                        u.email,
                        departments.join(","),
                        if u.admin { "yes" } else { "no" },
                        if u.active { "active" } else { "inactive" }
                    );
                }
            }
            UserCommand::Deactivate { id } => {
                if !store.set_user_active(id, false).await? {
                    bail!("no user with id {id}");
                }
                println!("user {id} deactivated");
            }
            UserCommand::Activate { id } => {
                if !store.set_user_active(id, true).await? {
                    bail!("no user with id {id}");
                }
                println!("user {id} activated");
            }
        }
        Ok(())
    })
    .await
}

/// `department add|list`.
pub async fn department(config: &Config, action: DepartmentCommand) -> anyhow::Result<()> {
    with_store(config, |store| async move {
        match action {
            DepartmentCommand::Add {
                name,
                parent,
                head,
                sort,
            } => {
                let d = Department {
                    id: 0,
                    name,
                    sort,
                    parent: Some(parent),
                    head,
                };
                match store.create_department(d).await {
                    Ok(id) => println!("{id}"),
                    Err(StoreError::NotFound) => {
                        bail!("the parent department or the head user does not exist")
                    }
                    Err(e) => bail!("{e}"),
                }
            }
            DepartmentCommand::List => {
                println!(
                    "{:>5}  {:<30}  {:>6}  {:>5}  HEAD",
                    "ID", "NAME", "PARENT", "SORT"
                );
                for d in store.departments().await? {
                    println!(
                        "{:>5}  {:<30}  {:>6}  {:>5}  {}",
                        d.id,
                        d.name,
                        d.parent.map_or("-".into(), |p| p.to_string()),
                        d.sort,
                        d.head.map_or("-".into(), |h| h.to_string())
                    );
                }
            }
        }
        Ok(())
    })
    .await
}

/// `role create|assign|list`.
pub async fn role(config: &Config, action: RoleCommand) -> anyhow::Result<()> {
    with_store(config, |store| async move {
        match action {
            RoleCommand::Create { name, grants } => {
                let grants = grants
                    .iter()
                    .map(|g| Grant::parse(g).map_err(anyhow::Error::msg))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                match store.create_role(name.clone(), grants).await {
                    Ok(id) => println!("{id}"),
                    Err(StoreError::Rejected(why)) => bail!("{why}"),
                    Err(e) => bail!("{e}"),
                }
            }
            RoleCommand::Assign { name, user } => {
                match store.assign_role(name.clone(), user).await {
                    Ok(true) => println!("role {name} assigned to user {user}"),
                    Ok(false) => println!("user {user} already has role {name}"),
                    Err(StoreError::NotFound) => {
                        bail!("no role named `{name}` or no user with id {user}")
                    }
                    Err(e) => bail!("{e}"),
                }
            }
            RoleCommand::List => {
                for r in store.roles().await? {
                    let grants: Vec<String> = r
                        .grants
                        .iter()
                        .map(|g| format!("{}.{}={}", g.entity, g.action.code(), g.level))
                        .collect();
                    let users: Vec<String> = r.users.iter().map(i64::to_string).collect();
                    println!(
                        "{:>4}  {}  grants: {}  users: {}",
                        r.id,
                        r.name,
                        if grants.is_empty() {
                            "-".into()
                        } else {
                            grants.join(" ")
                        },
                        if users.is_empty() {
                            "-".into()
                        } else {
                            users.join(",")
                        }
                    );
                }
            }
        }
        Ok(())
    })
    .await
}

/// `app create|token|list`.
pub async fn app(config: &Config, action: AppCommand) -> anyhow::Result<()> {
    with_store(config, |store| async move {
        match action {
            AppCommand::Create {
                name,
                scope,
                redirect_uri,
            } => {
                let created = new_app(name, scopes(&scope)?, redirect_uri, now())?;
                store.create_app(created.app.clone()).await?;
                println!(
                    "{}",
                    serde_json::json!({
                        "client_id": created.app.client_id,
                        "client_secret": created.client_secret,
                    })
                );
            }
            AppCommand::Token {
                client_id,
                user,
                ttl,
            } => {
                let app = store
                    .app_by_client_id(client_id.clone())
                    .await?
                    .with_context(|| format!("no application with client id `{client_id}`"))?;
                let active = store.user(user).await?.is_some_and(|u| u.active);
                if !active {
                    bail!("no active user with id {user}");
                }
                let now = now();
                let fresh = fresh_tokens(now, ttl.unwrap_or(config.oauth_token_ttl))?;
                let grant = store
                    .issue_tokens(app.id, user, app.scopes.clone(), fresh.stored.clone(), now)
                    .await?;
                let portal = Portal {
                    base_url: config.base_url(config.listen),
                    member_id: store.member_id().await?,
                };
                println!("{}", token_response(&fresh, &grant, &portal, now));
            }
            AppCommand::List => {
                println!(
                    "{:>4}  {:<32}  {:<24}  {:<30}  REDIRECT URI",
                    "ID", "CLIENT ID", "NAME", "SCOPES"
                );
                for a in store.apps().await? {
                    println!(
                        "{:>4}  {:<32}  {:<24}  {:<30}  {}",
                        a.id,
                        a.client_id,
                        a.name,
                        scopes_text(&a.scopes),
                        a.redirect_uri
                    );
                }
            }
        }
        Ok(())
    })
    .await
}

/// `fixtures load FILE`: every record of the document, with a progress bar on a terminal.
pub async fn fixtures(config: &Config, action: FixturesCommand) -> anyhow::Result<()> {
    let FixturesCommand::Load { file } = action;
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let records = crate::fixtures::records(&doc).map_err(|e| anyhow::anyhow!(e))?;
    let services = crate::app::Builder::new(config).services().await?;
    // On a new database the administrator is made first, as the server's first start
    // would (its webhook printed once, or the one --admin-webhook-secret names).
    let base_url = config.base_url(config.listen);
    if let Some(url) = crate::app::bootstrap(
        services.store.as_ref(),
        config,
        services.clock.as_ref(),
        &base_url,
    )
    .await?
    {
        println!("Administrator webhook (shown once, keep it): {url}");
    }
    let ctx = crate::fixtures::admin_ctx(&services)
        .await
        .map_err(|e| anyhow::anyhow!(e.parts().2))?;
    let bar = indicatif::ProgressBar::new(records.len() as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("loading fixtures {bar:40} {pos}/{len} ({eta})")
    {
        bar.set_style(style);
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut counts: Vec<(&str, u64)> = Vec::new();
    let mut result = Ok(());
    for record in &records {
        let section = record.section();
        let n = counts
            .iter()
            .find(|(s, _)| *s == section)
            .map_or(0, |(_, c)| *c);
        if let Err(e) = crate::fixtures::load_one(&ctx, record).await {
            result = Err(anyhow::anyhow!("{section} (record {n}): {}", e.parts().2));
            break;
        }
        match counts.iter_mut().find(|(s, _)| *s == section) {
            Some((_, c)) => *c += 1,
            None => counts.push((section, 1)),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    services.store.close().await;
    result?;
    let loaded: Vec<String> = counts.iter().map(|(s, c)| format!("{c} {s}")).collect();
    println!("loaded {}", loaded.join(", "));
    Ok(())
}
