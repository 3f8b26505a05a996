//! Settings: the organization (name, default usage location; the Global admin changes them,
//! other admins read them), the signed-in admin's own API tokens (create: the secret is shown
//! once; list; revoke), and the mail the outbox sent or is retrying (Global admins).

use crate::error::PageError;
use crate::frame::{Frame, Nav};
use crate::notice;
use crate::products::refusal;
use crate::tokens::{self, Place, TokenOutcome, TokensPanel};
use crate::viewer::{Posted, Viewer};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::{App, AppError};
use seatkeeper_domain::kinds::OutboxStatus;
use seatkeeper_domain::lifecycle::utc;
use seatkeeper_domain::roles::Action;
use serde::Deserialize;

/// Messages the Sent mail section shows.
pub const MAIL_SHOWN: i64 = 50;

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
    /// What a token post left to show.
    pub tokens: TokenOutcome,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub frame: Frame,
    pub org_name: String,
    pub org_location: String,
    pub currency: String,
    pub can_manage_org: bool,
    /// The admin's own API tokens.
    pub tokens: TokensPanel,
    /// The outbox, for Global admins only (None: not shown).
    pub mail: Option<Vec<MailRow>>,
    pub out: Outcome,
}

/// The Settings page, showing what the last post left (`out`).
pub async fn settings_page(
    viewer: &Viewer,
    app: &App,
    mut out: Outcome,
) -> Result<SettingsPage, PageError> {
    viewer.require_admin()?;
    let tenant = app.get_tenant(&viewer.actor).await?;
    let tokens = tokens::panel(
        app,
        viewer,
        Place::Settings,
        std::mem::take(&mut out.tokens),
    )
    .await?;
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
