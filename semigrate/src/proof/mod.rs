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

/// Where the whole chain, downgraded newest first to its newest irreversible migration
/// and upgraded again (a rollback, then the next deploy), fails. `top` is where the
/// downgrade that met it started: the chain's end, or a down found failing above it.
pub enum RoundTrip {
    /// The down of the migration at `at`, run after the downs above it.
    Down { at: usize, top: usize, why: String },
    /// The up of the migration at `at`, run over what the downs left.
    Up { at: usize, top: usize, why: String },
}

/// The store a round trip runs in, on one engine.
pub trait Trip {
    /// Runs the up or the down (`direction`) of `m` in the store.
    fn run(&mut self, m: &Migration, direction: &'static str) -> Result<(), String>;
    /// Makes the store again, empty, with the ups of `migrations` alone (seeded as
    /// the replay seeds), for the downgrade to go on below a down that failed.
    fn rebuild(&mut self, migrations: &[Migration]) -> Result<(), String>;
}

/// Downgrades the whole chain, newest first, down to its newest irreversible migration,
/// as `downgrade --version` runs it, then upgrades it again: where each direction
/// fails first, its place and why. A down that fails stops the downgrade where, made
/// irreversible, it would stop it, and the migrations above it are upgraded again from
/// there (if it failed in its transaction), as the next deploy would; below it, the
/// downgrade goes on from a store made again with the ups below it, as it would once
/// that down is fixed. Every flaw of the kind comes out of one build.
pub fn round_trip(migrations: &[Migration], trip: &mut dyn Trip) -> Vec<RoundTrip> {
    let bottom = migrations
        .iter()
        .rposition(|m| m.irreversible)
        .map_or(0, |i| i + 1);
    let mut failed = Vec::new();
    let mut top = migrations.len();
    loop {
        let failing = (bottom..top)
            .rev()
            .find_map(|i| trip.run(&migrations[i], "down").err().map(|e| (i, e)));
        let lowest = failing.as_ref().map_or(bottom, |(at, _)| at + 1);
        // Outside a transaction, the down may have stopped halfway.
        let sure = failing
            .as_ref()
            .is_none_or(|(at, _)| migrations[*at].transaction);
        // Where no down leaves anything, each up would run again on the very schema
        // it first ran on.
        if sure
            && migrations[lowest..top]
                .iter()
                .any(|m| !m.down_leaves.is_empty())
        {
            failed.extend(
                (lowest..top)
                    .find_map(|i| trip.run(&migrations[i], "up").err().map(|e| (i, e)))
                    .map(|(at, why)| RoundTrip::Up { at, top, why }),
            );
        }
        let Some((at, why)) = failing else {
            return failed;
        };
        failed.push(RoundTrip::Down { at, top, why });
        // A store that cannot be made again (its ups passed the replay) ends the trip.
        if at == bottom || trip.rebuild(&migrations[..at]).is_err() {
            return failed;
        }
        top = at;
    }
}

/// Records where the whole chain's round trip fails, though each down restores its
/// own up alone: the downs above it left what they are known to leave
/// (`down_leaves`), and a down below, or an up run again over them, meets it. Its
/// `Found` gets the error and a failed down, so that `import --acknowledge` makes the
/// migration irreversible: a downgrade is refused before it runs rather than failing
/// midway, and its up is never run again over what it could not take. A down
/// already found failing on its own is not said twice.
pub fn round_trip_fails(found: &mut Vec<Found>, migrations: &[Migration], failed: RoundTrip) {
    let (index, why, from, top, what, downs) = match failed {
        RoundTrip::Down { at, top, why } => (
            at,
            why,
            at + 1,
            top,
            "a downgrade of the whole chain fails at this down, run after the downs above it",
            "the downs above it leave",
        ),
        RoundTrip::Up { at, top, why } => (
            at,
            why,
            at,
            top,
            "an upgrade after a downgrade of the whole chain fails at this up, run over what \
             the downs left",
            "its down and those above it leave",
        ),
    };
    if found
        .iter()
        .any(|f| f.index == index && f.down_failed.is_some())
    {
        return;
    }
    let above: Vec<String> = migrations[from..top]
        .iter()
        .flat_map(|m| {
            m.down_leaves
                .iter()
                .map(move |l| format!("{l} ({})", m.version))
        })
        .collect();
    let left = match above.len() {
        0 => String::new(),
        n if n <= 4 => format!("; {downs} {}", above.join(", ")),
        n => format!("; {downs} {} and {} more", above[..4].join(", "), n - 4),
    };
    // Below a down that fails, the downgrade went on as if it were fixed.
    let fixed = match migrations.get(top) {
        Some(m) => format!(" (as if {}'s down, which fails, were fixed)", m.version),
        None => String::new(),
    };
    let e = format!("{what}{fixed}: {why}{left}");
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
