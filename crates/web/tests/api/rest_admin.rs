//! /api/v1 permissions, tokens, tenant, roles, /me, the catalog, and tenant isolation.

use crate::common::*;
use crate::rest_helpers::*;
use reqwest::StatusCode;
use seatkeeper_domain::roles::Role;
use serde_json::{Value, json};

async fn status_as(
    srv: &Srv,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> StatusCode {
    let got = srv.call_as(token, method, path, body).await;
    if got.0 == StatusCode::FORBIDDEN {
        assert_error(&got, StatusCode::FORBIDDEN, "Insufficient privileges");
    }
    got.0
}

backends!(permissions_matrix, |srv| async move {
    let billing = srv
        .token_with_roles("billing@contoso.test", &[Role::BillingAdmin])
        .await;
    let license = srv
        .token_with_roles("license@contoso.test", &[Role::LicenseAdmin])
        .await;
    let useradm = srv
        .token_with_roles("useradmin@contoso.test", &[Role::UserAdmin])
        .await;
    let reader = srv
        .token_with_roles("reader@contoso.test", &[Role::GlobalReader])
        .await;
    let enduser = srv.token_with_roles("enduser@contoso.test", &[]).await;
    let target = users(&srv, "perm", 3).await;
    let buy_body = json!({"skuId": "SUITE_BASIC", "quantity": 5, "billingFrequency": "monthly"});
    let assign_path = format!("{API}/licenses/SUITE_BASIC/assign");
    let one = |i: usize| json!({"users": [target[i]]});

    // Billing admin buys but does not assign; License admin assigns but does not buy.
    assert_eq!(
        status_as(
            &srv,
            &billing,
            "POST",
            &format!("{API}/subscriptions"),
            Some(buy_body.clone())
        )
        .await,
        StatusCode::CREATED
    );
    assert_eq!(
        status_as(&srv, &billing, "POST", &assign_path, Some(one(0))).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_as(
            &srv,
            &license,
            "POST",
            &format!("{API}/subscriptions"),
            Some(buy_body.clone())
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_as(&srv, &license, "POST", &assign_path, Some(one(0))).await,
        StatusCode::OK
    );
    assert_eq!(
        status_as(&srv, &useradm, "POST", &assign_path, Some(one(1))).await,
        StatusCode::OK
    );
    assert_eq!(
        status_as(
            &srv,
            &useradm,
            "POST",
            &format!("{API}/subscriptions"),
            Some(buy_body.clone())
        )
        .await,
        StatusCode::FORBIDDEN
    );
    let sub_id = srv.get(&format!("{API}/subscriptions")).await.1["value"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(
        status_as(
            &srv,
            &license,
            "PATCH",
            &format!("{API}/subscriptions/{sub_id}"),
            Some(json!({"quantity": 6}))
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_as(
            &srv,
            &billing,
            "PATCH",
            &format!("{API}/subscriptions/{sub_id}"),
            Some(json!({"quantity": 6}))
        )
        .await,
        StatusCode::OK
    );

    // Global reader reads everything and changes nothing (sent mail is for Global admins: see
    // sent_mail_is_for_global_admins).
    for path in [
        "/licenses",
        "/subscriptions",
        "/audit",
        "/catalog",
        "/tenant",
        "/me",
        "/licenses/SUITE_BASIC/users",
        "/licenses/SUITE_BASIC/users.csv",
        "/audit.csv",
    ] {
        assert_eq!(
            status_as(&srv, &reader, "GET", &format!("{API}{path}"), None).await,
            StatusCode::OK,
            "reader GET {path}"
        );
    }
    assert_eq!(
        status_as(
            &srv,
            &reader,
            "GET",
            &format!("{API}/users/{}/licenses", target[0]),
            None
        )
        .await,
        StatusCode::OK
    );
    let writes: Vec<(&str, String, Value)> = vec![
        ("POST", format!("{API}/subscriptions"), buy_body.clone()),
        (
            "PATCH",
            format!("{API}/subscriptions/{sub_id}"),
            json!({"quantity": 7}),
        ),
        (
            "POST",
            format!("{API}/subscriptions/{sub_id}/cancel"),
            json!({"reason": "Other"}),
        ),
        ("POST", assign_path.clone(), one(2)),
        (
            "POST",
            format!("{API}/licenses/SUITE_BASIC/unassign"),
            one(0),
        ),
        (
            "POST",
            format!("{API}/licenses/bulk"),
            json!({"mode": "unassignAll", "users": [target[0]]}),
        ),
        (
            "PUT",
            format!("{API}/users/{}/licenses", target[0]),
            json!({"licenses": []}),
        ),
        (
            "PATCH",
            format!("{API}/users/{}/licenses/SUITE_BASIC", target[0]),
            json!({"disabledPlans": ["OFFICE_WEB"]}),
        ),
        (
            "PATCH",
            format!("{API}/tenant"),
            json!({"name": "Reader Co"}),
        ),
        (
            "PUT",
            format!("{API}/users/{}/roles", target[0]),
            json!({"roles": ["GlobalAdmin"]}),
        ),
        (
            "PUT",
            format!("{API}/dev/clock"),
            json!({"now": "2040-01-01T00:00:00Z"}),
        ),
        (
            "POST",
            format!("{API}/tokens"),
            json!({"userId": target[0], "name": "x"}),
        ),
    ];
    for (m, p, b) in &writes {
        assert_eq!(
            status_as(&srv, &reader, m, p, Some(b.clone())).await,
            StatusCode::FORBIDDEN,
            "reader {m} {p}"
        );
    }
    assert_eq!(
        status_as(&srv, &reader, "POST", &format!("{API}/dev/jobs/run"), None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_as(&srv, &reader, "GET", &format!("{API}/dev/clock"), None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_as(&srv, &license, "GET", &format!("{API}/dev/clock"), None).await,
        StatusCode::FORBIDDEN
    );
    let catalog_put = reqwest::Client::new()
        .put(format!("{}{API}/catalog", srv.url))
        .bearer_auth(&billing)
        .header("content-type", "application/toml")
        .body(seatkeeper_domain::catalog::DEMO_CATALOG)
        .send()
        .await
        .expect("request");
    assert_eq!(catalog_put.status(), StatusCode::FORBIDDEN);
    // Refused for who they are, before anything is said about what they sent.
    let odd_body = reqwest::Client::new()
        .put(format!("{}{API}/catalog", srv.url))
        .bearer_auth(&billing)
        .header("content-type", "image/png")
        .body("not a catalog")
        .send()
        .await
        .expect("request");
    assert_eq!(odd_body.status(), StatusCode::FORBIDDEN);

    // An end user: their own things only.
    for path in [
        "/licenses",
        "/subscriptions",
        "/audit",
        "/audit.csv",
        "/mail",
        "/licenses/SUITE_BASIC/users",
        "/licenses/SUITE_BASIC/users.csv",
    ] {
        assert_eq!(
            status_as(&srv, &enduser, "GET", &format!("{API}{path}"), None).await,
            StatusCode::FORBIDDEN,
            "end user GET {path}"
        );
    }
    for (m, p, b) in &writes {
        assert_eq!(
            status_as(&srv, &enduser, m, p, Some(b.clone())).await,
            StatusCode::FORBIDDEN,
            "end user {m} {p}"
        );
    }
    for path in [
        "/me",
        "/catalog",
        "/tenant",
        "/users/enduser@contoso.test/licenses",
        "/users/enduser@contoso.test/roles",
        "/tokens",
    ] {
        assert_eq!(
            status_as(&srv, &enduser, "GET", &format!("{API}{path}"), None).await,
            StatusCode::OK,
            "end user GET {path}"
        );
    }
    assert_eq!(
        status_as(
            &srv,
            &enduser,
            "GET",
            &format!("{API}/users/{}/licenses", target[0]),
            None
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_as(
            &srv,
            &enduser,
            "GET",
            &format!("{API}/subscriptions/{sub_id}"),
            None
        )
        .await,
        StatusCode::FORBIDDEN
    );

    // Nothing the refused calls tried happened.
    let s = sub(&srv, &sub_id).await;
    assert_eq!(
        (s["quantity"].as_i64(), s["status"].as_str()),
        (Some(6), Some("Active"))
    );
    assert_eq!(held(&srv, &target[2]).await, Vec::<String>::new());
    assert_eq!(held(&srv, &target[0]).await, vec!["SUITE_BASIC"]);
});

backends!(tokens_create_list_revoke, |srv| async move {
    let got = srv
        .post(
            &format!("{API}/tokens"),
            json!({"name": "provisioning script"}),
        )
        .await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    let secret = got.1["token"].as_str().expect("token").to_string();
    let id = got.1["id"].as_str().expect("id").to_string();
    assert_eq!(got.1["userId"], srv.admin.to_string());
    assert!(got.1["expiresDateTime"].is_null());
    let me = srv
        .call_as(&secret, "GET", &format!("{API}/me"), None)
        .await;
    assert_eq!(
        (me.0, me.1["user"]["userPrincipalName"].as_str()),
        (StatusCode::OK, Some("admin@contoso.test")),
        "{}",
        me.1
    );
    assert_eq!(me.1["roles"], json!(["GlobalAdmin"]));
    assert_eq!(me.1["tenant"]["name"], "Contoso Test");

    let list = srv.get(&format!("{API}/tokens")).await;
    assert_eq!(list.0, StatusCode::OK);
    let mine = list.1["value"]
        .as_array()
        .expect("value")
        .iter()
        .find(|t| t["id"] == id.as_str())
        .cloned()
        .expect("listed");
    assert_eq!(
        (mine["name"].as_str(), mine["status"].as_str()),
        (Some("provisioning script"), Some("active"))
    );
    assert!(!list.1.to_string().contains(&secret), "a secret was listed");

    let got = srv.delete(&format!("{API}/tokens/{id}")).await;
    assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
    let got = srv
        .call_as(&secret, "GET", &format!("{API}/me"), None)
        .await;
    assert_error(
        &got,
        StatusCode::UNAUTHORIZED,
        "invalid, expired or revoked",
    );
    let got = srv.delete(&format!("{API}/tokens/{id}")).await;
    assert_error(&got, StatusCode::CONFLICT, "revoked already");
    let got = srv
        .delete(&format!("{API}/tokens/{}", uuid::Uuid::new_v4()))
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
    let got = srv.delete(&format!("{API}/tokens/not-a-guid")).await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
    let list = srv
        .get(&format!("{API}/tokens?userId=admin@contoso.test"))
        .await;
    let mine = list.1["value"]
        .as_array()
        .expect("value")
        .iter()
        .find(|t| t["id"] == id.as_str())
        .cloned()
        .expect("listed");
    assert_eq!(mine["status"], "revoked");
    assert!(mine["revokedDateTime"].is_string());

    // For another user: only a Global admin; a user may manage their own.
    srv.user("bob@contoso.test", Some("US")).await;
    let got = srv
        .post(
            &format!("{API}/tokens"),
            json!({"userId": "bob@contoso.test", "name": "bob", "expiresInDays": 1}),
        )
        .await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    let bob = got.1["token"].as_str().expect("token").to_string();
    assert!(got.1["expiresDateTime"].is_string());
    let got = srv
        .call_as(
            &bob,
            "POST",
            &format!("{API}/tokens"),
            Some(json!({"userId": "admin@contoso.test", "name": "steal"})),
        )
        .await;
    assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
    let got = srv
        .call_as(
            &bob,
            "POST",
            &format!("{API}/tokens"),
            Some(json!({"name": "bob's own"})),
        )
        .await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    let got = srv
        .call_as(&bob, "GET", &format!("{API}/tokens"), None)
        .await;
    assert_eq!(
        got.1["value"].as_array().map(Vec::len),
        Some(2),
        "{}",
        got.1
    );
    let got = srv
        .call_as(
            &bob,
            "GET",
            &format!("{API}/tokens?userId=admin@contoso.test"),
            None,
        )
        .await;
    assert_eq!(got.0, StatusCode::FORBIDDEN);

    for (body, needle) in [
        (json!({"name": "x", "expiresInDays": 0}), "from 1 to 3650"),
        (json!({"name": ""}), "needs a name"),
        (json!({}), "needs a name"),
        (
            json!({"name": "x", "userId": "ghost@contoso.test"}),
            "ghost@contoso.test",
        ),
    ] {
        let got = srv.post(&format!("{API}/tokens"), body).await;
        assert!(got.0.is_client_error(), "{}", got.1);
        assert!(
            got.1["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(needle),
            "{}",
            got.1
        );
    }

    // An expired token is refused.
    let start = now(&srv).await;
    set_clock(&srv, start + chrono::Duration::days(2)).await;
    let got = srv.call_as(&bob, "GET", &format!("{API}/me"), None).await;
    assert_error(
        &got,
        StatusCode::UNAUTHORIZED,
        "invalid, expired or revoked",
    );
    let got = srv.get(&format!("{API}/audit?action=token.")).await;
    assert!(
        got.1["value"].as_array().map(Vec::len).unwrap_or(0) >= 4,
        "{}",
        got.1
    );
});

backends!(tenant_roles_and_me, |srv| async move {
    let got = srv.get(&format!("{API}/tenant")).await;
    assert_eq!(got.0, StatusCode::OK);
    assert_eq!(
        (
            got.1["name"].as_str(),
            got.1["defaultUsageLocation"].as_str(),
            got.1["currency"].as_str()
        ),
        (Some("Contoso Test"), Some("US"), Some("USD"))
    );
    assert_eq!(got.1["id"], srv.tenant.to_string());
    let got = srv
        .patch(&format!("{API}/tenant"), json!({"name": "Contoso Ltd"}))
        .await;
    assert_eq!(
        (
            got.0,
            got.1["name"].as_str(),
            got.1["defaultUsageLocation"].as_str()
        ),
        (StatusCode::OK, Some("Contoso Ltd"), Some("US"))
    );
    let got = srv.patch(&format!("{API}/tenant"), json!({})).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "Give name");
    let got = srv
        .patch(
            &format!("{API}/tenant"),
            json!({"defaultUsageLocation": "XX1"}),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "usageLocation");
    let got = srv
        .patch(&format!("{API}/tenant"), json!({"name": "   "}))
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "1 to 256 characters");
    let got = srv.get(&format!("{API}/audit?action=tenant.update")).await;
    let e = &got.1["value"][0];
    assert_eq!(
        (e["before"]["name"].as_str(), e["after"]["name"].as_str()),
        (Some("Contoso Test"), Some("Contoso Ltd")),
        "{e}"
    );

    let got = srv.get(&format!("{API}/users/{}/roles", srv.admin)).await;
    assert_eq!(got.1["roles"], json!(["GlobalAdmin"]), "{}", got.1);
    srv.user("carol@contoso.test", Some("US")).await;
    let path = format!("{API}/users/carol@contoso.test/roles");
    let got = srv
        .put(&path, json!({"roles": ["LicenseAdmin", "Global reader"]}))
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    assert_eq!(got.1["roles"], json!(["LicenseAdmin", "GlobalReader"]));
    let got = srv.get(&path).await;
    assert_eq!(got.1["roles"], json!(["LicenseAdmin", "GlobalReader"]));
    let got = srv.put(&path, json!({"roles": ["Owner"]})).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "Role 'Owner' is not known");
    let got = srv.put(&path, json!({})).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "roles is required");
    let got = srv
        .put(
            &format!("{API}/users/admin@contoso.test/roles"),
            json!({"roles": []}),
        )
        .await;
    assert_error(&got, StatusCode::CONFLICT, "last enabled Global admin");
    assert_eq!(got.1["error"]["code"], "lastGlobalAdmin");
    let got = srv.put(&path, json!({"roles": []})).await;
    assert_eq!(got.1["roles"], json!([]));
    let got = srv.get(&format!("{API}/audit?action=user.roles")).await;
    assert_eq!(
        got.1["value"].as_array().map(Vec::len),
        Some(2),
        "{}",
        got.1
    );

    let got = srv.get(&format!("{API}/me")).await;
    assert_eq!(got.0, StatusCode::OK);
    assert_eq!(got.1["user"]["id"], srv.admin.to_string());
    assert_eq!(got.1["tenant"]["name"], "Contoso Ltd");
});

backends!(another_tenants_ids_answer_404, |srv| async move {
    let other = srv
        .app
        .create_tenant("Fabrikam", "admin@fabrikam.test", Some("US"), None)
        .await
        .expect("tenant");
    let theirs = |method: &'static str, path: String, body: Option<Value>| {
        let token = other.token.clone();
        let srv = &srv;
        async move { srv.call_as(&token, method, &path, body).await }
    };
    let got = theirs(
        "POST",
        format!("{API}/subscriptions"),
        Some(json!({"skuId": "SUITE_BASIC", "quantity": 3, "billingFrequency": "monthly"})),
    )
    .await;
    assert_eq!(got.0, StatusCode::CREATED);
    let sub_id = got.1["id"].as_str().expect("id").to_string();
    let got = theirs(
        "POST",
        format!("{API}/tokens"),
        Some(json!({"name": "theirs"})),
    )
    .await;
    let token_id = got.1["id"].as_str().expect("id").to_string();
    let got = theirs(
        "POST",
        format!("{API}/licenses/SUITE_BASIC/assign"),
        Some(json!({"users": ["admin@fabrikam.test"]})),
    )
    .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let user_id = other.admin_user_id.to_string();

    buy(&srv, "SUITE_BASIC", 2, "monthly").await;
    let cases: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("{API}/subscriptions/{sub_id}"), None),
        (
            "PATCH",
            format!("{API}/subscriptions/{sub_id}"),
            Some(json!({"quantity": 1})),
        ),
        (
            "POST",
            format!("{API}/subscriptions/{sub_id}/cancel"),
            Some(json!({"reason": "Other"})),
        ),
        (
            "POST",
            format!("{API}/subscriptions/{sub_id}/reactivate"),
            None,
        ),
        ("GET", format!("{API}/users/{user_id}/licenses"), None),
        (
            "GET",
            format!("{API}/users/admin@fabrikam.test/licenses"),
            None,
        ),
        (
            "PUT",
            format!("{API}/users/{user_id}/licenses"),
            Some(json!({"licenses": []})),
        ),
        (
            "PATCH",
            format!("{API}/users/{user_id}/licenses/SUITE_BASIC"),
            Some(json!({"disabledPlans": []})),
        ),
        ("GET", format!("{API}/users/{user_id}/roles"), None),
        (
            "PUT",
            format!("{API}/users/{user_id}/roles"),
            Some(json!({"roles": []})),
        ),
        (
            "POST",
            format!("{API}/licenses/SUITE_BASIC/assign"),
            Some(json!({"users": [user_id]})),
        ),
        (
            "POST",
            format!("{API}/licenses/SUITE_BASIC/unassign"),
            Some(json!({"users": [user_id]})),
        ),
        (
            "POST",
            format!("{API}/licenses/bulk"),
            Some(json!({"mode": "unassignAll", "users": [user_id]})),
        ),
        ("DELETE", format!("{API}/tokens/{token_id}"), None),
        ("GET", format!("{API}/tokens?userId={user_id}"), None),
        (
            "POST",
            format!("{API}/tokens"),
            Some(json!({"userId": user_id, "name": "x"})),
        ),
    ];
    for (m, p, b) in cases {
        let got = srv.call(m, &p, b).await;
        assert_eq!(got.0, StatusCode::NOT_FOUND, "{m} {p}: {}", got.1);
        assert_eq!(got.1["error"]["code"], "notFound");
    }
    // Their data is not in our lists, and ours is not in theirs.
    let list = srv.get(&format!("{API}/subscriptions")).await;
    assert_eq!(list.1["value"].as_array().map(Vec::len), Some(1));
    let got = srv.get(&format!("{API}/audit?targetId={sub_id}")).await;
    assert_eq!(got.1["value"], json!([]));
    let row = license_row(&srv, "SUITE_BASIC").await.expect("row");
    assert_eq!(
        (row["total"].as_i64(), row["assigned"].as_i64()),
        (Some(2), Some(0))
    );
    let got = theirs("GET", format!("{API}/licenses/SUITE_BASIC/users"), None).await;
    assert_eq!(got.1["value"].as_array().map(Vec::len), Some(1));
    // Still theirs and unchanged.
    let got = theirs("GET", format!("{API}/subscriptions/{sub_id}"), None).await;
    assert_eq!(
        (got.1["status"].as_str(), got.1["quantity"].as_i64()),
        (Some("Active"), Some(3))
    );
    let got = theirs("GET", format!("{API}/me"), None).await;
    assert_eq!(got.0, StatusCode::OK, "their token still works");
});

backends!(sent_mail_is_for_global_admins, |srv| async move {
    let reader = srv
        .token_with_roles(
            "reader-mail@contoso.test",
            &[seatkeeper_domain::roles::Role::GlobalReader],
        )
        .await;
    let got = srv.call_as(&reader, "GET", "/api/v1/mail", None).await;
    assert_error(&got, StatusCode::FORBIDDEN, "Global admin");
    let (status, body) = srv.get("/api/v1/mail").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["value"].is_array(), "{body}");
});

backends!(
    token_names_with_control_or_text_direction_characters_are_refused,
    |srv| async move {
        let before = srv.get(&format!("{API}/tokens")).await;
        assert_eq!(before.0, StatusCode::OK, "{}", before.1);
        for name in [
            "invoice\u{202E}txt.exe",
            "a\u{2066}b",
            "line\nbreak",
            "tab\there",
            "mark\u{200F}",
        ] {
            let got = srv
                .post(&format!("{API}/tokens"), json!({"name": name}))
                .await;
            assert_error(
                &got,
                StatusCode::BAD_REQUEST,
                "control or text-direction character",
            );
        }
        let got = srv
            .post(
                &format!("{API}/tokens"),
                json!({"name": "invoice\u{202E}txt.exe"}),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "U+202E");
        assert_eq!(srv.get(&format!("{API}/tokens")).await.1, before.1);
        // An ordinary name with accents and punctuation is fine.
        let got = srv
            .post(
                &format!("{API}/tokens"),
                json!({"name": "Café sync (nightly) – v2"}),
            )
            .await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    }
);
