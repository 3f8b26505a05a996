//! /api/v1 as a whole: the OpenAPI document matches the routes, bad input is a clear 4xx, the
//! audit log and its CSV export, the development clock and its absence without --dev-clock.

use crate::common::*;
use crate::rest_helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

backends!(openapi_document_matches_the_routes, |srv| async move {
    // Served without a token.
    let got = srv
        .call_as("", "GET", &format!("{API}/openapi.json"), None)
        .await;
    assert_eq!(got.0, StatusCode::OK);
    let doc = got.1;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["servers"][0]["url"], "/api/v1");
    // The served document is the one generated from the handlers' annotations.
    let generated = serde_json::to_value(seatkeeper_web::rest::openapi()).expect("document");
    assert_eq!(doc, generated);
    // Bearer tokens for everything but the document itself.
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer", "description": doc["components"]["securitySchemes"]["bearer"]["description"]})
    );
    assert_eq!(doc["security"], json!([{"bearer": []}]));
    assert_eq!(doc["paths"]["/openapi.json"]["get"]["security"], json!([]));

    let methods = ["get", "post", "put", "patch", "delete"];
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (m, op) in item.as_object().expect("path item") {
            if m == "parameters" {
                continue;
            }
            assert!(methods.contains(&m.as_str()), "{path}: unexpected key {m}");
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{m} {path} has no responses"
            );
            assert!(
                op["operationId"].is_string(),
                "{m} {path} has no operationId"
            );
            documented.insert((m.to_uppercase(), path.clone()));
        }
    }
    let registered: BTreeSet<(String, String)> =
        seatkeeper_web::rest::routes().into_iter().collect();
    let missing: Vec<_> = registered.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes not in the document: {missing:?}"
    );
    let extra: Vec<_> = documented.difference(&registered).collect();
    assert!(
        extra.is_empty(),
        "documented routes the server does not register: {extra:?}"
    );

    // Every documented route answers (not the generic 404, not 405).
    for (m, path) in &documented {
        let concrete = path
            .replace("{id}", &uuid::Uuid::new_v4().to_string())
            .replace("{sku}", "SUITE_BASIC");
        let body = matches!(m.as_str(), "POST" | "PUT" | "PATCH").then(|| json!({}));
        let got = srv.call(m, &format!("{API}{concrete}"), body).await;
        assert_ne!(got.0, StatusCode::METHOD_NOT_ALLOWED, "{m} {path}");
        let generic = got.0 == StatusCode::NOT_FOUND
            && got.1["error"]["message"]
                .as_str()
                .is_some_and(|s| s.starts_with("No such endpoint"));
        assert!(
            !generic,
            "{m} {path} is documented but the server has no such route"
        );
        assert!(got.0.as_u16() < 500, "{m} {path}: {}", got.1);
    }
    // Methods a documented path does not list are refused with 405.
    let got = srv
        .call("DELETE", &format!("{API}/subscriptions"), None)
        .await;
    assert_error(
        &got,
        StatusCode::METHOD_NOT_ALLOWED,
        "does not support that HTTP method",
    );

    // Every $ref points at something in the document.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 50);
    for r in all {
        let ptr = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external ref {r}"));
        assert!(doc.pointer(ptr).is_some(), "dangling $ref {r}");
    }
    // The error envelope is described.
    let body_ref = doc["components"]["schemas"]["Error"]["properties"]["error"]["$ref"]
        .as_str()
        .expect("the envelope's error property is a $ref");
    let body = doc
        .pointer(body_ref.trim_start_matches('#'))
        .expect("the error body schema");
    let err = &body["properties"];
    for k in ["code", "message", "innerError", "details"] {
        assert!(err[k].is_object(), "Error schema lacks {k}");
    }
});

backends!(openapi_document_has_full_schemas, |srv| async move {
    let doc = srv
        .call_as("", "GET", &format!("{API}/openapi.json"), None)
        .await
        .1;
    let schema = |name: &str| doc["components"]["schemas"][name].clone();
    let required = |name: &str| -> BTreeSet<String> {
        schema(name)["required"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no required list"))
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    // Every property of a subscription is described and always sent; nullable ones say so.
    let sub = schema("Subscription");
    let props: BTreeSet<String> = sub["properties"]
        .as_object()
        .expect("Subscription properties")
        .keys()
        .cloned()
        .collect();
    assert_eq!(props, required("Subscription"));
    assert_eq!(sub["properties"]["id"]["format"], "uuid");
    assert_eq!(sub["properties"]["createdDateTime"]["format"], "date-time");
    assert_eq!(
        sub["properties"]["purchaserId"]["type"],
        json!(["string", "null"])
    );
    assert_eq!(
        schema("BillingFrequency")["enum"],
        json!(["monthly", "annual"])
    );
    assert_eq!(
        schema("SubscriptionStatus")["enum"],
        json!(["Active", "Expired", "Disabled", "Deleted"])
    );
    // Request bodies: required fields, bounds, and unknown fields refused.
    let buy = schema("BuyRequest");
    assert_eq!(
        required("BuyRequest"),
        ["billingFrequency", "quantity", "skuId"]
            .map(String::from)
            .into()
    );
    assert_eq!(buy["additionalProperties"], false);
    assert_eq!(buy["properties"]["quantity"]["minimum"], 1);
    assert_eq!(buy["properties"]["quantity"]["type"], "integer");
    // Error answers carry the envelope.
    assert_eq!(
        doc["paths"]["/subscriptions"]["post"]["responses"]["400"]["$ref"],
        "#/components/responses/BadRequest"
    );
    assert_eq!(
        doc["components"]["responses"]["BadRequest"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Error"
    );
    // Every operation has a summary, a tag and error answers.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (m, op) in item.as_object().expect("path item") {
            assert!(op["summary"].is_string(), "{m} {path} has no summary");
            assert!(op["tags"][0].is_string(), "{m} {path} has no tag");
            if path != "/openapi.json" {
                assert!(
                    op["responses"]["401"].is_object(),
                    "{m} {path} does not document 401"
                );
            }
        }
    }
});

// What a property-based run against the OpenAPI document found: requests the document calls
// invalid were accepted, and valid ones refused.
backends!(
    requests_are_read_as_the_document_describes,
    |srv| async move {
        let send = |method: reqwest::Method, path: &str, body: &str| {
            let req = srv
                .raw(method, &format!("{API}{path}"))
                .header("content-type", "application/json")
                .body(body.to_string());
            async move {
                let resp = req.send().await.expect("request");
                let status = resp.status();
                let text = resp.text().await.expect("body");
                (
                    status,
                    serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)),
                )
            }
        };
        use reqwest::Method as M;
        // A body is a JSON object: an array of the fields in order is not read as one.
        let before = srv.get(&format!("{API}/tenant")).await.1;
        let got = send(M::PATCH, "/tenant", "[null, null]").await;
        assert_error(&got, StatusCode::BAD_REQUEST, "must be a JSON object");
        let got = send(M::POST, "/tokens", r#"["x", "script"]"#).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "must be a JSON object");
        assert_eq!(srv.get(&format!("{API}/tenant")).await.1, before);
        // Nor is an array read as one of the objects of a list.
        let me = srv.get(&format!("{API}/me")).await.1;
        let id = me["user"]["id"].as_str().expect("caller id").to_string();
        let got = send(
            M::PUT,
            &format!("/users/{id}/licenses"),
            r#"{"licenses": [["SUITE_BASIC", []]]}"#,
        )
        .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "expected an object");
        let body = json!({"mode": "assignMore", "users": [id], "licenses": [["SUITE_BASIC"]]});
        let got = send(M::POST, "/licenses/bulk", &body.to_string()).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "expected an object");
        // Objects in those lists are read as before.
        let got = send(
            M::PUT,
            &format!("/users/{id}/licenses"),
            r#"{"licenses": [{"skuId": "NO_SUCH_SKU"}]}"#,
        )
        .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "NO_SUCH_SKU");

        // A typed query parameter given without a value is refused, not read as left out.
        for q in [
            "/audit.csv?until=",
            "/audit?top=",
            "/audit?since=%20",
            "/subscriptions?includeDeleted=",
        ] {
            let got = srv.get(&format!("{API}{q}")).await;
            assert_error(&got, StatusCode::BAD_REQUEST, "is empty");
        }
        let got = srv
            .get(&format!("{API}/licenses/SUITE_BASIC/users?after="))
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "is empty");
        // Text filters may be empty: they match everything.
        let got = srv.get(&format!("{API}/audit?action=&actor=")).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);

        // The organization's name cannot be set to null.
        let got = send(
            M::PATCH,
            "/tenant",
            r#"{"name": null, "defaultUsageLocation": "US"}"#,
        )
        .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "name cannot be null");
        assert_eq!(srv.get(&format!("{API}/tenant")).await.1, before);

        // The document caps a cancellation reason at 500 characters.
        let reason = "r".repeat(501);
        let got = send(
            M::POST,
            &format!("/subscriptions/{}/cancel", uuid::Uuid::new_v4()),
            &json!({ "reason": reason }).to_string(),
        )
        .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "keep it to 500");

        // JSON Schema's integer includes 30.0: a whole number written with a fraction is accepted.
        let got = send(
            M::POST,
            "/tokens",
            r#"{"name": "ci", "expiresInDays": 30.0}"#,
        )
        .await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        assert!(got.1["expiresDateTime"].is_string());
        let got = send(
            M::POST,
            "/tokens",
            r#"{"name": "ci", "expiresInDays": 30.5}"#,
        )
        .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "whole number");
    }
);

backends!(bad_input_is_a_clear_4xx, |srv| async move {
    let send = |method: reqwest::Method, path: &str, ctype: Option<&str>, body: Vec<u8>| {
        let mut req = srv.raw(method, &format!("{API}{path}"));
        if let Some(c) = ctype {
            req = req.header("content-type", c.to_string());
        }
        async move {
            let resp = req.body(body).send().await.expect("request");
            let status = resp.status();
            let text = resp.text().await.expect("body");
            (
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)),
            )
        }
    };
    use reqwest::Method as M;
    let json_ct = Some("application/json");
    type Case<'a> = (M, &'a str, Option<&'a str>, Vec<u8>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (M::POST, "/subscriptions", json_ct, b"{not json".to_vec(), StatusCode::BAD_REQUEST, "not valid JSON"),
        (M::POST, "/subscriptions", json_ct, b"".to_vec(), StatusCode::BAD_REQUEST, "not valid JSON"),
        (M::POST, "/subscriptions", json_ct, b"[1,2,3]".to_vec(), StatusCode::BAD_REQUEST, "must be a JSON object with skuId"),
        (M::POST, "/subscriptions", json_ct, br#"{"skuId": 5, "quantity": 1, "billingFrequency": "monthly"}"#.to_vec(), StatusCode::BAD_REQUEST, "invalid type"),
        (M::POST, "/subscriptions", json_ct, br#"{"skuId": "SUITE_BASIC", "quantity": 1.5, "billingFrequency": "monthly"}"#.to_vec(), StatusCode::BAD_REQUEST, "invalid type"),
        (M::POST, "/subscriptions", json_ct, br#"{"skuId": "SUITE_BASIC", "quantity": 99999999999999999999999, "billingFrequency": "monthly"}"#.to_vec(), StatusCode::BAD_REQUEST, "expected"),
        (M::POST, "/subscriptions", json_ct, br#"{"skuId": "SUITE_BASIC", "quantity": 2000000, "billingFrequency": "monthly"}"#.to_vec(), StatusCode::BAD_REQUEST, "at most 1000000"),
        (M::POST, "/subscriptions", None, br#"{"skuId": "SUITE_BASIC"}"#.to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type: application/json"),
        (M::POST, "/subscriptions", Some("text/plain"), br#"{"skuId": "SUITE_BASIC"}"#.to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type: application/json"),
        (M::POST, "/licenses/SUITE_BASIC/assign", json_ct, br#"{"users": "adele@contoso.test"}"#.to_vec(), StatusCode::BAD_REQUEST, "invalid type"),
        (M::POST, "/licenses/SUITE_BASIC/assign", json_ct, br#"{"users": [null]}"#.to_vec(), StatusCode::BAD_REQUEST, "invalid type"),
        (M::POST, "/licenses/SUITE_BASIC/assign", json_ct, br#"{"users": ["x' OR '1'='1"]}"#.to_vec(), StatusCode::NOT_FOUND, "x' OR '1'='1"),
        (M::POST, "/licenses/SUITE_BASIC/assign", json_ct, br#"{"users": ["a@contoso.test", "A@contoso.test"]}"#.to_vec(), StatusCode::BAD_REQUEST, "named twice"),
        (M::POST, "/licenses/SUITE_BASIC/assign", json_ct, br#"{"users": ["admin@contoso.test"], "disabledPlans": ["'; DROP TABLE assignments; --"]}"#.to_vec(), StatusCode::BAD_REQUEST, "neither a service plan GUID"),
        (M::PATCH, "/tenant", json_ct, br#"{"defaultUsageLocation": "'; DELETE FROM tenants; --"}"#.to_vec(), StatusCode::BAD_REQUEST, "usageLocation"),
        (M::PATCH, "/tenant", json_ct, br#"{"name": 42}"#.to_vec(), StatusCode::BAD_REQUEST, "invalid type"),
        (M::PUT, "/dev/clock", json_ct, br#"{"now": "tomorrow"}"#.to_vec(), StatusCode::BAD_REQUEST, "not an RFC 3339 date and time"),
        (M::PUT, "/dev/clock", json_ct, br#"{}"#.to_vec(), StatusCode::BAD_REQUEST, "now is required"),
        (M::PUT, "/dev/clock", json_ct, br#"{"now": "2030-01-01T00:00:00Z", "speed": 2}"#.to_vec(), StatusCode::BAD_REQUEST, "unknown field `speed`"),
        (M::POST, "/subscriptions/%FF%FE/cancel", json_ct, br#"{"reason": "Other"}"#.to_vec(), StatusCode::BAD_REQUEST, "path"),
    ];
    for (m, path, ctype, body, status, needle) in cases {
        let got = send(m, path, ctype, body).await;
        assert_error(&got, status, needle);
    }

    // Injection-looking ids and query values are just values that match nothing.
    for path in [
        "/subscriptions/'%20OR%201=1--",
        "/subscriptions/1;DROP%20TABLE%20subscriptions",
        "/users/'%20OR%20''='/licenses",
        "/users/%3Cscript%3Ealert(1)%3C%2Fscript%3E/roles",
        "/licenses/%27%3B%20DROP%20TABLE%20users%3B--/users",
    ] {
        let got = srv.get(&format!("{API}{path}")).await;
        assert_eq!(got.0, StatusCode::NOT_FOUND, "{path}: {}", got.1);
        assert!(got.1["error"]["message"].is_string());
    }
    let long = "x".repeat(5000);
    let got = srv.get(&format!("{API}/subscriptions/{long}")).await;
    assert_eq!(got.0, StatusCode::NOT_FOUND);
    let got = srv
        .get(&format!(
            "{API}/audit?actor=%27%20OR%201%3D1%20--&action=user."
        ))
        .await;
    assert_eq!((got.0, got.1["value"].clone()), (StatusCode::OK, json!([])));
    // An action filter is the start of an audit action; anything else is refused, naming them.
    for action in ["%25", "bogus", "user.create%27%20OR%201%3D1%20--"] {
        let got = srv.get(&format!("{API}/audit?action={action}")).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "matches no audit action");
        assert_error(&got, StatusCode::BAD_REQUEST, "user.create, user.update");
        let got = srv.get(&format!("{API}/audit.csv?action={action}")).await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
    }
    for (q, needle) in [
        ("top=abc", "from 1 to 1000"),
        ("top=0", "from 1 to 1000"),
        ("top=1001", "from 1 to 1000"),
        ("since=yesterday", "not an RFC 3339"),
        ("before=-1", "whole number"),
        ("topp=3", "Unknown query parameter 'topp'"),
        ("top=1&top=2", "more than once"),
    ] {
        let got = srv.get(&format!("{API}/audit?{q}")).await;
        assert_error(&got, StatusCode::BAD_REQUEST, needle);
    }
    let got = srv.get(&format!("{API}/licenses?x=1")).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "Unknown query parameter 'x': this endpoint accepts origin.",
    );

    // Oversized bodies.
    let big = format!("{{\"reason\": \"{}\"}}", "a".repeat(1024 * 1024 + 10));
    let got = send(
        M::POST,
        "/subscriptions/x/cancel",
        json_ct,
        big.clone().into_bytes(),
    )
    .await;
    assert_error(
        &got,
        StatusCode::PAYLOAD_TOO_LARGE,
        "larger than the 1024 KiB",
    );
    // The catalog is the operator's: its bad bodies, sent with an operator token.
    let operator = srv
        .app
        .create_operator_token(
            &seatkeeper_app::operator::Operator::cli(),
            "bad bodies",
            None,
        )
        .await
        .expect("operator token")
        .token;
    let put_catalog = |body: Vec<u8>| {
        let req = reqwest::Client::new()
            .put(format!("{}{API}/catalog", srv.url))
            .bearer_auth(&operator)
            .header("content-type", "application/toml")
            .body(body);
        async move {
            let resp = req.send().await.expect("request");
            let status = resp.status();
            let text = resp.text().await.expect("body");
            (
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)),
            )
        }
    };
    let got = put_catalog(big.into_bytes()).await;
    assert_error(
        &got,
        StatusCode::PAYLOAD_TOO_LARGE,
        "larger than the 1024 KiB",
    );
    let got = put_catalog(vec![0xff, 0xfe, 0x00]).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "UTF-8");

    // Strings that look like markup are stored and returned as data.
    let got = srv
        .patch(
            &format!("{API}/tenant"),
            json!({"name": "<script>alert(1)</script> & Co"}),
        )
        .await;
    assert_eq!(
        (got.0, got.1["name"].as_str()),
        (StatusCode::OK, Some("<script>alert(1)</script> & Co"))
    );
    let s = buy(&srv, "SUITE_BASIC", 1, "monthly").await;
    let reason = "Robert'); DROP TABLE subscriptions;--";
    let got = srv
        .post(
            &format!(
                "{API}/subscriptions/{}/cancel",
                s["id"].as_str().expect("id")
            ),
            json!({"reason": reason}),
        )
        .await;
    assert_eq!(
        (got.0, got.1["subscription"]["cancelReason"].as_str()),
        (StatusCode::OK, Some(reason)),
        "{}",
        got.1
    );
    assert_eq!(
        srv.get(&format!("{API}/subscriptions")).await.1["value"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
});

backends!(audit_log_filters_pages_and_exports, |srv| async move {
    let s = buy(&srv, "SUITE_BASIC", 3, "monthly").await;
    let sub_id = s["id"].as_str().expect("id").to_string();
    let people = users(&srv, "aud", 2).await;
    assert_eq!(
        assign(&srv, "SUITE_BASIC", &people, &["OFFICE_WEB"])
            .await
            .0,
        StatusCode::OK
    );
    srv.patch(
        &format!("{API}/subscriptions/{sub_id}"),
        json!({"quantity": 4}),
    )
    .await;
    let before_all = now(&srv).await;

    let got = srv.get(&format!("{API}/audit")).await;
    assert_eq!(got.0, StatusCode::OK);
    let all = got.1["value"].as_array().expect("value").clone();
    let ids: Vec<i64> = all
        .iter()
        .map(|e| {
            e["id"]
                .as_str()
                .expect("id as string")
                .parse()
                .expect("number")
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let buy_entry = all
        .iter()
        .find(|e| e["action"] == "subscription.buy")
        .expect("buy entry");
    assert_eq!(
        (
            buy_entry["targetType"].as_str(),
            buy_entry["targetId"].as_str()
        ),
        (Some("subscription"), Some(sub_id.as_str()))
    );
    assert!(buy_entry["before"].is_null());
    assert_eq!(buy_entry["after"]["quantity"], 3);
    assert_eq!(buy_entry["actor"], "admin@contoso.test");
    assert_eq!(buy_entry["actorId"], srv.admin.to_string());
    let assign_entry = all
        .iter()
        .find(|e| e["action"] == "license.assign")
        .expect("assign entry");
    assert_eq!(assign_entry["before"], json!([]));
    assert_eq!(assign_entry["after"][0]["sku"], "SUITE_BASIC");
    assert_eq!(
        assign_entry["after"][0]["disabledPlans"],
        json!(["OFFICE_WEB"])
    );

    // Filters.
    let got = srv.get(&format!("{API}/audit?action=license.")).await;
    let v = got.1["value"].as_array().expect("value");
    assert_eq!(v.len(), 2);
    assert!(v.iter().all(|e| e["action"] == "license.assign"));
    let got = srv.get(&format!("{API}/audit?targetId={sub_id}")).await;
    assert_eq!(
        got.1["value"].as_array().map(Vec::len),
        Some(2),
        "{}",
        got.1
    );
    let got = srv
        .get(&format!(
            "{API}/audit?actor=ADMIN@contoso.test&action=subscription."
        ))
        .await;
    assert_eq!(
        got.1["value"].as_array().map(Vec::len),
        Some(2),
        "{}",
        got.1
    );
    let got = srv
        .get(&format!("{API}/audit?actor=nobody@contoso.test"))
        .await;
    assert_eq!(got.1["value"], json!([]));
    let future = (before_all + chrono::Duration::days(1))
        .to_rfc3339()
        .replace('+', "%2B");
    let got = srv.get(&format!("{API}/audit?since={future}")).await;
    assert_eq!(got.1["value"], json!([]), "{}", got.1);
    let got = srv
        .get(&format!(
            "{API}/audit?until={future}&action=subscription.buy"
        ))
        .await;
    assert_eq!(got.1["value"].as_array().map(Vec::len), Some(1));
    let buy_at = buy_entry["dateTime"]
        .as_str()
        .expect("time")
        .replace('+', "%2B");
    let got = srv
        .get(&format!("{API}/audit?since={buy_at}&action=tenant."))
        .await;
    assert_eq!(
        got.1["value"],
        json!([]),
        "tenant.create was before the purchase: {}",
        got.1
    );

    // Paging with before/top and nextLink.
    let mut next = Some(format!("{API}/audit?top=2"));
    let mut paged = Vec::new();
    while let Some(p) = next {
        let got = srv.get(&p).await;
        assert_eq!(got.0, StatusCode::OK, "{p}: {}", got.1);
        let v = got.1["value"].as_array().expect("value");
        assert!(v.len() <= 2);
        paged.extend(v.iter().map(|e| e["id"].as_str().expect("id").to_string()));
        next = got.1["nextLink"].as_str().map(str::to_string);
    }
    let all_ids: Vec<String> = all
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(paged, all_ids);
    let got = srv.get(&format!("{API}/audit?top=1&action=license.")).await;
    let link = got.1["nextLink"].as_str().expect("nextLink");
    assert!(link.contains("action=license."), "{link}");
    let got = srv.get(link).await;
    assert_eq!(got.1["value"].as_array().map(Vec::len), Some(1));
    assert!(got.1["nextLink"].is_null());

    // CSV with the same filters.
    let (status, headers, text) = get_text(&srv, &format!("{API}/audit.csv")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/csv")
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap_or_default()
            .starts_with("attachment")
    );
    let rows = csv_rows(&text);
    assert_eq!(
        rows[0],
        [
            "id",
            "dateTime",
            "actor",
            "actorId",
            "action",
            "targetType",
            "targetId",
            "summary",
            "before",
            "after"
        ]
    );
    assert_eq!(rows.len(), all.len() + 1);
    let (_, _, text) = get_text(&srv, &format!("{API}/audit.csv?action=license.")).await;
    let rows = csv_rows(&text);
    assert_eq!(rows.len(), 3);
    assert!(
        rows[1..]
            .iter()
            .all(|r| r[4] == "license.assign" && r[2] == "admin@contoso.test")
    );
    let after: Value = serde_json::from_str(&rows[1][9]).expect("after is JSON");
    assert_eq!(after[0]["sku"], "SUITE_BASIC");
    let (status, _, _) = get_text(&srv, &format!("{API}/audit.csv?top=5")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // No route changes or deletes entries, and the database refuses it.
    for m in ["PUT", "PATCH", "DELETE", "POST"] {
        let got = srv.call(m, &format!("{API}/audit"), Some(json!({}))).await;
        assert_eq!(got.0, StatusCode::METHOD_NOT_ALLOWED, "{m} /audit");
    }
    for sql in [
        "UPDATE audit_log SET summary = 'rewritten'",
        "DELETE FROM audit_log",
    ] {
        let mut tx = srv.app.db.begin().await.expect("tx");
        let r = seatkeeper_store::sqlx::query(sql).execute(&mut *tx).await;
        assert!(r.is_err(), "the database accepted: {sql}");
        let _ = tx.rollback().await;
    }
    let got = srv.get(&format!("{API}/audit")).await;
    assert_eq!(got.1["value"].as_array().map(Vec::len), Some(all.len()));
});

backends!(dev_clock_and_jobs, |srv| async move {
    let before = now(&srv).await;
    let to = before + chrono::Duration::days(400);
    let got = srv
        .put(&format!("{API}/dev/clock"), json!({"now": to.to_rfc3339()}))
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let set = t(&got.1["now"]);
    assert!(
        set >= to && set - to < chrono::Duration::seconds(5),
        "{set} vs {to}"
    );
    let got = srv.get(&format!("{API}/dev/clock")).await;
    assert!(t(&got.1["now"]) >= to);
    let report = run_jobs(&srv).await;
    for k in [
        "now",
        "renewed",
        "expired",
        "disabled",
        "deleted",
        "mailsSent",
        "mailsFailed",
    ] {
        assert!(!report[k].is_null(), "report lacks {k}: {report}");
    }
    let got = srv.get(&format!("{API}/audit?action=clock.set")).await;
    assert_eq!(
        got.1["value"].as_array().map(Vec::len),
        Some(1),
        "{}",
        got.1
    );
    let got = srv
        .put(
            &format!("{API}/dev/clock"),
            json!({"now": "2030-02-30T00:00:00Z"}),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "RFC 3339");
    let got = srv
        .call_as("", "GET", &format!("{API}/dev/clock"), None)
        .await;
    assert_eq!(got.0, StatusCode::UNAUTHORIZED);
});

/// A server on SQLite started without the development clock.
async fn start_without_dev_clock() -> (String, String, tokio::sync::oneshot::Sender<()>) {
    use seatkeeper_app::mail::{MailConfig, Transport};
    let dir = temp_dir();
    let db = fresh_db(Backend::Sqlite, &dir).await.expect("sqlite");
    let mail = MailConfig {
        from: "seatkeeper@test.example".into(),
        transport: Transport::EmlDir(dir.join("mail")),
    };
    let app = seatkeeper_app::App::new(
        db,
        seatkeeper_app::Config {
            mail,
            dev_clock: false,
            public_url: None,
        },
    )
    .await
    .expect("app");
    let b = app
        .create_tenant("No Dev", "admin@nodev.test", Some("US"), None)
        .await
        .expect("tenant");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = seatkeeper_web::serve(app, listener, async move {
            let _ = rx.await;
        })
        .await;
    });
    (url, b.token, tx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_routes_are_absent_without_the_dev_clock() {
    let (url, token, _stop) = start_without_dev_clock().await;
    let client = reqwest::Client::new();
    let answer = |resp: reqwest::Response| async move {
        let status = resp.status();
        let v: Value = resp.json().await.expect("json");
        (status, v)
    };
    let absent = answer(
        client
            .get(format!("{url}/api/v1/no-such-thing"))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(absent.0, StatusCode::NOT_FOUND);
    let reqs = vec![
        (
            "GET /dev/clock",
            client
                .get(format!("{url}/api/v1/dev/clock"))
                .bearer_auth(&token),
        ),
        (
            "GET /dev/clock without token",
            client.get(format!("{url}/api/v1/dev/clock")),
        ),
        (
            "PUT /dev/clock",
            client
                .put(format!("{url}/api/v1/dev/clock"))
                .bearer_auth(&token)
                .json(&json!({"now": "2040-01-01T00:00:00Z"})),
        ),
        (
            "PUT /dev/clock with a bad body",
            client.put(format!("{url}/api/v1/dev/clock")).body("{oops"),
        ),
        (
            "POST /dev/jobs/run",
            client
                .post(format!("{url}/api/v1/dev/jobs/run"))
                .bearer_auth(&token),
        ),
        (
            "DELETE /dev/clock (a method the route never had)",
            client
                .delete(format!("{url}/api/v1/dev/clock"))
                .bearer_auth(&token),
        ),
    ];
    for (what, req) in reqs {
        let got = answer(req.send().await.expect("request")).await;
        assert_eq!(got.0, StatusCode::NOT_FOUND, "{what}: {}", got.1);
        assert_eq!(got.1["error"]["code"], absent.1["error"]["code"], "{what}");
        let msg = got.1["error"]["message"].as_str().expect("message");
        assert!(
            msg.starts_with("No such endpoint: /api/v1/dev/"),
            "{what}: {msg}"
        );
        assert_eq!(
            msg.split_once(". ").map(|x| x.1),
            absent.1["error"]["message"]
                .as_str()
                .and_then(|m| m.split_once(". "))
                .map(|x| x.1),
            "{what}"
        );
    }
    // The rest of the API works as usual.
    let got = answer(
        client
            .get(format!("{url}/api/v1/me"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(got.0, StatusCode::OK);
}

backends!(
    an_empty_search_is_refused_as_the_document_says,
    |srv| async move {
        let got = srv
            .get(&format!("{API}/licenses/SUITE_BASIC/users?search="))
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "search is empty");
        let doc = srv.get(&format!("{API}/openapi.json")).await.1;
        let params = doc["paths"]["/licenses/{sku}/users"]["get"]["parameters"]
            .as_array()
            .expect("parameters");
        let search = params
            .iter()
            .find(|p| p["name"] == "search")
            .expect("search");
        assert_eq!(search["schema"]["minLength"], 1, "{search}");
        assert_eq!(search["schema"]["pattern"], "\\S", "{search}");
    }
);
