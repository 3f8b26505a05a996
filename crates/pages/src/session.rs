//! Resolving the session cookie to the signed-in session (see `App::session`).

use seatkeeper_app::sessions::{Ended, Session};
use seatkeeper_app::{App, AppResult};

/// The session whose secret the browser sent.
///
/// Errors: [`seatkeeper_app::AppError::Unauthorized`] when the session is unknown, ended,
/// idle too long, or its account is disabled.
pub async fn resolve(app: &App, secret: &str) -> AppResult<Session> {
    app.session(secret).await
}

/// The session whose secret the browser sent, or why it has ended (for the sign-in page).
pub async fn resolve_or_ended(app: &App, secret: &str) -> AppResult<Result<Session, Ended>> {
    app.session_or_ended(secret).await
}
