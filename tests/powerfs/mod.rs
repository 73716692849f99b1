//! A filesystem that forgets, for power-loss tests. Mounted over a folder with FUSE, it
//! passes every operation through to a backing folder, and remembers, for every file
//! and folder, what was last made durable: a file's bytes at its `fsync` or
//! `fdatasync`, a folder's entries at its `fsync`. [`Mounted::cut`] is the power cut:
//! it unmounts, then rewrites the backing folder to that durable state, dropping every
//! write, creation, rename and deletion not made durable since the mount. With
//! [`Cut::Random`] each file and folder keeps, or loses, what it was not told to make
//! durable, at random, as a disk that reorders its writes would.
//!
//! Mounting needs `/dev/fuse` and root (or `fusermount3`); the tests run as root here
//! and in CI.

#![allow(dead_code)]

use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, FopenFlags, Generation, INodeNo, LockOwner,
    MountOption, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The kernel asks again every time: what it sees is what the state says.
const TTL: Duration = Duration::ZERO;
const ROOT: u64 = 1;

/// What survives of a file or a folder after the power cut.
#[derive(Clone, Debug, PartialEq)]
enum Durable {
    File(Vec<u8>),
    Dir(BTreeMap<OsString, u64>),
}

struct Node {
    /// Where it is linked now: its folder and its name; None once unlinked.
    link: Option<(u64, OsString)>,
    /// A folder's entries now.
    entries: BTreeMap<OsString, u64>,
    durable: Durable,
}

impl Node {
    fn is_dir(&self) -> bool {
        matches!(self.durable, Durable::Dir(_))
    }
}

struct State {
    backing: PathBuf,
    nodes: HashMap<u64, Node>,
    next_ino: u64,
    handles: HashMap<u64, File>,
    next_fh: u64,
}

impl State {
    /// Everything under `backing` as it is now, all of it durable.
    fn scan(backing: &Path) -> State {
        let mut state = State {
            backing: backing.to_path_buf(),
            nodes: HashMap::new(),
            next_ino: ROOT + 1,
            handles: HashMap::new(),
            next_fh: 1,
        };
        state.nodes.insert(
            ROOT,
            Node {
                link: None,
                entries: BTreeMap::new(),
                durable: Durable::Dir(BTreeMap::new()),
            },
        );
        state.scan_dir(ROOT, backing);
        state
    }

    fn scan_dir(&mut self, ino: u64, dir: &Path) {
        let mut entries = BTreeMap::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let name = entry.file_name();
            let path = entry.path();
            let child = self.next_ino;
            self.next_ino += 1;
            let durable = if path.is_dir() {
                Durable::Dir(BTreeMap::new())
            } else {
                Durable::File(std::fs::read(&path).unwrap())
            };
            self.nodes.insert(
                child,
                Node {
                    link: Some((ino, name.clone())),
                    entries: BTreeMap::new(),
                    durable,
                },
            );
            if path.is_dir() {
                self.scan_dir(child, &path);
            }
            entries.insert(name, child);
        }
        let node = self.nodes.get_mut(&ino).unwrap();
        node.entries = entries.clone();
        node.durable = Durable::Dir(entries);
    }

    /// The backing path of a linked node.
    fn path(&self, ino: u64) -> Option<PathBuf> {
        let mut names = Vec::new();
        let mut at = ino;
        while at != ROOT {
            let (parent, name) = self.nodes.get(&at)?.link.clone()?;
            names.push(name);
            at = parent;
        }
        let mut path = self.backing.clone();
        path.extend(names.iter().rev());
        Some(path)
    }

    fn child(&self, parent: u64, name: &OsStr) -> Option<u64> {
        self.nodes.get(&parent)?.entries.get(name).copied()
    }

    fn add(&mut self, parent: u64, name: &OsStr, durable: Durable) -> u64 {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(
            ino,
            Node {
                link: Some((parent, name.to_owned())),
                entries: BTreeMap::new(),
                durable,
            },
        );
        self.nodes
            .get_mut(&parent)
            .unwrap()
            .entries
            .insert(name.to_owned(), ino);
        ino
    }

    /// Takes `name` out of `parent`; the node it named keeps what is durable of it.
    fn unlink(&mut self, parent: u64, name: &OsStr) {
        if let Some(ino) = self.nodes.get_mut(&parent).unwrap().entries.remove(name) {
            self.nodes.get_mut(&ino).unwrap().link = None;
        }
    }

    /// The tree as the disk holds it after a power cut: durable state, or with
    /// `rng`, for each node, durable or current at random.
    fn after_cut(&self, mut rng: Option<&mut Rng>) -> Tree {
        let mut seen = HashSet::new();
        self.tree_of(ROOT, &mut rng, &mut seen)
    }

    fn tree_of(&self, ino: u64, rng: &mut Option<&mut Rng>, seen: &mut HashSet<u64>) -> Tree {
        let node = &self.nodes[&ino];
        let keep_current = rng.as_mut().is_some_and(|r| r.coin());
        match &node.durable {
            Durable::File(durable) => {
                let current = keep_current
                    .then(|| self.path(ino).and_then(|p| std::fs::read(p).ok()))
                    .flatten();
                Tree::File(current.unwrap_or_else(|| durable.clone()))
            }
            Durable::Dir(durable) => {
                // A folder reached twice (renamed, both names durable) is kept once.
                if !seen.insert(ino) {
                    return Tree::Dir(BTreeMap::new());
                }
                let entries = if keep_current { &node.entries } else { durable };
                Tree::Dir(
                    entries
                        .iter()
                        .map(|(name, child)| (name.clone(), self.tree_of(*child, rng, seen)))
                        .collect(),
                )
            }
        }
    }
}

/// Files and folders as written back after a cut.
#[derive(Debug, PartialEq)]
enum Tree {
    File(Vec<u8>),
    Dir(BTreeMap<OsString, Tree>),
}

impl Tree {
    fn write(&self, path: &Path) {
        match self {
            Tree::File(bytes) => std::fs::write(path, bytes).unwrap(),
            Tree::Dir(entries) => {
                std::fs::create_dir_all(path).unwrap();
                for (name, tree) in entries {
                    tree.write(&path.join(name));
                }
            }
        }
    }
}

/// A small deterministic generator (xorshift), so that a failing cut can be replayed
/// from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

/// What a power cut keeps.
pub enum Cut {
    /// Only what was made durable.
    Durable,
    /// For each file and folder, what was made durable or, at random, what it holds
    /// now.
    Random(u64),
}

/// The filesystem, mounted.
pub struct Mounted {
    session: Option<fuser::BackgroundSession>,
    state: Arc<Mutex<State>>,
    backing: PathBuf,
}

impl Mounted {
    /// Mounts over `mountpoint` what `backing` holds, all of it taken as durable.
    pub fn new(backing: &Path, mountpoint: &Path) -> std::io::Result<Mounted> {
        let state = Arc::new(Mutex::new(State::scan(backing)));
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("semigrate-powerfs".into()),
            MountOption::DefaultPermissions,
        ];
        let session = fuser::spawn_mount(
            PowerFs {
                state: Arc::clone(&state),
            },
            mountpoint,
            &config,
        )?;
        Ok(Mounted {
            session: Some(session),
            state,
            backing: backing.to_path_buf(),
        })
    }

    /// Cuts the power: unmounts, and leaves in the backing folder only what `cut` keeps.
    pub fn cut(mut self, cut: Cut) {
        self.unmount();
        let state = self.state.lock().unwrap();
        let tree = match cut {
            Cut::Durable => state.after_cut(None),
            Cut::Random(seed) => state.after_cut(Some(&mut Rng::new(seed))),
        };
        for entry in std::fs::read_dir(&self.backing).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path).unwrap();
            } else {
                std::fs::remove_file(&path).unwrap();
            }
        }
        tree.write(&self.backing);
    }

    /// Unmounts with the power on: the backing folder keeps everything. A process
    /// killed in the middle of a request leaves the kernel to abort the connection
    /// (ECONNABORTED): the session has ended all the same, and the state is whole.
    pub fn unmount(&mut self) {
        if let Some(session) = self.session.take() {
            match session.umount_and_join() {
                Err(e) if e.kind() != std::io::ErrorKind::ConnectionAborted => {
                    panic!("cannot unmount: {e}")
                }
                _ => {}
            }
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let _ = session.umount_and_join();
        }
    }
}

struct PowerFs {
    state: Arc<Mutex<State>>,
}

fn attr(ino: u64, m: &Metadata) -> FileAttr {
    let time = |t: std::io::Result<SystemTime>| t.unwrap_or(UNIX_EPOCH);
    FileAttr {
        ino: INodeNo(ino),
        size: m.len(),
        blocks: m.blocks(),
        atime: time(m.accessed()),
        mtime: time(m.modified()),
        ctime: UNIX_EPOCH + Duration::from_secs(m.ctime().max(0) as u64),
        crtime: UNIX_EPOCH,
        kind: if m.is_dir() {
            FileType::Directory
        } else {
            FileType::RegularFile
        },
        perm: (m.mode() & 0o7777) as u16,
        nlink: m.nlink() as u32,
        uid: m.uid(),
        gid: m.gid(),
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

fn errno(e: std::io::Error) -> Errno {
    Errno::from(e)
}

impl PowerFs {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    fn entry(&self, state: &State, ino: u64, reply: ReplyEntry) {
        match state.path(ino).map(std::fs::symlink_metadata) {
            Some(Ok(m)) => reply.entry(&TTL, &attr(ino, &m), Generation(0)),
            Some(Err(e)) => reply.error(errno(e)),
            None => reply.error(Errno::ENOENT),
        }
    }

    /// Unlinks `name` from `parent` with `remove` (a file's or a folder's).
    fn remove(
        &self,
        parent: INodeNo,
        name: &OsStr,
        remove: fn(&Path) -> std::io::Result<()>,
        reply: ReplyEmpty,
    ) {
        let mut state = self.state();
        let Some(path) = state.path(parent.0).map(|p| p.join(name)) else {
            return reply.error(Errno::ENOENT);
        };
        match remove(&path) {
            Ok(()) => {
                state.unlink(parent.0, name);
                reply.ok();
            }
            Err(e) => reply.error(errno(e)),
        }
    }

    fn open_file(path: &Path, flags: i32) -> std::io::Result<File> {
        let write = flags & ACCMODE != 0;
        OpenOptions::new()
            .read(true)
            .write(write)
            .custom_flags(flags & !(ACCMODE | CREAT | EXCL))
            .open(path)
    }
}

/// open(2) flags (Linux): the access mode, and what only creation takes.
const ACCMODE: i32 = 0o3;
const CREAT: i32 = 0o100;
const EXCL: i32 = 0o200;

impl fuser::Filesystem for PowerFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let state = self.state();
        match state.child(parent.0, name) {
            Some(ino) => self.entry(&state, ino, reply),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let state = self.state();
        let meta = match fh.and_then(|fh| state.handles.get(&fh.0)) {
            Some(file) => file.metadata(),
            None => match state.path(ino.0) {
                Some(path) => std::fs::symlink_metadata(path),
                None => Err(std::io::ErrorKind::NotFound.into()),
            },
        };
        match meta {
            Ok(m) => reply.attr(&TTL, &attr(ino.0, &m)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let state = self.state();
        let Some(path) = state.path(ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        let done = (|| {
            if let Some(size) = size {
                match fh.and_then(|fh| state.handles.get(&fh.0)) {
                    Some(file) => file.set_len(size)?,
                    None => OpenOptions::new().write(true).open(&path)?.set_len(size)?,
                }
            }
            if let Some(mode) = mode {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o7777))?;
            }
            std::fs::symlink_metadata(&path)
        })();
        match done {
            Ok(m) => reply.attr(&TTL, &attr(ino.0, &m)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let mut state = self.state();
        let Some(path) = state.path(parent.0).map(|p| p.join(name)) else {
            return reply.error(Errno::ENOENT);
        };
        if let Err(e) = std::fs::DirBuilder::new().mode(mode & !umask).create(&path) {
            return reply.error(errno(e));
        }
        let ino = state.add(parent.0, name, Durable::Dir(BTreeMap::new()));
        self.entry(&state, ino, reply);
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let mut state = self.state();
        let Some(path) = state.path(parent.0).map(|p| p.join(name)) else {
            return reply.error(Errno::ENOENT);
        };
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .custom_flags(flags & !(ACCMODE | CREAT))
            .mode(mode & !umask)
            .open(&path);
        let file = match opened {
            Ok(file) => file,
            Err(e) => return reply.error(errno(e)),
        };
        // An existing name opened with O_CREAT is the same file; a new one starts with
        // nothing durable, not even its name.
        let ino = match state.child(parent.0, name) {
            Some(ino) => ino,
            None => state.add(parent.0, name, Durable::File(Vec::new())),
        };
        let meta = file.metadata();
        let fh = state.next_fh;
        state.next_fh += 1;
        state.handles.insert(fh, file);
        match meta {
            Ok(m) => reply.created(
                &TTL,
                &attr(ino, &m),
                Generation(0),
                FileHandle(fh),
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let mut state = self.state();
        let Some(path) = state.path(ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        match PowerFs::open_file(&path, flags.0) {
            Ok(file) => {
                let fh = state.next_fh;
                state.next_fh += 1;
                state.handles.insert(fh, file);
                reply.opened(FileHandle(fh), FopenFlags::empty());
            }
            Err(e) => reply.error(errno(e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let state = self.state();
        let Some(file) = state.handles.get(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        let mut buffer = vec![0; size as usize];
        let mut filled = 0;
        while filled < buffer.len() {
            match file.read_at(&mut buffer[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => return reply.error(errno(e)),
            }
        }
        reply.data(&buffer[..filled]);
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let state = self.state();
        let Some(file) = state.handles.get(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        match file.write_all_at(data, offset) {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.state().handles.remove(&fh.0);
        reply.ok();
    }

    /// The file's bytes, as they are now, become what survives a cut.
    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut state = self.state();
        let Some(file) = state.handles.get(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        let bytes = file.sync_all().and_then(|()| {
            let mut bytes = vec![0; file.metadata()?.len() as usize];
            file.read_exact_at(&mut bytes, 0)?;
            Ok(bytes)
        });
        match bytes {
            Ok(bytes) => {
                state.nodes.get_mut(&ino.0).unwrap().durable = Durable::File(bytes);
                reply.ok();
            }
            Err(e) => reply.error(errno(e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let state = self.state();
        let Some(node) = state.nodes.get(&ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        let parent = node.link.as_ref().map_or(ROOT, |(p, _)| *p);
        let mut all = vec![
            (ino.0, FileType::Directory, OsString::from(".")),
            (parent, FileType::Directory, OsString::from("..")),
        ];
        for (name, child) in &node.entries {
            let kind = match state.nodes[child].is_dir() {
                true => FileType::Directory,
                false => FileType::RegularFile,
            };
            all.push((*child, kind, name.clone()));
        }
        for (i, (child, kind, name)) in all.into_iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(child), (i + 1) as u64, kind, &name) {
                break;
            }
        }
        reply.ok();
    }

    /// The folder's entries, as they are now, become what survives a cut.
    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut state = self.state();
        let synced = state
            .path(ino.0)
            .map(|p| File::open(p).and_then(|d| d.sync_all()));
        match synced {
            Some(Ok(())) => {
                let node = state.nodes.get_mut(&ino.0).unwrap();
                node.durable = Durable::Dir(node.entries.clone());
                reply.ok();
            }
            Some(Err(e)) => reply.error(errno(e)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, |p| std::fs::remove_file(p), reply);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, |p| std::fs::remove_dir(p), reply);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if !flags.is_empty() {
            return reply.error(Errno::EINVAL);
        }
        let mut state = self.state();
        let (Some(from), Some(to)) = (
            state.path(parent.0).map(|p| p.join(name)),
            state.path(newparent.0).map(|p| p.join(newname)),
        ) else {
            return reply.error(Errno::ENOENT);
        };
        if let Err(e) = std::fs::rename(from, to) {
            return reply.error(errno(e));
        }
        let moved = state
            .nodes
            .get_mut(&parent.0)
            .unwrap()
            .entries
            .remove(name)
            .expect("the kernel renames what it looked up");
        state.unlink(newparent.0, newname);
        state
            .nodes
            .get_mut(&newparent.0)
            .unwrap()
            .entries
            .insert(newname.to_owned(), moved);
        state.nodes.get_mut(&moved).unwrap().link = Some((newparent.0, newname.to_owned()));
        reply.ok();
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        reply.ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backing folder with `a.txt` ("old") and a mount over another folder.
    fn mounted() -> (tempfile::TempDir, PathBuf, PathBuf, Mounted) {
        let dir = tempfile::tempdir().unwrap();
        let backing = dir.path().join("backing");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir_all(&backing).unwrap();
        std::fs::create_dir_all(&mnt).unwrap();
        std::fs::write(backing.join("a.txt"), "old").unwrap();
        let m = Mounted::new(&backing, &mnt).unwrap();
        (dir, backing, mnt, m)
    }

    fn sync_dir(dir: &Path) {
        File::open(dir).unwrap().sync_all().unwrap();
    }

    #[test]
    fn an_unsynced_write_is_lost_and_a_synced_one_kept() {
        let (_dir, backing, mnt, m) = mounted();
        std::fs::write(mnt.join("a.txt"), "new").unwrap();
        assert_eq!(std::fs::read_to_string(mnt.join("a.txt")).unwrap(), "new");
        m.cut(Cut::Durable);
        assert_eq!(
            std::fs::read_to_string(backing.join("a.txt")).unwrap(),
            "old"
        );

        let m = Mounted::new(&backing, &mnt).unwrap();
        let mut f = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(mnt.join("a.txt"))
            .unwrap();
        std::io::Write::write_all(&mut f, b"synced").unwrap();
        f.sync_data().unwrap();
        drop(f);
        m.cut(Cut::Durable);
        assert_eq!(
            std::fs::read_to_string(backing.join("a.txt")).unwrap(),
            "synced"
        );
    }

    #[test]
    fn an_unsynced_creation_is_lost_and_a_synced_one_kept() {
        let (_dir, backing, mnt, m) = mounted();
        // The file's data is synced, its folder's entry is not: the file is lost.
        let f = File::create(mnt.join("b.txt")).unwrap();
        f.sync_all().unwrap();
        drop(f);
        std::fs::create_dir(mnt.join("sub")).unwrap();
        m.cut(Cut::Durable);
        assert!(!backing.join("b.txt").exists());
        assert!(!backing.join("sub").exists());

        let m = Mounted::new(&backing, &mnt).unwrap();
        let mut f = File::create(mnt.join("b.txt")).unwrap();
        std::io::Write::write_all(&mut f, b"kept").unwrap();
        f.sync_all().unwrap();
        drop(f);
        sync_dir(&mnt);
        m.cut(Cut::Durable);
        assert_eq!(
            std::fs::read_to_string(backing.join("b.txt")).unwrap(),
            "kept"
        );
    }

    #[test]
    fn an_unsynced_rename_or_deletion_is_undone_and_a_synced_one_kept() {
        let (_dir, backing, mnt, m) = mounted();
        std::fs::rename(mnt.join("a.txt"), mnt.join("c.txt")).unwrap();
        m.cut(Cut::Durable);
        assert_eq!(
            std::fs::read_to_string(backing.join("a.txt")).unwrap(),
            "old"
        );
        assert!(!backing.join("c.txt").exists());

        let m = Mounted::new(&backing, &mnt).unwrap();
        std::fs::remove_file(mnt.join("a.txt")).unwrap();
        m.cut(Cut::Durable);
        assert_eq!(
            std::fs::read_to_string(backing.join("a.txt")).unwrap(),
            "old"
        );

        let m = Mounted::new(&backing, &mnt).unwrap();
        std::fs::rename(mnt.join("a.txt"), mnt.join("c.txt")).unwrap();
        sync_dir(&mnt);
        m.cut(Cut::Durable);
        assert!(!backing.join("a.txt").exists());
        assert_eq!(
            std::fs::read_to_string(backing.join("c.txt")).unwrap(),
            "old"
        );
    }

    #[test]
    fn a_random_cut_keeps_some_of_what_was_not_synced() {
        let outcomes: HashSet<bool> = (0..16)
            .map(|seed| {
                let (_dir, backing, mnt, m) = mounted();
                std::fs::write(mnt.join("a.txt"), "new").unwrap();
                m.cut(Cut::Random(seed));
                std::fs::read_to_string(backing.join("a.txt")).unwrap() == "new"
            })
            .collect();
        assert_eq!(
            outcomes.len(),
            2,
            "16 random cuts all kept, or all lost, the write"
        );
    }
}
