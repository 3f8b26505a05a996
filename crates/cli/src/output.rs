//! Printing: readable tables, JSON, and files, without panicking on a closed pipe.

use anyhow::Context;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Buffered standard output. Write errors (a closed pipe) come back as errors, never panics.
pub fn stdout() -> BufWriter<io::StdoutLock<'static>> {
    BufWriter::new(io::stdout().lock())
}

/// Standard output, or a new file at `path`.
pub fn sink(path: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => Box::new(BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?,
        )),
        None => Box::new(stdout()),
    })
}

/// Prints `v` as pretty JSON followed by a newline.
pub fn json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = stdout();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// Prints lines of text.
pub fn lines<I: IntoIterator<Item = String>>(lines: I) -> anyhow::Result<()> {
    let mut out = stdout();
    for l in lines {
        writeln!(out, "{l}")?;
    }
    out.flush()?;
    Ok(())
}

/// A text table with a header row; columns are as wide as their widest cell.
pub struct Table {
    head: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    /// Columns aligned to the right (numbers).
    right: Vec<usize>,
}

impl Table {
    pub fn new(head: &[&'static str]) -> Table {
        Table {
            head: head.to_vec(),
            rows: Vec::new(),
            right: Vec::new(),
        }
    }

    /// Aligns these columns (0-based) to the right.
    pub fn right(mut self, cols: &[usize]) -> Table {
        self.right = cols.to_vec();
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let n = self.head.len();
        let mut width: Vec<usize> = self.head.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let line = |cells: Vec<&str>, out: &mut dyn Write| -> io::Result<()> {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                let pad = width[i].saturating_sub(c.chars().count());
                let last = i + 1 == cells.len();
                if self.right.contains(&i) {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    if !last {
                        s.push_str(&" ".repeat(pad));
                    }
                }
                if !last {
                    s.push_str("  ");
                }
            }
            writeln!(out, "{}", s.trim_end())
        };
        line(self.head.clone(), out)?;
        for r in &self.rows {
            line(r.iter().map(String::as_str).take(n).collect(), out)?;
        }
        Ok(())
    }

    /// Prints the table, or `empty` when it has no rows.
    pub fn print(&self, empty: &str) -> anyhow::Result<()> {
        let mut out = stdout();
        if self.is_empty() {
            writeln!(out, "{empty}")?;
        } else {
            self.write(&mut out)?;
        }
        out.flush()?;
        Ok(())
    }
}

/// An optional value for a table cell.
pub fn cell(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".into())
}

/// A time for a table cell: date and minutes, UTC.
pub fn when(t: seatkeeper_domain::Time) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

pub fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let mut t = Table::new(&["NAME", "N"]).right(&[1]);
        t.row(vec!["a".into(), "10".into()]);
        t.row(vec!["longer".into(), "2".into()]);
        let mut buf = Vec::new();
        t.write(&mut buf).unwrap();
        let s = String::from_utf8(buf).unwrap();
        assert_eq!(s, "NAME     N\na       10\nlonger   2\n");
    }
}
