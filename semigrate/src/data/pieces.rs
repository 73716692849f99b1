//! Reading a CSV file on all cores. The file is cut at record ends into pieces
//! (`cut`); each piece's records are read and checked as every pass checks them
//! (`Records`) on `Split::threads` threads, and the results are taken back in file
//! order (`in_pieces`), so that a pass gives what one thread reading the whole file
//! would: the same output, or the same first error with its line. The transform and
//! the CSV validations read through it.

use simd_csv::{ZeroCopyByteRecord, ZeroCopyReader, ZeroCopyReaderBuilder};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

pub(crate) const QUOTE: u8 = b'"';

/// How a pass shares its file among threads: the file is cut at record ends into
/// pieces of about `piece` bytes, and `threads` pieces are read at once, their results
/// taken back in file order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// Pieces read at once.
    pub threads: usize,
    /// Bytes a piece holds at least (unless the file ends first): a piece ends at the
    /// first record end past this size.
    pub piece: usize,
}

/// The default piece: large enough that a piece's own cost (two channel hops, a reader)
/// is lost among its rows, small enough that the pieces in flight stay a few MiB. On
/// 5 M rows, pieces of 256 KiB ran as fast as pieces of 1 MiB with half the memory
/// (12 MiB peak against 24), and 2 MiB ones were slower.
pub(crate) const PIECE: usize = 256 << 10;

/// The default number of threads is the machine's cores, up to this: beyond it the
/// one thread that reads and the one that writes set the pace, and each more thread
/// only holds more memory.
const MOST_THREADS: usize = 4;

impl Split {
    /// The machine's cores, up to `MOST_THREADS`, in pieces of `PIECE` bytes; or what
    /// `SEMIGRATE_CSV_THREADS` and `SEMIGRATE_CSV_PIECE` say (1 thread is a single-thread
    /// pass; the tests set a tiny piece, to cut even a small file at every record).
    pub fn from_env() -> Result<Split, String> {
        let setting = |name: &str, default: usize| match std::env::var(name) {
            Err(_) => Ok(default),
            Ok(value) => value
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{name}=`{value}`: expected a whole number, 1 or more")),
        };
        // Read once a process: std reads the cgroup's quota files at every call, a
        // hundred system calls a store in a fleet whose CSV steps each ask.
        static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let cores =
            *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        Ok(Split {
            threads: setting("SEMIGRATE_CSV_THREADS", cores.min(MOST_THREADS))?,
            piece: setting("SEMIGRATE_CSV_PIECE", PIECE)?,
        })
    }
}

/// The file a pass reads, and how its errors name it.
#[derive(Clone, Copy)]
pub(crate) struct CsvFile<'a> {
    pub path: &'a Path,
    /// The file as errors name it (its path in the data folder).
    pub shown: &'a str,
    pub delimiter: u8,
    /// Cells a record must have: the header's.
    pub width: usize,
}

impl CsvFile<'_> {
    /// An error about the record that starts at byte `at` of the file.
    pub fn failed(&self, at: u64, why: &dyn std::fmt::Display) -> String {
        format!("{} line {}: {why}", self.shown, line_at(self.path, at))
    }
}

/// Reads the header at the start of `input`: its names, and the offset where the
/// records start; None for an empty file.
pub(crate) fn header(
    input: &File,
    delimiter: u8,
    shown: &str,
) -> Result<Option<(Vec<String>, u64)>, String> {
    let mut reader = ZeroCopyReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(input);
    let names: Vec<String> = match reader
        .read_byte_record()
        .map_err(|e| format!("{shown}: cannot read: {e}"))?
    {
        Some(row) => row
            .unescaped_iter()
            .map(|f| String::from_utf8_lossy(&f).into_owned())
            .collect(),
        None => return Ok(None),
    };
    Ok(Some((names, reader.position())))
}

/// The records of one piece, which starts at byte `offset` of the file.
pub(crate) struct Records<'p> {
    reader: ZeroCopyReader<std::io::Chain<&'static [u8], &'p [u8]>>,
    offset: u64,
}

impl<'p> Records<'p> {
    pub fn new(source: &CsvFile, piece: &'p [u8], offset: u64) -> Records<'p> {
        // The reader drops a BOM at the start of its input, and a piece's first cell
        // may begin with those bytes: an empty line ahead of the piece, which the
        // reader skips, keeps them.
        let reader = ZeroCopyReaderBuilder::new()
            .delimiter(source.delimiter)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(piece.len() + 1)
            .from_reader(b"\n".chain(piece));
        Records { reader, offset }
    }

    /// The next record and the byte of the file where it starts, once checked: as many
    /// cells as the header, none malformed.
    pub fn next(
        &mut self,
        source: &CsvFile,
    ) -> Result<Option<(ZeroCopyByteRecord<'_>, u64)>, String> {
        let at = self.offset + self.reader.position().saturating_sub(1);
        let Some(row) = self
            .reader
            .read_byte_record()
            .map_err(|e| format!("{}: cannot read: {e}", source.shown))?
        else {
            return Ok(None);
        };
        if row.len() != source.width {
            let why = format!(
                "the row has {} fields, the header {}",
                row.len(),
                source.width
            );
            return Err(source.failed(at, &why));
        }
        if memchr::memchr2(QUOTE, b'\r', row.as_slice()).is_some()
            && let Some(why) = row.iter().find_map(malformed_cell)
        {
            return Err(source.failed(at, &why));
        }
        Ok(Some((row, at)))
    }
}

/// The line at which the byte `offset` of the file falls, for error messages.
pub(crate) fn line_at(path: &Path, offset: u64) -> u64 {
    let Ok(file) = File::open(path) else { return 0 };
    let mut reader = BufReader::with_capacity(1 << 20, file.take(offset));
    let mut lines = 1;
    while let Ok(chunk) = reader.fill_buf() {
        if chunk.is_empty() {
            break;
        }
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        let n = chunk.len();
        reader.consume(n);
    }
    lines
}

/// What is wrong with a raw cell, if anything. A quote is allowed only around a whole
/// cell, and doubled inside it; a carriage return only inside quotes. CSV readers
/// disagree on anything else (where the cell ends, even how many cells the row has),
/// so such a file is refused rather than read one way and written back to be read
/// another.
fn malformed_cell(cell: &[u8]) -> Option<&'static str> {
    let Some(inside) = cell.strip_prefix(&[QUOTE]) else {
        return match memchr::memchr2(QUOTE, b'\r', cell).map(|i| cell[i]) {
            Some(QUOTE) => Some("a quote inside a cell that does not start with one"),
            Some(_) => Some("a carriage return inside a cell that is not quoted"),
            None => None,
        };
    };
    let mut i = 0;
    while let Some(at) = memchr::memchr(QUOTE, &inside[i..]) {
        i += at + 1;
        match inside.get(i) {
            None => return None,
            Some(&QUOTE) => i += 1,
            Some(_) => return Some("text after the quote that closes a cell"),
        }
    }
    // The parser read to the end of the file looking for the closing quote.
    Some("a quoted cell is never closed")
}

/// Where the last record of `bytes` that starts at a record start ends: past its last
/// line feed outside quotes. The reader enters and leaves quotes at every quote byte
/// (a doubled quote leaves and enters again), so a line feed ends a record exactly
/// when an even number of quotes comes before it: the cut is certain, even in a
/// malformed file, and falls where a single-thread read would end the record.
fn record_end(bytes: &[u8]) -> Option<usize> {
    let quotes = memchr::memchr_iter(QUOTE, bytes).count();
    let (mut after, mut end) = (0, bytes.len());
    while let Some(feed) = memchr::memrchr(b'\n', &bytes[..end]) {
        after += memchr::memchr_iter(QUOTE, &bytes[feed + 1..end]).count();
        if (quotes - after).is_multiple_of(2) {
            return Some(feed + 1);
        }
        end = feed;
    }
    None
}

/// Reads the file from `start` (a record start) and hands out the pieces, each to the
/// next thread in turn; returns how many it handed out. A piece that holds no record
/// end yet (a long multi-line cell) grows, doubling, until it does or the file ends.
fn cut(
    mut input: File,
    start: u64,
    size: usize,
    threads: &[SyncSender<(u64, Vec<u8>)>],
    spent: &Receiver<Vec<u8>>,
) -> std::io::Result<usize> {
    use std::io::{Seek, SeekFrom};
    input.seek(SeekFrom::Start(start))?;
    let (mut offset, mut carry, mut handed) = (start, Vec::new(), 0);
    loop {
        let mut piece = spent
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(size + size / 4));
        piece.clear();
        piece.extend_from_slice(&carry);
        let (end, last) = loop {
            let more = size.max(piece.len());
            if (&mut input).take(more as u64).read_to_end(&mut piece)? < more {
                break (piece.len(), true);
            }
            if let Some(end) = record_end(&piece) {
                break (end, false);
            }
        };
        carry.clear();
        carry.extend_from_slice(&piece[end..]);
        piece.truncate(end);
        if piece.is_empty() {
            return Ok(handed);
        }
        let length = piece.len() as u64;
        if threads[handed % threads.len()]
            .send((offset, piece))
            .is_err()
        {
            // That thread stopped on an error, which the writer reports.
            return Ok(handed);
        }
        handed += 1;
        offset += length;
        if last {
            return Ok(handed);
        }
    }
}

/// Runs a worker on each piece of the file from `start` (a record start), given its
/// bytes and its offset, on `split.threads` threads, and hands each result to `take` in
/// file order, with the offset its piece ends at. The first error in file order stops
/// the pass. Each thread makes its own worker with `worker`: a worker owns what it
/// uses, regular expressions above all, which threads sharing one would contend for
/// (a validation with `matches` took 1.6 times the CPU on two threads as on one).
/// Memory stays bounded: each thread holds one piece and has one waiting on each side
/// of it, and the buffers go round: the pieces', and the results', since a worker is
/// handed a result an earlier piece filled (or a new one) to fill again.
pub(crate) fn in_pieces<T, M, W, F>(
    input: File,
    start: u64,
    split: Split,
    shown: &str,
    worker: M,
    mut take: F,
) -> Result<(), String>
where
    T: Send + Default,
    M: Fn() -> W + Sync,
    W: FnMut(&[u8], u64, &mut T) -> Result<(), String>,
    F: FnMut(&mut T, u64) -> Result<(), String>,
{
    let cannot_read = |e: std::io::Error| format!("{shown}: cannot read: {e}");
    // A file of one piece (most of a store's small files) is read on this thread:
    // starting the threads would cost more than they share.
    let rest = input.metadata().map_err(cannot_read)?.len();
    if rest.saturating_sub(start) <= split.piece as u64 {
        use std::io::{Seek, SeekFrom};
        let mut piece = Vec::new();
        (&input)
            .seek(SeekFrom::Start(start))
            .and_then(|_| (&input).read_to_end(&mut piece))
            .map_err(cannot_read)?;
        if piece.is_empty() {
            return Ok(());
        }
        let mut result = T::default();
        worker()(&piece, start, &mut result)?;
        return take(&mut result, start + piece.len() as u64);
    }
    let worker = &worker;
    let spares = &std::sync::Mutex::new(Vec::<T>::new());
    let threads = split.threads.max(1);
    std::thread::scope(|scope| {
        let (recycle, spent) = std::sync::mpsc::channel::<Vec<u8>>();
        let (mut feeds, mut results, mut workers) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..threads {
            let (feed, pieces) = sync_channel::<(u64, Vec<u8>)>(1);
            let (result, done) = sync_channel::<(Result<T, String>, u64)>(1);
            let recycle = recycle.clone();
            workers.push(scope.spawn(move || {
                let mut work = worker();
                for (offset, piece) in pieces {
                    let end = offset + piece.len() as u64;
                    let mut filled = spares
                        .lock()
                        .ok()
                        .and_then(|mut s| s.pop())
                        .unwrap_or_default();
                    let ran = work(&piece, offset, &mut filled).map(|()| filled);
                    let _ = recycle.send(piece);
                    let failed = ran.is_err();
                    if result.send((ran, end)).is_err() || failed {
                        return;
                    }
                }
            }));
            feeds.push(feed);
            results.push(done);
        }
        drop(recycle);
        let cutter = scope.spawn(move || cut(input, start, split.piece, &feeds, &spent));
        let mut taken = 0;
        // The pieces come back in the order they were handed out: round the threads.
        while let Ok((result, end)) = results[taken % threads].recv() {
            let mut result = result?;
            take(&mut result, end)?;
            if let Ok(mut spares) = spares.lock() {
                spares.push(result);
            }
            taken += 1;
        }
        let handed = cutter
            .join()
            .map_err(|_| "the reading thread panicked".to_string())?
            .map_err(cannot_read)?;
        for worker in workers {
            worker
                .join()
                .map_err(|_| "a thread reading CSV panicked".to_string())?;
        }
        if handed != taken {
            return Err(format!("{shown}: {handed} pieces read but {taken} taken"));
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_ends_at_a_line_feed_outside_quotes_only() {
        assert_eq!(record_end(b"a,b\n1,2\n3,"), Some(8));
        assert_eq!(record_end(b"a,\"x\ny\"\n1,\"open\n"), Some(8));
        assert_eq!(record_end(b"1,\"\"\"q\"\"\"\n2,\"b\nc"), Some(10));
        assert_eq!(record_end(b"1,\"still\nopen\n"), None);
        assert_eq!(record_end(b"no line feed yet"), None);
        assert_eq!(record_end(b"\r\n"), Some(2));
    }
}
