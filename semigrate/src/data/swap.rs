//! CSV files changed in step with the store's commit, durably: the protocol, each
//! fsync with the failure it prevents, is in RELIABILITY.md.
//!
//! Each step writes a temp file beside its target and fsyncs it; nothing is renamed
//! yet. Before the commit, `seal` fsyncs the temps' folders (else a power cut could
//! lose a temp's name after the store committed) and fingerprints each temp. The
//! store's transaction records the swaps (the journal) with those fingerprints and
//! the history row; after the commit the temps are renamed over their targets and the
//! folders fsynced, and then the journal is cleared. A crash before the commit leaves
//! temps that the next run deletes; a crash after it leaves a journal that the next run
//! carries out, accepting a missing temp as done only when its target holds the
//! fingerprinted content. Either way the files end fully at N or fully at N+1, or the
//! run stops and says which file lost what.

use super::stream::{self, Stats};
use crate::durable::sync_folder;
use crate::durable::writer::Content;
use crate::durable::writer::ThreadedWriter;
use crate::model::{CsvOp, CsvStep};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The marker in the names of temp files, which sweeping relies on.
const TEMP_MARK: &str = ".semigrate-tmp";

/// One swap the journal records: `temp` renamed over `target`, or `target` deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Swap {
    /// The CSV file the swap replaces or deletes.
    pub target: PathBuf,
    /// The file renamed over the target; None deletes the target.
    pub temp: Option<PathBuf>,
    /// What the target holds once the swap is done: the temp's fingerprint. None for a
    /// delete, and in journals written before fingerprints were recorded.
    pub content: Option<Content>,
}

/// The files a migration has staged, by target.
pub struct Staging {
    data_dir: PathBuf,
    /// Each target's staged temp and its content, or None for a deletion.
    staged: BTreeMap<PathBuf, Option<(PathBuf, Content)>>,
    /// Set once the swaps are handed to the journal: the temps then belong to it.
    committed: bool,
}

impl Staging {
    /// Staging for the CSV files under `data_dir`.
    pub fn new(data_dir: &Path) -> Staging {
        Staging {
            data_dir: std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf()),
            staged: BTreeMap::new(),
            committed: false,
        }
    }

    /// The folder CSV paths are relative to, made absolute.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Where the CSV file `path` (relative to the data folder) lives.
    pub fn target(&self, path: &str) -> PathBuf {
        self.data_dir.join(path)
    }

    /// Where the file's current content is: its staged temp, or the file itself;
    /// `None` when it does not exist (or this migration deleted it).
    pub fn current(&self, path: &str) -> Option<PathBuf> {
        let target = self.target(path);
        match self.staged.get(&target) {
            Some(staged) => staged.as_ref().map(|(temp, _)| temp.clone()),
            None => target.exists().then_some(target),
        }
    }

    /// Runs one CSV step into a new temp file and stages it; `progress` hears of the
    /// bytes read, as `stream::transform` reports them. Returns the rows written.
    pub fn run(
        &mut self,
        step: &CsvStep,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64, String> {
        let target = self.target(&step.path);
        let shown = step.path.to_string();
        let source = self.current(&step.path);
        let temp = self.temp_for(&target);
        let written = match step.ops.first() {
            Some(CsvOp::Create { columns, seed }) => {
                if source.is_some() {
                    return Err(format!("{shown} exists already; `create` makes a new file"));
                }
                if let Some(dir) = target.parent() {
                    crate::durable::create_dir_all(dir, 0o777)
                        .map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
                }
                stream::create(&temp, step.delimiter, columns, seed.as_deref())
            }
            Some(CsvOp::Delete) => {
                if source.is_none() {
                    return Err(format!("{shown} does not exist, so it cannot be deleted"));
                }
                self.stage(target, None);
                return Ok(0);
            }
            _ => {
                let source = source.ok_or_else(|| {
                    format!("{shown} does not exist (in {})", self.data_dir.display())
                })?;
                stream::Split::from_env().and_then(|split| {
                    stream::transform(&source, &temp, step, &shown, split, progress)
                })
            }
        };
        self.staged_or_removed(target, temp, written)
            .map(|stats| stats.rows)
    }

    /// Writes a new version of the CSV file `path` with `write` (an export) into a temp
    /// file, fsyncs it, and stages it as `run` does.
    pub fn write(
        &mut self,
        path: &str,
        write: &mut dyn FnMut(&mut dyn std::io::Write) -> Result<u64, String>,
    ) -> Result<u64, String> {
        let target = self.target(path);
        if let Some(dir) = target.parent() {
            crate::durable::create_dir_all(dir, 0o777)
                .map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
        }
        let temp = self.temp_for(&target);
        let written = (|| {
            let file = std::fs::File::create(&temp).map_err(|e| format!("{path}: {e}"))?;
            // Written, its write-back started and at last fsynced on a second thread,
            // as a transform's output is.
            let mut out = ThreadedWriter::new(file);
            let rows = write(&mut out);
            // The thread is done with the temp file either way before it is removed.
            let finished = out.finish().map_err(|e| format!("{path}: {e}"));
            let rows = rows?;
            finished.map(|content| Stats { rows, content })
        })();
        self.staged_or_removed(target, temp, written)
            .map(|stats| stats.rows)
    }

    /// Stages `temp` as the new `target` once it is written, or removes it.
    fn staged_or_removed(
        &mut self,
        target: PathBuf,
        temp: PathBuf,
        written: Result<Stats, String>,
    ) -> Result<Stats, String> {
        match written {
            Ok(stats) => {
                self.stage(target, Some((temp, stats.content)));
                Ok(stats)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                Err(e)
            }
        }
    }

    /// Stages the new content of `target` (None: its deletion); an earlier temp of this
    /// migration for the same file is now superseded.
    fn stage(&mut self, target: PathBuf, staged: Option<(PathBuf, Content)>) {
        if let Some(Some((old, _))) = self.staged.insert(target, staged) {
            let _ = std::fs::remove_file(old);
        }
    }

    /// A temp's name has a number no other temp of the process has: the journal may
    /// still name an earlier migration's temps, whose swaps were carried out (their
    /// rows go with the next migration's commit, `engine::run`), and a crash must never
    /// find there a temp of a migration that did not commit.
    fn temp_for(&mut self, target: &Path) -> PathBuf {
        static WRITTEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITTEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let name = target.file_name().unwrap_or_default().to_string_lossy();
        target.with_file_name(format!("{name}{TEMP_MARK}{n}"))
    }

    /// Makes the staged temps durable and returns the swaps to record in the journal,
    /// in the transaction that commits them: each temp's folder fsynced (the temps'
    /// data already is), and each temp fingerprinted. The folders in `also` are synced
    /// with them, in one sync each where they are the same folder.
    pub fn seal(&self, also: &[PathBuf]) -> std::io::Result<Vec<Swap>> {
        let mut folders: Vec<&Path> = also.iter().map(PathBuf::as_path).collect();
        let mut swaps = Vec::with_capacity(self.staged.len());
        for (target, staged) in &self.staged {
            if let Some((temp, _)) = staged
                && let Some(dir) = temp.parent()
                && !folders.contains(&dir)
            {
                folders.push(dir);
            }
            swaps.push(Swap {
                target: target.clone(),
                temp: staged.as_ref().map(|(temp, _)| temp.clone()),
                content: staged.as_ref().map(|&(_, content)| content),
            });
        }
        for dir in folders {
            sync_folder(dir)?;
        }
        Ok(swaps)
    }

    /// Called once the journal holding the sealed swaps is committed: the temps are no
    /// longer this value's to delete.
    pub fn committed(mut self) {
        self.committed = true;
    }
}

impl Drop for Staging {
    /// A migration that did not commit leaves no temp file behind.
    fn drop(&mut self) {
        if !self.committed {
            for (temp, _) in self.staged.values().flatten() {
                let _ = std::fs::remove_file(temp);
            }
        }
    }
}

/// Why committed swaps could not all be carried out.
#[derive(Debug)]
pub enum Unfinished {
    /// The file system refused a rename or a delete; a later run may succeed.
    Io(std::io::Error),
    /// A temp is gone, and its target does not hold the content the journal recorded:
    /// the committed content was lost (its temp's creation never reached the disk).
    Lost(PathBuf),
}

/// Carries out committed swaps: each temp renamed over its target, or the target
/// deleted. Returns the folders changed, which must be synced before the swaps' rows
/// leave the journal: until then a power cut may undo a rename, and the rows are what
/// carries it out again. Safe to repeat: a swap already done is skipped, once its
/// target is seen to hold what it should.
pub fn finish(swaps: &[Swap]) -> Result<Vec<PathBuf>, Unfinished> {
    let mut folders: Vec<PathBuf> = Vec::new();
    for swap in swaps {
        match &swap.temp {
            Some(temp) => match std::fs::rename(temp, &swap.target) {
                Ok(()) => {}
                // Renamed by an earlier run, or never durable: the content tells which.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if let Some(content) = swap.content
                        && Content::of(&swap.target).ok() != Some(content)
                    {
                        return Err(Unfinished::Lost(swap.target.clone()));
                    }
                }
                Err(e) => return Err(Unfinished::Io(e)),
            },
            None => match std::fs::remove_file(&swap.target) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Unfinished::Io(e));
                }
                _ => {}
            },
        }
        if let Some(dir) = swap.target.parent()
            && !folders.iter().any(|f| f == dir)
        {
            folders.push(dir.to_path_buf());
        }
        crate::fault::point("between-swaps");
    }
    Ok(folders)
}

/// Deletes the temps an interrupted, uncommitted run left beside `targets`.
pub fn sweep<'a>(targets: impl IntoIterator<Item = &'a Path>) {
    for target in targets {
        let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
            continue;
        };
        let prefix = format!("{}{TEMP_MARK}", name.to_string_lossy());
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}
