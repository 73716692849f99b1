//! `semigrate upgrade` and `semigrate downgrade`: plan, then run or print the plan.

use super::Invocation;
use crate::engine::backup::Backup;
use crate::engine::plan::{Direction, Item, Plan};
use crate::engine::run::{Done, Progress};
use crate::engine::{Request, migrate};
use crate::error::Result;
use crate::model::{
    Check, CsvOp, Engine, Expect, ExportStep, Held, LoadStep, SemVer, Source, Step,
};
use crate::store::Store;
use serde::Serialize;
use std::fmt::Write;

pub fn upgrade(
    context: &Invocation,
    target: Option<SemVer>,
    dry_run: bool,
    atomic: bool,
    allow_schema_drift: bool,
) -> Result<String> {
    let request = Request {
        direction: Direction::Up,
        target,
        atomic,
        allow_schema_drift,
    };
    run(context, &request, dry_run)
}

pub fn downgrade(
    context: &Invocation,
    target: Option<SemVer>,
    dry_run: bool,
    allow_schema_drift: bool,
) -> Result<String> {
    let request = Request {
        direction: Direction::Down,
        target,
        atomic: false,
        allow_schema_drift,
    };
    run(context, &request, dry_run)
}

fn run(context: &Invocation, request: &Request, dry_run: bool) -> Result<String> {
    let command = request.command();
    // Only an upgrade makes a store: a downgrade of one that is not there is a
    // mistyped path, and creates nothing.
    let creates = request.direction == Direction::Up;
    if !creates {
        context.refuse_missing()?;
    }
    if dry_run {
        let mut store = context.open_read_only()?;
        return crate::engine::dry_run(
            &mut *store,
            context.migrations(),
            request,
            |store, plan| match context.json {
                true => super::json(&dry_run_json(store, command, plan)),
                false => dry_run_text(store, command, plan),
            },
        );
    }
    let mut store = context.open(creates)?;
    let mut report = Report::new(context);
    let outcome = migrate(
        &mut *store,
        context.migrations(),
        request,
        &context.options()?,
        &mut report,
    )?;
    if !outcome.done.is_empty() {
        context.say(format!("{} is at {}", store.describe(), outcome.at));
    }
    Ok(String::new())
}

/// The exact SQL the run would execute, in order, as a script a person can read.
/// A dry run as `--json` prints it: the plan in order, with each step's text for the
/// store's engine, each CSV op as `dry_run_text` words it, and the checks run after.
#[derive(Serialize)]
struct DryRun<'a> {
    command: &'a str,
    database: String,
    engine: String,
    from: SemVer,
    to: SemVer,
    migrations: Vec<Planned<'a>>,
}

#[derive(Serialize)]
struct Planned<'a> {
    version: SemVer,
    direction: &'a str,
    description: &'a str,
    transaction: bool,
    foreign_keys: bool,
    steps: Vec<PlannedStep<'a>>,
    /// The version whose validations run before the commit.
    validations_of: SemVer,
    validations: Vec<PlannedStep<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum PlannedStep<'a> {
    Sql {
        sql: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        expect: Option<String>,
        /// PostgreSQL: what the build measured the step lock.
        #[serde(skip_serializing_if = "Option::is_none")]
        locks: Option<Vec<&'a Held>>,
    },
    Csv {
        csv: &'a str,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        ops: Vec<String>,
    },
    Rust {
        rust: &'a str,
    },
}

/// What a SQL validation expects, in words.
fn expected(expect: &Expect) -> String {
    match expect {
        Expect::Empty => "no row".to_owned(),
        Expect::Value(v) => v.to_string(),
    }
}

/// What the build measured step `index` of `item` lock on PostgreSQL; None when it
/// measured nothing (no server at build time, or a version this binary does not know).
fn measured<'a>(item: &Item<'a>, direction: Direction, index: usize) -> Option<Vec<&'a Held>> {
    let held = item.migration?.locks.measured.as_deref()?;
    Some(
        held.iter()
            .filter(|h| h.direction == direction.as_str() && h.step as usize == index + 1)
            .collect(),
    )
}

fn dry_run_json<'a>(store: &dyn Store, command: &'a str, plan: &'a Plan) -> DryRun<'a> {
    let engine = store.engine();
    let migrations = plan
        .items
        .iter()
        .map(|item| Planned {
            version: item.version,
            direction: plan.direction.as_str(),
            description: item.description,
            transaction: item.transaction,
            foreign_keys: item.foreign_keys,
            steps: item
                .steps
                .iter()
                .enumerate()
                .map(|(i, step)| match step {
                    Step::Sql(sql) => PlannedStep::Sql {
                        sql: sql.for_engine(engine),
                        expect: None,
                        locks: measured(item, plan.direction, i),
                    },
                    Step::Csv(csv) => PlannedStep::Csv {
                        csv: &csv.path,
                        ops: csv.ops.iter().map(describe_op).collect(),
                    },
                    Step::Rust(f) => PlannedStep::Rust { rust: &f.path },
                    Step::Load(l) | Step::Unload(l) => PlannedStep::Csv {
                        csv: &l.path,
                        ops: vec![describe_data(step, engine)],
                    },
                    Step::Export(e) => PlannedStep::Csv {
                        csv: &e.path,
                        ops: vec![describe_data(step, engine)],
                    },
                })
                .collect(),
            validations_of: item.lands_on,
            validations: item
                .checks
                .iter()
                .map(|check| match check {
                    Check::Sql { sql, expect } => PlannedStep::Sql {
                        sql: sql.for_engine(engine),
                        expect: Some(expected(expect)),
                        locks: None,
                    },
                    Check::Csv(c) => PlannedStep::Csv {
                        csv: &c.path,
                        ops: Vec::new(),
                    },
                    Check::Rust(f) => PlannedStep::Rust { rust: &f.path },
                })
                .collect(),
        })
        .collect();
    DryRun {
        command,
        database: store.describe(),
        engine: engine.to_string(),
        from: plan.from,
        to: plan.to,
        migrations,
    }
}

fn dry_run_text(store: &dyn Store, command: &str, plan: &Plan) -> String {
    let engine = store.engine();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- dry run: {command} {} from {} to {}; nothing is changed",
        store.describe(),
        plan.from,
        plan.to
    );
    if plan.items.is_empty() {
        let _ = writeln!(out, "-- nothing to do");
    }
    for item in &plan.items {
        let _ = writeln!(out);
        let how = match (item.transaction, item.foreign_keys) {
            (true, true) => "in one transaction",
            (true, false) => "in one transaction, foreign keys off, checked before commit",
            (false, _) => "outside a transaction",
        };
        let _ = writeln!(
            out,
            "-- {} {}: {} ({how})",
            item.version,
            plan.direction.as_str(),
            item.description
        );
        if item.steps.is_empty() {
            let _ = writeln!(out, "-- (no statements)");
        }
        for (i, step) in item.steps.iter().enumerate() {
            match step {
                Step::Sql(sql) => {
                    if engine == Engine::Postgres {
                        for held in measured(item, plan.direction, i).into_iter().flatten() {
                            let _ =
                                writeln!(out, "-- locks (measured at build): {}", held.describe());
                        }
                    }
                    let text = sql
                        .for_engine(engine)
                        .unwrap_or("-- (no SQL for this engine)");
                    let _ = writeln!(out, "{}", text.trim_end());
                }
                Step::Csv(csv) => {
                    let _ = writeln!(out, "-- csv {}:", csv.path);
                    for op in csv.ops.iter() {
                        let _ = writeln!(out, "--   {}", describe_op(op));
                    }
                }
                Step::Rust(f) => {
                    let _ = writeln!(out, "-- rust {}", f.path);
                }
                Step::Load(LoadStep { path, .. })
                | Step::Unload(LoadStep { path, .. })
                | Step::Export(ExportStep { path, .. }) => {
                    let _ = writeln!(out, "-- csv {path}:");
                    let _ = writeln!(out, "--   {}", describe_data(step, engine));
                }
            }
        }
        for (i, check) in item.checks.iter().enumerate() {
            match check {
                Check::Sql { sql, expect } => {
                    let expect = expected(expect);
                    let _ = writeln!(
                        out,
                        "-- validation {} of {}, expects {expect}:",
                        i + 1,
                        item.lands_on
                    );
                    for line in sql.for_engine(engine).unwrap_or("").trim_end().lines() {
                        let _ = writeln!(out, "--   {line}");
                    }
                }
                Check::Csv(c) => {
                    let _ = writeln!(
                        out,
                        "-- validation {} of {}: csv {}",
                        i + 1,
                        item.lands_on,
                        c.path
                    );
                }
                Check::Rust(f) => {
                    let _ = writeln!(
                        out,
                        "-- validation {} of {}: rust {}",
                        i + 1,
                        item.lands_on,
                        f.path
                    );
                }
            }
        }
    }
    out
}

/// A load, an unload or an export as the dry run shows it.
fn describe_data(step: &Step, engine: crate::model::Engine) -> String {
    match step {
        Step::Load(l) => format!(
            "{} into {}{}",
            if l.upsert { "upsert" } else { "load" },
            l.table,
            if l.columns.is_empty() {
                String::new()
            } else {
                let pairs: Vec<String> = l
                    .columns
                    .iter()
                    .map(|(a, b)| format!("{a} -> {b}"))
                    .collect();
                format!(" ({})", pairs.join(", "))
            }
        ),
        Step::Unload(l) => format!("delete its rows from {} by {}", l.table, l.key.join(", ")),
        Step::Export(e) => format!(
            "export the rows of: {}",
            e.query
                .for_engine(engine)
                .unwrap_or("(no SQL for this engine)")
                .trim()
        ),
        Step::Sql(_) | Step::Csv(_) | Step::Rust(_) => String::new(),
    }
}

/// One CSV op as the dry run shows it.
fn describe_op(op: &CsvOp) -> String {
    match op {
        CsvOp::Create { columns, seed } => format!(
            "create with columns {}{}",
            columns.join(", "),
            if seed.is_some() {
                " and the embedded seed rows"
            } else {
                ""
            }
        ),
        CsvOp::Delete => "delete the file".into(),
        CsvOp::Rename { from, to } => format!("rename {from} -> {to}"),
        CsvOp::Add { column, value } => match value {
            Source::Value(v) => format!("add {column} = {v:?}"),
            Source::Copy(c) => format!("add {column} as a copy of {c}"),
            Source::Template(t) => format!("add {column} from the template {t:?}"),
        },
        CsvOp::Drop { column } => format!("drop {column}"),
        CsvOp::Replace {
            column,
            from,
            to,
            pattern,
        } => match pattern {
            true => format!("replace the matches of {from:?} in {column} by {to:?}"),
            false => format!("replace {from:?} in {column} by {to:?}"),
        },
        CsvOp::Split {
            column,
            separator,
            into,
        } => format!("split {column} on {separator:?} into {}", into.join(", ")),
        CsvOp::Join {
            columns,
            separator,
            into,
        } => format!("join {} with {separator:?} into {into}", columns.join(", ")),
        CsvOp::Filter {
            column,
            values,
            pattern,
        } => {
            let mut kept: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
            kept.extend(pattern.iter().map(|p| format!("what matches {p:?}")));
            format!("keep the rows whose {column} is {}", kept.join(" or "))
        }
        CsvOp::Apply {
            column, function, ..
        } => format!("apply {} to {column}", function.path),
        CsvOp::Map {
            column,
            values,
            default,
        } => {
            let pairs: Vec<String> = values
                .iter()
                .map(|(a, b)| format!("{a:?} -> {b:?}"))
                .collect();
            let default = default
                .as_ref()
                .map_or(String::new(), |d| format!(", anything else -> {d:?}"));
            format!("map {column}: {}{default}", pairs.join(", "))
        }
        CsvOp::Convert { column, to } => format!("convert {column} to {to:?}").to_lowercase(),
        CsvOp::Reorder { columns } => format!("reorder to {}", columns.join(", ")),
        CsvOp::Fill { column, value } => format!("fill the empty cells of {column} with {value:?}"),
    }
}

/// Prints the backup and the plan, each migration as it commits, and a progress bar
/// while a large CSV file streams, on a terminal only.
struct Report<'a> {
    context: &'a Invocation,
    descriptions: Vec<String>,
    /// What each planned migration's down is known to leave (`down_leaves`).
    leaves: Vec<Vec<String>>,
    /// The migration the next `done` reports.
    next: usize,
    bar: Option<indicatif::ProgressBar>,
}

/// Files smaller than this stream too fast for a bar to help.
const BAR_FROM: u64 = 8 << 20;

impl<'a> Report<'a> {
    fn new(context: &'a Invocation) -> Self {
        Report {
            context,
            descriptions: Vec::new(),
            leaves: Vec::new(),
            next: 0,
            bar: None,
        }
    }
}

impl Progress for Report<'_> {
    fn backed_up(&mut self, b: &Backup) {
        self.context
            .say(format!("backup: {}", b.database.display()));
        if let Some(folder) = &b.files {
            self.context
                .say(format!("backup of the CSV files: {}", folder.display()));
        }
    }

    fn not_backed_up(&mut self, why: &str) {
        self.context.say(format!("no backup: {why}"));
    }

    fn planned(&mut self, store: &str, command: &str, plan: &Plan) {
        if plan.items.is_empty() {
            self.context
                .say(format!("{store}: already at {}, nothing to do", plan.from));
            return;
        }
        self.descriptions = plan
            .items
            .iter()
            .map(|i| i.description.to_owned())
            .collect();
        self.leaves = plan
            .items
            .iter()
            .map(|i| {
                i.migration
                    .map(|m| m.down_leaves.iter().map(|l| l.to_string()).collect())
                    .unwrap_or_default()
            })
            .collect();
        let n = plan.items.len();
        self.context.say(format!(
            "{command} {store}: {} -> {}, {n} migration{}",
            plan.from,
            plan.to,
            if n == 1 { "" } else { "s" }
        ));
    }

    fn step(&mut self, version: SemVer, what: &str, text: &str) {
        if self.context.verbose {
            self.context
                .say(format!("  -- {version} {what}:\n{}", text.trim_end()));
        }
    }

    fn reading(&mut self, path: &str, read: u64, total: u64) {
        use std::io::IsTerminal;
        if self.bar.is_none()
            && total >= BAR_FROM
            && !self.context.quiet
            && std::io::stderr().is_terminal()
        {
            let bar = indicatif::ProgressBar::new(total).with_message(path.to_owned());
            let style = indicatif::ProgressStyle::with_template(
                "  {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .expect("a valid template")
            .progress_chars("=> ");
            bar.set_style(style);
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(read);
            if read >= total {
                bar.finish_and_clear();
                self.bar = None;
            }
        }
    }

    fn done(&mut self, d: &Done) {
        let description = self.descriptions.get(self.next).map_or("", String::as_str);
        let leaves = self.leaves.get(self.next).cloned().unwrap_or_default();
        self.next += 1;
        self.context.say(format!(
            "  {:<8} {:<4} {:>6} ms  {description}",
            d.version.to_string(),
            d.direction.as_str(),
            super::millis(d.elapsed.as_millis()),
        ));
        for (path, rows, elapsed) in &d.files {
            self.context.say(format!(
                "                  {path}: {rows} rows in {:.3} s",
                elapsed.as_secs_f64()
            ));
        }
        if d.direction == Direction::Down && !leaves.is_empty() {
            self.context.say(format!(
                "                  its down is known to leave: {}",
                leaves.join(", ")
            ));
        }
    }
}
