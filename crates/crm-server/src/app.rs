//! Start-up and shutdown: opening the store, bootstrapping the administrator, binding the
//! listener (port 0 works for tests), TLS, and graceful shutdown.

use crate::auth::{hash_secret, new_secret};
use crate::config::Config;
use crate::control::Control;
use crate::http::{AppState, router};
use crate::listener::{Limited, Sniffing};
use crate::methods;
use crate::rpc::Services;
use crate::rpc::access::RolePermissions;
use crate::rpc::faults::Faults;
use crate::rpc::journal::Journal;
use anyhow::Context;
use axum_server::Handle;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use crm_core::clock::{Clock, SystemClock, VirtualClock};
use crm_core::identity::{Portal, ROOT_DEPARTMENT, Scope, User};
use crm_core::store::Store;
use hyper_util::rt::TokioTimer;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A built, not yet running server.
#[derive(Debug)]
pub struct Application {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    state: AppState,
    connections: Limited,
    header_timeout: Duration,
    idle_timeout: Duration,
    tls: Option<RustlsConfig>,
    /// The administrator's webhook URL, when this start created it (printed once).
    pub bootstrap_webhook: Option<String>,
    /// The generated certificate, with `--tls-self-signed`.
    pub self_signed_cert: Option<PathBuf>,
    /// Base URL clients use.
    pub base_url: String,
}

/// Opens the configured store.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    crm_store::connect(&config.database_url(), config.store_options()).await
}

/// What a server is made of, assembled in one place: its configuration, its clock (the
/// system's unless replaced) and its store (the configured one unless given).
#[derive(Debug)]
pub struct Builder<'a> {
    config: &'a Config,
    clock: Arc<dyn Clock>,
    store: Option<Arc<dyn Store>>,
}

impl<'a> Builder<'a> {
    /// A builder for `config`, with the system clock and the configured store.
    pub fn new(config: &'a Config) -> Self {
        Self {
            config,
            clock: Arc::new(SystemClock),
            store: None,
        }
    }

    /// Replaces the clock (tests, and the virtual clock of a test double).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses an open store instead of opening the configured one.
    #[must_use]
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    async fn open(&mut self) -> anyhow::Result<Arc<dyn Store>> {
        match &self.store {
            Some(store) => Ok(Arc::clone(store)),
            None => {
                let store = open_store(self.config).await?;
                self.store = Some(Arc::clone(&store));
                Ok(store)
            }
        }
    }

    /// The controls of `--control`: a virtual clock over the builder's clock and a
    /// journal; none without it.
    fn control(&self) -> Option<Arc<Control>> {
        self.config.control.then(|| {
            Arc::new(Control {
                token: self.config.control_token.clone(),
                clock: Arc::new(VirtualClock::new(Arc::clone(&self.clock))),
                journal: Arc::new(Journal::new(
                    usize::try_from(self.config.journal_size).unwrap_or(1000),
                )),
                faults: Arc::new(Faults::default()),
                coverage: Arc::default(),
            })
        })
    }

    /// The shared services: store, clock, permissions, the method registry, the portal's
    /// identity (reached at `base_url`), and the journal of `control`.
    async fn services_at(
        &mut self,
        base_url: String,
        control: Option<&Arc<Control>>,
    ) -> anyhow::Result<Arc<Services>> {
        let store = self.open().await?;
        let portal = Portal {
            base_url,
            member_id: store
                .member_id()
                .await
                .map_err(|e| anyhow::anyhow!("reading the member id: {e}"))?,
        };
        Ok(Arc::new(Services {
            permissions: Arc::new(RolePermissions::new(Arc::clone(&store))),
            store,
            clock: match control {
                Some(c) => Arc::clone(&c.clock) as Arc<dyn Clock>,
                None => Arc::clone(&self.clock),
            },
            tz: self.config.tz_offset,
            registry: Arc::new(methods::registry()),
            portal,
            journal: control.map(|c| Arc::clone(&c.journal)),
            faults: control.map(|c| Arc::clone(&c.faults)),
            limits: Arc::new(crate::rpc::limits::Limits::new(self.config.limits)),
            coverage: control.map(|c| Arc::clone(&c.coverage)),
        }))
    }

    /// The shared services alone (tests that call methods without HTTP).
    pub async fn services(mut self) -> anyhow::Result<Arc<Services>> {
        let base_url = self.config.base_url(self.config.listen);
        let control = self.control();
        self.services_at(base_url, control.as_ref()).await
    }

    /// The application: the store opened (and migrated), the administrator bootstrapped
    /// on first start, the listener bound and TLS material loaded.
    pub async fn build(mut self) -> anyhow::Result<Application> {
        let config = self.config;
        config.check().map_err(|e| anyhow::anyhow!(e))?;
        let control = self.control();
        let clock: Arc<dyn Clock> = match &control {
            Some(c) => Arc::clone(&c.clock) as Arc<dyn Clock>,
            None => Arc::clone(&self.clock),
        };
        let store = self.open().await?;
        let listener = std::net::TcpListener::bind(config.listen)
            .with_context(|| format!("binding {}", config.listen))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        // The listener may have been given port 0: advertise the bound one.
        let base_url = config.base_url(addr);
        let bootstrap_webhook =
            bootstrap(store.as_ref(), config, clock.as_ref(), &base_url).await?;
        let (tls, self_signed_cert) = tls(config).await?;
        let services = self.services_at(base_url.clone(), control.as_ref()).await?;
        let state = AppState {
            services,
            control,
            max_body_bytes: config.max_body_bytes,
            body_timeout: Duration::from_secs(config.body_timeout),
            token_ttl: config.oauth_token_ttl,
        };
        Ok(Application {
            listener,
            addr,
            state,
            connections: Limited::new(
                usize::try_from(config.max_connections).unwrap_or(usize::MAX),
                Duration::from_secs(config.idle_timeout),
            ),
            header_timeout: Duration::from_secs(config.header_timeout),
            idle_timeout: Duration::from_secs(config.idle_timeout),
            tls,
            bootstrap_webhook,
            self_signed_cert,
            base_url,
        })
    }
}

/// Creates the administrator (user 1) and its webhook on a database's first start, with
/// the chosen secret or a random one; the webhook's URL when it was created now.
pub async fn bootstrap(
    store: &dyn Store,
    config: &Config,
    clock: &dyn Clock,
    base_url: &str,
) -> anyhow::Result<Option<String>> {
    let secret = match &config.admin_webhook_secret {
        Some(chosen) => chosen.clone(),
        None => new_secret()?,
    };
    let created = store
        .bootstrap(
            admin(clock.now().timestamp()),
            hash_secret(&secret),
            Scope::ALL.to_vec(),
            clock.now().timestamp(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("bootstrapping the administrator: {e}"))?;
    Ok(created.then(|| format!("{base_url}/rest/1/{secret}/")))
}

/// The TLS configuration, when TLS is on, and the generated certificate's path with
/// `--tls-self-signed`.
async fn tls(config: &Config) -> anyhow::Result<(Option<RustlsConfig>, Option<PathBuf>)> {
    if !config.tls() {
        return Ok((None, None));
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (cert, key, generated) = match (&config.tls_cert, &config.tls_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone(), None),
        _ => {
            let (c, k) = self_signed(config)?;
            (c.clone(), k, Some(c))
        }
    };
    let tls = RustlsConfig::from_pem_file(&cert, &key)
        .await
        .with_context(|| {
            format!(
                "loading TLS certificate {} and key {}",
                cert.display(),
                key.display()
            )
        })?;
    Ok((Some(tls), generated))
}

/// The bootstrap administrator.
fn admin(now: i64) -> User {
    User {
        id: 1,
        name: "Admin".into(),
        last_name: String::new(),
        email: String::new(),
        admin: true,
        active: true,
        departments: vec![ROOT_DEPARTMENT],
        registered_at: now,
    }
}

/// Loads or generates the self-signed certificate under `<data-dir>/tls/`.
fn self_signed(config: &Config) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = config.data_dir.join("tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if !(cert.exists() && key.exists()) {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let names = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        let generated =
            rcgen::generate_simple_self_signed(names).context("generating a certificate")?;
        std::fs::write(&cert, generated.cert.pem())?;
        std::fs::write(&key, generated.signing_key.serialize_pem())?;
    }
    Ok((cert, key))
}

impl Application {
    /// A builder of the application for `config`.
    pub fn builder(config: &Config) -> Builder<'_> {
        Builder::new(config)
    }

    /// With TLS on, `url` over plain HTTP (the listener answers both): `https://` becomes
    /// `http://`. `None` without TLS or for another scheme.
    pub fn plain_url(&self, url: &str) -> Option<String> {
        self.tls.as_ref()?;
        url.strip_prefix("https://")
            .map(|rest| format!("http://{rest}"))
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The shared services (tests use them to reach the store).
    pub fn services(&self) -> Arc<crate::rpc::Services> {
        Arc::clone(&self.state.services)
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish (up to 30 s)
    /// and closes the database.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let handle = Handle::new();
        let stopper = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            stopper.graceful_shutdown(Some(Duration::from_secs(30)));
        });
        let store = Arc::clone(&self.state.services.store);
        let app = router(self.state).into_make_service();
        let header_timeout = self.header_timeout;
        let configure = |builder: &mut hyper_util::server::conn::auto::Builder<_>| {
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
        };
        // The acceptor caps open connections, sets TCP_NODELAY (without it small answers
        // wait on delayed ACKs, ~40 ms each) and closes idle connections.
        let served = match self.tls {
            // HTTPS and plain HTTP on the same listener, told apart by the first byte.
            Some(tls) => {
                let tls = RustlsAcceptor::new(tls).acceptor(self.connections.clone());
                let sniffing = Sniffing::new(tls, self.connections.clone(), self.idle_timeout);
                let mut server = axum_server::from_tcp(self.listener)
                    .acceptor(sniffing)
                    .handle(handle);
                configure(server.http_builder());
                server.serve(app).await
            }
            None => {
                let mut server = axum_server::from_tcp(self.listener)
                    .acceptor(self.connections.clone())
                    .handle(handle);
                configure(server.http_builder());
                server.serve(app).await
            }
        };
        store.close().await;
        tracing::info!("database closed");
        served.context("serving HTTP")
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
