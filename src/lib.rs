//! The example chain, a road-accident database from 0.8.0 to 2.2.0, as a library:
//! the table its build compiled from `migrations/` (`CHAIN`, `Version`, `MIGRATIONS`,
//! `SETTINGS`) and the Rust steps that table calls. The `semigrate` binary
//! (`src/main.rs`) runs it; tests and examples use it as a crate.

pub mod steps;

semigrate::include_chain!();
