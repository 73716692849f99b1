//! The build-time replay on PostgreSQL, when `SEMIGRATE_VERIFY_POSTGRES_URL` names a
//! server: the chain's PostgreSQL text runs in a scratch schema that the build creates
//! and drops, with the checks of the SQLite replay: each up runs, its validations
//! prepare, its down restores the schema exactly, and its up runs again.
//!
//! The replay also measures what each step does to the tables that exist before its
//! migration, each seeded with a row so that scans and validations are real: the
//! locks its backend holds (`pg_locks`), whether it read a whole table
//! (`pg_stat_xact_user_tables`) and whether it rewrote one (`pg_class.relfilenode`).
//! A step that rewrites a table, or reads one whole under a lock that blocks writes,
//! fails the build unless the migration accepts it (`locks`).

use crate::build::diagnostic::Diagnostic;
use crate::data::load::quoted;
use crate::model::{Check, Engine, Held, List, Migration, SchemaObject, Step, Text};
use crate::store::schema::Schema;
use crate::store::schema::cut;
use postgres::{Client, NoTls};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Replays the chain on the server at `url`, recording in each migration the locks its
/// steps were measured to take; returns the errors of the first migration that fails.
pub fn replay(url: &str, dir: &Path, migrations: &mut [Migration]) -> Vec<Diagnostic> {
    let fail = |message: String| vec![Diagnostic::file(dir, message)];
    let mut client = match Client::connect(url, NoTls) {
        Ok(client) => client,
        Err(e) => {
            return fail(format!(
                "SEMIGRATE_VERIFY_POSTGRES_URL: cannot connect: {}",
                reason(&e)
            ));
        }
    };
    let schema = format!(
        "semigrate_verify_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let created = client.batch_execute(&format!(
        "CREATE SCHEMA {schema}; SET search_path TO {schema}"
    ));
    let errors = match created {
        Err(e) => fail(format!("cannot create the scratch schema: {}", reason(&e))),
        Ok(()) => {
            let mut seeded = BTreeSet::new();
            migrations
                .iter_mut()
                .find_map(|m| {
                    match replay_one(&mut client, &schema, &mut seeded, m) {
                        Ok(replayed) => {
                            m.locks.measured = Some(List::Owned(replayed.held));
                            m.schema_postgres = Some(List::Owned(replayed.objects));
                            None
                        }
                        Err(errors) => Some(errors),
                    }
                    .map(|errors| {
                        let file = dir.join(m.file.as_ref());
                        errors
                            .into_iter()
                            .map(|e| Diagnostic::file(&file, e))
                            .collect()
                    })
                })
                .unwrap_or_default()
        }
    };
    // Whatever happened, the scratch schema goes.
    let _ = client.batch_execute("ROLLBACK");
    let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    errors
}

fn reason(e: &postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |db| db.message().to_owned())
}

/// What the replay of one migration found: the locks its steps took, and the objects
/// its up changed.
struct Replayed {
    held: Vec<Held>,
    objects: Vec<SchemaObject>,
}

/// Replays one migration: seeds its tables, runs and measures its up, prepares its
/// validations, runs and measures its down, compares the schema, runs its up again.
/// Returns what was measured, or every error.
fn replay_one(
    client: &mut Client,
    schema: &str,
    seeded: &mut BTreeSet<u32>,
    m: &Migration,
) -> Result<Replayed, Vec<String>> {
    seed(client, schema, seeded).map_err(|e| vec![e])?;
    let before = snapshot(client).map_err(|e| vec![e])?;
    let mut held = apply(client, schema, m, "up", &m.up, true).map_err(|e| vec![e])?;
    let up = before.against(&snapshot(client).map_err(|e| vec![e])?);
    let mut errors = Vec::new();
    for (i, check) in m.validate.iter().enumerate() {
        let Check::Sql { sql, .. } = check else {
            continue;
        };
        if let Some(text) = sql.for_engine(Engine::Postgres)
            && let Err(e) = client.prepare(text)
        {
            errors.push(format!(
                "validation {} does not prepare on PostgreSQL at {}: {} (in `{}`)",
                i + 1,
                m.version,
                reason(&e),
                cut(text)
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if !m.irreversible {
        held.extend(apply(client, schema, m, "down", &m.down, true).map_err(|e| vec![e])?);
        let after = snapshot(client).map_err(|e| vec![e])?;
        let differences = before.against(&after).differences();
        if !differences.is_empty() {
            return Err(vec![format!(
                "down does not undo up on PostgreSQL: {}",
                differences.join("; ")
            )]);
        }
        apply(client, schema, m, "up", &m.up, false).map_err(|e| vec![e])?;
    }
    let hazards: Vec<String> = held
        .iter()
        .filter(|h| h.blocks_writes() && !m.locks.accepted.covers(&h.table))
        .map(hazard)
        .collect();
    match hazards.is_empty() {
        true => Ok(Replayed {
            held,
            objects: up.objects(),
        }),
        false => Err(hazards),
    }
}

/// A measured hazard, in words: the step, the table, the lock, and the way out.
fn hazard(h: &Held) -> String {
    let lock = h.lock.as_deref().unwrap_or("ACCESS EXCLUSIVE");
    let a = match lock.starts_with(['A', 'E']) {
        true => "an",
        false => "a",
    };
    let waiting = match lock {
        "ACCESS EXCLUSIVE" => "reads and writes",
        _ => "writes",
    };
    let what = match h.rewrite {
        true => format!(
            "rewrites table {} under {a} {lock} lock, so {waiting}",
            h.table
        ),
        false => format!(
            "reads all of table {} under {a} {lock} lock, so {waiting}",
            h.table
        ),
    };
    format!(
        "{} step {} {what} wait until the migration ends (measured on PostgreSQL): build \
         indexes CONCURRENTLY, add constraints NOT VALID then VALIDATE them, backfill in \
         batches; or accept it with `locks = [\"{}\"]` (or `locks = \"accepted\"`)",
        h.direction, h.step, h.table
    )
}

/// Runs the SQL steps of one direction: in one transaction, unless the migration says
/// `transaction = false`. CSV steps have no part in a schema replay. With `measure`,
/// returns what each step did to the tables that existed before.
fn apply(
    client: &mut Client,
    schema: &str,
    m: &Migration,
    direction: &str,
    steps: &[Step],
    measure: bool,
) -> Result<Vec<Held>, String> {
    let mut held = Vec::new();
    let tables = match measure {
        true => tables(client, schema)?,
        false => BTreeMap::new(),
    };
    let mut run = |client: &mut Client| -> Result<(), String> {
        // The lock modes held so far in the migration's transaction, per table.
        let mut taken: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
        for (i, step) in steps.iter().enumerate() {
            let Step::Sql(sql) = step else { continue };
            let Some(text) = sql.for_engine(Engine::Postgres) else {
                continue;
            };
            // As the run sends it: outside a transaction, one statement at a time.
            let batches = crate::statements::batches(text, m.transaction);
            for (k, batch) in batches.iter().enumerate() {
                // Where the tables hold their seeded row, say so: production's rows
                // are what such a failure is about.
                let seeded = match tables.is_empty() {
                    true => "",
                    false => " with a row in each table that existed before the migration",
                };
                let failed = |e: postgres::Error| {
                    format!(
                        "{direction} step {}{} fails on PostgreSQL{seeded}: {} (in `{}`)",
                        i + 1,
                        crate::statements::which(k, batches.len()),
                        reason(&e),
                        cut(batch)
                    )
                };
                if tables.is_empty() {
                    client.batch_execute(batch).map_err(failed)?;
                    continue;
                }
                // Outside the migration's transaction, a statement is measured in one
                // of its own, unless it cannot run in one (VACUUM, CONCURRENTLY): then
                // only a rewrite can be seen.
                let own = !m.transaction;
                if own {
                    client.batch_execute("BEGIN").map_err(failed)?;
                    taken.clear();
                }
                let start = probe(client, schema)?;
                let mut seen = true;
                if let Err(e) = client.batch_execute(batch) {
                    let outside =
                        e.code() == Some(&postgres::error::SqlState::ACTIVE_SQL_TRANSACTION);
                    if own {
                        let _ = client.batch_execute("ROLLBACK");
                    }
                    if !(own && outside) {
                        return Err(failed(e));
                    }
                    client.batch_execute(batch).map_err(failed)?;
                    seen = false;
                }
                let end = probe(client, schema)?;
                if own && seen {
                    client.batch_execute("COMMIT").map_err(failed)?;
                }
                for (oid, table) in &tables {
                    let (Some(a), Some(b)) = (start.get(oid), end.get(oid)) else {
                        continue;
                    };
                    let modes = taken.entry(*oid).or_default();
                    let new_mode = b.modes.iter().any(|mode| !modes.contains(mode));
                    modes.extend(b.modes.iter().cloned());
                    let (scan, rewrite) = (seen && b.scans > a.scans, b.file != a.file);
                    if !(new_mode || scan || rewrite) {
                        continue;
                    }
                    // Outside a transaction, each statement on its own: their locks
                    // are not held together.
                    held.push(Held {
                        direction: Text::Owned(direction.to_owned()),
                        step: (i + 1) as u32,
                        table: Text::Owned(table.clone()),
                        lock: seen
                            .then(|| modes.iter().max_by_key(|mode| rank(mode)))
                            .flatten()
                            .map(|mode| Text::Owned(mode_name(mode))),
                        scan,
                        rewrite,
                    });
                }
            }
        }
        Ok(())
    };
    if !m.transaction {
        run(client)?;
        return Ok(held);
    }
    client.batch_execute("BEGIN").map_err(|e| reason(&e))?;
    match run(client) {
        Ok(()) => client
            .batch_execute("COMMIT")
            .map_err(|e| reason(&e))
            .map(|()| held),
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK");
            Err(e)
        }
    }
}

/// The tables of the scratch schema: their oids and names.
fn tables(client: &mut Client, schema: &str) -> Result<BTreeMap<u32, String>, String> {
    let rows = client
        .query(
            "SELECT c.oid, c.relname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
            &[&schema],
        )
        .map_err(|e| format!("cannot read the scratch schema: {}", reason(&e)))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// One table as a probe sees it.
struct Seen {
    /// Its storage: a new one is a rewrite.
    file: u32,
    /// Sequential scans of it in this transaction so far.
    scans: i64,
    /// The lock modes this backend holds on it (`ShareLock`).
    modes: Vec<String>,
}

/// The scratch schema's tables as this backend sees them now, in one round trip.
fn probe(client: &mut Client, schema: &str) -> Result<BTreeMap<u32, Seen>, String> {
    let rows = client
        .query(
            "SELECT c.oid, c.relfilenode, coalesce(s.seq_scan, 0), \
             array(SELECT l.mode FROM pg_locks l WHERE l.relation = c.oid \
                   AND l.pid = pg_backend_pid() AND l.granted) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_stat_xact_user_tables s ON s.relid = c.oid \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
            &[&schema],
        )
        .map_err(|e| format!("cannot measure the step's locks: {}", reason(&e)))?;
    Ok(rows
        .iter()
        .map(|r| {
            let seen = Seen {
                file: r.get(1),
                scans: r.get(2),
                modes: r.get(3),
            };
            (r.get(0), seen)
        })
        .collect())
}

/// PostgreSQL's table lock modes, weakest first, as `pg_locks` names them.
const MODES: [&str; 8] = [
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
];

fn rank(mode: &str) -> usize {
    MODES.iter().position(|m| *m == mode).unwrap_or(0)
}

/// `ShareRowExclusiveLock` as the documentation names it: `SHARE ROW EXCLUSIVE`.
fn mode_name(mode: &str) -> String {
    let mut name = String::new();
    for c in mode.trim_end_matches("Lock").chars() {
        if c.is_ascii_uppercase() && !name.is_empty() {
            name.push(' ');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// Gives each table of the scratch schema not seeded yet a row, when it has none,
/// so that the next migration's scans and validations meet data: `1` in every
/// column its type takes it in, or in the NOT NULL ones only when that row breaks a
/// constraint. A table no row fits (a foreign key to an empty table) is tried again
/// after the others.
fn seed(client: &mut Client, schema: &str, seeded: &mut BTreeSet<u32>) -> Result<(), String> {
    let mut waiting: Vec<(u32, String)> = tables(client, schema)?
        .into_iter()
        .filter(|(oid, _)| !seeded.contains(oid))
        .collect();
    let read = |e: postgres::Error| format!("cannot seed the scratch schema: {}", reason(&e));
    loop {
        let before = waiting.len();
        let mut left = Vec::new();
        for (oid, table) in waiting {
            let empty: bool = client
                .query_one(
                    &format!(
                        "SELECT NOT EXISTS (SELECT 1 FROM {schema}.{})",
                        quoted(&table)
                    ),
                    &[],
                )
                .map_err(read)?
                .get(0);
            if !empty {
                seeded.insert(oid);
                continue;
            }
            let columns = client
                .query(
                    "SELECT quote_ident(a.attname), format_type(a.atttypid, a.atttypmod), \
                     a.attnotnull, t.typcategory::text \
                     FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
                     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped \
                     AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''",
                    &[&oid],
                )
                .map_err(read)?;
            let inserted = [false, true].into_iter().any(|required_only| {
                let (mut names, mut values) = (Vec::new(), Vec::new());
                for c in &columns {
                    let (name, kind, not_null, category): (String, String, bool, String) =
                        (c.get(0), c.get(1), c.get(2), c.get(3));
                    let value = match category.as_str() {
                        "N" | "S" | "T" => "1",
                        "B" => "true",
                        "D" => "now",
                        "A" => "{}",
                        _ if kind.starts_with("json") => "{}",
                        _ if kind == "uuid" => "00000000-0000-0000-0000-000000000001",
                        _ => continue,
                    };
                    if required_only && !not_null {
                        continue;
                    }
                    names.push(name);
                    values.push(format!("'{value}'::{kind}"));
                }
                let into = format!("INSERT INTO {schema}.{}", quoted(&table));
                let insert = match names.is_empty() {
                    true => format!("{into} DEFAULT VALUES"),
                    false => format!(
                        "{into} ({}) VALUES ({})",
                        names.join(", "),
                        values.join(", ")
                    ),
                };
                client.batch_execute(&insert).is_ok()
            });
            match inserted {
                true => {
                    seeded.insert(oid);
                }
                false => left.push((oid, table)),
            }
        }
        if left.is_empty() || left.len() == before {
            return Ok(());
        }
        waiting = left;
    }
}

/// The scratch schema as the schema check reads a store's (the search path is set to
/// it): every object with its definition, the scratch schema's name left out.
fn snapshot(client: &mut Client) -> Result<Schema, String> {
    crate::store::postgres::catalog(client)
        .map_err(|e| format!("cannot read the scratch schema: {}", reason(&e)))
}
