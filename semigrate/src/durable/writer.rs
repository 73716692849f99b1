//! Writing a file to be made durable: counted and hashed as it is written (the
//! fingerprint the swap journal records, known without reading the file back), its
//! write-back started as it goes, and fsynced at the end.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// The size of the chunks a `ThreadedWriter` hands to its thread.
const BUFFER: usize = 1 << 20;

/// A file's length and the XXH3 hash of its bytes: enough to tell the content a swap
/// committed from the one it replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Content {
    /// Bytes.
    pub length: u64,
    /// XXH3-64 of the bytes.
    pub hash: u64,
}

impl Content {
    /// Reads `path` through and fingerprints it.
    pub fn of(path: &Path) -> std::io::Result<Content> {
        let mut file = std::fs::File::open(path)?;
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        let mut buffer = vec![0; 1 << 20];
        let mut length = 0;
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            length += n as u64;
        }
        Ok(Content {
            length,
            hash: hasher.digest(),
        })
    }

    /// As the journal stores it: `<length>:<hash in hex>`.
    pub fn to_text(self) -> String {
        format!("{}:{:016x}", self.length, self.hash)
    }

    /// Reads what `to_text` wrote.
    pub fn parse(text: &str) -> Option<Content> {
        let (length, hash) = text.split_once(':')?;
        Some(Content {
            length: length.parse().ok()?,
            hash: u64::from_str_radix(hash, 16).ok()?,
        })
    }
}

/// A writer whose chunks are written, and at last fsynced, by a second thread: the
/// kernel's copy of one chunk into the page cache overlaps the making of the next (an
/// export's rows, read from the store).
/// Two chunks circulate, so memory stays at two buffers. The thread also starts the
/// disk writing every `WRITE_BACK` bytes (`WriteBack`), so that the final fsync waits
/// for the last stretch only, not for the whole file.
/// The thread starts with the second chunk: a file that fits in one (a tenant's
/// export) is written on the calling thread, from a buffer that grew only as far as
/// it needed, so that a fleet does not start a thread and take two buffers of
/// `BUFFER` bytes for each small file.
pub struct ThreadedWriter {
    chunk: Vec<u8>,
    /// The file, until the first full chunk starts the thread.
    file: Option<File>,
    full: Option<SyncSender<Vec<u8>>>,
    empty: Option<Receiver<Vec<u8>>>,
    thread: Option<JoinHandle<std::io::Result<Content>>>,
}

impl ThreadedWriter {
    pub fn new(file: File) -> ThreadedWriter {
        ThreadedWriter {
            chunk: Vec::new(),
            file: Some(file),
            full: None,
            empty: None,
            thread: None,
        }
    }

    /// Starts the thread that writes the chunks to `file`, with a second buffer.
    fn start(&mut self, file: File) {
        let (full, chunks) = sync_channel::<Vec<u8>>(1);
        let (recycle, empty) = sync_channel(2);
        recycle
            .send(Vec::with_capacity(BUFFER))
            .expect("the channel has room");
        self.thread = Some(std::thread::spawn(move || {
            let mut sink = Sink::new(file);
            for mut chunk in chunks {
                sink.write(&chunk)?;
                chunk.clear();
                // The other side may have finished and gone: nothing to recycle for.
                let _ = recycle.send(chunk);
            }
            sink.finish()
        }));
        self.full = Some(full);
        self.empty = Some(empty);
    }

    /// Hands the chunk to the thread, started by the first; an error is the thread's,
    /// once it has stopped.
    fn ship(&mut self) -> std::io::Result<()> {
        if let Some(file) = self.file.take() {
            self.start(file);
        }
        let next = self.empty.as_ref().and_then(|empty| empty.recv().ok());
        let sent = self
            .full
            .as_ref()
            .is_some_and(|full| full.send(std::mem::take(&mut self.chunk)).is_ok());
        match next {
            Some(next) if sent => {
                self.chunk = next;
                Ok(())
            }
            _ => Err(self
                .stop()
                .err()
                .unwrap_or_else(|| std::io::Error::other("the writing thread stopped"))),
        }
    }

    /// Waits for the thread to stop, and returns what it met: the file's content once
    /// it is durable.
    fn stop(&mut self) -> std::io::Result<Content> {
        self.full = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(std::io::Error::other("the writing thread panicked")),
            None => Err(std::io::Error::other("the writing thread stopped")),
        }
    }

    /// Writes what is left, fsyncs, and waits for both; returns the file's content.
    pub fn finish(mut self) -> std::io::Result<Content> {
        if let Some(file) = self.file.take() {
            let mut sink = Sink::new(file);
            sink.write(&self.chunk)?;
            return sink.finish();
        }
        if !self.chunk.is_empty() {
            self.ship()?;
        }
        self.stop()
    }
}

/// How much a writer lets the page cache hold before it starts the disk writing.
const WRITE_BACK: u64 = 8 << 20;

/// A file being written, to be made durable: each write is counted and hashed (the
/// `Content` the journal records, known without reading the file again), and the
/// write-back of each `WRITE_BACK` bytes is started once they are written
/// (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, Linux), so that the disk works while the
/// transform goes on. That only starts the writing: the fsync in `finish` makes the
/// file durable, and stays the one point that says it is.
pub struct Sink {
    file: File,
    hash: xxhash_rust::xxh3::Xxh3,
    /// Bytes written so far.
    end: u64,
    /// Where the range not yet handed to the disk starts.
    start: u64,
}

impl Sink {
    pub fn new(file: File) -> Sink {
        Sink {
            file,
            hash: xxhash_rust::xxh3::Xxh3::new(),
            end: 0,
            start: 0,
        }
    }

    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all(bytes)?;
        self.hash.update(bytes);
        self.end += bytes.len() as u64;
        if self.end - self.start < WRITE_BACK {
            return Ok(());
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let (offset, length) = (
                self.start as libc::off64_t,
                (self.end - self.start) as libc::off64_t,
            );
            // SAFETY: the descriptor is the open file's, borrowed for the call; the
            // call reads no memory of ours. A failure only means the write-back starts
            // later, at the fsync, so it is not an error.
            let _ = unsafe {
                libc::sync_file_range(
                    self.file.as_raw_fd(),
                    offset,
                    length,
                    libc::SYNC_FILE_RANGE_WRITE,
                )
            };
        }
        self.start = self.end;
        Ok(())
    }

    /// Fsyncs the file; returns its content.
    pub fn finish(self) -> std::io::Result<Content> {
        self.file.sync_all()?;
        Ok(Content {
            length: self.end,
            hash: self.hash.digest(),
        })
    }
}

impl Write for ThreadedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.chunk.extend_from_slice(bytes);
        if self.chunk.len() >= BUFFER {
            self.ship()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ThreadedWriter {
    /// An abandoned pass still waits for its thread, so no write outlives it.
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The write-back is started once per `WRITE_BACK` bytes, over exactly the bytes
    /// written since the last start; the file's bytes are all there after it, and the
    /// content a sink reports is the one read back from the file.
    #[test]
    fn a_sink_starts_the_write_back_once_per_stretch_and_knows_what_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let mut sink = Sink::new(File::create(&path).unwrap());
        let mut starts = Vec::new();
        for i in 0..6u8 {
            sink.write(&vec![b'a' + i; 3 << 20]).unwrap();
            starts.push(sink.start >> 20);
        }
        assert_eq!(starts, [0, 0, 9, 9, 9, 18]);
        assert_eq!(sink.end, 18 << 20);
        let content = sink.finish().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 18 << 20);
        assert_eq!(Content::of(&path).unwrap(), content);
    }

    /// A file of one chunk is written without a thread; a longer one by the thread,
    /// started with the second chunk. Both end with every byte in the file and the
    /// content read back from it.
    #[test]
    fn the_thread_starts_only_for_a_file_longer_than_a_chunk() {
        let dir = tempfile::tempdir().unwrap();
        for (name, length, threaded) in [("small", 1000, false), ("large", 3 * BUFFER + 7, true)] {
            let path = dir.path().join(name);
            let mut out = ThreadedWriter::new(File::create(&path).unwrap());
            let bytes: Vec<u8> = (0..length).map(|i| (i % 251) as u8).collect();
            for piece in bytes.chunks(4096) {
                out.write_all(piece).unwrap();
            }
            assert_eq!(out.thread.is_some(), threaded, "{name}");
            let content = out.finish().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name}");
            assert_eq!(Content::of(&path).unwrap(), content, "{name}");
        }
    }
}
