//! Partners over HTTP on SQLite and PostgreSQL: a customer's Global admin delegates roles to a
//! user of another organization, who acts for the customer with a partner token; license
//! requests need the Global admin role for a partner; revoking stops the token at once.

use crate::common::*;
use crate::license_requests::{REQ, SETTINGS, request_for};
use crate::rest_helpers::*;
use reqwest::StatusCode;
use seatkeeper_domain::roles::Role;
use serde_json::{Value, json};

const PARTNERS: &str = "/api/v1/partners";

/// Fabrikam, another organization on the server, whose Global admin pat@fabrikam.example is
/// the partner; (Fabrikam's id, pat's user id, pat's own token).
async fn fabrikam(srv: &Srv) -> (String, String, String) {
    let b = srv
        .app
        .create_tenant("Fabrikam", "pat@fabrikam.example", Some("US"), Some("USD"))
        .await
        .expect("tenant");
    (
        b.tenant_id.to_string(),
        b.admin_user_id.to_string(),
        b.token,
    )
}

async fn grant(srv: &Srv, roles: Value) -> (StatusCode, Value) {
    srv.put(
        PARTNERS,
        json!({"userPrincipalName": "pat@fabrikam.example", "roles": roles}),
    )
    .await
}

/// Pat's token that acts in the test's organization.
async fn partner_token(srv: &Srv, pat: &str) -> String {
    let got = srv
        .call_as(
            pat,
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "acting for Contoso", "tenantId": srv.tenant.to_string()})),
        )
        .await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    got.1["token"].as_str().expect("token").to_string()
}

backends!(
    a_partner_acts_for_a_customer_with_the_roles_delegated_there,
    |srv| async move {
        let (fabrikam_id, pat_id, pat) = fabrikam(&srv).await;

        // No delegation yet: no partner token.
        let got = srv
            .call_as(
                &pat,
                "POST",
                "/api/v1/tokens",
                Some(json!({"name": "x", "tenantId": srv.tenant.to_string()})),
            )
            .await;
        assert_error(&got, StatusCode::FORBIDDEN, "no delegated role");

        // Only a Global admin grants; a user of this organization is refused.
        let la = srv
            .token_with_roles("la@contoso.test", &[Role::LicenseAdmin])
            .await;
        let got = srv
            .call_as(
                &la,
                "PUT",
                PARTNERS,
                Some(
                    json!({"userPrincipalName": "pat@fabrikam.example", "roles": ["GlobalAdmin"]}),
                ),
            )
            .await;
        assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
        let got = srv
            .put(
                PARTNERS,
                json!({"userPrincipalName": "la@contoso.test", "roles": ["LicenseAdmin"]}),
            )
            .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "la@contoso.test is a user of this organization; give them a role instead",
        );
        let got = srv
            .put(
                PARTNERS,
                json!({"userPrincipalName": "nobody@nowhere.example", "roles": ["LicenseAdmin"]}),
            )
            .await;
        assert_eq!(got.0, StatusCode::NOT_FOUND, "{}", got.1);
        let got = grant(&srv, json!(["Owner"])).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "Role 'Owner' is not known");

        let got = grant(&srv, json!(["LicenseAdmin"])).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["userId"], pat_id.as_str());
        assert_eq!(got.1["tenantId"], fabrikam_id.as_str());
        assert_eq!(got.1["tenantName"], "Fabrikam");
        assert_eq!(got.1["roles"], json!(["LicenseAdmin"]));
        let got = srv.get(PARTNERS).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(
            got.1["value"].as_array().map(Vec::len),
            Some(1),
            "{}",
            got.1
        );
        assert_eq!(
            got.1["value"][0]["userPrincipalName"],
            "pat@fabrikam.example"
        );

        // Pat's token list shows which one acts for this organization; /me has no user here.
        let token = partner_token(&srv, &pat).await;
        let got = srv.call_as(&pat, "GET", "/api/v1/tokens", None).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert!(
            got.1["value"]
                .as_array()
                .expect("value")
                .iter()
                .any(|t| t["actingTenantId"] == srv.tenant.to_string().as_str()),
            "{}",
            got.1
        );
        let got = srv.call_as(&token, "GET", "/v1.0/me", None).await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);

        // The partner token acts here as a License admin: assigns licenses, reads the
        // directory through Graph...
        srv.buy("SUITE_BASIC", 2).await;
        srv.user("ann@contoso.test", Some("US")).await;
        let got = srv
            .call_as(
                &token,
                "POST",
                &format!("{API}/licenses/SUITE_BASIC/assign"),
                Some(json!({"users": ["ann@contoso.test"]})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(held(&srv, "ann@contoso.test").await, vec!["SUITE_BASIC"]);
        let got = srv
            .call_as(&token, "GET", "/v1.0/users/ann@contoso.test", None)
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        // ...but cannot change the directory (not delegated), nor touch license requests.
        let got = srv
            .call_as(
                &token,
                "PATCH",
                "/v1.0/users/ann@contoso.test",
                Some(json!({"jobTitle": "x"})),
            )
            .await;
        assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        let member = srv.token_with_roles("m@contoso.test", &[]).await;
        let id = request_for(&srv, &member, &[], "").await;
        let need =
            "Partners need the Global admin role in this organization to manage license requests.";
        for (method, path, body) in [
            ("GET", REQ.to_string(), None),
            ("GET", format!("{REQ}/{id}"), None),
            ("GET", format!("{REQ}/{}", uuid::Uuid::new_v4()), None),
            ("GET", format!("{REQ}/{id}/decision-options"), None),
            ("GET", SETTINGS.to_string(), None),
            (
                "POST",
                format!("{REQ}/{id}/decision"),
                Some(json!({"deny": ["m@contoso.test"]})),
            ),
            (
                "POST",
                format!("{REQ}/{id}/share"),
                Some(json!({"recipients": ["admin@contoso.test"]})),
            ),
        ] {
            let got = srv.call_as(&token, method, &path, body).await;
            assert_error(&got, StatusCode::FORBIDDEN, need);
        }
        // A member License admin of the organization itself may.
        let got = srv.call_as(&la, "GET", REQ, None).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);

        // The audit names the partner.
        let got = srv.get(&format!("{API}/audit?action=license.assign")).await;
        let entries = got.1["value"].as_array().expect("value").clone();
        assert!(
            entries
                .iter()
                .any(|e| e["actor"] == "pat@fabrikam.example (partner)"),
            "{}",
            got.1
        );

        // As Global admin here, the same token lists and decides requests.
        let got = grant(&srv, json!(["GlobalAdmin", "LicenseAdmin"])).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["roles"], json!(["GlobalAdmin", "LicenseAdmin"]));
        let got = srv.call_as(&token, "GET", REQ, None).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["count"], 1);
        let got = srv
            .call_as(
                &token,
                "POST",
                &format!("{REQ}/{id}/decision"),
                Some(json!({"deny": ["m@contoso.test"], "message": "Not now."})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(
            got.1["decision"]["decidedBy"],
            "pat@fabrikam.example (partner)"
        );

        // Never another organization: not Fabrikam's own data, not a third one's.
        let got = srv
            .call_as(&token, "GET", "/v1.0/users/pat@fabrikam.example", None)
            .await;
        assert_eq!(got.0, StatusCode::NOT_FOUND, "{}", got.1);
        let got = srv
            .call_as(&token, "GET", &format!("/v1.0/users/{pat_id}"), None)
            .await;
        assert_eq!(got.0, StatusCode::NOT_FOUND, "{}", got.1);
        let third = srv
            .app
            .create_tenant(
                "Northwind",
                "nia@northwind.example",
                Some("US"),
                Some("USD"),
            )
            .await
            .expect("tenant");
        let got = srv
            .call_as(
                &token,
                "GET",
                &format!("/v1.0/users/{}", third.admin_user_id),
                None,
            )
            .await;
        assert_eq!(got.0, StatusCode::NOT_FOUND, "{}", got.1);
        let got = srv
            .call_as(
                &pat,
                "POST",
                "/api/v1/tokens",
                Some(json!({"name": "x", "tenantId": third.tenant_id.to_string()})),
            )
            .await;
        assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
        // Pat's own token still acts in Fabrikam only.
        let got = srv
            .call_as(&pat, "GET", "/v1.0/users/ann@contoso.test", None)
            .await;
        assert_eq!(got.0, StatusCode::NOT_FOUND, "{}", got.1);

        // Revoked: the partner token fails at once; Pat's own still works.
        let got = srv.delete(&format!("{PARTNERS}/{pat_id}")).await;
        assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
        let got = srv.call_as(&token, "GET", "/v1.0/users", None).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "revoked");
        let got = srv.call_as(&pat, "GET", "/v1.0/users", None).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = srv.delete(&format!("{PARTNERS}/{pat_id}")).await;
        assert_eq!(got.0, StatusCode::NOT_FOUND, "{}", got.1);
        assert_eq!(srv.get(PARTNERS).await.1["value"], json!([]));

        // Granting, changing and revoking are audited here.
        let got = srv.get(&format!("{API}/audit?action=partner.roles")).await;
        assert_eq!(
            got.1["value"].as_array().map(Vec::len),
            Some(3),
            "{}",
            got.1
        );

        // Empty roles revoke too.
        let got = grant(&srv, json!(["UserAdmin"])).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let token = partner_token(&srv, &pat).await;
        let got = grant(&srv, json!([])).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["roles"], json!([]));
        let got = srv.call_as(&token, "GET", "/v1.0/users", None).await;
        assert_eq!(got.0, StatusCode::UNAUTHORIZED, "{}", got.1);
    }
);

backends!(
    a_revoked_partners_old_token_stays_dead_after_a_new_grant,
    |srv| async move {
        let (_, pat_id, pat) = fabrikam(&srv).await;
        // Revoked with DELETE, then granted again: the old token is still refused.
        let got = grant(&srv, json!(["GlobalReader"])).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let old = partner_token(&srv, &pat).await;
        let got = srv.call_as(&old, "GET", "/v1.0/users", None).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = srv.delete(&format!("{PARTNERS}/{pat_id}")).await;
        assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
        let got = grant(&srv, json!(["GlobalReader"])).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = srv.call_as(&old, "GET", "/v1.0/users", None).await;
        assert_eq!(got.0, StatusCode::UNAUTHORIZED, "{}", got.1);
        // A new token works.
        let new = partner_token(&srv, &pat).await;
        let got = srv.call_as(&new, "GET", "/v1.0/users", None).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);

        // Revoked with no roles, then granted again: the same.
        let got = grant(&srv, json!([])).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = grant(&srv, json!(["GlobalReader"])).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = srv.call_as(&new, "GET", "/v1.0/users", None).await;
        assert_eq!(got.0, StatusCode::UNAUTHORIZED, "{}", got.1);
        // Changing roles (not revoking) keeps a token working.
        let kept = partner_token(&srv, &pat).await;
        let got = grant(&srv, json!(["UserAdmin"])).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = srv.call_as(&kept, "GET", "/v1.0/users", None).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);

        // The audit says how many tokens each revocation ended.
        let got = srv.get(&format!("{API}/audit?action=partner.roles")).await;
        let revoked: Vec<i64> = got.1["value"]
            .as_array()
            .expect("value")
            .iter()
            .filter_map(|e| e["after"]["tokensRevoked"].as_i64())
            .filter(|n| *n > 0)
            .collect();
        assert_eq!(revoked, vec![1, 1], "{}", got.1);
    }
);

backends!(the_openapi_document_describes_partners, |srv| async move {
    let got = srv.get("/api/v1/openapi.json").await;
    assert_eq!(got.0, StatusCode::OK);
    let paths = &got.1["paths"];
    assert_eq!(paths["/partners"]["get"]["operationId"], "listPartners");
    assert_eq!(paths["/partners"]["put"]["operationId"], "setPartner");
    assert_eq!(
        paths["/partners/{userId}"]["delete"]["operationId"],
        "revokePartner"
    );
    let schemas = &got.1["components"]["schemas"];
    assert!(
        schemas["TokenRequest"]["properties"]["tenantId"].is_object(),
        "{}",
        schemas["TokenRequest"]
    );
    assert!(schemas["PartnerRequest"]["properties"]["userPrincipalName"].is_object());
    assert!(schemas["Partner"]["properties"]["roles"].is_object());
    assert!(
        schemas["LicenseRequest"]
            .to_string()
            .contains("\"notices\""),
        "{}",
        schemas["LicenseRequest"]
    );
});
