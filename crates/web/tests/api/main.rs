//! Integration tests: one binary, every test on SQLite and PostgreSQL (see `common`).

#[macro_use]
mod common;

mod concurrency;
mod smoke;
