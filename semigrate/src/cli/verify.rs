//! `semigrate verify`: run the current version's validations, change nothing.

use super::Context;
use crate::data::swap::Staging;
use crate::engine::plan::current;
use crate::engine::run::validate;
use crate::engine::schema_check::{Standing, check};
use crate::error::{Error, Result};
use crate::model::{Check, SemVer};

pub fn run(context: &Context) -> Result<String> {
    if let Some(line) = context.missing_store() {
        return Err(Error::Usage(format!("{line}: nothing to verify")));
    }
    let mut store = context.open_read_only()?;
    let history = crate::store::checked_history(&mut *store)?;
    let at = current(&history);
    if at == SemVer::ZERO {
        return Ok(format!(
            "{} is empty (0.0.0): nothing to verify\n",
            store.describe()
        ));
    }
    let Some(m) = context.migrations().iter().find(|m| m.version == at) else {
        return Err(Error::Refused(format!(
            "the store is at {at}, which this binary does not know: its validations are not compiled in"
        )));
    };
    let check = check(
        &mut *store,
        context.migrations(),
        at,
        context.chain.settings.ignore_objects,
    )?;
    if check.state == Standing::Differs {
        return Err(Error::Schema(check.listed()));
    }
    let files = Staging::new(&context.paths()?.data_dir);
    for (i, check) in m.validate.iter().enumerate() {
        validate(&mut *store, &files, at, check).map_err(|reason| Error::Validation {
            version: at,
            number: i + 1,
            sql: match check {
                Check::Sql { sql, .. } => sql.for_engine(store.engine()).map(str::to_owned),
                Check::Csv(_) | Check::Rust(_) => None,
            },
            reason,
        })?;
    }
    Ok(format!(
        "{}: the {} validation{} of {at} pass; schema {}\n",
        store.describe(),
        m.validate.len(),
        if m.validate.len() == 1 { "" } else { "s" },
        check.summary()
    ))
}
