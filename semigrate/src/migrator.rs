//! The library face: an application runs its chain from its own code, with the very
//! operations the CLI runs (the engine's: lock, recovery of CSV swaps, plan,
//! transactions, checks, history, log), backups and the state file as options, on a
//! SQLite connection it lends or on a PostgreSQL server.

use crate::engine::run::{Done, Progress};
use crate::engine::{self, Anchor, Direction, Options, Paths, Repair, Request, Verified};
use crate::error::{Error, Result};
use crate::model::{Chain, Migration, SemVer};
use crate::report::{Logged, Status};
use crate::store::Store;
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::SqliteStore;
use std::path::PathBuf;
use std::time::Duration;

/// Runs a chain against a store: a SQLite connection the application holds, or a
/// PostgreSQL server ([`Postgres`]). In a chain crate:
///
/// ```ignore
/// semigrate::include_chain!(); // CHAIN, Version, MIGRATIONS, SETTINGS
///
/// let mut conn = rusqlite::Connection::open("var/app.db")?;
/// let migrator = semigrate::Migrator::new(&CHAIN).data_dir("var/data");
/// migrator.upgrade(&mut conn)?;
/// migrator.require(&mut conn, Version::V2_0_0)?;
///
/// // The same operations on PostgreSQL: each call connects, and disconnects after.
/// let mut server = semigrate::Postgres::url("postgres://app@db/app").schema("app");
/// migrator.upgrade(&mut server)?;
/// ```
///
/// The README's example, compiled (each call needs its store, so it is not run):
///
/// ```no_run
/// # use semigrate::__private::{Chain, SemVer, Settings, Table};
/// # static MIGRATIONS: Table = Table::empty();
/// # static CHAIN: Chain = Chain {
/// #     name: "app",
/// #     package: "app",
/// #     version: "2.0.0",
/// #     migrations: &MIGRATIONS,
/// #     settings: Settings {
/// #         migrations: "migrations",
/// #         database: "var/app.db",
/// #         data_dir: "var/data",
/// #         backup_dir: "var/backups",
/// #         backup_keep: 10,
/// #         lock_timeout: Some("5s"),
/// #         statement_timeout: None,
/// #         lock_retries: 5,
/// #         ignore_objects: &[],
/// #         fleet: &[],
/// #     },
/// # };
/// # enum Version { V2_0_0 }
/// # impl From<Version> for SemVer {
/// #     fn from(_: Version) -> SemVer { SemVer::new(2, 0, 0) }
/// # }
/// // In the chain crate: semigrate::include_chain!(); gives CHAIN, Version, MIGRATIONS
/// // and SETTINGS.
/// let mut conn = rusqlite::Connection::open("var/app.db")?;
/// let migrator = semigrate::Migrator::new(&CHAIN)
///     .data_dir("var/data")
///     .backup_dir("var/backups"); // optional: back up before a run that changes something
/// let at = migrator.upgrade(&mut conn)?;                // the version it is at
/// migrator.require(&mut conn, Version::V2_0_0)?;        // or refuse to start
///
/// // The same on PostgreSQL (each call connects), or on a file by its path.
/// let mut server = semigrate::Postgres::url("postgres://app@db/app").schema("app");
/// migrator.upgrade(&mut server)?;
/// let mut file = semigrate::Sqlite::path("var/other.db");
/// migrator.downgrade(&mut file, Version::V2_0_0)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// `CHAIN` is a [`Chain`]; here an empty one, as a crate without specs compiles it,
/// on a database in memory:
///
/// ```
/// # use semigrate::__private::{Chain, Settings, Table};
/// # static MIGRATIONS: Table = Table::empty();
/// # static CHAIN: Chain = Chain {
/// #     name: "app",
/// #     package: "app",
/// #     version: "0.1.0",
/// #     migrations: &MIGRATIONS,
/// #     settings: Settings {
/// #         migrations: "migrations",
/// #         database: "var/app.db",
/// #         data_dir: "var/data",
/// #         backup_dir: "var/backups",
/// #         backup_keep: 10,
/// #         lock_timeout: Some("5s"),
/// #         statement_timeout: None,
/// #         lock_retries: 5,
/// #         ignore_objects: &[],
/// #         fleet: &[],
/// #     },
/// # };
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

/// A PostgreSQL store a [`Migrator`] connects to for each operation: a server's URL
/// (a password in it is never printed), and the schema that holds the tables and
/// semigrate's history (default: the first of the server's `search_path`).
#[derive(Clone, Debug)]
pub struct Postgres {
    url: String,
    schema: Option<String>,
}

impl Postgres {
    /// The server at `url` (`postgres://user@host/database`).
    pub fn url(url: impl Into<String>) -> Postgres {
        Postgres {
            url: url.into(),
            schema: None,
        }
    }

    /// Work in `schema`, which must exist.
    pub fn schema(mut self, schema: impl Into<String>) -> Postgres {
        self.schema = Some(schema.into());
        self
    }
}

/// A SQLite store a [`Migrator`] opens by its path for each operation, as the CLI
/// does: created (with its folder) only by `upgrade` and `baseline`; `downgrade` and
/// `accept_checksum` refuse a missing file, and the others read it as an empty store;
/// none of them creates anything.
#[derive(Clone, Debug)]
pub struct Sqlite {
    path: PathBuf,
}

impl Sqlite {
    /// The SQLite file at `path`.
    pub fn path(path: impl Into<PathBuf>) -> Sqlite {
        Sqlite { path: path.into() }
    }
}

/// A store a [`Migrator`] works on: a [`rusqlite::Connection`] the application lends
/// (handed back after each call, foreign keys on, whatever happened), a [`Sqlite`]
/// file, or a [`Postgres`] server.
pub trait Target: sealed::Sealed {
    #[doc(hidden)]
    fn with_store<T>(
        &mut self,
        access: Access,
        chain: &[Migration],
        work: &mut dyn FnMut(&mut dyn Store, Anchor<'_>) -> Result<T>,
    ) -> Result<T>;
}

/// What an operation does to a store it opens: only `upgrade` and `baseline` make
/// one.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads it; a missing SQLite file reads as empty.
    Read,
    /// Changes one that exists.
    Write,
    /// Changes it, creating a missing SQLite file.
    Create,
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for rusqlite::Connection {}
    impl Sealed for super::Postgres {}
    impl Sealed for super::Sqlite {}
}

impl Target for rusqlite::Connection {
    fn with_store<T>(
        &mut self,
        _access: Access,
        _chain: &[Migration],
        work: &mut dyn FnMut(&mut dyn Store, Anchor<'_>) -> Result<T>,
    ) -> Result<T> {
        let path = self
            .path()
            .filter(|p| !p.is_empty())
            .map_or_else(|| PathBuf::from("memory.db"), PathBuf::from);
        let mut store = SqliteStore::adopt(self)?;
        let result = work(&mut store, Anchor::File(&path));
        store.give_back(self);
        result
    }
}

impl Target for Sqlite {
    fn with_store<T>(
        &mut self,
        access: Access,
        _chain: &[Migration],
        work: &mut dyn FnMut(&mut dyn Store, Anchor<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut store = match access {
            Access::Create => SqliteStore::open(&self.path)?,
            Access::Write => SqliteStore::open_existing(&self.path)?,
            Access::Read => SqliteStore::open_read_only(&self.path)?,
        };
        work(&mut store, Anchor::File(&self.path))
    }
}

impl Target for Postgres {
    fn with_store<T>(
        &mut self,
        _access: Access,
        chain: &[Migration],
        work: &mut dyn FnMut(&mut dyn Store, Anchor<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut store = PostgresStore::open_for(chain, &self.url, self.schema.as_deref())?;
        let name = crate::store::postgres::store_name(&self.url, self.schema.as_deref());
        work(&mut store, Anchor::Server(&name))
    }
}

/// Runs say nothing: the application logs what the operations return.
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
    /// changed or that a newer binary moved ahead.
    pub fn upgrade(&self, target: &mut impl Target) -> Result<SemVer> {
        self.migrate(target, Direction::Up, None)
    }

    /// The versions `upgrade` would apply, in order, refused as it would refuse;
    /// changes nothing (what `upgrade --dry-run` plans).
    pub fn pending(&self, target: &mut impl Target) -> Result<Vec<SemVer>> {
        let request = Request {
            direction: Direction::Up,
            target: None,
            atomic: false,
            allow_schema_drift: false,
        };
        let chain = self.chain.migrations;
        target.with_store(Access::Read, self.chain.migrations, &mut |store, _| {
            engine::dry_run(store, chain, &request, |_, plan| {
                plan.items.iter().map(|item| item.version).collect()
            })
        })
    }

    /// Reverts migrations down to `version` (0.0.0: all of them), each with its down
    /// and then the checks of the version it lands on; returns the version reached.
    pub fn downgrade(
        &self,
        target: &mut impl Target,
        version: impl Into<SemVer>,
    ) -> Result<SemVer> {
        self.migrate(target, Direction::Down, Some(version.into()))
    }

    /// Records a store that predates semigrate as being at `version`, running nothing.
    pub fn baseline(&self, target: &mut impl Target, version: impl Into<SemVer>) -> Result<()> {
        let version = version.into();
        let chain = self.chain.migrations;
        target.with_store(
            Access::Create,
            self.chain.migrations,
            &mut |store, anchor| engine::baseline(store, chain, version, &self.options(anchor)),
        )
    }

    /// Accepts the compiled spec of an applied migration whose spec was edited
    /// (checksum drift), on record; false when it had not drifted.
    pub fn accept_checksum(
        &self,
        target: &mut impl Target,
        version: impl Into<SemVer>,
    ) -> Result<bool> {
        let version = version.into();
        let chain = self.chain.migrations;
        let repair = target.with_store(
            Access::Write,
            self.chain.migrations,
            &mut |store, anchor| {
                engine::accept_checksum(store, chain, &[version], &self.options(anchor))
            },
        )?;
        Ok(repair == [(version, Repair::Accepted)])
    }

    /// Runs the validations of the store's version and compares its schema with the
    /// one compiled for it; the first that fails is the error. Changes nothing.
    pub fn verify(&self, target: &mut impl Target) -> Result<()> {
        let chain = self.chain.migrations;
        target
            .with_store(Access::Read, self.chain.migrations, &mut |store, anchor| {
                engine::verify(store, chain, &self.options(anchor))
            })
            .map(|_: Verified| ())
    }

    /// Where the store stands: each version's state, its schema against the compiled
    /// one, its newest backup. What `status --json` prints.
    pub fn status(&self, target: &mut impl Target) -> Result<Status> {
        let chain = self.chain.migrations;
        target.with_store(Access::Read, self.chain.migrations, &mut |store, anchor| {
            engine::status(store, chain, &self.options(anchor))
        })
    }

    /// The run log, oldest first: every migration attempted, with its outcome.
    pub fn history(&self, target: &mut impl Target) -> Result<Vec<Logged>> {
        target.with_store(Access::Read, self.chain.migrations, &mut |store, _| {
            engine::history(store)
        })
    }

    /// Fails unless the store is at `version` or above: for an application that must
    /// not start on an older schema.
    pub fn require(&self, target: &mut impl Target, version: impl Into<SemVer>) -> Result<()> {
        let version = version.into();
        let at = target.with_store(Access::Read, self.chain.migrations, &mut |store, _| {
            Ok(engine::plan::current(&store.listed_history()?))
        })?;
        if at < version {
            return Err(Error::Refused(format!(
                "the store is at {at}, below {version}, which this application requires; upgrade it first"
            )));
        }
        Ok(())
    }

    fn migrate(
        &self,
        target: &mut impl Target,
        direction: Direction,
        version: Option<SemVer>,
    ) -> Result<SemVer> {
        let request = Request {
            direction,
            target: version,
            atomic: false,
            allow_schema_drift: false,
        };
        let chain = self.chain.migrations;
        let access = match direction {
            Direction::Up => Access::Create,
            Direction::Down => Access::Write,
        };
        target.with_store(access, self.chain.migrations, &mut |store, anchor| {
            let outcome =
                engine::migrate(store, chain, &request, &self.options(anchor), &mut Silent)?;
            Ok(outcome.at)
        })
    }

    /// The engine's options for a store at `anchor`: the configuration's, with this
    /// migrator's folders, backup and state file.
    fn options(&self, anchor: Anchor<'_>) -> Options {
        let settings = &self.chain.settings;
        let backup_dir = self
            .backup_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(settings.backup_dir));
        let paths = Paths::resolve(
            settings,
            anchor,
            Some(self.data_dir.clone()),
            Some(backup_dir),
        );
        let mut options = Options::configured(settings, paths);
        options.lock_timeout = self.lock_timeout;
        options.backup_keep = self.backup_dir.as_ref().map(|_| settings.backup_keep);
        options.state_file = self.state_file;
        options
    }
}
