//! The license request pages over HTTP: a post without the session's CSRF token is refused and
//! changes nothing; a Global reader sees a request without the decision form, and the server
//! refuses their decision even with a valid token; an admin's decision through the page works.

use crate::common::*;
use reqwest::StatusCode;
use seatkeeper_domain::roles::Role;
use serde_json::json;

const FORM: &str = "application/x-www-form-urlencoded";

fn csrf_in(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    let end = html[start..].find('"').expect("end of the value");
    html[start..start + end].to_string()
}

/// Signs `upn` in to the admin center (giving it a password first); the session cookie.
async fn session_of(srv: &Srv, upn: &str) -> String {
    let actor = seatkeeper_app::Actor::operator(srv.tenant);
    let password = "Request-pages-1";
    srv.app
        .set_password(&actor, upn, password, false)
        .await
        .expect("set a password");
    let secret = srv
        .app
        .sign_in(upn, password, None, &Default::default())
        .await
        .expect("sign in")
        .secret;
    format!("sk_session={secret}")
}

async fn status_of(srv: &Srv, id: &str) -> String {
    let (st, r) = srv.get(&format!("/api/v1/license-requests/{id}")).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    r["status"].as_str().unwrap_or_default().to_string()
}

backends!(
    request_pages_refuse_forged_posts_and_a_reader_cannot_decide,
    |srv| async move {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        let member = srv.token_with_roles("asker@contoso.test", &[]).await;
        let (st, r) = srv
            .call_as(
                &member,
                "POST",
                "/api/v1/me/license-requests",
                Some(json!({"skuId": "SUITE_BASIC"})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{r}");
        let id = r["id"].as_str().expect("id").to_string();
        let uid = r["users"][0]["id"].as_str().expect("user id").to_string();
        let admin = format!("sk_session={}", srv.admin_session().await);
        let post = |path: String, cookie: String, body: String| {
            let client = client.clone();
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

        // No token, or another session's: 403, and nothing changes.
        for body in [
            format!("verdict=deny%3A{uid}"),
            format!("verdict=deny%3A{uid}&csrf=c0123456789abcdef0123456789abcdef01234567"),
        ] {
            let resp = post(
                format!("/licenses/requests/{id}/decision"),
                admin.clone(),
                body,
            )
            .await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        }
        assert_eq!(status_of(&srv, &id).await, "Pending");
        let resp = post(
            "/licenses/requests/settings".into(),
            admin.clone(),
            "use_organization_process=1&message=Forged&link_expiry_days=14&retention_months=12"
                .into(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let (_, s) = srv.get("/api/v1/settings/license-requests").await;
        assert_eq!(s["useOrganizationProcess"], false, "{s}");
        let resp = post(
            format!("/licenses/requests/{id}/share"),
            admin.clone(),
            "recipients=asker%40contoso.test".into(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);

        // A Global reader sees the request without the controls; their post, with their own
        // valid token, is refused by the server.
        srv.token_with_roles("reader@contoso.test", &[Role::GlobalReader])
            .await;
        let reader = session_of(&srv, "reader@contoso.test").await;
        let page = client
            .get(format!("{}/licenses/requests/{id}", srv.url))
            .header("cookie", &reader)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("asker@contoso.test"), "{html}");
        assert!(!html.contains(">Submit</button>"), "{html}");
        assert!(!html.contains("Share request</a>"), "{html}");
        let csrf = csrf_in(&html);
        let resp = post(
            format!("/licenses/requests/{id}/decision"),
            reader.clone(),
            format!("verdict=deny%3A{uid}&csrf={csrf}"),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(status_of(&srv, &id).await, "Pending");

        // The admin's decision with the page's token: decided.
        let page = client
            .get(format!("{}/licenses/requests/{id}", srv.url))
            .header("cookie", &admin)
            .send()
            .await
            .unwrap();
        let csrf = csrf_in(&page.text().await.unwrap());
        let resp = post(
            format!("/licenses/requests/{id}/decision"),
            admin.clone(),
            format!("verdict=deny%3A{uid}&message=Not+this+year&csrf={csrf}"),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(status_of(&srv, &id).await, "Completed");
    }
);

backends!(
    the_request_form_is_shown_only_where_a_request_can_be_made,
    |srv| async move {
        let client = reqwest::Client::new();
        let page = |path: &'static str, cookie: String| {
            let client = client.clone();
            let url = format!("{}{path}", srv.url);
            async move {
                let r = client
                    .get(url)
                    .header("cookie", cookie)
                    .send()
                    .await
                    .expect("page");
                let st = r.status();
                (st, r.text().await.expect("body"))
            }
        };
        srv.user("member@contoso.test", Some("US")).await;
        let member = session_of(&srv, "member@contoso.test").await;

        // Blocked by policy: the form.
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        let (st, html) = page("/buy/SUITE_BASIC/request", member.clone()).await;
        assert_eq!(st, StatusCode::OK, "{html}");
        assert!(html.contains("name=\"note\""), "{html}");
        // One the member could buy: no form, the way to buy it instead.
        set_policy(&srv, "SUITE_BASIC", "Enabled").await;
        let (st, html) = page("/buy/SUITE_BASIC/request", member.clone()).await;
        assert_eq!(st, StatusCode::CONFLICT, "{html}");
        assert!(html.contains("lets you buy"), "{html}");
        assert!(!html.contains("name=\"note\""), "{html}");
        // One nobody may buy themselves: no form, who can.
        let (st, html) = page("/buy/SUITE_PREMIUM/request", member.clone()).await;
        assert!(st.is_client_error(), "{st}: {html}");
        assert!(
            html.contains("cannot be bought by users themselves"),
            "{html}"
        );
        assert!(!html.contains("name=\"note\""), "{html}");
        // A Guest: no form.
        let (st, body) = srv
            .post(
                "/v1.0/users",
                json!({"accountEnabled": true, "displayName": "Guest Gail", "mailNickname": "gail",
                       "userPrincipalName": "gail@contoso.test", "userType": "Guest", "usageLocation": "US"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{body}");
        let guest = session_of(&srv, "gail@contoso.test").await;
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        let (st, html) = page("/buy/SUITE_BASIC/request", guest).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{html}");
        assert!(html.contains("Guest users cannot request"), "{html}");
    }
);

backends!(
    a_requester_opens_their_own_request_and_not_anothers,
    |srv| async move {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let get = |path: String, cookie: String| {
            let client = client.clone();
            let url = format!("{}{path}", srv.url);
            async move {
                let r = client
                    .get(url)
                    .header("cookie", cookie)
                    .send()
                    .await
                    .expect("page");
                let st = r.status();
                let location = r
                    .headers()
                    .get("location")
                    .map(|l| l.to_str().unwrap_or_default().to_string());
                (st, location, r.text().await.expect("body"))
            }
        };
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        let mut ids = Vec::new();
        for upn in ["own@contoso.test", "else@contoso.test"] {
            let t = srv.token_with_roles(upn, &[]).await;
            let (st, r) = srv
                .call_as(
                    &t,
                    "POST",
                    "/api/v1/me/license-requests",
                    Some(json!({"skuId": "SUITE_BASIC", "note": "for the audit"})),
                )
                .await;
            assert_eq!(st, StatusCode::CREATED, "{r}");
            ids.push(r["id"].as_str().expect("id").to_string());
        }
        let own = session_of(&srv, "own@contoso.test").await;

        // My requests links each row to the request.
        let (st, _, html) = get("/my/requests".into(), own.clone()).await;
        assert_eq!(st, StatusCode::OK, "{html}");
        assert!(
            html.contains(&format!("href=\"/my/requests/{}\"", ids[0])),
            "{html}"
        );
        // The admin address of their own request leads to it, not to a 403.
        let (st, location, _) = get(format!("/licenses/requests/{}", ids[0]), own.clone()).await;
        assert_eq!(st, StatusCode::SEE_OTHER);
        let location = location.expect("location");
        assert_eq!(location, format!("/my/requests/{}", ids[0]));
        let (st, _, html) = get(location, own.clone()).await;
        assert_eq!(st, StatusCode::OK, "{html}");
        assert!(html.contains("for the audit"), "{html}");
        assert!(!html.contains(">Submit</button>"), "{html}");

        // Another's request: a 404 either way, which says nothing about whether it exists.
        let (st, location, _) = get(format!("/licenses/requests/{}", ids[1]), own.clone()).await;
        assert_eq!(st, StatusCode::SEE_OTHER);
        let (st, _, html) = get(location.expect("location"), own.clone()).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{html}");
        assert!(html.contains("see My requests"), "{html}");
        assert!(!html.contains("/api/v1"), "{html}");
        let (st, _, missing) = get(
            format!("/my/requests/{}", uuid::Uuid::new_v4()),
            own.clone(),
        )
        .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        assert!(!html.contains("else@contoso.test"), "{html}");
        assert!(!missing.contains("else@contoso.test"));
        let (st, _, _) = get("/licenses/requests/not-an-id".into(), own.clone()).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
    }
);

backends!(
    a_pane_post_with_an_unknown_product_shows_the_pane_with_the_reason,
    |srv| async move {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        let member = srv.token_with_roles("asker@contoso.test", &[]).await;
        let (st, r) = srv
            .call_as(
                &member,
                "POST",
                "/api/v1/me/license-requests",
                Some(json!({"skuId": "SUITE_BASIC"})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{r}");
        let id = r["id"].as_str().expect("id").to_string();
        let uid = r["users"][0]["id"].as_str().expect("user id").to_string();
        let admin = format!("sk_session={}", srv.admin_session().await);
        let page = client
            .get(format!("{}/licenses/requests/{id}", srv.url))
            .header("cookie", &admin)
            .send()
            .await
            .unwrap();
        let csrf = csrf_in(&page.text().await.unwrap());
        let resp = client
            .post(format!("{}/licenses/requests/{id}/decision", srv.url))
            .header("cookie", &admin)
            .header("content-type", FORM)
            .body(format!("verdict=approve%3A{uid}&sku=nope&csrf={csrf}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let html = resp.text().await.unwrap();
        assert!(
            html.contains("There is no product &#39;nope&#39;")
                || html.contains("There is no product 'nope'"),
            "{html}"
        );
        assert!(html.contains("role=\"alert\""), "{html}");
        // The pane is there to correct the choice.
        assert!(html.contains("asker@contoso.test"), "{html}");
        assert!(html.contains(">Submit</button>"), "{html}");
        assert_eq!(status_of(&srv, &id).await, "Pending");
    }
);

backends!(
    searching_on_the_request_and_share_forms_keeps_the_form_and_submits_nothing,
    |srv| async move {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        let member = srv.token_with_roles("seeker@contoso.test", &[]).await;
        srv.user("colleen@contoso.test", Some("US")).await;
        srv.user("picked@contoso.test", Some("US")).await;
        let cookie = session_of(&srv, "seeker@contoso.test").await;
        let get = |path: String, cookie: String| {
            let client = client.clone();
            let url = format!("{}{path}", srv.url);
            async move {
                let r = client
                    .get(url)
                    .header("cookie", cookie)
                    .send()
                    .await
                    .unwrap();
                let st = r.status();
                let loc = r
                    .headers()
                    .get("location")
                    .map(|l| l.to_str().unwrap().to_string());
                (st, loc, r.text().await.unwrap())
            }
        };
        let post = |path: String, cookie: String, body: String| {
            let client = client.clone();
            let url = format!("{}{path}", srv.url);
            async move {
                let r = client
                    .post(url)
                    .header("cookie", cookie)
                    .header("content-type", FORM)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let st = r.status();
                let loc = r
                    .headers()
                    .get("location")
                    .map(|l| l.to_str().unwrap().to_string());
                (st, loc)
            }
        };

        // The form's first button is Search: pressing Enter in the search box sends it.
        let (st, _, html) = get("/buy/SUITE_BASIC/request".into(), cookie.clone()).await;
        assert_eq!(st, StatusCode::OK, "{html}");
        let form = html.find("request-form").expect("the form");
        let first = form + html[form..].find("<button").expect("a button");
        assert!(
            html[first..].starts_with("<button type=\"submit\" name=\"search\""),
            "{}",
            &html[first..first + 80]
        );
        let csrf = csrf_in(&html);
        let (st, loc) = post(
            "/buy/SUITE_BASIC/request".into(),
            cookie.clone(),
            format!("csrf={csrf}&q=coll&colleague=picked%40contoso.test&colleagues=&note=For+Q3&search=1"),
        )
        .await;
        assert_eq!(st, StatusCode::SEE_OTHER);
        let loc = loc.expect("location");
        assert!(!loc.contains(&csrf), "{loc}");
        let (st, _, html) = get(loc, cookie.clone()).await;
        assert_eq!(st, StatusCode::OK, "{html}");
        assert!(html.contains("value=\"colleen@contoso.test\""), "{html}");
        assert!(
            html.contains("value=\"picked@contoso.test\" checked"),
            "{html}"
        );
        assert!(html.contains(">For Q3</textarea>"), "{html}");
        // Nothing was requested.
        let (st, mine) = srv
            .call_as(&member, "GET", "/api/v1/me/license-requests", None)
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(mine["count"], 0, "{mine}");

        // Share request: the same for the admin's people search.
        let (st, r) = srv
            .call_as(
                &member,
                "POST",
                "/api/v1/me/license-requests",
                Some(json!({"skuId": "SUITE_BASIC"})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{r}");
        let id = r["id"].as_str().expect("id").to_string();
        let admin = format!("sk_session={}", srv.admin_session().await);
        let (st, _, html) = get(format!("/licenses/requests/{id}/share"), admin.clone()).await;
        assert_eq!(st, StatusCode::OK, "{html}");
        let form = html.find("share-form").expect("the form");
        let first = form + html[form..].find("<button").expect("a button");
        assert!(html[first..].starts_with("<button type=\"submit\" name=\"search\""));
        let csrf = csrf_in(&html);
        let (st, loc) = post(
            format!("/licenses/requests/{id}/share"),
            admin.clone(),
            format!("csrf={csrf}&q=coll&recipients=&subject=Please+look&message=&search=1"),
        )
        .await;
        assert_eq!(st, StatusCode::SEE_OTHER);
        let (st, _, html) = get(loc.expect("location"), admin.clone()).await;
        assert_eq!(st, StatusCode::OK, "{html}");
        assert!(html.contains("value=\"colleen@contoso.test\""), "{html}");
        assert!(html.contains("value=\"Please look\""), "{html}");
        let (_, r) = srv.get(&format!("/api/v1/license-requests/{id}")).await;
        assert_eq!(r["shares"], json!([]), "{r}");
    }
);

backends!(
    a_guest_is_refused_the_request_page_whether_or_not_the_process_is_on,
    |srv| async move {
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        let guest = srv.user("visitor@contoso.test", Some("US")).await;
        srv.app
            .update_user(
                &srv.operator(),
                &guest.to_string(),
                &seatkeeper_app::directory::UserInput {
                    user_type: Some("Guest".into()),
                    ..Default::default()
                },
            )
            .await
            .expect("guest");
        let cookie = session_of(&srv, "visitor@contoso.test").await;
        let client = reqwest::Client::new();
        for on in [false, true] {
            let got = srv
                .put(
                    "/api/v1/settings/license-requests",
                    json!({"useOrganizationProcess": on, "message": "Use the IT portal."}),
                )
                .await;
            assert_eq!(got.0, StatusCode::OK, "{}", got.1);
            let r = client
                .get(format!("{}/buy/SUITE_BASIC/request", srv.url))
                .header("cookie", cookie.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "process on: {on}");
            let html = r.text().await.unwrap();
            assert!(html.contains("Guest users cannot request"), "{html}");
            assert!(!html.contains("Use the IT portal."), "{html}");
        }
    }
);

backends!(
    the_pane_switches_follow_the_product_that_serves_the_request,
    |srv| async move {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        srv.buy("SUITE_BASIC", 1).await;
        srv.buy("SUITE_STANDARD", 1).await;
        let member = srv.token_with_roles("switches@contoso.test", &[]).await;
        let (st, r) = srv
            .call_as(
                &member,
                "POST",
                "/api/v1/me/license-requests",
                Some(json!({"skuId": "SUITE_BASIC"})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{r}");
        let id = r["id"].as_str().expect("id").to_string();
        let uid = r["users"][0]["id"].as_str().expect("user id").to_string();
        let admin = format!("sk_session={}", srv.admin_session().await);
        let catalog = srv.app.catalog();
        let basic = catalog.find_product("SUITE_BASIC").expect("basic").clone();
        let standard = catalog.find_product("SUITE_STANDARD").expect("std").clone();
        let desktop = *catalog
            .plan_names()
            .iter()
            .find(|(_, n)| n.as_str() == "OFFICE_DESKTOP")
            .expect("desktop")
            .0;
        let html = client
            .get(format!("{}/licenses/requests/{id}", srv.url))
            .header("cookie", &admin)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_in(&html);
        // Standard picked while the switches showed Basic's: nothing is decided, and the
        // pane shows Standard's switches (with Desktop apps) to check.
        let on = |p: &seatkeeper_domain::catalog::Product,
                  off: Option<seatkeeper_domain::PlanId>| {
            p.plans
                .iter()
                .filter(|x| Some(**x) != off)
                .map(|x| format!("&plan_on={x}"))
                .collect::<String>()
        };
        let body = format!(
            "verdict=approve%3A{uid}&sku={}&plans_shown=1&plans_for={}{}&csrf={csrf}",
            standard.sku_id,
            basic.sku_id,
            on(&basic, None)
        );
        let resp = client
            .post(format!("{}/licenses/requests/{id}/decision", srv.url))
            .header("cookie", &admin)
            .header("content-type", FORM)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let html = resp.text().await.unwrap();
        assert!(
            html.contains("check which of its apps and services"),
            "{html}"
        );
        assert!(
            html.contains(&format!("name=\"plans_for\" value=\"{}\"", standard.sku_id))
                && html.contains(&format!("value=\"{desktop}\"")),
            "{html}"
        );
        assert_eq!(status_of(&srv, &id).await, "Pending");
        // Standard's own switches, Desktop apps off: approved with it off.
        let body = format!(
            "verdict=approve%3A{uid}&sku={}&plans_shown=1&plans_for={}{}&csrf={csrf}",
            standard.sku_id,
            standard.sku_id,
            on(&standard, Some(desktop))
        );
        let resp = client
            .post(format!("{}/licenses/requests/{id}/decision", srv.url))
            .header("cookie", &admin)
            .header("content-type", FORM)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let (_, u) = srv.get("/v1.0/users/switches@contoso.test").await;
        let lic = u["assignedLicenses"]
            .as_array()
            .and_then(|a| a.iter().find(|l| l["skuId"] == standard.sku_id.to_string()))
            .cloned()
            .unwrap_or_else(|| panic!("{u}"));
        assert_eq!(lic["disabledPlans"], json!([desktop.to_string()]), "{u}");
    }
);
