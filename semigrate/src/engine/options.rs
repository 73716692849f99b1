//! How every operation of the engine treats the files and the waits around a store:
//! one type, built from the chain's configuration in one place, then narrowed by the
//! caller (the CLI's flags, a `Migrator`'s builder).

use super::paths::Paths;
use super::run::TimeoutPolicy;
use crate::model::Settings;
use std::time::Duration;

/// How an operation treats the files around the store.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where the store's files go.
    pub paths: Paths,
    /// How long to wait for another run on the same store.
    pub lock_timeout: Duration,
    /// Back up the store and the files the plan touches before changing anything,
    /// keeping this many backups of the store; None: no backup.
    pub backup_keep: Option<usize>,
    /// Rewrite `migration_state.json` after the run.
    pub state_file: bool,
    /// PostgreSQL's timeouts, and the retries of a lock timeout.
    pub patience: TimeoutPolicy,
    /// Objects of the store the chain does not own, left out of the schema check.
    pub ignore_objects: &'static [&'static str],
}

impl Options {
    /// The configuration's: backups kept as `backup_keep` says, the state file
    /// written, PostgreSQL's timeouts and retries, a wait of 30 s for another run.
    pub fn configured(settings: &Settings, paths: Paths) -> Options {
        Options {
            paths,
            lock_timeout: Duration::from_secs(30),
            backup_keep: Some(settings.backup_keep),
            state_file: true,
            patience: TimeoutPolicy::from_settings(settings),
            ignore_objects: settings.ignore_objects,
        }
    }
}
