//! Seatkeeper persistence.
//!
//! One set of SQL statements serves SQLite and PostgreSQL through sqlx's `Any` driver: ids are
//! UUID text, times are microseconds since the epoch, flags are 0/1 integers, placeholders are
//! `$n`. Only the migrations differ per backend, and how a list bound as one parameter is read
//! (the `bulk` module). Writes go through [`Db::begin`], which on SQLite
//! serializes writers (`BEGIN IMMEDIATE` on a single writer connection) so that a transaction
//! never fails half-way on a lock upgrade.

pub mod assignments;
pub mod audit;
pub mod billing;
mod bulk;
pub use bulk::Writes;
pub mod catalog;
pub mod directory;
pub mod group_licenses;
pub mod holders;
pub mod operator;
pub mod outbox;
pub mod partners;
pub mod policies;
pub mod requests;
pub mod sessions;
pub mod subscriptions;
pub mod tenants;
pub mod tokens;

use anyhow::Context;
use seatkeeper_domain::Time;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub use sqlx;

pub type Tx = sqlx::Transaction<'static, Any>;
pub type Conn = AnyConnection;
pub type Result<T> = std::result::Result<T, sqlx::Error>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
    /// SQLite: how many [`Db::begin`] calls (and checkpoints that start the WAL over) are
    /// waiting for the one write connection, so that the license writer, which holds it from
    /// one batch to the next while changes keep coming ([`Db::hold_write_connection`]), gives
    /// it back for them.
    waiting_writers: Arc<AtomicUsize>,
    /// SQLite: the thread that opened the write connection open now (where its connect
    /// finished, see [`Db::write_connection_opened_here`]).
    write_opened_by: Arc<std::sync::Mutex<Option<std::thread::ThreadId>>>,
}

/// How a write transaction starts on SQLite: it takes the database's write lock at once, so
/// that it never has to be run again because another connection wrote first.
pub const SQLITE_BEGIN: &str = "BEGIN IMMEDIATE";

/// `sql` with [`SQLITE_BEGIN`] before it when `begin` is set (a statement that also begins its
/// transaction, in the same round trip to SQLite's connection thread); `begin` is then cleared.
pub(crate) fn begun(sql: String, begin: &mut bool) -> String {
    if std::mem::take(begin) {
        format!("{SQLITE_BEGIN};\n{sql}")
    } else {
        sql
    }
}

/// Numbered migrations per backend, embedded in the binary: (version, description, SQL).
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "operator and unique tenant names",
        include_str!("../migrations/sqlite/0002_operator_and_unique_tenant_names.sql"),
    ),
    (
        3,
        "term anchor and recent additions",
        include_str!("../migrations/sqlite/0003_term_anchor_and_additions.sql"),
    ),
    (
        4,
        "outbox claim token",
        include_str!("../migrations/sqlite/0004_outbox_claim_token.sql"),
    ),
    (
        5,
        "passwords and sessions",
        include_str!("../migrations/sqlite/0005_passwords_and_sessions.sql"),
    ),
    (
        6,
        "user name order and license count",
        include_str!("../migrations/sqlite/0006_user_name_order_and_license_count.sql"),
    ),
    (
        7,
        "purchase policy and billing",
        include_str!("../migrations/sqlite/0007_purchase_policy_and_billing.sql"),
    ),
    (
        8,
        "self-service purchases",
        include_str!("../migrations/sqlite/0008_self_service_purchases.sql"),
    ),
    (
        9,
        "group licensing",
        include_str!("../migrations/sqlite/0009_group_licensing.sql"),
    ),
    (
        10,
        "license requests",
        include_str!("../migrations/sqlite/0010_license_requests.sql"),
    ),
    (
        11,
        "deleted purchasers and name search",
        include_str!("../migrations/sqlite/0011_deleted_purchasers_and_name_search.sql"),
    ),
    (
        12,
        "billing records outlive their owner",
        include_str!("../migrations/sqlite/0012_billing_records_outlive_owner.sql"),
    ),
    (
        13,
        "partners",
        include_str!("../migrations/sqlite/0013_partners.sql"),
    ),
    (
        16,
        "recurring stopped for departure",
        include_str!("../migrations/sqlite/0016_recurring_stopped_for_departure.sql"),
    ),
    (
        17,
        "unlicensed users",
        include_str!("../migrations/sqlite/0017_unlicensed_users.sql"),
    ),
    (
        18,
        "license error detail",
        include_str!("../migrations/sqlite/0018_license_error_detail.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "operator and unique tenant names",
        include_str!("../migrations/postgres/0002_operator_and_unique_tenant_names.sql"),
    ),
    (
        3,
        "term anchor and recent additions",
        include_str!("../migrations/postgres/0003_term_anchor_and_additions.sql"),
    ),
    (
        4,
        "outbox claim token",
        include_str!("../migrations/postgres/0004_outbox_claim_token.sql"),
    ),
    (
        5,
        "passwords and sessions",
        include_str!("../migrations/postgres/0005_passwords_and_sessions.sql"),
    ),
    (
        6,
        "user name order and license count",
        include_str!("../migrations/postgres/0006_user_name_order_and_license_count.sql"),
    ),
    (
        7,
        "purchase policy and billing",
        include_str!("../migrations/postgres/0007_purchase_policy_and_billing.sql"),
    ),
    (
        8,
        "self-service purchases",
        include_str!("../migrations/postgres/0008_self_service_purchases.sql"),
    ),
    (
        9,
        "group licensing",
        include_str!("../migrations/postgres/0009_group_licensing.sql"),
    ),
    (
        10,
        "license requests",
        include_str!("../migrations/postgres/0010_license_requests.sql"),
    ),
    (
        11,
        "deleted purchasers and name search",
        include_str!("../migrations/postgres/0011_deleted_purchasers_and_name_search.sql"),
    ),
    (
        12,
        "billing records outlive their owner",
        include_str!("../migrations/postgres/0012_billing_records_outlive_owner.sql"),
    ),
    (
        13,
        "partners",
        include_str!("../migrations/postgres/0013_partners.sql"),
    ),
    (
        16,
        "recurring stopped for departure",
        include_str!("../migrations/postgres/0016_recurring_stopped_for_departure.sql"),
    ),
    (
        17,
        "unlicensed users",
        include_str!("../migrations/postgres/0017_unlicensed_users.sql"),
    ),
    (
        18,
        "license error detail",
        include_str!("../migrations/postgres/0018_license_error_detail.sql"),
    ),
    (
        19,
        "unlicensed users probed by key",
        include_str!("../migrations/postgres/0019_unlicensed_users_probed_by_key.sql"),
    ),
];

fn migrator(list: &'static [(i64, &'static str, &'static str)]) -> sqlx::migrate::Migrator {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    Migrator {
        migrations: list
            .iter()
            .map(|(v, d, sql)| {
                Migration::new(
                    *v,
                    (*d).into(),
                    MigrationType::Simple,
                    sqlx::SqlSafeStr::into_sql_str(*sql),
                    false,
                )
            })
            .collect::<Vec<_>>()
            .into(),
        ..Migrator::DEFAULT
    }
}

/// Hides the secrets in a URL, for logs and messages: the password of its user information
/// (`postgres://user:***@host/db`) and the value of any `password` query parameter
/// (`?password=***`, as PostgreSQL URLs allow).
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &base[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &base[..s + 3], &creds[..c], &base[at..]),
                None => base.to_string(),
            }
        }
        _ => base.to_string(),
    };
    if let Some(q) = query {
        let params: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.to_ascii_lowercase().contains("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

impl Db {
    /// The SQLite database file in data directory `dir` ([`Db::open_dir`]).
    pub fn file_in(dir: &Path) -> PathBuf {
        dir.join("seatkeeper.db")
    }

    /// Opens (creating if needed) the embedded SQLite database in `dir`.
    pub async fn open_dir(dir: &Path) -> anyhow::Result<Db> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        let path = Db::file_in(dir);
        Db::connect(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    /// Connects to `sqlite://…` or `postgres://…` and runs pending migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        Db::connect_with(url, RESTART_FROM_PAGES).await
    }

    /// [`Db::connect`], with SQLite's WAL started over from `restart_from` pages (see
    /// [`checkpoint_in_background`]).
    async fn connect_with(url: &str, restart_from: i64) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            anyhow::bail!(
                "database URL must start with postgres:// or sqlite:, got {}",
                redact_url(url)
            );
        };
        let db = match backend {
            Backend::Postgres => {
                // One direct connection first, so a wrong host or password is reported as such
                // at once rather than as a pool timeout.
                let probe = <AnyConnection as sqlx::Connection>::connect(url)
                    .await
                    .with_context(|| format!("cannot connect to {}", redact_url(url)))?;
                let _ = sqlx::Connection::close(probe).await;
                let pool = postgres_pool(24, true)
                    .connect(url)
                    .await
                    .with_context(|| format!("cannot connect to {}", redact_url(url)))?;
                Db {
                    read: pool.clone(),
                    write: pool,
                    backend,
                    waiting_writers: Arc::default(),
                    write_opened_by: Arc::default(),
                }
            }
            Backend::Sqlite => {
                // `writer`: the one connection that writes. The checkpoint work (copying the
                // WAL's pages back into the database file, and its fsync) is left to a task of
                // its own ([`checkpoint_in_background`]): in the writer, at SQLite's default
                // of every thousand pages, it held up a batch of license changes each time.
                let write_opened_by =
                    Arc::<std::sync::Mutex<Option<std::thread::ThreadId>>>::default();
                let opts = |n: u32, writer: bool| {
                    let opened_by = write_opened_by.clone();
                    let options = AnyPoolOptions::new()
                        .max_connections(n)
                        .acquire_timeout(Duration::from_secs(60))
                        // No ping before a connection is handed out: SQLite runs in this
                        // process and its connections do not go away, and a ping is a round
                        // trip to the connection's thread, as long as a statement's.
                        .test_before_acquire(false)
                        // SQLite rolls a transaction back by itself when a write fails for want
                        // of space (SQLITE_FULL), memory or I/O; the driver still counts it open,
                        // its ROLLBACK then fails, and every later BEGIN on that connection would
                        // be refused. Such a connection is closed and replaced instead of reused.
                        .before_acquire(|conn, _| {
                            Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) })
                        })
                        .after_connect(move |conn, _| {
                            let opened_by = opened_by.clone();
                            Box::pin(async move {
                                for p in sqlite_pragmas(writer) {
                                    conn.execute(p).await?;
                                }
                                if writer && let Ok(mut by) = opened_by.lock() {
                                    *by = Some(std::thread::current().id());
                                }
                                Ok(())
                            })
                        });
                    if writer {
                        // The write connection is not closed after a time, idle or not: its
                        // thread shares the license writer's CPU, and a new connection might
                        // be opened from another thread (see `Db::write_connection_opened_here`).
                        options.max_lifetime(None).idle_timeout(None)
                    } else {
                        options
                    }
                };
                let write = opts(1, true)
                    .connect(url)
                    .await
                    .with_context(|| format!("cannot open {}", redact_url(url)))?;
                let read = opts(4, false)
                    .connect(url)
                    .await
                    .with_context(|| format!("cannot open {}", redact_url(url)))?;
                let waiting_writers = Arc::<AtomicUsize>::default();
                checkpoint_in_background(
                    read.clone(),
                    write.clone(),
                    waiting_writers.clone(),
                    restart_from,
                );
                Db {
                    read,
                    write,
                    backend,
                    waiting_writers,
                    write_opened_by,
                }
            }
        };
        db.migrate().await?;
        Ok(db)
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        let m = migrator(match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        });
        // Whether the migration that adds users.name_lower runs now (its fill folds ASCII only).
        let names_pending = sqlx::query("SELECT version FROM _sqlx_migrations WHERE version = 6")
            .fetch_optional(&self.write)
            .await
            .map(|r| r.is_none())
            .unwrap_or(true);
        // Whether the migration that adds user_words runs now (its words are written here).
        let words_pending = sqlx::query("SELECT version FROM _sqlx_migrations WHERE version = 11")
            .fetch_optional(&self.write)
            .await
            .map(|r| r.is_none())
            .unwrap_or(true);
        m.run(&self.write)
            .await
            .context("database migration failed")?;
        if words_pending {
            self.fill_user_words()
                .await
                .context("writing the words users are found by failed")?;
        }
        if names_pending {
            self.fill_name_lower()
                .await
                .context("lower-casing users' display names failed")?;
        }
        Ok(())
    }

    /// Writes the words every user is found by (`user_words`), in one transaction.
    async fn fill_user_words(&self) -> Result<()> {
        let mut tx = self.begin().await?;
        let rows = sqlx::query("SELECT id, tenant_id, display_name, mail FROM users")
            .fetch_all(&mut *tx)
            .await?;
        let mut users = Vec::with_capacity(rows.len());
        for r in &rows {
            let mail = get_opt(r, "mail")?;
            users.push((
                get_str(r, "tenant_id")?,
                get_str(r, "id")?,
                directory::search_words(&get_str(r, "display_name")?, mail.as_deref()),
            ));
        }
        for chunk in users.chunks(10_000) {
            directory::insert_words(&mut tx, chunk).await?;
        }
        tx.commit().await
    }

    /// Writes `users.name_lower` with Unicode lower-casing where the migration's SQL `lower()`
    /// (ASCII only) left it different, in one transaction.
    async fn fill_name_lower(&self) -> Result<()> {
        let mut tx = self.begin().await?;
        let rows = sqlx::query("SELECT id, display_name, name_lower FROM users")
            .fetch_all(&mut *tx)
            .await?;
        for r in &rows {
            let name = get_str(r, "display_name")?;
            let lower = name.to_lowercase();
            if lower != get_str(r, "name_lower")? {
                sqlx::query("UPDATE users SET name_lower = $2 WHERE id = $1")
                    .bind(get_str(r, "id")?)
                    .bind(lower)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await
    }

    /// This database for a writer that runs on a thread and Tokio runtime of its own (the
    /// license writer). On PostgreSQL its transactions go through a pool of its own (two
    /// connections, so that a batch need not wait for the one before it to be returned to the
    /// pool, which pings it), opened when first needed on the runtime that uses them: the
    /// database's replies then wake that thread rather than waiting for a turn on the server's
    /// runtime. Reads outside a transaction still use the shared pool. On SQLite it is this
    /// database: its one write connection has a thread of its own already.
    ///
    /// Call it on the Tokio runtime that will use the result (the pool's upkeep runs there);
    /// [`Db::close_writes`] closes what it opened.
    pub fn with_own_writer(&self) -> Db {
        match self.backend {
            Backend::Sqlite => self.clone(),
            Backend::Postgres => Db {
                read: self.read.clone(),
                write: postgres_pool(2, false)
                    .connect_lazy_with((*self.write.connect_options()).clone()),
                backend: self.backend,
                waiting_writers: self.waiting_writers.clone(),
                write_opened_by: self.write_opened_by.clone(),
            },
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pool for reads outside a transaction.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// Begins a write transaction.
    pub async fn begin(&self) -> Result<Tx> {
        match self.backend {
            Backend::Sqlite => {
                queued(&self.waiting_writers, self.write.begin_with(SQLITE_BEGIN)).await
            }
            Backend::Postgres => self.write.begin().await,
        }
    }

    /// SQLite: the one write connection, for a writer that begins and ends its transactions
    /// itself (see [`HeldWriter`]) and keeps the connection from one transaction to the next
    /// while it has more to write and no [`Db::begin`] is waiting ([`Db::writers_waiting`]).
    /// Waits while another transaction holds it.
    pub async fn hold_write_connection(&self) -> Result<HeldWriter> {
        Ok(HeldWriter {
            conn: self.write.acquire().await?,
            open: false,
        })
    }

    /// SQLite: whether the write connection open now was opened from the calling thread (the
    /// connection is replaced after some failures, by whichever transaction needs it next; a
    /// connection opened from a thread runs on a thread SQLite's driver starts from it, which
    /// takes its CPU affinity on Linux). False on PostgreSQL.
    pub fn write_connection_opened_here(&self) -> bool {
        self.write_opened_by
            .lock()
            .is_ok_and(|by| *by == Some(std::thread::current().id()))
    }

    /// Whether a [`Db::begin`] (or the checkpoint that starts the WAL over) is waiting for
    /// SQLite's write connection.
    pub fn writers_waiting(&self) -> bool {
        self.waiting_writers.load(Ordering::Relaxed) > 0
    }

    /// Closes the connections, waiting for those in use to be given back.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    /// Closes the write connections only (those of [`Db::with_own_writer`]; its reads share
    /// the database's pool, which stays open).
    pub async fn close_writes(&self) {
        self.write.close().await;
    }
}

/// SQLite's write connection, held by a writer that begins and ends its transactions itself
/// ([`Db::hold_write_connection`]), so that `BEGIN` goes with the transaction's first
/// statement instead of being a round trip of its own to the connection's thread, and so that
/// the connection is not given back to the pool (which pings it, another round trip) between
/// one transaction and the next.
///
/// The driver does not count such a transaction as open. A connection dropped while one may
/// still be open is therefore closed, never given back to the pool for someone else's
/// `BEGIN` to fail on.
pub struct HeldWriter {
    conn: PoolConnection<Any>,
    open: bool,
}

impl HeldWriter {
    /// The connection for a transaction the caller begins with its first statement
    /// ([`SQLITE_BEGIN`], e.g. through [`holders::read`]'s `begin`, or [`sqlite_begin`]).
    /// From here on the transaction counts as possibly open, until [`HeldWriter::commit`]
    /// or [`HeldWriter::rollback`] ends it.
    pub fn start(&mut self) -> &mut Conn {
        self.open = true;
        &mut self.conn
    }

    /// Closes the connection instead of giving it back to the pool: the next
    /// [`Db::hold_write_connection`] or [`Db::begin`] opens a new one, from its own thread.
    pub fn close(mut self) {
        self.conn.close_on_drop();
    }

    /// Commits the transaction begun since [`HeldWriter::start`].
    /// Errors: the database's (SQLITE_BUSY, SQLITE_FULL, I/O); roll back then.
    pub async fn commit(&mut self) -> Result<()> {
        self.conn.execute("COMMIT").await?;
        self.open = false;
        Ok(())
    }

    /// Rolls back whatever is open, if anything (SQLite ends a transaction by itself on some
    /// errors, and a `BEGIN` that failed opened none). `None`: the rollback failed, and the
    /// connection is closed, not reused.
    pub async fn rollback(mut self) -> Option<HeldWriter> {
        match self.conn.execute("ROLLBACK").await {
            Ok(_) => {}
            Err(e) if e.to_string().contains("no transaction is active") => {}
            Err(e) => {
                tracing::warn!("closing the write connection, its rollback failed: {e}");
                return None;
            }
        }
        self.open = false;
        Some(self)
    }
}

impl Drop for HeldWriter {
    fn drop(&mut self) {
        if self.open {
            self.conn.close_on_drop();
        }
    }
}

/// Begins a write transaction on SQLite, on a connection with none open
/// ([`HeldWriter::start`]).
pub async fn sqlite_begin(conn: &mut Conn) -> Result<()> {
    conn.execute(SQLITE_BEGIN).await.map(|_| ())
}

/// The options of a PostgreSQL pool of at most `n` connections, each session without JIT
/// ([`NO_JIT`]). With `ping_every_time` (the shared pool) every connection is checked (one
/// round trip) before it is handed out, so that one the server or the network closed (a
/// restart, an idle timeout) is replaced before any request uses it. Without it (the license
/// writer's pool, which starts a batch again at once on a lost connection) only a connection
/// idle for [`PING_AFTER_IDLE`] or more is checked: the round trip cost every batch.
fn postgres_pool(n: u32, ping_every_time: bool) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(n)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire(ping_every_time)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(NO_JIT).await?;
                Ok(())
            })
        })
        .before_acquire(move |conn, meta| {
            Box::pin(async move {
                if !ping_every_time && meta.idle_for >= PING_AFTER_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// PostgreSQL's JIT compilation off for the server's sessions (where the server has it). The
/// statements that read and write a batch of license changes take their lists as JSON
/// (`jsonb_array_elements`), whose row estimates put them above `jit_above_cost`, and
/// PostgreSQL compiled them to machine code on every run: the writes took 301 µs per license
/// instead of 144 µs (with JIT off for the whole cluster, in one run). The query (rather than
/// `SET jit = off`) leaves a server without JIT (before PostgreSQL 11) as it is.
const NO_JIT: &str = "SELECT set_config(name, 'off', false) FROM pg_settings WHERE name = 'jit'";

/// How long a connection of the license writer's PostgreSQL pool may sit idle before it is
/// checked (a ping) when handed out (see [`postgres_pool`]).
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// How long a SQLite statement waits for a lock another connection holds (another process's
/// writer, or a checkpoint) before it fails as busy: 30 s.
const BUSY_TIMEOUT: &str = "PRAGMA busy_timeout = 30000";

/// The pragmas a SQLite connection runs when it opens, in order: those of the write
/// connection (`writer`) or of a reader. WAL: readers never block the writer;
/// `synchronous=NORMAL` in WAL mode keeps every commit durable against a process crash (it is
/// in the WAL before `COMMIT` returns; the WAL is synced at checkpoints). Large directories:
/// hot B-tree pages stay in memory; the writer reads the rest through a memory map
/// ([`WRITER_MMAP`]), the readers with a `pread` each.
pub fn sqlite_pragmas(writer: bool) -> Vec<&'static str> {
    let mut list = Vec::with_capacity(9);
    if writer {
        list.push(WRITER_AUTOCHECKPOINT);
    }
    list.extend([
        BUSY_TIMEOUT,
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA foreign_keys = ON",
        "PRAGMA cache_size = -32768",
    ]);
    if writer {
        list.extend([WRITER_MMAP, WRITER_CACHE, WRITER_TEMP_STORE]);
    }
    list
}

/// The writer reads the pages that are not in the WAL through a memory map (up to 1 GB of the
/// file) rather than a `pread` each. Only the writer: a reader whose read transaction finds
/// that the WAL changed since its last one unmaps the whole file (SQLite's
/// `pagerBeginReadTransaction`), and under constant writes that is nearly every read.
const WRITER_MMAP: &str = "PRAGMA mmap_size = 1073741824";

/// The writer's page cache: 1 MB rather than the readers' 32 MB. The writer reads pages that
/// are not in the WAL through `mmap`, so its cache mostly holds pages of the WAL and those its
/// transaction changes; and its commits walked through that cache (`pcache1TruncateUnsafe`,
/// in a profile). With 32 MB that took about 6% of the server's CPU time under concurrent
/// license changes (100,000 users, 1,000,000 licenses); with 1 MB the server did 8-21% more
/// changes per second in three back-to-back pairs of runs, and group licensing jobs (thousands of rows per transaction) were as
/// fast as before.
const WRITER_CACHE: &str = "PRAGMA cache_size = -1024";

/// The writer's statement journals (a statement's own undo, within its transaction) in
/// memory, not in a temporary file: a multi-row write copied every page it touched to that
/// file first. Only the writer: on the readers this would also keep large sorts in memory.
const WRITER_TEMP_STORE: &str = "PRAGMA temp_store = MEMORY";

/// The writer's own checkpoints, a safeguard only: from 100,000 WAL pages (400 MB), should the
/// background checkpoints ([`checkpoint_in_background`]) not have started the WAL over.
const WRITER_AUTOCHECKPOINT: &str = "PRAGMA wal_autocheckpoint = 100000";

/// How often the WAL of a SQLite database is checkpointed (see [`checkpoint_in_background`]).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// WAL pages (4 KB) from which a background checkpoint also starts the WAL over (128 MB).
const RESTART_FROM_PAGES: i64 = 32768;

/// Waits for `wait` (SQLite's write connection, or a transaction on it) counted in `waiting`
/// ([`Db::writers_waiting`]), until it is done or the caller stops waiting: the license writer
/// then gives the connection back after the batch it is running.
async fn queued<T>(waiting: &AtomicUsize, wait: impl std::future::Future<Output = T>) -> T {
    struct Waiting<'a>(&'a AtomicUsize);
    impl Drop for Waiting<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
    waiting.fetch_add(1, Ordering::Relaxed);
    let _waiting = Waiting(waiting);
    wait.await
}

/// The file of a SQLite database's main schema (empty for an in-memory database).
async fn database_file(read: &AnyPool) -> Option<PathBuf> {
    sqlx::query("SELECT file FROM pragma_database_list WHERE name = 'main'")
        .fetch_one(read)
        .await
        .ok()
        .and_then(|row| get_opt(&row, "file").ok().flatten())
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
}

/// Descriptors of database files for [`sync_database_file`], one per file, never closed. On
/// Unix, closing any descriptor of a file releases every POSIX lock the process holds on it,
/// SQLite's included (sqlite.org/howtocorrupt.html, 2.2): another process (the CLI) could then
/// take the database for itself while this one writes. A descriptor opened beside SQLite's
/// own must therefore stay open for as long as the process lives.
static SYNC_HANDLES: std::sync::Mutex<BTreeMap<PathBuf, Arc<std::fs::File>>> =
    std::sync::Mutex::new(BTreeMap::new());

/// Flushes the pages the `PASSIVE` checkpoints copied into the database `file` to disk, from a
/// descriptor of its own ([`SYNC_HANDLES`]), while the writer goes on. A checkpoint syncs the
/// database file only once it has copied the whole WAL, so under sustained writes that sync
/// fell to the `RESTART`, with everything copied since the last one, while it held the write
/// connection. Best effort: the `RESTART` syncs the file all the same.
async fn sync_database_file(file: PathBuf) {
    let synced = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let handle = {
            let mut handles = SYNC_HANDLES
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match handles.get(&file) {
                Some(h) => h.clone(),
                None => {
                    let h = Arc::new(std::fs::File::open(&file)?);
                    handles.insert(file, h.clone());
                    h
                }
            }
        };
        handle.sync_data()
    })
    .await;
    if let Ok(Err(e)) = synced {
        tracing::debug!("syncing the database file before a checkpoint failed: {e}");
    }
}

/// How long a `RESTART` waits for the readers still on the WAL: it holds the write connection
/// meanwhile. A reader that takes longer (a large export) makes it give up; it is tried again
/// after [`RESTART_BACKOFF`].
const RESTART_BUSY_TIMEOUT: &str = "PRAGMA busy_timeout = 100";

/// After a `RESTART` gave up on a reader or failed: the checkpoint tick on which the next one
/// is tried, counting from it (8 ticks, 2 s).
const RESTART_BACKOFF: u32 = 8;

/// Starts the WAL over on the write connection `conn` (see [`checkpoint_in_background`]),
/// waiting at most [`RESTART_BUSY_TIMEOUT`] for readers. Returns whether it gave up. The
/// connection's own busy timeout is put back afterwards; a connection where that fails is
/// closed rather than given back.
async fn restart_wal(conn: &mut PoolConnection<Any>) -> Result<bool> {
    sqlx::query(RESTART_BUSY_TIMEOUT)
        .execute(&mut **conn)
        .await?;
    let done = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
        .fetch_one(&mut **conn)
        .await;
    if let Err(e) = sqlx::query(BUSY_TIMEOUT).execute(&mut **conn).await {
        conn.close_on_drop();
        return Err(e);
    }
    Ok(get_i64(&done?, "busy")? != 0)
}

/// Checkpoints a SQLite database's WAL every [`CHECKPOINT_EVERY`] until the pools are closed.
///
/// First `PASSIVE`, through a connection of `read`: it copies what no reader still needs and
/// never waits for the writer, which goes on writing meanwhile. A checkpoint from another
/// connection never catches up with a writer that keeps committing, and only a complete one
/// lets the WAL start over, so from `restart_from` pages ([`RESTART_FROM_PAGES`]) on a
/// `RESTART` follows at once: it copies the few pages written since and waits for the
/// readers, then the next write starts the WAL over.
///
/// - Before it, the database file is synced ([`sync_database_file`]).
/// - It runs on the write connection itself, queued for it like a write transaction
///   (`waiting`): the license writer hands the connection over after its batch and waits for
///   it in the process. From a reading connection it had to win SQLite's write lock from a
///   writer that takes it again right after each commit, and the writer, refused meanwhile,
///   then slept in SQLite's busy handler (steps of up to 100 ms) after the checkpoint was done.
/// - It waits at most [`RESTART_BUSY_TIMEOUT`] for readers ([`restart_wal`]). After it gave up
///   or failed, the next one is tried [`RESTART_BACKOFF`] ticks later.
///
/// (SQLite's own checkpoints ran inside the commit that crossed 1,000 pages, with their
/// `fsync`: they held up a batch of license changes every time.) Every commit stays durable:
/// it is in the WAL before it is acknowledged, checkpointed or not.
fn checkpoint_in_background(
    read: AnyPool,
    write: AnyPool,
    waiting: Arc<AtomicUsize>,
    restart_from: i64,
) {
    tokio::spawn(async move {
        let file = database_file(&read).await;
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut backoff = 0u32;
        loop {
            tick.tick().await;
            if read.is_closed() || write.is_closed() {
                return;
            }
            backoff = backoff.saturating_sub(1);
            let passive = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&read)
                .await;
            let done = match passive {
                Ok(row) if backoff == 0 && get_i64(&row, "log").unwrap_or(0) >= restart_from => {
                    if let Some(file) = &file {
                        sync_database_file(file.clone()).await;
                    }
                    match queued(&waiting, write.acquire()).await {
                        Ok(mut conn) => match restart_wal(&mut conn).await {
                            Ok(false) => Ok(()),
                            Ok(true) => {
                                backoff = RESTART_BACKOFF;
                                tracing::debug!(
                                    "a reader kept the WAL from starting over: trying again later"
                                );
                                Ok(())
                            }
                            Err(e) => {
                                backoff = RESTART_BACKOFF;
                                Err(e)
                            }
                        },
                        Err(e) => Err(e),
                    }
                }
                other => other.map(|_| ()),
            };
            if let Err(e) = done {
                if read.is_closed() || write.is_closed() {
                    return;
                }
                tracing::debug!("checkpoint failed (tried again shortly): {e}");
            }
        }
    });
}

/// A database failure, opaque to the layers above the store: its message, whether running the
/// transaction again may succeed, and whether no connection was free in time.
#[derive(Debug)]
pub struct DbError(sqlx::Error);

impl DbError {
    /// Whether running the transaction again unchanged may succeed (see [`is_retryable`]).
    pub fn is_retryable(&self) -> bool {
        is_retryable(&self.0)
    }

    /// Whether the connection to the database was lost (an I/O error: the server restarted,
    /// the network closed it). Whatever the statement was, its transaction is not committed
    /// unless the statement was the `COMMIT` itself.
    pub fn is_connection_lost(&self) -> bool {
        match &self.0 {
            sqlx::Error::Io(_) => true,
            // PostgreSQL's connection exceptions (08…) and its server shutting the session
            // down (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now).
            sqlx::Error::Database(d) => d
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P0")),
            _ => false,
        }
    }

    /// Whether no connection of the pool became free in time: the server is busy.
    pub fn is_pool_timeout(&self) -> bool {
        matches!(self.0, sqlx::Error::PoolTimedOut)
    }

    /// Whether the database has no room left for the change: SQLite's `SQLITE_FULL` (the disk,
    /// or `max_page_count`), PostgreSQL's `disk_full` (53100).
    pub fn is_storage_full(&self) -> bool {
        match &self.0 {
            sqlx::Error::Database(e) => matches!(e.code().as_deref(), Some("13" | "53100")),
            _ => false,
        }
    }
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> DbError {
        DbError(e)
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Whether a failed transaction may succeed if run again unchanged: a serialization failure, a
/// deadlock or a row lock not taken without waiting (PostgreSQL), a busy or locked database
/// (SQLite). A unique violation is not: the row that exists will still exist on the next run
/// (see [`unique_violation`]).
pub fn is_retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.to_string()).unwrap_or_default();
            match code.as_str() {
                // PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
                "40001" | "40P01" | "55P03" => true,
                // SQLite: BUSY, LOCKED and their extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT,
                // BUSY_TIMEOUT, LOCKED_SHAREDCACHE, LOCKED_VTAB).
                "5" | "6" | "261" | "517" | "773" | "262" | "518" => true,
                _ => d.message().contains("database is locked"),
            }
        }
        _ => false,
    }
}

pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// What a unique violation says exists already: the table, the columns of the constraint and,
/// where the database reports it (PostgreSQL), their values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueViolation {
    pub table: String,
    pub columns: Vec<String>,
    pub values: Vec<String>,
}

/// The row that exists already, if `e` is a unique violation.
pub fn unique_violation(e: &sqlx::Error) -> Option<UniqueViolation> {
    let sqlx::Error::Database(d) = e else {
        return None;
    };
    if !d.is_unique_violation() {
        return None;
    }
    if let Some(pg) = d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        // detail: "Key (tenant_id, upn_lower)=(…, adele@contoso.com) already exists."
        let (columns, values) = pg
            .detail()
            .and_then(|d| d.strip_prefix("Key ("))
            .and_then(|d| d.split_once(")=("))
            .map(|(cols, rest)| {
                let vals = rest.rsplit_once(')').map(|(v, _)| v).unwrap_or(rest);
                (split_list(cols), split_list(vals))
            })
            .unwrap_or_default();
        let table = pg.table().unwrap_or_default().to_string();
        return Some(UniqueViolation {
            table,
            columns,
            values,
        });
    }
    // SQLite: "UNIQUE constraint failed: users.tenant_id, users.upn_lower", or
    // "UNIQUE constraint failed: index 'pools_central'".
    let msg = d.message();
    let list = msg.split_once("failed: ").map(|(_, l)| l).unwrap_or("");
    if let Some(index) = list.strip_prefix("index '") {
        let index = index.trim_end_matches('\'');
        return Some(UniqueViolation {
            table: index.split('_').next().unwrap_or(index).to_string(),
            columns: vec![],
            values: vec![],
        });
    }
    let mut table = String::new();
    let mut columns = Vec::new();
    for part in split_list(list) {
        match part.split_once('.') {
            Some((t, c)) => {
                table = t.to_string();
                columns.push(c.to_string());
            }
            None => columns.push(part),
        }
    }
    Some(UniqueViolation {
        table,
        columns,
        values: vec![],
    })
}

fn split_list(s: &str) -> Vec<String> {
    s.split(", ")
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Microseconds since the epoch.
pub fn us(t: Time) -> i64 {
    t.timestamp_micros()
}

pub fn from_us(v: i64) -> Time {
    chrono::DateTime::from_timestamp_micros(v).unwrap_or_default()
}

pub fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// A row's columns by name: a row as the driver returns it, or one of many rows read as a
/// single JSON value ([`bulk::JsonRow`]). The `get_*` readers below take either.
pub(crate) trait Fields {
    /// The text in column `c`, `None` for NULL.
    fn opt_text(&self, c: &str) -> Result<Option<String>>;
    /// The integer in column `c`, `None` for NULL.
    fn opt_int(&self, c: &str) -> Result<Option<i64>>;
}

impl Fields for AnyRow {
    fn opt_text(&self, c: &str) -> Result<Option<String>> {
        self.try_get::<Option<String>, _>(c)
    }
    fn opt_int(&self, c: &str) -> Result<Option<i64>> {
        self.try_get::<Option<i64>, _>(c)
    }
}

fn unexpected_null(c: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: c.to_string(),
        source: "unexpected NULL".into(),
    }
}

pub(crate) fn get_str(r: &impl Fields, c: &str) -> Result<String> {
    r.opt_text(c)?.ok_or_else(|| unexpected_null(c))
}
pub(crate) fn get_opt(r: &impl Fields, c: &str) -> Result<Option<String>> {
    r.opt_text(c)
}
pub(crate) fn get_i64(r: &impl Fields, c: &str) -> Result<i64> {
    r.opt_int(c)?.ok_or_else(|| unexpected_null(c))
}
pub(crate) fn get_bool(r: &impl Fields, c: &str) -> Result<bool> {
    Ok(get_i64(r, c)? != 0)
}
pub(crate) fn get_time(r: &impl Fields, c: &str) -> Result<Time> {
    Ok(from_us(get_i64(r, c)?))
}
pub(crate) fn get_id<T: From<uuid::Uuid>>(r: &impl Fields, c: &str) -> Result<T> {
    let s = get_str(r, c)?;
    uuid::Uuid::parse_str(&s)
        .map(T::from)
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}
pub(crate) fn get_opt_id<T: From<uuid::Uuid>>(r: &impl Fields, c: &str) -> Result<Option<T>> {
    match get_opt(r, c)? {
        Some(s) => uuid::Uuid::parse_str(&s)
            .map(|u| Some(T::from(u)))
            .map_err(|e| sqlx::Error::Decode(Box::new(e))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    /// Every migration file of a backend is in the list the binary embeds, under the version
    /// its name starts with, with the text of that file: a file left out would never run.
    #[test]
    fn every_migration_file_is_embedded() {
        for (dir, list) in [
            ("sqlite", super::SQLITE_MIGRATIONS),
            ("postgres", super::POSTGRES_MIGRATIONS),
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dir);
            let mut files: Vec<(i64, String)> = std::fs::read_dir(&path)
                .expect("migrations directory")
                .map(|e| e.expect("entry").path())
                .filter(|p| p.extension().is_some_and(|x| x == "sql"))
                .map(|p| {
                    let name = p
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned();
                    let version = name
                        .split('_')
                        .next()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or_else(|| panic!("{name}: no version number"));
                    (version, std::fs::read_to_string(&p).expect("readable"))
                })
                .collect();
            files.sort();
            let embedded: Vec<(i64, String)> = list
                .iter()
                .map(|(v, _, sql)| (*v, sql.to_string()))
                .collect();
            assert_eq!(
                files.iter().map(|f| f.0).collect::<Vec<_>>(),
                embedded.iter().map(|f| f.0).collect::<Vec<_>>(),
                "{dir}: the migration files and the embedded list differ"
            );
            assert!(
                files == embedded,
                "{dir}: an embedded text is not its file's"
            );
        }
    }

    /// How many times the WAL of the database in `dir` has started over: the checkpoint
    /// sequence number in its header (bytes 12..16, big-endian; 0 without a WAL).
    fn wal_restarts(dir: &std::path::Path) -> u32 {
        let mut wal = super::Db::file_in(dir).into_os_string();
        wal.push("-wal");
        let mut header = [0u8; 16];
        std::fs::File::open(wal)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
            .map_or(0, |()| {
                u32::from_be_bytes([header[12], header[13], header[14], header[15]])
            })
    }

    /// Under writes that never pause, the WAL still starts over (without the `RESTART` it
    /// keeps every page written, and grows without end), and every write transaction still
    /// gets the write connection while the checkpoints take it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_writes_that_never_pause() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("sk-wal-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        // The WAL started over from 256 pages (1 MB).
        let url = format!("sqlite://{}?mode=rwc", super::Db::file_in(&dir).display());
        let db = super::Db::connect_with(&url, 256).await?;
        let mut tx = db.begin().await?;
        sqlx::query("CREATE TABLE filler (k INTEGER PRIMARY KEY, v BLOB)")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let before = wal_restarts(&dir);
        let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let mut commits = 0;
        while std::time::Instant::now() < until {
            let mut tx = db.begin().await?;
            sqlx::query(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40) \
                 INSERT INTO filler (v) SELECT randomblob(1000) FROM n",
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            commits += 1;
        }
        let restarts = wal_restarts(&dir).saturating_sub(before);
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            restarts >= 2,
            "the WAL started over {restarts} times during {commits} commits of 40 kB"
        );
        Ok(())
    }

    #[test]
    fn redact_url_hides_every_password() {
        assert_eq!(
            redact_url("postgres://sk:s3cret@db.internal:5432/sk"),
            "postgres://sk:***@db.internal:5432/sk"
        );
        assert_eq!(
            redact_url("postgres://sk@db.internal/sk?password=s3cret&sslmode=require"),
            "postgres://sk@db.internal/sk?password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://sk:one@db/sk?sslmode=verify-full&password=two"),
            "postgresql://sk:***@db/sk?sslmode=verify-full&password=***"
        );
        // An @ in the query does not confuse the user information.
        assert_eq!(
            redact_url("postgres://db/sk?user=a@b&password=p@ss"),
            "postgres://db/sk?user=a@b&password=***"
        );
        assert_eq!(
            redact_url("sqlite:///data/seatkeeper.db?mode=rwc"),
            "sqlite:///data/seatkeeper.db?mode=rwc"
        );
    }
}
