//! E-mail: templates, the outbox message, and the transports (a directory of `.eml` files by
//! default, SMTP as an option).

use seatkeeper_domain::kinds::{MailKind, OutboxStatus};
use seatkeeper_domain::subscription::Subscription;
use seatkeeper_domain::{TenantId, Time};
use seatkeeper_store::outbox::Message;
use std::path::PathBuf;
use std::time::Duration;

/// How long the SMTP client waits for the server at each step (connect, each command).
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest one delivery attempt may take in all; a slower one is abandoned and retried.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a claim on an outbox message lasts: longer than any delivery attempt, so no other
/// worker takes a message over while it is still being sent.
pub const CLAIM_LEASE: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP (a relay on the same host).
    None,
    StartTls,
    /// Implicit TLS (port 465).
    Tls,
}

#[derive(Clone)]
pub enum Transport {
    /// Each message is written as `<id>.eml` in this directory.
    EmlDir(PathBuf),
    Smtp {
        host: String,
        port: u16,
        security: SmtpSecurity,
        username: Option<String>,
        password: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub from: String,
    pub transport: Transport,
}

/// Never prints the SMTP password.
impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::EmlDir(dir) => f.debug_tuple("EmlDir").field(dir).finish(),
            Transport::Smtp {
                host,
                port,
                security,
                username,
                password,
            } => f
                .debug_struct("Smtp")
                .field("host", host)
                .field("port", port)
                .field("security", security)
                .field("username", username)
                .field("password", &password.as_ref().map(|_| "***"))
                .finish(),
        }
    }
}

/// A rendered e-mail.
#[derive(Debug, Clone)]
pub struct Content {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn render(subject: String, paragraphs: &[String]) -> Content {
    let text = paragraphs.join("\n\n") + "\n";
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\">{}</body></html>",
        paragraphs
            .iter()
            .map(|p| format!("<p>{}</p>", esc(p)))
            .collect::<String>()
    );
    Content {
        subject,
        text,
        html,
    }
}

/// The subscription-disabled notice (`kind` SubscriptionDisabled) and otherwise the
/// subscription-expiring notice, to Global and Billing admins.
pub fn subscription_notice(
    kind: MailKind,
    tenant: &str,
    product: &str,
    s: &Subscription,
) -> Content {
    let day = |t: Time| t.format("%Y-%m-%d").to_string();
    match kind {
        MailKind::SubscriptionDisabled => render(
            format!("{product} is disabled — reactivate it to restore access"),
            &[
                format!("The {product} subscription of {tenant} ({}, subscription {}) is disabled.", count(s.quantity), s.commerce_id),
                "Users assigned these licenses have lost access to its services. Their data is kept.".into(),
                format!(
                    "Reactivate it before {} to restore access; after that date the subscription and its license assignments are deleted.",
                    day(s.life.status_since + chrono::Duration::days(seatkeeper_domain::lifecycle::DISABLED_DAYS))
                ),
            ],
        ),
        _ => {
            let ends = s.life.term_end;
            render(
                format!("{product} ends on {} — turn on recurring billing to keep it", day(ends)),
                &[
                    format!("The {product} subscription of {tenant} ({}, subscription {}) does not renew: recurring billing is off.", count(s.quantity), s.commerce_id),
                    format!(
                        "It expires on {}. Licenses keep working for {} days after that, then the subscription is disabled and users lose access.",
                        day(ends),
                        seatkeeper_domain::lifecycle::EXPIRED_DAYS
                    ),
                    "To keep it, turn recurring billing on or reactivate it under Your products.".into(),
                ],
            )
        }
    }
}

/// Who a self-service subscription's lifecycle notice is for.
#[derive(Debug, Clone, Copy)]
pub enum Audience<'a> {
    /// Its purchaser; `bought`: they have bought the product since (their license is in that
    /// purchase now), so nothing tells them to buy it.
    Purchaser {
        /// They hold a paid self-service subscription of the product.
        bought: bool,
    },
    /// Global and Billing admins, because the purchaser (named) has left the organization.
    AdminsPurchaserLeft { purchaser: &'a str },
}

/// A self-service subscription's lifecycle notice (expiring soon, expired, disabled, deleted),
/// for its purchaser or, when they have left, for the admins: the product, the dates and what
/// can be done.
pub fn self_service_notice(
    kind: MailKind,
    tenant: &str,
    product: &str,
    s: &Subscription,
    audience: Audience<'_>,
) -> Content {
    use seatkeeper_domain::lifecycle::{DISABLED_DAYS, EXPIRED_DAYS, Status};
    use seatkeeper_domain::subscription::licenses_of;
    let day = |t: Time| t.format("%Y-%m-%d").to_string();
    let what = if s.is_trial {
        format!("trial of {product}")
    } else {
        format!("subscription to {product}")
    };
    let head = match audience {
        Audience::Purchaser { .. } => format!(
            "Your {what} ({}, subscription {}) in {tenant}",
            licenses_of(s.quantity, product),
            s.commerce_id
        ),
        Audience::AdminsPurchaserLeft { purchaser } => format!(
            "The self-service {what} ({}, subscription {}) {} by {purchaser}, who has left {tenant},",
            licenses_of(s.quantity, product),
            s.commerce_id,
            if s.is_trial { "started" } else { "bought" }
        ),
    };
    let keep = match (audience, s.is_trial) {
        (Audience::Purchaser { bought: true }, true) => format!(
            "You have bought {product} since: your own license is in that purchase and keeps working."
        ),
        (Audience::Purchaser { bought: false }, true) => {
            format!("To keep using {product}, buy it under Buy a product.")
        }
        (Audience::Purchaser { .. }, false) if s.life.status == Status::Active => format!(
            "To keep it, turn recurring billing on under My products, or buy {product} again."
        ),
        (Audience::Purchaser { .. }, false) => format!(
            "To keep it, reactivate it under My products (its card is charged for a new term), or buy {product} again."
        ),
        (Audience::AdminsPurchaserLeft { .. }, _) => {
            "Take it over under Your products to move its users to the organization's own licenses, or cancel it.".into()
        }
    };
    let subject_whose = match audience {
        Audience::Purchaser { .. } => "Your".to_string(),
        Audience::AdminsPurchaserLeft { .. } => "A self-service".to_string(),
    };
    let kind_word = if s.is_trial { "trial" } else { "subscription" };
    match kind {
        MailKind::SubscriptionExpired => render(
            format!(
                "{subject_whose} {product} {kind_word} ended on {}",
                day(s.life.term_end)
            ),
            &[
                format!("{head} ended on {}.", day(s.life.term_end)),
                format!(
                    "Its licenses keep working until {}; after that the people holding them lose access.",
                    day(s.life.term_end + chrono::Duration::days(EXPIRED_DAYS))
                ),
                keep,
            ],
        ),
        MailKind::SubscriptionDisabled => render(
            format!("{subject_whose} {product} {kind_word} is disabled: its users lost access"),
            &[
                format!("{head} is disabled since {}.", day(s.life.status_since)),
                format!(
                    "The people holding its licenses have lost access to its services. It is deleted on {}, with its licenses.",
                    day(s.life.status_since + chrono::Duration::days(DISABLED_DAYS))
                ),
                keep,
            ],
        ),
        MailKind::SubscriptionDeleted => render(
            format!("{subject_whose} {product} {kind_word} was deleted"),
            &[
                format!("{head} was deleted on {}.", day(s.life.status_since)),
                "The people who held its licenses no longer have them. Nothing more is charged."
                    .into(),
                match audience {
                    Audience::Purchaser { bought: true } => format!(
                        "You have bought {product} since: your own license is in that purchase and keeps working."
                    ),
                    Audience::Purchaser { bought: false } => format!(
                        "To use {product} again, buy it under Buy a product or ask your admin for a license."
                    ),
                    Audience::AdminsPurchaserLeft { .. } => format!(
                        "Assign them {product} from the organization's own licenses if they still need it."
                    ),
                },
            ],
        ),
        _ => render(
            format!(
                "{subject_whose} {product} {kind_word} ends on {}",
                day(s.life.term_end)
            ),
            &[
                format!(
                    "{head} ends on {}{}.",
                    day(s.life.term_end),
                    if s.is_trial {
                        ""
                    } else {
                        ": recurring billing is off"
                    }
                ),
                format!(
                    "Its licenses then keep working for {EXPIRED_DAYS} days, until {}; after that the people holding them lose access.",
                    day(s.life.term_end + chrono::Duration::days(EXPIRED_DAYS))
                ),
                keep,
            ],
        ),
    }
}

/// How an admin took over a self-service subscription (SS4), for the purchaser's e-mail.
pub enum TakeOverNotice<'a> {
    /// Its users now have `target` from the organization's central licenses.
    Moved { target: &'a str, users: usize },
    /// It was cancelled and its users lost these licenses.
    Cancelled { reason: &'a str, users: usize },
}

/// "1 license", "3 licenses".
fn count(n: i64) -> String {
    if n == 1 {
        "1 license".into()
    } else {
        format!("{n} licenses")
    }
}

/// "the 1 user", "the 3 users", "no users".
fn people(n: usize) -> String {
    match n {
        0 => "no users".into(),
        1 => "the 1 user".into(),
        n => format!("the {n} users"),
    }
}

/// To the purchaser: an admin took over their subscription (SS4).
pub fn taken_over(
    tenant: &str,
    product: &str,
    admin: &str,
    s: &Subscription,
    how: TakeOverNotice<'_>,
    refunded: Option<&str>,
) -> Content {
    let what = match how {
        TakeOverNotice::Moved { target, users: 0 } => format!(
            "{admin} cancelled your subscription; {tenant} provides {target} centrally. Nobody was using licenses from this subscription."
        ),
        TakeOverNotice::Cancelled { reason, users: 0 } => format!(
            "{admin} cancelled your subscription (reason: {reason}). Nobody was using licenses from this subscription."
        ),
        TakeOverNotice::Moved { target, users } => format!(
            "{admin} moved {} of your subscription to {target} licenses that {tenant} owns centrally, and cancelled your subscription. They keep working without interruption.",
            people(users)
        ),
        TakeOverNotice::Cancelled { reason, users } => format!(
            "{admin} cancelled your subscription (reason: {reason}): {} no longer {} these licenses.",
            people(users),
            if users == 1 { "has" } else { "have" }
        ),
    };
    render(
        format!("Your {product} subscription was taken over by your organization"),
        &[
            format!(
                "Your self-service subscription to {product} ({}, subscription {}) in {tenant} has been taken over.",
                count(s.quantity),
                s.commerce_id
            ),
            what,
            match refunded {
                Some(r) => format!(
                    "The unused part of its current term was refunded: {r}. You will not be charged for it again. Contact your admin with any questions."
                ),
                None => {
                    "You will not be charged for it again. Contact your admin with any questions."
                        .into()
                }
            },
        ],
    )
}

/// To the purchaser: an admin who holds the product centrally asks them to cancel (SS5).
pub fn ask_to_cancel(
    tenant: &str,
    product: &str,
    admin: &str,
    message: Option<&str>,
    s: &Subscription,
) -> Content {
    let mut paragraphs = vec![
        format!(
            "{admin} of {tenant} asks you to cancel your self-service subscription to {product} ({}, subscription {}): the organization now provides {product} centrally.",
            count(s.quantity), s.commerce_id
        ),
        "Cancel it under My products. Your admin can assign you a license from the organization's own.".into(),
    ];
    if let Some(m) = message.map(str::trim).filter(|m| !m.is_empty()) {
        paragraphs.insert(1, format!("Their message: {m}"));
    }
    render(
        format!("Please cancel your {product} subscription"),
        &paragraphs,
    )
}

/// To the Global and Billing admins: a trial that was to convert to paid ended without
/// converting because its purchaser (`who`) has left the organization, so no departed
/// person's card was charged; what they can do before its licenses stop.
pub fn trial_ended_purchaser_left(
    tenant: &str,
    product: &str,
    s: &Subscription,
    who: &str,
) -> Content {
    let ended = s.life.term_end.format("%Y-%m-%d");
    let until = (s.life.term_end
        + chrono::Duration::days(seatkeeper_domain::lifecycle::EXPIRED_DAYS))
    .format("%Y-%m-%d");
    render(
        format!("A self-service {product} trial ended: its purchaser has left"),
        &[
            format!(
                "The trial of {product} ({}, subscription {}) bought by {who}, who has left {tenant}, ended on {ended}. It was to continue as a paid subscription charged to their card; because they have left the organization, it did not convert and nothing was charged.",
                count(s.quantity),
                s.commerce_id
            ),
            format!(
                "The trial has expired. Its licenses keep working until {until}; after that the people holding them lose access."
            ),
            format!(
                "To keep its users licensed, buy {product} centrally and assign it to them, or take the subscription over under Your products before {until}."
            ),
        ],
    )
}

/// To the Global and Billing admins: a paid self-service subscription did not renew because
/// its purchaser (`who`) has left; it has expired (SS4).
pub fn renewal_stopped_purchaser_left(
    tenant: &str,
    product: &str,
    s: &Subscription,
    who: &str,
) -> Content {
    let ended = s.life.term_end.format("%Y-%m-%d");
    let until = (s.life.term_end
        + chrono::Duration::days(seatkeeper_domain::lifecycle::EXPIRED_DAYS))
    .format("%Y-%m-%d");
    render(
        format!("A self-service {product} subscription did not renew: its purchaser has left"),
        &[
            format!(
                "The subscription of {product} ({}, subscription {}) bought by {who}, who has left {tenant}, was to renew on {ended} on their card. Because they have left the organization, it did not renew and nothing was charged.",
                count(s.quantity),
                s.commerce_id
            ),
            format!(
                "The subscription has expired. Its licenses keep working until {until}; after that the people holding them lose access."
            ),
            format!(
                "To keep its users licensed, take the subscription over under Your products before {until}, or buy {product} centrally and assign it to them."
            ),
        ],
    )
}

/// To the Global and Billing admins: the purchaser (`who`) of a self-service subscription
/// left (`how`: "was disabled" or "was deleted"); what happens to it and what they can do.
pub fn purchaser_left(
    tenant: &str,
    product: &str,
    s: &Subscription,
    who: &str,
    how: &str,
) -> Content {
    use seatkeeper_domain::lifecycle::Status;
    let ends = s.life.term_end.format("%Y-%m-%d");
    let what = if s.is_trial { "trial" } else { "subscription" };
    let fate = match s.life.status {
        Status::Active if s.is_trial && s.life.recurring => format!(
            "It keeps working until its trial ends on {ends}; it will not continue as a paid subscription on their card."
        ),
        Status::Active if s.life.recurring => format!(
            "It keeps working until its term ends on {ends}; it will not renew on their card."
        ),
        Status::Active => format!("It keeps working until it ends on {ends}."),
        _ => format!(
            "It is {} and its users lose access as it moves on toward deletion.",
            s.life.status.as_str()
        ),
    };
    render(
        format!("The purchaser of a self-service {product} {what} has left"),
        &[
            format!(
                "{who}, who {} {product} ({}, subscription {}) in {tenant}, {how}.",
                if s.is_trial { "started a trial of" } else { "bought" },
                count(s.quantity),
                s.commerce_id
            ),
            fate,
            "To keep its users licensed, take it over under Your products (move its users to licenses the organization owns) or buy the product centrally and assign it to them.".to_string(),
        ],
    )
}

/// To the Global and Billing admins: the purchaser (`who`) of a self-service subscription whose
/// recurring billing stopped when they left is back: it renews again on their card (SS4).
pub fn purchaser_returned(tenant: &str, product: &str, s: &Subscription, who: &str) -> Content {
    let what = if s.is_trial { "trial" } else { "subscription" };
    render(
        format!("The purchaser of a self-service {product} {what} is back"),
        &[
            format!(
                "{who}, whose account in {tenant} was enabled again, holds {product} ({}, subscription {}).",
                count(s.quantity),
                s.commerce_id
            ),
            if s.is_trial {
                format!(
                    "Its trial continues: it becomes a paid subscription on their card when it ends on {}.",
                    s.life.term_end.format("%Y-%m-%d")
                )
            } else {
                format!(
                    "Recurring billing is on again: it renews on their card on {}.",
                    s.life.term_end.format("%Y-%m-%d")
                )
            },
        ],
    )
}

/// To the purchaser: their paid subscription did not renew because the charge failed; it has
/// expired and can be reactivated with a working card.
pub fn renewal_failed(product: &str, reason: &str, s: &Subscription) -> Content {
    let ended = s.life.term_end.format("%Y-%m-%d");
    let until = (s.life.term_end
        + chrono::Duration::days(seatkeeper_domain::lifecycle::EXPIRED_DAYS))
    .format("%Y-%m-%d");
    render(
        format!("Your {product} subscription did not renew: the payment failed"),
        &[
            format!(
                "Your subscription of {product} ({}, subscription {}) was to renew on {ended}, but the charge failed: {reason}",
                count(s.quantity),
                s.commerce_id
            ),
            format!(
                "The subscription has expired. Its licenses keep working until {until}. To keep it, add a card under Payment methods, change the subscription's card, and reactivate it under My products."
            ),
        ],
    )
}

/// To the purchaser (or, with `left` naming a purchaser who has left, to the admins): a trial
/// could not convert to paid because the charge failed.
pub fn payment_failed(
    product: &str,
    reason: &str,
    s: &Subscription,
    left: Option<&str>,
) -> Content {
    let ended = s.life.term_end.format("%Y-%m-%d");
    let until = (s.life.term_end
        + chrono::Duration::days(seatkeeper_domain::lifecycle::EXPIRED_DAYS))
    .format("%Y-%m-%d");
    match left {
        None => render(
            format!("Your {product} trial has ended: the payment failed"),
            &[
                format!(
                    "Your trial of {product} (subscription {}) ended on {ended} and was to continue as a paid subscription, but the charge failed: {reason}",
                    s.commerce_id
                ),
                format!(
                    "The subscription has expired. Its licenses keep working until {until}; update your card under Payment methods and buy {product} again to keep it."
                ),
            ],
        ),
        Some(who) => render(
            format!("A self-service {product} trial has ended: the payment failed"),
            &[
                format!(
                    "The trial of {product} (subscription {}) bought by {who}, who has left the organization, ended on {ended} and was to continue as a paid subscription, but the charge failed: {reason}",
                    s.commerce_id
                ),
                format!(
                    "The subscription has expired. Its licenses keep working until {until}; take it over under Your products to keep its users licensed."
                ),
            ],
        ),
    }
}

/// To one user on a license request: approved or denied (REQ4), with the admin's message or
/// the default one. `already_held` names the product an approved user holds already (nothing
/// was assigned to them): the mail says so instead of announcing a new license.
pub fn request_decided(
    tenant: &str,
    product: &str,
    licensed_with: &str,
    approved: bool,
    already_held: Option<&str>,
    message: Option<&str>,
) -> Content {
    let custom = message.map(str::trim).filter(|m| !m.is_empty());
    if let (true, Some(held)) = (approved, already_held) {
        let mut paragraphs = vec![
            format!("Your admin approved the request for a {product} license in {tenant}."),
            format!("You already have a {held} license, so nothing new was assigned to you."),
        ];
        paragraphs.extend(custom.map(|m| format!("Message from your admin: {m}")));
        render(
            format!("Your request for {product} was approved"),
            &paragraphs,
        )
    } else if approved {
        render(
            format!("Your request for {product} was approved"),
            &[
                format!("Your admin approved the request for a {product} license in {tenant}."),
                custom.map(|m| format!("Message from your admin: {m}")).unwrap_or_else(|| {
                    format!("You now have (or will shortly have) a {licensed_with} license; sign out and in again if its apps do not show yet.")
                }),
            ],
        )
    } else {
        render(
            format!("Your request for {product} was denied"),
            &[
                format!("Your admin denied the request for a {product} license in {tenant}."),
                custom
                    .map(|m| format!("Message from your admin: {m}"))
                    .unwrap_or_else(|| {
                        "Ask your admin if you need to know why or what to use instead.".into()
                    }),
            ],
        )
    }
}

/// What a shared license request shows its recipient (REQ5).
#[derive(Debug, Clone)]
pub struct SharedRequest<'a> {
    pub tenant: &'a str,
    pub product: &'a str,
    pub requester: &'a str,
    /// Everyone on the request (user names).
    pub users: &'a [String],
    pub note: Option<&'a str>,
    /// Who shared it.
    pub shared_by: &'a str,
    pub subject: Option<&'a str>,
    pub message: Option<&'a str>,
    /// The links to recommend approving and denying.
    pub approve_url: &'a str,
    pub deny_url: &'a str,
    /// The last day the links work (YYYY-MM-DD).
    pub expires: &'a str,
}

/// To a recipient of a shared license request: the request and links to recommend approving
/// or denying it (REQ5).
pub fn request_shared(r: &SharedRequest<'_>) -> Content {
    let mut paragraphs = vec![format!(
        "{} asks for your recommendation on a license request in {}: {} asked for {} for {}.",
        r.shared_by,
        r.tenant,
        r.requester,
        r.product,
        r.users.join(", ")
    )];
    if let Some(m) = r.message.map(str::trim).filter(|m| !m.is_empty()) {
        paragraphs.push(format!("Message from {}: {m}", r.shared_by));
    }
    if let Some(n) = r.note.map(str::trim).filter(|n| !n.is_empty()) {
        paragraphs.push(format!("The requester's note: {n}"));
    }
    paragraphs.push(format!(
        "You don't need admin access. Open one of these links to recommend approving or denying it, with a comment if you like. The links work once, for you only, until {}.",
        r.expires
    ));
    let subject = r
        .subject
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("Your recommendation: {} for {}", r.product, r.requester));
    let mut c = render(subject, &paragraphs);
    c.text.push_str(&format!(
        "\nRecommend approving: {}\nRecommend denying: {}\n",
        r.approve_url, r.deny_url
    ));
    let links = format!(
        "<p><a href=\"{}\">Recommend approving</a></p><p><a href=\"{}\">Recommend denying</a></p>",
        esc(r.approve_url),
        esc(r.deny_url)
    );
    c.html = c.html.replace("</body>", &format!("{links}</body>"));
    c
}

/// An amount as a person reads it: "7.20 USD" ("1000 JPY" for currencies without minor
/// units).
fn amount(m: &seatkeeper_domain::subscription::Money) -> String {
    if matches!(m.currency.as_str(), "JPY" | "KRW") {
        format!("{} {}", m.minor, m.currency)
    } else {
        let sign = if m.minor < 0 { "-" } else { "" };
        let abs = m.minor.unsigned_abs();
        format!("{sign}{}.{:02} {}", abs / 100, abs % 100, m.currency)
    }
}

/// To the purchaser: their trial became a paid subscription and their card was charged
/// (SUB4). Names the card by brand and last four digits only.
pub fn trial_converted(
    tenant: &str,
    product: &str,
    s: &Subscription,
    unit: &seatkeeper_domain::subscription::Money,
    period: &str,
    card: (&str, &str),
) -> Content {
    let (brand, last4) = card;
    let total = seatkeeper_domain::subscription::Money {
        minor: unit.minor.saturating_mul(s.quantity),
        currency: unit.currency.clone(),
    };
    render(
        format!("Your {product} trial is now a paid subscription"),
        &[
            format!(
                "Your trial of {product} in {tenant} ended and became a paid subscription (subscription {}).",
                s.commerce_id
            ),
            format!(
                "Quantity: {}. Price: {} per license per {period}; {} per {period} in all.",
                count(s.quantity),
                amount(unit),
                amount(&total)
            ),
            format!("Charged to your {brand} card ending {last4}."),
            "Manage it, or turn off recurring billing, under My products.".into(),
        ],
    )
}

/// An outbox row for `content`, due now.
pub fn message(
    tenant: TenantId,
    dedupe_key: Option<String>,
    kind: MailKind,
    to: &str,
    content: &Content,
    now: Time,
) -> Message {
    Message {
        id: uuid::Uuid::new_v4(),
        tenant_id: tenant,
        dedupe_key,
        kind,
        to: to.to_string(),
        subject: content.subject.clone(),
        text_body: content.text.clone(),
        html_body: content.html.clone(),
        created_at: now,
        status: OutboxStatus::Pending,
        attempts: 0,
        next_attempt_at: now,
        sent_at: None,
        last_error: None,
    }
}

fn build(from: &str, m: &Message) -> anyhow::Result<lettre::Message> {
    use lettre::message::{MultiPart, header::ContentType};
    let msg = lettre::Message::builder()
        .from(
            from.parse()
                .map_err(|e| anyhow::anyhow!("sender address '{from}' is not valid: {e}"))?,
        )
        .to(m
            .to
            .parse()
            .map_err(|e| anyhow::anyhow!("recipient address '{}' is not valid: {e}", m.to))?)
        .subject(m.subject.clone())
        .message_id(Some(format!("<{}@seatkeeper>", m.id)))
        .date(std::time::SystemTime::from(m.created_at))
        .multipart(MultiPart::alternative_plain_html(
            m.text_body.clone(),
            m.html_body.clone(),
        ))
        .map_err(|e| anyhow::anyhow!("cannot build the message: {e}"))?;
    let _ = ContentType::TEXT_PLAIN;
    Ok(msg)
}

/// Delivers one message, giving up after [`DELIVERY_TIMEOUT`]. Delivering the same message again
/// writes the same file (or sends the same Message-ID), so a retry after a crash is harmless.
pub async fn deliver(config: &MailConfig, m: &Message) -> anyhow::Result<()> {
    match tokio::time::timeout(DELIVERY_TIMEOUT, deliver_now(config, m)).await {
        Ok(result) => result,
        Err(_) => anyhow::bail!(
            "delivery took longer than {} s and was abandoned",
            DELIVERY_TIMEOUT.as_secs()
        ),
    }
}

async fn deliver_now(config: &MailConfig, m: &Message) -> anyhow::Result<()> {
    let msg = build(&config.from, m)?;
    match &config.transport {
        Transport::EmlDir(dir) => {
            tokio::fs::create_dir_all(dir).await?;
            let final_path = dir.join(format!("{}.eml", m.id));
            let tmp = dir.join(format!(".{}.tmp", m.id));
            tokio::fs::write(&tmp, msg.formatted()).await?;
            tokio::fs::rename(&tmp, &final_path).await?;
            Ok(())
        }
        Transport::Smtp {
            host,
            port,
            security,
            username,
            password,
        } => {
            use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
            let mut b = match security {
                SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
                SmtpSecurity::StartTls => {
                    AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?
                }
                SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
            }
            .port(*port)
            .timeout(Some(SMTP_TIMEOUT));
            if let (Some(u), Some(p)) = (username, password) {
                b = b.credentials(lettre::transport::smtp::authentication::Credentials::new(
                    u.clone(),
                    p.clone(),
                ));
            }
            b.build()
                .send(msg)
                .await
                .map_err(|e| anyhow::anyhow!("SMTP {host}:{port}: {e}"))?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_smtp_password() {
        let c = MailConfig {
            from: "a@b.example".into(),
            transport: Transport::Smtp {
                host: "smtp.example".into(),
                port: 587,
                security: SmtpSecurity::StartTls,
                username: Some("mailer".into()),
                password: Some("s3cret".into()),
            },
        };
        let shown = format!("{c:?} {c:#?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("mailer") && shown.contains("***"), "{shown}");
    }
}
