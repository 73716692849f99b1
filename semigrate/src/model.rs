//! The migration table as the runtime sees it: plain data, no TOML.
//!
//! Every text and list is a `Cow<'static, _>` so that one set of types serves the
//! build script (owned data lowered from the specs), the generated table and a store
//! that is ahead of the binary (both deserialized), and tests (literals).

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// Text that is either compiled in or owned.
pub type Text = Cow<'static, str>;
/// A list that is either compiled in or owned.
pub type List<T> = Cow<'static, [T]>;

/// A release version: `MAJOR.MINOR.PATCH`, nothing else (no pre-release, no build
/// metadata), so that two versions compare the way the chain orders them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SemVer {
    /// Incompatible changes.
    pub major: u64,
    /// Compatible additions.
    pub minor: u64,
    /// Fixes.
    pub patch: u64,
}

impl SemVer {
    /// The empty store: below every migration.
    pub const ZERO: SemVer = SemVer::new(0, 0, 0);

    /// The version MAJOR.MINOR.PATCH.
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        SemVer {
            major,
            minor,
            patch,
        }
    }

    /// The three versions that may follow this one in a chain without a gap.
    pub fn successors(self) -> [SemVer; 3] {
        [
            SemVer::new(self.major, self.minor, self.patch + 1),
            SemVer::new(self.major, self.minor + 1, 0),
            SemVer::new(self.major + 1, 0, 0),
        ]
    }

    /// Parses `X.Y.Z` strictly: SemVer's own grammar (no leading zeros), and
    /// pre-release or build metadata refused with a reason.
    pub fn parse(text: &str) -> Result<SemVer, String> {
        let parsed = semver::Version::parse(text)
            .map_err(|e| format!("`{text}` is not a version of the form X.Y.Z ({e})"))?;
        if !parsed.pre.is_empty() {
            return Err(format!(
                "`{text}` has a pre-release part; migrations take release versions only"
            ));
        }
        if !parsed.build.is_empty() {
            return Err(format!(
                "`{text}` has build metadata; migrations take release versions only"
            ));
        }
        Ok(SemVer::new(parsed.major, parsed.minor, parsed.patch))
    }
}

impl fmt::Display for SemVer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl std::str::FromStr for SemVer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SemVer::parse(s)
    }
}

impl Serialize for SemVer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Digits written by hand, not through `fmt`: `status --json` writes a version
        // per migration, and the formatting machinery cost more than the rest of
        // the entry.
        let mut text = [0u8; 3 * 20 + 2];
        let mut end = text.len();
        for (i, n) in [self.patch, self.minor, self.major].into_iter().enumerate() {
            if i > 0 {
                end -= 1;
                text[end] = b'.';
            }
            let mut n = n;
            loop {
                end -= 1;
                text[end] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
        }
        s.serialize_str(std::str::from_utf8(&text[end..]).expect("ASCII digits and dots"))
    }
}

impl<'de> Deserialize<'de> for SemVer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        SemVer::parse(&text).map_err(serde::de::Error::custom)
    }
}

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
}

/// A chain as a chain crate's build compiled it: what its binary's command line and a
/// [`Migrator`](crate::Migrator) need. The generated table defines one, `CHAIN`.
#[derive(Clone, Copy, Debug)]
pub struct Chain {
    /// The chain crate's binary name, shown in `--help`, completions and the man page.
    pub name: &'static str,
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

/// The generated table: what `status` reads of each migration in arrays that hold no
/// pointer, and the migrations themselves as JSON, decoded on first use (it derefs to
/// `[Migration]`).
///
/// Why not a `static` of `Migration`s: every `&'static str` in a static is a pointer
/// the loader must rewrite at each start of a position-independent binary. At 1,000
/// migrations that was 12,800 relocations and 170 pages copied before `main`, and
/// `--version` took 2.1 ms instead of 1.5. Arrays of numbers and one string are
/// mapped from the file as they are.
pub struct Table {
    index: Index,
    json: &'static str,
    steps: Functions<crate::rust::StepFn>,
    applies: Functions<crate::rust::ApplyFn>,
    decoded: std::sync::OnceLock<Vec<Migration>>,
}

/// The chain crate's functions that the specs name, by path.
pub type Functions<F> = &'static [(&'static str, F)];

/// Every migration's version, description, checksum and schema digest, in order.
#[derive(Clone, Copy, Debug)]
pub struct Index {
    /// The versions, oldest first.
    pub versions: &'static [SemVer],
    /// The descriptions.
    pub descriptions: Texts,
    /// The checksums.
    pub checksums: Texts,
    /// The schema digests (see [`Migration::schema_digest`]).
    pub schema_digests: &'static [Option<u64>],
}

/// Strings laid end to end in one: the `i`th runs from `ends[i - 1]` (0 for the
/// first) to `ends[i]`.
#[derive(Clone, Copy, Debug)]
pub struct Texts {
    /// The strings, end to end.
    pub all: &'static str,
    /// Where each ends, in bytes.
    pub ends: &'static [u32],
}

impl Index {
    fn summary(&self, i: usize) -> Summary {
        Summary {
            version: self.versions[i],
            description: Text::Borrowed(self.descriptions.get(i)),
            checksum: Text::Borrowed(self.checksums.get(i)),
            schema_digest: self.schema_digests[i],
        }
    }
}

impl Texts {
    fn get(&self, i: usize) -> &'static str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.all[start as usize..self.ends[i] as usize]
    }
}

impl Table {
    /// The table as the generated code writes it.
    pub const fn new(
        index: Index,
        json: &'static str,
        steps: Functions<crate::rust::StepFn>,
        applies: Functions<crate::rust::ApplyFn>,
    ) -> Table {
        Table {
            index,
            json,
            steps,
            applies,
            decoded: std::sync::OnceLock::new(),
        }
    }

    /// A chain without migrations, as a crate without specs compiles one.
    pub const fn empty() -> Table {
        let none = Texts { all: "", ends: &[] };
        let index = Index {
            versions: &[],
            descriptions: none,
            checksums: none,
            schema_digests: &[],
        };
        Table::new(index, "[]", &[], &[])
    }

    /// The versions, oldest first, without decoding the table.
    pub fn versions(&self) -> &'static [SemVer] {
        self.index.versions
    }

    /// The migrations as the build wrote them: one per line of a JSON array.
    pub fn json(migrations: &[Migration]) -> String {
        let lines: Vec<String> = migrations
            .iter()
            .map(|m| serde_json::to_string(m).expect("migrations always serialize"))
            .collect();
        format!("[\n{}\n]", lines.join(",\n"))
    }

    /// The migrations read back from `json`, each function's path bound to the
    /// function in `steps` or `applies`.
    pub fn decode(
        json: &str,
        steps: Functions<crate::rust::StepFn>,
        applies: Functions<crate::rust::ApplyFn>,
    ) -> serde_json::Result<Vec<Migration>> {
        let mut migrations: Vec<Migration> = serde_json::from_str(json)?;
        for m in &mut migrations {
            m.bind(steps, applies);
        }
        Ok(migrations)
    }
}

/// The versions, not the JSON: a chain's `Debug` stays short.
impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("versions", &self.index.versions)
            .field("decoded", &self.decoded.get().is_some())
            .finish()
    }
}

impl std::ops::Deref for Table {
    type Target = [Migration];

    fn deref(&self) -> &[Migration] {
        self.decoded.get_or_init(|| {
            // The build decoded this very text and compared it with the chain it proved.
            Table::decode(self.json, self.steps, self.applies)
                .expect("the build checked that the table reads back")
        })
    }
}

/// What `status` needs of a migration: texts the compiled table lends, so that
/// `status` copies none of them.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Its version.
    pub version: SemVer,
    /// What it changes.
    pub description: Text,
    /// Its checksum.
    pub checksum: Text,
    /// The digest of the schema after its up, if the build replayed it on SQLite.
    pub schema_digest: Option<u64>,
}

/// A chain as `status` reads it: summaries, and the migrations themselves only when
/// the schema must be compared object by object.
pub trait Listing {
    /// Every migration's summary, oldest first.
    fn summaries(&self) -> Vec<Summary>;
    /// The summary of version `at`, if the chain has it.
    fn summary(&self, at: SemVer) -> Option<Summary>;
    /// The migrations, oldest first.
    fn migrations(&self) -> &[Migration];
}

impl Listing for Table {
    fn summaries(&self) -> Vec<Summary> {
        (0..self.index.versions.len())
            .map(|i| self.index.summary(i))
            .collect()
    }

    fn summary(&self, at: SemVer) -> Option<Summary> {
        let i = self.index.versions.binary_search(&at).ok()?;
        Some(self.index.summary(i))
    }

    fn migrations(&self) -> &[Migration] {
        self
    }
}

impl Listing for [Migration] {
    fn summaries(&self) -> Vec<Summary> {
        self.iter().map(Migration::summary).collect()
    }

    fn summary(&self, at: SemVer) -> Option<Summary> {
        self.iter()
            .find(|m| m.version == at)
            .map(Migration::summary)
    }

    fn migrations(&self) -> &[Migration] {
        self
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

/// What a migration's steps do to the PostgreSQL tables that exist before it, as the
/// build measured them on a server, and which of the hazards the spec accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locks {
    /// `locks = "accepted"` or `locks = ["table", ...]` in the spec.
    pub accepted: Accepted,
    /// None: the build had no server (`SEMIGRATE_VERIFY_POSTGRES_URL`) to measure on.
    pub measured: Option<List<Held>>,
}

/// The hazards a migration acknowledges: none, all, or those on the tables named.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accepted {
    /// A hazard fails the build.
    #[default]
    None,
    /// `locks = "accepted"`.
    All,
    /// `locks = ["accidents", ...]`.
    Tables(List<Text>),
}

impl Accepted {
    /// Whether a hazard on `table` is acknowledged.
    pub fn covers(&self, table: &str) -> bool {
        match self {
            Accepted::None => false,
            Accepted::All => true,
            Accepted::Tables(tables) => tables.iter().any(|t| t.eq_ignore_ascii_case(table)),
        }
    }
}

/// A lock one step held on a table that existed before its migration, measured in
/// the step's own backend (`pg_locks`), with what the step did to the table meanwhile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// `up` or `down`.
    pub direction: Text,
    /// The step, from 1.
    pub step: u32,
    /// The table.
    pub table: Text,
    /// The strongest lock held on it while the step ran, as PostgreSQL's
    /// documentation names it (`SHARE`, `ACCESS EXCLUSIVE`); None when the step ran
    /// outside a transaction, where its locks end with each statement unseen.
    pub lock: Option<Text>,
    /// The step read the whole table (a sequential scan).
    pub scan: bool,
    /// The step rewrote the table (its `relfilenode` changed).
    pub rewrite: bool,
}

/// `up step 1: SHARE on accidents, read in full`, as `list` and `--dry-run` show it.
impl fmt::Display for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} step {}: ", self.direction, self.step)?;
        match &self.lock {
            Some(lock) => write!(f, "{lock} on {}", self.table)?,
            None => write!(f, "{} (its lock unseen: outside a transaction)", self.table)?,
        }
        if self.scan {
            f.write_str(", read in full")?;
        }
        if self.rewrite {
            f.write_str(", rewritten")?;
        }
        Ok(())
    }
}

impl Held {
    /// As `list` and `--dry-run` show it: a hazard the build let through is one the
    /// spec accepts.
    pub fn describe(&self) -> String {
        match self.blocks_writes() {
            true => format!("{self} (blocks writes; accepted)"),
            false => self.to_string(),
        }
    }

    /// Writes wait for this step: a rewrite, or a lock that blocks writes (SHARE or
    /// stronger) held while the step reads the whole table.
    pub fn blocks_writes(&self) -> bool {
        self.rewrite
            || (self.scan
                && self.lock.as_deref().is_some_and(|mode| {
                    matches!(
                        mode,
                        "SHARE" | "SHARE ROW EXCLUSIVE" | "EXCLUSIVE" | "ACCESS EXCLUSIVE"
                    )
                }))
    }
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

/// How to revert a migration: what the history stores when it is applied, so that a
/// binary that does not know the version can still take it back down.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Revert {
    /// The down steps as they were applied.
    pub steps: Vec<Step>,
    /// Whether they run in one transaction.
    pub transaction: bool,
    /// Whether foreign keys stay on (SQLite).
    pub foreign_keys: bool,
    /// Whether the migration cannot be reverted.
    pub irreversible: bool,
}

/// A history row's down steps: the JSON the row holds, decoded on first use. Only a
/// downgrade past a migration the binary does not know runs them, so `status` never
/// decodes them; a run that plans checks every row's first (`store::checked_history`).
#[derive(Clone, Debug, PartialEq)]
pub struct DownSteps {
    /// None: a history read for `status`, which left the steps in the store.
    json: Option<String>,
    decoded: std::sync::OnceLock<Revert>,
}

impl DownSteps {
    /// Down steps as a row read back from a store holds them.
    pub fn stored(json: String) -> DownSteps {
        DownSteps {
            json: Some(json),
            decoded: std::sync::OnceLock::new(),
        }
    }

    /// Down steps left in the store (`Store::listed_history`).
    pub fn unread() -> DownSteps {
        DownSteps {
            json: None,
            decoded: std::sync::OnceLock::new(),
        }
    }

    /// The JSON a row holds, to write it. Only rows built from a migration are written,
    /// and those always carry theirs.
    pub fn json(&self) -> &str {
        self.json
            .as_deref()
            .expect("a row to write carries its down steps")
    }

    /// The steps, decoded once.
    pub fn decoded(&self) -> std::result::Result<&Revert, serde_json::Error> {
        if let Some(revert) = self.decoded.get() {
            return Ok(revert);
        }
        let Some(json) = &self.json else {
            return Err(serde::de::Error::custom(
                "the history was read without them",
            ));
        };
        let revert = serde_json::from_str(json)?;
        Ok(self.decoded.get_or_init(|| revert))
    }
}

impl Migration {
    /// What `status` needs of it.
    pub fn summary(&self) -> Summary {
        Summary {
            version: self.version,
            description: self.description.clone(),
            checksum: self.checksum.clone(),
            schema_digest: self.schema_digest,
        }
    }

    /// Binds each function the migration names to the chain crate's, by path.
    fn bind(
        &mut self,
        steps: Functions<crate::rust::StepFn>,
        applies: Functions<crate::rust::ApplyFn>,
    ) {
        fn find<F: Copy>(functions: Functions<F>, f: &mut Function<F>) {
            f.call = functions
                .iter()
                .find(|(path, _)| *path == f.path)
                .map(|(_, call)| *call);
        }
        for step in self.up.to_mut().iter_mut().chain(self.down.to_mut()) {
            match step {
                Step::Rust(f) => find(steps, f),
                Step::Csv(c) => {
                    for op in c.ops.to_mut() {
                        if let CsvOp::Apply {
                            function, inverse, ..
                        } = op
                        {
                            find(applies, function);
                            if let Some(inverse) = inverse {
                                find(applies, inverse);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        for check in self.validate.to_mut() {
            if let Check::Rust(f) = check {
                find(steps, f);
            }
        }
    }

    /// What to store in the history when this migration is applied.
    pub fn revert(&self) -> DownSteps {
        let revert = Revert {
            steps: self.down.to_vec(),
            transaction: self.transaction,
            foreign_keys: self.foreign_keys,
            irreversible: self.irreversible,
        };
        DownSteps {
            json: Some(serde_json::to_string(&revert).expect("steps always serialize")),
            decoded: std::sync::OnceLock::from(revert),
        }
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_release_versions_only() {
        assert_eq!(SemVer::parse("1.10.0"), Ok(SemVer::new(1, 10, 0)));
        assert!(
            SemVer::parse("1.0.0-rc.1")
                .unwrap_err()
                .contains("pre-release")
        );
        assert!(
            SemVer::parse("1.0.0+build")
                .unwrap_err()
                .contains("build metadata")
        );
        assert!(SemVer::parse("01.0.0").is_err(), "leading zero");
        assert!(SemVer::parse("1.0").is_err());
    }

    #[test]
    fn versions_serialize_as_they_display() {
        for v in [
            SemVer::ZERO,
            SemVer::new(1, 10, 0),
            SemVer::new(0, 0, 1000),
            SemVer::new(u64::MAX, 9, u64::MAX),
        ] {
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{v}\""));
        }
    }

    #[test]
    fn versions_order_numerically() {
        assert!(SemVer::new(1, 10, 0) > SemVer::new(1, 9, 9));
        assert!(SemVer::new(2, 0, 0) > SemVer::new(1, 99, 99));
    }
}
