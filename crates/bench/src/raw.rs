//! SQLite through its C interface on the calling thread, for the database-alone ceiling
//! without a driver in between: sqlx runs each SQLite connection on a thread of its own, and
//! every statement is a round trip to it. This is the same SQLite library the server links
//! (`libsqlite3-sys`, as sqlx builds it).

use anyhow::{Context, bail};
use libsqlite3_sys as ffi;
use std::ffi::{CStr, CString, c_char, c_int};
use std::path::Path;

/// A value bound to a statement's parameter.
pub enum Value<'a> {
    Text(&'a str),
    Int(i64),
    Null,
}

/// An open database connection, used from one thread; closed when dropped (its statements,
/// which borrow it, are finalized first).
pub struct Connection {
    db: *mut ffi::sqlite3,
}

impl Connection {
    /// Opens the existing database file at `path` for reading and writing, without SQLite's
    /// per-connection mutex (as sqlx opens its connections).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let name = CString::new(path.to_str().context("the database path is not UTF-8")?)?;
        let mut db = std::ptr::null_mut();
        // SAFETY: `name` is NUL-terminated and outlives the call; SQLite writes the new handle
        // (or null when out of memory) to `db`, which `Drop` closes either way.
        let rc = unsafe {
            ffi::sqlite3_open_v2(
                name.as_ptr(),
                &mut db,
                ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX,
                std::ptr::null(),
            )
        };
        let conn = Connection { db };
        if rc != ffi::SQLITE_OK {
            bail!("cannot open {}: {}", path.display(), conn.message());
        }
        Ok(conn)
    }

    /// SQLite's message for the last failure on this connection.
    fn message(&self) -> String {
        if self.db.is_null() {
            return "out of memory".into();
        }
        // SAFETY: `db` is an open handle; the message is NUL-terminated and owned by SQLite
        // until the next call on the handle, and is copied at once.
        unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.db)) }
            .to_string_lossy()
            .into_owned()
    }

    /// Runs `sql` (one or more statements, no parameters, rows ignored).
    pub fn execute(&self, sql: &str) -> anyhow::Result<()> {
        let text = CString::new(sql)?;
        // SAFETY: `db` is open and `text` NUL-terminated; no callback, no error string.
        let rc = unsafe {
            ffi::sqlite3_exec(
                self.db,
                text.as_ptr(),
                None,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            bail!("{sql}: {}", self.message());
        }
        Ok(())
    }

    /// Prepares `sql`, one statement whose parameters are `$1`, `$2`… (the store's
    /// placeholders), each bound by position in [`Statement::run`].
    pub fn prepare(&self, sql: &str) -> anyhow::Result<Statement<'_>> {
        let len = c_int::try_from(sql.len()).context("statement too long")?;
        let mut stmt = std::ptr::null_mut();
        let mut tail: *const c_char = std::ptr::null();
        // SAFETY: `db` is open; `sql` is valid for `len` bytes (no NUL needed with a length);
        // the prepared statement (or null) is written to `stmt`, and to `tail` where in `sql`
        // the first statement ended.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(
                self.db,
                sql.as_ptr().cast::<c_char>(),
                len,
                &mut stmt,
                &mut tail,
            )
        };
        if rc != ffi::SQLITE_OK || stmt.is_null() {
            bail!("cannot prepare {sql}: {}", self.message());
        }
        let mut s = Statement {
            conn: self,
            stmt,
            slots: Vec::new(),
        };
        let used = (tail as usize).saturating_sub(sql.as_ptr() as usize);
        if !sql.get(used..).unwrap_or("").trim().is_empty() {
            bail!("{sql}: one statement only");
        }
        // SAFETY: `stmt` is a prepared statement of this connection.
        let count = unsafe { ffi::sqlite3_bind_parameter_count(stmt) };
        for n in 1..=count {
            let name = CString::new(format!("${n}"))?;
            // SAFETY: as above; `name` is NUL-terminated.
            let slot = unsafe { ffi::sqlite3_bind_parameter_index(stmt, name.as_ptr()) };
            if slot == 0 {
                bail!("{sql}: its parameters must be $1 to ${count}");
            }
            s.slots.push(slot);
        }
        Ok(s)
    }

    /// Rows changed by the last write on this connection.
    pub fn changes(&self) -> i64 {
        // SAFETY: `db` is open.
        unsafe { ffi::sqlite3_changes64(self.db) }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // SAFETY: every statement borrowed the connection and has been finalized; closing a
        // null handle is a no-op.
        unsafe {
            ffi::sqlite3_close(self.db);
        }
    }
}

/// A prepared statement, reused from run to run; finalized when dropped.
pub struct Statement<'c> {
    conn: &'c Connection,
    stmt: *mut ffi::sqlite3_stmt,
    /// The slot of `$1`, `$2`… in order.
    slots: Vec<c_int>,
}

impl Statement<'_> {
    /// Runs the statement with `params` as `$1`, `$2`…, reading every column of every row as
    /// a driver would decode it (integers as integers, the rest copied out as text), and
    /// returns the number of rows.
    pub fn run(&mut self, params: &[Value]) -> anyhow::Result<usize> {
        if params.len() != self.slots.len() {
            bail!(
                "{} values for {} parameters",
                params.len(),
                self.slots.len()
            );
        }
        // SAFETY: `stmt` is a prepared statement of the open connection `conn`.
        unsafe {
            ffi::sqlite3_reset(self.stmt);
        }
        for (slot, v) in self.slots.iter().zip(params) {
            // SAFETY: as above; SQLITE_TRANSIENT makes SQLite copy the text before returning,
            // so the borrowed `&str` need not outlive the call.
            let rc = unsafe {
                match v {
                    Value::Text(t) => ffi::sqlite3_bind_text(
                        self.stmt,
                        *slot,
                        t.as_ptr().cast::<c_char>(),
                        c_int::try_from(t.len()).context("value too long")?,
                        ffi::SQLITE_TRANSIENT(),
                    ),
                    Value::Int(n) => ffi::sqlite3_bind_int64(self.stmt, *slot, *n),
                    Value::Null => ffi::sqlite3_bind_null(self.stmt, *slot),
                }
            };
            if rc != ffi::SQLITE_OK {
                bail!("cannot bind a value: {}", self.conn.message());
            }
        }
        let mut rows = 0;
        let mut read = 0usize;
        loop {
            // SAFETY: as above.
            match unsafe { ffi::sqlite3_step(self.stmt) } {
                ffi::SQLITE_ROW => {
                    rows += 1;
                    // SAFETY: as above, on the row just stepped to; a text pointer is valid
                    // for `sqlite3_column_bytes` bytes until the next step, and is copied now.
                    unsafe {
                        for c in 0..ffi::sqlite3_column_count(self.stmt) {
                            match ffi::sqlite3_column_type(self.stmt, c) {
                                ffi::SQLITE_NULL => {}
                                ffi::SQLITE_INTEGER => {
                                    read += ffi::sqlite3_column_int64(self.stmt, c) as usize & 1;
                                }
                                _ => {
                                    let p = ffi::sqlite3_column_text(self.stmt, c);
                                    let n = ffi::sqlite3_column_bytes(self.stmt, c);
                                    if !p.is_null() {
                                        let bytes = std::slice::from_raw_parts(
                                            p,
                                            usize::try_from(n).unwrap_or(0),
                                        );
                                        read += String::from_utf8_lossy(bytes).into_owned().len();
                                    }
                                }
                            }
                        }
                    }
                }
                ffi::SQLITE_DONE => break,
                _ => {
                    let message = self.conn.message();
                    // SAFETY: as above; the statement is left ready to run again.
                    unsafe {
                        ffi::sqlite3_reset(self.stmt);
                    }
                    bail!("the statement failed: {message}");
                }
            }
        }
        std::hint::black_box(read);
        Ok(rows)
    }
}

impl Drop for Statement<'_> {
    fn drop(&mut self) {
        // SAFETY: `stmt` is a prepared statement, finalized once, here.
        unsafe {
            ffi::sqlite3_finalize(self.stmt);
        }
    }
}
