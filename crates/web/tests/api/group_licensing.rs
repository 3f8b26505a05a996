//! Group-based licensing through Graph (L6): products on groups, sources on users, membership
//! changes, per-member errors, reprocess, group deletion.

use crate::common::*;
use crate::concurrency::pool_counts;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn group(srv: &Srv, name: &str) -> String {
    let (st, g) = srv
        .post(
            "/v1.0/groups",
            json!({"displayName": name, "mailEnabled": false, "mailNickname": name, "securityEnabled": true}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    g["id"].as_str().unwrap().to_string()
}

async fn join(srv: &Srv, gid: &str, user: impl std::fmt::Display) {
    let (st, body) = srv
        .post(
            &format!("/v1.0/groups/{gid}/members/$ref"),
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{user}")}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
}

/// Polls the group until its licenseProcessingState is ProcessingComplete; returns it.
async fn processed(srv: &Srv, gid: &str) -> Value {
    for _ in 0..400 {
        let (st, g) = srv
            .get(&format!(
                "/v1.0/groups/{gid}?$select=id,assignedLicenses,licenseProcessingState,hasMembersWithLicenseErrors"
            ))
            .await;
        assert_eq!(st, StatusCode::OK, "{g}");
        if g["licenseProcessingState"]["state"] == "ProcessingComplete" {
            return g;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("group {gid} was not processed in 10 s");
}

async fn user_json(srv: &Srv, id: impl std::fmt::Display) -> Value {
    let (st, u) = srv.get(&format!("/v1.0/users/{id}")).await;
    assert_eq!(st, StatusCode::OK, "{u}");
    u
}

fn skus(u: &Value) -> Vec<String> {
    let mut v: Vec<String> = u["assignedLicenses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["skuId"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn states_for<'a>(u: &'a Value, sku: &str) -> Vec<&'a Value> {
    u["licenseAssignmentStates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["skuId"] == sku)
        .collect()
}

backends!(
    a_group_gives_its_members_one_license_each_with_sources,
    |srv| async move {
        srv.buy("SUITE_BASIC", 10).await;
        let basic = srv.sku("SUITE_BASIC").to_string();
        let gid = group(&srv, "Sales").await;
        let a = srv.user("a@contoso.test", Some("US")).await;
        let b = srv.user("b@contoso.test", None).await;
        join(&srv, &gid, a).await;
        join(&srv, &gid, b).await;
        // a also holds it directly with Chat off: one license, the union of enabled plans.
        let chat = srv.plan("CHAT");
        let whiteboard = srv.plan("WHITEBOARD");
        let (st, body) = srv
            .post(
                &format!("/v1.0/users/{a}/assignLicense"),
                json!({"addLicenses": [{"skuId": basic, "disabledPlans": [chat, whiteboard]}], "removeLicenses": []}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");

        let (st, g) = srv
            .post(
                &format!("/v1.0/groups/{gid}/assignLicense"),
                json!({"addLicenses": [{"skuId": basic, "disabledPlans": [whiteboard]}], "removeLicenses": []}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{g}");
        assert_eq!(g["id"], gid.as_str());
        assert_eq!(g["assignedLicenses"][0]["skuId"], basic.as_str());
        let g = processed(&srv, &gid).await;
        assert_eq!(g["hasMembersWithLicenseErrors"], false);

        let ua = user_json(&srv, a).await;
        assert_eq!(skus(&ua), vec![basic.clone()]);
        // Chat is on (the group turns it on); Whiteboard stays off (both turn it off).
        assert_eq!(
            ua["assignedLicenses"][0]["disabledPlans"],
            json!([whiteboard])
        );
        let st_a = states_for(&ua, &basic);
        assert_eq!(st_a.len(), 2, "{ua}");
        assert!(st_a.iter().any(|s| s["assignedByGroup"].is_null()
            && s["state"] == "Active"
            && s["disabledPlans"].as_array().unwrap().len() == 2));
        assert!(
            st_a.iter()
                .any(|s| s["assignedByGroup"] == gid.as_str() && s["state"] == "Active")
        );
        // b had no usage location: the organization's default was taken.
        let ub = user_json(&srv, b).await;
        assert_eq!(skus(&ub), vec![basic.clone()]);
        assert_eq!(ub["usageLocation"], "US");
        let (total, assigned, rows) = pool_counts(&srv, "SUITE_BASIC").await;
        assert_eq!((total, assigned, rows), (10, 2, 2), "one seat per member");

        // Removing a product only the group gives, through the user: Graph's error.
        let got = srv
            .post(
                &format!("/v1.0/users/{b}/assignLicense"),
                json!({"addLicenses": [], "removeLicenses": [basic]}),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "inherited from a group");
        // Removing the direct one keeps what the group gives, on the same seat.
        let (st, body) = srv
            .post(
                &format!("/v1.0/users/{a}/assignLicense"),
                json!({"addLicenses": [], "removeLicenses": [basic]}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert_eq!(skus(&body), vec![basic.clone()]);
        assert_eq!(states_for(&body, &basic).len(), 1);
        assert_eq!(pool_counts(&srv, "SUITE_BASIC").await.1, 2);

        // Leaving the group takes it away (no other source); joining gives it back.
        let (st, _) = srv
            .delete(&format!("/v1.0/groups/{gid}/members/{a}/$ref"))
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        assert!(skus(&user_json(&srv, a).await).is_empty());
        assert_eq!(pool_counts(&srv, "SUITE_BASIC").await, (10, 1, 1));
        join(&srv, &gid, a).await;
        assert_eq!(skus(&user_json(&srv, a).await), vec![basic.clone()]);

        // A group that still has products cannot be deleted.
        let got = srv.delete(&format!("/v1.0/groups/{gid}")).await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "remove them from the group first",
        );

        // Removing the product from the group frees every seat no other source keeps.
        let (st, body) = srv
            .post(
                &format!("/v1.0/groups/{gid}/assignLicense"),
                json!({"addLicenses": [], "removeLicenses": [basic]}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{body}");
        let g = processed(&srv, &gid).await;
        assert_eq!(g["assignedLicenses"], json!([]));
        assert!(skus(&user_json(&srv, a).await).is_empty());
        assert!(skus(&user_json(&srv, b).await).is_empty());
        assert_eq!(pool_counts(&srv, "SUITE_BASIC").await, (10, 0, 0));
        let (st, _) = srv.delete(&format!("/v1.0/groups/{gid}")).await;
        assert_eq!(st, StatusCode::NO_CONTENT);
    }
);

backends!(
    members_short_of_seats_get_count_violation_and_reprocess_fixes_it,
    |srv| async move {
        srv.buy("SUITE_BASIC", 2).await;
        let basic = srv.sku("SUITE_BASIC").to_string();
        let gid = group(&srv, "Everyone").await;
        let mut users = Vec::new();
        for i in 0..4 {
            let u = srv.user(&format!("m{i}@contoso.test"), Some("US")).await;
            join(&srv, &gid, u).await;
            users.push(u);
        }
        let (st, body) = srv
            .post(
                &format!("/v1.0/groups/{gid}/assignLicense"),
                json!({"addLicenses": [{"skuId": basic, "disabledPlans": []}], "removeLicenses": []}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{body}");
        let g = processed(&srv, &gid).await;
        assert_eq!(g["hasMembersWithLicenseErrors"], true);
        // The earliest members got the two seats.
        for (i, u) in users.iter().enumerate() {
            let j = user_json(&srv, u).await;
            let s = states_for(&j, &basic);
            assert_eq!(s.len(), 1, "{j}");
            if i < 2 {
                assert_eq!(s[0]["state"], "Active", "{j}");
            } else {
                assert_eq!(s[0]["state"], "Error", "{j}");
                assert_eq!(s[0]["error"], "CountViolation", "{j}");
                assert!(skus(&j).is_empty());
            }
        }
        let (st, errs) = srv
            .get(&format!("/v1.0/groups/{gid}/membersWithLicenseErrors"))
            .await;
        assert_eq!(st, StatusCode::OK, "{errs}");
        assert_eq!(errs["value"].as_array().unwrap().len(), 2);
        let (st, list) = srv
            .get("/v1.0/groups?$filter=hasMembersWithLicenseErrors eq true")
            .await;
        assert_eq!(st, StatusCode::OK, "{list}");
        let ids: Vec<&str> = list["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![gid.as_str()]);

        // Buying licenses and reprocessing one user gives them theirs.
        srv.buy("SUITE_BASIC", 1).await;
        let (st, u) = srv
            .post(
                &format!("/v1.0/users/{}/reprocessLicenseAssignment", users[3]),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{u}");
        assert_eq!(skus(&u), vec![basic.clone()]);
        assert_eq!(pool_counts(&srv, "SUITE_BASIC").await, (3, 3, 3));
        let (st, errs) = srv
            .get(&format!("/v1.0/groups/{gid}/membersWithLicenseErrors"))
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(errs["value"].as_array().unwrap().len(), 1);
    }
);

backends!(
    two_groups_with_different_plans_and_a_swap_between_exclusive_products,
    |srv| async move {
        srv.buy("MAIL_PLAN1", 5).await;
        srv.buy("MAIL_PLAN2", 5).await;
        srv.buy("SUITE_BASIC", 5).await;
        let (m1, m2, basic) = (
            srv.sku("MAIL_PLAN1").to_string(),
            srv.sku("MAIL_PLAN2").to_string(),
            srv.sku("SUITE_BASIC").to_string(),
        );
        let g1 = group(&srv, "One").await;
        let g2 = group(&srv, "Two").await;
        let u = srv.user("two@contoso.test", Some("US")).await;
        join(&srv, &g1, u).await;
        join(&srv, &g2, u).await;
        let (files, office) = (srv.plan("FILES_STANDARD"), srv.plan("OFFICE_WEB"));
        for (g, off) in [(&g1, &files), (&g2, &office)] {
            let (st, b) = srv
                .post(
                    &format!("/v1.0/groups/{g}/assignLicense"),
                    json!({"addLicenses": [{"skuId": basic, "disabledPlans": [off]}], "removeLicenses": []}),
                )
                .await;
            assert_eq!(st, StatusCode::ACCEPTED, "{b}");
            processed(&srv, g).await;
        }
        let j = user_json(&srv, u).await;
        assert_eq!(skus(&j), vec![basic.clone()]);
        assert_eq!(j["assignedLicenses"][0]["disabledPlans"], json!([]));
        assert_eq!(pool_counts(&srv, "SUITE_BASIC").await.1, 1);
        // Leaving one keeps the other's plans.
        srv.delete(&format!("/v1.0/groups/{g2}/members/{u}/$ref"))
            .await;
        let j = user_json(&srv, u).await;
        assert_eq!(j["assignedLicenses"][0]["disabledPlans"], json!([files]));
        assert_eq!(pool_counts(&srv, "SUITE_BASIC").await.1, 1);

        // Mutually exclusive products: one call swaps Mail (Plan 1) for Mail (Plan 2).
        let g3 = group(&srv, "Mail").await;
        let w = srv.user("swap@contoso.test", Some("US")).await;
        join(&srv, &g3, w).await;
        let (st, b) = srv
            .post(
                &format!("/v1.0/groups/{g3}/assignLicense"),
                json!({"addLicenses": [{"skuId": m1, "disabledPlans": []}], "removeLicenses": []}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{b}");
        processed(&srv, &g3).await;
        assert_eq!(skus(&user_json(&srv, w).await), vec![m1.clone()]);
        let (st, b) = srv
            .post(
                &format!("/v1.0/groups/{g3}/assignLicense"),
                json!({"addLicenses": [{"skuId": m2, "disabledPlans": []}], "removeLicenses": [m1]}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{b}");
        let g = processed(&srv, &g3).await;
        assert_eq!(g["hasMembersWithLicenseErrors"], false, "{g}");
        assert_eq!(skus(&user_json(&srv, w).await), vec![m2.clone()]);
        assert_eq!(pool_counts(&srv, "MAIL_PLAN1").await, (5, 0, 0));
        assert_eq!(pool_counts(&srv, "MAIL_PLAN2").await, (5, 1, 1));

        // A direct license that conflicts makes the group's products an error for that member.
        let v = srv.user("direct@contoso.test", Some("US")).await;
        let (st, b) = srv
            .post(
                &format!("/v1.0/users/{v}/assignLicense"),
                json!({"addLicenses": [{"skuId": m1, "disabledPlans": []}], "removeLicenses": []}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        // The group cannot give Mail (Plan 2) beside the basic suite's Mail (Plan 1) on.
        let (st, b) = srv
            .post(
                &format!("/v1.0/groups/{g2}/assignLicense"),
                json!({"addLicenses": [{"skuId": m2, "disabledPlans": []}], "removeLicenses": []}),
            )
            .await;
        assert_error(
            &(st, b),
            StatusCode::BAD_REQUEST,
            "SUITE_BASIC and MAIL_PLAN2 cannot be given together",
        );
        let mail1 = srv.plan("MAIL_PLAN1");
        let (st, b) = srv
            .post(
                &format!("/v1.0/groups/{g2}/assignLicense"),
                json!({"addLicenses": [{"skuId": basic, "disabledPlans": [office, mail1]}, {"skuId": m2, "disabledPlans": []}], "removeLicenses": []}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{b}");
        processed(&srv, &g2).await;
        join(&srv, &g2, v).await;
        let j = user_json(&srv, v).await;
        assert_eq!(skus(&j), vec![m1.clone()], "none of the group's products");
        let s = states_for(&j, &m2);
        assert_eq!(s[0]["error"], "MutuallyExclusiveViolation", "{j}");
        assert_eq!(states_for(&j, &basic)[0]["state"], "Error");
        // Errors & issues names the plans at odds and what to do.
        let (st, errs) = srv
            .get(&format!("/api/v1/groups/{g2}/license-errors"))
            .await;
        assert_eq!(st, StatusCode::OK, "{errs}");
        let mine: Vec<&Value> = errs["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["userId"] == v.to_string())
            .collect();
        assert!(!mine.is_empty(), "{errs}");
        for e in mine {
            assert_eq!(e["error"], "MutuallyExclusiveViolation", "{e}");
            let m = e["message"].as_str().unwrap();
            assert!(
                m.contains("Mail (Plan 1)")
                    && m.contains("Mail (Plan 2)")
                    && m.contains("cannot both be on")
                    && m.ends_with("Then reprocess."),
                "{m}"
            );
        }
    }
);

backends!(rest_group_licenses_jobs_and_errors, |srv| async move {
    srv.buy("CHAT_ESSENTIALS", 3).await;
    let gid = group(&srv, "Support").await;
    for i in 0..5 {
        let u = srv.user(&format!("s{i}@contoso.test"), Some("US")).await;
        join(&srv, &gid, u).await;
    }
    let (st, v) = srv
        .post(
            &format!("/api/v1/groups/{gid}/licenses"),
            json!({"addLicenses": [{"skuId": "CHAT_ESSENTIALS", "disabledPlans": ["WHITEBOARD"]}]}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["assignedLicenses"][0]["skuPartNumber"], "CHAT_ESSENTIALS");
    assert_eq!(
        v["assignedLicenses"][0]["disabledPlans"][0]["servicePlanName"],
        "WHITEBOARD"
    );
    let job = v["job"]["id"].as_str().unwrap().to_string();
    let done = job_done(&srv, &v["job"]).await;
    assert_eq!(done["processed"], 5, "{done}");
    assert_eq!(done["total"], 5, "{done}");
    assert_eq!(done["errors"], 2, "{done}");
    assert!(done["finishedDateTime"].is_string());
    let (st, list) = srv.get(&format!("/api/v1/jobs?groupId={gid}")).await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert_eq!(list["value"][0]["id"], job.as_str());

    let (st, errs) = srv
        .get(&format!("/api/v1/groups/{gid}/license-errors?top=1"))
        .await;
    assert_eq!(st, StatusCode::OK, "{errs}");
    assert_eq!(errs["value"][0]["error"], "CountViolation");
    assert!(
        errs["value"][0]["message"]
            .as_str()
            .unwrap()
            .contains("buy more")
    );
    let next = errs["nextLink"].as_str().unwrap().to_string();
    let (st, page2) = srv.get(&next).await;
    assert_eq!(st, StatusCode::OK, "{page2}");
    assert_eq!(page2["value"].as_array().unwrap().len(), 1);
    assert!(page2.get("nextLink").is_none());
    let (_, all) = srv.get("/api/v1/license-errors").await;
    assert_eq!(all["value"][0]["groupId"], gid.as_str());
    assert_eq!(all["value"][0]["membersWithLicenseErrors"], 2);

    // Buy two more and reprocess the group: nobody is in error.
    srv.buy("CHAT_ESSENTIALS", 2).await;
    let (st, j) = srv
        .post(&format!("/api/v1/groups/{gid}/reprocess"), json!({}))
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{j}");
    processed(&srv, &gid).await;
    let (_, v) = srv.get(&format!("/api/v1/groups/{gid}/licenses")).await;
    assert_eq!(v["membersWithLicenseErrors"], 0, "{v}");
    assert_eq!(v["licenseProcessingState"], "ProcessingComplete");
    assert_eq!(pool_counts(&srv, "CHAT_ESSENTIALS").await, (5, 5, 5));

    // Bad input is named.
    let got = srv
        .post(
            &format!("/api/v1/groups/{gid}/licenses"),
            json!({"removeLicenses": ["BI_PRO"]}),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "does not have BI_PRO");
    let got = srv.get("/api/v1/jobs/not-a-job").await;
    assert_error(&got, StatusCode::NOT_FOUND, "No job");
    // The audit log has one entry per job step.
    let (_, audit) = srv.get("/api/v1/audit?action=license.job.step").await;
    assert!(audit["value"].as_array().unwrap().len() >= 2, "{audit}");
});

backends!(
    rest_bulk_members_join_with_the_groups_products,
    |srv| async move {
        srv.buy("BI_PRO", 3).await;
        let gid = group(&srv, "Analysts").await;
        let (st, v) = srv
            .post(
                &format!("/api/v1/groups/{gid}/licenses"),
                json!({"addLicenses": [{"skuId": "BI_PRO"}]}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{v}");
        processed(&srv, &gid).await;
        let mut names = Vec::new();
        for i in 0..4 {
            let id = srv.user(&format!("an{i}@contoso.test"), Some("US")).await;
            names.push(if i % 2 == 0 {
                id.to_string()
            } else {
                format!("AN{i}@contoso.test")
            });
        }
        let got = srv
            .post(
                &format!("/api/v1/groups/{gid}/members"),
                json!({"members": [names[0], "ghost@contoso.test"]}),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "ghost@contoso.test");
        // A body of the 100,000 names the endpoint takes is read (a few MB), and checked
        // whole: here most are not users.
        let many: Vec<String> = (0..100_000)
            .map(|i| format!("someone.with.a.long.name.{i}@subsidiary.contoso.test"))
            .collect();
        let got = srv
            .post(
                &format!("/api/v1/groups/{gid}/members"),
                json!({ "members": many }),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "someone.with.a.long.name.0@");
        let (st, job) = srv
            .post(
                &format!("/api/v1/groups/{gid}/members"),
                json!({"members": names}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{job}");
        assert_eq!(job["kind"], "groupMembers");
        assert_eq!(job["total"], 4);
        let g = processed(&srv, &gid).await;
        assert_eq!(g["hasMembersWithLicenseErrors"], true, "{g}");
        let (_, j) = srv
            .get(&format!("/api/v1/jobs/{}", job["id"].as_str().unwrap()))
            .await;
        assert_eq!(
            (
                j["state"].as_str(),
                j["processed"].as_i64(),
                j["errors"].as_i64()
            ),
            (Some("Completed"), Some(4), Some(1)),
            "{j}"
        );
        let (_, members) = srv.get(&format!("/v1.0/groups/{gid}/members/$count")).await;
        assert_eq!(members, Value::from(4));
        assert_eq!(pool_counts(&srv, "BI_PRO").await, (3, 3, 3));
    }
);

backends!(
    two_servers_process_jobs_at_once_and_seats_stay_exact,
    |srv| async move {
        // Four groups that overlap (each shares 40 members with the next), 360 people in all,
        // and 250 licenses: two more servers on the same database run the jobs alongside this
        // one, every group's job competing for the same seats.
        srv.buy("SUITE_BASIC", 250).await;
        let basic = srv.sku("SUITE_BASIC").to_string();
        let mut users = Vec::new();
        for i in 0..360 {
            users.push(srv.user(&format!("p{i}@contoso.test"), Some("US")).await);
        }
        let mut groups = Vec::new();
        for k in 0..4 {
            let gid = group(&srv, &format!("Wave {k}")).await;
            let names: Vec<String> = users[k * 80..k * 80 + 120]
                .iter()
                .map(|u| u.to_string())
                .collect();
            let (st, job) = srv
                .post(
                    &format!("/api/v1/groups/{gid}/members"),
                    json!({"members": names}),
                )
                .await;
            assert_eq!(st, StatusCode::ACCEPTED, "{job}");
            groups.push(gid);
        }
        for gid in &groups {
            processed(&srv, gid).await;
        }
        let (a, b) = (srv.second_app().await, srv.second_app().await);
        for gid in &groups {
            let (st, g) = srv
                .post(
                    &format!("/v1.0/groups/{gid}/assignLicense"),
                    json!({"addLicenses": [{"skuId": basic, "disabledPlans": []}], "removeLicenses": []}),
                )
                .await;
            assert_eq!(st, StatusCode::ACCEPTED, "{g}");
        }
        let (ra, rb) = tokio::join!(a.run_license_jobs(), b.run_license_jobs());
        ra.expect("the second server's jobs");
        rb.expect("the third server's jobs");
        let mut with_errors = 0;
        for gid in &groups {
            let g = processed(&srv, gid).await;
            if g["hasMembersWithLicenseErrors"] == true {
                with_errors += 1;
            }
            let (_, list) = srv.get(&format!("/api/v1/jobs?groupId={gid}")).await;
            let job = &list["value"][0];
            assert_eq!(
                (job["state"].as_str(), job["processed"].as_i64()),
                (Some("Completed"), Some(120)),
                "{job}"
            );
        }
        // Exactly the licenses bought are used, one per person, and each person either holds
        // the product with every group Active or holds nothing with every group in error.
        assert_eq!(pool_counts(&srv, "SUITE_BASIC").await, (250, 250, 250));
        let mut holders = 0;
        for u in &users {
            let j = user_json(&srv, u).await;
            let states = states_for(&j, &basic);
            assert!(!states.is_empty(), "{j}");
            if skus(&j) == vec![basic.clone()] {
                holders += 1;
                assert!(states.iter().all(|s| s["state"] == "Active"), "{j}");
            } else {
                assert!(skus(&j).is_empty(), "{j}");
                assert!(
                    states
                        .iter()
                        .all(|s| s["state"] == "Error" && s["error"] == "CountViolation"),
                    "{j}"
                );
            }
        }
        assert_eq!(holders, 250);
        assert!(with_errors >= 1, "110 people could not get a license");
        // Graph's way to find them, a page at a time, with the count of all.
        let (st, page) = srv
            .get("/v1.0/groups?$filter=hasMembersWithLicenseErrors eq true&$top=1&$count=true")
            .await;
        assert_eq!(st, StatusCode::OK, "{page}");
        assert_eq!(page["@odata.count"], with_errors, "{page}");
        assert_eq!(page["value"].as_array().unwrap().len(), 1, "{page}");
        assert_eq!(
            page["@odata.nextLink"].is_string(),
            with_errors > 1,
            "{page}"
        );
        let (_, n) = srv
            .get("/v1.0/groups/$count?$filter=hasMembersWithLicenseErrors eq true")
            .await;
        assert_eq!(n, Value::from(with_errors));
    }
);

/// Polls a job until it completes; returns it.
async fn job_done(srv: &Srv, job: &Value) -> Value {
    let id = job["id"].as_str().expect("job id");
    for _ in 0..1200 {
        let (st, j) = srv.get(&format!("/api/v1/jobs/{id}")).await;
        assert_eq!(st, StatusCode::OK, "{j}");
        if j["state"] == "Completed" {
            return j;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("job {id} did not complete in 30 s");
}

backends!(
    jobs_count_their_own_groups_errors_plans_are_checked_once_and_lists_page_to_the_end,
    |srv| async move {
        srv.buy("CHAT_ESSENTIALS", 1).await;
        let sales = group(&srv, "Sales").await;
        let helpdesk = group(&srv, "Helpdesk").await;
        let mut ids = Vec::new();
        for i in 0..1001 {
            ids.push(
                srv.user(&format!("m{i:04}@contoso.test"), Some("US"))
                    .await
                    .to_string(),
            );
        }
        let (st, job) = srv
            .post(
                &format!("/api/v1/groups/{sales}/members"),
                json!({ "members": ids }),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{job}");
        job_done(&srv, &job).await;
        // One license for 1,001 members: 1,000 of them in error.
        let (st, v) = srv
            .post(
                &format!("/api/v1/groups/{sales}/licenses"),
                json!({"addLicenses": [{"skuId": "CHAT_ESSENTIALS"}]}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{v}");
        let j = job_done(&srv, &v["job"]).await;
        assert_eq!(
            (j["processed"].as_i64(), j["errors"].as_i64()),
            (Some(1001), Some(1000)),
            "{j}"
        );
        // Helpdesk gives nothing: its job has no errors, though its members have Sales's.
        let (st, job) = srv
            .post(
                &format!("/api/v1/groups/{helpdesk}/members"),
                json!({ "members": ids[..10] }),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{job}");
        let j = job_done(&srv, &job).await;
        assert_eq!(
            (j["processed"].as_i64(), j["errors"].as_i64()),
            (Some(10), Some(0)),
            "{j}"
        );
        let (st, job) = srv
            .post(&format!("/api/v1/groups/{helpdesk}/reprocess"), json!({}))
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{job}");
        let j = job_done(&srv, &job).await;
        assert_eq!(j["errors"].as_i64(), Some(0), "{j}");

        // A page of the most one may ask still says where the rest is.
        let (st, page) = srv
            .get(&format!("/api/v1/groups/{sales}/license-errors?top=999"))
            .await;
        assert_eq!(st, StatusCode::OK, "{page}");
        assert_eq!(page["value"].as_array().unwrap().len(), 999);
        let next = page["nextLink"].as_str().expect("a next page").to_string();
        let (st, rest) = srv.get(&next).await;
        assert_eq!(st, StatusCode::OK, "{rest}");
        assert_eq!(rest["value"].as_array().unwrap().len(), 1, "{rest}");
        assert!(rest.get("nextLink").is_none_or(Value::is_null), "{rest}");
        let (st, page) = srv
            .get(&format!(
                "/v1.0/groups/{sales}/membersWithLicenseErrors?$top=999"
            ))
            .await;
        assert_eq!(st, StatusCode::OK, "{page}");
        assert_eq!(page["value"].as_array().unwrap().len(), 999);
        let next = page["@odata.nextLink"]
            .as_str()
            .expect("a next page")
            .to_string();
        let (st, rest) = srv
            .get(next.strip_prefix(&srv.url).expect("absolute"))
            .await;
        assert_eq!(st, StatusCode::OK, "{rest}");
        assert_eq!(rest["value"].as_array().unwrap().len(), 1, "{rest}");

        // A license no member could use is refused before anyone is touched; a plan named
        // twice is kept once.
        let got = srv
            .post(
                &format!("/v1.0/groups/{helpdesk}/assignLicense"),
                json!({"addLicenses": [{"skuId": srv.sku("CHAT_ESSENTIALS"), "disabledPlans": [srv.plan("CHAT")]}], "removeLicenses": []}),
            )
            .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "CHAT_ESSENTIALS turns off CHAT, which WHITEBOARD needs: turn CHAT on or WHITEBOARD off.",
        );
        let whiteboard = srv.plan("WHITEBOARD");
        let (st, g) = srv
            .post(
                &format!("/v1.0/groups/{helpdesk}/assignLicense"),
                json!({"addLicenses": [{"skuId": srv.sku("CHAT_ESSENTIALS"), "disabledPlans": [whiteboard, whiteboard]}], "removeLicenses": []}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{g}");
        assert_eq!(
            g["assignedLicenses"][0]["disabledPlans"],
            json!([whiteboard]),
            "{g}"
        );

        // Products whose plans exclude each other cannot be given by one group.
        srv.buy("MAIL_PLAN1", 1).await;
        srv.buy("MAIL_PLAN2", 1).await;
        let got = srv
            .post(
                &format!("/v1.0/groups/{helpdesk}/assignLicense"),
                json!({"addLicenses": [{"skuId": srv.sku("MAIL_PLAN1"), "disabledPlans": []}, {"skuId": srv.sku("MAIL_PLAN2"), "disabledPlans": []}], "removeLicenses": []}),
            )
            .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "cannot be given together: their plans MAIL_PLAN1 and MAIL_PLAN2 cannot both be on",
        );

        // The jobs, a page at a time, are the whole list in the same order.
        let ids = |v: &Value| -> Vec<String> {
            v["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j["id"].as_str().unwrap().to_string())
                .collect()
        };
        let (st, all) = srv.get("/api/v1/jobs?top=200").await;
        assert_eq!(st, StatusCode::OK, "{all}");
        assert!(all.get("nextLink").is_none(), "{all}");
        let all = ids(&all);
        assert!(all.len() >= 5, "{all:?}");
        let mut paged = Vec::new();
        let mut next = Some("/api/v1/jobs?top=2".to_string());
        while let Some(path) = next {
            let (st, page) = srv.get(&path).await;
            assert_eq!(st, StatusCode::OK, "{page}");
            paged.extend(ids(&page));
            next = page["nextLink"].as_str().map(str::to_string);
        }
        assert_eq!(paged, all);
        let got = srv.get("/api/v1/jobs?after=nope").await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "use the job id from nextLink",
        );
        let got = srv
            .get(&format!("/api/v1/jobs?after={}", uuid::Uuid::new_v4()))
            .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "not a job of this organization",
        );
    }
);

backends!(
    only_a_global_admin_licenses_guests_through_a_group,
    |srv| async move {
        srv.buy("PHONE_SYSTEM", 5).await;
        srv.buy("CHAT_ESSENTIALS", 5).await;
        let license_admin = srv
            .token_with_roles(
                "la@contoso.test",
                &[seatkeeper_domain::roles::Role::LicenseAdmin],
            )
            .await;
        let user_admin = srv
            .token_with_roles(
                "ua@contoso.test",
                &[seatkeeper_domain::roles::Role::UserAdmin],
            )
            .await;
        let guest = srv
            .guest("ann_fabrikam.test#EXT#@contoso.test", "Ann (Fabrikam)")
            .await;
        let member = srv.user("bo@contoso.test", Some("DK")).await;
        let partners = group(&srv, "Partners").await;
        join(&srv, &partners, guest.id).await;
        join(&srv, &partners, member).await;
        let body = json!({"addLicenses": [{"skuId": srv.sku("CHAT_ESSENTIALS"), "disabledPlans": []}], "removeLicenses": []});
        let path = format!("/v1.0/groups/{partners}/assignLicense");
        let got = srv
            .call_as(&license_admin, "POST", &path, Some(body.clone()))
            .await;
        assert_error(
            &got,
            StatusCode::FORBIDDEN,
            "has 1 guest member (ann_fabrikam.test#EXT#@contoso.test): only a Global admin can license guest users",
        );
        assert_eq!(pool_counts(&srv, "CHAT_ESSENTIALS").await, (5, 0, 0));
        // A Global admin may; then a User admin cannot add another guest to the licensed group,
        // one at a time or in bulk, but can add a member.
        let (st, g) = srv.post(&path, body).await;
        assert_eq!(st, StatusCode::ACCEPTED, "{g}");
        processed(&srv, &partners).await;
        assert_eq!(pool_counts(&srv, "CHAT_ESSENTIALS").await, (5, 2, 2));
        let second = srv
            .guest("cy_fabrikam.test#EXT#@contoso.test", "Cy (Fabrikam)")
            .await;
        let got = srv
            .call_as(
                &user_admin,
                "POST",
                &format!("/v1.0/groups/{partners}/members/$ref"),
                Some(json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{}", second.id)})),
            )
            .await;
        assert_error(
            &got,
            StatusCode::FORBIDDEN,
            "cy_fabrikam.test#EXT#@contoso.test is a guest and the group Partners gives licenses",
        );
        let third = srv.user("di@contoso.test", Some("DK")).await;
        let got = srv
            .call_as(
                &user_admin,
                "POST",
                &format!("/api/v1/groups/{partners}/members"),
                Some(json!({"members": [third.to_string(), second.id.to_string()]})),
            )
            .await;
        assert_error(
            &got,
            StatusCode::FORBIDDEN,
            "is a guest and the group Partners gives licenses",
        );
        let (st, job) = srv
            .call_as(
                &user_admin,
                "POST",
                &format!("/api/v1/groups/{partners}/members"),
                Some(json!({"members": [third.to_string()]})),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{job}");
        job_done(&srv, &job).await;
        assert_eq!(pool_counts(&srv, "CHAT_ESSENTIALS").await, (5, 3, 3));
        let u = user_json(&srv, second.id).await;
        assert_eq!(u["assignedLicenses"], json!([]), "{u}");
        // Nor can a User admin make a licensed member a guest; a Global admin can.
        let got = srv
            .call_as(
                &user_admin,
                "PATCH",
                &format!("/v1.0/users/{third}"),
                Some(json!({"userType": "Guest"})),
            )
            .await;
        assert_error(
            &got,
            StatusCode::FORBIDDEN,
            "di@contoso.test holds licenses (directly or through a group): only a Global admin can license guest users",
        );
        let unlicensed = srv.user("el@contoso.test", Some("DK")).await;
        let got = srv
            .call_as(
                &user_admin,
                "PATCH",
                &format!("/v1.0/users/{unlicensed}"),
                Some(json!({"userType": "Guest"})),
            )
            .await;
        assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
        let got = srv
            .call_as(
                &srv.token,
                "PATCH",
                &format!("/v1.0/users/{third}"),
                Some(json!({"userType": "Guest"})),
            )
            .await;
        assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
    }
);

backends!(
    groups_are_found_by_the_products_they_give,
    |srv| async move {
        srv.buy("CHAT_ESSENTIALS", 5).await;
        srv.buy("BI_PRO", 5).await;
        let chat = srv.sku("CHAT_ESSENTIALS");
        let bi = srv.sku("BI_PRO");
        let sales = group(&srv, "Sales").await;
        let finance = group(&srv, "Finance").await;
        group(&srv, "Nothing").await;
        for (g, sku) in [(&sales, chat), (&finance, bi)] {
            let (st, v) = srv
                .post(
                    &format!("/v1.0/groups/{g}/assignLicense"),
                    json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []}),
                )
                .await;
            assert_eq!(st, StatusCode::ACCEPTED, "{v}");
        }
        let names = |v: &Value| -> Vec<String> {
            let mut n: Vec<String> = v["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["displayName"].as_str().unwrap().to_string())
                .collect();
            n.sort();
            n
        };
        let (st, v) = srv
            .get(&format!(
                "/v1.0/groups?$filter=assignedLicenses/any(x:x/skuId eq {chat})&$count=true"
            ))
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(names(&v), vec!["Sales"], "{v}");
        assert_eq!(v["@odata.count"], 1, "{v}");
        let (st, v) = srv
            .get(&format!(
                "/v1.0/groups?$filter=assignedLicenses/any(s:s/skuId eq {chat} or s/skuId eq {bi})&$top=1"
            ))
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["value"].as_array().unwrap().len(), 1, "{v}");
        assert!(v["@odata.nextLink"].is_string(), "{v}");
        let (st, n) = srv
            .get(&format!(
                "/v1.0/groups/$count?$filter=assignedLicenses/any(s:s/skuId eq {chat} or s/skuId eq {bi})"
            ))
            .await;
        assert_eq!(st, StatusCode::OK, "{n}");
        assert_eq!(n, json!(2));
        let got = srv.get("/v1.0/groups?$filter=userType eq 'Guest'").await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "assignedLicenses/any(x:x/skuId eq <guid>)",
        );
    }
);
