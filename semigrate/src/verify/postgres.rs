//! The build-time replay on PostgreSQL, when `SEMIGRATE_VERIFY_POSTGRES_URL` names a
//! server: the chain's PostgreSQL text runs in a scratch schema that the build creates
//! and drops, with the checks of the SQLite replay: each up runs, its validations
//! prepare, its down restores the schema exactly, and its up runs again.

use super::schema::cut;
use crate::diagnostic::Diagnostic;
use crate::model::{Check, Engine, Migration, Step};
use postgres::{Client, NoTls};
use std::collections::BTreeSet;
use std::path::Path;

/// Replays the chain on the server at `url`; returns the errors of the first
/// migration that fails.
pub fn replay(url: &str, dir: &Path, migrations: &[Migration]) -> Vec<Diagnostic> {
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
        Ok(()) => migrations
            .iter()
            .find_map(|m| {
                replay_one(&mut client, &schema, m).err().map(|errors| {
                    let file = dir.join(m.file.as_ref());
                    errors
                        .into_iter()
                        .map(|e| Diagnostic::file(&file, e))
                        .collect()
                })
            })
            .unwrap_or_default(),
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

fn replay_one(client: &mut Client, schema: &str, m: &Migration) -> Result<(), Vec<String>> {
    let before = snapshot(client, schema).map_err(|e| vec![e])?;
    apply(client, m, "up", &m.up).map_err(|e| vec![e])?;
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
    if m.irreversible {
        return Ok(());
    }
    apply(client, m, "down", &m.down).map_err(|e| vec![e])?;
    let after = snapshot(client, schema).map_err(|e| vec![e])?;
    if after != before {
        let left: Vec<&String> = after.difference(&before).collect();
        let lost: Vec<&String> = before.difference(&after).collect();
        let mut what = Vec::new();
        if !left.is_empty() {
            what.push(format!("left behind by down: {}", join(&left)));
        }
        if !lost.is_empty() {
            what.push(format!("missing after down: {}", join(&lost)));
        }
        return Err(vec![format!(
            "down does not undo up on PostgreSQL: {}",
            what.join("; ")
        )]);
    }
    apply(client, m, "up", &m.up).map_err(|e| vec![e])
}

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the SQL steps of one direction: in one transaction, unless the migration says
/// `transaction = false`. CSV steps have no part in a schema replay.
fn apply(
    client: &mut Client,
    m: &Migration,
    direction: &str,
    steps: &[Step],
) -> Result<(), String> {
    let run = |client: &mut Client| -> Result<(), String> {
        for (i, step) in steps.iter().enumerate() {
            let Step::Sql(sql) = step else { continue };
            let Some(text) = sql.for_engine(Engine::Postgres) else {
                continue;
            };
            // As the run sends it: outside a transaction, one statement at a time.
            let batches = crate::statements::batches(text, m.transaction);
            for (k, batch) in batches.iter().enumerate() {
                client.batch_execute(batch).map_err(|e| {
                    format!(
                        "{direction} step {}{} fails on PostgreSQL: {} (in `{}`)",
                        i + 1,
                        crate::statements::which(k, batches.len()),
                        reason(&e),
                        cut(batch)
                    )
                })?;
            }
        }
        Ok(())
    };
    if !m.transaction {
        return run(client);
    }
    client.batch_execute("BEGIN").map_err(|e| reason(&e))?;
    match run(client) {
        Ok(()) => client.batch_execute("COMMIT").map_err(|e| reason(&e)),
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK");
            Err(e)
        }
    }
}

/// The scratch schema as comparable lines: each column with its type, nullability and
/// default, each index and each constraint with its definition.
fn snapshot(client: &mut Client, schema: &str) -> Result<BTreeSet<String>, String> {
    let mut lines = BTreeSet::new();
    let queries = [
        "SELECT format('column %s.%s %s%s%s', table_name, column_name, data_type, \
         CASE WHEN is_nullable = 'NO' THEN ' NOT NULL' ELSE '' END, \
         coalesce(' DEFAULT ' || column_default, '')) \
         FROM information_schema.columns WHERE table_schema = $1",
        "SELECT format('index %s: %s', indexname, indexdef) FROM pg_indexes WHERE schemaname = $1",
        "SELECT format('constraint %s on %s: %s', c.conname, c.conrelid::regclass, \
         pg_get_constraintdef(c.oid)) FROM pg_constraint c \
         JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1",
    ];
    for query in queries {
        for row in client
            .query(query, &[&schema])
            .map_err(|e| format!("cannot read the scratch schema: {}", reason(&e)))?
        {
            lines.insert(row.get::<_, String>(0).replace(&format!("{schema}."), ""));
        }
    }
    Ok(lines)
}
