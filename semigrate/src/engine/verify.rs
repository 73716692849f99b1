//! `verify`: the current version's validations and the schema check, run against the
//! store as it is; nothing changes.

use super::options::Options;
use super::plan::current;
use super::run::validate;
use super::schema_check::{SchemaCheck, SchemaState, check};
use crate::data::swap::Staging;
use crate::error::{Error, Result};
use crate::model::{Check, Migration, SemVer};
use crate::store::Store;

/// What `verify` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verified {
    /// Nothing is applied: nothing to verify.
    Empty,
    /// The store's version passed.
    Passed {
        /// The store's version.
        at: SemVer,
        /// How many validations it has, all of which passed.
        validations: usize,
        /// Its schema against the one compiled for it.
        schema: SchemaCheck,
    },
}

/// Compares `store`'s schema with the one compiled for its version, then runs that
/// version's validations; the first that fails is the error.
pub fn verify(store: &mut dyn Store, chain: &[Migration], options: &Options) -> Result<Verified> {
    let history = crate::store::checked_history(store)?;
    super::plan::refuse_another_chain(chain, &history)?;
    let at = current(&history);
    if at == SemVer::ZERO {
        return Ok(Verified::Empty);
    }
    let Some(m) = chain.iter().find(|m| m.version == at) else {
        return Err(Error::Refused(format!(
            "the store is at {at}, which this binary does not know: its validations are not compiled in"
        )));
    };
    let schema = check(store, chain, at, options.ignore_objects)?;
    if schema.state == SchemaState::Differs {
        return Err(Error::Schema(schema.listed()));
    }
    let files = Staging::new(&options.paths.data_dir);
    for (i, check) in m.validate.iter().enumerate() {
        validate(store, &files, at, check).map_err(|reason| Error::Validation {
            version: at,
            number: i + 1,
            sql: match check {
                Check::Sql { sql, .. } => sql.for_engine(store.engine()).map(str::to_owned),
                Check::Csv(_) | Check::Rust(_) => None,
            },
            reason,
        })?;
    }
    Ok(Verified::Passed {
        at,
        validations: m.validate.len(),
        schema,
    })
}
