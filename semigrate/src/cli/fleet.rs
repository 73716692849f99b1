//! `--fleet`: `upgrade`, `downgrade`, `status` and `verify` over many stores in one
//! process. Each store is one call of the engine's entry for the command, with the
//! paths, lock, backup, log and state file a run on that store alone would have; a
//! worker keeps one connection per server and moves it from schema to schema.

use super::Invocation;
use crate::engine::plan::Direction;
use crate::engine::{Options, Request};
use crate::error::{Error, Result};
use crate::fleet::{
    Counts, Kind, Moved, OnError, Report, ReportFile, Results, Rollout, Runs, Standing, Target,
    TargetRun,
};
use crate::model::SemVer;
use crate::store::Store;
use crate::store::postgres::PostgresStore;
use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// How a fleet run was asked for.
#[derive(Clone, Debug)]
pub struct Fleet {
    /// The fleet file; None: the configuration's fleet.
    pub file: Option<PathBuf>,
    /// `--parallel`.
    pub parallel: Option<usize>,
    /// `--canary`.
    pub canary: usize,
    /// `--on-error`.
    pub on_error: OnError,
    /// `--report`.
    pub report: Option<PathBuf>,
}

/// How a target's store is opened.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// To change it; a SQLite file missing is created when `creates`.
    Write { creates: bool },
    /// To read it; a missing SQLite file reads as empty.
    Read,
    /// To read it; a missing SQLite file is an error.
    ReadExisting,
}

/// What a command does to one store; the flag says when the fleet is stopping.
type Operation<'a> = dyn Fn(&mut dyn Store, &Options, &AtomicBool) -> Result<Moved> + Sync + 'a;

/// The operation on one store, the fleet's flag given.
type OnStore<'a> = dyn Fn(&mut dyn Store, &Options) -> Result<Moved> + 'a;

/// `upgrade` or `downgrade` over the fleet: each store to the goal, a summary line, the
/// report.
pub fn migrate(
    context: &Invocation,
    request: &Request,
    fleet: &Fleet,
    dry_run: bool,
) -> Result<String> {
    if dry_run {
        return Err(Error::Usage(
            "--dry-run prints one store's plan: run it on one store of the fleet (--database)"
                .into(),
        ));
    }
    let goal = match (request.direction, request.target) {
        (_, Some(v)) => v,
        (Direction::Up, None) => context.chain.latest(),
        (Direction::Down, None) => {
            return Err(Error::Usage(
                "a downgrade of a fleet needs --version: the version every store is to land on"
                    .into(),
            ));
        }
    };
    let request = Request {
        target: Some(goal),
        ..*request
    };
    let chain = context.migrations();
    let access = Access::Write {
        creates: request.direction == Direction::Up,
    };
    let results = each(
        context,
        fleet,
        request.command(),
        Some(goal),
        access,
        &|store, options, stopping| {
            let mut unseen = Unseen(stopping);
            let outcome = crate::engine::migrate(store, chain, &request, options, &mut unseen)?;
            Ok(Moved {
                from: outcome.from,
                to: outcome.at,
                changed: !outcome.done.is_empty(),
                stopped: outcome.at != goal,
                standing: None,
            })
        },
    )?;
    ended(
        context,
        fleet,
        request.command(),
        Some(goal),
        results.runs(),
        String::new(),
    )
}

/// `verify` over the fleet: each store's validations and schema check.
pub fn verify(context: &Invocation, fleet: &Fleet) -> Result<String> {
    let chain = context.migrations();
    let results = each(
        context,
        fleet,
        "verify",
        None,
        Access::ReadExisting,
        &|store, options, _| {
            let at = match crate::engine::verify(store, chain, options)? {
                crate::engine::Verified::Empty => SemVer::ZERO,
                crate::engine::Verified::Passed { at, .. } => at,
            };
            Ok(Moved {
                from: at,
                to: at,
                changed: false,
                stopped: false,
                standing: None,
            })
        },
    )?;
    ended(
        context,
        fleet,
        "verify",
        None,
        results.runs(),
        String::new(),
    )
}

/// `status --fleet`: how many stores are at each version, which drifted, which are
/// locked, which could not be read.
pub fn status(context: &Invocation, fleet: &Fleet) -> Result<String> {
    let chain = context.chain.migrations;
    let results = each(
        context,
        fleet,
        "status",
        None,
        Access::Read,
        &|store, options, _| {
            let s = crate::engine::status(store, chain, options)?;
            let standing = Standing {
                pending: s.pending,
                drifted: s
                    .migrations
                    .iter()
                    .any(|e| e.state == crate::engine::status::State::Drifted),
                schema_differs: s
                    .schema
                    .as_ref()
                    .is_some_and(|c| c.state == crate::engine::schema_check::SchemaState::Differs),
                locked: store.locked()?,
            };
            Ok(Moved {
                from: s.current,
                to: s.current,
                changed: false,
                stopped: false,
                standing: Some(standing),
            })
        },
    )?;
    let results = results.runs();
    let output = match context.json {
        true => super::json(&StatusJson::of(results, context.chain.latest())),
        false => status_text(results, context.chain.latest()),
    };
    match results.first_failed() {
        None => Ok(output),
        Some(first) => Err(Error::Fleet {
            output,
            summary: format!(
                "{} of {} stores could not be read; the first: {}: {}",
                crate::fleet::thousands(Counts::of(results).failed),
                crate::fleet::thousands(results.len()),
                first.target,
                first.error.as_deref().unwrap_or("")
            ),
            exit_code: first.exit_code,
        }),
    }
}

/// The end of a run that changes or checks stores: the summary line, or the report as
/// JSON; an error carrying them when a store failed.
fn ended(
    context: &Invocation,
    fleet: &Fleet,
    command: &str,
    goal: Option<SemVer>,
    results: Runs<'_>,
    mut output: String,
) -> Result<String> {
    let summary = crate::fleet::summary(results, fleet.report.as_deref());
    if context.json {
        output.push_str(&super::json(&Report {
            command,
            goal,
            finished: true,
            counts: Counts::of(results),
            targets: results,
        }));
    }
    match results.first_failed() {
        None => {
            if !context.json {
                output.push_str(&summary);
                output.push('\n');
            }
            Ok(output)
        }
        Some(first) => Err(Error::Fleet {
            output,
            summary,
            exit_code: first.exit_code,
        }),
    }
}

/// Runs `operation` over the fleet's targets, with a progress bar on a terminal, a
/// line for each store that fails, and the report rewritten as the run goes.
fn each(
    context: &Invocation,
    fleet: &Fleet,
    command: &str,
    goal: Option<SemVer>,
    access: Access,
    operation: &Operation<'_>,
) -> Result<Results> {
    let targets = targets(context, fleet)?;
    let rollout = Rollout {
        parallel: parallel(context, fleet, &targets)?,
        canary: fleet.canary,
        on_error: fleet.on_error,
    };
    let bar = bar(context, targets.len());
    let mut file = fleet.report.as_deref().map(ReportFile::new);
    let mut report_error = None;
    let mut write = |so_far: Runs<'_>, now: bool| {
        if let Some(file) = &mut file
            && report_error.is_none()
        {
            let report = Report {
                command,
                goal,
                finished: now,
                counts: Counts::of(so_far),
                targets: so_far,
            };
            report_error = file.write(&report, now).err();
        }
    };
    let (mut done, mut failed) = (0, 0);
    let results = crate::fleet::run(
        targets,
        &rollout,
        &Connections::default,
        &|connections, target, stopping| {
            let on_store =
                |store: &mut dyn Store, options: &Options| operation(store, options, stopping);
            on_target(context, connections, target, access, &on_store)
        },
        &mut |i, so_far| {
            // Before any target starts, the report says each is left.
            let Some(i) = i else {
                return write(so_far, false);
            };
            let r = so_far.get(i);
            if r.outcome == Kind::Failed {
                failed += 1;
                let line = format!("failed: {}: {}", r.target, r.error.as_deref().unwrap_or(""));
                match &bar {
                    Some(bar) => bar.println(line),
                    None => context.say(line),
                }
            }
            if r.outcome != Kind::Skipped {
                done += 1;
            }
            if let Some(bar) = &bar {
                bar.set_position(done as u64);
                bar.set_message(format!("{failed} failed"));
            }
            write(so_far, false);
        },
    );
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    write(results.runs(), true);
    match report_error {
        Some(e) => Err(e),
        None => Ok(results),
    }
}

/// The fleet's stores: those of the fleet file, or of the configuration's table.
fn targets(context: &Invocation, fleet: &Fleet) -> Result<Vec<Target>> {
    let lines = match &fleet.file {
        Some(file) => {
            let text = std::fs::read_to_string(file).map_err(|e| {
                Error::Usage(format!(
                    "cannot read the fleet file {}: {e}",
                    file.display()
                ))
            })?;
            let folder = absolute(file.parent().unwrap_or(Path::new("")));
            crate::fleet::targets::lines(&text, &folder, &file.display().to_string())?
        }
        None => {
            let configured = context.chain.settings.fleet;
            if configured.is_empty() {
                return Err(Error::Usage(
                    "--fleet without a file runs over [package.metadata.semigrate.fleet], \
                     which this binary's configuration has not: give --fleet FILE"
                        .into(),
                ));
            }
            crate::fleet::targets::lines(
                &configured.join("\n"),
                &absolute(Path::new("")),
                "[package.metadata.semigrate.fleet]",
            )?
        }
    };
    let targets = crate::fleet::targets::expand(lines, &mut |url, query| {
        let mut server = PostgresStore::open(url, None).map_err(|e| e.to_string())?;
        server
            .column(query)
            .map_err(|e| format!("the schemas query failed: {e}"))
    })?;
    if targets.is_empty() {
        return Err(Error::Usage("the fleet has no store".into()));
    }
    Ok(targets)
}

/// `folder` made absolute against the working directory, so that every store is
/// named by its whole path; "" is the working directory.
fn absolute(folder: &Path) -> PathBuf {
    let folder = match folder.as_os_str().is_empty() {
        true => Path::new("."),
        false => folder,
    };
    std::path::absolute(folder).unwrap_or_else(|_| folder.to_owned())
}

/// How many stores run at once: `--parallel`, else `FILES_PER_CORE` a core for SQLite
/// files and `SESSIONS_PER_CORE` a core (eight at most) when a store is on a server;
/// never more than a server of the fleet has connections free.
fn parallel(context: &Invocation, fleet: &Fleet, targets: &[Target]) -> Result<usize> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut servers: Vec<&str> = targets
        .iter()
        .filter_map(|t| match t {
            Target::Server(on) => Some(on.url.as_str()),
            Target::File(_) => None,
        })
        .collect();
    servers.sort_unstable();
    servers.dedup();
    let mut n = match (fleet.parallel, servers.is_empty()) {
        (Some(n), _) => n,
        (None, true) => cores * FILES_PER_CORE,
        (None, false) => (cores * SESSIONS_PER_CORE).min(8),
    };
    for url in servers {
        let mut server = PostgresStore::open(url, None)?;
        // This session ends here: its slot is free for a worker.
        let free = server.free_connections()? + 1;
        if n > free {
            context.say(format!(
                "{} has {free} connection{} free: {free} store{} at once",
                crate::store::postgres::redact(url),
                if free == 1 { "" } else { "s" },
                if free == 1 { "" } else { "s" },
            ));
            n = free.max(1);
        }
    }
    Ok(n)
}

/// SQLite files run at once a core, by default: a file's run spends most of its time
/// waiting for the disk's syncs (a dozen a migration), which other files' runs fill.
/// Measured on 2 cores, 300 files of the example chain: 2 at once 3.9 s, 4 3.3 s,
/// 8 2.7 s, 16 2.4 s, 32 2.7 s (`bench/fleet.py`, BENCHMARKS.md).
const FILES_PER_CORE: usize = 8;

/// Sessions a core, by default, when the stores are on a server: while one session
/// waits for its commit to reach the server's disk, another's statements run.
/// Measured on 2 cores with the server on them, 200 schemas of the example chain:
/// 2 sessions 6.1 s, 4 4.6 s, 8 4.4 s (BENCHMARKS.md).
const SESSIONS_PER_CORE: usize = 2;

/// A bar of the stores done, on a terminal only.
fn bar(context: &Invocation, total: usize) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if context.quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    let style = indicatif::ProgressStyle::with_template(
        "  [{bar:30}] {pos}/{len} stores, {msg}, ETA {eta}",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message("0 failed");
    Some(bar)
}

/// Each worker's sessions, one per server, moved from schema to schema.
#[derive(Default)]
struct Connections(HashMap<String, PostgresStore>);

/// `operation` on one target, timed, and its result.
fn on_target(
    context: &Invocation,
    connections: &mut Connections,
    target: &Target,
    access: Access,
    operation: &OnStore<'_>,
) -> TargetRun {
    let started = Instant::now();
    let here = context.at(target);
    let (result, stands) = match target {
        Target::Server(on) if let Some(schema) = on.schema.as_deref() => {
            let url = &on.url;
            let session = match connections.0.remove(url) {
                Some(mut session) => session.switch_schema(schema).map(|()| session),
                None => PostgresStore::open_for(context.migrations(), url, Some(schema)),
            };
            match session {
                Err(e) => (Err(e), None),
                Ok(mut session) => {
                    let (result, stands) = run_on(&here, &mut session, operation);
                    // A session that failed may be anywhere: the next target opens
                    // its own.
                    if result.is_ok() && session.release_lock().is_ok() {
                        connections.0.insert(url.clone(), session);
                    }
                    (result, stands)
                }
            }
        }
        _ => {
            let opened = match access {
                Access::Write { creates } => here.open(creates),
                Access::Read => here.open_read_only(),
                Access::ReadExisting => here.refuse_missing().and_then(|()| here.open_read_only()),
            };
            match opened {
                Err(e) => (Err(e), None),
                Ok(mut store) => run_on(&here, &mut *store, operation),
            }
        }
    };
    TargetRun::ended(target, started.elapsed(), result, stands)
}

/// `operation` on an open store; after a failure, the version the store is found at.
fn run_on(
    here: &Invocation,
    store: &mut dyn Store,
    operation: &OnStore<'_>,
) -> (Result<Moved>, Option<SemVer>) {
    let result = here
        .options()
        .and_then(|options| operation(store, &options));
    let stands = match &result {
        Ok(_) => None,
        Err(_) => crate::store::checked_history(store)
            .ok()
            .map(|h| crate::engine::plan::current(&h)),
    };
    (result, stands)
}

/// A fleet's stores run without a word each (the bar, the failures and the summary
/// say what happens), and stop after the migration they are in when the fleet stops.
struct Unseen<'a>(&'a AtomicBool);

impl crate::engine::run::Progress for Unseen<'_> {
    fn step(&mut self, _: SemVer, _: &str, _: &str) {}
    fn reading(&mut self, _: &str, _: u64, _: u64) {}
    fn done(&mut self, _: &crate::engine::run::Done) {}
    fn go_on(&self) -> bool {
        !self.0.load(Ordering::SeqCst)
    }
}

/// How many stores of a fleet are at a version.
#[derive(serde::Serialize)]
struct AtVersion {
    version: SemVer,
    stores: usize,
}

/// What `status --fleet --json` prints.
#[derive(serde::Serialize)]
struct StatusJson<'a> {
    /// How many stores.
    stores: usize,
    /// The newest version this binary knows.
    latest: SemVer,
    /// How many stores are at each version, newest first.
    versions: Vec<AtVersion>,
    /// The stores whose specs changed after they were applied.
    drifted: Vec<String>,
    /// The stores whose schema differs from the one compiled for their version.
    schema_differs: Vec<String>,
    /// The stores another run holds the lock of.
    locked: Vec<String>,
    /// The stores that could not be read, with why.
    failed: Vec<(String, String)>,
    /// Every store, in the fleet's order.
    targets: Runs<'a>,
}

impl<'a> StatusJson<'a> {
    fn of(results: Runs<'a>, latest: SemVer) -> StatusJson<'a> {
        let mut s = StatusJson {
            stores: results.len(),
            latest,
            versions: results
                .at_versions()
                .into_iter()
                .map(|(version, stores)| AtVersion { version, stores })
                .collect(),
            drifted: Vec::new(),
            schema_differs: Vec::new(),
            locked: Vec::new(),
            failed: Vec::new(),
            targets: results,
        };
        for r in results.iter() {
            if let Some(standing) = r.standing {
                for (flag, list) in [
                    (standing.drifted, &mut s.drifted),
                    (standing.schema_differs, &mut s.schema_differs),
                    (standing.locked, &mut s.locked),
                ] {
                    if flag {
                        list.push(r.target.clone());
                    }
                }
            }
            if r.outcome == Kind::Failed {
                s.failed.push((r.target, r.error.unwrap_or_default()));
            }
        }
        s
    }
}

/// The table `status --fleet` prints: a line per version, then the stores that need a
/// look (ten named, the rest counted).
fn status_text(results: Runs<'_>, latest: SemVer) -> String {
    let s = StatusJson::of(results, latest);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "fleet     {} stores",
        crate::fleet::thousands(s.stores)
    );
    for a in &s.versions {
        let note = match a.version == latest {
            true => " (up to date)",
            false => "",
        };
        let n = crate::fleet::thousands(a.stores);
        let _ = writeln!(out, "{:<9} {n}{note}", a.version.to_string());
    }
    let named = |names: Vec<String>| -> String {
        let mut line = names
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if names.len() > 10 {
            let _ = write!(
                line,
                " and {} more",
                crate::fleet::thousands(names.len() - 10)
            );
        }
        line
    };
    for (label, stores) in [
        ("drifted", s.drifted),
        ("schema", s.schema_differs),
        ("locked", s.locked),
        (
            "failed",
            s.failed.iter().map(|(t, e)| format!("{t} ({e})")).collect(),
        ),
    ] {
        if !stores.is_empty() {
            let what = match label {
                "schema" => "with a schema unlike its version's",
                _ => "",
            };
            let _ = writeln!(
                out,
                "{label:<9} {}{}{}: {}",
                crate::fleet::thousands(stores.len()),
                if what.is_empty() { "" } else { " " },
                what,
                named(stores)
            );
        }
    }
    out
}
