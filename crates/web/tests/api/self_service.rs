//! Self-service purchases (SS1–SS5): end users buy and try products under the purchase
//! policy, manage their own subscriptions, and admins see them, take them over and ask their
//! purchasers to cancel. On SQLite and PostgreSQL, over HTTP.

use crate::common::*;
use crate::rest_helpers::*;
use chrono::Duration;
use reqwest::StatusCode;
use seatkeeper_domain::roles::Role;
use serde_json::{Value, json};

/// A Member with a token (usage location US).
async fn member(srv: &Srv, upn: &str) -> String {
    srv.token_with_roles(upn, &[]).await
}

/// Adds a card for the token's user; returns the payment method's id.
async fn card(srv: &Srv, token: &str, number: &str) -> String {
    let got = srv
        .call_as(
            token,
            "POST",
            &format!("{API}/me/payment-methods"),
            Some(json!({
                "cardNumber": number, "expiryMonth": 12, "expiryYear": 2099, "securityCode": "123",
                "nameOnCard": "Test Buyer",
                "billingAddress": {"line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"}
            })),
        )
        .await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    got.1["id"].as_str().expect("id").to_string()
}

async fn purchase(srv: &Srv, token: &str, sku: &str, qty: i64, pm: &str) -> (StatusCode, Value) {
    srv.call_as(
        token,
        "POST",
        &format!("{API}/me/purchases"),
        Some(json!({"skuId": sku, "quantity": qty, "billingFrequency": "monthly", "paymentMethodId": pm})),
    )
    .await
}

backends!(
    a_member_buys_assigns_a_colleague_and_admins_see_it_read_only,
    |srv| async move {
        let buyer = member(&srv, "buyer@contoso.test").await;
        users(&srv, "colleague", 2).await;
        let pm = card(&srv, &buyer, "4242 4242 4242 4242").await;
        let before_central = license_row(&srv, "SUITE_BASIC").await;

        let got = purchase(&srv, &buyer, "SUITE_BASIC", 3, &pm).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let s = got.1.clone();
        let id = s["id"].as_str().expect("id").to_string();
        assert_eq!(s["origin"], "self-service");
        assert_eq!(s["quantity"], 3);
        assert_eq!(s["purchasePrice"]["unitPrice"], 720);
        assert_eq!(s["purchasePrice"]["total"], 2160);
        assert_eq!(s["purchasePrice"]["currency"], "USD");
        assert_eq!(s["paymentMethodId"], pm.as_str());
        // The buyer holds one of its licenses.
        assert_eq!(held(&srv, "buyer@contoso.test").await, vec!["SUITE_BASIC"]);

        // The purchaser assigns a colleague; the guest is refused.
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &format!("{API}/subscriptions/{id}/assign"),
                Some(json!({"userIds": ["colleague0@contoso.test"], "disabledPlans": []})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let names: Vec<&str> = got.1["assignedUsers"]
            .as_array()
            .expect("assignedUsers")
            .iter()
            .filter_map(|u| u["userPrincipalName"].as_str())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.contains(&"colleague0@contoso.test"), "{names:?}");
        let guest = srv
            .post(
                "/v1.0/users",
                json!({"accountEnabled": true, "displayName": "Guest One", "mailNickname": "g1",
                       "userPrincipalName": "g1@contoso.test", "userType": "Guest", "usageLocation": "US"}),
            )
            .await;
        assert_eq!(guest.0, StatusCode::CREATED, "{}", guest.1);
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &format!("{API}/subscriptions/{id}/assign"),
                Some(json!({"userIds": ["g1@contoso.test"]})),
            )
            .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "members of the organization only",
        );
        assert!(held(&srv, "g1@contoso.test").await.is_empty());

        // Central counts are untouched by the purchase.
        assert_eq!(license_row(&srv, "SUITE_BASIC").await, before_central);

        // An admin cannot assign from it, change it or cancel it.
        let got = srv
            .post(
                &format!("{API}/subscriptions/{id}/assign"),
                json!({"userIds": ["colleague1@contoso.test"]}),
            )
            .await;
        assert_error(&got, StatusCode::FORBIDDEN, "Take it over first");
        let got = srv
            .patch(&format!("{API}/subscriptions/{id}"), json!({"quantity": 9}))
            .await;
        assert_error(&got, StatusCode::FORBIDDEN, "Take it over first");
        // Nor remove the license it gave, through the central paths.
        let got = srv
            .post(
                "/v1.0/users/colleague0@contoso.test/assignLicense",
                json!({"addLicenses": [], "removeLicenses": [srv.sku("SUITE_BASIC")]}),
            )
            .await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
        assert!(
            got.1.to_string().contains("only its purchaser"),
            "{}",
            got.1
        );
        assert_eq!(
            held(&srv, "colleague0@contoso.test").await,
            vec!["SUITE_BASIC"]
        );

        // Admins' views: the subscription with purchaser and users; one row per product.
        let got = srv
            .get(&format!("{API}/subscriptions?origin=self-service"))
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let rows = got.1["value"].as_array().expect("value");
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(
            rows[0]["purchaser"]["userPrincipalName"],
            "buyer@contoso.test"
        );
        assert_eq!(rows[0]["purchaserLeft"], false);
        assert_eq!(rows[0]["assignedUsers"].as_array().map(Vec::len), Some(2));
        let got = srv.get(&format!("{API}/subscriptions?origin=admin")).await;
        assert_eq!(
            got.1["value"].as_array().map(Vec::len),
            Some(0),
            "{}",
            got.1
        );

        // A second purchase of the same product by another member: one row, summed.
        let other = member(&srv, "other@contoso.test").await;
        let pm2 = card(&srv, &other, "4242424242424242").await;
        let got = purchase(&srv, &other, "SUITE_BASIC", 2, &pm2).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let got = srv
            .get(&format!("{API}/licenses?origin=self-service"))
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let row = got.1["value"]
            .as_array()
            .expect("value")
            .iter()
            .find(|r| r["skuPartNumber"] == "SUITE_BASIC")
            .cloned()
            .expect("self-service row");
        assert_eq!(
            (
                row["total"].clone(),
                row["assigned"].clone(),
                row["available"].clone()
            ),
            (json!(5), json!(3), json!(2)),
            "{row}"
        );
        assert_eq!(row["purchases"], 2);
        let groups = row["purchasers"].as_array().expect("purchasers");
        assert_eq!(groups.len(), 2, "{groups:?}");
        let of_buyer = groups
            .iter()
            .find(|g| g["purchaser"]["userPrincipalName"] == "buyer@contoso.test")
            .expect("buyer's group");
        assert_eq!(of_buyer["users"].as_array().map(Vec::len), Some(2));
        // The central Licenses page still counts central pools only.
        assert_eq!(license_row(&srv, "SUITE_BASIC").await, before_central);

        // Export users: one row per user, with the purchaser.
        let (status, _, text) = get_text(
            &srv,
            &format!("{API}/licenses/SUITE_BASIC/self-service-users.csv"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let rows = csv_rows(&text);
        assert_eq!(rows[0][0], "userPrincipalName");
        assert_eq!(rows.len(), 4, "{text}");
        assert!(
            rows.iter()
                .any(|r| r[0] == "colleague0@contoso.test" && r[2] == "buyer@contoso.test"),
            "{text}"
        );

        // The purchaser's own list; a new total below assigned is refused; more is charged.
        let got = srv
            .call_as(&buyer, "GET", &format!("{API}/me/subscriptions"), None)
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(
            got.1["value"].as_array().map(Vec::len),
            Some(1),
            "{}",
            got.1
        );
        let got = srv
            .call_as(
                &buyer,
                "PATCH",
                &format!("{API}/subscriptions/{id}"),
                Some(json!({"quantity": 1})),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "2 licenses assigned");
        let got = srv
            .call_as(
                &buyer,
                "PATCH",
                &format!("{API}/subscriptions/{id}"),
                Some(json!({"quantity": 6})),
            )
            .await;
        assert_eq!(
            (got.0, got.1["quantity"].clone()),
            (StatusCode::OK, json!(6)),
            "{}",
            got.1
        );
        // Other users can neither read nor change it.
        let got = srv
            .call_as(&other, "GET", &format!("{API}/subscriptions/{id}"), None)
            .await;
        assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
        let got = srv
            .call_as(
                &other,
                "POST",
                &format!("{API}/subscriptions/{id}/unassign"),
                Some(json!({"userIds": ["buyer@contoso.test"]})),
            )
            .await;
        assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);

        // Unassign, then cancel within the window with a reason from the list and feedback.
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &format!("{API}/subscriptions/{id}/unassign"),
                Some(json!({"userIds": ["colleague0@contoso.test"]})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert!(held(&srv, "colleague0@contoso.test").await.is_empty());
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &format!("{API}/subscriptions/{id}/cancel"),
                Some(json!({"reason": "I just do not want it"})),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "NoLongerNeeded");
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &format!("{API}/subscriptions/{id}/cancel"),
                Some(json!({"reason": "noLongerNeeded", "feedback": "We use the central one."})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["outcome"], "disabledNow");
        assert_eq!(got.1["subscription"]["cancelReason"], "NoLongerNeeded");
        assert_eq!(
            got.1["subscription"]["cancelFeedback"],
            "We use the central one."
        );

        // Every step is in the audit log, by the purchaser.
        let got = srv
            .get(&format!("{API}/audit?actor=buyer@contoso.test"))
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let actions: Vec<&str> = got.1["value"]
            .as_array()
            .expect("value")
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        for a in [
            "subscription.buy",
            "license.assign",
            "subscription.quantity",
            "license.unassign",
            "subscription.cancel",
        ] {
            assert!(actions.contains(&a), "{a} missing from {actions:?}");
        }
    }
);

backends!(refusals_say_why_and_change_nothing, |srv| async move {
    let buyer = member(&srv, "refused@contoso.test").await;
    let pm = card(&srv, &buyer, "4242 4242 4242 4242").await;

    // A guest.
    let guest = srv
        .post(
            "/v1.0/users",
            json!({"accountEnabled": true, "displayName": "Guest Buyer", "mailNickname": "gb",
                   "userPrincipalName": "gb@contoso.test", "userType": "Guest", "usageLocation": "US"}),
        )
        .await;
    assert_eq!(guest.0, StatusCode::CREATED, "{}", guest.1);
    let gid = guest.1["id"].as_str().expect("id");
    let gtoken = srv
        .app
        .create_token(
            &srv.operator(),
            seatkeeper_domain::UserId::parse(gid).expect("uuid"),
            "t",
            None,
        )
        .await
        .expect("token")
        .token;
    let gpm = card(&srv, &gtoken, "4242 4242 4242 4242").await;
    let got = purchase(&srv, &gtoken, "SUITE_BASIC", 1, &gpm).await;
    assert_eq!(
        (got.0, code(&got)),
        (StatusCode::FORBIDDEN, "GuestCannotPurchase".into()),
        "{}",
        got.1
    );

    // Not self-service eligible.
    let got = purchase(&srv, &buyer, "SUITE_PREMIUM", 1, &pm).await;
    assert_eq!(
        (got.0, code(&got)),
        (StatusCode::CONFLICT, "NotSelfServiceEligible".into()),
        "{}",
        got.1
    );

    // Disabled by policy: neither purchases nor trials.
    set_policy(&srv, "MAIL_PLAN1", "Disabled").await;
    let got = purchase(&srv, &buyer, "MAIL_PLAN1", 1, &pm).await;
    assert_eq!(
        (got.0, code(&got)),
        (StatusCode::FORBIDDEN, "PurchaseBlockedByPolicy".into()),
        "{}",
        got.1
    );
    assert!(
        got.1["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("request a license"),
        "{}",
        got.1
    );

    // Trials only: a paid purchase and a card trial are refused; a no-card trial works, and
    // buying after it is refused.
    set_policy(&srv, "SUITE_BASIC", "OnlyTrialsWithoutPaymentMethod").await;
    set_policy(&srv, "SUITE_STANDARD", "OnlyTrialsWithoutPaymentMethod").await;
    let got = purchase(&srv, &buyer, "SUITE_BASIC", 1, &pm).await;
    assert_eq!(
        (got.0, code(&got)),
        (StatusCode::FORBIDDEN, "OnlyTrialsAllowed".into()),
        "{}",
        got.1
    );
    let got = srv
        .call_as(
            &buyer,
            "POST",
            &format!("{API}/me/trials"),
            Some(json!({"skuId": "SUITE_STANDARD", "paymentMethodId": pm})),
        )
        .await;
    assert_eq!(
        (got.0, code(&got)),
        (StatusCode::FORBIDDEN, "OnlyTrialsAllowed".into()),
        "{}",
        got.1
    );
    let got = srv
        .call_as(
            &buyer,
            "POST",
            &format!("{API}/me/trials"),
            Some(json!({"skuId": "SUITE_BASIC"})),
        )
        .await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    assert_eq!(
        (got.1["isTrial"].clone(), got.1["quantity"].clone()),
        (json!(true), json!(25))
    );
    let got = purchase(&srv, &buyer, "SUITE_BASIC", 1, &pm).await;
    assert_eq!(
        (got.0, code(&got)),
        (StatusCode::FORBIDDEN, "NoPurchaseAfterTrial".into()),
        "{}",
        got.1
    );
    let got = srv
        .call_as(
            &buyer,
            "POST",
            &format!("{API}/me/trials"),
            Some(json!({"skuId": "SUITE_BASIC"})),
        )
        .await;
    assert_eq!(
        (got.0, code(&got)),
        (StatusCode::CONFLICT, "TrialAlreadyUsed".into()),
        "{}",
        got.1
    );

    // A declined card: 402, nothing bought.
    let declined = card(&srv, &buyer, "4000 0000 0000 0341").await;
    let got = purchase(&srv, &buyer, "PROJECTS_PLAN3", 2, &declined).await;
    assert_eq!(
        (got.0, code(&got)),
        (StatusCode::PAYMENT_REQUIRED, "PaymentDeclined".into()),
        "{}",
        got.1
    );
    // Someone else's card: not found.
    let other = member(&srv, "other-card@contoso.test").await;
    let other_pm = card(&srv, &other, "4242 4242 4242 4242").await;
    let got = purchase(&srv, &buyer, "PROJECTS_PLAN3", 2, &other_pm).await;
    assert_eq!(got.0, StatusCode::NOT_FOUND, "{}", got.1);

    // Only the trial exists.
    let got = srv
        .call_as(&buyer, "GET", &format!("{API}/me/subscriptions"), None)
        .await;
    assert_eq!(
        got.1["value"].as_array().map(Vec::len),
        Some(1),
        "{}",
        got.1
    );
    assert_eq!(
        held(&srv, "refused@contoso.test").await,
        vec!["SUITE_BASIC"]
    );
    // The operator's token has no user: it cannot buy for itself.
    let got = srv
        .post(&format!("{API}/me/purchases"), json!({"skuId": "SUITE_BASIC", "quantity": 1, "billingFrequency": "monthly", "paymentMethodId": pm}))
        .await;
    assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
});

backends!(trials_convert_or_expire_by_the_clock, |srv| async move {
    let buyer = member(&srv, "trier@contoso.test").await;
    let pm = card(&srv, &buyer, "4242 4242 4242 4242").await;

    // A card trial without a card is refused.
    let got = srv
        .call_as(
            &buyer,
            "POST",
            &format!("{API}/me/trials"),
            Some(json!({"skuId": "SUITE_STANDARD"})),
        )
        .await;
    assert_eq!(
        (got.0, code(&got)),
        (StatusCode::BAD_REQUEST, "PaymentMethodRequired".into()),
        "{}",
        got.1
    );
    let card_trial = srv
        .call_as(
            &buyer,
            "POST",
            &format!("{API}/me/trials"),
            Some(json!({"skuId": "SUITE_STANDARD", "paymentMethodId": pm})),
        )
        .await;
    assert_eq!(card_trial.0, StatusCode::CREATED, "{}", card_trial.1);
    // DIAGRAMS needs FILES_ENTERPRISE, which the buyer does not have: their own license of
    // the trial would not work at all, so the trial is refused up front with the reason.
    let got = srv
        .call_as(
            &buyer,
            "POST",
            &format!("{API}/me/trials"),
            Some(json!({"skuId": "DIAGRAMS_PLAN2", "paymentMethodId": pm})),
        )
        .await;
    assert_eq!(
        (got.0, code(&got)),
        (StatusCode::CONFLICT, "MissingPrerequisite".into()),
        "{}",
        got.1
    );
    // Another member's card trial, with a card that is declined when charged.
    let second = member(&srv, "trier2@contoso.test").await;
    let declined = card(&srv, &second, "4000 0000 0000 0341").await;
    let bad_trial = srv
        .call_as(
            &second,
            "POST",
            &format!("{API}/me/trials"),
            Some(json!({"skuId": "SUITE_STANDARD", "paymentMethodId": declined})),
        )
        .await;
    assert_eq!(bad_trial.0, StatusCode::CREATED, "{}", bad_trial.1);
    let free_trial = srv
        .call_as(
            &buyer,
            "POST",
            &format!("{API}/me/trials"),
            Some(json!({"skuId": "CHAT_ESSENTIALS"})),
        )
        .await;
    assert_eq!(free_trial.0, StatusCode::CREATED, "{}", free_trial.1);
    assert_eq!(free_trial.1["recurringBilling"], false);
    let ids: Vec<String> = [&card_trial, &bad_trial, &free_trial]
        .iter()
        .map(|g| g.1["id"].as_str().expect("id").to_string())
        .collect();
    // The purchaser gives a colleague a license of the card trial: it converts with 2.
    users(&srv, "trialmate", 1).await;
    let got = srv
        .call_as(
            &buyer,
            "POST",
            &format!("{API}/subscriptions/{}/assign", ids[0]),
            Some(json!({"userIds": ["trialmate0@contoso.test"]})),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);

    let start = now(&srv).await;
    set_clock(&srv, start + Duration::days(31)).await;
    run_jobs(&srv).await;

    let converted = sub(&srv, &ids[0]).await;
    assert_eq!(
        (
            converted["isTrial"].clone(),
            converted["status"].clone(),
            converted["quantity"].clone()
        ),
        (json!(false), json!("Active"), json!(2)),
        "{converted}"
    );
    assert_eq!(converted["purchasePrice"]["unitPrice"], 1500);
    let failed = sub(&srv, &ids[1]).await;
    assert_eq!(
        (failed["isTrial"].clone(), failed["status"].clone()),
        (json!(true), json!("Expired")),
        "{failed}"
    );
    let expired = sub(&srv, &ids[2]).await;
    assert_eq!(
        (expired["isTrial"].clone(), expired["status"].clone()),
        (json!(true), json!("Expired")),
        "{expired}"
    );
    // The failed conversion is told to the purchaser.
    let mails = mail_of_kind(&srv, "payment.failed").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["to"], "trier2@contoso.test");
    // Conversion and failure are audited.
    let got = srv
        .get(&format!("{API}/audit?action=subscription.convert"))
        .await;
    assert_eq!(
        got.1["value"].as_array().map(Vec::len),
        Some(2),
        "{}",
        got.1
    );
});

backends!(
    take_over_moves_users_or_cancels_and_tells_the_purchaser,
    |srv| async move {
        let buyer = member(&srv, "taken@contoso.test").await;
        let pm = card(&srv, &buyer, "4242 4242 4242 4242").await;
        users(&srv, "mover", 2).await;
        let got = purchase(&srv, &buyer, "SUITE_STANDARD", 4, &pm).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = got.1["id"].as_str().expect("id").to_string();
        let plan = srv.plan("WHITEBOARD");
        let got = srv
        .call_as(
            &buyer,
            "POST",
            &format!("{API}/subscriptions/{id}/assign"),
            Some(json!({"userIds": ["mover0@contoso.test", "mover1@contoso.test"], "disabledPlans": [plan]})),
        )
        .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);

        // Only Global or Billing admins take over.
        let license_admin = srv
            .token_with_roles("la@contoso.test", &[Role::LicenseAdmin])
            .await;
        let got = srv
            .call_as(
                &license_admin,
                "POST",
                &format!("{API}/subscriptions/{id}/take-over"),
                Some(json!({"action": "move"})),
            )
            .await;
        assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);

        // Too few central licenses: 409 with the numbers, nothing changes.
        srv.buy("SUITE_STANDARD", 2).await;
        let got = srv
            .post(
                &format!("{API}/subscriptions/{id}/take-over"),
                json!({"action": "move"}),
            )
            .await;
        assert_eq!(got.0, StatusCode::CONFLICT, "{}", got.1);
        assert!(
            got.1["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("needs 3"),
            "{}",
            got.1
        );
        assert_eq!(sub(&srv, &id).await["status"], "Active");

        // With enough: every user moves, keeping the plan turned off; the purchase is Deleted.
        srv.buy("SUITE_STANDARD", 1).await;
        let got = srv
            .post(
                &format!("{API}/subscriptions/{id}/take-over"),
                json!({"action": "move"}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["status"], "Deleted");
        let row = license_row(&srv, "SUITE_STANDARD")
            .await
            .expect("central row");
        assert_eq!(
            (row["total"].clone(), row["assigned"].clone()),
            (json!(3), json!(3)),
            "{row}"
        );
        let lic = srv
            .get(&format!("{API}/users/mover0@contoso.test/licenses"))
            .await;
        let l = &lic.1["licenses"][0];
        assert_eq!(l["skuPartNumber"], "SUITE_STANDARD", "{}", lic.1);
        let off: Vec<&str> = l["disabledPlans"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["servicePlanName"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(off, vec!["WHITEBOARD"], "{}", lic.1);
        // Taking over again is refused: it was taken over and is deleted.
        let got = srv
            .post(
                &format!("{API}/subscriptions/{id}/take-over"),
                json!({"action": "move"}),
            )
            .await;
        assert_error(&got, StatusCode::CONFLICT, "was taken over by an admin on");
        let mails = mail_of_kind(&srv, "subscription.taken-over").await;
        assert_eq!(mails.len(), 1, "{mails:?}");
        assert_eq!(mails[0]["to"], "taken@contoso.test");

        // Cancel: its users lose the licenses.
        let got = purchase(&srv, &buyer, "PROJECTS_PLAN3", 2, &pm).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id2 = got.1["id"].as_str().expect("id").to_string();
        let got = srv
            .post(
                &format!("{API}/subscriptions/{id2}/take-over"),
                json!({"action": "cancel", "reason": "because"}),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "NoLongerNeeded");
        let got = srv
            .post(
                &format!("{API}/subscriptions/{id2}/take-over"),
                json!({"action": "cancel", "reason": "Other"}),
            )
            .await;
        assert_eq!(
            (got.0, got.1["status"].clone()),
            (StatusCode::OK, json!("Deleted")),
            "{}",
            got.1
        );
        // The buyer keeps only the license that was moved to the central pool.
        assert_eq!(
            held(&srv, "taken@contoso.test").await,
            vec!["SUITE_STANDARD"]
        );
        assert_eq!(mail_of_kind(&srv, "subscription.taken-over").await.len(), 2);
    }
);

backends!(
    ask_to_cancel_needs_central_licenses_and_mails_the_purchaser,
    |srv| async move {
        let buyer = member(&srv, "asked@contoso.test").await;
        let pm = card(&srv, &buyer, "4242 4242 4242 4242").await;
        let got = purchase(&srv, &buyer, "MAIL_PLAN1", 1, &pm).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = got.1["id"].as_str().expect("id").to_string();
        let got = srv
            .post(
                &format!("{API}/subscriptions/{id}/ask-to-cancel"),
                json!({}),
            )
            .await;
        assert_eq!(
            (got.0, code(&got)),
            (StatusCode::CONFLICT, "productNotOwned".into()),
            "{}",
            got.1
        );
        srv.buy("MAIL_PLAN1", 5).await;
        let got = srv
            .post(
                &format!("{API}/subscriptions/{id}/ask-to-cancel"),
                json!({"message": "We have it centrally now."}),
            )
            .await;
        assert_eq!(got.0, StatusCode::ACCEPTED, "{}", got.1);
        let mails = mail_of_kind(&srv, "subscription.ask-to-cancel").await;
        assert_eq!(mails.len(), 1, "{mails:?}");
        assert_eq!(mails[0]["to"], "asked@contoso.test");
        assert!(
            mails[0]["subject"]
                .as_str()
                .unwrap_or_default()
                .contains("Please cancel your Mail (Plan 1) subscription"),
            "{}",
            mails[0]
        );
        // The message itself is in the e-mail the outbox delivers.
        run_jobs(&srv).await;
        let dir = srv.dir.join("mail");
        let mut found = false;
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            if text.contains("We have it centrally now.") {
                found = true;
            }
        }
        assert!(
            found,
            "no delivered e-mail in {} carries the message",
            dir.display()
        );
    }
);

backends!(
    take_overs_racing_purchasers_stay_consistent,
    |srv| async move {
        let buyer = member(&srv, "racer@contoso.test").await;
        let pm = card(&srv, &buyer, "4242 4242 4242 4242").await;
        users(&srv, "race", 6).await;
        srv.buy("SUITE_BASIC", 10).await;
        let got = purchase(&srv, &buyer, "SUITE_BASIC", 8, &pm).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = got.1["id"].as_str().expect("id").to_string();
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &format!("{API}/subscriptions/{id}/assign"),
                Some(json!({"userIds": ["race0@contoso.test", "race1@contoso.test"]})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);

        // Two take-overs and the purchaser's assignments at once.
        let mut tasks = Vec::new();
        let srv = std::sync::Arc::new(srv);
        for _ in 0..2 {
            let srv = srv.clone();
            let id = id.clone();
            tasks.push(tokio::spawn(async move {
                srv.post(
                    &format!("{API}/subscriptions/{id}/take-over"),
                    json!({"action": "move"}),
                )
                .await
                .0
            }));
        }
        for u in 2..6 {
            let srv = srv.clone();
            let id = id.clone();
            let buyer = buyer.clone();
            tasks.push(tokio::spawn(async move {
                srv.call_as(
                    &buyer,
                    "POST",
                    &format!("{API}/subscriptions/{id}/assign"),
                    Some(json!({"userIds": [format!("race{u}@contoso.test")]})),
                )
                .await
                .0
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.expect("task"));
        }
        let take_overs_ok = statuses[..2]
            .iter()
            .filter(|s| **s == StatusCode::OK)
            .count();
        assert_eq!(take_overs_ok, 1, "{statuses:?}");
        for s in &statuses {
            assert!(s.is_success() || s.is_client_error(), "{statuses:?}");
        }
        // Everyone who held the self-service product now holds it centrally; counters equal rows.
        let row = license_row(&srv, "SUITE_BASIC").await.expect("central row");
        let mut holders = 0;
        for u in std::iter::once("racer".to_string()).chain((0..6).map(|i| format!("race{i}"))) {
            if held(&srv, &format!("{u}@contoso.test")).await == vec!["SUITE_BASIC"] {
                holders += 1;
            }
        }
        assert_eq!(row["assigned"], json!(holders), "{row}");
        assert!(holders <= 10, "{holders}");
        assert_eq!(sub(&srv, &id).await["status"], "Deleted");
        let pools = srv
            .app
            .self_service_licenses(&srv.operator())
            .await
            .expect("rows");
        assert!(
            pools
                .iter()
                .all(|r| r.sku_id != srv.sku("SUITE_BASIC") || r.assigned == 0),
            "{pools:?}"
        );
    }
);

backends!(
    a_purchaser_who_leaves_leaves_the_subscription_running_for_admins,
    |srv| async move {
        let buyer = member(&srv, "leaver@contoso.test").await;
        let pm = card(&srv, &buyer, "4242 4242 4242 4242").await;
        users(&srv, "stayer", 1).await;
        let got = purchase(&srv, &buyer, "PROJECTS_PLAN3", 3, &pm).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = got.1["id"].as_str().expect("id").to_string();
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &format!("{API}/subscriptions/{id}/assign"),
                Some(json!({"userIds": ["stayer0@contoso.test"]})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);

        // Disabled: flagged, still running.
        let got = srv
            .patch(
                "/v1.0/users/leaver@contoso.test",
                json!({"accountEnabled": false}),
            )
            .await;
        assert!(got.0.is_success(), "{}", got.1);
        let got = srv
            .get(&format!("{API}/subscriptions?origin=self-service"))
            .await;
        let row = &got.1["value"][0];
        assert_eq!(
            (row["purchaserLeft"].clone(), row["status"].clone()),
            (json!(true), json!("Active")),
            "{row}"
        );

        // Deleted: the purchaser is gone from the row, the colleague keeps the license, and an
        // admin can still take it over.
        let got = srv.delete("/v1.0/users/leaver@contoso.test").await;
        assert!(got.0.is_success(), "{}", got.1);
        let got = srv
            .get(&format!("{API}/subscriptions?origin=self-service"))
            .await;
        let row = &got.1["value"][0];
        assert_eq!(row["purchaserLeft"], true, "{row}");
        assert!(row["purchaser"].is_null(), "{row}");
        assert_eq!(
            row["assignedUsers"].as_array().map(Vec::len),
            Some(1),
            "{row}"
        );
        assert_eq!(
            held(&srv, "stayer0@contoso.test").await,
            vec!["PROJECTS_PLAN3"]
        );
        let got = srv
            .post(
                &format!("{API}/subscriptions/{id}/ask-to-cancel"),
                json!({}),
            )
            .await;
        assert_eq!(got.0, StatusCode::CONFLICT, "{}", got.1);
        srv.buy("PROJECTS_PLAN3", 1).await;
        let got = srv
            .post(
                &format!("{API}/subscriptions/{id}/take-over"),
                json!({"action": "move"}),
            )
            .await;
        assert_eq!(
            (got.0, got.1["status"].clone()),
            (StatusCode::OK, json!("Deleted")),
            "{}",
            got.1
        );
        assert_eq!(
            held(&srv, "stayer0@contoso.test").await,
            vec!["PROJECTS_PLAN3"]
        );
        let row = license_row(&srv, "PROJECTS_PLAN3")
            .await
            .expect("central row");
        assert_eq!(row["assigned"], 1, "{row}");
    }
);

backends!(
    a_purchaser_removes_licenses_only_inside_the_window,
    |srv| async move {
        let buyer = member(&srv, "window@contoso.test").await;
        let pm = card(&srv, &buyer, "4242 4242 4242 4242").await;
        let got = purchase(&srv, &buyer, "PROJECTS_PLAN3", 5, &pm).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = got.1["id"].as_str().expect("id").to_string();
        let patch = |q: i64| {
            let buyer = buyer.clone();
            let id = id.clone();
            let srv = &srv;
            async move {
                srv.call_as(
                    &buyer,
                    "PATCH",
                    &format!("{API}/subscriptions/{id}"),
                    Some(json!({"quantity": q})),
                )
                .await
            }
        };
        // A colleague who holds the product from the organization already is refused by name,
        // not silently skipped.
        srv.user("central@contoso.test", Some("US")).await;
        srv.buy("PROJECTS_PLAN3", 1).await;
        let got = assign(
            &srv,
            "PROJECTS_PLAN3",
            &["central@contoso.test".to_string()],
            &[],
        )
        .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = srv
            .call_as(
                &buyer,
                "POST",
                &format!("{API}/subscriptions/{id}/assign"),
                Some(json!({"userIds": ["central@contoso.test"]})),
            )
            .await;
        assert_eq!(
            (got.0, code(&got)),
            (StatusCode::BAD_REQUEST, "licenseHeldElsewhere".into()),
            "{}",
            got.1
        );
        assert!(
            got.1["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("central@contoso.test"),
            "{}",
            got.1
        );
        // Inside the 7-day window: fewer is fine (not below the 1 assigned, the buyer's own).
        let got = patch(3).await;
        assert_eq!(
            (got.0, got.1["quantity"].clone()),
            (StatusCode::OK, json!(3)),
            "{}",
            got.1
        );
        // After it: refused with the rule, nothing changes.
        let start = now(&srv).await;
        set_clock(&srv, start + Duration::days(8)).await;
        let got = patch(2).await;
        assert_eq!(
            (got.0, code(&got)),
            (StatusCode::BAD_REQUEST, "removalWindowClosed".into()),
            "{}",
            got.1
        );
        assert_eq!(sub(&srv, &id).await["quantity"], 3);
    }
);

/// PostgreSQL: taking over a user-bought subscription by moving its users to the central
/// licenses locks those users before the central pool, the order a license batch takes them
/// in. Here another transaction holds one of the users (as a batch of another server would,
/// about to lock the pool): while the take-over waits for that user, the central pool can
/// still be locked as a batch locks it. Locking the pool first could deadlock with such a
/// batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_take_over_waits_for_the_users_before_it_locks_the_central_pool() {
    let Some(srv) = crate::common::Srv::start(crate::common::Backend::Postgres).await else {
        eprintln!("skipped: SEATKEEPER_TEST_PG_URL is not set");
        return;
    };
    let buyer = member(&srv, "bought@contoso.test").await;
    let pm = card(&srv, &buyer, "4242 4242 4242 4242").await;
    users(&srv, "held", 2).await;
    let got = purchase(&srv, &buyer, "SUITE_STANDARD", 3, &pm).await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    let id = got.1["id"].as_str().expect("id").to_string();
    let got = srv
        .call_as(
            &buyer,
            "POST",
            &format!("{API}/subscriptions/{id}/assign"),
            Some(json!({"userIds": ["held0@contoso.test", "held1@contoso.test"]})),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    // The purchaser holds one of its licenses, and moves too.
    srv.buy("SUITE_STANDARD", 3).await;
    let mut other = srv.hold_user("held1@contoso.test").await;
    let (app, op, target) = (srv.app.clone(), srv.operator(), srv.sku("SUITE_STANDARD"));
    let key = id.clone();
    let take_over = tokio::spawn(async move {
        app.take_over(
            &op,
            &key,
            seatkeeper_app::selfservice::TakeOver::Move { target },
        )
        .await
    });
    srv.wait_for_a_user_lock(
        || take_over.is_finished(),
        "the take-over did not wait for the held user",
    )
    .await;
    let pool = srv
        .lock_central_pool_nowait(&mut other, "SUITE_STANDARD")
        .await
        .expect("the central pool is free while the take-over waits for the user");
    assert!(pool.is_some());
    other.commit().await.expect("let the user go");
    let s = take_over
        .await
        .expect("task")
        .expect("the take-over succeeds");
    assert_eq!(s.life.status, seatkeeper_domain::lifecycle::Status::Deleted);
    let row = license_row(&srv, "SUITE_STANDARD")
        .await
        .expect("central row");
    assert_eq!(
        (row["total"].clone(), row["assigned"].clone()),
        (json!(3), json!(3)),
        "{row}"
    );
}
