//! Where a store stands against the compiled chain: what `status` prints and what
//! `migration_state.json` holds.

use super::options::Options;
use super::plan::current;
use super::schema_check::{SchemaCheck, check};
use crate::error::Result;
use crate::model::{Engine, Listing, SemVer, Summary, Text};
use crate::store::{Applied, History, Logged, Store};
use serde::Serialize;

/// The state of one version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// In the history and in the chain, with the same checksum.
    Applied,
    /// In the chain, not yet applied.
    Pending,
    /// Applied, but its spec changed since.
    Drifted,
    /// Applied by a newer binary; unknown to this one.
    Ahead,
}

impl State {
    /// The state as `status` prints it.
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
/// One migration's line of `status`.
pub struct Entry {
    /// Its version.
    pub version: SemVer,
    /// How it stands in the store.
    pub state: State,
    /// Its description (the chain's, or the history's for one ahead).
    pub description: Text,
    /// When it was applied, if it was.
    pub applied_at: Option<String>,
    /// The checksum in the chain, or in the history for one ahead.
    pub checksum: Text,
    /// Where it was imported from (`diesel:2019-02-26-002946_create_user`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Text>,
}

/// The stable shape of `status --json` and `migration_state.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    /// The store, as it may be shown (a PostgreSQL password is masked).
    pub database: String,
    /// `sqlite` or `postgres`.
    pub engine: String,
    /// The newest applied version; 0.0.0 for an empty store.
    pub current: SemVer,
    /// The newest version this binary knows.
    pub latest: SemVer,
    /// How many versions of the chain are not applied.
    pub pending: usize,
    /// The newest backup of this store, when there is one.
    pub backup: Option<String>,
    /// Every migration, in version order.
    pub migrations: Vec<Entry>,
    /// How many migrations of the chain have downs known not to restore everything
    /// (`down_leaves`): the debt of a chain imported from another tool.
    pub debt: usize,
    /// Where the store's files go, every path absolute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<ResolvedPaths>,
    /// The store's schema against the one compiled for its version (`status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<SchemaCheck>,
}

/// The paths a store's files go to, as `status` shows them: absolute, as text.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResolvedPaths {
    /// The store: the SQLite file, or the server's URL without its password.
    pub store: String,
    /// The data folder.
    pub data_dir: String,
    /// The backup folder.
    pub backup_dir: String,
    /// `migration_state.json`.
    pub state_file: String,
}

/// Where `store` stands against `chain`: each version's state, the schema compared
/// with the one compiled for its version, its newest backup and where its files go.
/// Reads only: no lock, no write.
pub fn status<L: Listing + ?Sized>(
    store: &mut dyn Store,
    chain: &L,
    options: &Options,
) -> Result<Status> {
    let paths = &options.paths;
    let history = store.listed_history()?;
    let mut s = compare(
        store.describe(),
        store.engine().to_string(),
        &chain.summaries(),
        &history,
    );
    s.backup =
        super::backup::latest(&paths.backup_dir, &paths.anchor).map(|p| p.display().to_string());
    s.paths = Some(ResolvedPaths {
        store: match store.engine() {
            Engine::Sqlite => paths.anchor.display().to_string(),
            Engine::Postgres => store.describe(),
        },
        data_dir: paths.data_dir.display().to_string(),
        backup_dir: paths.backup_dir.display().to_string(),
        state_file: paths.state_file().display().to_string(),
    });
    s.schema = Some(check(store, chain, s.current, options.ignore_objects)?);
    Ok(s)
}

/// The run log, oldest first: every migration attempted, with its outcome.
pub fn history(store: &mut dyn History) -> Result<Vec<Logged>> {
    store.logged()
}

/// Compares the history with the chain, version by version; both oldest first, as
/// `Store::history` and the chain give them.
pub fn compare(database: String, engine: String, chain: &[Summary], history: &[Applied]) -> Status {
    let mut migrations: Vec<Entry> = chain
        .iter()
        .map(|m| {
            let row = history
                .binary_search_by_key(&m.version, |a| a.version)
                .ok()
                .map(|i| &history[i]);
            let state = match row {
                None => State::Pending,
                Some(a) if a.checksum != m.checksum => State::Drifted,
                Some(_) => State::Applied,
            };
            Entry {
                version: m.version,
                state,
                description: m.description.clone(),
                applied_at: row.map(|a| a.applied_at.clone()),
                checksum: m.checksum.clone(),
                origin: m.origin.clone(),
            }
        })
        .collect();
    // The chain is in version order: a binary search, not a scan per row, which
    // made `status` quadratic in the number of migrations.
    migrations.extend(
        history
            .iter()
            .filter(|a| {
                chain
                    .binary_search_by_key(&a.version, |m| m.version)
                    .is_err()
            })
            .map(|a| Entry {
                version: a.version,
                state: State::Ahead,
                description: a.description.clone().into(),
                applied_at: Some(a.applied_at.clone()),
                checksum: a.checksum.clone().into(),
                origin: None,
            }),
    );
    // Versions are unique: no order to keep among equals, and no buffer to take.
    migrations.sort_unstable_by_key(|e| e.version);
    Status {
        database,
        engine,
        debt: chain.iter().filter(|m| m.leftovers > 0).count(),
        current: current(history),
        latest: chain.last().map_or(SemVer::ZERO, |m| m.version),
        pending: migrations
            .iter()
            .filter(|e| e.state == State::Pending)
            .count(),
        backup: None,
        migrations,
        paths: None,
        schema: None,
    }
}
