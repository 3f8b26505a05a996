//! The group licensing pages over HTTP: their forms refuse a post without the session's CSRF
//! token and change nothing; with the token they assign, remove and reprocess.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const FORM: &str = "application/x-www-form-urlencoded";

fn csrf_in(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    let end = html[start..].find('"').expect("end of the value");
    html[start..start + end].to_string()
}

async fn group_with(
    srv: &Srv,
    name: &str,
    members: &[&str],
) -> (String, Vec<seatkeeper_domain::UserId>) {
    let (st, g) = srv
        .post(
            "/v1.0/groups",
            json!({"displayName": name, "mailEnabled": false, "mailNickname": name, "securityEnabled": true}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for upn in members {
        let uid = srv.user(upn, Some("US")).await;
        ids.push(uid);
        let (st, body) = srv
            .post(
                &format!("/v1.0/groups/{gid}/members/$ref"),
                json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{uid}")}),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    }
    (gid, ids)
}

async fn processed(srv: &Srv, gid: &str) -> Value {
    for _ in 0..400 {
        let (st, g) = srv
            .get(&format!(
                "/v1.0/groups/{gid}?$select=id,assignedLicenses,licenseProcessingState"
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

async fn jobs(srv: &Srv, gid: &str) -> usize {
    let (st, body) = srv.get(&format!("/api/v1/jobs?groupId={gid}")).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body["value"].as_array().map(Vec::len).unwrap_or(0)
}

backends!(
    group_licensing_forms_without_the_csrf_token_are_refused_and_change_nothing,
    |srv| async move {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let cookie = format!("sk_session={}", srv.admin_session().await);
        srv.buy("SUITE_STANDARD", 1).await;
        let sku = srv.sku("SUITE_STANDARD");
        let (gid, members) =
            group_with(&srv, "Sales", &["ann@contoso.test", "bob@contoso.test"]).await;
        let post = |path: String, body: String| {
            let client = client.clone();
            let cookie = cookie.clone();
            let url = format!("{}{path}", srv.url);
            async move {
                client
                    .post(url)
                    .header("cookie", cookie)
                    .header("content-type", FORM)
                    .body(body)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let forged = "csrf=c0123456789abcdef0123456789abcdef01234567";

        // Assign without the token (or with another's): 403, the group still gives nothing.
        for extra in ["", "&csrf=c0123456789abcdef0123456789abcdef01234567"] {
            let resp = post(
                "/groups/licenses/assign".into(),
                format!("group={gid}&sku={sku}{extra}"),
            )
            .await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN);
            assert!(
                resp.text()
                    .await
                    .unwrap()
                    .contains("did not come from Seatkeeper")
            );
        }
        let g = processed(&srv, &gid).await;
        assert_eq!(g["assignedLicenses"], json!([]), "{g}");
        assert_eq!(jobs(&srv, &gid).await, 0);

        // With the token the form carries: assigned, processed; the members hold it.
        let page = client
            .get(format!("{}/groups/licenses/assign?group={gid}", srv.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let csrf = csrf_in(&page.text().await.unwrap());
        let resp = post(
            "/groups/licenses/assign".into(),
            format!("group={gid}&sku={sku}&csrf={csrf}"),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let g = processed(&srv, &gid).await;
        assert_eq!(g["assignedLicenses"][0]["skuId"], sku.to_string(), "{g}");
        let status = client
            .get(format!("{}/groups/{gid}/licenses/status", srv.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // One license for two members: one of them is in error, said in words.
        assert!(status.contains("1 member has errors."), "{status}");
        assert!(!status.contains("hx-trigger"), "{status}");
        let jobs_before = jobs(&srv, &gid).await;

        // Reprocess (group and member) and Remove without the token: refused, no job queued,
        // the product stays.
        let ann = members[0];
        for (path, body) in [
            (format!("/groups/{gid}/reprocess"), String::new()),
            (format!("/groups/{gid}/reprocess"), forged.to_string()),
            (
                format!("/groups/{gid}/license-errors/reprocess"),
                format!("user={ann}"),
            ),
            (
                format!("/groups/{gid}/licenses/remove"),
                format!("sku={sku}&confirmed=yes"),
            ),
            (
                format!("/groups/{gid}/licenses/remove"),
                format!("sku={sku}&confirmed=yes&{forged}"),
            ),
        ] {
            let resp = post(path.clone(), body).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
        }
        assert_eq!(jobs(&srv, &gid).await, jobs_before);
        let g = processed(&srv, &gid).await;
        assert_eq!(g["assignedLicenses"][0]["skuId"], sku.to_string(), "{g}");
        let (_, audit) = srv.get("/api/v1/audit?action=license.reprocess").await;
        assert_eq!(audit["value"].as_array().map(Vec::len), Some(0), "{audit}");

        // With the token: Remove asks first, then removes; the seat is free again.
        let resp = post(
            format!("/groups/{gid}/licenses/remove"),
            format!("sku={sku}&csrf={csrf}"),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let html = resp.text().await.unwrap();
        assert!(html.contains("Remove Suite Standard from Sales?"), "{html}");
        assert_eq!(
            processed(&srv, &gid).await["assignedLicenses"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        let resp = post(
            format!("/groups/{gid}/licenses/remove"),
            format!("sku={sku}&confirmed=yes&csrf={csrf}"),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let g = processed(&srv, &gid).await;
        assert_eq!(g["assignedLicenses"], json!([]), "{g}");
    }
);

backends!(
    assigning_to_more_than_twenty_groups_at_once_is_refused_in_words,
    |srv| async move {
        let client = reqwest::Client::new();
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let mut q = String::new();
        for i in 0..21 {
            let (gid, _) = group_with(&srv, &format!("Team{i}"), &[]).await;
            q.push_str(&format!("group={gid}&"));
        }
        let resp = client
            .get(format!("{}/groups/licenses/assign?{q}", srv.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let html = resp.text().await.unwrap();
        assert!(
            html.contains("assign licenses to at most 20 groups at once"),
            "{html}"
        );
    }
);

backends!(
    the_member_search_says_which_guests_the_admin_cannot_add,
    |srv| async move {
        srv.buy("CHAT_ESSENTIALS", 5).await;
        let (gid, _) = group_with(&srv, "Partners", &[]).await;
        srv.guest("ann_fabrikam.test#EXT#@contoso.test", "Ann (Fabrikam)")
            .await;
        srv.user("anders@contoso.test", Some("DK")).await;
        // A User admin, signed in to the admin center.
        let ua = srv
            .user_with_roles(
                "ua@contoso.test",
                &[seatkeeper_domain::roles::Role::UserAdmin],
            )
            .await;
        let user_admin = format!("sk_session={}", srv.session_of(ua).await);
        let global_admin = format!("sk_session={}", srv.admin_session().await);
        let search = |cookie: String| {
            let url = format!("{}/groups/{gid}/candidates?q=an", srv.url);
            async move {
                let resp = reqwest::Client::new()
                    .get(url)
                    .header("cookie", cookie)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), StatusCode::OK);
                resp.text().await.unwrap()
            }
        };
        // The group gives nothing yet: anyone found can be added.
        let html = search(user_admin.clone()).await;
        assert!(html.contains("aria-label=\"Add Ann (Fabrikam)\""), "{html}");
        assert!(html.contains("aria-label=\"Add anders\""), "{html}");
        // Once it gives a product, the User admin is told why the guest cannot be added.
        let (st, g) = srv
            .post(
                &format!("/v1.0/groups/{gid}/assignLicense"),
                json!({"addLicenses": [{"skuId": srv.sku("CHAT_ESSENTIALS"), "disabledPlans": []}], "removeLicenses": []}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{g}");
        let html = search(user_admin).await;
        assert!(
            !html.contains("aria-label=\"Add Ann (Fabrikam)\""),
            "{html}"
        );
        assert!(
            html.contains(
                "Guest: this group gives licenses, and only a Global admin can add guests to it"
            ),
            "{html}"
        );
        assert!(html.contains("aria-label=\"Add anders\""), "{html}");
        // A Global admin can still add her.
        let html = search(global_admin).await;
        assert!(html.contains("aria-label=\"Add Ann (Fabrikam)\""), "{html}");
    }
);
