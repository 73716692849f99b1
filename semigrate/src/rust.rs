//! Rust steps: when no declarative op says it, a migration names a function of its
//! chain crate (`rust = "steps::score_risk"`, `op = "apply"`, a `rust` validation),
//! the build checks that the function exists with the right signature, and the
//! generated table calls it directly, so rustc checks the call too.
//!
//! ```
//! // src/steps.rs of a chain crate, declared in main.rs with `mod steps;`
//! use semigrate::rust::{CellOutcome, Context, Database, Outcome, Row};
//!
//! /// `rust = "steps::backfill"`: runs inside the migration's transaction.
//! pub fn backfill(cx: &mut Context) -> Outcome {
//!     match &mut cx.database {
//!         Database::Sqlite(conn) => conn.execute("UPDATE t SET n = 1", [])?,
//!         Database::Postgres(client) => client.execute("UPDATE t SET n = 1", &[])? as usize,
//!     };
//!     Ok(())
//! }
//!
//! /// `op = "apply"`, `function = "steps::upper_code"`: one cell, with its row.
//! pub fn upper_code(value: &str, row: &Row) -> CellOutcome {
//!     Ok(format!("{}-{}", row.get("dep").unwrap_or_default(), value.to_uppercase()))
//! }
//! ```
//!
//! The shape of the example chain's own (README, "Rust steps"):
//!
//! ```
//! use semigrate::rust::{CellOutcome, Context, Database, Outcome, Row};
//!
//! pub fn score_risk(cx: &mut Context) -> Outcome {
//!     match &mut cx.database {
//!         Database::Sqlite(conn) => { /* rusqlite, inside the migration's transaction */ }
//!         Database::Postgres(client) => { /* postgres, inside the migration's transaction */ }
//!     }
//!     Ok(())
//! }
//!
//! pub fn commune_in_departement(value: &str, row: &Row) -> CellOutcome {
//!     let dep = row.get("dep").unwrap_or_default();   // another cell of the row, by name
//!     Ok(value.strip_prefix(dep).unwrap_or(value).to_owned())
//! }
//! ```

use crate::version::SemVer;
use std::path::Path;

/// What a Rust step or check may fail with: any error, shown as its message.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// What a Rust step or check returns: `Err` rolls the migration back.
pub type Outcome = Result<(), Error>;

/// What an `apply` function returns: the cell's new value.
pub type CellOutcome = Result<String, Error>;

/// A Rust step or validation: `rust = "path::to::function"`.
pub type StepFn = fn(&mut Context<'_>) -> Outcome;

/// The function of an `apply` op: a cell's value and its row, to the new value.
pub type ApplyFn = fn(&str, &Row<'_>) -> CellOutcome;

/// What a Rust step or check works with.
pub struct Context<'a> {
    /// The store, inside the migration's transaction.
    pub database: Database<'a>,
    /// The folder CSV paths are relative to.
    pub data_dir: &'a Path,
    /// The version the migration brings the store to (or, for a check, is at).
    pub version: SemVer,
}

/// The store's connection, in the migration's transaction: change data here, not
/// schema (a step that changes the schema fails the migration).
pub enum Database<'a> {
    /// A SQLite store.
    Sqlite(&'a rusqlite::Connection),
    /// A PostgreSQL store; its search path is the store's schema.
    Postgres(&'a mut postgres::Client),
}

/// A CSV row as an `apply` function sees it: its cells by column name, as the ops
/// before this one left them.
pub struct Row<'a> {
    pub(crate) names: &'a [String],
    pub(crate) cells: &'a [String],
}

impl Row<'_> {
    /// The cell of `column`, if the row has that column.
    pub fn get(&self, column: &str) -> Option<&str> {
        let i = self.names.iter().position(|n| n == column)?;
        self.cells.get(i).map(String::as_str)
    }
}

/// Runs user code, turning a panic into an error with its message.
pub(crate) fn guarded<T>(call: impl FnOnce() -> Result<T, Error>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(format!(
            "panicked: {}",
            panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_gives_its_cells_by_name() {
        let names = ["dep".to_owned(), "com".to_owned()];
        let cells = ["59".to_owned(), "59350".to_owned()];
        let row = Row {
            names: &names,
            cells: &cells,
        };
        assert_eq!(row.get("com"), Some("59350"));
        assert_eq!(row.get("lat"), None);
    }

    #[test]
    fn errors_and_panics_become_messages() {
        assert_eq!(guarded(|| Ok(1)), Ok(1));
        assert_eq!(guarded::<()>(|| Err("no".into())), Err("no".into()));
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let panicked = guarded::<()>(|| panic!("at {}", 3));
        std::panic::set_hook(hook);
        assert_eq!(panicked, Err("panicked: at 3".into()));
    }
}
