//! The schema check: the live store's schema against the one the build's replay saw at
//! the store's version, compiled into the binary. It finds what a history cannot: a
//! hotfix index, a column added from a console, a table dropped by mistake. It reads
//! the catalog only: no lock, no write.

use crate::error::Result;
use crate::model::{Listing, SemVer};
use crate::store::Store;
use crate::store::schema::{IN_STORE, Schema};
use serde::Serialize;

/// How the store's schema stands against the one compiled for its version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SchemaCheck {
    /// The version whose schema the store was compared with.
    pub version: SemVer,
    /// What was found.
    pub state: SchemaState,
    /// How many objects differ.
    pub objects: usize,
    /// One line per difference: `index ix_hotfix is in the store, not in the chain`.
    pub differences: Vec<String>,
}

/// The outcome of the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaState {
    /// The schema is the one compiled for the version.
    AsCompiled,
    /// It is not.
    Differs,
    /// The binary holds no schema to compare with: a chain built without the replay
    /// on the store's engine (PostgreSQL's needs a server at build time), or a version
    /// it does not know.
    NotCompiled,
    /// Nothing is applied: what the store holds predates the chain (`baseline` is
    /// for such a store), so there is nothing to compare it with.
    Empty,
}

impl SchemaCheck {
    /// `status`'s line: `as compiled for 2.0.0`, `differs from 2.0.0: 2 objects`.
    pub fn summary(&self) -> String {
        let v = self.version;
        match self.state {
            SchemaState::AsCompiled => format!("as compiled for {v}"),
            SchemaState::Differs => format!(
                "differs from {v}: {} object{}",
                self.objects,
                if self.objects == 1 { "" } else { "s" }
            ),
            SchemaState::NotCompiled => format!("not compiled in for {v}: not checked"),
            SchemaState::Empty => "nothing applied: not checked".to_owned(),
        }
    }

    /// The differences, one per line, for an error.
    pub fn listed(&self) -> String {
        format!(
            "the store's schema differs from the one compiled for {}, in {} object{}:\n  {}",
            self.version,
            self.objects,
            if self.objects == 1 { "" } else { "s" },
            self.differences.join("\n  ")
        )
    }
}

/// The history table each tool `import` reads keeps in a store, by the tool's name as
/// an imported migration's `origin` starts with it. A store adopted from one keeps
/// that table; it is the other tool's, not the chain's.
pub const FOREIGN_HISTORIES: [(&str, &str); 7] = [
    ("diesel", "__diesel_schema_migrations"),
    ("sqlx", "_sqlx_migrations"),
    ("golang-migrate", "schema_migrations"),
    ("goose", "goose_db_version"),
    ("dbmate", "schema_migrations"),
    ("flyway", "flyway_schema_history"),
    ("sql-migrate", "gorp_migrations"),
];

/// The names of the objects of the other tools' history tables, for the chain's
/// imported migrations: the table, its columns, constraints and indexes.
fn foreign_objects(chain: &[crate::model::Migration]) -> Vec<String> {
    let mut out = Vec::new();
    for (tool, table) in FOREIGN_HISTORIES {
        let imported = chain.iter().any(|m| {
            m.origin
                .as_deref()
                .and_then(|o| o.strip_prefix(tool))
                .is_some_and(|rest| rest.starts_with(':'))
        });
        if imported && !out.iter().any(|p: &String| p == table) {
            out.extend([
                table.to_owned(),
                format!("{table}.*"),
                format!("* on {table}"),
                format!("{table}_*"),
            ]);
        }
    }
    out
}

/// Compares the store, at `at`, with the schema `chain` compiled for `at`, leaving out
/// the objects `ignore` names. The migrations themselves are read only when the
/// digests differ.
pub fn check<L: Listing + ?Sized>(
    store: &mut dyn Store,
    chain: &L,
    at: SemVer,
    ignore: &[&str],
) -> Result<SchemaCheck> {
    let unchecked = |state| SchemaCheck {
        version: at,
        state,
        objects: 0,
        differences: Vec::new(),
    };
    if at == SemVer::ZERO {
        return Ok(unchecked(SchemaState::Empty));
    }
    let Some(m) = chain.summary(at) else {
        return Ok(unchecked(SchemaState::NotCompiled));
    };
    // The common case, cheaply: the store keeps exactly what the replay kept.
    if m.schema_digest.is_some() && store.objects_digest()? == m.schema_digest {
        return Ok(unchecked(SchemaState::AsCompiled));
    }
    let Some(compiled) = Schema::compiled(chain.migrations(), at, store.engine()) else {
        return Ok(unchecked(SchemaState::NotCompiled));
    };
    let live = store.objects()?;
    let foreign = foreign_objects(chain.migrations());
    let ignore: Vec<&str> = ignore
        .iter()
        .copied()
        .chain(foreign.iter().map(String::as_str))
        .collect();
    let compiled = compiled.without(&ignore);
    let change = compiled.against(&live.without(&ignore));
    // What the downs above `at` are known to leave (`down_leaves`) is no drift: a
    // store downgraded across them keeps it.
    let leftovers: Vec<&str> = chain
        .migrations()
        .iter()
        .filter(|m| m.version > at)
        .flat_map(|m| m.down_leaves.iter().map(|l| l.as_ref()))
        .collect();
    let differences: Vec<String> = change
        .differences_as(&IN_STORE, &|t| compiled.table_named(t))
        .into_iter()
        .filter(|d| !leftovers.contains(&d.subject.as_str()))
        .map(|d| d.line)
        .collect();
    Ok(SchemaCheck {
        version: at,
        state: match differences.is_empty() {
            true => SchemaState::AsCompiled,
            false => SchemaState::Differs,
        },
        objects: match differences.is_empty() {
            true => 0,
            false => change.names().len(),
        },
        differences,
    })
}
