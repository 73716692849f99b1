//! semigrate: declarative SQL migrations, proven at build time and compiled into one
//! binary that upgrades and downgrades a store between SemVer versions.
//!
//! The build script reads `migrations/*.toml` through [`spec`], checks the chain with
//! [`chain`], replays it with [`verify`], and renders the table that [`compiled`] holds.
//! The runtime ([`engine`], [`store`]) knows nothing about TOML. An application that
//! depends on this crate runs the compiled chain at start-up with [`Migrator`].

#![warn(missing_docs)]

// The generated table names `::semigrate::…`, which must resolve inside this crate too.
extern crate self as semigrate;

#[cfg(feature = "build")]
pub mod build;
pub mod chain;
pub mod cli;
#[cfg(feature = "build")]
pub mod codegen;
pub mod compiled;
pub mod config;
pub mod data;
pub mod diagnostic;
pub mod engine;
pub mod error;
pub mod fault;
pub mod fk_check;
pub mod migrator;
pub mod model;
pub mod spec;
pub mod sqlite_error;
pub mod store;
pub mod verify;

pub use migrator::Migrator;
