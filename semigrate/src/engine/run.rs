//! Carries out a plan on a store, one transaction per migration.

use super::paths::Paths;
use super::plan::{Direction, Item, Plan};
use crate::data::swap::{self, Staging, Unfinished};
use crate::durable::sync_folder;
use crate::error::{Error, Result};
use crate::model::{Check, Expect, Function, Migration, Scalar, SemVer, Step};
use crate::rust::{Context, StepFn};
use crate::store::{Applied, History, LogEntry, RowCount, Steps, Store, Value, transaction};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One migration that committed.
#[derive(Clone, Debug, PartialEq)]
pub struct Done {
    /// The version applied or reverted.
    pub version: SemVer,
    /// Which way.
    pub direction: Direction,
    /// Where the store is once it committed.
    pub lands_on: SemVer,
    /// How long it took, up to its commit: what its history row and log entry
    /// record.
    pub elapsed: Duration,
    /// Each CSV step: its file, the rows it wrote, and how long it took.
    pub files: Vec<(String, u64, Duration)>,
}

impl Done {
    fn of(item: &Item, direction: Direction, elapsed: Duration, files: Written) -> Done {
        Done {
            version: item.version,
            direction,
            lands_on: item.lands_on,
            elapsed,
            files,
        }
    }
}

/// What a run tells its caller as it goes.
pub trait Progress {
    /// A step of migration `version` starts; `text` is its SQL, or its CSV file.
    fn step(&mut self, version: SemVer, what: &str, text: &str);
    /// A CSV step has read `read` of the `total` bytes of `path`.
    fn reading(&mut self, path: &str, read: u64, total: u64);
    /// A migration committed.
    fn done(&mut self, done: &Done);
    /// A backup was written, before anything changed.
    fn backed_up(&mut self, _backup: &super::backup::Backup) {}
    /// No backup was written, though one was asked for: there was nothing to save.
    fn not_backed_up(&mut self, _why: &str) {}
    /// The plan is made and about to run (`plan.items` is empty when there is
    /// nothing to do); `store` is the store as it may be shown.
    fn planned(&mut self, _store: &str, _command: &str, _plan: &Plan) {}
    /// Whether the run may start its next migration: a fleet that stops at another
    /// store's failure says no, and the store stays at the last that committed.
    fn go_on(&self) -> bool {
        true
    }
}

/// Each CSV step of a migration: its file, the rows it wrote, and how long it took.
type Written = Vec<(String, u64, Duration)>;

/// How long a migration's statements may wait for a lock and run, on PostgreSQL, and
/// how often one that timed out waiting is tried again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TimeoutPolicy {
    /// The lock timeout of a migration that gives none.
    pub lock: Option<String>,
    /// The statement timeout of a migration that gives none.
    pub statement: Option<String>,
    /// A lock timeout for every migration, whatever it gives (`--lock-wait`).
    pub lock_override: Option<String>,
    /// How many times a migration that timed out waiting for a lock is tried again.
    pub retries: u32,
}

impl TimeoutPolicy {
    /// The configuration's timeouts and retries.
    pub fn from_settings(settings: &crate::model::Settings) -> TimeoutPolicy {
        TimeoutPolicy {
            lock: settings.lock_timeout.map(str::to_owned),
            statement: settings.statement_timeout.map(str::to_owned),
            lock_override: None,
            retries: settings.lock_retries,
        }
    }

    /// The lock and statement timeouts of `item`.
    fn of<'a>(&'a self, item: &'a Item) -> (Option<&'a str>, Option<&'a str>) {
        let own = item.migration.map(|m| &m.timeouts);
        let lock = self
            .lock_override
            .as_deref()
            .or_else(|| own.and_then(|t| t.lock.as_deref()))
            .or(self.lock.as_deref());
        let statement = own
            .and_then(|t| t.statement.as_deref())
            .or(self.statement.as_deref());
        (lock, statement)
    }
}

/// The wait before try `attempt + 1`: 100 ms doubled each time, and up to a tenth of
/// a second more, so that runners that collided do not collide again.
fn backoff(attempt: u32) -> Duration {
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() % 100_000_000);
    Duration::from_millis(100 << attempt.min(10)) + Duration::from_nanos(u64::from(jitter))
}

/// Runs every item of the plan in order, one transaction each, and stops at the first
/// failure, which is rolled back and logged. A migration that timed out waiting for a
/// lock is rolled back and tried again, after a growing wait, each try logged.
pub fn run(
    store: &mut dyn Store,
    data_dir: &Path,
    plan: &Plan,
    command: &str,
    patience: &TimeoutPolicy,
    progress: &mut dyn Progress,
) -> Result<Vec<Done>> {
    // The journal rows of the last migration's swaps, carried out but not cleared:
    // the next migration's transaction clears them, or the end of the run does.
    let mut carried = None;
    let how = How {
        data_dir,
        direction: plan.direction,
        command,
        patience,
    };
    let result = run_each(store, plan, &how, progress, &mut carried);
    if let Some(folders) = carried {
        let cleared = clear(store, &folders);
        if result.is_ok() {
            cleared?;
        }
    }
    result
}

/// The journal rows of swaps carried out but not cleared yet, by the folders their
/// renames changed (None: the journal holds none). Whatever clears the rows syncs
/// those folders first, so that no row goes before the rename it records is on disk.
type Carried = Option<Vec<PathBuf>>;

/// `run`'s loop; `carried`: the swaps already carried out whose rows the journal holds.
fn run_each(
    store: &mut dyn Store,
    plan: &Plan,
    how: &How,
    progress: &mut dyn Progress,
    carried: &mut Carried,
) -> Result<Vec<Done>> {
    let (command, patience) = (how.command, how.patience);
    let mut done = Vec::with_capacity(plan.items.len());
    for item in &plan.items {
        if !progress.go_on() {
            break;
        }
        let mut attempt = 0;
        loop {
            let started = Instant::now();
            match apply(store, how, item, started, progress, carried) {
                Ok((files, elapsed)) => {
                    let d = Done::of(item, plan.direction, elapsed, files);
                    progress.done(&d);
                    done.push(d);
                    break;
                }
                Err(e) => {
                    store.rollback();
                    let locked = store.lock_timed_out();
                    if locked && attempt < patience.retries {
                        log_outcome(store, plan.direction, item, command, started, &e, "retried");
                        std::thread::sleep(backoff(attempt));
                        attempt += 1;
                        continue;
                    }
                    log_outcome(store, plan.direction, item, command, started, &e, "failed");
                    return Err(match (locked, e) {
                        (
                            true,
                            Error::Migration {
                                version,
                                what,
                                sql,
                                reason,
                                rolled_back,
                            },
                        ) => Error::Migration {
                            version,
                            what,
                            sql,
                            reason: match store.lock_holders() {
                                Some(held) => format!("{reason}, {} tries; {held}", attempt + 1),
                                None => format!("{reason}, {} tries", attempt + 1),
                            },
                            rolled_back,
                        },
                        (_, e) => e,
                    });
                }
            }
        }
    }
    Ok(done)
}

/// Runs the whole plan in one transaction (`upgrade --atomic`): every migration lands,
/// or none does. Foreign keys are off for the whole transaction if any migration asks,
/// and checked before the commit.
pub fn run_atomic(
    store: &mut dyn Store,
    data_dir: &Path,
    plan: &Plan,
    command: &str,
    patience: &TimeoutPolicy,
    progress: &mut dyn Progress,
) -> Result<Vec<Done>> {
    plan.fits_one_transaction()?;
    let foreign_keys = plan.items.iter().all(|i| i.foreign_keys);
    let mut files = Staging::new(data_dir);
    let mut done = Vec::with_capacity(plan.items.len());
    // One transaction, one set of timeouts: the configuration's.
    store.set_timeouts(
        patience
            .lock_override
            .as_deref()
            .or(patience.lock.as_deref()),
        patience.statement.as_deref(),
    )?;
    store.begin(foreign_keys)?;
    for item in &plan.items {
        let started = Instant::now();
        let result = expect_state(store, plan.direction, item)
            .and_then(|()| steps(store, &mut files, plan.direction, item, progress))
            .and_then(|written| {
                settle(store, &files, plan.direction, item, command, started)
                    .map(|elapsed| (written, elapsed))
            });
        match result {
            Ok((written, elapsed)) => done.push(Done::of(item, plan.direction, elapsed, written)),
            Err(e) => {
                store.rollback();
                log_outcome(store, plan.direction, item, command, started, &e, "failed");
                return Err(e);
            }
        }
    }
    if !foreign_keys && let Some(last) = plan.items.last() {
        let checked = foreign_key_check(store, last, true);
        if let Err(e) = checked {
            store.rollback();
            return Err(e);
        }
    }
    let mut carried = None;
    if let Err(e) = commit(store, files, &mut carried) {
        store.rollback();
        return Err(e);
    }
    if let Some(folders) = carried {
        clear(store, &folders)?;
    }
    for d in &done {
        progress.done(d);
    }
    Ok(done)
}

fn failed(
    item: &Item,
    what: String,
    sql: Option<&str>,
    reason: String,
    rolled_back: bool,
) -> Error {
    Error::Migration {
        version: item.version,
        what,
        sql: sql.map(str::to_owned),
        reason,
        rolled_back,
    }
}

/// What stays the same for every migration of a run.
struct How<'a> {
    data_dir: &'a Path,
    direction: Direction,
    command: &'a str,
    patience: &'a TimeoutPolicy,
}

/// One migration in its own transaction (or, with `transaction = false`, its steps on
/// their own and the rest in a transaction). `carried`: as in `run_each`, before and
/// after.
fn apply(
    store: &mut dyn Store,
    how: &How,
    item: &Item,
    started: Instant,
    progress: &mut dyn Progress,
    carried: &mut Carried,
) -> Result<(Written, Duration)> {
    crate::fault::point("before-begin");
    if item.transaction {
        let (lock, statement) = how.patience.of(item);
        store.set_timeouts(lock, statement)?;
        store.begin(item.foreign_keys)?;
        expect_state(store, how.direction, item)?;
    }
    // Dropped without `committed()` on any early return: its temp files go with it.
    let mut files = Staging::new(how.data_dir);
    let written = steps(store, &mut files, how.direction, item, progress)?;
    if !item.transaction {
        // The steps ran on their own; the checks and the history row still commit
        // together, so the history never claims a version whose checks failed.
        store.begin(true)?;
        expect_state(store, how.direction, item)?;
    }
    let elapsed = settle(store, &files, how.direction, item, how.command, started)?;
    commit(store, files, carried)?;
    Ok((written, elapsed))
}

/// Runs the steps of one migration: SQL on the store, CSV into staged temp files.
fn steps(
    store: &mut dyn Store,
    files: &mut Staging,
    direction: Direction,
    item: &Item,
    progress: &mut dyn Progress,
) -> Result<Written> {
    let mut written = Vec::new();
    for (i, step) in item.steps.iter().enumerate() {
        let what = format!("{} step {}", direction.as_str(), i + 1);
        // Until the commit, CSV steps only write temp files; without a transaction
        // the SQL steps before this one stay applied.
        let rolled_back = item.transaction || i == 0;
        match step {
            Step::Sql(sql) => {
                let engine = store.engine();
                let text = sql.for_engine(engine).ok_or_else(|| {
                    failed(
                        item,
                        what.clone(),
                        None,
                        format!("the step has no SQL for {engine}"),
                        rolled_back,
                    )
                })?;
                progress.step(item.version, &what, text);
                // Outside a transaction, each statement on its own: PostgreSQL runs a
                // text of several as one implicit transaction, where CONCURRENTLY fails.
                let batches = crate::statements::batches(text, item.transaction);
                for (k, batch) in batches.iter().enumerate() {
                    store.execute(batch).map_err(|reason| {
                        let what = format!("{what}{}", crate::statements::which(k, batches.len()));
                        failed(item, what, Some(batch), reason, rolled_back)
                    })?;
                }
            }
            Step::Csv(csv) => {
                progress.step(item.version, &what, &csv.path);
                let step_started = Instant::now();
                let mut reading = |read, total| progress.reading(&csv.path, read, total);
                let rows = files
                    .run(csv, &mut reading)
                    .map_err(|reason| failed(item, what, None, reason, rolled_back))?;
                written.push((csv.path.to_string(), rows, step_started.elapsed()));
            }
            Step::Rust(f) => {
                progress.step(item.version, &what, &f.path);
                let data_dir = files.data_dir();
                run_rust(store, data_dir, item.version, f)
                    .map_err(|reason| failed(item, what, None, reason, rolled_back))?;
            }
            Step::Load(l) | Step::Unload(l) => {
                progress.step(item.version, &what, &l.path);
                let started = Instant::now();
                let rows = files
                    .current(&l.path)
                    .ok_or_else(|| format!("{} does not exist", l.path))
                    .and_then(|file| match step {
                        Step::Load(_) => store.load(l, &file),
                        _ => store.unload(l, &file),
                    })
                    .map_err(|reason| failed(item, what, None, reason, rolled_back))?;
                written.push((l.path.to_string(), rows, started.elapsed()));
            }
            Step::Export(e) => {
                progress.step(item.version, &what, &e.path);
                let started = Instant::now();
                let engine = store.engine();
                let rows = e
                    .query
                    .for_engine(engine)
                    .ok_or_else(|| format!("the export has no query for {engine}"))
                    .and_then(|query| {
                        let destructive = item.migration.is_some_and(|m| m.destructive);
                        if direction == Direction::Up && !destructive && files.current(&e.path).is_some() {
                            return Err(format!(
                                "{} exists: exporting over it would lose it; say `destructive = true` and write its down",
                                e.path
                            ));
                        }
                        files.write(&e.path, &mut |out| store.export(query, e.delimiter, out))
                    })
                    .map_err(|reason| failed(item, what, None, reason, rolled_back))?;
                written.push((e.path.to_string(), rows, started.elapsed()));
            }
        }
        crate::fault::point("after-step");
    }
    Ok(written)
}

/// Runs a Rust step, and requires it to leave the schema as it found it: the build
/// proved the migration's schema without it, and every later check relies on that.
fn run_rust(
    store: &mut dyn Store,
    data_dir: &Path,
    version: SemVer,
    f: &Function<StepFn>,
) -> std::result::Result<(), String> {
    let before = store.schema_text()?;
    call_rust(store, data_dir, version, f)?;
    if store.schema_text()? != before {
        return Err(format!(
            "{} changed the schema; a Rust step changes data only: put the DDL in a `sql` step",
            f.path
        ));
    }
    Ok(())
}

/// Calls a Rust step or check with the store's connection; a panic is an error.
fn call_rust(
    store: &mut dyn Store,
    data_dir: &Path,
    version: SemVer,
    f: &Function<StepFn>,
) -> std::result::Result<(), String> {
    let call = f
        .call
        .ok_or_else(|| format!("{} is not compiled into this binary", f.path))?;
    let mut cx = Context {
        database: store.database(),
        data_dir,
        version,
    };
    crate::rust::guarded(|| call(&mut cx)).map_err(|e| format!("{}: {e}", f.path))
}

/// `PRAGMA foreign_key_check` must find nothing before a migration that switched
/// enforcement off may commit.
fn foreign_key_check(store: &mut dyn Steps, item: &Item, rolled_back: bool) -> Result<()> {
    let what = || "the foreign key check".to_owned();
    let violations = store
        .foreign_key_violations()
        .map_err(|reason| failed(item, what(), None, reason, rolled_back))?;
    if violations.is_empty() {
        return Ok(());
    }
    Err(failed(
        item,
        what(),
        None,
        format!("foreign keys are broken: {}", violations.join("; ")),
        rolled_back,
    ))
}

/// What follows the steps inside the transaction: the foreign key check, the
/// validations of the version the store lands on, the history row and the log.
fn settle(
    store: &mut dyn Store,
    files: &Staging,
    direction: Direction,
    item: &Item,
    command: &str,
    started: Instant,
) -> Result<Duration> {
    if !item.foreign_keys {
        foreign_key_check(store, item, item.transaction)?;
    }
    for (i, check) in item.checks.iter().enumerate() {
        validate(store, files, item.lands_on, check).map_err(|reason| {
            let what = format!("validation {} of {}", i + 1, item.lands_on);
            let sql = match check {
                Check::Sql { sql, .. } => sql.for_engine(store.engine()),
                Check::Csv(_) | Check::Rust(_) => None,
            };
            failed(item, what, sql, reason, item.transaction)
        })?;
    }
    // What the history and the log record, and the run reports: the same figure.
    let elapsed = started.elapsed();
    // The history row is written in the migration's own transaction: a crash between
    // the steps and a separate history write would leave a store that is changed but
    // does not say so.
    match direction {
        Direction::Up => {
            let m = item
                .migration
                .expect("upgrades only run compiled migrations");
            store.record(&Applied {
                version: m.version,
                description: m.description.to_string(),
                checksum: m.checksum.to_string(),
                applied_at: String::new(),
                duration_ms: millis(elapsed),
                revert: m.revert(),
            })?;
        }
        Direction::Down => store.forget(item.version)?,
    }
    store.log(&LogEntry {
        command: command.to_owned(),
        version: item.version,
        direction: direction.as_str().to_owned(),
        from: item.starts_at,
        to: item.lands_on,
        outcome: "ok".to_owned(),
        duration_ms: millis(elapsed),
        error: None,
    })?;
    Ok(elapsed)
}

/// Seals the staged CSV files, records their swaps in the journal, commits, and
/// carries the swaps out, leaving their rows in the journal (`carried` then holds the
/// folders they changed). `carried` before: the rows of an earlier migration's swaps,
/// carried out, which this transaction clears, their folders synced with the new
/// temps' (one sync, the same folder). A transaction of its own for each clear cost a
/// third of a run's commits, each with its fsyncs, and a sync of its own after each
/// migration's renames 3 of a new store's 75; a cut before the next commit leaves
/// rows whose swaps `recover` finds done, or does again.
fn commit(store: &mut dyn Store, files: Staging, carried: &mut Carried) -> Result<()> {
    let swaps = files
        .seal(carried.as_deref().unwrap_or_default())
        .map_err(|e| Error::Io {
            path: files.target("").display().to_string(),
            reason: format!("cannot make the new CSV files durable: {e}"),
        })?;
    if carried.is_some() {
        store.clear_swaps()?;
    }
    store.record_swaps(&swaps)?;
    crate::fault::point("before-commit");
    store.commit()?;
    crate::fault::point("after-commit");
    // The earlier rows went with this commit; these stay until carried out (a swap
    // that fails leaves them for the next run: nothing may clear them).
    *carried = None;
    files.committed();
    if swaps.is_empty() {
        return Ok(());
    }
    *carried = Some(carry_out(store, &swaps, None)?);
    Ok(())
}

/// Renames committed temps over their targets, then clears the journal. If this is cut
/// short, the journal stays and the next run finishes the swaps (see `recover`).
/// `paths`, when known, names the backup to restore from if a file's committed
/// content was lost.
fn finish_swaps(store: &mut dyn Store, swaps: &[swap::Swap], paths: Option<&Paths>) -> Result<()> {
    let folders = carry_out(store, swaps, paths)?;
    clear(store, &folders)
}

/// Syncs the folders that carried-out swaps changed, then clears the swaps' rows from
/// the journal in a transaction of its own.
fn clear(store: &mut dyn Store, folders: &[PathBuf]) -> Result<()> {
    for dir in folders {
        sync_folder(dir).map_err(|e| Error::Io {
            path: dir.display().to_string(),
            reason: format!("the migration committed, but its CSV files' renames could not be made durable ({e}); the next run completes them"),
        })?;
    }
    transaction(store, |s| s.clear_swaps())
}

/// Renames committed temps over their targets, their journal rows left as they are;
/// returns the folders changed, not yet synced.
fn carry_out(
    store: &mut dyn Store,
    swaps: &[swap::Swap],
    paths: Option<&Paths>,
) -> Result<Vec<PathBuf>> {
    let folders = match swap::finish(swaps) {
        Ok(folders) => folders,
        Err(Unfinished::Io(e)) => {
            return Err(Error::Io {
                path: swaps[0].target.display().to_string(),
                reason: format!(
                    "the migration committed, but a CSV swap failed ({e}); the next run completes it"
                ),
            });
        }
        Err(Unfinished::Lost(target)) => {
            let at = super::plan::current(&store.listed_history()?);
            let backup = paths
                .and_then(|p| super::backup::latest(&p.backup_dir, &p.anchor))
                .map_or_else(
                    || "the backup taken before it ran".to_owned(),
                    |b| format!("the newest backup, {}", b.display()),
                );
            // The journal stays: every run refuses until a person restores the data.
            return Err(Error::Refused(format!(
                "{}: the content that migration {at} committed for this file never reached \
                 the disk (the machine stopped before it was durable), so the store and the \
                 file disagree; restore the store and its CSV files from {backup}, then run \
                 again",
                target.display()
            )));
        }
    };
    crate::fault::point("after-swaps");
    Ok(folders)
}

/// Before a run that may write: carries out the swaps a committed migration recorded
/// but did not finish, and deletes the temps of migrations that never committed.
pub fn recover(store: &mut dyn Store, chain: &[Migration], paths: &Paths) -> Result<()> {
    let swaps = store.swaps()?;
    if !swaps.is_empty() {
        finish_swaps(store, &swaps, Some(paths))?;
    }
    let files = Staging::new(&paths.data_dir);
    let targets: Vec<_> = chain
        .iter()
        .flat_map(|m| m.up.iter().chain(m.down.iter()))
        .filter_map(|s| match s {
            Step::Csv(c) => Some(files.target(&c.path)),
            Step::Export(e) => Some(files.target(&e.path)),
            Step::Sql(_) | Step::Rust(_) | Step::Load(_) | Step::Unload(_) => None,
        })
        .collect();
    swap::sweep(targets.iter().map(|t| t.as_path()));
    Ok(())
}

/// Checks the history again inside the write transaction: another writer may have
/// moved the store between planning and now. The number of versions and the rows for
/// where the store should stand are enough, and cost a few index lookups.
fn expect_state(store: &mut dyn History, direction: Direction, item: &Item) -> Result<()> {
    let (rows, [this, before]) = store.recorded([item.version, item.starts_at])?;
    let ok = rows == item.rows_before
        && match direction {
            Direction::Up => !this && (before || item.starts_at == SemVer::ZERO),
            Direction::Down => this,
        };
    if ok {
        return Ok(());
    }
    let top = super::plan::current(&store.listed_history()?);
    Err(Error::Refused(format!(
        "the store changed while this run was starting (it is now at {top}); nothing more was run, run the command again"
    )))
}

/// Records a failed (or retried) migration in the log, in a transaction of its own since the
/// migration's was rolled back. A log that cannot be written must not hide the error
/// that the user needs to see, so its own failure is dropped.
fn log_outcome(
    store: &mut dyn Store,
    direction: Direction,
    item: &Item,
    command: &str,
    started: Instant,
    e: &Error,
    outcome: &str,
) {
    if matches!(e, Error::Refused(_) | Error::Store { .. }) {
        return;
    }
    let entry = LogEntry {
        command: command.to_owned(),
        version: item.version,
        direction: direction.as_str().to_owned(),
        from: item.starts_at,
        to: item.lands_on,
        outcome: outcome.to_owned(),
        duration_ms: millis(started.elapsed()),
        error: Some(e.to_string()),
    };
    let _ = transaction(store, |s| s.log(&entry));
}

/// Runs one validation against the store and the files as the migration leaves them;
/// the error says what was found instead.
pub fn validate(
    store: &mut dyn Store,
    files: &Staging,
    at: SemVer,
    check: &Check,
) -> std::result::Result<(), String> {
    let (sql, expect) = match check {
        Check::Sql { sql, expect } => (sql, expect),
        Check::Csv(c) => {
            let rows = crate::data::check::check(files.current(&c.path).as_deref(), c)?;
            return match &c.rows_match {
                Some(sql) => rows_match(store, &c.path, rows, sql),
                None => Ok(()),
            };
        }
        Check::Rust(f) => return call_rust(store, files.data_dir(), at, f),
    };
    let engine = store.engine();
    let text = sql
        .for_engine(engine)
        .ok_or_else(|| format!("the validation has no SQL for {engine}"))?;
    let rows = store.query(text)?;
    match expect {
        Expect::Empty if rows.count == RowCount::None => Ok(()),
        Expect::Empty => Err(format!(
            "expected no row, got {} starting with {}",
            if rows.count == RowCount::One {
                "one row"
            } else {
                "rows"
            },
            shown(rows.first.as_ref())
        )),
        Expect::Value(want) => match (rows.count, rows.first) {
            (RowCount::One, Some(got)) if matches(want, &got) => Ok(()),
            (RowCount::One, got) => Err(format!("expected {want}, got {}", shown(got.as_ref()))),
            (RowCount::None, _) => Err(format!("expected {want}, got no row")),
            (RowCount::Many, _) => Err(format!("expected one row with {want}, got several rows")),
        },
    }
}

/// Compares a TOML scalar with what the engine returned; numbers compare by value and
/// booleans as SQL's 0 and 1.
fn matches(want: &Scalar, got: &Value) -> bool {
    match (want, got) {
        (Scalar::Integer(a), Value::Integer(b)) => a == b,
        (Scalar::Integer(a), Value::Real(b)) => (*a as f64) == *b,
        (Scalar::Float(a), Value::Real(b)) => a == b,
        (Scalar::Float(a), Value::Integer(b)) => *a == (*b as f64),
        (Scalar::Text(a), Value::Text(b)) => a == b,
        (Scalar::Bool(a), Value::Integer(b)) => i64::from(*a) == *b,
        _ => false,
    }
}

/// The file has as many rows as the query's single value says.
fn rows_match(
    store: &mut dyn Store,
    path: &str,
    rows: u64,
    sql: &crate::model::SqlText,
) -> std::result::Result<(), String> {
    let engine = store.engine();
    let text = sql
        .for_engine(engine)
        .ok_or_else(|| format!("`rows_match` has no SQL for {engine}"))?;
    let result = store.query(text)?;
    let want = match (result.count, &result.first) {
        (RowCount::One, Some(Value::Integer(n))) => *n,
        (_, got) => {
            return Err(format!(
                "`rows_match` must return one integer, got {}",
                shown(got.as_ref())
            ));
        }
    };
    if i64::try_from(rows) != Ok(want) {
        return Err(format!(
            "{path} has {rows} rows, but `{}` says {want}",
            crate::store::schema::cut(text)
        ));
    }
    Ok(())
}

fn shown(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "NULL".into(),
        Some(Value::Integer(i)) => i.to_string(),
        Some(Value::Real(x)) => x.to_string(),
        Some(Value::Text(t)) => format!("{t:?}"),
        Some(Value::Blob(b)) => format!("a blob of {} bytes", b.len()),
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_match_by_value() {
        assert!(matches(&Scalar::Integer(1), &Value::Integer(1)));
        assert!(matches(&Scalar::Integer(2), &Value::Real(2.0)));
        assert!(matches(&Scalar::Bool(true), &Value::Integer(1)));
        assert!(!matches(&Scalar::Bool(true), &Value::Integer(0)));
        assert!(matches(&Scalar::Text("a".into()), &Value::Text("a".into())));
        assert!(!matches(&Scalar::Text("1".into()), &Value::Integer(1)));
        assert!(!matches(&Scalar::Integer(0), &Value::Null));
    }

    /// A chain of three tables, 0.1.0 to 0.3.0, proved as a build would.
    fn three_tables() -> Vec<Migration> {
        let dir = tempfile::tempdir().unwrap();
        for (i, table) in ["a", "b", "c"].iter().enumerate() {
            let spec = format!(
                "description = \"{table}\"\n[[up]]\nsql = \"CREATE TABLE {table} (id INTEGER);\"\n\
                 [[down]]\nsql = \"DROP TABLE {table};\"\n"
            );
            std::fs::write(dir.path().join(format!("v0_{}_0.toml", i + 1)), spec).unwrap();
        }
        let config = crate::build::config::Config::default();
        crate::build::spec::prove(dir.path(), &config, SemVer::new(0, 3, 0), None).unwrap()
    }

    /// Told to stop after one migration, a run commits that one and starts no other.
    #[test]
    fn a_run_told_to_stop_ends_after_the_migration_it_is_in() {
        use crate::engine::plan;
        use crate::store::sqlite::SqliteStore;
        struct StopAfterOne(usize);
        impl Progress for StopAfterOne {
            fn step(&mut self, _: SemVer, _: &str, _: &str) {}
            fn reading(&mut self, _: &str, _: u64, _: u64) {}
            fn done(&mut self, _: &Done) {
                self.0 += 1;
            }
            fn go_on(&self) -> bool {
                self.0 < 1
            }
        }
        let chain = three_tables();
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let up = plan::upgrade(&chain, &[], None).unwrap();
        let done = run(
            &mut store,
            &dir.path().join("data"),
            &up,
            "upgrade",
            &TimeoutPolicy::default(),
            &mut StopAfterOne(0),
        )
        .unwrap();
        assert_eq!(done.len(), 1);
        let history = store.history().unwrap();
        assert_eq!(plan::current(&history), SemVer::new(0, 1, 0));
    }

    /// Another writer changes the history between the plan and the run: the run must
    /// stop at the first migration, whichever way it goes.
    #[test]
    fn a_history_changed_after_planning_stops_the_run() {
        use crate::engine::plan;
        use crate::migrator::Silent;
        use crate::store::sqlite::SqliteStore;
        let chain = three_tables();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let v = |s: &str| SemVer::parse(s).unwrap();
        let history = store.history().unwrap();
        let up = plan::upgrade(&chain, &history, Some(v("0.1.0"))).unwrap();
        run(
            &mut store,
            &data,
            &up,
            "upgrade",
            &TimeoutPolicy::default(),
            &mut Silent,
        )
        .unwrap();

        let history = store.history().unwrap();
        let up = plan::upgrade(&chain, &history, Some(v("0.2.0"))).unwrap();
        // What another writer did meanwhile: recorded 0.3.0, above the plan's target,
        // which only the count of versions shows.
        let mut sneaked = history[0].clone();
        sneaked.version = v("0.3.0");
        store.record(&sneaked).unwrap();
        let e = run(
            &mut store,
            &data,
            &up,
            "upgrade",
            &TimeoutPolicy::default(),
            &mut Silent,
        )
        .unwrap_err();
        assert!(
            matches!(&e, Error::Refused(m) if m.contains("the store changed")),
            "{e}"
        );
        store.forget(v("0.3.0")).unwrap();

        let history = store.history().unwrap();
        let down = plan::downgrade(&chain, &history, Some(SemVer::ZERO)).unwrap();
        store.forget(v("0.1.0")).unwrap();
        let e = run(
            &mut store,
            &data,
            &down,
            "downgrade",
            &TimeoutPolicy::default(),
            &mut Silent,
        )
        .unwrap_err();
        assert!(
            matches!(&e, Error::Refused(m) if m.contains("the store changed")),
            "{e}"
        );
    }
}
