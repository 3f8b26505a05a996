//! The confirmation step of a destructive action (Delete user, Cancel subscription, Unassign
//! all, Revoke token): the first post answers with a page saying exactly what will happen, and
//! only its **confirm** button, which posts the same form again with `confirmed=yes`, acts. It
//! works the same with JavaScript off; nothing relies on a browser dialog.

use crate::frame::Frame;
use askama::Template;
use askama_web::WebTemplate;

/// The form field that says the person confirmed.
pub const FIELD: &str = "confirmed";

/// Whether a posted `confirmed` field says yes.
pub fn confirmed(value: &str) -> bool {
    value == "yes"
}

/// The confirmation page.
#[derive(Template, WebTemplate)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub frame: Frame,
    /// The question, as the heading ("Delete Adele Vance?").
    pub question: String,
    /// What will happen, sentence by sentence.
    pub details: Vec<String>,
    /// Where the confirm button posts.
    pub action: String,
    /// The form's other fields, sent again as they were (name, value).
    pub fields: Vec<(String, String)>,
    /// The confirm button ("Delete user").
    pub confirm_label: String,
    /// Where going back leads, and its words ("Cancel").
    pub back: String,
    pub back_label: String,
}
