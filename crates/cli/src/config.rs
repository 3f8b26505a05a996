//! The server's settings, in layers: built-in defaults, then the configuration file
//! (`seatkeeper.toml` in the working directory, or `--config FILE`), then `SEATKEEPER_*`
//! environment variables, then flags. Secrets may also come from files (`*_FILE`).

use crate::opts::{Cli, Command, DbArgs, JobsCmd, MailArgs, ServeArgs};
use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use seatkeeper_app::database::redact_url;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The configuration file read when `--config` is not given, if it exists.
pub const DEFAULT_FILE: &str = "seatkeeper.toml";

/// Every setting. The file uses these names (`data_dir = "/var/lib/seatkeeper"`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub database_url_file: Option<PathBuf>,
    pub listen: String,
    pub catalog: Option<PathBuf>,
    pub demo: bool,
    pub dev_clock: bool,
    /// The address people reach the server at (`https://…` behind a TLS proxy).
    pub public_url: Option<String>,
    pub no_jobs: bool,
    /// Seconds.
    pub request_timeout: u64,
    pub max_concurrent_requests: usize,
    pub mail_from: String,
    pub smtp_url: Option<String>,
    pub smtp_url_file: Option<PathBuf>,
    pub mail_dir: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Settings {
        let limits = seatkeeper_web::Limits::default();
        Settings {
            data_dir: PathBuf::from("./seatkeeper-data"),
            database_url: None,
            database_url_file: None,
            listen: "127.0.0.1:8080".into(),
            catalog: None,
            demo: false,
            dev_clock: false,
            public_url: None,
            no_jobs: false,
            request_timeout: limits.request_timeout.as_secs(),
            max_concurrent_requests: limits.max_concurrent_requests,
            mail_from: "seatkeeper@localhost".into(),
            smtp_url: None,
            smtp_url_file: None,
            mail_dir: None,
        }
    }
}

/// Never prints a password.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("database_url_file", &self.database_url_file)
            .field("listen", &self.listen)
            .field("catalog", &self.catalog)
            .field("demo", &self.demo)
            .field("dev_clock", &self.dev_clock)
            .field("public_url", &self.public_url)
            .field("no_jobs", &self.no_jobs)
            .field("request_timeout", &self.request_timeout)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .field("mail_from", &self.mail_from)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("smtp_url_file", &self.smtp_url_file)
            .field("mail_dir", &self.mail_dir)
            .finish()
    }
}

/// What the command line and the environment set (clap reads both; a flag beats its variable).
fn given(db: &DbArgs, serve: Option<&ServeArgs>, mail: Option<&MailArgs>) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: serde_json::Value| {
        if !v.is_null() {
            m.insert(k.to_string(), v);
        }
    };
    put("data_dir", serde_json::json!(db.data_dir));
    put("database_url", serde_json::json!(db.database_url));
    put("database_url_file", serde_json::json!(db.database_url_file));
    if let Some(s) = serve {
        put("listen", serde_json::json!(s.listen));
        put("catalog", serde_json::json!(s.catalog));
        put("public_url", serde_json::json!(s.public_url));
        // A switch can only turn a setting on.
        for (k, on) in [
            ("demo", s.demo),
            ("dev_clock", s.dev_clock),
            ("no_jobs", s.no_jobs),
        ] {
            if on {
                put(k, serde_json::json!(true));
            }
        }
        put("request_timeout", serde_json::json!(s.request_timeout));
        put(
            "max_concurrent_requests",
            serde_json::json!(s.max_concurrent_requests),
        );
    }
    if let Some(mail) = mail {
        put("mail_from", serde_json::json!(mail.mail_from));
        put("smtp_url", serde_json::json!(mail.smtp_url));
        put("smtp_url_file", serde_json::json!(mail.smtp_url_file));
        put("mail_dir", serde_json::json!(mail.mail_dir));
    }
    serde_json::Value::Object(m)
}

/// Reads a secret from a file: its content without the trailing newline.
fn read_secret(path: &Path, what: &str) -> anyhow::Result<String> {
    let s = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} from {}", path.display()))?;
    let s = s.trim_end_matches(['\n', '\r']).to_string();
    if s.trim().is_empty() {
        bail!("{} is empty: it should hold the {what}", path.display());
    }
    Ok(s)
}

/// Resolves the settings of `cli` from its layers.
pub fn load(cli: &Cli) -> anyhow::Result<Settings> {
    let (serve, mail) = match &cli.command {
        Command::Serve(s) => (Some(s), Some(&s.mail)),
        Command::Jobs(JobsCmd::Run { mail, .. }) => (None, Some(mail)),
        _ => (None, None),
    };
    let mut figment = Figment::from(Serialized::defaults(Settings::default()));
    match &cli.db.config {
        Some(path) => {
            if !path.is_file() {
                bail!(
                    "configuration file {} does not exist (given by --config or SEATKEEPER_CONFIG)",
                    path.display()
                );
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        None if Path::new(DEFAULT_FILE).is_file() => {
            figment = figment.merge(Toml::file_exact(DEFAULT_FILE))
        }
        None => {}
    }
    let file = cli
        .db
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_FILE));
    figment = figment.merge(Serialized::defaults(given(&cli.db, serve, mail)));
    let mut s: Settings = figment.extract().map_err(|e| {
        let problems: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
        anyhow::anyhow!(
            "configuration file {} is not valid: {}",
            file.display(),
            problems.join("; ")
        )
    })?;
    if let Some(path) = s.database_url_file.clone() {
        if s.database_url.is_some() {
            bail!(
                "both a database URL and a database URL file ({}) are set: use one",
                path.display()
            );
        }
        s.database_url = Some(read_secret(&path, "database URL")?);
    }
    if let Some(path) = s.smtp_url_file.clone() {
        if s.smtp_url.is_some() {
            bail!(
                "both an SMTP URL and an SMTP URL file ({}) are set: use one",
                path.display()
            );
        }
        s.smtp_url = Some(read_secret(&path, "SMTP URL")?);
    }
    if s.request_timeout == 0 {
        bail!("request_timeout must be at least 1 second");
    }
    if s.max_concurrent_requests == 0 {
        bail!("max_concurrent_requests must be at least 1");
    }
    Ok(s)
}
