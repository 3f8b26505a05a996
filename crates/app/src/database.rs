//! Opening and closing the database, for the binary.

use crate::{App, Config};
use std::path::Path;

/// Hides the secrets in a database or SMTP URL, for logs and messages: the password of its
/// user information and the value of any `password` query parameter.
pub fn redact_url(url: &str) -> String {
    seatkeeper_store::redact_url(url)
}

/// Opens the database at `url` (`sqlite://…` or `postgres://…`), or the embedded SQLite
/// database in `data_dir` without one, runs pending migrations and closes it again.
pub async fn migrate(url: Option<&str>, data_dir: &Path) -> anyhow::Result<()> {
    let db = connect(url, data_dir).await?;
    db.close().await;
    Ok(())
}

async fn connect(url: Option<&str>, data_dir: &Path) -> anyhow::Result<seatkeeper_store::Db> {
    match url {
        Some(url) => seatkeeper_store::Db::connect(url).await,
        None => seatkeeper_store::Db::open_dir(data_dir).await,
    }
}

impl App {
    /// Opens the database as [`migrate`] does and builds the app on it (see [`App::new`]).
    pub async fn open(url: Option<&str>, data_dir: &Path, config: Config) -> anyhow::Result<App> {
        let db = connect(url, data_dir).await?;
        App::new(db, config).await
    }

    /// Closes the database's connections: call once, when the app is no longer used.
    pub async fn close(&self) {
        self.close_license_writer().await;
        self.db.close().await;
    }
}
