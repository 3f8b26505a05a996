//! Resolving the session cookie to the acting user and the session's CSRF token.

use seatkeeper_app::{Actor, App, AppResult};

/// The actor and CSRF token of the session whose secret the browser sent.
///
/// Errors: [`seatkeeper_app::AppError::Unauthorized`] when the session is unknown, ended,
/// expired, or its account is disabled.
pub async fn resolve(app: &App, secret: &str) -> AppResult<(Actor, String)> {
    let actor = app.authenticate(secret).await?;
    let csrf = format!("c{}", &seatkeeper_app::auth::hash_token(secret)[..40]);
    Ok((actor, csrf))
}
