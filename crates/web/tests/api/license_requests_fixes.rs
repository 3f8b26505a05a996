//! License requests after the last review, over HTTP on SQLite and PostgreSQL: approval
//! through a group runs the assignment checks and takes seats in the decision itself.

use crate::common::*;
use crate::license_requests::*;
use crate::rest_helpers::*;
use reqwest::StatusCode;
use seatkeeper_domain::roles::Role;
use serde_json::json;

async fn members(srv: &Srv, group: &str) -> usize {
    let got = srv.get(&format!("/v1.0/groups/{group}/members")).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    got.1["value"].as_array().expect("value").len()
}

async fn carry(srv: &Srv, group: &str, sku: &str) {
    let got = srv
        .post(
            &format!("{API}/groups/{group}/licenses"),
            json!({"addLicenses": [{"skuId": sku}]}),
        )
        .await;
    assert_eq!(got.0, StatusCode::ACCEPTED, "{}", got.1);
    jobs_done(srv).await;
}

backends_smtp!(
    approval_through_a_group_refuses_a_user_the_group_cannot_license,
    |srv, sink| async move {
        set_policy(&srv, "MAIL_PLAN1", "Disabled").await;
        srv.buy("MAIL_PLAN2", 2).await;
        srv.buy("MAIL_PLAN1", 5).await;
        let ann = srv.token_with_roles("ann@contoso.test", &[]).await;
        srv.user("bob@contoso.test", Some("US")).await;
        // Bob holds Mail (Plan 2), which cannot be held with Mail (Plan 1).
        let got = assign(&srv, "MAIL_PLAN2", &["bob@contoso.test".into()], &[]).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = submit(
            &srv,
            &ann,
            json!({"skuId": "MAIL_PLAN1", "otherUserIds": ["bob@contoso.test"]}),
        )
        .await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = got.1["id"].as_str().expect("id").to_string();
        let mail = group(&srv, "Mail users").await;
        carry(&srv, &mail, "MAIL_PLAN1").await;
        let before = license_row(&srv, "MAIL_PLAN1").await.expect("row");

        let got = decide(
            &srv,
            &id,
            json!({"approve": ["ann@contoso.test", "bob@contoso.test"], "assignVia": {"groupId": mail}}),
        )
        .await;
        assert_eq!(got.0, StatusCode::CONFLICT, "{}", got.1);
        assert_eq!(code(&got), "mutuallyExclusivePlans", "{}", got.1);
        let msg = got.1["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("bob@contoso.test"), "{msg}");
        assert!(!msg.contains("ann@contoso.test"), "{msg}");
        assert!(
            msg.contains("A service plan conflicts with one the user already has"),
            "{msg}"
        );
        // Nothing changed: still pending, nobody joined, no seat taken, no mail.
        assert_eq!(srv.get(&format!("{REQ}/{id}")).await.1["status"], "Pending");
        assert_eq!(members(&srv, &mail).await, 0);
        assert_eq!(license_row(&srv, "MAIL_PLAN1").await.expect("row"), before);
        assert_eq!(held(&srv, "ann@contoso.test").await, Vec::<String>::new());
        assert_eq!(held(&srv, "bob@contoso.test").await, vec!["MAIL_PLAN2"]);
        run_jobs(&srv).await;
        assert!(sink.to("ann@contoso.test").is_empty());
        assert!(sink.to("bob@contoso.test").is_empty());

        // Denying Bob, Ann is approved and licensed at once.
        let got = decide(
            &srv,
            &id,
            json!({"approve": ["ann@contoso.test"], "deny": ["bob@contoso.test"], "assignVia": {"groupId": mail}}),
        )
        .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(held(&srv, "ann@contoso.test").await, vec!["MAIL_PLAN1"]);
        assert_eq!(members(&srv, &mail).await, 1);
    }
);

backends!(
    two_approvals_through_a_group_for_the_last_seat_one_wins,
    |srv| async move {
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        srv.buy("SUITE_BASIC", 1).await;
        let user_admin = srv
            .token_with_roles("ua@contoso.test", &[Role::UserAdmin])
            .await;
        let sales = group(&srv, "Sales").await;
        carry(&srv, &sales, "SUITE_BASIC").await;
        for round in 0..3 {
            let a_upn = format!("a{round}@contoso.test");
            let b_upn = format!("b{round}@contoso.test");
            let a = srv.token_with_roles(&a_upn, &[]).await;
            let b = srv.token_with_roles(&b_upn, &[]).await;
            let ra = request_for(&srv, &a, &[], "").await;
            let rb = request_for(&srv, &b, &[], "").await;
            let (pa, pb) = (
                format!("{REQ}/{ra}/decision"),
                format!("{REQ}/{rb}/decision"),
            );
            let one = srv.post(
                &pa,
                json!({"approve": [a_upn], "assignVia": {"groupId": sales}}),
            );
            let two = srv.call_as(
                &user_admin,
                "POST",
                &pb,
                Some(json!({"approve": [b_upn], "assignVia": {"groupId": sales}})),
            );
            let (one, two) = tokio::join!(one, two);
            let statuses = [one.0, two.0];
            if round == 0 {
                assert!(statuses.contains(&StatusCode::OK), "{one:?} {two:?}");
                assert!(statuses.contains(&StatusCode::CONFLICT), "{one:?} {two:?}");
                let loser = if one.0 == StatusCode::CONFLICT {
                    &one
                } else {
                    &two
                };
                assert_eq!(code(loser), "notEnoughLicenses", "{}", loser.1);
            } else {
                // No seat left: both refused.
                assert_eq!(statuses, [StatusCode::CONFLICT; 2], "{one:?} {two:?}");
            }
            let row = license_row(&srv, "SUITE_BASIC").await.expect("row");
            assert_eq!(row["assigned"], 1, "{row}");
            assert_eq!(members(&srv, &sales).await, 1);
            let mut statuses = Vec::new();
            for id in [&ra, &rb] {
                let got = srv.get(&format!("{REQ}/{id}")).await;
                statuses.push(got.1["status"].as_str().unwrap_or_default().to_string());
            }
            statuses.sort();
            let expected = if round == 0 {
                vec!["Completed", "Pending"]
            } else {
                vec!["Pending", "Pending"]
            };
            assert_eq!(statuses, expected);
        }
        let got = srv.get(&format!("/v1.0/groups/{sales}")).await;
        assert_eq!(got.1["hasMembersWithLicenseErrors"], false, "{}", got.1);
    }
);

backends!(
    a_reader_deciding_with_a_bad_body_is_refused_for_the_role_first,
    |srv| async move {
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        let asker = srv.token_with_roles("asker@contoso.test", &[]).await;
        let id = request_for(&srv, &asker, &[], "").await;
        let path = format!("{REQ}/{id}/decision");
        for role in [Role::GlobalReader, Role::BillingAdmin] {
            let t = srv
                .token_with_roles(
                    &format!("{}@contoso.test", role.as_str().to_lowercase()),
                    &[role],
                )
                .await;
            for body in [json!({"approve": 5}), json!({"nonsense": true})] {
                let got = srv.call_as(&t, "POST", &path, Some(body)).await;
                assert_eq!(got.0, StatusCode::FORBIDDEN, "{role:?} {}", got.1);
            }
        }
        // An admin's bad body is still a 400.
        let got = decide(&srv, &id, json!({"approve": 5})).await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
    }
);

backends!(
    null_lists_are_the_same_as_none_in_requests_and_decisions,
    |srv| async move {
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        srv.buy("SUITE_BASIC", 1).await;
        let asker = srv.token_with_roles("asker@contoso.test", &[]).await;
        let got = submit(
            &srv,
            &asker,
            json!({"skuId": "SUITE_BASIC", "otherUserIds": null, "note": null}),
        )
        .await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = got.1["id"].as_str().expect("id").to_string();
        let got = decide(
            &srv,
            &id,
            json!({"approve": null, "deny": ["asker@contoso.test"], "disabledPlans": null}),
        )
        .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["outcome"], "Denied", "{}", got.1);
    }
);

backends!(
    a_product_held_or_buyable_is_refused_before_the_organizations_process,
    |srv| async move {
        srv.buy("SUITE_BASIC", 2).await;
        let asker = srv.token_with_roles("asker@contoso.test", &[]).await;
        let got = srv
            .put(
                SETTINGS,
                json!({"useOrganizationProcess": true, "message": "Use the IT portal."}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        // A product they may buy: buy it, whatever the process.
        let got = submit(&srv, &asker, json!({"skuId": "SUITE_BASIC"})).await;
        assert_eq!(code(&got), "PurchaseAllowed", "{}", got.1);
        // A product they hold already.
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        let got = assign(&srv, "SUITE_BASIC", &["asker@contoso.test".into()], &[]).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let name = srv
            .app
            .catalog()
            .find_product("SUITE_BASIC")
            .unwrap()
            .name
            .clone();
        let got = submit(&srv, &asker, json!({"skuId": "SUITE_BASIC"})).await;
        assert_error(
            &got,
            StatusCode::CONFLICT,
            &format!("You already have {name}."),
        );
        assert_eq!(code(&got), "AlreadyHeld");
        // Otherwise the organization's process.
        let got = submit(&srv, &asker, json!({"skuId": "SUITE_STANDARD"})).await;
        assert_eq!(code(&got), "PurchaseAllowed", "{}", got.1);
        set_policy(&srv, "SUITE_STANDARD", "Disabled").await;
        let got = submit(&srv, &asker, json!({"skuId": "SUITE_STANDARD"})).await;
        assert_eq!(code(&got), "OrganizationRequestProcess", "{}", got.1);
        let got = srv
            .put(SETTINGS, json!({"useOrganizationProcess": false}))
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = submit(&srv, &asker, json!({"skuId": "SUITE_BASIC"})).await;
        assert_eq!(code(&got), "AlreadyHeld", "{}", got.1);
    }
);
