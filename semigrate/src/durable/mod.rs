//! Making the file system's own changes durable: a new or renamed entry lasts a power
//! cut only once its folder is fsynced, and a new folder only once its parent is.

pub mod writer;

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// Makes a folder's entries (creations, renames, deletions) durable.
pub fn sync_folder(dir: &Path) -> std::io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::File::open(dir)?.sync_all()
}

/// Creates `dir` and its missing ancestors with `mode`, each new one made durable in
/// its parent.
pub fn create_dir_all(dir: &Path, mode: u32) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_all(parent, mode)?;
    }
    match DirBuilder::new().mode(mode).create(dir) {
        // Another run made it meanwhile: it is there, made durable by that run.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
        Ok(()) => sync_folder(dir.parent().unwrap_or(Path::new(""))),
    }
}

/// Replaces `path` with `bytes` as one step: a temp file (`{prefix}…tmp`) in the same
/// folder, fsync, the fault point `fault`, rename, fsync the folder; a reader sees the
/// old file or the new one, never half of either. Temps that a crash left behind are
/// swept first (only a run holding the store's lock writes these files); the temp is
/// removed if any step fails.
pub fn replace(path: &Path, bytes: &[u8], prefix: &str, fault: &str) -> std::io::Result<()> {
    replace_with(path, prefix, fault, |out| out.write_all(bytes))
}

/// `replace`, the new content written by `write` as it comes: a large file (a fleet's
/// report) is never held whole in memory.
pub fn replace_with(
    path: &Path,
    prefix: &str,
    fault: &str,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    create_dir_all(dir, 0o777)?;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".tmp")
        .tempfile_in(dir)?;
    let mut out = std::io::BufWriter::new(tmp.as_file_mut());
    write(&mut out)?;
    std::io::Write::flush(&mut out)?;
    drop(out);
    tmp.as_file().sync_all()?;
    crate::fault::point(fault);
    tmp.persist(path).map_err(|e| e.error)?;
    sync_folder(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_created_with_their_mode_and_again_without_error() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b/c");
        create_dir_all(&deep, 0o700).unwrap();
        create_dir_all(&deep, 0o700).unwrap();
        let mode = std::fs::metadata(root.path().join("a/b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::write(root.path().join("file"), "x").unwrap();
        assert!(create_dir_all(&root.path().join("file/below"), 0o700).is_err());
    }
}
