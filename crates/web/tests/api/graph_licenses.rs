//! Graph-compatible licensing: subscribedSkus, directory/subscriptions, assignLicense,
//! licenseDetails, every L5 error message, permissions.

use crate::common::*;
use reqwest::StatusCode;
use seatkeeper_app::Actor;
use seatkeeper_domain::lifecycle::BillingFrequency;
use seatkeeper_domain::roles::Role;
use serde_json::{Value, json};

async fn sku_row(srv: &Srv, part: &str) -> Value {
    let (st, list) = srv.get("/v1.0/subscribedSkus").await;
    assert_eq!(st, StatusCode::OK, "{list}");
    list["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["skuPartNumber"] == part)
        .cloned()
        .unwrap_or_else(|| panic!("no {part} in {list}"))
}

fn assign(sku: impl ToString, disabled: &[String]) -> Value {
    json!({"addLicenses": [{"skuId": sku.to_string(), "disabledPlans": disabled}], "removeLicenses": []})
}

backends!(subscribed_skus_and_subscriptions_shapes, |srv| async move {
    srv.buy("SUITE_PREMIUM", 5).await;
    let second = srv.buy("SUITE_PREMIUM", 8).await;
    srv.buy("EXTRA_STORAGE", 100).await;
    let premium = srv.sku("SUITE_PREMIUM");
    let row = sku_row(&srv, "SUITE_PREMIUM").await;
    assert_eq!(row["id"], format!("{}_{}", srv.tenant, premium));
    assert_eq!(row["skuId"], premium.to_string());
    assert_eq!(row["appliesTo"], "User");
    assert_eq!(row["capabilityStatus"], "Enabled");
    assert_eq!(row["consumedUnits"], 0);
    assert_eq!(
        row["prepaidUnits"],
        json!({"enabled": 13, "suspended": 0, "warning": 0, "lockedOut": 0})
    );
    assert_eq!(row["accountId"], srv.tenant.to_string());
    assert_eq!(row["accountName"], "Contoso Test");
    assert_eq!(row["subscriptionIds"].as_array().unwrap().len(), 2);
    let plans = row["servicePlans"].as_array().unwrap();
    assert_eq!(plans.len(), 9);
    let mail = plans
        .iter()
        .find(|p| p["servicePlanName"] == "MAIL_PLAN2")
        .unwrap();
    assert_eq!(mail["servicePlanId"], srv.plan("MAIL_PLAN2"));
    assert_eq!(mail["provisioningStatus"], "Success");
    assert_eq!(mail["appliesTo"], "User");
    let storage = sku_row(&srv, "EXTRA_STORAGE").await;
    assert_eq!(storage["appliesTo"], "Company");

    // One by id; another tenant's id or a product not owned is a 404.
    let (st, one) = srv
        .get(&format!("/v1.0/subscribedSkus/{}_{}", srv.tenant, premium))
        .await;
    assert_eq!(st, StatusCode::OK, "{one}");
    assert_eq!(one["skuPartNumber"], "SUITE_PREMIUM");
    assert_eq!(
        one["@odata.context"],
        format!("{}/v1.0/$metadata#subscribedSkus/$entity", srv.url)
    );
    let got = srv
        .get(&format!(
            "/v1.0/subscribedSkus/{}_{}",
            uuid::Uuid::new_v4(),
            premium
        ))
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
    let got = srv
        .get(&format!(
            "/v1.0/subscribedSkus/{}_{}",
            srv.tenant,
            srv.sku("BI_PRO")
        ))
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
    let got = srv.get("/v1.0/subscribedSkus/garbage").await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
    let (st, sel) = srv
        .get("/v1.0/subscribedSkus?$select=skuPartNumber,consumedUnits")
        .await;
    assert_eq!(st, StatusCode::OK);
    let mut keys: Vec<String> = sel["value"][0]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    keys.sort();
    assert_eq!(keys, vec!["consumedUnits", "id", "skuPartNumber"]);

    // directory/subscriptions: one per subscription, companySubscription shape.
    let (st, subs) = srv.get("/v1.0/directory/subscriptions").await;
    assert_eq!(st, StatusCode::OK, "{subs}");
    let list = subs["value"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    let s = list.iter().find(|s| s["id"] == second.as_str()).unwrap();
    assert_eq!(s["skuId"], premium.to_string());
    assert_eq!(s["skuPartNumber"], "SUITE_PREMIUM");
    assert_eq!(s["status"], "Enabled");
    assert_eq!(s["totalLicenses"], 8);
    assert_eq!(s["isTrial"], false);
    assert!(s["commerceSubscriptionId"].is_string());
    let created = s["createdDateTime"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "{created}"
    );
    let next = s["nextLifecycleDateTime"].as_str().unwrap();
    assert!(next > created, "{next} should be after {created}");
    assert_eq!(s["ownerId"], Value::Null);
    assert_eq!(s["ownerType"], Value::Null);
    let (st, one) = srv
        .get(&format!("/v1.0/directory/subscriptions/{second}"))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(one["totalLicenses"], 8);
    let got = srv
        .get(&format!(
            "/v1.0/directory/subscriptions/{}",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");

    // Cancelled inside the window: LockedOut, and the SKU's prepaid units move.
    srv.app
        .cancel(&srv.operator(), &second, "BoughtByMistake", None)
        .await
        .unwrap();
    let (_, one) = srv
        .get(&format!("/v1.0/directory/subscriptions/{second}"))
        .await;
    assert_eq!(one["status"], "LockedOut");
    let row = sku_row(&srv, "SUITE_PREMIUM").await;
    assert_eq!(
        row["prepaidUnits"],
        json!({"enabled": 5, "suspended": 0, "warning": 0, "lockedOut": 8})
    );

    // Another tenant sees none of it.
    let other = srv
        .app
        .create_tenant("Fabrikam", "admin@fabrikam.test", None, None)
        .await
        .unwrap();
    let (_, theirs) = srv
        .call_as(&other.token, "GET", "/v1.0/subscribedSkus", None)
        .await;
    assert_eq!(theirs["value"], json!([]));
    let got = srv
        .call_as(
            &other.token,
            "GET",
            &format!("/v1.0/directory/subscriptions/{second}"),
            None,
        )
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
});

backends!(
    assign_with_disabled_plans_then_license_details,
    |srv| async move {
        srv.buy("SUITE_STANDARD", 3).await;
        let sku = srv.sku("SUITE_STANDARD");
        let user = srv.user("adele@contoso.test", Some("DK")).await;
        let off = srv.plan("OFFICE_DESKTOP");
        let (st, u) = srv
            .post(
                &format!("/v1.0/users/{user}/assignLicense"),
                assign(sku, std::slice::from_ref(&off)),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{u}");
        assert_eq!(u["id"], user.to_string());
        assert_eq!(
            u["assignedLicenses"],
            json!([{"skuId": sku.to_string(), "disabledPlans": [off]}])
        );
        let plans = u["assignedPlans"].as_array().unwrap();
        assert_eq!(plans.len(), 6);
        let desk = plans
            .iter()
            .find(|p| p["servicePlanId"] == off.as_str())
            .unwrap();
        assert_eq!(desk["capabilityStatus"], "Deleted");
        let chat = plans
            .iter()
            .find(|p| p["servicePlanId"] == srv.plan("CHAT"))
            .unwrap();
        assert_eq!(chat["capabilityStatus"], "Enabled");
        assert_eq!(chat["service"], "CHAT");
        assert!(chat["assignedDateTime"].is_string());
        let state = &u["licenseAssignmentStates"][0];
        assert_eq!(state["skuId"], sku.to_string());
        assert_eq!(state["state"], "Active");
        assert_eq!(state["error"], "None");
        assert_eq!(state["assignedByGroup"], Value::Null);
        assert_eq!(state["disabledPlans"], json!([off]));

        let (st, details) = srv.get(&format!("/v1.0/users/{user}/licenseDetails")).await;
        assert_eq!(st, StatusCode::OK, "{details}");
        let d = &details["value"][0];
        assert_eq!(d["skuId"], sku.to_string());
        assert_eq!(d["skuPartNumber"], "SUITE_STANDARD");
        assert!(d["id"].is_string());
        for p in d["servicePlans"].as_array().unwrap() {
            let want = if p["servicePlanId"] == off.as_str() {
                "Disabled"
            } else {
                "Success"
            };
            assert_eq!(p["provisioningStatus"], want, "{p}");
            assert_eq!(p["appliesTo"], "User");
        }
        // The user reads the same through GET and the list.
        let (_, again) = srv.get(&format!("/v1.0/users/{user}")).await;
        assert_eq!(again["assignedLicenses"], u["assignedLicenses"]);

        // Changing plans of a held product is an update, not a second seat.
        let (st, u) = srv
            .post(
                &format!("/v1.0/users/{user}/assignLicense"),
                assign(sku, &[]),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{u}");
        assert_eq!(u["assignedLicenses"][0]["disabledPlans"], json!([]));
        assert_eq!(sku_row(&srv, "SUITE_STANDARD").await["consumedUnits"], 1);

        // Removing answers the user without it and frees the seat.
        let (st, u) = srv
            .post(
                &format!("/v1.0/users/{user}/assignLicense"),
                json!({"addLicenses": [], "removeLicenses": [sku.to_string()]}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{u}");
        assert_eq!(u["assignedLicenses"], json!([]));
        assert_eq!(sku_row(&srv, "SUITE_STANDARD").await["consumedUnits"], 0);
        let (_, details) = srv.get(&format!("/v1.0/users/{user}/licenseDetails")).await;
        assert_eq!(details["value"], json!([]));
    }
);

backends!(repeated_assign_is_idempotent, |srv| async move {
    srv.buy("SUITE_STANDARD", 2).await;
    let sku = srv.sku("SUITE_STANDARD");
    let user = srv.user("retry@contoso.test", Some("US")).await;
    let body = assign(sku, &[srv.plan("WHITEBOARD")]);
    let mut answers = Vec::new();
    for _ in 0..3 {
        let (st, u) = srv
            .post(&format!("/v1.0/users/{user}/assignLicense"), body.clone())
            .await;
        assert_eq!(st, StatusCode::OK, "{u}");
        answers.push(u["assignedLicenses"].clone());
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    let row = sku_row(&srv, "SUITE_STANDARD").await;
    assert_eq!(row["consumedUnits"], 1);
    // Concurrent repeats (as a retrying client may send) still take one seat.
    let mut handles = Vec::new();
    let user2 = srv.user("retry2@contoso.test", Some("US")).await;
    for _ in 0..6 {
        let url = format!("{}/v1.0/users/{user2}/assignLicense", srv.url);
        let token = srv.token.clone();
        let body = body.clone();
        handles.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(sku_row(&srv, "SUITE_STANDARD").await["consumedUnits"], 2);
});

backends!(add_and_remove_are_atomic, |srv| async move {
    srv.buy("SUITE_STANDARD", 1).await;
    srv.buy("CHAT_ESSENTIALS", 1).await;
    let standard = srv.sku("SUITE_STANDARD");
    let chat = srv.sku("CHAT_ESSENTIALS");
    let holder = srv.user("holder@contoso.test", Some("US")).await;
    let user = srv.user("swap@contoso.test", Some("US")).await;
    // The only SUITE_STANDARD seat goes to someone else.
    let (st, _) = srv
        .post(
            &format!("/v1.0/users/{holder}/assignLicense"),
            assign(standard, &[]),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = srv
        .post(
            &format!("/v1.0/users/{user}/assignLicense"),
            assign(chat, &[]),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    // Swapping CHAT_ESSENTIALS for SUITE_STANDARD fails on seats: the removal is undone too.
    let got = srv
        .post(
            &format!("/v1.0/users/{user}/assignLicense"),
            json!({"addLicenses": [{"skuId": standard.to_string(), "disabledPlans": []}], "removeLicenses": [chat.to_string()]}),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        &format!("Subscription with SKU {standard} does not have any available licenses."),
    );
    let (_, u) = srv.get(&format!("/v1.0/users/{user}")).await;
    assert_eq!(
        u["assignedLicenses"],
        json!([{"skuId": chat.to_string(), "disabledPlans": []}])
    );
    assert_eq!(sku_row(&srv, "CHAT_ESSENTIALS").await["consumedUnits"], 1);
    // With the seat freed, the same request goes through as one change.
    let (st, _) = srv
        .post(
            &format!("/v1.0/users/{holder}/assignLicense"),
            json!({"addLicenses": [], "removeLicenses": [standard.to_string()]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, u) = srv
        .post(
            &format!("/v1.0/users/{user}/assignLicense"),
            json!({"addLicenses": [{"skuId": standard.to_string(), "disabledPlans": []}], "removeLicenses": [chat.to_string()]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{u}");
    assert_eq!(
        u["assignedLicenses"],
        json!([{"skuId": standard.to_string(), "disabledPlans": []}])
    );
    assert_eq!(sku_row(&srv, "CHAT_ESSENTIALS").await["consumedUnits"], 0);
    assert_eq!(sku_row(&srv, "SUITE_STANDARD").await["consumedUnits"], 1);
});

backends!(every_graph_error_message, |srv| async move {
    srv.buy("SUITE_STANDARD", 1).await;
    srv.buy("MAIL_PLAN1", 2).await;
    srv.buy("MAIL_PLAN2", 2).await;
    srv.buy("EXTRA_STORAGE", 10).await;
    let standard = srv.sku("SUITE_STANDARD");
    let a = srv.user("a@contoso.test", Some("US")).await;
    let b = srv.user("b@contoso.test", Some("US")).await;
    let post = |user: seatkeeper_domain::UserId, body: Value| {
        let path = format!("/v1.0/users/{user}/assignLicense");
        let srv = &srv;
        async move { srv.post(&path, body).await }
    };

    // Not enough licenses, with the counts.
    assert_eq!(post(a, assign(standard, &[])).await.0, StatusCode::OK);
    let got = post(b, assign(standard, &[])).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        &format!("Subscription with SKU {standard} does not have any available licenses."),
    );
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "1 license needed, 0 available",
    );
    assert_eq!(got.1["error"]["code"], "Request_BadRequest");
    // A product the organization does not own.
    let bi = srv.sku("BI_PRO");
    let got = post(b, assign(bi, &[])).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        &format!("Subscription with SKU {bi} does not have any available licenses."),
    );

    // Mutually exclusive plans (MAIL_PLAN1 and MAIL_PLAN2).
    assert_eq!(
        post(b, assign(srv.sku("MAIL_PLAN1"), &[])).await.0,
        StatusCode::OK
    );
    let got = post(b, assign(srv.sku("MAIL_PLAN2"), &[])).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "License assignment failed because service plans MAIL_PLAN1, MAIL_PLAN2 are mutually exclusive.",
    );
    assert_error(&got, StatusCode::BAD_REQUEST, "b@contoso.test");

    // A dependency turned off: WHITEBOARD requires CHAT.
    let c = srv.user("c@contoso.test", Some("US")).await;
    let (st, _) = srv
        .post(
            &format!("/v1.0/users/{a}/assignLicense"),
            json!({"addLicenses": [], "removeLicenses": [standard.to_string()]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let got = post(c, assign(standard, &[srv.plan("CHAT")])).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "License assignment failed because service plan WHITEBOARD depends on the service plan(s) CHAT.",
    );

    // A Company product cannot go to a user.
    let storage = srv.sku("EXTRA_STORAGE");
    let got = post(c, assign(storage, &[])).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        &format!("License {storage} cannot be assigned to a user."),
    );

    // A plan that is not part of the product, an unknown product.
    let got = post(c, assign(standard, &[srv.plan("BI_PRO")])).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "is not part of SUITE_STANDARD",
    );
    let unknown = uuid::Uuid::new_v4();
    let got = post(c, assign(unknown, &[])).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        &format!("Product {unknown} is not in the catalog."),
    );

    // Invalid usage location: a tenant without a default, a user without a location. The check
    // comes before the seat check, so it shows even with no licenses left.
    let other = srv
        .app
        .create_tenant("Fabrikam", "admin@fabrikam.test", None, None)
        .await
        .unwrap();
    let op = Actor::operator(other.tenant_id);
    srv.app
        .buy(&op, standard, 1, BillingFrequency::Monthly)
        .await
        .unwrap();
    let input = seatkeeper_app::directory::UserInput {
        user_principal_name: Some("nowhere@fabrikam.test".into()),
        display_name: Some("Nowhere".into()),
        ..Default::default()
    };
    let nowhere = srv.app.create_user(&op, &input).await.unwrap();
    let got = srv
        .call_as(
            &other.token,
            "POST",
            &format!("/v1.0/users/{}/assignLicense", nowhere.id),
            Some(assign(standard, &[])),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "License assignment cannot be done for user with invalid usage location.",
    );
    assert!(
        got.1["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("License assignment cannot be done for user with invalid usage location.")
    );
    assert_error(&got, StatusCode::BAD_REQUEST, "nowhere@fabrikam.test");
    // Setting the location fixes it.
    let (st, _) = srv
        .call_as(
            &other.token,
            "PATCH",
            &format!("/v1.0/users/{}", nowhere.id),
            Some(json!({"usageLocation": "NL"})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, u) = srv
        .call_as(
            &other.token,
            "POST",
            &format!("/v1.0/users/{}/assignLicense", nowhere.id),
            Some(assign(standard, &[])),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{u}");
    // In a tenant with a default, a user without a location takes it.
    let d = srv.user("default@contoso.test", None).await;
    let (st, u) = post(d, assign(srv.sku("MAIL_PLAN1"), &[])).await;
    assert_eq!(st, StatusCode::OK, "{u}");
    assert_eq!(u["usageLocation"], "US");
});

backends!(assign_license_body_errors, |srv| async move {
    let user = srv.admin;
    let path = format!("/v1.0/users/{user}/assignLicense");
    let sku = srv.sku("SUITE_STANDARD").to_string();
    let cases = [
        (
            json!({"addLicenses": [{"skuId": "not-a-guid"}], "removeLicenses": []}),
            "addLicenses[0].skuId 'not-a-guid' is not a valid GUID",
        ),
        (
            json!({"addLicenses": [{"skuId": sku, "disabledPlans": ["x"]}], "removeLicenses": []}),
            "addLicenses[0].disabledPlans[0] 'x' is not a valid GUID",
        ),
        (
            json!({"addLicenses": [], "removeLicenses": ["' OR 1=1 --"]}),
            "removeLicenses[0] '' OR 1=1 --' is not a valid GUID",
        ),
        (
            json!({"addLicenses": [{"skuId": 42}], "removeLicenses": []}),
            "addLicenses[0].skuId must be a GUID string, not a number.",
        ),
        (
            json!({"addLicenses": "all", "removeLicenses": []}),
            "addLicenses must be an array",
        ),
        (
            json!({"addLicenses": [], "removeLicenses": {}}),
            "removeLicenses must be an array of GUID strings",
        ),
        (
            json!({"addLicense": []}),
            "Property 'addLicense' is not a parameter of assignLicense",
        ),
        (json!({}), "addLicenses and removeLicenses are required"),
        (json!({"addLicenses": []}), "removeLicenses is required"),
        (
            json!({"addLicenses": [{"skuId": sku}], "removeLicenses": [sku]}),
            "is both added and removed",
        ),
        (
            json!({"addLicenses": [{"skuId": sku}, {"skuId": sku}], "removeLicenses": []}),
            "is named twice in the licenses to add",
        ),
    ];
    for (body, needle) in cases {
        let got = srv.post(&path, body).await;
        assert_error(&got, StatusCode::BAD_REQUEST, needle);
        assert_eq!(got.1["error"]["code"], "Request_BadRequest");
    }
    let got = srv
        .post(
            "/v1.0/users/nobody@contoso.test/assignLicense",
            assign(&sku, &[]),
        )
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
    let resp = srv
        .raw(reqwest::Method::POST, &path)
        .header("content-type", "application/json")
        .body("{\"addLicenses\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
});

backends!(license_permissions, |srv| async move {
    srv.buy("SUITE_STANDARD", 3).await;
    let sku = srv.sku("SUITE_STANDARD");
    let user = srv.user("p@contoso.test", Some("US")).await;
    let reader = srv
        .token_with_roles("reader@contoso.test", &[Role::GlobalReader])
        .await;
    let (st, _) = srv
        .call_as(&reader, "GET", "/v1.0/subscribedSkus", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = srv
        .call_as(&reader, "GET", "/v1.0/directory/subscriptions", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = srv
        .call_as(
            &reader,
            "GET",
            &format!("/v1.0/users/{user}/licenseDetails"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let got = srv
        .call_as(
            &reader,
            "POST",
            &format!("/v1.0/users/{user}/assignLicense"),
            Some(assign(sku, &[])),
        )
        .await;
    assert_error(&got, StatusCode::FORBIDDEN, "Insufficient privileges");
    assert_eq!(got.1["error"]["code"], "Authorization_RequestDenied");
    let billing = srv
        .token_with_roles("billing@contoso.test", &[Role::BillingAdmin])
        .await;
    let got = srv
        .call_as(
            &billing,
            "POST",
            &format!("/v1.0/users/{user}/assignLicense"),
            Some(assign(sku, &[])),
        )
        .await;
    assert_error(&got, StatusCode::FORBIDDEN, "Insufficient privileges");
    let license_admin = srv
        .token_with_roles("lic@contoso.test", &[Role::LicenseAdmin])
        .await;
    let (st, body) = srv
        .call_as(
            &license_admin,
            "POST",
            &format!("/v1.0/users/{user}/assignLicense"),
            Some(assign(sku, &[])),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    // Guests are licensed by Global admins only.
    let guest = srv
        .app
        .create_user(
            &srv.operator(),
            &seatkeeper_app::directory::UserInput {
                user_principal_name: Some("guest_fabrikam.test@contoso.test".into()),
                display_name: Some("Guest".into()),
                user_type: Some("Guest".into()),
                usage_location: Some(Some("GB".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let got = srv
        .call_as(
            &license_admin,
            "POST",
            &format!("/v1.0/users/{}/assignLicense", guest.id),
            Some(assign(sku, &[])),
        )
        .await;
    assert_error(
        &got,
        StatusCode::FORBIDDEN,
        "only a Global admin can assign licenses to guest users",
    );
    assert_eq!(got.1["error"]["code"], "Authorization_RequestDenied");
    let (st, _) = srv
        .post(
            &format!("/v1.0/users/{}/assignLicense", guest.id),
            assign(sku, &[]),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    // An unauthenticated caller gets Graph's 401.
    let got = srv
        .call_as(
            "",
            "POST",
            &format!("/v1.0/users/{user}/assignLicense"),
            Some(assign(sku, &[])),
        )
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "Access token is empty");
    // A token that does not work gets 401 whatever else is wrong with the request, and the
    // bearer of an operator's token is told what it is for.
    let path = format!("/v1.0/users/{user}/assignLicense");
    for (body, path) in [
        (Some(assign(sku, &[])), path.as_str()),
        (Some(json!({"addLicenses": "all"})), path.as_str()),
        (Some(json!([1, 2])), path.as_str()),
        (None, path.as_str()),
        (Some(assign(sku, &[])), "/v1.0/users/a%01b/assignLicense"),
    ] {
        let got = srv.call_as("sk_not-a-token", "POST", path, body).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "Access token is invalid");
    }
    let got = srv
        .call_as("skop_anything", "POST", &path, Some(assign(sku, &[])))
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "operator token");
    // A working token with a bad body gets the body's own error.
    let got = srv.post(&path, json!({"addLicenses": "all"})).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "addLicenses");
});

backends!(deleting_a_user_frees_licenses, |srv| async move {
    srv.buy("SUITE_STANDARD", 1).await;
    let sku = srv.sku("SUITE_STANDARD");
    let user = srv.user("leaver@contoso.test", Some("US")).await;
    let (st, _) = srv
        .post(
            &format!("/v1.0/users/{user}/assignLicense"),
            assign(sku, &[]),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(sku_row(&srv, "SUITE_STANDARD").await["consumedUnits"], 1);
    let (st, _) = srv.delete(&format!("/v1.0/users/{user}")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(sku_row(&srv, "SUITE_STANDARD").await["consumedUnits"], 0);
});
