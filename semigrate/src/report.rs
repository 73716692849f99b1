//! What the operations of a [`Migrator`](crate::Migrator) report: where a store stands
//! (`status`, the shape of `status --json` and `migration_state.json`) and its run log
//! (`history`).

pub use crate::engine::schema_check::{SchemaCheck, SchemaState};
pub use crate::engine::status::{Entry, ResolvedPaths, State, Status};
pub use crate::store::{LogEntry, Logged};
