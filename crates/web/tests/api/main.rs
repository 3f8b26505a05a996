//! Integration tests: one binary, every test on SQLite and PostgreSQL (see `common`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;

mod admins;
mod concurrency;
mod graph_groups;
mod graph_licenses;
mod graph_odata;
mod graph_users;
mod group_licensing;
mod group_licensing_sources;
mod license_requests;
mod license_requests_fixes;
mod license_requests_review;
mod limits;
mod operator;
mod pages_csrf;
mod pages_gone;
mod pages_group_licensing;
mod pages_home;
mod pages_licenses;
mod pages_lists;
mod pages_names;
mod pages_payment_methods;
mod pages_requests;
mod pages_self_service;
mod pages_users;
mod partners;
mod payment_methods;
mod policies;
mod rest_admin;
mod rest_api;
mod rest_helpers;
mod rest_licenses;
mod rest_scale;
mod rest_subscriptions;
mod seat_paths;
mod self_service;
mod self_service_fixes;
mod self_service_review;
mod sessions;
mod smoke;
mod tenants;
mod transactions;
