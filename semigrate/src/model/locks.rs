//! What the build measured of a migration's PostgreSQL locks, and which hazards its
//! spec accepts: compiled in for `list`, `--dry-run` and the build's own verdict.

use super::{List, Text};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a migration's steps do to the PostgreSQL tables that exist before it, as the
/// build measured them on a server, and which of the hazards the spec accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locks {
    /// `locks = "accepted"` or `locks = ["table", ...]` in the spec.
    pub accepted: Accepted,
    /// None: the build had no server (`SEMIGRATE_VERIFY_POSTGRES_URL`) to measure on.
    pub measured: Option<List<Held>>,
}

/// The hazards a migration acknowledges: none, all, or those on the tables named.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accepted {
    /// A hazard fails the build.
    #[default]
    None,
    /// `locks = "accepted"`.
    All,
    /// `locks = ["accidents", ...]`.
    Tables(List<Text>),
}

impl Accepted {
    /// Whether a hazard on `table` is acknowledged.
    pub fn covers(&self, table: &str) -> bool {
        match self {
            Accepted::None => false,
            Accepted::All => true,
            Accepted::Tables(tables) => tables.iter().any(|t| t.eq_ignore_ascii_case(table)),
        }
    }
}

/// A lock one step held on a table that existed before its migration, measured in
/// the step's own backend (`pg_locks`), with what the step did to the table meanwhile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// `up` or `down`.
    pub direction: Text,
    /// The step, from 1.
    pub step: u32,
    /// The table.
    pub table: Text,
    /// The strongest lock held on it while the step ran, as PostgreSQL's
    /// documentation names it (`SHARE`, `ACCESS EXCLUSIVE`); None when the step ran
    /// outside a transaction, where its locks end with each statement unseen.
    pub lock: Option<Text>,
    /// The step read the whole table (a sequential scan).
    pub scan: bool,
    /// The step rewrote the table (its `relfilenode` changed).
    pub rewrite: bool,
}

/// `up step 1: SHARE on accidents, read in full`, as `list` and `--dry-run` show it.
impl fmt::Display for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} step {}: ", self.direction, self.step)?;
        match &self.lock {
            Some(lock) => write!(f, "{lock} on {}", self.table)?,
            None => write!(f, "{} (its lock unseen: outside a transaction)", self.table)?,
        }
        if self.scan {
            f.write_str(", read in full")?;
        }
        if self.rewrite {
            f.write_str(", rewritten")?;
        }
        Ok(())
    }
}

impl Held {
    /// As `list` and `--dry-run` show it: a hazard the build let through is one the
    /// spec accepts.
    pub fn describe(&self) -> String {
        match self.blocks_writes() {
            true => format!("{self} (blocks writes; accepted)"),
            false => self.to_string(),
        }
    }

    /// Writes wait for this step: a rewrite, or a lock that blocks writes (SHARE or
    /// stronger) held while the step reads the whole table.
    pub fn blocks_writes(&self) -> bool {
        self.rewrite
            || (self.scan
                && self.lock.as_deref().is_some_and(|mode| {
                    matches!(
                        mode,
                        "SHARE" | "SHARE ROW EXCLUSIVE" | "EXCLUSIVE" | "ACCESS EXCLUSIVE"
                    )
                }))
    }
}
