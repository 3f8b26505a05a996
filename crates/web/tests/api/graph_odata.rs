//! OData on the Graph-compatible API: $filter, $select, $top with @odata.nextLink, $count.

use crate::common::*;
use reqwest::StatusCode;
use seatkeeper_app::directory::UserInput;
use seatkeeper_app::licenses::LicenseSpec;
use serde_json::Value;
use std::collections::HashSet;

/// Percent-encodes everything but unreserved characters.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn person(srv: &Srv, upn: &str, name: &str, f: impl FnOnce(&mut UserInput)) -> String {
    let mut input = UserInput {
        user_principal_name: Some(upn.into()),
        display_name: Some(name.into()),
        ..Default::default()
    };
    f(&mut input);
    srv.app
        .create_user(&srv.operator(), &input)
        .await
        .unwrap_or_else(|e| panic!("{upn}: {e}"))
        .id
        .to_string()
}

/// A small directory: admin@contoso.test plus five people.
async fn directory(srv: &Srv) {
    srv.buy("SUITE_STANDARD", 5).await;
    srv.buy("MAIL_PLAN1", 5).await;
    srv.buy("CHAT_ESSENTIALS", 5).await;
    person(srv, "adele@contoso.test", "Adele Vance", |u| {
        u.given_name = Some(Some("Adele".into()));
        u.surname = Some(Some("Vance".into()));
        u.usage_location = Some(Some("DK".into()));
        u.department = Some(Some("Sales".into()));
        u.job_title = Some(Some("Analyst".into()));
    })
    .await;
    person(srv, "alex@contoso.test", "Alex Wilber", |u| {
        u.given_name = Some(Some("Alex".into()));
        u.surname = Some(Some("Wilber".into()));
        u.usage_location = Some(Some("US".into()));
        u.department = Some(Some("SALES".into()));
    })
    .await;
    person(srv, "o'brien@contoso.test", "Conor O'Brien", |u| {
        u.account_enabled = Some(false);
    })
    .await;
    person(srv, "pat_fabrikam.test@contoso.test", "Pat Partner", |u| {
        u.user_type = Some("Guest".into());
        u.usage_location = Some(Some("GB".into()));
        u.mail = Some(Some("pat@fabrikam.test".into()));
    })
    .await;
    person(srv, "percent@contoso.test", "100% Test_User", |u| {
        u.usage_location = Some(Some("US".into()));
    })
    .await;
    let op = srv.operator();
    let spec = |part: &str| LicenseSpec {
        sku_id: srv.sku(part),
        disabled_plans: vec![],
    };
    srv.app
        .assign_license(
            &op,
            "adele@contoso.test",
            vec![spec("SUITE_STANDARD")],
            vec![],
        )
        .await
        .unwrap();
    srv.app
        .assign_license(
            &op,
            "alex@contoso.test",
            vec![spec("MAIL_PLAN1"), spec("CHAT_ESSENTIALS")],
            vec![],
        )
        .await
        .unwrap();
}

/// The sorted userPrincipalNames that `$filter=f` returns.
async fn filtered(srv: &Srv, f: &str) -> Vec<String> {
    let (st, body) = srv.get(&format!("/v1.0/users?$filter={}", enc(f))).await;
    assert_eq!(st, StatusCode::OK, "{f}: {body}");
    let mut v: Vec<String> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn names(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

backends!(every_supported_filter, |srv| async move {
    directory(&srv).await;
    let standard = srv.sku("SUITE_STANDARD");
    let mail = srv.sku("MAIL_PLAN1");
    let adele_id = srv
        .app
        .get_user(&srv.operator(), "adele@contoso.test")
        .await
        .unwrap()
        .id;
    let all = names(&[
        "admin@contoso.test",
        "adele@contoso.test",
        "alex@contoso.test",
        "o'brien@contoso.test",
        "pat_fabrikam.test@contoso.test",
        "percent@contoso.test",
    ]);
    let cases: Vec<(String, Vec<&str>)> = vec![
        (format!("assignedLicenses/any(x:x/skuId eq {standard})"), vec!["adele@contoso.test"]),
        (format!("assignedLicenses/any(lic:lic/skuId eq {})", mail.to_string().to_uppercase()), vec!["alex@contoso.test"]),
        (format!("assignedLicenses/any(x:x/skuId eq {standard} or x/skuId eq {mail})"), vec!["adele@contoso.test", "alex@contoso.test"]),
        (format!("not(assignedLicenses/any(x:x/skuId eq {standard}))"), vec!["admin@contoso.test", "alex@contoso.test", "o'brien@contoso.test", "pat_fabrikam.test@contoso.test", "percent@contoso.test"]),
        ("assignedLicenses/$count eq 0".into(), vec!["admin@contoso.test", "o'brien@contoso.test", "pat_fabrikam.test@contoso.test", "percent@contoso.test"]),
        ("assignedLicenses/$count ne 0".into(), vec!["adele@contoso.test", "alex@contoso.test"]),
        ("assignedLicenses/$count eq 2".into(), vec!["alex@contoso.test"]),
        ("userType eq 'Guest'".into(), vec!["pat_fabrikam.test@contoso.test"]),
        ("userType ne 'Guest'".into(), vec!["admin@contoso.test", "adele@contoso.test", "alex@contoso.test", "o'brien@contoso.test", "percent@contoso.test"]),
        ("userPrincipalName eq 'ADELE@contoso.test'".into(), vec!["adele@contoso.test"]),
        ("userPrincipalName eq 'o''brien@contoso.test'".into(), vec!["o'brien@contoso.test"]),
        ("startswith(displayName,'a')".into(), vec!["admin@contoso.test", "adele@contoso.test", "alex@contoso.test"]),
        ("startswith(displayName,'100%')".into(), vec!["percent@contoso.test"]),
        ("startswith(displayName,'1_0')".into(), vec![]),
        ("startswith(displayName,'%')".into(), vec![]),
        (format!("id eq '{adele_id}'"), vec!["adele@contoso.test"]),
        ("displayName eq 'Conor O''Brien'".into(), vec!["o'brien@contoso.test"]),
        ("mail eq 'pat@fabrikam.test'".into(), vec!["pat_fabrikam.test@contoso.test"]),
        ("givenName eq 'adele'".into(), vec!["adele@contoso.test"]),
        ("surname eq 'Wilber'".into(), vec!["alex@contoso.test"]),
        ("usageLocation eq 'DK'".into(), vec!["adele@contoso.test"]),
        ("usageLocation eq null".into(), vec!["o'brien@contoso.test"]),
        ("jobTitle eq 'Analyst'".into(), vec!["adele@contoso.test"]),
        ("department eq 'sales'".into(), vec!["adele@contoso.test", "alex@contoso.test"]),
        ("accountEnabled eq false".into(), vec!["o'brien@contoso.test"]),
        ("startswith(userPrincipalName,'AD')".into(), vec!["admin@contoso.test", "adele@contoso.test"]),
        ("startswith(mail,'pat@')".into(), vec!["pat_fabrikam.test@contoso.test"]),
        ("startswith(givenName,'Al')".into(), vec!["alex@contoso.test"]),
        ("startswith(surname,'Van')".into(), vec!["adele@contoso.test"]),
        ("userType in ('Guest', 'Nobody')".into(), vec!["pat_fabrikam.test@contoso.test"]),
        ("(userType eq 'Guest' or accountEnabled eq false) and not startswith(displayName,'Pat')".into(), vec!["o'brien@contoso.test"]),
        ("department eq 'Sales' and usageLocation eq 'US' or userType eq 'Guest'".into(), vec!["alex@contoso.test", "pat_fabrikam.test@contoso.test"]),
        ("mail ne 'pat@fabrikam.test' and startswith(displayName,'Conor')".into(), vec!["o'brien@contoso.test"]),
        // Injection-looking text is a value like any other.
        ("displayName eq 'x'' or ''1''=''1'".into(), vec![]),
        ("startswith(displayName,''' OR 1=1 --')".into(), vec![]),
    ];
    for (f, want) in cases {
        assert_eq!(filtered(&srv, &f).await, names(&want), "$filter={f}");
    }
    assert_eq!(
        filtered(&srv, "accountEnabled eq true").await.len(),
        all.len() - 1
    );
    // `+` is a space and %XX is decoded.
    let (st, body) = srv.get("/v1.0/users?$filter=userType+eq+%27Guest%27").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    let (st, body) = srv
        .get("/v1.0/users?%24filter=startswith(displayName%2C%27Alex+W%27)")
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"][0]["userPrincipalName"], "alex@contoso.test");
    // Members of a group take the same filters.
    let g = srv
        .app
        .create_group(&srv.operator(), "Sales", None, None)
        .await
        .unwrap();
    for u in [
        "adele@contoso.test",
        "alex@contoso.test",
        "o'brien@contoso.test",
    ] {
        srv.app
            .add_group_member(&srv.operator(), &g.id.to_string(), u)
            .await
            .unwrap();
    }
    let (st, body) = srv
        .get(&format!(
            "/v1.0/groups/{}/members?$filter={}&$count=true",
            g.id,
            enc("assignedLicenses/$count eq 0")
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["@odata.count"], 1);
    assert_eq!(
        body["value"][0]["userPrincipalName"],
        "o'brien@contoso.test"
    );
    assert_eq!(body["value"][0]["@odata.type"], "#microsoft.graph.user");
});

backends!(unsupported_or_malformed_filters_are_400, |srv| async move {
    let cases = [
        (
            "endswith(mail,'@contoso.test')",
            "Unsupported $filter: the function endswith() is not supported",
        ),
        (
            "displayName gt 'A'",
            "the operator gt is not supported on displayName",
        ),
        (
            "shoeSize eq 42",
            "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'.",
        ),
        (
            "createdDateTime eq '2024-01-01'",
            "filtering on createdDateTime is not supported",
        ),
        (
            "assignedPlans/any(x:x/servicePlanId eq 57ff2da0-773e-42df-b2af-ffb7a2317929)",
            "lambda filters on assignedPlans are not supported",
        ),
        (
            "assignedLicenses/any(x:x/skuId eq 'nope')",
            "Invalid $filter: skuId 'nope' is not a GUID",
        ),
        (
            "assignedLicenses/$count gt 1",
            "assignedLicenses/$count gt is not supported",
        ),
        ("userType eq 'Guest", "no closing quote"),
        ("(userType eq 'Guest'", "expected ')'"),
        ("userType eq 'Guest')", "without a matching '('"),
        ("userType eq Guest", "put text in single quotes"),
        ("userType eq \"Guest\"", "double quotes"),
        (
            "displayName eq 'a'; DROP TABLE users",
            "unexpected character ';'",
        ),
        ("accountEnabled eq 'yes'", "accountEnabled is true or false"),
        ("userType", "expected an operator"),
    ];
    for (f, needle) in cases {
        let got = srv.get(&format!("/v1.0/users?$filter={}", enc(f))).await;
        assert_error(&got, StatusCode::BAD_REQUEST, needle);
        assert_eq!(got.1["error"]["code"], "Request_BadRequest", "{f}");
        if got.1["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Unsupported")
        {
            assert_error(&got, StatusCode::BAD_REQUEST, "Supported on users:");
        }
    }
    let deep = format!(
        "{}userType eq 'Guest'{}",
        "(".repeat(2000),
        ")".repeat(2000)
    );
    let got = srv
        .get(&format!("/v1.0/users?$filter={}", enc(&deep)))
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "nests more than");
    for (q, needle) in [
        ("$orderby=displayName", "$orderby is not supported"),
        (
            "$search=%22displayName:adele%22",
            "Query option '$search' is not supported",
        ),
        ("$expand=manager", "Query option '$expand' is not supported"),
        ("$skip=5", "$skip is not supported"),
        (
            "$top=0",
            "Invalid page size specified: '0'. Must be between 1 and 999 inclusive.",
        ),
        ("$top=1000", "Must be between 1 and 999"),
        ("$top=ten", "Invalid page size"),
        ("$count=yes", "$count must be true or false"),
        ("$skiptoken=abc", "The $skiptoken is not valid"),
        ("$filter=", "$filter is empty"),
        ("$top=1&$top=2", "more than once"),
        ("$filter=%zz", "'%' that is not followed by two hex digits"),
        (
            "$select=id,shoeSize",
            "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'.",
        ),
    ] {
        let got = srv.get(&format!("/v1.0/users?{q}")).await;
        assert_error(&got, StatusCode::BAD_REQUEST, needle);
    }
    let got = srv
        .get(&format!(
            "/v1.0/groups?$filter={}",
            enc("description eq 'Sales'")
        ))
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "Supported on groups: displayName eq 'text' or startswith(displayName,'text')",
    );
});

backends!(percent_takes_two_hex_digits, |srv| async move {
    // "%+b" once decoded as the control byte 0x0b.
    let got = srv
        .get("/v1.0/users?$filter=displayName%20eq%20%27a%+b%27")
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "'%' that is not followed by two hex digits",
    );
    let (st, body) = srv
        .get("/v1.0/users?$filter=displayName%20eq%20%27a%2Bb%3D%26%27")
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
});

backends!(select_top_paging_and_count, |srv| async move {
    for i in 0..23 {
        srv.user(&format!("bulk{i:02}@contoso.test"), Some("US"))
            .await;
    }
    srv.user("other@contoso.test", Some("US")).await;
    // $select keeps only what was asked for, plus id.
    let (st, body) = srv
        .get("/v1.0/users?$select=displayName,assignedLicenses&$top=2")
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    for u in body["value"].as_array().unwrap() {
        let mut keys: Vec<&String> = u.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, vec!["assignedLicenses", "displayName", "id"]);
    }
    // Page through a filtered list with $top and @odata.nextLink to the end.
    let filter = enc("startswith(userPrincipalName,'bulk')");
    let mut path =
        format!("/v1.0/users?$filter={filter}&$top=5&$select=userPrincipalName&$count=true");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (st, body) = srv.call("GET", &path, None).await;
        assert_eq!(st, StatusCode::OK, "{path}: {body}");
        pages += 1;
        assert_eq!(body["@odata.count"], 23, "{body}");
        let items = body["value"].as_array().unwrap();
        assert!(items.len() <= 5);
        for u in items {
            assert!(
                u.get("displayName").is_none(),
                "$select lost on page {pages}: {u}"
            );
            seen.push(u["userPrincipalName"].as_str().unwrap().to_string());
        }
        match body.get("@odata.nextLink").and_then(Value::as_str) {
            Some(next) => {
                assert!(
                    next.starts_with(&format!("{}/v1.0/users?", srv.url)),
                    "{next}"
                );
                assert!(next.contains("$skiptoken="), "{next}");
                path = next.strip_prefix(&srv.url).unwrap().to_string();
            }
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 5);
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "duplicates: {seen:?}");
    assert_eq!(seen.len(), 23);
    assert!(seen.iter().all(|u| u.starts_with("bulk")));

    // Default page size is 100; with fewer users there is no nextLink.
    let (_, body) = srv.get("/v1.0/users").await;
    assert_eq!(body["value"].as_array().unwrap().len(), 25);
    assert!(body.get("@odata.nextLink").is_none());
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/v1.0/$metadata#users")
    );
    // An exact multiple of $top ends without an empty page.
    let (_, body) = srv.get("/v1.0/users?$top=25").await;
    assert!(body.get("@odata.nextLink").is_none(), "{body}");

    // $count=true, ConsistencyLevel accepted, /users/$count as plain text.
    let resp = srv
        .raw(reqwest::Method::GET, "/v1.0/users?$count=true&$top=1")
        .header("ConsistencyLevel", "eventual")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["@odata.count"], 25);
    let resp = srv
        .raw(
            reqwest::Method::GET,
            &format!("/v1.0/users/$count?$filter={filter}"),
        )
        .header("ConsistencyLevel", "eventual")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(resp.text().await.unwrap(), "23");
    let (st, body) = srv.get("/v1.0/users/$count").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, Value::from(25));
    let got = srv
        .get(&format!(
            "/v1.0/users/$count?$filter={}",
            enc("endswith(mail,'x')")
        ))
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "Unsupported $filter");
});
