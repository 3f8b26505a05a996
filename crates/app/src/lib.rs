//! Seatkeeper's use cases. Every operation the web layer, the CLI and the jobs perform goes
//! through [`App`]: permission check, domain rules, persistence, audit and outbox, in one
//! transaction.

pub mod active_users;
#[cfg(target_os = "linux")]
mod affinity;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod catalog;
pub mod clock;
pub mod commit;
pub mod database;
pub mod directory;
pub mod error;
pub mod export;
pub mod group_licensing;
pub mod home;
pub mod import;
pub mod jobs;
pub mod licenses;
pub mod mail;
pub mod operator;
pub mod partners;
pub mod passwords;
pub mod payments;
pub mod policies;
pub mod requests;
pub mod selfservice;
pub mod sessions;
pub mod subscriptions;
pub mod tenants;
pub mod views;

pub use error::{AppError, AppResult};

pub use seatkeeper_domain as domain;

use seatkeeper_domain::catalog::Catalog;
use seatkeeper_domain::roles::{Action, Role, permits_as};
use seatkeeper_domain::{TenantId, UserId};
use seatkeeper_store::{Db, Tx};
use std::sync::{Arc, RwLock};

/// Who is acting: a signed-in user (by bearer token) or the operator's CLI, in one tenant.
#[derive(Debug, Clone)]
pub struct Actor {
    pub tenant_id: TenantId,
    pub user_id: Option<UserId>,
    /// How the audit log names the actor.
    pub name: String,
    pub roles: Vec<Role>,
    /// Set when a partner (a user of another organization) acts for this one with the roles
    /// delegated to them here; `user_id` is then `None`.
    pub partner: Option<PartnerActor>,
}

/// Who a partner acting for a customer organization is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerActor {
    /// The partner's user in their own organization.
    pub user_id: UserId,
    pub upn: String,
    /// Their own organization.
    pub tenant_id: TenantId,
    pub tenant_name: String,
}

impl Actor {
    /// The operator at the command line: acts as a Global admin of `tenant`.
    pub fn operator(tenant_id: TenantId) -> Actor {
        Actor {
            tenant_id,
            user_id: None,
            name: "operator (cli)".into(),
            roles: vec![Role::GlobalAdmin],
            partner: None,
        }
    }

    /// The background jobs.
    pub fn system(tenant_id: TenantId) -> Actor {
        Actor {
            tenant_id,
            user_id: None,
            name: "system".into(),
            roles: vec![Role::GlobalAdmin],
            partner: None,
        }
    }

    /// Whether the actor may do `action`: their roles decide, and a partner needs the Global
    /// admin role for anything about license requests (see [`permits_as`]).
    pub fn can(&self, action: Action) -> bool {
        permits_as(&self.roles, self.partner.is_some(), action)
    }

    pub fn require(&self, action: Action) -> AppResult<()> {
        if self.can(action) {
            Ok(())
        } else if self.partner.is_some() && action.is_license_requests() {
            Err(AppError::Forbidden(
                "Partners need the Global admin role in this organization to manage license requests.".into(),
            ))
        } else {
            Err(AppError::Forbidden(forbidden_message(action)))
        }
    }
}

fn forbidden_message(action: Action) -> String {
    let need = match action {
        Action::Read => "an admin role (Global reader or higher)",
        Action::AssignLicenses => "the Global, License or User admin role",
        Action::ManageSubscriptions => "the Global or Billing admin role",
        Action::ManageDirectory => "the Global or User admin role",
        Action::SetUsageLocation => "the Global, License or User admin role",
        Action::LicenseGuests => "the Global admin role",
        Action::ManageTenant => "the Global admin role",
        Action::ReadBilling => "the Global admin, Billing admin or Global reader role",
        Action::ManageBilling => "the Global or Billing admin role",
        Action::ManageRequests => "the Global, License or User admin role",
        Action::ReadRequests => "an admin role (Global reader or higher)",
    };
    format!("Insufficient privileges to complete the operation. This needs {need}.")
}

/// Settings the app needs from the server's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub mail: mail::MailConfig,
    /// Whether the development clock may be moved (`--dev-clock`).
    pub dev_clock: bool,
    /// The address people reach the server at (`--public-url`, e.g.
    /// `https://licenses.example.com`), when it is not what the server sees: behind a proxy that
    /// ends TLS, an `https` address marks the session cookie `Secure`.
    pub public_url: Option<String>,
}

impl Config {
    /// Whether the public address is `https` (see [`Config::public_url`]).
    pub fn public_url_is_https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.len() > 8 && u[..8].eq_ignore_ascii_case("https://"))
    }

    /// The server's address for links in e-mail: the public URL when set, else `http://` and
    /// the Host the request was sent to.
    pub fn link_base(&self, host: Option<&str>) -> String {
        if let Some(u) = &self.public_url {
            return u.trim_end_matches('/').to_string();
        }
        format!("http://{}", host.unwrap_or("localhost"))
    }
}

pub struct Inner {
    pub db: Db,
    pub clock: clock::Clock,
    pub config: Config,
    catalog: RwLock<(i64, Arc<Catalog>)>,
    /// Central pool ids by tenant and product (a pool, once created, keeps its id).
    pool_ids: RwLock<
        std::collections::HashMap<(TenantId, seatkeeper_domain::SkuId), seatkeeper_domain::PoolId>,
    >,
    /// The payment provider cards are tokenized, verified and charged with (BILL2).
    pub payments: Arc<dyn payments::PaymentProvider>,
    /// Woken when this server queues a license job (L6), so its runner starts at once.
    pub license_jobs_wake: tokio::sync::Notify,
    /// This server's license writer (group commit, see [`commit`]).
    license_writer: commit::Writer,
}

/// The application: cheap to clone, shared by every request and job.
#[derive(Clone)]
pub struct App(pub Arc<Inner>);

impl std::ops::Deref for App {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl App {
    /// Builds the app on an open database. The catalog in the database is loaded; without one,
    /// the demo catalog is stored first.
    pub async fn new(db: Db, config: Config) -> anyhow::Result<App> {
        App::with_payment_provider(db, config, Arc::new(payments::TestProvider)).await
    }

    /// [`App::new`] with another payment provider than the built-in test provider.
    pub async fn with_payment_provider(
        db: Db,
        config: Config,
        payments: Arc<dyn payments::PaymentProvider>,
    ) -> anyhow::Result<App> {
        let clock = clock::Clock::new(config.dev_clock);
        let app = App(Arc::new_cyclic(|me| Inner {
            db,
            clock,
            config,
            catalog: RwLock::new((0, Arc::new(Catalog::default()))),
            pool_ids: RwLock::new(Default::default()),
            license_jobs_wake: tokio::sync::Notify::new(),
            payments,
            license_writer: commit::start(me.clone()),
        }));
        app.ensure_catalog().await?;
        Ok(app)
    }

    pub fn now(&self) -> seatkeeper_domain::Time {
        self.clock.now()
    }

    /// The catalog in force.
    pub fn catalog(&self) -> Arc<Catalog> {
        match self.catalog.read() {
            Ok(g) => g.1.clone(),
            Err(p) => p.into_inner().1.clone(),
        }
    }

    /// Runs `f` in a write transaction and commits what it did, running it again only on
    /// contention (see [`App::finish_tx`]); evaluates to the body's result. `?` or
    /// `return Err(…)` in the body rolls back.
    ///
    /// `f`'s future may borrow the transaction and anything that outlives this call (`'a`): to
    /// use the caller's locals, borrow them before the closure (`let changes = &changes;`) and
    /// move the references in, as `f` may run more than once.
    ///
    /// ```ignore
    /// let n = app.transact(move |tx| Box::pin(async move { Ok(count(tx, actor).await?) })).await?;
    /// ```
    pub async fn transact<'a, T, F>(&self, mut f: F) -> AppResult<T>
    where
        F: for<'c> FnMut(&'c mut TxScope<'a>) -> TxFuture<'c, T>,
    {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut scope = TxScope {
                tx: self.db.begin().await?,
                borrows: std::marker::PhantomData,
            };
            let result = f(&mut scope).await;
            if let Some(v) = self.finish_tx(scope.tx, result, attempt).await? {
                return Ok(v);
            }
        }
    }

    /// Ends one run of a write transaction (see [`App::transact`]): commits on success and returns
    /// `Ok(Some(value))`. When the database reports contention (a serialization failure, a
    /// deadlock or a row lock not available on PostgreSQL, a busy or locked database on
    /// SQLite), rolls back, waits a little and returns `Ok(None)`: run the body again, up to
    /// [`MAX_ATTEMPTS`] runs. Any other error rolls back and is returned at once; a unique
    /// violation arrives here as an [`AppError::Conflict`] naming what exists, and is never run
    /// again.
    pub async fn finish_tx<T>(
        &self,
        tx: Tx,
        result: AppResult<T>,
        attempt: u32,
    ) -> AppResult<Option<T>> {
        let retry = |e: &seatkeeper_store::sqlx::Error| {
            attempt < MAX_ATTEMPTS && seatkeeper_store::is_retryable(e)
        };
        let contention = match result {
            Ok(v) => match tx.commit().await {
                Ok(()) => return Ok(Some(v)),
                Err(e) if retry(&e) => e.to_string(),
                Err(e) => return Err(e.into()),
            },
            Err(AppError::Store(e)) if attempt < MAX_ATTEMPTS && e.is_retryable() => {
                let _ = tx.rollback().await;
                e.to_string()
            }
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(e);
            }
        };
        tracing::debug!(
            attempt,
            "contention, running the transaction again: {contention}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2u64 << attempt.min(6))).await;
        Ok(None)
    }

    /// A read-only connection.
    pub async fn read(&self) -> AppResult<sqlx_conn::PoolConn> {
        Ok(self.db.reader().acquire().await?)
    }
}

/// A write transaction as a body run by [`App::transact`] sees it: it dereferences to the
/// [`Tx`]. `'a` is how long what the body borrows from its caller lives: a `&'c mut TxScope<'a>`
/// tells the compiler that `'a` outlives `'c`, so the body's future (which lives for `'c`) may
/// hold such borrows and still be `Send` for every `'c`.
pub struct TxScope<'a> {
    tx: Tx,
    borrows: std::marker::PhantomData<&'a ()>,
}

impl std::ops::Deref for TxScope<'_> {
    type Target = Tx;
    fn deref(&self) -> &Tx {
        &self.tx
    }
}

impl std::ops::DerefMut for TxScope<'_> {
    fn deref_mut(&mut self) -> &mut Tx {
        &mut self.tx
    }
}

/// The future of a transaction body run by [`App::transact`].
pub type TxFuture<'c, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = AppResult<T>> + Send + 'c>>;

/// How many times a transaction that keeps meeting contention is run (see [`App::finish_tx`]).
pub const MAX_ATTEMPTS: u32 = 8;

/// The connection type handed out by [`App::read`].
pub mod sqlx_conn {
    pub type PoolConn = seatkeeper_store::sqlx::pool::PoolConnection<seatkeeper_store::sqlx::Any>;
}

/// "1 user", "3 users": a count with the noun in agreement, for messages and audit summaries.
pub(crate) fn counted(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_https_public_url_makes_cookies_secure() {
        let with = |u: Option<&str>| Config {
            mail: mail::MailConfig {
                from: "t@localhost".into(),
                transport: mail::Transport::EmlDir("/nonexistent".into()),
            },
            dev_clock: false,
            public_url: u.map(str::to_string),
        };
        assert!(with(Some("https://licenses.example.com")).public_url_is_https());
        assert!(with(Some("HTTPS://licenses.example.com/")).public_url_is_https());
        assert!(!with(Some("http://licenses.example.com")).public_url_is_https());
        assert!(!with(Some("https://")).public_url_is_https());
        assert!(!with(None).public_url_is_https());
    }
}
