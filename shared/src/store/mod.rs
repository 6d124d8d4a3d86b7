//! I/O: DynamoDB and Redis. Nothing above this module builds a key or a script.

pub mod balance;
pub mod catalog;
pub mod dynamo;
pub mod items;
pub mod listing;
pub mod payments;
pub mod redis;
pub mod refunds;
pub mod schema;
pub mod scripts;
pub mod seats;
pub mod tickets;
