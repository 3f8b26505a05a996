//! Bulk user import (DIR1): thousands of users from CSV, checked first, written in batches.

use crate::directory::{
    AdminChange, UserInput, apply, guard_admin_change, new_user, upn_taken, user_json,
};
use crate::{Actor, App, AppError, AppResult, audit};
use seatkeeper_domain::audit::AuditAction;
use seatkeeper_domain::roles::Action;
use seatkeeper_store::directory as dir;
use std::collections::HashSet;

/// The most users [`App::import_users_batch`] writes in one transaction.
pub const MAX_IMPORT_BATCH: usize = 1000;

/// What one import batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportOutcome {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

impl App {
    /// Checks one user's fields as creating the user would, without writing anything.
    pub fn check_user_input(&self, actor: &Actor, input: &UserInput) -> AppResult<()> {
        new_user(actor, input, self.now()).map(|_| ())
    }

    /// Which of `upns` already exist in the actor's tenant, lower-cased. One lookup by the
    /// unique (tenant, userPrincipalName) index each: linear, whatever the organization's size.
    pub async fn existing_upns(
        &self,
        actor: &Actor,
        upns: &[String],
    ) -> AppResult<HashSet<String>> {
        actor.require(Action::Read)?;
        let mut conn = self.read().await?;
        let mut out = HashSet::new();
        for upn in upns {
            if let Some(u) = dir::get_user_by_upn(&mut conn, actor.tenant_id, upn).await? {
                out.insert(u.upn.to_lowercase());
            }
        }
        Ok(out)
    }

    /// Creates (or, with `update_existing`, updates) a batch of users in one transaction, with
    /// one audit entry per user. All or nothing: an existing userPrincipalName without
    /// `update_existing`, or any bad field, refuses the whole batch. Fields left `None` keep
    /// their value when a user is updated.
    pub async fn import_users_batch(
        &self,
        actor: &Actor,
        inputs: &[UserInput],
        update_existing: bool,
    ) -> AppResult<ImportOutcome> {
        actor.require(Action::ManageDirectory)?;
        if inputs.len() > MAX_IMPORT_BATCH {
            return Err(AppError::invalid(
                "batchTooLarge",
                format!(
                    "{} users in one batch; import at most {MAX_IMPORT_BATCH} at a time.",
                    inputs.len()
                ),
            ));
        }
        let now = self.now();
        let mut fresh = Vec::with_capacity(inputs.len());
        for input in inputs {
            fresh.push(new_user(actor, input, now)?);
        }
        let mut seen = HashSet::with_capacity(fresh.len());
        for u in &fresh {
            if !seen.insert(u.upn.to_lowercase()) {
                return Err(AppError::invalid(
                    "duplicateUser",
                    format!("userPrincipalName {} is in the batch twice.", u.upn),
                ));
            }
        }
        let fresh = &fresh;
        self.transact(move |tx| {
            Box::pin(async move {
                let mut outcome = ImportOutcome::default();
                for (input, u) in inputs.iter().zip(fresh) {
                    match dir::get_user_by_upn(tx, actor.tenant_id, &u.upn)
                        .await?
                        .as_ref()
                    {
                        Some(before) if update_existing => {
                            if input.account_enabled == Some(false) && before.account_enabled {
                                guard_admin_change(tx, actor, before.id, AdminChange::Disable)
                                    .await?;
                            }
                            let mut after = before.clone();
                            apply(&mut after, input)?;
                            if after == *before {
                                outcome.unchanged += 1;
                                continue;
                            }
                            dir::update_user(tx, &after).await?;
                            audit::record(
                                tx,
                                actor,
                                now,
                                AuditAction::UserUpdate,
                                "user",
                                after.id,
                                format!("User {} changed by import", after.upn),
                                Some(user_json(before)),
                                Some(user_json(&after)),
                            )
                            .await?;
                            outcome.updated += 1;
                        }
                        Some(_) => return Err(upn_taken(&u.upn)),
                        None => {
                            dir::insert_user(tx, u).await.map_err(|e| {
                                if seatkeeper_store::is_unique_violation(&e) {
                                    upn_taken(&u.upn)
                                } else {
                                    e.into()
                                }
                            })?;
                            audit::record(
                                tx,
                                actor,
                                now,
                                AuditAction::UserCreate,
                                "user",
                                u.id,
                                format!("User {} created by import", u.upn),
                                None,
                                Some(user_json(u)),
                            )
                            .await?;
                            outcome.created += 1;
                        }
                    }
                }
                Ok(outcome)
            })
        })
        .await
    }
}
