//! Reading a CSV file for `load` (and its inverse, `unload`): the header matched with
//! the step's columns, then each row's values, streamed in constant memory, with the
//! line each starts on for messages.

use crate::model::LoadStep;
use ::csv::{ByteRecord, ReaderBuilder};
use std::path::Path;

/// A file opened for a load: which CSV column goes to which table column.
pub struct Rows {
    reader: ::csv::Reader<std::fs::File>,
    /// Each loaded CSV column's index in the file.
    indexes: Vec<usize>,
    /// The table column each one goes to, in the same order.
    pub columns: Vec<String>,
    null: Option<Vec<u8>>,
    path: String,
}

impl Rows {
    /// Opens `file` and matches its header with the step's columns.
    pub fn open(file: &Path, step: &LoadStep) -> Result<Rows, String> {
        let path = step.path.to_string();
        let mut reader = ReaderBuilder::new()
            .delimiter(step.delimiter)
            .has_headers(false)
            .from_path(file)
            .map_err(|e| format!("{path}: cannot read: {e}"))?;
        let mut first = ByteRecord::new();
        if !reader
            .read_byte_record(&mut first)
            .map_err(|e| format!("{path}: {e}"))?
        {
            return Err(format!("{path} is empty: it has no header"));
        }
        let header = super::header_names(&first);
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
            reader,
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

    /// Calls `each` with every row's values (None for NULL) and its line; stops at the
    /// first error, which names the line. Returns the number of rows.
    pub fn each(
        &mut self,
        mut each: impl FnMut(&[Option<&str>], u64) -> Result<(), String>,
    ) -> Result<u64, String> {
        let mut record = ByteRecord::new();
        let mut rows = 0;
        loop {
            let more = self
                .reader
                .read_byte_record(&mut record)
                .map_err(|e| format!("{}: {e}", self.path))?;
            if !more {
                return Ok(rows);
            }
            let line = record.position().map_or(0, |p| p.line());
            let mut values: Vec<Option<&str>> = Vec::with_capacity(self.indexes.len());
            for &i in &self.indexes {
                let cell = record.get(i).ok_or_else(|| {
                    format!(
                        "{} line {line}: the row has {} fields",
                        self.path,
                        record.len()
                    )
                })?;
                if self.null.as_deref() == Some(cell) {
                    values.push(None);
                    continue;
                }
                let text = std::str::from_utf8(cell)
                    .map_err(|_| format!("{} line {line}: not valid UTF-8", self.path))?;
                values.push(Some(text));
            }
            each(&values, line).map_err(|e| format!("{} line {line}: {e}", self.path))?;
            rows += 1;
        }
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
    let mut rows = Rows::open(file, step).ok()?;
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
