//! The runtime: plan a command against the history, run it on a store, report where
//! the store stands.

pub mod backup;
pub mod plan;
pub mod run;
pub mod state_file;
pub mod status;

pub use plan::{Direction, Plan};
pub use run::Done;
pub use status::{State, Status};
