//! The replay on PostgreSQL, when `SEMIGRATE_VERIFY_POSTGRES_URL` names a server: the
//! chain's PostgreSQL text runs in a scratch database that the replay creates and
//! drops, with the checks of the SQLite replay: each up runs, its validations
//! prepare, its down restores the schema exactly, and its up runs again.
//!
//! The replay also measures what each step does to the tables that exist before its
//! migration, each seeded with a row so that scans and validations are real: the
//! locks its backend holds (`pg_locks`), whether it read a whole table
//! (`pg_stat_xact_user_tables`) and whether it rewrote one (`pg_class.relfilenode`).
//! A step that rewrites a table, or reads one whole under a lock that blocks writes,
//! fails the build unless the migration accepts it (`locks`).

use super::Found;
use crate::data::load::quoted;
use crate::model::{Engine, Held, List, Migration, SchemaObject, Step, Text};
use crate::store::schema::cut;
use crate::store::schema::{Difference, Schema};
use postgres::{Client, NoTls};
use std::collections::{BTreeMap, BTreeSet};

/// Replays the chain on the server at `url`, recording in each migration the locks its
/// steps were measured to take; returns every error found. The replay runs in a
/// database of its own, created from `template0` and dropped after, so that the
/// schemas, extensions and types a chain creates stay in it.
pub fn replay(url: &str, migrations: &mut [Migration], stale: bool) -> Result<Vec<Found>, String> {
    let fail = Err;
    let config: postgres::Config = match url.parse() {
        Ok(config) => config,
        Err(e) => return fail(format!("SEMIGRATE_VERIFY_POSTGRES_URL: {e}")),
    };
    let mut admin = match config.connect(NoTls) {
        Ok(client) => client,
        Err(e) => {
            return fail(format!(
                "SEMIGRATE_VERIFY_POSTGRES_URL: cannot connect: {}",
                reason(&e)
            ));
        }
    };
    let database = format!(
        "semigrate_verify_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    if let Err(e) = admin.batch_execute(&format!("CREATE DATABASE {database} TEMPLATE template0")) {
        let why = match e.code() {
            Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) => format!(
                "the role of SEMIGRATE_VERIFY_POSTGRES_URL cannot create the replay's scratch \
                 database ({}): grant it CREATEDB (ALTER ROLE ... CREATEDB)",
                reason(&e)
            ),
            _ => format!(
                "cannot create the replay's scratch database: {}",
                reason(&e)
            ),
        };
        return fail(why);
    }
    let mut scratch = Scratch {
        admin,
        config,
        name: database,
    };
    let errors = match scratch.connect() {
        Err(e) => fail(e),
        Ok(mut client) => {
            let mut seeded = BTreeSet::new();
            let mut found = Vec::new();
            let mut complete = true;
            for (index, m) in migrations.iter_mut().enumerate() {
                let replayed = replay_one(&mut client, &mut scratch, &mut seeded, m, stale);
                if !replayed.errors.is_empty() || !replayed.left.is_empty() {
                    found.push(Found {
                        index,
                        errors: replayed.errors,
                        left: replayed.left,
                        down_failed: replayed.down_failed,
                        hazards: replayed.hazards,
                        fails_on_rows: replayed.fails_on_rows,
                    });
                }
                let Some(objects) = replayed.objects else {
                    // The replay cannot go on, nor the chain come down from its top.
                    complete = false;
                    break;
                };
                m.locks.measured = Some(List::Owned(replayed.held));
                m.schema_postgres = Some(List::Owned(objects));
            }
            // A round trip over downs found flawed would only say it again.
            let sound = found.iter().all(|f| f.errors.is_empty());
            if complete && sound {
                let mut trip = Trip {
                    client: &mut client,
                    seeded: &mut seeded,
                    scratch: &mut scratch,
                };
                for failed in super::round_trip(migrations, &mut trip) {
                    super::round_trip_fails(&mut found, migrations, failed);
                }
            }
            Ok(found)
        }
    };
    // Whatever happened, the scratch database goes, and any copy of it.
    for name in [&scratch.name, &scratch.kept()] {
        let _ = scratch
            .admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
    errors
}

/// The replay's scratch database, and the server session that creates, copies and
/// drops it.
struct Scratch {
    admin: Client,
    config: postgres::Config,
    name: String,
}

impl Scratch {
    /// The copy kept while a down that no transaction holds runs.
    fn kept(&self) -> String {
        format!("{}_kept", self.name)
    }

    /// A new session in the scratch database.
    fn connect(&self) -> Result<Client, String> {
        self.config
            .clone()
            .dbname(&self.name)
            .connect(NoTls)
            .map_err(|e| {
                format!(
                    "cannot connect to the replay's scratch database: {}",
                    reason(&e)
                )
            })
    }

    /// Runs `sql` on the server while `client` is out of the scratch database (a
    /// database is copied, dropped or renamed with no session in it), then puts
    /// `client` back in it, in a new session.
    fn outside(&mut self, client: &mut Client, sql: &[String]) -> Result<(), String> {
        // The session in the scratch database ends as another takes its place.
        *client = self
            .config
            .connect(NoTls)
            .map_err(|e| format!("cannot connect to the server: {}", reason(&e)))?;
        for statement in sql {
            self.admin
                .batch_execute(statement)
                .map_err(|e| format!("cannot keep the replay's state: {}", reason(&e)))?;
        }
        *client = self.connect()?;
        Ok(())
    }

    /// Keeps a copy of the scratch database as it is.
    fn keep(&mut self, client: &mut Client) -> Result<(), String> {
        let sql = [format!(
            "CREATE DATABASE {} TEMPLATE {}",
            self.kept(),
            self.name
        )];
        self.outside(client, &sql)
    }

    /// Puts the kept copy in the scratch database's place.
    fn go_back(&mut self, client: &mut Client) -> Result<(), String> {
        let sql = [
            format!("DROP DATABASE {} WITH (FORCE)", self.name),
            format!("ALTER DATABASE {} RENAME TO {}", self.kept(), self.name),
        ];
        self.outside(client, &sql)
    }

    /// Drops the kept copy, no longer needed.
    fn forget(&mut self) -> Result<(), String> {
        self.admin
            .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", self.kept()))
            .map_err(|e| format!("cannot drop the replay's copy: {}", reason(&e)))
    }
}

fn reason(e: &postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |db| db.message().to_owned())
}

/// What the replay of one migration found: the locks its steps took, the objects its
/// up changed (None when the replay cannot go on past it), and every error.
struct Replayed {
    held: Vec<Held>,
    objects: Option<Vec<SchemaObject>>,
    errors: Vec<String>,
    left: Vec<Difference>,
    down_failed: Option<String>,
    hazards: Vec<String>,
    fails_on_rows: bool,
}

/// The scratch database's own schema, where the chain's objects are made.
const SCHEMA: &str = "public";

/// Replays one migration: seeds its tables, runs and measures its up, prepares its
/// validations, runs and measures its down, compares the schema, runs its up again.
/// A down that fails or does not restore is reported and rolled back, so that the
/// replay goes on from the state the up left; outside a transaction, where nothing
/// rolls it back, from a copy of the database kept before it ran.
fn replay_one(
    client: &mut Client,
    scratch: &mut Scratch,
    seeded: &mut BTreeSet<u32>,
    m: &Migration,
    stale: bool,
) -> Replayed {
    let failed = |errors: Vec<String>| Replayed {
        held: Vec::new(),
        objects: None,
        errors,
        left: Vec::new(),
        down_failed: None,
        hazards: Vec::new(),
        fails_on_rows: false,
    };
    if let Err(e) = seed(client, SCHEMA, seeded) {
        return failed(vec![e]);
    }
    let before = match snapshot(client) {
        Ok(s) => s,
        Err(e) => return failed(vec![e]),
    };
    let mut errors = Vec::new();
    let mut fails_on_rows = false;
    let run_up =
        |client: &mut Client, measure| apply(client, SCHEMA, m, "up", &m.up, measure, Then::Commit);
    let mut held = match run_up(client, rows(seeded)) {
        Ok(held) => held,
        // A migration that ran when its tables were empty may fail on the rows the
        // replay seeded: its transaction rolled back, it runs again on emptied tables.
        Err(e) if (m.transaction || one_transaction(&m.up)) && !seeded.is_empty() => {
            let again = empty(client, seeded).and_then(|()| run_up(client, Measure::OnEmpty));
            match again {
                // It fails on empty tables too: rows are not the cause.
                Err(again) => return failed(vec![again]),
                Ok(held) => {
                    fails_on_rows = true;
                    if !m.fails_on_rows {
                        errors.push(format!(
                            "{e}; on empty tables it runs: say `fails_on_rows = true` if it \
                             only ever ran on empty ones"
                        ));
                    }
                    held
                }
            }
        }
        Err(e) => return failed(vec![e]),
    };
    if m.fails_on_rows && !fails_on_rows && stale {
        errors.push(
            "`fails_on_rows = true`, but the up runs on tables that hold rows: take it out"
                .to_owned(),
        );
    }
    let after_up = match snapshot(client) {
        Ok(after) => after,
        Err(e) => return failed(vec![e]),
    };
    let up = before.against(&after_up);
    errors.extend(super::unprepared(m, Engine::Postgres, |text| {
        client.prepare(text).map(drop).map_err(|e| reason(&e))
    }));
    let mut go_on = true;
    let mut left_behind = Vec::new();
    let mut down_failed = None;
    // Nothing will roll this down back: the state the up left is kept aside, unless
    // the down has no step to change it.
    let kept = !m.irreversible && !m.transaction && !m.down.is_empty();
    if kept && let Err(e) = scratch.keep(client) {
        return failed(vec![e]);
    }
    if !m.irreversible {
        // In a transaction, the down is compared before its commit, and rolled back
        // when it does not restore.
        let down = new_session(client).and_then(|()| {
            apply(
                client,
                SCHEMA,
                m,
                "down",
                &m.down,
                rows(seeded),
                Then::Inspect,
            )
        });
        let left = down.and_then(|down_held| {
            held.extend(down_held);
            let after = snapshot(client)?;
            Ok(before
                .against(&after)
                .differences(&|t| before.table_named(t)))
        });
        let restored = match left {
            Ok(found) => {
                errors.extend(super::unacknowledged(m, &found, " on PostgreSQL", stale));
                left_behind = found;
                left_behind.is_empty()
            }
            Err(e) => {
                errors.push(e.clone());
                down_failed = Some(e);
                false
            }
        };
        let again = match (restored, m.transaction) {
            (true, true) => client
                .batch_execute("COMMIT")
                .map_err(|e| format!("down cannot commit: {}", reason(&e)))
                .and_then(|()| new_session(client))
                .and_then(|()| run_up(client, Measure::Nothing)),
            (true, false) => match kept {
                true => scratch.forget(),
                false => Ok(()),
            }
            .and_then(|()| new_session(client))
            .and_then(|()| run_up(client, Measure::Nothing)),
            (false, true) => client
                .batch_execute("ROLLBACK")
                .map_err(|e| format!("cannot roll the down back: {}", reason(&e)))
                .map(|()| Vec::new()),
            // Outside a transaction, the replay goes on from the copy kept before the
            // down ran, or from where it is, when the down ran nothing.
            (false, false) => match kept {
                true => scratch.go_back(client).map(|()| Vec::new()),
                false => Ok(Vec::new()),
            },
        };
        if let Err(e) = again {
            errors.push(e);
            go_on = false;
        }
    }
    let hazards: Vec<&Held> = held
        .iter()
        .filter(|h| h.blocks_writes() && !m.locks.accepted.covers(&h.table))
        .collect();
    errors.extend(hazards.iter().map(|h| hazard(h)));
    let mut hazard_tables: Vec<String> = hazards.iter().map(|h| h.table.to_string()).collect();
    hazard_tables.dedup();
    Replayed {
        held,
        // Schemas and extensions are the database's, not the store schema's: the
        // replay holds the down to them, the schema check does not.
        objects: go_on.then(|| {
            up.objects()
                .into_iter()
                .filter(|o| !matches!(o.kind.as_ref(), "schema" | "extension"))
                .collect()
        }),
        errors,
        left: left_behind,
        down_failed,
        hazards: hazard_tables,
        fails_on_rows,
    }
}

/// The round trip's store (`proof::round_trip`): the scratch database, over the rows
/// the replay seeded; an up that only ever ran on empty tables (`fails_on_rows`) runs
/// again on emptied ones.
struct Trip<'a> {
    client: &'a mut Client,
    seeded: &'a mut BTreeSet<u32>,
    scratch: &'a mut Scratch,
}

impl super::Trip for Trip<'_> {
    fn run(&mut self, m: &Migration, direction: &'static str) -> Result<(), String> {
        let steps = match direction {
            "up" => &m.up,
            _ => &m.down,
        };
        let run = |client: &mut Client| {
            new_session(client)
                .and_then(|()| {
                    apply(
                        client,
                        SCHEMA,
                        m,
                        direction,
                        steps,
                        Measure::Nothing,
                        Then::Commit,
                    )
                })
                .map(drop)
        };
        match run(self.client) {
            Err(_) if direction == "up" && m.fails_on_rows => {
                empty(self.client, self.seeded).and_then(|()| run(self.client))
            }
            ran => ran,
        }
    }

    fn rebuild(&mut self, migrations: &[Migration]) -> Result<(), String> {
        let name = &self.scratch.name;
        let sql = [
            format!("DROP DATABASE {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name} TEMPLATE template0"),
        ];
        self.scratch.outside(self.client, &sql)?;
        self.seeded.clear();
        migrations.iter().try_for_each(|m| {
            seed(self.client, SCHEMA, self.seeded)?;
            self.run(m, "up")
        })
    }
}

/// Forgets the session's temporary tables: a downgrade, and the upgrade after it, run
/// in sessions of their own, so a temporary table an up made (to hold the keys of a
/// backfill, say) is gone by then, and the up run again makes it again.
fn new_session(client: &mut Client) -> Result<(), String> {
    client.batch_execute("DISCARD TEMP").map_err(|e| {
        format!(
            "cannot discard the session's temporary tables: {}",
            reason(&e)
        )
    })
}

/// What `apply` does once a direction's steps ran in their transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Then {
    /// Commit it.
    Commit,
    /// Leave it open, for the caller to read the schema and commit or roll back.
    Inspect,
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

/// Whether steps run outside semigrate's transaction are, on PostgreSQL, one of their
/// own: `BEGIN` first, `COMMIT` last, no other between. A failure inside leaves
/// nothing, as one inside semigrate's transaction does.
fn one_transaction(steps: &[Step]) -> bool {
    use crate::statements::{Control, control, split};
    let controls: Vec<Option<Control>> = steps
        .iter()
        .filter_map(|step| match step {
            Step::Sql(sql) => sql.for_engine(Engine::Postgres),
            _ => None,
        })
        .flat_map(split)
        .map(control)
        .collect();
    match controls.as_slice() {
        [Some(Control::Opens), between @ .., Some(Control::Ends)] => {
            between.iter().all(Option::is_none)
        }
        _ => false,
    }
}

/// What `apply` measures of the tables that existed before, and what a failure says of
/// them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Measure {
    /// Nothing: a run again, whose locks were measured already.
    Nothing,
    /// Their locks, scans and rewrites, on tables without rows.
    OnEmpty,
    /// The same, on tables that hold the replay's seeded rows.
    OnRows,
}

/// `Measure` over the tables as `seeded` left them.
fn rows(seeded: &BTreeSet<u32>) -> Measure {
    match seeded.is_empty() {
        true => Measure::OnEmpty,
        false => Measure::OnRows,
    }
}

/// Runs the SQL steps of one direction: in one transaction, unless the migration says
/// `transaction = false`. CSV steps have no part in a schema replay. Returns what each
/// step did to the tables that existed before, as `measure` says.
fn apply(
    client: &mut Client,
    schema: &str,
    m: &Migration,
    direction: &str,
    steps: &[Step],
    measure: Measure,
    then: Then,
) -> Result<Vec<Held>, String> {
    let mut held = Vec::new();
    let tables = match measure {
        Measure::Nothing => BTreeMap::new(),
        Measure::OnEmpty | Measure::OnRows => tables(client, schema)?,
    };
    let mut run = |client: &mut Client| -> Result<(), String> {
        // The lock modes held so far in the migration's transaction, per table.
        let mut taken: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        // Inside a transaction the file opened itself (`BEGIN; ... COMMIT;`).
        let mut its_own = false;
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
                let seeded = match measure == Measure::OnRows && !tables.is_empty() {
                    true => " with a row in each table that existed before the migration",
                    false => "",
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
                // only a rewrite can be seen. A transaction the file opens itself is
                // left to it, and its statements' locks are held together.
                let control = crate::statements::control(batch);
                let own = !m.transaction && !its_own && control.is_none();
                match control {
                    Some(crate::statements::Control::Opens) => its_own = true,
                    Some(crate::statements::Control::Ends) => its_own = false,
                    None => {}
                }
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
                    let modes = taken.entry(table.as_str()).or_default();
                    let new_mode = b.modes.iter().any(|mode| !modes.contains(mode));
                    modes.extend(b.modes.iter().cloned());
                    let (scan, rewrite) = (seen && b.scans > a.scans, b.file != a.file);
                    if !(new_mode || scan || rewrite) {
                        continue;
                    }
                    // The partitions of a table are that table: one entry, with the
                    // strongest lock taken on any of them.
                    let lock = seen
                        .then(|| modes.iter().max_by_key(|mode| rank(mode)))
                        .flatten()
                        .map(|mode| mode_name(mode));
                    let same = |h: &&mut Held| {
                        h.direction.as_ref() == direction
                            && h.step == (i + 1) as u32
                            && h.table.as_ref() == table.as_str()
                    };
                    if let Some(h) = held.iter_mut().rev().find(same) {
                        h.scan |= scan;
                        h.rewrite |= rewrite;
                        h.lock = lock.map(Text::Owned).or(h.lock.take());
                        continue;
                    }
                    // Outside a transaction, each statement on its own: their locks
                    // are not held together.
                    held.push(Held {
                        direction: Text::Owned(direction.to_owned()),
                        step: (i + 1) as u32,
                        table: Text::Owned(table.clone()),
                        lock: lock.map(Text::Owned),
                        scan,
                        rewrite,
                    });
                }
            }
        }
        Ok(())
    };
    if !m.transaction {
        let ran = run(client);
        if ran.is_err() {
            // A transaction the file opened is not left open by its failure.
            let _ = client.batch_execute("ROLLBACK");
        }
        return ran.map(|()| held);
    }
    client.batch_execute("BEGIN").map_err(|e| reason(&e))?;
    match run(client) {
        Ok(()) if then == Then::Inspect => Ok(held),
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

/// The tables of the scratch database: their oids and names, a partition named by the
/// table it partitions (its name holds the day the replay ran: `events_20261206`), so
/// that what a step does to it is said, and accepted, of that table.
fn tables(client: &mut Client, schema: &str) -> Result<BTreeMap<u32, String>, String> {
    let rows = client
        .query(
            "SELECT c.oid, CASE WHEN c.relispartition \
             THEN (SELECT r.relname::text FROM pg_class r WHERE r.oid = pg_partition_root(c.oid)) \
             ELSE c.relname::text END FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
            &[&schema],
        )
        .map_err(|e| format!("cannot read the scratch database: {}", reason(&e)))?;
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

/// The scratch database's tables as this backend sees them now, in one round trip.
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

/// Gives each table of the scratch database not seeded yet a row, when it has none,
/// so that the next migration's scans and validations meet data: `1` in every
/// column its type takes it in, or in the NOT NULL ones only when that row breaks a
/// constraint. A table no row fits (a foreign key to an empty table) is tried again
/// after the others.
fn seed(client: &mut Client, schema: &str, seeded: &mut BTreeSet<u32>) -> Result<(), String> {
    let mut waiting: Vec<(u32, String)> = tables(client, schema)?
        .into_iter()
        .filter(|(oid, _)| !seeded.contains(oid))
        .collect();
    let read = |e: postgres::Error| format!("cannot seed the scratch database: {}", reason(&e));
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

/// Empties the tables the replay seeded (and those that reference them), and forgets
/// them, so that the next migration seeds them again.
fn empty(client: &mut Client, seeded: &mut BTreeSet<u32>) -> Result<(), String> {
    let tables: Vec<String> = tables(client, SCHEMA)?
        .into_iter()
        .filter(|(oid, _)| seeded.contains(oid))
        .map(|(_, name)| format!("{SCHEMA}.{}", quoted(&name)))
        .collect();
    seeded.clear();
    if tables.is_empty() {
        return Ok(());
    }
    client
        .batch_execute(&format!("TRUNCATE {} CASCADE", tables.join(", ")))
        .map_err(|e| format!("cannot empty the seeded tables: {}", reason(&e)))
}

/// The scratch database as the schema check reads a store's schema, with what a
/// chain may make beside it: the schemas and extensions it created.
fn snapshot(client: &mut Client) -> Result<Schema, String> {
    let read = |e: postgres::Error| format!("cannot read the scratch database: {}", reason(&e));
    let mut schema = crate::store::postgres::catalog(client).map_err(read)?;
    let beside = client
        .query(
            "SELECT 'schema', nspname::text, '' FROM pg_namespace \
             WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('public', 'information_schema') \
             UNION ALL \
             SELECT 'extension', extname::text, '' FROM pg_extension WHERE extname <> 'plpgsql'",
            &[],
        )
        .map_err(read)?;
    for row in beside {
        let (kind, name, sql): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        // A table of the same name keeps its place.
        schema
            .objects
            .entry(name)
            .or_insert(crate::store::schema::Object { kind, sql });
    }
    Ok(schema)
}
