//! The TOML of one spec, as serde reads it, and its lowering into `model::Migration`.
//!
//! Keys are checked strictly (`deny_unknown_fields`); positions are kept with
//! `toml::Spanned` wherever a later check needs to point at a key.

use crate::diagnostic::Diagnostic;
use crate::model::{Check, Engine, Expect, List, Migration, Scalar, SemVer, SqlText, Step, Text};
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    description: Spanned<String>,
    version: Option<Spanned<String>>,
    #[serde(default = "yes")]
    transaction: bool,
    #[serde(default = "yes")]
    foreign_keys: bool,
    #[serde(default)]
    irreversible: bool,
    #[serde(default)]
    destructive: bool,
    #[serde(default)]
    up: Vec<Spanned<StepDoc>>,
    down: Option<Spanned<Vec<Spanned<StepDoc>>>>,
    #[serde(default)]
    validate: Vec<Spanned<CheckDoc>>,
}

/// A step: `sql`, or per-engine `sqlite` / `postgres`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepDoc {
    sql: Option<String>,
    sqlite: Option<String>,
    postgres: Option<String>,
}

/// A validation: a SQL query and what it must return.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckDoc {
    sql: Option<String>,
    sqlite: Option<String>,
    postgres: Option<String>,
    expect: Option<toml::Value>,
    expect_empty: Option<bool>,
}

/// Where the errors of one file are collected, so that all of them are reported.
struct Report<'a> {
    file: &'a Path,
    source: &'a str,
    errors: Vec<Diagnostic>,
}

impl Report<'_> {
    fn at(&mut self, offset: usize, message: impl Into<String>) -> &mut Diagnostic {
        self.errors
            .push(Diagnostic::at(self.file, self.source, offset, message));
        self.errors.last_mut().expect("just pushed")
    }
}

/// A spec read from disk and lowered, with the positions the chain checks point at.
pub struct Parsed {
    pub migration: Migration,
    /// Byte offset of the `version` key, or 0 (the file's start).
    pub version_offset: usize,
}

/// Parses and lowers one spec. `version` comes from the file name; every problem in the
/// file is reported, not only the first.
pub fn parse(
    file: &Path,
    source: &str,
    version: SemVer,
    engines: &[Engine],
) -> Result<Parsed, Vec<Diagnostic>> {
    let doc: Document = toml::from_str(source).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        vec![Diagnostic::at(
            file,
            source,
            offset,
            e.message().trim_end().to_owned(),
        )]
    })?;
    let mut report = Report {
        file,
        source,
        errors: Vec::new(),
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
    let up = lower_steps(&mut report, "up", &doc.up, engines);
    if doc.up.is_empty() {
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
        (None, false) => {
            report.at(0, "no `down`: this migration cannot be reverted").help = Some(
                "add [[down]] steps that undo `up` (`down = []` if there is nothing to undo), or say `irreversible = true`".into(),
            );
            Vec::new()
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
    let mut migration = Migration {
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
    };
    migration.checksum = super::checksum::of(&migration).into();
    Ok(Parsed {
        migration,
        version_offset,
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
            lower_sql(
                report,
                step.span().start,
                &what,
                &s.sql,
                &s.sqlite,
                &s.postgres,
                engines,
            )
            .map(Step::Sql)
        })
        .collect()
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
                    format!("{what}: `expect` must be a string, a number or a boolean"),
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

fn scalar(value: &toml::Value) -> Option<Scalar> {
    Some(match value {
        toml::Value::Integer(i) => Scalar::Integer(*i),
        toml::Value::Float(x) => Scalar::Float(*x),
        toml::Value::String(s) => Scalar::Text(s.clone().into()),
        toml::Value::Boolean(b) => Scalar::Bool(*b),
        _ => return None,
    })
}
