//! Your products: the organization's subscriptions (SUB1–SUB3). Buy licenses, add or remove
//! licenses by entering the new total, recurring billing on or off, cancel (the page says first
//! whether it takes effect now with a refund or at the end of the term), reactivate. Every
//! change is the same use case as `/api/v1/subscriptions`; the controls are shown to Global and
//! Billing admins only, and the use cases check again.

use crate::confirm::{self, ConfirmPage};
use crate::error::PageError;
use crate::frame::{Frame, Nav};
use crate::notice;
use crate::viewer::{Posted, Viewer};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::subscriptions::CANCEL_REASONS;
use seatkeeper_app::{App, AppError};
use seatkeeper_domain::SkuId;
use seatkeeper_domain::Time;
use seatkeeper_domain::kinds::Origin;
use seatkeeper_domain::lifecycle::{BillingFrequency, CancelOutcome, Lifecycle, Status, utc};
use seatkeeper_domain::roles::Action;
use serde::Deserialize;

/// A refusal to show in the page (a 4xx with the API's words), or a failure to show as an
/// error page.
pub(crate) fn refusal(e: AppError) -> Result<(StatusCode, String), PageError> {
    match PageError::from(e) {
        PageError::Status { status, message } if status.is_client_error() => Ok((status, message)),
        other => Err(other),
    }
}

/// A cancellation reason's code and how the page names it (`NoLongerNeeded` → "No longer needed").
pub(crate) fn reason_label(code: &str) -> String {
    let mut out = String::new();
    for (i, c) in code.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// One subscription as the pages show it.
pub struct Row {
    pub id: String,
    pub product: String,
    pub part: String,
    pub licenses: i64,
    pub status: &'static str,
    /// The status badge's class: ok, warn or bad.
    pub tone: &'static str,
    pub frequency: &'static str,
    pub recurring: bool,
    /// "Renews on …", "Ends on …", "Disabled on …", "Deleted on …", or empty.
    pub next: String,
    pub self_service: bool,
}

pub(crate) fn tone(s: Status) -> &'static str {
    match s {
        Status::Active => "ok",
        Status::Expired => "warn",
        Status::Disabled | Status::Deleted => "bad",
    }
}

fn next_step(life: &Lifecycle) -> String {
    let Some(at) = life.next_lifecycle_at() else {
        return String::new();
    };
    let what = match life.status {
        Status::Active if life.recurring => "Renews on",
        Status::Active => "Ends on",
        Status::Expired => "Disabled on",
        Status::Disabled => "Deleted on",
        Status::Deleted => return String::new(),
    };
    format!("{what} {}", utc(at))
}

pub(crate) fn frequency_label(f: BillingFrequency) -> &'static str {
    match f {
        BillingFrequency::Monthly => "Monthly",
        BillingFrequency::Annual => "Annual",
    }
}

fn row(app: &App, id: String, sku: SkuId, quantity: i64, life: &Lifecycle, origin: Origin) -> Row {
    let catalog = app.catalog();
    let p = catalog.product(sku);
    Row {
        id,
        product: p.map(|p| p.name.clone()).unwrap_or_else(|| sku.to_string()),
        part: p
            .map(|p| p.sku_part_number.clone())
            .unwrap_or_else(|| sku.to_string()),
        licenses: quantity,
        status: life.status.as_str(),
        tone: tone(life.status),
        frequency: frequency_label(life.frequency),
        recurring: life.recurring,
        next: next_step(life),
        self_service: origin != Origin::Admin,
    }
}

/// A product that can be bought: (sku id, name).
pub struct Offer {
    pub sku: String,
    pub name: String,
}

/// The Buy licenses form's values and refusal.
#[derive(Default)]
pub struct BuyForm {
    pub sku: String,
    pub quantity: String,
    pub frequency: String,
    pub error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "products.html")]
pub struct ProductsPage {
    pub frame: Frame,
    pub rows: Vec<Row>,
    pub can_manage: bool,
    pub offers: Vec<Offer>,
    pub buy: BuyForm,
}

async fn products_page(
    viewer: &Viewer,
    app: &App,
    buy: BuyForm,
) -> Result<ProductsPage, PageError> {
    viewer.require_admin()?;
    let subs = app.list_subscriptions(&viewer.actor, false).await?;
    let rows = subs
        .iter()
        .map(|s| {
            row(
                app,
                s.id.to_string(),
                s.sku_id,
                s.quantity,
                &s.life,
                s.origin,
            )
        })
        .collect();
    let offers = app
        .catalog()
        .products
        .iter()
        .map(|p| Offer {
            sku: p.sku_id.to_string(),
            name: p.name.clone(),
        })
        .collect();
    Ok(ProductsPage {
        frame: viewer.frame("Your products", Nav::Products),
        rows,
        can_manage: viewer.can(Action::ManageSubscriptions),
        offers,
        buy,
    })
}

/// `GET /products`: one row per subscription, and the Buy licenses form;
/// `?origin=self-service`: the subscriptions bought by users (see [`crate::selfservice`]).
pub async fn list(
    State(app): State<App>,
    viewer: Viewer,
    axum::extract::Query(q): axum::extract::Query<crate::licenses::OriginQuery>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    if q.self_service()? {
        return crate::selfservice::products_page(&app, &viewer).await;
    }
    Ok(products_page(&viewer, &app, BuyForm::default())
        .await?
        .into_response())
}

#[derive(Debug, Deserialize)]
pub struct BuyInput {
    #[serde(default)]
    pub sku: String,
    #[serde(default)]
    pub quantity: String,
    #[serde(default)]
    pub frequency: String,
}

/// Reads a whole number of licenses from a form field.
pub(crate) fn licenses(text: &str) -> Result<i64, String> {
    text.trim().parse::<i64>().map_err(|_| {
        format!(
            "'{}' is not a number of licenses: enter a whole number, like 25.",
            text.trim()
        )
    })
}

/// The products page again, with the Buy licenses form as it was sent and its refusal.
async fn buy_refused(
    app: &App,
    viewer: &Viewer,
    form: &BuyInput,
    status: StatusCode,
    message: String,
) -> Result<Response, PageError> {
    let buy = BuyForm {
        sku: form.sku.clone(),
        quantity: form.quantity.clone(),
        frequency: form.frequency.clone(),
        error: Some(message),
    };
    let page = products_page(viewer, app, buy).await?;
    Ok((status, page).into_response())
}

/// `POST /products/buy`: buys licenses (SUB1), then shows the new subscription.
pub async fn buy(
    State(app): State<App>,
    Posted { viewer, form }: Posted<BuyInput>,
) -> Result<Response, PageError> {
    let sku = SkuId::parse(&form.sku);
    let quantity = licenses(&form.quantity);
    let frequency = BillingFrequency::parse(&form.frequency);
    let (Some(sku), Ok(quantity), Some(frequency)) = (sku, quantity.clone(), frequency) else {
        let message = match (sku, quantity, frequency) {
            (None, _, _) => "Choose a product to buy.".to_string(),
            (_, Err(m), _) => m,
            _ => "Choose monthly or annual billing.".to_string(),
        };
        return buy_refused(&app, &viewer, &form, StatusCode::BAD_REQUEST, message).await;
    };
    match app.buy(&viewer.actor, sku, quantity, frequency).await {
        Ok(s) => {
            let name = app
                .catalog()
                .product(sku)
                .map(|p| p.name.clone())
                .unwrap_or_default();
            Ok(notice::redirect(
                &format!("/products/{}", s.id),
                &format!(
                    "Bought {}, billed {}.",
                    seatkeeper_domain::subscription::licenses_of(quantity, &name),
                    frequency.as_str()
                ),
                false,
            ))
        }
        Err(e) => {
            let (status, message) = refusal(e)?;
            buy_refused(&app, &viewer, &form, status, message).await
        }
    }
}

/// Where a central subscription's prorated refund goes.
const INVOICE_REFUND: &str = "is credited on your next invoice";

/// What cancelling would do now, in words, or why it cannot be cancelled: the domain's own
/// answer (the lifecycle's `cancel`, tried on a copy), never a second reckoning of the window.
/// `refund` says where the prorated refund goes ("is credited on your next invoice").
pub(crate) fn cancel_preview(life: &Lifecycle, now: Time, refund: &str) -> Result<String, String> {
    let mut trial = life.clone();
    match trial.cancel(now) {
        Ok(CancelOutcome::DisabledNow) if life.status == Status::Active => Ok(format!(
            "You are within the cancellation window, which closes on {}: cancelling takes effect now. The subscription is disabled at once, its users lose access to it, and a prorated refund {refund}.",
            utc(life.cancel_window_end())
        )),
        Ok(CancelOutcome::DisabledNow) => Ok(
            "This subscription has expired: cancelling disables it now and its users lose access to it. There is no refund."
                .to_string(),
        ),
        Ok(CancelOutcome::EndsAtTermEnd) => Ok(format!(
            "The cancellation window closed on {}: cancelling turns off recurring billing. The subscription keeps working until its term ends on {}, then expires. There is no refund.",
            utc(life.cancel_window_end()),
            utc(life.term_end)
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// The refusals shown beside one of the subscription page's forms.
#[derive(Default)]
pub struct Refusals {
    pub quantity: Option<String>,
    pub quantity_value: Option<String>,
    pub recurring: Option<String>,
    pub cancel: Option<String>,
    pub reactivate: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "products_subscription.html")]
pub struct SubscriptionPage {
    pub frame: Frame,
    pub s: Row,
    pub commerce_id: String,
    pub term: String,
    pub cancel_reason: Option<String>,
    /// The controls shown: the viewer may manage subscriptions, it is not a self-service one,
    /// and the lifecycle allows the step now.
    pub can_change_quantity: bool,
    pub can_set_recurring: bool,
    pub can_reactivate: bool,
    /// What cancelling would do (shown before confirming), or why it cannot be cancelled.
    pub cancel: Result<String, String>,
    pub can_manage: bool,
    /// A self-service subscription the viewer may take over (it is not deleted).
    pub can_take_over: bool,
    pub reasons: Vec<(&'static str, String)>,
    pub refused: Refusals,
}

impl SubscriptionPage {
    /// The quantity field's value: what was entered (after a refusal) or the current total.
    pub fn quantity_value(&self) -> String {
        self.refused
            .quantity_value
            .clone()
            .unwrap_or_else(|| self.s.licenses.to_string())
    }
}

async fn subscription_page(
    viewer: &Viewer,
    app: &App,
    key: &str,
    refused: Refusals,
) -> Result<SubscriptionPage, PageError> {
    viewer.require_admin()?;
    let sub = app.get_subscription(&viewer.actor, key).await?;
    let now = app.now();
    let life = &sub.life;
    let r = row(
        app,
        sub.id.to_string(),
        sub.sku_id,
        sub.quantity,
        life,
        sub.origin,
    );
    let manage = viewer.can(Action::ManageSubscriptions) && !r.self_service;
    let can_take_over =
        viewer.can(Action::ManageSubscriptions) && r.self_service && life.status != Status::Deleted;
    let can_change_quantity = manage
        && life
            .check_quantity_change(now, sub.quantity, sub.quantity.saturating_add(1))
            .is_ok();
    let can_set_recurring = manage && life.clone().set_recurring(!life.recurring).is_ok();
    let can_reactivate = manage && life.clone().reactivate(now).is_ok();
    let cancel = if manage {
        cancel_preview(life, now, INVOICE_REFUND)
    } else {
        Err(String::new())
    };
    Ok(SubscriptionPage {
        frame: viewer.frame(r.product.clone(), Nav::Products),
        commerce_id: sub.commerce_id.clone(),
        term: format!("{} to {}", utc(life.term_start), utc(life.term_end)),
        cancel_reason: sub.cancel_reason.as_deref().map(reason_label),
        s: r,
        can_change_quantity,
        can_set_recurring,
        can_reactivate,
        cancel,
        can_manage: manage,
        can_take_over,
        reasons: CANCEL_REASONS
            .iter()
            .map(|c| (*c, reason_label(c)))
            .collect(),
        refused,
    })
}

/// `GET /products/{id}`: one subscription and what can be done with it.
pub async fn show(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<SubscriptionPage, PageError> {
    subscription_page(&viewer, &app, &id, Refusals::default()).await
}

/// Shows the subscription page again with `refused` filled from the use case's refusal.
async fn refused_on(
    app: &App,
    viewer: &Viewer,
    id: &str,
    e: AppError,
    fill: impl FnOnce(&mut Refusals, String),
) -> Result<Response, PageError> {
    let (status, message) = refusal(e)?;
    let mut refused = Refusals::default();
    fill(&mut refused, message);
    let page = subscription_page(viewer, app, id, refused).await?;
    Ok((status, page).into_response())
}

pub(crate) fn product_name(app: &App, sku: SkuId) -> String {
    app.catalog()
        .product(sku)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| sku.to_string())
}

#[derive(Debug, Deserialize)]
pub struct QuantityInput {
    #[serde(default)]
    pub quantity: String,
}

/// `POST /products/{id}/quantity`: the new total number of licenses (SUB1, L8).
pub async fn set_quantity(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<QuantityInput>,
) -> Result<Response, PageError> {
    let entered = form.quantity.clone();
    let quantity = match licenses(&form.quantity) {
        Ok(q) => q,
        Err(message) => {
            let page = subscription_page(
                &viewer,
                &app,
                &id,
                Refusals {
                    quantity: Some(message),
                    quantity_value: Some(entered),
                    ..Default::default()
                },
            )
            .await?;
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    match app.set_quantity(&viewer.actor, &id, quantity).await {
        Ok(s) => Ok(notice::redirect(
            &format!("/products/{}", s.id),
            &format!(
                "{} now has {} {}.",
                product_name(&app, s.sku_id),
                s.quantity,
                if s.quantity == 1 {
                    "license"
                } else {
                    "licenses"
                }
            ),
            false,
        )),
        Err(e) => {
            refused_on(&app, &viewer, &id, e, |r, m| {
                r.quantity = Some(m);
                r.quantity_value = Some(entered);
            })
            .await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RecurringInput {
    #[serde(default)]
    pub recurring: String,
}

/// `POST /products/{id}/recurring`: recurring billing on (`recurring=on`) or off.
pub async fn set_recurring(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<RecurringInput>,
) -> Result<Response, PageError> {
    let on = form.recurring == "on";
    match app.set_recurring(&viewer.actor, &id, on).await {
        Ok(s) => Ok(notice::redirect(
            &format!("/products/{}", s.id),
            &if on {
                format!(
                    "Recurring billing is on: {} renews on {}.",
                    product_name(&app, s.sku_id),
                    utc(s.life.term_end)
                )
            } else {
                format!(
                    "Recurring billing is off: {} ends on {}.",
                    product_name(&app, s.sku_id),
                    utc(s.life.term_end)
                )
            },
            false,
        )),
        Err(e) => refused_on(&app, &viewer, &id, e, |r, m| r.recurring = Some(m)).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct CancelInput {
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub confirmed: String,
}

/// `POST /products/{id}/cancel`: cancels (SUB2) with a reason from the list.
pub async fn cancel(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<CancelInput>,
) -> Result<Response, PageError> {
    if form.reason.trim().is_empty() {
        let page = subscription_page(
            &viewer,
            &app,
            &id,
            Refusals {
                cancel: Some("Choose a reason for cancelling.".into()),
                ..Default::default()
            },
        )
        .await?;
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    if !confirm::confirmed(&form.confirmed)
        && viewer.can(Action::ManageSubscriptions)
        && CANCEL_REASONS.contains(&form.reason.trim())
    {
        let sub = app.get_subscription(&viewer.actor, &id).await?;
        // What cancelling does now; when it cannot be cancelled, the use case says why below.
        if let Ok(effect) = cancel_preview(&sub.life, app.now(), INVOICE_REFUND) {
            let name = product_name(&app, sub.sku_id);
            return Ok(ConfirmPage {
                frame: viewer.frame("Cancel subscription", Nav::Products),
                question: format!(
                    "Cancel {name} ({} {})?",
                    sub.quantity,
                    if sub.quantity == 1 {
                        "license"
                    } else {
                        "licenses"
                    }
                ),
                details: vec![
                    effect,
                    format!("Reason: {}.", reason_label(form.reason.trim())),
                ],
                action: format!("/products/{id}/cancel"),
                fields: vec![("reason".into(), form.reason.clone())],
                confirm_label: "Cancel subscription".into(),
                back: format!("/products/{id}"),
                back_label: "Keep the subscription".into(),
            }
            .into_response());
        }
    }
    match app.cancel(&viewer.actor, &id, &form.reason, None).await {
        Ok((s, outcome)) => {
            let name = product_name(&app, s.sku_id);
            let message = match outcome {
                CancelOutcome::DisabledNow => format!(
                    "{name} is cancelled: it is disabled now, and a prorated refund is credited on your next invoice."
                ),
                CancelOutcome::EndsAtTermEnd => format!(
                    "{name} is cancelled: recurring billing is off and it ends on {}.",
                    utc(s.life.term_end)
                ),
            };
            Ok(notice::redirect(
                &format!("/products/{}", s.id),
                &message,
                false,
            ))
        }
        Err(e) => {
            // Cancelled meanwhile (another tab, another admin): say so, not a form that is gone.
            if let Ok(sub) = app.get_subscription(&viewer.actor, &id).await
                && sub.cancel_reason.is_some()
            {
                return Ok(notice::redirect(
                    &format!("/products/{}", sub.id),
                    &format!(
                        "{} is already cancelled (in another tab or by another admin): nothing changed.",
                        product_name(&app, sub.sku_id)
                    ),
                    true,
                ));
            }
            refused_on(&app, &viewer, &id, e, |r, m| r.cancel = Some(m)).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct NoInput {}

/// `POST /products/{id}/reactivate`: Expired or Disabled back to Active (SUB3).
pub async fn reactivate(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, .. }: Posted<NoInput>,
) -> Result<Response, PageError> {
    match app.reactivate(&viewer.actor, &id).await {
        Ok(s) => Ok(notice::redirect(
            &format!("/products/{}", s.id),
            &format!(
                "{} is active again; its new term ends on {}.",
                product_name(&app, s.sku_id),
                utc(s.life.term_end)
            ),
            false,
        )),
        Err(e) => refused_on(&app, &viewer, &id, e, |r, m| r.reactivate = Some(m)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_words() {
        assert_eq!(reason_label("NoLongerNeeded"), "No longer needed");
        assert_eq!(reason_label("Other"), "Other");
    }
}
