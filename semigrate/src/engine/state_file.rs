//! `migration_state.json` beside the database: the status after the last run, for
//! tools that read a file rather than the store. Written atomically: a reader sees the
//! old file or the new one, never half of either.

use super::status::Status;
use crate::error::{Error, Result};
use std::path::Path;

/// Writes `status` to `path`, atomically (`durable::replace`). A server's state file
/// goes in a folder that a chain without CSV steps never creates: it is made here.
pub fn write(path: &Path, status: &Status) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(status).expect("status always serializes");
    text.push(b'\n');
    crate::durable::replace(path, &text, ".migration_state.", "state-file").map_err(|e| Error::Io {
        path: path.display().to_string(),
        reason: format!("cannot write the state file: {e}"),
    })
}
