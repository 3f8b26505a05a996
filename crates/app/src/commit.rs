//! Group commit for license changes (L1–L5).
//!
//! Every admin license change ([`App::assign_license`], the 20-user and bulk operations, one
//! user's licenses set at once) is queued to one writer per server. The writer takes whatever is
//! queued when it is free (at most [`MAX_BATCH`] changes; no fixed wait, so a lone change is
//! committed at once) and runs the whole batch in one transaction:
//!
//! - each change runs inside its own savepoint, with the same rules and writes as a change on its
//!   own ([`App::apply_changes`]); a refused change (not enough licenses, a plan conflict, a
//!   user who does not exist) is rolled back to its savepoint and answered with its own error,
//!   and changes nothing for the others;
//! - nobody is answered before the batch's `COMMIT` has returned: an acknowledged change is
//!   durable, and a change whose batch did not commit is not there at all;
//! - the changes of a batch see each other in queue order, exactly as if they had run one after
//!   the other: seats taken by an earlier change are not available to a later one, so counts
//!   never exceed what was bought;
//! - on PostgreSQL the product's pool row is locked by the batch's first change that takes or
//!   gives back a seat and held until the batch commits, so concurrent changes on this server
//!   no longer queue on it one commit at a time; other servers on the same database queue
//!   behind the batch as a whole, or meet a deadlock that the database reports and the batch
//!   runs again (nothing of it was acknowledged).
//!
//! A batch that meets contention (see [`seatkeeper_store::is_retryable`]) is run again whole,
//! up to [`MAX_ATTEMPTS`] times, like any transaction (see [`App::transact`]).

use crate::licenses::UserChange;
use crate::{Actor, App, AppError, AppResult, Inner, MAX_ATTEMPTS};
use seatkeeper_domain::Time;
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::directory::User;
use seatkeeper_store::Tx;
use std::sync::Weak;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::{mpsc, oneshot};

/// The most changes one batch commits together. With more waiting, the rest go in the next
/// batch, which starts as soon as this one has committed.
pub const MAX_BATCH: usize = 128;

/// What one change's caller is answered: each user with the licenses they now hold.
pub(crate) type Answer = AppResult<Vec<(User, Vec<Assignment>)>>;

/// One queued license change: who acts, what changes, the time it is recorded at, and where
/// its answer goes.
pub(crate) struct LicenseWrite {
    pub actor: Actor,
    pub changes: Vec<UserChange>,
    pub now: Time,
    pub reply: oneshot::Sender<Answer>,
}

/// A server's license writer: its queue and what it has done so far.
pub struct Writer {
    queue: mpsc::UnboundedSender<LicenseWrite>,
    waiting: AtomicUsize,
    batches: AtomicU64,
    changes: AtomicU64,
    largest: AtomicUsize,
}

/// What a server's license writer has done since it started (see [`App::license_writer_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterStats {
    /// Changes queued or in the batch being committed, not answered yet.
    pub waiting: usize,
    /// Batches run to the end (committed, or failed as a whole).
    pub batches: u64,
    /// Changes answered, accepted or refused.
    pub changes: u64,
    /// The most changes one batch has held.
    pub largest: usize,
}

/// Starts the writer of `app` on the current Tokio runtime. The writer holds the app weakly:
/// it stops when the last [`App`] is dropped (its queue closes then).
pub(crate) fn start(app: Weak<Inner>) -> Writer {
    let (queue, mut rx) = mpsc::unbounded_channel::<LicenseWrite>();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(w) => batch.push(w),
                    Err(_) => break,
                }
            }
            let Some(inner) = app.upgrade() else {
                return;
            };
            let size = batch.len();
            App(inner.clone()).commit_batch(batch).await;
            let w = &inner.license_writer;
            w.waiting.fetch_sub(size, Ordering::Relaxed);
            w.batches.fetch_add(1, Ordering::Relaxed);
            w.changes.fetch_add(size as u64, Ordering::Relaxed);
            w.largest.fetch_max(size, Ordering::Relaxed);
        }
    });
    Writer {
        queue,
        waiting: AtomicUsize::new(0),
        batches: AtomicU64::new(0),
        changes: AtomicU64::new(0),
        largest: AtomicUsize::new(0),
    }
}

impl App {
    /// What this server's license writer has done since it started.
    pub fn license_writer_stats(&self) -> WriterStats {
        let w = &self.license_writer;
        WriterStats {
            waiting: w.waiting.load(Ordering::Relaxed),
            batches: w.batches.load(Ordering::Relaxed),
            changes: w.changes.load(Ordering::Relaxed),
            largest: w.largest.load(Ordering::Relaxed),
        }
    }

    /// Queues one license change for the writer and waits until its batch has committed.
    /// Errors: the change's own refusal, or the database error that stopped its batch.
    pub(crate) async fn write_licenses(&self, actor: &Actor, changes: Vec<UserChange>) -> Answer {
        let (reply, answer) = oneshot::channel();
        let write = LicenseWrite {
            actor: actor.clone(),
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
    pub(crate) async fn commit_batch(&self, batch: Vec<LicenseWrite>) {
        let (units, replies): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|w| ((w.actor, w.changes, w.now), w.reply))
            .unzip();
        let mut attempt = 0u32;
        let answers = loop {
            attempt += 1;
            match self.run_batch(&units).await {
                Ok(answers) => break answers,
                Err(e) if attempt < MAX_ATTEMPTS && is_contention(&e) => {
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
                    for reply in replies {
                        let _ = reply.send(Err(anyhow::anyhow!(
                            "the change was not saved ({message}): try again"
                        )
                        .into()));
                    }
                    return;
                }
            }
        };
        for (reply, answer) in replies.into_iter().zip(answers) {
            // A caller that has gone away (the client disconnected) is not waiting any more.
            let _ = reply.send(answer);
        }
    }

    /// Runs every change of a batch in one transaction and commits it. `Ok` holds each change's
    /// own answer; `Err` means nothing of the batch was committed.
    async fn run_batch(&self, units: &[(Actor, Vec<UserChange>, Time)]) -> AppResult<Vec<Answer>> {
        let mut tx: Tx = self.db.begin().await?;
        // A lone change needs no savepoint: its refusal rolls back the transaction itself.
        if let [(actor, changes, now)] = units {
            return match self.apply_changes(&mut tx, actor, changes, *now).await {
                Ok(v) => {
                    tx.commit().await?;
                    Ok(vec![Ok(v)])
                }
                Err(e) if is_contention(&e) => {
                    let _ = tx.rollback().await;
                    Err(e)
                }
                Err(e) => {
                    let _ = tx.rollback().await;
                    Ok(vec![Err(e)])
                }
            };
        }
        let mut answers = Vec::with_capacity(units.len());
        for (actor, changes, now) in units {
            let mut savepoint = seatkeeper_store::sqlx::Acquire::begin(&mut tx).await?;
            match self
                .apply_changes(&mut savepoint, actor, changes, *now)
                .await
            {
                Ok(v) => {
                    savepoint.commit().await?;
                    answers.push(Ok(v));
                }
                Err(e) if is_contention(&e) => {
                    drop(savepoint);
                    let _ = tx.rollback().await;
                    return Err(e);
                }
                Err(e) => {
                    savepoint.rollback().await?;
                    answers.push(Err(e));
                }
            }
        }
        tx.commit().await?;
        Ok(answers)
    }
}

/// Whether running the batch again may succeed: the database reported contention.
fn is_contention(e: &AppError) -> bool {
    matches!(e, AppError::Store(d) if d.is_retryable())
}
