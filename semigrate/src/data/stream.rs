//! The streaming transformer: one pass over a CSV file. The ops of a step are compiled
//! once into one expression per output column over the cells of the input row, so a
//! step costs one pass whatever its number of ops. A cell that no op touches is copied
//! as the raw bytes it had in the input, quotes and all; only computed cells are
//! unescaped and quoted again where the format needs it. The file is cut at record
//! ends into pieces that the cores transform side by side (`Split`), written back in
//! file order; memory stays constant whatever the size: the pieces in flight.
//! Cells are bytes; UTF-8 is decoded only by `convert` to upper or lower case.

use super::expr::{Expr, Keep, compile};
use super::flow::{self, Header};
pub use super::pieces::Split;
use super::pieces::{self, CsvFile, Records};
use super::row_writer::Line;
use crate::durable::writer::{Content, Sink};
use crate::model::CsvStep;
use simd_csv::ZeroCopyByteRecord;
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
struct Pass {
    segments: Vec<Segment>,
    filters: Vec<Keep>,
    delimiter: u8,
    crlf: bool,
}

/// A transformed piece, on its way to be written.
#[derive(Default)]
struct Transformed {
    out: Vec<u8>,
    rows: u64,
}

impl Pass {
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
    let plan = Pass {
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
            move |piece: &[u8], offset, done: &mut Transformed| {
                done.out.clear();
                done.rows = plan.run(source, piece, offset, &mut done.out)?;
                Ok(())
            }
        },
        |done: &mut Transformed, end| {
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
    use crate::data::expr::FEW;
    use crate::model::{Case, CsvOp, Source};
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
