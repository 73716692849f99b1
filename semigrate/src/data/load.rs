//! Reading a CSV file for `load` (and its inverse, `unload`): the header matched with
//! the step's columns, then each row's values, streamed in constant memory on all
//! cores, with the line each starts on for messages.

use super::pieces::{self, CsvFile, Records, Split};
use crate::model::LoadStep;
use std::fs::File;
use std::path::{Path, PathBuf};

/// A file opened for a load: which CSV column goes to which table column. Its rows are
/// read on all cores (`pieces`) and handed over in file order.
pub struct Rows {
    file: PathBuf,
    delimiter: u8,
    /// Cells a row has: the header's.
    width: usize,
    /// Where the rows start, and on which line.
    start: u64,
    line: u64,
    /// Each loaded CSV column's index in the file.
    indexes: Vec<usize>,
    /// The table column each one goes to, in the same order.
    pub columns: Vec<String>,
    null: Option<Vec<u8>>,
    path: String,
}

/// The loaded cells of a piece's rows, read on its thread.
#[derive(Default)]
struct Parsed {
    /// The cells' text, one after the other.
    text: String,
    /// Each cell's place in `text`, or None for NULL; `indexes.len()` of them a row.
    /// Offsets of 32 bits keep the cells in flight at half the memory.
    cells: Vec<Option<(u32, u32)>>,
    /// Each row's line, counted from the piece's first.
    lines: Vec<u64>,
    /// The line feeds in the piece.
    feeds: u64,
}

impl Rows {
    /// Opens `file` and matches its header with the step's columns.
    pub fn open(file: &Path, step: &LoadStep) -> Result<Rows, String> {
        let path = step.path.to_string();
        let input = File::open(file).map_err(|e| format!("{path}: cannot read: {e}"))?;
        // The reader leaves a BOM out of the first name.
        let Some((header, start)) = pieces::header(&input, step.delimiter, &path)? else {
            return Err(format!("{path} is empty: it has no header"));
        };
        let wanted: Vec<(String, String)> = match step.columns.is_empty() {
            true => header.iter().map(|c| (c.clone(), c.clone())).collect(),
            false => step
                .columns
                .iter()
                .map(|(from, to)| (from.to_string(), to.to_string()))
                .collect(),
        };
        let mut indexes = Vec::with_capacity(wanted.len());
        let mut columns = Vec::with_capacity(wanted.len());
        for (from, to) in wanted {
            let i = header.iter().position(|c| *c == from).ok_or_else(|| {
                format!(
                    "{path} has no column `{from}` (its columns: {})",
                    super::shown_header(&header)
                )
            })?;
            indexes.push(i);
            columns.push(to);
        }
        Ok(Rows {
            file: file.to_path_buf(),
            delimiter: step.delimiter,
            width: header.len(),
            start,
            line: pieces::line_at(file, start),
            indexes,
            columns,
            null: step.null.as_ref().map(|n| n.as_bytes().to_vec()),
            path,
        })
    }

    /// Where each of `key`'s columns is among the loaded ones: to find the rows again.
    pub fn positions(&self, key: &[String], path: &str) -> Result<Vec<usize>, String> {
        key.iter()
            .map(|k| {
                self.columns
                    .iter()
                    .position(|c| c == k)
                    .ok_or_else(|| format!("{path}: the key column `{k}` is not loaded"))
            })
            .collect()
    }

    /// The loaded cells of the rows of `piece`, which starts at byte `offset`, into
    /// `parsed` (emptied first: its buffers are reused).
    fn parse(
        &self,
        csv: &CsvFile,
        piece: &[u8],
        offset: u64,
        parsed: &mut Parsed,
    ) -> Result<(), String> {
        parsed.text.clear();
        parsed.cells.clear();
        parsed.lines.clear();
        parsed.feeds = 0;
        let mut records = Records::new(csv, piece, offset);
        let mut counted = 0;
        while let Some((row, at)) = records.next(csv)? {
            let here = (at - offset) as usize;
            parsed.feeds += memchr::memchr_iter(b'\n', &piece[counted..here]).count() as u64;
            counted = here;
            parsed.lines.push(parsed.feeds);
            for &i in &self.indexes {
                let cell = row.unescape(i).unwrap_or_default();
                if self.null.as_deref() == Some(cell.as_ref()) {
                    parsed.cells.push(None);
                    continue;
                }
                let text =
                    std::str::from_utf8(&cell).map_err(|_| csv.failed(at, &"not valid UTF-8"))?;
                let from = parsed.text.len();
                parsed.text.push_str(text);
                let place = u32::try_from(from)
                    .and_then(|from| u32::try_from(parsed.text.len()).map(|to| (from, to)));
                let place = place.map_err(|_| csv.failed(at, &"the row is over 4 GiB"))?;
                parsed.cells.push(Some(place));
            }
        }
        parsed.feeds += memchr::memchr_iter(b'\n', &piece[counted..]).count() as u64;
        Ok(())
    }

    /// Calls `each` with every row's values (None for NULL) and its line; stops at the
    /// first error, which names the line. Returns the number of rows. The rows are read
    /// on all cores; `each` runs on this thread, in file order.
    pub fn each(
        &self,
        mut each: impl FnMut(&[Option<&str>], u64) -> Result<(), String>,
    ) -> Result<u64, String> {
        let input =
            File::open(&self.file).map_err(|e| format!("{}: cannot read: {e}", self.path))?;
        let csv = CsvFile {
            path: &self.file,
            shown: &self.path,
            delimiter: self.delimiter,
            width: self.width,
        };
        let (mut rows, mut line) = (0, self.line);
        pieces::in_pieces(
            input,
            self.start,
            Split::from_env()?,
            &self.path,
            || {
                let csv = &csv;
                move |piece: &[u8], offset, parsed: &mut Parsed| {
                    self.parse(csv, piece, offset, parsed)
                }
            },
            |parsed: &mut Parsed, _| {
                let width = self.indexes.len();
                let mut values: Vec<Option<&str>> = Vec::with_capacity(width);
                for (r, at) in parsed.lines.iter().enumerate() {
                    let cells = &parsed.cells[r * width..(r + 1) * width];
                    values.clear();
                    values.extend(
                        cells
                            .iter()
                            .map(|c| c.map(|(from, to)| &parsed.text[from as usize..to as usize])),
                    );
                    let at = line + at;
                    each(&values, at).map_err(|e| format!("{} line {at}: {e}", self.path))?;
                    rows += 1;
                }
                line += parsed.feeds;
                Ok(())
            },
        )?;
        Ok(rows)
    }
}

/// An identifier quoted for SQL (both engines quote with double quotes).
pub fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A row as `COPY … (FORMAT csv)` reads it: each value quoted, NULL left unquoted and
/// empty. Returns how many lines of the COPY stream it takes.
pub fn copy_line(values: &[Option<&str>], out: &mut Vec<u8>) -> u64 {
    out.clear();
    let mut lines = 1;
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if let Some(value) = value {
            out.push(b'"');
            for &b in value.as_bytes() {
                if b == b'"' {
                    out.push(b'"');
                }
                lines += u64::from(b == b'\n');
                out.push(b);
            }
            out.push(b'"');
        }
    }
    out.push(b'\n');
    lines
}

/// The file's line of the row that `copy_line` put at line `n` of a COPY stream, as a
/// server's error names it.
pub fn file_line(file: &Path, step: &LoadStep, n: u64) -> Option<u64> {
    let rows = Rows::open(file, step).ok()?;
    let (mut at, mut found, mut buffer) = (0, None, Vec::new());
    let _ = rows.each(|values, line| {
        at += copy_line(values, &mut buffer);
        if at >= n {
            found = Some(line);
            return Err(String::new());
        }
        Ok(())
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_lines_quote_values_and_leave_null_bare() {
        let mut out = Vec::new();
        let lines = copy_line(&[Some("a\"b"), None, Some("two\nlines")], &mut out);
        assert_eq!(out, b"\"a\"\"b\",,\"two\nlines\"\n".to_vec());
        assert_eq!(lines, 2);
    }
}
