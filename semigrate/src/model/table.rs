//! The generated table's format: what `status` reads as arrays that hold no pointer,
//! the migrations as JSON decoded on first use, and the chain crate's functions bound
//! to them by path.

use super::{Check, CsvOp, Function, Migration, SemVer, Step, Text};
use crate::rust::{ApplyFn, StepFn};
use std::fmt;

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
    steps: Functions<StepFn>,
    applies: Functions<ApplyFn>,
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
    /// Where each came from (see [`Migration::origin`]), empty when written here.
    pub origins: Texts,
    /// How many differences each one's down is known to leave (`down_leaves`).
    pub leftovers: &'static [u32],
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
            origin: Some(self.origins.get(i))
                .filter(|o| !o.is_empty())
                .map(Text::Borrowed),
            leftovers: self.leftovers[i],
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
        steps: Functions<StepFn>,
        applies: Functions<ApplyFn>,
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
            origins: none,
            leftovers: &[],
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
        steps: Functions<StepFn>,
        applies: Functions<ApplyFn>,
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
    /// Where it was imported from.
    pub origin: Option<Text>,
    /// How many differences its down is known to leave.
    pub leftovers: u32,
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

impl Migration {
    /// What `status` needs of it.
    pub fn summary(&self) -> Summary {
        Summary {
            version: self.version,
            description: self.description.clone(),
            checksum: self.checksum.clone(),
            schema_digest: self.schema_digest,
            origin: self.origin.clone(),
            leftovers: self.down_leaves.len() as u32,
        }
    }

    /// Binds each function the migration names to the chain crate's, by path.
    fn bind(&mut self, steps: Functions<StepFn>, applies: Functions<ApplyFn>) {
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
}
