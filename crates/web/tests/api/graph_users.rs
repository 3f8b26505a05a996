//! Graph-compatible users: CRUD, shapes, tenant isolation, permissions, bad bodies.

use crate::common::*;
use reqwest::StatusCode;
use seatkeeper_domain::roles::Role;
use serde_json::{Value, json};

backends!(user_crud_round_trip, |srv| async move {
    let (st, created) = srv
        .post(
            "/v1.0/users",
            json!({
                "accountEnabled": true, "displayName": "Adele Vance", "mailNickname": "adele",
                "userPrincipalName": "adele@contoso.test", "usageLocation": "DK",
                "givenName": "Adele", "surname": "Vance", "jobTitle": "Analyst", "department": "Sales",
                "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"}
            }),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    for (k, v) in [
        ("userPrincipalName", "adele@contoso.test"),
        ("displayName", "Adele Vance"),
        ("mailNickname", "adele"),
        ("usageLocation", "DK"),
        ("userType", "Member"),
        ("givenName", "Adele"),
        ("surname", "Vance"),
        ("jobTitle", "Analyst"),
        ("department", "Sales"),
        ("mail", "adele@contoso.test"),
    ] {
        assert_eq!(created[k], v, "{k} in {created}");
    }
    assert_eq!(created["accountEnabled"], true);
    assert_eq!(created["assignedLicenses"], json!([]));
    assert_eq!(created["assignedPlans"], json!([]));
    assert_eq!(created["licenseAssignmentStates"], json!([]));
    let text = created.to_string();
    assert!(
        !text.contains("xWwvJ") && !text.contains("password"),
        "password echoed: {text}"
    );

    // Read by id and by userPrincipalName (any case).
    let (st, by_id) = srv.get(&format!("/v1.0/users/{id}")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(by_id["displayName"], "Adele Vance");
    assert_eq!(
        by_id["@odata.context"],
        format!("{}/v1.0/$metadata#users/$entity", srv.url)
    );
    let (st, by_upn) = srv.get("/v1.0/users/Adele@Contoso.test").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(by_upn["id"], id.as_str());

    // PATCH answers 204; null clears an optional property.
    let (st, body) = srv
        .patch(
            &format!("/v1.0/users/{id}"),
            json!({"displayName": "Adele V.", "jobTitle": null, "accountEnabled": false}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let (_, u) = srv.get(&format!("/v1.0/users/{id}")).await;
    assert_eq!(u["displayName"], "Adele V.");
    assert_eq!(u["jobTitle"], Value::Null);
    assert_eq!(u["accountEnabled"], false);

    // Duplicate userPrincipalName is a 400 in Graph's envelope.
    let got = srv
        .post(
            "/v1.0/users",
            json!({"displayName": "Again", "userPrincipalName": "ADELE@contoso.test", "accountEnabled": true, "mailNickname": "a"}),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "already exists");
    assert_eq!(got.1["error"]["code"], "Request_BadRequest");

    // DELETE answers 204, then the user is gone.
    let (st, _) = srv.delete(&format!("/v1.0/users/{id}")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let got = srv.get(&format!("/v1.0/users/{id}")).await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
    assert_eq!(got.1["error"]["code"], "Request_ResourceNotFound");
    let got = srv.delete(&format!("/v1.0/users/{id}")).await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
});

backends!(unknown_and_foreign_ids_are_404, |srv| async move {
    let other = srv
        .app
        .create_tenant("Fabrikam", "admin@fabrikam.test", Some("US"), None)
        .await
        .unwrap();
    // The other tenant's admin is invisible here, by id and by userPrincipalName.
    for path in [
        format!("/v1.0/users/{}", other.admin_user_id),
        "/v1.0/users/admin@fabrikam.test".to_string(),
        format!("/v1.0/users/{}/licenseDetails", other.admin_user_id),
        format!("/v1.0/users/{}", uuid::Uuid::new_v4()),
        "/v1.0/users/not-a-user".to_string(),
    ] {
        let got = srv.get(&path).await;
        assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
    }
    let got = srv
        .patch(
            &format!("/v1.0/users/{}", other.admin_user_id),
            json!({"displayName": "Hacked"}),
        )
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
    let got = srv
        .delete(&format!("/v1.0/users/{}", other.admin_user_id))
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
    let got = srv
        .post(
            &format!("/v1.0/users/{}/assignLicense", other.admin_user_id),
            json!({"addLicenses": [], "removeLicenses": []}),
        )
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
    // And the other tenant sees only its own users.
    let (st, list) = srv.call_as(&other.token, "GET", "/v1.0/users", None).await;
    assert_eq!(st, StatusCode::OK);
    let upns: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap())
        .collect();
    assert_eq!(upns, vec!["admin@fabrikam.test"]);
    let got = srv
        .call_as(
            &other.token,
            "GET",
            &format!("/v1.0/users/{}", srv.admin),
            None,
        )
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
});

backends!(doubled_slash_and_trailing_paths_work, |srv| async move {
    let (st, list) = srv.get("/v1.0//users").await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert!(list["value"].as_array().unwrap().len() == 1);
    let (st, u) = srv.get(&format!("/v1.0//users/{}", srv.admin)).await;
    assert_eq!(st, StatusCode::OK, "{u}");
    let (st, skus) = srv.get("/v1.0//subscribedSkus").await;
    assert_eq!(st, StatusCode::OK, "{skus}");
    let (st, body) = srv
        .post(
            "/v1.0//users",
            json!({"displayName": "Slash", "userPrincipalName": "slash@contoso.test", "accountEnabled": true, "mailNickname": "slash"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
});

backends!(me_is_the_signed_in_user, |srv| async move {
    let (st, me) = srv.get("/v1.0/me").await;
    assert_eq!(st, StatusCode::OK, "{me}");
    assert_eq!(me["userPrincipalName"], "admin@contoso.test");
    // An end user may read themselves but not the directory.
    let id = srv.user("enduser@contoso.test", Some("US")).await;
    let token = srv
        .app
        .create_token(&srv.operator(), id, "t", None)
        .await
        .unwrap()
        .token;
    let (st, me) = srv.call_as(&token, "GET", "/v1.0/me", None).await;
    assert_eq!(st, StatusCode::OK, "{me}");
    assert_eq!(me["id"], id.to_string());
    let (st, _) = srv
        .call_as(
            &token,
            "GET",
            &format!("/v1.0/users/{id}/licenseDetails"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let got = srv.call_as(&token, "GET", "/v1.0/users", None).await;
    assert_error(&got, StatusCode::FORBIDDEN, "Insufficient privileges");
    assert_eq!(got.1["error"]["code"], "Authorization_RequestDenied");
});

backends!(directory_permissions, |srv| async move {
    let reader = srv
        .token_with_roles("reader@contoso.test", &[Role::GlobalReader])
        .await;
    let (st, list) = srv.call_as(&reader, "GET", "/v1.0/users", None).await;
    assert_eq!(st, StatusCode::OK, "{list}");
    let (st, _) = srv.call_as(&reader, "GET", "/v1.0/groups", None).await;
    assert_eq!(st, StatusCode::OK);
    let body = json!({"displayName": "X", "userPrincipalName": "x@contoso.test", "accountEnabled": true, "mailNickname": "x"});
    let got = srv
        .call_as(&reader, "POST", "/v1.0/users", Some(body))
        .await;
    assert_error(&got, StatusCode::FORBIDDEN, "Insufficient privileges");
    let got = srv
        .call_as(
            &reader,
            "PATCH",
            &format!("/v1.0/users/{}", srv.admin),
            Some(json!({"displayName": "Y"})),
        )
        .await;
    assert_error(&got, StatusCode::FORBIDDEN, "Insufficient privileges");
    let got = srv
        .call_as(
            &reader,
            "DELETE",
            &format!("/v1.0/users/{}", srv.admin),
            None,
        )
        .await;
    assert_error(&got, StatusCode::FORBIDDEN, "Insufficient privileges");
    // A License admin may set the usage location only.
    let license_admin = srv
        .token_with_roles("lic@contoso.test", &[Role::LicenseAdmin])
        .await;
    let target = srv.user("target@contoso.test", None).await;
    let (st, body) = srv
        .call_as(
            &license_admin,
            "PATCH",
            &format!("/v1.0/users/{target}"),
            Some(json!({"usageLocation": "FR"})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let got = srv
        .call_as(
            &license_admin,
            "PATCH",
            &format!("/v1.0/users/{target}"),
            Some(json!({"displayName": "Z"})),
        )
        .await;
    assert_error(&got, StatusCode::FORBIDDEN, "Insufficient privileges");
    // The last Global admin cannot be deleted.
    let got = srv.delete(&format!("/v1.0/users/{}", srv.admin)).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "last enabled Global admin");
});

backends!(bad_bodies_are_4xx_with_clear_messages, |srv| async move {
    let url = format!("{}/v1.0/users", srv.url);
    let client = reqwest::Client::new();
    let send = |body: String, ct: &'static str| {
        client
            .post(url.clone())
            .bearer_auth(srv.token.clone())
            .header("content-type", ct)
            .body(body)
            .send()
    };
    async fn read(r: reqwest::Response) -> (StatusCode, Value) {
        let st = r.status();
        let t = r.text().await.unwrap();
        (st, serde_json::from_str(&t).unwrap_or(Value::String(t)))
    }
    let got = read(
        send("{\"displayName\": ".into(), "application/json")
            .await
            .unwrap(),
    )
    .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "not valid JSON");
    let got = read(send("[1, 2]".into(), "application/json").await.unwrap()).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "must be a JSON object");
    let got = read(send("{}".into(), "text/plain").await.unwrap()).await;
    assert_error(
        &got,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Content-Type: application/json",
    );
    let big = format!("{{\"displayName\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let got = read(send(big, "application/json").await.unwrap()).await;
    assert_error(&got, StatusCode::PAYLOAD_TOO_LARGE, "larger than");

    let cases = [
        (
            json!({"displayName": 7, "userPrincipalName": "a@b.co"}),
            "displayName must be a string, not a number.",
        ),
        (
            json!({"displayName": "A", "userPrincipalName": "a@b.co", "accountEnabled": "yes"}),
            "accountEnabled must be true or false",
        ),
        (
            json!({"displayName": "A", "userPrincipalName": ["a@b.co"]}),
            "userPrincipalName must be a string",
        ),
        (
            json!({"displayName": "A", "userPrincipalName": "a@b.co", "favouriteColour": "red"}),
            "Property 'favouriteColour' is not supported",
        ),
        (
            json!({"displayName": "A", "userPrincipalName": "a@b.co", "assignedLicenses": []}),
            "assignLicense",
        ),
        (
            json!({"displayName": "A", "userPrincipalName": "not an upn"}),
            "userPrincipalName 'not an upn' is not valid",
        ),
        (json!({"displayName": "A"}), "userPrincipalName is required"),
        (
            json!({"userPrincipalName": "a@b.co"}),
            "displayName is required",
        ),
        (
            json!({"displayName": "A", "userPrincipalName": "a@b.co", "usageLocation": "Narnia"}),
            "usageLocation",
        ),
        (
            json!({"displayName": "A", "userPrincipalName": "a@b.co", "userType": "Admin"}),
            "userType 'Admin' is not valid",
        ),
        (
            json!({"displayName": "x'); DROP TABLE users; --", "userPrincipalName": "robert'--@b.co\u{0}"}),
            "is not valid",
        ),
    ];
    for (body, needle) in cases {
        let got = srv.post("/v1.0/users", body.clone()).await;
        assert_error(&got, StatusCode::BAD_REQUEST, needle);
        assert_eq!(got.1["error"]["code"], "Request_BadRequest", "{body}");
    }
    let got = srv
        .patch(
            &format!("/v1.0/users/{}", srv.admin),
            json!({"usageLocation": 12}),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "usageLocation must be a string",
    );
    // Injection-looking text is stored as text.
    let (st, u) = srv
        .post("/v1.0/users", json!({"displayName": "Robert'); DROP TABLE users; --", "userPrincipalName": "bobby@contoso.test"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{u}");
    let (_, again) = srv.get("/v1.0/users/bobby@contoso.test").await;
    assert_eq!(again["displayName"], "Robert'); DROP TABLE users; --");
    // Unknown paths and methods under /v1.0 are Graph errors too.
    let got = srv.get("/v1.0/applications").await;
    assert_error(&got, StatusCode::NOT_FOUND, "No such endpoint");
    let got = srv.call("PUT", "/v1.0/users", Some(json!({}))).await;
    assert_error(&got, StatusCode::METHOD_NOT_ALLOWED, "does not support");
    let got = srv.get("/v1.0/users/%FF%FE").await;
    assert!(got.0.is_client_error(), "{got:?}");
    // NUL characters never reach the database (PostgreSQL refuses them in text).
    let got = srv.get("/v1.0/users/a%00b@contoso.test").await;
    assert_error(&got, StatusCode::BAD_REQUEST, "control characters");
    let got = srv
        .get("/v1.0/users?$filter=displayName%20eq%20%27a%00%27")
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "control characters");
    let got = srv
        .post(
            "/v1.0/groups/00000000-0000-0000-0000-000000000000/members/$ref",
            json!({"@odata.id": "https://x/v1.0/users/a%00"}),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "control characters");
});

backends!(password_profile_is_selectable_and_null, |srv| async move {
    // A password is set: selecting passwordProfile still answers null, never a hash.
    srv.user("pw@contoso.test", Some("US")).await;
    let (st, body) = srv
        .patch(
            "/v1.0/users/pw@contoso.test",
            json!({"passwordProfile": {"password": "Selected-pw-9", "forceChangePasswordNextSignIn": false}}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let (st, u) = srv
        .get("/v1.0/users/pw@contoso.test?$select=displayName,passwordProfile")
        .await;
    assert_eq!(st, StatusCode::OK, "{u}");
    assert_eq!(u["passwordProfile"], Value::Null, "{u}");
    assert!(u.get("passwordProfile").is_some(), "{u}");
    assert!(u["displayName"].is_string(), "{u}");
    let text = u.to_string();
    assert!(
        !text.contains("argon2") && !text.contains("Selected-pw-9"),
        "{text}"
    );
    let (st, list) = srv
        .get("/v1.0/users?$select=id,passwordProfile&$top=5")
        .await;
    assert_eq!(st, StatusCode::OK, "{list}");
    for u in list["value"].as_array().expect("value") {
        assert_eq!(u["passwordProfile"], Value::Null, "{u}");
    }
});

backends!(select_on_a_single_user, |srv| async move {
    let (st, u) = srv
        .get(&format!(
            "/v1.0/users/{}?$select=displayName,usageLocation",
            srv.admin
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{u}");
    let mut keys: Vec<&String> = u
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !k.starts_with('@'))
        .collect();
    keys.sort();
    assert_eq!(keys, vec!["displayName", "id", "usageLocation"]);
    let got = srv
        .get(&format!(
            "/v1.0/users/{}?$select=displayName,shoeSize",
            srv.admin
        ))
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'.",
    );
    let got = srv.get(&format!("/v1.0/users/{}?$top=3", srv.admin)).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "not supported on this endpoint",
    );
});

backends!(
    a_guest_user_name_with_ext_marks_is_taken_and_found,
    |srv| async move {
        let upn = "ann_fabrikam.example#EXT#@contoso.test";
        let got = srv
            .post(
                "/v1.0/users",
                json!({"accountEnabled": true, "displayName": "Ann (Fabrikam)", "mailNickname": "ann",
                       "userPrincipalName": upn, "userType": "Guest"}),
            )
            .await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        assert_eq!(got.1["userPrincipalName"], upn);
        let got = srv
            .get("/v1.0/users/ann_fabrikam.example%23EXT%23@contoso.test")
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["userType"], "Guest");
        // Marks that no user name has are still refused, saying which are allowed.
        let got = srv
            .post(
                "/v1.0/users",
                json!({"accountEnabled": true, "displayName": "Bad", "mailNickname": "bad",
                       "userPrincipalName": "bad name@contoso.test"}),
            )
            .await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
        let m = got.1["error"]["message"].as_str().unwrap_or_default();
        assert!(m.contains("# ! ^ ~ before the @"), "{m}");
    }
);
