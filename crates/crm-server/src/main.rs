//! `crm-server`: serve, or run a maintenance command. Everything else lives in the library.

use clap::Parser;
use crm_server::app::{Application, open_store, shutdown_signal};
use crm_server::cli;
use crm_server::config::{Cli, Command, Config};
use crm_server::telemetry;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.config.log_format, &cli.config.log);
    let outcome = match cli.command {
        None => serve(&cli.config).await,
        Some(Command::Webhook { action }) => cli::webhook(&cli.config, action).await,
        Some(Command::User { action }) => cli::user(&cli.config, action).await,
        Some(Command::Department { action }) => cli::department(&cli.config, action).await,
        Some(Command::Role { action }) => cli::role(&cli.config, action).await,
        Some(Command::App { action }) => cli::app(&cli.config, action).await,
        Some(Command::Fixtures { action }) => cli::fixtures(&cli.config, action).await,
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
    let app = Application::builder(config).build().await?;
    // The listener is bound by now. The "listening" line comes last: scripts and tests
    // read the start-up lines up to it, and take it as the sign the server is ready.
    if let Some(cert) = &app.self_signed_cert {
        println!("TLS certificate (trust it in clients): {}", cert.display());
    }
    if let Some(url) = &app.bootstrap_webhook {
        println!("Administrator webhook (shown once, keep it): {url}");
        if let Some(plain) = app.plain_url(url) {
            println!("The same webhook over plain HTTP (same port): {plain}");
        }
    }
    if let Some(plain) = app.plain_url(&app.base_url) {
        println!("Plain HTTP on the same port: {plain}");
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
    // Every entity type with lines, smart processes' items included (`dynamic_<id>_items`).
    let entities: Vec<String> = crm_core::entity::EntityType::ALL
        .iter()
        .map(|e| e.def().plural.to_string())
        .chain(counts.entities.keys().cloned())
        .fold(Vec::new(), |mut names, name| {
            if !names.contains(&name) {
                names.push(name);
            }
            names
        })
        .iter()
        .map(|plural| {
            format!(
                "{} {plural}",
                counts.entities.get(plural).copied().unwrap_or(0)
            )
        })
        .collect();
    println!(
        "{} {} departments, {} users, {} roles, {} apps, {} webhooks, {} smart processes, {} user fields, {}, {} multi-field values, {} bindings in {:.1} s",
        if out { "exported" } else { "imported" },
        counts.departments,
        counts.users,
        counts.roles,
        counts.apps,
        counts.webhooks,
        counts.types,
        counts.user_fields,
        entities.join(", "),
        counts.multi_values,
        counts.bindings,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
