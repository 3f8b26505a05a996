//! The catalog belongs to the operator: tenants read it; only an operator token (or the
//! operator's command line) replaces it, and every import is in the operator's audit log.

use crate::common::*;
use crate::rest_helpers::*;
use reqwest::StatusCode;
use seatkeeper_app::operator::Operator;
use seatkeeper_domain::roles::Role;
use serde_json::{Value, json};

backends!(
    a_tenant_global_admin_cannot_replace_the_catalog,
    |srv| async move {
        let before = srv.get(&format!("{API}/catalog")).await;
        assert_eq!(before.0, StatusCode::OK);
        // Any small, valid catalog would do: none may come from an organization.
        for body in [SMALL_JSON_CATALOG, "not even a catalog"] {
            let got = put_catalog_as(&srv, &srv.token, "application/json", body).await;
            assert_error(
                &got,
                StatusCode::FORBIDDEN,
                "The catalog belongs to the operator",
            );
            let msg = got.1["error"]["message"].as_str().unwrap_or_default();
            assert!(
                msg.contains("seatkeeper catalog import")
                    && msg.contains("seatkeeper operator token create"),
                "{msg}"
            );
        }
        let billing = srv
            .token_with_roles("billing@contoso.test", &[Role::BillingAdmin])
            .await;
        let got = put_catalog_as(&srv, &billing, "image/png", "x").await;
        assert_error(&got, StatusCode::FORBIDDEN, "belongs to the operator");
        // Nothing changed, and the organization can still read it.
        let after = srv.get(&format!("{API}/catalog")).await;
        assert_eq!(after.1, before.1);
        let log = srv
            .app
            .operator_audit(Some("catalog."), 100)
            .await
            .expect("operator audit");
        assert!(
            log.iter().all(|e| e.actor == "system"),
            "only the demo catalog stored at start: {log:?}"
        );
    }
);

const SMALL_JSON_CATALOG: &str = r#"{
  "plan": [{"id": "11111111-1111-4111-8111-111111111111", "name": "WIDGETS", "display_name": "Widgets"}],
  "product": [{"sku_id": "22222222-2222-4222-8222-222222222222", "sku_part_number": "WIDGET_PRO", "product_id": "CFQ7TTC0WDGT",
               "name": "Widget Pro", "applies_to": "User", "plans": ["WIDGETS"], "prices": [{"currency": "USD", "monthly": 100, "annual": 1000}]}]
}"#;

/// PUT /api/v1/catalog as `token`.
async fn put_catalog_as(srv: &Srv, token: &str, ctype: &str, body: &str) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .put(format!("{}{API}/catalog", srv.url))
        .bearer_auth(token)
        .header("content-type", ctype)
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

backends!(
    the_operator_replaces_the_catalog_with_an_operator_token,
    |srv| async move {
        let op = srv
            .app
            .create_operator_token(&Operator::cli(), "catalog deploy", None)
            .await
            .expect("operator token");
        let put_catalog = |ctype: &'static str, body: &str| {
            let srv = &srv;
            let token = op.token.clone();
            let body = body.to_string();
            async move { put_catalog_as(srv, &token, ctype, &body).await }
        };
        let got = srv.get(&format!("{API}/catalog")).await;
        assert_eq!(got.0, StatusCode::OK);
        let products = got.1["products"].as_array().expect("products");
        assert!(products.len() >= 8);
        let basic = products
            .iter()
            .find(|p| p["skuPartNumber"] == "SUITE_BASIC")
            .expect("SUITE_BASIC");
        assert_eq!(basic["appliesTo"], "User");
        assert_eq!(basic["trial"]["days"], 30);
        assert!(basic["prices"].as_array().is_some_and(|p| {
            p.iter()
                .any(|x| x["currency"] == "USD" && x["monthly"] == 720)
        }));
        assert!(
            basic["servicePlans"]
                .as_array()
                .is_some_and(|p| p.iter().any(|x| x["servicePlanName"] == "CHAT"))
        );
        let plans = got.1["plans"].as_array().expect("plans");
        let wb = plans
            .iter()
            .find(|p| p["servicePlanName"] == "WHITEBOARD")
            .expect("WHITEBOARD");
        assert_eq!(wb["requires"], json!(["CHAT"]));
        let m1 = plans
            .iter()
            .find(|p| p["servicePlanName"] == "MAIL_PLAN1")
            .expect("MAIL_PLAN1");
        assert_eq!(m1["excludes"], json!(["MAIL_PLAN2"]));

        // A bad file: the line and the problem; nothing changes.
        let bad = "[[plan]]\nid = \"11111111-1111-4111-8111-111111111111\"\nname = \"A\"\ndisplay_name = \"A\"\n\n[[product]]\nsku_id = \"not-a-uuid\"\n";
        let got = put_catalog("application/toml", bad).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "line ");
        assert_eq!(got.1["error"]["code"], "invalidCatalog");
        let got = put_catalog("text/plain", "[[plan]]\nid = \n").await;
        assert_error(&got, StatusCode::BAD_REQUEST, "line 2");
        let got = put_catalog(
            "application/json",
            "{\"plan\": [], \"product\": [], \"extra\": 1}",
        )
        .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "extra");
        let got = put_catalog("image/png", "x").await;
        assert_error(&got, StatusCode::UNSUPPORTED_MEDIA_TYPE, "application/toml");
        let got = put_catalog("application/toml", "").await;
        assert_error(&got, StatusCode::BAD_REQUEST, "empty");
        assert!(
            srv.get(&format!("{API}/catalog")).await.1["products"]
                .as_array()
                .is_some_and(|p| p.len() == products.len())
        );

        // JSON, then TOML.
        let got = put_catalog("application/json; charset=utf-8", SMALL_JSON_CATALOG).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(
            (got.1["products"].as_i64(), got.1["plans"].as_i64()),
            (Some(1), Some(1))
        );
        let got = srv.get(&format!("{API}/catalog")).await;
        assert_eq!(got.1["products"][0]["skuPartNumber"], "WIDGET_PRO");
        buy(&srv, "WIDGET_PRO", 2, "monthly").await;
        let got = put_catalog("application/toml", seatkeeper_domain::catalog::DEMO_CATALOG).await;
        assert_error(&got, StatusCode::CONFLICT, "WIDGET_PRO");
        assert_eq!(got.1["error"]["code"], "productInUse");
        // The operator sees counts across organizations, never which organizations.
        let msg = got.1["error"]["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains("1 organization holds 1 subscription of it"),
            "{msg}"
        );
        assert!(
            !msg.contains("Contoso") && !msg.contains(&srv.tenant.to_string()),
            "{msg}"
        );
        let with_widget = format!(
            "{}\n[[plan]]\nid = \"11111111-1111-4111-8111-111111111111\"\nname = \"WIDGETS\"\ndisplay_name = \"Widgets\"\n\n[[product]]\nsku_id = \"22222222-2222-4222-8222-222222222222\"\nsku_part_number = \"WIDGET_PRO\"\nproduct_id = \"CFQ7TTC0WDGT\"\nname = \"Widget Pro\"\napplies_to = \"User\"\nplans = [\"WIDGETS\"]\n",
            seatkeeper_domain::catalog::DEMO_CATALOG
        );
        let got = put_catalog("application/toml", &with_widget).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["products"].as_i64(), Some(products.len() as i64 + 1));
        buy(&srv, "SUITE_BASIC", 1, "monthly").await;

        // Imports are in the operator's audit log, by the token, and not in the organization's.
        let log = srv
            .app
            .operator_audit(Some("catalog."), 100)
            .await
            .expect("operator audit");
        let by_token: Vec<_> = log
            .iter()
            .filter(|e| e.actor == "operator token 'catalog deploy'")
            .collect();
        assert_eq!(by_token.len(), 2, "{log:?}");
        assert!(
            by_token
                .iter()
                .all(|e| e.actor_id == Some(op.id.to_string())),
            "{log:?}"
        );
        // The organization's own log has no catalog actions: the filter is refused.
        let got = srv.get(&format!("{API}/audit?action=catalog.")).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "matches no audit action");

        // The operator token is no user: other endpoints refuse it and say what it is for.
        let got = srv
            .call_as(&op.token, "GET", &format!("{API}/licenses"), None)
            .await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "operator token");
        // It reads the catalog; once revoked, it does nothing.
        let got = srv
            .call_as(&op.token, "GET", &format!("{API}/catalog"), None)
            .await;
        assert_eq!(got.0, StatusCode::OK);
        srv.app
            .revoke_operator_token(&Operator::cli(), op.id)
            .await
            .expect("revoke");
        let got = put_catalog("application/toml", &with_widget).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "revoked");
        let got = srv
            .app
            .operator_audit(Some("operator.token."), 100)
            .await
            .expect("operator audit");
        let actions: Vec<&str> = got.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            ["operator.token.revoke", "operator.token.create"],
            "{got:?}"
        );
    }
);

backends!(the_operator_audit_log_is_append_only, |srv| async move {
    use seatkeeper_store::sqlx::{self, AssertSqlSafe};
    srv.app
        .create_operator_token(&Operator::cli(), "audited", None)
        .await
        .expect("operator token");
    for sql in [
        "UPDATE operator_audit_log SET summary = 'rewritten'",
        "DELETE FROM operator_audit_log",
    ] {
        let mut tx = srv.app.db.begin().await.expect("begin");
        let err = sqlx::query(AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let log = srv
        .app
        .operator_audit(None, 100)
        .await
        .expect("operator audit");
    assert!(
        log.iter()
            .any(|e| e.summary == "Operator token 'audited' issued"),
        "{log:?}"
    );
});
