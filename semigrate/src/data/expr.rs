//! The expression compiler and evaluator of the streaming transform: the ops of a step
//! compiled once, from the header before it, into one expression per output column
//! over the cells of the input row, and the filters a row must pass; evaluated per
//! row, allocating only what a computed cell needs.

use super::flow::{self, Header, Part};
use crate::model::{Case, CsvOp, Source};
use crate::rust::{ApplyFn, Row};
use simd_csv::ZeroCopyByteRecord;
use std::collections::HashMap;

/// The value of one column after the step's ops, in terms of the input row.
#[derive(Clone)]
pub(super) enum Expr {
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
pub(super) enum Images {
    Few(Vec<(Vec<u8>, Vec<u8>)>),
    Many(HashMap<Vec<u8>, Vec<u8>>),
}

/// Up to this many values, a map searches its list.
pub(super) const FEW: usize = 16;

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
pub(super) struct Keep {
    of: Expr,
    values: std::collections::HashSet<Vec<u8>>,
    pattern: Option<regex::bytes::Regex>,
}

impl Keep {
    pub(super) fn keeps(
        &self,
        row: &ZeroCopyByteRecord,
        scratch: &mut Vec<u8>,
    ) -> Result<bool, String> {
        scratch.clear();
        self.of.eval(row, scratch)?;
        Ok(self.values.contains(scratch.as_slice())
            || self.pattern.as_ref().is_some_and(|p| p.is_match(scratch)))
    }
}

/// Compiles the ops of a step that starts from `header` into the output columns, and
/// the filters a row must pass to be written.
pub(super) fn compile(header: &[String], ops: &[CsvOp]) -> Result<(Vec<Expr>, Vec<Keep>), String> {
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
    pub(super) fn eval(&self, row: &ZeroCopyByteRecord, out: &mut Vec<u8>) -> Result<(), String> {
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
