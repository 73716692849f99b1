//! semigrate: declarative SQL and CSV migrations, proven at build time and compiled
//! into one binary that upgrades and downgrades a store between SemVer versions.
//!
//! A chain crate holds its specs in `migrations/` and uses this library twice, as
//! prost is used: its build script proves the chain and writes the table
//! (`build::compile`, with the `build` feature), and its binary includes that table and
//! hands it to the command line ([`cli::main`]) or, inside an application, to a
//! [`Migrator`].
//!
//! ```toml
//! [dependencies]
//! semigrate = "3"
//! [build-dependencies]
//! semigrate = { version = "3", features = ["build"] }
//! ```
//!
//! ```ignore
//! // build.rs
//! fn main() {
//!     if semigrate::build::compile().is_err() {
//!         std::process::exit(1);
//!     }
//! }
//! ```
//!
//! ```ignore
//! // src/main.rs: every command (upgrade, downgrade, status, …) for this chain
//! semigrate::include_chain!();
//!
//! fn main() -> std::process::ExitCode {
//!     semigrate::cli::main(&CHAIN)
//! }
//! ```
//!
//! `semigrate init DIR` writes such a crate, ready to build.
//!
//! # The face
//!
//! - [`Chain`]: what a chain crate's build compiled (`CHAIN` of the included table),
//!   its versions as [`SemVer`].
//! - [`cli::main`] (the default `cli` feature): every command, for that chain.
//! - [`Migrator`]: the same operations from an application's own code, on a
//!   [`Target`]: a lent `rusqlite::Connection`, a [`Sqlite`] file or a [`Postgres`]
//!   server. What `status` and `history` return is in [`report`]; every failure is an
//!   [`Error`], whose [`Error::exit_code`] the CLI exits with.
//! - [`rust`]: what a Rust step, check or `apply` function of the chain crate sees.
//! - `build::compile` (the `build` feature): the proof and the codegen, for a build
//!   script; [`include_chain!`] includes what it wrote.
//!
//! An application that only embeds the Migrator turns the CLI off and compiles neither
//! clap nor indicatif:
//!
//! ```toml
//! [dependencies]
//! semigrate = { version = "3", default-features = false }
//! ```

#![warn(missing_docs)]
// The doc examples are whole build scripts and binaries: their `fn main` is the point.
#![allow(clippy::needless_doctest_main)]

#[cfg(feature = "build")]
pub mod build;
#[cfg(feature = "cli")]
pub mod cli;
mod data;
mod durable;
mod engine;
mod error;
mod fault;
mod fk_check;
#[cfg(feature = "cli")]
mod fleet;
#[cfg(feature = "cli")]
mod import;
mod migrator;
mod model;
#[cfg(any(feature = "cli", feature = "build"))]
mod proof;
pub mod report;
pub mod rust;
// What new, init and schema (cli) and the build know of spec files.
#[cfg(any(feature = "cli", feature = "build"))]
mod spec_file;
mod sqlite_error;
mod statements;
mod store;
mod version;

pub use error::{Error, Result};

/// The CSV engine, for the fuzz targets in `fuzz/` (cargo fuzz builds with
/// `--cfg fuzzing`); not part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::data::{flow, stream};
}
pub use migrator::{Migrator, Postgres, Sqlite, Target};

/// What the generated table names (`include_chain!`), and the library's own tests:
/// the table format, which is not part of the API and changes with the library.
#[doc(hidden)]
pub mod __private {
    pub use crate::model::*;
}
pub use model::{Chain, SemVer};
/// The SQLite and PostgreSQL clients a Rust step is handed, at the versions semigrate
/// uses.
pub use {postgres, rusqlite};

/// Includes the table that the build script wrote (`OUT_DIR/migrations.rs`): the
/// `Version` enum, `MIGRATIONS`, `SETTINGS`, and `CHAIN`, which bundles them for
/// [`cli::main`] and [`Migrator::new`].
#[macro_export]
macro_rules! include_chain {
    () => {
        include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
    };
}
