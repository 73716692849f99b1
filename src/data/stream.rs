//! The streaming transformer: one pass over a CSV file, its ops compiled once into
//! instructions over column positions, two `ByteRecord`s reused for every row (and a
//! scratch buffer for computed cells), so memory stays constant whatever the size.
//! Cells are bytes; UTF-8 is decoded only by `convert` to upper or lower case.

use super::flow::{self, Header, Part};
use crate::model::{Case, CsvOp, CsvStep, Source};
use ::csv::{ByteRecord, ReaderBuilder, Terminator, WriterBuilder};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

const BOM: &[u8] = b"\xEF\xBB\xBF";
const BUFFER: usize = 1 << 20;

/// What a pass wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub rows: u64,
}

/// One op, resolved against the header at its place in the step.
enum Instruction {
    Append(Cell),
    Remove(usize),
    Map {
        at: usize,
        column: String,
        images: HashMap<Vec<u8>, Vec<u8>>,
        default: Option<Vec<u8>>,
    },
    Convert {
        at: usize,
        column: String,
        case: Case,
    },
    Fill {
        at: usize,
        value: Vec<u8>,
    },
    Reorder(Vec<usize>),
}

enum Cell {
    Value(Vec<u8>),
    Copy(usize),
    Template(Vec<Piece>),
}

enum Piece {
    Text(Vec<u8>),
    Column(usize),
}

fn index(header: &[String], column: &str) -> Result<usize, String> {
    header
        .iter()
        .position(|c| c == column)
        .ok_or_else(|| format!("no column `{column}`"))
}

/// Compiles the ops of a step that starts from `header`.
fn compile(header: &[String], ops: &[CsvOp]) -> Result<Vec<Instruction>, String> {
    let mut h: Header = Some(header.to_vec());
    let mut program = Vec::new();
    for op in ops {
        let now = h.as_deref().unwrap_or_default();
        let instruction = match op {
            CsvOp::Rename { .. } => None,
            CsvOp::Add { value, .. } => Some(Instruction::Append(match value {
                Source::Value(v) => Cell::Value(v.as_bytes().to_vec()),
                Source::Copy(c) => Cell::Copy(index(now, c)?),
                Source::Template(p) => Cell::Template(
                    flow::template(p)?
                        .into_iter()
                        .map(|part| match part {
                            Part::Text(t) => Ok(Piece::Text(t.into_bytes())),
                            Part::Column(c) => index(now, &c).map(Piece::Column),
                        })
                        .collect::<Result<_, String>>()?,
                ),
            })),
            CsvOp::Drop { column } => Some(Instruction::Remove(index(now, column)?)),
            CsvOp::Map {
                column,
                values,
                default,
            } => Some(Instruction::Map {
                at: index(now, column)?,
                column: column.to_string(),
                images: values
                    .iter()
                    .map(|(a, b)| (a.as_bytes().to_vec(), b.as_bytes().to_vec()))
                    .collect(),
                default: default.as_ref().map(|d| d.as_bytes().to_vec()),
            }),
            CsvOp::Convert { column, to } => Some(Instruction::Convert {
                at: index(now, column)?,
                column: column.to_string(),
                case: *to,
            }),
            CsvOp::Fill { column, value } => Some(Instruction::Fill {
                at: index(now, column)?,
                value: value.as_bytes().to_vec(),
            }),
            CsvOp::Reorder { columns } => Some(Instruction::Reorder(
                columns
                    .iter()
                    .map(|c| index(now, c))
                    .collect::<Result<_, _>>()?,
            )),
            CsvOp::Create { .. } | CsvOp::Delete => {
                return Err(format!("`{}` must be alone in its step", flow::op_name(op)));
            }
        };
        program.extend(instruction);
        flow::apply(&mut h, op)?;
    }
    Ok(program)
}

impl Instruction {
    /// Applies the instruction to `row`, using `next` and `scratch` as working space.
    fn run(
        &self,
        row: &mut ByteRecord,
        next: &mut ByteRecord,
        scratch: &mut Vec<u8>,
    ) -> Result<(), String> {
        next.clear();
        match self {
            Instruction::Append(cell) => {
                scratch.clear();
                match cell {
                    Cell::Value(v) => scratch.extend_from_slice(v),
                    Cell::Copy(i) => scratch.extend_from_slice(&row[*i]),
                    Cell::Template(pieces) => {
                        for piece in pieces {
                            match piece {
                                Piece::Text(t) => scratch.extend_from_slice(t),
                                Piece::Column(i) => scratch.extend_from_slice(&row[*i]),
                            }
                        }
                    }
                }
                row.push_field(scratch);
                return Ok(());
            }
            Instruction::Remove(at) => {
                for (i, field) in row.iter().enumerate() {
                    if i != *at {
                        next.push_field(field);
                    }
                }
            }
            Instruction::Reorder(order) => {
                for &i in order {
                    next.push_field(&row[i]);
                }
            }
            Instruction::Map {
                at,
                column,
                images,
                default,
            } => {
                let value = &row[*at];
                let image = match (images.get(value), default) {
                    (Some(image), _) => image.as_slice(),
                    (None, Some(d)) => d.as_slice(),
                    (None, None) => {
                        return Err(format!(
                            "`{column}` has the value `{}`, which the map does not list (and it has no `default`)",
                            String::from_utf8_lossy(value)
                        ));
                    }
                };
                replace(row, next, *at, image);
            }
            Instruction::Fill { at, value } => {
                if !row[*at].is_empty() {
                    return Ok(());
                }
                replace(row, next, *at, value);
            }
            Instruction::Convert { at, column, case } => {
                scratch.clear();
                let cell = &row[*at];
                match case {
                    Case::Trim => scratch.extend_from_slice(cell.trim_ascii()),
                    Case::Upper | Case::Lower => {
                        let text = std::str::from_utf8(cell).map_err(|_| {
                            format!("`{column}` is not valid UTF-8, which `convert` needs")
                        })?;
                        let mut buf = [0u8; 4];
                        for c in text.chars() {
                            if *case == Case::Upper {
                                c.to_uppercase().for_each(|u| {
                                    scratch.extend_from_slice(u.encode_utf8(&mut buf).as_bytes())
                                });
                            } else {
                                c.to_lowercase().for_each(|u| {
                                    scratch.extend_from_slice(u.encode_utf8(&mut buf).as_bytes())
                                });
                            }
                        }
                    }
                }
                replace(row, next, *at, scratch);
            }
        }
        std::mem::swap(row, next);
        Ok(())
    }
}

/// `next` becomes `row` with the cell at `at` replaced by `value`.
fn replace(row: &ByteRecord, next: &mut ByteRecord, at: usize, value: &[u8]) {
    for (i, field) in row.iter().enumerate() {
        next.push_field(if i == at { value } else { field });
    }
}

/// How a file's bytes are laid out: kept as they were.
struct Dialect {
    bom: bool,
    terminator: Terminator,
}

/// Opens a CSV file, noting its BOM (skipped) and its line ending.
fn open(path: &Path) -> std::io::Result<(BufReader<File>, Dialect)> {
    let mut reader = BufReader::with_capacity(BUFFER, File::open(path)?);
    let start = reader.fill_buf()?;
    let bom = start.starts_with(BOM);
    let crlf = start
        .iter()
        .position(|&b| b == b'\n')
        .is_some_and(|i| i > 0 && start[i - 1] == b'\r');
    if bom {
        reader.consume(BOM.len());
    }
    let terminator = if crlf {
        Terminator::CRLF
    } else {
        Terminator::Any(b'\n')
    };
    Ok((reader, Dialect { bom, terminator }))
}

/// Rows between two progress reports: often enough for a bar, rare enough to cost
/// nothing in the loop.
const REPORT_EVERY: u64 = 1 << 16;

/// Streams `src` through the ops of `step` into `dst`, after checking that the real
/// header is the one the chain expects. `shown` names the file in errors; `progress`
/// hears now and then how many of the file's bytes have been read.
pub fn transform(
    src: &Path,
    dst: &Path,
    step: &CsvStep,
    shown: &str,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Stats, String> {
    let expected: Vec<String> = step.header.iter().map(|c| c.to_string()).collect();
    let program = compile(&expected, &step.ops).map_err(|e| format!("{shown}: {e}"))?;
    let (input, dialect) = open(src).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    let total = input.get_ref().metadata().map_or(0, |m| m.len());
    let mut reader = ReaderBuilder::new()
        .delimiter(step.delimiter)
        .has_headers(false)
        .buffer_capacity(BUFFER)
        .from_reader(input);
    let malformed = |e: ::csv::Error| match e.position() {
        Some(p) => format!("{shown} line {}: {}", p.line(), reason(&e)),
        None => format!("{shown}: {}", reason(&e)),
    };
    let mut row = ByteRecord::new();
    if !reader.read_byte_record(&mut row).map_err(malformed)? {
        return Err(format!("{shown} is empty: it has no header line"));
    }
    if row.iter().ne(expected.iter().map(String::as_bytes)) {
        let found: Vec<String> = row
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        return Err(format!(
            "{shown} has the columns {}, but the migration expects {}",
            found.join(", "),
            expected.join(", ")
        ));
    }
    let mut output =
        File::create(dst).map_err(|e| format!("{}: cannot write: {e}", dst.display()))?;
    let write_error = |e: &dyn std::fmt::Display| format!("{}: cannot write: {e}", dst.display());
    if dialect.bom {
        output.write_all(BOM).map_err(|e| write_error(&e))?;
    }
    let mut writer = WriterBuilder::new()
        .delimiter(step.delimiter)
        .terminator(dialect.terminator)
        .buffer_capacity(BUFFER)
        .from_writer(output);
    let mut next = ByteRecord::new();
    let mut scratch = Vec::new();
    // The header goes through the same instructions as the rows, with the names given.
    let mut header: Header = Some(expected);
    for op in step.ops.iter() {
        flow::apply(&mut header, op).map_err(|e| format!("{shown}: {e}"))?;
    }
    writer
        .write_record(header.iter().flatten())
        .map_err(|e| write_error(&e))?;
    let mut stats = Stats::default();
    while reader.read_byte_record(&mut row).map_err(malformed)? {
        let line = row.position().map_or(0, |p| p.line());
        for instruction in &program {
            instruction
                .run(&mut row, &mut next, &mut scratch)
                .map_err(|e| format!("{shown} line {line}: {e}"))?;
        }
        writer
            .write_byte_record(&row)
            .map_err(|e| write_error(&e))?;
        stats.rows += 1;
        if stats.rows % REPORT_EVERY == 0 {
            progress(reader.position().byte(), total);
        }
    }
    progress(total, total);
    let file = writer.into_inner().map_err(|e| write_error(&e.error()))?;
    file.sync_all().map_err(|e| write_error(&e))?;
    Ok(stats)
}

/// Writes a new file: the seed as it was embedded, or just the header.
pub fn create(
    dst: &Path,
    delimiter: u8,
    columns: &[std::borrow::Cow<'static, str>],
    seed: Option<&[u8]>,
) -> Result<Stats, String> {
    let write_error = |e: &dyn std::fmt::Display| format!("{}: cannot write: {e}", dst.display());
    let mut file = File::create(dst).map_err(|e| write_error(&e))?;
    let rows = match seed {
        Some(bytes) => {
            file.write_all(bytes).map_err(|e| write_error(&e))?;
            bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count()
                .saturating_sub(1) as u64
        }
        None => {
            let mut writer = WriterBuilder::new()
                .delimiter(delimiter)
                .from_writer(&mut file);
            writer
                .write_record(columns.iter().map(|c| c.as_bytes()))
                .map_err(|e| write_error(&e))?;
            writer.flush().map_err(|e| write_error(&e))?;
            0
        }
    };
    file.sync_all().map_err(|e| write_error(&e))?;
    Ok(Stats { rows })
}

/// The csv crate's reason, without the position it also prints.
fn reason(e: &::csv::Error) -> String {
    match e.kind() {
        ::csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("the row has {len} fields, the header {expected_len}")
        }
        _ => e.to_string(),
    }
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

    fn run(input: &[u8], s: &CsvStep) -> Result<Vec<u8>, String> {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
        std::fs::write(&src, input).unwrap();
        transform(&src, &dst, s, "f.csv", &mut |_, _| {}).map(|_| std::fs::read(&dst).unwrap())
    }

    const HOSTILE: &[u8] = "id;com;adr;grav\n1;01053;\"quai \"\"A\"\"; n°2\";1\n2;75056;\"deux\nlignes, virgule\";2\n3;2A004;;4\n4;09122;Prés fleuris;3\n".as_bytes();

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
        let s = step(
            &["a", "b"],
            b',',
            vec![CsvOp::Rename {
                from: t("a"),
                to: t("z"),
            }],
        );
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
}
