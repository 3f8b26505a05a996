//! The Active users page (DIR1, L4): users a page at a time with their licenses, searched and
//! filtered; and adding a user with licenses at once.

use crate::directory::{UserInput, insert_user, new_user};
use crate::licenses::{LicenseSpec, Remove, UserChange, check_licenses};
use crate::{Actor, App, AppError, AppResult};
use seatkeeper_domain::UserId;
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::directory::{User, UserField, UserFilter, Value};
use seatkeeper_domain::roles::Action;
use seatkeeper_store::assignments;
use seatkeeper_store::directory as dir;
use std::collections::HashMap;

/// The most users one page of [`App::active_users`] returns.
pub const MAX_PAGE: i64 = 200;

/// The Active users page counts the organization's users up to this many; above it, it says
/// "more than 1,000" (an exact count would read every user on every page view).
pub const COUNT_LIMIT: i64 = 1000;

/// Which users the Active users page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserKind {
    /// Everyone.
    #[default]
    All,
    /// Users holding at least one license.
    Licensed,
    /// Users holding no license.
    Unlicensed,
    /// Guest users.
    Guests,
}

impl UserKind {
    /// Reads the filter's word (`all`, `licensed`, `unlicensed`, `guests`); anything else is
    /// `None`.
    pub fn parse(s: &str) -> Option<UserKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "all" => Some(UserKind::All),
            "licensed" => Some(UserKind::Licensed),
            "unlicensed" => Some(UserKind::Unlicensed),
            "guests" | "guest" => Some(UserKind::Guests),
            _ => None,
        }
    }

    /// The filter's word, as [`UserKind::parse`] reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            UserKind::All => "all",
            UserKind::Licensed => "licensed",
            UserKind::Unlicensed => "unlicensed",
            UserKind::Guests => "guests",
        }
    }
}

/// What the Active users page asks for.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// The start of a display name, user name or e-mail address (case-insensitive).
    pub search: Option<String>,
    pub kind: UserKind,
    /// The last user of the previous page (keyset paging in name order, ignoring case).
    pub after: Option<UserId>,
    /// Users per page, 1 to [`MAX_PAGE`].
    pub limit: i64,
}

/// One page of users, in name order (ignoring case), with the licenses each holds.
#[derive(Debug, Clone)]
pub struct UserPage {
    pub users: Vec<(User, Vec<Assignment>)>,
    /// The last user of this page when another page follows.
    pub next: Option<UserId>,
    /// The organization's users, counted up to [`COUNT_LIMIT`]; only for the unfiltered list
    /// (a count of a filtered list would read every user).
    pub total: Option<i64>,
    /// Whether the organization has more than [`COUNT_LIMIT`] users (`total` is then
    /// [`COUNT_LIMIT`]).
    pub more_than_total: bool,
}

/// The kind of user as a filter.
fn kind_filter(kind: UserKind) -> UserFilter {
    match kind {
        UserKind::All => UserFilter::True,
        UserKind::Licensed => UserFilter::Not(Box::new(UserFilter::LicenseCount(0))),
        UserKind::Unlicensed => UserFilter::LicenseCount(0),
        UserKind::Guests => UserFilter::Eq(UserField::UserType, Value::Text("Guest".into())),
    }
}

impl App {
    /// The Active users page: users with a word of their display name starting with the search
    /// text, or whose user name or mail starts with it, of one kind, a page at a time in name
    /// order ignoring case, with their licenses. Index ranges with a LIMIT (the name search of
    /// the Licenses pages, plus a count of the organization's users up to [`COUNT_LIMIT`] when
    /// nothing is filtered), whatever the organization's size.
    pub async fn active_users(&self, actor: &Actor, q: &UserQuery) -> AppResult<UserPage> {
        actor.require(Action::Read)?;
        if q.search.as_deref().is_some_and(|s| s.chars().count() > 256) {
            return Err(AppError::invalid(
                "searchTooLong",
                "The search is longer than 256 characters: search by the start of a name.",
            ));
        }
        let limit = q.limit.clamp(1, MAX_PAGE);
        let filter = kind_filter(q.kind);
        let search = q.search.as_deref().map(str::trim).unwrap_or_default();
        let mut conn = self.read().await?;
        let after = match q.after {
            Some(id) => dir::name_cursor(&mut conn, actor.tenant_id, id).await?,
            None => None,
        };
        let after = after.as_ref().map(|(n, id)| (n.as_str(), *id));
        let mut users = if search.is_empty() {
            dir::list_users_by_name(&mut conn, actor.tenant_id, &filter, after, limit + 1).await?
        } else {
            dir::search_users_where(
                &mut conn,
                actor.tenant_id,
                search,
                &filter,
                after,
                limit + 1,
            )
            .await?
        };
        let next = if users.len() as i64 > limit {
            users.truncate(limit as usize);
            users.last().map(|u| u.id)
        } else {
            None
        };
        let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
        let mut held: HashMap<UserId, Vec<Assignment>> = HashMap::new();
        for a in assignments::of_users(&mut conn, actor.tenant_id, &ids).await? {
            held.entry(a.user_id).or_default().push(a);
        }
        let total = if search.is_empty() && q.kind == UserKind::All {
            Some(dir::count_users_upto(&mut conn, actor.tenant_id, COUNT_LIMIT + 1).await?)
        } else {
            None
        };
        let more_than_total = total.is_some_and(|n| n > COUNT_LIMIT);
        let total = total.map(|n| n.min(COUNT_LIMIT));
        Ok(UserPage {
            users: users
                .into_iter()
                .map(|u| {
                    let mine = held.remove(&u.id).unwrap_or_default();
                    (u, mine)
                })
                .collect(),
            next,
            total,
            more_than_total,
        })
    }

    /// Adds a user and assigns `licenses` at once, in one transaction: either the user exists
    /// with every license, or nothing was written (a refused license leaves no user behind).
    /// Needs the right to manage users, and to assign licenses when `licenses` is not empty.
    pub async fn add_user_with_licenses(
        &self,
        actor: &Actor,
        input: &UserInput,
        licenses: Vec<LicenseSpec>,
    ) -> AppResult<(User, Vec<Assignment>)> {
        actor.require(Action::ManageDirectory)?;
        if !licenses.is_empty() {
            actor.require(Action::AssignLicenses)?;
            check_licenses(&self.catalog(), &licenses)?;
        }
        let now = self.now();
        let u = new_user(actor, input, now)?;
        let change = UserChange {
            user: u.id.to_string(),
            add: licenses.clone(),
            remove: Remove::These(vec![]),
        };
        let (u, licenses, change) = (&u, &licenses, &change);
        self.transact(move |tx| {
            Box::pin(async move {
                insert_user(tx, actor, u, &[], now).await?;
                if licenses.is_empty() {
                    return Ok((u.clone(), Vec::new()));
                }
                let mut out = self
                    .apply_changes(tx, actor, std::slice::from_ref(change), now)
                    .await?;
                out.pop().ok_or_else(|| anyhow::anyhow!("no result").into())
            })
        })
        .await
    }
}
