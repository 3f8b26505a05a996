//! Signing in with a user name and password, and the server-side sessions of the admin center.
//!
//! A session's secret goes into the browser's cookie; the database keeps only its SHA-256 hash,
//! so sessions survive restarts and work across servers on one PostgreSQL. Failed sign-ins are
//! counted per lower-cased user name (known or not) and slow further tries down.

use crate::auth::{hash_token, new_secret_with};
use crate::passwords::{check_policy, hash_password, verify_password};
use crate::{Actor, App, AppError, AppResult, audit};
use chrono::Duration;
use seatkeeper_domain::audit::AuditAction;
use seatkeeper_domain::{SessionId, TenantId, Time, UserId};
use seatkeeper_store::sessions::{self as store, SessionRow, SignInCandidate, Throttle};
use seatkeeper_store::{Conn, directory as dir, tenants};
use serde_json::json;

/// The prefix of a session secret (a bearer token starts with `sk_`).
pub const SESSION_PREFIX: &str = "sks_";
/// The one answer to a wrong user name, a wrong password, an account without a password, or a
/// disabled account with a wrong password: it does not say which part was wrong.
pub const WRONG_CREDENTIALS: &str = "The user name or password is incorrect.";
/// A session unused for this long has ended.
pub const IDLE_TIMEOUT_HOURS: i64 = 8;
/// Failures within [`FAILURE_WINDOW_MINUTES`] before further tries must wait.
pub const MAX_FAILURES: i64 = 5;
/// How long failures are remembered.
pub const FAILURE_WINDOW_MINUTES: i64 = 15;
/// The first wait after [`MAX_FAILURES`] failures; it doubles with each further failure.
pub const FIRST_WAIT_SECONDS: i64 = 30;
/// The longest wait.
pub const MAX_WAIT_MINUTES: i64 = 15;
/// `last_seen_at` is written at most this often, so reading a session stays cheap.
const TOUCH_EVERY_SECONDS: i64 = 60;

/// Where a sign-in came from, for the audit log and the session list.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A signed-in session: who acts, and the CSRF token that its forms carry.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: SessionId,
    pub actor: Actor,
    /// Sent with every state-changing request of this session and checked against this value.
    pub csrf_token: String,
    /// The user must choose a new password before anything else.
    pub must_change_password: bool,
    pub created_at: Time,
    pub last_seen_at: Time,
}

/// The result of a successful sign-in. `secret` is the cookie's value: shown to the browser
/// once, stored only as a hash, hidden by `Debug`.
#[derive(Clone)]
pub struct SignedIn {
    pub secret: String,
    pub session: Session,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("secret", &"***")
            .field("session", &self.session)
            .finish()
    }
}

fn idle_timeout() -> Duration {
    Duration::hours(IDLE_TIMEOUT_HOURS)
}

/// Why a session's secret signs no one in any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// No session has this secret (signed out, ended by an admin, or never one): nothing more
    /// can be said to whoever sent it.
    Unknown,
    /// It was not used for [`IDLE_TIMEOUT_HOURS`] hours; it has now ended.
    Idle,
    /// Its account is disabled.
    Disabled {
        /// The account's user name.
        upn: String,
    },
}

fn signed_out() -> AppError {
    AppError::Unauthorized("You are not signed in, or your session has ended: sign in.".into())
}

fn wrong() -> AppError {
    AppError::Unauthorized(WRONG_CREDENTIALS.into())
}

/// How long to wait after `failures` failures (from the [`MAX_FAILURES`]th on).
fn wait_after(failures: i64) -> Duration {
    let doublings = (failures - MAX_FAILURES).clamp(0, 20);
    let wait = Duration::seconds(FIRST_WAIT_SECONDS.saturating_mul(1i64 << doublings));
    wait.min(Duration::minutes(MAX_WAIT_MINUTES))
}

/// Whole seconds, rounded up (a wait of 29.9 s is "30 seconds").
fn ceil_secs(d: Duration) -> i64 {
    ((d.num_milliseconds() + 999) / 1000).max(1)
}

/// "45 seconds", "2 minutes".
fn in_words(d: Duration) -> String {
    let s = ceil_secs(d);
    if s < 120 {
        format!("{s} second{}", if s == 1 { "" } else { "s" })
    } else {
        format!("{} minutes", (s + 59) / 60)
    }
}

fn throttled(wait: Duration) -> AppError {
    AppError::TooManyRequests {
        message: format!(
            "Too many failed sign-ins for this user name: wait {} and try again.",
            in_words(wait)
        ),
        retry_after_secs: u64::try_from(ceil_secs(wait)).unwrap_or(1),
    }
}

/// The key failures are counted under: the user name, trimmed and lower-cased.
fn name_key(user_name: &str) -> String {
    user_name.trim().to_lowercase()
}

/// Lets one try for `key` through, counted as a failure until it succeeds (so that parallel
/// guesses cannot pass the check together), or says how long to wait.
async fn admit(tx: &mut Conn, key: &str, now: Time) -> AppResult<Result<(), Duration>> {
    let window = Duration::minutes(FAILURE_WINDOW_MINUTES);
    store::purge_throttle(tx, now - Duration::days(1)).await?;
    let t = store::throttle(tx, key).await?;
    if let Some(until) = t.and_then(|t| t.locked_until)
        && until > now
    {
        return Ok(Err(until - now));
    }
    let failures = match t {
        Some(t)
            if now - t.last_failed_at <= window
                || t.locked_until.is_some_and(|u| now - u <= window) =>
        {
            t.failures + 1
        }
        _ => 1,
    };
    let locked_until = (failures >= MAX_FAILURES).then(|| now + wait_after(failures));
    store::put_throttle(
        tx,
        key,
        &Throttle {
            failures,
            last_failed_at: now,
            locked_until,
        },
    )
    .await?;
    Ok(Ok(()))
}

/// The one who tries to sign in, for audit entries about a failure in `tenant`.
fn trying(tenant: TenantId, user_name: &str) -> Actor {
    Actor {
        tenant_id: tenant,
        user_id: None,
        name: format!("{} (sign-in)", user_name.trim()),
        roles: vec![],
        partner: None,
    }
}

fn from_where(client: &ClientInfo) -> String {
    client
        .ip
        .as_deref()
        .map(|ip| format!(" from {ip}"))
        .unwrap_or_default()
}

/// What the password check found.
enum Outcome {
    Success(SignInCandidate),
    Ambiguous,
    Disabled(SignInCandidate),
    Failed,
}

impl App {
    /// Signs in with a user name (userPrincipalName, any case) and password. User names are
    /// unique per organization only: the enabled account whose password verifies signs in; if
    /// several do, `organization` (name or tenant id) must say which. Wrong user name, wrong
    /// password and no password set all get [`WRONG_CREDENTIALS`]; a disabled account is told so
    /// only after the right password. After [`MAX_FAILURES`] failures within
    /// [`FAILURE_WINDOW_MINUTES`] minutes, tries for that user name must wait (429). Audited.
    pub async fn sign_in(
        &self,
        user_name: &str,
        password: &str,
        organization: Option<&str>,
        client: &ClientInfo,
    ) -> AppResult<SignedIn> {
        if user_name.trim().is_empty() {
            return Err(AppError::invalid(
                "missingUserName",
                "Enter your user name.",
            ));
        }
        if password.is_empty() {
            return Err(AppError::invalid("missingPassword", "Enter your password."));
        }
        let key = name_key(user_name);
        if key.chars().count() > 256 || password.chars().count() > crate::passwords::MAX_LEN {
            // Longer than any account's name or password can be: nothing to look up.
            let _ = verify_password(password, None).await;
            return Err(wrong());
        }
        let now = self.now();
        let k = &key;
        self.transact(move |tx| Box::pin(async move { admit(tx, k, now).await }))
            .await?
            .map_err(throttled)?;

        let mut conn = self.read().await?;
        let mut candidates = store::sign_in_candidates(&mut conn, &key).await?;
        if let Some(org) = organization.map(str::trim).filter(|o| !o.is_empty()) {
            let org_key = tenants::name_key(org);
            let id = TenantId::parse(org);
            candidates.retain(|c| {
                Some(c.tenant_id) == id || tenants::name_key(&c.tenant_name) == org_key
            });
        }
        drop(conn);
        let mut verified = Vec::new();
        if candidates.is_empty() {
            let _ = verify_password(password, None).await;
        }
        for c in &candidates {
            if verify_password(password, c.password_hash.as_deref()).await {
                verified.push(c.clone());
            }
        }
        let enabled: Vec<&SignInCandidate> =
            verified.iter().filter(|c| c.account_enabled).collect();
        let outcome = match (enabled.as_slice(), verified.first()) {
            ([one], _) => Outcome::Success((*one).clone()),
            ([_, _, ..], _) => Outcome::Ambiguous,
            ([], Some(disabled)) => Outcome::Disabled(disabled.clone()),
            ([], None) => Outcome::Failed,
        };
        let where_ = from_where(client);
        match outcome {
            Outcome::Success(c) => {
                let secret = new_secret_with(SESSION_PREFIX);
                let csrf_token = uuid::Uuid::new_v4().simple().to_string();
                let row = SessionRow {
                    id: SessionId::new(),
                    tenant_id: c.tenant_id,
                    user_id: c.user_id,
                    csrf_token,
                    client_ip: client.ip.clone().map(|s| s.chars().take(64).collect()),
                    user_agent: client
                        .user_agent
                        .clone()
                        .map(|s| s.chars().take(512).collect()),
                    created_at: now,
                    last_seen_at: now,
                };
                let hash = hash_token(&secret);
                let (key, row, hash, c, where_) = (&key, &row, &hash, &c, &where_);
                let session = self
                    .transact(move |tx| {
                        Box::pin(async move {
                            store::clear_throttle(tx, key).await?;
                            store::purge_idle_sessions(tx, now - idle_timeout()).await?;
                            store::insert_session(tx, row, hash).await?;
                            let roles = dir::roles_of(tx, c.user_id).await?;
                            let must = store::password_of(tx, c.user_id)
                                .await?
                                .is_some_and(|p| p.force_change);
                            let actor = Actor {
                                tenant_id: c.tenant_id,
                                user_id: Some(c.user_id),
                                name: c.upn.clone(),
                                roles,
                                partner: None,
                            };
                            audit::record(
                                tx,
                                &actor,
                                now,
                                AuditAction::SignIn,
                                "user",
                                c.user_id,
                                format!("{} signed in{where_}", c.upn),
                                None,
                                Some(json!({"result": "success", "ip": client.ip})),
                            )
                            .await?;
                            Ok(Session {
                                id: row.id,
                                actor,
                                csrf_token: row.csrf_token.clone(),
                                must_change_password: must,
                                created_at: now,
                                last_seen_at: now,
                            })
                        })
                    })
                    .await?;
                Ok(SignedIn { secret, session })
            }
            Outcome::Ambiguous => {
                let key = &key;
                self.transact(move |tx| {
                    Box::pin(async move {
                        store::clear_throttle(tx, key).await?;
                        Ok(())
                    })
                })
                .await?;
                Err(AppError::invalid(
                    "organizationRequired",
                    "This user name and password belong to accounts in more than one organization: enter the organization's name too.",
                ))
            }
            Outcome::Disabled(c) => {
                let (key, c, where_) = (&key, &c, &where_);
                self.transact(move |tx| Box::pin(async move {
                    store::clear_throttle(tx, key).await?;
                    audit::record(tx, &trying(c.tenant_id, user_name), now, AuditAction::SignIn, "user", c.user_id, format!("Sign-in of {} refused{where_}: the account is disabled", c.upn), None, Some(json!({"result": "failure", "reason": "account disabled", "ip": client.ip}))).await?;
                    Ok(())
                })).await?;
                Err(AppError::Unauthorized(format!(
                    "The account {} is disabled: ask an administrator to enable it.",
                    c.upn
                )))
            }
            Outcome::Failed => {
                if candidates.is_empty() {
                    tracing::info!(user_name = %key, ip = ?client.ip, "sign-in failed: no account has this user name");
                } else {
                    let (candidates, where_) = (&candidates, &where_);
                    self.transact(move |tx| Box::pin(async move {
                        for c in candidates {
                            let reason = if c.password_hash.is_none() { "no password set" } else { "wrong password" };
                            audit::record(tx, &trying(c.tenant_id, user_name), now, AuditAction::SignIn, "user", c.user_id, format!("Sign-in of {} failed{where_}: {reason}", c.upn), None, Some(json!({"result": "failure", "reason": reason, "ip": client.ip}))).await?;
                        }
                        Ok(())
                    })).await?;
                }
                Err(wrong())
            }
        }
    }

    /// The session whose cookie value is `secret`. Ends it after [`IDLE_TIMEOUT_HOURS`] hours
    /// without use; refused for a disabled account.
    pub async fn session(&self, secret: &str) -> AppResult<Session> {
        match self.session_or_ended(secret).await? {
            Ok(s) => Ok(s),
            Err(Ended::Unknown) => Err(signed_out()),
            Err(Ended::Idle) => Err(AppError::Unauthorized(format!(
                "Your session ended after {IDLE_TIMEOUT_HOURS} hours without activity: sign in again."
            ))),
            Err(Ended::Disabled { upn }) => Err(AppError::Unauthorized(format!(
                "The account {upn} is disabled."
            ))),
        }
    }

    /// The session whose cookie value is `secret`, or why it signs no one in any more (for
    /// the sign-in page to say so to the holder of the session's secret). Ends it after
    /// [`IDLE_TIMEOUT_HOURS`] hours without use.
    pub async fn session_or_ended(&self, secret: &str) -> AppResult<Result<Session, Ended>> {
        let secret = secret.trim();
        if !secret.starts_with(SESSION_PREFIX) || secret.len() > 200 {
            return Ok(Err(Ended::Unknown));
        }
        let mut conn = self.read().await?;
        let Some(v) = store::session_by_hash(&mut conn, &hash_token(secret)).await? else {
            return Ok(Err(Ended::Unknown));
        };
        drop(conn);
        let now = self.now();
        let id = v.session.id;
        if now - v.session.last_seen_at >= idle_timeout() {
            self.transact(move |tx| {
                Box::pin(async move {
                    store::delete_session(tx, id).await?;
                    Ok(())
                })
            })
            .await?;
            return Ok(Err(Ended::Idle));
        }
        if !v.account_enabled {
            return Ok(Err(Ended::Disabled { upn: v.upn }));
        }
        let mut last_seen_at = v.session.last_seen_at;
        if (now - last_seen_at).num_seconds() >= TOUCH_EVERY_SECONDS {
            self.transact(move |tx| {
                Box::pin(async move {
                    store::touch_session(tx, id, now).await?;
                    Ok(())
                })
            })
            .await?;
            last_seen_at = now;
        }
        Ok(Ok(Session {
            id,
            actor: Actor {
                tenant_id: v.session.tenant_id,
                user_id: Some(v.session.user_id),
                name: v.upn,
                roles: v.roles,
                partner: None,
            },
            csrf_token: v.session.csrf_token,
            must_change_password: v.must_change_password,
            created_at: v.session.created_at,
            last_seen_at,
        }))
    }

    /// Ends the session whose cookie value is `secret` (nothing happens for an unknown one).
    pub async fn sign_out(&self, secret: &str) -> AppResult<()> {
        let secret = secret.trim();
        if !secret.starts_with(SESSION_PREFIX) || secret.len() > 200 {
            return Ok(());
        }
        let hash = hash_token(secret);
        let now = self.now();
        let hash = &hash;
        self.transact(move |tx| {
            Box::pin(async move {
                let Some(v) = store::session_by_hash(tx, hash).await? else {
                    return Ok(());
                };
                store::delete_session(tx, v.session.id).await?;
                let actor = Actor {
                    tenant_id: v.session.tenant_id,
                    user_id: Some(v.session.user_id),
                    name: v.upn.clone(),
                    roles: v.roles.clone(),
                    partner: None,
                };
                audit::record(
                    tx,
                    &actor,
                    now,
                    AuditAction::SignOut,
                    "user",
                    v.session.user_id,
                    format!("{} signed out", v.upn),
                    None,
                    None,
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Changes the signed-in user's own password: checks `current` (failures count towards the
    /// sign-in throttle), applies the policy, clears the must-change flag and ends the user's
    /// other sessions. Audited without either password.
    pub async fn change_own_password(
        &self,
        session: &Session,
        current: &str,
        new: &str,
    ) -> AppResult<()> {
        let user = session.actor.user_id.ok_or_else(signed_out)?;
        let key = name_key(&session.actor.name);
        let now = self.now();
        let k = &key;
        self.transact(move |tx| Box::pin(async move { admit(tx, k, now).await }))
            .await?
            .map_err(throttled)?;
        let mut conn = self.read().await?;
        let rec = store::password_of(&mut conn, user).await?;
        drop(conn);
        if !verify_password(current, rec.as_ref().map(|r| r.password_hash.as_str())).await {
            return Err(AppError::invalid(
                "wrongPassword",
                "The current password is incorrect.",
            ));
        }
        if current == new {
            return Err(AppError::invalid(
                "samePassword",
                "The new password must differ from the current one.",
            ));
        }
        if let Err(e) = check_policy(new) {
            let key = &key;
            self.transact(move |tx| {
                Box::pin(async move {
                    store::clear_throttle(tx, key).await?;
                    Ok(())
                })
            })
            .await?;
            return Err(e);
        }
        let hash = hash_password(new).await?;
        let actor = &session.actor;
        let keep = session.id;
        let (key, hash) = (&key, &hash);
        self.transact(move |tx| {
            Box::pin(async move {
                store::clear_throttle(tx, key).await?;
                store::set_password(tx, actor.tenant_id, user, hash, false, now).await?;
                let ended = store::delete_sessions_of(tx, user, Some(keep)).await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::UserPasswordChange,
                    "user",
                    user,
                    format!(
                        "{} changed their password; {ended} other session(s) ended",
                        actor.name
                    ),
                    None,
                    None,
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Ends every session of `user` (user id or userPrincipalName): oneself, or anyone by a
    /// Global or User admin (a Global admin's only by a Global admin). Audited; returns how many
    /// ended.
    pub async fn end_sessions(&self, actor: &Actor, user: &str) -> AppResult<u64> {
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                let u = crate::directory::find_user(tx, actor.tenant_id, user).await?;
                if actor.user_id != Some(u.id) {
                    actor.require(seatkeeper_domain::roles::Action::ManageDirectory)?;
                    crate::directory::guard_admin_change(
                        tx,
                        actor,
                        u.id,
                        crate::directory::AdminChange::Edit,
                    )
                    .await?;
                }
                let ended = end_sessions_of(tx, u.id).await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::UserSessionsEnd,
                    "user",
                    u.id,
                    format!("{ended} session(s) of {} ended", u.upn),
                    None,
                    None,
                )
                .await?;
                Ok(ended)
            })
        })
        .await
    }
}

/// Ends every session of `user` inside the caller's transaction (a disabled or deleted account,
/// a password set by an admin).
pub(crate) async fn end_sessions_of(tx: &mut Conn, user: UserId) -> AppResult<u64> {
    Ok(store::delete_sessions_of(tx, user, None).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_and_are_capped() {
        assert_eq!(wait_after(5), Duration::seconds(30));
        assert_eq!(wait_after(6), Duration::seconds(60));
        assert_eq!(wait_after(7), Duration::seconds(120));
        assert_eq!(wait_after(40), Duration::minutes(15));
        assert_eq!(in_words(Duration::seconds(30)), "30 seconds");
        assert_eq!(in_words(Duration::seconds(121)), "3 minutes");
    }
}
