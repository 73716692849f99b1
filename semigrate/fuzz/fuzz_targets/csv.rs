//! Any bytes as a CSV file, through a few ops picked by the first byte: the
//! transformer must refuse the file or write one that reads back as CSV with the
//! header the ops give and the rows it counted, never panic. The second byte picks a
//! piece size: the file cut into pieces that small, on two threads, must give exactly
//! what one thread in one piece gives, the same bytes or the same error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use semigrate::fuzzing::{flow, stream};
use stream::Split;
use semigrate::__private::{Case, CsvOp, CsvStep, List, Source, Text};

fn t(s: &str) -> Text {
    Text::Owned(s.to_owned())
}

/// The ops the first bytes pick from, each valid on the header a, b, c.
fn op(n: u8) -> CsvOp {
    match n % 9 {
        0 => CsvOp::Map {
            column: t("a"),
            values: List::Owned(vec![(t("1"), t("one, \"1\"")), (t("2"), t("two"))]),
            default: Some(t("other")),
        },
        1 => CsvOp::Add {
            column: t("d"),
            value: Source::Template(t("{a}-{b}")),
        },
        2 => CsvOp::Add {
            column: t("e"),
            value: Source::Copy(t("b")),
        },
        3 => CsvOp::Drop { column: t("c") },
        4 => CsvOp::Convert {
            column: t("a"),
            to: Case::Upper,
        },
        5 => CsvOp::Convert {
            column: t("b"),
            to: Case::Trim,
        },
        6 => CsvOp::Fill {
            column: t("b"),
            value: t("?"),
        },
        7 => CsvOp::Reorder {
            columns: List::Owned(vec![t("c"), t("b"), t("a")]),
        },
        _ => CsvOp::Rename {
            from: t("a"),
            to: t("z"),
        },
    }
}

fuzz_target!(|bytes: &[u8]| {
    let [pick, piece, rest @ ..] = bytes else {
        return;
    };
    let pick = *pick;
    let delimiter = [b',', b';', b'\t', b'|'][usize::from(pick & 3)];
    let ops: Vec<CsvOp> = [pick >> 2, pick >> 5].into_iter().map(op).collect();
    let step = CsvStep {
        path: t("f.csv"),
        delimiter,
        header: List::Owned(vec![t("a"), t("b"), t("c")]),
        ops: List::Owned(ops.clone()),
    };
    let mut header = Some(vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]);
    for op in &ops {
        if flow::apply(&mut header, op).is_err() {
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, cut) = (
        dir.path().join("in.csv"),
        dir.path().join("out.csv"),
        dir.path().join("cut.csv"),
    );
    std::fs::write(&src, rest).unwrap();
    let whole = Split {
        threads: 1,
        piece: 1 << 20,
    };
    let pieces = Split {
        threads: 2,
        piece: usize::from(piece % 32) + 1,
    };
    let one = stream::transform(&src, &dst, &step, "f.csv", whole, &mut |_, _| {});
    let two = stream::transform(&src, &cut, &step, "f.csv", pieces, &mut |_, _| {});
    assert_eq!(one, two, "{pieces:?}");
    let Ok(stats) = one else {
        return;
    };
    assert_eq!(std::fs::read(&dst).unwrap(), std::fs::read(&cut).unwrap());
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .from_path(&dst)
        .unwrap();
    let mut rows = reader.byte_records();
    let written: Vec<Vec<u8>> = rows
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(<[u8]>::to_vec)
        .collect();
    let expected: Vec<Vec<u8>> = header
        .unwrap()
        .into_iter()
        .map(String::into_bytes)
        .collect();
    // A BOM the input had is kept, before the first name.
    let first = written[0]
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&written[0]);
    assert_eq!(first, expected[0].as_slice());
    assert_eq!(written[1..], expected[1..]);
    let mut count = 0;
    for row in rows {
        let row = row.expect("the output reads back as CSV");
        assert_eq!(row.len(), expected.len());
        count += 1;
    }
    assert_eq!(count, stats.rows);
});
