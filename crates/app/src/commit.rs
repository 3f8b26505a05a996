//! Group commit for license changes (L1–L5).
//!
//! Every admin license change ([`App::assign_license`], the 20-user and bulk operations, one
//! user's licenses set at once) is queued to one writer per server. When it is free, the writer
//! starts a transaction (on SQLite it takes the write connection, and the transaction's
//! `BEGIN` goes with the batch's first statement), takes whatever is queued by then (at most
//! [`MAX_BATCH`] changes; no fixed wait, so a lone change is committed at once) and runs the
//! whole batch in it:
//!
//! - each change is checked with the same rules as a change on its own ([`App::plan_writes`]),
//!   reading what the earlier changes of the batch wrote; its writes are kept in memory and
//!   made together with the others' at the end, in a few multi-row statements
//!   ([`WriteSet::flush`]), so the database sees a handful of statements per batch rather
//!   than several per change;
//! - a refused change (not enough licenses, a plan conflict, a user who does not exist) is
//!   answered with its own error and adds nothing to the batch's writes: it changes nothing
//!   for the others, exactly as if it had been rolled back to a savepoint; a failure of the
//!   database itself ends the whole batch, none of it committed;
//! - nobody is answered before the batch's `COMMIT` has returned: an acknowledged change is
//!   durable, and a change whose batch did not commit is not there at all;
//! - the changes of a batch see each other in queue order, as if they had run one after the
//!   other: each pool's seats are read once per batch, with the batch's users or when a change
//!   first needs them, and kept in a ledger, so a seat taken by an earlier change is not
//!   available to a later one and counts never exceed what was bought. On PostgreSQL the pool
//!   rows are locked until the batch commits: with the users, in id order, or (a pool found
//!   only later) without waiting, the batch running again with it locked in order if another
//!   transaction holds it. Other servers on the same database thus queue behind the batch
//!   rather than deadlock with it.
//!
//! A batch that meets contention (see [`seatkeeper_store::is_retryable`]) is run again whole,
//! up to [`MAX_ATTEMPTS`] times, like any transaction (see [`App::transact`]).

use crate::licenses::{Remove, Scope, Seen, UserChange, WriteSet};
use crate::{Actor, App, AppError, AppResult, Inner, MAX_ATTEMPTS};
use seatkeeper_domain::AssignmentId;
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::catalog::Catalog;
use seatkeeper_domain::directory::User;
use seatkeeper_domain::roles::Action;
use seatkeeper_domain::seats::{Coverage, SeatState};
use seatkeeper_domain::{DomainError, PoolId, SkuId, TenantId, Time, UserId};
use seatkeeper_store::group_licenses::{Source, sources_of_users};
use seatkeeper_store::subscriptions;
use seatkeeper_store::{Conn, Db, HeldWriter, Tx, tokens};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Weak;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::{mpsc, oneshot};

/// The most changes one batch commits together. With more waiting, the rest go in the next
/// batch, which starts as soon as this one has committed.
pub const MAX_BATCH: usize = 128;

/// How many times a batch's transaction is started again at once when the connection it got
/// turns out to have been lost: one more than the writer's PostgreSQL connections.
const LOST_CONNECTION_STARTS: usize = 3;

/// What one change's caller is answered: each user with the licenses they now hold, how each
/// of those licenses works (SUB3) and the group sources of the users' licenses (L6), all as the
/// change's transaction left them.
#[derive(Debug)]
pub struct Answered {
    pub users: Vec<(User, Vec<Assignment>)>,
    pub states: HashMap<AssignmentId, SeatState>,
    pub sources: Vec<Source>,
}

/// A change's answer, or its own refusal.
pub(crate) type Answer = AppResult<Answered>;

/// Who makes a queued license change.
pub(crate) enum Acting {
    /// An actor authenticated already, whose right to change licenses was checked.
    Actor(Actor),
    /// The bearer of the token stored under this hash ([`crate::auth::bearer_hash`]),
    /// authenticated in the batch's own transaction, with the credentials of the batch's
    /// other tokens in one statement, by the same rule as [`App::authenticate`]: refused there
    /// as at the door (401), or with 403 when their roles do not let them change licenses.
    /// Once the writer knows the organization every bearer of a batch acts in, that statement
    /// is the read of the batch's users (see [`App::run_batch`]); a token it does not know is
    /// checked by the request first ([`App::assign_license_as`]).
    Token(String),
}

/// One queued license change: who acts, what changes, the time it is recorded at, and where
/// its answer goes.
pub(crate) struct LicenseWrite {
    pub acting: Acting,
    pub changes: Vec<UserChange>,
    pub now: Time,
    pub reply: oneshot::Sender<Answer>,
}

/// A server's license writer: its queue and what it has done so far.
pub struct Writer {
    queue: mpsc::UnboundedSender<LicenseWrite>,
    /// The database as the writer uses it ([`Db::with_own_writer`]), made on its runtime when
    /// the first change arrives.
    own: std::sync::OnceLock<Db>,
    waiting: AtomicUsize,
    running: AtomicUsize,
    batches: AtomicU64,
    changes: AtomicU64,
    largest: AtomicUsize,
    retried: AtomicU64,
    /// The organization each token that worked in one of this writer's batches acts in, by
    /// hash ([`tokens::Token::acts_in`], which never changes), until it is refused in one: a
    /// batch whose bearers are all here reads their credentials with its users, in one
    /// statement ([`App::run_batch`]).
    tenants_of_tokens: std::sync::Mutex<HashMap<String, TenantId>>,
}

/// How many tokens' organizations the license writer remembers; it forgets them all when
/// there are more.
const TOKENS_REMEMBERED: usize = 10_000;

/// What a server's license writer has done since it started (see [`App::license_writer_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterStats {
    /// Changes queued or in the batch being committed, not answered yet.
    pub waiting: usize,
    /// Changes in the batch being run now: 0 while the writer waits for work or for its
    /// transaction to start (on SQLite: for the write connection; the wait for the database's
    /// write lock, held by another process, comes with the batch's first statement).
    pub running: usize,
    /// Batches run to the end (committed, or failed as a whole).
    pub batches: u64,
    /// Changes answered, accepted or refused.
    pub changes: u64,
    /// The most changes one batch has held.
    pub largest: usize,
    /// Times a batch was run again because the database reported contention (a deadlock, a
    /// pool another transaction held, a busy database) or a stale read.
    pub retried: u64,
}

/// Starts the writer of `app`. The writer holds the app weakly: it stops when the last
/// [`App`] is dropped (its queue closes then).
///
/// It runs on a thread of its own, with a Tokio runtime of its own (on PostgreSQL with
/// connections of its own, see [`Db::with_own_writer`]; on SQLite through the one write
/// connection): each statement of a batch is a round trip (to SQLite's connection thread, or
/// to PostgreSQL), and on the server's runtime the writer waited for its turn behind the
/// requests being served after every one of them, so a batch took several times as long
/// under load as its statements did.
pub(crate) fn start(app: Weak<Inner>) -> Writer {
    let (queue, rx) = mpsc::unbounded_channel::<LicenseWrite>();
    let spawned = std::thread::Builder::new()
        .name("license-writer".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(write_batches(app, rx)),
                Err(e) => tracing::error!("the license writer cannot start: {e}"),
            }
        });
    if let Err(e) = spawned {
        // The queue's receiver went with the closure: changes are refused as "stopped".
        tracing::error!("the license writer cannot start its thread: {e}");
    }
    Writer {
        queue,
        own: std::sync::OnceLock::new(),
        waiting: AtomicUsize::new(0),
        running: AtomicUsize::new(0),
        batches: AtomicU64::new(0),
        changes: AtomicU64::new(0),
        largest: AtomicUsize::new(0),
        retried: AtomicU64::new(0),
        tenants_of_tokens: std::sync::Mutex::new(HashMap::new()),
    }
}

/// Where a batch runs.
pub(crate) enum Session {
    /// PostgreSQL: a transaction begun on the writer's own connections.
    Begun(Tx),
    /// SQLite: the write connection, held by the writer; the batch's first statement begins
    /// its transaction.
    Held(HeldWriter),
}

/// The writer's loop: once a change is queued it starts a transaction (on SQLite: takes the
/// write connection, if it does not hold it already), then takes whatever is queued by the
/// time that is done (at most [`MAX_BATCH`]) and commits it as one batch, until the queue
/// closes or the app is gone. Changes that arrive while another transaction of this server
/// holds the write path (on PostgreSQL: while the transaction starts) thus join the batch
/// that is waiting for it. On SQLite the writer keeps the write connection for the next batch
/// while changes are waiting for it and no other transaction is ([`Db::writers_waiting`]).
async fn write_batches(app: Weak<Inner>, mut rx: mpsc::UnboundedReceiver<LicenseWrite>) {
    let mut held: Option<HeldWriter> = None;
    let mut placing = Placing::default();
    while let Some(first) = rx.recv().await {
        let Some(inner) = app.upgrade() else {
            return;
        };
        // Made with the first change, on this runtime (the app is still being built when the
        // thread starts).
        let db = inner
            .license_writer
            .own
            .get_or_init(|| inner.db.with_own_writer())
            .clone();
        let app_now = App(inner.clone());
        // A start that failed is the batch's first attempt, and is answered as such.
        let start = match held.take() {
            Some(h) => Ok(Session::Held(h)),
            None => placing.start_session(&db).await,
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let size = batch.len();
        let w = &inner.license_writer;
        w.running.store(size, Ordering::Relaxed);
        let kept = app_now.commit_batch(&db, batch, start).await;
        w.running.store(0, Ordering::Relaxed);
        w.waiting.fetch_sub(size, Ordering::Relaxed);
        if w.waiting.load(Ordering::Relaxed) > 0 && !db.writers_waiting() {
            held = kept;
        }
    }
}

/// How many times in a row the license writer opens SQLite's write connection again from its
/// CPU without getting one opened there (another transaction took it first, or opening it
/// failed) before it stops trying, and lets its thread run on every CPU it could before.
#[cfg(target_os = "linux")]
const PLACINGS: u32 = 3;

/// Where the license writer stands in putting its thread and the thread SQLite's driver runs
/// the write connection on, on one CPU ([`Placing::start_session`]).
#[derive(Default)]
struct Placing {
    /// Attempts in a row that did not get a connection opened from this thread.
    #[cfg(target_os = "linux")]
    failed: u32,
    /// While this thread (the license writer's) is pinned to its CPU: the CPUs it could run
    /// on before.
    #[cfg(target_os = "linux")]
    before_pin: Option<crate::affinity::CpuSet>,
}

impl Placing {
    /// [`start_session`], and on SQLite on Linux with more than one CPU: unless the write
    /// connection it got was opened from this thread, or a transaction is waiting for it
    /// ([`Db::writers_waiting`]; the next batch tries again), pins the license writer's thread
    /// to one CPU (the last it may run on; each further writer in the process takes the one
    /// before), closes the connection and opens it again from here, so that the thread SQLite's
    /// driver starts for it takes the same pin (a thread inherits its creator's CPU affinity on
    /// Linux). A batch is a strict back and forth between the two threads, one statement at a
    /// time, so they never run at once; on one CPU each hand-off is a switch on that CPU,
    /// where a thread woken on another CPU could wait there for its turn first (about 200 µs of
    /// a `COMMIT`'s round trip under load, where SQLite's own `COMMIT` took 255 µs). A
    /// connection replaced later (after some failures, by whichever transaction needed it
    /// next) is thus opened again from here. After [`PLACINGS`] attempts in a row that did not
    /// get it opened here (a transaction came for it in between, or opening it failed) the
    /// writer stops trying, and its thread may run on the CPUs it could before again.
    /// Errors: those of [`start_session`], including a failure to open the connection again,
    /// which is the batch's start.
    #[cfg(target_os = "linux")]
    async fn start_session(&mut self, db: &Db) -> AppResult<Session> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let held = match start_session(db).await? {
            Session::Held(h) => h,
            begun => return Ok(begun),
        };
        if self.failed >= PLACINGS || db.write_connection_opened_here() || db.writers_waiting() {
            return Ok(Session::Held(held));
        }
        if self.before_pin.is_none() {
            let before = crate::affinity::CpuSet::of_this_thread();
            let cpus = before.map(|b| b.cpus()).unwrap_or_default();
            let cpu = cpus
                .iter()
                .rev()
                .nth(NEXT.fetch_add(1, Ordering::Relaxed) % cpus.len().max(1))
                .and_then(|c| crate::affinity::CpuSet::only(*c));
            match (before, cpu) {
                (Some(before), Some(cpu))
                    if cpus.len() > 1 && cpu.apply_to_this_thread().is_ok() =>
                {
                    self.before_pin = Some(before);
                }
                _ => {
                    self.failed = PLACINGS;
                    return Ok(Session::Held(held));
                }
            }
        }
        held.close();
        let reopened = start_session(db).await;
        if reopened.is_ok() && db.write_connection_opened_here() {
            self.failed = 0;
        } else {
            self.failed += 1;
            if let Err(e) = &reopened {
                tracing::warn!(
                    "the write connection could not be opened again on the license writer's CPU: {e}"
                );
            }
            if self.failed >= PLACINGS
                && let Some(before) = self.before_pin.take()
                && let Err(e) = before.apply_to_this_thread()
            {
                tracing::warn!("the license writer's thread stays on one CPU: {e}");
            }
        }
        reopened
    }

    /// [`start_session`]: elsewhere the threads are left to the scheduler (a thread does not
    /// inherit a pin on every system).
    #[cfg(not(target_os = "linux"))]
    async fn start_session(&mut self, db: &Db) -> AppResult<Session> {
        start_session(db).await
    }
}

/// Starts a batch's transaction: begun on PostgreSQL; on SQLite the write connection taken.
async fn start_session(db: &Db) -> AppResult<Session> {
    match db.backend() {
        seatkeeper_store::Backend::Postgres => Ok(Session::Begun(db.begin().await?)),
        seatkeeper_store::Backend::Sqlite => Ok(Session::Held(db.hold_write_connection().await?)),
    }
}

impl App {
    /// Closes the connections the license writer opened for itself (PostgreSQL), waiting for
    /// a batch being committed on them.
    pub(crate) async fn close_license_writer(&self) {
        if self.db.backend() == seatkeeper_store::Backend::Postgres
            && let Some(db) = self.license_writer.own.get()
        {
            db.close_writes().await;
        }
    }

    /// What this server's license writer has done since it started.
    pub fn license_writer_stats(&self) -> WriterStats {
        let w = &self.license_writer;
        WriterStats {
            waiting: w.waiting.load(Ordering::Relaxed),
            running: w.running.load(Ordering::Relaxed),
            batches: w.batches.load(Ordering::Relaxed),
            changes: w.changes.load(Ordering::Relaxed),
            largest: w.largest.load(Ordering::Relaxed),
            retried: w.retried.load(Ordering::Relaxed),
        }
    }

    /// Queues one license change for the writer and waits until its batch has committed.
    /// Errors: the change's own refusal, or the database error that stopped its batch.
    pub(crate) async fn write_licenses(&self, actor: &Actor, changes: Vec<UserChange>) -> Answer {
        self.write_licenses_as(Acting::Actor(actor.clone()), changes)
            .await
    }

    /// [`App::write_licenses`] for whoever `acting` is (see [`Acting`]).
    pub(crate) async fn write_licenses_as(
        &self,
        acting: Acting,
        changes: Vec<UserChange>,
    ) -> Answer {
        let (reply, answer) = oneshot::channel();
        let write = LicenseWrite {
            acting,
            changes,
            now: self.now(),
            reply,
        };
        let w = &self.license_writer;
        w.waiting.fetch_add(1, Ordering::Relaxed);
        if w.queue.send(write).is_err() {
            w.waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(anyhow::anyhow!(
                "the license writer has stopped: the server is shutting down"
            )
            .into());
        }
        answer.await.map_err(|_| {
            AppError::from(anyhow::anyhow!(
                "the license writer stopped before answering: the change may not have been made"
            ))
        })?
    }

    /// Commits `batch` in one transaction (see the module documentation) and answers each
    /// change, running the batch again on contention.
    /// `first` is the first attempt's session, started already: a failure there counts as
    /// that attempt's error. Returns SQLite's write connection, for the next batch, if it is
    /// still sound.
    pub(crate) async fn commit_batch(
        &self,
        db: &Db,
        batch: Vec<LicenseWrite>,
        mut first: AppResult<Session>,
    ) -> Option<HeldWriter> {
        // A connection that was lost while it sat in the pool (the database restarted) fails
        // at the start, before anything of the batch was sent: start again at once, on another
        // (each pooled connection may have been lost).
        for _ in 0..LOST_CONNECTION_STARTS {
            match first {
                Err(AppError::Store(e)) if e.is_connection_lost() => {
                    tracing::info!("a database connection was lost, starting the batch again: {e}");
                    first = start_session(db).await;
                }
                _ => break,
            }
        }
        let mut next = Some(first);
        let mut held = None;
        let (units, replies): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|w| ((w.acting, w.changes, w.now), w.reply))
            .unzip();
        let mut attempt = 0u32;
        // The pools an attempt locked only when a change needed them (PostgreSQL): the next
        // attempt locks them with the users and the other pools, in order, before it reads the
        // users' licenses.
        let mut learned = BTreeSet::new();
        let answers = loop {
            attempt += 1;
            let session = match (next.take(), held.take()) {
                (Some(s), _) => s,
                (None, Some(h)) => Ok(Session::Held(h)),
                (None, None) => start_session(db).await,
            };
            let (result, kept) = self.run_session(session, &units, &mut learned).await;
            held = kept;
            match result {
                Ok(answers) => break answers,
                Err(e) if attempt < MAX_ATTEMPTS && (is_contention(&e) || self.stale_read(&e)) => {
                    // SQLite's write connection goes back to the pool while the batch waits
                    // to run again, so that a transaction waiting for it gets in first.
                    held = None;
                    self.license_writer.retried.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(
                        attempt,
                        size = units.len(),
                        "contention, running the batch again: {e}"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(2u64 << attempt.min(6)))
                        .await;
                }
                Err(e) => {
                    let message = e.to_string();
                    tracing::warn!(
                        size = units.len(),
                        "a batch of license changes failed: {message}"
                    );
                    self.license_writer.count(units.len());
                    for reply in replies {
                        let _ = reply.send(Err(failed_batch(&e)));
                    }
                    return held;
                }
            }
        };
        self.license_writer.count(units.len());
        for (reply, answer) in replies.into_iter().zip(answers) {
            // A caller that has gone away (the client disconnected) is not waiting any more.
            let _ = reply.send(answer);
        }
        held
    }

    /// Runs a batch in `session` and commits it, or rolls it back on an error. `Ok` holds each
    /// change's own answer; `Err` means nothing of the batch was committed. The second value
    /// is SQLite's write connection once its transaction is over, if it is sound.
    async fn run_session(
        &self,
        session: AppResult<Session>,
        units: &[(Acting, Vec<UserChange>, Time)],
        learned: &mut BTreeSet<PoolId>,
    ) -> (AppResult<Vec<Answer>>, Option<HeldWriter>) {
        match session {
            Err(e) => (Err(e), None),
            Ok(Session::Begun(mut tx)) => {
                match self.run_batch(&mut tx, false, units, learned).await {
                    Ok(answers) => (
                        tx.commit().await.map(|()| answers).map_err(AppError::from),
                        None,
                    ),
                    Err(e) => {
                        let _ = tx.rollback().await;
                        (Err(e), None)
                    }
                }
            }
            Ok(Session::Held(mut h)) => match self.run_batch(h.start(), true, units, learned).await
            {
                Ok(answers) => match h.commit().await {
                    Ok(()) => (Ok(answers), Some(h)),
                    Err(e) => (Err(e.into()), h.rollback().await),
                },
                Err(e) => (Err(e), h.rollback().await),
            },
        }
    }

    /// Runs every change of a batch in the transaction on `tx`, without committing it. `Ok`
    /// holds each change's own answer; on `Err` the caller rolls the transaction back.
    /// With `begin` (SQLite) no transaction is open yet: the batch's first statement begins it.
    ///
    /// On PostgreSQL the pools the batch will take seats from or give seats back to are locked
    /// together with its users, in id order, before their licenses are read: the central pools
    /// of the products the changes add and remove, and `learned`, the pools an earlier attempt
    /// of the batch found only later. A pool found only when a change needs it (the pool of a
    /// license bought by its user, or of every license a Replace takes back) is locked without
    /// waiting ([`subscriptions::lock_pool_nowait`]) and added to `learned`: a batch that waited
    /// for one pool while holding another could deadlock with a batch of another server that
    /// locked them the other way round. If another transaction holds it, the batch fails as
    /// contended, with every pool of its users' licenses added to `learned`, and runs again
    /// with them all locked in order, so it meets this at most once per pool held elsewhere.
    ///
    /// The bearers' credentials are read in the statement that reads the first organization's
    /// users when the writer knows which organization each bearer acts in. It remembers that
    /// (which never changes) for every token that worked in one of its batches, until a batch
    /// refuses it; the rest of a credential (the token revoked or expired, the account
    /// disabled, the roles) is read in every batch. Otherwise the credentials are read first,
    /// in a statement of their own, and the users of each organization after them.
    async fn run_batch(
        &self,
        tx: &mut Conn,
        mut begin: bool,
        units: &[(Acting, Vec<UserChange>, Time)],
        learned: &mut BTreeSet<PoolId>,
    ) -> AppResult<Vec<Answer>> {
        let catalog = self.catalog();
        let mut seen = Seen::default();
        let postgres = self.db.backend() == seatkeeper_store::Backend::Postgres;
        // The pools asked for, locked before the users' licenses are read (PostgreSQL).
        let mut asked = BTreeSet::new();
        let actors = match self.license_writer.tenants_known(units) {
            // Every bearer's organization is known: their credentials are read with the
            // first organization's users.
            Some(expected) => {
                let hashes = token_hashes(units);
                // None only for a batch with no change in it, and so with no token.
                let credentials = self
                    .preload_batch(
                        tx, units, &expected, &mut seen, learned, &mut asked, &hashes, &mut begin,
                    )
                    .await?
                    .unwrap_or_default();
                let actors = self.actors_from(tx, units, &credentials).await?;
                // An organization other than the one remembered cannot happen while a
                // token's organization never changes. Were it to, the batch fails (its changes
                // are answered "try again") rather than lock that organization's users after
                // the pools, and the writer forgets its tokens: their next batch reads their
                // credentials first.
                let moved = actors
                    .iter()
                    .zip(&expected)
                    .any(|(a, e)| matches!(a, Ok(a) if Some(a.tenant_id) != *e));
                if moved {
                    self.license_writer.forget(&hashes);
                    return Err(anyhow::anyhow!(
                        "a bearer token acts in another organization than it did"
                    )
                    .into());
                }
                actors
            }
            None => {
                let actors = self.actors_of(tx, units, &mut begin).await?;
                let tenants: Vec<Option<TenantId>> = actors
                    .iter()
                    .map(|a| a.as_ref().ok().map(|a| a.tenant_id))
                    .collect();
                self.preload_batch(
                    tx,
                    units,
                    &tenants,
                    &mut seen,
                    learned,
                    &mut asked,
                    &[],
                    &mut begin,
                )
                .await?;
                actors
            }
        };
        self.license_writer.remember(units, &actors);
        if begin {
            // Nothing was read: the transaction begins on its own.
            seatkeeper_store::sqlite_begin(tx).await?;
        }
        // The pools read with the users: on PostgreSQL those asked for, locked already (the
        // others are locked when a change first takes or gives back one of their seats).
        let mut ledger = Ledger {
            pools: seen
                .pools
                .values()
                .filter(|p| !postgres || asked.contains(&p.id))
                .map(|p| (p.id, (p.total, p.assigned)))
                .collect(),
        };
        let mut writes = WriteSet::default();
        let mut answers = Vec::with_capacity(units.len());
        for ((_, changes, now), actor) in units.iter().zip(actors) {
            let actor = match actor {
                Ok(a) => a,
                Err(e) => {
                    answers.push(Err(e));
                    continue;
                }
            };
            let planned = self
                .plan_writes(tx, &actor, changes, *now, Scope::Central, &mut seen)
                .await;
            match planned {
                Ok((out, w)) => match ledger.take(tx, &w.seats, &catalog, learned).await {
                    Ok(()) => {
                        seen.record(&out);
                        writes.merge(w);
                        answers.push(Ok((actor.tenant_id, out)));
                    }
                    Err(e) if !e.is_refusal() => {
                        if is_contention(&e) {
                            // A pool found late is held elsewhere: the next run locks it with
                            // the pools of all the users' licenses, any of which a later
                            // change may need.
                            learned.extend(seen.pools.keys().copied());
                        }
                        return Err(e);
                    }
                    Err(e) => answers.push(Err(e)),
                },
                // A failure of the database, not a refusal of the change, ends the batch: the
                // transaction may be gone (SQLite rolls back by itself when a disk is full or
                // an I/O fails), and the rest must not run outside it.
                Err(e) if !e.is_refusal() => return Err(e),
                Err(e) => answers.push(Err(e)),
            }
        }
        writes.flush(tx, &catalog).await?;
        // How the licenses work: the pools read with the users (on PostgreSQL once the rows
        // were locked, so a purchase committed before is in them), as the batch leaves them,
        // and the others read once per organization for the whole batch. On PostgreSQL a pool
        // locked only when a change needed it is among the others: its sums read with the
        // users may be older than its row.
        let known: BTreeMap<PoolId, Coverage> = seen
            .pools
            .values()
            .filter(|p| !postgres || asked.contains(&p.id) || !ledger.pools.contains_key(&p.id))
            .map(|p| {
                let assigned = ledger.pools.get(&p.id).map_or(p.assigned, |l| l.1);
                (
                    p.id,
                    Coverage {
                        assigned,
                        active: p.active,
                        expired: p.expired,
                    },
                )
            })
            .collect();
        let mut held: BTreeMap<TenantId, Vec<Assignment>> = BTreeMap::new();
        for (tenant, users) in answers.iter().flatten() {
            held.entry(*tenant)
                .or_default()
                .extend(users.iter().flat_map(|(_, l)| l.iter().cloned()));
        }
        let mut states = HashMap::new();
        for (tenant, list) in held {
            states.extend(crate::licenses::seat_states_with(tx, tenant, &list, &known).await?);
        }
        let mut out = Vec::with_capacity(answers.len());
        for a in answers {
            out.push(match a {
                Ok((_, users)) => {
                    let ids: Vec<UserId> = users.iter().map(|(u, _)| u.id).collect();
                    let sources = match seen.sources_of(&ids) {
                        Some(list) => list,
                        None => sources_of_users(tx, &ids).await?,
                    };
                    let states = users
                        .iter()
                        .flat_map(|(_, l)| l.iter())
                        .filter_map(|a| states.get(&a.id).map(|s| (a.id, *s)))
                        .collect();
                    Ok(Answered {
                        users,
                        states,
                        sources,
                    })
                }
                Err(e) => Err(e),
            });
        }
        Ok(out)
    }
}

impl App {
    /// Reads (on PostgreSQL locks first) the users the changes of `units` name, with their
    /// licenses, and the pools they will take seats from or give seats back to, per
    /// organization: the change at index i in the organization `tenants[i]` (none: not read,
    /// its bearer was refused). The pools: the central pools of the products the changes add
    /// and remove (on PostgreSQL one not known yet is read first), and `learned`; those read
    /// are added to `asked`. The credentials of the tokens stored under `hashes` are read with
    /// the first organization's users; `None` when there was none.
    #[allow(clippy::too_many_arguments)]
    async fn preload_batch(
        &self,
        tx: &mut Conn,
        units: &[(Acting, Vec<UserChange>, Time)],
        tenants: &[Option<TenantId>],
        seen: &mut Seen,
        learned: &BTreeSet<PoolId>,
        asked: &mut BTreeSet<PoolId>,
        hashes: &[&str],
        begin: &mut bool,
    ) -> AppResult<Option<tokens::Credentials>> {
        let postgres = self.db.backend() == seatkeeper_store::Backend::Postgres;
        // Per organization: the users named, and the products given and taken back.
        let mut by_tenant: BTreeMap<TenantId, (Vec<&str>, BTreeSet<SkuId>)> = BTreeMap::new();
        for ((_, changes, _), tenant) in units.iter().zip(tenants) {
            let Some(tenant) = tenant else { continue };
            let (keys, skus) = by_tenant.entry(*tenant).or_default();
            keys.extend(changes.iter().map(|c| c.user.as_str()));
            skus.extend(changes.iter().flat_map(|c| {
                let removed = match &c.remove {
                    Remove::These(list) => list.as_slice(),
                    Remove::AllOthers => &[],
                };
                c.add
                    .iter()
                    .map(|l| l.sku_id)
                    .chain(removed.iter().copied())
            }));
        }
        let mut credentials = None;
        for (tenant, (keys, skus)) in by_tenant {
            // The pools learned by an earlier attempt, whichever organization's: the lock
            // (`holders::read`) and the read of their seats both take only this
            // organization's, so another's pool is neither locked nor read here.
            let mut pools = learned.clone();
            for sku in skus {
                pools.extend(match self.known_central_pool(tenant, sku) {
                    Some(pool) => Some(pool),
                    // Read now (once per server and product that has one), to be locked with
                    // the others. SQLite has one writer: a pool not known is read when a change
                    // needs it.
                    None if postgres => self.central_pool_id(tx, tenant, sku).await?,
                    None => None,
                });
            }
            let pools: Vec<PoolId> = pools.into_iter().collect();
            let hashes = if credentials.is_none() { hashes } else { &[] };
            let read = seen
                .preload(
                    tx,
                    tenant,
                    keys.into_iter(),
                    &pools,
                    postgres,
                    begin,
                    hashes,
                )
                .await?;
            credentials.get_or_insert(read);
            asked.extend(pools);
        }
        Ok(credentials)
    }

    /// Who makes each change of a batch: the actors as queued, and the bearers of tokens
    /// authenticated now, in the batch's transaction ([`Acting::Token`]); a change whose
    /// bearer is refused gets that refusal as its answer. `begin` as for
    /// [`seatkeeper_store::tokens::credentials`].
    /// Errors: the database's, which end the batch.
    async fn actors_of<'a>(
        &self,
        tx: &mut Conn,
        units: &'a [(Acting, Vec<UserChange>, Time)],
        begin: &mut bool,
    ) -> AppResult<Vec<AppResult<Cow<'a, Actor>>>> {
        let hashes = token_hashes(units);
        let credentials = tokens::credentials(tx, &hashes, begin).await?;
        self.actors_from(tx, units, &credentials).await
    }

    /// [`App::actors_of`], with the credentials of the batch's tokens read already.
    async fn actors_from<'a>(
        &self,
        tx: &mut Conn,
        units: &'a [(Acting, Vec<UserChange>, Time)],
        credentials: &tokens::Credentials,
    ) -> AppResult<Vec<AppResult<Cow<'a, Actor>>>> {
        let mut out = Vec::with_capacity(units.len());
        for (acting, _, now) in units {
            out.push(match acting {
                Acting::Actor(a) => Ok(Cow::Borrowed(a)),
                Acting::Token(h) => match self.actor_of(tx, credentials.get(h), *now).await {
                    Ok(a) => a.require(Action::AssignLicenses).map(|()| Cow::Owned(a)),
                    Err(e) if !e.is_refusal() => return Err(e),
                    Err(e) => Err(e),
                },
            });
        }
        Ok(out)
    }
}

/// The hashes of the tokens whose bearers make changes of `units`, sorted, each once.
fn token_hashes(units: &[(Acting, Vec<UserChange>, Time)]) -> Vec<&str> {
    let mut hashes: Vec<&str> = units
        .iter()
        .filter_map(|(a, _, _)| match a {
            Acting::Token(h) => Some(h.as_str()),
            Acting::Actor(_) => None,
        })
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

impl Writer {
    /// The organization each change of `units` acts in, if every one is known before its
    /// bearer is authenticated: a queued actor's, and a token's that worked in one of this
    /// writer's batches and was not refused since. `None` when a token is not known.
    fn tenants_known(
        &self,
        units: &[(Acting, Vec<UserChange>, Time)],
    ) -> Option<Vec<Option<TenantId>>> {
        let known = self.tokens_known();
        units
            .iter()
            .map(|(a, _, _)| match a {
                Acting::Actor(a) => Some(Some(a.tenant_id)),
                Acting::Token(h) => known.get(h).map(|t| Some(*t)),
            })
            .collect()
    }

    /// Remembers the organization each token whose bearer's change in `units` was let through
    /// (`actors`, in the same order) acts in, and forgets each token whose bearer was refused:
    /// its next request is checked before it is queued.
    fn remember(
        &self,
        units: &[(Acting, Vec<UserChange>, Time)],
        actors: &[AppResult<Cow<'_, Actor>>],
    ) {
        let mut known = self.tokens_known();
        for ((acting, _, _), actor) in units.iter().zip(actors) {
            let Acting::Token(hash) = acting else {
                continue;
            };
            match actor {
                Ok(a) if known.get(hash) == Some(&a.tenant_id) => {}
                Ok(a) => {
                    if known.len() >= TOKENS_REMEMBERED && !known.contains_key(hash) {
                        known.clear();
                    }
                    known.insert(hash.clone(), a.tenant_id);
                }
                Err(_) => {
                    known.remove(hash);
                }
            }
        }
    }

    /// Forgets the tokens stored under `hashes`.
    fn forget(&self, hashes: &[&str]) {
        let mut known = self.tokens_known();
        for h in hashes {
            known.remove(*h);
        }
    }

    /// Counts a batch of `size` changes run to the end, before they are answered: a caller
    /// that has its answer finds its change counted.
    fn count(&self, size: usize) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.changes.fetch_add(size as u64, Ordering::Relaxed);
        self.largest.fetch_max(size, Ordering::Relaxed);
    }

    /// Whether the writer knows the organization the token stored under `hash` acts in.
    pub(crate) fn knows(&self, hash: &str) -> bool {
        self.tokens_known().contains_key(hash)
    }

    fn tokens_known(&self) -> std::sync::MutexGuard<'_, HashMap<String, TenantId>> {
        self.tenants_of_tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The seats of the pools a batch touches, as its changes leave them: each pool is read (and
/// on PostgreSQL locked until the batch commits) the first time a change of the batch takes or
/// gives back one of its seats.
#[derive(Default)]
struct Ledger {
    /// Per pool: licenses that work, and licenses assigned after the changes so far.
    pools: BTreeMap<PoolId, (i64, i64)>,
}

impl Ledger {
    /// Takes (or gives back) one change's seats if every pool has the licenses it needs;
    /// otherwise changes nothing and refuses with [`DomainError::NotEnoughLicenses`], as the
    /// same change on its own would be. A pool not read yet is locked and read now, without
    /// waiting for another transaction that holds it ([`subscriptions::lock_pool_nowait`],
    /// a contention error then), and added to `learned`.
    async fn take(
        &mut self,
        tx: &mut Conn,
        seats: &BTreeMap<PoolId, (SkuId, i64)>,
        catalog: &Catalog,
        learned: &mut BTreeSet<PoolId>,
    ) -> AppResult<()> {
        for pool in seats.keys() {
            if !self.pools.contains_key(pool) {
                learned.insert(*pool);
                let p = subscriptions::lock_pool_nowait(tx, *pool)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("pool {pool} does not exist"))?;
                self.pools.insert(*pool, (p.total, p.assigned));
            }
        }
        for (pool, (sku, n)) in seats {
            let (total, assigned) = self.pools.get(pool).copied().unwrap_or_default();
            if *n > 0 && assigned + n > total {
                return Err(DomainError::NotEnoughLicenses {
                    sku_id: *sku,
                    product: catalog.part_number(*sku),
                    needed: *n,
                    available: (total - assigned).max(0),
                }
                .into());
            }
        }
        for (pool, (_, n)) in seats {
            if let Some(p) = self.pools.get_mut(pool) {
                p.1 += n;
            }
        }
        Ok(())
    }
}

impl App {
    /// Whether a batch failed because it wrote from a read made before another transaction's
    /// change committed (PostgreSQL): a batch reads its users' licenses once their rows are
    /// locked, so a license given under that lock is seen; one given without it (a path that
    /// does not lock the user) may not be, and the batch's own insert of it meets the unique
    /// key. Nothing of the batch was made; run again, it reads that license. On SQLite the one
    /// writer excludes that, and a unique violation is a real conflict.
    fn stale_read(&self, e: &AppError) -> bool {
        self.db.backend() == seatkeeper_store::Backend::Postgres
            && matches!(e, AppError::Conflict { .. })
    }
}

/// What each change of a batch that failed as a whole is answered, for the batch's error `e`:
/// a full disk (507) and a database with no free connection (503) as themselves, anything
/// else as a change not saved, to try again (500).
fn failed_batch(e: &AppError) -> AppError {
    match e {
        AppError::StorageFull(detail) => AppError::StorageFull(detail.clone()),
        AppError::Busy(_) => seatkeeper_store::sqlx::Error::PoolTimedOut.into(),
        _ => anyhow::anyhow!("the change was not saved ({e}): try again").into(),
    }
}

/// Whether running the batch again may succeed: the database reported contention.
fn is_contention(e: &AppError) -> bool {
    matches!(e, AppError::Store(d) if d.is_retryable())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_of_a_failed_batch_gets_the_batch_s_kind_of_failure() {
        let busy = AppError::from(seatkeeper_store::sqlx::Error::PoolTimedOut);
        assert!(matches!(failed_batch(&busy), AppError::Busy(_)));
        let full = AppError::StorageFull("disk full".into());
        assert!(matches!(failed_batch(&full), AppError::StorageFull(d) if d == "disk full"));
        let other = AppError::from(seatkeeper_store::sqlx::Error::RowNotFound);
        let answered = failed_batch(&other);
        assert!(matches!(answered, AppError::Internal(_)));
        assert!(
            answered
                .to_string()
                .starts_with("the change was not saved (")
                && answered.to_string().ends_with("): try again"),
            "{answered}"
        );
    }
}
