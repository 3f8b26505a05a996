//! Self-service purchases in the admin center (SS1–SS5).
//!
//! End users: **Buy a product** (`/buy`: the self-service eligible products with their price
//! and trial offer, and why one cannot be bought) and **My products** (`/my/products`: their
//! purchases and trials, who holds their licenses, **Assign licenses**, **Unassign**, **Change
//! quantity**, **Cancel**). Admins: the "Self-service" filter of Licenses and Your products,
//! **Export users**, **Take over** (Move users or Cancel) and **Ask to cancel**. Every change is
//! the same use case as `/api/v1/me/*` and `/api/v1/subscriptions/*`.

use crate::error::PageError;
use crate::frame::{Frame, Nav};
use crate::licenses::{Pick, PickerResults, date};
use crate::notice;
use crate::products::{
    cancel_preview, frequency_label, licenses as parse_licenses, product_name, reason_label,
    refusal, tone,
};
use crate::viewer::{Posted, Viewer};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use seatkeeper_app::selfservice::{PurchaseOffer, SubscriptionPeople, TakeOver};
use seatkeeper_app::subscriptions::CANCEL_REASONS;
use seatkeeper_app::{Actor, App, AppError};
use seatkeeper_domain::lifecycle::{BillingFrequency, CancelOutcome, Status};
use seatkeeper_domain::roles::Action;
use seatkeeper_domain::subscription::{Money, Subscription, licenses_of};
use seatkeeper_domain::{PaymentMethodId, SkuId, UserId};
use serde::Deserialize;

/// Users shown by one search of the people picker.
const PICKER: i64 = 10;

/// An amount as a person reads it: "$7.20", "€6.80", "DKK 45.00".
pub fn money(m: &Money) -> String {
    let (symbol, decimals) = match m.currency.as_str() {
        "USD" => ("$", 2),
        "EUR" => ("€", 2),
        "GBP" => ("£", 2),
        "JPY" => ("¥", 0),
        _ => ("", 2),
    };
    let sign = if m.minor < 0 { "-" } else { "" };
    let abs = m.minor.unsigned_abs();
    let body = if decimals == 0 {
        abs.to_string()
    } else {
        format!("{}.{:02}", abs / 100, abs % 100)
    };
    if symbol.is_empty() {
        format!("{sign}{} {body}", m.currency)
    } else {
        format!("{sign}{symbol}{body}")
    }
}

/// A subscription's price in words: "$7.20 per license/month", or "Free trial".
fn price_words(s: &Subscription) -> String {
    match (&s.price, s.is_trial) {
        (_, true) => "Free trial".into(),
        (Some(p), false) => format!(
            "{} per license/{}",
            money(p),
            match s.life.frequency {
                BillingFrequency::Monthly => "month",
                BillingFrequency::Annual => "year",
            }
        ),
        (None, false) => String::new(),
    }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn me(viewer: &Viewer) -> Result<UserId, PageError> {
    viewer.actor.user_id.ok_or_else(|| {
        PageError::forbidden(
            "Only a signed-in user can buy products; the operator has no products of its own.",
        )
    })
}

// ----- payment methods (the one place the pages learn the buyer's cards) -----

/// One payment method the buyer can choose.
#[derive(Debug, Clone)]
pub struct PaymentChoice {
    pub id: String,
    /// "Visa ending 4242, expires 12/2030".
    pub label: String,
}

/// The buyer's payment methods for the Buy a product forms, or what to do when there is none.
#[derive(Debug, Clone)]
pub struct PaymentChoices {
    pub choices: Vec<PaymentChoice>,
    /// Shown instead of the list when it is empty.
    pub missing: Option<String>,
}

/// The signed-in buyer's cards, or, when they have none, where to add one.
pub async fn payment_choices(app: &App, actor: &Actor) -> Result<PaymentChoices, PageError> {
    let cards = app
        .payment_methods(actor, seatkeeper_app::billing::CardOwner::Me)
        .await?;
    let choices: Vec<PaymentChoice> = cards
        .iter()
        .map(|m| PaymentChoice {
            id: m.id.to_string(),
            label: format!(
                "{} ending {}, expires {:02}/{}",
                m.brand, m.last4, m.expiry_month, m.expiry_year
            ),
        })
        .collect();
    let missing = choices.is_empty().then(|| {
        "You have no card yet: add one under Payment methods (/my/payment-methods), then come back."
            .to_string()
    });
    Ok(PaymentChoices { choices, missing })
}

// ----- Buy a product -----

/// A product's trial offer as the page shows it.
#[derive(Debug, Clone)]
pub struct TrialView {
    pub days: u32,
    pub licenses: u32,
    pub needs_card: bool,
    /// Why it cannot be started now.
    pub refusal: Option<String>,
}

/// A product on the Buy a product page.
#[derive(Debug, Clone)]
pub struct OfferView {
    pub sku: String,
    pub name: String,
    /// "$7.20 per license/month" and "$72.00 per license/year"; empty when not sold in the
    /// organization's currency.
    pub monthly: String,
    pub annual: String,
    /// Why it cannot be bought now.
    pub refusal: Option<String>,
    /// Whether the purchase policy blocks buying it, so the user may request it instead.
    pub requestable: bool,
    pub trial: Option<TrialView>,
    /// What it needs from a product the user does not hold, and what stays off without it:
    /// "Needs Files and sites (Enterprise), which you don't have: Diagrams stays off."
    pub needs: Option<String>,
}

/// The Buy page's words for the plans a buyer's license would have off for want of another
/// product's plan.
fn needs_words(app: &App, o: &PurchaseOffer) -> Option<String> {
    if o.plans_off.is_empty() {
        return None;
    }
    let catalog = app.catalog();
    let name = |p: seatkeeper_domain::PlanId| {
        catalog
            .plan(p)
            .map(|d| d.display_name.clone())
            .unwrap_or_else(|| p.to_string())
    };
    let mut needs: Vec<String> = o
        .plans_off
        .iter()
        .flat_map(|x| x.needs.iter().map(|n| name(*n)))
        .collect();
    needs.sort();
    needs.dedup();
    let off: Vec<String> = o.plans_off.iter().map(|x| name(x.plan)).collect();
    Some(format!(
        "Needs {}, which you don't have: {} {} off.",
        needs.join(", "),
        off.join(", "),
        if off.len() == 1 { "stays" } else { "stay" }
    ))
}

fn offer_view(app: &App, o: &PurchaseOffer) -> OfferView {
    let (monthly, annual) = match &o.price {
        Some((m, a)) => (
            format!("{} per license/month", money(m)),
            format!("{} per license/year", money(a)),
        ),
        None => (String::new(), String::new()),
    };
    OfferView {
        sku: o.product.sku_id.to_string(),
        name: o.product.name.clone(),
        monthly,
        annual,
        refusal: o.purchase.as_ref().err().map(|e| e.to_string()),
        requestable: o
            .purchase
            .as_ref()
            .err()
            .is_some_and(|e| e.allows_request()),
        trial: o.product.trial.as_ref().map(|t| TrialView {
            days: t.days,
            licenses: t.licenses,
            needs_card: t.needs_payment_method,
            refusal: o.trial.as_ref().err().map(|e| e.to_string()),
        }),
        needs: needs_words(app, o),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "selfservice_buy.html")]
pub struct BuyPage {
    pub frame: Frame,
    pub offers: Vec<OfferView>,
    pub payment: PaymentChoices,
    /// A refusal of the last form sent, in the API's words.
    pub error: Option<String>,
    /// The product that form was for.
    pub error_sku: String,
}

async fn buy_page(
    app: &App,
    viewer: &Viewer,
    error: Option<(String, String)>,
) -> Result<BuyPage, PageError> {
    me(viewer)?;
    let offers = app.purchase_offers(&viewer.actor).await?;
    let (error_sku, error) = match error {
        Some((sku, e)) => (sku, Some(e)),
        None => (String::new(), None),
    };
    Ok(BuyPage {
        frame: viewer.frame("Buy a product", Nav::Buy),
        offers: offers.iter().map(|o| offer_view(app, o)).collect(),
        payment: payment_choices(app, &viewer.actor).await?,
        error,
        error_sku,
    })
}

/// `GET /buy`: the products the signed-in user may buy or try themselves.
pub async fn buy(State(app): State<App>, viewer: Viewer) -> Result<BuyPage, PageError> {
    buy_page(&app, &viewer, None).await
}

async fn buy_refused(
    app: &App,
    viewer: &Viewer,
    sku: &str,
    e: AppError,
) -> Result<Response, PageError> {
    let (status, message) = refusal(e)?;
    let page = buy_page(app, viewer, Some((sku.to_string(), message))).await?;
    Ok((status, page).into_response())
}

fn sku_in_path(app: &App, sku: &str) -> Result<SkuId, PageError> {
    app.catalog()
        .find_product(sku)
        .map(|p| p.sku_id)
        .ok_or_else(|| {
            PageError::not_found(format!(
                "There is no product '{sku}'. Pick one on Buy a product."
            ))
        })
}

/// The Buy form of one product.
#[derive(Debug, Deserialize)]
pub struct PurchaseInput {
    #[serde(default)]
    pub quantity: String,
    #[serde(default)]
    pub frequency: String,
    #[serde(default)]
    pub payment_method: String,
}

fn payment_method(text: &str) -> Result<PaymentMethodId, AppError> {
    PaymentMethodId::parse(text).ok_or_else(|| {
        AppError::invalid(
            "paymentMethodRequired",
            "Choose a payment method: add a card under Payment methods first.",
        )
    })
}

/// `POST /buy/{sku}`: buys licenses of the product (SS1); the buyer gets one of them.
pub async fn purchase(
    State(app): State<App>,
    Path(sku): Path<String>,
    Posted { viewer, form }: Posted<PurchaseInput>,
) -> Result<Response, PageError> {
    let sku_id = sku_in_path(&app, &sku)?;
    let checked = (|| {
        let quantity =
            parse_licenses(&form.quantity).map_err(|m| AppError::invalid("invalidQuantity", m))?;
        let frequency = BillingFrequency::parse(&form.frequency).ok_or_else(|| {
            AppError::invalid("invalidFrequency", "Choose monthly or annual billing.")
        })?;
        Ok::<_, AppError>((quantity, frequency, payment_method(&form.payment_method)?))
    })();
    let result = match checked {
        Ok((quantity, frequency, method)) => {
            app.purchase(
                &viewer.actor,
                sku_id,
                quantity,
                frequency,
                Some(method),
                &[],
                None,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(s) => Ok(notice::redirect(
            &format!("/my/products/{}", s.id),
            &format!(
                "You bought {}, billed {}.",
                licenses_of(s.quantity, &product_name(&app, s.sku_id)),
                s.life.frequency.as_str()
            ),
            false,
        )),
        Err(e) => buy_refused(&app, &viewer, &sku_id.to_string(), e).await,
    }
}

/// The Start trial form of one product.
#[derive(Debug, Deserialize)]
pub struct TrialInput {
    #[serde(default)]
    pub payment_method: String,
}

/// `POST /buy/{sku}/trial`: starts the product's trial (SS1); the buyer gets one license.
pub async fn start_trial(
    State(app): State<App>,
    Path(sku): Path<String>,
    Posted { viewer, form }: Posted<TrialInput>,
) -> Result<Response, PageError> {
    let sku_id = sku_in_path(&app, &sku)?;
    let method = if form.payment_method.trim().is_empty() {
        None
    } else {
        match payment_method(&form.payment_method) {
            Ok(m) => Some(m),
            Err(e) => return buy_refused(&app, &viewer, &sku_id.to_string(), e).await,
        }
    };
    match app.start_trial(&viewer.actor, sku_id, method, &[]).await {
        Ok(s) => Ok(notice::redirect(
            &format!("/my/products/{}", s.id),
            &format!(
                "Your trial of {} started: {} until {}.",
                product_name(&app, s.sku_id),
                plural(s.quantity, "license", "licenses"),
                date(s.life.term_end)
            ),
            false,
        )),
        Err(e) => buy_refused(&app, &viewer, &sku_id.to_string(), e).await,
    }
}

// ----- My products -----

/// One of the signed-in user's subscriptions.
#[derive(Debug, Clone)]
pub struct MySub {
    pub id: String,
    pub product: String,
    pub quantity: i64,
    pub assigned: usize,
    pub status: &'static str,
    pub tone: &'static str,
    /// "Trial" or "Paid".
    pub kind: &'static str,
    pub frequency: &'static str,
    pub term_end: String,
    pub price: String,
    /// What a term of all its licenses costs ("$30.00 (2 licenses at $15.00 per
    /// license/month)"); empty for trials and subscriptions without a price.
    pub term_price: String,
}

fn my_sub(app: &App, p: &SubscriptionPeople) -> MySub {
    let s = &p.subscription;
    MySub {
        id: s.id.to_string(),
        product: product_name(app, s.sku_id),
        quantity: s.quantity,
        assigned: p.users.len(),
        status: s.life.status.as_str(),
        tone: tone(s.life.status),
        kind: if s.is_trial { "Trial" } else { "Paid" },
        frequency: frequency_label(s.life.frequency),
        term_end: date(s.life.term_end),
        price: price_words(s),
        term_price: match (&s.price, s.is_trial) {
            (Some(p), false) => format!(
                "{} ({} at {})",
                money(&Money {
                    minor: p.minor.saturating_mul(s.quantity),
                    currency: p.currency.clone(),
                }),
                plural(s.quantity, "license", "licenses"),
                price_words(s)
            ),
            _ => String::new(),
        },
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "selfservice_mine.html")]
pub struct MyProductsPage {
    pub frame: Frame,
    pub subs: Vec<MySub>,
}

/// `GET /my/products`: the signed-in user's purchases and trials.
pub async fn my_products(
    State(app): State<App>,
    viewer: Viewer,
) -> Result<MyProductsPage, PageError> {
    me(&viewer)?;
    let list = app.my_subscriptions(&viewer.actor, false).await?;
    let people = app.people_of_subscriptions(&list).await?;
    Ok(MyProductsPage {
        frame: viewer.frame("My products", Nav::MyProducts),
        subs: people.iter().map(|p| my_sub(&app, p)).collect(),
    })
}

/// The refusals shown beside one of the My products subscription page's forms.
#[derive(Debug, Default)]
pub struct MyRefusals {
    pub quantity: Option<String>,
    pub quantity_value: Option<String>,
    pub unassign: Option<String>,
    pub cancel: Option<String>,
    /// Beside **Change payment method**.
    pub card: Option<String>,
    /// Under **Reactivate**.
    pub reactivate: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "selfservice_subscription.html")]
pub struct MySubscriptionPage {
    pub frame: Frame,
    pub s: MySub,
    /// The people holding its licenses.
    pub users: Vec<Pick>,
    /// Whether its licenses can be assigned and its total changed (it is running).
    pub running: bool,
    /// Whether its purchaser can reactivate it (a paid one, Expired or Disabled).
    pub reactivatable: bool,
    /// What cancelling would do, or why it cannot be cancelled now.
    pub cancel: Result<String, String>,
    pub reasons: Vec<(&'static str, String)>,
    pub refused: MyRefusals,
    /// The card it is charged to ("Visa ending 4242, expires 12/2030") and the buyer's cards
    /// to choose instead; None when it is not charged to a card (a trial without one) or
    /// has ended.
    pub card: Option<(String, PaymentChoices)>,
}

impl MySubscriptionPage {
    /// The total field's value: what was entered (after a refusal) or the current total.
    pub fn quantity_value(&self) -> String {
        self.refused
            .quantity_value
            .clone()
            .unwrap_or_else(|| self.s.quantity.to_string())
    }
}

/// What cancelling one's own subscription does now, in words, or why it cannot be cancelled.
/// A trial is never charged or refunded: its words say so.
fn my_cancel_preview(s: &Subscription, now: seatkeeper_domain::Time) -> Result<String, String> {
    if !s.is_trial {
        return cancel_preview(
            &s.life,
            now,
            "for the rest of the term goes back to its card",
        );
    }
    match s.life.clone().cancel(now) {
        Ok(CancelOutcome::DisabledNow) => Ok(
            "Cancelling ends your trial now: the people holding its licenses lose them. Nothing is charged."
                .into(),
        ),
        Ok(CancelOutcome::EndsAtTermEnd) => Ok(format!(
            "Cancelling keeps your trial until it ends on {}; it then ends without a charge.",
            date(s.life.term_end)
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// The viewer's own self-service subscription `id` with its people; another's is a 404.
async fn mine(app: &App, viewer: &Viewer, id: &str) -> Result<SubscriptionPeople, PageError> {
    let me = me(viewer)?;
    let missing = || {
        PageError::not_found(format!(
            "You have no subscription '{id}'. Open one from My products."
        ))
    };
    match app.own_purchase(&viewer.actor, id).await {
        Ok(_) => {}
        Err(AppError::NotFound(_)) => return Err(missing()),
        Err(AppError::Forbidden(m)) => return Err(PageError::forbidden(m)),
        Err(e) => return Err(e.into()),
    }
    let p = match app.subscription_people(&viewer.actor, id).await {
        Ok(p) => p,
        Err(AppError::NotFound(_)) => return Err(missing()),
        Err(e) => return Err(e.into()),
    };
    if p.subscription.purchaser_id != Some(me) {
        return Err(missing());
    }
    Ok(p)
}

async fn my_subscription_page(
    app: &App,
    viewer: &Viewer,
    id: &str,
    refused: MyRefusals,
) -> Result<MySubscriptionPage, PageError> {
    let p = mine(app, viewer, id).await?;
    let s = &p.subscription;
    let running = s.life.status.counts_as_enabled() && s.life.status != Status::Deleted;
    let view = my_sub(app, &p);
    let card = match s.payment_method_id {
        Some(current) if s.life.status != Status::Deleted => {
            let choices = payment_choices(app, &viewer.actor).await?;
            let label = choices
                .choices
                .iter()
                .find(|c| c.id == current.to_string())
                .map(|c| c.label.clone())
                .unwrap_or_else(|| "A card that was removed".into());
            Some((label, choices))
        }
        _ => None,
    };
    Ok(MySubscriptionPage {
        frame: viewer.frame(view.product.clone(), Nav::MyProducts),
        users: p
            .users
            .iter()
            .map(|(u, _)| Pick {
                upn: u.upn.clone(),
                name: u.display_name.clone(),
                picked: false,
            })
            .collect(),
        running,
        reactivatable: !s.is_trial && matches!(s.life.status, Status::Expired | Status::Disabled),
        cancel: my_cancel_preview(s, app.now()),
        reasons: CANCEL_REASONS
            .iter()
            .map(|c| (*c, reason_label(c)))
            .collect(),
        s: view,
        refused,
        card,
    })
}

/// `GET /my/products/{id}`: one of the user's subscriptions and what they can do with it.
pub async fn my_subscription(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<MySubscriptionPage, PageError> {
    my_subscription_page(&app, &viewer, &id, MyRefusals::default()).await
}

async fn my_refused(
    app: &App,
    viewer: &Viewer,
    id: &str,
    e: AppError,
    fill: impl FnOnce(&mut MyRefusals, String),
) -> Result<Response, PageError> {
    let (status, message) = refusal(e)?;
    let mut refused = MyRefusals::default();
    fill(&mut refused, message);
    let page = my_subscription_page(app, viewer, id, refused).await?;
    Ok((status, page).into_response())
}

/// The new total of **Change quantity**.
#[derive(Debug, Deserialize)]
pub struct QuantityInput {
    #[serde(default)]
    pub quantity: String,
}

/// `POST /my/products/{id}/quantity`: the new total number of licenses (SS2).
pub async fn my_quantity(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<QuantityInput>,
) -> Result<Response, PageError> {
    let entered = form.quantity.clone();
    let result = match parse_licenses(&form.quantity) {
        Ok(q) => {
            app.update_subscription(&viewer.actor, &id, Some(q), None)
                .await
        }
        Err(m) => Err(AppError::invalid("invalidQuantity", m)),
    };
    match result {
        Ok(s) => Ok(notice::redirect(
            &format!("/my/products/{}", s.id),
            &format!(
                "{} now has {}.",
                product_name(&app, s.sku_id),
                plural(s.quantity, "license", "licenses")
            ),
            false,
        )),
        Err(e) => {
            my_refused(&app, &viewer, &id, e, |r, m| {
                r.quantity = Some(m);
                r.quantity_value = Some(entered);
            })
            .await
        }
    }
}

/// `POST /my/products/{id}/reactivate`: the purchaser reactivates their expired or disabled
/// subscription; its card is charged for the new term (the same use case as
/// `POST /api/v1/subscriptions/{id}/reactivate`).
pub async fn my_reactivate(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, .. }: Posted<crate::products::NoInput>,
) -> Result<Response, PageError> {
    match app.reactivate(&viewer.actor, &id).await {
        Ok(s) => Ok(notice::redirect(
            &format!("/my/products/{}", s.id),
            &format!(
                "{} is active again until {}.",
                product_name(&app, s.sku_id),
                date(s.life.term_end)
            ),
            false,
        )),
        Err(e) => my_refused(&app, &viewer, &id, e, |r, m| r.reactivate = Some(m)).await,
    }
}

/// The card chosen in **Change payment method**.
#[derive(Debug, Deserialize)]
pub struct CardInput {
    #[serde(default)]
    pub payment_method: String,
}

/// `POST /my/products/{id}/payment-method`: the purchaser has the subscription charged to
/// another of their cards (the same use case as `PATCH /api/v1/subscriptions/{id}`).
pub async fn my_payment_method(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<CardInput>,
) -> Result<Response, PageError> {
    let result = if form.payment_method.trim().is_empty() {
        Err(AppError::invalid(
            "missingPaymentMethod",
            "Choose the card to charge from now on.",
        ))
    } else {
        app.set_payment_method(&viewer.actor, &id, &form.payment_method)
            .await
    };
    match result {
        Ok(s) => Ok(notice::redirect(
            &format!("/my/products/{}", s.id),
            &format!(
                "{} is now charged to the card you chose. You can delete the old card under Payment methods if nothing else uses it.",
                product_name(&app, s.sku_id)
            ),
            false,
        )),
        Err(e) => my_refused(&app, &viewer, &id, e, |r, m| r.card = Some(m)).await,
    }
}

/// A confirmation step that works without JavaScript: the same form again with
/// `confirmed=1`.
#[derive(Template, WebTemplate)]
#[template(path = "selfservice_confirm.html")]
pub struct ConfirmPage {
    pub frame: Frame,
    pub heading: String,
    /// What confirming does, in words.
    pub text: String,
    /// People the step is about, listed.
    pub people: Vec<Pick>,
    pub action: String,
    /// Hidden fields sent again: (name, value).
    pub fields: Vec<(String, String)>,
    pub button: String,
    pub danger: bool,
    /// Where "Go back" leads.
    pub back: String,
    pub error: Option<String>,
}

/// The users of a form (by user name), trimmed and without repeats.
fn picked(users: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for u in users.iter().map(|u| u.trim()).filter(|u| !u.is_empty()) {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(u)) {
            out.push(u.to_string());
        }
    }
    out
}

/// The Unassign form: users checked, and the confirmation.
#[derive(Debug, Default, Deserialize)]
pub struct UnassignInput {
    #[serde(default)]
    pub user: Vec<String>,
    #[serde(default)]
    pub confirmed: Option<String>,
}

/// `POST /my/products/{id}/unassign`: first asks, then (confirmed) removes this
/// subscription's licenses from the users checked (SS2).
pub async fn my_unassign(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<UnassignInput>,
) -> Result<Response, PageError> {
    let users = picked(&form.user);
    if users.is_empty() {
        return my_refused(
            &app,
            &viewer,
            &id,
            AppError::invalid(
                "noUsers",
                "Select the users to unassign first: check the box beside each name.",
            ),
            |r, m| r.unassign = Some(m),
        )
        .await;
    }
    if form.confirmed.is_none() {
        let p = mine(&app, &viewer, &id).await?;
        let product = product_name(&app, p.subscription.sku_id);
        let people = p
            .users
            .iter()
            .filter(|(u, _)| users.iter().any(|x| x.eq_ignore_ascii_case(&u.upn)))
            .map(|(u, _)| Pick {
                upn: u.upn.clone(),
                name: u.display_name.clone(),
                picked: true,
            })
            .collect();
        return Ok(ConfirmPage {
            frame: viewer.frame(format!("Unassign licenses: {product}"), Nav::MyProducts),
            heading: "Unassign licenses".into(),
            text: format!(
                "These people lose their {product} license from your subscription; the licenses become available to assign again."
            ),
            people,
            action: format!("/my/products/{id}/unassign"),
            fields: users.iter().map(|u| ("user".to_string(), u.clone())).collect(),
            button: "Unassign".into(),
            danger: true,
            back: format!("/my/products/{id}"),
            error: None,
        }
        .into_response());
    }
    match app
        .unassign_in_subscription(&viewer.actor, &id, &users)
        .await
    {
        Ok(_) => Ok(notice::redirect(
            &format!("/my/products/{id}"),
            &format!(
                "{} unassigned; {}",
                plural(users.len() as i64, "user was", "users were"),
                notice::available_again(users.len())
            ),
            false,
        )),
        Err(e) => my_refused(&app, &viewer, &id, e, |r, m| r.unassign = Some(m)).await,
    }
}

/// The Cancel form: reason, feedback, and the confirmation.
#[derive(Debug, Default, Deserialize)]
pub struct CancelInput {
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub feedback: String,
    #[serde(default)]
    pub confirmed: Option<String>,
}

/// `POST /my/products/{id}/cancel`: first says what cancelling does, then (confirmed)
/// cancels with the reason and feedback (SS2).
pub async fn my_cancel(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<CancelInput>,
) -> Result<Response, PageError> {
    let reason = form.reason.trim();
    if !CANCEL_REASONS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(reason))
    {
        return my_refused(
            &app,
            &viewer,
            &id,
            AppError::invalid(
                "missingReason",
                "Choose a reason for cancelling from the list.",
            ),
            |r, m| r.cancel = Some(m),
        )
        .await;
    }
    let feedback = form.feedback.trim();
    if form.confirmed.is_none() {
        let p = mine(&app, &viewer, &id).await?;
        let product = product_name(&app, p.subscription.sku_id);
        let effect = match my_cancel_preview(&p.subscription, app.now()) {
            Ok(t) => t,
            Err(e) => {
                return my_refused(
                    &app,
                    &viewer,
                    &id,
                    AppError::invalid("cannotCancel", e),
                    |r, m| r.cancel = Some(m),
                )
                .await;
            }
        };
        return Ok(ConfirmPage {
            frame: viewer.frame(format!("Cancel {product}"), Nav::MyProducts),
            heading: format!("Cancel {product}?"),
            text: format!("{effect} Reason: {}.", reason_label(reason)),
            people: Vec::new(),
            action: format!("/my/products/{id}/cancel"),
            fields: vec![
                ("reason".into(), reason.to_string()),
                ("feedback".into(), feedback.to_string()),
            ],
            button: "Cancel subscription".into(),
            danger: true,
            back: format!("/my/products/{id}"),
            error: None,
        }
        .into_response());
    }
    let feedback = Some(feedback).filter(|f| !f.is_empty());
    match app.cancel(&viewer.actor, &id, reason, feedback).await {
        Ok((s, outcome)) => {
            let name = product_name(&app, s.sku_id);
            let message = match outcome {
                CancelOutcome::DisabledNow if !s.is_trial => format!(
                    "{name} is cancelled: it is disabled now and its users lose it. The rest of its term is refunded to its card."
                ),
                CancelOutcome::DisabledNow => {
                    format!("{name} is cancelled: it is disabled now and its users lose it.")
                }
                CancelOutcome::EndsAtTermEnd => format!(
                    "{name} is cancelled: it keeps working until {}, then ends.",
                    date(s.life.term_end)
                ),
            };
            Ok(notice::redirect("/my/products", &message, false))
        }
        Err(e) => my_refused(&app, &viewer, &id, e, |r, m| r.cancel = Some(m)).await,
    }
}

// ----- Assign licenses (the purchaser's picker) -----

#[derive(Template, WebTemplate)]
#[template(path = "selfservice_assign.html")]
pub struct MyAssignPage {
    pub frame: Frame,
    pub id: String,
    pub product: String,
    pub available: i64,
    pub q: String,
    pub picked: Vec<Pick>,
    pub results: Vec<Pick>,
    pub searched: bool,
    pub error: Option<String>,
}

/// The Assign form as sent (Search with GET, Assign with POST).
#[derive(Debug, Default, Deserialize)]
pub struct AssignInput {
    #[serde(default)]
    pub user: Vec<String>,
    #[serde(default)]
    pub q: String,
}

async fn search_members(
    app: &App,
    viewer: &Viewer,
    id: &str,
    q: &str,
    picked: &[String],
) -> Result<Vec<Pick>, PageError> {
    Ok(app
        .find_members_for(&viewer.actor, id, q, PICKER + picked.len() as i64)
        .await?
        .into_iter()
        .filter(|u| !picked.iter().any(|p| p.eq_ignore_ascii_case(&u.upn)))
        .take(PICKER as usize)
        .map(|u| Pick {
            upn: u.upn.clone(),
            name: u.display_name.clone(),
            picked: false,
        })
        .collect())
}

async fn my_assign_page(
    app: &App,
    viewer: &Viewer,
    id: &str,
    form: &AssignInput,
    error: Option<String>,
) -> Result<MyAssignPage, PageError> {
    let p = mine(app, viewer, id).await?;
    let product = product_name(app, p.subscription.sku_id);
    let picked_upns = picked(&form.user);
    let q = form.q.trim().to_string();
    let results = if q.is_empty() {
        Vec::new()
    } else {
        search_members(app, viewer, id, &q, &picked_upns).await?
    };
    Ok(MyAssignPage {
        frame: viewer.frame(format!("Assign licenses: {product}"), Nav::MyProducts),
        id: id.to_string(),
        available: (p.subscription.quantity - p.users.len() as i64).max(0),
        product,
        searched: !q.is_empty(),
        q,
        picked: picked_upns
            .into_iter()
            .map(|upn| Pick {
                name: upn.clone(),
                upn,
                picked: true,
            })
            .collect(),
        results,
        error,
    })
}

fn read_query(raw: Option<String>) -> Result<AssignInput, PageError> {
    serde_html_form::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| PageError::bad_request(format!("The search could not be read: {e}.")))
}

/// `GET /my/products/{id}/assign`: **Assign licenses**; `?q=` searches Members by name.
pub async fn my_assign_form(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let form = read_query(raw)?;
    Ok(my_assign_page(&app, &viewer, &id, &form, None)
        .await?
        .into_response())
}

/// `GET /my/products/{id}/assign/search?q=`: the picker's results alone (htmx).
pub async fn my_assign_search(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let form = read_query(raw)?;
    let q = form.q.trim().to_string();
    let results = if q.is_empty() {
        Vec::new()
    } else {
        search_members(&app, &viewer, &id, &q, &picked(&form.user)).await?
    };
    Ok(PickerResults {
        searched: !q.is_empty(),
        q,
        results,
    }
    .into_response())
}

/// `POST /my/products/{id}/assign`: gives the picked Members (up to 20) a license of the
/// subscription; all or nothing (SS2).
pub async fn my_assign(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<AssignInput>,
) -> Result<Response, PageError> {
    let users = picked(&form.user);
    let result = if users.is_empty() {
        Err(AppError::invalid(
            "noUsers",
            "Pick at least one person: type a name in Search people and check them.",
        ))
    } else {
        app.assign_in_subscription(&viewer.actor, &id, &users, &[])
            .await
            .map(|_| ())
    };
    match result {
        Ok(()) => Ok(notice::redirect(
            &format!("/my/products/{id}"),
            &format!(
                "{} given a license.",
                plural(users.len() as i64, "person was", "people were")
            ),
            false,
        )),
        Err(e) => {
            let (status, message) = refusal(e)?;
            let form = AssignInput {
                q: String::new(),
                ..form
            };
            let page = my_assign_page(&app, &viewer, &id, &form, Some(message)).await?;
            Ok((status, page).into_response())
        }
    }
}

// ----- admins: the Self-service filter -----

/// A user as an admin's lists show them.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub upn: String,
}

/// One purchaser's users of a product.
#[derive(Debug, Clone)]
pub struct PurchaserGroup {
    /// The purchaser's name, or "Purchaser has left".
    pub purchaser: String,
    pub users: Vec<Person>,
}

/// One product's self-service purchases, summed.
#[derive(Debug, Clone)]
pub struct SelfServiceRow {
    pub sku: String,
    pub name: String,
    pub available: i64,
    pub assigned: i64,
    pub total: i64,
    /// Holders who have lost access, as on the central Licenses page.
    pub without_access: i64,
    pub status: &'static str,
    pub tone: &'static str,
    pub groups: Vec<PurchaserGroup>,
}

#[derive(Template, WebTemplate)]
#[template(path = "selfservice_licenses.html")]
pub struct SelfServiceLicensesPage {
    pub frame: Frame,
    pub rows: Vec<SelfServiceRow>,
}

/// `GET /licenses?origin=self-service`: one row per product bought by users, summed, with its
/// users grouped by purchaser and **Export users**.
pub async fn licenses_page(app: &App, viewer: &Viewer) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let rows = app
        .self_service_licenses(&viewer.actor)
        .await?
        .into_iter()
        .map(|r| {
            let (status, tone) = match r.capability_status() {
                "Enabled" => ("Active", "ok"),
                "Warning" => ("Expired: renew soon", "warn"),
                _ => ("No access", "bad"),
            };
            SelfServiceRow {
                sku: r.sku_id.to_string(),
                name: r.product_name.clone(),
                available: r.available,
                assigned: r.assigned,
                total: r.total,
                without_access: r.holders_without_access,
                status,
                tone,
                groups: r
                    .by_purchaser
                    .iter()
                    .map(|g| PurchaserGroup {
                        purchaser: match &g.purchaser {
                            Some(p) if p.account_enabled => {
                                format!("Bought by {} ({})", p.display_name, p.upn)
                            }
                            Some(p) => format!(
                                "Bought by {} ({}): purchaser has left",
                                p.display_name, p.upn
                            ),
                            None => match &g.deleted_purchaser {
                                Some(d) => format!("Bought by {}: purchaser has left", d.words()),
                                None => "Purchaser has left".into(),
                            },
                        },
                        users: g
                            .users
                            .iter()
                            .map(|u| Person {
                                name: u.display_name.clone(),
                                upn: u.upn.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(SelfServiceLicensesPage {
        frame: viewer.frame("Licenses: self-service", Nav::Licenses),
        rows,
    }
    .into_response())
}

/// `GET /licenses/{sku}/self-service-users.csv`: **Export users** of a product's self-service
/// purchases, the same file as the REST export.
pub async fn users_csv(
    State(app): State<App>,
    viewer: Viewer,
    Path(sku): Path<String>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let catalog = app.catalog();
    let p = crate::licenses::product(&catalog, &sku)?;
    let body = app.self_service_users_csv(&viewer.actor, p.sku_id).await?;
    let filename = format!(
        "{}-self-service-users.csv",
        p.sku_part_number.replace('"', "")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// A self-service subscription on the admins' Your products list.
#[derive(Debug, Clone)]
pub struct PurchaseRow {
    pub id: String,
    pub product: String,
    pub purchaser: String,
    pub purchaser_left: bool,
    pub quantity: i64,
    pub status: &'static str,
    pub tone: &'static str,
    pub expires: String,
    pub price: String,
    pub users: Vec<Person>,
    /// Whether it can still be taken over (not Deleted).
    pub open: bool,
}

fn purchase_row(app: &App, p: &SubscriptionPeople) -> PurchaseRow {
    let s = &p.subscription;
    PurchaseRow {
        id: s.id.to_string(),
        product: product_name(app, s.sku_id),
        purchaser: p
            .purchaser
            .as_ref()
            .map(|u| format!("{} ({})", u.display_name, u.upn))
            .or_else(|| p.deleted_purchaser.as_ref().map(|d| d.words()))
            .unwrap_or_else(|| "Deleted account".into()),
        purchaser_left: p.purchaser_left,
        quantity: s.quantity,
        status: s.life.status.as_str(),
        tone: tone(s.life.status),
        expires: date(s.life.term_end),
        price: price_words(s),
        users: p
            .users
            .iter()
            .map(|(u, _)| Person {
                name: u.display_name.clone(),
                upn: u.upn.clone(),
            })
            .collect(),
        open: s.life.status != Status::Deleted,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "selfservice_products.html")]
pub struct SelfServiceProductsPage {
    pub frame: Frame,
    pub rows: Vec<PurchaseRow>,
    /// Global or Billing admin: Take over is shown.
    pub can_manage: bool,
}

/// `GET /products?origin=self-service`: each subscription bought by a user, its purchaser and
/// users; **Take over** for Global and Billing admins.
pub async fn products_page(app: &App, viewer: &Viewer) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let people = app
        .subscriptions_with_people(
            &viewer.actor,
            Some(seatkeeper_domain::kinds::Origin::SelfService),
            false,
        )
        .await?;
    Ok(SelfServiceProductsPage {
        frame: viewer.frame("Your products: self-service", Nav::Products),
        rows: people.iter().map(|p| purchase_row(app, p)).collect(),
        can_manage: viewer.can(Action::ManageSubscriptions),
    }
    .into_response())
}

// ----- Take over and Ask to cancel -----

/// A product the users can be moved to, with its central licenses free.
#[derive(Debug, Clone)]
pub struct Target {
    pub sku: String,
    pub name: String,
    pub free: i64,
    pub selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "selfservice_take_over.html")]
pub struct TakeOverPage {
    pub frame: Frame,
    pub r: PurchaseRow,
    /// Central licenses needed to move everyone: one per user.
    pub needed: i64,
    pub targets: Vec<Target>,
    pub reasons: Vec<(&'static str, String)>,
    pub error: Option<String>,
    pub ask_error: Option<String>,
    pub message: String,
}

async fn take_over_page(
    app: &App,
    viewer: &Viewer,
    id: &str,
    target: Option<SkuId>,
    error: Option<String>,
    ask_error: Option<String>,
    message: String,
) -> Result<TakeOverPage, PageError> {
    viewer.require_admin()?;
    viewer.actor.require(Action::ManageSubscriptions)?;
    let p = app.subscription_people(&viewer.actor, id).await?;
    if p.subscription.origin != seatkeeper_domain::kinds::Origin::SelfService {
        return Err(PageError::not_found(format!(
            "Subscription {id} was bought by an admin: there is nothing to take over. Open it from Your products."
        )));
    }
    let r = purchase_row(app, &p);
    let central = app.licenses_page(&viewer.actor).await?;
    let selected = target.unwrap_or(p.subscription.sku_id);
    let catalog = app.catalog();
    let source = catalog.product(p.subscription.sku_id).ok_or_else(|| {
        PageError::not_found("The product of this purchase is no longer in the catalog.")
    })?;
    let targets = seatkeeper_domain::selfservice::take_over_targets(&catalog, source)
        .into_iter()
        .map(|x| Target {
            sku: x.sku_id.to_string(),
            name: x.name.clone(),
            free: central
                .iter()
                .find(|c| c.sku_id == x.sku_id)
                .map(|c| c.available)
                .unwrap_or(0),
            selected: x.sku_id == selected,
        })
        .collect();
    Ok(TakeOverPage {
        frame: viewer.frame(format!("Take over {}", r.product), Nav::Products),
        needed: r.users.len() as i64,
        r,
        targets,
        reasons: CANCEL_REASONS
            .iter()
            .map(|c| (*c, reason_label(c)))
            .collect(),
        error,
        ask_error,
        message,
    })
}

/// `GET /products/{id}/take-over`: **Move users** or **Cancel**, and **Ask to cancel**.
pub async fn take_over_form(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<TakeOverPage, PageError> {
    take_over_page(&app, &viewer, &id, None, None, None, String::new()).await
}

/// The Take over form: `action` is `move` (with `target`) or `cancel` (with `reason`).
#[derive(Debug, Default, Deserialize)]
pub struct TakeOverInput {
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub confirmed: Option<String>,
}

/// `POST /products/{id}/take-over`: first says what happens, then (confirmed) takes the
/// subscription over (SS4).
pub async fn take_over(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<TakeOverInput>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    viewer.actor.require(Action::ManageSubscriptions)?;
    let catalog = app.catalog();
    let target = catalog.find_product(form.target.trim()).map(|p| p.sku_id);
    let how = match form.action.as_str() {
        "move" => target
            .map(|target| TakeOver::Move { target })
            .ok_or("Choose the product to move the users to."),
        "cancel" => {
            let reason = form.reason.trim();
            CANCEL_REASONS
                .iter()
                .find(|r| r.eq_ignore_ascii_case(reason))
                .map(|r| TakeOver::Cancel {
                    reason: r.to_string(),
                })
                .ok_or("Choose a reason for cancelling from the list.")
        }
        _ => Err("Choose Move users or Cancel."),
    };
    let how = match how {
        Ok(h) => h,
        Err(m) => {
            let page = take_over_page(
                &app,
                &viewer,
                &id,
                target,
                Some(m.into()),
                None,
                String::new(),
            )
            .await?;
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    if let TakeOver::Move { target } = &how {
        let page = take_over_page(&app, &viewer, &id, None, None, None, String::new()).await?;
        if !page.targets.iter().any(|t| t.sku == target.to_string()) {
            let source = app.subscription_people(&viewer.actor, &id).await?;
            let message = match seatkeeper_app::selfservice::check_take_over_target(
                &catalog,
                source.subscription.sku_id,
                *target,
            ) {
                Err(e) => e.to_string(),
                Ok(()) => "Choose one of the products listed.".into(),
            };
            let page = TakeOverPage {
                error: Some(message),
                ..page
            };
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    }
    if form.confirmed.is_none() {
        let page = take_over_page(&app, &viewer, &id, target, None, None, String::new()).await?;
        let r = &page.r;
        let (text, fields, button) = match &how {
            TakeOver::Move { target } => {
                let t = page.targets.iter().find(|t| t.sku == target.to_string());
                let free = t.map(|t| t.free).unwrap_or(0);
                (
                    format!(
                        "{} to the organization's {} licenses ({} free, {} needed). The purchase by {} is then cancelled and shows Deleted; its purchaser is e-mailed.",
                        plural(page.needed, "user moves", "users move"),
                        product_name(&app, *target),
                        free,
                        page.needed,
                        r.purchaser
                    ),
                    vec![
                        ("action".to_string(), "move".to_string()),
                        ("target".to_string(), target.to_string()),
                    ],
                    "Move users",
                )
            }
            TakeOver::Cancel { reason } => (
                format!(
                    "The purchase by {} is cancelled now (reason: {}): {} these licenses. It shows Deleted; its purchaser is e-mailed.",
                    r.purchaser,
                    reason_label(reason),
                    plural(page.needed, "user loses", "users lose")
                ),
                vec![
                    ("action".to_string(), "cancel".to_string()),
                    ("reason".to_string(), reason.clone()),
                ],
                "Cancel subscription",
            ),
        };
        let people = r
            .users
            .iter()
            .map(|u| Pick {
                upn: u.upn.clone(),
                name: u.name.clone(),
                picked: true,
            })
            .collect();
        return Ok(ConfirmPage {
            frame: viewer.frame(format!("Take over {}", r.product), Nav::Products),
            heading: format!("Take over {}?", r.product),
            text,
            people,
            action: format!("/products/{id}/take-over"),
            fields,
            button: button.into(),
            danger: matches!(how, TakeOver::Cancel { .. }),
            back: format!("/products/{id}/take-over"),
            error: None,
        }
        .into_response());
    }
    match app.take_over(&viewer.actor, &id, how.clone()).await {
        Ok(s) => {
            let source = product_name(&app, s.sku_id);
            Ok(match how {
                TakeOver::Move { target } => notice::redirect(
                    &format!("/licenses/{target}"),
                    &format!(
                        "The purchase of {source} was taken over: its users now have the organization's {} licenses.",
                        product_name(&app, target)
                    ),
                    false,
                ),
                TakeOver::Cancel { .. } => notice::redirect(
                    "/products?origin=self-service",
                    &format!(
                        "The purchase of {source} was taken over and cancelled: its users lost these licenses."
                    ),
                    false,
                ),
            })
        }
        Err(e) => {
            let (status, message) = refusal(e)?;
            let page = take_over_page(
                &app,
                &viewer,
                &id,
                target,
                Some(message),
                None,
                String::new(),
            )
            .await?;
            Ok((status, page).into_response())
        }
    }
}

/// The Ask to cancel form.
#[derive(Debug, Default, Deserialize)]
pub struct AskInput {
    #[serde(default)]
    pub message: String,
}

/// `POST /products/{id}/ask-to-cancel`: e-mails the purchaser a request to cancel (SS5).
pub async fn ask_to_cancel(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<AskInput>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let message = Some(form.message.trim()).filter(|m| !m.is_empty());
    match app.ask_to_cancel(&viewer.actor, &id, message).await {
        Ok(()) => {
            let p = app.subscription_people(&viewer.actor, &id).await?;
            let who = p
                .purchaser
                .map(|u| u.display_name)
                .unwrap_or_else(|| "The purchaser".into());
            Ok(notice::redirect(
                "/products?origin=self-service",
                &format!(
                    "{who} was asked by e-mail to cancel {}.",
                    product_name(&app, p.subscription.sku_id)
                ),
                false,
            ))
        }
        Err(e) => {
            let (status, m) = refusal(e)?;
            let page = take_over_page(
                &app,
                &viewer,
                &id,
                None,
                None,
                Some(m),
                form.message.clone(),
            )
            .await?;
            Ok((status, page).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_prices() {
        let m = |minor, c: &str| Money {
            minor,
            currency: c.into(),
        };
        assert_eq!(money(&m(720, "USD")), "$7.20");
        assert_eq!(money(&m(6800, "EUR")), "€68.00");
        assert_eq!(money(&m(4505, "DKK")), "DKK 45.05");
        assert_eq!(money(&m(5, "USD")), "$0.05");
    }
}
