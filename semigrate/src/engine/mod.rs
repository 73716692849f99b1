//! The runtime, and the one orchestrator: one entry per operation (`migrate` for
//! upgrade and downgrade, `dry_run`, `baseline`, `accept_checksum`, `verify`,
//! `status`, `history`), each taking a store and its `Options` and doing the lock,
//! recovery, plan, backup, run, log and state file that operation needs. The CLI and
//! `Migrator` call these; neither sequences a store itself.

pub mod backup;
mod baseline;
mod binding;
pub mod migrate;
mod options;
pub mod paths;
pub mod plan;
mod repair;
pub mod run;
pub mod schema_check;
pub mod state_file;
pub mod status;
mod verify;

#[cfg(feature = "cli")]
pub use baseline::adopt;
pub use baseline::baseline;
pub use migrate::{Request, dry_run, migrate};
pub use options::Options;
pub use paths::{Anchor, Paths};
pub use plan::Direction;
pub use repair::{Repair, accept_checksum};
pub use status::{history, status};
pub use verify::{Verified, verify};
