//! Self-service purchases, the purchaser's side and the admins': replacing a subscription's
//! card, who is told about a subscription's life, products that need another product,
//! sensible take-over targets, the words of refusals, and reads that write nothing. On SQLite
//! and PostgreSQL, over HTTP.

use crate::common::*;
use crate::pages_self_service::{browser, csrf, post, signed_in};
use crate::rest_helpers::*;
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Adds a card for the token's user; returns the payment method's id.
async fn card(srv: &Srv, token: &str, number: &str, name: &str) -> String {
    let got = srv
        .call_as(
            token,
            "POST",
            &format!("{API}/me/payment-methods"),
            Some(json!({
                "cardNumber": number, "expiryMonth": 12, "expiryYear": 2099, "securityCode": "123",
                "nameOnCard": name,
                "billingAddress": {"line1": "7 Card Road", "city": "Cardiff", "postalCode": "CF10", "country": "GB"}
            })),
        )
        .await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    got.1["id"].as_str().expect("id").to_string()
}

async fn purchase(srv: &Srv, token: &str, body: Value) -> (StatusCode, Value) {
    srv.call_as(token, "POST", &format!("{API}/me/purchases"), Some(body))
        .await
}

fn buy_body(sku: &str, qty: i64, pm: &str) -> Value {
    json!({"skuId": sku, "quantity": qty, "billingFrequency": "monthly", "paymentMethodId": pm})
}

fn message(got: &(StatusCode, Value)) -> String {
    got.1["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn audit_count(srv: &Srv, action: &str) -> usize {
    let got = srv.get(&format!("{API}/audit?action={action}")).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    got.1["value"].as_array().map(Vec::len).unwrap_or(0)
}

backends!(
    a_purchaser_replaces_the_card_of_a_subscription_and_then_deletes_the_old_card,
    |srv| async move {
        let buyer = srv.token_with_roles("cardswap@contoso.test", &[]).await;
        let old = card(&srv, &buyer, "4242 4242 4242 4242", "Card Swapper").await;
        let got = purchase(&srv, &buyer, buy_body("MAIL_PLAN1", 2, &old)).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = got.1["id"].as_str().expect("id").to_string();

        // In use: the 409 names the subscription's product and what to do.
        let path = format!("{API}/me/payment-methods/{old}");
        let got = srv.call_as(&buyer, "DELETE", &path, None).await;
        assert_eq!(got.0, StatusCode::CONFLICT, "{}", got.1);
        let m = message(&got);
        assert!(
            m.contains("Used by your Mail (Plan 1) subscription")
                && m.contains("change its payment method first"),
            "{m}"
        );

        // Another user's card is not theirs; an admin cannot change it; a wrong id is a 400.
        let other = srv.token_with_roles("cardother@contoso.test", &[]).await;
        let others = card(&srv, &other, "5555 5555 5555 4444", "Other").await;
        let sub_path = format!("{API}/subscriptions/{id}");
        let got = srv
            .call_as(
                &buyer,
                "PATCH",
                &sub_path,
                Some(json!({"paymentMethodId": others})),
            )
            .await;
        assert_eq!(got.0, StatusCode::NOT_FOUND, "{}", got.1);
        let got = srv
            .patch(&sub_path, json!({"paymentMethodId": others}))
            .await;
        assert_error(&got, StatusCode::FORBIDDEN, "Take it over first");
        let got = srv
            .call_as(
                &buyer,
                "PATCH",
                &sub_path,
                Some(json!({"paymentMethodId": "not-a-card"})),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "is not a payment method id");

        // Replaced with the buyer's new card: audited, and the old card can go.
        let new = card(&srv, &buyer, "5555 5555 5555 4444", "Card Swapper").await;
        let before = audit_count(&srv, "subscription.payment-method").await;
        let got = srv
            .call_as(
                &buyer,
                "PATCH",
                &sub_path,
                Some(json!({"paymentMethodId": new})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["paymentMethodId"], new.as_str(), "{}", got.1);
        assert_eq!(
            audit_count(&srv, "subscription.payment-method").await,
            before + 1
        );
        // The billing profile took the first card's address and name.
        let got = srv
            .call_as(&buyer, "GET", &format!("{API}/me/billing-profile"), None)
            .await;
        assert_eq!(got.1["billTo"]["line1"], "7 Card Road", "{}", got.1);
        assert_eq!(got.1["billTo"]["city"], "Cardiff", "{}", got.1);
        assert_eq!(got.1["name"], "Card Swapper", "{}", got.1);
        let got = srv.call_as(&buyer, "DELETE", &path, None).await;
        assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
    }
);

backends!(
    a_member_changing_another_members_purchase_is_told_who_bought_it,
    |srv| async move {
        let buyer = srv.token_with_roles("owner@contoso.test", &[]).await;
        let pm = card(&srv, &buyer, "4242 4242 4242 4242", "Owner").await;
        let got = purchase(&srv, &buyer, buy_body("MAIL_PLAN1", 2, &pm)).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = got.1["id"].as_str().expect("id").to_string();
        let (cookie, nosy) = signed_in(&srv, "nosy@contoso.test", &[], false).await;
        let got = srv
            .call_as(
                &nosy,
                "POST",
                &format!("{API}/subscriptions/{id}/assign"),
                Some(json!({"userIds": ["nosy@contoso.test"]})),
            )
            .await;
        assert_error(
            &got,
            StatusCode::FORBIDDEN,
            "This subscription was bought by owner (owner@contoso.test); only they can change it",
        );
        assert!(!message(&got).contains("admin role"), "{}", got.1);
        // The page says the same.
        let r = browser()
            .get(format!("{}/my/products/{id}", srv.url))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("page");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let html = r.text().await.expect("html");
        assert!(
            html.contains("This subscription was bought by owner (owner@contoso.test); only they can change it"),
            "{html}"
        );
    }
);

backends!(
    a_trials_only_product_without_such_a_trial_says_it_cannot_be_bought_here,
    |srv| async move {
        let product_id = srv
            .app
            .catalog()
            .find_product("MAIL_PLAN1")
            .expect("product")
            .product_id
            .clone();
        let got = srv
            .put(
                &format!("{API}/policies/AllowSelfServicePurchase/products/{product_id}"),
                json!({"policyValue": "OnlyTrialsWithoutPaymentMethod"}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let buyer = srv.token_with_roles("trialsonly@contoso.test", &[]).await;
        let pm = card(&srv, &buyer, "4242 4242 4242 4242", "T").await;
        let got = purchase(&srv, &buyer, buy_body("MAIL_PLAN1", 1, &pm)).await;
        assert_error(&got, StatusCode::FORBIDDEN, "cannot be bought here");
        assert_eq!(got.1["error"]["code"], "OnlyTrialsAllowed");
        assert!(message(&got).contains("Ask an admin"), "{}", got.1);
        assert!(!message(&got).contains("start such a trial"), "{}", got.1);
    }
);

backends!(
    billing_reads_open_nothing_and_the_first_change_does,
    |srv| async move {
        let opened = audit_count(&srv, "billing-account.create").await;
        let got = srv.get(&format!("{API}/billing/accounts")).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let central = got.1["value"][0].clone();
        assert_eq!(central["kind"], "central", "{}", got.1);
        let profile = central["profile"]["id"].as_str().expect("id").to_string();
        let member = srv.token_with_roles("reads@contoso.test", &[]).await;
        let mine = srv
            .call_as(&member, "GET", &format!("{API}/me/billing-profile"), None)
            .await;
        assert_eq!(mine.0, StatusCode::OK, "{}", mine.1);
        assert_eq!(mine.1["name"], "reads");
        // Read twice: the same ids, and nothing written.
        let again = srv.get(&format!("{API}/billing/accounts")).await;
        assert_eq!(again.1["value"][0]["profile"]["id"], profile.as_str());
        let got = srv.get(&format!("{API}/billing/profiles/{profile}")).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(audit_count(&srv, "billing-account.create").await, opened);

        // The first change opens it, under the id the reads showed.
        let got = srv
            .patch(
                &format!("{API}/billing/profiles/{profile}"),
                json!({"invoiceEmail": "ap@contoso.test"}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["id"], profile.as_str());
        let got = srv
            .call_as(
                &member,
                "PATCH",
                &format!("{API}/me/billing-profile"),
                Some(json!({"name": "Reads Inc"})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["id"], mine.1["id"]);
        assert_eq!(
            audit_count(&srv, "billing-account.create").await,
            opened + 2
        );
        let got = srv.get(&format!("{API}/billing/accounts")).await;
        assert_eq!(
            got.1["value"][0]["profile"]["invoiceEmail"],
            "ap@contoso.test"
        );
        assert_eq!(
            got.1["value"].as_array().map(Vec::len),
            Some(2),
            "{}",
            got.1
        );
    }
);

backends!(
    a_product_that_needs_another_is_refused_up_front_and_plans_can_be_turned_off,
    |srv| async move {
        let (cookie, buyer) = signed_in(&srv, "diagrams@contoso.test", &[], false).await;
        let pm = card(&srv, &buyer, "4242 4242 4242 4242", "D").await;
        // Diagrams (Plan 2) works only with Files and sites (Enterprise): refused before any
        // charge, purchase and trial alike, saying what it needs and where that comes from.
        let got = purchase(&srv, &buyer, buy_body("DIAGRAMS_PLAN2", 1, &pm)).await;
        assert_eq!(got.0, StatusCode::CONFLICT, "{}", got.1);
        assert_eq!(got.1["error"]["code"], "MissingPrerequisite", "{}", got.1);
        let m = message(&got);
        assert!(
            m.contains("Files and sites (Enterprise)") && m.contains("Suite Premium"),
            "{m}"
        );
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &format!("{API}/me/trials"),
                Some(json!({"skuId": "DIAGRAMS_PLAN2", "paymentMethodId": pm})),
            )
            .await;
        assert_eq!(got.1["error"]["code"], "MissingPrerequisite", "{}", got.1);
        assert!(
            srv.get(&format!("{API}/subscriptions?origin=self-service"))
                .await
                .1["value"]
                .as_array()
                .is_some_and(Vec::is_empty)
        );
        // The Buy page says it up front.
        let html = browser()
            .get(format!("{}/buy", srv.url))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("html");
        assert!(
            html.contains(
                "Diagrams (Plan 2) needs Files and sites (Enterprise), which you don&#x27;t have"
            ) || html.contains(
                "Diagrams (Plan 2) needs Files and sites (Enterprise), which you don&#39;t have"
            ),
            "{html}"
        );

        // With Suite Premium from the organization it can be bought.
        srv.buy("SUITE_PREMIUM", 1).await;
        assert_eq!(
            assign(
                &srv,
                "SUITE_PREMIUM",
                &["diagrams@contoso.test".to_string()],
                &[]
            )
            .await
            .0,
            StatusCode::OK
        );
        let got = purchase(&srv, &buyer, buy_body("DIAGRAMS_PLAN2", 1, &pm)).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);

        // disabledPlans: checked like an assignment's, and the buyer's license has them off.
        let other = srv.token_with_roles("planoff@contoso.test", &[]).await;
        let pm2 = card(&srv, &other, "4242 4242 4242 4242", "P").await;
        let mut body = buy_body("SUITE_BASIC", 1, &pm2);
        body["disabledPlans"] = json!(["PHONE"]);
        let got = purchase(&srv, &other, body.clone()).await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
        body["disabledPlans"] = json!(["NOPE"]);
        let got = purchase(&srv, &other, body.clone()).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "disabledPlans");
        body["disabledPlans"] = json!(["WHITEBOARD"]);
        let got = purchase(&srv, &other, body).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let lic = srv
            .get(&format!("{API}/users/planoff@contoso.test/licenses"))
            .await;
        let off: Vec<&str> = lic.1["licenses"][0]["disabledPlans"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["servicePlanName"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(off, vec!["WHITEBOARD"], "{}", lic.1);
    }
);

backends!(
    take_over_offers_and_accepts_only_sensible_targets,
    |srv| async move {
        let buyer = srv.token_with_roles("targets@contoso.test", &[]).await;
        let pm = card(&srv, &buyer, "4242 4242 4242 4242", "T").await;
        let got = purchase(&srv, &buyer, buy_body("MAIL_PLAN1", 1, &pm)).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = got.1["id"].as_str().expect("id").to_string();
        srv.buy("PHONE_SYSTEM", 3).await;
        srv.buy("SUITE_PREMIUM", 3).await;
        srv.buy("SUITE_BASIC", 3).await;
        let path = format!("{API}/subscriptions/{id}/take-over");
        for bad in [
            "PHONE_SYSTEM",
            "SUITE_PREMIUM",
            "EXTRA_STORAGE",
            "CHAT_ESSENTIALS",
        ] {
            let got = srv
                .post(&path, json!({"action": "move", "targetSkuId": bad}))
                .await;
            assert_eq!(got.0, StatusCode::BAD_REQUEST, "{bad}: {}", got.1);
            assert_eq!(got.1["error"]["code"], "invalidTarget", "{}", got.1);
            let m = message(&got);
            assert!(
                m.contains("MAIL_PLAN1 (Mail (Plan 1))")
                    && m.contains("SUITE_BASIC (Suite Basic)")
                    && m.contains("SUITE_STANDARD (Suite Standard)")
                    && !m.contains("PHONE_SYSTEM ("),
                "{m}"
            );
        }
        assert_eq!(sub(&srv, &id).await["status"], "Active");

        // The page offers only those, each with its free central licenses.
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let html = browser()
            .get(format!("{}/products/{id}/take-over", srv.url))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("html");
        assert!(html.contains("Suite Basic: 3 free, 1 needed"), "{html}");
        assert!(html.contains("Mail (Plan 1): 0 free, 1 needed"), "{html}");
        assert!(!html.contains("Phone system"), "{html}");
        assert!(!html.contains("Suite Premium"), "{html}");
        // A forged target on the page is refused with the same words.
        let token = csrf(&srv, &cookie, &format!("/products/{id}/take-over")).await;
        let phone = srv.sku("PHONE_SYSTEM");
        let (status, html) = post(
            &srv,
            &cookie,
            &format!("/products/{id}/take-over"),
            &format!("csrf={token}&action=move&target={phone}&confirmed=1"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
        assert!(html.contains("Valid targets"), "{html}");

        let got = srv
            .post(
                &path,
                json!({"action": "move", "targetSkuId": "SUITE_BASIC"}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(
            held(&srv, "targets@contoso.test").await,
            vec!["SUITE_BASIC"]
        );
    }
);

/// The outbox's messages to `to` of `kind`.
async fn mails(srv: &Srv, kind: &str, to: &str) -> Vec<Value> {
    mail_of_kind(srv, kind)
        .await
        .into_iter()
        .filter(|m| m["to"] == to)
        .collect()
}

backends!(
    a_self_service_subscriptions_life_is_told_to_its_purchaser_not_the_admins,
    |srv| async move {
        let buyer = srv.token_with_roles("life@contoso.test", &[]).await;
        let pm = card(&srv, &buyer, "4242 4242 4242 4242", "L").await;
        let got = purchase(&srv, &buyer, buy_body("MAIL_PLAN1", 2, &pm)).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = got.1["id"].as_str().expect("id").to_string();
        let got = srv
            .call_as(
                &buyer,
                "PATCH",
                &format!("{API}/subscriptions/{id}"),
                Some(json!({"recurringBilling": false})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let end = t(&got.1["termEndDateTime"]);
        let admin = "admin@contoso.test";
        for (at, kind, subject) in [
            (
                end - Duration::days(5),
                "subscription.expiring",
                "Your Mail (Plan 1) subscription ends on",
            ),
            (
                end + Duration::hours(1),
                "subscription.expired",
                "Your Mail (Plan 1) subscription ended on",
            ),
            (
                end + Duration::days(30) + Duration::hours(2),
                "subscription.disabled",
                "Your Mail (Plan 1) subscription is disabled",
            ),
            (
                end + Duration::days(120) + Duration::hours(3),
                "subscription.deleted",
                "Your Mail (Plan 1) subscription was deleted",
            ),
        ] {
            set_clock(&srv, at).await;
            run_jobs(&srv).await;
            let got = mails(&srv, kind, "life@contoso.test").await;
            assert_eq!(got.len(), 1, "{kind}: {got:?}");
            assert!(
                got[0]["subject"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with(subject),
                "{got:?}"
            );
            assert!(mails(&srv, kind, admin).await.is_empty(), "{kind}");
        }
    }
);

backends!(
    when_the_purchaser_left_the_admins_are_told,
    |srv| async move {
        let buyer = srv.token_with_roles("gone@contoso.test", &[]).await;
        let pm = card(&srv, &buyer, "4242 4242 4242 4242", "G").await;
        let got = purchase(&srv, &buyer, buy_body("MAIL_PLAN1", 1, &pm)).await;
        let id = got.1["id"].as_str().expect("id").to_string();
        let got = srv
            .call_as(
                &buyer,
                "PATCH",
                &format!("{API}/subscriptions/{id}"),
                Some(json!({"recurringBilling": false})),
            )
            .await;
        let end = t(&got.1["termEndDateTime"]);
        let got = srv
            .patch(
                "/v1.0/users/gone@contoso.test",
                json!({"accountEnabled": false}),
            )
            .await;
        assert!(got.0.is_success(), "{}", got.1);
        set_clock(&srv, end + Duration::hours(1)).await;
        run_jobs(&srv).await;
        assert!(
            mails(&srv, "subscription.expired", "gone@contoso.test")
                .await
                .is_empty()
        );
        let got = mails(&srv, "subscription.expired", "admin@contoso.test").await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0]["subject"]
                .as_str()
                .unwrap_or_default()
                .contains("A self-service Mail (Plan 1) subscription ended on"),
            "{got:?}"
        );
    }
);

backends!(
    a_trial_that_ends_in_a_run_gets_no_reminder_in_that_run,
    |srv| async move {
        let trier = srv.token_with_roles("reminder@contoso.test", &[]).await;
        let got = srv
            .call_as(
                &trier,
                "POST",
                &format!("{API}/me/trials"),
                Some(json!({"skuId": "SUITE_BASIC"})),
            )
            .await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let end = t(&got.1["termEndDateTime"]);
        set_clock(&srv, end + Duration::hours(1)).await;
        let report = run_jobs(&srv).await;
        assert_eq!(report["expired"], 1, "{report}");
        let all = srv.get(&format!("{API}/mail")).await.1;
        assert!(
            mail_of_kind(&srv, "subscription.expiring").await.is_empty(),
            "{all}"
        );
        let got = mails(&srv, "subscription.expired", "reminder@contoso.test").await;
        assert_eq!(got.len(), 1, "{all}");
        assert!(
            got[0]["subject"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Your Suite Basic trial ended on"),
            "{got:?}"
        );
    }
);

backends!(
    the_buy_notice_says_licenses_of_the_product,
    |srv| async move {
        let (cookie, token) = signed_in(&srv, "words@contoso.test", &[], false).await;
        let pm = card(&srv, &token, "4242 4242 4242 4242", "W").await;
        let sku = srv.sku("MAIL_PLAN1");
        for (qty, words) in [
            (2, "You bought 2 licenses of Mail (Plan 1), billed monthly."),
            (1, "You bought 1 license of Mail (Plan 1), billed monthly."),
        ] {
            let token = csrf(&srv, &cookie, "/buy").await;
            let r = browser()
                .post(format!("{}/buy/{sku}", srv.url))
                .header("cookie", &cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "csrf={token}&quantity={qty}&frequency=monthly&payment_method={pm}"
                ))
                .send()
                .await
                .expect("post");
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            let to = r
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .expect("location")
                .to_string();
            let mut cookies = vec![cookie.clone()];
            for c in r.headers().get_all("set-cookie") {
                if let Some(pair) = c.to_str().ok().and_then(|c| c.split(';').next()) {
                    cookies.push(pair.to_string());
                }
            }
            let html = browser()
                .get(format!("{}{to}", srv.url))
                .header("cookie", cookies.join("; "))
                .send()
                .await
                .expect("page")
                .text()
                .await
                .expect("html");
            assert!(html.contains(words), "{html}");
        }
    }
);

/// The `userPrincipalName`s of a subscription's `assignedUsers`, as an admin sees them.
async fn assigned_to(srv: &Srv, id: &str) -> Vec<String> {
    let got = srv.get(&format!("{API}/subscriptions/{id}")).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    got.1["assignedUsers"]
        .as_array()
        .expect("assignedUsers")
        .iter()
        .filter_map(|u| u["userPrincipalName"].as_str().map(str::to_string))
        .collect()
}

backends!(
    buying_a_product_held_from_ones_own_trial_moves_the_license_to_the_purchase,
    |srv| async move {
        let upn = "trialbuyer@contoso.test";
        let buyer = srv.token_with_roles(upn, &[]).await;
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &format!("{API}/me/trials"),
                Some(json!({"skuId": "SUITE_BASIC"})),
            )
            .await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let trial = got.1["id"].as_str().expect("id").to_string();
        let end = t(&got.1["termEndDateTime"]);
        let pm = card(&srv, &buyer, "4242 4242 4242 4242", "T").await;
        let before = audit_count(&srv, "license.assign").await;
        let got = purchase(&srv, &buyer, buy_body("SUITE_BASIC", 2, &pm)).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let paid = got.1["id"].as_str().expect("id").to_string();

        // The buyer's license is in the purchase now, not in the trial; audited.
        assert_eq!(assigned_to(&srv, &paid).await, vec![upn.to_string()]);
        assert!(assigned_to(&srv, &trial).await.is_empty());
        assert_eq!(audit_count(&srv, "license.assign").await, before + 1);
        // The trial ends: the buyer keeps the product.
        set_clock(&srv, end + Duration::hours(1)).await;
        run_jobs(&srv).await;
        assert_eq!(held(&srv, upn).await, vec!["SUITE_BASIC"]);
        assert_eq!(assigned_to(&srv, &paid).await, vec![upn.to_string()]);
        let got = mails(&srv, "subscription.expired", upn).await;
        assert_eq!(got.len(), 1, "{got:?}");
        set_clock(&srv, end + Duration::days(200)).await;
        run_jobs(&srv).await;
        assert_eq!(held(&srv, upn).await, vec!["SUITE_BASIC"]);
    }
);

backends!(
    a_taken_over_subscription_says_it_is_deleted_and_nothing_can_change_it,
    |srv| async move {
        let buyer = srv.token_with_roles("takenover@contoso.test", &[]).await;
        let pm = card(&srv, &buyer, "4242 4242 4242 4242", "T").await;
        let got = purchase(&srv, &buyer, buy_body("MAIL_PLAN1", 2, &pm)).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = got.1["id"].as_str().expect("id").to_string();
        let over = format!("{API}/subscriptions/{id}/take-over");
        let got = srv
            .post(&over, json!({"action": "cancel", "reason": "Other"}))
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let deleted = "was deleted on";
        let got = srv
            .post(&format!("{API}/subscriptions/{id}/reactivate"), json!({}))
            .await;
        assert_error(&got, StatusCode::CONFLICT, deleted);
        assert!(!message(&got).contains("Take it over first"), "{}", got.1);
        let got = srv
            .call_as(
                &buyer,
                "PATCH",
                &format!("{API}/subscriptions/{id}"),
                Some(json!({"quantity": 3})),
            )
            .await;
        assert_error(&got, StatusCode::CONFLICT, deleted);
        assert!(!message(&got).contains("reactivate"), "{}", got.1);
        let got = srv
            .post(&over, json!({"action": "cancel", "reason": "Other"}))
            .await;
        assert_error(&got, StatusCode::CONFLICT, deleted);
        assert!(message(&got).contains("nothing can change it"), "{}", got.1);
    }
);

backends!(
    asking_a_purchaser_who_left_to_cancel_is_refused_and_mails_nobody,
    |srv| async move {
        let buyer = srv.token_with_roles("goneask@contoso.test", &[]).await;
        let pm = card(&srv, &buyer, "4242 4242 4242 4242", "Gone Asker").await;
        let got = purchase(&srv, &buyer, buy_body("MAIL_PLAN1", 1, &pm)).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = got.1["id"].as_str().expect("id").to_string();
        srv.buy("MAIL_PLAN1", 5).await;
        let got = srv
            .patch(
                "/v1.0/users/goneask@contoso.test",
                json!({"accountEnabled": false}),
            )
            .await;
        assert!(got.0.is_success(), "{}", got.1);
        let before = audit_count(&srv, "subscription.ask-to-cancel").await;
        let path = format!("{API}/subscriptions/{id}/ask-to-cancel");
        let got = srv.post(&path, json!({"message": "Please"})).await;
        assert_eq!(got.0, StatusCode::CONFLICT, "{}", got.1);
        let m = message(&got);
        assert!(
            m.contains("has left the organization")
                && m.contains("Take the subscription over instead"),
            "{m}"
        );
        assert!(
            mails(&srv, "subscription.ask-to-cancel", "goneask@contoso.test")
                .await
                .is_empty()
        );
        assert_eq!(
            audit_count(&srv, "subscription.ask-to-cancel").await,
            before
        );
        // Deleted: the same refusal.
        let got = srv.delete("/v1.0/users/goneask@contoso.test").await;
        assert!(got.0.is_success(), "{}", got.1);
        let got = srv.post(&path, json!({})).await;
        assert_eq!(got.0, StatusCode::CONFLICT, "{}", got.1);
        assert!(
            message(&got).contains("has left the organization"),
            "{}",
            got.1
        );
        assert!(
            mail_of_kind(&srv, "subscription.ask-to-cancel")
                .await
                .is_empty()
        );
    }
);

backends!(
    a_card_form_with_a_bad_country_a_long_line_or_an_array_says_exactly_what_to_fix,
    |srv| async move {
        let buyer = srv.token_with_roles("cardwords@contoso.test", &[]).await;
        let path = format!("{API}/me/payment-methods");
        let body = |line1: &str, country: &str| {
            json!({
                "cardNumber": "4242 4242 4242 4242", "expiryMonth": 12, "expiryYear": 2099,
                "securityCode": "123", "nameOnCard": "Words",
                "billingAddress": {"line1": line1, "city": "Cardiff", "postalCode": "CF10", "country": country}
            })
        };
        let got = srv
            .call_as(&buyer, "POST", &path, Some(body("1 Road", "ZZ")))
            .await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
        let m = message(&got);
        assert!(
            m.contains("'ZZ' is not an ISO 3166-1 alpha-2 country code")
                && !m.contains("is required"),
            "{m}"
        );
        let long = "x".repeat(5000);
        let got = srv
            .call_as(&buyer, "POST", &path, Some(body(&long, "GB")))
            .await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
        let m = message(&got);
        assert!(
            m.contains("billingAddress.line1")
                && m.contains("at most 200 characters")
                && !m.contains("is required"),
            "{m}"
        );
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &path,
                Some(json!(["4242 4242 4242 4242", 12])),
            )
            .await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
        let m = message(&got);
        assert!(
            m.contains("must be a JSON object with cardNumber, expiryMonth")
                && !m.contains("NewCardBody")
                && !m.contains("struct"),
            "{m}"
        );
        // Every endpoint: another body type does not leak its name either.
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &format!("{API}/me/purchases"),
                Some(json!([])),
            )
            .await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
        let m = message(&got);
        assert!(m.contains("must be a JSON object with skuId"), "{m}");
        assert!(
            srv.call_as(&buyer, "GET", &path, None).await.1["value"]
                .as_array()
                .is_some_and(Vec::is_empty)
        );
    }
);

/// The admin center page at `path`, as the signed-in Global admin sees it.
async fn admin_page(srv: &Srv, cookie: &str, path: &str) -> String {
    let r = browser()
        .get(format!("{}{path}", srv.url))
        .header("cookie", cookie)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.text().await.expect("page")
}

backends!(
    holders_of_a_disabled_trial_are_counted_without_access_in_rest_and_page,
    |srv| async move {
        let upn = "disabledtrial@contoso.test";
        let buyer = srv.token_with_roles(upn, &[]).await;
        // An Active purchase of the same product with a spare license does not hide them.
        let pm = card(&srv, &buyer, "4242 4242 4242 4242", "D").await;
        let other = srv.token_with_roles("spare@contoso.test", &[]).await;
        let pm2 = card(&srv, &other, "4242 4242 4242 4242", "S").await;
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &format!("{API}/me/trials"),
                Some(json!({"skuId": "SUITE_BASIC"})),
            )
            .await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let end = t(&got.1["termEndDateTime"]);
        set_clock(&srv, end + Duration::days(45)).await;
        run_jobs(&srv).await;
        let got = purchase(&srv, &other, buy_body("SUITE_BASIC", 3, &pm2)).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let _ = pm;
        let got = srv
            .get(&format!("{API}/licenses?origin=self-service"))
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let row = got.1["value"]
            .as_array()
            .and_then(|v| {
                v.iter()
                    .find(|r| r["skuPartNumber"] == "SUITE_BASIC")
                    .cloned()
            })
            .expect("a SUITE_BASIC row");
        assert_eq!(
            (
                row["total"].clone(),
                row["assigned"].clone(),
                row["holdersWithoutAccess"].clone()
            ),
            (json!(3), json!(2), json!(1)),
            "{row}"
        );
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let html = admin_page(&srv, &cookie, "/licenses?origin=self-service").await;
        assert!(html.contains("1 without access"), "{html}");
    }
);

/// The delivered e-mails (the `.eml` files) that contain `needle`, line breaks of quoted
/// printable undone.
fn delivered_with(srv: &Srv, needle: &str) -> Vec<String> {
    let dir = srv.dir.join("mail");
    let mut found = Vec::new();
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(e.path())
            .unwrap_or_default()
            .replace("=\r\n", "")
            .replace("=\n", "");
        if text.contains(needle) {
            found.push(text);
        }
    }
    found
}

backends!(
    a_take_over_of_a_subscription_nobody_used_says_so_plainly,
    |srv| async move {
        let upn = "nobodyused@contoso.test";
        let buyer = srv.token_with_roles(upn, &[]).await;
        let pm = card(&srv, &buyer, "4242 4242 4242 4242", "N").await;
        let got = purchase(&srv, &buyer, buy_body("MAIL_PLAN1", 2, &pm)).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = got.1["id"].as_str().expect("id").to_string();
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &format!("{API}/subscriptions/{id}/unassign"),
                Some(json!({"userIds": [upn]})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = srv
            .post(
                &format!("{API}/subscriptions/{id}/take-over"),
                json!({"action": "cancel", "reason": "Other"}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        run_jobs(&srv).await;
        let got = delivered_with(&srv, &format!("subscription {id}"));
        let mail = got
            .iter()
            .find(|m| m.contains("was taken over"))
            .unwrap_or_else(|| panic!("no take-over mail: {got:?}"));
        assert!(
            mail.contains("Nobody was using licenses from this subscription.")
                && !mail.contains("no users"),
            "{mail}"
        );
    }
);

backends!(
    a_deleted_purchaser_is_still_named_on_the_admins_list,
    |srv| async move {
        let upn = "ada.deleted@contoso.test";
        let buyer = srv.token_with_roles(upn, &[]).await;
        let got = srv
            .patch(
                &format!("/v1.0/users/{upn}"),
                json!({"displayName": "Ada Lovelace"}),
            )
            .await;
        assert!(got.0.is_success(), "{}", got.1);
        let pm = card(&srv, &buyer, "4242 4242 4242 4242", "Ada").await;
        let got = purchase(&srv, &buyer, buy_body("MAIL_PLAN1", 2, &pm)).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = got.1["id"].as_str().expect("id").to_string();
        let got = srv.delete(&format!("/v1.0/users/{upn}")).await;
        assert!(got.0.is_success(), "{}", got.1);

        let got = srv
            .get(&format!("{API}/subscriptions?origin=self-service"))
            .await;
        let row = got.1["value"]
            .as_array()
            .and_then(|v| v.iter().find(|r| r["id"] == id.as_str()).cloned())
            .expect("the purchase");
        assert_eq!(row["purchaserLeft"], true, "{row}");
        assert!(row["purchaser"].is_null(), "{row}");
        assert_eq!(
            (
                row["deletedPurchaser"]["displayName"].clone(),
                row["deletedPurchaser"]["userPrincipalName"].clone()
            ),
            (json!("Ada Lovelace"), json!(upn)),
            "{row}"
        );
        let got = srv
            .get(&format!("{API}/licenses?origin=self-service"))
            .await;
        let group = got.1["value"]
            .as_array()
            .and_then(|v| {
                v.iter()
                    .find(|r| r["skuPartNumber"] == "MAIL_PLAN1")
                    .cloned()
            })
            .expect("a MAIL_PLAN1 row");
        assert_eq!(
            group["purchasers"][0]["deletedPurchaser"]["displayName"], "Ada Lovelace",
            "{group}"
        );
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let html = admin_page(&srv, &cookie, "/products?origin=self-service").await;
        assert!(
            html.contains(&format!("Ada Lovelace (deleted user), {upn}")),
            "{html}"
        );
        let html = admin_page(&srv, &cookie, "/licenses?origin=self-service").await;
        assert!(html.contains("Ada Lovelace (deleted user)"), "{html}");
    }
);
