//! Self-service purchases when the purchaser has left, and the words of the self-service
//! screens and API: trials of departed purchasers, exports, unassigning, cancelling and
//! billing accounts. On SQLite and PostgreSQL, over HTTP.

use crate::common::*;
use crate::pages_self_service::{browser, csrf, post, signed_in};
use crate::rest_helpers::*;
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Adds a card for the token's user; returns the payment method's id.
async fn card(srv: &Srv, token: &str) -> String {
    let got = srv
        .call_as(
            token,
            "POST",
            &format!("{API}/me/payment-methods"),
            Some(json!({
                "cardNumber": "4242 4242 4242 4242", "expiryMonth": 12, "expiryYear": 2099,
                "securityCode": "123", "nameOnCard": "Review Buyer",
                "billingAddress": {"line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"}
            })),
        )
        .await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    got.1["id"].as_str().expect("id").to_string()
}

/// A card trial of Suite Standard for the token's user; returns the subscription.
async fn card_trial(srv: &Srv, token: &str) -> Value {
    let pm = card(srv, token).await;
    let got = srv
        .call_as(
            token,
            "POST",
            &format!("{API}/me/trials"),
            Some(json!({"skuId": "SUITE_STANDARD", "paymentMethodId": pm})),
        )
        .await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    got.1
}

fn message(got: &(StatusCode, Value)) -> String {
    got.1["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The delivered e-mails (the `.eml` files) that contain `needle`, line breaks of quoted
/// printable undone.
fn delivered_with(srv: &Srv, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(srv.dir.join("mail"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let text = std::fs::read_to_string(e.path())
            .unwrap_or_default()
            .replace("=\r\n", "")
            .replace("=\n", "")
            .replace("\r\n", " ")
            .replace('\n', " ");
        if text.contains(needle) {
            found.push(text);
        }
    }
    found
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

backends!(
    a_trial_whose_purchaser_left_ends_uncharged_and_the_admins_are_told,
    |srv| async move {
        let disabled = srv.token_with_roles("trialgone@contoso.test", &[]).await;
        let deleted = srv.token_with_roles("trialdel@contoso.test", &[]).await;
        let stays = srv.token_with_roles("trialstay@contoso.test", &[]).await;
        let a = card_trial(&srv, &disabled).await;
        let b = card_trial(&srv, &deleted).await;
        let c = card_trial(&srv, &stays).await;
        let got = srv
            .patch(
                "/v1.0/users/trialgone@contoso.test",
                json!({"accountEnabled": false}),
            )
            .await;
        assert!(got.0.is_success(), "{}", got.1);
        let got = srv.delete("/v1.0/users/trialdel@contoso.test").await;
        assert!(got.0.is_success(), "{}", got.1);

        set_clock(&srv, t(&a["termEndDateTime"]) + Duration::hours(1)).await;
        run_jobs(&srv).await;

        for gone in [&a, &b] {
            let id = text(&gone["id"]);
            let s = sub(&srv, &id).await;
            assert_eq!(
                (
                    s["isTrial"].clone(),
                    s["status"].clone(),
                    s["purchasePrice"].clone()
                ),
                (json!(true), json!("Expired"), Value::Null),
                "{s}"
            );
        }
        // The purchaser who stayed converts to paid as before.
        let s = sub(&srv, &text(&c["id"])).await;
        assert_eq!(
            (s["isTrial"].clone(), s["status"].clone()),
            (json!(false), json!("Active")),
            "{s}"
        );
        // Nobody who left hears anything; the admins hear why it ended and what to do.
        assert!(
            mail_of_kind(&srv, "trial.converted")
                .await
                .iter()
                .all(|m| m["to"] == "trialstay@contoso.test")
        );
        let mails: Vec<Value> = mail_of_kind(&srv, "subscription.expired")
            .await
            .into_iter()
            .filter(|m| m["to"] == "admin@contoso.test")
            .collect();
        assert_eq!(mails.len(), 2, "{mails:?}");
        for m in &mails {
            assert!(
                text(&m["subject"]).starts_with("A self-service Suite Standard trial ended on"),
                "{m}"
            );
        }
        // They heard when each purchaser left: it will not convert on their card, and what
        // to do; its recurring billing went off then, as the audit log says.
        let bodies = delivered_with(
            &srv,
            "will not continue as a paid subscription on their card",
        );
        assert_eq!(bodies.len(), 2, "{bodies:?}");
        for b in &bodies {
            assert!(b.contains("take it over"), "{b}");
        }
        assert!(
            bodies
                .iter()
                .any(|b| b.contains("trialgone@contoso.test") && b.contains("was disabled")),
            "{bodies:?}"
        );
        assert!(
            bodies
                .iter()
                .any(|b| b.contains("trialdel@contoso.test") && b.contains("was deleted")),
            "{bodies:?}"
        );
        let s = summaries(&srv, "subscription.recurring").await;
        assert_eq!(
            s.iter()
                .filter(|x| x.contains("recurring billing off: its purchaser"))
                .count(),
            2,
            "{s:?}"
        );
        assert!(
            summaries(&srv, "subscription.convert")
                .await
                .iter()
                .all(|x| !x.contains("trialgone") && !x.contains("trialdel")),
        );
        // Its licenses stop with a trial's normal end steps.
        set_clock(&srv, t(&a["termEndDateTime"]) + Duration::days(31)).await;
        run_jobs(&srv).await;
        let s = sub(&srv, &text(&a["id"])).await;
        assert_eq!(s["status"], "Disabled", "{s}");
    }
);

/// `path` as the signed-in `cookie` sees it (status, page).
async fn page(srv: &Srv, cookie: &str, path: &str) -> (StatusCode, String) {
    let r = browser()
        .get(format!("{}{path}", srv.url))
        .header("cookie", cookie)
        .send()
        .await
        .expect("get");
    (r.status(), r.text().await.expect("page"))
}

backends!(
    the_take_over_page_offers_no_ask_to_cancel_when_the_purchaser_left,
    |srv| async move {
        let buyer = srv.token_with_roles("leftpage@contoso.test", &[]).await;
        let id = text(&card_trial(&srv, &buyer).await["id"]);
        let admin = format!("sk_session={}", srv.admin_session().await);
        let path = format!("/products/{id}/take-over");
        let (status, html) = page(&srv, &admin, &path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains(">Ask to cancel</button>"), "{html}");
        let got = srv
            .patch(
                "/v1.0/users/leftpage@contoso.test",
                json!({"accountEnabled": false}),
            )
            .await;
        assert!(got.0.is_success(), "{}", got.1);
        let (status, html) = page(&srv, &admin, &path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!html.contains(">Ask to cancel</button>"), "{html}");
        assert!(!html.contains("/ask-to-cancel\""), "{html}");
        assert!(
            html.contains(
                "The purchaser has left the organization; move the users or cancel instead."
            ),
            "{html}"
        );
        assert!(html.contains(">Move users</button>"), "{html}");
    }
);

/// A Member's paid purchase of `qty` Mail (Plan 1) licenses: the subscription's id.
async fn buy_mail(srv: &Srv, token: &str, qty: i64) -> String {
    let pm = card(srv, token).await;
    let got = srv
        .call_as(
            token,
            "POST",
            &format!("{API}/me/purchases"),
            Some(json!({"skuId": "MAIL_PLAN1", "quantity": qty, "billingFrequency": "monthly", "paymentMethodId": pm})),
        )
        .await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    text(&got.1["id"])
}

backends!(
    exported_users_of_a_deleted_purchaser_name_the_purchaser,
    |srv| async move {
        let buyer = srv.token_with_roles("csvgone@contoso.test", &[]).await;
        let id = buy_mail(&srv, &buyer, 2).await;
        users(&srv, "csvmate", 1).await;
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &format!("{API}/subscriptions/{id}/assign"),
                Some(json!({"userIds": ["csvmate0@contoso.test"]})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = srv.delete("/v1.0/users/csvgone@contoso.test").await;
        assert!(got.0.is_success(), "{}", got.1);
        let kept = sub(&srv, &id).await;
        let name = text(&kept["deletedPurchaser"]["displayName"]);
        assert!(!name.is_empty(), "{kept}");
        assert_eq!(
            kept["deletedPurchaser"]["userPrincipalName"],
            "csvgone@contoso.test"
        );

        let (status, _, body) = get_text(
            &srv,
            &format!("{API}/licenses/MAIL_PLAN1/self-service-users.csv"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let admin = format!("sk_session={}", srv.admin_session().await);
        let (status, page_body) =
            page(&srv, &admin, "/licenses/MAIL_PLAN1/self-service-users.csv").await;
        assert_eq!(status, StatusCode::OK, "{page_body}");
        for csv in [body, page_body] {
            let rows = csv_rows(&csv);
            let row = rows
                .iter()
                .find(|r| r[0] == "csvmate0@contoso.test")
                .unwrap_or_else(|| panic!("{csv}"));
            assert_eq!(row[2], "csvgone@contoso.test", "{csv}");
            assert_eq!(row[3], format!("{name} (deleted user)"), "{csv}");
        }
    }
);

backends!(
    unassigning_someone_without_a_license_of_the_subscription_names_them,
    |srv| async move {
        let buyer = srv.token_with_roles("unassigner@contoso.test", &[]).await;
        let id = buy_mail(&srv, &buyer, 2).await;
        users(&srv, "nolicense", 1).await;
        let path = format!("{API}/subscriptions/{id}/unassign");
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &path,
                Some(json!({"userIds": ["nolicense0@contoso.test"]})),
            )
            .await;
        assert_eq!(got.0, StatusCode::CONFLICT, "{}", got.1);
        let m = message(&got);
        assert!(
            m.contains("nolicense0@contoso.test")
                && m.contains("has no license from this subscription (Mail (Plan 1))")
                && !m.contains("skuId"),
            "{m}"
        );
        // All or nothing: the purchaser's own license stays.
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &path,
                Some(json!({"userIds": ["unassigner@contoso.test", "nolicense0@contoso.test"]})),
            )
            .await;
        assert_eq!(got.0, StatusCode::CONFLICT, "{}", got.1);
        assert_eq!(
            held(&srv, "unassigner@contoso.test").await,
            vec!["MAIL_PLAN1".to_string()]
        );
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &path,
                Some(json!({"userIds": ["unassigner@contoso.test"]})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert!(held(&srv, "unassigner@contoso.test").await.is_empty());
    }
);

backends!(cancelling_a_trial_promises_no_refund, |srv| async move {
    let trier = srv.token_with_roles("norefund@contoso.test", &[]).await;
    for body in [
        json!({"skuId": "CHAT_ESSENTIALS"}),
        json!({"skuId": "SUITE_STANDARD", "paymentMethodId": card(&srv, &trier).await}),
    ] {
        let got = srv
            .call_as(&trier, "POST", &format!("{API}/me/trials"), Some(body))
            .await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = text(&got.1["id"]);
        let got = srv
            .call_as(
                &trier,
                "POST",
                &format!("{API}/subscriptions/{id}/cancel"),
                Some(json!({"reason": "NoLongerNeeded"})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let m = text(&got.1["message"]);
        assert!(!m.to_lowercase().contains("refund"), "{m}");
        assert!(m.contains("trial is disabled now"), "{m}");
    }
    // A paid purchase cancelled in its window still says its refund.
    let id = buy_mail(&srv, &trier, 1).await;
    let got = srv
        .call_as(
            &trier,
            "POST",
            &format!("{API}/subscriptions/{id}/cancel"),
            Some(json!({"reason": "NoLongerNeeded"})),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    assert!(
        text(&got.1["message"]).contains("refunded for the rest of the term to its card"),
        "{}",
        got.1
    );
});

/// The Add a card form's body with `line1` and `country` (URL-encoded).
fn card_form(csrf: &str, line1: &str, country: &str) -> String {
    let enc = |v: &str| -> String { form_urlencoded::byte_serialize(v.as_bytes()).collect() };
    format!(
        "csrf={}&card_number=4242+4242+4242+4242&expiry_month=12&expiry_year=2099&security_code=123&name_on_card=Form+Words&line1={}&city=Cardiff&postal_code=CF10&country={}",
        enc(csrf),
        enc(line1),
        enc(country)
    )
}

backends!(
    the_card_form_keeps_the_country_typed_and_speaks_in_its_labels,
    |srv| async move {
        let (cookie, token) = signed_in(&srv, "formwords@contoso.test", &[], false).await;
        let path = "/my/payment-methods";
        let (status, html) = page(&srv, &cookie, path).await;
        assert_eq!(status, StatusCode::OK);
        let country = &html[html.find("id=\"country\"").expect("country")..];
        let country = &country[..country.find('>').expect("tag end")];
        assert!(!country.contains("maxlength"), "{country}");
        let token_csrf = csrf(&srv, &cookie, path).await;

        // A country that is not a code is refused in full, never cut to another country.
        let (status, html) = post(
            &srv,
            &cookie,
            path,
            &card_form(&token_csrf, "1 Road", "Narnia"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
        assert!(
            html.contains("Country &#39;Narnia&#39; is not an ISO 3166-1 alpha-2 country code")
                || html.contains("Country 'Narnia' is not an ISO 3166-1 alpha-2 country code"),
            "{html}"
        );
        assert!(!html.contains("billingAddress"), "{html}");
        // A long line is named by its label.
        let long = "x".repeat(250);
        let (status, html) = post(&srv, &cookie, path, &card_form(&token_csrf, &long, "GB")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
        assert!(
            html.contains("Address line 1 must be at most 200 characters (it has 250)."),
            "{html}"
        );
        assert!(!html.contains("billingAddress"), "{html}");
        // A JSON array is not a form.
        let r = browser()
            .post(format!("{}{path}", srv.url))
            .header("cookie", &cookie)
            .header("x-csrf-token", &token_csrf)
            .header("content-type", "application/json")
            .body(r#"["4242 4242 4242 4242", 12]"#)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let html = r.text().await.expect("page");
        assert!(html.contains("The form could not be read"), "{html}");
        assert!(!html.contains("Expiry month"), "{html}");
        // Nothing was stored.
        let got = srv
            .call_as(&token, "GET", &format!("{API}/me/payment-methods"), None)
            .await;
        assert_eq!(
            got.1["value"].as_array().map(Vec::len),
            Some(0),
            "{}",
            got.1
        );
        // The API keeps its field names.
        let got = srv
            .call_as(
                &token,
                "POST",
                &format!("{API}/me/payment-methods"),
                Some(json!({
                    "cardNumber": "4242 4242 4242 4242", "expiryMonth": 12, "expiryYear": 2099,
                    "securityCode": "123", "nameOnCard": "Api",
                    "billingAddress": {"line1": long, "city": "Cardiff", "postalCode": "CF10", "country": "GB"}
                })),
            )
            .await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
        assert!(
            message(&got).starts_with("billingAddress.line1 must be at most 200 characters"),
            "{}",
            got.1
        );
    }
);

/// The summaries of the audit log's entries of `action`.
async fn summaries(srv: &Srv, action: &str) -> Vec<String> {
    let got = srv.get(&format!("{API}/audit?action={action}")).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    got.1["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|e| text(&e["summary"]))
        .collect()
}

backends!(
    self_service_words_name_who_can_act_the_right_path_and_agree_in_number,
    |srv| async move {
        let buyer = srv.token_with_roles("wordy@contoso.test", &[]).await;
        let id = buy_mail(&srv, &buyer, 2).await;
        // A License admin cannot take it over: told who can.
        let la = srv
            .token_with_roles(
                "wordyla@contoso.test",
                &[seatkeeper_domain::roles::Role::LicenseAdmin],
            )
            .await;
        users(&srv, "wordymate", 1).await;
        let got = srv
            .call_as(
                &la,
                "POST",
                &format!("{API}/subscriptions/{id}/assign"),
                Some(json!({"userIds": ["wordymate0@contoso.test"]})),
            )
            .await;
        assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
        let m = message(&got);
        assert!(
            !m.contains("Take it over first")
                && m.contains("a Global or Billing admin takes it over"),
            "{m}"
        );
        // A Global admin is still told to take it over first.
        let got = srv
            .post(
                &format!("{API}/subscriptions/{id}/assign"),
                json!({"userIds": ["wordymate0@contoso.test"]}),
            )
            .await;
        assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
        assert!(message(&got).contains("Take it over first"), "{}", got.1);
        // A card that is not there names the path that lists one's cards.
        let got = srv
            .call_as(
                &buyer,
                "PATCH",
                &format!("{API}/me/payment-methods/{}", uuid::Uuid::new_v4()),
                Some(json!({"nameOnCard": "X", "securityCode": "123"})),
            )
            .await;
        assert_eq!(got.0, StatusCode::NOT_FOUND, "{}", got.1);
        assert!(
            message(&got).contains("GET /api/v1/me/payment-methods"),
            "{}",
            got.1
        );
        // One license fewer: "Removed 1 … license".
        let got = srv
            .call_as(
                &buyer,
                "PATCH",
                &format!("{API}/subscriptions/{id}"),
                Some(json!({"quantity": 1})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let s = summaries(&srv, "subscription.quantity").await;
        assert!(
            s.iter()
                .any(|x| x.starts_with("Removed 1 MAIL_PLAN1 license: 2 → 1; refunded")),
            "{s:?}"
        );
        // A take-over of one user: "1 user moved".
        srv.buy("MAIL_PLAN1", 1).await;
        let got = srv
            .post(
                &format!("{API}/subscriptions/{id}/take-over"),
                json!({"action": "move"}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let s = summaries(&srv, "subscription.take-over").await;
        assert!(
            s.iter()
                .any(|x| x.contains(": 1 user moved to the central MAIL_PLAN1 licenses")),
            "{s:?}"
        );
        assert!(s.iter().all(|x| !x.contains("1 users")), "{s:?}");
        let s = summaries(&srv, "subscription.buy").await;
        assert!(
            s.iter().all(|x| !x.contains(" 1 MAIL_PLAN1 licenses")),
            "{s:?}"
        );
    }
);

backends!(
    a_deleted_purchasers_billing_records_stay_and_their_subscription_stops_renewing,
    |srv| async move {
        let gone = srv.token_with_roles("billgone@contoso.test", &[]).await;
        let stays = srv.token_with_roles("billstays@contoso.test", &[]).await;
        let left = buy_mail(&srv, &gone, 2).await;
        let kept = buy_mail(&srv, &stays, 1).await;
        let before = sub(&srv, &left).await;
        let card = text(&before["paymentMethodId"]);
        assert!(!card.is_empty(), "{before}");
        let got = srv
            .call_as(
                &gone,
                "PATCH",
                &format!("{API}/me/billing-profile"),
                Some(json!({"paymentMethodId": card})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = srv.delete("/v1.0/users/billgone@contoso.test").await;
        assert!(got.0.is_success(), "{}", got.1);

        // The account, its profile and the card it pays with are kept, named as they were.
        let got = srv.get(&format!("{API}/billing/accounts")).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let accounts = got.1["value"].as_array().expect("value").clone();
        let account = accounts
            .iter()
            .find(|a| a["ownerUserPrincipalName"] == "billgone@contoso.test")
            .unwrap_or_else(|| panic!("{}", got.1));
        assert_eq!(account["ownerDeleted"], true, "{account}");
        assert_eq!(account["kind"], "purchaser", "{account}");
        assert!(!text(&account["ownerDisplayName"]).is_empty(), "{account}");
        assert_eq!(
            account["profile"]["paymentMethodId"],
            card.as_str(),
            "{account}"
        );
        assert!(
            text(&account["profile"]["paymentMethod"]).contains("4242"),
            "{account}"
        );
        let living = accounts
            .iter()
            .find(|a| a["ownerUserPrincipalName"] == "billstays@contoso.test")
            .unwrap_or_else(|| panic!("{}", got.1));
        assert_eq!(living["ownerDeleted"], false, "{living}");
        let central = &accounts[0];
        assert_eq!(
            (central["ownerDeleted"].clone(), central["ownerId"].clone()),
            (Value::Null, Value::Null),
            "{central}"
        );

        // At the end of its term it does not renew on the departed purchaser's card: it
        // expires, recurring billing is off, and the admins hear why and what to do. The
        // subscription of the purchaser who stayed renews as before.
        set_clock(&srv, t(&before["termEndDateTime"]) + Duration::hours(1)).await;
        run_jobs(&srv).await;
        let s = sub(&srv, &left).await;
        assert_eq!(
            (s["status"].clone(), s["recurringBilling"].clone()),
            (json!("Expired"), json!(false)),
            "{s}"
        );
        assert_eq!(s["paymentMethodId"], card.as_str(), "{s}");
        let s = sub(&srv, &kept).await;
        assert_eq!(s["status"], "Active", "{s}");
        assert!(
            t(&s["termEndDateTime"]) > t(&before["termEndDateTime"]),
            "{s}"
        );
        let mails: Vec<Value> = mail_of_kind(&srv, "subscription.expired")
            .await
            .into_iter()
            .filter(|m| m["to"] == "admin@contoso.test")
            .collect();
        assert_eq!(mails.len(), 1, "{mails:?}");
        // They heard when the purchaser was deleted, and recurring billing went off then.
        let bodies = delivered_with(&srv, "it will not renew on their card");
        assert_eq!(bodies.len(), 1, "{bodies:?}");
        assert!(
            bodies[0].contains("billgone@contoso.test")
                && bodies[0].contains("was deleted")
                && bodies[0].contains("take it over"),
            "{}",
            bodies[0]
        );
        let s = summaries(&srv, "subscription.recurring").await;
        assert!(
            s.iter()
                .any(|x| x.contains("recurring billing off: its purchaser")
                    && x.contains("billgone@contoso.test")),
            "{s:?}"
        );
    }
);

/// Upgrading a database from before billing records outlived their owner keeps every billing
/// profile and the card it pays with (SQLite rebuilds those tables to drop the owner's
/// foreign key).
#[tokio::test]
async fn upgrading_keeps_billing_profiles_and_their_cards() {
    let Some(srv) = Srv::start(Backend::Sqlite).await else {
        return;
    };
    let buyer = srv.token_with_roles("upgrade@contoso.test", &[]).await;
    let card = card(&srv, &buyer).await;
    let got = srv
        .call_as(
            &buyer,
            "PATCH",
            &format!("{API}/me/billing-profile"),
            Some(json!({"paymentMethodId": card, "name": "Upgrade Inc"})),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let before = srv.get(&format!("{API}/billing/accounts")).await;
    // Run migration 12 again on the database as it is.
    let db = seatkeeper_store::Db::open_dir(&srv.dir).await.expect("db");
    let mut tx = db.begin().await.expect("tx");
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 12")
        .execute(&mut *tx)
        .await
        .expect("forget 12");
    tx.commit().await.expect("commit");
    drop(db);
    let db = seatkeeper_store::Db::open_dir(&srv.dir)
        .await
        .expect("upgrade");
    drop(db);
    let after = srv.get(&format!("{API}/billing/accounts")).await;
    // The purchaser's account as it was (the central one is not opened yet: shown as it
    // would be, dated now).
    assert_eq!(after.1["value"][1], before.1["value"][1]);
    assert_eq!(
        after.1["value"][1]["ownerUserPrincipalName"],
        "upgrade@contoso.test"
    );
    let mine = srv
        .call_as(&buyer, "GET", &format!("{API}/me/billing-profile"), None)
        .await;
    assert_eq!(
        (mine.1["name"].clone(), mine.1["paymentMethodId"].clone()),
        (json!("Upgrade Inc"), json!(card)),
        "{}",
        mine.1
    );
    let cards = srv
        .call_as(&buyer, "GET", &format!("{API}/me/payment-methods"), None)
        .await;
    assert!(cards.1.to_string().contains(&card), "{}", cards.1);
}

/// Adds card `number` expiring `month`/`year` for the token's user; returns its id.
async fn card_of(srv: &Srv, token: &str, number: &str, month: u32, year: i32) -> String {
    let got = srv
        .call_as(
            token,
            "POST",
            &format!("{API}/me/payment-methods"),
            Some(json!({
                "cardNumber": number, "expiryMonth": month, "expiryYear": year,
                "securityCode": "123", "nameOnCard": "Card Holder",
                "billingAddress": {"line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"}
            })),
        )
        .await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    text(&got.1["id"])
}

backends!(
    renewals_charge_the_card_and_a_failed_charge_stops_renewal_until_the_purchaser_reactivates,
    |srv| async move {
        let good = srv.token_with_roles("renewgood@contoso.test", &[]).await;
        let bad = srv.token_with_roles("renewbad@contoso.test", &[]).await;
        let paid = buy_mail(&srv, &good, 2).await;
        let failing = buy_mail(&srv, &bad, 1).await;
        // Its card is switched to one the provider declines when charged.
        let declines = card_of(&srv, &bad, "4000 0000 0000 0341", 12, 2099).await;
        let got = srv
            .call_as(
                &bad,
                "PATCH",
                &format!("{API}/subscriptions/{failing}"),
                Some(json!({"paymentMethodId": declines})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let before = sub(&srv, &paid).await;
        set_clock(&srv, t(&before["termEndDateTime"]) + Duration::hours(1)).await;
        run_jobs(&srv).await;

        let s = sub(&srv, &paid).await;
        assert_eq!(s["status"], "Active", "{s}");
        assert!(
            t(&s["termEndDateTime"]) > t(&before["termEndDateTime"]),
            "{s}"
        );
        let s = sub(&srv, &failing).await;
        assert_eq!(
            (s["status"].clone(), s["recurringBilling"].clone()),
            (json!("Expired"), json!(false)),
            "{s}"
        );
        let failed = mail_of_kind(&srv, "payment.failed").await;
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0]["to"], "renewbad@contoso.test");
        assert!(
            text(&failed[0]["subject"]).ends_with("subscription did not renew: the payment failed"),
            "{}",
            failed[0]
        );
        let s = summaries(&srv, "subscription.recurring").await;
        assert!(
            s.iter()
                .any(|x| x.contains("did not renew: the charge failed")),
            "{s:?}"
        );

        // An admin cannot reactivate it (only its purchaser changes it); a declined card
        // refuses the reactivation and changes nothing; a good card reactivates it.
        let got = srv
            .post(
                &format!("{API}/subscriptions/{failing}/reactivate"),
                json!({}),
            )
            .await;
        assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
        let got = srv
            .call_as(
                &bad,
                "POST",
                &format!("{API}/subscriptions/{failing}/reactivate"),
                Some(json!({})),
            )
            .await;
        assert_eq!(got.0, StatusCode::PAYMENT_REQUIRED, "{}", got.1);
        assert_eq!(sub(&srv, &failing).await["status"], "Expired");
        let works = card_of(&srv, &bad, "4242 4242 4242 4242", 12, 2099).await;
        let got = srv
            .call_as(
                &bad,
                "PATCH",
                &format!("{API}/subscriptions/{failing}"),
                Some(json!({"paymentMethodId": works})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = srv
            .call_as(
                &bad,
                "POST",
                &format!("{API}/subscriptions/{failing}/reactivate"),
                Some(json!({})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(
            (got.1["status"].clone(), got.1["recurringBilling"].clone()),
            (json!("Active"), json!(true)),
            "{}",
            got.1
        );
    }
);

backends!(an_expired_stored_card_is_never_charged, |srv| async move {
    let buyer = srv.token_with_roles("oldcard@contoso.test", &[]).await;
    let now = now(&srv).await;
    let year = chrono::Datelike::year(&now) + 1;
    let pm = card_of(&srv, &buyer, "4242 4242 4242 4242", 12, year).await;
    set_clock(
        &srv,
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, year + 1, 1, 15, 12, 0, 0).unwrap(),
    )
    .await;
    let got = srv
        .call_as(
            &buyer,
            "POST",
            &format!("{API}/me/purchases"),
            Some(json!({"skuId": "MAIL_PLAN1", "quantity": 1, "billingFrequency": "monthly", "paymentMethodId": pm})),
        )
        .await;
    assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
    assert_eq!(got.1["error"]["code"], "invalidExpiry", "{}", got.1);
    let m = message(&got);
    assert!(
        m.contains("Visa ending 4242") && m.contains(&format!("12/{year}")),
        "{m}"
    );
    let got = srv
        .call_as(&buyer, "GET", &format!("{API}/me/subscriptions"), None)
        .await;
    assert_eq!(
        got.1["value"].as_array().map(Vec::len),
        Some(0),
        "{}",
        got.1
    );
});

backends!(
    admins_hear_at_once_when_a_purchaser_leaves_and_home_says_to_take_it_over,
    |srv| async move {
        let buyer = srv.token_with_roles("leaver@contoso.test", &[]).await;
        let id = buy_mail(&srv, &buyer, 1).await;
        let s = sub(&srv, &id).await;
        let got = srv
            .patch(
                "/v1.0/users/leaver@contoso.test",
                json!({"accountEnabled": false}),
            )
            .await;
        assert!(got.0.is_success(), "{}", got.1);
        let mails = mail_of_kind(&srv, "subscription.purchaser-left").await;
        assert!(
            !mails.is_empty() && mails.iter().all(|m| m["to"] != "leaver@contoso.test"),
            "{mails:?}"
        );
        assert!(
            mails.iter().any(|m| m["to"] == "admin@contoso.test"),
            "{mails:?}"
        );
        run_jobs(&srv).await;
        let bodies = delivered_with(&srv, "will not renew on their card");
        assert_eq!(bodies.len(), 1, "{bodies:?}");
        assert!(
            bodies[0].contains("leaver@contoso.test") && bodies[0].contains("was disabled"),
            "{}",
            bodies[0]
        );
        // A take-over does not e-mail the purchaser who left.
        set_clock(&srv, t(&s["termEndDateTime"]) + Duration::hours(1)).await;
        run_jobs(&srv).await;
        let admin = format!("sk_session={}", srv.admin_session().await);
        let (status, home) = page(&srv, &admin, "/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            home.contains("bought through self-service, expired on")
                && home.contains("take it over")
                && !home.contains("Reactivate it or turn recurring billing on"),
            "{home}"
        );
        let (_, detail) = page(&srv, &admin, &format!("/products/{id}")).await;
        assert!(
            detail.contains(&format!("href=\"/products/{id}/take-over\"")),
            "{detail}"
        );
        srv.buy("MAIL_PLAN1", 1).await;
        let got = srv
            .post(
                &format!("{API}/subscriptions/{id}/take-over"),
                json!({"action": "move"}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert!(
            mail_of_kind(&srv, "subscription.taken-over")
                .await
                .is_empty()
        );
    }
);

backends!(
    buying_keeps_the_billing_profile_name_its_owner_chose,
    |srv| async move {
        let buyer = srv.token_with_roles("namekept@contoso.test", &[]).await;
        let got = srv
            .call_as(
                &buyer,
                "PATCH",
                &format!("{API}/me/billing-profile"),
                Some(json!({"name": "Team budget"})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        buy_mail(&srv, &buyer, 1).await;
        let got = srv
            .call_as(&buyer, "GET", &format!("{API}/me/billing-profile"), None)
            .await;
        assert_eq!(
            (got.1["name"].clone(), got.1["billTo"]["city"].clone()),
            (json!("Team budget"), json!("Springfield")),
            "{}",
            got.1
        );
    }
);

/// The `after` record of the newest audit entry of `action`.
async fn last_after(srv: &Srv, action: &str) -> Value {
    let got = srv.get(&format!("{API}/audit?action={action}")).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    got.1["value"][0]["after"].clone()
}

backends!(
    every_charge_and_refund_of_a_self_service_subscription_is_made_and_recorded,
    |srv| async move {
        let buyer = srv.token_with_roles("money@contoso.test", &[]).await;
        let id = buy_mail(&srv, &buyer, 2).await;
        let change = |q: i64| {
            let srv = &srv;
            let buyer = buyer.clone();
            let id = id.clone();
            async move {
                srv.call_as(
                    &buyer,
                    "PATCH",
                    &format!("{API}/subscriptions/{id}"),
                    Some(json!({ "quantity": q })),
                )
                .await
            }
        };
        // One more license is charged for the rest of the term; removing it again within
        // the window refunds the same.
        let got = change(3).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let charged = last_after(&srv, "subscription.quantity").await["charge"].clone();
        assert!(
            text(&charged["reference"]).starts_with("ch_")
                && charged["amountMinor"].as_i64() > Some(0),
            "{charged}"
        );
        let got = change(2).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let refund = last_after(&srv, "subscription.quantity").await["refund"].clone();
        assert!(text(&refund["reference"]).starts_with("re_"), "{refund}");
        assert_eq!(refund["amountMinor"], charged["amountMinor"], "{refund}");
        assert_eq!(refund["card"], "Visa ending 4242");
        let s = summaries(&srv, "subscription.quantity").await;
        assert!(
            s.iter()
                .any(|x| x.contains("refunded") && x.contains("to Visa ending 4242")),
            "{s:?}"
        );

        // Cancelled within the window: the rest of the term goes back to the card.
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &format!("{API}/subscriptions/{id}/cancel"),
                Some(json!({"reason": "TooExpensive"})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let refund = last_after(&srv, "subscription.cancel").await["refund"].clone();
        assert!(
            text(&refund["reference"]).starts_with("re_")
                && refund["amountMinor"].as_i64() > Some(0),
            "{refund}"
        );

        // Taken over by an admin: the purchaser gets the unused part back and is told.
        let other = buy_mail(&srv, &buyer, 1).await;
        let got = srv
            .post(
                &format!("{API}/subscriptions/{other}/take-over"),
                json!({"action": "cancel", "reason": "Other"}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let after = last_after(&srv, "subscription.take-over").await;
        assert!(
            text(&after["refund"]["reference"]).starts_with("re_"),
            "{after}"
        );
        run_jobs(&srv).await;
        let bodies = delivered_with(&srv, "The unused part of its current term was refunded");
        assert_eq!(bodies.len(), 1, "{bodies:?}");

        // A renewal's charge is recorded with its entry.
        let third = buy_mail(&srv, &buyer, 1).await;
        let s = sub(&srv, &third).await;
        set_clock(&srv, t(&s["termEndDateTime"]) + Duration::hours(1)).await;
        run_jobs(&srv).await;
        let renewed = last_after(&srv, "subscription.renew").await;
        assert!(
            text(&renewed["charge"]["reference"]).starts_with("ch_"),
            "{renewed}"
        );
        let s = summaries(&srv, "subscription.renew").await;
        assert!(
            s[0].contains("charged") && s[0].contains("Visa ending 4242"),
            "{s:?}"
        );
    }
);

backends!(
    the_purchaser_reactivates_an_expired_subscription_on_my_products,
    |srv| async move {
        let (cookie, token) = signed_in(&srv, "pagereact@contoso.test", &[], false).await;
        let id = buy_mail(&srv, &token, 2).await;
        let got = srv
            .call_as(
                &token,
                "PATCH",
                &format!("{API}/subscriptions/{id}"),
                Some(json!({"recurringBilling": false})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let path = format!("/my/products/{id}");
        let (_, html) = page(&srv, &cookie, &path).await;
        assert!(
            !html.contains("/reactivate\""),
            "an active one offers no Reactivate"
        );
        set_clock(&srv, t(&got.1["termEndDateTime"]) + Duration::hours(1)).await;
        run_jobs(&srv).await;
        // A month later the session has ended: sign in again.
        let secret = srv
            .app
            .sign_in(
                "pagereact@contoso.test",
                "Session-pass-1",
                None,
                &Default::default(),
            )
            .await
            .expect("sign in")
            .secret;
        let cookie = format!("sk_session={secret}");
        let (status, html) = page(&srv, &cookie, &path).await;
        assert_eq!(status, StatusCode::OK);
        // The whole term's price for both licenses.
        assert!(
            html.contains(">Reactivate</button>") && html.contains("(2 licenses at $"),
            "{html}"
        );
        let token_field = csrf(&srv, &cookie, &path).await;
        let (status, _) = post(
            &srv,
            &cookie,
            &format!("{path}/reactivate"),
            &format!("csrf={token_field}"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let s = sub(&srv, &id).await;
        assert_eq!(
            (s["status"].clone(), s["recurringBilling"].clone()),
            (json!("Active"), json!(true)),
            "{s}"
        );
        let s = summaries(&srv, "subscription.reactivate").await;
        assert!(
            s[0].contains("charged") && s[0].contains("Visa ending 4242"),
            "{s:?}"
        );
    }
);

backends!(
    a_purchase_retried_with_its_idempotency_key_buys_and_charges_once,
    |srv| async move {
        let buyer = srv.token_with_roles("retry@contoso.test", &[]).await;
        let pm = card(&srv, &buyer).await;
        let body = json!({"skuId": "MAIL_PLAN1", "quantity": 2, "billingFrequency": "monthly", "paymentMethodId": pm});
        let buy = |key: &'static str, body: Value| {
            let srv = &srv;
            let buyer = buyer.clone();
            async move {
                let r = reqwest::Client::new()
                    .post(format!("{}{API}/me/purchases", srv.url))
                    .bearer_auth(&buyer)
                    .header("Idempotency-Key", key)
                    .json(&body)
                    .send()
                    .await
                    .expect("send");
                let status = r.status();
                (status, r.json::<Value>().await.expect("json"))
            }
        };
        let (a, b) = tokio::join!(buy("order-1", body.clone()), buy("order-1", body.clone()));
        let ok: Vec<&(StatusCode, Value)> = [&a, &b]
            .into_iter()
            .filter(|r| r.0 == StatusCode::CREATED)
            .collect();
        assert!(!ok.is_empty(), "{a:?} {b:?}");
        for r in [&a, &b] {
            assert!(
                r.0 == StatusCode::CREATED || r.0 == StatusCode::CONFLICT,
                "{r:?}"
            );
        }
        let again = buy("order-1", body.clone()).await;
        assert_eq!(again.0, StatusCode::CREATED, "{}", again.1);
        assert_eq!(again.1["id"], ok[0].1["id"]);
        let got = srv
            .call_as(&buyer, "GET", &format!("{API}/me/subscriptions"), None)
            .await;
        assert_eq!(
            got.1["value"].as_array().map(Vec::len),
            Some(1),
            "{}",
            got.1
        );
        assert_eq!(summaries(&srv, "subscription.buy").await.len(), 1);
        // The same key for another product is refused; a new key is a new purchase.
        let other = json!({"skuId": "CHAT_ESSENTIALS", "quantity": 1, "billingFrequency": "monthly", "paymentMethodId": pm});
        let got = buy("order-1", other.clone()).await;
        assert_eq!(got.0, StatusCode::CONFLICT, "{}", got.1);
        assert_eq!(got.1["error"]["code"], "idempotencyKeyReused");
        let got = buy("order-2", body).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    }
);

backends!(
    a_returning_purchaser_gets_recurring_billing_back_and_the_admins_hear,
    |srv| async move {
        let buyer = srv.token_with_roles("comeback@contoso.test", &[]).await;
        let id = buy_mail(&srv, &buyer, 1).await;
        for on in [false, true] {
            let got = srv
                .patch(
                    "/v1.0/users/comeback@contoso.test",
                    json!({ "accountEnabled": on }),
                )
                .await;
            assert!(got.0.is_success(), "{}", got.1);
            assert_eq!(sub(&srv, &id).await["recurringBilling"], on);
        }
        let s = summaries(&srv, "subscription.recurring").await;
        assert!(
            s[0].contains("recurring billing back on") && s[0].contains("comeback@contoso.test"),
            "{s:?}"
        );
        run_jobs(&srv).await;
        let bodies = delivered_with(&srv, "Recurring billing is on again");
        assert_eq!(bodies.len(), 1, "{bodies:?}");
        // Turned off by the purchaser after they left and came back: it stays off the next time.
        let got = srv
            .call_as(
                &buyer,
                "PATCH",
                &format!("{API}/subscriptions/{id}"),
                Some(json!({"recurringBilling": false})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        for on in [false, true] {
            let got = srv
                .patch(
                    "/v1.0/users/comeback@contoso.test",
                    json!({ "accountEnabled": on }),
                )
                .await;
            assert!(got.0.is_success(), "{}", got.1);
        }
        assert_eq!(sub(&srv, &id).await["recurringBilling"], false);
    }
);

backends!(
    a_renewal_is_charged_when_the_card_was_good_on_the_day_it_was_due,
    |srv| async move {
        let buyer = srv.token_with_roles("dueday@contoso.test", &[]).await;
        let now = now(&srv).await;
        let due = now + chrono::Months::new(1);
        let pm = card_of(
            &srv,
            &buyer,
            "4242 4242 4242 4242",
            chrono::Datelike::month(&due),
            chrono::Datelike::year(&due),
        )
        .await;
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &format!("{API}/me/purchases"),
                Some(json!({"skuId": "MAIL_PLAN1", "quantity": 1, "billingFrequency": "monthly", "paymentMethodId": pm})),
            )
            .await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = text(&got.1["id"]);
        let charged = last_after(&srv, "subscription.buy").await;
        assert_eq!(charged["charge"]["card"], "Visa ending 4242", "{charged}");
        // The jobs run after the card's expiry month ended: the renewal was due before.
        let term_end = t(&got.1["termEndDateTime"]);
        set_clock(&srv, term_end + Duration::days(32)).await;
        run_jobs(&srv).await;
        let s = sub(&srv, &id).await;
        assert_eq!(s["status"], "Active", "{s}");
        // A billing profile does not take an expired card.
        let got = srv
            .call_as(
                &buyer,
                "PATCH",
                &format!("{API}/me/billing-profile"),
                Some(json!({ "paymentMethodId": pm })),
            )
            .await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
        assert_eq!(got.1["error"]["code"], "cardExpired", "{}", got.1);
    }
);

backends!(
    a_guest_is_told_they_cannot_buy_before_being_asked_for_a_card,
    |srv| async move {
        let (_, guest) = signed_in(&srv, "guestbuyer@contoso.test", &[], true).await;
        let got = srv
            .call_as(
                &guest,
                "POST",
                &format!("{API}/me/purchases"),
                Some(json!({"skuId": "MAIL_PLAN1", "quantity": 1, "billingFrequency": "monthly"})),
            )
            .await;
        assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
        assert_eq!(got.1["error"]["code"], "GuestCannotPurchase", "{}", got.1);
        // A Member without a card is asked for one.
        let member = srv.token_with_roles("nocard@contoso.test", &[]).await;
        let got = srv
            .call_as(
                &member,
                "POST",
                &format!("{API}/me/purchases"),
                Some(json!({"skuId": "MAIL_PLAN1", "quantity": 1, "billingFrequency": "monthly"})),
            )
            .await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
        assert_eq!(got.1["error"]["code"], "missingProperty", "{}", got.1);
    }
);

backends!(
    a_take_over_by_someone_who_may_not_is_refused_before_its_body_is_read,
    |srv| async move {
        let buyer = srv.token_with_roles("tobody@contoso.test", &[]).await;
        let id = buy_mail(&srv, &buyer, 1).await;
        let la = srv
            .token_with_roles(
                "tobodyla@contoso.test",
                &[seatkeeper_domain::roles::Role::LicenseAdmin],
            )
            .await;
        for token in [&buyer, &la] {
            let got = srv
                .call_as(
                    token,
                    "POST",
                    &format!("{API}/subscriptions/{id}/take-over"),
                    Some(json!({"action": "nonsense"})),
                )
                .await;
            assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
        }
    }
);
