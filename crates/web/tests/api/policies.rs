//! The self-service purchase policy (POL1–POL3) over /api/v1/policies: the default, per-product
//! values, refusals that list what is valid, permissions per role, and the audit log.

use crate::common::*;
use crate::rest_helpers::*;
use reqwest::StatusCode;
use seatkeeper_domain::roles::Role;
use serde_json::{Value, json};

const P: &str = "/api/v1/policies/AllowSelfServicePurchase";
/// Suite Basic (self-service eligible).
const BASIC: &str = "CFQ7TTC0LH18";
/// Suite Standard (self-service eligible).
const STANDARD: &str = "CFQ7TTC0LDPB";
/// Suite Premium: not self-service eligible.
const PREMIUM: &str = "CFQ7TTC0LFLZ";

fn value_of(list: &Value, product_id: &str) -> String {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["productId"] == product_id)
        .unwrap_or_else(|| panic!("{product_id} not listed: {list}"))["policyValue"]
        .as_str()
        .expect("policyValue")
        .to_string()
}

backends!(
    products_default_to_enabled_and_follow_the_default_until_set,
    |srv| async move {
        let got = srv.get(API_POLICIES).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(
            got.1,
            json!([{"policyId": "AllowSelfServicePurchase",
                "description": got.1[0]["description"],
                "defaultValue": "Enabled"}])
        );
        assert!(
            got.1[0]["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );

        let list = srv.get(&format!("{P}/products")).await;
        assert_eq!(list.0, StatusCode::OK, "{}", list.1);
        let items = list.1["items"].as_array().expect("items");
        // Exactly the self-service-eligible products of the catalog, all Enabled at first.
        let eligible: Vec<String> = srv
            .app
            .catalog()
            .products
            .iter()
            .filter(|p| p.self_service)
            .map(|p| p.product_id.clone())
            .collect();
        assert_eq!(
            items
                .iter()
                .map(|r| r["productId"].as_str().unwrap().to_string())
                .collect::<Vec<_>>(),
            eligible
        );
        assert!(!items.iter().any(|r| r["productId"] == PREMIUM));
        for r in items {
            assert_eq!(r["policyId"], "AllowSelfServicePurchase");
            assert_eq!(r["policyValue"], "Enabled", "{r}");
        }
        assert_eq!(
            items.iter().find(|r| r["productId"] == BASIC).unwrap()["productName"],
            "Suite Basic"
        );

        // Set one product; change the default: the set product keeps its value, the rest follow.
        let got = srv
            .put(
                &format!("{P}/products/{BASIC}"),
                json!({"policyValue": "Disabled"}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(
            got.1,
            json!({"policyId": "AllowSelfServicePurchase", "productName": "Suite Basic",
               "productId": BASIC, "policyValue": "Disabled"})
        );
        let got = srv
            .put(P, json!({"defaultValue": "OnlyTrialsWithoutPaymentMethod"}))
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["defaultValue"], "OnlyTrialsWithoutPaymentMethod");
        let list = srv.get(&format!("{P}/products")).await.1;
        assert_eq!(value_of(&list, BASIC), "Disabled");
        assert_eq!(value_of(&list, STANDARD), "OnlyTrialsWithoutPaymentMethod");
        let got = srv.get(&format!("{P}/products/{STANDARD}")).await;
        assert_eq!(got.1["policyValue"], "OnlyTrialsWithoutPaymentMethod");
        // productId ignores case.
        let got = srv
            .get(&format!("{P}/products/{}", BASIC.to_lowercase()))
            .await;
        assert_eq!(
            (got.0, got.1["policyValue"].as_str()),
            (StatusCode::OK, Some("Disabled"))
        );
        assert_eq!(
            srv.get(API_POLICIES).await.1[0]["defaultValue"],
            "OnlyTrialsWithoutPaymentMethod"
        );

        // A product set explicitly to the default's value keeps it when the default changes again.
        srv.put(
            &format!("{P}/products/{STANDARD}"),
            json!({"policyValue": "OnlyTrialsWithoutPaymentMethod"}),
        )
        .await;
        srv.put(P, json!({"defaultValue": "Enabled"})).await;
        let list = srv.get(&format!("{P}/products")).await.1;
        assert_eq!(value_of(&list, STANDARD), "OnlyTrialsWithoutPaymentMethod");
        assert_eq!(value_of(&list, "CFQ7TTC0RL1G"), "Enabled");

        // Every change is in the audit log with before and after.
        let got = srv.get(&format!("{API}/audit?action=policy.")).await;
        let entries = got.1["value"].as_array().expect("audit entries");
        assert_eq!(entries.len(), 4, "{}", got.1);
        let basic = entries
            .iter()
            .find(|e| e["action"] == "policy.product" && e["targetId"] == BASIC)
            .expect("basic entry");
        assert_eq!(basic["before"]["policyValue"], "Enabled");
        assert_eq!(basic["after"]["policyValue"], "Disabled");
        let first_default = entries
            .iter()
            .rev()
            .find(|e| e["action"] == "policy.default")
            .expect("default entry");
        assert_eq!(first_default["before"]["defaultValue"], "Enabled");
        assert_eq!(
            first_default["after"]["defaultValue"],
            "OnlyTrialsWithoutPaymentMethod"
        );
    }
);

const API_POLICIES: &str = "/api/v1/policies";

backends!(
    refusals_say_what_is_valid_and_change_nothing,
    |srv| async move {
        // A product that is not self-service eligible, and one that does not exist: 404.
        for product in [PREMIUM, "NOSUCHPRODUC"] {
            for (method, body) in [
                ("GET", None),
                ("PUT", Some(json!({"policyValue": "Disabled"}))),
            ] {
                let got = srv
                    .call(method, &format!("{P}/products/{product}"), body)
                    .await;
                assert_error(
                    &got,
                    StatusCode::NOT_FOUND,
                    "is not eligible for self-service purchase",
                );
            }
        }
        // An unknown value: 400 listing the three.
        let got = srv
            .put(
                &format!("{P}/products/{BASIC}"),
                json!({"policyValue": "Sometimes"}),
            )
            .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "Enabled, OnlyTrialsWithoutPaymentMethod, Disabled",
        );
        assert_eq!(got.1["error"]["code"], "invalidPolicyValue");
        let got = srv.put(P, json!({"defaultValue": "yes"})).await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "Enabled, OnlyTrialsWithoutPaymentMethod, Disabled",
        );
        let got = srv.put(P, json!({})).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "defaultValue is required");
        let got = srv
            .put(&format!("{P}/products/{BASIC}"), json!({"policyValue": 3}))
            .await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
        let got = srv
            .put(
                &format!("{P}/products/{BASIC}"),
                json!({"value": "Disabled"}),
            )
            .await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
        // Another policy id: 404 naming the one there is.
        let got = srv.get("/api/v1/policies/AllowTrials/products").await;
        assert_error(&got, StatusCode::NOT_FOUND, "AllowSelfServicePurchase");
        // Values ignore case.
        let got = srv
            .put(
                &format!("{P}/products/{BASIC}"),
                json!({"policyValue": "disabled"}),
            )
            .await;
        assert_eq!(
            (got.0, got.1["policyValue"].as_str()),
            (StatusCode::OK, Some("Disabled"))
        );
        // Nothing else changed.
        let list = srv.get(&format!("{P}/products")).await.1;
        assert_eq!(value_of(&list, STANDARD), "Enabled");
        assert_eq!(srv.get(API_POLICIES).await.1[0]["defaultValue"], "Enabled");
    }
);

backends!(
    global_reader_reads_billing_admin_changes_others_are_refused,
    |srv| async move {
        let billing = srv
            .token_with_roles("billing@contoso.test", &[Role::BillingAdmin])
            .await;
        let reader = srv
            .token_with_roles("reader@contoso.test", &[Role::GlobalReader])
            .await;
        let license = srv
            .token_with_roles("license@contoso.test", &[Role::LicenseAdmin])
            .await;
        let useradmin = srv
            .token_with_roles("useradmin@contoso.test", &[Role::UserAdmin])
            .await;
        let member = srv.token_with_roles("member@contoso.test", &[]).await;
        let reads = [
            API_POLICIES.to_string(),
            format!("{P}/products"),
            format!("{P}/products/{BASIC}"),
        ];
        let set_product = || {
            (
                format!("{P}/products/{BASIC}"),
                json!({"policyValue": "Disabled"}),
            )
        };
        let set_default = || (P.to_string(), json!({"defaultValue": "Disabled"}));

        for token in [&srv.token.clone(), &billing, &reader] {
            for path in &reads {
                let got = srv.call_as(token, "GET", path, None).await;
                assert_eq!(got.0, StatusCode::OK, "GET {path}: {}", got.1);
            }
        }
        for token in [&license, &useradmin, &member] {
            for path in &reads {
                let got = srv.call_as(token, "GET", path, None).await;
                assert_error(
                    &got,
                    StatusCode::FORBIDDEN,
                    "Global admin, Billing admin or Global reader",
                );
            }
        }
        for token in [&reader, &license, &useradmin, &member] {
            for (path, body) in [set_product(), set_default()] {
                let got = srv.call_as(token, "PUT", &path, Some(body)).await;
                assert_error(&got, StatusCode::FORBIDDEN, "Global or Billing admin");
            }
        }
        assert_eq!(
            srv.get(&format!("{P}/products/{BASIC}")).await.1["policyValue"],
            "Enabled"
        );
        // The Billing admin changes both; the audit log names them.
        let (path, body) = set_product();
        let got = srv.call_as(&billing, "PUT", &path, Some(body)).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let (path, body) = set_default();
        let got = srv.call_as(&billing, "PUT", &path, Some(body)).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = srv.get(&format!("{API}/audit?action=policy.")).await;
        let entries = got.1["value"].as_array().expect("entries");
        assert_eq!(entries.len(), 2);
        assert!(
            entries.iter().all(|e| e["actor"] == "billing@contoso.test"),
            "{}",
            got.1
        );
    }
);
