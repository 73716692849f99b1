//! Backups before a run that changes something: the database through SQLite's online
//! backup API, and the CSV files the plan touches, under `backup_dir` as
//! `<db stem>-<from version>-<UTC time>.db` and a folder of the same name. Files are
//! created 0600 and folders 0700 before anything is written into them, so no copy is
//! ever readable by others, not even for an instant.

use super::plan::Plan;
use crate::data::swap::Staging;
use crate::durable::{self, sync_folder};
use crate::error::{Error, Result};
use crate::model::{Engine, SemVer, Step};
use crate::store::Store;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Where a backup went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backup {
    /// The copy of the database.
    pub database: PathBuf,
    /// The folder holding the CSV files, when the plan touches any that exist.
    pub files: Option<PathBuf>,
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        reason: format!("cannot write the backup: {e}"),
    }
}

fn stem(database: &Path) -> String {
    database
        .file_stem()
        .map_or_else(|| "store".into(), |s| s.to_string_lossy().into_owned())
}

/// Whether a backup would hold anything: a store with no table at all and no CSV file
/// that the plan touches (a new store's first upgrade) has nothing to save.
pub fn has_anything(store: &mut dyn Store, plan: &Plan, files: &Staging) -> Result<bool> {
    let touched = touched(plan)
        .into_iter()
        .any(|p| files.current(p).is_some());
    if touched {
        return Ok(true);
    }
    let schema = store.schema_text().map_err(|reason| Error::Store {
        database: store.describe(),
        reason,
    })?;
    Ok(!schema.is_empty())
}

/// The CSV files the plan's steps name, each once.
fn touched<'a>(plan: &'a Plan) -> Vec<&'a str> {
    let mut touched: Vec<&str> = plan
        .items
        .iter()
        .flat_map(|i| i.steps.iter())
        .filter_map(|s| match s {
            Step::Csv(c) => Some(c.path.as_ref()),
            Step::Export(e) => Some(e.path.as_ref()),
            Step::Sql(_) | Step::Rust(_) | Step::Load(_) | Step::Unload(_) => None,
        })
        .collect();
    touched.sort_unstable();
    touched.dedup();
    touched
}

/// Backs up the store and the files `plan` touches, then keeps only the newest `keep`
/// backups of this store. A backup that fails is removed, and the run does not start.
pub fn write(
    store: &mut dyn Store,
    database: &Path,
    plan: &Plan,
    files: &Staging,
    backup_dir: &Path,
    keep: usize,
) -> Result<Backup> {
    durable::create_dir_all(backup_dir, 0o700).map_err(|e| io_error(backup_dir, e))?;
    // 2026-11-24T18:46:07.123Z -> 20261124T184607123Z: sortable, no colons.
    let time: String = store
        .now()?
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let name = format!("{}-{}-{time}", stem(database), plan.from);
    // A SQLite file copies as a SQLite file; PostgreSQL's is pg_dump's custom format.
    let extension = match store.engine() {
        Engine::Sqlite => "db",
        Engine::Postgres => "dump",
    };
    let db_copy = backup_dir.join(format!("{name}.{extension}"));
    let written = copy_all(store, plan, files, backup_dir, &name, &db_copy);
    if written.is_err() {
        let _ = std::fs::remove_file(&db_copy);
        let _ = std::fs::remove_dir_all(backup_dir.join(&name));
    }
    let backup = written?;
    prune(backup_dir, &stem(database), keep);
    Ok(backup)
}

fn copy_all(
    store: &mut dyn Store,
    plan: &Plan,
    files: &Staging,
    backup_dir: &Path,
    name: &str,
    db_copy: &Path,
) -> Result<Backup> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(db_copy)
        .map_err(|e| io_error(db_copy, e))?;
    store.backup(db_copy)?;
    let folder = backup_dir.join(name);
    let mut copies = Vec::new();
    for path in touched(plan) {
        let Some(source) = files.current(path) else {
            continue;
        };
        let copy = folder.join(path);
        if let Some(dir) = copy.parent() {
            durable::create_dir_all(dir, 0o700).map_err(|e| io_error(dir, e))?;
        }
        let mut to = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&copy)
            .map_err(|e| io_error(&copy, e))?;
        let mut from = std::fs::File::open(&source).map_err(|e| io_error(&source, e))?;
        std::io::copy(&mut from, &mut to).map_err(|e| io_error(&copy, e))?;
        to.sync_all().map_err(|e| io_error(&copy, e))?;
        copies.push(copy);
    }
    let copied = !copies.is_empty();
    // Announced only once on disk: the copies' data, then the folders' entries.
    std::fs::File::open(db_copy)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error(db_copy, e))?;
    let mut folders = vec![backup_dir.to_path_buf()];
    if copied {
        folders.extend(
            copies
                .iter()
                .filter_map(|c| c.parent().map(Path::to_path_buf)),
        );
        folders.push(folder.clone());
    }
    folders.sort();
    folders.dedup();
    for dir in &folders {
        sync_folder(dir).map_err(|e| io_error(dir, e))?;
    }
    Ok(Backup {
        database: db_copy.to_path_buf(),
        files: copied.then_some(folder),
    })
}

/// This store's backups, oldest first: `<stem>-<version>-<time>.db` (or `.dump`),
/// ordered by time.
fn backups(backup_dir: &Path, stem: &str) -> Vec<(String, PathBuf)> {
    let prefix = format!("{stem}-");
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(backup_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix(&prefix)?;
            let rest = rest
                .strip_suffix(".db")
                .or_else(|| rest.strip_suffix(".dump"))?;
            let (version, time) = rest.rsplit_once('-')?;
            SemVer::parse(version).ok()?;
            Some((time.to_owned(), entry.path()))
        })
        .collect();
    found.sort();
    found
}

/// The newest backup of the store at `database`, if any.
pub fn latest(backup_dir: &Path, database: &Path) -> Option<PathBuf> {
    backups(backup_dir, &stem(database))
        .pop()
        .map(|(_, path)| path)
}

/// Deletes all but the newest `keep` backups of a store, with their CSV folders.
fn prune(backup_dir: &Path, stem: &str, keep: usize) {
    let all = backups(backup_dir, stem);
    let excess = all.len().saturating_sub(keep.max(1));
    for (_, db) in all.into_iter().take(excess) {
        let _ = std::fs::remove_dir_all(db.with_extension(""));
        let _ = std::fs::remove_file(db);
    }
}
