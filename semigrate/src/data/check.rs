//! CSV validations: one pass over the file as the migration leaves it, on all cores.
//! Each piece's rows are checked against the rules of one row (`not_null`, `matches`,
//! `values_in`) on its thread; the keys of `unique` and `unique_together` come back in
//! file order to one set, so that the first repeat is the one named.

use super::pieces::{self, CsvFile, Records, Split};
use crate::model::CsvCheck;
use simd_csv::ZeroCopyByteRecord;
use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

/// The rules a check gives, as cell indexes.
#[derive(Clone)]
struct Rules<'c> {
    not_null: Vec<(&'c str, usize)>,
    values_in: Option<(&'c str, usize, HashSet<&'c [u8]>)>,
    matches: Option<(&'c str, usize, regex::bytes::Regex)>,
    unique: Option<usize>,
    together: Vec<usize>,
}

/// A row's keys, for the set of each uniqueness rule, and where the row starts.
struct Keys {
    at: u64,
    unique: Option<Vec<u8>>,
    together: Option<Vec<Vec<u8>>>,
}

/// What a piece found: its rows, their keys in order, and the first row that breaks a
/// rule of its own (the keys stop before it).
#[derive(Default)]
struct Found {
    rows: u64,
    keys: Vec<Keys>,
    broken: Option<String>,
}

impl Rules<'_> {
    /// Why `row` breaks a rule of its own, if it does.
    fn broken(&self, row: &ZeroCopyByteRecord) -> Option<String> {
        let cell = |i: usize| row.unescape(i).unwrap_or_default();
        if let Some((column, _)) = self.not_null.iter().find(|(_, i)| cell(*i).is_empty()) {
            return Some(format!("`{column}` is empty"));
        }
        if let Some((column, i, pattern)) = &self.matches
            && !pattern.is_match(&cell(*i))
        {
            return Some(format!(
                "`{column}` has `{}`, which does not match {}",
                super::shown_value(&cell(*i)),
                pattern.as_str()
            ));
        }
        if let Some((column, i, allowed)) = &self.values_in
            && !allowed.contains(cell(*i).as_ref())
        {
            return Some(format!(
                "`{column}` has `{}`, which is not among the allowed values",
                super::shown_value(&cell(*i))
            ));
        }
        None
    }

    /// Checks the rows of `piece`, which starts at byte `offset`, into `found` (emptied
    /// first: its buffers are reused).
    fn piece(
        &self,
        file: &CsvFile,
        piece: &[u8],
        offset: u64,
        found: &mut Found,
    ) -> Result<(), String> {
        let mut records = Records::new(file, piece, offset);
        let keyed = self.unique.is_some() || !self.together.is_empty();
        found.rows = 0;
        found.keys.clear();
        found.broken = None;
        while let Some((row, at)) = records.next(file)? {
            if let Some(why) = self.broken(&row) {
                found.broken = Some(file.failed(at, &why));
                break;
            }
            found.rows += 1;
            if keyed {
                let owned = |i: usize| row.unescape(i).map(Cow::into_owned).unwrap_or_default();
                found.keys.push(Keys {
                    at,
                    unique: self.unique.map(owned),
                    together: (!self.together.is_empty())
                        .then(|| self.together.iter().map(|&i| owned(i)).collect()),
                });
            }
        }
        Ok(())
    }
}

/// Checks `file` (None: it does not exist) against every rule `check` gives, but
/// `rows_match`, which needs the store; returns the number of rows.
pub fn check(file: Option<&Path>, check: &CsvCheck) -> Result<u64, String> {
    let file = file.ok_or_else(|| format!("{} does not exist", check.path))?;
    checked(file, check, Split::from_env()?)
}

/// `check` on the threads `split` says.
fn checked(file: &Path, check: &CsvCheck, split: Split) -> Result<u64, String> {
    let path = &check.path;
    let input = File::open(file).map_err(|e| format!("{path}: cannot read: {e}"))?;
    // The reader leaves a BOM out of the first name.
    let Some((header, start)) = pieces::header(&input, check.delimiter, path)? else {
        return Err(format!("{path} is empty"));
    };
    if let Some(columns) = &check.columns
        && header.iter().ne(columns.iter().map(|c| c.as_ref()))
    {
        return Err(format!(
            "{path} has the columns {}, expected exactly {}",
            super::shown_header(&header),
            columns.join(", ")
        ));
    }
    let at = |column: &str| {
        header
            .iter()
            .position(|c| c == column)
            .ok_or_else(|| format!("{path} has no column `{column}`"))
    };
    for column in check.columns_include.iter() {
        at(column)?;
    }
    let rules = Rules {
        not_null: check
            .not_null
            .iter()
            .map(|c| at(c).map(|i| (c.as_ref(), i)))
            .collect::<Result<_, _>>()?,
        values_in: match &check.values_in {
            Some((column, values)) => Some((
                column.as_ref(),
                at(column)?,
                values.iter().map(|v| v.as_bytes()).collect(),
            )),
            None => None,
        },
        matches: match &check.matches {
            Some((column, pattern)) => Some((column.as_ref(), at(column)?, whole(pattern)?)),
            None => None,
        },
        unique: check.unique.as_deref().map(at).transpose()?,
        together: check
            .unique_together
            .iter()
            .map(|c| at(c))
            .collect::<Result<_, _>>()?,
    };
    let csv = CsvFile {
        path: file,
        shown: path,
        delimiter: check.delimiter,
        width: header.len(),
    };
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut keys: HashSet<Vec<Vec<u8>>> = HashSet::new();
    let mut rows = 0u64;
    pieces::in_pieces(
        input,
        start,
        split,
        path,
        || {
            let (rules, csv) = (rules.clone(), &csv);
            move |piece: &[u8], offset, found: &mut Found| rules.piece(csv, piece, offset, found)
        },
        |found: &mut Found, _| {
            rows += found.rows;
            for row in found.keys.drain(..) {
                if let Some(key) = row.together
                    && let Err(key) = insert(&mut keys, key)
                {
                    let values: Vec<String> = key.iter().map(|v| super::shown_value(v)).collect();
                    let why = format!(
                        "({}) repeats the values ({})",
                        check.unique_together.join(", "),
                        values.join(", ")
                    );
                    return Err(csv.failed(row.at, &why));
                }
                if let Some(value) = row.unique
                    && let Err(value) = insert(&mut seen, value)
                {
                    let column = check.unique.as_deref().unwrap_or_default();
                    let why = format!(
                        "`{column}` repeats the value `{}`",
                        super::shown_value(&value)
                    );
                    return Err(csv.failed(row.at, &why));
                }
            }
            found.broken.take().map_or(Ok(()), Err)
        },
    )?;
    if check.not_empty && rows == 0 {
        return Err(format!("{path} has a header but no rows"));
    }
    if let Some(want) = check.rows
        && rows != want
    {
        return Err(format!("{path} has {rows} rows, expected {want}"));
    }
    Ok(rows)
}

/// Adds `key` to `set`; gives it back if it was there already.
fn insert<K: std::hash::Hash + Eq>(set: &mut HashSet<K>, key: K) -> Result<(), K> {
    match set.contains(&key) {
        true => Err(key),
        false => {
            set.insert(key);
            Ok(())
        }
    }
}

/// `pattern` matching a whole cell's bytes.
pub fn whole(pattern: &str) -> Result<regex::bytes::Regex, String> {
    regex::bytes::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| format!("`{pattern}` is not a regular expression: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{List, Text};

    fn t(s: &str) -> Text {
        Text::Owned(s.to_owned())
    }

    /// Checks `input` in one piece on one thread, and checks that every way of cutting
    /// it gives the same count or the same error.
    fn run(input: &[u8], c: &CsvCheck) -> Result<u64, String> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.csv");
        std::fs::write(&file, input).unwrap();
        let whole = checked(
            &file,
            c,
            Split {
                threads: 1,
                piece: pieces::PIECE,
            },
        );
        for threads in [1, 2, 3] {
            for piece in [1, 7, 40] {
                let cut = checked(&file, c, Split { threads, piece });
                assert_eq!(cut, whole, "{threads} threads, pieces of {piece} bytes");
            }
        }
        whole
    }

    fn rules() -> CsvCheck {
        CsvCheck {
            path: t("f.csv"),
            delimiter: b',',
            columns: None,
            columns_include: List::Owned(vec![]),
            not_empty: true,
            unique: Some(t("id")),
            values_in: Some((t("grav"), List::Owned(vec![t("1"), t("2")]))),
            not_null: List::Owned(vec![t("dep")]),
            unique_together: List::Owned(vec![t("dep"), t("com")]),
            matches: Some((t("com"), t("[0-9]{3}"))),
            rows: None,
            rows_match: None,
        }
    }

    #[test]
    fn the_first_broken_rule_is_named_by_its_line_however_the_file_is_cut() {
        let c = rules();
        let mut good = b"\xEF\xBB\xBFid,dep,com,grav\n".to_vec();
        for i in 0..60 {
            good.extend_from_slice(format!("{i},{},\"{:03}\",1\n", i % 7, i).as_bytes());
        }
        assert_eq!(run(&good, &c), Ok(60));
        // A repeated id on line 40, then a value not allowed on line 50: the repeat is
        // named, though the piece of line 50 may be read first.
        let mut bad = good.clone();
        bad.extend_from_slice(b"5,1,900,1\n");
        let e = run(&bad, &c).unwrap_err();
        assert_eq!(e, "f.csv line 62: `id` repeats the value `5`");
        let mut lines: Vec<&[u8]> = good.split_inclusive(|&b| b == b'\n').collect();
        lines[39] = b"99,3,010,1\n";
        lines[49] = b"98,1,777,3\n";
        let e = run(&lines.concat(), &c).unwrap_err();
        assert_eq!(e, "f.csv line 40: (dep, com) repeats the values (3, 010)");
        lines[39] = b"99,6,9999,1\n";
        let e = run(&lines.concat(), &c).unwrap_err();
        assert_eq!(
            e,
            "f.csv line 40: `com` has `9999`, which does not match ^(?:[0-9]{3})$"
        );
        lines[39] = b"99,,999,1\n";
        assert_eq!(
            run(&lines.concat(), &c).unwrap_err(),
            "f.csv line 40: `dep` is empty"
        );
        lines[39] = b"99,6,999\n";
        assert_eq!(
            run(&lines.concat(), &c).unwrap_err(),
            "f.csv line 40: the row has 3 fields, the header 4"
        );
        assert_eq!(
            run(b"id,dep,com,grav\n", &c).unwrap_err(),
            "f.csv has a header but no rows"
        );
        assert_eq!(run(b"", &c).unwrap_err(), "f.csv is empty");
    }
}
