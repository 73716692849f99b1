//! The library face: an application that depends on this crate brings its store to
//! the chain compiled in here at start-up, with the same engine as the CLI and without
//! it: the same lock, plan, transactions, checks, history and CSV swaps.

use crate::compiled::{MIGRATIONS, SETTINGS};
use crate::engine::plan;
use crate::engine::run::{Done, Progress, recover, run};
use crate::error::{Error, Result};
use crate::model::{Migration, SemVer};
use crate::store::Store;
use crate::store::sqlite::SqliteStore;
use rusqlite::Connection;
use std::path::PathBuf;
use std::time::Duration;

/// Runs the compiled chain against a SQLite connection the application holds.
///
/// ```no_run
/// let mut conn = rusqlite::Connection::open("var/app.db")?;
/// let migrator = semigrate::Migrator::new().data_dir("var/data");
/// migrator.upgrade(&mut conn)?;
/// migrator.require(&mut conn, semigrate::compiled::Version::V2_0_0)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Migrator {
    chain: &'static [Migration],
    data_dir: PathBuf,
    lock_timeout: Duration,
}

impl Default for Migrator {
    fn default() -> Self {
        Migrator::new()
    }
}

/// Runs say nothing: the application logs what `upgrade` returns.
pub(crate) struct Silent;

impl Progress for Silent {
    fn step(&mut self, _: SemVer, _: &str, _: &str) {}
    fn reading(&mut self, _: &str, _: u64, _: u64) {}
    fn done(&mut self, _: &Done) {}
}

impl Migrator {
    /// The chain compiled into this crate, with the data folder of its configuration
    /// and the CLI's lock timeout (30 s).
    pub fn new() -> Migrator {
        Migrator {
            chain: MIGRATIONS,
            data_dir: PathBuf::from(SETTINGS.data_dir),
            lock_timeout: Duration::from_secs(30),
        }
    }

    /// Another chain: one that a crate compiled with `semigrate::build::compile`
    /// (the `build` feature) and included, `Migrator::with_chain(migrations::MIGRATIONS)`.
    pub fn with_chain(chain: &'static [Migration]) -> Migrator {
        Migrator {
            chain,
            ..Migrator::new()
        }
    }

    /// The folder CSV paths are relative to.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Migrator {
        self.data_dir = dir.into();
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
        lend(conn, |store| {
            store.lock(self.lock_timeout)?;
            recover(store, self.chain, &self.data_dir)?;
            let history = store.history()?;
            let plan = plan::upgrade(self.chain, &history, None)?;
            run(store, &self.data_dir, &plan, "upgrade", &mut Silent)?;
            Ok(plan.to)
        })
    }

    /// Fails unless the store is at `version` or above: for an application that must
    /// not start on an older schema.
    pub fn require(&self, conn: &mut Connection, version: impl Into<SemVer>) -> Result<()> {
        let version = version.into();
        let at = lend(conn, |store| Ok(plan::current(&store.history()?)))?;
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
