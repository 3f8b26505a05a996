//! `/groups`, `/groups/{id}`, `/groups/{id}/members` and member references (`$ref`).

use super::odata::{self, GroupFilter, LIST, Opt, SELECT_ONLY};
use super::users::{kind_of, plain_count, user_items, user_select};
use super::{Id, Ids, collection, next_link, object, select, shapes};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Json};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use seatkeeper_app::group_licensing::GroupsWhere;
use seatkeeper_app::{Actor, App, AppError};
use seatkeeper_domain::directory::{Group, UserFilter};
use seatkeeper_domain::{GroupId, UserId};
use serde_json::{Map, Value};

const GROUP_PROPS: &[&str] = &[
    "id",
    "displayName",
    "description",
    "mailNickname",
    "mailEnabled",
    "securityEnabled",
    "groupTypes",
    "createdDateTime",
    "assignedLicenses",
    "licenseProcessingState",
    "hasMembersWithLicenseErrors",
];

/// Groups as Graph items, with their licensing loaded for the page at once.
async fn group_items(
    app: &App,
    actor: &Actor,
    groups: &[seatkeeper_domain::directory::Group],
    sel: &Option<Vec<&'static str>>,
) -> ApiResult<Vec<Value>> {
    let ids: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
    let licensing = app.licensing_of_groups(actor, &ids).await?;
    Ok(groups
        .iter()
        .map(|g| {
            let l = licensing.get(&g.id).cloned().unwrap_or_default();
            select(shapes::group(g, &l), sel)
        })
        .collect())
}

fn bad(code: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError(AppError::invalid(code, msg))
}

/// How `$filter` matches a group's displayName: the whole name, or its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameMatch {
    Whole,
    Start,
}

/// The groups whose displayName is `text`, or starts with it, in any case and any script,
/// after `after`, in id order, at most `limit`. The database narrows them down by the text's
/// leading ASCII characters, which it compares without case alike on SQLite and PostgreSQL;
/// the whole text is compared here, in Unicode's lower case (SQLite's `lower` and `LIKE`
/// leave "É" and "é" apart).
async fn by_name(
    app: &App,
    actor: &Actor,
    text: &str,
    how: NameMatch,
    mut after: Option<GroupId>,
    limit: i64,
) -> ApiResult<Vec<Group>> {
    let wanted = text.to_lowercase();
    let ascii: String = text.chars().take_while(char::is_ascii).collect();
    let narrow = (!ascii.is_empty()).then_some(ascii.as_str());
    let mut out = Vec::new();
    loop {
        let page = app.list_groups(actor, narrow, after, 1000).await?;
        let full = page.len() == 1000;
        after = page.last().map(|g| g.id);
        for g in page {
            if out.len() as i64 >= limit {
                return Ok(out);
            }
            let name = g.display_name.to_lowercase();
            let hit = match how {
                NameMatch::Whole => name == wanted,
                NameMatch::Start => name.starts_with(&wanted),
            };
            if hit {
                out.push(g);
            }
        }
        if !full {
            return Ok(out);
        }
    }
}

/// Lists security groups with `$select`, `$top`/`$skiptoken` paging, `$count` and `$filter`
/// (see [`odata::groups`]). Groups come ordered by id; `$orderby` is refused.
pub async fn list(
    State(app): State<App>,
    Auth(actor): Auth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = odata::parse_query(raw.as_deref(), LIST)?;
    let sel = odata::parse_select(&q.select, GROUP_PROPS, "microsoft.graph.group")?;
    let filter = odata::groups(q.filter.as_deref())?;
    let after = q
        .skiptoken
        .as_deref()
        .map(odata::read_skiptoken)
        .transpose()?
        .map(GroupId::from);
    let top = q.top();
    let which = match &filter {
        GroupFilter::WithLicenseErrors => Some(GroupsWhere::LicenseErrors),
        GroupFilter::GivingAny(skus) => Some(GroupsWhere::GiveAny(skus.clone())),
        _ => None,
    };
    let (mut groups, all_selected) = match (&which, &filter) {
        (Some(w), _) => {
            let (page, all) = app.groups_where_page(&actor, w, after, top + 1).await?;
            (page, Some(all))
        }
        (None, GroupFilter::Named(name)) => (
            by_name(&app, &actor, name, NameMatch::Whole, after, top + 1).await?,
            None,
        ),
        (None, GroupFilter::Prefix(p)) => (
            by_name(&app, &actor, p, NameMatch::Start, after, top + 1).await?,
            None,
        ),
        (None, _) => (app.list_groups(&actor, None, after, top + 1).await?, None),
    };
    let more = groups.len() as i64 > top;
    groups.truncate(top as usize);
    let count = match (q.count, &filter) {
        (false, _) => None,
        (true, GroupFilter::All) => Some(app.count_groups(&actor).await?),
        (true, GroupFilter::Prefix(p)) => Some(
            by_name(&app, &actor, p, NameMatch::Start, None, i64::MAX)
                .await?
                .len() as i64,
        ),
        (true, GroupFilter::Named(name)) => Some(
            by_name(&app, &actor, name, NameMatch::Whole, None, i64::MAX)
                .await?
                .len() as i64,
        ),
        (true, GroupFilter::WithLicenseErrors | GroupFilter::GivingAny(_)) => all_selected,
    };
    let next = match (more, groups.last()) {
        (true, Some(last)) => Some(next_link(&headers, "/groups", &q, last.id.0)),
        _ => None,
    };
    let items = group_items(&app, &actor, &groups, &sel).await?;
    Ok(axum::Json(collection(&headers, "groups", items, count, next)).into_response())
}

/// `GET /groups/$count` (with `$filter` as on the list, see [`odata::groups`]).
pub async fn count(
    State(app): State<App>,
    Auth(actor): Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = odata::parse_query(raw.as_deref(), &[Opt::Filter])?;
    let n = match odata::groups(q.filter.as_deref())? {
        GroupFilter::All => app.count_groups(&actor).await?,
        GroupFilter::Prefix(p) => by_name(&app, &actor, &p, NameMatch::Start, None, i64::MAX)
            .await?
            .len() as i64,
        GroupFilter::Named(name) => by_name(&app, &actor, &name, NameMatch::Whole, None, i64::MAX)
            .await?
            .len() as i64,
        GroupFilter::WithLicenseErrors => {
            app.groups_where_page(&actor, &GroupsWhere::LicenseErrors, None, 0)
                .await?
                .1
        }
        GroupFilter::GivingAny(skus) => {
            app.groups_where_page(&actor, &GroupsWhere::GiveAny(skus), None, 0)
                .await?
                .1
        }
    };
    Ok(plain_count(n))
}

pub async fn get_one(
    State(app): State<App>,
    Auth(actor): Auth,
    headers: HeaderMap,
    Id(id): Id,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = odata::parse_query(raw.as_deref(), SELECT_ONLY)?;
    let sel = odata::parse_select(&q.select, GROUP_PROPS, "microsoft.graph.group")?;
    let g = app.get_group(&actor, &id).await?;
    let mut items = group_items(&app, &actor, std::slice::from_ref(&g), &sel).await?;
    Ok(super::entity(
        &headers,
        "groups",
        items.pop().unwrap_or(Value::Null),
    ))
}

struct GroupBody {
    display_name: Option<String>,
    description: Option<Option<String>>,
    mail_nickname: Option<Option<String>>,
}

fn opt_string(name: &str, v: &Value) -> ApiResult<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(bad(
            "invalidValue",
            format!("{name} must be a string, not {}.", kind_of(other)),
        )),
    }
}

/// Reads a group body. Only security groups exist here: mailEnabled false, securityEnabled
/// true, no groupTypes.
fn group_body(body: Map<String, Value>, creating: bool) -> ApiResult<GroupBody> {
    let mut out = GroupBody {
        display_name: None,
        description: None,
        mail_nickname: None,
    };
    for (k, v) in &body {
        match k.as_str() {
            "displayName" => match v {
                Value::String(s) => out.display_name = Some(s.clone()),
                other => {
                    return Err(bad(
                        "invalidValue",
                        format!("displayName must be a string, not {}.", kind_of(other)),
                    ));
                }
            },
            "description" => out.description = Some(opt_string(k, v)?),
            "mailNickname" if creating => out.mail_nickname = Some(opt_string(k, v)?),
            "mailNickname" => {
                return Err(bad(
                    "readOnlyProperty",
                    "mailNickname is set when a group is created and cannot be changed here.",
                ));
            }
            "mailEnabled" => match v {
                Value::Bool(false) | Value::Null => {}
                _ => {
                    return Err(bad(
                        "unsupportedGroupType",
                        "Only security groups are supported: mailEnabled must be false.",
                    ));
                }
            },
            "securityEnabled" => match v {
                Value::Bool(true) | Value::Null => {}
                _ => {
                    return Err(bad(
                        "unsupportedGroupType",
                        "Only security groups are supported: securityEnabled must be true.",
                    ));
                }
            },
            "groupTypes" => match v {
                Value::Null => {}
                Value::Array(a) if a.is_empty() => {}
                _ => {
                    return Err(bad(
                        "unsupportedGroupType",
                        "Only security groups are supported: groupTypes must be empty (no Unified or DynamicMembership).",
                    ));
                }
            },
            k if k.starts_with("@odata.") => {}
            k if k.contains("@odata.bind") => {
                return Err(bad(
                    "unsupportedProperty",
                    format!(
                        "'{k}' is not supported: create the group, then add members with POST /groups/{{id}}/members/$ref."
                    ),
                ));
            }
            other => {
                return Err(bad(
                    "unknownProperty",
                    format!(
                        "Property '{other}' is not supported on microsoft.graph.group. Writable properties: displayName, description, mailNickname (on create), mailEnabled (false), securityEnabled (true), groupTypes (empty)."
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// `POST /groups`: 201 with the new security group.
pub async fn create(
    State(app): State<App>,
    Auth(actor): Auth,
    Json(body): Json<Value>,
) -> ApiResult<Response> {
    let b = group_body(object(body, "group")?, true)?;
    let Some(name) = b.display_name else {
        return Err(bad("missingProperty", "displayName is required."));
    };
    let g = app
        .create_group(
            &actor,
            &name,
            b.description.flatten(),
            b.mail_nickname.flatten(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(shapes::group(&g, &Default::default())),
    )
        .into_response())
}

/// `PATCH /groups/{id}`: displayName and description; 204.
pub async fn update(
    State(app): State<App>,
    Auth(actor): Auth,
    Id(id): Id,
    Json(body): Json<Value>,
) -> ApiResult<StatusCode> {
    let b = group_body(object(body, "changes to the group")?, false)?;
    app.update_group(&actor, &id, b.display_name, b.description)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete(
    State(app): State<App>,
    Auth(actor): Auth,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    app.delete_group(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /groups/{id}/members`: users, each with `@odata.type`, filtered and paged like `/users`.
pub async fn members(
    State(app): State<App>,
    Auth(actor): Auth,
    headers: HeaderMap,
    Id(id): Id,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = odata::parse_query(raw.as_deref(), LIST)?;
    let sel = user_select(&q)?;
    let g = app.get_group(&actor, &id).await?;
    let filter = match odata::users(q.filter.as_deref())? {
        UserFilter::True => UserFilter::MemberOf(g.id),
        f => UserFilter::And(vec![UserFilter::MemberOf(g.id), f]),
    };
    let after = q
        .skiptoken
        .as_deref()
        .map(odata::read_skiptoken)
        .transpose()?
        .map(UserId::from);
    let top = q.top();
    let mut users = app.list_users(&actor, &filter, after, top + 1).await?;
    let more = users.len() as i64 > top;
    users.truncate(top as usize);
    let count = if q.count {
        Some(app.count_users(&actor, &filter).await?)
    } else {
        None
    };
    let path = format!("/groups/{}/members", g.id);
    let next = match (more, users.last()) {
        (true, Some(last)) => Some(next_link(&headers, &path, &q, last.id.0)),
        _ => None,
    };
    let items = user_items(&app, &actor, &users, &sel, true).await?;
    Ok(axum::Json(collection(&headers, "directoryObjects", items, count, next)).into_response())
}

/// `GET /groups/{id}/members/$count`.
pub async fn members_count(
    State(app): State<App>,
    Auth(actor): Auth,
    Id(id): Id,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = odata::parse_query(raw.as_deref(), &[Opt::Filter])?;
    let g = app.get_group(&actor, &id).await?;
    let filter = UserFilter::And(vec![
        UserFilter::MemberOf(g.id),
        odata::users(q.filter.as_deref())?,
    ]);
    Ok(plain_count(app.count_users(&actor, &filter).await?))
}

/// The object id at the end of an `@odata.id` reference such as
/// `https://graph.microsoft.com/v1.0/directoryObjects/{id}` (any host).
fn reference_id(body: &Map<String, Value>) -> ApiResult<String> {
    let example =
        "{\"@odata.id\": \"https://graph.microsoft.com/v1.0/directoryObjects/{user id}\"}";
    for k in body.keys() {
        if k != "@odata.id" && !k.starts_with("@odata.") {
            return Err(bad(
                "unknownProperty",
                format!("Property '{k}' is not expected; send only {example}."),
            ));
        }
    }
    let v = match body.get("@odata.id") {
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(bad(
                "invalidValue",
                format!("@odata.id must be a string, not {}.", kind_of(other)),
            ));
        }
        None => {
            return Err(bad(
                "missingProperty",
                format!("@odata.id is required, e.g. {example}."),
            ));
        }
    };
    let path = v.split(['?', '#']).next().unwrap_or("");
    let last = path.rsplit('/').next().unwrap_or("");
    let last = odata::url_decode(last)?;
    let last = last.trim();
    if last.is_empty() {
        return Err(bad(
            "invalidValue",
            format!("@odata.id '{v}' does not end with an object id, e.g. {example}."),
        ));
    }
    Ok(last.to_string())
}

/// `POST /groups/{id}/members/$ref`: 204.
pub async fn add_member(
    State(app): State<App>,
    Auth(actor): Auth,
    Id(id): Id,
    Json(body): Json<Value>,
) -> ApiResult<StatusCode> {
    let user = reference_id(&object(body, "member reference")?)?;
    app.add_group_member(&actor, &id, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /groups/{id}/assignLicense`: the group's products change at once and its members are
/// processed in the background; 202 with the group, whose `licenseProcessingState` tells when
/// every member is done (L6, as Graph).
pub async fn assign_license(
    State(app): State<App>,
    Auth(actor): Auth,
    Id(id): Id,
    Json(body): Json<Value>,
) -> ApiResult<Response> {
    let (add, remove) = super::users::assign_body(object(body, "licenses to add and remove")?)?;
    let (g, _job) = app.assign_group_license(&actor, &id, add, remove).await?;
    let l = app.group_licensing(&actor, g.id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(shapes::group(&g, &l))).into_response())
}

/// `GET /groups/{id}/membersWithLicenseErrors`: the members whose licenses from this group are
/// in error (see each user's `licenseAssignmentStates` for the reason), paged by id.
pub async fn members_with_license_errors(
    State(app): State<App>,
    Auth(actor): Auth,
    headers: HeaderMap,
    Id(id): Id,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = odata::parse_query(raw.as_deref(), &[Opt::Select, Opt::Top, Opt::SkipToken])?;
    let sel = user_select(&q)?;
    let after = q
        .skiptoken
        .as_deref()
        .map(odata::read_skiptoken)
        .transpose()?
        .map(UserId::from);
    let top = q.top();
    let (g, errors) = app
        .members_with_license_errors(&actor, &id, after, top + 1)
        .await?;
    let mut users: Vec<seatkeeper_domain::directory::User> = Vec::new();
    for e in errors {
        if !users.iter().any(|u| u.id == e.user.id) {
            users.push(e.user);
        }
    }
    let more = users.len() as i64 > top;
    users.truncate(top as usize);
    let path = format!("/groups/{}/membersWithLicenseErrors", g.id);
    let next = match (more, users.last()) {
        (true, Some(last)) => Some(next_link(&headers, &path, &q, last.id.0)),
        _ => None,
    };
    let items = user_items(&app, &actor, &users, &sel, true).await?;
    Ok(axum::Json(collection(&headers, "directoryObjects", items, None, next)).into_response())
}

/// `DELETE /groups/{id}/members/{userId}/$ref`: 204.
pub async fn remove_member(
    State(app): State<App>,
    Auth(actor): Auth,
    Ids(group, user): Ids,
) -> ApiResult<StatusCode> {
    app.remove_group_member(&actor, &group, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn reference_takes_the_last_segment_of_any_host() {
        let id = "5dbe027f-2339-4123-9542-606e4d348a72";
        for url in [
            format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}"),
            format!("http://127.0.0.1:8080/v1.0/users/{id}"),
            id.to_string(),
        ] {
            assert_eq!(reference_id(&obj(json!({"@odata.id": url}))).unwrap(), id);
        }
        assert!(reference_id(&obj(json!({}))).is_err());
        assert!(reference_id(&obj(json!({"@odata.id": 5}))).is_err());
        assert!(
            reference_id(&obj(
                json!({"@odata.id": "https://x/v1.0/directoryObjects/"})
            ))
            .is_err()
        );
        assert!(reference_id(&obj(json!({"@odata.id": "/"}))).is_err());
        assert!(reference_id(&obj(json!({"@odata.id": id, "x": 1}))).is_err());
    }

    #[test]
    fn only_security_groups() {
        assert!(group_body(obj(json!({"displayName": "G", "mailEnabled": false, "securityEnabled": true, "groupTypes": [], "mailNickname": "g"})), true).is_ok());
        assert!(group_body(obj(json!({"mailEnabled": true})), true).is_err());
        assert!(group_body(obj(json!({"groupTypes": ["Unified"]})), true).is_err());
        assert!(group_body(obj(json!({"mailNickname": "x"})), false).is_err());
        assert!(group_body(obj(json!({"members@odata.bind": []})), true).is_err());
        assert!(group_body(obj(json!({"displayName": 1})), true).is_err());
    }
}
