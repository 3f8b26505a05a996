//! The app layer's error: what went wrong, in words for the person who has to fix it.

use seatkeeper_domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A rule of the domain refused the change.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Bad input: which field, and what to do instead.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (a duplicate name, say).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("database error: {0}")]
    Store(#[from] seatkeeper_store::sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

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
