//! Lists bound as one parameter. A statement about many rows (the users of a chunk, the
//! assignments a group gives) binds its list as a single JSON array instead of one
//! placeholder per value: SQLite looks each numbered placeholder up by a linear scan, so a
//! statement with `n` placeholders costs `n²` before it runs, and a statement with a fixed
//! text is prepared once and cached. The SQL that reads the array differs per backend: SQLite
//! reads a list with `json_each` and an array of rows ([`rows`]) with `jsonb_each`, PostgreSQL
//! with `jsonb_array_elements`.

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

/// `col` as a term that does not choose the index: on SQLite `+col`, which keeps the planner
/// from looking rows up by that column (PostgreSQL plans by its statistics and gets `col`).
/// For a list of keys bound with [`texts`] that should drive the lookup through its own
/// index: without it, SQLite reads every license of the organization through
/// `(tenant_id, sku_id, user_id)` to find a few users' licenses.
pub(crate) fn unindexed(conn: &Conn, col: &str) -> String {
    if sqlite(conn) {
        format!("+{col}")
    } else {
        col.to_string()
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
    rows_on(sqlite(conn), n, cols)
}

/// [`rows`] for SQLite (`sqlite`) or PostgreSQL.
pub(crate) fn rows_on(sqlite: bool, n: usize, cols: &[Col]) -> String {
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
        // `jsonb_each`: its `value` for an array (a row) is the row in SQLite's binary JSON,
        // which `->>` reads as it is. `json_each` gave each row as JSON text, made again for
        // every column read, which `->>` then found in SQLite's cache of parsed JSON by
        // comparing the whole text: 8 audit entries' rows (about 2 KB each, with the
        // licenses before and after) took about 100 µs that way, and 55–80 µs with
        // `jsonb_each`.
        format!(
            "SELECT {} FROM jsonb_each(${n}) WHERE true ORDER BY key",
            exprs.join(", ")
        )
    } else {
        format!(
            "SELECT {} FROM jsonb_array_elements(${n}::jsonb) WITH ORDINALITY AS r(v, k) WHERE true ORDER BY r.k",
            exprs.join(", ")
        )
    }
}

/// The rows for [`rows`]: a JSON array of arrays, each row a tuple (serialized as an array)
/// of texts, integers and `Option`s of them (`None` is JSON null), borrowed where they can
/// be: written straight to the text, with no [`Value`] per column and no copy of the
/// longer texts (an audit entry's before and after). Such rows cannot fail to serialize;
/// were one to, the text is empty, not JSON, and the statement that reads it fails.
pub(crate) fn row_list<R: serde::Serialize>(rows: impl IntoIterator<Item = R>) -> String {
    let mut out = Vec::new();
    let written =
        serde::Serializer::collect_seq(&mut serde_json::Serializer::new(&mut out), rows).is_ok();
    if written {
        String::from_utf8(out).unwrap_or_default()
    } else {
        String::new()
    }
}

/// A `SELECT` of one text column `rows`: the rows of `inner` as a JSON array of arrays, each
/// with the values of `cols` (column names of `inner`) in that order, in the order `order`
/// (an `ORDER BY` list over those columns). Read it with [`fetch_rows`].
///
/// Many rows read as one value: SQLite hands each row of a result from its connection thread
/// to the caller on its own (a copy of every value and a thread hand-off per row, about 10 µs
/// a row, where SQLite itself reads the row in 1–2 µs), so a job step reading 5,000 members'
/// users, licenses and sources spent most of its time receiving rows. `inner` may lock its
/// rows (`FOR UPDATE` on PostgreSQL).
pub(crate) fn json_rows(conn: &Conn, inner: &str, cols: &[&str], order: &str) -> String {
    let list = cols.join(", ");
    if sqlite(conn) {
        format!(
            "SELECT json_group_array(json_array({list}) ORDER BY {order}) AS rows FROM ({inner})"
        )
    } else {
        format!(
            "SELECT COALESCE(json_agg(json_build_array({list}) ORDER BY {order}), '[]')::text AS rows FROM ({inner}) AS s"
        )
    }
}

/// One row read by [`fetch_rows`]: its values by column name.
pub(crate) struct JsonRow<'c> {
    cols: &'c [&'c str],
    vals: Vec<Value>,
}

impl JsonRow<'_> {
    fn value(&self, c: &str) -> crate::Result<&Value> {
        self.cols
            .iter()
            .position(|n| *n == c)
            .and_then(|i| self.vals.get(i))
            .ok_or_else(|| sqlx::Error::ColumnNotFound(c.to_string()))
    }
}

fn wrong_type(c: &str, v: &Value) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: c.to_string(),
        source: format!("unexpected JSON value {v}").into(),
    }
}

impl crate::Fields for JsonRow<'_> {
    fn opt_text(&self, c: &str) -> crate::Result<Option<String>> {
        match self.value(c)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            v => Err(wrong_type(c, v)),
        }
    }
    fn opt_int(&self, c: &str) -> crate::Result<Option<i64>> {
        match self.value(c)? {
            Value::Null => Ok(None),
            Value::Number(n) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| wrong_type(c, &Value::Number(n.clone()))),
            v => Err(wrong_type(c, v)),
        }
    }
}

/// Runs a query made with [`json_rows`] and returns its rows, whose columns are `cols` (the
/// same list).
pub(crate) async fn fetch_rows<'c>(
    conn: &mut Conn,
    query: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
    cols: &'c [&'c str],
) -> crate::Result<Vec<JsonRow<'c>>> {
    use sqlx::Row;
    let row = query.fetch_one(&mut *conn).await?;
    parse_rows(row.try_get("rows")?, cols)
}

fn parse_rows<'c>(text: String, cols: &'c [&'c str]) -> crate::Result<Vec<JsonRow<'c>>> {
    let rows: Vec<Vec<Value>> =
        serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(rows
        .into_iter()
        .map(|vals| JsonRow { cols, vals })
        .collect())
}

/// A `SELECT` of one row whose columns `r0`, `r1`, … are the results of `parts` (each made
/// with [`json_rows`]): several reads in one statement, one hand-off instead of one each.
/// Read it with [`fetch_parts`].
pub(crate) fn json_parts(parts: &[String]) -> String {
    let cols: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| format!("({p}) AS r{i}"))
        .collect();
    format!("SELECT {}", cols.join(", "))
}

/// Runs a query made with [`json_parts`]: per part, its rows, whose columns are that part's
/// entry of `cols`.
pub(crate) async fn fetch_parts<'c>(
    conn: &mut Conn,
    query: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
    cols: &[&'c [&'c str]],
) -> crate::Result<Vec<Vec<JsonRow<'c>>>> {
    use sqlx::Row;
    // All results, not `fetch_one`: a text that begins its transaction first
    // ([`crate::holders::read`]'s `begin`) has the `BEGIN`'s result before the row, and the
    // driver's `fetch_one` looks at the first result only.
    let row = query
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .next()
        .ok_or(sqlx::Error::RowNotFound)?;
    cols.iter()
        .enumerate()
        .map(|(i, c)| parse_rows(row.try_get(format!("r{i}").as_str())?, c))
        .collect()
}

/// Several writes made in one statement, one round trip instead of one each: on SQLite the
/// statements one after the other in one text (its parameters are numbered across the whole
/// text), on PostgreSQL all but the last as data-modifying `WITH` queries of the last. Each
/// part binds JSON texts only; [`Writes::param`] numbers the next part's first one. A failing
/// part fails the whole, and the caller's transaction is rolled back.
pub struct Writes {
    sqlite: bool,
    parts: Vec<String>,
    args: Vec<String>,
}

impl Writes {
    pub fn new(conn: &Conn) -> Writes {
        Writes {
            sqlite: sqlite(conn),
            parts: Vec::new(),
            args: Vec::new(),
        }
    }

    /// The number the next bound value gets (`$n`).
    pub(crate) fn param(&self) -> usize {
        self.args.len() + 1
    }

    /// [`rows`] for this statement's backend, reading the JSON array bound at `$n`.
    pub(crate) fn rows(&self, n: usize, cols: &[Col]) -> String {
        rows_on(self.sqlite, n, cols)
    }

    /// Whether the writes are for SQLite (otherwise PostgreSQL).
    pub(crate) fn sqlite(&self) -> bool {
        self.sqlite
    }

    /// Adds a write whose parameters are numbered from [`Writes::param`] on, in the order of
    /// `args`. Only the last part may return rows (`RETURNING id`).
    pub(crate) fn push(&mut self, sql: String, args: Vec<String>) {
        self.parts.push(sql);
        self.args.extend(args);
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Makes the writes; returns the `id` column of the rows the last part returns.
    pub async fn run(self, conn: &mut Conn) -> crate::Result<Vec<String>> {
        use sqlx::Row;
        let Some((last, rest)) = self.parts.split_last() else {
            return Ok(Vec::new());
        };
        let sql = if self.sqlite {
            self.parts.join(";\n")
        } else if rest.is_empty() {
            last.clone()
        } else {
            let with: Vec<String> = rest
                .iter()
                .enumerate()
                .map(|(i, p)| format!("w{i} AS ({p})"))
                .collect();
            format!("WITH {} {last}", with.join(", "))
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in self.args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&mut *conn).await?;
        rows.iter().map(|r| r.try_get::<String, _>("id")).collect()
    }
}
