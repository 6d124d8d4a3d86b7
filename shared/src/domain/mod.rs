//! The rules, free of I/O.

pub mod catalog;
pub mod ids;
pub mod money;
pub mod operator;
pub mod paging;
pub mod queue;
pub mod reservations;
pub mod seats;
pub mod tickets;
pub mod token;

pub use ids::{
    ChargeId, ConcertDate, ConcertId, IdempotencyKey, Invalid, PaymentId, QueueToken,
    ReservationId, SeatNo, UserId,
};
pub use money::{Amount, Won};
pub use reservations::{Reservation, ReservationStatus};
