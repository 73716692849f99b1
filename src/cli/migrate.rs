//! `semigrate upgrade` and `semigrate downgrade`: plan, then run or print the plan.

use super::Context;
use crate::compiled::{MIGRATIONS, SETTINGS};
use crate::data::swap::Staging;
use crate::engine::backup;
use crate::engine::plan::{self, Plan};
use crate::engine::run::{Done, Progress, recover, run, run_atomic};
use crate::engine::state_file;
use crate::error::Result;
use crate::model::{Check, CsvOp, Expect, SemVer, Source, Step};
use crate::store::Store;
use serde::Serialize;
use std::fmt::Write;

pub fn upgrade(
    context: &Context,
    target: Option<SemVer>,
    dry_run: bool,
    atomic: bool,
) -> Result<String> {
    migrate(context, "upgrade", dry_run, atomic, |history| {
        plan::upgrade(MIGRATIONS, history, target)
    })
}

pub fn downgrade(context: &Context, target: Option<SemVer>, dry_run: bool) -> Result<String> {
    migrate(context, "downgrade", dry_run, false, |history| {
        plan::downgrade(MIGRATIONS, history, target)
    })
}

fn migrate(
    context: &Context,
    command: &str,
    dry_run: bool,
    atomic: bool,
    make_plan: impl for<'a> Fn(&'a [crate::store::Applied]) -> Result<Plan<'a>>,
) -> Result<String> {
    if dry_run {
        let mut store = context.open_read_only()?;
        let history = store.history()?;
        let plan = make_plan(&history)?;
        if atomic {
            plan.fits_one_transaction()?;
        }
        if context.json {
            let json = dry_run_json(&*store, command, &plan);
            return Ok(serde_json::to_string_pretty(&json).expect("serializes") + "\n");
        }
        return Ok(dry_run_text(&*store, command, &plan));
    }
    let mut store = context.open()?;
    // Under the lock from here on: the history read, the plan and the run belong to
    // this process alone, so a second run waits and then finds what this one did.
    store.lock(context.lock_timeout)?;
    recover(&mut *store, MIGRATIONS, &context.data_dir)?;
    let history = store.history()?;
    let plan = make_plan(&history)?;
    if atomic {
        plan.fits_one_transaction()?;
    }
    if plan.items.is_empty() {
        context.say(format!(
            "{}: already at {}, nothing to do",
            store.describe(),
            plan.from
        ));
        write_state(context, &mut *store)?;
        return Ok(String::new());
    }
    if !context.no_backup {
        let files = Staging::new(&context.data_dir);
        let b = backup::write(
            &mut *store,
            &context.anchor()?,
            &plan,
            &files,
            &context.backup_dir,
            SETTINGS.backup_keep,
        )?;
        context.say(format!("backup: {}", b.database.display()));
        if let Some(folder) = &b.files {
            context.say(format!("backup of the CSV files: {}", folder.display()));
        }
    }
    context.say(format!(
        "{command} {}: {} -> {}, {} migration{}",
        store.describe(),
        plan.from,
        plan.to,
        plan.items.len(),
        if plan.items.len() == 1 { "" } else { "s" }
    ));
    let mut report = Report::new(context, &plan);
    let result = if atomic {
        run_atomic(&mut *store, &context.data_dir, &plan, command, &mut report)
    } else {
        run(&mut *store, &context.data_dir, &plan, command, &mut report)
    };
    let state = write_state(context, &mut *store);
    let done = result?;
    state?;
    let at = done.last().map_or(plan.from, |d| d.lands_on);
    context.say(format!("{} is at {at}", store.describe()));
    Ok(String::new())
}

/// Rewrites `migration_state.json` with the store as it now stands.
pub(super) fn write_state(context: &Context, store: &mut dyn Store) -> Result<()> {
    let s = context.status(store)?;
    state_file::write(&state_file::path_for(&context.anchor()?), &s)
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
    },
    Csv {
        csv: &'a str,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        ops: Vec<String>,
    },
}

/// What a SQL validation expects, in words.
fn expected(expect: &Expect) -> String {
    match expect {
        Expect::Empty => "no row".to_owned(),
        Expect::Value(v) => v.to_string(),
    }
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
                .map(|step| match step {
                    Step::Sql(sql) => PlannedStep::Sql {
                        sql: sql.for_engine(engine),
                        expect: None,
                    },
                    Step::Csv(csv) => PlannedStep::Csv {
                        csv: &csv.path,
                        ops: csv.ops.iter().map(describe_op).collect(),
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
                    },
                    Check::Csv(c) => PlannedStep::Csv {
                        csv: &c.path,
                        ops: Vec::new(),
                    },
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
        for step in item.steps {
            match step {
                Step::Sql(sql) => {
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
            }
        }
    }
    out
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

/// Prints each migration as it commits, and a progress bar while a large CSV file
/// streams, on a terminal only.
struct Report<'a> {
    context: &'a Context,
    descriptions: Vec<&'a str>,
    /// The migration the next `done` reports.
    next: usize,
    bar: Option<indicatif::ProgressBar>,
}

/// Files smaller than this stream too fast for a bar to help.
const BAR_FROM: u64 = 8 << 20;

impl<'a> Report<'a> {
    fn new(context: &'a Context, plan: &'a Plan) -> Self {
        Report {
            context,
            descriptions: plan.items.iter().map(|i| i.description).collect(),
            next: 0,
            bar: None,
        }
    }
}

impl Progress for Report<'_> {
    fn step(&mut self, version: SemVer, what: &str, text: &str) {
        if self.context.verbose {
            eprintln!("  -- {version} {what}:\n{}", text.trim_end());
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
        let description = self
            .descriptions
            .get(self.next)
            .copied()
            .unwrap_or_default();
        self.next += 1;
        self.context.say(format!(
            "  {:<8} {:<4} {:>6} ms  {description}",
            d.version.to_string(),
            d.direction.as_str(),
            d.elapsed.as_millis(),
        ));
        for (path, rows, elapsed) in &d.files {
            self.context.say(format!(
                "                  {path}: {rows} rows in {:.3} s",
                elapsed.as_secs_f64()
            ));
        }
    }
}
