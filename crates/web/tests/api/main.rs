//! Integration tests: one binary, every test on SQLite and PostgreSQL (see `common`).

#[macro_use]
mod common;

mod concurrency;
mod graph_groups;
mod graph_licenses;
mod graph_odata;
mod graph_users;
mod limits;
mod rest_admin;
mod rest_api;
mod rest_helpers;
mod rest_licenses;
mod rest_scale;
mod rest_subscriptions;
mod smoke;
mod transactions;
