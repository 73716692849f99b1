//! A data folder belongs to one store: the first run that finds it (or makes it)
//! writes the store's name into `.semigrate-store` there, and a run of another store
//! on that folder is refused before it changes anything. Two stores sharing a folder
//! would migrate each other's CSV files. A SQLite store is named by where its file
//! stands from the folder (`../app.db`), so that a store copied or moved with its
//! folders (a restored backup, a machine's folder copied) is still the folder's; one
//! moved without them, its old place now empty, takes the folder over. A PostgreSQL
//! store is named by its server, database and schema.

use super::paths::Paths;
use crate::error::{Error, Result};
use crate::model::Engine;
use crate::store::Store;
use std::path::Path;

/// The marker's name, in the data folder.
pub const MARKER: &str = ".semigrate-store";

/// The store as the marker names it: `sqlite ../app.db` (from the data folder), or
/// `postgres host:5432/app app.tenant_1` (the user and password left out).
fn identity(store: &dyn Store, paths: &Paths) -> String {
    match store.engine() {
        Engine::Sqlite => {
            // Both are absolute: from the root, one is a path from the other.
            let root = |p: &'_ Path| p.strip_prefix("/").unwrap_or(p).to_path_buf();
            let from = super::paths::relative(&root(&paths.anchor), &root(&paths.data_dir));
            format!("sqlite {}", from.display())
        }
        Engine::Postgres => {
            let shown = store.describe();
            let place = shown.rsplit_once('@').map_or(shown.as_str(), |(_, p)| p);
            let name = paths
                .anchor
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("postgres {place} {name}")
        }
    }
}

/// Refuses a data folder that another store's run bound; binds an unbound one that
/// exists, and one whose SQLite store moved away.
pub fn check(store: &dyn Store, paths: &Paths) -> Result<()> {
    let marker = paths.data_dir.join(MARKER);
    let me = identity(store, paths);
    let io = |e: std::io::Error| Error::Io {
        path: marker.display().to_string(),
        reason: format!("cannot read or write the data folder's marker: {e}"),
    };
    let owner = match std::fs::read_to_string(&marker) {
        Ok(text) => text.trim_end().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !paths.data_dir.is_dir() {
                return Ok(());
            }
            return bind(&marker, &me).map_err(io);
        }
        Err(e) => return Err(io(e)),
    };
    if owner == me {
        return Ok(());
    }
    let moved = owner
        .strip_prefix("sqlite ")
        .is_some_and(|file| !paths.data_dir.join(file).exists())
        && store.engine() == Engine::Sqlite;
    if moved {
        return bind(&marker, &me).map_err(io);
    }
    Err(Error::Refused(format!(
        "the data folder {} belongs to another store ({owner}, from the folder), not to \
         this one ({me}): give this store a folder of its own with --data-dir (and \
         --backup-dir), or, if that store is gone for good, delete {}",
        paths.data_dir.display(),
        marker.display()
    )))
}

fn bind(marker: &Path, me: &str) -> std::io::Result<()> {
    crate::durable::replace(
        marker,
        format!("{me}\n").as_bytes(),
        ".semigrate-store.",
        "store-marker",
    )
}
