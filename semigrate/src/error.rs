//! The one error type of the runtime. Each variant carries what a person needs to act
//! without reading a log, and maps to the documented exit code.

use crate::model::SemVer;
use std::fmt;

/// Why a command did not do what was asked.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A migration failed and its transaction was rolled back (exit 1).
    Migration {
        /// The migration that failed.
        version: SemVer,
        /// `up step 2`, `validation 1 of 1.1.0`, `foreign key check`
        what: String,
        /// The statement that failed, when one did.
        sql: Option<String>,
        /// Why, in the engine's words.
        reason: String,
        /// False when steps ran outside a transaction and some of them stayed applied.
        rolled_back: bool,
    },
    /// A validation of the store's current version does not hold (`verify`, exit 1).
    Validation {
        /// The version whose validation failed.
        version: SemVer,
        /// Which validation (1-based).
        number: usize,
        /// Its query, when it is SQL.
        sql: Option<String>,
        /// What it found instead.
        reason: String,
    },
    /// The store's schema differs from the one compiled for its version (`verify`,
    /// exit 1): every difference, one per line.
    Schema(String),
    /// Bad flags, an unknown version, a target in the wrong direction (exit 2).
    Usage(String),
    /// The store cannot be opened or read as a semigrate store (exit 2).
    Store {
        /// The store, as it may be shown.
        database: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Refused for safety: drift, a store ahead of the binary, an irreversible step,
    /// an out-of-order version (exit 3).
    Refused(String),
    /// A file beside the store could not be written (exit 1).
    Io {
        /// The file.
        path: String,
        /// The system's error.
        reason: String,
    },
    /// Stores of a fleet failed (the exit code of the first that failed): `output` is
    /// what the run printed of the whole fleet, `summary` its line.
    Fleet {
        /// What the run prints on its standard output before the error.
        output: String,
        /// `9,998 at 2.3.0, 2 failed: see report.json`.
        summary: String,
        /// The exit code a run on the first failed store alone would have ended with.
        exit_code: i32,
    },
}

impl Error {
    /// The documented exit code.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Migration { .. }
            | Error::Validation { .. }
            | Error::Schema(_)
            | Error::Io { .. } => 1,
            Error::Usage(_) | Error::Store { .. } => 2,
            Error::Refused(_) => 3,
            Error::Fleet { exit_code, .. } => *exit_code,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Migration {
                version,
                what,
                sql,
                reason,
                rolled_back,
            } => {
                write!(f, "migration {version} failed at {what}: {reason}")?;
                if let Some(sql) = sql {
                    write!(f, " (in `{}`)", crate::store::schema::cut(sql))?;
                }
                if *rolled_back {
                    write!(f, "; rolled back, the store is unchanged")
                } else {
                    write!(
                        f,
                        "; it ran outside a transaction and the steps before it stay applied"
                    )
                }
            }
            Error::Validation {
                version,
                number,
                sql,
                reason,
            } => {
                write!(
                    f,
                    "validation {number} of {version} does not hold: {reason}"
                )?;
                if let Some(sql) = sql {
                    write!(f, " (in `{}`)", crate::store::schema::cut(sql))?;
                }
                Ok(())
            }
            Error::Usage(message) | Error::Refused(message) | Error::Schema(message) => {
                f.write_str(message)
            }
            Error::Store { database, reason } => write!(f, "store {database}: {reason}"),
            Error::Io { path, reason } => write!(f, "{path}: {reason}"),
            Error::Fleet { summary, .. } => f.write_str(summary),
        }
    }
}

impl std::error::Error for Error {}

/// semigrate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
