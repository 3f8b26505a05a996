//! Users by name on the admin center's lists, over HTTP: a search ignores case in any script
//! (É and é, "McDonald" and "mcdonald"), the Active users page and a product's users page list
//! names in case-insensitive order and page across the boundary, and the licensed and
//! unlicensed filters follow assignments.

use crate::common::*;
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::json;

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Creates a member through Graph, as an admin would; returns its id.
async fn graph_user(srv: &Srv, upn: &str, name: &str) -> String {
    let (s, u) = srv
        .post(
            "/v1.0/users",
            json!({"displayName": name, "userPrincipalName": upn, "usageLocation": "US"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    u["id"].as_str().expect("id").to_string()
}

/// Assigns (`add`) or unassigns a product through Graph.
async fn license(srv: &Srv, user: &str, part: &str, add: bool) {
    let sku = srv.sku(part).to_string();
    let body = if add {
        json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []})
    } else {
        json!({"addLicenses": [], "removeLicenses": [sku]})
    };
    let (s, b) = srv
        .post(&format!("/v1.0/users/{user}/assignLicense"), body)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

/// The user ids a page links to under `prefix` (e.g. `/users/`), in page order, and the path
/// of its Next page link.
fn ids_and_next(html: &str, prefix: &str) -> (Vec<String>, Option<String>) {
    let needle = format!("<a href=\"{prefix}");
    let ids = html
        .match_indices(&needle)
        .map(|(i, m)| html[i + m.len()..].chars().take(36).collect::<String>())
        .filter(|id| seatkeeper_domain::UserId::parse(id).is_some())
        .collect();
    let next = html.find("\">Next page</a>").map(|end| {
        let start = html[..end].rfind("href=\"").expect("href") + "href=\"".len();
        html[start..end].replace("&amp;", "&").replace("&#38;", "&")
    });
    (ids, next)
}

/// Every user id listed by following Next page links from `path`, and how many pages there were.
async fn walk(srv: &Srv, cookie: &str, path: &str, prefix: &str) -> (Vec<String>, usize) {
    let c = browser();
    let mut seen = Vec::new();
    let mut path = Some(path.to_string());
    let mut pages = 0;
    while let Some(p) = path {
        let r = c
            .get(format!("{}{p}", srv.url))
            .header(COOKIE, cookie)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), StatusCode::OK, "{p}");
        let html = r.text().await.expect("text");
        let (ids, next) = ids_and_next(&html, prefix);
        assert!(ids.len() <= 50, "{}", ids.len());
        seen.extend(ids);
        path = next;
        pages += 1;
        assert!(pages < 10, "paging does not end");
    }
    (seen, pages)
}

/// The user ids of one page (no paging).
async fn listed(srv: &Srv, cookie: &str, path: &str) -> Vec<String> {
    let (ids, _) = walk(srv, cookie, path, "/users/").await;
    ids
}

backends!(name_search_ignores_case_in_any_script, |srv| async move {
    let emile = graph_user(&srv, "emile@contoso.test", "Émile Zola").await;
    let elise = graph_user(&srv, "elise@contoso.test", "mcdonald, ÉLISE").await;
    let ronald = graph_user(&srv, "ronald@contoso.test", "McDonald Ronald").await;
    graph_user(&srv, "other@contoso.test", "Zoe Other").await;
    let cookie = format!("sk_session={}", srv.admin_session().await);
    let q = |s: &str| {
        format!(
            "/users?q={}",
            form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
        )
    };
    for term in ["émile", "ÉMILE", "éMiLe z", "ÉMILE ZOLA"] {
        assert_eq!(
            listed(&srv, &cookie, &q(term)).await,
            std::slice::from_ref(&emile),
            "{term}"
        );
    }
    // Mixed case in the middle of a name, and a non-ASCII letter after it ("mcdonald r…"
    // comes before "mcdonald, …": a space sorts before a comma).
    for term in ["McDonald", "MCDONALD", "mcd", "mCd"] {
        assert_eq!(
            listed(&srv, &cookie, &q(term)).await,
            [ronald.clone(), elise.clone()],
            "{term}"
        );
    }
    for term in ["McDonald, é", "MCDONALD, élise"] {
        assert_eq!(
            listed(&srv, &cookie, &q(term)).await,
            std::slice::from_ref(&elise),
            "{term}"
        );
    }

    // A product's users searched the same way (the page, and the REST list).
    srv.buy("SUITE_BASIC", 5).await;
    for u in [&emile, &elise, &ronald] {
        license(&srv, u, "SUITE_BASIC", true).await;
    }
    let sku = srv.sku("SUITE_BASIC");
    let product = |s: &str| {
        format!(
            "/licenses/{sku}?search={}",
            form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
        )
    };
    let prefix = format!("/licenses/{sku}/users/");
    let (ids, _) = walk(&srv, &cookie, &product("ÉMILE"), &prefix).await;
    assert_eq!(ids, std::slice::from_ref(&emile));
    let (ids, _) = walk(&srv, &cookie, &product("mcD"), &prefix).await;
    assert_eq!(ids, [ronald.clone(), elise.clone()]);
    let (s, b) = srv
        .get("/api/v1/licenses/SUITE_BASIC/users?search=%C3%A9mile")
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["value"][0]["displayName"], "Émile Zola", "{b}");
    assert_eq!(b["value"].as_array().map(Vec::len), Some(1), "{b}");

    // A renamed user is found by the new name only.
    let (s, _) = srv
        .patch(
            &format!("/v1.0/users/{emile}"),
            json!({"displayName": "ÉDOUARD Manet"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(listed(&srv, &cookie, &q("émile")).await.is_empty());
    assert_eq!(
        listed(&srv, &cookie, &q("édouard m")).await,
        std::slice::from_ref(&emile)
    );
});

backends!(
    names_listed_in_case_insensitive_order_across_pages,
    |srv| async move {
        // 55 users whose names differ only in case at the start, in the order a person expects:
        // "Pager 00", "pager 01", "Pager 02", … (byte order would put every "Pager" first),
        // between "adele Order" and "Zoe Order".
        let mut expected = vec![graph_user(&srv, "adele.order@contoso.test", "adele Order").await];
        for i in 0..55 {
            let name = if i % 2 == 0 {
                format!("Pager {i:02}")
            } else {
                format!("pager {i:02}")
            };
            expected.push(graph_user(&srv, &format!("pager{i}@contoso.test"), &name).await);
        }
        expected.push(graph_user(&srv, "zoe.order@contoso.test", "Zoe Order").await);
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let mine = |ids: Vec<String>| -> Vec<String> {
            ids.into_iter().filter(|id| expected.contains(id)).collect()
        };

        // Active users, every user: two pages, each user once, in name order.
        let (ids, pages) = walk(&srv, &cookie, "/users", "/users/").await;
        assert_eq!(pages, 2);
        assert_eq!(mine(ids), expected);
        // Searched by the shared start in either case.
        for term in ["pager", "PAGER"] {
            let (ids, pages) = walk(&srv, &cookie, &format!("/users?q={term}"), "/users/").await;
            assert_eq!(pages, 2, "{term}");
            assert_eq!(ids, expected[1..56], "{term}");
        }
        // Unlicensed: the same order and paging, served by the count of licenses.
        let (ids, pages) = walk(&srv, &cookie, "/users?filter=unlicensed", "/users/").await;
        assert_eq!(pages, 2);
        assert_eq!(mine(ids), expected);

        // A product's users, without a search: in name order too, across the page boundary.
        srv.buy("SUITE_BASIC", 60).await;
        for u in &expected {
            license(&srv, u, "SUITE_BASIC", true).await;
        }
        let sku = srv.sku("SUITE_BASIC");
        let prefix = format!("/licenses/{sku}/users/");
        let (ids, pages) = walk(&srv, &cookie, &format!("/licenses/{sku}"), &prefix).await;
        assert_eq!(pages, 2);
        assert_eq!(ids, expected);
        let (ids, pages) = walk(
            &srv,
            &cookie,
            &format!("/licenses/{sku}?search=PaGeR"),
            &prefix,
        )
        .await;
        assert_eq!(pages, 2);
        assert_eq!(ids, expected[1..56]);
        // Licensed: everyone listed, in the same order.
        let (ids, pages) = walk(&srv, &cookie, "/users?filter=licensed", "/users/").await;
        assert_eq!(pages, 2);
        assert_eq!(ids, expected);

        // The REST list pages by its nextLink in the same order.
        let mut names = Vec::new();
        let mut path = Some("/api/v1/licenses/SUITE_BASIC/users?top=20".to_string());
        while let Some(p) = path {
            let (s, b) = srv.get(&p).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            for u in b["value"].as_array().expect("value") {
                names.push(u["id"].as_str().expect("id").to_string());
            }
            path = b["nextLink"].as_str().map(str::to_string);
        }
        assert_eq!(names, expected);
    }
);

/// The licensed, unlicensed and guests filters of Active users list exactly these of `all`, in
/// order, searched and not searched (both ways of listing must agree).
async fn filters_list(
    srv: &Srv,
    cookie: &str,
    all: &[String],
    guest: &str,
    licensed: Vec<String>,
    unlicensed: Vec<String>,
) {
    let only = |ids: Vec<String>| -> Vec<String> {
        ids.into_iter().filter(|id| all.contains(id)).collect()
    };
    for path in ["/users?q=filter&filter=", "/users?filter="] {
        let got = only(listed(srv, cookie, &format!("{path}licensed")).await);
        assert_eq!(got, licensed, "{path}licensed");
        let got = only(listed(srv, cookie, &format!("{path}unlicensed")).await);
        assert_eq!(got, unlicensed, "{path}unlicensed");
        let got = only(listed(srv, cookie, &format!("{path}guests")).await);
        assert_eq!(got, [guest.to_string()], "{path}guests");
    }
}

backends!(
    licensed_and_unlicensed_filters_follow_assignments,
    |srv| async move {
        let a = graph_user(&srv, "filter.a@contoso.test", "Filter A").await;
        let b = graph_user(&srv, "filter.b@contoso.test", "filter B").await;
        let (s, g) = srv
            .post(
                "/v1.0/users",
                json!({"displayName": "Filter Guest", "userPrincipalName": "guest_fabrikam.test@contoso.test", "userType": "Guest"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{g}");
        let guest = g["id"].as_str().expect("id").to_string();
        srv.buy("SUITE_BASIC", 5).await;
        srv.buy("MAIL_PLAN1", 5).await;
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let all = [a.clone(), b.clone(), guest.clone()];
        let check = |licensed: Vec<String>, unlicensed: Vec<String>| {
            filters_list(&srv, &cookie, &all, &guest, licensed, unlicensed)
        };
        check(vec![], vec![a.clone(), b.clone(), guest.clone()]).await;
        license(&srv, &a, "SUITE_BASIC", true).await;
        check(vec![a.clone()], vec![b.clone(), guest.clone()]).await;
        // Two licenses, then one removed: still licensed.
        license(&srv, &a, "MAIL_PLAN1", true).await;
        license(&srv, &a, "SUITE_BASIC", false).await;
        check(vec![a.clone()], vec![b.clone(), guest.clone()]).await;
        license(&srv, &b, "SUITE_BASIC", true).await;
        check(vec![a.clone(), b.clone()], vec![guest.clone()]).await;
        license(&srv, &a, "MAIL_PLAN1", false).await;
        check(vec![b.clone()], vec![a.clone(), guest.clone()]).await;
        // Graph's count filter reads the same count.
        let (s, body) = srv
            .get("/v1.0/users?$filter=assignedLicenses/$count eq 1&$count=true")
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let ids: Vec<&str> = body["value"]
            .as_array()
            .expect("value")
            .iter()
            .filter_map(|u| u["id"].as_str())
            .collect();
        assert_eq!(ids, [b.as_str()], "{body}");
        // A deleted user's licenses are freed; the others' counts stay.
        let (s, _) = srv.delete(&format!("/v1.0/users/{b}")).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        check(vec![], vec![a.clone(), guest.clone()]).await;
    }
);

/// Polls a group through Graph until its licenseProcessingState is ProcessingComplete.
async fn group_processed(srv: &Srv, gid: &str) {
    for _ in 0..400 {
        let (s, g) = srv
            .get(&format!(
                "/v1.0/groups/{gid}?$select=id,licenseProcessingState"
            ))
            .await;
        assert_eq!(s, StatusCode::OK, "{g}");
        if g["licenseProcessingState"]["state"] == "ProcessingComplete" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("group {gid} was not processed in 10 s");
}

backends!(
    licensed_and_unlicensed_filters_follow_group_licenses,
    |srv| async move {
        let a = graph_user(&srv, "filter.a@contoso.test", "Filter A").await;
        let b = graph_user(&srv, "filter.b@contoso.test", "filter B").await;
        let c = graph_user(&srv, "filter.c@contoso.test", "Filter C").await;
        let (s, g) = srv
            .post(
                "/v1.0/users",
                json!({"displayName": "Filter Guest", "userPrincipalName": "guest_fabrikam.test@contoso.test", "userType": "Guest"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{g}");
        let guest = g["id"].as_str().expect("id").to_string();
        srv.buy("SUITE_BASIC", 5).await;
        let sku = srv.sku("SUITE_BASIC").to_string();
        let (s, g) = srv
            .post(
                "/v1.0/groups",
                json!({"displayName": "Filters", "mailEnabled": false, "mailNickname": "filters", "securityEnabled": true}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{g}");
        let gid = g["id"].as_str().expect("id").to_string();
        for u in [&a, &b] {
            let (s, body) = srv
                .post(
                    &format!("/v1.0/groups/{gid}/members/$ref"),
                    json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{u}")}),
                )
                .await;
            assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
        }
        // b also holds the product directly.
        license(&srv, &b, "SUITE_BASIC", true).await;
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let all = [a.clone(), b.clone(), c.clone(), guest.clone()];
        let check = |licensed: Vec<String>, unlicensed: Vec<String>| {
            filters_list(&srv, &cookie, &all, &guest, licensed, unlicensed)
        };
        check(vec![b.clone()], vec![a.clone(), c.clone(), guest.clone()]).await;

        // The product on the group: both members are licensed, by the job's batch.
        let (s, body) = srv
            .post(
                &format!("/v1.0/groups/{gid}/assignLicense"),
                json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []}),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{body}");
        group_processed(&srv, &gid).await;
        check(vec![a.clone(), b.clone()], vec![c.clone(), guest.clone()]).await;

        // Removed from the group: a has nothing left, b keeps the direct license.
        let (s, body) = srv
            .post(
                &format!("/v1.0/groups/{gid}/assignLicense"),
                json!({"addLicenses": [], "removeLicenses": [sku]}),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{body}");
        group_processed(&srv, &gid).await;
        check(vec![b.clone()], vec![a.clone(), c.clone(), guest.clone()]).await;
        let (s, body) = srv
            .get("/v1.0/users?$filter=assignedLicenses/$count eq 0")
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let zero: Vec<&str> = body["value"]
            .as_array()
            .expect("value")
            .iter()
            .filter_map(|u| u["id"].as_str())
            .collect();
        assert!(
            zero.contains(&a.as_str()) && !zero.contains(&b.as_str()),
            "{body}"
        );
    }
);

backends!(
    the_unlicensed_filter_lists_users_a_directory_sync_wrote_in_name_order,
    |srv| async move {
        // 2,100 users written straight into the database, as a large directory sync would,
        // with names that sort before everyone else's: more unlicensed users than the page
        // sorts by itself, so the list reads users in name order.
        let ids: Vec<String> = (0..2100)
            .map(|_| uuid::Uuid::new_v4().to_string())
            .collect();
        let rows: Vec<String> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                format!(
                    "('{id}', '{}', 'sync{i}@contoso.test', 'sync{i}@contoso.test', 'Aaa Sync {i:04}', 'aaa sync {i:04}', 'Member', 'US', 1, 0)",
                    srv.tenant
                )
            })
            .collect();
        let db = seatkeeper_store::Db::connect(&srv.db_url)
            .await
            .expect("connect");
        let mut tx = db.begin().await.expect("begin");
        seatkeeper_store::sqlx::query(seatkeeper_store::sqlx::AssertSqlSafe(format!(
            "INSERT INTO users (id, tenant_id, upn, upn_lower, display_name, name_lower, user_type, usage_location, account_enabled, created_at) VALUES {}",
            rows.join(",")
        )))
        .execute(&mut *tx)
        .await
        .expect("insert");
        tx.commit().await.expect("commit");
        db.close().await;

        // The first two pages of unlicensed users: the first 100 of them, in name order.
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let first_pages = |expected: Vec<String>| {
            let cookie = cookie.clone();
            let srv = &srv;
            async move {
                let c = browser();
                let mut seen = Vec::new();
                let mut path = "/users?filter=unlicensed".to_string();
                for _ in 0..2 {
                    let r = c
                        .get(format!("{}{path}", srv.url))
                        .header(COOKIE, &cookie)
                        .send()
                        .await
                        .expect("get");
                    assert_eq!(r.status(), StatusCode::OK, "{path}");
                    let (ids, next) = ids_and_next(&r.text().await.expect("text"), "/users/");
                    seen.extend(ids);
                    path = next.expect("a next page");
                }
                assert_eq!(seen, expected);
            }
        };
        first_pages(ids[..100].to_vec()).await;

        // Licensed through Graph: gone from the unlicensed list, on the licensed one.
        srv.buy("SUITE_BASIC", 5).await;
        license(&srv, &ids[1], "SUITE_BASIC", true).await;
        let mut expected = ids[..101].to_vec();
        expected.remove(1);
        first_pages(expected).await;
        let licensed = listed(&srv, &cookie, "/users?filter=licensed").await;
        assert!(licensed.contains(&ids[1]), "{licensed:?}");
        assert!(!licensed.contains(&ids[0]), "{licensed:?}");
        // And back when the license goes.
        license(&srv, &ids[1], "SUITE_BASIC", false).await;
        first_pages(ids[..100].to_vec()).await;
    }
);
