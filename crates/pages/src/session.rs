//! Resolving the session cookie to the signed-in session (see `App::session`).

use seatkeeper_app::sessions::Session;
use seatkeeper_app::{App, AppResult};

/// The session whose secret the browser sent.
///
/// Errors: [`seatkeeper_app::AppError::Unauthorized`] when the session is unknown, ended,
/// idle too long, or its account is disabled.
pub async fn resolve(app: &App, secret: &str) -> AppResult<Session> {
    app.session(secret).await
}
