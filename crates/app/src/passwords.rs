//! Passwords of local accounts: the policy, argon2id hashing, generated initial passwords, and
//! setting a password (by an admin, the operator or on creating a user).
//!
//! A password or its hash is never logged, never audited and never returned: the hash lives in
//! the store's `credentials` table, which no user query reads.

use crate::directory::{AdminChange, find_user, guard_admin_change};
use crate::{Actor, App, AppError, AppResult, audit};
use argon2::{Argon2, PasswordHasher, PasswordVerifier, password_hash::phc::PasswordHash};
use seatkeeper_domain::Time;
use seatkeeper_domain::audit::AuditAction;
use seatkeeper_domain::roles::{Action, Role};
use seatkeeper_store::directory::{self as dir, User};
use seatkeeper_store::{Conn, sessions};
use serde_json::json;
use std::sync::OnceLock;

/// Shortest password accepted, in characters.
pub const MIN_LEN: usize = 8;
/// Longest password accepted, in characters.
pub const MAX_LEN: usize = 256;

/// The classes of characters the policy counts; a password needs 3 of the 4 (as Graph does).
const CLASSES: [&str; 4] = [
    "lower-case letters",
    "upper-case letters",
    "digits",
    "symbols",
];

/// Checks the password policy: 8 to 256 characters, no control characters, and at least 3 of
/// lower case, upper case, digits and symbols. The error says exactly what is missing.
pub fn check_policy(password: &str) -> AppResult<()> {
    let n = password.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&n) {
        return Err(AppError::invalid(
            "invalidPassword",
            format!(
                "The password must be {MIN_LEN} to {MAX_LEN} characters long; this one has {n}."
            ),
        ));
    }
    if password.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "invalidPassword",
            "The password must not contain control characters (tabs, line breaks and the like).",
        ));
    }
    let has = [
        password.chars().any(char::is_lowercase),
        password.chars().any(char::is_uppercase),
        password.chars().any(|c| c.is_ascii_digit()),
        password
            .chars()
            .any(|c| !c.is_lowercase() && !c.is_uppercase() && !c.is_ascii_digit()),
    ];
    let count = has.iter().filter(|h| **h).count();
    if count >= 3 {
        return Ok(());
    }
    let missing: Vec<&str> = CLASSES
        .iter()
        .zip(has)
        .filter(|(_, h)| !h)
        .map(|(c, _)| *c)
        .collect();
    let need = 3 - count;
    Err(AppError::invalid(
        "invalidPassword",
        format!(
            "The password needs at least 3 of these 4: lower-case letters, upper-case letters, digits, symbols. It lacks {}: add {} of them.",
            join_or(&missing, " and "),
            if need == 1 {
                "one".to_string()
            } else {
                format!("{need}")
            }
        ),
    ))
}

fn join_or(items: &[&str], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., tail] => format!("{}{last}{tail}", init.join(", ")),
    }
}

/// Random bytes from the operating system's generator (by way of v4 UUIDs).
fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        out.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    out
}

/// A new random password that satisfies the policy, e.g. `kqzt-MWPR-4829-aBc7xQ` (about 85
/// random bits): four lower-case letters, four upper-case letters, four digits and six of any.
pub fn generate_password() -> String {
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    const ANY: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = random_bytes(64).into_iter();
    let mut pick = |alphabet: &[u8], n: usize| -> String {
        // Rejection sampling: no letter is likelier than another.
        let limit = 256 - 256 % alphabet.len();
        let mut s = String::with_capacity(n);
        while s.len() < n {
            let b = match bytes.next() {
                Some(b) => b,
                None => {
                    bytes = random_bytes(64).into_iter();
                    continue;
                }
            };
            if usize::from(b) < limit {
                s.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
            }
        }
        s
    };
    let parts = [
        pick(LOWER, 4),
        pick(UPPER, 4),
        pick(DIGITS, 4),
        pick(ANY, 6),
    ];
    parts.join("-")
}

/// Hashes a password with argon2id (a fresh salt each time), off the async threads.
pub(crate) async fn hash_password(password: &str) -> AppResult<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("cannot hash a password: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("password hashing stopped: {e}")))?
}

/// A hash of a random password, verified when no account matches so that the answer takes as
/// long as for a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        Argon2::default()
            .hash_password(generate_password().as_bytes())
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Whether `password` matches `hash` (a PHC string); `None` verifies against a dummy hash and is
/// false. Runs off the async threads.
pub(crate) async fn verify_password(password: &str, hash: Option<&str>) -> bool {
    let password = password.to_string();
    let hash = hash.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let real = hash.is_some();
        let h = hash.unwrap_or_else(|| dummy_hash().to_string());
        let ok = PasswordHash::new(&h)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && real
    })
    .await
    .unwrap_or(false)
}

/// A password to set, as Graph's `passwordProfile` carries it. `Debug` hides the password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PasswordProfile {
    /// The new password; `None` changes only `force_change_next_sign_in`.
    pub password: Option<String>,
    /// Whether the user must choose a new password at their next sign-in (default: true for a
    /// new password set by someone else, as the person who set it knows it).
    pub force_change_next_sign_in: Option<bool>,
}

impl std::fmt::Debug for PasswordProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordProfile")
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("force_change_next_sign_in", &self.force_change_next_sign_in)
            .finish()
    }
}

/// A password profile checked against the policy and hashed, ready to store.
#[derive(Clone)]
pub(crate) struct PreparedPassword {
    hash: Option<String>,
    force_change: bool,
}

impl PasswordProfile {
    /// Checks the policy and hashes the password (slow: do it before the transaction).
    pub(crate) async fn prepare(&self) -> AppResult<PreparedPassword> {
        let hash = match &self.password {
            Some(p) => {
                check_policy(p)?;
                Some(hash_password(p).await?)
            }
            None => None,
        };
        if hash.is_none() && self.force_change_next_sign_in.is_none() {
            return Err(AppError::invalid(
                "invalidPassword",
                "passwordProfile needs a password (or forceChangePasswordNextSignIn).",
            ));
        }
        Ok(PreparedPassword {
            hash,
            force_change: self.force_change_next_sign_in.unwrap_or(true),
        })
    }
}

/// Who may set whose password: a Global admin anyone's, a User admin that of users without an
/// admin role; nobody their own (that goes through changing it, which asks for the current one).
/// Call in the transaction of the change.
async fn may_set_password(tx: &mut Conn, actor: &Actor, u: &User) -> AppResult<()> {
    if actor.user_id == Some(u.id) {
        return Err(AppError::Forbidden(
            "You cannot set your own password here: change it on the change-password page, which asks for the current one."
                .into(),
        ));
    }
    actor.require(Action::ManageDirectory)?;
    guard_admin_change(tx, actor, u.id, AdminChange::Edit).await?;
    if !actor.roles.contains(&Role::GlobalAdmin) && !dir::roles_of(tx, u.id).await?.is_empty() {
        return Err(AppError::Forbidden(format!(
            "{} has an admin role: only a Global admin may set an admin's password.",
            u.upn
        )));
    }
    Ok(())
}

/// Sets `u`'s password (or only whether they must change it) inside the caller's transaction,
/// audited without the password; a new password ends the user's sessions.
pub(crate) async fn store_password(
    tx: &mut Conn,
    actor: &Actor,
    u: &User,
    p: &PreparedPassword,
    now: Time,
) -> AppResult<()> {
    may_set_password(tx, actor, u).await?;
    let must = if p.force_change {
        "must change it at next sign-in"
    } else {
        "no change required"
    };
    match &p.hash {
        Some(hash) => {
            sessions::set_password(tx, u.tenant_id, u.id, hash, p.force_change, now).await?;
            let ended = sessions::delete_sessions_of(tx, u.id, None).await?;
            audit::record(
                tx,
                actor,
                now,
                AuditAction::UserPasswordSet,
                "user",
                u.id,
                format!(
                    "Password of {} set ({must}); {ended} session(s) ended",
                    u.upn
                ),
                None,
                Some(json!({"forceChangePasswordNextSignIn": p.force_change})),
            )
            .await?;
        }
        None => {
            if !sessions::set_force_change(tx, u.id, p.force_change).await? {
                return Err(AppError::invalid(
                    "noPassword",
                    format!(
                        "{} has no password yet: include passwordProfile.password.",
                        u.upn
                    ),
                ));
            }
            audit::record(
                tx,
                actor,
                now,
                AuditAction::UserPasswordSet,
                "user",
                u.id,
                format!("Password of {} unchanged ({must})", u.upn),
                None,
                Some(json!({"forceChangePasswordNextSignIn": p.force_change})),
            )
            .await?;
        }
    }
    Ok(())
}

impl App {
    /// Sets `user`'s password (user id or userPrincipalName): a Global admin anyone's, a User
    /// admin that of users without an admin role; never one's own (see
    /// [`App::change_own_password`]). Ends the user's sessions; audited without the password.
    pub async fn set_password(
        &self,
        actor: &Actor,
        user: &str,
        password: &str,
        force_change_next_sign_in: bool,
    ) -> AppResult<()> {
        actor.require(Action::ManageDirectory)?;
        let p = PasswordProfile {
            password: Some(password.to_string()),
            force_change_next_sign_in: Some(force_change_next_sign_in),
        }
        .prepare()
        .await?;
        let now = self.now();
        let p = &p;
        self.transact(move |tx| {
            Box::pin(async move {
                let u = find_user(tx, actor.tenant_id, user).await?;
                store_password(tx, actor, &u, p, now).await
            })
        })
        .await
    }

    /// Whether `password` is `user`'s current password, for the operator only (the demo checks
    /// that the password it prints still works). Not throttled: never expose it to a request.
    pub async fn password_is(&self, actor: &Actor, user: &str, password: &str) -> AppResult<bool> {
        actor.require(Action::ManageTenant)?;
        if actor.user_id.is_some() {
            return Err(AppError::Forbidden(
                "Only the operator may check a password.".into(),
            ));
        }
        let mut conn = self.read().await?;
        let u = find_user(&mut conn, actor.tenant_id, user).await?;
        let Some(rec) = sessions::password_of(&mut conn, u.id).await? else {
            return Ok(false);
        };
        drop(conn);
        Ok(verify_password(password, Some(&rec.password_hash)).await)
    }

    /// Whether `user` has a password at all (operator only).
    pub async fn has_password(&self, actor: &Actor, user: &str) -> AppResult<bool> {
        actor.require(Action::ManageTenant)?;
        let mut conn = self.read().await?;
        let u = find_user(&mut conn, actor.tenant_id, user).await?;
        Ok(sessions::password_of(&mut conn, u.id).await?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(p: &str) -> String {
        match check_policy(p) {
            Err(AppError::Invalid { message, .. }) => message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn policy_says_what_is_missing() {
        assert!(check_policy("Abcdefg1").is_ok());
        assert!(check_policy("abcdefg1!").is_ok());
        assert!(check_policy("ABCDEFG1!").is_ok());
        assert_eq!(
            message("short1A"),
            "The password must be 8 to 256 characters long; this one has 7."
        );
        assert!(message(&"Aa1!".repeat(65)).contains("this one has 260"));
        assert_eq!(
            message("abcdefgh"),
            "The password needs at least 3 of these 4: lower-case letters, upper-case letters, digits, symbols. It lacks upper-case letters, digits and symbols: add 2 of them."
        );
        assert_eq!(
            message("abcdefg1"),
            "The password needs at least 3 of these 4: lower-case letters, upper-case letters, digits, symbols. It lacks upper-case letters and symbols: add one of them."
        );
        assert!(message("Abcdefg\n1").contains("control characters"));
    }

    #[test]
    fn generated_passwords_pass_the_policy_and_differ() {
        let a = generate_password();
        let b = generate_password();
        assert_ne!(a, b);
        for p in [a, b] {
            assert!(check_policy(&p).is_ok(), "{p}");
            assert_eq!(p.len(), 21);
        }
    }

    #[tokio::test]
    async fn hashes_verify_and_are_argon2id() {
        let h = hash_password("Correct horse 1").await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("Correct horse 1"));
        assert!(verify_password("Correct horse 1", Some(&h)).await);
        assert!(!verify_password("correct horse 1", Some(&h)).await);
        assert!(!verify_password("Correct horse 1", None).await);
    }
}
