//! The rules, free of I/O.

pub mod ids;
pub mod money;
pub mod queue;

pub use ids::{ConcertDate, ConcertId, Invalid, QueueToken, ReservationId, SeatNo, UserId};
pub use money::{Amount, Won};
