//! `/`: for admins, the home page (licenses at a glance, what needs attention and where it is
//! fixed); for everyone else, their own page ("My account": their licenses, which apps and
//! services are on, and their API tokens).

use crate::error::PageError;
use crate::frame::{Frame, Nav};
use crate::licenses::date;
use crate::tokens::{self, Place, TokenOutcome, TokensPanel};
use crate::viewer::Viewer;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::App;
use seatkeeper_app::home::AttentionKind;
use seatkeeper_app::licenses::ProductLicenses;
use seatkeeper_domain::UserId;
use seatkeeper_domain::seats::SeatState;

/// One thing that needs attention, in words, with the page where it is fixed.
#[derive(Debug, Clone)]
pub struct AttentionItem {
    /// "bad" or "warn" (the badge's colour).
    pub level: &'static str,
    pub badge: &'static str,
    pub text: String,
    pub link: String,
    pub link_text: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "home_admin.html")]
pub struct AdminHome {
    pub frame: Frame,
    pub licenses: Vec<ProductLicenses>,
    pub attention: Vec<AttentionItem>,
}

/// One license of the signed-in user.
#[derive(Debug, Clone)]
pub struct MyLicense {
    pub product: String,
    /// "Active", "Expired: ask your admin to renew" or "Suspended: no access".
    pub state: &'static str,
    pub state_level: &'static str,
    /// (app or service, on).
    pub plans: Vec<(String, bool)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "home_account.html")]
pub struct AccountPage {
    pub frame: Frame,
    pub name: String,
    pub upn: String,
    pub licenses: Vec<MyLicense>,
    /// The user's API tokens.
    pub tokens: TokensPanel,
}

/// `GET /`: the admin home page or the user's own page.
pub async fn show(State(app): State<App>, viewer: Viewer) -> Result<Response, PageError> {
    if viewer.is_admin() {
        admin_home(&app, &viewer).await
    } else {
        Ok(account_page(&app, &viewer, TokenOutcome::default())
            .await?
            .into_response())
    }
}

async fn admin_home(app: &App, viewer: &Viewer) -> Result<Response, PageError> {
    let summary = app.home_summary(&viewer.actor).await?;
    let attention = summary
        .attention
        .iter()
        .map(|a| {
            let sub = a
                .subscription
                .as_deref()
                .map(|s| format!(" (subscription {s})"))
                .unwrap_or_default();
            let when = a.term_end.map(date).unwrap_or_default();
            if a.self_service && a.kind != AttentionKind::NoneAvailable {
                // Only its purchaser changes a self-service subscription; admins take it over.
                let (level, badge, state) = match a.kind {
                    AttentionKind::Disabled => ("bad", "Disabled", "is disabled: its users no longer have access".to_string()),
                    AttentionKind::Expired => ("bad", "Expired", format!("expired on {when}: its users keep access for now")),
                    _ => ("warn", "Ending soon", format!("ends on {when} and will not renew")),
                };
                return AttentionItem {
                    level,
                    badge,
                    text: if a.trial {
                        format!(
                            "{}{sub}, a self-service trial, {state}. To keep its users licensed, take it over or buy the product centrally.",
                            a.product
                        )
                    } else {
                        format!(
                            "{}{sub}, bought through self-service, {state}. Only its purchaser can reactivate it; to keep its users licensed, take it over.",
                            a.product
                        )
                    },
                    link: "/products".into(),
                    link_text: "Take over in Your products",
                };
            }
            match a.kind {
                AttentionKind::Disabled => AttentionItem {
                    level: "bad",
                    badge: "Disabled",
                    text: format!(
                        "{}{sub}: its {} licenses no longer give access. Reactivate it, or buy licenses again.",
                        a.product, a.licenses
                    ),
                    link: "/products".into(),
                    link_text: "Fix in Your products",
                },
                AttentionKind::Expired => AttentionItem {
                    level: "bad",
                    badge: "Expired",
                    text: format!(
                        "{}{sub} expired on {when}: its users keep access for now. Reactivate it or turn recurring billing on before it is disabled.",
                        a.product
                    ),
                    link: "/products".into(),
                    link_text: "Fix in Your products",
                },
                AttentionKind::EndingSoon => AttentionItem {
                    level: "warn",
                    badge: "Ending soon",
                    text: format!(
                        "{}{sub} ends on {when} and recurring billing is off. Turn recurring billing on to keep its {} licenses.",
                        a.product, a.licenses
                    ),
                    link: "/products".into(),
                    link_text: "Fix in Your products",
                },
                AttentionKind::NoneAvailable => AttentionItem {
                    level: "warn",
                    badge: "No licenses left",
                    text: format!(
                        "{}: all {} licenses are assigned. Buy more, or unassign someone who no longer needs it.",
                        a.product, a.licenses
                    ),
                    link: format!("/licenses/{}", a.sku_id),
                    link_text: "See its users",
                },
            }
        })
        .collect::<Vec<_>>();
    let mut attention = attention;
    let in_error = app.groups_with_license_errors(&viewer.actor).await?;
    if !in_error.is_empty() {
        let members: i64 = in_error.iter().map(|(_, n)| n).sum();
        attention.push(AttentionItem {
            level: "bad",
            badge: "Group licenses",
            text: format!(
                "{} in {} could not get their group's licenses.",
                if members == 1 {
                    "1 member".to_string()
                } else {
                    format!("{} members", crate::group_licenses::thousands(members))
                },
                if in_error.len() == 1 {
                    "1 group".to_string()
                } else {
                    format!("{} groups", in_error.len())
                }
            ),
            link: "/groups/license-errors".into(),
            link_text: "See Errors & issues",
        });
    }
    Ok(AdminHome {
        frame: viewer.frame("Home", Nav::Home),
        licenses: summary.licenses,
        attention,
    }
    .into_response())
}

fn my_id(viewer: &Viewer) -> Result<UserId, PageError> {
    viewer.actor.user_id.ok_or_else(|| {
        PageError::forbidden("This page belongs to a user; the operator has no account page.")
    })
}

/// The user's own page, with the tokens panel showing `out`.
pub async fn account_page(
    app: &App,
    viewer: &Viewer,
    out: TokenOutcome,
) -> Result<AccountPage, PageError> {
    let me = my_id(viewer)?;
    let (user, held) = app.user_licenses(&viewer.actor, &me.to_string()).await?;
    let states = app.seat_states(&viewer.actor, &held).await?;
    let catalog = app.catalog();
    let licenses = held
        .iter()
        .map(|a| {
            let product = catalog.product(a.sku_id);
            let (state, state_level) = match states.get(&a.id) {
                Some(SeatState::Warning) => ("Expired: ask your admin to renew it", "warn"),
                Some(SeatState::Suspended) => ("Suspended: no access", "bad"),
                _ => ("Active", "ok"),
            };
            MyLicense {
                product: product
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| a.sku_id.to_string()),
                state,
                state_level,
                plans: product
                    .map(|p| {
                        p.plans
                            .iter()
                            .map(|id| {
                                let label = catalog
                                    .plan(*id)
                                    .map(|x| x.display_name.clone())
                                    .unwrap_or_else(|| catalog.plan_name(*id));
                                (label, !a.disabled_plans.contains(id))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    let tokens = tokens::panel(app, viewer, Place::Account, out).await?;
    Ok(AccountPage {
        frame: viewer.frame("My account", Nav::Account),
        name: user.display_name,
        upn: user.upn,
        licenses,
        tokens,
    })
}
