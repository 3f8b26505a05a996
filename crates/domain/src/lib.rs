//! Seatkeeper's domain: pure types and rules. No I/O, no async; time is a parameter.

pub mod assignment;
pub mod audit;
pub mod catalog;
pub mod change;
pub mod directory;
pub mod error;
pub mod ids;
pub mod kinds;
pub mod lifecycle;
pub mod location;
pub mod payment;
pub mod plans;
pub mod requests;
pub mod roles;
pub mod seats;
pub mod selfservice;
pub mod sources;
pub mod subscription;
pub mod tenant;

pub use error::{DomainError, UserProblem};
pub use ids::*;

/// Timestamps are UTC.
pub type Time = chrono::DateTime<chrono::Utc>;

/// The interactive batch limit for assigning licenses (seed: "up to 20 users at a time").
pub const MAX_BATCH_USERS: usize = 20;
