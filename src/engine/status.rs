//! Where a store stands against the compiled chain: what `status` prints and what
//! `migration_state.json` holds.

use super::plan::current;
use crate::model::{Migration, SemVer};
use crate::store::Applied;
use serde::Serialize;
use std::collections::BTreeMap;

/// The state of one version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Applied,
    Pending,
    /// Applied, but its spec changed since.
    Drifted,
    /// Applied by a newer binary; unknown to this one.
    Ahead,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Drifted => "drifted",
            State::Ahead => "ahead",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    pub version: SemVer,
    pub state: State,
    pub description: String,
    pub applied_at: Option<String>,
    pub checksum: String,
}

/// The stable shape of `status --json` and `migration_state.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    pub database: String,
    pub engine: String,
    /// The newest applied version; 0.0.0 for an empty store.
    pub current: SemVer,
    /// The newest version this binary knows.
    pub latest: SemVer,
    pub pending: usize,
    /// The newest backup of this store, when there is one.
    pub backup: Option<String>,
    pub migrations: Vec<Entry>,
}

/// Compares the history with the chain, version by version.
pub fn status(
    database: String,
    engine: String,
    chain: &[Migration],
    history: &[Applied],
) -> Status {
    let applied: BTreeMap<SemVer, &Applied> = history.iter().map(|a| (a.version, a)).collect();
    let mut migrations: Vec<Entry> = chain
        .iter()
        .map(|m| {
            let row = applied.get(&m.version);
            let state = match row {
                None => State::Pending,
                Some(a) if a.checksum != m.checksum => State::Drifted,
                Some(_) => State::Applied,
            };
            Entry {
                version: m.version,
                state,
                description: m.description.to_string(),
                applied_at: row.map(|a| a.applied_at.clone()),
                checksum: m.checksum.to_string(),
            }
        })
        .collect();
    migrations.extend(
        history
            .iter()
            .filter(|a| !chain.iter().any(|m| m.version == a.version))
            .map(|a| Entry {
                version: a.version,
                state: State::Ahead,
                description: a.description.clone(),
                applied_at: Some(a.applied_at.clone()),
                checksum: a.checksum.clone(),
            }),
    );
    migrations.sort_by_key(|e| e.version);
    Status {
        database,
        engine,
        current: current(history),
        latest: chain.last().map_or(SemVer::ZERO, |m| m.version),
        pending: migrations
            .iter()
            .filter(|e| e.state == State::Pending)
            .count(),
        backup: None,
        migrations,
    }
}
