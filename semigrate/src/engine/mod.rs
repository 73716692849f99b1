//! The runtime: plan a command against the history, run it on a store, report where
//! the store stands.

pub mod backup;
pub mod migrate;
pub mod paths;
pub mod plan;
pub mod run;
pub mod schema_check;
pub mod state_file;
pub mod status;

pub use migrate::{Options, Request, migrate};
pub use paths::{Anchor, Paths};
pub use plan::Direction;
pub use run::Patience;
pub use status::Status;
