//! The TOML of one spec, as serde reads it; `lower` turns it into `model::Migration`.
//! The JSON Schema editors use is derived from these types, and kept for the runtime
//! as `templates/spec.schema.json` (`spec_file::SCHEMA`), which a test holds equal.
//!
//! Keys are checked strictly (`deny_unknown_fields`); positions are kept with
//! `toml::Spanned` wherever a later check needs to point at a key.

mod lower;
pub use lower::parse;

use crate::model::Case;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

fn yes() -> bool {
    true
}

/// A migration spec: `v{MAJOR}_{MINOR}_{PATCH}[__slug].toml`. The JSON Schema that
/// editors use (`semigrate schema`) is derived from these types, so it cannot drift.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "semigrate migration spec")]
struct Document {
    /// What this version changes, and why.
    #[schemars(with = "String")]
    description: Spanned<String>,
    /// The version, when given, must be the one the file name says.
    #[schemars(with = "Option<String>")]
    version: Option<Spanned<String>>,
    /// Run the steps in one transaction (false for VACUUM, CREATE INDEX CONCURRENTLY...).
    #[serde(default = "yes")]
    transaction: bool,
    /// SQLite: false switches foreign keys off while the steps run (a table rebuild).
    #[serde(default = "yes")]
    foreign_keys: bool,
    /// The migration cannot be undone: no down, and no downgrade across it.
    #[serde(default)]
    irreversible: bool,
    /// The migration drops data, and says so.
    #[serde(default)]
    destructive: bool,
    /// PostgreSQL: how long its statements may wait for a lock (`"2s"`, `"500ms"`).
    lock_timeout: Option<String>,
    /// PostgreSQL: how long its statements may run.
    statement_timeout: Option<String>,
    /// PostgreSQL: the hazards the build measured that this migration accepts:
    /// `"accepted"` for all, or the tables whose blocking locks and rewrites it accepts.
    locks: Option<LocksDoc>,
    /// The steps that move the store to this version, in order; `up = []` for a
    /// version that changes nothing (an imported migration of comments only).
    #[schemars(with = "Option<Vec<StepDoc>>")]
    up: Option<Vec<Spanned<StepDoc>>>,
    /// The steps that undo up, in order; derived for CSV steps when omitted.
    #[schemars(with = "Option<Vec<StepDoc>>")]
    down: Option<Spanned<Vec<Spanned<StepDoc>>>>,
    /// Checks that hold whenever the store is at this version.
    #[serde(default)]
    #[schemars(with = "Vec<CheckDoc>")]
    validate: Vec<Spanned<CheckDoc>>,
    /// Where the migration was imported from, as `TOOL:ID`
    /// (`diesel:2019-02-26-002946_create_user`); `semigrate import` writes it.
    origin: Option<String>,
    /// What the down is known not to restore, in the words the proof prints
    /// (`"column users.bio"`, `"default of checks.kind"`, `"column order of t"`): the
    /// build passes for exactly these differences, and fails on any other and on one
    /// the down no longer leaves.
    #[serde(default)]
    down_leaves: Vec<String>,
    /// PostgreSQL: the up fails on tables that hold rows (it ran when they were empty),
    /// and the build's replay, which gives every table a row, empties them and runs it
    /// again; without this key, that is an error.
    #[serde(default)]
    fails_on_rows: bool,
}

/// A step: `sql`, or per-engine `sqlite` / `postgres`, or `csv` with its `ops`, or
/// `rust`, the path of a function of the chain crate.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct StepDoc {
    sql: Option<String>,
    sqlite: Option<String>,
    postgres: Option<String>,
    /// A file of SQL every engine runs, relative to the migrations folder
    /// (`sql/0001_create_users.up.sql`): its text is compiled in, as inline `sql` is.
    file: Option<String>,
    /// A file of SQL for SQLite, relative to the migrations folder.
    sqlite_file: Option<String>,
    /// A file of SQL for PostgreSQL, relative to the migrations folder.
    postgres_file: Option<String>,
    csv: Option<String>,
    delimiter: Option<String>,
    /// A CSV step: the header before it. A load: which CSV column goes to which table
    /// column (`{ "CSV header" = "table_column" }`).
    columns: Option<Columns>,
    #[schemars(with = "Option<Vec<OpDoc>>")]
    ops: Option<Vec<Spanned<OpDoc>>>,
    #[schemars(with = "Option<String>")]
    rust: Option<Spanned<String>>,
    /// A CSV file loaded into `table`.
    load: Option<String>,
    table: Option<String>,
    /// The text that stands for NULL in a loaded file.
    null: Option<String>,
    /// `insert` (the default) or `upsert`.
    mode: Option<LoadMode>,
    /// The table columns that identify a loaded row.
    key: Option<Vec<String>>,
    /// A CSV file written with the rows of `query` (or of `table`).
    export: Option<String>,
    query: Option<String>,
}

/// `locks = "accepted"`, or `locks = ["table", ...]`.
#[derive(Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "`locks` takes \"accepted\", or a list of tables: [\"accidents\"]"
)]
enum LocksDoc {
    All(AcceptedWord),
    Tables(Vec<String>),
}

/// The one word `locks` takes.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum AcceptedWord {
    Accepted,
}

/// A CSV step's header, or a load's column mapping.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum Columns {
    List(Vec<String>),
    Map(BTreeMap<String, String>),
}

#[derive(Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum LoadMode {
    Insert,
    Upsert,
}

/// One CSV operation, tagged by `op`.
#[derive(Deserialize, JsonSchema)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
enum OpDoc {
    Create {
        columns: Option<Vec<String>>,
        seed: Option<String>,
    },
    Delete {},
    Rename {
        from: String,
        to: String,
    },
    Add {
        column: String,
        value: Option<String>,
        copy: Option<String>,
        template: Option<String>,
    },
    Drop {
        column: String,
    },
    Map {
        column: String,
        values: BTreeMap<String, String>,
        default: Option<String>,
    },
    Convert {
        column: String,
        #[schemars(with = "schema::Case")]
        to: Case,
    },
    Reorder {
        columns: Vec<String>,
    },
    Fill {
        column: String,
        value: String,
    },
    /// Every occurrence of `from` (a literal), or every match of `pattern`, by `to`.
    Replace {
        column: String,
        from: Option<String>,
        pattern: Option<String>,
        to: String,
    },
    /// One column into the columns `into`, on `separator`.
    Split {
        column: String,
        separator: String,
        into: Vec<String>,
    },
    /// Columns into one, `into`, with `separator` between them.
    Join {
        columns: Vec<String>,
        separator: String,
        into: String,
    },
    /// Keep the rows whose `column` is among `values` or matches `pattern`.
    Filter {
        column: String,
        values: Option<Vec<String>>,
        pattern: Option<String>,
    },
    /// A function of the chain crate, `fn(&str, &Row) -> CellOutcome`, and the one that
    /// undoes it.
    Apply {
        column: String,
        function: String,
        inverse: Option<String>,
    },
}

/// A validation: a SQL query and what it must return, a CSV file and its rules, or
/// `rust`, a function of the chain crate.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CheckDoc {
    sql: Option<String>,
    sqlite: Option<String>,
    postgres: Option<String>,
    /// The value of the first column of the single row: a string, number or boolean.
    #[schemars(with = "Option<serde_json::Value>")]
    expect: Option<toml::Value>,
    expect_empty: Option<bool>,
    csv: Option<String>,
    delimiter: Option<String>,
    columns: Option<Vec<String>>,
    columns_include: Option<Vec<String>>,
    not_empty: Option<bool>,
    /// A column, or columns together (a composite key), whose values are all different.
    unique: Option<OneOrMany>,
    values_in: Option<ValuesIn>,
    /// Columns none of whose cells may be empty.
    not_null: Option<Vec<String>>,
    /// A column each of whose cells, whole, matches a regular expression.
    matches: Option<Matches>,
    /// How many rows the file has, its header not counted.
    rows: Option<u64>,
    /// A query whose single value is the number of rows the file must have.
    rows_match: Option<String>,
    #[schemars(with = "Option<String>")]
    rust: Option<Spanned<String>>,
}

/// One column, or a list of them.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Matches {
    column: String,
    pattern: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ValuesIn {
    column: String,
    values: Vec<String>,
}

/// The model's types as the JSON Schema shows them: the runtime's model derives no
/// schema, so that an application compiles no schemars.
mod schema {
    /// What `convert` does to a column.
    #[derive(schemars::JsonSchema)]
    #[serde(rename_all = "lowercase")]
    #[allow(dead_code)]
    pub enum Case {
        /// To upper case (Unicode).
        Upper,
        /// To lower case (Unicode).
        Lower,
        /// Without leading and trailing ASCII whitespace.
        Trim,
    }
}

/// The schema the runtime prints (`spec_file::SCHEMA`) is the one these types derive.
#[cfg(test)]
#[test]
fn the_kept_schema_is_the_derived_one() {
    let schema = schemars::schema_for!(Document);
    let derived = serde_json::to_string_pretty(&schema).unwrap() + "\n";
    let kept = concat!(env!("CARGO_MANIFEST_DIR"), "/templates/spec.schema.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(kept, &derived).unwrap();
    }
    assert!(
        crate::spec_file::SCHEMA == derived,
        "templates/spec.schema.json is out of date: UPDATE_SNAPSHOTS=1 cargo test -p semigrate rewrites it"
    );
}
