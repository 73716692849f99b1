//! The proof that each down undoes its up: the chain replayed on an in-memory SQLite
//! (`sqlite`) and on a scratch PostgreSQL database (`postgres`), comparing schemas
//! (`store::schema`). The build runs it on every chain; `import --acknowledge` runs
//! it on a chain just imported, to write what its downs are known to leave.

pub mod postgres;
pub mod sqlite;

use crate::model::{Check, Engine, Migration};
use crate::store::schema::{Difference, cut};

/// What the replay found of one migration: its errors, and what its down left
/// (acknowledged or not).
pub struct Found {
    /// Its place in the chain.
    pub index: usize,
    /// Every error, in words.
    pub errors: Vec<String>,
    /// Every difference its down left.
    pub left: Vec<Difference>,
    /// Why its down failed, when it did.
    pub down_failed: Option<String>,
    /// PostgreSQL: the tables its steps were measured to block writes on, unaccepted.
    pub hazards: Vec<String>,
    /// PostgreSQL: its up failed on seeded rows and ran on emptied tables.
    pub fails_on_rows: bool,
}

/// Records that the whole chain, downgraded newest first, fails at the down of the
/// migration at `index`, though that down restores its own up alone: the downs above
/// it left what they are known to leave (`down_leaves`), and this one meets it. Its
/// `Found` gets the error and a failed down, so that `import --acknowledge` makes it
/// irreversible and a downgrade is refused before it runs rather than failing midway.
/// A down already found failing on its own is not said twice.
pub fn downgrade_fails(
    found: &mut Vec<Found>,
    migrations: &[Migration],
    index: usize,
    why: String,
) {
    if found
        .iter()
        .any(|f| f.index == index && f.down_failed.is_some())
    {
        return;
    }
    let above: Vec<String> = migrations[index + 1..]
        .iter()
        .flat_map(|m| {
            m.down_leaves
                .iter()
                .map(move |l| format!("{l} ({})", m.version))
        })
        .collect();
    let left = match above.len() {
        0 => String::new(),
        n if n <= 4 => format!("; the downs above it leave {}", above.join(", ")),
        n => format!(
            "; the downs above it leave {} and {} more",
            above[..4].join(", "),
            n - 4
        ),
    };
    let e = format!(
        "a downgrade of the whole chain fails at this down, run after the downs above it: \
         {why}{left}"
    );
    match found.iter_mut().find(|f| f.index == index) {
        Some(f) => {
            f.errors.push(e.clone());
            f.down_failed = Some(e);
        }
        None => {
            found.push(Found {
                index,
                errors: vec![e.clone()],
                left: Vec::new(),
                down_failed: Some(e),
                hazards: Vec::new(),
                fails_on_rows: false,
            });
            found.sort_by_key(|f| f.index);
        }
    }
}

/// What a down leaves that its migration does not acknowledge, and what the migration
/// acknowledges (`down_leaves`) that the down no longer leaves, as build errors; `on`
/// names the engine after "down does not undo up". Empty: the down restores the
/// schema, or leaves exactly what it says. An acknowledgement is stale only where
/// `stale` says this replay is the one that words them (SQLite's, when the chain has it).
pub fn unacknowledged(m: &Migration, left: &[Difference], on: &str, stale: bool) -> Vec<String> {
    let mut errors = Vec::new();
    let unknown: Vec<String> = left
        .iter()
        .filter(|d| !m.down_leaves.iter().any(|a| **a == d.subject))
        .map(|d| format!("{} [{}]", d.line, d.subject))
        .collect();
    if !unknown.is_empty() {
        errors.push(format!("down does not undo up{on}: {}", unknown.join("; ")));
    }
    let stale: Vec<&str> = m
        .down_leaves
        .iter()
        .filter(|a| stale && !left.iter().any(|d| d.subject == ***a))
        .map(|a| a.as_ref())
        .collect();
    if !stale.is_empty() {
        errors.push(format!(
            "`down_leaves` names {}, which the down no longer leaves{on}: take {} out",
            stale.join(", "),
            if stale.len() == 1 { "it" } else { "them" }
        ));
    }
    errors
}

/// The migration's SQL validations that do not prepare on `engine`, as errors;
/// `prepare` gives the engine's reason.
pub fn unprepared(
    m: &Migration,
    engine: Engine,
    mut prepare: impl FnMut(&str) -> Result<(), String>,
) -> Vec<String> {
    let mut errors = Vec::new();
    for (i, check) in m.validate.iter().enumerate() {
        let Check::Sql { sql, .. } = check else {
            continue;
        };
        if let Some(text) = sql.for_engine(engine)
            && let Err(why) = prepare(text)
        {
            errors.push(format!(
                "validation {} does not prepare on {engine_name} at {}: {why} (in `{}`)",
                i + 1,
                m.version,
                cut(text),
                engine_name = match engine {
                    Engine::Sqlite => "SQLite",
                    Engine::Postgres => "PostgreSQL",
                },
            ));
        }
    }
    errors
}
