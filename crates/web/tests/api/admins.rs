//! Global admins are protected: only a Global admin changes, disables, deletes or demotes one,
//! and an organization keeps at least one enabled Global admin, under concurrency too.

use crate::common::*;
use crate::rest_helpers::*;
use reqwest::StatusCode;
use seatkeeper_domain::roles::Role;
use serde_json::json;

/// A Global admin (usage location US) and their token.
async fn global_admin(srv: &Srv, upn: &str) -> (String, String) {
    let token = srv.token_with_roles(upn, &[Role::GlobalAdmin]).await;
    let id = srv
        .app
        .get_user(&srv.operator(), upn)
        .await
        .expect("user")
        .id
        .to_string();
    (id, token)
}

async fn enabled_global_admins(srv: &Srv) -> i64 {
    let mut conn = srv.app.read().await.expect("conn");
    seatkeeper_store::directory::count_enabled_with_role(&mut conn, srv.tenant, Role::GlobalAdmin)
        .await
        .expect("count")
}

backends!(a_user_admin_cannot_touch_a_global_admin, |srv| async move {
    let (ga, _) = global_admin(&srv, "second.ga@contoso.test").await;
    let ua = srv
        .token_with_roles("useradmin@contoso.test", &[Role::UserAdmin])
        .await;
    let plain = srv.user("plain@contoso.test", Some("US")).await;
    let refused =
        "only a Global admin may change, disable, delete or remove the role of a Global admin";
    for (method, body) in [
        ("PATCH", Some(json!({"accountEnabled": false}))),
        ("PATCH", Some(json!({"displayName": "Renamed"}))),
        ("DELETE", None),
    ] {
        let got = srv
            .call_as(&ua, method, &format!("/v1.0/users/{ga}"), body)
            .await;
        assert_error(&got, StatusCode::FORBIDDEN, refused);
    }
    let got = srv
        .call_as(
            &ua,
            "PUT",
            &format!("{API}/users/{ga}/roles"),
            Some(json!({"roles": []})),
        )
        .await;
    assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
    // The admin is untouched; the User admin still manages everyone else.
    let u = srv.app.get_user(&srv.operator(), &ga).await.expect("user");
    assert!(u.account_enabled);
    assert_eq!(u.display_name, "second.ga");
    let got = srv
        .call_as(
            &ua,
            "PATCH",
            &format!("/v1.0/users/{plain}"),
            Some(json!({"accountEnabled": false})),
        )
        .await;
    assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
    let got = srv
        .call_as(&ua, "DELETE", &format!("/v1.0/users/{plain}"), None)
        .await;
    assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
    assert_eq!(enabled_global_admins(&srv).await, 2);
});

backends!(a_disabled_global_admin_does_not_count, |srv| async move {
    let (disabled, _) = global_admin(&srv, "disabled.ga@contoso.test").await;
    let got = srv
        .patch(
            &format!("/v1.0/users/{disabled}"),
            json!({"accountEnabled": false}),
        )
        .await;
    assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
    let me = srv.admin.to_string();
    // The one enabled Global admin can neither disable, demote nor delete themself.
    // (Graph answers conflicts with 400, as Microsoft Graph does.)
    let got = srv
        .patch(
            &format!("/v1.0/users/{me}"),
            json!({"accountEnabled": false}),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "last enabled Global admin");
    let got = srv
        .put(&format!("{API}/users/{me}/roles"), json!({"roles": []}))
        .await;
    assert_error(&got, StatusCode::CONFLICT, "last enabled Global admin");
    assert_eq!(got.1["error"]["code"], "lastGlobalAdmin");
    let got = srv.delete(&format!("/v1.0/users/{me}")).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "last enabled Global admin");
    // Other changes to themself are fine, and so is removing the disabled admin.
    let got = srv
        .patch(&format!("/v1.0/users/{me}"), json!({"jobTitle": "Owner"}))
        .await;
    assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
    let got = srv.delete(&format!("/v1.0/users/{disabled}")).await;
    assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
    assert_eq!(enabled_global_admins(&srv).await, 1);
});

backends!(
    concurrent_removals_leave_one_enabled_global_admin,
    |srv| async move {
        // Each round: two enabled Global admins delete each other at the same moment.
        let mut keeper = (srv.admin.to_string(), srv.token.clone());
        for round in 0..6 {
            let other = global_admin(&srv, &format!("ga{round}@contoso.test")).await;
            let (path_a, path_b) = (
                format!("/v1.0/users/{}", other.0),
                format!("/v1.0/users/{}", keeper.0),
            );
            let a = srv.call_as(&keeper.1, "DELETE", &path_a, None);
            let b = srv.call_as(&other.1, "DELETE", &path_b, None);
            let (a, b) = tokio::join!(a, b);
            let won: Vec<bool> = [&a, &b]
                .iter()
                .map(|got| match got.0 {
                    StatusCode::NO_CONTENT => true,
                    // Refused by the rule (Graph's 400 for a conflict)...
                    StatusCode::BAD_REQUEST => {
                        assert_error(got, StatusCode::BAD_REQUEST, "last enabled Global admin");
                        false
                    }
                    // ...or the caller was deleted before their request was authenticated.
                    StatusCode::UNAUTHORIZED => false,
                    other => panic!("round {round}: unexpected {other}: {}", got.1),
                })
                .collect();
            assert_eq!(
                won.iter().filter(|w| **w).count(),
                1,
                "round {round}: {a:?} {b:?}"
            );
            assert_eq!(enabled_global_admins(&srv).await, 1, "round {round}");
            if won[1] {
                keeper = other;
            }
        }
    }
);
