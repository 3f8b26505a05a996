//! The Payment methods page and Settings → Self-service purchases over HTTP: a declined card is
//! a 402 banner that repeats neither the number nor the security code and stores nothing; a
//! card in use cannot be deleted (409 banner); forged posts are refused; only Global and
//! Billing admins change the purchase policy, a Global reader reads it, other admins get 403.

use crate::common::*;
use crate::pages_self_service::{csrf, post, signed_in};
use reqwest::StatusCode;
use seatkeeper_domain::roles::Role;
use serde_json::json;

const PAGE: &str = "/my/payment-methods";

fn card_form(csrf: &str, number: &str) -> String {
    format!(
        "csrf={csrf}&card_number={}&expiry_month=12&expiry_year=2035&security_code=987&name_on_card=Pat+Buyer&line1=1+Main+St&city=Springfield&postal_code=12345&country=US",
        number.replace(' ', "+")
    )
}

async fn my_cards(srv: &Srv, token: &str) -> Vec<serde_json::Value> {
    let (status, body) = srv
        .call_as(token, "GET", "/api/v1/me/payment-methods", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["value"].as_array().expect("a value list").clone()
}

backends!(
    pages_a_declined_card_is_a_402_banner_without_the_number_and_stores_nothing,
    |srv| async move {
        let (cookie, token) = signed_in(&srv, "pm-declined@contoso.example", &[], false).await;
        let t = csrf(&srv, &cookie, PAGE).await;
        let (status, html) = post(&srv, &cookie, PAGE, &card_form(&t, "4000 0000 0000 0002")).await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{html}");
        assert!(html.contains("role=\"alert\""), "{html}");
        assert!(html.contains("declined"), "{html}");
        assert!(
            !html.contains("value=\"4000"),
            "the number is sent back: {html}"
        );
        assert!(
            !html.contains("value=\"987\""),
            "the security code is sent back: {html}"
        );
        assert!(html.contains("value=\"Springfield\""), "{html}");
        assert!(my_cards(&srv, &token).await.is_empty());

        // A valid card is added and listed; the page shows only its last four digits.
        let (status, _) = post(&srv, &cookie, PAGE, &card_form(&t, "4242 4242 4242 4242")).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(my_cards(&srv, &token).await.len(), 1);
        let html = crate::pages_self_service::browser()
            .get(format!("{}{PAGE}", srv.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("ending 4242"), "{html}");
        assert!(!html.contains("4242 4242"), "{html}");
    }
);

backends!(
    pages_a_card_form_without_csrf_is_refused_and_stores_nothing,
    |srv| async move {
        let (cookie, token) = signed_in(&srv, "pm-forged@contoso.example", &[], false).await;
        let (status, _) = post(
            &srv,
            &cookie,
            PAGE,
            &card_form("forged", "4242 4242 4242 4242"),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(my_cards(&srv, &token).await.is_empty());
    }
);

backends!(
    pages_a_card_in_use_cannot_be_deleted_and_says_why,
    |srv| async move {
        let (cookie, token) = signed_in(&srv, "pm-inuse@contoso.example", &[], false).await;
        let t = csrf(&srv, &cookie, PAGE).await;
        let (status, _) = post(&srv, &cookie, PAGE, &card_form(&t, "4242 4242 4242 4242")).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let id = my_cards(&srv, &token).await[0]["id"]
            .as_str()
            .expect("id")
            .to_string();
        let (status, body) = srv
            .call_as(
                &token,
                "POST",
                "/api/v1/me/purchases",
                Some(json!({"skuId": srv.sku("SUITE_BASIC"), "quantity": 1, "billingFrequency": "monthly", "paymentMethodId": id})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        // The first post asks; the confirmed one is refused in the API's words.
        let path = format!("{PAGE}/{id}/delete");
        let (status, html) = post(&srv, &cookie, &path, &format!("csrf={t}")).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(
            html.contains("Delete your card Visa ending 4242?"),
            "{html}"
        );
        let (status, html) = post(&srv, &cookie, &path, &format!("csrf={t}&confirmed=yes")).await;
        assert_eq!(status, StatusCode::CONFLICT, "{html}");
        assert!(html.contains("role=\"alert\""), "{html}");
        assert!(
            html.contains("Used by your Suite Basic subscription")
                && html.contains("change its payment method first"),
            "{html}"
        );
        assert_eq!(my_cards(&srv, &token).await.len(), 1);
    }
);

backends!(
    pages_self_service_settings_admins_change_readers_read_others_are_refused,
    |srv| async move {
        const PATH: &str = "/settings/self-service";
        let product = "CFQ7TTC0L3PB";
        let value_of =
            |body: serde_json::Value| body["policyValue"].as_str().unwrap_or("").to_string();
        let api = format!("/api/v1/policies/AllowSelfServicePurchase/products/{product}");

        let (billing, _) = signed_in(
            &srv,
            "pol-billing@contoso.example",
            &[Role::BillingAdmin],
            false,
        )
        .await;
        let t = csrf(&srv, &billing, PATH).await;
        let (status, html) = post(
            &srv,
            &billing,
            PATH,
            &format!("csrf={t}&product_id={product}&value=Disabled"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
        assert_eq!(value_of(srv.get(&api).await.1), "Disabled");
        let (status, html) = post(
            &srv,
            &billing,
            PATH,
            &format!("csrf={t}&product_id={product}&value=Sometimes"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
        assert!(html.contains("OnlyTrialsWithoutPaymentMethod"), "{html}");

        let (reader, _) = signed_in(
            &srv,
            "pol-reader@contoso.example",
            &[Role::GlobalReader],
            false,
        )
        .await;
        let html = crate::pages_self_service::browser()
            .get(format!("{}{PATH}", srv.url))
            .header("cookie", &reader)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains(product), "{html}");
        assert!(!html.contains("Save default"), "{html}");
        let t = csrf(&srv, &reader, PATH).await;
        let (status, _) = post(
            &srv,
            &reader,
            PATH,
            &format!("csrf={t}&product_id={product}&value=Enabled"),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(value_of(srv.get(&api).await.1), "Disabled");

        for (upn, roles) in [
            ("pol-users@contoso.example", vec![Role::UserAdmin]),
            ("pol-member@contoso.example", vec![]),
        ] {
            let (cookie, _) = signed_in(&srv, upn, &roles, false).await;
            let r = crate::pages_self_service::browser()
                .get(format!("{}{PATH}", srv.url))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{upn}");
        }
    }
);
