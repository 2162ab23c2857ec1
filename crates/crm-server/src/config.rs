//! Settings: one clap struct; every flag also reads an environment variable, and its doc
//! comment is the `--help` text.

use chrono::FixedOffset;
use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// A Bitrix24-compatible CRM REST server.
#[derive(Debug, Parser)]
#[command(name = "crm-server", version, about)]
pub struct Cli {
    /// Server settings.
    #[command(flatten)]
    pub config: Config,
    /// A maintenance command instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Maintenance commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage incoming webhooks.
    Webhook {
        /// What to do.
        #[command(subcommand)]
        action: WebhookCommand,
    },
    /// Write the whole database (users, webhooks, leads, contacts, bindings) to FILE as
    /// NDJSON, to back it up or to move it to another database.
    Export {
        /// The file to write.
        file: PathBuf,
    },
    /// Read a file written by `export` into an empty database (ids, dates, multi-fields,
    /// bindings and credentials are kept).
    Import {
        /// The file to read.
        file: PathBuf,
    },
    /// Manage users.
    User {
        /// What to do.
        #[command(subcommand)]
        action: UserCommand,
    },
    /// Manage departments (the company structure department levels of roles follow).
    Department {
        /// What to do.
        #[command(subcommand)]
        action: DepartmentCommand,
    },
    /// Manage CRM roles.
    Role {
        /// What to do.
        #[command(subcommand)]
        action: RoleCommand,
    },
    /// Manage local OAuth applications and issue their tokens.
    App {
        /// What to do.
        #[command(subcommand)]
        action: AppCommand,
    },
    /// Load test fixtures (entities with chosen ids).
    Fixtures {
        /// What to do.
        #[command(subcommand)]
        action: FixturesCommand,
    },
}

/// Fixtures.
#[derive(Debug, Subcommand)]
pub enum FixturesCommand {
    /// Load leads, contacts, deals and companies with chosen ids from a JSON document
    /// (`{"companies": […], "contacts": […], "leads": […], "deals": […]}`).
    Load {
        /// The JSON file.
        file: PathBuf,
    },
}

/// User management.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user and print its id.
    Add {
        /// First name.
        #[arg(long)]
        name: String,
        /// Last name.
        #[arg(long, default_value = "")]
        last_name: String,
        /// E-mail address.
        #[arg(long, default_value = "")]
        email: String,
        /// Make the user an administrator (passes every CRM permission check).
        #[arg(long)]
        admin: bool,
        /// Department id (repeatable; default: the root department 1).
        #[arg(long = "department")]
        departments: Vec<i64>,
    },
    /// List users.
    List,
    /// Deactivate a user: their webhooks and tokens stop working at once.
    Deactivate {
        /// User id.
        id: i64,
    },
    /// Activate a deactivated user again.
    Activate {
        /// User id.
        id: i64,
    },
}

/// Department management.
#[derive(Debug, Subcommand)]
pub enum DepartmentCommand {
    /// Add a department and print its id.
    Add {
        /// Its name.
        name: String,
        /// The parent department (default: the root department 1).
        #[arg(long, default_value_t = 1)]
        parent: i64,
        /// The head of the department (a user id).
        #[arg(long)]
        head: Option<i64>,
        /// Sort weight among siblings.
        #[arg(long, default_value_t = 500)]
        sort: i64,
    },
    /// List departments.
    List,
}

/// CRM role management.
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create a role. Rights not granted are `none`.
    Create {
        /// A unique name.
        name: String,
        /// A right as ENTITY.ACTION=LEVEL (`lead.read=own`); entities lead, contact;
        /// actions read, add, update, delete; levels none, own, department,
        /// subdepartment, open, all. Repeatable.
        #[arg(long = "grant")]
        grants: Vec<String>,
    },
    /// Assign a role to a user (a user's rights are the highest of their roles').
    Assign {
        /// The role's name.
        name: String,
        /// User id.
        #[arg(long)]
        user: i64,
    },
    /// List roles with their rights and users.
    List,
}

/// OAuth application management.
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register an application; prints `{"client_id":…,"client_secret":…}` (the secret is
    /// shown only here).
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Comma-separated scopes (crm,user,…); default: every scope.
        #[arg(long, value_delimiter = ',')]
        scope: Vec<String>,
        /// Where the consent page sends users back with a code.
        #[arg(long, default_value = "")]
        redirect_uri: String,
    },
    /// Issue a token pair for a user; prints what `/oauth/token/` answers.
    Token {
        /// The application's client id.
        #[arg(long)]
        client_id: String,
        /// The user the tokens act as.
        #[arg(long)]
        user: i64,
        /// Lifetime of the access token in seconds (default: --oauth-token-ttl).
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
        ttl: Option<i64>,
    },
    /// List applications (never secrets).
    List,
}

/// Webhook management.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Create a webhook and print its URL (the secret is shown only here).
    Create {
        /// The user the webhook acts as.
        #[arg(long, default_value_t = 1)]
        user: i64,
        /// Comma-separated scopes (crm,user); default: every scope.
        #[arg(long, value_delimiter = ',')]
        scope: Vec<String>,
    },
    /// List webhooks (ids, users, scopes, state; never secrets).
    List,
    /// Revoke a webhook by id.
    Revoke {
        /// Webhook id from `webhook list`.
        id: i64,
    },
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Server settings.
#[derive(Debug, Clone, Parser)]
pub struct Config {
    /// Address to listen on.
    #[arg(
        long,
        env = "CRM_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,
    /// Directory for the default SQLite database and generated TLS files.
    #[arg(long, env = "CRM_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// Database URL: `sqlite://<path>` (default `sqlite://<data-dir>/crm.sqlite3`) or
    /// `postgres://user:password@host:port/database`.
    #[arg(long, env = "CRM_DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<DatabaseUrl>,
    /// Most connections to PostgreSQL this process keeps open.
    #[arg(long, env = "CRM_DATABASE_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1000), global = true)]
    pub database_pool_size: u64,
    /// Log format.
    #[arg(
        long,
        env = "CRM_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// Log filter (tracing `EnvFilter` syntax, e.g. `info` or `crm_server=debug`).
    #[arg(long, env = "CRM_LOG", default_value = "info", global = true)]
    pub log: String,
    /// PEM certificate chain: serve HTTPS (needs --tls-key).
    #[arg(long, env = "CRM_TLS_CERT", requires = "tls_key", global = true)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "CRM_TLS_KEY", requires = "tls_cert", global = true)]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate for localhost/127.0.0.1 generated on first use and
    /// kept under `<data-dir>/tls/`.
    #[arg(
        long,
        env = "CRM_TLS_SELF_SIGNED",
        conflicts_with = "tls_cert",
        global = true
    )]
    pub tls_self_signed: bool,
    /// The server's time zone as a UTC offset (`+03:00`); dates are read and written in it.
    #[arg(long, env = "CRM_TZ_OFFSET", default_value = "+00:00", value_parser = parse_offset, global = true)]
    pub tz_offset: FixedOffset,
    /// Largest accepted request body, in bytes (a larger declared Content-Length is refused
    /// before the body is read).
    #[arg(long, env = "CRM_MAX_BODY_BYTES", default_value_t = 8 * 1024 * 1024, global = true)]
    pub max_body_bytes: usize,
    /// Seconds an HTTP/1 request's head may take to arrive, counted from when the
    /// connection is ready for it (so HTTP/1 keep-alive connections idle this long close).
    #[arg(long, env = "CRM_HEADER_TIMEOUT", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub header_timeout: u64,
    /// Seconds a whole request body may take to arrive (answered 408 past it).
    #[arg(long, env = "CRM_BODY_TIMEOUT", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub body_timeout: u64,
    /// Seconds a connection may go without a byte read or written (stalled bodies, TLS
    /// handshakes, idle HTTP/2) before it is closed.
    #[arg(long, env = "CRM_IDLE_TIMEOUT", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub idle_timeout: u64,
    /// The URL clients reach this server at (`https://crm.example.com`), used in printed
    /// webhook URLs and OAuth answers; default: the scheme, address and port listened on.
    #[arg(long, env = "CRM_PUBLIC_URL", value_parser = parse_public_url, global = true)]
    pub public_url: Option<String>,
    /// Lifetime of OAuth access tokens, in seconds.
    #[arg(long, env = "CRM_OAUTH_TOKEN_TTL", default_value_t = 3600, value_parser = clap::value_parser!(i64).range(1..), global = true)]
    pub oauth_token_ttl: i64,
    /// Most connections open at once; further ones are closed as soon as they arrive.
    #[arg(long, env = "CRM_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub max_connections: u64,
    /// Serve the test-double control endpoints under /_crm/ (virtual clock, request
    /// journal); off by default.
    #[arg(long, env = "CRM_CONTROL", global = true)]
    pub control: bool,
    /// The bearer token every control call must present (`Authorization: Bearer <T>`);
    /// required when --control listens beyond the loopback interface.
    #[arg(long, env = "CRM_CONTROL_TOKEN", global = true)]
    pub control_token: Option<String>,
    /// Emulate a portal's request limits: `off`, `standard` (a burst of 50, then 2 per
    /// second, per credential) or `enterprise` (250, then 5 per second); with either, the
    /// operating-time budget (480 s per method per 10 minutes) too.
    #[arg(long, env = "CRM_LIMITS", default_value = "off", value_parser = parse_limits, global = true)]
    pub limits: crate::rpc::limits::Mode,
    /// Calls the request journal keeps (with --control).
    #[arg(long, env = "CRM_JOURNAL_SIZE", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000), global = true)]
    pub journal_size: u64,
    /// The secret of the administrator's webhook created on first start, instead of a
    /// random one, so a test suite knows the URL in advance (8–64 of `A-Z a-z 0-9 _ -`).
    #[arg(long, env = "CRM_ADMIN_WEBHOOK_SECRET", value_parser = parse_secret, global = true)]
    pub admin_webhook_secret: Option<String>,
}

/// A limits mode.
fn parse_limits(s: &str) -> Result<crate::rpc::limits::Mode, String> {
    crate::rpc::limits::Mode::parse(s).ok_or_else(|| "one of off, standard, enterprise".into())
}

/// A webhook secret chosen by the operator: 8 to 64 URL-safe characters.
fn parse_secret(s: &str) -> Result<String, String> {
    let ok = (8..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(s.to_string())
    } else {
        Err("a webhook secret is 8 to 64 characters of A-Z, a-z, 0-9, _ and -".into())
    }
}

/// A database URL, which may hold a password: its `Debug` form hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(pub String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", crm_store::redact(&self.0))
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

impl Config {
    /// The effective database URL.
    pub fn database_url(&self) -> String {
        self.database_url.as_ref().map_or_else(
            || format!("sqlite://{}", self.data_dir.join("crm.sqlite3").display()),
            |u| u.0.clone(),
        )
    }

    /// The store's settings beyond its URL.
    pub fn store_options(&self) -> crm_store::Options {
        crm_store::Options {
            pool_size: usize::try_from(self.database_pool_size).unwrap_or(16),
        }
    }

    /// Refuses settings that cannot work together: control endpoints reachable beyond
    /// the loopback interface without a token.
    pub fn check(&self) -> Result<(), String> {
        if self.control && self.control_token.is_none() && !self.listen.ip().is_loopback() {
            return Err(format!(
                "--control on {} (not a loopback address) needs --control-token",
                self.listen
            ));
        }
        Ok(())
    }

    /// Whether the server speaks HTTPS.
    pub fn tls(&self) -> bool {
        self.tls_self_signed || self.tls_cert.is_some()
    }

    /// The base URL clients use: `--public-url`, else the listening address
    /// (`http://127.0.0.1:8080`).
    pub fn base_url(&self, addr: SocketAddr) -> String {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        let scheme = if self.tls() { "https" } else { "http" };
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        let host = if addr.is_ipv6() && !addr.ip().is_unspecified() {
            format!("[{host}]")
        } else {
            host
        };
        format!("{scheme}://{host}:{}", addr.port())
    }
}

fn parse_public_url(s: &str) -> Result<String, String> {
    let url = s.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("`{s}` is not an http:// or https:// URL"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        return Err(format!(
            "`{s}` must be a scheme, a host and an optional port, without a path"
        ));
    }
    Ok(url.to_string())
}

fn parse_offset(s: &str) -> Result<FixedOffset, String> {
    let bad = || format!("`{s}` is not a UTC offset like +03:00");
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("+03:00").unwrap().local_minus_utc(), 3 * 3600);
        assert_eq!(
            parse_offset("-05:30").unwrap().local_minus_utc(),
            -(5 * 3600 + 1800)
        );
        for bad in ["3", "+25:00", "+03:60", "+xx"] {
            assert_eq!(
                parse_offset(bad),
                Err(format!("`{bad}` is not a UTC offset like +03:00"))
            );
        }
    }

    #[test]
    fn public_urls_are_scheme_host_and_port() {
        assert_eq!(
            parse_public_url("https://crm.example.com:8443/").unwrap(),
            "https://crm.example.com:8443"
        );
        assert!(parse_public_url("crm.example.com").is_err());
        assert!(parse_public_url("https://crm.example.com/rest").is_err());
        let cli = Cli::parse_from(["crm-server", "--public-url", "http://h:1"]);
        let addr: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(cli.config.base_url(addr), "http://h:1");
        assert_eq!(
            Cli::parse_from(["crm-server"]).config.base_url(addr),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn database_passwords_stay_out_of_debug_output() {
        let cli = Cli::parse_from([
            "crm-server",
            "--database-url",
            "postgres://crm:hunter2@db:5432/crm",
        ]);
        assert_eq!(
            cli.config.database_url(),
            "postgres://crm:hunter2@db:5432/crm"
        );
        let shown = format!("{:?}", cli.config);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://crm:***@db:5432/crm"), "{shown}");
    }

    #[test]
    fn defaults_match_the_readme() {
        let cli = Cli::parse_from(["crm-server"]);
        assert_eq!(cli.config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(cli.config.database_url(), "sqlite://data/crm.sqlite3");
        assert_eq!(cli.config.database_pool_size, 16);
        assert_eq!(cli.config.oauth_token_ttl, 3600);
        assert_eq!(cli.config.max_body_bytes, 8 * 1024 * 1024);
        assert_eq!(
            (
                cli.config.header_timeout,
                cli.config.body_timeout,
                cli.config.idle_timeout,
                cli.config.max_connections
            ),
            (20, 60, 60, 4096)
        );
        assert!(cli.command.is_none());
    }
}
