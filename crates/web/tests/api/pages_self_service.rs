//! The self-service pages' forms over HTTP: forged posts (another role, no CSRF token) are
//! refused and change nothing; the purchaser's own forms work; a Guest sees why they cannot buy.

use crate::common::*;
use reqwest::StatusCode;
use seatkeeper_domain::roles::Role;
use serde_json::json;

const FORM: &str = "application/x-www-form-urlencoded";
const CHAT: &str = "CHAT_ESSENTIALS";

pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A user with `roles` (and `user_type`) signed in to the admin center: (session cookie, API
/// token).
pub(crate) async fn signed_in(
    srv: &Srv,
    upn: &str,
    roles: &[Role],
    guest: bool,
) -> (String, String) {
    let token = srv.token_with_roles(upn, roles).await;
    let op = srv.operator();
    if guest {
        let input = seatkeeper_app::directory::UserInput {
            user_type: Some("Guest".into()),
            ..Default::default()
        };
        srv.app.update_user(&op, upn, &input).await.expect("guest");
    }
    let password = "Session-pass-1";
    srv.app
        .set_password(&op, upn, password, false)
        .await
        .expect("password");
    let secret = srv
        .app
        .sign_in(upn, password, None, &Default::default())
        .await
        .expect("sign in")
        .secret;
    (format!("sk_session={secret}"), token)
}

/// The CSRF token of the page at `path`.
pub(crate) async fn csrf(srv: &Srv, cookie: &str, path: &str) -> String {
    let html = browser()
        .get(format!("{}{path}", srv.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    let end = html[start..].find('"').expect("end of the value");
    html[start..start + end].to_string()
}

pub(crate) async fn post(srv: &Srv, cookie: &str, path: &str, body: &str) -> (StatusCode, String) {
    let r = browser()
        .post(format!("{}{path}", srv.url))
        .header("cookie", cookie)
        .header("content-type", FORM)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

/// A Member's trial of Chat Essentials (no card needed): (cookie, token, subscription id).
async fn trial(srv: &Srv, upn: &str) -> (String, String, String) {
    let (cookie, token) = signed_in(srv, upn, &[], false).await;
    let (status, body) = srv
        .call_as(
            &token,
            "POST",
            "/api/v1/me/trials",
            Some(json!({"skuId": srv.sku(CHAT)})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().expect("id").to_string();
    (cookie, token, id)
}

/// Whether `upn` holds a Chat Essentials license.
async fn holds(srv: &Srv, upn: &str) -> bool {
    let (_, l) = srv.get(&format!("/api/v1/users/{upn}/licenses")).await;
    l.to_string().contains(&srv.sku(CHAT).to_string())
}

async fn status_of(srv: &Srv, id: &str) -> String {
    let (status, body) = srv.get(&format!("/api/v1/subscriptions/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["status"].as_str().expect("status").to_string()
}

backends!(
    a_take_over_posted_by_a_member_or_a_reader_is_refused_and_changes_nothing,
    |srv| async move {
        let (buyer, _, id) = trial(&srv, "ss-buyer@contoso.example").await;
        srv.buy(CHAT, 5).await;
        let (reader, _) = signed_in(
            &srv,
            "ss-reader@contoso.example",
            &[Role::GlobalReader],
            false,
        )
        .await;
        let body = format!("action=move&target={CHAT}&confirmed=1");
        for cookie in [&buyer, &reader] {
            let token = csrf(&srv, cookie, "/").await;
            let (status, html) = post(
                &srv,
                cookie,
                &format!("/products/{id}/take-over"),
                &format!("csrf={token}&{body}"),
            )
            .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
        }
        // The reader sees the purchase and no Take over button.
        let html = browser()
            .get(format!("{}/products?origin=self-service", srv.url))
            .header("cookie", &reader)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("Chat Essentials"), "{html}");
        assert!(!html.contains("Take over"), "{html}");
        assert_eq!(status_of(&srv, &id).await, "Active");
    }
);

backends!(
    self_service_forms_without_the_csrf_token_are_refused,
    |srv| async move {
        let (buyer, _, id) = trial(&srv, "ss-csrf@contoso.example").await;
        srv.buy(CHAT, 5).await;
        let admin = format!("sk_session={}", srv.admin_session().await);
        for (cookie, path, body) in [
            (
                &buyer,
                format!("/my/products/{id}/cancel"),
                "reason=Other&confirmed=1".to_string(),
            ),
            (
                &admin,
                format!("/products/{id}/take-over"),
                format!("action=move&target={CHAT}&confirmed=1"),
            ),
            (&buyer, format!("/buy/{CHAT}/trial"), String::new()),
        ] {
            let (status, html) = post(&srv, cookie, &path, &body).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {html}");
            assert!(html.contains("did not come from Seatkeeper"), "{html}");
        }
        assert_eq!(status_of(&srv, &id).await, "Active");
    }
);

backends!(
    the_purchaser_assigns_a_colleague_and_an_admin_moves_them_to_central_licenses,
    |srv| async move {
        let (buyer, _, id) = trial(&srv, "ss-owner@contoso.example").await;
        srv.user("ss-colleague@contoso.example", Some("US")).await;
        let token = csrf(&srv, &buyer, "/my/products").await;
        let (status, html) = post(
            &srv,
            &buyer,
            &format!("/my/products/{id}/assign"),
            &format!("csrf={token}&user=ss-colleague%40contoso.example"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
        let (_, licenses) = srv
            .get("/api/v1/users/ss-colleague@contoso.example/licenses")
            .await;
        assert!(licenses.to_string().contains(&srv.sku(CHAT).to_string()));

        // Export users: the admin's CSV lists the colleague under the purchaser; a Member's
        // request is refused.
        let admin = format!("sk_session={}", srv.admin_session().await);
        let csv_path = format!("{}/licenses/{CHAT}/self-service-users.csv", srv.url);
        let r = browser()
            .get(&csv_path)
            .header("cookie", &admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let csv = r.text().await.unwrap();
        assert!(csv.contains("ss-colleague@contoso.example"), "{csv}");
        assert!(csv.contains("ss-owner@contoso.example"), "{csv}");
        let r = browser()
            .get(&csv_path)
            .header("cookie", &buyer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);

        // Too few central licenses: the page says how many are needed and free.
        let token = csrf(&srv, &admin, "/").await;
        let move_body = format!("csrf={token}&action=move&target={CHAT}&confirmed=1");
        let (status, html) = post(
            &srv,
            &admin,
            &format!("/products/{id}/take-over"),
            &move_body,
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{html}");
        assert!(html.contains("needs 2 available"), "{html}");
        assert_eq!(status_of(&srv, &id).await, "Active");

        srv.buy(CHAT, 3).await;
        let (status, html) = post(
            &srv,
            &admin,
            &format!("/products/{id}/take-over"),
            &move_body,
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
        assert_eq!(status_of(&srv, &id).await, "Deleted");
        let (_, page) = srv
            .get(&format!("/api/v1/licenses/{}/users", srv.sku(CHAT)))
            .await;
        assert!(
            page.to_string().contains("ss-colleague@contoso.example"),
            "{page}"
        );
    }
);

backends!(a_guest_is_told_why_they_cannot_buy, |srv| async move {
    let (guest, _) = signed_in(&srv, "ss-guest@contoso.example", &[], true).await;
    let html = browser()
        .get(format!("{}/buy", srv.url))
        .header("cookie", &guest)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Guest users cannot buy products"), "{html}");
    let token = csrf(&srv, &guest, "/buy").await;
    let (status, html) = post(
        &srv,
        &guest,
        &format!("/buy/{CHAT}/trial"),
        &format!("csrf={token}"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(
        html.contains("role=\"alert\">Guest users cannot buy products"),
        "{html}"
    );
    let (_, mine) = srv.get("/api/v1/subscriptions?origin=self-service").await;
    assert!(!mine.to_string().contains("ss-guest"), "{mine}");
});

backends!(
    unassign_asks_first_and_buying_without_a_payment_method_says_what_to_do,
    |srv| async move {
        let (buyer, _, id) = trial(&srv, "ss-unassign@contoso.example").await;
        srv.user("ss-helper@contoso.example", Some("US")).await;
        let token = csrf(&srv, &buyer, "/my/products").await;
        let (status, _) = post(
            &srv,
            &buyer,
            &format!("/my/products/{id}/assign"),
            &format!("csrf={token}&user=ss-helper%40contoso.example"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(holds(&srv, "ss-helper@contoso.example").await);

        // The first post only asks; the confirmed one unassigns.
        let path = format!("/my/products/{id}/unassign");
        let body = format!("csrf={token}&user=ss-helper%40contoso.example");
        let (status, html) = post(&srv, &buyer, &path, &body).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(
            html.contains("lose their Chat Essentials license"),
            "{html}"
        );
        assert!(holds(&srv, "ss-helper@contoso.example").await);
        let (status, html) = post(&srv, &buyer, &path, &format!("{body}&confirmed=1")).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
        assert!(!holds(&srv, "ss-helper@contoso.example").await);

        // Buying needs a payment method: the page says where to add one; nothing is bought.
        let (status, html) = post(
            &srv,
            &buyer,
            "/buy/SUITE_BASIC",
            &format!("csrf={token}&quantity=2&frequency=monthly&payment_method="),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
        assert!(
            html.contains("Choose a payment method: add a card under Payment methods first."),
            "{html}"
        );
        let (_, list) = srv.get("/api/v1/subscriptions?origin=self-service").await;
        assert!(
            !list
                .to_string()
                .contains(&srv.sku("SUITE_BASIC").to_string()),
            "{list}"
        );
    }
);
