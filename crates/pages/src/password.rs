//! The change-password page: forced after sign-in when the password must be changed, and open
//! to every signed-in user.

use crate::error::PageError;
use crate::frame::{Frame, Nav};
use crate::sign_in::safe_next;
use crate::viewer::{Posted, Viewer};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use seatkeeper_app::{App, AppError};
use serde::Deserialize;

/// The page's path.
pub const PATH: &str = "/change-password";

#[derive(Template, WebTemplate)]
#[template(path = "change_password.html")]
pub struct ChangePasswordPage {
    pub frame: Frame,
    pub next: String,
    /// The user must change it before anything else.
    pub forced: bool,
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    pub next: Option<String>,
}

/// The form as posted.
#[derive(Deserialize)]
pub struct ChangeForm {
    pub next: Option<String>,
    #[serde(default)]
    pub current: String,
    #[serde(default)]
    pub new: String,
    #[serde(default)]
    pub confirm: String,
}

async fn forced(app: &App, headers: &HeaderMap) -> Result<bool, PageError> {
    let secret = crate::cookies::get(headers, crate::cookies::SESSION).unwrap_or("");
    Ok(crate::session::resolve(app, secret)
        .await?
        .must_change_password)
}

fn page(viewer: &Viewer, next: String, forced: bool, error: Option<String>) -> ChangePasswordPage {
    ChangePasswordPage {
        frame: viewer.frame("Change your password", Nav::None),
        next,
        forced,
        error,
    }
}

/// `GET /change-password`.
pub async fn show(
    State(app): State<App>,
    headers: HeaderMap,
    viewer: Viewer,
    Query(q): Query<NextQuery>,
) -> Result<Response, PageError> {
    let forced = forced(&app, &headers).await?;
    Ok(page(&viewer, safe_next(q.next.as_deref()), forced, None).into_response())
}

/// `POST /change-password`: changes the password (the user's other sessions end) and goes on
/// to `next`; a refusal shows the form again with the app's words.
pub async fn submit(
    State(app): State<App>,
    headers: HeaderMap,
    posted: Posted<ChangeForm>,
) -> Result<Response, PageError> {
    let Posted { viewer, form } = posted;
    let next = safe_next(form.next.as_deref());
    let secret = crate::cookies::get(&headers, crate::cookies::SESSION).unwrap_or("");
    let session = crate::session::resolve(&app, secret).await?;
    let refuse = |status: StatusCode, message: String| {
        (
            status,
            page(
                &viewer,
                next.clone(),
                session.must_change_password,
                Some(message),
            ),
        )
            .into_response()
    };
    if form.new != form.confirm {
        return Ok(refuse(
            StatusCode::BAD_REQUEST,
            "The new password and its confirmation differ: type the same new password twice."
                .into(),
        ));
    }
    match app
        .change_own_password(&session, &form.current, &form.new)
        .await
    {
        Ok(()) => Ok(crate::notice::redirect(
            &crate::sign_in::landing(viewer.is_admin(), next),
            "Your password has been changed.",
            false,
        )),
        Err(AppError::Invalid { message, .. }) => Ok(refuse(StatusCode::BAD_REQUEST, message)),
        Err(AppError::TooManyRequests { message, .. }) => {
            Ok(refuse(StatusCode::TOO_MANY_REQUESTS, message))
        }
        Err(e) => Err(e.into()),
    }
}
