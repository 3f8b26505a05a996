//! Who is looking at a page, and the form posts they send.
//!
//! [`Viewer`] is the extractor every signed-in page takes: it resolves the session cookie to
//! the acting user (an [`Actor`], with the same roles and checks as the APIs), or sends the
//! browser to the sign-in page. [`Posted`] is the extractor of every state-changing request: the
//! viewer plus the form, after checking the CSRF token (see [`crate::csrf`]).

use crate::csrf;
use crate::error::PageError;
use crate::frame::{Frame, Nav};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use seatkeeper_app::{Actor, App};
use seatkeeper_domain::roles::Action;
use serde::de::DeserializeOwned;

/// The signed-in person looking at a page.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Acts with the user's roles, exactly as their bearer token would.
    pub actor: Actor,
    /// The session's CSRF token.
    pub csrf: String,
    /// The organization's name, for the header.
    pub organization: String,
    /// The message to show once (see [`crate::notice`]).
    pub notice: Option<(String, bool)>,
    /// A token just created, to show its secret once: (id, secret) (see
    /// [`crate::tokens::create`]).
    pub new_token: Option<(String, String)>,
}

impl Viewer {
    /// Whether the viewer may use the admin pages (any admin role; Global reader or higher).
    pub fn is_admin(&self) -> bool {
        self.actor.can(Action::Read)
    }

    /// Whether the viewer's roles allow `action` (to show or hide a control; the use case checks
    /// again).
    pub fn can(&self, action: Action) -> bool {
        self.actor.can(action)
    }

    /// The layout's context for a page titled `title` under navigation entry `nav`.
    pub fn frame(&self, title: impl Into<String>, nav: Nav) -> Frame {
        Frame {
            title: title.into(),
            nav,
            user_name: self.actor.name.clone(),
            user_upn: self.actor.name.clone(),
            organization: self.organization.clone(),
            admin: self.is_admin(),
            csrf: self.csrf.clone(),
            notice: self.notice.clone(),
        }
    }

    /// Refuses a viewer without an admin role (an end user opening an admin page's address).
    pub fn require_admin(&self) -> Result<(), PageError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(PageError::forbidden(
                "This page is for admins. Your own licenses and apps are on your account page.",
            ))
        }
    }
}

/// The path and query to come back to after signing in.
/// Where to come back to after signing in: this page for a GET; for a form's post (which
/// has no page of its own to come back to) the page the form was on, when the browser says so
/// and it is one of ours, else Home.
fn here(parts: &Parts) -> String {
    if parts.method == axum::http::Method::GET || parts.method == axum::http::Method::HEAD {
        return parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
    }
    let host = parts
        .headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok());
    parts
        .headers
        .get(axum::http::header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.parse::<axum::http::Uri>().ok())
        .filter(|u| u.authority().map(|a| a.as_str()) == host && host.is_some())
        .and_then(|u| u.path_and_query().map(|p| p.as_str().to_string()))
        .unwrap_or_else(|| "/".into())
}

impl FromRequestParts<App> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let sign_in = |ended| PageError::SignIn {
            next: here(parts),
            ended,
        };
        let Some(secret) = crate::cookies::get(&parts.headers, crate::cookies::SESSION) else {
            return Err(sign_in(None));
        };
        let resolved = crate::session::resolve_or_ended(app, secret).await;
        let session = match resolved {
            Ok(Ok(v)) => v,
            Ok(Err(ended)) => return Err(sign_in(Some(crate::sign_in::ended_code(&ended)))),
            Err(seatkeeper_app::AppError::Unauthorized(_)) => return Err(sign_in(None)),
            Err(e) => return Err(e.into()),
        };
        // A user who must choose a new password does that before anything else.
        if session.must_change_password
            && !matches!(parts.uri.path(), crate::password::PATH | "/sign-out")
        {
            return Err(PageError::MustChangePassword { next: here(parts) });
        }
        let (actor, csrf) = (session.actor, session.csrf_token);
        let organization = app.get_tenant(&actor).await?.name;
        Ok(Viewer {
            actor,
            csrf,
            organization,
            notice: crate::notice::read(&parts.headers),
            new_token: crate::tokens::new_token(&parts.headers),
        })
    }
}

/// A state-changing request from a page: the viewer and the form `T` (an
/// `application/x-www-form-urlencoded` body; repeated fields such as check boxes fill a `Vec`),
/// accepted only with the session's CSRF token in the form's `csrf` field or the
/// `X-CSRF-Token` header.
pub struct Posted<T> {
    pub viewer: Viewer,
    pub form: T,
}

/// The largest form accepted (a CSV upload has its own limit).
pub const MAX_FORM_BYTES: usize = 256 * 1024;

impl<T: DeserializeOwned + Send> FromRequest<App> for Posted<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, app).await?;
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| PageError::bad_request("The form is too large to send."))?;
        let sent = form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == csrf::FIELD)
            .map(|(_, v)| v.into_owned());
        if !csrf::matches(&viewer.csrf, &parts.headers, sent.as_deref()) {
            return Err(PageError::forbidden(csrf::REFUSED));
        }
        // A JSON body (an object or an array) is not a form: its text would be read as one
        // empty field, and every field of the form as missing.
        let json = parts
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("json"))
            || matches!(bytes.trim_ascii_start().first(), Some(b'[' | b'{'));
        if json {
            return Err(PageError::bad_request(
                "The form could not be read: send the page's form fields (application/x-www-form-urlencoded), not JSON.",
            ));
        }
        let form: T = serde_html_form::from_bytes(&bytes)
            .map_err(|e| PageError::bad_request(format!("The form could not be read: {e}.")))?;
        Ok(Posted { viewer, form })
    }
}
