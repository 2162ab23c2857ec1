//! `crm-server`: serve, or manage webhooks. Everything else lives in the library.

use anyhow::{Context, bail};
use clap::Parser;
use crm_core::identity::Scope;
use crm_server::app::{Application, open_store, shutdown_signal};
use crm_server::auth::{hash_secret, new_secret};
use crm_server::config::{Cli, Command, Config, WebhookCommand};
use crm_server::telemetry;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.config.log_format, &cli.config.log);
    let outcome = match cli.command {
        None => serve(&cli.config).await,
        Some(Command::Webhook { action }) => webhook(&cli.config, action).await,
        Some(Command::Export { file }) => transfer(&cli.config, &file, true).await,
        Some(Command::Import { file }) => transfer(&cli.config, &file, false).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    // The listener is bound by now. The "listening" line comes last: scripts and tests
    // read the start-up lines up to it, and take it as the sign the server is ready.
    if let Some(cert) = &app.self_signed_cert {
        println!("TLS certificate (trust it in clients): {}", cert.display());
    }
    if let Some(url) = &app.bootstrap_webhook {
        println!("Administrator webhook (shown once, keep it): {url}");
    }
    println!("crm-server listening on {}", app.base_url);
    app.run_until_stopped(shutdown_signal()).await
}

/// `export FILE` (`out`) or `import FILE`, with a count check at the end.
async fn transfer(config: &Config, file: &std::path::Path, out: bool) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let started = std::time::Instant::now();
    let result = if out {
        crm_server::transfer::export(store.as_ref(), file).await
    } else {
        crm_server::transfer::import(store.as_ref(), file).await
    };
    store.close().await;
    let counts = result?;
    println!(
        "{} {} users, {} webhooks, {} leads, {} contacts, {} multi-field values, {} bindings in {:.1} s",
        if out { "exported" } else { "imported" },
        counts.users,
        counts.webhooks,
        counts.leads,
        counts.contacts,
        counts.multi_values,
        counts.bindings,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn webhook(config: &Config, action: WebhookCommand) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let outcome = async {
        match action {
            WebhookCommand::Create { user, scope } => {
                let scopes: Vec<Scope> = if scope.is_empty() {
                    Scope::ALL.to_vec()
                } else {
                    scope
                        .iter()
                        .map(|s| Scope::parse(s).with_context(|| format!("unknown scope `{s}`")))
                        .collect::<anyhow::Result<_>>()?
                };
                let secret = new_secret()?;
                let now = chrono::Utc::now().timestamp();
                match store.create_webhook(user, hash_secret(&secret), scopes, now).await {
                    Ok(_) => println!("{}/rest/{user}/{secret}/", config.base_url(config.listen)),
                    Err(crm_core::store::StoreError::NotFound) => {
                        bail!("user {user} does not exist (start the server once to create the administrator)")
                    }
                    Err(e) => bail!("{e}"),
                }
            }
            WebhookCommand::List => {
                println!("{:>4}  {:>5}  {:<10}  {:<25}  STATE", "ID", "USER", "SCOPES", "CREATED");
                for w in store.webhooks().await? {
                    let scopes: Vec<&str> = w.scopes.iter().map(|s| s.code()).collect();
                    let created = chrono::DateTime::from_timestamp(w.created_at, 0).unwrap_or_default();
                    println!(
                        "{:>4}  {:>5}  {:<10}  {:<25}  {}",
                        w.id,
                        w.user_id,
                        scopes.join(","),
                        created.format("%Y-%m-%dT%H:%M:%S%:z"),
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
    }
    .await;
    store.close().await;
    outcome
}
