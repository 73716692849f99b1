//! What the build replays: the chain on an in-memory SQLite (`sqlite`) and, when a
//! server is given, on PostgreSQL (`postgres`), comparing schemas
//! (`store::schema`) to prove that each down undoes its up. Without a server, `lints`
//! reads the PostgreSQL text for what the server would have measured.

pub mod lints;
pub mod postgres;
mod sqlite;

pub use sqlite::replay;
