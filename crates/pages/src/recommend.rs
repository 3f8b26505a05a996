//! The page a recipient of a shared license request reaches from the e-mail (REQ5): it needs
//! no sign-in; the signed, single-use, expiring token in the path is the authority. It shows
//! the request and a form to recommend approving or denying it, with a comment. A tampered,
//! used or expired link gets a page saying which, and changes nothing.

use crate::frame::Frame;
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::requests::{LinkCheck, SharedView};
use seatkeeper_app::{App, AppError};
use seatkeeper_domain::requests::Verdict;
use serde::Deserialize;

#[derive(Template, WebTemplate)]
#[template(path = "recommend.html")]
pub struct RecommendPage {
    pub frame: Frame,
    /// The request, while the link works.
    pub view: Option<SharedView>,
    /// The path the form posts to.
    pub action: String,
    /// The choice the e-mail's link preselects: "approve" or "deny".
    pub preselect: String,
    pub comment: String,
    /// After a recommendation: what was recorded.
    pub done: Option<String>,
    /// Why the link does not work, or what to fix in the form.
    pub problem: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RecommendQuery {
    pub recommend: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RecommendForm {
    pub recommendation: Option<String>,
    #[serde(default)]
    pub comment: String,
}

fn words(c: &LinkCheck) -> (StatusCode, &'static str) {
    match c {
        LinkCheck::Valid(_) => (StatusCode::OK, ""),
        LinkCheck::Tampered => (
            StatusCode::BAD_REQUEST,
            "This link is not valid: it was changed or cut short. Open the link from the e-mail exactly as it was sent.",
        ),
        LinkCheck::Used => (
            StatusCode::GONE,
            "This link was used already: your recommendation is recorded. Each link works once.",
        ),
        LinkCheck::Expired => (
            StatusCode::GONE,
            "This link has expired. Ask the admin who shared the request to share it again.",
        ),
        LinkCheck::Closed => (
            StatusCode::GONE,
            "This request was already decided or no longer exists: no recommendation is needed.",
        ),
        LinkCheck::RecipientLeft => (
            StatusCode::GONE,
            "This link was for an account that has since been removed from the organization or disabled: it no longer works.",
        ),
    }
}

fn page(token: &str) -> RecommendPage {
    RecommendPage {
        frame: Frame::anonymous("Recommend on a license request", String::new()),
        view: None,
        action: format!("/requests/recommend/{token}"),
        preselect: String::new(),
        comment: String::new(),
        done: None,
        problem: None,
    }
}

fn failed(e: &AppError) -> Response {
    crate::error::error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
}

/// `GET /requests/recommend/{token}`: the request and the form, or why the link does not work.
pub async fn show(
    State(app): State<App>,
    Path(token): Path<String>,
    Query(q): Query<RecommendQuery>,
) -> Response {
    let mut p = page(&token);
    p.preselect = match q.recommend.as_deref() {
        Some(v) if v.eq_ignore_ascii_case("deny") => "deny".into(),
        Some(v) if v.eq_ignore_ascii_case("approve") => "approve".into(),
        _ => String::new(),
    };
    match app.check_share_link(&token).await {
        Ok(LinkCheck::Valid(v)) => {
            p.view = Some(*v);
            p.into_response()
        }
        Ok(other) => {
            let (status, text) = words(&other);
            p.problem = Some(text.into());
            (status, p).into_response()
        }
        Err(e) => failed(&e),
    }
}

/// `POST /requests/recommend/{token}`: records the recommendation once.
pub async fn submit(
    State(app): State<App>,
    Path(token): Path<String>,
    Form(f): Form<RecommendForm>,
) -> Response {
    let mut p = page(&token);
    p.comment = f.comment.clone();
    let verdict = match f.recommendation.as_deref() {
        Some("approve") => Some(Verdict::Approve),
        Some("deny") => Some(Verdict::Deny),
        _ => None,
    };
    let Some(verdict) = verdict else {
        return match app.check_share_link(&token).await {
            Ok(LinkCheck::Valid(v)) => {
                p.view = Some(*v);
                p.problem = Some("Choose Approve or Deny, then send your recommendation.".into());
                (StatusCode::BAD_REQUEST, p).into_response()
            }
            Ok(other) => {
                let (status, text) = words(&other);
                p.problem = Some(text.into());
                (status, p).into_response()
            }
            Err(e) => failed(&e),
        };
    };
    let comment = Some(f.comment.as_str()).filter(|c| !c.trim().is_empty());
    match app.recommend(&token, verdict, comment).await {
        Ok(Ok(v)) => {
            p.done = Some(format!(
                "Thank you: you recommended {} the request for {} by {}. The admin decides next.",
                if verdict == Verdict::Approve {
                    "approving"
                } else {
                    "denying"
                },
                v.product,
                v.requester
            ));
            p.into_response()
        }
        Ok(Err(c)) => {
            let (status, text) = words(&c);
            p.problem = Some(text.into());
            (status, p).into_response()
        }
        Err(e @ AppError::Invalid { .. }) => match app.check_share_link(&token).await {
            Ok(LinkCheck::Valid(v)) => {
                p.view = Some(*v);
                p.problem = Some(e.to_string());
                (StatusCode::BAD_REQUEST, p).into_response()
            }
            _ => failed(&e),
        },
        Err(e) => failed(&e),
    }
}
