//! /api/v1/licenses and /api/v1/users/{id}/licenses: batches, checks, bulk modes, plans by
//! name, a product's users with paging and the CSV export.

use crate::common::*;
use crate::rest_helpers::*;
use reqwest::StatusCode;
use serde_json::json;

backends!(batch_is_all_or_nothing_and_counts_seats, |srv| async move {
    buy(&srv, "SUITE_BASIC", 2, "monthly").await;
    let people = users(&srv, "b", 3).await;
    let got = assign(&srv, "SUITE_BASIC", &people, &[]).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "3 licenses needed, 2 available",
    );
    assert_eq!(got.1["error"]["code"], "notEnoughLicenses");
    for p in &people {
        assert!(held(&srv, p).await.is_empty(), "{p} got a license");
    }
    let row = license_row(&srv, "SUITE_BASIC").await.expect("row");
    assert_eq!(
        (row["assigned"].as_i64(), row["available"].as_i64()),
        (Some(0), Some(2))
    );

    let got = assign(&srv, "SUITE_BASIC", &people[..2], &[]).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let value = got.1["value"].as_array().expect("value");
    assert_eq!(value.len(), 2);
    assert_eq!(value[0]["licenses"][0]["skuPartNumber"], "SUITE_BASIC");
    assert_eq!(value[0]["licenses"][0]["sources"], json!(["direct"]));
    let row = license_row(&srv, "SUITE_BASIC").await.expect("row");
    assert_eq!(
        (row["assigned"].as_i64(), row["available"].as_i64()),
        (Some(2), Some(0))
    );
    // Assigning again to a holder changes nothing and takes no seat.
    let got = assign(&srv, "SUITE_BASIC", &people[..1], &[]).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);

    let many: Vec<String> = (0..21).map(|i| format!("x{i}@contoso.test")).collect();
    let got = assign(&srv, "SUITE_BASIC", &many, &[]).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "at most 20 users at a time");
    let got = assign(&srv, "SUITE_BASIC", &[], &[]).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "Name at least one user");
    let got = assign(
        &srv,
        "SUITE_BASIC",
        &["nobody@contoso.test".to_string()],
        &[],
    )
    .await;
    assert_error(&got, StatusCode::NOT_FOUND, "nobody@contoso.test");
    let got = assign(&srv, "NOT_A_PRODUCT", &people, &[]).await;
    assert_error(
        &got,
        StatusCode::NOT_FOUND,
        "'NOT_A_PRODUCT' is not in the catalog",
    );
    let got = assign(&srv, "SUITE_PREMIUM", &people[2..], &[]).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "has no active subscription for SUITE_PREMIUM",
    );

    // Unassign frees the seat.
    let got = srv
        .post(
            &format!("{API}/licenses/SUITE_BASIC/unassign"),
            json!({"users": [people[0]]}),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    assert!(held(&srv, &people[0]).await.is_empty());
    let row = license_row(&srv, "SUITE_BASIC").await.expect("row");
    assert_eq!(
        (row["assigned"].as_i64(), row["available"].as_i64()),
        (Some(1), Some(1))
    );
    let got = srv.get(&format!("{API}/audit?action=license.")).await;
    assert_eq!(
        got.1["value"].as_array().map(Vec::len),
        Some(3),
        "{}",
        got.1
    );
});

backends!(missing_usage_location_names_the_user, |srv| async move {
    let got = srv
        .patch(
            &format!("{API}/tenant"),
            json!({"defaultUsageLocation": null}),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    assert!(got.1["defaultUsageLocation"].is_null(), "{}", got.1);
    buy(&srv, "SUITE_BASIC", 5, "monthly").await;
    srv.user("located@contoso.test", Some("DE")).await;
    srv.user("nowhere@contoso.test", None).await;
    let batch = vec![
        "located@contoso.test".to_string(),
        "nowhere@contoso.test".to_string(),
    ];
    let got = assign(&srv, "SUITE_BASIC", &batch, &[]).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "nowhere@contoso.test has no usage location",
    );
    assert!(
        got.1["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("License assignment cannot be done for user with invalid usage location.")
    );
    let details = got.1["error"]["details"].as_array().expect("details");
    assert_eq!(details.len(), 1, "{}", got.1);
    assert_eq!(details[0]["userPrincipalName"], "nowhere@contoso.test");
    assert_eq!(details[0]["code"], "usageLocationMissing");
    assert!(held(&srv, "located@contoso.test").await.is_empty());

    // With a default again, the user takes it.
    let got = srv
        .patch(
            &format!("{API}/tenant"),
            json!({"defaultUsageLocation": "us"}),
        )
        .await;
    assert_eq!(got.1["defaultUsageLocation"], "US", "{}", got.1);
    let got = assign(&srv, "SUITE_BASIC", &batch, &[]).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let nowhere = got.1["value"]
        .as_array()
        .expect("value")
        .iter()
        .find(|u| u["userPrincipalName"] == "nowhere@contoso.test")
        .cloned()
        .expect("user");
    assert_eq!(nowhere["usageLocation"], "US");
});

backends!(bulk_assign_more_replace_unassign_all, |srv| async move {
    for p in ["SUITE_BASIC", "PROJECTS_PLAN3", "BI_PRO"] {
        buy(&srv, p, 5, "monthly").await;
    }
    let people = users(&srv, "bulk", 2).await;
    let bulk = |mode: &str, licenses: serde_json::Value| json!({"mode": mode, "users": people, "licenses": licenses});
    let path = format!("{API}/licenses/bulk");

    let got = srv
        .post(
            &path,
            bulk(
                "assignMore",
                json!([{"skuId": "SUITE_BASIC", "disabledPlans": ["OFFICE_WEB"]}]),
            ),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let got = srv
        .post(
            &path,
            bulk("assignMore", json!([{"skuId": "PROJECTS_PLAN3"}])),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    for p in &people {
        assert_eq!(held(&srv, p).await, vec!["PROJECTS_PLAN3", "SUITE_BASIC"]);
    }
    let got = srv
        .post(&path, bulk("replace", json!([{"skuId": "BI_PRO"}])))
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    for p in &people {
        assert_eq!(held(&srv, p).await, vec!["BI_PRO"]);
    }
    let row = license_row(&srv, "SUITE_BASIC").await.expect("row");
    assert_eq!(row["assigned"], 0);
    let got = srv.post(&path, bulk("unassignAll", json!([]))).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    for p in &people {
        assert!(held(&srv, p).await.is_empty());
    }

    let got = srv
        .post(&path, bulk("unassignAll", json!([{"skuId": "BI_PRO"}])))
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "leave licenses out");
    let got = srv.post(&path, bulk("replace", json!([]))).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "licenses is required");
    let got = srv.post(&path, bulk("shuffle", json!([]))).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "mode 'shuffle' is not valid");
    let got = srv.post(&path, json!({"users": people})).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "mode is required");
    let got = srv
        .post(
            &path,
            bulk(
                "assignMore",
                json!([{"skuId": "BI_PRO"}, {"skuId": "bi_pro"}]),
            ),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "BI_PRO is named twice in the licenses to add",
    );
    assert_eq!(got.1["error"]["code"], "contradictoryChange");
});

backends!(
    plans_by_name_change_plans_and_set_user_licenses,
    |srv| async move {
        buy(&srv, "SUITE_BASIC", 5, "monthly").await;
        buy(&srv, "BI_PRO", 5, "monthly").await;
        let people = users(&srv, "plan", 1).await;
        let u = &people[0];

        let got = assign(&srv, "SUITE_BASIC", &people, &["NOT_A_PLAN"]).await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "'NOT_A_PLAN' is neither a service plan GUID nor the name",
        );
        assert!(
            got.1["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("WHITEBOARD")
        );
        let got = assign(&srv, "SUITE_BASIC", &people, &["CHAT"]).await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "service plan WHITEBOARD depends on the service plan(s) CHAT",
        );
        let got = assign(&srv, "SUITE_BASIC", &people, &["PHONE"]).await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "Service plan PHONE is not part of SUITE_BASIC",
        );
        let got = assign(&srv, "SUITE_BASIC", &people, &["office_web"]).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let lic = &got.1["value"][0]["licenses"][0];
        assert_eq!(
            lic["disabledPlans"],
            json!([{"servicePlanId": srv.plan("OFFICE_WEB"), "servicePlanName": "OFFICE_WEB"}])
        );
        assert_eq!(lic["enabledPlans"].as_array().map(Vec::len), Some(4));

        // L3: change the plans of the user's license (GUIDs work too).
        let path = format!("{API}/users/{u}/licenses/SUITE_BASIC");
        let got = srv
            .patch(
                &path,
                json!({"disabledPlans": [srv.plan("FILES_STANDARD"), "WHITEBOARD"]}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let names: Vec<&str> = got.1["licenses"][0]["disabledPlans"]
            .as_array()
            .expect("plans")
            .iter()
            .filter_map(|p| p["servicePlanName"].as_str())
            .collect();
        assert_eq!(names.len(), 2);
        assert!(
            names.contains(&"FILES_STANDARD") && names.contains(&"WHITEBOARD"),
            "{names:?}"
        );
        let got = srv.patch(&path, json!({})).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "disabledPlans is required");
        let got = srv
            .patch(
                &format!("{API}/users/{u}/licenses/BI_PRO"),
                json!({"disabledPlans": []}),
            )
            .await;
        assert_error(&got, StatusCode::NOT_FOUND, "does not hold BI_PRO");
        assert_eq!(held(&srv, u).await, vec!["SUITE_BASIC"]);

        // L4: the exact set of licenses.
        let path = format!("{API}/users/{u}/licenses");
        let got = srv
            .put(&path, json!({"licenses": [{"skuId": "BI_PRO"}]}))
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(held(&srv, u).await, vec!["BI_PRO"]);
        let got = srv.put(&path, json!({"licenses": [{"skuId": "BI_PRO"}, {"skuId": "SUITE_BASIC", "disabledPlans": ["OFFICE_WEB"]}]})).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(held(&srv, u).await, vec!["BI_PRO", "SUITE_BASIC"]);
        let got = srv.put(&path, json!({"licenses": []})).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert!(held(&srv, u).await.is_empty());
        let got = srv.put(&path, json!({})).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "licenses is required");
        let got = srv
            .put(&path, json!({"licenses": [{"disabledPlans": []}]}))
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "skuId is required");
        let got = srv
            .get(&format!("{API}/users/nobody@contoso.test/licenses"))
            .await;
        assert_error(&got, StatusCode::NOT_FOUND, "nobody@contoso.test");
    }
);

backends!(product_users_paging_and_csv_export, |srv| async move {
    buy(&srv, "SUITE_BASIC", 30, "monthly").await;
    let people = users(&srv, "csv", 25).await;
    let got = assign(&srv, "SUITE_BASIC", &people[..20], &[]).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let got = assign(&srv, "SUITE_BASIC", &people[20..], &["OFFICE_WEB"]).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let input = seatkeeper_app::directory::UserInput {
        user_principal_name: Some("formula@contoso.test".into()),
        display_name: Some("=HYPERLINK(\"http://x\")".into()),
        usage_location: Some(Some("US".into())),
        ..Default::default()
    };
    srv.app
        .create_user(&srv.operator(), &input)
        .await
        .expect("user");
    let got = assign(
        &srv,
        "SUITE_BASIC",
        &["formula@contoso.test".to_string()],
        &[],
    )
    .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);

    // Keyset pages.
    let mut seen = std::collections::HashSet::new();
    let mut next = Some(format!("{API}/licenses/SUITE_BASIC/users?top=10"));
    let mut pages = 0;
    while let Some(p) = next {
        let got = srv.get(&p).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        for row in got.1["value"].as_array().expect("value") {
            assert!(
                seen.insert(row["id"].as_str().expect("id").to_string()),
                "{row} twice"
            );
            assert_eq!(row["sources"], json!(["direct"]));
            assert!(row["assignedDateTime"].is_string());
        }
        next = got.1["nextLink"].as_str().map(str::to_string);
        pages += 1;
    }
    assert_eq!((seen.len(), pages), (26, 3));
    let got = srv
        .get(&format!("{API}/licenses/SUITE_BASIC/users?top=0"))
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "from 1 to 1000");
    let got = srv
        .get(&format!("{API}/licenses/SUITE_BASIC/users?after=nope"))
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "is not a user id");

    // CSV.
    let (status, headers, text) =
        get_text(&srv, &format!("{API}/licenses/SUITE_BASIC/users.csv")).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/csv")
    );
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"SUITE_BASIC-users.csv\""
    );
    let rows = csv_rows(&text);
    assert_eq!(
        rows[0],
        [
            "userPrincipalName",
            "displayName",
            "enabledPlans",
            "disabledPlans",
            "sources",
            "assignedDateTime"
        ]
    );
    assert_eq!(rows.len(), 27);
    let last = rows
        .iter()
        .find(|r| r[0] == people[24])
        .expect("row of the last user");
    assert_eq!(
        (last[3].as_str(), last[4].as_str()),
        ("OFFICE_WEB", "direct")
    );
    assert_eq!(last[2], "MAIL_PLAN1; FILES_STANDARD; CHAT; WHITEBOARD");
    let first = rows
        .iter()
        .find(|r| r[0] == people[0])
        .expect("row of the first user");
    assert_eq!(first[3], "");
    let formula = rows
        .iter()
        .find(|r| r[0] == "formula@contoso.test")
        .expect("formula row");
    assert_eq!(formula[1], "'=HYPERLINK(\"http://x\")");

    let (status, _, text) = get_text(&srv, &format!("{API}/licenses/BI_PRO/users.csv")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv_rows(&text).len(), 1);
    let (status, _, _) = get_text(&srv, &format!("{API}/licenses/NOPE/users.csv")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
});

backends!(
    csv_export_pages_through_more_than_one_page,
    |srv| async move {
        const N: usize = 1_030;
        buy(&srv, "CHAT_ESSENTIALS", N as i64, "annual").await;
        let people = users(&srv, "many", N).await;
        for chunk in people.chunks(20) {
            let got = assign(&srv, "CHAT_ESSENTIALS", chunk, &[]).await;
            assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        }
        let (status, _, text) =
            get_text(&srv, &format!("{API}/licenses/CHAT_ESSENTIALS/users.csv")).await;
        assert_eq!(status, StatusCode::OK);
        let rows = csv_rows(&text);
        assert_eq!(rows.len(), N + 1);
        let upns: std::collections::HashSet<&str> =
            rows[1..].iter().map(|r| r[0].as_str()).collect();
        assert_eq!(upns.len(), N);
        assert_eq!(
            rows.iter().filter(|r| r[0] == "userPrincipalName").count(),
            1
        );
    }
);
