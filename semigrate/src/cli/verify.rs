//! `semigrate verify`: run the current version's validations, change nothing.

use super::Invocation;
use crate::engine::Verified;
use crate::error::{Error, Result};

pub fn run(context: &Invocation) -> Result<String> {
    if let Some(line) = context.missing_store() {
        return Err(Error::Usage(format!("{line}: nothing to verify")));
    }
    let mut store = context.open_read_only()?;
    let verified = crate::engine::verify(&mut *store, context.migrations(), &context.options()?)?;
    Ok(match verified {
        Verified::Empty => format!("{} is empty (0.0.0): nothing to verify\n", store.describe()),
        Verified::Passed {
            at,
            validations,
            schema,
        } => format!(
            "{}: the {validations} validation{} of {at} pass; schema {}\n",
            store.describe(),
            if validations == 1 { "" } else { "s" },
            schema.summary()
        ),
    })
}
