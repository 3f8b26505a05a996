//! License requests after review, over HTTP on SQLite and PostgreSQL: approving users who hold
//! the product already, blank and too many names, long lists in errors, users deleted since
//! the request, and suggestions of products the organization holds.

use crate::common::*;
use crate::license_requests::*;
use crate::rest_helpers::*;
use reqwest::StatusCode;
use serde_json::json;

backends_smtp!(
    approving_users_who_hold_the_product_already_says_so_and_takes_no_seat,
    |srv, sink| async move {
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        let ana = srv.token_with_roles("ana@contoso.test", &[]).await;
        srv.user("bob@contoso.test", Some("US")).await;
        srv.user("cid@contoso.test", Some("US")).await;
        let id = request_for(&srv, &ana, &["bob@contoso.test", "cid@contoso.test"], "").await;
        srv.buy("SUITE_BASIC", 4).await;
        // Ana and Bob got it some other way meanwhile.
        let got = assign(
            &srv,
            "SUITE_BASIC",
            &["ana@contoso.test".into(), "bob@contoso.test".into()],
            &[],
        )
        .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let before = license_row(&srv, "SUITE_BASIC").await.expect("row");

        let got = decide(
            &srv,
            &id,
            json!({"approve": ["ana@contoso.test", "bob@contoso.test", "cid@contoso.test"]}),
        )
        .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["outcome"], "Approved");
        let notices: Vec<&str> = got.1["notices"]
            .as_array()
            .expect("notices")
            .iter()
            .map(|n| n.as_str().unwrap_or_default())
            .collect();
        let name = srv
            .app
            .catalog()
            .find_product("SUITE_BASIC")
            .unwrap()
            .name
            .clone();
        assert_eq!(
            notices,
            vec![
                format!("ana already has {name}; nothing was assigned to them."),
                format!("bob already has {name}; nothing was assigned to them."),
            ],
            "{}",
            got.1
        );
        // Only Cid took a seat.
        let after = license_row(&srv, "SUITE_BASIC").await.expect("row");
        assert_eq!(
            after["assigned"].as_i64().unwrap(),
            before["assigned"].as_i64().unwrap() + 1,
            "{before} {after}"
        );
        assert_eq!(held(&srv, "cid@contoso.test").await, vec!["SUITE_BASIC"]);
        assert_eq!(held(&srv, "ana@contoso.test").await, vec!["SUITE_BASIC"]);

        // The mails do not claim a new license for those who had one.
        run_jobs(&srv).await;
        let ana_mail = sink.to("ana@contoso.test");
        assert_eq!(ana_mail.len(), 1, "{ana_mail:?}");
        assert!(ana_mail[0].subject().contains("was approved"));
        assert!(
            ana_mail[0].data.contains("You already have a")
                && ana_mail[0].data.contains("nothing new was assigned"),
            "{}",
            ana_mail[0].data
        );
        assert!(
            !ana_mail[0].data.contains("You now have"),
            "{}",
            ana_mail[0].data
        );
        let cid_mail = sink.to("cid@contoso.test");
        assert!(
            cid_mail[0].data.contains("You now have"),
            "{}",
            cid_mail[0].data
        );

        // Everyone approved holds it already: nothing is assigned, and the answer says so.
        let dee = srv.token_with_roles("dee@contoso.test", &[]).await;
        let id2 = request_for(&srv, &dee, &[], "").await;
        let got = assign(&srv, "SUITE_BASIC", &["dee@contoso.test".into()], &[]).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = decide(&srv, &id2, json!({"approve": ["dee@contoso.test"]})).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(
            got.1["notices"][0],
            format!("dee already has {name}; nothing was assigned to them.")
        );
    }
);

backends!(
    blank_names_in_a_request_or_a_share_are_refused_by_position,
    |srv| async move {
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        let asker = srv.token_with_roles("asker@contoso.test", &[]).await;
        srv.user("bob@contoso.test", Some("US")).await;
        let got = submit(
            &srv,
            &asker,
            json!({"skuId": "SUITE_BASIC", "otherUserIds": ["bob@contoso.test", "  ", ""]}),
        )
        .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "otherUserIds[1] is empty");
        assert_eq!(code(&got), "emptyEntry");
        // Nothing was requested.
        let got = srv.call_as(&asker, "GET", MINE, None).await;
        assert_eq!(got.1["count"], 0, "{}", got.1);

        let id = request_for(&srv, &asker, &["bob@contoso.test"], "").await;
        let got = srv
            .post(
                &format!("{REQ}/{id}/share"),
                json!({"recipients": ["bob@contoso.test", "admin@contoso.test", ""]}),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "recipients[2] is empty");
        // Nothing was shared.
        let got = srv.get(&format!("{REQ}/{id}")).await;
        assert_eq!(got.1["shares"], json!([]), "{}", got.1);
    }
);

backends!(errors_that_list_users_are_short, |srv| async move {
    set_policy(&srv, "SUITE_BASIC", "Disabled").await;
    let asker = srv.token_with_roles("asker@contoso.test", &[]).await;
    let id = request_for(&srv, &asker, &[], "").await;

    // 10,000 ids: refused with the limit, in a short answer.
    let many: Vec<String> = (0..10_000).map(|i| format!("u{i}@contoso.test")).collect();
    let got = decide(&srv, &id, json!({"approve": many})).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "at most 1,000");
    assert!(
        got.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("10,000")
    );
    assert_eq!(code(&got), "tooManyUsers");
    assert!(got.1.to_string().len() < 1000, "{}", got.1);

    // Within the limit but not on the request: ten named, then how many more.
    let some: Vec<String> = many[..600].to_vec();
    let got = decide(
        &srv,
        &id,
        json!({"approve": some, "deny": ["asker@contoso.test"]}),
    )
    .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "u9@contoso.test … and 590 more",
    );
    assert!(
        !got.1["error"]["message"].as_str().unwrap().contains("u10@"),
        "{}",
        got.1
    );
    assert!(got.1.to_string().len() < 1000, "{}", got.1);
    assert_eq!(srv.get(&format!("{REQ}/{id}")).await.1["status"], "Pending");
});

backends!(
    approving_a_user_deleted_since_the_request_says_who,
    |srv| async move {
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        srv.buy("SUITE_BASIC", 5).await;
        let asker = srv.token_with_roles("asker@contoso.test", &[]).await;
        let ana = srv.user("ana@contoso.test", Some("US")).await;
        let id = request_for(&srv, &asker, &["ana@contoso.test"], "").await;
        let got = srv.delete(&format!("/v1.0/users/{ana}")).await;
        assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);

        let got = decide(
            &srv,
            &id,
            json!({"approve": ["asker@contoso.test", ana.to_string()]}),
        )
        .await;
        assert_error(
            &got,
            StatusCode::CONFLICT,
            "ana@contoso.test was deleted after the request; deny them instead.",
        );
        assert_eq!(code(&got), "usersDeleted");
        assert_eq!(held(&srv, "asker@contoso.test").await, Vec::<String>::new());

        // Denying her works.
        let got = decide(
            &srv,
            &id,
            json!({"approve": ["asker@contoso.test"], "deny": ["ana@contoso.test"]}),
        )
        .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["outcome"], "PartlyApproved");
        assert_eq!(held(&srv, "asker@contoso.test").await, vec!["SUITE_BASIC"]);
    }
);

backends!(
    a_product_that_does_not_serve_suggests_only_held_ones,
    |srv| async move {
        set_policy(&srv, "SUITE_BASIC", "Disabled").await;
        let asker = srv.token_with_roles("asker@contoso.test", &[]).await;
        let id = request_for(&srv, &asker, &[], "").await;
        let approve = |sku: &str| json!({"approve": ["asker@contoso.test"], "skuId": sku});

        // Nothing held that serves it: say so instead of naming products to buy as choices.
        let got = decide(&srv, &id, approve("MAIL_PLAN1")).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "holds no product that does");
        assert_eq!(code(&got), "productDoesNotServe");
        let message = got.1["error"]["message"].as_str().unwrap().to_string();
        assert!(!message.contains("SUITE_STANDARD"), "{message}");

        // Only SUITE_STANDARD is held: it alone is suggested.
        srv.buy("SUITE_STANDARD", 2).await;
        let got = decide(&srv, &id, approve("MAIL_PLAN1")).await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "holds that does: SUITE_STANDARD (",
        );
        let message = got.1["error"]["message"].as_str().unwrap().to_string();
        assert!(!message.contains("SUITE_BASIC ("), "{message}");
        assert!(!message.contains("SUITE_PREMIUM"), "{message}");
        assert_eq!(srv.get(&format!("{REQ}/{id}")).await.1["status"], "Pending");
    }
);
