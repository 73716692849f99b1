//! `migration_state.json` beside the database: the status after the last run, for
//! tools that read a file rather than the store. Written atomically: a reader sees the
//! old file or the new one, never half of either.

use super::status::Status;
use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

const TEMP_PREFIX: &str = ".migration_state.";

/// Deletes the temp files of writes that a crash cut short. Only runs that hold the
/// store's lock write the state file, so none of these belongs to a live writer.
fn sweep(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(TEMP_PREFIX) && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes `status` to `path`: a temp file in the same folder, fsync, rename, fsync the
/// folder. The temp file is removed if any step fails.
pub fn write(path: &Path, status: &Status) -> Result<()> {
    let io = |e: std::io::Error| Error::Io {
        path: path.display().to_string(),
        reason: format!("cannot write the state file: {e}"),
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut text = serde_json::to_vec_pretty(status).expect("status always serializes");
    text.push(b'\n');
    // A server's state file goes above the data folder, which a chain without CSV
    // steps never creates.
    crate::durable::create_dir_all(dir, 0o777).map_err(io)?;
    sweep(dir);
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(&text).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    crate::fault::point("state-file");
    tmp.persist(path).map_err(|e| io(e.error))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io)
}
