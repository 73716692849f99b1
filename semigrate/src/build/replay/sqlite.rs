//! The build-time replay: every migration is applied to an in-memory SQLite, its
//! validations are prepared, its down is applied and must restore the schema exactly,
//! and its up is applied again before the next one. What fails here never ships.

use crate::build::diagnostic::Diagnostic;
use crate::fk_check;
use crate::model::{Check, Engine, Migration, Step};
use crate::sqlite_error::message as sqlite_message;
use crate::store::schema::{Change, Schema, cut};
use rusqlite::Connection;
use std::path::Path;

/// Replays the chain, recording in each migration the objects its up changed; returns
/// the errors of the first migration that fails (the ones after it would only repeat
/// the damage).
pub fn replay(dir: &Path, migrations: &mut [Migration]) -> Vec<Diagnostic> {
    let conn = match Connection::open_in_memory()
        .and_then(|c| c.execute_batch("PRAGMA foreign_keys = ON;").map(|()| c))
    {
        Ok(c) => c,
        Err(e) => {
            return vec![Diagnostic::file(
                dir,
                format!("cannot open an in-memory SQLite: {e}"),
            )];
        }
    };
    let mut schema = Schema::default();
    for m in migrations {
        match replay_one(&conn, m, &schema) {
            Ok(up) => {
                m.schema = Some(up.objects().into());
                schema.apply(&up);
                m.schema_digest = Some(schema.digest());
            }
            Err(errors) => {
                let file = dir.join(m.file.as_ref());
                return errors
                    .into_iter()
                    .map(|e| Diagnostic::file(&file, e))
                    .collect();
            }
        }
    }
    Vec::new()
}

/// Replays one migration from the schema `before`; returns what its up changed, which
/// brings `before` to where the next migration starts (up, down and up again must
/// agree, so the schema after the second up is the same).
fn replay_one(conn: &Connection, m: &Migration, before: &Schema) -> Result<Change, Vec<String>> {
    let changes = || {
        before
            .changes(conn)
            .map_err(|e| vec![format!("cannot read the schema: {e}")])
    };
    apply(conn, m, "up", &m.up).map_err(|e| vec![e])?;
    let up = changes()?;
    let mut errors = Vec::new();
    for (i, check) in m.validate.iter().enumerate() {
        let Check::Sql { sql, .. } = check else {
            continue;
        };
        if let Some(text) = sql.for_engine(Engine::Sqlite)
            && let Err(e) = conn.prepare(text)
        {
            errors.push(format!(
                "validation {} does not prepare on SQLite at {}: {} (in `{}`)",
                i + 1,
                m.version,
                sqlite_message(&e),
                cut(text)
            ));
        }
    }
    let removed = up.removed();
    if !removed.is_empty() && !m.destructive {
        errors.push(format!(
            "up removes {}; say `destructive = true` to acknowledge it",
            removed.join(", ")
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if m.irreversible {
        return Ok(up);
    }
    apply(conn, m, "down", &m.down).map_err(|e| vec![e])?;
    let diff = changes()?.differences();
    if !diff.is_empty() {
        return Err(vec![format!("down does not undo up: {}", diff.join("; "))]);
    }
    apply(conn, m, "up (again, after down)", &m.up).map_err(|e| vec![e])?;
    Ok(up)
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
