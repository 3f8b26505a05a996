//! Each source of a license in the REST views (L6): a product's users and a user's licenses
//! name "direct" and every group the license comes through, with its state.

use crate::common::*;
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

async fn assign_to_group(srv: &Srv, gid: &str, sku: &str) {
    let (st, g) = srv
        .post(
            &format!("/v1.0/groups/{gid}/assignLicense"),
            json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{g}");
    for _ in 0..400 {
        let (_, g) = srv
            .get(&format!(
                "/v1.0/groups/{gid}?$select=id,licenseProcessingState"
            ))
            .await;
        if g["licenseProcessingState"]["state"] == "ProcessingComplete" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("group {gid} was not processed in 10 s");
}

fn group_source(gid: &str, name: &str) -> Value {
    json!({"type": "group", "groupId": gid, "groupName": name, "state": "Active", "error": null})
}

backends!(
    rest_views_name_direct_and_each_group_source,
    |srv| async move {
        srv.buy("SUITE_BASIC", 10).await;
        let basic = srv.sku("SUITE_BASIC").to_string();
        let sales = group(&srv, "Sales").await;
        let marketing = group(&srv, "Marketing").await;
        // a: directly and through both groups; b: only through Sales; c: only directly.
        let a = srv.user("a@contoso.test", Some("US")).await;
        let b = srv.user("b@contoso.test", Some("US")).await;
        let c = srv.user("c@contoso.test", Some("US")).await;
        let (st, body) = srv
            .post(
                "/api/v1/licenses/SUITE_BASIC/assign",
                json!({"users": [a.to_string(), c.to_string()]}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        join(&srv, &sales, a).await;
        join(&srv, &sales, b).await;
        join(&srv, &marketing, a).await;
        assign_to_group(&srv, &sales, &basic).await;
        assign_to_group(&srv, &marketing, &basic).await;

        let all_three = json!([
            {"type": "direct"},
            group_source(&marketing, "Marketing"),
            group_source(&sales, "Sales"),
        ]);
        let (st, l) = srv.get(&format!("/api/v1/users/{a}/licenses")).await;
        assert_eq!(st, StatusCode::OK, "{l}");
        assert_eq!(
            l["licenses"].as_array().unwrap().len(),
            1,
            "one license: {l}"
        );
        assert_eq!(l["licenses"][0]["sources"], json!(["direct", "group"]));
        assert_eq!(l["licenses"][0]["sourceDetails"], all_three);

        let (st, page) = srv.get("/api/v1/licenses/SUITE_BASIC/users").await;
        assert_eq!(st, StatusCode::OK, "{page}");
        let row = |id: seatkeeper_domain::UserId| {
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == id.to_string())
                .cloned()
                .unwrap_or_else(|| panic!("{id} is not listed: {page}"))
        };
        assert_eq!(row(a)["sourceDetails"], all_three);
        assert_eq!(row(a)["sources"], json!(["direct", "group"]));
        assert_eq!(
            row(b)["sourceDetails"],
            json!([group_source(&sales, "Sales")])
        );
        assert_eq!(row(b)["sources"], json!(["group"]));
        assert_eq!(row(c)["sourceDetails"], json!([{"type": "direct"}]));
        assert_eq!(row(c)["sources"], json!(["direct"]));

        // A change answers with the sources too: a stops holding it directly, and the two
        // groups keep it.
        let (st, body) = srv
            .post(
                "/api/v1/licenses/SUITE_BASIC/unassign",
                json!({"users": [a.to_string()]}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert_eq!(
            body["value"][0]["licenses"][0]["sourceDetails"],
            json!([
                group_source(&marketing, "Marketing"),
                group_source(&sales, "Sales")
            ])
        );
        assert_eq!(body["value"][0]["licenses"][0]["sources"], json!(["group"]));

        // The export names them as the list does.
        let resp = srv
            .raw(
                reqwest::Method::GET,
                "/api/v1/licenses/SUITE_BASIC/users.csv",
            )
            .send()
            .await
            .unwrap();
        let text = resp.text().await.unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("c@contoso.test"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(line.contains(",direct,"), "{line}");
    }
);

backends!(
    a_group_that_cannot_give_a_held_license_is_listed_in_error,
    |srv| async move {
        srv.buy("SUITE_BASIC", 10).await;
        srv.buy("BI_PRO", 1).await;
        let basic = srv.sku("SUITE_BASIC").to_string();
        let bi = srv.sku("BI_PRO").to_string();
        // The one BI Pro license goes to z: the group cannot give it to a, so it gives a
        // none of its products; a keeps Suite Basic, held directly.
        let a = srv.user("a@contoso.test", Some("US")).await;
        let z = srv.user("z@contoso.test", Some("US")).await;
        for (user, part) in [(a, "SUITE_BASIC"), (z, "BI_PRO")] {
            let (st, body) = srv
                .post(
                    &format!("/api/v1/licenses/{part}/assign"),
                    json!({"users": [user.to_string()]}),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{body}");
        }
        let ops = group(&srv, "Ops").await;
        join(&srv, &ops, a).await;
        let (st, g) = srv
            .post(
                &format!("/v1.0/groups/{ops}/assignLicense"),
                json!({"addLicenses": [{"skuId": basic, "disabledPlans": []}, {"skuId": bi, "disabledPlans": []}], "removeLicenses": []}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{g}");
        for _ in 0..400 {
            let (_, g) = srv
                .get(&format!(
                    "/v1.0/groups/{ops}?$select=id,licenseProcessingState"
                ))
                .await;
            if g["licenseProcessingState"]["state"] == "ProcessingComplete" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        let (st, l) = srv.get(&format!("/api/v1/users/{a}/licenses")).await;
        assert_eq!(st, StatusCode::OK, "{l}");
        let licenses = l["licenses"].as_array().unwrap();
        assert_eq!(licenses.len(), 1, "only Suite Basic: {l}");
        assert_eq!(licenses[0]["skuPartNumber"], "SUITE_BASIC");
        assert_eq!(licenses[0]["sources"], json!(["direct"]));
        assert_eq!(
            licenses[0]["sourceDetails"],
            json!([
                {"type": "direct"},
                {"type": "group", "groupId": ops, "groupName": "Ops", "state": "Error", "error": "CountViolation"},
            ])
        );
        // The user's page says which group could not give it, and why.
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let html = reqwest::Client::new()
            .get(format!("{}/users/{a}", srv.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("Not given by Ops: Not enough licenses"),
            "{html}"
        );
    }
);
