//! The seed flows' steps: the rules applied through the stores. Handlers call these.

pub mod queue;
