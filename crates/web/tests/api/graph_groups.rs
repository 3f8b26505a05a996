//! Graph-compatible groups and members.

use crate::common::*;
use reqwest::StatusCode;
use seatkeeper_domain::roles::Role;
use serde_json::{Value, json};

backends!(group_crud_and_members, |srv| async move {
    let (st, g) = srv
        .post(
            "/v1.0/groups",
            json!({"displayName": "Engineering", "description": "Builders", "mailEnabled": false,
                   "mailNickname": "eng", "securityEnabled": true, "groupTypes": []}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    assert_eq!(g["displayName"], "Engineering");
    assert_eq!(g["description"], "Builders");
    assert_eq!(g["mailNickname"], "eng");
    assert_eq!(g["securityEnabled"], true);
    assert_eq!(g["mailEnabled"], false);
    assert_eq!(g["groupTypes"], json!([]));

    let (st, got) = srv.get(&format!("/v1.0/groups/{gid}")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(got["displayName"], "Engineering");
    let (st, body) = srv
        .patch(
            &format!("/v1.0/groups/{gid}"),
            json!({"displayName": "Eng", "description": null}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let (_, got) = srv.get(&format!("/v1.0/groups/{gid}")).await;
    assert_eq!(got["displayName"], "Eng");
    assert_eq!(got["description"], Value::Null);

    // Members: add by @odata.id from any host, list with @odata.type, remove by $ref.
    let a = srv.user("a@contoso.test", Some("US")).await;
    let b = srv.user("b@contoso.test", Some("US")).await;
    for (user, host) in [(a, "https://graph.microsoft.com"), (b, srv.url.as_str())] {
        let (st, body) = srv
            .post(
                &format!("/v1.0/groups/{gid}/members/$ref"),
                json!({"@odata.id": format!("{host}/v1.0/directoryObjects/{user}")}),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    }
    let got = srv
        .post(
            &format!("/v1.0/groups/{gid}/members/$ref"),
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{a}")}),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "already exist");
    let (st, members) = srv
        .get(&format!("/v1.0/groups/{gid}/members?$count=true"))
        .await;
    assert_eq!(st, StatusCode::OK, "{members}");
    assert_eq!(members["@odata.count"], 2);
    let list = members["value"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    for m in list {
        assert_eq!(m["@odata.type"], "#microsoft.graph.user");
        assert!(m["userPrincipalName"].is_string());
    }
    let (st, n) = srv.get(&format!("/v1.0/groups/{gid}/members/$count")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(n, Value::from(2));
    let (st, page) = srv
        .get(&format!(
            "/v1.0/groups/{gid}/members?$top=1&$select=displayName"
        ))
        .await;
    assert_eq!(st, StatusCode::OK);
    let next = page["@odata.nextLink"].as_str().unwrap().to_string();
    assert!(
        next.contains(&format!("/v1.0/groups/{gid}/members?")),
        "{next}"
    );
    let (st, page2) = srv.get(next.strip_prefix(&srv.url).unwrap()).await;
    assert_eq!(st, StatusCode::OK, "{page2}");
    assert_ne!(page["value"][0]["id"], page2["value"][0]["id"]);
    assert!(page2.get("@odata.nextLink").is_none());

    let (st, _) = srv
        .delete(&format!("/v1.0/groups/{gid}/members/{a}/$ref"))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let got = srv
        .delete(&format!("/v1.0/groups/{gid}/members/{a}/$ref"))
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "is not a member");
    let (_, members) = srv.get(&format!("/v1.0/groups/{gid}/members")).await;
    assert_eq!(members["value"].as_array().unwrap().len(), 1);
    assert_eq!(members["value"][0]["id"], b.to_string());

    // Lists, $count, startswith filter, paging.
    for i in 0..4 {
        srv.post("/v1.0/groups", json!({"displayName": format!("Team {i}"), "mailEnabled": false, "securityEnabled": true, "mailNickname": format!("t{i}")})).await;
    }
    let (st, list) = srv.get("/v1.0/groups?$count=true").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list["@odata.count"], 5);
    let (_, list) = srv
        .get("/v1.0/groups?$filter=startswith(displayName,'team')&$count=true&$top=3")
        .await;
    assert_eq!(list["@odata.count"], 4);
    assert_eq!(list["value"].as_array().unwrap().len(), 3);
    let next = list["@odata.nextLink"].as_str().unwrap();
    let (_, rest) = srv.get(next.strip_prefix(&srv.url).unwrap()).await;
    assert_eq!(rest["value"].as_array().unwrap().len(), 1);
    let (_, n) = srv.get("/v1.0/groups/$count").await;
    assert_eq!(n, Value::from(5));

    // displayName eq: the whole name, in any case; names may repeat, and page like the rest.
    srv.post("/v1.0/groups", json!({"displayName": "TEAM 2", "mailEnabled": false, "securityEnabled": true, "mailNickname": "t2b"})).await;
    let (st, list) = srv
        .get("/v1.0/groups?$filter=displayName%20eq%20%27team%202%27&$count=true&$top=1")
        .await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert_eq!(list["@odata.count"], 2);
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
    let next = list["@odata.nextLink"].as_str().expect("a second page");
    let (_, rest) = srv.get(next.strip_prefix(&srv.url).unwrap()).await;
    let mut names = vec![
        list["value"][0]["displayName"].clone(),
        rest["value"][0]["displayName"].clone(),
    ];
    names.sort_by_key(|v| v.to_string());
    assert_eq!(names, vec![json!("TEAM 2"), json!("Team 2")]);
    assert!(rest.get("@odata.nextLink").is_none(), "{rest}");
    let (st, list) = srv
        .get("/v1.0/groups?$filter=displayName%20eq%20%27Team%27&$count=true")
        .await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert_eq!(list["@odata.count"], 0, "a prefix is not the name: {list}");
    let (_, n) = srv
        .get("/v1.0/groups/$count?$filter=displayName%20eq%20%27Team%201%27")
        .await;
    assert_eq!(n, Value::from(1));
    // Any script: a capital É is found from é, whole name or start.
    srv.post("/v1.0/groups", json!({"displayName": "Équipe Nord", "mailEnabled": false, "securityEnabled": true, "mailNickname": "eq"})).await;
    for filter in [
        "displayName%20eq%20%27%C3%A9quipe%20nord%27",
        "startswith(displayName,%27%C3%A9QUI%27)",
    ] {
        let (st, list) = srv
            .get(&format!("/v1.0/groups?$filter={filter}&$count=true"))
            .await;
        assert_eq!(st, StatusCode::OK, "{list}");
        assert_eq!(list["@odata.count"], 1, "{filter}: {list}");
        assert_eq!(list["value"][0]["displayName"], "Équipe Nord", "{list}");
    }

    let (st, _) = srv.delete(&format!("/v1.0/groups/{gid}")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let got = srv.get(&format!("/v1.0/groups/{gid}")).await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
});

backends!(group_errors_and_isolation, |srv| async move {
    let cases = [
        (
            json!({"mailEnabled": false, "securityEnabled": true}),
            "displayName is required",
        ),
        (
            json!({"displayName": "M365", "groupTypes": ["Unified"], "mailEnabled": true, "securityEnabled": false}),
            "Only security groups are supported",
        ),
        (json!({"displayName": 3}), "displayName must be a string"),
        (
            json!({"displayName": "G", "members@odata.bind": ["https://graph.microsoft.com/v1.0/users/x"]}),
            "members/$ref",
        ),
        (
            json!({"displayName": "G", "visibility": "Private"}),
            "Property 'visibility' is not supported on microsoft.graph.group",
        ),
        (
            json!({"displayName": "   "}),
            "displayName must be 1 to 256 characters",
        ),
    ];
    for (body, needle) in cases {
        let got = srv.post("/v1.0/groups", body).await;
        assert_error(&got, StatusCode::BAD_REQUEST, needle);
    }
    let g = srv
        .app
        .create_group(&srv.operator(), "Ours", None, None)
        .await
        .unwrap();
    let gid = g.id.to_string();
    let user = srv.user("m@contoso.test", Some("US")).await;
    for (body, needle) in [
        (json!({}), "@odata.id is required"),
        (json!({"@odata.id": 5}), "@odata.id must be a string"),
        (
            json!({"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/"}),
            "does not end with an object id",
        ),
    ] {
        let got = srv
            .post(&format!("/v1.0/groups/{gid}/members/$ref"), body)
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, needle);
    }
    let got = srv
        .post(&format!("/v1.0/groups/{gid}/members/$ref"), json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{}", uuid::Uuid::new_v4())}))
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
    let got = srv.get("/v1.0/groups/not-a-guid").await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
    let got = srv
        .get(&format!("/v1.0/groups/{}/members", uuid::Uuid::new_v4()))
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");

    // Another tenant's group and users are 404 both ways.
    let other = srv
        .app
        .create_tenant("Fabrikam", "admin@fabrikam.test", None, None)
        .await
        .unwrap();
    for (method, path, body) in [
        ("GET", format!("/v1.0/groups/{gid}"), None),
        ("GET", format!("/v1.0/groups/{gid}/members"), None),
        (
            "PATCH",
            format!("/v1.0/groups/{gid}"),
            Some(json!({"displayName": "Theirs"})),
        ),
        ("DELETE", format!("/v1.0/groups/{gid}"), None),
        (
            "POST",
            format!("/v1.0/groups/{gid}/members/$ref"),
            Some(
                json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{}", other.admin_user_id)}),
            ),
        ),
        (
            "DELETE",
            format!("/v1.0/groups/{gid}/members/{user}/$ref"),
            None,
        ),
    ] {
        let got = srv.call_as(&other.token, method, &path, body).await;
        assert_error(&got, StatusCode::NOT_FOUND, "does not exist");
    }
    // Their user cannot be added to our group either.
    let got = srv
        .post(&format!("/v1.0/groups/{gid}/members/$ref"), json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{}", other.admin_user_id)}))
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "does not exist");

    // A Global reader reads groups but cannot change them.
    let reader = srv
        .token_with_roles("reader@contoso.test", &[Role::GlobalReader])
        .await;
    let (st, _) = srv
        .call_as(&reader, "GET", &format!("/v1.0/groups/{gid}/members"), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let got = srv
        .call_as(
            &reader,
            "POST",
            "/v1.0/groups",
            Some(json!({"displayName": "X"})),
        )
        .await;
    assert_error(&got, StatusCode::FORBIDDEN, "Insufficient privileges");
    let got = srv
        .call_as(
            &reader,
            "POST",
            &format!("/v1.0/groups/{gid}/members/$ref"),
            Some(json!({"@odata.id": user.to_string()})),
        )
        .await;
    assert_error(&got, StatusCode::FORBIDDEN, "Insufficient privileges");
});
