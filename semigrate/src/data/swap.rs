//! CSV files changed in step with the store's commit.
//!
//! Each step writes a temp file beside its target and fsyncs it; nothing is renamed
//! yet. The store's transaction records the swaps to do (the journal) with the history
//! row; after the commit the temps are renamed over their targets and the folders
//! fsynced, and then the journal is cleared. A crash before the commit leaves temps
//! that the next run deletes; a crash after it leaves a journal that the next run
//! carries out. Either way the files end fully at N or fully at N+1.

use super::stream::{self, Stats};
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
}

/// The files a migration has staged, by target.
pub struct Staging {
    data_dir: PathBuf,
    staged: BTreeMap<PathBuf, Option<PathBuf>>,
    written: u32,
    /// Set once the swaps are handed to the journal: the temps then belong to it.
    committed: bool,
}

impl Staging {
    /// Staging for the CSV files under `data_dir`.
    pub fn new(data_dir: &Path) -> Staging {
        Staging {
            data_dir: std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf()),
            staged: BTreeMap::new(),
            written: 0,
            committed: false,
        }
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
            Some(staged) => staged.clone(),
            None => target.exists().then_some(target),
        }
    }

    /// Runs one CSV step into a new temp file and stages it; `progress` hears of the
    /// bytes read, as `stream::transform` reports them.
    pub fn run(
        &mut self,
        step: &CsvStep,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Stats, String> {
        let target = self.target(&step.path);
        let shown = step.path.to_string();
        let source = self.current(&step.path);
        let (stats, staged) = match step.ops.first() {
            Some(CsvOp::Create { columns, seed }) => {
                if source.is_some() {
                    return Err(format!("{shown} exists already; `create` makes a new file"));
                }
                if let Some(dir) = target.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
                }
                let temp = self.temp_for(&target);
                (
                    stream::create(&temp, step.delimiter, columns, seed.as_deref()),
                    Some(temp),
                )
            }
            Some(CsvOp::Delete) => {
                if source.is_none() {
                    return Err(format!("{shown} does not exist, so it cannot be deleted"));
                }
                (Ok(Stats::default()), None)
            }
            _ => {
                let source = source.ok_or_else(|| {
                    format!("{shown} does not exist (in {})", self.data_dir.display())
                })?;
                let temp = self.temp_for(&target);
                (
                    stream::transform(&source, &temp, step, &shown, progress),
                    Some(temp),
                )
            }
        };
        if let (Err(_), Some(temp)) = (&stats, &staged) {
            let _ = std::fs::remove_file(temp);
        }
        let stats = stats?;
        // An earlier temp of this migration for the same file is now superseded.
        if let Some(Some(old)) = self.staged.insert(target, staged) {
            let _ = std::fs::remove_file(old);
        }
        Ok(stats)
    }

    fn temp_for(&mut self, target: &Path) -> PathBuf {
        self.written += 1;
        let name = target.file_name().unwrap_or_default().to_string_lossy();
        target.with_file_name(format!("{name}{TEMP_MARK}{}", self.written))
    }

    /// The swaps to record in the journal, in the transaction that commits them.
    pub fn swaps(&self) -> Vec<Swap> {
        self.staged
            .iter()
            .map(|(target, temp)| Swap {
                target: target.clone(),
                temp: temp.clone(),
            })
            .collect()
    }

    /// Called once the journal holding `swaps()` is committed: the temps are no longer
    /// this value's to delete.
    pub fn committed(mut self) -> Vec<Swap> {
        self.committed = true;
        self.swaps()
    }
}

impl Drop for Staging {
    /// A migration that did not commit leaves no temp file behind.
    fn drop(&mut self) {
        if !self.committed {
            for temp in self.staged.values().flatten() {
                let _ = std::fs::remove_file(temp);
            }
        }
    }
}

/// Carries out committed swaps: each temp renamed over its target, or the target
/// deleted; then each folder fsynced so that the renames are on disk. Safe to repeat:
/// a swap already done is skipped.
pub fn finish(swaps: &[Swap]) -> std::io::Result<()> {
    let mut folders = Vec::new();
    for swap in swaps {
        match &swap.temp {
            Some(temp) if temp.exists() => std::fs::rename(temp, &swap.target)?,
            Some(_) => {}
            None => match std::fs::remove_file(&swap.target) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            },
        }
        if let Some(dir) = swap.target.parent()
            && !folders.contains(&dir)
        {
            folders.push(dir);
        }
        crate::fault::point("between-swaps");
    }
    for dir in folders {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
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
