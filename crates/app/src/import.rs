//! Bulk user import (DIR1): thousands of users from CSV, checked first, written in batches.

use crate::directory::{
    AdminChange, UserInput, apply, guard_admin_change, new_user, upn_taken, user_json,
};
use crate::{Actor, App, AppError, AppResult, audit};
use seatkeeper_domain::Time;
use seatkeeper_domain::audit::AuditAction;
use seatkeeper_domain::directory::User;
use seatkeeper_domain::roles::Action;
use seatkeeper_store::Conn;
use seatkeeper_store::directory as dir;
use seatkeeper_store::group_licenses as gl;
pub use seatkeeper_store::group_licenses::Job;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// The most users [`App::import_users_batch`] writes in one transaction.
pub const MAX_IMPORT_BATCH: usize = 1000;

/// The largest users file the import reads, in bytes.
pub const MAX_CSV_BYTES: usize = 5 * 1024 * 1024;
/// The most users one file may hold.
pub const MAX_CSV_ROWS: usize = 50_000;

/// The kind of the job that imports users ([`App::queue_users_import`]).
pub const IMPORT_JOB_KIND: &str = "usersImport";

/// Rows one step of an import job writes (one transaction).
pub const IMPORT_JOB_CHUNK: usize = 500;

/// The most rows one import job takes.
pub const MAX_IMPORT_JOB_ROWS: usize = 100_000;

/// One checked row of an import job, as stored in its payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobRow {
    line: u64,
    user_principal_name: Option<String>,
    display_name: Option<String>,
    given_name: Option<String>,
    surname: Option<String>,
    mail: Option<String>,
    job_title: Option<String>,
    department: Option<String>,
    user_type: Option<String>,
    usage_location: Option<String>,
    account_enabled: Option<bool>,
}

impl JobRow {
    fn of(r: &CsvRow) -> JobRow {
        let i = &r.input;
        JobRow {
            line: r.line,
            user_principal_name: i.user_principal_name.clone(),
            display_name: i.display_name.clone(),
            given_name: i.given_name.clone().flatten(),
            surname: i.surname.clone().flatten(),
            mail: i.mail.clone().flatten(),
            job_title: i.job_title.clone().flatten(),
            department: i.department.clone().flatten(),
            user_type: i.user_type.clone(),
            usage_location: i.usage_location.clone().flatten(),
            account_enabled: i.account_enabled,
        }
    }

    /// The input as the file gave it (an empty cell leaves a field as it is).
    fn input(&self) -> UserInput {
        UserInput {
            user_principal_name: self.user_principal_name.clone(),
            display_name: self.display_name.clone(),
            given_name: self.given_name.clone().map(Some),
            surname: self.surname.clone().map(Some),
            mail: self.mail.clone().map(Some),
            job_title: self.job_title.clone().map(Some),
            department: self.department.clone().map(Some),
            user_type: self.user_type.clone(),
            usage_location: self.usage_location.clone().map(Some),
            account_enabled: self.account_enabled,
            ..UserInput::default()
        }
    }
}

/// An import job's input.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobPayload {
    update_existing: bool,
    rows: Vec<JobRow>,
}

impl ImportOutcome {
    /// The job's message while it runs and when it is done: "3 created, 1 updated, 0
    /// unchanged".
    pub fn message(&self) -> String {
        format!(
            "{} created, {} updated, {} unchanged",
            self.created, self.updated, self.unchanged
        )
    }

    /// What an import job did so far, read from its message ([`ImportOutcome::message`]).
    pub fn of_job(job: &Job) -> ImportOutcome {
        let mut out = ImportOutcome::default();
        for part in job.message.as_deref().unwrap_or("").split(", ") {
            let mut words = part.split_whitespace();
            let (Some(n), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<usize>() else { continue };
            match what {
                "created" => out.created = n,
                "updated" => out.updated = n,
                "unchanged" => out.unchanged = n,
                _ => {}
            }
        }
        out
    }
}

/// A column of the users file, in the order export writes them after `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Col {
    UserPrincipalName,
    DisplayName,
    GivenName,
    Surname,
    Mail,
    JobTitle,
    Department,
    UserType,
    UsageLocation,
    AccountEnabled,
    /// Written by export; ignored on import.
    Id,
    /// Written by export; ignored on import.
    Licenses,
}

/// The columns import reads, in the order export writes them.
pub const IMPORT_COLUMNS: [Col; 10] = [
    Col::UserPrincipalName,
    Col::DisplayName,
    Col::GivenName,
    Col::Surname,
    Col::Mail,
    Col::JobTitle,
    Col::Department,
    Col::UserType,
    Col::UsageLocation,
    Col::AccountEnabled,
];

impl Col {
    /// The column's header.
    pub fn name(self) -> &'static str {
        match self {
            Col::UserPrincipalName => "userPrincipalName",
            Col::DisplayName => "displayName",
            Col::GivenName => "givenName",
            Col::Surname => "surname",
            Col::Mail => "mail",
            Col::JobTitle => "jobTitle",
            Col::Department => "department",
            Col::UserType => "userType",
            Col::UsageLocation => "usageLocation",
            Col::AccountEnabled => "accountEnabled",
            Col::Id => "id",
            Col::Licenses => "licenses",
        }
    }

    /// The column a header names (case-insensitive, a byte-order mark ignored).
    pub fn parse(header: &str) -> Option<Col> {
        let h = header.trim().trim_start_matches('\u{feff}').trim();
        IMPORT_COLUMNS
            .iter()
            .chain(&[Col::Id, Col::Licenses])
            .copied()
            .find(|c| c.name().eq_ignore_ascii_case(h))
    }
}

/// One good data row of a users file.
#[derive(Debug, Clone)]
pub struct CsvRow {
    /// The row's 1-based line in the file.
    pub line: u64,
    pub input: UserInput,
}

/// A users file, read and checked whole.
#[derive(Debug, Clone)]
pub struct UsersCsv {
    /// The good rows.
    pub rows: Vec<CsvRow>,
    /// Every problem found: line and what is wrong.
    pub problems: Vec<(u64, String)>,
    /// The columns, in the file's order.
    pub cols: Vec<Col>,
}

impl UsersCsv {
    /// Whether the file has the id or licenses columns that export writes and import ignores.
    pub fn has_ignored_columns(&self) -> bool {
        self.cols.contains(&Col::Id) || self.cols.contains(&Col::Licenses)
    }
}

/// Line numbers of byte offsets. The csv reader's own line count is one short after a CRLF
/// line end (the LF is consumed as part of the next record), so count from the data itself.
struct LineIndex<'a> {
    data: &'a [u8],
    newlines: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(data: &'a [u8]) -> LineIndex<'a> {
        let newlines = data
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i)
            .collect();
        LineIndex { data, newlines }
    }

    /// The 1-based line of the first character of a record starting at `offset` (line ends
    /// and blank lines before it are skipped, as the reader skips them).
    fn line(&self, offset: u64) -> u64 {
        let mut pos = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        while pos < self.data.len() && matches!(self.data[pos], b'\r' | b'\n') {
            pos += 1;
        }
        1 + self.newlines.partition_point(|n| *n < pos) as u64
    }
}

fn csv_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("the row has {len} cells but the header has {expected_len} columns"),
        csv::ErrorKind::Utf8 { .. } => {
            "the row is not valid UTF-8 text; save the file as UTF-8".into()
        }
        _ => e.to_string(),
    }
}

/// The user a row describes, and every problem of its cells that reading finds (an empty
/// required cell, an accountEnabled that is not true or false).
fn row_input(cols: &[Col], rec: &csv::StringRecord) -> (UserInput, Vec<String>) {
    let mut input = UserInput::default();
    let mut problems = Vec::new();
    for (col, v) in cols.iter().zip(rec.iter()) {
        let v = v.trim();
        let opt = || (!v.is_empty()).then(|| Some(v.to_string()));
        match col {
            Col::UserPrincipalName => {
                if v.is_empty() {
                    problems.push("userPrincipalName is empty; it is required".into());
                } else {
                    input.user_principal_name = Some(v.to_string());
                }
            }
            Col::DisplayName => {
                if v.is_empty() {
                    problems.push("displayName is empty; it is required".into());
                } else {
                    input.display_name = Some(v.to_string());
                }
            }
            Col::GivenName => input.given_name = opt(),
            Col::Surname => input.surname = opt(),
            Col::Mail => input.mail = opt(),
            Col::JobTitle => input.job_title = opt(),
            Col::Department => input.department = opt(),
            Col::UserType => input.user_type = (!v.is_empty()).then(|| v.to_string()),
            Col::UsageLocation => input.usage_location = opt(),
            Col::AccountEnabled => {
                input.account_enabled = match v.to_ascii_lowercase().as_str() {
                    "" => None,
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => {
                        problems.push(format!("accountEnabled is '{v}'; use true or false"));
                        None
                    }
                }
            }
            Col::Id | Col::Licenses => {}
        }
    }
    (input, problems)
}

/// "1 row has 1 problem", "2 rows have 5 problems": how a list of row problems is counted.
pub fn problems_in_words(problems: &[(u64, String)]) -> String {
    let mut lines: Vec<u64> = problems.iter().map(|(l, _)| *l).collect();
    lines.sort_unstable();
    lines.dedup();
    let rows = lines.len();
    let n = problems.len();
    format!(
        "{rows} {} {n} {}",
        if rows == 1 { "row has" } else { "rows have" },
        if n == 1 { "problem" } else { "problems" }
    )
}

/// The column a row problem is about (the first column its words name), for a table of
/// problems.
pub fn problem_column(problem: &str) -> &'static str {
    IMPORT_COLUMNS
        .iter()
        .filter_map(|c| problem.find(c.name()).map(|at| (at, c.name())))
        .min()
        .map(|(_, name)| name)
        .unwrap_or("")
}

/// A problem with the file as a whole (its header), at line 1.
/// A refusal of a row of an import job, naming its line.
fn at_line(line: u64, e: AppError) -> AppError {
    if e.is_refusal() {
        AppError::invalid("importRowRefused", format!("line {line}: {e}"))
    } else {
        e
    }
}

fn header_problem(message: String) -> AppError {
    AppError::invalid("invalidCsv", format!("line 1: {message}"))
}

/// What one import batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportOutcome {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

impl App {
    /// Reads a users file (CSV with a header; the columns of [`IMPORT_COLUMNS`], of which
    /// userPrincipalName and displayName are required) and checks every row as creating the
    /// user would, without writing anything: the good rows, and every problem by line. A bad
    /// header is an error (at line 1). Whether users exist already is the caller's question
    /// ([`App::existing_upns`]).
    pub fn read_users_csv(&self, actor: &Actor, data: &[u8]) -> AppResult<UsersCsv> {
        let lines = LineIndex::new(data);
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .from_reader(data);
        let headers = rdr
            .headers()
            .map_err(|e| header_problem(csv_problem(&e)))?
            .clone();
        let known = IMPORT_COLUMNS
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", ");
        let mut cols = Vec::with_capacity(headers.len());
        for h in &headers {
            match Col::parse(h) {
                Some(c) if cols.contains(&c) => {
                    return Err(header_problem(format!("column {} appears twice", c.name())));
                }
                Some(c) => cols.push(c),
                None if h.trim().is_empty() => {
                    return Err(header_problem(format!(
                        "a column has no name; the known columns are {known}"
                    )));
                }
                None => {
                    return Err(header_problem(format!(
                        "unknown column '{}'; the known columns are {known} (id and licenses, written by export, are ignored)",
                        h.trim()
                    )));
                }
            }
        }
        for required in [Col::UserPrincipalName, Col::DisplayName] {
            if !cols.contains(&required) {
                return Err(header_problem(format!(
                    "the header has no {} column; userPrincipalName and displayName are required (known columns: {known})",
                    required.name()
                )));
            }
        }
        let mut rows = Vec::new();
        let mut problems = Vec::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        for rec in rdr.records() {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map(|p| lines.line(p.byte())).unwrap_or(0);
                    problems.push((line, csv_problem(&e)));
                    continue;
                }
            };
            let line = rec.position().map(|p| lines.line(p.byte())).unwrap_or(0);
            // Every problem of the row, not only the first: its cells as read, then each
            // field as creating the user checks it, then a repeated userPrincipalName.
            let (input, mut found) = row_input(&cols, &rec);
            found.extend(
                crate::directory::field_problems(&input, self.now())
                    .iter()
                    .map(ToString::to_string),
            );
            if found.is_empty()
                && let Err(e) = self.check_user_input(actor, &input)
            {
                found.push(e.to_string());
            }
            let upn = input.user_principal_name.clone().unwrap_or_default();
            if !upn.is_empty() {
                match seen.get(&upn.to_lowercase()) {
                    Some(first) => {
                        found.push(format!("userPrincipalName {upn} is also on line {first}"))
                    }
                    None => {
                        seen.insert(upn.to_lowercase(), line);
                    }
                }
            }
            if found.is_empty() {
                rows.push(CsvRow { line, input });
            } else {
                problems.extend(found.into_iter().map(|m| (line, m)));
            }
        }
        Ok(UsersCsv {
            rows,
            problems,
            cols,
        })
    }

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
                write_users(tx, actor, inputs, fresh, update_existing, now)
                    .await
                    .map_err(|(_, e)| e)
            })
        })
        .await
    }

    /// DIR1 on the durable job machinery (L6 item 6): queues a job that creates (or, with
    /// `update_existing`, updates) the checked rows of a users file ([`App::read_users_csv`]),
    /// a step of [`IMPORT_JOB_CHUNK`] rows per transaction with progress, each user audited.
    /// Follow it with [`App::license_job`] (`GET /api/v1/jobs/{id}`); a row that can no longer
    /// be written when its step runs (its user was created meanwhile) stops the job there,
    /// `Failed` with the line in its message.
    pub async fn queue_users_import(
        &self,
        actor: &Actor,
        rows: &[CsvRow],
        update_existing: bool,
    ) -> AppResult<Job> {
        actor.require(Action::ManageDirectory)?;
        if rows.is_empty() {
            return Err(AppError::invalid(
                "noUsers",
                "The file has a header but no users: add one row per user.",
            ));
        }
        if rows.len() > MAX_IMPORT_JOB_ROWS {
            return Err(AppError::invalid(
                "tooManyUsers",
                format!(
                    "The file has {} users; import at most {MAX_IMPORT_JOB_ROWS} at a time (split the file).",
                    rows.len()
                ),
            ));
        }
        let payload = JobPayload {
            update_existing,
            rows: rows.iter().map(JobRow::of).collect(),
        };
        let now = self.now();
        let job = Job {
            id: uuid::Uuid::new_v4(),
            tenant_id: actor.tenant_id,
            kind: IMPORT_JOB_KIND.into(),
            group_id: None,
            actor_id: actor.user_id,
            actor: actor.name.clone(),
            state: "Queued".into(),
            total: rows.len() as i64,
            processed: 0,
            errors: 0,
            cursor: None,
            payload: Some(serde_json::to_string(&payload).map_err(anyhow::Error::from)?),
            message: None,
            created_at: now,
            started_at: None,
            finished_at: None,
        };
        let queued = &job;
        self.transact(move |tx| Box::pin(async move { Ok(gl::insert_job(tx, queued).await?) }))
            .await?;
        self.license_jobs_wake.notify_one();
        Ok(job)
    }

    /// One step of a `usersImport` job in the caller's transaction: the next rows written,
    /// progress and the counts so far recorded. Returns whether more remains. A row that
    /// cannot be written is an error naming its line (the step rolls back; the runner then
    /// stops the job: [`App::fail_import_job`]).
    pub(crate) async fn import_step(
        &self,
        tx: &mut Conn,
        job: &Job,
        actor: &Actor,
        token: &str,
        now: Time,
        lease_until: i64,
    ) -> AppResult<bool> {
        let payload: JobPayload = job
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .ok_or_else(|| anyhow::anyhow!("import job {} has no readable rows", job.id))?;
        let from = (job.processed.max(0) as usize).min(payload.rows.len());
        let to = (from + IMPORT_JOB_CHUNK).min(payload.rows.len());
        let so_far = ImportOutcome::of_job(job);
        if from == to {
            gl::finish(tx, job.id, token, "Completed", Some(&so_far.message()), now).await?;
            return Ok(false);
        }
        let rows = &payload.rows[from..to];
        let inputs: Vec<UserInput> = rows.iter().map(JobRow::input).collect();
        let mut fresh = Vec::with_capacity(inputs.len());
        for (r, input) in rows.iter().zip(&inputs) {
            fresh.push(new_user(actor, input, now).map_err(|e| at_line(r.line, e))?);
        }
        let o = write_users(tx, actor, &inputs, &fresh, payload.update_existing, now)
            .await
            .map_err(|(i, e)| at_line(rows.get(i).map(|r| r.line).unwrap_or(0), e))?;
        let total = ImportOutcome {
            created: so_far.created + o.created,
            updated: so_far.updated + o.updated,
            unchanged: so_far.unchanged + o.unchanged,
        };
        if !gl::advance(
            tx,
            job.id,
            token,
            lease_until,
            None,
            to as i64,
            0,
            payload.rows.len() as i64,
        )
        .await?
            || !gl::set_message(tx, job.id, token, &total.message()).await?
        {
            return Err(AppError::conflict(
                "jobClaimLost",
                "Another server took this job over.",
            ));
        }
        Ok(true)
    }

    /// Stops an import job whose next step was refused (its message says which line and
    /// why); the users of the steps before stay imported.
    pub(crate) async fn fail_import_job(
        &self,
        id: uuid::Uuid,
        token: &str,
        e: &AppError,
    ) -> AppResult<()> {
        let now = self.now();
        let why = e.to_string();
        let why = why.trim_end_matches('.');
        self.transact(move |tx| {
            Box::pin(async move {
                let Some(job) = gl::job_by_id(tx, id).await? else {
                    return Ok(());
                };
                let done = ImportOutcome::of_job(&job);
                let message = format!(
                    "{why}. The import stopped there (so far: {}); fix the row and import the file again, updating existing users, to finish.",
                    done.message()
                );
                gl::finish(tx, id, token, "Failed", Some(&message), now).await?;
                Ok(())
            })
        })
        .await
    }
}

/// What importing one row did.
enum Written {
    Created,
    Updated,
    Unchanged,
}

/// Creates (or, with `update_existing`, updates) one user of an import, audited, in the
/// caller's transaction.
async fn write_user(
    tx: &mut Conn,
    actor: &Actor,
    input: &UserInput,
    u: &User,
    update_existing: bool,
    now: Time,
) -> AppResult<Written> {
    match dir::get_user_by_upn(tx, actor.tenant_id, &u.upn)
        .await?
        .as_ref()
    {
        Some(before) if update_existing => {
            if input.account_enabled == Some(false) && before.account_enabled {
                guard_admin_change(tx, actor, before.id, AdminChange::Disable).await?;
            }
            let mut after = before.clone();
            apply(&mut after, input)?;
            if after == *before {
                return Ok(Written::Unchanged);
            }
            crate::directory::check_becoming_guest(tx, actor, before, &after).await?;
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
            Ok(Written::Updated)
        }
        Some(_) => Err(upn_taken(&u.upn)),
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
            Ok(Written::Created)
        }
    }
}

/// [`write_user`] for each of `inputs` (with `fresh`, the users they create); an error names
/// the index of the row that failed.
async fn write_users(
    tx: &mut Conn,
    actor: &Actor,
    inputs: &[UserInput],
    fresh: &[User],
    update_existing: bool,
    now: Time,
) -> Result<ImportOutcome, (usize, AppError)> {
    let mut outcome = ImportOutcome::default();
    for (i, (input, u)) in inputs.iter().zip(fresh).enumerate() {
        match write_user(tx, actor, input, u, update_existing, now).await {
            Ok(Written::Created) => outcome.created += 1,
            Ok(Written::Updated) => outcome.updated += 1,
            Ok(Written::Unchanged) => outcome.unchanged += 1,
            Err(e) => return Err((i, e)),
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn line_numbers_with_lf_crlf_blank_lines_and_quoted_newlines() {
        let lines_of = |data: &str| -> Vec<u64> {
            let idx = LineIndex::new(data.as_bytes());
            let mut rdr = csv::Reader::from_reader(data.as_bytes());
            rdr.records()
                .map(|r| idx.line(r.unwrap().position().unwrap().byte()))
                .collect()
        };
        assert_eq!(lines_of("a,b\n1,2\n3,4\n"), vec![2, 3]);
        assert_eq!(lines_of("a,b\r\n1,2\r\n3,4\r\n"), vec![2, 3]);
        assert_eq!(lines_of("a,b\r\n\r\n1,2\r\n\r\n3,4"), vec![3, 5]);
        assert_eq!(lines_of("a,b\r\n\"x\r\ny\",2\r\n3,4\r\n"), vec![2, 4]);
    }

    #[test]
    fn headers_are_case_insensitive_and_empty_cells_are_unset() {
        assert_eq!(
            Col::parse(" USERPRINCIPALNAME "),
            Some(Col::UserPrincipalName)
        );
        assert_eq!(Col::parse("\u{feff}displayname"), Some(Col::DisplayName));
        assert_eq!(Col::parse("manager"), None);
        let cols = [
            Col::UserPrincipalName,
            Col::DisplayName,
            Col::Mail,
            Col::AccountEnabled,
        ];
        let rec = csv::StringRecord::from(vec!["a@b.com", "A", "", "FALSE"]);
        let (input, problems) = row_input(&cols, &rec);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(input.mail, None);
        assert_eq!(input.account_enabled, Some(false));
        let rec = csv::StringRecord::from(vec!["", "", "", "no"]);
        let (_, problems) = row_input(&cols, &rec);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[2].contains("true or false"), "{problems:?}");
    }
}
