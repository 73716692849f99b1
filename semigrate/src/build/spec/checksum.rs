//! The checksum of a migration's meaning.
//!
//! It hashes the lowered migration, not the TOML text, so that re-indenting or
//! re-commenting a spec keeps the checksum, while any change to what runs (a step, a
//! validation, a flag) changes it. The description and file name are documentation
//! and are left out. The functions that Rust steps name count by their tokens, so
//! editing an applied one is drift, and reformatting it is not.

use crate::model::{Check, Migration, SemVer, Step};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What the checksum covers, in a fixed order.
#[derive(Serialize)]
struct Meaning<'a> {
    version: SemVer,
    transaction: bool,
    foreign_keys: bool,
    irreversible: bool,
    destructive: bool,
    up: &'a [Step],
    down: &'a [Step],
    validate: &'a [Check],
    /// Absent for a migration without Rust steps, whose checksum stays what it was.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    rust: &'a BTreeMap<String, String>,
}

/// SHA-256 of the migration's meaning, as 64 lowercase hex digits; `rust` holds the
/// tokens of each function it names, by path.
pub fn of(m: &Migration, rust: &BTreeMap<String, String>) -> String {
    let meaning = Meaning {
        version: m.version,
        transaction: m.transaction,
        foreign_keys: m.foreign_keys,
        irreversible: m.irreversible,
        destructive: m.destructive,
        up: &m.up,
        down: &m.down,
        validate: &m.validate,
        rust,
    };
    let bytes = serde_json::to_vec(&meaning).expect("the model always serializes");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
