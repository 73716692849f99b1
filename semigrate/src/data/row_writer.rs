//! Writing CSV rows in a file's own dialect, straight onto the output buffer.

use super::pieces::QUOTE;

/// Writes rows in the file's own dialect: its delimiter and line ending, and quotes
/// only around the computed cells that need them (the csv crate's rule). Rows go
/// straight onto the output buffer, with no copy in between.
pub(super) struct Line {
    rules: ::csv_core::Writer,
    delimiter: u8,
    terminator: &'static [u8],
    /// Where the row being written starts in the buffer.
    row: usize,
}

impl Line {
    pub(super) fn new(delimiter: u8, crlf: bool) -> Line {
        let terminator: &'static [u8] = if crlf { b"\r\n" } else { b"\n" };
        let rules = ::csv_core::WriterBuilder::new()
            .delimiter(delimiter)
            .terminator(if crlf {
                ::csv_core::Terminator::CRLF
            } else {
                ::csv_core::Terminator::Any(b'\n')
            })
            .build();
        Line {
            rules,
            delimiter,
            terminator,
            row: 0,
        }
    }

    /// Starts the next cell (the delimiter before all but the first).
    pub(super) fn next_cell(&mut self, out: &mut Vec<u8>, first: bool) {
        if first {
            self.row = out.len();
        } else {
            out.push(self.delimiter);
        }
    }

    /// Appends a cell's value, quoted if the format needs it.
    pub(super) fn value(&self, out: &mut Vec<u8>, cell: &[u8]) {
        if !self.rules.should_quote(cell) {
            return out.extend_from_slice(cell);
        }
        out.push(QUOTE);
        let start = out.len();
        // Quoting at most doubles the bytes.
        out.resize(start + 2 * cell.len(), 0);
        let (_, _, written) = ::csv_core::quote(cell, &mut out[start..], QUOTE, b'\\', true);
        out.truncate(start + written);
        out.push(QUOTE);
    }

    /// Ends the row. A row of one empty cell is written `""`, as a blank line would be
    /// skipped on reading.
    pub(super) fn end(&self, out: &mut Vec<u8>) {
        if out.len() == self.row {
            out.extend_from_slice(&[QUOTE, QUOTE]);
        }
        out.extend_from_slice(self.terminator);
    }

    /// Writes a whole row of values: a header.
    pub(super) fn values<'a>(
        &mut self,
        out: &mut Vec<u8>,
        cells: impl IntoIterator<Item = &'a str>,
    ) {
        for (i, cell) in cells.into_iter().enumerate() {
            self.next_cell(out, i == 0);
            self.value(out, cell.as_bytes());
        }
        self.end(out);
    }
}
