//! What a history row holds to revert its migration: the down steps as they were
//! applied, stored as JSON and decoded only by a downgrade that needs them.

use super::{Migration, Step};
use serde::{Deserialize, Serialize};

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
