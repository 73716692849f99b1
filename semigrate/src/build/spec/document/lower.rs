//! Lowering a parsed spec into `model::Migration`, every problem reported with its
//! position.

use super::*;
use crate::build::diagnostic::Diagnostic;
use crate::build::spec::rust::{Kind, is_path};
use crate::model::{
    Accepted, Check, CsvCheck, CsvOp, CsvStep, Engine, Expect, ExportStep, Function, List,
    LoadStep, Locks, Migration, Scalar, SemVer, Source, SqlText, Step, Text, Timeouts,
};
use std::path::{Component, Path};

/// Where the errors of one file are collected, so that all of them are reported.
struct Report<'a> {
    file: &'a Path,
    source: &'a str,
    /// The migrations folder, where seeds are read from.
    dir: &'a Path,
    errors: Vec<Diagnostic>,
    functions: Vec<Use>,
}

/// A function of the chain crate that the spec names, for the build to find.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Use {
    /// Its path from the crate root.
    pub path: String,
    /// What the spec uses it for.
    pub kind: Kind,
    /// Where the spec names it.
    pub offset: usize,
}

impl Report<'_> {
    /// A function the spec names at `offset`, once its path is well formed.
    fn function<F>(
        &mut self,
        offset: usize,
        what: &str,
        path: &str,
        kind: Kind,
    ) -> Option<Function<F>> {
        if !is_path(path) {
            self.at(
                offset,
                format!("{what}: `{path}` is not a path to a function"),
            )
            .help = Some(
                "name a function of this crate from its root, as in `steps::score_risk`".into(),
            );
            return None;
        }
        self.functions.push(Use {
            path: path.to_owned(),
            kind,
            offset,
        });
        Some(Function {
            path: Text::Owned(path.to_owned()),
            call: None,
        })
    }

    fn at(&mut self, offset: usize, message: impl Into<String>) -> &mut Diagnostic {
        self.errors
            .push(Diagnostic::at(self.file, self.source, offset, message));
        self.errors.last_mut().expect("just pushed")
    }
}

/// A spec read from disk and lowered, with the positions the chain checks point at.
pub struct Parsed {
    /// The migration, lowered for the runtime.
    pub migration: Migration,
    /// Byte offset of the `version` key, or 0 (the file's start).
    pub version_offset: usize,
    /// The functions of the chain crate it names.
    pub functions: Vec<Use>,
}

/// Parses and lowers one spec. `version` comes from the file name; every problem in the
/// file is reported, not only the first.
pub fn parse(
    file: &Path,
    source: &str,
    version: SemVer,
    engines: &[Engine],
) -> Result<Parsed, Vec<Diagnostic>> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let doc: Document = toml::from_str(source).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let mut d = Diagnostic::at(file, source, offset, e.message().trim_end().to_owned());
        d.help = misplaced_key_help(e.message());
        vec![d]
    })?;
    let mut report = Report {
        file,
        source,
        dir,
        errors: Vec::new(),
        functions: Vec::new(),
    };
    let file_name = file
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());

    let mut version_offset = 0;
    if let Some(key) = &doc.version {
        version_offset = key.span().start;
        match SemVer::parse(key.get_ref()) {
            Ok(v) if v == version => {}
            Ok(v) => {
                report
                    .at(
                        key.span().start,
                        format!(
                            "`version = \"{v}\"` disagrees with the file name, which says {version}"
                        ),
                    )
                    .help = Some("make the key and the file name agree, or remove the key".into());
            }
            Err(why) => {
                report.at(key.span().start, why);
            }
        }
    }
    if doc.description.get_ref().trim().is_empty() {
        report.at(
            doc.description.span().start,
            "`description` is empty; say what this migration changes",
        );
    }

    if !doc.transaction && !doc.foreign_keys {
        report.at(0, "`foreign_keys = false` needs `transaction = true`").help = Some(
            "the foreign key check guards the commit; without a transaction there is no commit to guard".into(),
        );
    }
    let up = lower_steps(
        &mut report,
        "up",
        doc.up.as_deref().unwrap_or_default(),
        engines,
    );
    if doc.up.is_none() {
        report.at(0, "`up` has no steps").help =
            Some("add an [[up]] table with `sql = \"...\"`".into());
    }
    let down = match (&doc.down, doc.irreversible) {
        (Some(down), true) => {
            report
                .at(
                    down.span().start,
                    "an `irreversible` migration has no `down`",
                )
                .help = Some("remove `down`, or remove `irreversible = true`".into());
            Vec::new()
        }
        (Some(down), false) => lower_steps(&mut report, "down", down.get_ref(), engines),
        (None, true) => Vec::new(),
        // Every step CSV, or a load or export that can be undone: the down is derived
        // (the column flow adds the CSV part).
        (None, false) if !up.is_empty() && derived_down(&up, doc.destructive).is_some() => {
            derived_down(&up, doc.destructive).unwrap_or_default()
        }
        (None, false) => {
            report.at(0, "no `down`: this migration cannot be reverted").help = Some(
                "add [[down]] steps that undo `up` (`down = []` if there is nothing to undo), or say `irreversible = true`; only CSV steps have a derived down".into(),
            );
            Vec::new()
        }
    };
    if !doc.destructive
        && let Some(Step::Load(l)) = up.iter().find(|s| matches!(s, Step::Load(l) if l.upsert))
    {
        report.at(0, format!("an upsert into {} replaces rows it finds: say `destructive = true`, and write the down", l.table));
    }
    for (key, value) in [
        ("lock_timeout", &doc.lock_timeout),
        ("statement_timeout", &doc.statement_timeout),
    ] {
        if let Some(value) = value
            && !Timeouts::is_duration(value)
        {
            report
                .at(0, format!("`{key} = {value:?}` is not a duration"))
                .help = Some(
                "write a number and a unit PostgreSQL reads: \"500ms\", \"5s\", \"2min\"".into(),
            );
        }
    }
    let accepted = match &doc.locks {
        None => Accepted::None,
        Some(LocksDoc::All(AcceptedWord::Accepted)) => Accepted::All,
        Some(LocksDoc::Tables(tables)) => {
            Accepted::Tables(tables.iter().cloned().map(Text::Owned).collect())
        }
    };
    let validate = doc
        .validate
        .iter()
        .enumerate()
        .filter_map(|(i, check)| lower_check(&mut report, i + 1, check, engines))
        .collect::<Vec<_>>();

    if !report.errors.is_empty() {
        return Err(report.errors);
    }
    let migration = Migration {
        version,
        file: file_name.into(),
        description: doc.description.into_inner().trim().to_owned().into(),
        transaction: doc.transaction,
        foreign_keys: doc.foreign_keys,
        irreversible: doc.irreversible,
        destructive: doc.destructive,
        up: List::Owned(up),
        down: List::Owned(down),
        validate: List::Owned(validate),
        checksum: Text::Borrowed(""),
        timeouts: Timeouts {
            lock: doc.lock_timeout.clone().map(Text::Owned),
            statement: doc.statement_timeout.clone().map(Text::Owned),
        },
        locks: Locks {
            accepted,
            measured: None,
        },
        schema: None,
        schema_postgres: None,
        schema_digest: None,
        origin: doc.origin.clone().map(Text::Owned),
        down_leaves: List::Owned(
            doc.down_leaves
                .iter()
                .map(|l| Text::Owned(l.clone()))
                .collect(),
        ),
        fails_on_rows: doc.fails_on_rows,
    };
    Ok(Parsed {
        migration,
        version_offset,
        functions: report.functions,
    })
}

/// TOML puts every key after `[[up]]` into that table, so `down = []` written below
/// the steps is read as a key of the last step. Say so, since the message alone
/// ("unknown field `down`") points nowhere useful.
fn misplaced_key_help(message: &str) -> Option<String> {
    const TOP_LEVEL: [&str; 15] = [
        "description",
        "fails_on_rows",
        "origin",
        "down_leaves",
        "lock_timeout",
        "statement_timeout",
        "locks",
        "version",
        "transaction",
        "foreign_keys",
        "irreversible",
        "destructive",
        "up",
        "down",
        "validate",
    ];
    let key = message.strip_prefix("unknown field `")?.split('`').next()?;
    TOP_LEVEL.contains(&key).then(|| {
        format!("`{key}` is a top-level key, but here it falls inside the [[...]] table above it; move it before the first [[...]] table")
    })
}

/// Line endings are normalised so that a checkout with CRLF keeps the checksum.
fn normalised(text: &str) -> Text {
    text.replace("\r\n", "\n").into()
}

/// Reads `sql` or `sqlite` / `postgres` and checks there is text for every engine.
fn lower_sql(
    report: &mut Report,
    offset: usize,
    what: &str,
    sql: &Option<String>,
    sqlite: &Option<String>,
    postgres: &Option<String>,
    engines: &[Engine],
) -> Option<SqlText> {
    let text = match (sql, sqlite, postgres) {
        (Some(sql), None, None) => SqlText::portable(normalised(sql)),
        (Some(_), _, _) => {
            report
                .at(offset, format!("{what} gives `sql` and per-engine text"))
                .help = Some(
                "use `sql` for text every engine runs, or `sqlite` / `postgres`, not both".into(),
            );
            return None;
        }
        (None, None, None) => {
            report.at(offset, format!("{what} has no SQL")).help =
                Some("give `sql = \"...\"`, or `sqlite` and `postgres`".into());
            return None;
        }
        (None, sqlite, postgres) => SqlText {
            sqlite: sqlite.as_deref().map(normalised),
            postgres: postgres.as_deref().map(normalised),
        },
    };
    let mut ok = true;
    for &engine in engines {
        match text.for_engine(engine) {
            None => {
                report
                    .at(
                        offset,
                        format!("{what} has no text for {engine}, which this chain targets"),
                    )
                    .help = Some(format!(
                    "add `{engine} = \"...\"`, or `sql` for both engines"
                ));
                ok = false;
            }
            Some(t) if t.trim().is_empty() => {
                report.at(offset, format!("{what} has empty SQL for {engine}"));
                ok = false;
            }
            Some(_) => {}
        }
    }
    ok.then_some(text)
}

fn lower_steps(
    report: &mut Report,
    list: &str,
    steps: &[Spanned<StepDoc>],
    engines: &[Engine],
) -> Vec<Step> {
    steps
        .iter()
        .enumerate()
        .filter_map(|(i, step)| {
            let s = step.get_ref();
            let what = format!("{list} step {}", i + 1);
            let offset = step.span().start;
            if let Some(rust) = &s.rust {
                let others = [
                    s.sql.is_some() || s.file.is_some(),
                    s.sqlite.is_some() || s.sqlite_file.is_some(),
                    s.postgres.is_some() || s.postgres_file.is_some(),
                    s.csv.is_some(),
                    s.ops.is_some(),
                    s.columns.is_some(),
                    s.delimiter.is_some(),
                ];
                if others.contains(&true) {
                    report.at(
                        offset,
                        format!("{what} gives `rust` and other keys; a Rust step is its own step"),
                    );
                    return None;
                }
                let at = rust.span().start;
                return report
                    .function(at, &what, rust.get_ref(), Kind::Step)
                    .map(Step::Rust);
            }
            if s.load.is_some() || s.export.is_some() {
                return lower_data(report, offset, &what, s);
            }
            let data_keys = [
                s.table.is_some(),
                s.null.is_some(),
                s.mode.is_some(),
                s.key.is_some(),
                s.query.is_some(),
            ];
            if data_keys.contains(&true) {
                report.at(
                    offset,
                    format!("{what} has `load` or `export` keys but no `load = \"file\"` or `export = \"file\"`"),
                );
                return None;
            }
            if s.csv.is_some() {
                let files = [&s.file, &s.sqlite_file, &s.postgres_file];
                if s.sql.is_some()
                    || s.sqlite.is_some()
                    || s.postgres.is_some()
                    || files.iter().any(|f| f.is_some())
                {
                    report.at(
                        offset,
                        format!("{what} gives both `csv` and SQL; make them two steps"),
                    );
                    return None;
                }
                return lower_csv(report, offset, &what, s).map(Step::Csv);
            }
            if s.ops.is_some() || s.columns.is_some() || s.delimiter.is_some() {
                report.at(
                    offset,
                    format!("{what} has CSV keys but no `csv = \"file\"`"),
                );
                return None;
            }
            let [sql, sqlite, postgres] = sql_files(report, offset, &what, s)?;
            lower_sql(report, offset, &what, &sql, &sqlite, &postgres, engines).map(Step::Sql)
        })
        .collect()
}

/// A `load` (a CSV file into a table) or an `export` (a query into a CSV file).
fn lower_data(report: &mut Report, offset: usize, what: &str, s: &StepDoc) -> Option<Step> {
    let others = [
        s.sql.is_some() || s.sqlite.is_some() || s.postgres.is_some(),
        s.file.is_some() || s.sqlite_file.is_some() || s.postgres_file.is_some(),
        s.csv.is_some() || s.ops.is_some(),
        s.rust.is_some(),
        s.load.is_some() && s.export.is_some(),
    ];
    if others.contains(&true) {
        report.at(
            offset,
            format!("{what}: a `load` or an `export` is a step of its own"),
        );
        return None;
    }
    let delimiter = delimiter(report, offset, what, &s.delimiter)?;
    if let Some(path) = &s.load {
        let path = data_path(report, offset, what, path)?;
        let Some(table) = &s.table else {
            report.at(offset, format!("{what}: `load` needs the `table` it loads"));
            return None;
        };
        let columns = match &s.columns {
            None => Vec::new(),
            Some(Columns::Map(map)) => map
                .iter()
                .map(|(a, b)| (Text::Owned(a.clone()), Text::Owned(b.clone())))
                .collect(),
            Some(Columns::List(_)) => {
                report.at(offset, format!("{what}: a load's `columns` maps CSV columns to table columns: {{ \"CSV header\" = \"table_column\" }}"));
                return None;
            }
        };
        let upsert = s.mode == Some(LoadMode::Upsert);
        let key = s.key.as_deref().map(texts).unwrap_or_default();
        if upsert && key.is_empty() {
            report.at(
                offset,
                format!("{what}: `mode = \"upsert\"` needs the `key` that finds a row"),
            );
            return None;
        }
        if s.query.is_some() {
            report.at(offset, format!("{what}: `query` is for an `export`"));
            return None;
        }
        return Some(Step::Load(LoadStep {
            path,
            delimiter,
            table: Text::Owned(table.clone()),
            columns: List::Owned(columns),
            null: s.null.clone().map(Text::Owned),
            upsert,
            key,
        }));
    }
    let path = data_path(
        report,
        offset,
        what,
        s.export.as_deref().unwrap_or_default(),
    )?;
    if s.columns.is_some() || s.null.is_some() || s.mode.is_some() || s.key.is_some() {
        report.at(
            offset,
            format!("{what}: `columns`, `null`, `mode` and `key` are for a `load`"),
        );
        return None;
    }
    let query = match (&s.query, &s.table) {
        (Some(query), None) => normalised(query),
        (None, Some(table)) => Text::Owned(format!(
            "SELECT * FROM {}",
            crate::data::load::quoted(table)
        )),
        _ => {
            report.at(
                offset,
                format!("{what}: `export` takes a `query`, or a `table`"),
            );
            return None;
        }
    };
    Some(Step::Export(ExportStep {
        path,
        delimiter,
        query: SqlText::portable(query),
    }))
}

/// The down that `up` derives, when it is made of steps that can be undone: CSV steps
/// (whose inverses the column flow adds), loads with a `key` (unloaded by it), and
/// exports of a file that did not exist (deleted). None when a step cannot.
fn derived_down(up: &[Step], destructive: bool) -> Option<Vec<Step>> {
    let mut down = Vec::new();
    for step in up.iter().rev() {
        match step {
            Step::Csv(_) => {}
            Step::Load(l) if !l.upsert && !l.key.is_empty() => down.push(Step::Unload(l.clone())),
            Step::Export(e) if !destructive => down.push(Step::Csv(CsvStep {
                path: e.path.clone(),
                delimiter: e.delimiter,
                header: List::Owned(Vec::new()),
                ops: List::Owned(vec![CsvOp::Delete]),
            })),
            _ => return None,
        }
    }
    Some(down)
}

/// A step's SQL, each engine's inline or read from the file it names (relative to the
/// migrations folder, and inside it): a key and its file together are an error.
fn sql_files(
    report: &mut Report,
    offset: usize,
    what: &str,
    s: &StepDoc,
) -> Option<[Option<String>; 3]> {
    let mut texts = [s.sql.clone(), s.sqlite.clone(), s.postgres.clone()];
    let files = [&s.file, &s.sqlite_file, &s.postgres_file];
    let keys = [
        ("sql", "file"),
        ("sqlite", "sqlite_file"),
        ("postgres", "postgres_file"),
    ];
    let mut ok = true;
    for ((text, file), (inline, key)) in texts.iter_mut().zip(files).zip(keys) {
        let Some(file) = file else { continue };
        if text.is_some() {
            report.at(
                offset,
                format!("{what} gives both `{inline}` and `{key}`; keep one"),
            );
            ok = false;
            continue;
        }
        let inside = !file.is_empty()
            && Path::new(file)
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !inside {
            report.at(
                offset,
                format!("{what}: `{key} = {file:?}` must be a path inside the migrations folder"),
            );
            ok = false;
            continue;
        }
        let path = report.dir.join(file);
        match std::fs::read_to_string(&path) {
            Ok(read) => *text = Some(read),
            Err(e) => {
                report.at(
                    offset,
                    format!("{what}: cannot read {}: {e}", path.display()),
                );
                ok = false;
            }
        }
    }
    ok.then_some(texts)
}

/// A CSV path: relative to the data folder, and staying inside it.
fn data_path(report: &mut Report, offset: usize, what: &str, path: &str) -> Option<Text> {
    let p = Path::new(path);
    let inside = !path.is_empty()
        && p.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !inside {
        report
            .at(
                offset,
                format!("{what}: the CSV path `{path}` leaves the data folder"),
            )
            .help = Some("CSV paths are relative to data_dir: no leading `/`, no `..`".into());
        return None;
    }
    Some(Text::Owned(path.to_owned()))
}

fn delimiter(report: &mut Report, offset: usize, what: &str, given: &Option<String>) -> Option<u8> {
    match given.as_deref() {
        None => Some(b','),
        Some(d) if d.len() == 1 && d.is_ascii() && !matches!(d, "\"" | "\n" | "\r") => {
            Some(d.as_bytes()[0])
        }
        Some(d) => {
            report.at(offset, format!("{what}: `delimiter = {d:?}` must be one ASCII character other than a quote or a line break"));
            None
        }
    }
}

fn texts(list: &[String]) -> List<Text> {
    List::Owned(list.iter().map(|c| Text::Owned(c.clone())).collect())
}

fn lower_csv(report: &mut Report, offset: usize, what: &str, s: &StepDoc) -> Option<CsvStep> {
    let path = data_path(report, offset, what, s.csv.as_deref().unwrap_or_default());
    let delimiter = delimiter(report, offset, what, &s.delimiter);
    let ops_doc = s.ops.as_deref().unwrap_or_default();
    if ops_doc.is_empty() {
        report.at(offset, format!("{what} has no `ops`")).help =
            Some("add [[up.ops]] tables, e.g. op = \"rename\", from = \"a\", to = \"b\"".into());
    }
    let mut ops = Vec::with_capacity(ops_doc.len());
    for (n, op) in ops_doc.iter().enumerate() {
        let at = op.span().start;
        let what = format!("{what} op {}", n + 1);
        if let Some(op) = lower_op(
            report,
            at,
            &what,
            n,
            op.get_ref(),
            delimiter.unwrap_or(b','),
        ) {
            ops.push(op);
        }
    }
    if ops.len() != ops_doc.len() {
        return None;
    }
    Some(CsvStep {
        path: path?,
        delimiter: delimiter?,
        header: match &s.columns {
            None => List::Owned(Vec::new()),
            Some(Columns::List(header)) => texts(header),
            Some(Columns::Map(_)) => {
                report.at(
                    offset,
                    format!("{what}: a CSV step's `columns` is the header before it, a list"),
                );
                return None;
            }
        },
        ops: List::Owned(ops),
    })
}

fn lower_op(
    report: &mut Report,
    at: usize,
    what: &str,
    n: usize,
    op: &OpDoc,
    delimiter: u8,
) -> Option<CsvOp> {
    let t = |s: &String| Text::Owned(s.clone());
    Some(match op {
        OpDoc::Create { columns, seed } => {
            if n != 0 {
                report.at(
                    at,
                    format!("{what}: `create` must be the first op of its step"),
                );
                return None;
            }
            let seed = match seed {
                Some(seed) => Some(read_seed(
                    report,
                    at,
                    what,
                    seed,
                    columns.as_deref(),
                    delimiter,
                )?),
                None => None,
            };
            let columns = match (columns, &seed) {
                (Some(c), _) => texts(c),
                (None, Some((header, _))) => texts(header),
                (None, None) => {
                    report.at(at, format!("{what}: `create` needs `columns` or a `seed`"));
                    return None;
                }
            };
            CsvOp::Create {
                columns,
                seed: seed.map(|(_, bytes)| std::borrow::Cow::Owned(bytes)),
            }
        }
        OpDoc::Delete {} => CsvOp::Delete,
        OpDoc::Rename { from, to } => CsvOp::Rename {
            from: t(from),
            to: t(to),
        },
        OpDoc::Add {
            column,
            value,
            copy,
            template,
        } => {
            let value = match (value, copy, template) {
                (Some(v), None, None) => Source::Value(t(v)),
                (None, Some(c), None) => Source::Copy(t(c)),
                (None, None, Some(p)) => {
                    if let Err(e) = crate::data::flow::template(p) {
                        report.at(at, format!("{what}: {e}"));
                        return None;
                    }
                    Source::Template(t(p))
                }
                _ => {
                    report.at(
                        at,
                        format!("{what}: `add` takes exactly one of `value`, `copy` or `template`"),
                    );
                    return None;
                }
            };
            CsvOp::Add {
                column: t(column),
                value,
            }
        }
        OpDoc::Drop { column } => CsvOp::Drop { column: t(column) },
        OpDoc::Map {
            column,
            values,
            default,
        } => CsvOp::Map {
            column: t(column),
            values: List::Owned(values.iter().map(|(a, b)| (t(a), t(b))).collect()),
            default: default.as_ref().map(t),
        },
        OpDoc::Convert { column, to } => CsvOp::Convert {
            column: t(column),
            to: *to,
        },
        OpDoc::Reorder { columns } => CsvOp::Reorder {
            columns: texts(columns),
        },
        OpDoc::Fill { column, value } => CsvOp::Fill {
            column: t(column),
            value: t(value),
        },
        OpDoc::Replace {
            column,
            from,
            pattern,
            to,
        } => {
            let (from, is_pattern) = match (from, pattern) {
                (Some(from), None) if !from.is_empty() => (from, false),
                (None, Some(pattern)) => {
                    if let Err(e) = regex::Regex::new(pattern) {
                        report.at(
                            at,
                            format!("{what}: `{pattern}` is not a regular expression: {e}"),
                        );
                        return None;
                    }
                    (pattern, true)
                }
                _ => {
                    report.at(
                        at,
                        format!(
                            "{what}: `replace` takes a non-empty `from` or a `pattern`, not both"
                        ),
                    );
                    return None;
                }
            };
            CsvOp::Replace {
                column: t(column),
                from: t(from),
                to: t(to),
                pattern: is_pattern,
            }
        }
        OpDoc::Split {
            column,
            separator,
            into,
        } => CsvOp::Split {
            column: t(column),
            separator: t(separator),
            into: texts(into),
        },
        OpDoc::Join {
            columns,
            separator,
            into,
        } => CsvOp::Join {
            columns: texts(columns),
            separator: t(separator),
            into: t(into),
        },
        OpDoc::Filter {
            column,
            values,
            pattern,
        } => {
            if values.is_none() && pattern.is_none() {
                report.at(
                    at,
                    format!("{what}: `filter` needs `values` or a `pattern` to keep"),
                );
                return None;
            }
            if let Some(pattern) = pattern
                && let Err(why) = crate::data::check::whole(pattern)
            {
                report.at(at, format!("{what}: {why}"));
                return None;
            }
            CsvOp::Filter {
                column: t(column),
                values: values.as_deref().map(texts).unwrap_or_default(),
                pattern: pattern.as_ref().map(t),
            }
        }
        OpDoc::Apply {
            column,
            function,
            inverse,
        } => {
            let function = report.function(at, what, function, Kind::Apply);
            let inverse = match inverse {
                Some(inverse) => Some(report.function(at, what, inverse, Kind::Apply)?),
                None => None,
            };
            CsvOp::Apply {
                column: t(column),
                function: function?,
                inverse,
            }
        }
    })
}

/// Reads a seed CSV (relative to the migrations folder) to embed it: its header must
/// agree with `columns` when both are given, and every row must have as many fields.
fn read_seed(
    report: &mut Report,
    at: usize,
    what: &str,
    seed: &str,
    columns: Option<&[String]>,
    delimiter: u8,
) -> Option<(Vec<String>, Vec<u8>)> {
    let inside = Path::new(seed)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !inside || seed.is_empty() {
        report.at(
            at,
            format!("{what}: the seed `{seed}` must be a path inside the migrations folder"),
        );
        return None;
    }
    let path = report.dir.join(seed);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            report.at(
                at,
                format!("{what}: cannot read the seed {}: {e}", path.display()),
            );
            return None;
        }
    };
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .from_reader(bytes.as_slice());
    let mut header = Vec::new();
    let mut record = ::csv::StringRecord::new();
    let mut first = true;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) if first => {
                header = record.iter().map(str::to_owned).collect();
                first = false;
            }
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                report.at(
                    at,
                    format!(
                        "{what}: the seed {} is malformed at line {line}: {e}",
                        path.display()
                    ),
                );
                return None;
            }
        }
    }
    if let Some(columns) = columns.filter(|c| *c != header.as_slice()) {
        report.at(
            at,
            format!(
                "{what}: the seed's header is {}, but `columns` says {}",
                header.join(", "),
                columns.join(", ")
            ),
        );
        return None;
    }
    Some((header, bytes))
}

fn lower_check(
    report: &mut Report,
    number: usize,
    check: &Spanned<CheckDoc>,
    engines: &[Engine],
) -> Option<Check> {
    let offset = check.span().start;
    let c = check.get_ref();
    let what = format!("validation {number}");
    if let Some(rust) = &c.rust {
        let others = [
            c.sql.is_some(),
            c.sqlite.is_some(),
            c.postgres.is_some(),
            c.csv.is_some(),
            c.expect.is_some(),
            c.expect_empty.is_some(),
        ];
        if others.contains(&true) {
            report.at(
                offset,
                format!("{what} gives `rust` and other keys; a Rust check is its own check"),
            );
            return None;
        }
        let at = rust.span().start;
        return report
            .function(at, &what, rust.get_ref(), Kind::Step)
            .map(Check::Rust);
    }
    if let Some(path) = &c.csv {
        return lower_csv_check(report, offset, &what, path, c);
    }
    let sql = lower_sql(
        report,
        offset,
        &what,
        &c.sql,
        &c.sqlite,
        &c.postgres,
        engines,
    );
    let expect = match (&c.expect, c.expect_empty) {
        (Some(value), None | Some(false)) => match scalar(value) {
            Some(s) => Some(Expect::Value(s)),
            None => {
                report.at(
                    offset,
                    format!("{what}: `expect` must be a string, a finite number or a boolean"),
                );
                None
            }
        },
        (None, Some(true)) => Some(Expect::Empty),
        (Some(_), Some(true)) => {
            report.at(
                offset,
                format!("{what} gives both `expect` and `expect_empty`"),
            );
            None
        }
        (None, _) => {
            report
                .at(offset, format!("{what} says nothing to expect"))
                .help = Some("add `expect = <value>` or `expect_empty = true`".into());
            None
        }
    };
    Some(Check::Sql {
        sql: sql?,
        expect: expect?,
    })
}

fn lower_csv_check(
    report: &mut Report,
    offset: usize,
    what: &str,
    path: &str,
    c: &CheckDoc,
) -> Option<Check> {
    if c.sql.is_some()
        || c.sqlite.is_some()
        || c.postgres.is_some()
        || c.expect.is_some()
        || c.expect_empty.is_some()
    {
        report.at(
            offset,
            format!("{what} gives both `csv` and SQL; make them two validations"),
        );
        return None;
    }
    let (unique, unique_together) = match &c.unique {
        None => (None, Vec::new()),
        Some(OneOrMany::One(column)) => (Some(column.clone()), Vec::new()),
        Some(OneOrMany::Many(columns)) if columns.len() == 1 => {
            (Some(columns[0].clone()), Vec::new())
        }
        Some(OneOrMany::Many(columns)) => (None, columns.clone()),
    };
    if let Some(m) = &c.matches
        && let Err(why) = crate::data::check::whole(&m.pattern)
    {
        report.at(offset, format!("{what}: `matches`: {why}"));
        return None;
    }
    let check = CsvCheck {
        path: data_path(report, offset, what, path)?,
        delimiter: delimiter(report, offset, what, &c.delimiter)?,
        columns: c.columns.as_deref().map(texts),
        columns_include: c.columns_include.as_deref().map(texts).unwrap_or_default(),
        not_empty: c.not_empty.unwrap_or(false),
        unique: unique.map(Text::Owned),
        values_in: c
            .values_in
            .as_ref()
            .map(|v| (Text::Owned(v.column.clone()), texts(&v.values))),
        not_null: c.not_null.as_deref().map(texts).unwrap_or_default(),
        unique_together: texts(&unique_together),
        matches: c.matches.as_ref().map(|m| {
            (
                Text::Owned(m.column.clone()),
                Text::Owned(m.pattern.clone()),
            )
        }),
        rows: c.rows,
        rows_match: c
            .rows_match
            .as_ref()
            .map(|sql| SqlText::portable(normalised(sql))),
    };
    let says_something = check.columns.is_some()
        || !check.columns_include.is_empty()
        || check.not_empty
        || check.unique.is_some()
        || check.values_in.is_some()
        || !check.not_null.is_empty()
        || !check.unique_together.is_empty()
        || check.matches.is_some()
        || check.rows.is_some()
        || check.rows_match.is_some();
    if !says_something {
        report.at(offset, format!("{what} checks nothing")).help = Some(
            "add `columns`, `columns_include`, `not_empty`, `not_null`, `unique`, `values_in`, \
             `matches`, `rows` or `rows_match`"
                .into(),
        );
        return None;
    }
    Some(Check::Csv(check))
}

fn scalar(value: &toml::Value) -> Option<Scalar> {
    Some(match value {
        toml::Value::Integer(i) => Scalar::Integer(*i),
        // A query never returns NaN or an infinity as one (SQLite stores NaN as NULL).
        toml::Value::Float(x) if x.is_finite() => Scalar::Float(*x),
        toml::Value::String(s) => Scalar::Text(s.clone().into()),
        toml::Value::Boolean(b) => Scalar::Bool(*b),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: SemVer = SemVer::new(1, 1, 0);

    fn parse_ok(source: &str) -> Migration {
        match parse(Path::new("v1_1_0.toml"), source, V, &[Engine::Sqlite]) {
            Ok(p) => {
                let mut m = p.migration;
                m.checksum = crate::build::spec::checksum::of(&m, &Default::default()).into();
                m
            }
            Err(e) => panic!("{e:?}"),
        }
    }

    fn errors(source: &str) -> Vec<String> {
        match parse(Path::new("v1_1_0.toml"), source, V, &[Engine::Sqlite]) {
            Ok(_) => panic!("parsed"),
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    const SPEC: &str = r#"
description = "Add risk"
[[up]]
sql = "ALTER TABLE t ADD COLUMN risk REAL;"
[[down]]
sql = "ALTER TABLE t DROP COLUMN risk;"
[[validate]]
sql = "SELECT count(*) FROM t"
expect = 1
"#;

    #[test]
    fn the_checksum_ignores_layout_and_comments() {
        let relaid = r#"
# a comment that means nothing
description   =   "Add risk, said differently"   # the description is documentation
[[up]]
    sql = 'ALTER TABLE t ADD COLUMN risk REAL;'
[[down]]
    sql = "ALTER TABLE t DROP COLUMN risk;"

[[validate]]
    expect = 1
    sql = "SELECT count(*) FROM t"
"#;
        assert_eq!(parse_ok(SPEC).checksum, parse_ok(relaid).checksum);
        assert_eq!(parse_ok(SPEC).checksum.len(), 64);
    }

    #[test]
    fn the_checksum_follows_what_runs() {
        let base = parse_ok(SPEC).checksum;
        for changed in [
            SPEC.replace("risk REAL", "risk INTEGER"),
            SPEC.replace("expect = 1", "expect = 2"),
            format!(
                "down = []\n{}",
                SPEC.replace("[[down]]\nsql = \"ALTER TABLE t DROP COLUMN risk;\"", "")
            ),
            format!("transaction = false\n{SPEC}"),
            format!("destructive = true\n{SPEC}"),
        ] {
            assert_ne!(parse_ok(&changed).checksum, base, "{changed}");
        }
    }

    #[test]
    fn expect_takes_finite_numbers_only() {
        for value in ["nan", "inf", "-inf"] {
            let e = errors(&SPEC.replace("expect = 1", &format!("expect = {value}")));
            assert_eq!(e.len(), 1, "{e:?}");
            assert!(
                e[0].contains("`expect` must be a string, a finite number"),
                "{}",
                e[0]
            );
        }
        assert!(matches!(
            &parse_ok(&SPEC.replace("expect = 1", "expect = 0.1")).validate[0],
            Check::Sql { expect: Expect::Value(Scalar::Float(x)), .. } if *x == 0.1
        ));
    }

    #[test]
    fn crlf_line_endings_keep_the_checksum() {
        let multi = "description = \"x\"\ndown = []\n[[up]]\nsql = \"\"\"\nCREATE TABLE t (a);\nCREATE INDEX i ON t(a);\n\"\"\"\n";
        let crlf = multi.replace('\n', "\r\n");
        assert_eq!(parse_ok(multi).checksum, parse_ok(&crlf).checksum);
    }

    #[test]
    fn unknown_keys_name_the_line_and_column() {
        let e = errors("description = \"x\"\n[[up]]\nsql = \"SELECT 1\"\nsqll = \"x\"\n");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("v1_1_0.toml:4:1: unknown field `sqll`"),
            "{}",
            e[0]
        );
    }

    #[test]
    fn a_top_level_key_inside_a_step_gets_a_hint() {
        let e = parse(
            Path::new("v.toml"),
            "description = \"x\"\n[[up]]\nsql = \"SELECT 1\"\ndown = []\n",
            V,
            &[Engine::Sqlite],
        )
        .err()
        .unwrap();
        assert_eq!(e[0].line, 4);
        assert!(
            e[0].help
                .as_deref()
                .unwrap()
                .contains("move it before the first [[...]] table"),
            "{e:?}"
        );
    }

    #[test]
    fn the_version_key_must_agree_with_the_file_name() {
        let e = errors(&format!("version = \"1.2.0\"\n{SPEC}"));
        assert!(
            e[0].contains("disagrees with the file name, which says 1.1.0"),
            "{e:?}"
        );
        assert!(e[0].starts_with("v1_1_0.toml:1:"), "{e:?}");
        assert!(errors(&format!("version = \"1.1.0-rc.1\"\n{SPEC}"))[0].contains("pre-release"));
        assert_eq!(parse_ok(&format!("version = \"1.1.0\"\n{SPEC}")).version, V);
    }

    #[test]
    fn a_down_is_required_unless_irreversible() {
        let no_down = "description = \"x\"\n[[up]]\nsql = \"DROP TABLE t;\"\n";
        assert!(errors(no_down)[0].contains("no `down`"));
        let m = parse_ok(&format!("irreversible = true\n{no_down}"));
        assert!(m.irreversible && m.down.is_empty());
        let both = format!("irreversible = true\n{SPEC}");
        assert!(
            errors(&both)
                .iter()
                .any(|e| e.contains("an `irreversible` migration has no `down`"))
        );
    }

    #[test]
    fn independent_errors_are_all_reported() {
        let bad = "description = \"\"\n[[up]]\nsqlite = \"SELECT 1\"\nsql = \"SELECT 2\"\n[[validate]]\nsql = \"SELECT 1\"\n";
        let e = errors(bad);
        assert!(
            e.iter().any(|e| e.contains("`description` is empty")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|e| e.contains("up step 1 gives `sql` and per-engine text")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|e| e.contains("validation 1 says nothing to expect")),
            "{e:?}"
        );
        assert!(e.iter().any(|e| e.contains("no `down`")), "{e:?}");
    }

    #[test]
    fn every_targeted_engine_needs_text() {
        let spec = "description = \"x\"\ndown = []\n[[up]]\nsqlite = \"SELECT 1\"\n";
        let e = parse(
            Path::new("v.toml"),
            spec,
            V,
            &[Engine::Sqlite, Engine::Postgres],
        )
        .err()
        .unwrap();
        assert!(
            e[0].message.contains("up step 1 has no text for postgres"),
            "{e:?}"
        );
        assert!(parse(Path::new("v.toml"), spec, V, &[Engine::Sqlite]).is_ok());
    }

    /// `locks` takes "accepted" or a list of tables, outside the checksum; any other
    /// word or type is refused at its line.
    #[test]
    fn locks_accepts_all_or_tables_and_leaves_the_checksum_alone() {
        let with = |locks: &str| SPEC.replacen("\n[[up]]", &format!("\n{locks}\n[[up]]"), 1);
        let plain = parse_ok(SPEC);
        let all = parse_ok(&with("locks = \"accepted\""));
        assert_eq!(all.locks.accepted, Accepted::All);
        let listed = parse_ok(&with("locks = [\"t\", \"u\"]"));
        assert!(listed.locks.accepted.covers("T") && !listed.locks.accepted.covers("v"));
        assert_eq!(plain.locks.accepted, Accepted::None);
        assert!(!plain.locks.accepted.covers("t"));
        assert_eq!(
            (&all.checksum, &listed.checksum),
            (&plain.checksum, &plain.checksum)
        );
        let word = errors(&with("locks = \"yes\""));
        assert!(
            word[0].contains("v1_1_0.toml") && word[0].contains("\"accepted\""),
            "{word:?}"
        );
        let number = errors(&with("locks = 5"));
        assert!(
            number[0].contains("v1_1_0.toml:3") && number[0].contains("a list of tables"),
            "{number:?}"
        );
    }
}
