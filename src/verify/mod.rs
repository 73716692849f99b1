//! The build-time replay: every migration is applied to an in-memory SQLite, its
//! validations are prepared, its down is applied and must restore the schema exactly,
//! and its up is applied again before the next one. What fails here never ships.

pub mod schema;

use crate::diagnostic::Diagnostic;
use crate::fk_check;
use crate::model::{Check, Engine, Migration, Step};
use crate::sqlite_error::message as sqlite_message;
use rusqlite::Connection;
use schema::{Schema, cut};
use std::path::Path;

/// Replays the chain; returns the errors of the first migration that fails (the ones
/// after it would only repeat the damage).
pub fn replay(dir: &Path, migrations: &[Migration]) -> Vec<Diagnostic> {
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
    for m in migrations {
        let errors = replay_one(&conn, m)
            .into_iter()
            .map(|message| Diagnostic::file(&dir.join(m.file.as_ref()), message))
            .collect::<Vec<_>>();
        if !errors.is_empty() {
            return errors;
        }
    }
    Vec::new()
}

fn replay_one(conn: &Connection, m: &Migration) -> Vec<String> {
    let fail = |e: String| vec![e];
    let before = match Schema::read(conn) {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot read the schema: {e}")),
    };
    if let Err(e) = apply(conn, m, "up", &m.up) {
        return fail(e);
    }
    let after_up = match Schema::read(conn) {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot read the schema: {e}")),
    };
    let mut errors = Vec::new();
    for (i, check) in m.validate.iter().enumerate() {
        let Check::Sql { sql, .. } = check;
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
    let removed = before.removed_by(&after_up);
    if !removed.is_empty() && !m.destructive {
        errors.push(format!(
            "up removes {}; say `destructive = true` to acknowledge it",
            removed.join(", ")
        ));
    }
    if !errors.is_empty() || m.irreversible {
        return errors;
    }
    if let Err(e) = apply(conn, m, "down", &m.down) {
        return fail(e);
    }
    match Schema::read(conn) {
        Ok(after_down) => {
            let diff = before.differences(&after_down);
            if !diff.is_empty() {
                return fail(format!("down does not undo up: {}", diff.join("; ")));
            }
        }
        Err(e) => return fail(format!("cannot read the schema: {e}")),
    }
    match apply(conn, m, "up (again, after down)", &m.up) {
        Ok(()) => Vec::new(),
        Err(e) => fail(e),
    }
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
        let Step::Sql(sql) = step;
        let Some(text) = sql.for_engine(Engine::Sqlite) else {
            continue;
        };
        if let Err(e) = conn.execute_batch(text) {
            result = Err(format!(
                "{direction} step {} fails on SQLite: {} (in `{}`)",
                i + 1,
                sqlite_message(&e),
                cut(text)
            ));
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
