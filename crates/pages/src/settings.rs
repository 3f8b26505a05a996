//! Settings: the organization (name, default usage location; the Global admin changes them,
//! other admins read them), the signed-in admin's own API tokens (create: the secret is shown
//! once; list; revoke), and the mail the outbox sent or is retrying (Global admins).

use crate::error::PageError;
use crate::frame::{Frame, Nav};
use crate::notice;
use crate::products::refusal;
use crate::viewer::{Posted, Viewer};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::{App, AppError};
use seatkeeper_domain::TokenId;
use seatkeeper_domain::kinds::OutboxStatus;
use seatkeeper_domain::lifecycle::utc;
use seatkeeper_domain::roles::Action;
use serde::Deserialize;

/// Messages the Sent mail section shows.
pub const MAIL_SHOWN: i64 = 50;

/// One of the admin's tokens.
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub created: String,
    pub expires: String,
    /// "Active", "Revoked on …" or "Expired on …".
    pub state: String,
    pub active: bool,
}

/// One message of the outbox.
pub struct MailRow {
    pub to: String,
    pub subject: String,
    pub status: String,
    pub tone: &'static str,
    pub attempts: i64,
    pub created: String,
    /// When it was sent, or when it is tried again.
    pub when: String,
    pub last_error: String,
}

/// What the Settings page shows after a post: a refusal beside a form, or a new secret.
#[derive(Default)]
pub struct Outcome {
    pub org_error: Option<String>,
    pub org_name: Option<String>,
    pub org_location: Option<String>,
    pub token_error: Option<String>,
    pub token_name: String,
    /// A token just created: its name and secret, shown this once.
    pub new_token: Option<(String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub frame: Frame,
    pub org_name: String,
    pub org_location: String,
    pub currency: String,
    pub can_manage_org: bool,
    pub tokens: Vec<TokenRow>,
    /// The outbox, for Global admins only (None: not shown).
    pub mail: Option<Vec<MailRow>>,
    pub out: Outcome,
}

async fn settings_page(
    viewer: &Viewer,
    app: &App,
    out: Outcome,
) -> Result<SettingsPage, PageError> {
    viewer.require_admin()?;
    let tenant = app.get_tenant(&viewer.actor).await?;
    let now = app.now();
    let tokens = match viewer.actor.user_id {
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
    let mail = match app.list_mail(&viewer.actor, MAIL_SHOWN).await {
        Ok(list) => Some(
            list.iter()
                .map(|m| {
                    let (status, tone, when) = match m.status {
                        OutboxStatus::Sent => (
                            "Sent",
                            "ok",
                            m.sent_at
                                .map(|t| format!("Sent {}", utc(t)))
                                .unwrap_or_default(),
                        ),
                        OutboxStatus::Pending if m.attempts > 0 => (
                            "Retrying",
                            "warn",
                            format!("Next try {}", utc(m.next_attempt_at)),
                        ),
                        OutboxStatus::Pending => {
                            ("Waiting", "warn", format!("Due {}", utc(m.next_attempt_at)))
                        }
                        OutboxStatus::Failed => ("Failed", "bad", "Not tried again".to_string()),
                    };
                    MailRow {
                        to: m.to.clone(),
                        subject: m.subject.clone(),
                        status: status.to_string(),
                        tone,
                        attempts: m.attempts,
                        created: utc(m.created_at),
                        when,
                        last_error: m.last_error.clone().unwrap_or_default(),
                    }
                })
                .collect(),
        ),
        // Other admins do not see the outbox: the section is left out.
        Err(AppError::Forbidden(_)) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(SettingsPage {
        frame: viewer.frame("Settings", Nav::Settings),
        org_name: out.org_name.clone().unwrap_or(tenant.name.clone()),
        org_location: out
            .org_location
            .clone()
            .unwrap_or(tenant.default_usage_location.clone().unwrap_or_default()),
        currency: tenant.currency.clone(),
        can_manage_org: viewer.can(Action::ManageTenant),
        tokens,
        mail,
        out,
    })
}

/// `GET /settings`.
pub async fn show(State(app): State<App>, viewer: Viewer) -> Result<SettingsPage, PageError> {
    settings_page(&viewer, &app, Outcome::default()).await
}

#[derive(Debug, Deserialize)]
pub struct OrganizationInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub location: String,
}

/// `POST /settings/organization`: the organization's name and default usage location.
pub async fn organization(
    State(app): State<App>,
    Posted { viewer, form }: Posted<OrganizationInput>,
) -> Result<Response, PageError> {
    let location = form.location.trim();
    let location = (!location.is_empty()).then_some(location);
    match app
        .update_tenant(&viewer.actor, Some(&form.name), Some(location))
        .await
    {
        Ok(t) => Ok(notice::redirect(
            "/settings",
            &format!("The organization's settings were saved: {}.", t.name),
            false,
        )),
        Err(e) => {
            let (status, message) = refusal(e)?;
            let out = Outcome {
                org_error: Some(message),
                org_name: Some(form.name),
                org_location: Some(form.location),
                ..Default::default()
            };
            let page = settings_page(&viewer, &app, out).await?;
            Ok((status, page).into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenInput {
    #[serde(default)]
    pub name: String,
}

/// `POST /settings/tokens`: a new API token for the signed-in admin. The page that answers shows
/// its secret once (it is not kept anywhere to show again).
pub async fn create_token(
    State(app): State<App>,
    Posted { viewer, form }: Posted<TokenInput>,
) -> Result<Response, PageError> {
    let Some(me) = viewer.actor.user_id else {
        return Err(PageError::forbidden(
            "Only a signed-in user has API tokens.",
        ));
    };
    let (status, out) = match app.create_token(&viewer.actor, me, &form.name, None).await {
        Ok(t) => (
            StatusCode::OK,
            Outcome {
                new_token: Some((t.name.clone(), t.token.clone())),
                ..Default::default()
            },
        ),
        Err(e) => {
            let (status, message) = refusal(e)?;
            (
                status,
                Outcome {
                    token_error: Some(message),
                    token_name: form.name,
                    ..Default::default()
                },
            )
        }
    };
    let page = settings_page(&viewer, &app, out).await?;
    let mut r = (status, page).into_response();
    // The secret is on this page only: never cached, never kept in the history.
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(r)
}

#[derive(Debug, Deserialize)]
pub struct NoInput {}

/// `POST /settings/tokens/{id}/revoke`: revokes one of the admin's tokens.
pub async fn revoke_token(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, .. }: Posted<NoInput>,
) -> Result<Response, PageError> {
    let token = TokenId::parse(&id)
        .ok_or_else(|| PageError::not_found(format!("Token {id} does not exist.")))?;
    let name = match viewer.actor.user_id {
        Some(me) => app
            .list_tokens(&viewer.actor, me)
            .await?
            .into_iter()
            .find(|t| t.id == token)
            .map(|t| t.name),
        None => None,
    };
    match app.revoke_token(&viewer.actor, token).await {
        Ok(()) => Ok(notice::redirect(
            "/settings",
            &format!(
                "Token '{}' was revoked: requests that send it are refused from now on.",
                name.unwrap_or(id)
            ),
            false,
        )),
        Err(e) => {
            let (_, message) = refusal(e)?;
            Ok(notice::redirect("/settings", &message, true))
        }
    }
}
