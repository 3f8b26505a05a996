//! **Payment methods** (`/my/payment-methods`, BILL2): the signed-in user's own cards. List,
//! **Add a card**, **Edit** (expiry, name, address; the security code verifies the card and is
//! not stored) and **Delete** (with a confirmation step). The same use cases as
//! `/api/v1/me/payment-methods`. The card number and the security code are handed to the use
//! case and dropped: a refused form is shown again without them, and they are never logged.

use crate::confirm::{self, ConfirmPage};
use crate::error::PageError;
use crate::frame::{Frame, Nav};
use crate::notice;
use crate::products::refusal;
use crate::viewer::{Posted, Viewer};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use seatkeeper_app::billing::{AddressInput, CardOwner, CardPatch, NewCard, PaymentMethod};
use seatkeeper_app::payments::CardInput;
use seatkeeper_app::{App, AppError};
use serde::Deserialize;

/// The page's path.
pub const PATH: &str = "/my/payment-methods";

/// One card as the page lists it.
#[derive(Debug, Clone)]
pub struct CardRow {
    pub id: String,
    pub brand: String,
    pub last4: String,
    /// "12/2030".
    pub expiry: String,
    pub name: String,
    /// "1 Main St, Springfield 12345, US".
    pub address: String,
}

/// "Visa ending 4242".
fn card_words(m: &PaymentMethod) -> String {
    format!("{} ending {}", m.brand, m.last4)
}

fn row(m: &PaymentMethod) -> CardRow {
    CardRow {
        id: m.id.to_string(),
        brand: m.brand.to_string(),
        last4: m.last4.clone(),
        expiry: format!("{:02}/{}", m.expiry_month, m.expiry_year),
        name: m.name_on_card.clone(),
        address: format!(
            "{}, {} {}, {}",
            m.address.line1, m.address.city, m.address.postal_code, m.address.country
        ),
    }
}

/// The fields of the Add a card and Edit forms that may be shown again (never the number or
/// the security code).
#[derive(Debug, Clone, Default)]
pub struct CardFields {
    pub expiry_month: String,
    pub expiry_year: String,
    pub name: String,
    pub line1: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "payment_methods.html")]
pub struct PaymentMethodsPage {
    pub frame: Frame,
    pub cards: Vec<CardRow>,
    /// A refusal of the last form, in the API's words.
    pub error: Option<String>,
    /// What the Add a card form shows again after a refusal.
    pub add: CardFields,
}

#[derive(Template, WebTemplate)]
#[template(path = "payment_methods_edit.html")]
pub struct EditCardPage {
    pub frame: Frame,
    pub card: CardRow,
    pub error: Option<String>,
    pub fields: CardFields,
}

fn signed_in_user(viewer: &Viewer) -> Result<(), PageError> {
    match viewer.actor.user_id {
        Some(_) => Ok(()),
        None => Err(PageError::forbidden(
            "Only a signed-in user has payment methods; the operator has none.",
        )),
    }
}

async fn list_page(
    app: &App,
    viewer: &Viewer,
    error: Option<String>,
    add: CardFields,
) -> Result<PaymentMethodsPage, PageError> {
    signed_in_user(viewer)?;
    let cards = app.payment_methods(&viewer.actor, CardOwner::Me).await?;
    Ok(PaymentMethodsPage {
        frame: viewer.frame("Payment methods", Nav::PaymentMethods),
        cards: cards.iter().map(row).collect(),
        error,
        add,
    })
}

/// `GET /my/payment-methods`: the signed-in user's cards and the Add a card form.
pub async fn show(State(app): State<App>, viewer: Viewer) -> Result<PaymentMethodsPage, PageError> {
    list_page(&app, &viewer, None, CardFields::default()).await
}

/// The Add a card and Edit forms. `Debug` hides the number and the security code.
#[derive(Deserialize, Default)]
pub struct CardForm {
    #[serde(default)]
    pub card_number: String,
    #[serde(default)]
    pub security_code: String,
    #[serde(default)]
    pub expiry_month: String,
    #[serde(default)]
    pub expiry_year: String,
    #[serde(default)]
    pub name_on_card: String,
    #[serde(default)]
    pub line1: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub country: String,
}

impl std::fmt::Debug for CardForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardForm")
            .field("card_number", &"***")
            .field("security_code", &"***")
            .field("expiry_month", &self.expiry_month)
            .field("expiry_year", &self.expiry_year)
            .finish_non_exhaustive()
    }
}

impl CardForm {
    /// What may be shown again.
    fn shown(&self) -> CardFields {
        CardFields {
            expiry_month: self.expiry_month.clone(),
            expiry_year: self.expiry_year.clone(),
            name: self.name_on_card.clone(),
            line1: self.line1.clone(),
            city: self.city.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country.clone(),
        }
    }

    fn address(&self) -> AddressInput {
        AddressInput {
            line1: Some(self.line1.clone()),
            city: Some(self.city.clone()),
            postal_code: Some(self.postal_code.clone()),
            country: Some(self.country.clone()),
        }
    }
}

/// The API's field names and the labels of the card forms that hold them.
const LABELS: &[(&str, &str)] = &[
    ("billingAddress.line1", "Address line 1"),
    ("billingAddress.city", "City"),
    ("billingAddress.postalCode", "Postal code"),
    ("billingAddress.country", "Country"),
    ("nameOnCard", "Name on card"),
    ("cardNumber", "Card number"),
    ("expiryMonth", "Expiry month"),
    ("expiryYear", "Expiry year"),
    ("securityCode", "Security code"),
];

/// A refusal of the card use cases in the words of the form: each field named by its label
/// ("Address line 1 must be at most 200 characters"), not by the API's name for it.
fn in_form_words(message: String) -> String {
    LABELS
        .iter()
        .fold(message, |m, (api, label)| m.replace(api, label))
}

/// A month or year typed into the form.
fn whole(field: &str, text: &str, words: &str) -> Result<i64, AppError> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| AppError::invalid("invalidExpiry", format!("{field} must be {words}.")))
}

fn month(text: &str) -> Result<i64, AppError> {
    whole(
        "Expiry month",
        text,
        "the month printed on the card, 1 to 12",
    )
}

fn year(text: &str) -> Result<i64, AppError> {
    whole(
        "Expiry year",
        text,
        "the four-digit year printed on the card",
    )
}

/// `POST /my/payment-methods`: adds a card (Add a card).
pub async fn add(
    State(app): State<App>,
    Posted { viewer, form }: Posted<CardForm>,
) -> Result<Response, PageError> {
    signed_in_user(&viewer)?;
    let shown = form.shown();
    let result = match (month(&form.expiry_month), year(&form.expiry_year)) {
        (Ok(expiry_month), Ok(expiry_year)) => {
            let new = NewCard {
                card: CardInput {
                    number: form.card_number,
                    expiry_month,
                    expiry_year,
                    security_code: form.security_code,
                    name_on_card: form.name_on_card.clone(),
                },
                billing_address: AddressInput {
                    line1: Some(form.line1),
                    city: Some(form.city),
                    postal_code: Some(form.postal_code),
                    country: Some(form.country),
                },
            };
            app.add_payment_method(&viewer.actor, CardOwner::Me, &new)
                .await
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match result {
        Ok(m) => Ok(notice::redirect(
            PATH,
            &format!("Your card {} was added.", card_words(&m)),
            false,
        )),
        Err(e) => {
            let (status, message) = refusal(e)?;
            let page = list_page(&app, &viewer, Some(in_form_words(message)), shown).await?;
            Ok((status, page).into_response())
        }
    }
}

async fn my_card(app: &App, viewer: &Viewer, id: &str) -> Result<PaymentMethod, PageError> {
    signed_in_user(viewer)?;
    let cards = app.payment_methods(&viewer.actor, CardOwner::Me).await?;
    cards
        .into_iter()
        .find(|m| m.id.to_string() == id)
        .ok_or_else(|| {
            PageError::not_found(format!(
                "You have no card '{id}'. Pick one under Payment methods."
            ))
        })
}

fn fields_of(m: &PaymentMethod) -> CardFields {
    CardFields {
        expiry_month: m.expiry_month.to_string(),
        expiry_year: m.expiry_year.to_string(),
        name: m.name_on_card.clone(),
        line1: m.address.line1.clone(),
        city: m.address.city.clone(),
        postal_code: m.address.postal_code.clone(),
        country: m.address.country.clone(),
    }
}

/// `GET /my/payment-methods/{id}`: the Edit form of one card.
pub async fn edit_form(
    State(app): State<App>,
    Path(id): Path<String>,
    viewer: Viewer,
) -> Result<EditCardPage, PageError> {
    let m = my_card(&app, &viewer, &id).await?;
    Ok(EditCardPage {
        frame: viewer.frame(format!("Edit {}", card_words(&m)), Nav::PaymentMethods),
        card: row(&m),
        error: None,
        fields: fields_of(&m),
    })
}

/// `POST /my/payment-methods/{id}`: changes a card's expiry, name and address (Edit).
pub async fn edit(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<CardForm>,
) -> Result<Response, PageError> {
    let m = my_card(&app, &viewer, &id).await?;
    let shown = form.shown();
    let result = match (month(&form.expiry_month), year(&form.expiry_year)) {
        (Ok(expiry_month), Ok(expiry_year)) => {
            let code = form.security_code.trim();
            let patch = CardPatch {
                expiry_month: Some(expiry_month),
                expiry_year: Some(expiry_year),
                name_on_card: Some(form.name_on_card.clone()),
                billing_address: Some(form.address()),
                security_code: (!code.is_empty()).then(|| code.to_string()),
            };
            app.update_payment_method(&viewer.actor, CardOwner::Me, &id, &patch)
                .await
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match result {
        Ok(m) => Ok(notice::redirect(
            PATH,
            &format!("Your card {} was saved.", card_words(&m)),
            false,
        )),
        Err(e) => {
            let (status, message) = refusal(e)?;
            let page = EditCardPage {
                frame: viewer.frame(format!("Edit {}", card_words(&m)), Nav::PaymentMethods),
                card: row(&m),
                error: Some(in_form_words(message)),
                fields: shown,
            };
            Ok((status, page).into_response())
        }
    }
}

/// The Delete form.
#[derive(Debug, Deserialize)]
pub struct DeleteInput {
    #[serde(default)]
    pub confirmed: String,
}

/// `POST /my/payment-methods/{id}/delete`: asks first, then deletes the card; a card in use
/// is refused in the API's words.
pub async fn delete(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<DeleteInput>,
) -> Result<Response, PageError> {
    let m = my_card(&app, &viewer, &id).await?;
    if !confirm::confirmed(&form.confirmed) {
        return Ok(ConfirmPage {
            frame: viewer.frame("Delete card", Nav::PaymentMethods),
            question: format!("Delete your card {}?", card_words(&m)),
            details: vec![
                format!(
                    "The card {}, expiring {:02}/{}, will be removed from your payment methods.",
                    card_words(&m),
                    m.expiry_month,
                    m.expiry_year
                ),
                "A card that pays for one of your products cannot be deleted: choose another card there first."
                    .to_string(),
            ],
            action: format!("{PATH}/{id}/delete"),
            fields: vec![],
            confirm_label: "Delete card".to_string(),
            back: PATH.to_string(),
            back_label: "Cancel".to_string(),
        }
        .into_response());
    }
    match app
        .delete_payment_method(&viewer.actor, CardOwner::Me, &id)
        .await
    {
        Ok(()) => Ok(notice::redirect(
            PATH,
            &format!("Your card {} was deleted.", card_words(&m)),
            false,
        )),
        Err(e) => {
            let (status, message) = refusal(e)?;
            let page = list_page(&app, &viewer, Some(message), CardFields::default()).await?;
            Ok((status, page).into_response())
        }
    }
}
