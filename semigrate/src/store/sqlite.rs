//! The SQLite store: one file, the history tables inside it.

use super::{
    Applied, Catalog, Csv, History, Journal, LogEntry, Logged, RowCount, Rows, Steps, Store, Value,
};
use crate::data::load;
use crate::data::swap::Swap;
use crate::durable::writer::Content;
use crate::error::{Error, Result};
use crate::fk_check;
use crate::model::{Engine, LoadStep, SemVer};
use crate::sqlite_error::message as sqlite_message;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The time as the history writes it: UTC, RFC 3339, milliseconds.
const CLOCK: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

const HISTORY: &str = "
CREATE TABLE IF NOT EXISTS semigrate_migrations (
    version      TEXT PRIMARY KEY,
    description  TEXT NOT NULL,
    checksum     TEXT NOT NULL,
    applied_at   TEXT NOT NULL,
    duration_ms  INTEGER NOT NULL,
    revert       TEXT NOT NULL      -- JSON: the down steps and flags as applied
);
CREATE TABLE IF NOT EXISTS semigrate_log (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    command     TEXT NOT NULL,
    version     TEXT NOT NULL,
    direction   TEXT NOT NULL,
    from_version TEXT NOT NULL,
    to_version  TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    error       TEXT
);
CREATE TABLE IF NOT EXISTS semigrate_swaps (
    target  TEXT PRIMARY KEY,       -- a CSV file
    temp    TEXT,                   -- renamed over target after the commit; NULL: delete target
    content TEXT                    -- the temp's length and hash, which recovery checks
);";

/// The column that journals written before content was recorded lack.
const CONTENT_COLUMN: &str = "ALTER TABLE semigrate_swaps ADD COLUMN content TEXT;";

/// The columns semigrate reads from its tables: a table of the same name without them
/// is someone else's, and the store is refused rather than misread.
const COLUMNS: [(&str, &[&str]); 3] = [
    (
        "semigrate_migrations",
        &[
            "version",
            "description",
            "checksum",
            "applied_at",
            "duration_ms",
            "revert",
        ],
    ),
    (
        "semigrate_log",
        &[
            "id",
            "at",
            "command",
            "version",
            "direction",
            "from_version",
            "to_version",
            "outcome",
            "duration_ms",
            "error",
        ],
    ),
    ("semigrate_swaps", &["target", "temp"]),
];

/// Checks that each of semigrate's tables the store has is shaped as semigrate made it.
fn check_shape(conn: &Connection) -> std::result::Result<(), String> {
    for (table, expected) in COLUMNS {
        let found: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info(?1)")
            .and_then(|mut s| s.query_map([table], |r| r.get(0))?.collect())
            .map_err(|e| sqlite_message(&e))?;
        let missing: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|c| !found.iter().any(|f| f == c))
            .collect();
        if !found.is_empty() && !missing.is_empty() {
            return Err(format!(
                "the table {table} is not semigrate's: it lacks the column{} {}",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ")
            ));
        }
    }
    Ok(())
}

/// A SQLite file, with the lock file beside it.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    /// `<database>.lock`, held exclusively while this run may write.
    lock: Option<std::fs::File>,
    /// `begin` switched foreign keys off; `commit`/`rollback` switch them back on.
    foreign_keys_off: bool,
    /// An adopted connection's own `synchronous` level, given back with it.
    synchronous_before: Option<i64>,
    /// The journal is known to have its `content` column: checked once a connection.
    journal_ready: bool,
    /// `open` switched SQLite's rollback journal from DELETE to PERSIST; dropping the
    /// store switches it back, which deletes the kept journal file.
    journal_kept: bool,
}

impl SqliteStore {
    /// Adds the `content` column to a journal written before content was recorded.
    fn journal_has_content(&mut self) -> rusqlite::Result<()> {
        if self.journal_ready {
            return Ok(());
        }
        let has: bool = self
            .conn
            .prepare_cached(
                "SELECT count(*) > 0 FROM pragma_table_info('semigrate_swaps') \
                 WHERE name = 'content'",
            )?
            .query_row([], |r| r.get(0))?;
        if !has {
            self.conn.execute_batch(CONTENT_COLUMN)?;
        }
        self.journal_ready = true;
        Ok(())
    }

    /// Opens the store for a run that may write; creates the file and its folder when
    /// missing.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let dir = path.parent().unwrap_or(Path::new(""));
        let cannot = |e: std::io::Error| {
            // A folder on the way that is a file: the OS says only "File exists".
            let file = dir.ancestors().find(|a| a.is_file());
            store_error(
                path,
                match file {
                    Some(file) => format!(
                        "cannot create it: {} is a file, not a folder",
                        file.display()
                    ),
                    None => format!("cannot create it: {e}"),
                },
            )
        };
        crate::durable::create_dir_all(dir, 0o777).map_err(cannot)?;
        let new = !path.exists();
        let conn = Connection::open(path).map_err(|e| open_error(path, e))?;
        if new {
            // SQLite syncs its journals' folder, not the folder of a new database.
            crate::durable::sync_folder(dir).map_err(cannot)?;
        }
        // The default (FULL) leaves the journal's deletion, which is the commit, to
        // the disk's good will: a power cut right after it can bring the journal back
        // and roll the commit back, after the CSV swaps it committed were done.
        conn.execute_batch("PRAGMA synchronous = EXTRA;")
            .map_err(|e| open_error(path, e))?;
        // A run commits a dozen times, and in DELETE mode each commit creates the
        // journal file and deletes it again: on ext4, a seventh of a fleet's time.
        // PERSIST keeps the file between commits and commits by zeroing its header,
        // synced as the deletion was; a store in another mode (WAL) keeps its own.
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(|e| open_error(path, e))?;
        let journal_kept = mode == "delete";
        if journal_kept {
            conn.query_row("PRAGMA journal_mode = PERSIST", [], |_| Ok(()))
                .map_err(|e| open_error(path, e))?;
        }
        let mut store = Self::ready(conn, path)?;
        store.journal_kept = journal_kept;
        Ok(store)
    }

    /// Opens a store that must exist already, for a run that may write: a missing file
    /// is refused, and nothing (no file, no folder, no lock) is created.
    pub fn open_existing(path: &Path) -> Result<SqliteStore> {
        if !path.exists() {
            let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            return Err(Error::Usage(format!("no store at {}", shown.display())));
        }
        Self::open(path)
    }

    /// Opens the store to read only. A missing file reads as an empty store and is not
    /// created.
    /// A file a killed run left with a hot journal is first rolled back, as SQLite
    /// does on any connection that may write: a reader alone cannot, and would fail.
    /// Everything is read in one read transaction, held until the store is dropped:
    /// the history, the schema and the validations read agree with each other even
    /// while another process writes, and SQLite locks and checks the file once, not
    /// at every statement (a third of `status --fleet`'s system calls).
    pub fn open_read_only(path: &Path) -> Result<SqliteStore> {
        if !path.exists() {
            let conn = Connection::open_in_memory().map_err(|e| open_error(path, e))?;
            return Self::ready(conn, path);
        }
        let open = || {
            Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .and_then(|conn| conn.execute_batch("BEGIN DEFERRED;").map(|()| conn))
            .map_err(|e| open_error(path, e))
        };
        let conn = open()?;
        let schema = "SELECT count(*) FROM sqlite_schema";
        match conn.query_row(schema, [], |_| Ok(())) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.extended_code == rusqlite::ffi::SQLITE_READONLY_ROLLBACK =>
            {
                drop(conn);
                Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .and_then(|c| c.query_row(schema, [], |_| Ok(())))
                .map_err(|e| open_error(path, e))?;
                Self::ready(open()?, path)
            }
            _ => Self::ready(conn, path),
        }
    }

    /// Sets the connection up for a run and checks it holds a store semigrate can use.
    fn prepare(conn: &Connection, path: &Path) -> Result<()> {
        conn.busy_timeout(Duration::from_secs(30))
            .and_then(|()| conn.execute_batch("PRAGMA foreign_keys = ON;"))
            // Reading the schema is what tells a SQLite file from any other file.
            .and_then(|()| conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())))
            .map_err(|e| open_error(path, e))?;
        check_shape(conn).map_err(|reason| store_error(path, reason))
    }

    fn ready(conn: Connection, path: &Path) -> Result<SqliteStore> {
        Self::prepare(&conn, path)?;
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
            lock: None,
            foreign_keys_off: false,
            synchronous_before: None,
            journal_ready: false,
            journal_kept: false,
        })
    }

    /// A store over a connection the caller opened (an application embedding the
    /// migrator), taken out of `conn` only once it is known to be usable, so that an
    /// error leaves the caller's connection where it was; `give_back` gives it
    /// back.
    pub fn adopt(conn: &mut Connection) -> Result<SqliteStore> {
        let path = conn.path().map(PathBuf::from).unwrap_or_default();
        Self::prepare(conn, &path)?;
        let placeholder = Connection::open_in_memory().map_err(|e| open_error(&path, e))?;
        // The runs are as durable as the CLI's (see `open`) while the store has it.
        let before: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .and_then(|level| {
                conn.execute_batch("PRAGMA synchronous = EXTRA;")
                    .map(|()| level)
            })
            .map_err(|e| open_error(&path, e))?;
        Ok(SqliteStore {
            conn: std::mem::replace(conn, placeholder),
            path,
            lock: None,
            foreign_keys_off: false,
            synchronous_before: Some(before),
            journal_ready: false,
            journal_kept: false,
        })
    }

    /// Gives the connection back into `conn`, where `adopt` left its placeholder,
    /// with its own `synchronous` level; the run's lock is released.
    pub fn give_back(mut self, conn: &mut Connection) {
        if let Some(level) = self.synchronous_before.take() {
            let _ = self
                .conn
                .execute_batch(&format!("PRAGMA synchronous = {level};"));
        }
        std::mem::swap(&mut self.conn, conn);
    }

    fn has_table(&self, name: &str) -> rusqlite::Result<bool> {
        self.conn
            .query_row(
                "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                [name],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
    }

    fn restore_foreign_keys(&mut self) -> rusqlite::Result<()> {
        if std::mem::take(&mut self.foreign_keys_off) {
            self.conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        }
        Ok(())
    }

    fn fail(&self, e: impl std::fmt::Display) -> Error {
        store_error(&self.path, e.to_string())
    }
}

impl Drop for SqliteStore {
    /// Deletes the journal file `open` kept: a store is left as SQLite leaves it. Where
    /// this fails (another connection writing), the kept journal's zeroed header is
    /// what SQLite reads as no journal.
    fn drop(&mut self) {
        if self.journal_kept {
            let _ = self
                .conn
                .query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()));
        }
    }
}

/// The file beside the database whose OS lock is the store's: `app.db.lock`.
fn lock_file(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn store_error(path: &Path, reason: String) -> Error {
    Error::Store {
        database: path.display().to_string(),
        reason,
    }
}

fn open_error(path: &Path, e: rusqlite::Error) -> Error {
    let reason = if path.is_dir() {
        "is a folder, not a SQLite database".to_owned()
    } else {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => "is not a SQLite database".to_owned(),
            _ => format!("cannot be opened: {}", sqlite_message(&e)),
        }
    };
    store_error(path, reason)
}

impl Store for SqliteStore {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn locked(&mut self) -> Result<bool> {
        if self.path.as_os_str().is_empty() || self.lock.is_some() {
            return Ok(false);
        }
        // No lock file: no run ever took the lock. One there is tried, not created.
        let Ok(file) = std::fs::File::open(lock_file(&self.path)) else {
            return Ok(false);
        };
        match file.try_lock() {
            Ok(()) => Ok(false),
            Err(std::fs::TryLockError::WouldBlock) => Ok(true),
            Err(std::fs::TryLockError::Error(e)) => Err(store_error(
                &self.path,
                format!("cannot probe the lock: {e}"),
            )),
        }
    }

    fn lock(&mut self, timeout: Duration) -> Result<()> {
        // An OS lock on a file beside the database: the kernel releases it when the
        // process ends, however it ends, so a killed run never leaves a stale lock.
        // (SQLite's own locks last one transaction; a run spans many.) An in-memory
        // database, which an application may lend the migrator, has no file to share.
        if self.path.as_os_str().is_empty() {
            return Ok(());
        }
        let path = lock_file(&self.path);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| {
                store_error(
                    &self.path,
                    format!("cannot open the lock file {}: {e}", path.display()),
                )
            })?;
        let started = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => {
                    self.lock = Some(file);
                    return Ok(());
                }
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::Refused(format!(
                        "another semigrate run holds the lock on {} (waited {} s; --lock-timeout sets how long)",
                        self.path.display(),
                        timeout.as_secs()
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(store_error(
                        &self.path,
                        format!("cannot lock {}: {e}", path.display()),
                    ));
                }
            }
        }
    }

    fn backup(&mut self, to: &Path) -> Result<()> {
        self.conn
            .backup(
                rusqlite::MAIN_DB,
                to,
                None::<fn(rusqlite::backup::Progress)>,
            )
            .map_err(|e| {
                store_error(
                    &self.path,
                    format!("cannot back up to {}: {}", to.display(), sqlite_message(&e)),
                )
            })
    }
}

impl History for SqliteStore {
    fn recorded(&mut self, versions: [SemVer; 2]) -> Result<(usize, [bool; 2])> {
        if !self
            .has_table("semigrate_migrations")
            .map_err(|e| self.fail(e))?
        {
            return Ok((0, [false; 2]));
        }
        self.conn
            .prepare_cached(
                "SELECT (SELECT count(*) FROM semigrate_migrations), \
                 EXISTS (SELECT 1 FROM semigrate_migrations WHERE version = ?1), \
                 EXISTS (SELECT 1 FROM semigrate_migrations WHERE version = ?2)",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![versions[0].to_string(), versions[1].to_string()],
                    |r| Ok((r.get::<_, i64>(0)? as usize, [r.get(1)?, r.get(2)?])),
                )
            })
            .map_err(|e| self.fail(sqlite_message(&e)))
    }

    fn read_history(&mut self, steps: bool) -> Result<Vec<Applied>> {
        if !self
            .has_table("semigrate_migrations")
            .map_err(|e| self.fail(e))?
        {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached(super::history_query(steps))
            .map_err(|e| store_error(&self.path, sqlite_message(&e)))?;
        let unread = |e: rusqlite::Error| {
            format!("cannot read semigrate_migrations: {}", sqlite_message(&e))
        };
        // Decoded as they come: no list of raw rows first.
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    if steps { r.get(5)? } else { None },
                ))
            })
            .map_err(|e| store_error(&self.path, unread(e)))?;
        super::decode_history(rows, unread).map_err(|reason| store_error(&self.path, reason))
    }

    fn record(&mut self, a: &Applied) -> Result<()> {
        let revert = a.revert.json();
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO semigrate_migrations \
                 (version, description, checksum, applied_at, duration_ms, revert) \
                 VALUES (?1, ?2, ?3, coalesce(nullif(?4, ''), {CLOCK}), ?5, ?6)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    a.version.to_string(),
                    a.description,
                    a.checksum,
                    a.applied_at,
                    a.duration_ms,
                    revert
                ])
            })
            .map(drop)
            .map_err(|e| {
                self.fail(format!(
                    "cannot record {}: {}",
                    a.version,
                    sqlite_message(&e)
                ))
            })
    }

    fn forget(&mut self, version: SemVer) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM semigrate_migrations WHERE version = ?1")
            .and_then(|mut s| s.execute([version.to_string()]))
            .map(drop)
            .map_err(|e| {
                self.fail(format!(
                    "cannot remove {version} from the history: {}",
                    sqlite_message(&e)
                ))
            })
    }

    fn log(&mut self, e: &LogEntry) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO semigrate_log \
                 (command, version, direction, from_version, to_version, outcome, duration_ms, error) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    e.command,
                    e.version.to_string(),
                    e.direction,
                    e.from.to_string(),
                    e.to.to_string(),
                    e.outcome,
                    e.duration_ms,
                    e.error
                ])
            })
            .map(drop)
            .map_err(|err| self.fail(format!("cannot write the run log: {}", sqlite_message(&err))))
    }

    fn now(&mut self) -> Result<String> {
        self.conn
            .query_row(&format!("SELECT {CLOCK}"), [], |r| r.get(0))
            .map_err(|e| self.fail(sqlite_message(&e)))
    }

    fn logged(&mut self) -> Result<Vec<Logged>> {
        if !self.has_table("semigrate_log").map_err(|e| self.fail(e))? {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT at, command, version, direction, from_version, to_version, outcome, duration_ms, error \
                 FROM semigrate_log ORDER BY id",
            )
            .map_err(|e| store_error(&self.path, sqlite_message(&e)))?;
        let rows = stmt
            .query_map([], |r| {
                let versions = [r.get::<_, String>(2)?, r.get(4)?, r.get(5)?];
                Ok((
                    r.get::<_, String>(0)?,
                    versions,
                    r.get(1)?,
                    r.get(3)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| {
                store_error(
                    &self.path,
                    format!("cannot read semigrate_log: {}", sqlite_message(&e)),
                )
            })?;
        let mut logged = Vec::with_capacity(rows.len());
        for (at, versions, command, direction, outcome, duration_ms, error) in rows {
            let [version, from, to] = versions.map(|v| SemVer::parse(&v));
            let (Ok(version), Ok(from), Ok(to)) = (version, from, to) else {
                return Err(store_error(
                    &self.path,
                    "semigrate_log has a row semigrate did not write".into(),
                ));
            };
            logged.push(Logged {
                at,
                entry: LogEntry {
                    command,
                    version,
                    direction,
                    from,
                    to,
                    outcome,
                    duration_ms,
                    error,
                },
            });
        }
        Ok(logged)
    }

    fn accept(&mut self, a: &Applied) -> Result<()> {
        let revert = a.revert.json();
        self.conn
            .prepare_cached(
                "UPDATE semigrate_migrations SET checksum = ?1, revert = ?2 WHERE version = ?3",
            )
            .and_then(|mut s| s.execute(params![a.checksum, revert, a.version.to_string()]))
            .map(drop)
            .map_err(|e| {
                self.fail(format!(
                    "cannot update {}: {}",
                    a.version,
                    sqlite_message(&e)
                ))
            })
    }
}

impl Steps for SqliteStore {
    fn begin(&mut self, foreign_keys: bool) -> Result<()> {
        if !foreign_keys {
            self.conn
                .execute_batch("PRAGMA foreign_keys = OFF;")
                .map_err(|e| self.fail(sqlite_message(&e)))?;
            self.foreign_keys_off = true;
        }
        // IMMEDIATE takes the write lock now, so the history read that follows cannot
        // be overtaken by another writer before this transaction commits.
        let begun = self
            .conn
            .execute_batch("BEGIN IMMEDIATE;")
            .and_then(|()| self.conn.execute_batch(HISTORY))
            .and_then(|()| self.journal_has_content());
        if let Err(e) = begun {
            self.rollback();
            return Err(self.fail(format!(
                "cannot start a transaction: {}",
                sqlite_message(&e)
            )));
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        let committed = self.conn.execute_batch("COMMIT;");
        if committed.is_err() {
            self.rollback();
        }
        let restored = self.restore_foreign_keys();
        committed
            .and(restored)
            .map_err(|e| self.fail(format!("cannot commit: {}", sqlite_message(&e))))
    }

    fn rollback(&mut self) {
        // What the transaction did to the journal's shape is undone with it.
        self.journal_ready = false;
        if !self.conn.is_autocommit() {
            // A failed rollback leaves SQLite to roll back when the connection closes.
            let _ = self.conn.execute_batch("ROLLBACK;");
        }
        let _ = self.restore_foreign_keys();
    }

    fn execute(&mut self, sql: &str) -> std::result::Result<(), String> {
        self.conn.execute_batch(sql).map_err(|e| sqlite_message(&e))
    }

    fn query(&mut self, sql: &str) -> std::result::Result<Rows, String> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| sqlite_message(&e))?;
        let mut rows = stmt.query([]).map_err(|e| sqlite_message(&e))?;
        let first = match rows.next().map_err(|e| sqlite_message(&e))? {
            None => {
                return Ok(Rows {
                    first: None,
                    count: RowCount::None,
                });
            }
            Some(row) => match row.get_ref(0).map_err(|e| sqlite_message(&e))? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(i) => Value::Integer(i),
                rusqlite::types::ValueRef::Real(x) => Value::Real(x),
                rusqlite::types::ValueRef::Text(t) => {
                    Value::Text(String::from_utf8_lossy(t).into_owned())
                }
                rusqlite::types::ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            },
        };
        let count = match rows.next().map_err(|e| sqlite_message(&e))? {
            None => RowCount::One,
            Some(_) => RowCount::Many,
        };
        Ok(Rows {
            first: Some(first),
            count,
        })
    }

    fn database(&mut self) -> crate::rust::Database<'_> {
        crate::rust::Database::Sqlite(&self.conn)
    }

    fn foreign_key_violations(&mut self) -> std::result::Result<Vec<String>, String> {
        fk_check::violations(&self.conn).map_err(|e| sqlite_message(&e))
    }
}

impl Csv for SqliteStore {
    fn load(&mut self, step: &LoadStep, file: &Path) -> std::result::Result<u64, String> {
        let rows = load::Rows::open(file, step)?;
        let columns: Vec<String> = rows.columns.iter().map(|c| load::quoted(c)).collect();
        let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let table = load::quoted(&step.table);
        let insert_sql = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            columns.join(", "),
            marks.join(", ")
        );
        let mut insert = self
            .conn
            .prepare(&insert_sql)
            .map_err(|e| sqlite_message(&e))?;
        if !step.upsert {
            return rows.each(|values, _| {
                insert
                    .execute(rusqlite::params_from_iter(values))
                    .map(|_| ())
                    .map_err(|e| sqlite_message(&e))
            });
        }
        // An upsert updates the row its key finds, else inserts one. (SQLite's ON
        // CONFLICT checks NOT NULL first, which a load of some columns would fail.)
        let is_key = |c: &String| step.key.iter().any(|k| k.as_ref() == c);
        let set: Vec<String> = rows
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !is_key(c))
            .map(|(i, c)| format!("{} = ?{}", load::quoted(c), i + 1))
            .collect();
        let find: Vec<String> = rows
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| is_key(c))
            .map(|(i, c)| format!("{} = ?{}", load::quoted(c), i + 1))
            .collect();
        if find.len() != step.key.len() {
            return Err(format!("{}: every `key` column must be loaded", step.path));
        }
        let update_sql = match set.is_empty() {
            // Nothing but the key: a row found is left as it is.
            true => format!("SELECT 1 FROM {table} WHERE {}", find.join(" AND ")),
            false => format!(
                "UPDATE {table} SET {} WHERE {}",
                set.join(", "),
                find.join(" AND ")
            ),
        };
        let mut update = self
            .conn
            .prepare(&update_sql)
            .map_err(|e| sqlite_message(&e))?;
        rows.each(|values, _| {
            let found = match set.is_empty() {
                true => update.exists(rusqlite::params_from_iter(values)),
                false => update
                    .execute(rusqlite::params_from_iter(values))
                    .map(|n| n > 0),
            }
            .map_err(|e| sqlite_message(&e))?;
            if !found {
                insert
                    .execute(rusqlite::params_from_iter(values))
                    .map_err(|e| sqlite_message(&e))?;
            }
            Ok(())
        })
    }

    fn unload(&mut self, step: &LoadStep, file: &Path) -> std::result::Result<u64, String> {
        let rows = load::Rows::open(file, step)?;
        let key: Vec<String> = step.key.iter().map(|k| k.to_string()).collect();
        let at = rows.positions(&key, &step.path)?;
        let clauses: Vec<String> = step
            .key
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{} = ?{}", load::quoted(k), i + 1))
            .collect();
        let sql = format!(
            "DELETE FROM {} WHERE {}",
            load::quoted(&step.table),
            clauses.join(" AND ")
        );
        let mut delete = self.conn.prepare(&sql).map_err(|e| sqlite_message(&e))?;
        rows.each(|values, _| {
            let key: Vec<Option<&str>> = at.iter().map(|&i| values[i]).collect();
            delete
                .execute(rusqlite::params_from_iter(key))
                .map(|_| ())
                .map_err(|e| sqlite_message(&e))
        })
    }

    fn export(
        &mut self,
        query: &str,
        delimiter: u8,
        out: &mut dyn std::io::Write,
    ) -> std::result::Result<u64, String> {
        let mut stmt = self.conn.prepare(query).map_err(|e| sqlite_message(&e))?;
        let mut writer = ::csv::WriterBuilder::new()
            .delimiter(delimiter)
            .from_writer(out);
        let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
        let failed = |e: ::csv::Error| format!("cannot write: {e}");
        writer.write_record(&names).map_err(failed)?;
        let mut rows = stmt.query([]).map_err(|e| sqlite_message(&e))?;
        let mut count = 0;
        let mut cells: Vec<Vec<u8>> = vec![Vec::new(); names.len()];
        while let Some(row) = rows.next().map_err(|e| sqlite_message(&e))? {
            for (i, cell) in cells.iter_mut().enumerate() {
                cell.clear();
                use rusqlite::types::ValueRef;
                match row.get_ref(i).map_err(|e| sqlite_message(&e))? {
                    ValueRef::Null => {}
                    ValueRef::Integer(n) => cell.extend_from_slice(n.to_string().as_bytes()),
                    ValueRef::Real(x) => cell.extend_from_slice(x.to_string().as_bytes()),
                    ValueRef::Text(b) | ValueRef::Blob(b) => cell.extend_from_slice(b),
                }
            }
            writer.write_record(&cells).map_err(failed)?;
            count += 1;
        }
        writer.flush().map_err(|e| format!("cannot write: {e}"))?;
        Ok(count)
    }
}

impl Catalog for SqliteStore {
    fn schema_text(&mut self) -> std::result::Result<String, String> {
        self.conn
            .query_row(
                "SELECT coalesce(group_concat(type || ' ' || name || ' ' || coalesce(sql, ''), \
                 char(10)), '') FROM (SELECT type, name, sql FROM sqlite_schema \
                 ORDER BY type, name)",
                [],
                |r| r.get(0),
            )
            .map_err(|e| sqlite_message(&e))
    }

    fn objects_digest(&mut self) -> Result<Option<u64>> {
        crate::store::schema::stored_digest(&self.conn)
            .map(Some)
            .map_err(|e| self.fail(format!("cannot read the schema: {}", sqlite_message(&e))))
    }

    fn objects(&mut self) -> Result<crate::store::schema::Schema> {
        crate::store::schema::Schema::read(&self.conn)
            .map_err(|e| self.fail(format!("cannot read the schema: {}", sqlite_message(&e))))
    }
}

impl Journal for SqliteStore {
    fn record_swaps(&mut self, swaps: &[Swap]) -> Result<()> {
        for swap in swaps {
            self.conn
                .prepare_cached(
                    "INSERT OR REPLACE INTO semigrate_swaps (target, temp, content) \
                     VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        swap.target.to_string_lossy(),
                        swap.temp.as_ref().map(|t| t.to_string_lossy()),
                        swap.content.map(Content::to_text),
                    ])
                })
                .map_err(|e| {
                    self.fail(format!(
                        "cannot record the CSV swaps: {}",
                        sqlite_message(&e)
                    ))
                })?;
        }
        Ok(())
    }

    fn swaps(&mut self) -> Result<Vec<Swap>> {
        if !self
            .has_table("semigrate_swaps")
            .map_err(|e| self.fail(e))?
        {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT * FROM semigrate_swaps ORDER BY target")
            .map_err(|e| store_error(&self.path, sqlite_message(&e)))?;
        // `*`: a journal written before content was recorded has no such column.
        let content = stmt.column_index("content").ok();
        stmt.query_map([], |r| {
            Ok(Swap {
                target: PathBuf::from(r.get::<_, String>("target")?),
                temp: r.get::<_, Option<String>>("temp")?.map(PathBuf::from),
                content: match content {
                    Some(i) => r
                        .get::<_, Option<String>>(i)?
                        .as_deref()
                        .and_then(Content::parse),
                    None => None,
                },
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| {
            store_error(
                &self.path,
                format!("cannot read semigrate_swaps: {}", sqlite_message(&e)),
            )
        })
    }

    fn clear_swaps(&mut self) -> Result<()> {
        self.conn
            .execute_batch("DELETE FROM semigrate_swaps;")
            .map_err(|e| {
                self.fail(format!(
                    "cannot clear the CSV swaps: {}",
                    sqlite_message(&e)
                ))
            })
    }
}
