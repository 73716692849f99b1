//! A fleet: one operation of the engine over many stores (a SQLite file per tenant, a
//! PostgreSQL schema per customer) in one process. Targets are taken in their order by
//! a bounded number of workers; a canary runs first on its own; the first failure stops
//! new targets from starting unless the run is told to continue. What each target
//! gave is a `Result` of the run, which the report and the summary line are made of.
//! Each target is one call of the engine's entry, so each keeps every guarantee of a
//! single run: its own lock, recovery, backup, log and state file.

pub mod targets;

use crate::error::Result;
use crate::model::SemVer;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
pub use targets::Target;

/// What the first failure does to the rest of the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// No new target starts; those running stop after the migration they are in.
    Stop,
    /// Every target is tried.
    Continue,
}

/// How a fleet run proceeds.
#[derive(Clone, Copy, Debug)]
pub struct Rollout {
    /// How many targets run at once.
    pub parallel: usize,
    /// The first `canary` targets run alone first; if one fails, no other starts.
    pub canary: usize,
    /// After a failure outside the canary.
    pub on_error: OnError,
}

/// What a run did to one target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Not started yet (a report written while the run goes on).
    Left,
    /// The operation changed the store.
    Migrated,
    /// Nothing to do: the store was at the goal (or `status`, `verify` read it).
    Unchanged,
    /// The operation failed on it; `error` says why.
    Failed,
    /// Never started: the run stopped at an earlier failure.
    Skipped,
    /// Started, and stopped short of the goal after a migration when another store
    /// failed: fully at the version `to` says.
    Stopped,
}

/// One target's line of the report.
#[derive(Clone, Debug, Serialize)]
pub struct TargetRun {
    /// The target as it may be shown (no password).
    pub target: String,
    /// Its version before the run, when it could be read.
    pub from: Option<SemVer>,
    /// Its version after the run, when it could be read.
    pub to: Option<SemVer>,
    /// What happened.
    pub outcome: Kind,
    /// How long the run took on it.
    pub duration_ms: u64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How it stands (`status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standing: Option<Standing>,
    /// The exit code a single run on it would have ended with.
    #[serde(skip)]
    pub exit_code: i32,
}

impl TargetRun {
    /// A target not started (yet).
    pub fn waiting(target: &Target, outcome: Kind) -> TargetRun {
        TargetRun {
            target: target.shown(),
            from: None,
            to: None,
            outcome,
            duration_ms: 0,
            error: None,
            standing: None,
            exit_code: 0,
        }
    }
}

/// Runs `work` on every target as `rollout` says, `worker()` giving each worker thread
/// its own state (its server connections), and tells `seen` on the calling thread of
/// each result as it comes: its index (None once before any target starts), and every
/// target's result so far (the one copy of them a run keeps, a few dozen bytes a
/// store). `work` is told when the fleet is stopping, so that a store in the middle
/// of its run stops after the migration it is in. Returns every target's result, in
/// the targets' order.
pub fn run<W>(
    targets: Vec<Target>,
    rollout: &Rollout,
    worker: &(dyn Fn() -> W + Sync),
    work: &(dyn Fn(&mut W, &Target, &AtomicBool) -> TargetRun + Sync),
    seen: &mut dyn FnMut(Option<usize>, Runs<'_>),
) -> Results {
    let mut slots = Slots::waiting(targets.len());
    seen(None, Runs::of(&targets, &slots));
    let canary = rollout.canary.min(targets.len());
    let stop = AtomicBool::new(false);
    let phases = [
        (0, canary, OnError::Stop),
        (canary, targets.len(), rollout.on_error),
    ];
    for (start, end, on_error) in phases {
        if start == end || stop.load(Ordering::SeqCst) {
            continue;
        }
        let next = AtomicUsize::new(start);
        let (tx, rx) = std::sync::mpsc::channel::<(usize, TargetRun)>();
        std::thread::scope(|scope| {
            for _ in 0..rollout.parallel.clamp(1, end - start) {
                let tx = tx.clone();
                let (next, stop, targets) = (&next, &stop, &targets);
                scope.spawn(move || {
                    let mut state = worker();
                    while !stop.load(Ordering::SeqCst) {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= end {
                            break;
                        }
                        let result = work(&mut state, &targets[i], stop);
                        if result.outcome == Kind::Failed && on_error == OnError::Stop {
                            stop.store(true, Ordering::SeqCst);
                        }
                        if tx.send((i, result)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            for (i, result) in rx {
                slots.set(i, &result);
                seen(Some(i), Runs::of(&targets, &slots));
            }
        });
    }
    for i in 0..targets.len() {
        if slots.all[i].outcome == Kind::Left {
            slots.all[i].outcome = Kind::Skipped;
            seen(Some(i), Runs::of(&targets, &slots));
        }
    }
    Results { targets, slots }
}

/// A fleet's results as a run keeps them: its targets, and what happened to each,
/// packed (a store's line of the report is made again when it is written).
pub struct Results {
    targets: Vec<Target>,
    slots: Slots,
}

impl Results {
    /// The results, to read.
    pub fn runs(&self) -> Runs<'_> {
        Runs::of(&self.targets, &self.slots)
    }

    /// Results made of report lines, in the targets' order.
    #[cfg(test)]
    pub fn of(targets: Vec<Target>, runs: &[TargetRun]) -> Results {
        let mut slots = Slots::waiting(targets.len());
        for (i, run) in runs.iter().enumerate() {
            slots.set(i, run);
        }
        Results { targets, slots }
    }
}

/// What happened to each target, a few dozen bytes a store: versions by their place in
/// a table of those seen, a failure's text only where there is one.
struct Slots {
    all: Vec<Slot>,
    versions: Vec<SemVer>,
}

/// One store's result, packed.
#[derive(Clone)]
struct Slot {
    outcome: Kind,
    /// The places of `from` and `to` in the table of versions; `NONE` when unknown.
    from: u32,
    to: u32,
    duration_ms: u32,
    standing: Option<Standing>,
    failure: Option<Box<(String, i32)>>,
}

/// The place of a version not known.
const NONE: u32 = u32::MAX;

impl Slots {
    fn waiting(n: usize) -> Slots {
        let slot = Slot {
            outcome: Kind::Left,
            from: NONE,
            to: NONE,
            duration_ms: 0,
            standing: None,
            failure: None,
        };
        Slots {
            all: vec![slot; n],
            versions: Vec::new(),
        }
    }

    fn place(&mut self, version: Option<SemVer>) -> u32 {
        let Some(version) = version else {
            return NONE;
        };
        match self.versions.iter().position(|v| *v == version) {
            Some(i) => i as u32,
            None => {
                self.versions.push(version);
                self.versions.len() as u32 - 1
            }
        }
    }

    fn version(&self, place: u32) -> Option<SemVer> {
        self.versions.get(place as usize).copied()
    }

    fn set(&mut self, i: usize, run: &TargetRun) {
        let (from, to) = (self.place(run.from), self.place(run.to));
        self.all[i] = Slot {
            outcome: run.outcome,
            from,
            to,
            duration_ms: u32::try_from(run.duration_ms).unwrap_or(u32::MAX),
            standing: run.standing,
            failure: run
                .error
                .clone()
                .map(|error| Box::new((error, run.exit_code))),
        };
    }
}

/// The results of a fleet, to read: each target's report line, made on demand.
#[derive(Clone, Copy)]
pub struct Runs<'a> {
    targets: &'a [Target],
    slots: &'a Slots,
}

impl<'a> Runs<'a> {
    fn of(targets: &'a [Target], slots: &'a Slots) -> Runs<'a> {
        Runs { targets, slots }
    }

    /// How many targets.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// The report line of target `i`.
    pub fn get(&self, i: usize) -> TargetRun {
        let slot = &self.slots.all[i];
        let (error, exit_code) = match slot.failure.as_deref() {
            Some((error, code)) => (Some(error.clone()), *code),
            None => (None, 0),
        };
        TargetRun {
            target: self.targets[i].shown(),
            from: self.slots.version(slot.from),
            to: self.slots.version(slot.to),
            outcome: slot.outcome,
            duration_ms: u64::from(slot.duration_ms),
            error,
            standing: slot.standing,
            exit_code,
        }
    }

    /// Every target's report line, in the fleet's order.
    pub fn iter(self) -> impl Iterator<Item = TargetRun> + 'a {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Each target's outcome and versions, without making its line.
    fn outcomes(self) -> impl Iterator<Item = (Kind, Option<SemVer>)> + 'a {
        self.slots
            .all
            .iter()
            .map(|s| (s.outcome, self.slots.version(s.to)))
    }

    /// How many targets stand at each version a run left them at (migrated, already
    /// there, stopped short, or read), the newest version first.
    pub fn at_versions(self) -> Vec<(SemVer, usize)> {
        let mut at: Vec<(SemVer, usize)> = Vec::new();
        for (outcome, to) in self.outcomes() {
            if matches!(outcome, Kind::Migrated | Kind::Unchanged | Kind::Stopped)
                && let Some(v) = to
            {
                match at.iter_mut().find(|(k, _)| *k == v) {
                    Some((_, n)) => *n += 1,
                    None => at.push((v, 1)),
                }
            }
        }
        at.sort_by_key(|a| std::cmp::Reverse(a.0));
        at
    }

    /// The first target that failed.
    pub fn first_failed(self) -> Option<TargetRun> {
        let i = self
            .slots
            .all
            .iter()
            .position(|s| s.outcome == Kind::Failed)?;
        Some(self.get(i))
    }
}

impl Serialize for Runs<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// What an operation did to one store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moved {
    /// Its version before.
    pub from: SemVer,
    /// Its version after.
    pub to: SemVer,
    /// Whether the operation changed it.
    pub changed: bool,
    /// Whether it stopped short of the goal because the fleet was stopping.
    pub stopped: bool,
    /// How it stands, for `status`.
    pub standing: Option<Standing>,
}

/// How a store stands, as `status --fleet` counts it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Standing {
    /// How many versions of the chain it lacks.
    pub pending: usize,
    /// A spec of it changed after it was applied (checksum drift).
    pub drifted: bool,
    /// Its schema differs from the one compiled for its version.
    pub schema_differs: bool,
    /// Another run holds its lock.
    pub locked: bool,
}

impl TargetRun {
    /// The result of an operation on `target` that took `took`; `stands` is where a
    /// store that failed was found after the failure, when it could be read.
    pub fn ended(
        target: &Target,
        took: Duration,
        result: Result<Moved>,
        stands: Option<SemVer>,
    ) -> TargetRun {
        let mut r = TargetRun::waiting(target, Kind::Unchanged);
        r.duration_ms = took.as_millis() as u64;
        match result {
            Ok(moved) => {
                r.from = Some(moved.from);
                r.to = Some(moved.to);
                r.standing = moved.standing;
                if moved.stopped {
                    r.outcome = Kind::Stopped;
                } else if moved.changed {
                    r.outcome = Kind::Migrated;
                }
            }
            Err(e) => {
                r.outcome = Kind::Failed;
                r.to = stands;
                r.exit_code = e.exit_code();
                r.error = Some(e.to_string().replace('\n', "; "));
            }
        }
        r
    }
}

/// The report of a fleet run, as `--report` writes it.
#[derive(Serialize)]
pub struct Report<'a> {
    /// `upgrade`, `downgrade`, `status`, `verify`.
    pub command: &'a str,
    /// The version the run takes every target to (upgrade, downgrade).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goal: Option<SemVer>,
    /// False while the run goes on.
    pub finished: bool,
    /// How many targets ended in each outcome so far.
    pub counts: Counts,
    /// Every target, in the fleet's order.
    pub targets: Runs<'a>,
}

/// The outcomes of a fleet, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Every target.
    pub total: usize,
    /// Changed by the run.
    pub migrated: usize,
    /// Already where the run would take them.
    pub unchanged: usize,
    /// Failed.
    pub failed: usize,
    /// Never started.
    pub skipped: usize,
    /// Stopped short of the goal.
    pub stopped: usize,
    /// Not done yet.
    pub left: usize,
}

impl Counts {
    /// The counts of `results`.
    pub fn of(results: Runs<'_>) -> Counts {
        let mut c = Counts {
            total: results.len(),
            ..Counts::default()
        };
        for (outcome, _) in results.outcomes() {
            match outcome {
                Kind::Left => c.left += 1,
                Kind::Migrated => c.migrated += 1,
                Kind::Unchanged => c.unchanged += 1,
                Kind::Failed => c.failed += 1,
                Kind::Skipped => c.skipped += 1,
                Kind::Stopped => c.stopped += 1,
            }
        }
        c
    }
}

/// The report file, rewritten atomically as the run goes: at most once a second, and
/// at the end.
pub struct ReportFile {
    path: PathBuf,
    written: Option<Instant>,
}

impl ReportFile {
    /// The report at `path`, not written yet.
    pub fn new(path: &Path) -> ReportFile {
        ReportFile {
            path: path.to_owned(),
            written: None,
        }
    }

    /// Writes `report` when the last write is a second old, or when `now`.
    pub fn write(&mut self, report: &Report, now: bool) -> Result<()> {
        if !now
            && self
                .written
                .is_some_and(|w| w.elapsed() < Duration::from_secs(1))
        {
            return Ok(());
        }
        let write = |out: &mut dyn std::io::Write| {
            serde_json::to_writer_pretty(&mut *out, report)?;
            out.write_all(b"\n")
        };
        crate::durable::replace_with(&self.path, ".semigrate-report.", "fleet-report", write)
            .map_err(|e| crate::error::Error::Io {
                path: self.path.display().to_string(),
                reason: e.to_string(),
            })?;
        self.written = Some(Instant::now());
        Ok(())
    }
}

/// The summary line of a run: `9,998 at 2.3.0, 2 failed: see report.json`.
pub fn summary(results: Runs<'_>, report: Option<&Path>) -> String {
    let mut at = results.at_versions();
    at.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    let counts = Counts::of(results);
    let mut parts: Vec<String> = at
        .iter()
        .map(|(v, n)| format!("{} at {v}", thousands(*n)))
        .collect();
    if counts.migrated > 0
        && counts.unchanged > 0
        && let Some(last) = parts.last_mut()
    {
        last.push_str(&format!(
            " ({} migrated, {} already there)",
            thousands(counts.migrated),
            thousands(counts.unchanged)
        ));
    }
    if counts.failed > 0 {
        parts.push(format!("{} failed", thousands(counts.failed)));
    }
    if counts.stopped > 0 {
        parts.push(format!("{} stopped short", thousands(counts.stopped)));
    }
    if counts.skipped > 0 {
        parts.push(format!("{} not started", thousands(counts.skipped)));
    }
    if parts.is_empty() {
        parts.push("no target".into());
    }
    let mut line = parts.join(", ");
    if counts.failed > 0 {
        match report {
            Some(path) => line.push_str(&format!(": see {}", path.display())),
            None => {
                if let Some(first) = results.first_failed() {
                    let error = first.error.as_deref().unwrap_or("");
                    line.push_str(&format!("; the first: {}: {error}", first.target));
                }
            }
        }
    }
    line
}

/// `n` with a comma between each group of three digits: 10,000.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn files(n: usize) -> Vec<Target> {
        (0..n)
            .map(|i| Target::File(PathBuf::from(format!("/t/{i}.db")).into()))
            .collect()
    }

    fn result(t: &Target, fail: bool) -> TargetRun {
        let mut r = TargetRun::waiting(t, Kind::Migrated);
        r.to = Some(SemVer::new(1, 0, 0));
        if fail {
            r.outcome = Kind::Failed;
            r.error = Some("boom".into());
        }
        r
    }

    #[test]
    fn never_more_than_parallel_targets_run_at_once_and_all_are_done() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let targets = files(40);
        let rollout = Rollout {
            parallel: 3,
            canary: 0,
            on_error: OnError::Stop,
        };
        let mut seen = 0;
        let results = run(
            targets.clone(),
            &rollout,
            &|| (),
            &|_, t, _| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
                running.fetch_sub(1, Ordering::SeqCst);
                result(t, false)
            },
            &mut |i, _| seen += usize::from(i.is_some()),
        );
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert_eq!(seen, 40);
        assert_eq!(Counts::of(results.runs()).migrated, 40);
        assert_eq!(results.runs().get(7).target, "/t/7.db");
    }

    #[test]
    fn a_failing_canary_starts_nothing_else() {
        let started = Mutex::new(Vec::new());
        let targets = files(10);
        let rollout = Rollout {
            parallel: 4,
            canary: 2,
            on_error: OnError::Continue,
        };
        let results = run(
            targets.clone(),
            &rollout,
            &|| (),
            &|_, t, _| {
                started.lock().unwrap().push(t.shown());
                result(t, t.shown() == "/t/1.db")
            },
            &mut |_, _| {},
        );
        let mut started = started.into_inner().unwrap();
        started.sort();
        assert_eq!(started, ["/t/0.db", "/t/1.db"]);
        let c = Counts::of(results.runs());
        assert_eq!((c.migrated, c.failed, c.skipped), (1, 1, 8));
    }

    #[test]
    fn stop_starts_no_target_after_a_failure_and_continue_tries_them_all() {
        let targets = files(20);
        for (on_error, tried) in [(OnError::Stop, 6), (OnError::Continue, 20)] {
            let rollout = Rollout {
                parallel: 1,
                canary: 0,
                on_error,
            };
            let results = run(
                targets.clone(),
                &rollout,
                &|| (),
                &|_, t, _| result(t, t.shown() == "/t/5.db"),
                &mut |_, _| {},
            );
            let c = Counts::of(results.runs());
            assert_eq!(c.migrated + c.failed, tried, "{on_error:?}");
            assert_eq!(c.skipped, 20 - tried);
            assert_eq!(results.runs().get(5).outcome, Kind::Failed);
        }
    }

    /// A store running when another fails is told that the fleet stops, so that its
    /// run stops after the migration it is in.
    #[test]
    fn a_running_store_is_told_when_another_fails() {
        let targets = files(2);
        let rollout = Rollout {
            parallel: 2,
            canary: 0,
            on_error: OnError::Stop,
        };
        let results = run(
            targets.clone(),
            &rollout,
            &|| (),
            &|_, t, stopping| {
                if t.shown() == "/t/1.db" {
                    return result(t, true);
                }
                let waited = Instant::now();
                while !stopping.load(Ordering::SeqCst) && waited.elapsed() < Duration::from_secs(10)
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let mut r = result(t, false);
                if stopping.load(Ordering::SeqCst) {
                    r.outcome = Kind::Stopped;
                }
                r
            },
            &mut |_, _| {},
        );
        assert_eq!(results.runs().get(0).outcome, Kind::Stopped);
        assert_eq!(results.runs().get(1).outcome, Kind::Failed);
    }

    #[test]
    fn each_worker_keeps_its_own_state_across_its_targets() {
        let targets = files(30);
        let rollout = Rollout {
            parallel: 2,
            canary: 0,
            on_error: OnError::Stop,
        };
        let made = AtomicUsize::new(0);
        let results = run(
            targets.clone(),
            &rollout,
            &|| {
                made.fetch_add(1, Ordering::SeqCst);
                0usize
            },
            &|uses: &mut usize, t, _| {
                *uses += 1;
                let mut r = result(t, false);
                r.duration_ms = *uses as u64;
                r
            },
            &mut |_, _| {},
        );
        assert_eq!(made.load(Ordering::SeqCst), 2);
        let most = results.runs().iter().map(|r| r.duration_ms).max().unwrap();
        assert!(most >= 15, "one worker ran {most} of 30 targets");
    }

    #[test]
    fn the_summary_counts_versions_and_failures() {
        let targets = files(4);
        let mut lines: Vec<TargetRun> = targets.iter().map(|t| result(t, false)).collect();
        lines[3].to = Some(SemVer::new(0, 9, 0));
        let summarised =
            |lines: &[TargetRun], report| summary(Results::of(files(4), lines).runs(), report);
        assert_eq!(summarised(&lines, None), "3 at 1.0.0, 1 at 0.9.0");
        lines[0].outcome = Kind::Unchanged;
        assert_eq!(
            summarised(&lines, None),
            "3 at 1.0.0, 1 at 0.9.0 (3 migrated, 1 already there)"
        );
        lines[1] = result(&targets[1], true);
        lines[2].outcome = Kind::Skipped;
        assert_eq!(
            summarised(&lines, Some(Path::new("r.json"))),
            "1 at 1.0.0, 1 at 0.9.0 (1 migrated, 1 already there), 1 failed, 1 not started: \
             see r.json"
        );
        assert_eq!(
            summarised(&lines, None),
            "1 at 1.0.0, 1 at 0.9.0 (1 migrated, 1 already there), 1 failed, 1 not started; \
             the first: /t/1.db: boom"
        );
        assert_eq!(thousands(9998), "9,998");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
    }

    /// A store's line, packed and made again, says what the run said of it.
    #[test]
    fn a_packed_result_gives_back_its_line() {
        let targets = files(3);
        let mut lines: Vec<TargetRun> = targets.iter().map(|t| result(t, false)).collect();
        lines[0].from = Some(SemVer::new(0, 9, 0));
        lines[0].duration_ms = 1234;
        lines[1] = result(&targets[1], true);
        lines[1].exit_code = 3;
        lines[2].standing = Some(Standing {
            pending: 2,
            drifted: true,
            schema_differs: false,
            locked: true,
        });
        let results = Results::of(files(3), &lines);
        for (i, line) in lines.iter().enumerate() {
            let again = results.runs().get(i);
            assert_eq!(
                serde_json::to_value(&again).unwrap(),
                serde_json::to_value(line).unwrap()
            );
            assert_eq!(again.exit_code, line.exit_code);
        }
        assert_eq!(
            serde_json::to_value(results.runs()).unwrap(),
            serde_json::to_value(&lines).unwrap()
        );
    }
}
