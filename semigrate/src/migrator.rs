//! The library face: an application brings its store to its chain at start-up, with
//! the same run as the CLI (`engine::migrate`: lock, recovery of CSV swaps, plan,
//! transactions, checks, history), backups and the state file as options.

use crate::engine::run::{Done, Progress};
use crate::engine::{Direction, Options, Paths, Request, migrate, plan};
use crate::error::{Error, Result};
use crate::model::{Chain, SemVer};
use crate::store::Store;
use crate::store::sqlite::SqliteStore;
use rusqlite::Connection;
use std::path::PathBuf;
use std::time::Duration;

/// Runs a chain against a SQLite connection the application holds. In a chain crate:
///
/// ```ignore
/// semigrate::include_chain!(); // CHAIN, Version, MIGRATIONS, SETTINGS
///
/// let mut conn = rusqlite::Connection::open("var/app.db")?;
/// let migrator = semigrate::Migrator::new(&CHAIN).data_dir("var/data");
/// migrator.upgrade(&mut conn)?;
/// migrator.require(&mut conn, Version::V2_0_0)?;
/// ```
///
/// `CHAIN` is a [`Chain`]; here an empty one, as a crate without specs compiles it:
///
/// ```
/// use semigrate::model::{Chain, Settings, Table};
///
/// static MIGRATIONS: Table = Table::empty();
/// static CHAIN: Chain = Chain {
///     name: "app",
///     version: "0.1.0",
///     migrations: &MIGRATIONS,
///     settings: Settings {
///         migrations: "migrations",
///         database: "var/app.db",
///         data_dir: "var/data",
///         backup_dir: "var/backups",
///         backup_keep: 10,
///         lock_timeout: Some("5s"),
///         statement_timeout: None,
///         lock_retries: 5,
///         ignore_objects: &[],
///     },
/// };
/// let mut conn = rusqlite::Connection::open_in_memory()?;
/// let migrator = semigrate::Migrator::new(&CHAIN);
/// assert_eq!(migrator.upgrade(&mut conn)?, semigrate::SemVer::ZERO);
/// // An application that needs 0.1.0 refuses to start on this store.
/// assert!(migrator.require(&mut conn, semigrate::SemVer::new(0, 1, 0)).is_err());
/// // The connection comes back, usable.
/// conn.execute_batch("CREATE TABLE t (id INTEGER)")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Migrator {
    chain: &'static Chain,
    data_dir: PathBuf,
    backup_dir: Option<PathBuf>,
    state_file: bool,
    lock_timeout: Duration,
}

/// Runs say nothing: the application logs what `upgrade` returns.
pub(crate) struct Silent;

impl Progress for Silent {
    fn step(&mut self, _: SemVer, _: &str, _: &str) {}
    fn reading(&mut self, _: &str, _: u64, _: u64) {}
    fn done(&mut self, _: &Done) {}
}

impl Migrator {
    /// The chain a crate's build compiled (`CHAIN` of the included table), with the
    /// data folder of its configuration, no backup, no state file, and the CLI's lock
    /// timeout (30 s).
    pub fn new(chain: &'static Chain) -> Migrator {
        Migrator {
            chain,
            data_dir: PathBuf::from(chain.settings.data_dir),
            backup_dir: None,
            state_file: false,
            lock_timeout: Duration::from_secs(30),
        }
    }

    /// The folder CSV paths are relative to.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Migrator {
        self.data_dir = dir.into();
        self
    }

    /// Back up the database and the CSV files a run touches into `dir` before it
    /// changes anything, keeping as many backups as the configuration's `backup_keep`.
    pub fn backup_dir(mut self, dir: impl Into<PathBuf>) -> Migrator {
        self.backup_dir = Some(dir.into());
        self
    }

    /// Rewrite `migration_state.json` beside the database after each run, as the CLI
    /// does.
    pub fn state_file(mut self, write: bool) -> Migrator {
        self.state_file = write;
        self
    }

    /// How long to wait for another run on the same database to finish.
    pub fn lock_timeout(mut self, timeout: Duration) -> Migrator {
        self.lock_timeout = timeout;
        self
    }

    /// Applies every pending migration, each in its own transaction, and returns the
    /// version the store is at. Refuses, as the CLI does, a store whose applied specs
    /// changed or that a newer binary moved ahead. Foreign keys are left on.
    pub fn upgrade(&self, conn: &mut Connection) -> Result<SemVer> {
        let request = Request {
            direction: Direction::Up,
            target: None,
            atomic: false,
            allow_schema_drift: false,
        };
        let anchor = conn
            .path()
            .filter(|p| !p.is_empty())
            .map_or_else(|| PathBuf::from("memory.db"), PathBuf::from);
        let options = Options {
            paths: Paths {
                data_dir: self.data_dir.clone(),
                backup_dir: self
                    .backup_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(self.chain.settings.backup_dir)),
                anchor,
            },
            lock_timeout: self.lock_timeout,
            backup_keep: self
                .backup_dir
                .as_ref()
                .map(|_| self.chain.settings.backup_keep),
            state_file: self.state_file,
            patience: crate::engine::Patience::from_settings(&self.chain.settings),
            ignore_objects: self.chain.settings.ignore_objects,
        };
        lend(conn, |store| {
            let outcome = migrate(
                store,
                self.chain.migrations,
                &request,
                &options,
                &mut Silent,
            )?;
            Ok(outcome.at)
        })
    }

    /// Fails unless the store is at `version` or above: for an application that must
    /// not start on an older schema.
    pub fn require(&self, conn: &mut Connection, version: impl Into<SemVer>) -> Result<()> {
        let version = version.into();
        let at = lend(conn, |store| Ok(plan::current(&store.listed_history()?)))?;
        if at < version {
            return Err(Error::Refused(format!(
                "the store is at {at}, below {version}, which this application requires; upgrade it first"
            )));
        }
        Ok(())
    }
}

/// Lends `conn` to a store for `work`, and takes it back whatever happens.
fn lend<T>(conn: &mut Connection, work: impl FnOnce(&mut SqliteStore) -> Result<T>) -> Result<T> {
    let mut store = SqliteStore::adopt(conn)?;
    let result = work(&mut store);
    *conn = store.into_connection();
    result
}
