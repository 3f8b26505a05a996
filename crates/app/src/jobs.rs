//! Background jobs: the subscription lifecycle, the purge of old license requests and e-mail
//! delivery. Each step is its own
//! transaction and guarded by the row's current status, so several server processes can run
//! them side by side.

use crate::{App, AppResult, mail};
use seatkeeper_domain::lifecycle::{EXPIRING_NOTICE_DAYS, Transition};
use seatkeeper_store::{outbox, subscriptions};

/// What one run of the jobs did.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobReport {
    pub now: String,
    pub renewed: u64,
    pub expired: u64,
    pub disabled: u64,
    pub deleted: u64,
    pub mails_sent: u64,
    pub mails_failed: u64,
    /// License requests purged after the organization's retention (REQ6).
    pub requests_purged: u64,
    /// The same, per retention (organizations keep requests 12 months unless they set
    /// another).
    pub requests_purged_by_retention: Vec<PurgedRequests>,
}

/// How many license requests one run purged after a retention of `retention_months`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PurgedRequests {
    pub retention_months: i64,
    pub requests: u64,
}

impl JobReport {
    /// What the purge did, in words: "Purged 3 license requests older than 12 months."
    /// (a sentence per retention), or that nothing was old enough.
    pub fn purged_text(&self) -> Vec<String> {
        if self.requests_purged_by_retention.is_empty() {
            return vec![
                "Purged no license requests: none is older than its organization's retention."
                    .into(),
            ];
        }
        self.requests_purged_by_retention
            .iter()
            .map(|p| {
                format!(
                    "Purged {} license request{} older than {} month{}.",
                    p.requests,
                    if p.requests == 1 { "" } else { "s" },
                    p.retention_months,
                    if p.retention_months == 1 { "" } else { "s" }
                )
            })
            .collect()
    }
}

/// Attempts before a message is given up (status `failed`).
pub const MAX_ATTEMPTS: i64 = 10;

impl App {
    /// Runs every job once, for the clock's current time.
    pub async fn run_jobs(&self) -> AppResult<JobReport> {
        let now = self.now();
        let mut report = JobReport {
            now: now.to_rfc3339(),
            ..Default::default()
        };
        if let Err(e) = self.refresh_catalog().await {
            tracing::warn!("catalog refresh failed: {e:#}");
        }
        // Lifecycle: in batches until nothing is due.
        loop {
            let due = {
                let mut conn = self.read().await?;
                subscriptions::due(
                    &mut conn,
                    now,
                    now + chrono::Duration::days(EXPIRING_NOTICE_DAYS),
                    200,
                )
                .await?
            };
            let mut progressed = false;
            for s in &due {
                let steps = match self
                    .transact(move |tx| {
                        Box::pin(async move {
                            self.advance_subscription(tx, s.id, s.tenant_id, now).await
                        })
                    })
                    .await
                {
                    Ok(steps) => steps,
                    Err(crate::AppError::Conflict { message, .. }) => {
                        tracing::debug!("{message}; retried on the next run");
                        vec![]
                    }
                    Err(e) => return Err(e),
                };
                progressed |= !steps.is_empty();
                for t in steps {
                    match t {
                        Transition::Renew { .. } => report.renewed += 1,
                        Transition::Expire { .. } => report.expired += 1,
                        Transition::Disable { .. } => report.disabled += 1,
                        Transition::Delete { .. } => report.deleted += 1,
                    }
                }
            }
            if due.len() < 200 || !progressed {
                break;
            }
        }
        report.requests_purged_by_retention = self.purge_requests().await?;
        report.requests_purged = report
            .requests_purged_by_retention
            .iter()
            .map(|p| p.requests)
            .sum();
        let (sent, failed) = self.deliver_mail().await?;
        report.mails_sent = sent;
        report.mails_failed = failed;
        Ok(report)
    }

    /// Sends what is due in the outbox; returns (sent, failed attempts).
    ///
    /// Each message is claimed on its own, just before it is sent, with a random claim token and
    /// a lease from the clock at that moment that outlasts the whole delivery attempt
    /// ([`mail::CLAIM_LEASE`] > [`mail::DELIVERY_TIMEOUT`]). So with several servers on one
    /// database a message is sent once however slow the mail server is, and only the holder of
    /// the claim records the outcome.
    pub async fn deliver_mail(&self) -> AppResult<(u64, u64)> {
        let (mut sent, mut failed) = (0, 0);
        let ids = {
            let mut conn = self.read().await?;
            outbox::due(&mut conn, self.now(), 100).await?
        };
        let lease = chrono::Duration::from_std(mail::CLAIM_LEASE)
            .unwrap_or_else(|_| chrono::Duration::minutes(10));
        for id in ids {
            let token = uuid::Uuid::new_v4().simple().to_string();
            let token = &token;
            let claimed = self
                .transact(move |tx| {
                    Box::pin(async move {
                        let now = self.now();
                        Ok(outbox::claim(tx, id, token, now, now + lease).await?)
                    })
                })
                .await?;
            let Some(m) = claimed else { continue };
            match mail::deliver(&self.config.mail, &m).await {
                Ok(()) => {
                    let held = self
                        .transact(move |tx| {
                            Box::pin(async move {
                                Ok(outbox::mark_sent(tx, id, token, self.now()).await?)
                            })
                        })
                        .await?;
                    if !held {
                        tracing::warn!(to = %m.to, id = %id, "mail sent, but its claim had been taken over meanwhile");
                    }
                    sent += 1;
                }
                Err(e) => {
                    let retry = (m.attempts < MAX_ATTEMPTS).then(|| {
                        self.now()
                            + chrono::Duration::seconds(30 * (1i64 << m.attempts.clamp(0, 10)))
                    });
                    let msg = format!("{e:#}");
                    tracing::warn!(to = %m.to, attempt = m.attempts, "mail delivery failed: {msg}");
                    let msg = &msg;
                    self.transact(move |tx| {
                        Box::pin(async move {
                            Ok(outbox::mark_failed(tx, id, token, msg, retry).await?)
                        })
                    })
                    .await?;
                    failed += 1;
                }
            }
        }
        Ok((sent, failed))
    }

    /// The outbox of the actor's tenant, newest first (MAIL2: what was sent, or is waiting to
    /// be sent again). Global admins only: the messages name other admins and their addresses.
    pub async fn list_mail(
        &self,
        actor: &crate::Actor,
        limit: i64,
    ) -> AppResult<Vec<outbox::Message>> {
        actor.require(seatkeeper_domain::roles::Action::ManageTenant)?;
        let mut conn = self.read().await?;
        Ok(outbox::list(&mut conn, actor.tenant_id, limit).await?)
    }

    /// Audit log of the actor's tenant, newest first: the one audit query of REST, the pages
    /// and the CLI. `q.actor` matches the start of the actor as the log shows it (a user name,
    /// `operator`, `system`), ignoring case. `q.target_id` matches the id of what changed, or
    /// names it: a user's user name or display name, or a group's name (ignoring case),
    /// resolved to ids through the directory.
    pub async fn audit_log(
        &self,
        actor: &crate::Actor,
        q: &seatkeeper_domain::audit::AuditQuery,
    ) -> AppResult<Vec<seatkeeper_domain::audit::AuditEntry>> {
        actor.require(seatkeeper_domain::roles::Action::Read)?;
        let targets = match q.target_id.as_deref().map(str::trim) {
            Some(t) if !t.is_empty() => Some(self.audit_targets(actor, t).await?),
            _ => None,
        };
        let mut conn = self.read().await?;
        Ok(
            seatkeeper_store::audit::list(&mut conn, actor.tenant_id, q, targets.as_deref())
                .await?,
        )
    }

    /// The ids a target filter stands for: itself (an id, or what a deleted object was), and
    /// the users whose user name or display name is `text` and the groups named `text`.
    async fn audit_targets(&self, actor: &crate::Actor, text: &str) -> AppResult<Vec<String>> {
        let mut ids = vec![text.to_string()];
        if seatkeeper_domain::UserId::parse(text).is_some() {
            return Ok(ids);
        }
        let lower = text.to_lowercase();
        for u in self.find_users(actor, text, 50).await? {
            if u.upn.to_lowercase() == lower || u.display_name.to_lowercase() == lower {
                ids.push(u.id.to_string());
            }
        }
        for g in self.list_groups(actor, Some(text), None, 50).await? {
            if g.display_name.to_lowercase() == lower {
                ids.push(g.id.to_string());
            }
        }
        Ok(ids)
    }

    /// Picks up a catalog imported elsewhere within a second, for a server that runs no jobs
    /// (`serve --no-jobs`; the job loop refreshes the catalog itself).
    pub async fn catalog_watch(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.refresh_catalog().await {
                tracing::warn!("catalog refresh failed: {e:#}");
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// Runs the jobs every second, and at once when the development clock moves, until `stop`.
    pub async fn job_loop(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.run_jobs().await {
                tracing::error!("background jobs failed: {e}");
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                _ = self.clock.moved.notified() => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    }
}
