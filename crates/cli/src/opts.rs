//! Command-line options. Every flag can also be set by a `SEATKEEPER_…` environment variable.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "seatkeeper", version, about = "Self-hosted per-seat license management server", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// Directory of the embedded SQLite database (used unless --database-url is given).
    #[arg(
        long,
        global = true,
        env = "SEATKEEPER_DATA_DIR",
        default_value = "./seatkeeper-data"
    )]
    pub data_dir: PathBuf,
    /// PostgreSQL URL, e.g. postgres://seatkeeper:secret@db.internal/seatkeeper. Overrides --data-dir.
    #[arg(
        long,
        global = true,
        env = "SEATKEEPER_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    ///
    /// Example: seatkeeper serve --demo --listen 127.0.0.1:8080
    Serve(ServeArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Organizations (tenants).
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Bearer tokens for the APIs.
    #[command(subcommand)]
    Token(TokenCmd),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "SEATKEEPER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Load this catalog file (TOML, or JSON by extension) before serving.
    #[arg(long, env = "SEATKEEPER_CATALOG")]
    pub catalog: Option<PathBuf>,
    /// Create (or reuse) a demo organization with users, groups and subscriptions, and print how to sign in.
    #[arg(long, env = "SEATKEEPER_DEMO")]
    pub demo: bool,
    /// Let a Global admin set the clock with PUT /api/v1/dev/clock (for tests and demos).
    #[arg(long, env = "SEATKEEPER_DEV_CLOCK")]
    pub dev_clock: bool,
    /// Do not run the background jobs in this process (another process runs them).
    #[arg(long, env = "SEATKEEPER_NO_JOBS")]
    pub no_jobs: bool,
    #[command(flatten)]
    pub mail: MailArgs,
}

#[derive(Args, Debug, Clone)]
pub struct MailArgs {
    /// Sender address of e-mail.
    #[arg(
        long,
        env = "SEATKEEPER_MAIL_FROM",
        default_value = "seatkeeper@localhost"
    )]
    pub mail_from: String,
    /// Send e-mail by SMTP: smtp://[user:password@]host[:port][?security=none|starttls|tls].
    /// Without it, each e-mail is written as an .eml file under <data-dir>/mail.
    #[arg(long, env = "SEATKEEPER_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Directory for .eml files when no SMTP URL is given.
    #[arg(long, env = "SEATKEEPER_MAIL_DIR")]
    pub mail_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum TenantCmd {
    /// Create an organization and its first Global admin; prints a bearer token for them.
    ///
    /// Example: seatkeeper tenant create --name "Contoso" --admin admin@contoso.com --usage-location US --json
    Create {
        #[arg(long)]
        name: String,
        /// User principal name of the first Global admin.
        #[arg(long)]
        admin: String,
        /// Default usage location (ISO country code) for users who have none.
        #[arg(long)]
        usage_location: Option<String>,
        /// Billing currency (ISO 4217).
        #[arg(long, default_value = "USD")]
        currency: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List organizations.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Issue a bearer token for a user.
    ///
    /// Example: seatkeeper token create --tenant <tenant-id> --user admin@contoso.com --name "provisioning"
    Create {
        /// Tenant id or exact name.
        #[arg(long)]
        tenant: String,
        /// User id or user principal name.
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// Days until the token expires (default: never).
        #[arg(long)]
        expires_in_days: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// List a user's tokens (never the secrets).
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id.
    Revoke {
        #[arg(long)]
        tenant: String,
        id: String,
    },
}
