//! The seed flows' steps: the rules applied through the stores. Handlers call these.

pub mod balance;
pub mod catalog;
pub mod holds;
pub mod idempotency;
pub mod listing;
pub mod payments;
pub mod queue;
pub mod refunds;
pub mod seats;
pub mod tickets;
