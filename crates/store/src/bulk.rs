//! Lists bound as one parameter. A statement about many rows (the users of a chunk, the
//! assignments a group gives) binds its list as a single JSON array instead of one
//! placeholder per value: SQLite looks each numbered placeholder up by a linear scan, so a
//! statement with `n` placeholders costs `n²` before it runs, and a statement with a fixed
//! text is prepared once and cached. This is the one place where the SQL differs per backend:
//! SQLite reads the array with `json_each`, PostgreSQL with `jsonb_array_elements`.

use crate::Conn;
use serde_json::Value;

/// Whether `conn` is a SQLite connection (otherwise PostgreSQL).
pub(crate) fn sqlite(conn: &Conn) -> bool {
    conn.backend_name() == "SQLite"
}

/// A subquery giving the texts of the JSON array bound at `$n`, for `col IN (…)`.
pub(crate) fn texts(conn: &Conn, n: usize) -> String {
    if sqlite(conn) {
        format!("SELECT value FROM json_each(${n})")
    } else {
        format!("SELECT jsonb_array_elements_text(${n}::jsonb)")
    }
}

/// A JSON array of the items' texts (ids, names), for [`texts`].
pub(crate) fn text_list<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    Value::Array(
        items
            .into_iter()
            .map(|i| Value::String(i.to_string()))
            .collect(),
    )
    .to_string()
}

/// The type of a column read by [`rows`].
#[derive(Clone, Copy)]
pub(crate) enum Col {
    Text,
    Int,
}

/// A `SELECT` giving one row per element of the JSON array of arrays bound at `$n`, the
/// columns in the order of `cols` and the rows in the array's order, for `INSERT INTO t (…) <rows>` (ends in a `WHERE` so
/// that an `ON CONFLICT` clause may follow on SQLite). JSON nulls are SQL NULLs.
pub(crate) fn rows(conn: &Conn, n: usize, cols: &[Col]) -> String {
    let sqlite = sqlite(conn);
    let exprs: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| match (sqlite, c) {
            (true, _) => format!("value ->> {i}"),
            (false, Col::Text) => format!("r.v ->> {i}"),
            (false, Col::Int) => format!("(r.v ->> {i})::bigint"),
        })
        .collect();
    if sqlite {
        format!(
            "SELECT {} FROM json_each(${n}) WHERE true ORDER BY key",
            exprs.join(", ")
        )
    } else {
        format!(
            "SELECT {} FROM jsonb_array_elements(${n}::jsonb) WITH ORDINALITY AS r(v, k) WHERE true ORDER BY r.k",
            exprs.join(", ")
        )
    }
}

/// The rows for [`rows`]: a JSON array of arrays.
pub(crate) fn row_list(rows: impl IntoIterator<Item = Vec<Value>>) -> String {
    Value::Array(rows.into_iter().map(Value::Array).collect()).to_string()
}
