//! The replay on SQLite: every migration is applied to an in-memory SQLite, its
//! validations are prepared, its down is applied and must restore the schema exactly,
//! and its up is applied again before the next one. What fails here never ships.

use super::{Found, unacknowledged};
use crate::data::load::quoted;
use crate::fk_check;
use crate::model::{Engine, Migration, Step};
use crate::sqlite_error::message as sqlite_message;
use crate::store::schema::{Change, Difference, Schema, cut};
use rusqlite::Connection;

/// Replays the chain, recording in each migration the objects its up changed; returns
/// every error found. A migration whose down does not restore the schema, or whose
/// validations do not prepare, is reported and the replay goes on from the state its
/// up left; one whose up fails ends the replay (the migrations after it would only
/// repeat the damage).
pub fn replay(migrations: &mut [Migration]) -> Result<Vec<Found>, String> {
    let mut conn = open()?;
    let mut schema = Schema::default();
    let mut found = Vec::new();
    for (index, m) in migrations.iter_mut().enumerate() {
        let replayed = replay_one(&mut conn, m, &schema);
        let up = replayed.up;
        if !replayed.errors.is_empty() || !replayed.left.is_empty() {
            found.push(Found {
                index,
                errors: replayed.errors,
                left: replayed.left,
                down_failed: replayed.down_failed,
                hazards: Vec::new(),
                fails_on_rows: false,
            });
        }
        let Some(up) = up else {
            return Ok(found);
        };
        m.schema = Some(up.objects().into());
        schema.apply(&up);
        m.schema_digest = Some(schema.digest());
    }
    // A round trip over downs found flawed would only say it again.
    if found.iter().any(|f| !f.errors.is_empty()) {
        return Ok(found);
    }
    for failed in super::round_trip(migrations, &mut Trip(conn)) {
        super::round_trip_fails(&mut found, migrations, failed);
    }
    Ok(found)
}

/// A new in-memory SQLite, foreign keys on, as a store is run.
fn open() -> Result<Connection, String> {
    Connection::open_in_memory()
        .and_then(|c| c.execute_batch("PRAGMA foreign_keys = ON;").map(|()| c))
        .map_err(|e| format!("cannot open an in-memory SQLite: {e}"))
}

/// The round trip's in-memory store (`proof::round_trip`).
struct Trip(Connection);

impl super::Trip for Trip {
    fn run(&mut self, m: &Migration, direction: &'static str) -> Result<(), String> {
        let steps = match direction {
            "up" => &m.up,
            _ => &m.down,
        };
        new_session(&self.0).and_then(|()| apply(&self.0, m, direction, steps))
    }

    fn rebuild(&mut self, migrations: &[Migration]) -> Result<(), String> {
        self.0 = open()?;
        migrations
            .iter()
            .try_for_each(|m| apply(&self.0, m, "up", &m.up))
    }
}

/// What the replay of one migration found: what its up changed (None when the up
/// failed and the replay cannot go on), and every error.
struct Replayed {
    up: Option<Change>,
    errors: Vec<String>,
    left: Vec<Difference>,
    down_failed: Option<String>,
}

/// Replays one migration from the schema `before`; returns what its up changed, which
/// brings `before` to where the next migration starts (up, down and up again must
/// agree, so the schema after the second up is the same). A down that fails or does
/// not restore is reported, and the database is brought back to where the up left it
/// from a copy taken before the down.
fn replay_one(conn: &mut Connection, m: &Migration, before: &Schema) -> Replayed {
    let failed = |e: String| Replayed {
        up: None,
        errors: vec![e],
        left: Vec::new(),
        down_failed: None,
    };
    let changes = |conn: &Connection| {
        before
            .changes(conn)
            .map_err(|e| format!("cannot read the schema: {e}"))
    };
    if let Err(e) = apply(conn, m, "up", &m.up) {
        return failed(e);
    }
    let up = match changes(conn) {
        Ok(up) => up,
        Err(e) => return failed(e),
    };
    let mut errors = super::unprepared(m, Engine::Sqlite, |text| {
        conn.prepare(text).map(drop).map_err(|e| sqlite_message(&e))
    });
    let removed = up.removed();
    if !removed.is_empty() && !m.destructive {
        errors.push(format!(
            "up removes {}; say `destructive = true` to acknowledge it",
            removed.join(", ")
        ));
    }
    if m.irreversible {
        return Replayed {
            up: Some(up),
            errors,
            left: Vec::new(),
            down_failed: None,
        };
    }
    let saved = match copy(conn) {
        Ok(saved) => saved,
        Err(e) => return failed(e),
    };
    let left = new_session(conn)
        .and_then(|()| apply(conn, m, "down", &m.down))
        .and_then(|()| {
            let live = |t: &str| table_sql(conn, t);
            changes(conn).map(|after| after.differences(&live))
        });
    let mut down_failed = None;
    let (restored, left) = match left {
        Err(e) => {
            errors.push(e.clone());
            down_failed = Some(e);
            (false, Vec::new())
        }
        Ok(left) => {
            errors.extend(unacknowledged(m, &left, "", true));
            (left.is_empty(), left)
        }
    };
    // Up again after a down that restored the schema: both must run, in turn. After
    // one that did not, the up's own state comes back from the copy.
    let again = match restored {
        true => new_session(conn).and_then(|()| apply(conn, m, "up (again, after down)", &m.up)),
        false => restore(&saved, conn),
    };
    match again {
        Ok(()) => Replayed {
            up: Some(up),
            errors,
            left,
            down_failed,
        },
        Err(e) => {
            errors.push(e);
            Replayed {
                up: None,
                errors,
                left,
                down_failed,
            }
        }
    }
}

/// A copy of the replay's database, in memory, through SQLite's backup API.
fn copy(conn: &Connection) -> Result<Connection, String> {
    let mut saved = Connection::open_in_memory().map_err(|e| format!("cannot open a copy: {e}"))?;
    rusqlite::backup::Backup::new(conn, &mut saved)
        .and_then(|b| b.run_to_completion(i32::MAX, std::time::Duration::ZERO, None))
        .map_err(|e| format!("cannot copy the replay's database: {e}"))?;
    Ok(saved)
}

/// Brings the replay's database back to the copy `saved`.
fn restore(saved: &Connection, conn: &mut Connection) -> Result<(), String> {
    rusqlite::backup::Backup::new(saved, conn)
        .and_then(|b| b.run_to_completion(i32::MAX, std::time::Duration::ZERO, None))
        .map_err(|e| format!("cannot bring the replay's database back after down: {e}"))
}

/// Forgets what the connection holds of its own: a downgrade, and the upgrade after it,
/// run on connections of their own, so a temporary table an up made (to hold the keys
/// of a backfill, say) is gone by then, and the up run again makes it again.
fn new_session(conn: &Connection) -> Result<(), String> {
    let objects: Vec<(String, String)> = conn
        .prepare(
            "SELECT type, name FROM temp.sqlite_master WHERE type IN ('view', 'trigger', 'table')",
        )
        .and_then(|mut stmt| {
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(|e| format!("cannot read the temporary objects: {}", sqlite_message(&e)))?;
    objects.iter().try_for_each(|(kind, name)| {
        conn.execute_batch(&format!("DROP {kind} IF EXISTS temp.{}", quoted(name)))
            .map_err(|e| {
                format!(
                    "cannot drop temporary {kind} {name}: {}",
                    sqlite_message(&e)
                )
            })
    })
}

/// The SQL of a table as the live database has it, for references to its key.
fn table_sql(conn: &Connection, name: &str) -> Option<String> {
    conn.query_row(
        "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
        [name],
        |r| r.get(0),
    )
    .ok()
}

/// Runs one direction the way the runtime does: foreign keys switched off before the
/// transaction when the migration asks, and checked before its commit.
fn apply(conn: &Connection, m: &Migration, direction: &str, steps: &[Step]) -> Result<(), String> {
    if !m.foreign_keys {
        conn.execute_batch("PRAGMA foreign_keys = OFF;")
            .map_err(|e| format!("cannot switch foreign keys off: {e}"))?;
    }
    let result = run_steps(conn, m, direction, steps);
    let restored = conn.execute_batch("PRAGMA foreign_keys = ON;");
    result?;
    restored.map_err(|e| format!("cannot switch foreign keys back on: {e}"))
}

/// A load's table and columns exist; an export's query prepares.
fn check_data_step(conn: &Connection, step: &Step) -> Result<(), String> {
    match step {
        Step::Load(l) | Step::Unload(l) => {
            let mut stmt = conn
                .prepare("SELECT name FROM pragma_table_info(?1)")
                .map_err(|e| sqlite_message(&e))?;
            let columns: Vec<String> = stmt
                .query_map([l.table.as_ref()], |r| r.get(0))
                .and_then(|rows| rows.collect())
                .map_err(|e| sqlite_message(&e))?;
            if columns.is_empty() {
                return Err(format!("{}: no table `{}` to load", l.path, l.table));
            }
            let named = l.columns.iter().map(|(_, c)| c).chain(l.key.iter());
            for column in named {
                // SQLite's names are case-insensitive.
                if !columns.iter().any(|c| c.eq_ignore_ascii_case(column)) {
                    return Err(format!(
                        "{}: the table `{}` has no column `{column}` (its columns: {})",
                        l.path,
                        l.table,
                        columns.join(", ")
                    ));
                }
            }
            Ok(())
        }
        Step::Export(e) => match e.query.for_engine(Engine::Sqlite) {
            Some(query) => conn.prepare(query).map(|_| ()).map_err(|err| {
                format!(
                    "{}: the query does not prepare: {}",
                    e.path,
                    sqlite_message(&err)
                )
            }),
            None => Ok(()),
        },
        Step::Sql(_) | Step::Csv(_) | Step::Rust(_) => Ok(()),
    }
}

fn run_steps(
    conn: &Connection,
    m: &Migration,
    direction: &str,
    steps: &[Step],
) -> Result<(), String> {
    if m.transaction {
        conn.execute_batch("BEGIN")
            .map_err(|e| format!("cannot begin: {e}"))?;
    }
    let mut result = Ok(());
    for (i, step) in steps.iter().enumerate() {
        // The build has no data: a load's table and columns, and an export's query, are
        // checked against the schema as the replay has it at this step.
        if let Err(why) = check_data_step(conn, step) {
            result = Err(format!("{direction} step {} ({why})", i + 1));
            break;
        }
        // CSV steps touch no database; the column flow has checked them.
        let Step::Sql(sql) = step else {
            continue;
        };
        let Some(text) = sql.for_engine(Engine::Sqlite) else {
            continue;
        };
        let batches = crate::statements::batches(text, m.transaction);
        let failed = batches.iter().enumerate().find_map(|(k, batch)| {
            conn.execute_batch(batch).err().map(|e| {
                format!(
                    "{direction} step {}{} fails on SQLite: {} (in `{}`)",
                    i + 1,
                    crate::statements::which(k, batches.len()),
                    sqlite_message(&e),
                    cut(batch)
                )
            })
        });
        if let Some(e) = failed {
            result = Err(e);
            break;
        }
    }
    if result.is_ok() && !m.foreign_keys {
        result = match fk_check::violations(conn) {
            Ok(v) if v.is_empty() => Ok(()),
            Ok(v) => Err(format!(
                "{direction} leaves broken foreign keys: {}",
                v.join("; ")
            )),
            Err(e) => Err(format!("foreign_key_check failed: {e}")),
        };
    }
    if m.transaction {
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = conn.execute_batch(end);
        if result.is_ok() {
            ended.map_err(|e| format!("{direction} cannot commit: {e}"))?;
        }
    }
    result
}
