//! **Settings → Self-service purchases** (`/settings/self-service`, POL1–POL3): the
//! organization's default purchase policy and the value of each self-service-eligible product.
//! Global and Billing admins change them; a Global reader sees them without controls; other
//! roles get a 403. The same use cases as `/api/v1/policies`.

use crate::error::PageError;
use crate::frame::{Frame, Nav};
use crate::notice;
use crate::products::refusal;
use crate::viewer::{Posted, Viewer};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::policies::parse_value;
use seatkeeper_app::{App, AppError};
use seatkeeper_domain::kinds::PolicyValue;
use seatkeeper_domain::roles::Action;
use serde::Deserialize;

/// The page's path.
pub const PATH: &str = "/settings/self-service";

/// A policy value in words.
pub fn value_words(v: PolicyValue) -> &'static str {
    match v {
        PolicyValue::Enabled => "Enabled: users may buy it and start its trials",
        PolicyValue::OnlyTrialsWithoutPaymentMethod => "Only trials without a payment method",
        PolicyValue::Disabled => "Disabled: users may neither buy nor try it",
    }
}

/// One choice of a policy select: (value, words, selected).
pub type Choice = (&'static str, &'static str, bool);

fn choices(current: PolicyValue) -> Vec<Choice> {
    PolicyValue::ALL
        .iter()
        .map(|v| (v.as_str(), value_words(*v), *v == current))
        .collect()
}

/// One product's row.
pub struct PolicyRow {
    pub product: String,
    pub product_id: String,
    pub value_words: &'static str,
    pub choices: Vec<Choice>,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_self_service.html")]
pub struct SelfServiceSettingsPage {
    pub frame: Frame,
    pub can_manage: bool,
    pub default_words: &'static str,
    pub default_choices: Vec<Choice>,
    pub rows: Vec<PolicyRow>,
    pub error: Option<String>,
}

async fn page(
    app: &App,
    viewer: &Viewer,
    error: Option<String>,
) -> Result<SelfServiceSettingsPage, PageError> {
    viewer.require_admin()?;
    let policies = app.list_policies(&viewer.actor).await?;
    let default_value = policies
        .first()
        .map(|p| p.default_value)
        .unwrap_or(PolicyValue::Enabled);
    let rows = app
        .product_policies(&viewer.actor)
        .await?
        .into_iter()
        .map(|p| PolicyRow {
            product: p.product_name,
            product_id: p.product_id,
            value_words: value_words(p.policy_value),
            choices: choices(p.policy_value),
        })
        .collect();
    Ok(SelfServiceSettingsPage {
        frame: viewer.frame("Self-service purchases", Nav::SelfServiceSettings),
        can_manage: viewer.can(Action::ManageBilling),
        default_words: value_words(default_value),
        default_choices: choices(default_value),
        rows,
        error,
    })
}

/// `GET /settings/self-service`.
pub async fn show(
    State(app): State<App>,
    viewer: Viewer,
) -> Result<SelfServiceSettingsPage, PageError> {
    page(&app, &viewer, None).await
}

/// The Save form: the default value, or one product's value.
#[derive(Debug, Deserialize)]
pub struct SaveInput {
    /// The productId; empty for the default value.
    #[serde(default)]
    pub product_id: String,
    #[serde(default)]
    pub value: String,
}

/// `POST /settings/self-service`: saves the default value or one product's value.
pub async fn save(
    State(app): State<App>,
    Posted { viewer, form }: Posted<SaveInput>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let result: Result<String, AppError> = async {
        let value = parse_value("Policy value", &form.value)?;
        if form.product_id.trim().is_empty() {
            app.set_policy_default(&viewer.actor, value).await?;
            Ok(format!(
                "The default self-service purchase policy is now {}.",
                value_words(value)
            ))
        } else {
            let p = app
                .set_product_policy(&viewer.actor, &form.product_id, value)
                .await?;
            Ok(format!(
                "Self-service purchases of {} are now {}.",
                p.product_name,
                value_words(value)
            ))
        }
    }
    .await;
    match result {
        Ok(message) => Ok(notice::redirect(PATH, &message, false)),
        Err(e) => {
            let (status, message) = refusal(e)?;
            let page = page(&app, &viewer, Some(message)).await?;
            Ok((status, page).into_response())
        }
    }
}
