//! What the build replays: the chain on an in-memory SQLite (`sqlite`) and, when a
//! server is given, on PostgreSQL (`postgres`), comparing schemas (`schema`) to prove
//! that each down undoes its up. Without a server, `lints` reads the PostgreSQL
//! text for what the server would have measured.

#[cfg(feature = "build")]
pub mod lints;
#[cfg(feature = "build")]
pub mod postgres;
pub mod schema;
#[cfg(feature = "build")]
mod sqlite;

#[cfg(feature = "build")]
pub use sqlite::replay;
