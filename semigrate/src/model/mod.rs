//! The migration table as the runtime sees it: plain data, no TOML.
//!
//! Every text and list is a `Cow<'static, _>` so that one set of types serves the
//! build script (owned data lowered from the specs), the generated table and a store
//! that is ahead of the binary (both deserialized), and tests (literals).

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

mod history;
mod locks;
mod table;

pub use crate::version::SemVer;
pub use history::{DownSteps, Revert};
pub use locks::{Accepted, Held, Locks};
pub use table::{Functions, Index, Listing, Summary, Table, Texts};

/// Text that is either compiled in or owned.
pub type Text = Cow<'static, str>;
/// A list that is either compiled in or owned.
pub type List<T> = Cow<'static, [T]>;

/// The database engines a SQL step can carry text for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// SQLite, through rusqlite.
    Sqlite,
    /// PostgreSQL, through the postgres crate.
    Postgres,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        })
    }
}

/// The settings of `[package.metadata.semigrate]` compiled into the binary; flags and
/// environment variables override them at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The spec folder, relative to the manifest: where `new` writes in a source tree.
    pub migrations: &'static str,
    /// The default store: a SQLite path, relative to the working directory.
    pub database: &'static str,
    /// The folder CSV paths are relative to.
    pub data_dir: &'static str,
    /// Where backups go.
    pub backup_dir: &'static str,
    /// How many backups of a store to keep.
    pub backup_keep: usize,
    /// PostgreSQL: the lock timeout of a migration that gives none.
    pub lock_timeout: Option<&'static str>,
    /// PostgreSQL: the statement timeout of a migration that gives none.
    pub statement_timeout: Option<&'static str>,
    /// PostgreSQL: how many times a migration that timed out waiting for a lock is
    /// tried again.
    pub lock_retries: u32,
    /// Objects of the live schema that the chain does not own (`ix_hotfix_*`): never
    /// reported as differing from the compiled schema.
    pub ignore_objects: &'static [&'static str],
    /// The stores `--fleet` runs over when given no file, as the lines of a fleet
    /// file (`[package.metadata.semigrate.fleet]`).
    pub fleet: &'static [&'static str],
}

/// A chain as a chain crate's build compiled it: what its binary's command line and a
/// [`Migrator`](crate::Migrator) need. The generated table defines one, `CHAIN`.
#[derive(Clone, Copy, Debug)]
pub struct Chain {
    /// The chain crate's binary name, shown in `--help`, completions and the man page.
    pub name: &'static str,
    /// The chain crate's package name, for `--version`.
    pub package: &'static str,
    /// The chain crate's version, for `--version`.
    pub version: &'static str,
    /// The migrations, oldest first.
    pub migrations: &'static Table,
    /// The settings of its `[package.metadata.semigrate]`.
    pub settings: Settings,
}

impl Chain {
    /// The migration of version `v`, if this chain has one.
    pub fn get(&self, v: SemVer) -> Option<&'static Migration> {
        self.migrations.iter().find(|m| m.version == v)
    }

    /// The newest version of the chain; 0.0.0 for an empty one.
    pub fn latest(&self) -> SemVer {
        self.migrations
            .versions()
            .last()
            .copied()
            .unwrap_or(SemVer::ZERO)
    }
}

/// One migration, as compiled in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Migration {
    /// The version the migration brings the store to.
    pub version: SemVer,
    /// The spec's file name, for messages (`v1_1_0__risk_score.toml`).
    pub file: Text,
    /// What it changes, and why.
    pub description: Text,
    /// Run the steps, validations and history row in one transaction.
    pub transaction: bool,
    /// SQLite foreign-key enforcement during this migration.
    pub foreign_keys: bool,
    /// No down: a downgrade across this version is refused.
    pub irreversible: bool,
    /// The up removes a table, a column or CSV data, and says so.
    pub destructive: bool,
    /// The steps that bring the store to this version.
    pub up: List<Step>,
    /// Written in the spec or derived from `up`; empty when `irreversible`.
    pub down: List<Step>,
    /// Checks that hold whenever the store is at this version.
    pub validate: List<Check>,
    /// SHA-256 (hex) of what the migration does; see `spec::checksum`.
    pub checksum: Text,
    /// PostgreSQL's lock and statement timeouts for this migration; how long it may
    /// wait is not part of what it does, so not of its checksum.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// PostgreSQL: the locks the build measured its steps take, and those the spec
    /// accepts; like the timeouts, not part of what it does.
    #[serde(default)]
    pub locks: Locks,
    /// SQLite: the objects its up created, redefined or removed, as the build's replay
    /// saw them; with the migrations before it, the schema its version must have.
    /// None: the build did not replay the chain on SQLite.
    #[serde(default)]
    pub schema: Option<List<SchemaObject>>,
    /// PostgreSQL: the same, from the catalog of the build's replay on a server
    /// (`SEMIGRATE_VERIFY_POSTGRES_URL`); None without one.
    #[serde(default)]
    pub schema_postgres: Option<List<SchemaObject>>,
    /// SQLite: a digest of the whole schema after its up, as the store keeps it
    /// (`verify::schema::digest`): a store whose own digest is this one is as
    /// compiled, without building either schema.
    #[serde(default)]
    pub schema_digest: Option<u64>,
    /// Where the migration was imported from, as `TOOL:ID`
    /// (`diesel:2019-02-26-002946_create_user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Text>,
    /// What its down is known not to restore, in the words the proof prints (`column
    /// users.bio`, `default of checks.kind`): the debt of a chain that came from
    /// another tool, acknowledged so that the build passes for exactly that.
    #[serde(default, skip_serializing_if = "<[Text]>::is_empty")]
    pub down_leaves: List<Text>,
    /// PostgreSQL: its up fails on tables that hold rows (it ran when they were
    /// empty), and says so: the build's replay empties the tables it seeded and runs it
    /// again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fails_on_rows: bool,
}

/// An object of the schema (a table, an index, a view or a trigger) as a migration's up
/// left it: stored once per change, not once per version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaObject {
    /// Its name.
    pub name: Text,
    /// `table`, `index`, `view` or `trigger`.
    pub kind: Text,
    /// Its definition as SQLite stores it; None when the up removed it.
    pub sql: Option<Text>,
}

/// PostgreSQL timeouts, as PostgreSQL reads them (`"2s"`, `"500ms"`); None: the
/// configuration's default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    /// How long a statement may wait for a lock (`lock_timeout`).
    pub lock: Option<Text>,
    /// How long a statement may run (`statement_timeout`).
    pub statement: Option<Text>,
}

impl Timeouts {
    /// Whether `text` is a duration as PostgreSQL's settings read it: a number and a
    /// unit (`500ms`, `2s`, `1min`).
    pub fn is_duration(text: &str) -> bool {
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && matches!(&text[digits..], "" | "us" | "ms" | "s" | "min" | "h" | "d")
    }
}

/// One step of an up or a down.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// SQL statements, with text per engine.
    Sql(SqlText),
    /// Operations on one CSV file.
    Csv(CsvStep),
    /// A function of the chain crate, run in the migration's transaction.
    Rust(Function<crate::rust::StepFn>),
    /// A CSV file's rows into a table, streamed in the migration's transaction.
    Load(LoadStep),
    /// The rows a load put in a table, taken out again by key: a load's derived down.
    Unload(LoadStep),
    /// A query's rows into a CSV file, through the same swap as CSV steps.
    Export(ExportStep),
}

/// `load`: a CSV file into a table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadStep {
    /// The CSV file, relative to the data folder.
    pub path: Text,
    /// Its field delimiter.
    pub delimiter: u8,
    /// The table loaded.
    pub table: Text,
    /// Each CSV column loaded and the table column it goes to; empty: every CSV
    /// column, into the column of the same name.
    pub columns: List<(Text, Text)>,
    /// The text that stands for NULL; None: every cell is text.
    pub null: Option<Text>,
    /// Rows whose key exists already are updated rather than refused.
    pub upsert: bool,
    /// The table columns that identify a row (for an upsert, and for unloading).
    pub key: List<Text>,
}

/// `export`: a query's rows into a CSV file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportStep {
    /// The CSV file written, relative to the data folder.
    pub path: Text,
    /// Its field delimiter.
    pub delimiter: u8,
    /// The query, per engine.
    pub query: SqlText,
}

/// A function of the chain crate that a spec names: its path, and the function itself
/// in the generated table. Stored in the history as its path alone, so a binary that
/// reads it back (to revert a version it does not know) has no function to call.
pub struct Function<F: 'static> {
    /// Its path from the crate root, as the spec gives it: `steps::score_risk`.
    pub path: Text,
    /// The function; None where only the path is known (the build's own model, a
    /// history row).
    pub call: Option<F>,
}

impl<F: Copy> Clone for Function<F> {
    fn clone(&self) -> Self {
        Function {
            path: self.path.clone(),
            call: self.call,
        }
    }
}

impl<F> fmt::Debug for Function<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)
    }
}

/// Two functions are the same when their paths are: the build's model (no function)
/// equals the generated table's.
impl<F> PartialEq for Function<F> {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

impl<F> Serialize for Function<F> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.path)
    }
}

impl<'de, F> Deserialize<'de> for Function<F> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Function {
            path: Text::Owned(String::deserialize(d)?),
            call: None,
        })
    }
}

/// Operations on one CSV file, streamed row by row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CsvStep {
    /// Relative to the data folder; never absolute, never `..`.
    pub path: Text,
    /// The field delimiter (one byte).
    pub delimiter: u8,
    /// The header the file has before this step (from the build's column flow); empty
    /// when the step creates the file. Checked against the real file before writing.
    pub header: List<Text>,
    /// The operations, in order.
    pub ops: List<CsvOp>,
}

/// One operation of a CSV step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum CsvOp {
    /// Creates the file with a header, and the rows of a seed embedded at build time.
    Create {
        /// The header of the new file.
        columns: List<Text>,
        /// Rows embedded at build time, header included.
        seed: Option<Cow<'static, [u8]>>,
    },
    /// Deletes the file (the inverse of `create`).
    Delete,
    /// Renames a column.
    Rename {
        /// The column's name.
        from: Text,
        /// Its new name.
        to: Text,
    },
    /// Adds a column at the end.
    Add {
        /// The new column's name.
        column: Text,
        /// Where its values come from.
        value: Source,
    },
    /// Removes a column.
    Drop {
        /// The column removed.
        column: Text,
    },
    /// Replaces each value by its image; an unmapped value takes `default`, or is an error.
    Map {
        /// The column mapped.
        column: Text,
        /// Each value and its image.
        values: List<(Text, Text)>,
        /// The image of values the map does not list; None makes them errors.
        default: Option<Text>,
    },
    /// Changes the case of a column's text, or trims it.
    Convert {
        /// The column converted.
        column: Text,
        /// What it becomes.
        to: Case,
    },
    /// Puts the columns in a new order.
    Reorder {
        /// Every column, in the new order.
        columns: List<Text>,
    },
    /// Fills the empty cells of a column.
    Fill {
        /// The column filled.
        column: Text,
        /// The value given to its empty cells.
        value: Text,
    },
    /// Replaces text in a column's cells: every occurrence of a literal, or every match
    /// of a regular expression (`$1` in `to` names its groups).
    Replace {
        /// The column rewritten.
        column: Text,
        /// The literal, or the pattern.
        from: Text,
        /// What replaces it.
        to: Text,
        /// `from` is a regular expression.
        pattern: bool,
    },
    /// Splits a column into several on a separator (into exactly as many parts); the
    /// new columns take its place.
    Split {
        /// The column split.
        column: Text,
        /// What separates the parts.
        separator: Text,
        /// The new columns, in order.
        into: List<Text>,
    },
    /// Joins columns with a separator into one, at the first one's place: split undone.
    Join {
        /// The columns joined, in order.
        columns: List<Text>,
        /// What goes between them.
        separator: Text,
        /// The new column.
        into: Text,
    },
    /// Keeps only the rows whose cell in a column is among `values`, or matches
    /// `pattern` (the whole cell).
    Filter {
        /// The column tested.
        column: Text,
        /// The values kept.
        values: List<Text>,
        /// Or the pattern kept.
        pattern: Option<Text>,
    },
    /// Replaces each cell of a column by what a function of the chain crate makes of
    /// it and its row.
    Apply {
        /// The column rewritten.
        column: Text,
        /// The function.
        function: Function<crate::rust::ApplyFn>,
        /// The function that undoes it, when the spec gives one.
        inverse: Option<Function<crate::rust::ApplyFn>>,
    },
}

/// Where an added column's values come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The same value on every row.
    Value(Text),
    /// A copy of another column.
    Copy(Text),
    /// Other columns spliced into a pattern: `"{dep}-{com}"`.
    Template(Text),
}

/// What `convert` does to a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Case {
    /// To upper case (Unicode).
    Upper,
    /// To lower case (Unicode).
    Lower,
    /// Without leading and trailing ASCII whitespace.
    Trim,
}

/// The rules a CSV validation holds a file to; each one given is checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CsvCheck {
    /// The CSV file, relative to the data folder.
    pub path: Text,
    /// Its field delimiter.
    pub delimiter: u8,
    /// The exact header.
    pub columns: Option<List<Text>>,
    /// Columns the header must contain.
    pub columns_include: List<Text>,
    /// At least one row besides the header.
    pub not_empty: bool,
    /// A column whose values are all different.
    pub unique: Option<Text>,
    /// A column whose values all belong to a set.
    pub values_in: Option<(Text, List<Text>)>,
    // The rules below are absent from the serialized form when unused, so that a
    // check without them keeps the checksum it had before they existed.
    /// Columns none of whose cells may be empty.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub not_null: List<Text>,
    /// Columns whose values, together, are all different (a composite key).
    #[serde(default, skip_serializing_if = "is_empty")]
    pub unique_together: List<Text>,
    /// A column each of whose cells, whole, matches a regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<(Text, Text)>,
    /// How many rows the file has, its header not counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// A query whose single value is the number of rows the file must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_match: Option<SqlText>,
}

fn is_empty<T: Clone>(list: &List<T>) -> bool {
    list.is_empty()
}

/// SQL with optional per-engine text: `sql = "..."` in a spec fills both.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SqlText {
    /// The text for SQLite stores.
    pub sqlite: Option<Text>,
    /// The text for PostgreSQL stores.
    pub postgres: Option<Text>,
}

impl Migration {
    /// The first step or check of this migration that has no text for `engine`, as
    /// messages name it (`up step 2`, `validation 1`).
    pub fn without_text_for(&self, engine: Engine) -> Option<String> {
        let lacks = |sql: &SqlText| sql.for_engine(engine).is_none();
        let step = |s: &Step| match s {
            Step::Sql(sql) => lacks(sql),
            Step::Export(e) => lacks(&e.query),
            Step::Csv(_) | Step::Rust(_) | Step::Load(_) | Step::Unload(_) => false,
        };
        let up = self
            .up
            .iter()
            .position(step)
            .map(|i| format!("up step {}", i + 1));
        let down = || {
            self.down
                .iter()
                .position(step)
                .map(|i| format!("down step {}", i + 1))
        };
        let check = || {
            self.validate
                .iter()
                .position(|c| match c {
                    Check::Sql { sql, .. } => lacks(sql),
                    Check::Csv(c) => c.rows_match.as_ref().is_some_and(lacks),
                    Check::Rust(_) => false,
                })
                .map(|i| format!("validation {}", i + 1))
        };
        up.or_else(down).or_else(check)
    }
}

impl SqlText {
    /// The same text for every engine.
    pub fn portable(text: impl Into<Text>) -> Self {
        let text = text.into();
        SqlText {
            sqlite: Some(text.clone()),
            postgres: Some(text),
        }
    }

    /// The text to run on `engine`, if the spec gave one.
    pub fn for_engine(&self, engine: Engine) -> Option<&str> {
        match engine {
            Engine::Sqlite => self.sqlite.as_deref(),
            Engine::Postgres => self.postgres.as_deref(),
        }
    }
}

/// A check that holds whenever the store is at a version.
// The table is static data: a boxed variant could not be written in a `static`.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    /// A query and what its first row's first column must be (or that it returns no row).
    Sql {
        /// The query, per engine.
        sql: SqlText,
        /// What it must return.
        expect: Expect,
    },
    /// Rules a CSV file must hold to.
    Csv(CsvCheck),
    /// A function of the chain crate; an `Err` fails the check.
    Rust(Function<crate::rust::StepFn>),
}

/// What a SQL check's query must return.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// The first column of the single row equals this value.
    Value(Scalar),
    /// The query returns no row.
    Empty,
}

/// A TOML scalar, as `expect` gives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scalar {
    /// An integer.
    Integer(i64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Text(Text),
    /// A boolean (1 or 0 from SQLite).
    Bool(bool),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Integer(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Text(t) => write!(f, "{t:?}"),
            Scalar::Bool(b) => write!(f, "{b}"),
        }
    }
}
