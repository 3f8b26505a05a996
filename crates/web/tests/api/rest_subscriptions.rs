//! /api/v1/subscriptions: buying, the Products and Licenses pages, changing the number of
//! licenses, recurring billing, cancelling, and the lifecycle walked with the dev clock.

use crate::common::*;
use crate::rest_helpers::*;
use chrono::{DateTime, Duration, Months, NaiveDate, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::json;

backends!(
    buy_answers_201_and_pages_show_rows_and_sums,
    |srv| async move {
        let resp = srv
            .raw(reqwest::Method::POST, &format!("{API}/subscriptions"))
            .json(&json!({"skuId": "SUITE_BASIC", "quantity": 5, "billingFrequency": "monthly"}))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::CREATED);
        let location = resp.headers()["location"]
            .to_str()
            .expect("location")
            .to_string();
        let a: serde_json::Value = resp.json().await.expect("json");
        assert_eq!(
            location,
            format!("/api/v1/subscriptions/{}", a["id"].as_str().expect("id"))
        );
        for (k, v) in [
            ("skuPartNumber", json!("SUITE_BASIC")),
            ("productName", json!("Suite Basic")),
            ("origin", json!("admin")),
            ("quantity", json!(5)),
            ("billingFrequency", json!("monthly")),
            ("recurringBilling", json!(true)),
            ("status", json!("Active")),
            ("graphStatus", json!("Enabled")),
            ("isTrial", json!(false)),
            ("cancelled", json!(false)),
        ] {
            assert_eq!(a[k], v, "{k} in {a}");
        }
        let start = t(&a["termStartDateTime"]);
        let end = t(&a["termEndDateTime"]);
        assert!(
            end - start >= Duration::days(28) && end - start <= Duration::days(31),
            "monthly term {start} → {end}"
        );
        assert_eq!(
            t(&a["cancellationWindowEndsDateTime"]),
            start + Duration::days(7)
        );
        assert_eq!(t(&a["nextLifecycleDateTime"]), end);

        // The same product by GUID, billed annually.
        let sku = srv.sku("SUITE_BASIC").to_string();
        let b = buy(&srv, &sku, 8, "annual").await;
        let (bs, be) = (t(&b["termStartDateTime"]), t(&b["termEndDateTime"]));
        assert!(
            be - bs >= Duration::days(365) && be - bs <= Duration::days(366),
            "annual term {bs} → {be}"
        );

        let row = license_row(&srv, "SUITE_BASIC")
            .await
            .expect("SUITE_BASIC row");
        assert_eq!(
            (
                row["total"].as_i64(),
                row["assigned"].as_i64(),
                row["available"].as_i64()
            ),
            (Some(13), Some(0), Some(13)),
            "{row}"
        );
        assert_eq!(row["skuId"], sku.as_str());
        assert_eq!(row["subscriptionIds"].as_array().map(Vec::len), Some(2));

        let list = srv.get(&format!("{API}/subscriptions")).await;
        assert_eq!(list.0, StatusCode::OK);
        let rows: Vec<_> = list.1["value"]
            .as_array()
            .expect("value")
            .iter()
            .filter(|s| s["skuPartNumber"] == "SUITE_BASIC")
            .collect();
        assert_eq!(rows.len(), 2, "{}", list.1);
        let mut q: Vec<i64> = rows.iter().filter_map(|s| s["quantity"].as_i64()).collect();
        q.sort();
        assert_eq!(q, vec![5, 8]);

        // Bad purchases: each a 400 that says what to fix.
        let bad = [
            (
                json!({"skuId": "SUITE_BASIC", "quantity": 0, "billingFrequency": "monthly"}),
                "at least 1 license",
            ),
            (
                json!({"skuId": "SUITE_BASIC", "quantity": -3, "billingFrequency": "monthly"}),
                "at least 1 license",
            ),
            (
                json!({"skuId": "NO_SUCH_PRODUCT", "quantity": 1, "billingFrequency": "monthly"}),
                "'NO_SUCH_PRODUCT' is not in the catalog",
            ),
            (
                json!({"skuId": "SUITE_BASIC", "quantity": 1, "billingFrequency": "weekly"}),
                "use \"monthly\" or \"annual\"",
            ),
            (
                json!({"skuId": "SUITE_BASIC", "billingFrequency": "monthly"}),
                "quantity is required",
            ),
            (
                json!({"quantity": 1, "billingFrequency": "monthly"}),
                "skuId is required",
            ),
            (
                json!({"skuId": "SUITE_BASIC", "quantity": 1}),
                "billingFrequency is required",
            ),
            (
                json!({"skuId": "SUITE_BASIC", "quantity": 1, "billingFrequency": "monthly", "color": "red"}),
                "unknown field `color`",
            ),
        ];
        for (body, needle) in bad {
            let got = srv
                .post(&format!("{API}/subscriptions"), body.clone())
                .await;
            assert_error(&got, StatusCode::BAD_REQUEST, needle);
        }
        let got = srv
            .post(
                &format!("{API}/subscriptions"),
                json!({"skuId": "SUITE_BASIC", "quantity": 0, "billingFrequency": "monthly"}),
            )
            .await;
        assert_eq!(got.1["error"]["code"], "invalidQuantity");
        // Nothing more was bought.
        let row = license_row(&srv, "SUITE_BASIC").await.expect("row");
        assert_eq!(row["total"], 13);
    }
);

backends!(quantity_changes_follow_the_rules, |srv| async move {
    let s = buy(&srv, "SUITE_BASIC", 5, "monthly").await;
    let id = s["id"].as_str().expect("id").to_string();
    let path = format!("{API}/subscriptions/{id}");
    let people = users(&srv, "q", 3).await;
    let got = assign(&srv, "SUITE_BASIC", &people, &[]).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);

    let got = srv.patch(&path, json!({"quantity": 10})).await;
    assert_eq!(
        (got.0, got.1["quantity"].as_i64()),
        (StatusCode::OK, Some(10)),
        "{}",
        got.1
    );
    let got = srv.patch(&path, json!({"quantity": 4})).await;
    assert_eq!(
        (got.0, got.1["quantity"].as_i64()),
        (StatusCode::OK, Some(4)),
        "{}",
        got.1
    );

    // Below the number assigned: refused with the numbers.
    let got = srv.patch(&path, json!({"quantity": 2})).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "has 3 licenses assigned; this change would leave 2 in all. Enter a total of at least 3, or unassign 1 first.",
    );
    assert_eq!(got.1["error"]["code"], "belowAssigned");
    let got = srv.patch(&path, json!({"quantity": 0})).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "at least 1 license");
    let got = srv.patch(&path, json!({})).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "Give quantity");
    let got = srv.patch(&path, json!({"quantity": "ten"})).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid type");
    assert_eq!(sub(&srv, &id).await["quantity"], 4);

    // After the 7-day window licenses can only be added; adding opens the window again.
    let start = now(&srv).await;
    set_clock(&srv, start + Duration::days(8)).await;
    let got = srv.patch(&path, json!({"quantity": 3})).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "Licenses can be removed only within 7 days",
    );
    assert_eq!(got.1["error"]["code"], "removalWindowClosed");
    let got = srv.patch(&path, json!({"quantity": 6})).await;
    assert_eq!(
        (got.0, got.1["quantity"].as_i64()),
        (StatusCode::OK, Some(6)),
        "{}",
        got.1
    );
    let got = srv.patch(&path, json!({"quantity": 5})).await;
    assert_eq!(
        (got.0, got.1["quantity"].as_i64()),
        (StatusCode::OK, Some(5)),
        "{}",
        got.1
    );

    // Both fields in one request: applied together, or not at all.
    let got = srv
        .patch(&path, json!({"quantity": 7, "recurringBilling": false}))
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    assert_eq!(
        (
            got.1["quantity"].as_i64(),
            got.1["recurringBilling"].as_bool()
        ),
        (Some(7), Some(false))
    );
    // 3 of these 7 were added today (2 + 2, less 1 removed), so 4 is the least.
    let got = srv
        .patch(&path, json!({"quantity": 2, "recurringBilling": true}))
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "the minimum now is 4");
    assert_eq!(got.1["error"]["code"], "removalWindowClosed");
    let s = sub(&srv, &id).await;
    assert_eq!(
        (s["quantity"].as_i64(), s["recurringBilling"].as_bool()),
        (Some(7), Some(false)),
        "{s}"
    );
    let got = srv.patch(&path, json!({"recurringBilling": true})).await;
    assert_eq!(got.1["recurringBilling"], true, "{}", got.1);

    let row = license_row(&srv, "SUITE_BASIC").await.expect("row");
    assert_eq!(
        (
            row["total"].as_i64(),
            row["assigned"].as_i64(),
            row["available"].as_i64()
        ),
        (Some(7), Some(3), Some(4))
    );

    // The audit log has each change with before and after.
    let got = srv
        .get(&format!(
            "{API}/audit?action=subscription.quantity&targetId={id}"
        ))
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let entries = got.1["value"].as_array().expect("value");
    assert_eq!(entries.len(), 5, "{}", got.1);
    let first = entries.last().expect("oldest");
    assert_eq!(
        (
            first["before"]["quantity"].as_i64(),
            first["after"]["quantity"].as_i64()
        ),
        (Some(5), Some(10)),
        "{first}"
    );
    assert_eq!(first["actor"], "admin@contoso.test");
    let got = srv
        .get(&format!(
            "{API}/audit?action=subscription.recurring&targetId={id}"
        ))
        .await;
    assert_eq!(
        got.1["value"].as_array().map(Vec::len),
        Some(2),
        "{}",
        got.1
    );

    // Unknown ids.
    let got = srv
        .patch(
            &format!("{API}/subscriptions/{}", uuid::Uuid::new_v4()),
            json!({"quantity": 3}),
        )
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
});

backends!(cancel_inside_and_after_the_window, |srv| async move {
    let a = buy(&srv, "SUITE_BASIC", 5, "monthly").await;
    let b = buy(&srv, "SUITE_BASIC", 8, "monthly").await;
    let (a_id, b_id) = (a["id"].as_str().expect("id"), b["id"].as_str().expect("id"));

    let got = srv
        .post(&format!("{API}/subscriptions/{a_id}/cancel"), json!({}))
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "Give a reason for cancelling",
    );

    let got = srv
        .post(
            &format!("{API}/subscriptions/{a_id}/cancel"),
            json!({"reason": "NoLongerNeeded"}),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    assert_eq!(got.1["outcome"], "disabledNow");
    assert_eq!(got.1["subscription"]["status"], "Disabled");
    assert_eq!(got.1["subscription"]["graphStatus"], "LockedOut");
    assert_eq!(got.1["subscription"]["cancelReason"], "NoLongerNeeded");
    assert!(
        got.1["message"]
            .as_str()
            .unwrap_or_default()
            .contains("disabled now")
    );

    // Its licenses no longer count.
    let row = license_row(&srv, "SUITE_BASIC").await.expect("row");
    assert_eq!(
        (
            row["total"].as_i64(),
            row["available"].as_i64(),
            row["lockedOut"].as_i64()
        ),
        (Some(8), Some(8), Some(5)),
        "{row}"
    );
    let people = users(&srv, "c", 9).await;
    let got = assign(&srv, "SUITE_BASIC", &people, &[]).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "9 licenses needed, 8 available",
    );

    // After the window: recurring billing off, Active until the end of the term.
    let start = now(&srv).await;
    set_clock(&srv, start + Duration::days(8)).await;
    let got = srv
        .post(
            &format!("{API}/subscriptions/{b_id}/cancel"),
            json!({"reason": "I found something cheaper"}),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    assert_eq!(got.1["outcome"], "endsAtTermEnd");
    let s = &got.1["subscription"];
    assert_eq!(
        (s["status"].as_str(), s["recurringBilling"].as_bool()),
        (Some("Active"), Some(false)),
        "{s}"
    );
    assert_eq!(t(&got.1["effectiveDateTime"]), t(&s["termEndDateTime"]));
    assert_eq!(s["cancelReason"], "I found something cheaper");
    let got = srv
        .post(
            &format!("{API}/subscriptions/{b_id}/cancel"),
            json!({"reason": "Other"}),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "already cancelled");
    let got = srv
        .post(
            &format!("{API}/subscriptions/{a_id}/cancel"),
            json!({"reason": "Other"}),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "cannot be cancelled again");

    // Turning recurring billing back on takes the cancellation back, reason and all.
    let got = srv
        .patch(
            &format!("{API}/subscriptions/{b_id}"),
            json!({"recurringBilling": true}),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    assert_eq!(got.1["cancelled"], false, "{}", got.1);
    assert_eq!(got.1["cancelReason"], serde_json::Value::Null, "{}", got.1);

    let got = srv
        .get(&format!("{API}/audit?action=subscription.cancel"))
        .await;
    assert_eq!(
        got.1["value"].as_array().map(Vec::len),
        Some(2),
        "{}",
        got.1
    );
});

backends!(lifecycle_walk_with_the_dev_clock, |srv| async move {
    let billing = srv
        .token_with_roles(
            "billing@contoso.test",
            &[seatkeeper_domain::roles::Role::BillingAdmin],
        )
        .await;
    let _ = billing;
    let s = buy(&srv, "SUITE_STANDARD", 3, "monthly").await;
    let id = s["id"].as_str().expect("id").to_string();
    let path = format!("{API}/subscriptions/{id}");
    let people = users(&srv, "life", 2).await;
    assert_eq!(
        assign(&srv, "SUITE_STANDARD", &people, &[]).await.0,
        StatusCode::OK
    );
    let got = srv.patch(&path, json!({"recurringBilling": false})).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);

    // Term end: Expired, and the expiring notice to the Global and Billing admins.
    let end = t(&got.1["termEndDateTime"]);
    set_clock(&srv, end + Duration::hours(1)).await;
    let report = run_jobs(&srv).await;
    assert_eq!(report["expired"], 1, "{report}");
    let s = sub(&srv, &id).await;
    assert_eq!(
        (s["status"].as_str(), s["graphStatus"].as_str()),
        (Some("Expired"), Some("Warning")),
        "{s}"
    );
    let expiring = mail_of_kind(&srv, "subscription.expiring").await;
    let mut to: Vec<&str> = expiring.iter().filter_map(|m| m["to"].as_str()).collect();
    to.sort();
    assert_eq!(
        to,
        vec!["admin@contoso.test", "billing@contoso.test"],
        "{expiring:?}"
    );
    assert!(
        expiring
            .iter()
            .all(|m| m["status"] == "sent" && m["sentDateTime"].is_string()),
        "{expiring:?}"
    );
    let eml: Vec<String> = std::fs::read_dir(srv.dir.join("mail"))
        .expect("mail directory")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .map(|e| std::fs::read_to_string(e.path()).expect("eml"))
        .collect();
    assert_eq!(eml.len(), 2);
    assert!(eml.iter().all(|m| m.contains("Suite Standard")), "{eml:?}");
    // Expired licenses still work: users keep them.
    assert_eq!(held(&srv, &people[0]).await, vec!["SUITE_STANDARD"]);

    // Reactivate from Expired.
    let got = srv.call("POST", &format!("{path}/reactivate"), None).await;
    assert_eq!(
        (got.0, got.1["status"].as_str()),
        (StatusCode::OK, Some("Active")),
        "{}",
        got.1
    );
    let got = srv.patch(&path, json!({"recurringBilling": false})).await;
    let end = t(&got.1["termEndDateTime"]);

    // Expired, then Disabled 30 days later with the disabled notice.
    set_clock(&srv, end + Duration::hours(1)).await;
    run_jobs(&srv).await;
    set_clock(&srv, end + Duration::days(30) + Duration::hours(2)).await;
    let report = run_jobs(&srv).await;
    assert_eq!(report["disabled"], 1, "{report}");
    let s = sub(&srv, &id).await;
    assert_eq!(
        (s["status"].as_str(), s["graphStatus"].as_str()),
        (Some("Disabled"), Some("Suspended")),
        "{s}"
    );
    let disabled = mail_of_kind(&srv, "subscription.disabled").await;
    assert_eq!(disabled.len(), 2, "{disabled:?}");
    let row = license_row(&srv, "SUITE_STANDARD").await.expect("row");
    assert_eq!(
        (
            row["total"].as_i64(),
            row["available"].as_i64(),
            row["suspended"].as_i64()
        ),
        (Some(0), Some(0), Some(3)),
        "{row}"
    );

    // Reactivate from Disabled: the licenses count again.
    let got = srv.call("POST", &format!("{path}/reactivate"), None).await;
    assert_eq!(
        (got.0, got.1["status"].as_str()),
        (StatusCode::OK, Some("Active")),
        "{}",
        got.1
    );
    let row = license_row(&srv, "SUITE_STANDARD").await.expect("row");
    assert_eq!(
        (row["total"].as_i64(), row["available"].as_i64()),
        (Some(3), Some(1)),
        "{row}"
    );
    let got = srv.call("POST", &format!("{path}/reactivate"), None).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "already active");

    // Without renewal: Expired → Disabled → Deleted; users lose the license.
    let got = srv.patch(&path, json!({"recurringBilling": false})).await;
    let end = t(&got.1["termEndDateTime"]);
    set_clock(&srv, end + Duration::days(30 + 90) + Duration::hours(3)).await;
    let report = run_jobs(&srv).await;
    assert_eq!(
        (
            report["expired"].as_i64(),
            report["disabled"].as_i64(),
            report["deleted"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "{report}"
    );
    let s = sub(&srv, &id).await;
    assert_eq!(
        (s["status"].as_str(), s["graphStatus"].as_str()),
        (Some("Deleted"), Some("Deleted")),
        "{s}"
    );
    assert!(s["nextLifecycleDateTime"].is_null());
    for p in &people {
        assert!(held(&srv, p).await.is_empty(), "{p} still holds a license");
    }
    assert!(license_row(&srv, "SUITE_STANDARD").await.is_none());
    let list = srv.get(&format!("{API}/subscriptions")).await;
    assert!(
        list.1["value"]
            .as_array()
            .expect("value")
            .iter()
            .all(|x| x["id"] != id.as_str())
    );
    let list = srv
        .get(&format!("{API}/subscriptions?includeDeleted=true"))
        .await;
    assert!(
        list.1["value"]
            .as_array()
            .expect("value")
            .iter()
            .any(|x| x["id"] == id.as_str())
    );
    let got = srv.call("POST", &format!("{path}/reactivate"), None).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "cannot be reactivated");
    let got = srv
        .get(&format!("{API}/audit?action=license.unassign"))
        .await;
    assert_eq!(
        got.1["value"].as_array().map(Vec::len),
        Some(2),
        "{}",
        got.1
    );
    let got = srv
        .get(&format!("{API}/subscriptions?includeDeleted=maybe"))
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "use true or false");
});

/// Noon UTC on a day.
fn noon(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0)
        .single()
        .expect("a valid day")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid day")
}

/// The days a subscription's term starts and ends on.
fn term_days(s: &serde_json::Value) -> (NaiveDate, NaiveDate) {
    (
        t(&s["termStartDateTime"]).date_naive(),
        t(&s["termEndDateTime"]).date_naive(),
    )
}

/// The summaries of a subscription's audit entries with `action`, oldest first.
async fn audit_summaries(srv: &Srv, action: &str, id: &str) -> Vec<String> {
    let got = srv
        .get(&format!("{API}/audit?action={action}&targetId={id}"))
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let mut v: Vec<String> = got.1["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|e| e["summary"].as_str().unwrap_or_default().to_string())
        .collect();
    v.reverse();
    v
}

backends!(renewals_keep_the_day_of_purchase, |srv| async move {
    // Bought on January 31, monthly: February 28, then March 31, April 30, May 31.
    set_clock(&srv, noon(2027, 1, 31)).await;
    let s = buy(&srv, "SUITE_BASIC", 3, "monthly").await;
    let id = s["id"].as_str().expect("id").to_string();
    assert_eq!(term_days(&s), (date(2027, 1, 31), date(2027, 2, 28)));
    let mut seen = vec![];
    for (m, d) in [(3, 1), (4, 1), (5, 1)] {
        set_clock(&srv, noon(2027, m, d)).await;
        let report = run_jobs(&srv).await;
        assert_eq!(report["renewed"], 1, "{report}");
        seen.push(term_days(&sub(&srv, &id).await));
    }
    assert_eq!(
        seen,
        vec![
            (date(2027, 2, 28), date(2027, 3, 31)),
            (date(2027, 3, 31), date(2027, 4, 30)),
            (date(2027, 4, 30), date(2027, 5, 31)),
        ]
    );
    // The time of day stays that of the purchase.
    let s = sub(&srv, &id).await;
    assert_eq!(
        t(&s["termEndDateTime"]).time(),
        t(&s["createdDateTime"]).time(),
        "{s}"
    );
    // The cancellation window follows the renewal: 7 days from April 30.
    assert_eq!(
        t(&s["cancellationWindowEndsDateTime"]),
        t(&s["termStartDateTime"]) + Duration::days(7),
        "{s}"
    );

    // Cancelled within that window and reactivated on June 30: a new term, counted from then.
    let got = srv
        .post(
            &format!("{API}/subscriptions/{id}/cancel"),
            json!({"reason": "Other"}),
        )
        .await;
    assert_eq!(got.1["outcome"], "disabledNow", "{}", got.1);
    set_clock(&srv, noon(2027, 6, 30)).await;
    let got = srv
        .call(
            "POST",
            &format!("{API}/subscriptions/{id}/reactivate"),
            None,
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    assert_eq!(term_days(&got.1), (date(2027, 6, 30), date(2027, 7, 30)));
    set_clock(&srv, noon(2027, 8, 1)).await;
    run_jobs(&srv).await;
    assert_eq!(
        term_days(&sub(&srv, &id).await),
        (date(2027, 7, 30), date(2027, 8, 30))
    );

    // Bought on February 29, annually: February 28 in common years, February 29 in leap years.
    set_clock(&srv, noon(2028, 2, 29)).await;
    let a = buy(&srv, "SUITE_STANDARD", 2, "annual").await;
    let a_id = a["id"].as_str().expect("id").to_string();
    assert_eq!(term_days(&a), (date(2028, 2, 29), date(2029, 2, 28)));
    set_clock(&srv, noon(2031, 3, 1)).await;
    run_jobs(&srv).await;
    assert_eq!(
        term_days(&sub(&srv, &a_id).await),
        (date(2031, 2, 28), date(2032, 2, 29))
    );
    set_clock(&srv, noon(2032, 3, 1)).await;
    run_jobs(&srv).await;
    assert_eq!(
        term_days(&sub(&srv, &a_id).await),
        (date(2032, 2, 29), date(2033, 2, 28))
    );
});

backends!(
    a_clock_fifty_years_ahead_renews_in_one_step,
    |srv| async move {
        set_clock(&srv, noon(2027, 1, 31)).await;
        let s = buy(&srv, "SUITE_BASIC", 3, "monthly").await;
        let id = s["id"].as_str().expect("id").to_string();
        let later = noon(2027, 1, 31)
            .checked_add_months(Months::new(600))
            .expect("50 years on")
            + Duration::days(20);
        set_clock(&srv, later).await;
        let started = std::time::Instant::now();
        let report = run_jobs(&srv).await;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the jobs took {:?}",
            started.elapsed()
        );
        assert_eq!(report["renewed"], 1, "{report}");
        let s = sub(&srv, &id).await;
        assert_eq!(s["status"], "Active", "{s}");
        assert_eq!(term_days(&s), (date(2077, 1, 31), date(2077, 2, 28)));
        // One audit entry says how many renewals were applied and when the term now ends.
        let renewals = audit_summaries(&srv, "subscription.renew", &id).await;
        assert_eq!(renewals.len(), 1, "{renewals:?}");
        assert!(
            renewals[0].contains("renewed 600 times")
                && renewals[0].contains("until 2077-02-28T12:00:00"),
            "{renewals:?}"
        );
        let got = srv
            .get(&format!(
                "{API}/audit?action=subscription.renew&targetId={id}"
            ))
            .await;
        assert_eq!(got.1["value"][0]["after"]["renewals"], 600, "{}", got.1);
        // Nothing more is due.
        let report = run_jobs(&srv).await;
        assert_eq!(report["renewed"], 0, "{report}");
    }
);

backends!(the_dev_clock_refuses_absurd_dates, |srv| async move {
    let before = now(&srv).await;
    for (to, needle) in [
        (
            "9999-06-01T00:00:00Z",
            "up to, not including, 9999-01-01T00:00:00Z",
        ),
        (
            "9999-01-01T00:00:00Z",
            "9999-01-01T00:00:00Z is outside that range",
        ),
        (
            "1969-12-31T23:59:59Z",
            "can be set from 1970-01-01T00:00:00Z",
        ),
        ("0001-01-01T00:00:00Z", "outside that range"),
        ("+10000-01-01T00:00:00Z", "RFC 3339"),
    ] {
        let got = srv
            .put(&format!("{API}/dev/clock"), json!({ "now": to }))
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, needle);
        if needle != "RFC 3339" {
            assert_eq!(got.1["error"]["code"], "clockOutOfRange", "{}", got.1);
        }
    }
    // The clock did not move; the far end of the range is accepted and the jobs run there.
    assert!(now(&srv).await - before < Duration::minutes(1));
    buy(&srv, "SUITE_BASIC", 1, "annual").await;
    set_clock(&srv, noon(9998, 12, 31)).await;
    let report = run_jobs(&srv).await;
    assert_eq!(report["renewed"], 1, "{report}");
    set_clock(
        &srv,
        Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0)
            .single()
            .expect("epoch"),
    )
    .await;
});

backends!(
    only_recently_added_licenses_can_be_removed,
    |srv| async move {
        set_clock(&srv, noon(2026, 11, 1)).await;
        let s = buy(&srv, "SUITE_BASIC", 100, "monthly").await;
        let id = s["id"].as_str().expect("id").to_string();
        let path = format!("{API}/subscriptions/{id}");

        // Outside the purchase window nothing can be removed.
        set_clock(&srv, noon(2026, 11, 20)).await;
        let got = srv.patch(&path, json!({"quantity": 99})).await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "the last window closed on 2026-11-08 12:00 UTC, so it keeps its 100 licenses",
        );

        // Adding 5 makes those 5 removable for 7 days, and only those.
        let got = srv.patch(&path, json!({"quantity": 105})).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(
            t(&got.1["removalWindowEndsDateTime"]).date_naive(),
            date(2026, 11, 27),
            "{}",
            got.1
        );
        let got = srv.patch(&path, json!({"quantity": 99})).await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "Licenses can be removed only within 7 days of purchase, renewal or adding them: 5 of these 105 were added on 2026-11-20 12:00 UTC and can be removed until 2026-11-27 12:00 UTC; the minimum now is 100.",
        );
        assert_eq!(got.1["error"]["code"], "removalWindowClosed");
        assert_eq!(sub(&srv, &id).await["quantity"], 105);

        // Removing 3 of them leaves 2 removable.
        set_clock(&srv, noon(2026, 11, 22)).await;
        let got = srv.patch(&path, json!({"quantity": 102})).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = srv.patch(&path, json!({"quantity": 99})).await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "2 of these 102 were added on 2026-11-20 12:00 UTC and can be removed until 2026-11-27 12:00 UTC; the minimum now is 100.",
        );
        let got = srv.patch(&path, json!({"quantity": 100})).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = srv.patch(&path, json!({"quantity": 99})).await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "so it keeps its 100 licenses",
        );

        // A second addition has its own window, which outlasts the first.
        let got = srv.patch(&path, json!({"quantity": 104})).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        set_clock(&srv, noon(2026, 11, 28)).await;
        let got = srv.patch(&path, json!({"quantity": 99})).await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "4 of these 104 were added on 2026-11-22 12:00 UTC and can be removed until 2026-11-29 12:00 UTC; the minimum now is 100.",
        );
        set_clock(&srv, noon(2026, 11, 29) + Duration::minutes(1)).await;
        let got = srv.patch(&path, json!({"quantity": 103})).await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "so it keeps its 104 licenses",
        );

        // A renewal opens the window for every license again.
        set_clock(&srv, noon(2026, 12, 2)).await;
        assert_eq!(run_jobs(&srv).await["renewed"], 1);
        let got = srv.patch(&path, json!({"quantity": 50})).await;
        assert_eq!(
            (got.0, got.1["quantity"].as_i64()),
            (StatusCode::OK, Some(50)),
            "{}",
            got.1
        );
    }
);

/// The ids of the users Graph lists for `$filter=assignedLicenses/$count {op} 0`.
async fn by_license_count(srv: &Srv, op: &str) -> Vec<String> {
    let got = srv
        .get(&format!(
            "/v1.0/users?$filter=assignedLicenses/$count {op} 0&$select=id,userPrincipalName"
        ))
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    got.1["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter_map(|u| u["userPrincipalName"].as_str().map(str::to_string))
        .collect()
}

backends!(
    users_whose_last_license_goes_with_a_deleted_subscription_are_unlicensed,
    |srv| async move {
        let s = buy(&srv, "SUITE_STANDARD", 3, "monthly").await;
        let id = s["id"].as_str().expect("id").to_string();
        let people = users(&srv, "gone", 2).await;
        assert_eq!(
            assign(&srv, "SUITE_STANDARD", &people, &[]).await.0,
            StatusCode::OK
        );
        // The second also holds another product, bought separately.
        buy(&srv, "SUITE_BASIC", 1, "monthly").await;
        assert_eq!(
            assign(&srv, "SUITE_BASIC", &people[1..], &[]).await.0,
            StatusCode::OK
        );
        let unlicensed = by_license_count(&srv, "eq").await;
        assert!(!unlicensed.contains(&people[0]), "{unlicensed:?}");
        assert!(!unlicensed.contains(&people[1]), "{unlicensed:?}");

        // Not renewed: Expired → Disabled → Deleted, and its licenses go.
        let got = srv
            .patch(
                &format!("{API}/subscriptions/{id}"),
                json!({"recurringBilling": false}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let end = t(&got.1["termEndDateTime"]);
        set_clock(&srv, end + Duration::days(30 + 90) + Duration::hours(3)).await;
        let report = run_jobs(&srv).await;
        assert!(report["deleted"].as_i64() >= Some(1), "{report}");
        assert_eq!(sub(&srv, &id).await["status"], "Deleted");
        assert!(held(&srv, &people[0]).await.is_empty());

        // The first holds nothing now; the second keeps the other product.
        let unlicensed = by_license_count(&srv, "eq").await;
        assert!(unlicensed.contains(&people[0]), "{unlicensed:?}");
        assert!(!unlicensed.contains(&people[1]), "{unlicensed:?}");
        let licensed = by_license_count(&srv, "ne").await;
        assert!(!licensed.contains(&people[0]), "{licensed:?}");
        assert!(licensed.contains(&people[1]), "{licensed:?}");
    }
);
