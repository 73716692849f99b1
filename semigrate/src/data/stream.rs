//! The streaming transformer: one pass over a CSV file. The ops of a step are compiled
//! once into one expression per output column over the cells of the input row, so a
//! step costs one pass whatever its number of ops. A cell that no op touches is copied
//! as the raw bytes it had in the input, quotes and all; only computed cells are
//! unescaped and quoted again where the format needs it. The file is cut at record
//! ends into pieces that the cores transform side by side (`Split`), written back in
//! file order; memory stays constant whatever the size: the pieces in flight.
//! Cells are bytes; UTF-8 is decoded only by `convert` to upper or lower case.

use super::flow::{self, Header, Part};
pub use super::pieces::Split;
use super::pieces::{self, CsvFile, QUOTE, Records};
use crate::durable::writer::{Content, Sink};
use crate::model::{Case, CsvOp, CsvStep, Source};
use crate::rust::{ApplyFn, Row};
use simd_csv::ZeroCopyByteRecord;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What a pass wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Data rows written (the header not counted).
    pub rows: u64,
    /// The file written: its length and hash, for the journal.
    pub content: Content,
}

/// The value of one column after the step's ops, in terms of the input row.
#[derive(Clone)]
enum Expr {
    /// An input cell as it is: the one case copied raw.
    Input(usize),
    Text(Vec<u8>),
    Concat(Vec<Expr>),
    Map {
        of: Box<Expr>,
        column: String,
        images: Images,
        default: Option<Vec<u8>>,
    },
    Fill {
        of: Box<Expr>,
        value: Vec<u8>,
    },
    Convert {
        of: Box<Expr>,
        column: String,
        case: Case,
    },
    /// Every occurrence of a literal replaced; a cell that already holds what replaces
    /// it is refused, so that the inverse (the same replace, reversed) is exact.
    Replace {
        of: Box<Expr>,
        column: String,
        from: Vec<u8>,
        to: Vec<u8>,
    },
    /// Every match of a pattern replaced.
    ReplacePattern {
        of: Box<Expr>,
        pattern: regex::bytes::Regex,
        to: Vec<u8>,
    },
    /// Part `index` of `count` of a cell split on a separator (the last part keeps any
    /// further separator), so that joining the parts gives the cell back.
    Part {
        of: Box<Expr>,
        column: String,
        separator: Vec<u8>,
        index: usize,
        count: usize,
    },
    /// Cells joined with a separator; one other than the last holding the separator is
    /// refused, so that splitting gives the cells back.
    Join {
        parts: Vec<(String, Expr)>,
        separator: Vec<u8>,
    },
    /// A function of the chain crate, handed the cell and the row as the ops before it
    /// left them (`names`, `inputs`).
    Apply {
        of: Box<Expr>,
        column: String,
        path: String,
        call: ApplyFn,
        names: Vec<String>,
        inputs: Vec<Expr>,
    },
}

/// A map's values and their images. A short list is searched in order, which beats
/// hashing each cell; a long one is hashed.
#[derive(Clone)]
enum Images {
    Few(Vec<(Vec<u8>, Vec<u8>)>),
    Many(HashMap<Vec<u8>, Vec<u8>>),
}

/// Up to this many values, a map searches its list.
const FEW: usize = 16;

impl Images {
    fn new(pairs: impl Iterator<Item = (Vec<u8>, Vec<u8>)>) -> Images {
        let pairs: Vec<_> = pairs.collect();
        match pairs.len() <= FEW {
            true => Images::Few(pairs),
            false => Images::Many(pairs.into_iter().collect()),
        }
    }

    fn get(&self, value: &[u8]) -> Option<&[u8]> {
        match self {
            Images::Few(pairs) => pairs
                .iter()
                .find(|(from, _)| from.as_slice() == value)
                .map(|(_, to)| to.as_slice()),
            Images::Many(map) => map.get(value).map(Vec::as_slice),
        }
    }
}

fn index(header: &[String], column: &str) -> Result<usize, String> {
    header
        .iter()
        .position(|c| c == column)
        .ok_or_else(|| format!("no column `{column}`"))
}

/// A row `filter` keeps: its column's value among `values`, or matching `pattern`.
#[derive(Clone)]
struct Keep {
    of: Expr,
    values: std::collections::HashSet<Vec<u8>>,
    pattern: Option<regex::bytes::Regex>,
}

impl Keep {
    fn keeps(&self, row: &ZeroCopyByteRecord, scratch: &mut Vec<u8>) -> Result<bool, String> {
        scratch.clear();
        self.of.eval(row, scratch)?;
        Ok(self.values.contains(scratch.as_slice())
            || self.pattern.as_ref().is_some_and(|p| p.is_match(scratch)))
    }
}

/// Compiles the ops of a step that starts from `header` into the output columns, and
/// the filters a row must pass to be written.
fn compile(header: &[String], ops: &[CsvOp]) -> Result<(Vec<Expr>, Vec<Keep>), String> {
    let mut h: Header = Some(header.to_vec());
    let mut columns: Vec<Expr> = (0..header.len()).map(Expr::Input).collect();
    let mut filters = Vec::new();
    for op in ops {
        let now = h.as_deref().unwrap_or_default();
        let at = |column: &str| index(now, column);
        // The column an op rewrites, taken out to be wrapped.
        let mut take = |column: &str| -> Result<(usize, Box<Expr>), String> {
            let i = at(column)?;
            Ok((
                i,
                Box::new(std::mem::replace(&mut columns[i], Expr::Input(i))),
            ))
        };
        match op {
            CsvOp::Rename { .. } => {}
            CsvOp::Add { value, .. } => {
                let added = match value {
                    Source::Value(v) => Expr::Text(v.as_bytes().to_vec()),
                    Source::Copy(c) => columns[at(c)?].clone(),
                    Source::Template(p) => Expr::Concat(
                        flow::template(p)?
                            .into_iter()
                            .map(|part| match part {
                                Part::Text(t) => Ok(Expr::Text(t.into_bytes())),
                                Part::Column(c) => at(&c).map(|i| columns[i].clone()),
                            })
                            .collect::<Result<_, String>>()?,
                    ),
                };
                columns.push(added);
            }
            CsvOp::Drop { column } => {
                columns.remove(at(column)?);
            }
            CsvOp::Map {
                column,
                values,
                default,
            } => {
                let (i, of) = take(column)?;
                columns[i] = Expr::Map {
                    of,
                    column: column.to_string(),
                    images: Images::new(
                        values
                            .iter()
                            .map(|(a, b)| (a.as_bytes().to_vec(), b.as_bytes().to_vec())),
                    ),
                    default: default.as_ref().map(|d| d.as_bytes().to_vec()),
                };
            }
            CsvOp::Convert { column, to } => {
                let (i, of) = take(column)?;
                columns[i] = Expr::Convert {
                    of,
                    column: column.to_string(),
                    case: *to,
                };
            }
            CsvOp::Fill { column, value } => {
                let (i, of) = take(column)?;
                columns[i] = Expr::Fill {
                    of,
                    value: value.as_bytes().to_vec(),
                };
            }
            CsvOp::Replace {
                column,
                from,
                to,
                pattern,
            } => {
                let (i, of) = take(column)?;
                columns[i] = match pattern {
                    true => Expr::ReplacePattern {
                        of,
                        pattern: regex::bytes::Regex::new(from)
                            .map_err(|e| format!("`{from}` is not a regular expression: {e}"))?,
                        to: to.as_bytes().to_vec(),
                    },
                    false => Expr::Replace {
                        of,
                        column: column.to_string(),
                        from: from.as_bytes().to_vec(),
                        to: to.as_bytes().to_vec(),
                    },
                };
            }
            CsvOp::Split {
                column,
                separator,
                into,
            } => {
                let i = at(column)?;
                let of = columns.remove(i);
                for index in (0..into.len()).rev() {
                    let part = Expr::Part {
                        of: Box::new(of.clone()),
                        column: column.to_string(),
                        separator: separator.as_bytes().to_vec(),
                        index,
                        count: into.len(),
                    };
                    columns.insert(i, part);
                }
            }
            CsvOp::Join {
                columns: joined,
                separator,
                ..
            } => {
                let first = at(&joined[0])?;
                let parts: Vec<(String, Expr)> = joined
                    .iter()
                    .map(|c| at(c).map(|i| (c.to_string(), columns[i].clone())))
                    .collect::<Result<_, _>>()?;
                let mut gone: Vec<usize> =
                    joined.iter().map(|c| at(c)).collect::<Result<_, _>>()?;
                gone.sort_unstable();
                for i in gone.into_iter().rev() {
                    columns.remove(i);
                }
                let join = Expr::Join {
                    parts,
                    separator: separator.as_bytes().to_vec(),
                };
                columns.insert(first.min(columns.len()), join);
            }
            CsvOp::Filter {
                column,
                values,
                pattern,
            } => {
                filters.push(Keep {
                    of: columns[at(column)?].clone(),
                    values: values.iter().map(|v| v.as_bytes().to_vec()).collect(),
                    pattern: pattern.as_deref().map(super::check::whole).transpose()?,
                });
            }
            CsvOp::Apply {
                column, function, ..
            } => {
                let call = function
                    .call
                    .ok_or_else(|| format!("{} is not compiled into this binary", function.path))?;
                let i = at(column)?;
                let (names, inputs) = (now.to_vec(), columns.clone());
                let of = Box::new(std::mem::replace(&mut columns[i], Expr::Input(i)));
                columns[i] = Expr::Apply {
                    of,
                    column: column.to_string(),
                    path: function.path.to_string(),
                    call,
                    names,
                    inputs,
                };
            }
            CsvOp::Reorder { columns: order } => {
                columns = order
                    .iter()
                    .map(|c| at(c).map(|i| columns[i].clone()))
                    .collect::<Result<_, _>>()?;
            }
            CsvOp::Create { .. } | CsvOp::Delete => {
                return Err(format!("`{}` must be alone in its step", flow::op_name(op)));
            }
        }
        flow::apply(&mut h, op)?;
    }
    Ok((columns, filters))
}

impl Expr {
    /// Appends the unescaped value of the expression for `row` to `out`.
    fn eval(&self, row: &ZeroCopyByteRecord, out: &mut Vec<u8>) -> Result<(), String> {
        let start = out.len();
        match self {
            Expr::Input(i) => out.extend_from_slice(&row.unescape(*i).unwrap_or_default()),
            Expr::Text(t) => out.extend_from_slice(t),
            Expr::Concat(parts) => {
                for part in parts {
                    part.eval(row, out)?;
                }
            }
            Expr::Map {
                of,
                column,
                images,
                default,
            } => {
                of.eval(row, out)?;
                let image = match (images.get(&out[start..]), default) {
                    (Some(image), _) => image,
                    (None, Some(d)) => d.as_slice(),
                    (None, None) => {
                        return Err(format!(
                            "`{column}` has the value `{}`, which the map does not list (and it has no `default`)",
                            super::shown_value(&out[start..])
                        ));
                    }
                };
                out.truncate(start);
                out.extend_from_slice(image);
            }
            Expr::Fill { of, value } => {
                of.eval(row, out)?;
                if out.len() == start {
                    out.extend_from_slice(value);
                }
            }
            Expr::Replace {
                of,
                column,
                from,
                to,
            } => {
                of.eval(row, out)?;
                let cell = &out[start..];
                if memchr::memmem::find(cell, to).is_some() {
                    return Err(format!(
                        "`{column}` already holds `{}`, so replacing `{}` by it could not be undone",
                        super::shown_value(to),
                        super::shown_value(from)
                    ));
                }
                if memchr::memmem::find(cell, from).is_some() {
                    let replaced = replace_all(cell, from, to);
                    out.truncate(start);
                    out.extend_from_slice(&replaced);
                }
            }
            Expr::ReplacePattern { of, pattern, to } => {
                of.eval(row, out)?;
                let replaced = pattern
                    .replace_all(&out[start..], to.as_slice())
                    .into_owned();
                out.truncate(start);
                out.extend_from_slice(&replaced);
            }
            Expr::Part {
                of,
                column,
                separator,
                index,
                count,
            } => {
                let mut cell = Vec::new();
                of.eval(row, &mut cell)?;
                let parts: Vec<&[u8]> = splitn(&cell, separator, *count);
                if parts.len() != *count {
                    return Err(format!(
                        "`{column}` has `{}`: {} part{} on `{}`, `split` needs {count}",
                        super::shown_value(&cell),
                        parts.len(),
                        if parts.len() == 1 { "" } else { "s" },
                        super::shown_value(separator)
                    ));
                }
                out.extend_from_slice(parts[*index]);
            }
            Expr::Join { parts, separator } => {
                for (k, (column, part)) in parts.iter().enumerate() {
                    if k > 0 {
                        out.extend_from_slice(separator);
                    }
                    let from = out.len();
                    part.eval(row, out)?;
                    if k + 1 < parts.len()
                        && memchr::memmem::find(&out[from..], separator).is_some()
                    {
                        return Err(format!(
                            "`{column}` holds `{}`, so `join` could not be split back",
                            super::shown_value(separator)
                        ));
                    }
                }
            }
            Expr::Apply {
                of,
                column,
                path,
                call,
                names,
                inputs,
            } => {
                of.eval(row, out)?;
                let utf8 = |name: &str, bytes: Vec<u8>| {
                    String::from_utf8(bytes)
                        .map_err(|_| format!("`{name}` is not valid UTF-8, which `apply` needs"))
                };
                let value = utf8(column, out[start..].to_vec())?;
                let mut cells = Vec::with_capacity(inputs.len());
                for (input, name) in inputs.iter().zip(names) {
                    let mut cell = Vec::new();
                    input.eval(row, &mut cell)?;
                    cells.push(utf8(name, cell)?);
                }
                let row = Row {
                    names,
                    cells: &cells,
                };
                let new = crate::rust::guarded(|| call(&value, &row)).map_err(|e| {
                    format!(
                        "{path} failed on `{column}` = `{}`: {e}",
                        super::shown_value(value.as_bytes())
                    )
                })?;
                out.truncate(start);
                out.extend_from_slice(new.as_bytes());
            }
            Expr::Convert { of, column, case } => {
                of.eval(row, out)?;
                let cell = &mut out[start..];
                match case {
                    Case::Trim => {
                        let trimmed = cell.trim_ascii();
                        let (from, len) = (
                            trimmed.as_ptr() as usize - cell.as_ptr() as usize,
                            trimmed.len(),
                        );
                        out.copy_within(start + from..start + from + len, start);
                        out.truncate(start + len);
                    }
                    Case::Upper | Case::Lower if cell.is_ascii() => {
                        if *case == Case::Upper {
                            cell.make_ascii_uppercase();
                        } else {
                            cell.make_ascii_lowercase();
                        }
                    }
                    Case::Upper | Case::Lower => {
                        let text = std::str::from_utf8(cell).map_err(|_| {
                            format!("`{column}` is not valid UTF-8, which `convert` needs")
                        })?;
                        let converted = if *case == Case::Upper {
                            text.to_uppercase()
                        } else {
                            text.to_lowercase()
                        };
                        out.truncate(start);
                        out.extend_from_slice(converted.as_bytes());
                    }
                }
            }
        }
        Ok(())
    }
}

/// `cell` with every `from` replaced by `to`.
fn replace_all(cell: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(cell.len());
    let mut rest = cell;
    while let Some(i) = memchr::memmem::find(rest, from) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(to);
        rest = &rest[i + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// `cell` cut at the first `count - 1` separators.
fn splitn<'a>(cell: &'a [u8], separator: &[u8], count: usize) -> Vec<&'a [u8]> {
    let mut parts = Vec::with_capacity(count);
    let mut rest = cell;
    while parts.len() + 1 < count {
        match memchr::memmem::find(rest, separator) {
            Some(i) => {
                parts.push(&rest[..i]);
                rest = &rest[i + separator.len()..];
            }
            None => break,
        }
    }
    parts.push(rest);
    parts
}

/// Writes rows in the file's own dialect: its delimiter and line ending, and quotes
/// only around the computed cells that need them (the csv crate's rule). Rows go
/// straight onto the output buffer, with no copy in between.
struct Line {
    rules: ::csv_core::Writer,
    delimiter: u8,
    terminator: &'static [u8],
    /// Where the row being written starts in the buffer.
    row: usize,
}

impl Line {
    fn new(delimiter: u8, crlf: bool) -> Line {
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
    fn next_cell(&mut self, out: &mut Vec<u8>, first: bool) {
        if first {
            self.row = out.len();
        } else {
            out.push(self.delimiter);
        }
    }

    /// Appends a cell's value, quoted if the format needs it.
    fn value(&self, out: &mut Vec<u8>, cell: &[u8]) {
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
    fn end(&self, out: &mut Vec<u8>) {
        if out.len() == self.row {
            out.extend_from_slice(&[QUOTE, QUOTE]);
        }
        out.extend_from_slice(self.terminator);
    }

    /// Writes a whole row of values: a header.
    fn values<'a>(&mut self, out: &mut Vec<u8>, cells: impl IntoIterator<Item = &'a str>) {
        for (i, cell) in cells.into_iter().enumerate() {
            self.next_cell(out, i == 0);
            self.value(out, cell.as_bytes());
        }
        self.end(out);
    }
}

/// Reads the start of a file to learn its layout: a BOM (kept) and CRLF line endings.
fn dialect(path: &Path) -> std::io::Result<(bool, bool)> {
    let mut start = Vec::with_capacity(1 << 16);
    File::open(path)?.take(1 << 16).read_to_end(&mut start)?;
    let bom = start.starts_with(BOM);
    let crlf = start
        .iter()
        .position(|&b| b == b'\n')
        .is_some_and(|i| i > 0 && start[i - 1] == b'\r');
    Ok((bom, crlf))
}

/// A stretch of an output row: input cells that go out as they came in, in their
/// order, copied in one go with the delimiters between them; or one computed cell.
#[derive(Clone)]
enum Segment {
    Raw(std::ops::RangeInclusive<usize>),
    Computed(Expr),
}

/// The output columns as segments: each run of consecutive input cells becomes one.
fn segments(columns: Vec<Expr>) -> Vec<Segment> {
    let mut segments: Vec<Segment> = Vec::with_capacity(columns.len());
    for column in columns {
        match (column, segments.last_mut()) {
            (Expr::Input(i), Some(Segment::Raw(run))) if *run.end() + 1 == i => {
                *run = *run.start()..=i;
            }
            (Expr::Input(i), _) => segments.push(Segment::Raw(i..=i)),
            (column, _) => segments.push(Segment::Computed(column)),
        }
    }
    segments
}

/// The raw bytes of the cells `run` of `row`, with the delimiters between them.
fn raw_cells<'r>(
    row: &'r ZeroCopyByteRecord<'_>,
    run: &std::ops::RangeInclusive<usize>,
) -> &'r [u8] {
    let whole = row.as_slice();
    let at = |cell: &[u8]| cell.as_ptr() as usize - whole.as_ptr() as usize;
    let (first, last) = (&row[*run.start()], &row[*run.end()]);
    &whole[at(first)..at(last) + last.len()]
}

/// What every piece of a transform needs: the compiled step and the file's dialect.
#[derive(Clone)]
struct Plan {
    segments: Vec<Segment>,
    filters: Vec<Keep>,
    delimiter: u8,
    crlf: bool,
}

/// A transformed piece, on its way to be written.
#[derive(Default)]
struct Done {
    out: Vec<u8>,
    rows: u64,
}

impl Plan {
    /// Transforms the records of `piece`, which starts at byte `offset` of the file,
    /// onto `out`; returns the rows written. An error names the file and the line.
    fn run(
        &self,
        source: &CsvFile,
        piece: &[u8],
        offset: u64,
        out: &mut Vec<u8>,
    ) -> Result<u64, String> {
        let mut records = Records::new(source, piece, offset);
        let mut line = Line::new(self.delimiter, self.crlf);
        let mut scratch = Vec::new();
        let mut rows = 0;
        while let Some((row, at)) = records.next(source)? {
            let mut kept = true;
            for filter in &self.filters {
                kept &= filter
                    .keeps(&row, &mut scratch)
                    .map_err(|e| source.failed(at, &e))?;
            }
            if !kept {
                continue;
            }
            for (i, segment) in self.segments.iter().enumerate() {
                line.next_cell(out, i == 0);
                match segment {
                    Segment::Raw(run) => out.extend_from_slice(raw_cells(&row, run)),
                    Segment::Computed(column) => {
                        scratch.clear();
                        column
                            .eval(&row, &mut scratch)
                            .map_err(|e| source.failed(at, &e))?;
                        line.value(out, &scratch);
                    }
                }
            }
            line.end(out);
            rows += 1;
        }
        Ok(rows)
    }
}

/// Streams `src` through the ops of `step` into `dst`, after checking that the real
/// header is the one the chain expects, on the threads `split` says, each piece
/// written in file order. `shown` names the file in errors; `progress` hears now and
/// then how many of the file's bytes have been read.
pub fn transform(
    src: &Path,
    dst: &Path,
    step: &CsvStep,
    shown: &str,
    split: Split,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Stats, String> {
    let expected: Vec<String> = step.header.iter().map(|c| c.to_string()).collect();
    let (columns, filters) = compile(&expected, &step.ops).map_err(|e| format!("{shown}: {e}"))?;
    let cannot_read = |e: &dyn std::fmt::Display| format!("{shown}: cannot read: {e}");
    let (bom, crlf) = dialect(src).map_err(|e| cannot_read(&e))?;
    let input = File::open(src).map_err(|e| cannot_read(&e))?;
    let total = input.metadata().map_or(0, |m| m.len());
    let Some((found, start)) = pieces::header(&input, step.delimiter, shown)? else {
        return Err(format!("{shown} is empty: it has no header line"));
    };
    if found != expected {
        return Err(format!(
            "{shown} has the columns {}, but the migration expects {}",
            super::shown_header(&found),
            super::shown_header(&expected)
        ));
    }
    let cannot_write = |e: &dyn std::fmt::Display| format!("{}: cannot write: {e}", dst.display());
    let mut output = Sink::new(File::create(dst).map_err(|e| cannot_write(&e))?);
    // The header goes out with the names the ops give it.
    let mut head = if bom { BOM.to_vec() } else { Vec::new() };
    let mut header: Header = Some(expected);
    for op in step.ops.iter() {
        flow::apply(&mut header, op).map_err(|e| format!("{shown}: {e}"))?;
    }
    Line::new(step.delimiter, crlf).values(&mut head, header.iter().flatten().map(String::as_str));
    output.write(&head).map_err(|e| cannot_write(&e))?;
    let plan = Plan {
        segments: segments(columns),
        filters,
        delimiter: step.delimiter,
        crlf,
    };
    let source = CsvFile {
        path: src,
        shown,
        delimiter: step.delimiter,
        width: step.header.len(),
    };
    let mut rows = 0;
    pieces::in_pieces(
        input,
        start,
        split,
        shown,
        || {
            let (plan, source) = (plan.clone(), &source);
            move |piece: &[u8], offset, done: &mut Done| {
                done.out.clear();
                done.rows = plan.run(source, piece, offset, &mut done.out)?;
                Ok(())
            }
        },
        |done: &mut Done, end| {
            output.write(&done.out).map_err(|e| cannot_write(&e))?;
            rows += done.rows;
            progress(end, total);
            Ok(())
        },
    )?;
    progress(total, total);
    let content = output.finish().map_err(|e| cannot_write(&e))?;
    Ok(Stats { rows, content })
}

/// Writes a new file: the seed as it was embedded, or just the header.
pub fn create(
    dst: &Path,
    delimiter: u8,
    columns: &[std::borrow::Cow<'static, str>],
    seed: Option<&[u8]>,
) -> Result<Stats, String> {
    let (bytes, rows) = match seed {
        Some(bytes) => (
            bytes.to_vec(),
            bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count()
                .saturating_sub(1) as u64,
        ),
        None => {
            let mut head = Vec::new();
            Line::new(delimiter, false).values(&mut head, columns.iter().map(|c| c.as_ref()));
            (head, 0)
        }
    };
    let write = || {
        let mut sink = Sink::new(File::create(dst)?);
        sink.write(&bytes)?;
        sink.finish()
    };
    let content = write().map_err(|e| format!("{}: cannot write: {e}", dst.display()))?;
    Ok(Stats { rows, content })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{List, Text};

    fn t(s: &str) -> Text {
        Text::Owned(s.to_owned())
    }

    fn step(header: &[&str], delimiter: u8, ops: Vec<CsvOp>) -> CsvStep {
        CsvStep {
            path: t("f.csv"),
            delimiter,
            header: List::Owned(header.iter().map(|c| t(c)).collect()),
            ops: List::Owned(ops),
        }
    }

    /// A step on the header a, b that renames a to z: touches no cell.
    fn a_to_z() -> CsvStep {
        step(
            &["a", "b"],
            b',',
            vec![CsvOp::Rename {
                from: t("a"),
                to: t("z"),
            }],
        )
    }

    /// Transforms `input` with `split`: the bytes written and the rows counted.
    fn run_split(input: &[u8], s: &CsvStep, split: Split) -> Result<(Vec<u8>, u64), String> {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
        std::fs::write(&src, input).unwrap();
        transform(&src, &dst, s, "f.csv", split, &mut |_, _| {})
            .map(|stats| (std::fs::read(&dst).unwrap(), stats.rows))
    }

    /// Transforms `input` on one thread in one piece, and checks that every way of
    /// cutting it (a piece per record, per few bytes, on two and three threads) writes
    /// the same bytes, or fails with the same error.
    fn run(input: &[u8], s: &CsvStep) -> Result<Vec<u8>, String> {
        let whole = run_split(
            input,
            s,
            Split {
                threads: 1,
                piece: pieces::PIECE,
            },
        );
        for threads in [1, 2, 3] {
            for piece in [1, 2, 5, 16] {
                let cut = run_split(input, s, Split { threads, piece });
                assert_eq!(cut, whole, "{threads} threads, pieces of {piece} bytes");
            }
        }
        whole.map(|(bytes, _)| bytes)
    }

    const HOSTILE: &[u8] = "id;com;adr;grav\n1;01053;\"quai \"\"A\"\"; n°2\";1\n2;75056;\"deux\nlignes, virgule\";2\n3;2A004;;4\n4;09122;Prés fleuris;3\n".as_bytes();

    /// The inverse of each op of `ops` (from header `before`), in reverse order, as the
    /// build derives a down.
    fn inverse(before: &[&str], ops: &[CsvOp]) -> Vec<CsvOp> {
        let mut header: crate::data::flow::Header =
            Some(before.iter().map(|c| c.to_string()).collect());
        let mut undo = Vec::new();
        for op in ops {
            undo.push(crate::build::flow::invert(&header, op).unwrap());
            crate::data::flow::apply(&mut header, op).unwrap();
        }
        undo.reverse();
        undo
    }

    #[test]
    fn replace_split_and_join_go_up_and_come_back_byte_for_byte() {
        let ops = vec![
            CsvOp::Replace {
                column: t("lat"),
                from: t(","),
                to: t("."),
                pattern: false,
            },
            CsvOp::Split {
                column: t("lieu"),
                separator: t("-"),
                into: List::Owned(vec![t("dep"), t("com")]),
            },
        ];
        let input = b"id;lieu;lat\n1;59-59350;50,5894\n2;2A-2A004-bis;\"41,9\"\n3;75-75056;48\n";
        let up = step(&["id", "lieu", "lat"], b';', ops.clone());
        let out = run(input, &up).unwrap();
        assert_eq!(
            out,
            b"id;dep;com;lat\n1;59;59350;50.5894\n2;2A;2A004-bis;41.9\n3;75;75056;48\n".to_vec()
        );
        let down = step(
            &["id", "dep", "com", "lat"],
            b';',
            inverse(&["id", "lieu", "lat"], &ops),
        );
        // Quoting that was not needed is not restored; every value is.
        assert_eq!(
            run(&out, &down).unwrap(),
            b"id;lieu;lat\n1;59-59350;50,5894\n2;2A-2A004-bis;41,9\n3;75-75056;48\n".to_vec()
        );
    }

    #[test]
    fn what_could_not_be_undone_is_refused_with_its_line() {
        let replace = step(
            &["id", "lat"],
            b';',
            vec![CsvOp::Replace {
                column: t("lat"),
                from: t(","),
                to: t("."),
                pattern: false,
            }],
        );
        let e = run(b"id;lat\n1;50,5\n2;50.5\n", &replace).unwrap_err();
        assert!(
            e.contains("line 3") && e.contains("already holds `.`"),
            "{e}"
        );
        let split = step(
            &["id", "lieu"],
            b';',
            vec![CsvOp::Split {
                column: t("lieu"),
                separator: t("-"),
                into: List::Owned(vec![t("dep"), t("com")]),
            }],
        );
        let e = run(b"id;lieu\n1;59-59350\n2;nowhere\n", &split).unwrap_err();
        assert!(e.contains("line 3") && e.contains("1 part"), "{e}");
        let join = step(
            &["dep", "com"],
            b';',
            vec![CsvOp::Join {
                columns: List::Owned(vec![t("dep"), t("com")]),
                separator: t("-"),
                into: t("lieu"),
            }],
        );
        let e = run(b"dep;com\n5-9;1\n", &join).unwrap_err();
        assert!(
            e.contains("line 2") && e.contains("could not be split back"),
            "{e}"
        );
    }

    #[test]
    fn a_pattern_replace_and_a_filter_stream_and_keep_what_they_should() {
        let ops = vec![
            CsvOp::Replace {
                column: t("tel"),
                from: t("^0([0-9])"),
                to: t("+33 $1"),
                pattern: true,
            },
            CsvOp::Filter {
                column: t("dep"),
                values: List::Owned(vec![t("59")]),
                pattern: Some(t("2[AB]")),
            },
        ];
        let s = step(&["dep", "tel"], b',', ops);
        let out = run(b"dep,tel\n59,0320\n75,0145\n2A,0495\n2AB,01\n", &s).unwrap();
        assert_eq!(out, b"dep,tel\n59,+33 320\n2A,+33 495\n".to_vec());
    }

    #[test]
    fn up_then_down_restores_every_byte() {
        let labels = [
            ("1", "indemne"),
            ("2", "tue"),
            ("3", "blesse_hospitalise"),
            ("4", "blesse_leger"),
        ];
        let up = step(
            &["id", "com", "adr", "grav"],
            b';',
            vec![
                CsvOp::Map {
                    column: t("grav"),
                    values: List::Owned(labels.iter().map(|(a, b)| (t(a), t(b))).collect()),
                    default: None,
                },
                CsvOp::Rename {
                    from: t("grav"),
                    to: t("gravite"),
                },
                CsvOp::Add {
                    column: t("lieu"),
                    value: Source::Template(t("{com}/{id}")),
                },
                CsvOp::Reorder {
                    columns: List::Owned(vec![
                        t("lieu"),
                        t("gravite"),
                        t("adr"),
                        t("com"),
                        t("id"),
                    ]),
                },
            ],
        );
        let out = run(HOSTILE, &up).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.starts_with(
                "lieu;gravite;adr;com;id\n01053/1;indemne;\"quai \"\"A\"\"; n°2\";01053;1\n"
            ),
            "{text}"
        );
        assert!(text.contains("\"deux\nlignes, virgule\""), "{text}");

        let down = step(
            &["lieu", "gravite", "adr", "com", "id"],
            b';',
            vec![
                CsvOp::Reorder {
                    columns: List::Owned(vec![
                        t("id"),
                        t("com"),
                        t("adr"),
                        t("gravite"),
                        t("lieu"),
                    ]),
                },
                CsvOp::Drop { column: t("lieu") },
                CsvOp::Rename {
                    from: t("gravite"),
                    to: t("grav"),
                },
                CsvOp::Map {
                    column: t("grav"),
                    values: List::Owned(labels.iter().map(|(a, b)| (t(b), t(a))).collect()),
                    default: None,
                },
            ],
        );
        assert_eq!(run(&out, &down).unwrap(), HOSTILE);
    }

    #[test]
    fn a_bom_and_crlf_line_endings_are_kept() {
        let input = b"\xEF\xBB\xBFa,b\r\n1,x\r\n2,y\r\n";
        let s = step(
            &["a", "b"],
            b',',
            vec![CsvOp::Rename {
                from: t("b"),
                to: t("c"),
            }],
        );
        assert_eq!(
            run(input, &s).unwrap(),
            b"\xEF\xBB\xBFa,c\r\n1,x\r\n2,y\r\n"
        );
    }

    #[test]
    fn convert_fill_and_copy() {
        let s = step(
            &["a", "b"],
            b',',
            vec![
                CsvOp::Convert {
                    column: t("a"),
                    to: Case::Upper,
                },
                CsvOp::Fill {
                    column: t("b"),
                    value: t("?"),
                },
                CsvOp::Add {
                    column: t("c"),
                    value: Source::Copy(t("b")),
                },
                CsvOp::Convert {
                    column: t("c"),
                    to: Case::Trim,
                },
            ],
        );
        assert_eq!(
            run("a,b\nprés,\nx, y \n".as_bytes(), &s).unwrap(),
            b"a,b,c\nPR\xC3\x89S,?,?\nX, y ,y\n"
        );
    }

    #[test]
    fn malformed_input_is_named_by_line() {
        let s = a_to_z();
        let e = run(b"a,b\n1,2\n3\n", &s).unwrap_err();
        assert_eq!(e, "f.csv line 3: the row has 1 fields, the header 2");
        let e = run(b"a,c\n1,2\n", &s).unwrap_err();
        assert!(
            e.contains("has the columns a, c, but the migration expects a, b"),
            "{e}"
        );
        let e = run(b"", &s).unwrap_err();
        assert!(e.contains("is empty"), "{e}");
        let strict = step(
            &["a"],
            b',',
            vec![CsvOp::Map {
                column: t("a"),
                values: List::Owned(vec![(t("1"), t("x"))]),
                default: None,
            }],
        );
        let e = run(b"a\n1\n7\n", &strict).unwrap_err();
        assert!(
            e.starts_with("f.csv line 3: `a` has the value `7`, which the map does not list"),
            "{e}"
        );
        let upper = step(
            &["a"],
            b',',
            vec![CsvOp::Convert {
                column: t("a"),
                to: Case::Upper,
            }],
        );
        let e = run(b"a\n\xFF\n", &upper).unwrap_err();
        assert!(e.contains("line 2") && e.contains("not valid UTF-8"), "{e}");
        // Bytes pass through untouched where no op needs text.
        assert_eq!(run(b"a,b\n\xFF,1\n", &s).unwrap(), b"z,b\n\xFF,1\n");
    }

    #[test]
    fn untouched_cells_keep_their_bytes_and_computed_ones_are_quoted_as_needed() {
        let s = step(
            &["a", "b"],
            b',',
            vec![
                CsvOp::Map {
                    column: t("a"),
                    values: List::Owned(vec![(t("x,y"), t("1")), (t("q"), t("say \"hi\""))]),
                    default: None,
                },
                CsvOp::Add {
                    column: t("c"),
                    value: Source::Copy(t("a")),
                },
                CsvOp::Add {
                    column: t("d"),
                    value: Source::Template(t("{b}|{a}")),
                },
            ],
        );
        // `"b"` was quoted without need: it is copied as it was, not re-encoded.
        let input = b"a,b\n\"x,y\",\"b\"\nq,\"l1\nl2\"\n";
        assert_eq!(
            run(input, &s).unwrap(),
            b"a,b,c,d\n1,\"b\",1,b|1\n\"say \"\"hi\"\"\",\"l1\nl2\",\"say \"\"hi\"\"\",\"l1\nl2|say \"\"hi\"\"\"\n"
        );
    }

    #[test]
    fn a_row_of_one_empty_cell_stays_a_row() {
        let s = step(
            &["a"],
            b',',
            vec![CsvOp::Rename {
                from: t("a"),
                to: t("b"),
            }],
        );
        assert_eq!(run(b"a\n\"\"\nz\n", &s).unwrap(), b"b\n\"\"\nz\n");
    }

    #[test]
    fn an_unclosed_quote_and_a_ragged_row_after_a_multiline_cell_are_named_by_line() {
        let s = a_to_z();
        let e = run(b"a,b\n1,\"two\nlines\"\n3,\"never closed\n4,5\n", &s).unwrap_err();
        assert_eq!(e, "f.csv line 4: a quoted cell is never closed");
        let e = run(b"a,b\n1,x\n2,( q \"\"z\"\"\",\n", &s).unwrap_err();
        assert_eq!(
            e,
            "f.csv line 3: a quote inside a cell that does not start with one"
        );
        let e = run(b"a,b\n\"1\"x,2\n", &s).unwrap_err();
        assert_eq!(e, "f.csv line 2: text after the quote that closes a cell");
        let e = run(b"a,b\n1,x\r\x02\n", &s).unwrap_err();
        assert_eq!(
            e,
            "f.csv line 2: a carriage return inside a cell that is not quoted"
        );
        let e = run(b"a,b\n1,\"two\nlines\"\n3,4,5\n", &s).unwrap_err();
        assert_eq!(e, "f.csv line 4: the row has 3 fields, the header 2");
        // A closed quote that ends in an escaped quote is fine.
        assert_eq!(
            run(b"a,b\n1,\"x\"\"\"\n", &s).unwrap(),
            b"z,b\n1,\"x\"\"\"\n"
        );
    }

    /// A short map is searched and a long one hashed: both give the same images.
    #[test]
    fn a_long_map_and_a_short_one_map_alike() {
        for count in [3, FEW + 5] {
            let values = (0..count).map(|i| (t(&i.to_string()), t(&format!("v{i}"))));
            let s = step(
                &["a"],
                b',',
                vec![CsvOp::Map {
                    column: t("a"),
                    values: List::Owned(values.collect()),
                    default: None,
                }],
            );
            assert_eq!(run(b"a\n2\n0\n", &s).unwrap(), b"a\nv2\nv0\n");
            let e = run(b"a\n1\nx\n", &s).unwrap_err();
            assert!(e.starts_with("f.csv line 3: `a` has the value `x`"), "{e}");
        }
    }

    #[test]
    fn consecutive_input_cells_are_copied_as_one_segment() {
        let columns = vec![
            Expr::Input(0),
            Expr::Input(1),
            Expr::Text(b"x".to_vec()),
            Expr::Input(3),
            Expr::Input(2),
            Expr::Input(3),
        ];
        let shown: Vec<String> = segments(columns)
            .iter()
            .map(|s| match s {
                Segment::Raw(run) => format!("{}..={}", run.start(), run.end()),
                Segment::Computed(_) => "computed".into(),
            })
            .collect();
        assert_eq!(shown, ["0..=1", "computed", "3..=3", "2..=3"]);
    }

    /// The cuts the issue names: inside a quoted cell of many lines (longer than a
    /// piece, which grows), between a CR and its LF, on a cell that starts with a BOM's
    /// bytes, on blank lines, and on files of one row or none; `run` compares each way
    /// of cutting with the single-thread pass.
    #[test]
    fn every_cut_writes_what_one_thread_writes() {
        let s = step(
            &["a", "b"],
            b',',
            vec![CsvOp::Map {
                column: t("a"),
                values: List::Owned(vec![(t("1"), t("one"))]),
                default: Some(t("other")),
            }],
        );
        let long = format!("1,\"{}\"\r\n2,x\r\n", "line\r\n".repeat(40));
        let out = run(format!("a,b\r\n{long}").as_bytes(), &s).unwrap();
        assert_eq!(
            out,
            format!("a,b\r\none,\"{}\"\r\nother,x\r\n", "line\r\n".repeat(40)).as_bytes()
        );
        // A BOM is the file's only at its start; a row may begin with the same bytes.
        let bom_cell = b"\xEF\xBB\xBFa,b\n\xEF\xBB\xBF1,x\n1,y\n";
        assert_eq!(
            run(bom_cell, &s).unwrap(),
            b"\xEF\xBB\xBFa,b\nother,x\none,y\n"
        );
        assert_eq!(
            run(b"a,b\n\n1,x\n\n\n1,y\n\n", &s).unwrap(),
            b"a,b\none,x\none,y\n"
        );
        assert_eq!(run(b"a,b\n1,x", &s).unwrap(), b"a,b\none,x\n");
        assert_eq!(run(b"a,b\n", &s).unwrap(), b"a,b\n");
        assert_eq!(run(b"a,b", &s).unwrap(), b"a,b\n");
    }

    /// An error in a later piece names its true line, and of two bad rows the first
    /// is the one named, whichever thread meets its row first.
    #[test]
    fn the_first_bad_row_is_named_by_its_line_however_the_file_is_cut() {
        let s = a_to_z();
        let mut input = b"a,b\n".to_vec();
        for i in 2..=400 {
            match i {
                150 => input.extend_from_slice(b"\"x\ny\",1\n"),
                300 => input.extend_from_slice(b"ragged\n"),
                350 => input.extend_from_slice(b"1,2,3\n"),
                _ => input.extend_from_slice(format!("{i},v\n").as_bytes()),
            }
        }
        let e = run(&input, &s).unwrap_err();
        assert_eq!(e, "f.csv line 301: the row has 1 fields, the header 2");
    }

    /// A transform's and a creation's reported content is the file's.
    #[test]
    fn a_pass_reports_the_content_of_the_file_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
        std::fs::write(&src, HOSTILE).unwrap();
        let s = step(
            &["id", "com", "adr", "grav"],
            b';',
            vec![CsvOp::Rename {
                from: t("grav"),
                to: t("g"),
            }],
        );
        let split = Split {
            threads: 2,
            piece: 8,
        };
        let stats = transform(&src, &dst, &s, "f.csv", split, &mut |_, _| {}).unwrap();
        assert_eq!(stats.rows, 4);
        assert_eq!(stats.content, Content::of(&dst).unwrap());
        let columns = [std::borrow::Cow::Borrowed("a"), "b c".into()];
        let stats = create(&dst, b' ', &columns, None).unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), b"a \"b c\"\n");
        assert_eq!(stats.content, Content::of(&dst).unwrap());
    }
}
