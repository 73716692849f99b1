//! The chain pass over CSV files: each file's header followed through the chain, op
//! by op, both ways; the derived inverse of each op; and what fills in each step's
//! expected header and the CSV part of downs that specs leave out. Pure: no file is
//! read.

use crate::data::flow::{Header, apply, op_name};
use crate::model::{CsvOp, CsvStep, List, Migration, Step, Text};
use std::collections::BTreeMap;

/// The op that undoes `op`, given the header before it; the error says why none can be
/// derived (the op loses data).
pub fn invert(before: &Header, op: &CsvOp) -> Result<CsvOp, String> {
    Ok(match op {
        CsvOp::Create { .. } => CsvOp::Delete,
        CsvOp::Rename { from, to } => CsvOp::Rename {
            from: to.clone(),
            to: from.clone(),
        },
        CsvOp::Add { column, .. } => CsvOp::Drop {
            column: column.clone(),
        },
        CsvOp::Reorder { .. } => CsvOp::Reorder {
            columns: List::Owned(
                before
                    .iter()
                    .flatten()
                    .map(|c| Text::Owned(c.clone()))
                    .collect(),
            ),
        },
        CsvOp::Map {
            column,
            values,
            default: None,
        } => {
            let mut images = BTreeMap::new();
            for (from, to) in values.iter() {
                if let Some(other) = images.insert(to, from) {
                    return Err(format!(
                        "`map` of `{column}` sends both `{other}` and `{from}` to `{to}`, so it has no inverse"
                    ));
                }
            }
            CsvOp::Map {
                column: column.clone(),
                values: List::Owned(values.iter().map(|(a, b)| (b.clone(), a.clone())).collect()),
                default: None,
            }
        }
        CsvOp::Map { column, .. } => {
            return Err(format!(
                "`map` of `{column}` has a `default`, which loses the values it replaces"
            ));
        }
        CsvOp::Drop { column } => return Err(format!("`drop` of `{column}` loses its values")),
        CsvOp::Convert { column, .. } => {
            return Err(format!("`convert` of `{column}` loses the original text"));
        }
        CsvOp::Fill { column, .. } => {
            return Err(format!("`fill` of `{column}` loses which cells were empty"));
        }
        CsvOp::Apply {
            column,
            function,
            inverse: Some(inverse),
        } => CsvOp::Apply {
            column: column.clone(),
            function: inverse.clone(),
            inverse: Some(function.clone()),
        },
        CsvOp::Apply {
            column,
            function,
            inverse: None,
        } => {
            return Err(format!(
                "`apply` of {} to `{column}` has no `inverse`",
                function.path
            ));
        }
        CsvOp::Replace {
            column,
            from,
            to,
            pattern: false,
        } if !to.is_empty() => CsvOp::Replace {
            column: column.clone(),
            from: to.clone(),
            to: from.clone(),
            pattern: false,
        },
        CsvOp::Replace { column, .. } => {
            return Err(format!(
                "`replace` in `{column}` by a pattern, or by nothing, loses what it replaced"
            ));
        }
        CsvOp::Split {
            column,
            separator,
            into,
        } => CsvOp::Join {
            columns: into.clone(),
            separator: separator.clone(),
            into: column.clone(),
        },
        CsvOp::Join {
            columns,
            separator,
            into,
        } => CsvOp::Split {
            column: into.clone(),
            separator: separator.clone(),
            into: columns.clone(),
        },
        CsvOp::Filter { column, .. } => {
            return Err(format!(
                "`filter` on `{column}` drops the rows it does not keep"
            ));
        }
        CsvOp::Delete => return Err("`delete` loses the file".into()),
    })
}

/// Whether an op, in an up, removes data (it must then say `destructive = true`).
pub fn removes_data(op: &CsvOp) -> bool {
    matches!(
        op,
        CsvOp::Drop { .. } | CsvOp::Delete | CsvOp::Filter { .. }
    )
}

/// An error of the chain pass: the migration (its index in the chain) and the message.
pub type FlowError = (usize, String);

/// Follows every CSV file through the chain in order. Fills each step's expected
/// `header`; derives the CSV part of a down for the files the spec's down does not
/// touch; and checks that each down brings every header back to what it was before
/// the up.
pub fn resolve(chain: &mut [Migration]) -> Vec<FlowError> {
    let mut state: BTreeMap<String, Header> = BTreeMap::new();
    let mut errors = Vec::new();
    for (index, m) in chain.iter_mut().enumerate() {
        let mut error = |e: String| errors.push((index, e));
        // Each file's header when this migration first touches it.
        let mut first_seen: BTreeMap<String, Header> = BTreeMap::new();
        let mut inverses = Vec::new();
        let mut up = m.up.to_vec();
        let mut ok = true;
        for (n, step) in up.iter_mut().enumerate() {
            // An export writes a file whose header the chain does not follow.
            if let Step::Export(e) = step {
                state.remove(e.path.as_ref());
            }
            let Step::Csv(csv) = step else { continue };
            let what = format!("up step {} ({})", n + 1, csv.path);
            match follow(&mut state, csv, &what, m.destructive) {
                Ok(followed) => {
                    first_seen
                        .entry(csv.path.to_string())
                        .or_insert(followed.before);
                    inverses.push((csv.path.to_string(), followed.inverse));
                }
                Err(e) => {
                    error(e);
                    ok = false;
                }
            }
        }
        m.up = List::Owned(up);
        if !ok || m.irreversible {
            continue;
        }
        let written: Vec<String> = m
            .down
            .iter()
            .filter_map(|s| match s {
                Step::Csv(c) => Some(c.path.to_string()),
                Step::Export(e) => Some(e.path.to_string()),
                Step::Sql(_) | Step::Rust(_) | Step::Load(_) | Step::Unload(_) => None,
            })
            .collect();
        let mut down = Vec::new();
        for (path, inverse) in inverses.into_iter().rev() {
            if written.contains(&path) {
                continue;
            }
            match inverse {
                Ok(step) => down.push(Step::Csv(step)),
                Err(e) => {
                    error(format!("{e}; write the CSV part of `down` for {path}"));
                    ok = false;
                }
            }
        }
        down.extend(m.down.iter().cloned());
        let mut after_down = state.clone();
        for (n, step) in down.iter_mut().enumerate() {
            let Step::Csv(csv) = step else { continue };
            let what = format!("down step {} ({})", n + 1, csv.path);
            if let Err(e) = follow(&mut after_down, csv, &what, true) {
                error(e);
                ok = false;
            }
        }
        m.down = List::Owned(down);
        if !ok {
            continue;
        }
        for (path, was) in &first_seen {
            let now = after_down.get(path).cloned().flatten();
            if &now != was {
                error(format!(
                    "down does not undo up for {path}: after down it {}, before up it {}",
                    describe(&now),
                    describe(was)
                ));
            }
        }
    }
    errors
}

fn describe(h: &Header) -> String {
    match h {
        None => "does not exist".into(),
        Some(h) => format!("has the columns {}", h.join(", ")),
    }
}

/// What following one step found.
struct Followed {
    /// The header before the step (`None`: the step creates the file).
    before: Header,
    /// The step that undoes it, or why none can be derived.
    inverse: Result<CsvStep, String>,
}

/// Follows one step through `state`: checks each op against the header, and sets the
/// step's expected header.
fn follow(
    state: &mut BTreeMap<String, Header>,
    csv: &mut CsvStep,
    what: &str,
    destructive: bool,
) -> Result<Followed, String> {
    let path = csv.path.to_string();
    let declared: Option<Vec<String>> =
        (!csv.header.is_empty()).then(|| csv.header.iter().map(|c| c.to_string()).collect());
    let creates = matches!(csv.ops.first(), Some(CsvOp::Create { .. }));
    // Deleting a file (an export's derived down) needs no header.
    let deletes = matches!(csv.ops.as_ref(), [CsvOp::Delete]);
    let mut header: Header = match (state.get(&path), declared) {
        (Some(known), None) => known.clone(),
        (Some(Some(known)), Some(declared)) if *known == declared => Some(declared),
        (Some(known), Some(declared)) => {
            return Err(format!(
                "{what}: `columns` says {}, but here the chain gives {}",
                declared.join(", "),
                match known {
                    Some(k) => k.join(", "),
                    None => "no file".into(),
                }
            ));
        }
        (None, Some(declared)) => Some(declared),
        (None, None) if creates => None,
        (None, None) if deletes => Some(Vec::new()),
        (None, None) => {
            return Err(format!(
                "{what}: the header of {path} is not known here; add `columns = [...]` with the header the file has before this step"
            ));
        }
    };
    let before = header.clone();
    csv.header = List::Owned(
        header
            .iter()
            .flatten()
            .map(|c| Text::Owned(c.clone()))
            .collect(),
    );
    let mut inverse_ops = Vec::new();
    let mut inverse_error = None;
    for (n, op) in csv.ops.iter().enumerate() {
        if removes_data(op) && !destructive {
            return Err(format!(
                "{what} op {}: `{}` removes data; say `destructive = true` to acknowledge it",
                n + 1,
                op_name(op)
            ));
        }
        match invert(&header, op) {
            Ok(inverse) => inverse_ops.push(inverse),
            Err(e) => {
                inverse_error.get_or_insert(format!("{what} op {}: {e}", n + 1));
            }
        }
        apply(&mut header, op)
            .map_err(|e| format!("{what} op {} (`{}`): {e}", n + 1, op_name(op)))?;
    }
    state.insert(path, header.clone());
    inverse_ops.reverse();
    let inverse = match inverse_error {
        Some(e) => Err(e),
        None => Ok(CsvStep {
            path: csv.path.clone(),
            delimiter: csv.delimiter,
            header: List::Owned(
                header
                    .iter()
                    .flatten()
                    .map(|c| Text::Owned(c.clone()))
                    .collect(),
            ),
            ops: List::Owned(inverse_ops),
        }),
    };
    Ok(Followed { before, inverse })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::flow::{Part, template};
    use crate::model::Source;

    #[test]
    fn the_new_ops_follow_the_header_and_invert_where_exact() {
        use crate::model::{List, Text};
        let t = |s: &str| Text::Owned(s.to_owned());
        let mut h: Header = Some(vec!["id".into(), "lieu".into(), "lat".into()]);
        let split = CsvOp::Split {
            column: t("lieu"),
            separator: t("-"),
            into: List::Owned(vec![t("dep"), t("com")]),
        };
        apply(&mut h, &split).unwrap();
        assert_eq!(h.as_deref().unwrap(), ["id", "dep", "com", "lat"]);
        assert!(matches!(invert(&h, &split), Ok(CsvOp::Join { .. })));
        let join = CsvOp::Join {
            columns: List::Owned(vec![t("dep"), t("com")]),
            separator: t("-"),
            into: t("lieu"),
        };
        apply(&mut h, &join).unwrap();
        assert_eq!(h.as_deref().unwrap(), ["id", "lieu", "lat"]);
        let into_existing = CsvOp::Split {
            column: t("lieu"),
            separator: t("-"),
            into: List::Owned(vec![t("id"), t("x")]),
        };
        assert!(apply(&mut h.clone(), &into_existing).is_err());
        let literal = CsvOp::Replace {
            column: t("lat"),
            from: t(","),
            to: t("."),
            pattern: false,
        };
        assert_eq!(
            invert(&h, &literal),
            Ok(CsvOp::Replace {
                column: t("lat"),
                from: t("."),
                to: t(","),
                pattern: false,
            })
        );
        let erasing = CsvOp::Replace {
            column: t("lat"),
            from: t(","),
            to: t(""),
            pattern: false,
        };
        assert!(invert(&h, &erasing).is_err());
        let pattern = CsvOp::Replace {
            column: t("lat"),
            from: t("[0-9]"),
            to: t("#"),
            pattern: true,
        };
        assert!(invert(&h, &pattern).is_err());
        let filter = CsvOp::Filter {
            column: t("lat"),
            values: List::Owned(vec![t("1")]),
            pattern: None,
        };
        assert!(invert(&h, &filter).is_err());
        assert!(removes_data(&filter) && !removes_data(&literal));
    }
    use crate::model::{Case, SemVer};

    fn t(s: &str) -> Text {
        Text::Owned(s.to_owned())
    }

    fn header(cols: &[&str]) -> Header {
        Some(cols.iter().map(|c| c.to_string()).collect())
    }

    fn rename(a: &str, b: &str) -> CsvOp {
        CsvOp::Rename {
            from: t(a),
            to: t(b),
        }
    }

    fn map(column: &str, pairs: &[(&str, &str)], default: Option<&str>) -> CsvOp {
        CsvOp::Map {
            column: t(column),
            values: List::Owned(pairs.iter().map(|(a, b)| (t(a), t(b))).collect()),
            default: default.map(t),
        }
    }

    #[test]
    fn templates_split_into_text_and_columns() {
        assert_eq!(
            template("{dep}-{com}").unwrap(),
            [
                Part::Column("dep".into()),
                Part::Text("-".into()),
                Part::Column("com".into())
            ]
        );
        assert_eq!(template("{{x}}").unwrap(), [Part::Text("{x}".into())]);
        assert!(template("{dep").is_err());
        assert!(template("a}").is_err());
        // Each fault alone: empty, unclosed, nested.
        for bad in ["{}", "x{}y", "{a{b}"] {
            assert!(template(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ops_move_the_header_and_name_missing_or_existing_columns() {
        let mut h = header(&["a", "b"]);
        apply(&mut h, &rename("a", "x")).unwrap();
        apply(
            &mut h,
            &CsvOp::Add {
                column: t("c"),
                value: Source::Template(t("{x}{b}")),
            },
        )
        .unwrap();
        apply(
            &mut h,
            &CsvOp::Reorder {
                columns: List::Owned(vec![t("c"), t("b"), t("x")]),
            },
        )
        .unwrap();
        apply(&mut h, &CsvOp::Drop { column: t("b") }).unwrap();
        assert_eq!(h, header(&["c", "x"]));
        let e = apply(
            &mut h,
            &CsvOp::Fill {
                column: t("grav"),
                value: t("0"),
            },
        )
        .unwrap_err();
        assert!(e.contains("no column `grav`") && e.contains("c, x"), "{e}");
        let e = apply(
            &mut h,
            &CsvOp::Add {
                column: t("x"),
                value: Source::Value(t("1")),
            },
        )
        .unwrap_err();
        assert!(e.contains("`x` exists already"), "{e}");
        let e = apply(
            &mut h,
            &CsvOp::Add {
                column: t("y"),
                value: Source::Template(t("{nope}")),
            },
        )
        .unwrap_err();
        assert!(e.contains("no column `nope`"), "{e}");
        assert!(
            apply(
                &mut h,
                &CsvOp::Reorder {
                    columns: List::Owned(vec![t("x")])
                }
            )
            .is_err()
        );
        assert!(
            apply(
                &mut h,
                &CsvOp::Create {
                    columns: List::Owned(vec![]),
                    seed: None
                }
            )
            .is_err()
        );
        apply(&mut h, &CsvOp::Delete).unwrap();
        assert_eq!(h, None);
        assert!(apply(&mut h, &rename("c", "d")).is_err());
    }

    #[test]
    fn every_derivable_op_is_undone_by_its_inverse() {
        let start = header(&["a", "b", "c"]);
        for op in [
            rename("a", "z"),
            CsvOp::Add {
                column: t("d"),
                value: Source::Copy(t("a")),
            },
            CsvOp::Reorder {
                columns: List::Owned(vec![t("c"), t("a"), t("b")]),
            },
            map("b", &[("1", "x"), ("2", "y")], None),
        ] {
            let inverse = invert(&start, &op).unwrap();
            let mut h = start.clone();
            apply(&mut h, &op).unwrap();
            apply(&mut h, &inverse).unwrap();
            assert_eq!(h, start, "{op:?}");
        }
        assert_eq!(
            invert(&start, &map("b", &[("1", "x"), ("2", "y")], None)).unwrap(),
            map("b", &[("x", "1"), ("y", "2")], None)
        );
        assert_eq!(
            invert(
                &None,
                &CsvOp::Create {
                    columns: List::Owned(vec![]),
                    seed: None
                }
            )
            .unwrap(),
            CsvOp::Delete
        );
    }

    #[test]
    fn lossy_ops_have_no_inverse() {
        let h = header(&["a"]);
        for op in [
            CsvOp::Drop { column: t("a") },
            CsvOp::Convert {
                column: t("a"),
                to: Case::Upper,
            },
            CsvOp::Fill {
                column: t("a"),
                value: t("0"),
            },
            map("a", &[("1", "x"), ("2", "x")], None),
            map("a", &[("1", "x")], Some("other")),
            CsvOp::Delete,
        ] {
            assert!(invert(&h, &op).is_err(), "{op:?}");
        }
    }

    fn migration(major: u64, up: Vec<Step>, down: Vec<Step>) -> Migration {
        Migration {
            version: SemVer::new(major, 0, 0),
            file: t("f.toml"),
            description: t("d"),
            transaction: true,
            foreign_keys: true,
            irreversible: false,
            destructive: false,
            up: List::Owned(up),
            down: List::Owned(down),
            validate: List::Owned(vec![]),
            checksum: t(""),
            timeouts: Default::default(),
            locks: Default::default(),
            schema: None,
            schema_postgres: None,
            schema_digest: None,
            origin: None,
            down_leaves: List::Borrowed(&[]),
            fails_on_rows: false,
        }
    }

    fn csv(columns: &[&str], ops: Vec<CsvOp>) -> Step {
        Step::Csv(CsvStep {
            path: t("a.csv"),
            delimiter: b',',
            header: List::Owned(columns.iter().map(|c| t(c)).collect()),
            ops: List::Owned(ops),
        })
    }

    #[test]
    fn the_chain_pass_fills_headers_and_derives_downs() {
        let mut chain = vec![
            migration(
                1,
                vec![csv(
                    &[],
                    vec![CsvOp::Create {
                        columns: List::Owned(vec![t("a"), t("b")]),
                        seed: None,
                    }],
                )],
                vec![],
            ),
            migration(
                2,
                vec![csv(
                    &[],
                    vec![rename("a", "x"), map("b", &[("1", "one")], None)],
                )],
                vec![],
            ),
        ];
        assert_eq!(resolve(&mut chain), vec![]);
        let Step::Csv(up) = &chain[1].up[0] else {
            panic!()
        };
        assert_eq!(
            up.header.as_ref(),
            [t("a"), t("b")],
            "the expected header is filled in"
        );
        let Step::Csv(down) = &chain[1].down[0] else {
            panic!()
        };
        assert_eq!(down.header.as_ref(), [t("x"), t("b")]);
        assert_eq!(
            down.ops.as_ref(),
            [map("b", &[("one", "1")], None), rename("x", "a")]
        );
        let Step::Csv(delete) = &chain[0].down[0] else {
            panic!()
        };
        assert_eq!(delete.ops.as_ref(), [CsvOp::Delete]);
    }

    #[test]
    fn the_chain_pass_reports_what_it_cannot_follow() {
        // An unknown header, a lossy op with no written down, and an unacknowledged drop.
        let mut chain = vec![migration(1, vec![csv(&[], vec![rename("a", "b")])], vec![])];
        assert!(
            resolve(&mut chain)[0]
                .1
                .contains("header of a.csv is not known here")
        );
        let mut chain = vec![migration(
            1,
            vec![csv(
                &["a"],
                vec![CsvOp::Convert {
                    column: t("a"),
                    to: Case::Trim,
                }],
            )],
            vec![],
        )];
        let e = &resolve(&mut chain)[0].1;
        assert!(
            e.contains("`convert` of `a` loses") && e.contains("write the CSV part of `down`"),
            "{e}"
        );
        let mut chain = vec![migration(
            1,
            vec![csv(&["a", "b"], vec![CsvOp::Drop { column: t("b") }])],
            vec![],
        )];
        assert!(resolve(&mut chain)[0].1.contains("destructive = true"));
        let mut chain = vec![migration(
            1,
            vec![csv(&["a"], vec![rename("a", "b")])],
            vec![csv(&[], vec![rename("b", "c")])],
        )];
        let e = &resolve(&mut chain)[0].1;
        assert!(e.contains("down does not undo up for a.csv: after down it has the columns c, before up it has the columns a"), "{e}");
    }

    #[test]
    fn a_declared_header_must_agree_with_the_chain_and_errors_name_the_op() {
        let create = csv(
            &[],
            vec![CsvOp::Create {
                columns: List::Owned(vec![t("a"), t("b")]),
                seed: None,
            }],
        );
        let mut chain = vec![
            migration(1, vec![create.clone()], vec![]),
            migration(2, vec![csv(&["a", "c"], vec![rename("a", "x")])], vec![]),
        ];
        let errors = resolve(&mut chain);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0]
                .1
                .contains("`columns` says a, c, but here the chain gives a, b"),
            "{errors:?}"
        );
        let mut chain = vec![
            migration(1, vec![create], vec![]),
            migration(2, vec![csv(&[], vec![rename("z", "y")])], vec![]),
        ];
        let errors = resolve(&mut chain);
        // One error: a migration whose up fails is not followed into its down.
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].1.contains("op 1 (`rename`): no column `z`"),
            "{errors:?}"
        );
    }

    #[test]
    fn an_irreversible_migration_gets_no_derived_down() {
        let mut m = migration(
            1,
            vec![csv(
                &[],
                vec![CsvOp::Create {
                    columns: List::Owned(vec![t("a")]),
                    seed: None,
                }],
            )],
            vec![],
        );
        m.irreversible = true;
        let mut chain = vec![m];
        assert_eq!(resolve(&mut chain), vec![]);
        assert!(chain[0].down.is_empty());
    }
}
