//! License requests (REQ1–REQ6) over HTTP, on SQLite and PostgreSQL: submitting under the
//! purchase policy, the organization's own process, listing and opening, deciding directly and
//! through a group (mails checked at a real SMTP listener), sharing with signed links followed
//! as a recipient would, concurrency, and the purge after the retention.

use crate::common::*;
use crate::rest_helpers::*;
use chrono::Duration;
use reqwest::StatusCode;
use seatkeeper_domain::roles::Role;
use serde_json::{Value, json};

pub const REQ: &str = "/api/v1/license-requests";
pub const MINE: &str = "/api/v1/me/license-requests";
pub const SETTINGS: &str = "/api/v1/settings/license-requests";

pub async fn submit(srv: &Srv, token: &str, body: Value) -> (StatusCode, Value) {
    srv.call_as(token, "POST", MINE, Some(body)).await
}

/// A Member blocked from buying SUITE_BASIC requests it for themselves and `others`; returns
/// the request's id.
pub async fn request_for(srv: &Srv, token: &str, others: &[&str], note: &str) -> String {
    let got = submit(
        srv,
        token,
        json!({"skuId": "SUITE_BASIC", "otherUserIds": others, "note": note}),
    )
    .await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    got.1["id"].as_str().expect("id").to_string()
}

pub async fn decide(srv: &Srv, id: &str, body: Value) -> (StatusCode, Value) {
    srv.post(&format!("{REQ}/{id}/decision"), body).await
}

pub async fn group(srv: &Srv, name: &str) -> String {
    let (st, g) = srv
        .post(
            "/v1.0/groups",
            json!({"displayName": name, "mailEnabled": false, "mailNickname": name, "securityEnabled": true}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    g["id"].as_str().expect("id").to_string()
}

/// Waits until the license jobs have nothing left to do.
pub async fn jobs_done(srv: &Srv) {
    for _ in 0..400 {
        let got = srv.get(&format!("{API}/jobs")).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let open = got.1["value"]
            .as_array()
            .expect("value")
            .iter()
            .any(|j| j["state"] != "Completed" && j["state"] != "Failed");
        if !open {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("license jobs did not finish in 10 s");
}

/// Links in a received mail: (approve, deny), as paths on the server.
fn links(m: &Received, srv: &Srv) -> (String, String) {
    let find = |label: &str| {
        let line = m
            .data
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no '{label}' line in {}", m.data));
        line[label.len()..]
            .trim()
            .strip_prefix(&srv.url)
            .unwrap_or_else(|| panic!("link {line} is not on {}", srv.url))
            .to_string()
    };
    (find("Recommend approving:"), find("Recommend denying:"))
}

pub async fn page(srv: &Srv, path: &str) -> (StatusCode, String) {
    let r = reqwest::get(format!("{}{path}", srv.url))
        .await
        .expect("get");
    let st = r.status();
    (st, r.text().await.expect("text"))
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn post_form(srv: &Srv, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let path = path.split('?').next().unwrap_or(path);
    let r = reqwest::Client::new()
        .post(format!("{}{path}", srv.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form.iter()
                .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                .collect::<Vec<_>>()
                .join("&"),
        )
        .send()
        .await
        .expect("post");
    let st = r.status();
    (st, r.text().await.expect("text"))
}

backends!(
    a_member_blocked_by_policy_requests_a_license_for_themselves_and_colleagues,
    |srv| async move {
        let member = srv.token_with_roles("asker@contoso.test", &[]).await;
        srv.user("colleague@contoso.test", Some("US")).await;
        let body = json!({"skuId": "SUITE_BASIC", "otherUserIds": ["colleague@contoso.test"], "note": "For the Q3 project"});

        // Allowed to buy: asked to buy instead.
        let got = submit(&srv, &member, body.clone()).await;
        assert_error(&got, StatusCode::CONFLICT, "buy it under Buy a product");
        assert_eq!(code(&got), "PurchaseAllowed");

        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        // Colleagues must be Members of the organization: each bad one named.
        let guest = srv
            .user("visitor_fabrikam.test@contoso.test", Some("US"))
            .await;
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
        let got = submit(
            &srv,
            &member,
            json!({"skuId": "SUITE_BASIC", "otherUserIds": ["nobody@contoso.test", guest.to_string()]}),
        )
        .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "nobody@contoso.test (not a user",
        );
        assert!(
            got.1["error"]["message"]
                .as_str()
                .unwrap()
                .contains("a Guest"),
            "{}",
            got.1
        );
        assert_eq!(code(&got), "invalidUsers");

        let got = submit(&srv, &member, body.clone()).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = got.1["id"].as_str().expect("id").to_string();
        assert_eq!(got.1["status"], "Pending");
        assert_eq!(got.1["userCount"], 2);
        assert_eq!(got.1["note"], "For the Q3 project");
        assert_eq!(got.1["users"][0]["userPrincipalName"], "asker@contoso.test");
        assert_eq!(
            got.1["users"][1]["userPrincipalName"],
            "colleague@contoso.test"
        );

        // One open request per requester and product.
        let got = submit(&srv, &member, body.clone()).await;
        assert_error(&got, StatusCode::CONFLICT, &id);
        assert_eq!(code(&got), "RequestAlreadyOpen");
        assert_eq!(got.1["error"]["details"][0]["requestId"], id.as_str());

        // Only trials without a payment method: a paid purchase is blocked, so requests work.
        set_policy(&srv, "MAIL_PLAN1", "OnlyTrialsWithoutPaymentMethod").await;
        let got = submit(&srv, &member, json!({"skuId": "MAIL_PLAN1"})).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);

        // The requester sees their own, newest first.
        let got = srv.call_as(&member, "GET", MINE, None).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["count"], 2);
        assert_eq!(got.1["value"][0]["skuPartNumber"], "MAIL_PLAN1");
        assert_eq!(got.1["value"][1]["id"], id.as_str());
        // ...and can open it, but cannot list the organization's.
        let got = srv
            .call_as(&member, "GET", &format!("{REQ}/{id}"), None)
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = srv.call_as(&member, "GET", REQ, None).await;
        assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
        // Another Member cannot open it.
        let other = srv.token_with_roles("nosy@contoso.test", &[]).await;
        let got = srv
            .call_as(&other, "GET", &format!("{REQ}/{id}"), None)
            .await;
        assert_eq!(got.0, StatusCode::NOT_FOUND, "{}", got.1);

        // Guests are refused.
        let guest_token = srv
            .app
            .create_token(&srv.operator(), guest, "t", None)
            .await
            .expect("token")
            .token;
        let got = submit(&srv, &guest_token, json!({"skuId": "SUITE_BASIC"})).await;
        assert_error(&got, StatusCode::FORBIDDEN, "Guest users cannot request");

        // The audit log has the submission.
        let got = srv.get(&format!("{API}/audit?action=request.submit")).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(
            got.1["value"].as_array().expect("value").len(),
            2,
            "{}",
            got.1
        );
    }
);

backends!(
    the_organizations_own_process_shows_its_message_and_keeps_earlier_requests,
    |srv| async move {
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        let member = srv.token_with_roles("m@contoso.test", &[]).await;
        let earlier = request_for(&srv, &member, &[], "before the process").await;

        let got = srv.get(SETTINGS).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(
            got.1,
            json!({"useOrganizationProcess": false, "message": null, "documentationUrl": null, "linkExpiryDays": 14, "retentionMonths": 12})
        );

        // The message is required to turn it on; the link must be http(s).
        let got = srv
            .put(SETTINGS, json!({"useOrganizationProcess": true}))
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "message is required");
        let got = srv
            .put(SETTINGS, json!({"useOrganizationProcess": true, "message": "Use the IT portal.", "documentationUrl": "ftp://x"}))
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "not an http(s) address");
        // Members and Billing admins cannot change it; a Global reader reads it.
        let billing = srv
            .token_with_roles("billing@contoso.test", &[Role::BillingAdmin])
            .await;
        let got = srv
            .call_as(
                &billing,
                "PUT",
                SETTINGS,
                Some(json!({"useOrganizationProcess": false})),
            )
            .await;
        assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
        let reader = srv
            .token_with_roles("reader@contoso.test", &[Role::GlobalReader])
            .await;
        let got = srv.call_as(&reader, "GET", SETTINGS, None).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = srv
            .call_as(
                &reader,
                "PUT",
                SETTINGS,
                Some(json!({"useOrganizationProcess": false})),
            )
            .await;
        assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);

        // A License admin turns it on.
        let license_admin = srv
            .token_with_roles("la@contoso.test", &[Role::LicenseAdmin])
            .await;
        let got = srv
            .call_as(
                &license_admin,
                "PUT",
                SETTINGS,
                Some(json!({"useOrganizationProcess": true, "message": "Use the IT portal.", "documentationUrl": "https://intranet.contoso.test/licenses"})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["useOrganizationProcess"], true);

        let other = srv.token_with_roles("m2@contoso.test", &[]).await;
        let got = submit(&srv, &other, json!({"skuId": "SUITE_BASIC"})).await;
        assert_error(&got, StatusCode::CONFLICT, "Use the IT portal.");
        assert_eq!(code(&got), "OrganizationRequestProcess");
        assert_eq!(
            got.1["error"]["details"][0]["message"],
            "Use the IT portal."
        );
        assert_eq!(
            got.1["error"]["details"][0]["documentationUrl"],
            "https://intranet.contoso.test/licenses"
        );
        // No request was created; the earlier one is still listed and can be decided.
        let got = srv.get(REQ).await;
        assert_eq!(got.1["count"], 1, "{}", got.1);
        let got = decide(&srv, &earlier, json!({"deny": ["m@contoso.test"]})).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["status"], "Completed");
        assert_eq!(got.1["outcome"], "Denied");

        // Turned off: requests work again.
        let got = srv
            .put(SETTINGS, json!({"useOrganizationProcess": false}))
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = submit(&srv, &other, json!({"skuId": "SUITE_BASIC"})).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        // The change is audited.
        let got = srv
            .get(&format!("{API}/audit?action=request.settings"))
            .await;
        assert_eq!(
            got.1["value"].as_array().expect("value").len(),
            2,
            "{}",
            got.1
        );
    }
);

backends!(
    admins_list_filter_page_and_open_requests,
    |srv| async move {
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        srv.buy("MAIL_PLAN1", 5).await;
        let mut ids = Vec::new();
        for i in 0..3 {
            let t = srv
                .token_with_roles(&format!("r{i}@contoso.test"), &[])
                .await;
            ids.push(request_for(&srv, &t, &[], "").await);
            set_clock(&srv, now(&srv).await + Duration::hours(1)).await;
        }
        // r0 holds a mail license: the pane shows it.
        let got = assign(&srv, "MAIL_PLAN1", &["r0@contoso.test".into()], &[]).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = decide(
            &srv,
            &ids[0],
            json!({"deny": ["r0@contoso.test"], "message": "Not this year."}),
        )
        .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);

        let reader = srv
            .token_with_roles("reader@contoso.test", &[Role::GlobalReader])
            .await;
        let got = srv
            .call_as(&reader, "GET", &format!("{REQ}?status=pending&top=1"), None)
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["count"], 2);
        assert_eq!(got.1["value"][0]["id"], ids[2].as_str(), "newest first");
        assert_eq!(got.1["value"][0]["requester"], "r2@contoso.test");
        assert_eq!(
            got.1["value"][0]["productName"],
            srv.app
                .catalog()
                .find_product("SUITE_BASIC")
                .unwrap()
                .name
                .as_str()
        );
        let next = got.1["nextLink"].as_str().expect("nextLink").to_string();
        let got = srv.call_as(&reader, "GET", &next, None).await;
        assert_eq!(got.1["value"][0]["id"], ids[1].as_str());
        assert!(got.1.get("nextLink").is_none(), "{}", got.1);
        let got = srv
            .call_as(&reader, "GET", &format!("{REQ}?status=completed"), None)
            .await;
        assert_eq!(got.1["count"], 1);
        assert_eq!(got.1["value"][0]["outcome"], "Denied");
        let got = srv
            .call_as(&reader, "GET", &format!("{REQ}?status=open"), None)
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "pending, completed");

        let got = srv
            .call_as(&reader, "GET", &format!("{REQ}/{}", ids[0]), None)
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(
            got.1["users"][0]["licenses"][0]["skuPartNumber"],
            "MAIL_PLAN1"
        );
        assert_eq!(got.1["users"][0]["decision"], "Deny");
        assert_eq!(got.1["decision"]["outcome"], "Denied");
        assert_eq!(got.1["decision"]["message"], "Not this year.");
        assert_eq!(got.1["decision"]["decidedBy"], "admin@contoso.test");

        // A Global reader cannot decide or share; unknown ids are 404s.
        let got = srv
            .call_as(
                &reader,
                "POST",
                &format!("{REQ}/{}/decision", ids[1]),
                Some(json!({"deny": ["r1@contoso.test"]})),
            )
            .await;
        assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
        let got = srv
            .call_as(
                &reader,
                "POST",
                &format!("{REQ}/{}/share", ids[1]),
                Some(json!({"recipients": ["admin@contoso.test"]})),
            )
            .await;
        assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
        let got = srv.get(&format!("{REQ}/{}", uuid::Uuid::new_v4())).await;
        assert_eq!(got.0, StatusCode::NOT_FOUND, "{}", got.1);
        let got = srv.get(&format!("{REQ}/not-an-id")).await;
        assert_eq!(got.0, StatusCode::NOT_FOUND, "{}", got.1);
    }
);

backends_smtp!(
    deciding_directly_is_all_or_nothing_and_mails_everyone_on_the_request,
    |srv, sink| async move {
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        let asker = srv.token_with_roles("ann@contoso.test", &[]).await;
        srv.user("bob@contoso.test", Some("US")).await;
        srv.user("cid@contoso.test", Some("US")).await;
        let id = request_for(
            &srv,
            &asker,
            &["bob@contoso.test", "cid@contoso.test"],
            "team",
        )
        .await;

        // Every user in exactly one list.
        let got = decide(
            &srv,
            &id,
            json!({"approve": ["ann@contoso.test"], "deny": ["bob@contoso.test"]}),
        )
        .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "cid@contoso.test is in neither list",
        );
        let got = decide(&srv, &id, json!({"approve": ["ann@contoso.test", "bob@contoso.test", "cid@contoso.test"], "deny": ["bob@contoso.test"]})).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "bob@contoso.test is in both");
        let got = decide(&srv, &id, json!({"approve": ["ann@contoso.test", "bob@contoso.test", "zed@contoso.test"], "deny": ["cid@contoso.test"]})).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "zed@contoso.test");
        let approve_two = json!({"approve": ["ann@contoso.test", "bob@contoso.test"], "deny": ["cid@contoso.test"], "message": "Welcome aboard."});

        // Nothing held that serves it.
        let got = decide(&srv, &id, approve_two.clone()).await;
        assert_error(&got, StatusCode::CONFLICT, "holds no licenses");
        assert_eq!(code(&got), "noProductToAssign");

        // Two products serve it: the admin chooses.
        srv.buy("SUITE_BASIC", 1).await;
        srv.buy("SUITE_STANDARD", 5).await;
        // The pane's choices: both products with their free licenses.
        let got = srv.get(&format!("{REQ}/{id}/decision-options")).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let offered: Vec<(String, i64)> = got.1["products"]
            .as_array()
            .expect("products")
            .iter()
            .map(|p| {
                (
                    p["skuPartNumber"].as_str().unwrap().to_string(),
                    p["available"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            offered,
            vec![
                ("SUITE_BASIC".to_string(), 1),
                ("SUITE_STANDARD".to_string(), 5)
            ]
        );
        let got = decide(&srv, &id, approve_two.clone()).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "SUITE_STANDARD");
        assert_eq!(code(&got), "chooseProduct");
        let got = decide(&srv, &id, json!({"approve": ["ann@contoso.test", "bob@contoso.test"], "deny": ["cid@contoso.test"], "skuId": "MAIL_PLAN1"})).await;
        assert_eq!(code(&got), "productDoesNotServe", "{}", got.1);

        // Too few free licenses: refused as a whole, saying how many.
        let mut two_basic = approve_two.clone();
        two_basic["skuId"] = json!("SUITE_BASIC");
        let got = decide(&srv, &id, two_basic).await;
        assert_error(&got, StatusCode::CONFLICT, "2");
        assert_eq!(code(&got), "notEnoughLicenses");
        assert_eq!(held(&srv, "ann@contoso.test").await, Vec::<String>::new());
        assert_eq!(srv.get(&format!("{REQ}/{id}")).await.1["status"], "Pending");

        let mut standard = approve_two.clone();
        standard["skuId"] = json!("SUITE_STANDARD");
        standard["disabledPlans"] = json!(["WHITEBOARD"]);
        // An assignment check fails for one user (Bob's Mail (Plan 2) excludes Plan 1):
        // nothing changes, and the error names him and why.
        srv.buy("MAIL_PLAN2", 1).await;
        let got = assign(&srv, "MAIL_PLAN2", &["bob@contoso.test".into()], &[]).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = decide(&srv, &id, standard.clone()).await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
        let body = got.1.to_string();
        assert!(
            body.contains("bob@contoso.test") && body.contains("MAIL_PLAN2"),
            "{body}"
        );
        assert_eq!(held(&srv, "ann@contoso.test").await, Vec::<String>::new());
        assert_eq!(srv.get(&format!("{REQ}/{id}")).await.1["status"], "Pending");
        let got = srv
            .post(
                &format!("{API}/licenses/MAIL_PLAN2/unassign"),
                json!({"users": ["bob@contoso.test"]}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);

        let got = decide(&srv, &id, standard.clone()).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["status"], "Completed");
        assert_eq!(got.1["outcome"], "PartlyApproved");
        assert_eq!(got.1["decision"]["skuPartNumber"], "SUITE_STANDARD");
        assert_eq!(held(&srv, "ann@contoso.test").await, vec!["SUITE_STANDARD"]);
        assert_eq!(held(&srv, "bob@contoso.test").await, vec!["SUITE_STANDARD"]);
        assert_eq!(held(&srv, "cid@contoso.test").await, Vec::<String>::new());
        let got = srv
            .get(&format!("{API}/users/ann@contoso.test/licenses"))
            .await;
        let off: Vec<&str> = got.1["licenses"][0]["disabledPlans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["servicePlanName"].as_str().unwrap_or_default())
            .collect();
        assert!(off.contains(&"WHITEBOARD"), "{}", got.1);

        // Deciding twice is a 409.
        let got = decide(&srv, &id, standard).await;
        assert_error(&got, StatusCode::CONFLICT, "already decided");
        assert_eq!(code(&got), "RequestAlreadyDecided");

        // The mails, at the SMTP server.
        run_jobs(&srv).await;
        let ann = sink.to("ann@contoso.test");
        assert_eq!(ann.len(), 1, "{ann:?}");
        assert!(
            ann[0].subject().contains("was approved"),
            "{}",
            ann[0].subject()
        );
        assert!(ann[0].data.contains("Welcome aboard."), "{}", ann[0].data);
        let bob = sink.to("bob@contoso.test");
        assert_eq!(bob.len(), 1);
        assert!(bob[0].subject().contains("was approved"));
        let cid = sink.to("cid@contoso.test");
        assert_eq!(cid.len(), 1);
        assert!(
            cid[0].subject().contains("was denied"),
            "{}",
            cid[0].subject()
        );
        assert!(cid[0].data.contains("Welcome aboard."));
        assert_eq!(sink.all().len(), 3);

        // Denied with no message: the default text.
        let dee = srv.token_with_roles("dee@contoso.test", &[]).await;
        let id2 = request_for(&srv, &dee, &[], "").await;
        let got = decide(&srv, &id2, json!({"deny": ["dee@contoso.test"]})).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        run_jobs(&srv).await;
        let dee_mail = sink.to("dee@contoso.test");
        assert_eq!(dee_mail.len(), 1);
        assert!(
            dee_mail[0]
                .data
                .contains("Ask your admin if you need to know why"),
            "{}",
            dee_mail[0].data
        );
    }
);

backends!(
    approval_through_a_group_needs_a_group_that_carries_the_product,
    |srv| async move {
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        srv.buy("SUITE_BASIC", 2).await;
        let asker = srv.token_with_roles("g1@contoso.test", &[]).await;
        srv.user("g2@contoso.test", Some("US")).await;
        srv.user("g3@contoso.test", Some("US")).await;
        let id = request_for(&srv, &asker, &["g2@contoso.test", "g3@contoso.test"], "").await;
        let empty = group(&srv, "Nothing").await;
        let got = decide(&srv, &id, json!({"approve": ["g1@contoso.test"], "deny": ["g2@contoso.test", "g3@contoso.test"], "assignVia": {"groupId": empty}})).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "carries no product");
        assert_eq!(code(&got), "groupCarriesNoProduct");

        let sales = group(&srv, "Sales").await;
        let got = srv
            .post(
                &format!("{API}/groups/{sales}/licenses"),
                json!({"addLicenses": [{"skuId": "SUITE_BASIC"}]}),
            )
            .await;
        assert_eq!(got.0, StatusCode::ACCEPTED, "{}", got.1);
        jobs_done(&srv).await;
        // Three approvals, two licenses: refused as a whole.
        let got = srv.get(&format!("{REQ}/{id}/decision-options")).await;
        assert_eq!(got.1["groups"][0]["displayName"], "Sales", "{}", got.1);
        assert_eq!(got.1["groups"].as_array().unwrap().len(), 1, "{}", got.1);
        let got = decide(&srv, &id, json!({"approve": ["g1@contoso.test", "g2@contoso.test", "g3@contoso.test"], "assignVia": {"groupId": sales}})).await;
        assert_error(&got, StatusCode::CONFLICT, "3");
        assert_eq!(code(&got), "notEnoughLicenses");
        let got = decide(&srv, &id, json!({"approve": ["g1@contoso.test", "g3@contoso.test"], "deny": ["g2@contoso.test"], "assignVia": {"groupId": sales}, "disabledPlans": ["CHAT"]})).await;
        assert_eq!(code(&got), "disabledPlansWithGroup", "{}", got.1);
        let got = decide(&srv, &id, json!({"approve": ["g1@contoso.test", "g3@contoso.test"], "deny": ["g2@contoso.test"], "assignVia": {"groupId": sales}})).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["decision"]["group"]["displayName"], "Sales");
        jobs_done(&srv).await;
        assert_eq!(held(&srv, "g1@contoso.test").await, vec!["SUITE_BASIC"]);
        assert_eq!(held(&srv, "g3@contoso.test").await, vec!["SUITE_BASIC"]);
        assert_eq!(held(&srv, "g2@contoso.test").await, Vec::<String>::new());
        let members = srv.get(&format!("/v1.0/groups/{sales}/members")).await;
        assert_eq!(
            members.1["value"].as_array().expect("value").len(),
            2,
            "{}",
            members.1
        );
    }
);

backends!(
    two_admins_deciding_at_once_exactly_one_wins,
    |srv| async move {
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        srv.buy("SUITE_BASIC", 10).await;
        let user_admin = srv
            .token_with_roles("ua@contoso.test", &[Role::UserAdmin])
            .await;
        let mut ids = Vec::new();
        for i in 0..4 {
            let t = srv
                .token_with_roles(&format!("c{i}@contoso.test"), &[])
                .await;
            ids.push((i, request_for(&srv, &t, &[], "").await));
        }
        for (i, id) in &ids {
            let upn = format!("c{i}@contoso.test");
            let path = format!("{REQ}/{id}/decision");
            let a = srv.post(&path, json!({"approve": [upn]}));
            let b = srv.call_as(
                &user_admin,
                "POST",
                &path,
                Some(json!({"deny": [upn], "message": "No."})),
            );
            let (a, b) = tokio::join!(a, b);
            let statuses = [a.0, b.0];
            assert_eq!(
                statuses.iter().filter(|s| **s == StatusCode::OK).count(),
                1,
                "{a:?} {b:?}"
            );
            assert!(statuses.contains(&StatusCode::CONFLICT), "{a:?} {b:?}");
            let loser = if a.0 == StatusCode::CONFLICT { &a } else { &b };
            assert_eq!(code(loser), "RequestAlreadyDecided");
            let winner_approved = a.0 == StatusCode::OK;
            let held_now = held(&srv, &upn).await;
            assert_eq!(held_now.is_empty(), !winner_approved, "{held_now:?}");
            let got = srv.get(&format!("{REQ}/{id}")).await;
            assert_eq!(
                got.1["outcome"],
                if winner_approved {
                    "Approved"
                } else {
                    "Denied"
                }
            );
        }
        // One decision per request in the audit log.
        let got = srv.get(&format!("{API}/audit?action=request.decide")).await;
        assert_eq!(
            got.1["value"].as_array().expect("value").len(),
            4,
            "{}",
            got.1
        );
    }
);

backends_smtp!(
    a_shared_request_is_recommended_once_through_a_signed_link,
    |srv, sink| async move {
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        let asker = srv.token_with_roles("sam@contoso.test", &[]).await;
        let id = request_for(&srv, &asker, &[], "Needed for the audit").await;
        srv.user("boss@contoso.test", Some("US")).await;
        srv.user("lead@contoso.test", Some("US")).await;
        let gone = srv.user("gone@contoso.test", Some("US")).await;

        // An address that is no user: nothing is sent.
        let got = srv
            .post(
                &format!("{REQ}/{id}/share"),
                json!({"recipients": ["boss@contoso.test", "stranger@elsewhere.test"]}),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "stranger@elsewhere.test");
        assert_eq!(code(&got), "unknownRecipients");
        run_jobs(&srv).await;
        assert!(sink.all().is_empty());

        let got = srv
            .post(
                &format!("{REQ}/{id}/share"),
                json!({"recipients": ["boss@contoso.test", "lead@contoso.test", "gone@contoso.test"], "subject": "Please look at Sam's request", "message": "You own this budget."}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["shares"].as_array().expect("shares").len(), 3);
        run_jobs(&srv).await;
        // A recipient deleted since: their link no longer works and records nothing.
        let (_, gone_deny) = links(&sink.to("gone@contoso.test")[0], &srv);
        let (st, _) = srv.delete(&format!("/v1.0/users/{gone}")).await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (st, html) = post_form(&srv, &gone_deny, &[("recommendation", "deny")]).await;
        assert_eq!(st, StatusCode::GONE, "{html}");
        assert!(html.contains("no longer works"), "{html}");
        let boss = sink.to("boss@contoso.test");
        assert_eq!(boss.len(), 1);
        assert_eq!(boss[0].subject(), "Please look at Sam's request");
        assert!(
            boss[0].data.contains("You own this budget."),
            "{}",
            boss[0].data
        );
        let (approve, deny) = links(&boss[0], &srv);

        // The page needs no sign-in and shows the request.
        let (st, html) = page(&srv, &approve).await;
        assert_eq!(st, StatusCode::OK, "{html}");
        assert!(html.contains("sam@contoso.test"), "{html}");
        assert!(html.contains("Needed for the audit"));
        assert!(html.contains("value=\"approve\" checked"), "{html}");
        let (_, html) = page(&srv, &deny).await;
        assert!(html.contains("value=\"deny\" checked"));

        // Tampered: another request id, another recipient, or a changed signature.
        let token = approve
            .trim_start_matches("/requests/recommend/")
            .split('?')
            .next()
            .unwrap()
            .to_string();
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[0] = uuid::Uuid::new_v4().simple().to_string();
        let forged = format!("/requests/recommend/{}", parts.join("."));
        let (st, html) = page(&srv, &forged).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert!(html.contains("This link is not valid"), "{html}");
        let (st, html) = post_form(&srv, &forged, &[("recommendation", "deny")]).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert!(html.contains("This link is not valid"));
        let mut sig = token.clone();
        let last = sig.pop().unwrap();
        sig.push(if last == '0' { '1' } else { '0' });
        let (st, _) = page(&srv, &format!("/requests/recommend/{sig}")).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        let (st, _) = page(&srv, "/requests/recommend/garbage").await;
        assert_eq!(st, StatusCode::BAD_REQUEST);

        // Valid: recorded once.
        let (st, html) = post_form(
            &srv,
            &approve,
            &[
                ("recommendation", "approve"),
                ("comment", "She needs it <b>now</b>"),
            ],
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{html}");
        assert!(html.contains("you recommended approving"), "{html}");
        // Reused: says so, changes nothing.
        let (st, html) = post_form(&srv, &deny, &[("recommendation", "deny")]).await;
        assert_eq!(st, StatusCode::GONE);
        assert!(html.contains("was used already"), "{html}");
        let (st, _) = page(&srv, &approve).await;
        assert_eq!(st, StatusCode::GONE);

        let got = srv.get(&format!("{REQ}/{id}")).await;
        let recs = got.1["recommendations"]
            .as_array()
            .expect("recommendations");
        assert_eq!(recs.len(), 1, "{}", got.1);
        assert_eq!(recs[0]["recipient"], "boss@contoso.test");
        assert_eq!(recs[0]["recommendation"], "Approve");
        assert_eq!(recs[0]["comment"], "She needs it <b>now</b>");
        assert!(recs[0]["recommendedDateTime"].is_string());

        // Expired: the lead's link after 15 days.
        let lead = sink.to("lead@contoso.test");
        let (_, lead_deny) = links(&lead[0], &srv);
        set_clock(&srv, now(&srv).await + Duration::days(15)).await;
        let (st, html) = page(&srv, &lead_deny).await;
        assert_eq!(st, StatusCode::GONE);
        assert!(html.contains("has expired"), "{html}");
        let (st, html) = post_form(&srv, &lead_deny, &[("recommendation", "deny")]).await;
        assert_eq!(st, StatusCode::GONE);
        assert!(html.contains("has expired"));
        let got = srv.get(&format!("{REQ}/{id}")).await;
        assert_eq!(got.1["recommendations"].as_array().unwrap().len(), 1);
        let got = srv
            .get(&format!("{API}/audit?action=request.recommend"))
            .await;
        assert_eq!(
            got.1["value"].as_array().expect("value").len(),
            1,
            "{}",
            got.1
        );
    }
);

backends_smtp!(
    a_request_lives_from_submission_to_purge,
    |srv, sink| async move {
        // Submitted with two colleagues.
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        srv.buy("SUITE_BASIC", 5).await;
        let asker = srv.token_with_roles("life1@contoso.test", &[]).await;
        srv.user("life2@contoso.test", Some("US")).await;
        srv.user("life3@contoso.test", Some("US")).await;
        let id = request_for(
            &srv,
            &asker,
            &["life2@contoso.test", "life3@contoso.test"],
            "Team of three",
        )
        .await;

        // Shared and recommended.
        srv.user("approver@contoso.test", Some("US")).await;
        srv.user("late@contoso.test", Some("US")).await;
        let got = srv
            .post(
                &format!("{REQ}/{id}/share"),
                json!({"recipients": ["approver@contoso.test", "late@contoso.test"]}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        run_jobs(&srv).await;
        let m = sink.to("approver@contoso.test");
        assert_eq!(m.len(), 1);
        let (approve, _) = links(&m[0], &srv);
        let (st, _) = post_form(
            &srv,
            &approve,
            &[("recommendation", "approve"), ("comment", "Two of them")],
        )
        .await;
        assert_eq!(st, StatusCode::OK);

        // Partly approved through a group; group processing licenses the approved.
        let gid = group(&srv, "Licensed team").await;
        let got = srv
            .post(
                &format!("{API}/groups/{gid}/licenses"),
                json!({"addLicenses": [{"skuId": "SUITE_BASIC"}]}),
            )
            .await;
        assert_eq!(got.0, StatusCode::ACCEPTED, "{}", got.1);
        jobs_done(&srv).await;
        let got = decide(
            &srv,
            &id,
            json!({"approve": ["life1@contoso.test", "life2@contoso.test"], "deny": ["life3@contoso.test"], "assignVia": {"groupId": gid}}),
        )
        .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["outcome"], "PartlyApproved");
        jobs_done(&srv).await;
        assert_eq!(held(&srv, "life1@contoso.test").await, vec!["SUITE_BASIC"]);
        assert_eq!(held(&srv, "life2@contoso.test").await, vec!["SUITE_BASIC"]);
        assert_eq!(held(&srv, "life3@contoso.test").await, Vec::<String>::new());
        // Decided: it cannot be shared again, and a link not used yet says so.
        let got = srv
            .post(
                &format!("{REQ}/{id}/share"),
                json!({"recipients": ["approver@contoso.test"]}),
            )
            .await;
        assert_error(&got, StatusCode::CONFLICT, "already decided");
        let (late_approve, _) = links(&sink.to("late@contoso.test")[0], &srv);
        let (st, html) = page(&srv, &late_approve).await;
        assert_eq!(st, StatusCode::GONE);
        assert!(html.contains("already decided"), "{html}");
        run_jobs(&srv).await;
        assert!(
            sink.to("life1@contoso.test")[0]
                .subject()
                .contains("approved")
        );
        assert!(
            sink.to("life3@contoso.test")[0]
                .subject()
                .contains("denied")
        );

        // Kept 12 months: still there after 11, purged after 12, the audit log keeps it.
        set_clock(&srv, now(&srv).await + Duration::days(335)).await;
        assert_eq!(run_jobs(&srv).await["requestsPurged"], 0);
        assert_eq!(srv.get(&format!("{REQ}/{id}")).await.0, StatusCode::OK);
        set_clock(&srv, now(&srv).await + Duration::days(31)).await;
        assert_eq!(run_jobs(&srv).await["requestsPurged"], 1);
        assert_eq!(
            srv.get(&format!("{REQ}/{id}")).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(srv.get(REQ).await.1["count"], 0);
        let got = srv.get(&format!("{API}/audit?targetId={id}")).await;
        let actions: Vec<&str> = got.1["value"]
            .as_array()
            .expect("value")
            .iter()
            .map(|e| e["action"].as_str().unwrap_or_default())
            .collect();
        for a in [
            "request.submit",
            "request.share",
            "request.recommend",
            "request.decide",
            "request.purge",
        ] {
            assert!(actions.contains(&a), "{a} missing from {actions:?}");
        }
        let purge = got.1["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "request.purge")
            .unwrap();
        assert!(
            purge["summary"]
                .as_str()
                .unwrap()
                .contains("PartlyApproved"),
            "{purge}"
        );
        // The licenses stay.
        assert_eq!(held(&srv, "life1@contoso.test").await, vec!["SUITE_BASIC"]);
    }
);

backends!(
    the_request_form_finds_member_colleagues_and_shows_the_process,
    |srv| async move {
        let me = srv.user("former@contoso.test", Some("US")).await;
        srv.user("fred@contoso.test", Some("US")).await;
        srv.user("frieda@contoso.test", Some("US")).await;
        let guest = srv
            .user("fguest_fabrikam.test@contoso.test", Some("US"))
            .await;
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
        let actor = seatkeeper_app::Actor {
            tenant_id: srv.tenant,
            user_id: Some(me),
            name: "former@contoso.test".into(),
            roles: vec![],
            partner: None,
        };
        let found: Vec<String> = srv
            .app
            .find_colleagues(&actor, "fr", 10)
            .await
            .expect("find")
            .into_iter()
            .map(|u| u.upn)
            .collect();
        assert_eq!(found, vec!["fred@contoso.test", "frieda@contoso.test"]);
        let p = srv.app.request_process(&actor).await.expect("process");
        assert!(!p.use_organization_process);
        let got = srv
            .put(SETTINGS, json!({"useOrganizationProcess": true, "message": "Ask IT.", "documentationUrl": "https://it.contoso.test"}))
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let p = srv.app.request_process(&actor).await.expect("process");
        assert!(p.use_organization_process);
        assert_eq!(p.message.as_deref(), Some("Ask IT."));
        assert_eq!(
            p.documentation_url.as_deref(),
            Some("https://it.contoso.test")
        );
    }
);
