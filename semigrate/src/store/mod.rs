//! The store behind one narrow interface: transactions, statements, the history and
//! the run log. Each engine is one file; the engine module never sees which.

pub mod postgres;
pub mod schema;
pub mod sqlite;

use crate::data::swap::Swap;
use crate::error::Result;
use crate::model::LoadStep;
use crate::model::{DownSteps, Engine, Revert, SemVer};
use serde::Serialize;
use std::path::Path;

/// A value read back by a validation query.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer.
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// What a validation query returned: the first column of the first row, and whether
/// there were zero, one, or more rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Rows {
    /// The first column of the first row, if any row.
    pub first: Option<Value>,
    /// How many rows there were.
    pub count: RowCount,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// How many rows a validation query returned.
pub enum RowCount {
    /// No row.
    None,
    /// Exactly one row.
    One,
    /// More than one row.
    Many,
}

/// One row of `semigrate_migrations`: a version the store is at or above.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Applied {
    /// The version applied.
    pub version: SemVer,
    /// Its description as applied.
    pub description: String,
    /// The checksum of its spec as applied.
    pub checksum: String,
    /// When it was applied (UTC, RFC 3339). Empty in a row to record: the store's
    /// clock as it writes the row, with no round trip to read it first.
    pub applied_at: String,
    /// How long its transaction took.
    pub duration_ms: i64,
    /// How to revert it, as it was when applied.
    #[serde(skip)]
    pub revert: DownSteps,
}

impl Applied {
    /// How to revert it; steps that do not read mean a row semigrate did not write.
    pub fn down_steps(&self) -> std::result::Result<&Revert, String> {
        self.revert.decoded().map_err(|e| {
            format!(
                "semigrate_migrations has a row for `{}` that semigrate did not write: its down steps do not read: {e}",
                self.version
            )
        })
    }
}

/// The history with every row's down steps decoded, as a run that plans needs it: one
/// whose steps do not read is a row semigrate did not write, and stops the run before
/// anything changes. `Store::history` alone leaves them as read.
pub fn checked_history(store: &mut dyn Store) -> Result<Vec<Applied>> {
    let history = store.history()?;
    if let Some(reason) = history.iter().find_map(|a| a.down_steps().err()) {
        return Err(crate::error::Error::Store {
            database: store.describe(),
            reason,
        });
    }
    Ok(history)
}

/// A history row as either engine reads it: version, description, checksum,
/// applied_at, duration_ms, and the down steps as JSON (None: not asked for).
pub(crate) type HistoryRow = (String, String, String, String, i64, Option<String>);

/// The query both engines read the history with: the down steps are the sixth
/// column, when they are wanted.
pub(crate) fn history_query(steps: bool) -> &'static str {
    match steps {
        true => {
            "SELECT version, description, checksum, applied_at, duration_ms, revert \
             FROM semigrate_migrations"
        }
        false => {
            "SELECT version, description, checksum, applied_at, duration_ms \
             FROM semigrate_migrations"
        }
    }
}

/// Decodes history rows as the engine reads them, oldest first; `unread` says why a
/// row could not be read. A version that does not parse means a row semigrate did not
/// write: the error says which. The down steps stay as read (`checked_history`
/// decodes them).
pub(crate) fn decode_history<E>(
    rows: impl Iterator<Item = std::result::Result<HistoryRow, E>>,
    unread: impl Fn(E) -> String,
) -> std::result::Result<Vec<Applied>, String> {
    let mut applied = Vec::new();
    for row in rows {
        let (version, description, checksum, applied_at, duration_ms, revert) =
            row.map_err(&unread)?;
        let bad = |why: String| {
            format!(
                "semigrate_migrations has a row for `{version}` that semigrate did not write: {why}"
            )
        };
        let parsed = SemVer::parse(&version).map_err(bad)?;
        applied.push(Applied {
            version: parsed,
            description,
            checksum,
            applied_at,
            duration_ms,
            revert: revert.map_or_else(DownSteps::unread, DownSteps::stored),
        });
    }
    // Versions are unique (the table's key): no order to keep among equals.
    applied.sort_unstable_by_key(|a| a.version);
    Ok(applied)
}

/// A row of `semigrate_log` as `history` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Logged {
    /// When the entry was written (UTC, RFC 3339).
    pub at: String,
    #[serde(flatten)]
    /// What was attempted and how it ended.
    pub entry: LogEntry,
}

/// One row of `semigrate_log`: one migration attempted by one command.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogEntry {
    /// The command that ran it (`upgrade`, `downgrade`, `baseline`, `repair`).
    pub command: String,
    /// The migration attempted.
    pub version: SemVer,
    /// `up`, `down`, `baselined` or `accept-checksum`.
    pub direction: String,
    /// Where the store stood before, and where the entry took it (or would have).
    pub from: SemVer,
    /// Where it took the store, or would have.
    pub to: SemVer,
    /// `ok` or `failed`.
    pub outcome: String,
    /// How long the attempt took.
    pub duration_ms: i64,
    /// The error, for a failed attempt.
    pub error: Option<String>,
}

/// A data store that migrations run against: the roles below, each implemented by
/// both engines, and what a whole run needs of the store itself (its name, its lock,
/// its backup).
pub trait Store: History + Steps + Csv + Catalog + Journal {
    /// Which engine the store runs on.
    fn engine(&self) -> Engine;

    /// How to name the store in messages (a path, or a URL without its password).
    fn describe(&self) -> String;

    /// Takes the store's lock for the whole run, waiting up to `timeout` for another
    /// run to release it. Released when the store is dropped or the process dies.
    fn lock(&mut self, timeout: std::time::Duration) -> Result<()>;

    /// Whether another run holds the store's lock now; the probe takes it for no
    /// longer than it takes to look.
    fn locked(&mut self) -> Result<bool>;

    /// Writes a consistent copy of the database to `to`, a file that exists, empty,
    /// with the permissions the copy must have.
    fn backup(&mut self, to: &std::path::Path) -> Result<()>;
}

/// The history and the run log: what was applied, and every attempt.
pub trait History {
    /// The applied migrations, oldest first; empty when the store has no history yet.
    fn history(&mut self) -> Result<Vec<Applied>> {
        self.read_history(true)
    }

    /// The history as `status` shows it: each row's down steps left in the store, not
    /// copied out (at 1,000 migrations, most of what the rows hold).
    fn listed_history(&mut self) -> Result<Vec<Applied>> {
        self.read_history(false)
    }

    /// The history, with each row's down steps when `steps`.
    fn read_history(&mut self, steps: bool) -> Result<Vec<Applied>>;

    /// What a run checks again inside each migration's transaction, in a few index
    /// lookups whatever the history's length: how many versions it holds, and whether
    /// each of `versions` is one of them.
    fn recorded(&mut self, versions: [SemVer; 2]) -> Result<(usize, [bool; 2])>;

    /// Records `applied` in the history (inside the current transaction).
    fn record(&mut self, applied: &Applied) -> Result<()>;

    /// Removes a version from the history (inside the current transaction).
    fn forget(&mut self, version: SemVer) -> Result<()>;

    /// Appends to the run log (inside the current transaction).
    fn log(&mut self, entry: &LogEntry) -> Result<()>;

    /// The run log, oldest first; empty when the store has none.
    fn logged(&mut self) -> Result<Vec<Logged>>;

    /// Replaces the checksum and down steps stored for an applied version (inside the
    /// current transaction): `repair --accept-checksum`.
    fn accept(&mut self, applied: &Applied) -> Result<()>;

    /// The current time as the store writes it into the history.
    fn now(&mut self) -> Result<String>;
}

/// Running a migration's steps: its transaction, its statements and checks, the
/// connection a Rust step is lent, PostgreSQL's timeouts.
pub trait Steps {
    /// Starts the transaction of one migration. With `foreign_keys` false, SQLite's
    /// enforcement is switched off first: the pragma is a no-op inside a transaction.
    fn begin(&mut self, foreign_keys: bool) -> Result<()>;

    /// Commits the migration's transaction.
    fn commit(&mut self) -> Result<()>;

    /// Rolls back, and restores foreign-key enforcement if `begin` switched it off.
    fn rollback(&mut self);

    /// Runs a batch of statements; the error is the engine's own message.
    fn execute(&mut self, sql: &str) -> std::result::Result<(), String>;

    /// Runs a validation query.
    fn query(&mut self, sql: &str) -> std::result::Result<Rows, String>;

    /// The connection, for a Rust step or check, inside the current transaction.
    fn database(&mut self) -> crate::rust::Database<'_>;

    /// Gives the next transaction's lock and statement timeouts (PostgreSQL's `SET
    /// LOCAL`, sent with its `BEGIN`); SQLite has none.
    fn set_timeouts(&mut self, _lock: Option<&str>, _statement: Option<&str>) -> Result<()> {
        Ok(())
    }

    /// Whether the last error was a lock not granted in time (PostgreSQL's 55P03);
    /// asking clears it.
    fn lock_timed_out(&mut self) -> bool {
        false
    }

    /// Who holds locks on the store's tables, as a person reads it, for a migration
    /// that gave up waiting.
    fn lock_holders(&mut self) -> Option<String> {
        None
    }

    /// Rows that break a foreign key (SQLite's `foreign_key_check`).
    fn foreign_key_violations(&mut self) -> std::result::Result<Vec<String>, String>;
}

/// CSV files in and out of the store's tables: `load`, its undo, and `export`.
pub trait Csv {
    /// Streams the rows of the CSV file `file` into the step's table, inside the
    /// current transaction; the error names the file's line and says the engine's
    /// message. Returns the rows loaded.
    fn load(&mut self, step: &LoadStep, file: &Path) -> std::result::Result<u64, String>;

    /// Deletes the rows whose key the CSV file `file` holds: a load taken back.
    fn unload(&mut self, step: &LoadStep, file: &Path) -> std::result::Result<u64, String>;

    /// Writes the rows of `query`, header first, as CSV with `delimiter` to `out`.
    fn export(
        &mut self,
        query: &str,
        delimiter: u8,
        out: &mut dyn std::io::Write,
    ) -> std::result::Result<u64, String>;
}

/// The user's schema as the store's catalog has it.
pub trait Catalog {
    /// The user's schema, as text that changes whenever the schema does: a Rust step
    /// must leave it as it found it.
    fn schema_text(&mut self) -> std::result::Result<String, String>;

    /// The user's schema objects, semigrate's own left out, as the build's replay
    /// reads them: what the schema check compares.
    fn objects(&mut self) -> Result<crate::store::schema::Schema>;

    /// The digest of the user's objects as stored (`verify::schema::Digest`), read
    /// without building them; None where the binary compiles no digest (PostgreSQL).
    fn objects_digest(&mut self) -> Result<Option<u64>> {
        Ok(None)
    }
}

/// The journal of CSV swaps, committed with the migration that staged them.
pub trait Journal {
    /// Records the CSV swaps to carry out once the current transaction commits.
    fn record_swaps(&mut self, swaps: &[Swap]) -> Result<()>;

    /// The swaps a committed migration recorded and that are not known to be done.
    fn swaps(&mut self) -> Result<Vec<Swap>>;

    /// Forgets the recorded swaps (inside the current transaction), once they are done.
    fn clear_swaps(&mut self) -> Result<()>;
}

/// Runs `work` in a transaction of its own (foreign keys on): committed if it succeeds,
/// rolled back if it fails.
pub fn transaction(
    store: &mut dyn Store,
    work: impl FnOnce(&mut dyn Store) -> Result<()>,
) -> Result<()> {
    store.begin(true)?;
    match work(&mut *store).and_then(|()| store.commit()) {
        Ok(()) => Ok(()),
        Err(e) => {
            store.rollback();
            Err(e)
        }
    }
}
