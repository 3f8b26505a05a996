//! The signed-in user's own API tokens, as one panel shown on two pages: **My account** (`/`,
//! end users) and **Settings** (admins). One list, one create and one revoke (which asks first),
//! over [`App::create_token`], [`App::list_tokens`] and [`App::revoke_token`].

use crate::confirm::{self, ConfirmPage};
use crate::error::PageError;
use crate::frame::Nav;
use crate::notice;
use crate::viewer::{Posted, Viewer};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use seatkeeper_app::{App, AppError};
use seatkeeper_domain::lifecycle::utc;
use seatkeeper_domain::{TokenId, UserId};
use serde::Deserialize;

/// The page that shows the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// My account (`/`, the tokens under `/account/tokens`).
    Account,
    /// Settings (`/settings`, the tokens under `/settings/tokens`).
    Settings,
}

impl Place {
    /// The place a request's path belongs to.
    fn of(path: &str) -> Place {
        if path.starts_with("/settings") {
            Place::Settings
        } else {
            Place::Account
        }
    }

    /// Where the panel's forms post.
    pub fn base(self) -> &'static str {
        match self {
            Place::Account => "/account/tokens",
            Place::Settings => "/settings/tokens",
        }
    }

    /// The page itself.
    pub fn page(self) -> &'static str {
        match self {
            Place::Account => "/",
            Place::Settings => "/settings",
        }
    }
}

/// One of the user's tokens.
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub created: String,
    pub expires: String,
    /// "Active", "Revoked on …" or "Expired on …".
    pub state: String,
    pub active: bool,
}

/// What a post leaves to show on the panel: a new secret (shown this once) or a refusal.
#[derive(Debug, Default)]
pub struct TokenOutcome {
    /// A token just created: its name and secret.
    pub issued: Option<(String, String)>,
    /// The name as entered (after a refusal).
    pub name: String,
    pub error: Option<String>,
}

/// The panel as a template shows it (`tokens_panel.html`, included by the page as `tokens`).
pub struct TokensPanel {
    /// Where its forms post.
    pub base: &'static str,
    pub rows: Vec<TokenRow>,
    pub out: TokenOutcome,
}

fn me(viewer: &Viewer) -> Result<UserId, PageError> {
    viewer
        .actor
        .user_id
        .ok_or_else(|| PageError::forbidden("Only a signed-in user has API tokens."))
}

/// The viewer's tokens, newest first, with what the last post left to show.
pub async fn panel(
    app: &App,
    viewer: &Viewer,
    place: Place,
    mut out: TokenOutcome,
) -> Result<TokensPanel, PageError> {
    let now = app.now();
    let rows: Vec<TokenRow> = match viewer.actor.user_id {
        Some(me) => app
            .list_tokens(&viewer.actor, me)
            .await?
            .into_iter()
            .rev()
            .map(|t| {
                let (state, active) = match (t.revoked_at, t.expires_at) {
                    (Some(r), _) => (format!("Revoked on {}", utc(r)), false),
                    (None, Some(e)) if e <= now => (format!("Expired on {}", utc(e)), false),
                    _ => ("Active".to_string(), true),
                };
                TokenRow {
                    id: t.id.to_string(),
                    name: t.name.clone(),
                    created: utc(t.created_at),
                    expires: t.expires_at.map(utc).unwrap_or_else(|| "Never".into()),
                    state,
                    active,
                }
            })
            .collect(),
        None => vec![],
    };
    // A token just created (see [`create`]): its secret, shown once, and only if the token is
    // one of the viewer's own and still active.
    if out.issued.is_none()
        && let Some((id, secret)) = &viewer.new_token
        && let Some(row) = rows.iter().find(|r| &r.id == id && r.active)
    {
        out.issued = Some((row.name.clone(), secret.clone()));
    }
    Ok(TokensPanel {
        base: place.base(),
        rows,
        out,
    })
}

/// The page of `place` with the panel showing `out`.
async fn page(
    app: &App,
    viewer: &Viewer,
    place: Place,
    out: TokenOutcome,
) -> Result<Response, PageError> {
    Ok(match place {
        Place::Account => crate::home::account_page(app, viewer, out)
            .await?
            .into_response(),
        Place::Settings => crate::settings::settings_page(
            viewer,
            app,
            crate::settings::Outcome {
                tokens: out,
                ..Default::default()
            },
        )
        .await?
        .into_response(),
    })
}

/// The create form.
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    pub name: String,
}

/// The cookie that carries a token just created to the page that shows its secret once: the
/// token's id and secret, for a minute, cleared by the first page that answers after it.
pub const NEW_TOKEN_COOKIE: &str = "sk_new_token";

/// The token a request carries in [`NEW_TOKEN_COOKIE`]: (id, secret).
pub fn new_token(headers: &axum::http::HeaderMap) -> Option<(String, String)> {
    let raw = crate::cookies::get(headers, NEW_TOKEN_COOKIE)?;
    let mut id = None;
    let mut secret = None;
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        match k.as_ref() {
            "id" => id = Some(v.into_owned()),
            "s" => secret = Some(v.into_owned()),
            _ => {}
        }
    }
    Some((id?, secret?))
}

/// `POST /account/tokens`, `POST /settings/tokens`: a new token for the signed-in user, then
/// back to the page (post, redirect, get: reloading it creates nothing). The page shows the
/// secret once, only to the token's owner; it is kept nowhere on the server.
pub async fn create(
    State(app): State<App>,
    uri: Uri,
    headers: axum::http::HeaderMap,
    Posted { viewer, form }: Posted<TokenForm>,
) -> Result<Response, PageError> {
    let place = Place::of(uri.path());
    let me = me(&viewer)?;
    match app.create_token(&viewer.actor, me, &form.name, None).await {
        Ok(t) => {
            let value: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("id", &t.id.to_string())
                .append_pair("s", &t.token)
                .finish();
            let secure = crate::cookies::is_https(&headers, app.config.public_url_is_https());
            let mut r = axum::response::Redirect::to(place.page()).into_response();
            if let Ok(v) = HeaderValue::from_str(&crate::cookies::set(
                NEW_TOKEN_COOKIE,
                &value,
                secure,
                Some(60),
            )) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(r)
        }
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            let out = TokenOutcome {
                name: form.name,
                error: Some(e.to_string()),
                ..Default::default()
            };
            let r = page(&app, &viewer, place, out).await?;
            Ok((StatusCode::BAD_REQUEST, r).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// The revoke form: only the confirmation.
#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    pub confirmed: String,
}

/// `POST /account/tokens/{id}/revoke`, `POST /settings/tokens/{id}/revoke`: asks first, then,
/// on the confirming post, revokes one of the signed-in user's tokens.
pub async fn revoke(
    State(app): State<App>,
    uri: Uri,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<RevokeForm>,
) -> Result<Response, PageError> {
    let place = Place::of(uri.path());
    let missing = || PageError::not_found("There is no such token among yours. Reload the page.");
    let token = TokenId::parse(&id).ok_or_else(missing)?;
    let tokens = app.list_tokens(&viewer.actor, me(&viewer)?).await?;
    let t = tokens.iter().find(|t| t.id == token).ok_or_else(missing)?;
    if !confirm::confirmed(&form.confirmed) {
        return Ok(ConfirmPage {
            frame: viewer.frame(
                "Revoke token",
                match place {
                    Place::Account => Nav::Account,
                    Place::Settings => Nav::Settings,
                },
            ),
            question: format!("Revoke token '{}'?", t.name),
            details: vec![
                "Programs that send it are refused from now on. This cannot be undone.".into(),
            ],
            action: format!("{}/{token}/revoke", place.base()),
            fields: vec![],
            confirm_label: "Revoke token".into(),
            back: place.page().into(),
            back_label: "Cancel".into(),
        }
        .into_response());
    }
    match app.revoke_token(&viewer.actor, token).await {
        Ok(()) => Ok(notice::redirect(
            place.page(),
            &format!(
                "Token '{}' was revoked: programs that send it are refused from now on.",
                t.name
            ),
            false,
        )),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            Ok(notice::redirect(place.page(), &e.to_string(), true))
        }
        Err(e) => Err(e.into()),
    }
}
