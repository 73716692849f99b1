//! The PostgreSQL store: the same history, log and swap journal as SQLite's, in the
//! current schema (or `--schema`), one transaction per migration (PostgreSQL's DDL is
//! transactional), and a session-level advisory lock held for the whole run.

use super::{
    Applied, Catalog, Csv, History, Journal, LogEntry, Logged, RowCount, Rows, Steps, Store, Value,
};
use crate::data::load;
use crate::data::swap::Swap;
use crate::durable::writer::Content;
use crate::error::{Error, Result};
use crate::model::{Engine, LoadStep, SemVer};
use postgres::types::Type;
use postgres::{Client, NoTls, SimpleQueryMessage, Statement};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const HISTORY: &str = "
CREATE TABLE IF NOT EXISTS semigrate_migrations (
    version      TEXT PRIMARY KEY,
    description  TEXT NOT NULL,
    checksum     TEXT NOT NULL,
    applied_at   TEXT NOT NULL,
    duration_ms  BIGINT NOT NULL,
    revert       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS semigrate_log (
    id           BIGSERIAL PRIMARY KEY,
    at           TEXT NOT NULL
                 DEFAULT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
    command      TEXT NOT NULL,
    version      TEXT NOT NULL,
    direction    TEXT NOT NULL,
    from_version TEXT NOT NULL,
    to_version   TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    duration_ms  BIGINT NOT NULL,
    error        TEXT
);
CREATE TABLE IF NOT EXISTS semigrate_swaps (
    target  TEXT PRIMARY KEY,
    temp    TEXT,
    content TEXT
);
ALTER TABLE semigrate_swaps ADD COLUMN IF NOT EXISTS content TEXT;";

/// The user's objects of the current schema, one row each, as the schema check and
/// the build's replay compare them: `(kind, name, definition)`, the schema's own name
/// taken out of every definition (the schema of the replay or of a store given by --schema must not show), and
/// semigrate's tables left out. A partitioned table is its key, columns, indexes and
/// constraints; its partitions are left out, since an application makes them as time
/// goes (`events_20261206`), and what they inherit is the parent's. The schema's relations are found from the namespace's
/// rows in `pg_depend` and everything else from them, by index: the read costs the
/// schema's own objects, not the database's (information_schema and a scan of
/// `pg_class` took 17 ms a read with 300 tenant schemas on the server, 40 times a
/// migration's DDL).
macro_rules! catalog {
    () => {
        "SELECT kind, name, replace(definition, quote_ident(current_schema()) || '.', '') FROM (
    WITH mine AS MATERIALIZED (
        SELECT classid, objid FROM pg_depend
        WHERE refclassid = 'pg_namespace'::regclass
          AND refobjid = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
    ), rel AS MATERIALIZED (
        SELECT c.oid, c.relname, c.relkind, c.reltype FROM mine JOIN pg_class c ON c.oid = mine.objid
        WHERE mine.classid = 'pg_class'::regclass AND c.relname NOT LIKE 'semigrate\\_%'
          AND NOT c.relispartition
    )
    SELECT 'table' AS kind, relname::text AS name,
           CASE relkind WHEN 'p' THEN 'PARTITIONED BY ' || pg_get_partkeydef(oid) ELSE 'BASE TABLE' END
           AS definition
    FROM rel WHERE relkind IN ('r', 'p')
    UNION ALL
    SELECT 'column', c.relname || '.' || a.attname,
           CASE WHEN t.typtype = 'd' THEN
               CASE WHEN bt.typelem <> 0 AND bt.typlen = -1 THEN 'ARRAY'
                    WHEN bt.typnamespace = 'pg_catalog'::regnamespace
                         THEN format_type(t.typbasetype, NULL)
                    ELSE 'USER-DEFINED' END
           ELSE
               CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN 'ARRAY'
                    WHEN t.typnamespace = 'pg_catalog'::regnamespace
                         THEN format_type(a.atttypid, NULL)
                    ELSE 'USER-DEFINED' END
           END
           || CASE WHEN a.attnotnull OR (t.typtype = 'd' AND t.typnotnull) THEN ' NOT NULL' ELSE '' END
           || coalesce(' DEFAULT ' || CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END, '')
    FROM rel c
    JOIN pg_attribute a ON a.attrelid = c.oid
    JOIN pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    WHERE c.relkind IN ('r', 'v', 'f', 'p') AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'index', i.relname, pg_get_indexdef(i.oid)
    FROM rel r JOIN pg_index x ON x.indrelid = r.oid JOIN pg_class i ON i.oid = x.indexrelid
    WHERE r.relkind IN ('r', 'm', 'p') AND i.relkind IN ('i', 'I')
    UNION ALL
    SELECT 'constraint', c.conname || ' on ' || r.relname, pg_get_constraintdef(c.oid)
    FROM rel r JOIN pg_constraint c ON c.conrelid = r.oid
    UNION ALL
    SELECT 'trigger', t.tgname || ' on ' || r.relname, pg_get_triggerdef(t.oid)
    FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid
    WHERE NOT t.tgisinternal
    UNION ALL
    SELECT 'view', relname, pg_get_viewdef(oid) FROM rel WHERE relkind IN ('v', 'm')
    UNION ALL
    SELECT 'sequence', c.relname,
           format_type(q.seqtypid, NULL) || ' start ' || q.seqstart || ' by ' || q.seqincrement
    FROM rel c JOIN pg_sequence q ON q.seqrelid = c.oid
    WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype = 'i')
    UNION ALL
    SELECT 'function', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
           pg_get_functiondef(p.oid)
    FROM mine JOIN pg_proc p ON p.oid = mine.objid
    WHERE mine.classid = 'pg_proc'::regclass AND p.prokind IN ('f', 'p')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                      AND d.objid = p.oid AND d.deptype = 'e')
    UNION ALL
    SELECT 'type', t.typname, CASE t.typtype
        WHEN 'e' THEN 'enum (' || (SELECT string_agg(quote_literal(e.enumlabel), ', '
                                   ORDER BY e.enumsortorder)
                                   FROM pg_enum e WHERE e.enumtypid = t.oid) || ')'
        WHEN 'd' THEN 'domain ' || format_type(t.typbasetype, t.typtypmod)
                      || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
                      || coalesce(' DEFAULT ' || t.typdefault, '')
        ELSE 'composite (' || (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', '
                               ORDER BY a.attnum)
                               FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0) || ')'
        END
    FROM pg_type t
    WHERE t.oid IN (SELECT objid FROM mine WHERE classid = 'pg_type'::regclass
                    UNION ALL SELECT reltype FROM rel WHERE relkind = 'c')
      AND t.typtype IN ('e', 'd', 'c')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                      AND d.objid = t.oid AND d.deptype = 'e')
) objects"
    };
}

/// See `catalog!`.
pub const CATALOG: &str = catalog!();

/// The objects of the store's schema as one text, in a fixed order: whether a step
/// changed the schema.
const SCHEMA_TEXT: &str = concat!(
    "SELECT coalesce(string_agg(kind || ' ' || name || ' ' || definition, E'\\n' \
     ORDER BY kind, name), '') FROM (",
    catalog!(),
    ") catalog (kind, name, definition)"
);

/// The catalog's rows as a schema the check compares.
pub fn catalog(
    client: &mut Client,
) -> std::result::Result<crate::store::schema::Schema, postgres::Error> {
    let mut schema = crate::store::schema::Schema::default();
    for row in client.query(CATALOG, &[])? {
        let (kind, name, definition): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        schema.objects.insert(
            name,
            crate::store::schema::Object {
                kind,
                sql: definition,
            },
        );
    }
    Ok(schema)
}

/// The time as the history writes it, the same shape as SQLite's.
const CLOCK: &str =
    "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

/// The name that places a server store's files (`engine::paths`): the database a
/// URL names (PostgreSQL's default: `postgres`), and the schema when one is given
/// (`app.tenant_1`).
pub fn store_name(url: &str, schema: Option<&str>) -> String {
    let database = url
        .parse::<postgres::Config>()
        .ok()
        .and_then(|c| c.get_dbname().map(str::to_owned))
        .unwrap_or_else(|| "postgres".into());
    match schema {
        Some(schema) => format!("{database}.{schema}"),
        None => database,
    }
}

/// The URL as it may be shown: the password, in the user part or in the query,
/// replaced by `***`.
pub fn redact(url: &str) -> String {
    without_password(url, Some("***"))
}

/// The URL with its password replaced by `mask`, or taken out when `mask` is None.
fn without_password(url: &str, mask: Option<&str>) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match (user.split_once(':'), mask) {
            (Some((name, _)), Some(mask)) => format!("{name}:{mask}@{host}"),
            (Some((name, _)), None) => format!("{name}@{host}"),
            (None, _) => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .filter_map(|pair| match (pair.split_once('='), mask) {
                    (Some(("password", _)), Some(mask)) => Some(format!("password={mask}")),
                    (Some(("password", _)), None) => None,
                    _ => Some(pair.to_owned()),
                })
                .collect();
            if query.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{}", query.join("&"))
            }
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// A PostgreSQL database, opened from a postgres:// URL.
pub struct PostgresStore {
    client: Client,
    /// The URL without its password, for every message.
    shown: String,
    url: String,
    /// The schema the store was opened in or moved to, when one was named: a backup
    /// then dumps that schema alone.
    schema: Option<String>,
    /// Set when a transaction is open, so that `rollback` knows whether to send one.
    in_transaction: bool,
    /// Set once a committed transaction has created semigrate's tables: later ones
    /// skip the round trips that would check them again.
    tables_ready: bool,
    /// The `SET LOCAL`s the next `BEGIN` sends.
    next_timeouts: String,
    /// Set when an error was a lock not granted in time, for `lock_timed_out`.
    lock_timed_out: std::cell::Cell<bool>,
    /// The bookkeeping of the open transaction (its history, log and swap rows), sent
    /// with the next statement or with COMMIT rather than in round trips of its own.
    pending: String,
    /// The bookkeeping statements, prepared once per session: each use is then one
    /// round trip instead of two.
    statements: HashMap<&'static str, Statement>,
}

impl PostgresStore {
    /// Connects, and moves to `schema` when one is given. `PGPASSWORD` supplies the
    /// password when the URL has none, as it does for libpq's tools.
    /// `open`, once `chain` is known to have text for PostgreSQL in every step and
    /// validation: a binary built without it is refused before it connects.
    pub fn open_for(
        chain: &[crate::model::Migration],
        url: &str,
        schema: Option<&str>,
    ) -> Result<PostgresStore> {
        for m in chain {
            if let Some(what) = m.without_text_for(crate::model::Engine::Postgres) {
                return Err(Error::Usage(format!(
                    "this binary's chain has no PostgreSQL text ({}: {what}), so it cannot run \
                     on {}: add \"postgres\" to `engines` in [package.metadata.semigrate], \
                     give its steps their PostgreSQL text, and build again",
                    m.file,
                    redact(url)
                )));
            }
        }
        Self::open(url, schema)
    }

    pub fn open(url: &str, schema: Option<&str>) -> Result<PostgresStore> {
        let shown = redact(url);
        let fail = |reason: String| Error::Store {
            database: shown.clone(),
            reason,
        };
        let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            fail(format!("is not a valid URL: {}", message(&e, url)))
        })?;
        if config.get_password().is_none()
            && let Ok(password) = std::env::var("PGPASSWORD")
        {
            config.password(password);
        }
        // So that pg_stat_activity tells semigrate's sessions from the application's.
        if config.get_application_name().is_none() {
            config.application_name("semigrate");
        }
        let mut client = config
            .connect(NoTls)
            .map_err(|e| fail(format!("cannot connect: {}", message(&e, url))))?;
        if let Some(schema) = schema {
            client
                .batch_execute(&format!("SET search_path TO {}", load::quoted(schema)))
                .map_err(|e| fail(format!("cannot use schema {schema}: {}", message(&e, url))))?;
        }
        // Without a schema to work in, the tables would have nowhere to go and the
        // lock, keyed on the schema's name, no key.
        let current: Option<String> = client
            .query_one("SELECT current_schema()::text", &[])
            .map(|row| row.get(0))
            .map_err(|e| fail(message(&e, url)))?;
        if current.is_none() {
            return Err(fail(match schema {
                Some(schema) => format!(
                    "has no schema {schema}: create it first (CREATE SCHEMA {})",
                    load::quoted(schema)
                ),
                None => "has no schema on the search_path to work in".to_owned(),
            }));
        }
        Ok(PostgresStore {
            client,
            shown,
            url: url.to_owned(),
            schema: schema.map(str::to_owned),
            in_transaction: false,
            tables_ready: false,
            next_timeouts: String::new(),
            lock_timed_out: std::cell::Cell::new(false),
            statements: HashMap::new(),
            pending: String::new(),
        })
    }

    /// Releases the store's lock, when this session holds it.
    pub fn release_lock(&mut self) -> Result<()> {
        self.client
            .batch_execute("SELECT pg_advisory_unlock_all()")
            .map_err(|e| self.fail(format!("cannot release the lock: {}", self.message(&e))))
    }

    /// One try at the store's lock, a session-level advisory lock keyed on the
    /// database, the schema and the history table; `doing` names the try in an error.
    fn try_lock(&mut self, doing: &str) -> Result<bool> {
        self.client
            .query_one(
                "SELECT pg_try_advisory_lock(hashtext(current_database() || '.' || \
                 current_schema() || '.semigrate_migrations'))",
                &[],
            )
            .map(|row| row.get(0))
            .map_err(|e| self.fail(format!("cannot {doing} the lock: {}", self.message(&e))))
    }

    fn fail(&self, reason: impl std::fmt::Display) -> Error {
        Error::Store {
            database: self.shown.clone(),
            reason: reason.to_string(),
        }
    }

    fn message(&self, e: &postgres::Error) -> String {
        if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) {
            self.lock_timed_out.set(true);
        }
        message(e, &self.url)
    }

    /// `names` as the table spells its columns: a CSV header's `Num_Acc` is the
    /// `num_acc` that PostgreSQL folded an unquoted name to. A name that matches no
    /// column, or several, is left as it is, for the server to name.
    fn spelled(&mut self, table: &str, names: &[String]) -> Vec<String> {
        let columns: Vec<String> = self
            .client
            .query(
                "SELECT a.attname::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) \
                 AND c.relname = $1 AND a.attnum > 0 AND NOT a.attisdropped",
                &[&table],
            )
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
            .unwrap_or_default();
        names
            .iter()
            .map(|name| {
                if columns.contains(name) {
                    return name.clone();
                }
                let folded: Vec<&String> = columns
                    .iter()
                    .filter(|c| c.eq_ignore_ascii_case(name))
                    .collect();
                match folded.as_slice() {
                    [one] => (*one).clone(),
                    _ => name.clone(),
                }
            })
            .collect()
    }

    /// The prepared statement for `sql`, from the session's cache.
    fn statement(&mut self, sql: &'static str) -> std::result::Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    /// Runs `sql` in the open transaction with the bookkeeping before it, or at once
    /// outside one.
    fn defer(&mut self, sql: String) -> std::result::Result<(), postgres::Error> {
        match self.in_transaction {
            true => {
                self.pending += &sql;
                self.pending += ";\n";
                Ok(())
            }
            false => self.client.batch_execute(&sql),
        }
    }

    /// Sends the deferred bookkeeping now, before a statement that may read it.
    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        self.client
            .batch_execute(&pending)
            .map_err(|e| self.fail(format!("cannot write the history: {}", self.message(&e))))
    }

    fn has_table(&mut self, name: &str) -> Result<bool> {
        if self.tables_ready {
            return Ok(true);
        }
        self.client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
            .map(|row| row.get(0))
            .map_err(|e| self.fail(self.message(&e)))
    }
}

/// The server's own words for an error (its message, detail and hint), never the URL.
fn message(e: &postgres::Error, url: &str) -> String {
    let text = match e.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_owned();
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => {
            // The driver's summary ("error connecting to server"), then its causes.
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                let said = c.to_string();
                if !text.contains(&said) {
                    text.push_str(&format!(": {said}"));
                }
                cause = c.source();
            }
            text
        }
    };
    // The driver's own messages do not quote the URL; this makes sure of it.
    text.replace(url, &redact(url))
}

/// A validation's first value, read as text and typed by the column's type.
fn typed(text: Option<&str>, column: &Type) -> Value {
    let Some(text) = text else {
        return Value::Null;
    };
    match *column {
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => text
            .parse()
            .map_or_else(|_| Value::Text(text.to_owned()), Value::Integer),
        Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => text
            .parse()
            .map_or_else(|_| Value::Text(text.to_owned()), Value::Real),
        Type::BOOL => Value::Integer(i64::from(text == "t")),
        _ => Value::Text(text.to_owned()),
    }
}

/// `text` as a string literal that reads the same whatever
/// `standard_conforming_strings` says: an `E''` string, backslashes and quotes doubled.
fn literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// What a fleet's worker needs of its session (`--fleet`, a command of the CLI): to
/// list the schemas that are stores, to count the free connections, and to move from
/// one store to the next.
#[cfg(feature = "cli")]
impl PostgresStore {
    /// Moves the session to `schema`, another store on the same server, as a fleet's
    /// worker does between its targets: the lock of the store before is released,
    /// and nothing learnt about it is kept.
    pub fn switch_schema(&mut self, schema: &str) -> Result<()> {
        self.release_lock()?;
        self.client
            .batch_execute(&format!("SET search_path TO {}", load::quoted(schema)))
            .map_err(|e| self.fail(format!("cannot use schema {schema}: {}", self.message(&e))))?;
        let current: Option<String> = self
            .client
            .query_one("SELECT current_schema()::text", &[])
            .map(|row| row.get(0))
            .map_err(|e| self.fail(self.message(&e)))?;
        if current.is_none() {
            return Err(self.fail(format!(
                "has no schema {schema}: create it first (CREATE SCHEMA {})",
                load::quoted(schema)
            )));
        }
        self.schema = Some(schema.to_owned());
        self.tables_ready = false;
        self.statements.clear();
        Ok(())
    }

    /// The first column of every row `query` returns, as text (NULLs left out): the
    /// schemas a fleet's `schemas` query lists.
    pub fn column(&mut self, query: &str) -> std::result::Result<Vec<String>, String> {
        let messages = self
            .client
            .simple_query(query)
            .map_err(|e| self.message(&e))?;
        Ok(messages
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                _ => None,
            })
            .collect())
    }

    /// How many more sessions the server accepts now: `max_connections` less its
    /// reserved ones and those open, this one included.
    pub fn free_connections(&mut self) -> Result<usize> {
        let free: i64 = self
            .client
            .query_one(
                "SELECT current_setting('max_connections')::int8 \
                 - current_setting('superuser_reserved_connections')::int8 \
                 - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')",
                &[],
            )
            .map(|row| row.get(0))
            .map_err(|e| self.fail(self.message(&e)))?;
        Ok(usize::try_from(free).unwrap_or(0))
    }
}

impl Store for PostgresStore {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }

    /// A session-level advisory lock keyed on the database, the schema and the history
    /// table: the server releases it when the session ends, however the run ends.
    fn locked(&mut self) -> Result<bool> {
        let taken = self.try_lock("probe")?;
        if taken {
            self.release_lock()?;
        }
        Ok(!taken)
    }

    fn lock(&mut self, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            if self.try_lock("take")? {
                return Ok(());
            }
            if started.elapsed() >= timeout {
                return Err(Error::Refused(format!(
                    "{} is locked by another semigrate run (waited {} s); try again when it is done",
                    self.shown,
                    timeout.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `pg_dump` in its custom format into `to`, which the caller created with mode
    /// 0600. The password reaches pg_dump through its environment, never its arguments.
    fn backup(&mut self, to: &Path) -> Result<()> {
        let config: postgres::Config = self
            .url
            .parse()
            .map_err(|e: postgres::Error| self.fail(e))?;
        let password = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .or_else(|| std::env::var("PGPASSWORD").ok());
        let out = std::process::Command::new("pg_dump")
            .args(["--format=custom", "--no-password", "--file"])
            .arg(to)
            .args(self.schema.iter().map(|s| format!("--schema={}", load::quoted(s))))
            .arg(without_password(&self.url, None))
            .envs(password.map(|p| ("PGPASSWORD", p)))
            .output()
            .map_err(|e| {
                self.fail(format!(
                    "cannot run pg_dump for the backup: {e}; install PostgreSQL's client tools, or run with --no-backup"
                ))
            })?;
        if !out.status.success() {
            return Err(self.fail(format!(
                "pg_dump failed: {}",
                String::from_utf8_lossy(&out.stderr)
                    .trim()
                    .replace(&self.url, &self.shown)
            )));
        }
        Ok(())
    }
}

impl History for PostgresStore {
    fn read_history(&mut self, steps: bool) -> Result<Vec<Applied>> {
        self.flush()?;
        if !self.has_table("semigrate_migrations")? {
            return Ok(Vec::new());
        }
        let rows = self
            .client
            .query(super::history_query(steps), &[])
            .map_err(|e| {
                self.fail(format!(
                    "cannot read semigrate_migrations: {}",
                    self.message(&e)
                ))
            })?;
        let rows = rows.iter().map(|r| {
            Ok::<_, std::convert::Infallible>((
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                if steps { r.get(5) } else { None },
            ))
        });
        super::decode_history(rows, |never| match never {}).map_err(|reason| self.fail(reason))
    }

    fn recorded(&mut self, versions: [SemVer; 2]) -> Result<(usize, [bool; 2])> {
        self.flush()?;
        if !self.has_table("semigrate_migrations")? {
            return Ok((0, [false; 2]));
        }
        let [a, b] = versions.map(|v| v.to_string());
        self.statement(
            "SELECT (SELECT count(*) FROM semigrate_migrations), \
             EXISTS (SELECT 1 FROM semigrate_migrations WHERE version = $1), \
             EXISTS (SELECT 1 FROM semigrate_migrations WHERE version = $2)",
        )
        .and_then(|statement| self.client.query_one(&statement, &[&a, &b]))
        .map(|row| (row.get::<_, i64>(0) as usize, [row.get(1), row.get(2)]))
        .map_err(|e| self.fail(self.message(&e)))
    }

    fn record(&mut self, a: &Applied) -> Result<()> {
        let revert = a.revert.json();
        let sql = format!(
            "INSERT INTO semigrate_migrations \
             (version, description, checksum, applied_at, duration_ms, revert) \
             VALUES ({}, {}, {}, coalesce(nullif({}, ''), {CLOCK}), {}, {})",
            literal(&a.version.to_string()),
            literal(&a.description),
            literal(&a.checksum),
            literal(&a.applied_at),
            a.duration_ms,
            literal(revert)
        );
        self.defer(sql)
            .map_err(|e| self.fail(format!("cannot record {}: {}", a.version, self.message(&e))))
    }

    fn forget(&mut self, version: SemVer) -> Result<()> {
        let sql = format!(
            "DELETE FROM semigrate_migrations WHERE version = {}",
            literal(&version.to_string())
        );
        self.defer(sql).map_err(|e| {
            self.fail(format!(
                "cannot remove {version} from the history: {}",
                self.message(&e)
            ))
        })
    }

    fn log(&mut self, e: &LogEntry) -> Result<()> {
        let sql = format!(
            "INSERT INTO semigrate_log \
             (command, version, direction, from_version, to_version, outcome, duration_ms, error) \
             VALUES ({}, {}, {}, {}, {}, {}, {}, {})",
            literal(&e.command),
            literal(&e.version.to_string()),
            literal(&e.direction),
            literal(&e.from.to_string()),
            literal(&e.to.to_string()),
            literal(&e.outcome),
            e.duration_ms,
            e.error
                .as_deref()
                .map_or_else(|| "NULL".to_owned(), literal)
        );
        self.defer(sql)
            .map_err(|err| self.fail(format!("cannot write the run log: {}", self.message(&err))))
    }

    fn logged(&mut self) -> Result<Vec<Logged>> {
        self.flush()?;
        if !self.has_table("semigrate_log")? {
            return Ok(Vec::new());
        }
        let rows = self
            .client
            .query(
                "SELECT at, command, version, direction, from_version, to_version, outcome, \
                 duration_ms, error FROM semigrate_log ORDER BY id",
                &[],
            )
            .map_err(|e| self.fail(format!("cannot read semigrate_log: {}", self.message(&e))))?;
        rows.iter()
            .map(|row| {
                let version = |i: usize| {
                    let text: &str = row.get(i);
                    SemVer::parse(text)
                        .map_err(|why| self.fail(format!("semigrate_log has `{text}`: {why}")))
                };
                Ok(Logged {
                    at: row.get(0),
                    entry: LogEntry {
                        command: row.get(1),
                        version: version(2)?,
                        direction: row.get(3),
                        from: version(4)?,
                        to: version(5)?,
                        outcome: row.get(6),
                        duration_ms: row.get(7),
                        error: row.get(8),
                    },
                })
            })
            .collect()
    }

    fn accept(&mut self, a: &Applied) -> Result<()> {
        self.flush()?;
        let revert = a.revert.json();
        self.client
            .execute(
                "UPDATE semigrate_migrations SET checksum = $1, revert = $2 WHERE version = $3",
                &[&a.checksum, &revert, &a.version.to_string()],
            )
            .map(drop)
            .map_err(|e| self.fail(format!("cannot repair {}: {}", a.version, self.message(&e))))
    }

    fn now(&mut self) -> Result<String> {
        self.flush()?;
        self.client
            .query_one(&format!("SELECT {CLOCK}"), &[])
            .map(|row| row.get(0))
            .map_err(|e| self.fail(self.message(&e)))
    }
}

impl Steps for PostgresStore {
    /// PostgreSQL checks foreign keys at each statement or at commit and cannot switch
    /// them off for a transaction, so `foreign_keys = false` changes nothing here.
    ///
    /// The transaction's timeouts and, until a commit proves them there, the history
    /// tables go in the one batch with BEGIN: a round trip and a lock on
    /// `semigrate_swaps` less for every migration after the first.
    fn begin(&mut self, _foreign_keys: bool) -> Result<()> {
        let history = if self.tables_ready { "" } else { HISTORY };
        let begin = format!(
            "BEGIN; {}{history}",
            std::mem::take(&mut self.next_timeouts)
        );
        // Set first: if BEGIN ran and a later statement of the batch failed, the
        // aborted transaction must still be rolled back.
        self.in_transaction = true;
        if let Err(e) = self.client.batch_execute(&begin) {
            let reason = format!("cannot start a transaction: {}", self.message(&e));
            self.rollback();
            return Err(self.fail(reason));
        }
        Ok(())
    }

    /// The bookkeeping goes with the COMMIT: one round trip.
    fn commit(&mut self) -> Result<()> {
        let batch = std::mem::take(&mut self.pending) + "COMMIT";
        let committed = self.client.batch_execute(&batch);
        self.in_transaction = false;
        self.tables_ready = committed.is_ok();
        committed.map_err(|e| self.fail(format!("cannot commit: {}", self.message(&e))))
    }

    fn rollback(&mut self) {
        // The tables may have been created by the transaction rolled back, and the
        // statements prepared against them.
        self.tables_ready = false;
        self.statements.clear();
        self.pending.clear();
        if std::mem::take(&mut self.in_transaction) {
            // A failed rollback leaves the server to roll back when the session ends.
            let _ = self.client.batch_execute("ROLLBACK");
        }
    }

    fn execute(&mut self, sql: &str) -> std::result::Result<(), String> {
        match self.pending.is_empty() {
            true => self.client.batch_execute(sql),
            false => {
                let batch = std::mem::take(&mut self.pending) + sql;
                self.client.batch_execute(&batch)
            }
        }
        .map_err(|e| self.message(&e))
    }

    fn query(&mut self, sql: &str) -> std::result::Result<Rows, String> {
        self.flush().map_err(|e| e.to_string())?;
        // The prepared statement gives the column's type; the simple protocol gives
        // every value as text, NUMERIC included.
        let statement = self.client.prepare(sql).map_err(|e| self.message(&e))?;
        let column = statement
            .columns()
            .first()
            .map(|c| c.type_().clone())
            .ok_or("the query returns no column")?;
        let mut values = self
            .client
            .simple_query(sql)
            .map_err(|e| self.message(&e))?
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(typed(row.get(0), &column)),
                _ => None,
            });
        let first = values.next();
        let count = match (&first, values.next()) {
            (None, _) => RowCount::None,
            (Some(_), None) => RowCount::One,
            (Some(_), Some(_)) => RowCount::Many,
        };
        Ok(Rows { first, count })
    }

    fn database(&mut self) -> crate::rust::Database<'_> {
        // A Rust step reads what it likes: the bookkeeping is sent first. A failure
        // here fails the step's first statement, which runs in the aborted transaction.
        let _ = self.flush();
        crate::rust::Database::Postgres(&mut self.client)
    }

    fn set_timeouts(&mut self, lock: Option<&str>, statement: Option<&str>) -> Result<()> {
        // Sent with the next BEGIN: no round trip of its own.
        self.next_timeouts.clear();
        for (setting, value) in [("lock_timeout", lock), ("statement_timeout", statement)] {
            if let Some(value) = value {
                self.next_timeouts +=
                    &format!("SET LOCAL {setting} = '{}'; ", value.replace('\'', "''"));
            }
        }
        Ok(())
    }

    fn lock_timed_out(&mut self) -> bool {
        self.lock_timed_out.replace(false)
    }

    fn lock_holders(&mut self) -> Option<String> {
        let rows = self
            .client
            .query(
                "SELECT DISTINCT c.relname::text, a.pid, coalesce(a.application_name, ''), \
                 coalesce(a.state, ''), left(coalesce(a.query, ''), 60) \
                 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.granted AND l.pid <> pg_backend_pid() \
                 AND n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
                 ORDER BY 1, 2 LIMIT 5",
                &[],
            )
            .ok()?;
        let held: Vec<String> = rows
            .iter()
            .map(|r| {
                let (table, pid, app, state, query): (String, i32, String, String, String) =
                    (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
                format!(
                    "{table} is held by session {pid} ({app}{}{state}: {query})",
                    if app.is_empty() { "" } else { ", " }
                )
            })
            .collect();
        (!held.is_empty()).then(|| held.join("; "))
    }

    fn foreign_key_violations(&mut self) -> std::result::Result<Vec<String>, String> {
        Ok(Vec::new())
    }
}

impl Csv for PostgresStore {
    fn load(&mut self, step: &LoadStep, file: &Path) -> std::result::Result<u64, String> {
        self.flush().map_err(|e| e.to_string())?;
        let mut rows = load::Rows::open(file, step)?;
        rows.columns = self.spelled(&step.table, &rows.columns);
        let key: Vec<String> = step.key.iter().map(|k| k.to_string()).collect();
        let key = self.spelled(&step.table, &key);
        let columns: Vec<String> = rows.columns.iter().map(|c| load::quoted(c)).collect();
        let table = load::quoted(&step.table);
        // An upsert goes through a temp table, since COPY cannot update.
        let target = match step.upsert {
            true => {
                self.client
                    .batch_execute(&format!(
                        "CREATE TEMP TABLE semigrate_load ON COMMIT DROP AS SELECT {} FROM {table} WITH NO DATA",
                        columns.join(", ")
                    ))
                    .map_err(|e| self.message(&e))?;
                "semigrate_load".to_owned()
            }
            false => table.clone(),
        };
        let copy = format!(
            "COPY {target} ({}) FROM STDIN (FORMAT csv)",
            columns.join(", ")
        );
        let url = &self.url;
        let mut writer = self.client.copy_in(&copy).map_err(|e| message(&e, url))?;
        let mut line = Vec::new();
        let loaded = rows.each(|values, _| {
            load::copy_line(values, &mut line);
            std::io::Write::write_all(&mut writer, &line).map_err(|e| e.to_string())
        });
        let finished = match loaded {
            Ok(n) => writer.finish().map(|_| n),
            Err(e) => return Err(e),
        };
        let n = finished.map_err(|e| {
            // The server names the line of the COPY stream: the file's is found again.
            let at = e
                .as_db_error()
                .and_then(|d| d.where_())
                .and_then(|w| w.split("line ").nth(1))
                .and_then(|w| w.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
                .and_then(|n| load::file_line(file, step, n));
            let message = self.message(&e);
            match at {
                Some(line) => format!("{} line {line}: {message}", step.path),
                None => format!("{}: {message}", step.path),
            }
        })?;
        if step.upsert {
            // Update the rows a key finds, insert the others. (ON CONFLICT checks NOT
            // NULL first, which a load of some columns would fail.)
            let is_key = |c: &String| key.contains(c);
            let matched: Vec<String> = key
                .iter()
                .map(|k| format!("t.{k} = s.{k}", k = load::quoted(k)))
                .collect();
            let matched = matched.join(" AND ");
            let set: Vec<String> = rows
                .columns
                .iter()
                .filter(|c| !is_key(c))
                .map(|c| format!("{c} = s.{c}", c = load::quoted(c)))
                .collect();
            let all = columns.join(", ");
            let mut sql = String::new();
            if !set.is_empty() {
                sql += &format!(
                    "UPDATE {table} t SET {} FROM semigrate_load s WHERE {matched}; ",
                    set.join(", ")
                );
            }
            sql += &format!(
                "INSERT INTO {table} ({all}) SELECT {all} FROM semigrate_load s \
                 WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {matched}); \
                 DROP TABLE semigrate_load"
            );
            self.client
                .batch_execute(&sql)
                .map_err(|e| format!("{}: {}", step.path, self.message(&e)))?;
        }
        Ok(n)
    }

    fn unload(&mut self, step: &LoadStep, file: &Path) -> std::result::Result<u64, String> {
        self.flush().map_err(|e| e.to_string())?;
        let mut rows = load::Rows::open(file, step)?;
        rows.columns = self.spelled(&step.table, &rows.columns);
        let key: Vec<String> = step.key.iter().map(|k| k.to_string()).collect();
        let key = self.spelled(&step.table, &key);
        let at = rows.positions(&key, &step.path)?;
        // Compared as text: the file's values are text, whatever the columns' types.
        let clauses: Vec<String> = key
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{}::text = ${}", load::quoted(k), i + 1))
            .collect();
        let sql = format!(
            "DELETE FROM {} WHERE {}",
            load::quoted(&step.table),
            clauses.join(" AND ")
        );
        let delete = self.client.prepare(&sql).map_err(|e| self.message(&e))?;
        let client = &mut self.client;
        rows.each(|values, _| {
            let key: Vec<Option<&str>> = at.iter().map(|&i| values[i]).collect();
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> = key
                .iter()
                .map(|v| v as &(dyn postgres::types::ToSql + Sync))
                .collect();
            client
                .execute(&delete, &params)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    fn export(
        &mut self,
        query: &str,
        delimiter: u8,
        out: &mut dyn std::io::Write,
    ) -> std::result::Result<u64, String> {
        self.flush().map_err(|e| e.to_string())?;
        let delimiter = char::from(delimiter).to_string().replace('\'', "''");
        let copy = format!(
            "COPY ({}) TO STDOUT (FORMAT csv, HEADER, DELIMITER '{delimiter}')",
            query.trim().trim_end_matches(';')
        );
        let url = &self.url;
        let mut reader = self.client.copy_out(&copy).map_err(|e| message(&e, url))?;
        let mut buffer = vec![0; 1 << 16];
        let (mut lines, mut quoted) = (0u64, false);
        loop {
            let n = std::io::Read::read(&mut reader, &mut buffer).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            for &b in &buffer[..n] {
                quoted ^= b == b'"';
                lines += u64::from(b == b'\n' && !quoted);
            }
            out.write_all(&buffer[..n])
                .map_err(|e| format!("cannot write: {e}"))?;
        }
        Ok(lines.saturating_sub(1))
    }
}

impl Catalog for PostgresStore {
    fn schema_text(&mut self) -> std::result::Result<String, String> {
        self.flush().map_err(|e| e.to_string())?;
        // Prepared once a session: planning the catalog's query costs more than
        // running it, and a Rust step reads the schema before and after.
        let statement = self.statement(SCHEMA_TEXT).map_err(|e| self.message(&e))?;
        self.client
            .query_one(&statement, &[])
            .map(|row| row.get(0))
            .map_err(|e| self.message(&e))
    }

    fn objects(&mut self) -> Result<crate::store::schema::Schema> {
        self.flush()?;
        catalog(&mut self.client)
            .map_err(|e| self.fail(format!("cannot read the schema: {}", self.message(&e))))
    }
}

impl Journal for PostgresStore {
    fn record_swaps(&mut self, swaps: &[Swap]) -> Result<()> {
        for swap in swaps {
            let text = |path: &Path| literal(&path.to_string_lossy());
            let sql = format!(
                "INSERT INTO semigrate_swaps (target, temp, content) VALUES ({}, {}, {}) \
                 ON CONFLICT (target) DO UPDATE \
                 SET temp = EXCLUDED.temp, content = EXCLUDED.content",
                text(&swap.target),
                swap.temp.as_deref().map_or_else(|| "NULL".to_owned(), text),
                swap.content
                    .map_or_else(|| "NULL".to_owned(), |c| literal(&c.to_text()))
            );
            self.defer(sql).map_err(|e| {
                self.fail(format!("cannot record the CSV swaps: {}", self.message(&e)))
            })?;
        }
        Ok(())
    }

    fn swaps(&mut self) -> Result<Vec<Swap>> {
        self.flush()?;
        if !self.has_table("semigrate_swaps")? {
            return Ok(Vec::new());
        }
        let rows = self
            .client
            .query(
                "SELECT target, temp, content FROM semigrate_swaps ORDER BY target",
                &[],
            )
            .map_err(|e| self.fail(format!("cannot read semigrate_swaps: {}", self.message(&e))))?;
        Ok(rows
            .iter()
            .map(|row| Swap {
                target: PathBuf::from(row.get::<_, String>(0)),
                temp: row.get::<_, Option<String>>(1).map(PathBuf::from),
                content: row
                    .get::<_, Option<String>>(2)
                    .as_deref()
                    .and_then(Content::parse),
            })
            .collect())
    }

    fn clear_swaps(&mut self) -> Result<()> {
        self.client
            .batch_execute("DELETE FROM semigrate_swaps")
            .map_err(|e| self.fail(format!("cannot clear the CSV swaps: {}", self.message(&e))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(
            redact("postgres://app:s3cret@db.example:5432/prod"),
            "postgres://app:***@db.example:5432/prod"
        );
        assert_eq!(
            redact("postgresql://app@db/prod?sslmode=require&password=s3cret"),
            "postgresql://app@db/prod?sslmode=require&password=***"
        );
        assert_eq!(redact("postgres://db/prod"), "postgres://db/prod");
        assert_eq!(redact("postgres://a:b:c@h"), "postgres://a:***@h");
        assert_eq!(
            without_password(
                "postgres://app:s3cret@db/prod?password=x&sslmode=disable",
                None
            ),
            "postgres://app@db/prod?sslmode=disable"
        );
        assert_eq!(
            without_password("postgres://h/d?password=x", None),
            "postgres://h/d"
        );
    }

    /// The catalog reads tables, columns and sequences from `pg_catalog` by index;
    /// what it reads must be what information_schema says of them, which is what
    /// compiled schemas and acknowledged differences were written in.
    #[test]
    fn the_catalog_reads_what_information_schema_says() {
        let url = "postgres://postgres@127.0.0.1:5432/postgres";
        let mut client = postgres::Client::connect(url, postgres::NoTls)
            .expect("PostgreSQL must run on 127.0.0.1:5432 for this test (.ci/run starts it)");
        let schema = format!("catalog_agrees_{}", std::process::id());
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; \
                 SET search_path = {schema};
                 CREATE TYPE mood AS ENUM ('a', 'b');
                 CREATE DOMAIN positive AS integer NOT NULL CHECK (VALUE > 0);
                 CREATE DOMAIN tags AS text[];
                 CREATE TABLE t (id serial PRIMARY KEY, m mood, p positive, tg tags, a int[],
                     n numeric(10, 2), v varchar(20) DEFAULT 'x', ts timestamptz DEFAULT now(),
                     g int GENERATED ALWAYS AS (id * 2) STORED,
                     i bigint GENERATED BY DEFAULT AS IDENTITY, gone int);
                 ALTER TABLE t DROP COLUMN gone;
                 CREATE TABLE part (id int, k int) PARTITION BY RANGE (k);
                 CREATE TABLE part_1 PARTITION OF part FOR VALUES FROM (0) TO (10);
                 CREATE VIEW v AS SELECT id, m FROM t;
                 CREATE SEQUENCE s START 5 INCREMENT 3;
                 CREATE TABLE semigrate_own (x int);
                 CREATE TYPE pair AS (x int, y int);
                 CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;
                 CREATE INDEX ix_t_v ON t (v);
                 CREATE FUNCTION twice(x int) RETURNS int LANGUAGE sql AS 'SELECT 2 * x';
                 CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS
                     'BEGIN RETURN NEW; END';
                 CREATE TRIGGER tr_t BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION touch();
                 ALTER TABLE t ADD CONSTRAINT v_set CHECK (v <> '');"
            ))
            .unwrap();
        let rows = |client: &mut postgres::Client, sql: &str| {
            let mut rows: Vec<(String, String, String)> = client
                .query(sql, &[])
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            rows.sort();
            rows
        };
        let ours: Vec<_> = rows(&mut client, CATALOG)
            .into_iter()
            .filter(|(kind, ..)| ["table", "column", "sequence"].contains(&kind.as_str()))
            .collect();
        let theirs = rows(
            &mut client,
            // A partition is left out (the application names it) and a
            // partitioned table is said by its key, as the catalog promises.
            "SELECT 'table', table_name::text,
                    coalesce('PARTITIONED BY ' || pg_get_partkeydef(c.oid), table_type::text)
             FROM information_schema.tables
             JOIN pg_class c ON c.oid = (quote_ident(table_schema) || '.' || quote_ident(table_name))::regclass
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
               AND table_name NOT LIKE 'semigrate\\_%' AND NOT c.relispartition
             UNION ALL
             SELECT 'column', table_name || '.' || column_name, data_type
                    || CASE WHEN is_nullable = 'NO' THEN ' NOT NULL' ELSE '' END
                    || coalesce(' DEFAULT ' || column_default, '')
             FROM information_schema.columns
             JOIN pg_class c ON c.oid = (quote_ident(table_schema) || '.' || quote_ident(table_name))::regclass
             WHERE table_schema = current_schema() AND table_name NOT LIKE 'semigrate\\_%'
               AND NOT c.relispartition
             UNION ALL
             SELECT 'sequence', sequence_name, data_type || ' start ' || start_value || ' by ' || increment
             FROM information_schema.sequences
             WHERE sequence_schema = current_schema() AND sequence_name NOT LIKE 'semigrate\\_%'",
        );
        // Every other object by its name, as the namespace lists them.
        let named = |rows: Vec<(String, String, String)>| -> Vec<(String, String)> {
            rows.into_iter()
                .map(|(kind, name, _)| (kind, name))
                .collect()
        };
        let all = named(rows(&mut client, CATALOG));
        let listed = named(rows(
            &mut client,
            "SELECT 'index', indexname::text, '' FROM pg_indexes
             WHERE schemaname = current_schema() AND tablename NOT LIKE 'semigrate\\_%'
             UNION ALL
             SELECT 'constraint', conname || ' on ' || conrelid::regclass::text, ''
             FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
               AND conrelid <> 0 AND conrelid::regclass::text NOT LIKE 'semigrate\\_%'
             UNION ALL
             SELECT 'trigger', tgname || ' on ' || tgrelid::regclass::text, '' FROM pg_trigger
             WHERE NOT tgisinternal
               AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace)
             UNION ALL
             SELECT 'view', relname::text, '' FROM pg_class
             WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('v', 'm')
             UNION ALL
             SELECT 'function', proname || '(' || pg_get_function_identity_arguments(oid) || ')', ''
             FROM pg_proc
             WHERE pronamespace = current_schema()::regnamespace
             UNION ALL
             SELECT 'type', typname::text, '' FROM pg_type
             WHERE typnamespace = current_schema()::regnamespace
               AND (typtype IN ('e', 'd') OR typrelid IN (SELECT oid FROM pg_class WHERE relkind = 'c'))",
        ));
        client
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .unwrap();
        assert_eq!(ours, theirs);
        assert!(ours.len() > 15, "{ours:?}");
        assert!(ours.iter().any(|(kind, name, definition)| kind == "table"
            && name == "part"
            && definition == "PARTITIONED BY RANGE (k)"));
        let others: Vec<_> = all
            .into_iter()
            .filter(|(kind, _)| !["table", "column", "sequence"].contains(&kind.as_str()))
            .collect();
        assert_eq!(others, listed);
        assert_eq!(others.len(), 13, "{others:?}");
    }
}
