//! The app layer's error: what went wrong, in words for the person who has to fix it.

use seatkeeper_domain::DomainError;
use seatkeeper_store::{DbError, UniqueViolation};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A rule of the domain refused the change.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// An end user may not buy or try this product (SS1, POL1).
    #[error(transparent)]
    Purchase(#[from] seatkeeper_domain::selfservice::PurchaseRefusal),
    /// Bad input: which field, and what to do instead.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (a duplicate name, say).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// A conflict with data for the client (an open request's id, the organization's message):
    /// HTTP 409, `detail` in the error's `details`.
    #[error("{message}")]
    ConflictWith {
        code: &'static str,
        message: String,
        detail: serde_json::Value,
    },
    #[error("{0}")]
    Forbidden(String),
    /// The payment provider declined the card (HTTP 402, code `PaymentDeclined`): the reason,
    /// and to use another card. Nothing was stored or charged.
    #[error("{0}")]
    PaymentDeclined(String),
    #[error("{0}")]
    Unauthorized(String),
    /// Too many tries (failed sign-ins for one user name): wait `retry_after_secs` seconds.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// A database failure. A unique violation never lands here: converting a store error turns
    /// it into [`AppError::Conflict`] naming what exists.
    #[error("database error: {0}")]
    Store(#[source] DbError),
    /// No database connection became free in time: the server is busy, try again shortly.
    #[error("database error: {0}")]
    Busy(#[source] DbError),
    /// The database has no room left on its disk (or volume): nothing was changed, and
    /// nothing can be until its administrator frees space. HTTP 507. Holds the database's own
    /// words, for the log.
    #[error(
        "The database has no space left, so nothing was changed: free disk space on the database server (or grow its volume), then try again."
    )]
    StorageFull(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// Whether the request itself was refused (bad input, a rule, a conflict), as opposed to
    /// a failure of the database or the server that trying again may get past.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            AppError::Store(_)
                | AppError::Busy(_)
                | AppError::StorageFull(_)
                | AppError::Internal(_)
        )
    }
}

impl From<seatkeeper_store::sqlx::Error> for AppError {
    fn from(e: seatkeeper_store::sqlx::Error) -> AppError {
        if let Some(v) = seatkeeper_store::unique_violation(&e) {
            return already_exists(&v);
        }
        let e = DbError::from(e);
        if e.is_pool_timeout() {
            AppError::Busy(e)
        } else if e.is_storage_full() {
            AppError::StorageFull(e.to_string())
        } else {
            AppError::Store(e)
        }
    }
}

/// The conflict for a row that exists already, in the words of the thing it is.
fn already_exists(v: &UniqueViolation) -> AppError {
    // The tenant is implied by the request; do not repeat its id.
    let named: Vec<(&str, Option<&str>)> = v
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.as_str() != "tenant_id")
        .map(|(i, c)| (c.as_str(), v.values.get(i).map(String::as_str)))
        .collect();
    let columns: Vec<&str> = named.iter().map(|(c, _)| *c).collect();
    if v.table == "users" && columns == ["upn_lower"] {
        let upn = named[0].1.map(|u| format!(": {u}")).unwrap_or_default();
        return AppError::conflict(
            "userExists",
            format!(
                "Another object with the same value for property userPrincipalName already exists{upn}."
            ),
        );
    }
    let noun = match v.table.as_str() {
        "tenants" => "An organization",
        "users" => "A user",
        "groups" => "A group",
        "group_members" => "The group membership",
        "user_roles" => "The role assignment",
        "subscriptions" => "A subscription",
        "pools" => "The organization's license pool for this product",
        "assignments" => "The user's license for this product",
        "tokens" => "A token",
        "outbox" => "An e-mail with the same key",
        "catalog" => "A catalog",
        _ => "A record",
    };
    let mut message = noun.to_string();
    let shown: Vec<String> = named
        .iter()
        .filter(|(c, _)| !matches!(*c, "hash" | "user_id" | "sku_id" | "group_id"))
        .map(|(c, val)| match val {
            Some(val) => format!("{} {val}", c.replace('_', " ")),
            None => c.replace('_', " ").to_string(),
        })
        .collect();
    if !shown.is_empty()
        && !matches!(
            v.table.as_str(),
            "assignments" | "group_members" | "user_roles" | "pools"
        )
    {
        message.push_str(" with this ");
        message.push_str(&shown.join(" and "));
    }
    message.push_str(" already exists; nothing was changed.");
    AppError::conflict("alreadyExists", message)
}

impl AppError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::Invalid {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> AppError {
        AppError::NotFound(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatkeeper_store::sqlx::error::{DatabaseError, ErrorKind};
    use std::borrow::Cow;

    /// A database error as SQLite reports it.
    #[derive(Debug)]
    struct Fake {
        code: &'static str,
        message: &'static str,
        unique: bool,
    }

    impl std::fmt::Display for Fake {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.message)
        }
    }
    impl std::error::Error for Fake {}
    impl DatabaseError for Fake {
        fn message(&self) -> &str {
            self.message
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.code))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            if self.unique {
                ErrorKind::UniqueViolation
            } else {
                ErrorKind::Other
            }
        }
    }

    fn db_error(code: &'static str, message: &'static str, unique: bool) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Fake {
            code,
            message,
            unique,
        }))
    }
    use seatkeeper_store::sqlx;

    #[test]
    fn a_unique_violation_is_a_conflict_that_is_not_retried() {
        let e = db_error(
            "2067",
            "UNIQUE constraint failed: users.tenant_id, users.upn_lower",
            true,
        );
        assert!(!seatkeeper_store::is_retryable(&e));
        match AppError::from(e) {
            AppError::Conflict { code, message } => {
                assert_eq!(code, "userExists");
                assert!(
                    message.contains("userPrincipalName already exists"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        let e = db_error(
            "2067",
            "UNIQUE constraint failed: assignments.user_id, assignments.sku_id",
            true,
        );
        match AppError::from(e) {
            AppError::Conflict { code, message } => {
                assert_eq!(code, "alreadyExists");
                assert_eq!(
                    message,
                    "The user's license for this product already exists; nothing was changed."
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_pool_timeout_is_busy_and_keeps_its_message() {
        let e = AppError::from(sqlx::Error::PoolTimedOut);
        assert!(matches!(e, AppError::Busy(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!("database error: {}", sqlx::Error::PoolTimedOut)
        );
    }

    #[test]
    fn contention_is_retried() {
        for (code, message) in [
            ("5", "database is locked"),
            ("517", "database is locked"),
            (
                "40001",
                "could not serialize access due to concurrent update",
            ),
            ("40P01", "deadlock detected"),
            (
                "55P03",
                "could not obtain lock on row in relation \"pools\"",
            ),
        ] {
            let e = db_error(code, message, false);
            assert!(seatkeeper_store::is_retryable(&e), "{code}");
            assert!(matches!(AppError::from(e), AppError::Store(_)));
        }
        let e = db_error("787", "FOREIGN KEY constraint failed", false);
        assert!(!seatkeeper_store::is_retryable(&e));
    }
}
