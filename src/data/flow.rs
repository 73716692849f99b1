//! Column flow: each CSV file's header followed through the chain, op by op, both
//! ways; the derived inverse of each op; and the pass over a whole chain that fills in
//! each step's expected header and the CSV part of downs that specs leave out.
//! Pure: no file is read. Shared by the build and the runtime.

use crate::model::{CsvOp, CsvStep, List, Migration, Source, Step, Text};
use std::collections::BTreeMap;

/// A header, or `None` for a file that does not exist at this point.
pub type Header = Option<Vec<String>>;

/// A piece of a `template`: text as is, or a column's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Column(String),
}

/// Splits `"{dep}-{com}"` into parts; `{{` and `}}` stand for braces.
pub fn template(pattern: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                if name.is_empty() || name.contains('{') {
                    return Err(format!(
                        "template `{pattern}` has an empty or unclosed {{…}}"
                    ));
                }
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(Part::Column(name));
            }
            '}' => {
                return Err(format!(
                    "template `{pattern}` has a `}}` with no `{{`; write `}}}}` for a brace"
                ));
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(parts)
}

fn position(header: &[String], column: &str) -> Result<usize, String> {
    header.iter().position(|c| c == column).ok_or_else(|| {
        format!(
            "no column `{column}` (the columns here: {})",
            header.join(", ")
        )
    })
}

fn absent(header: &[String], column: &str) -> Result<(), String> {
    match header.iter().any(|c| c == column) {
        true => Err(format!("column `{column}` exists already")),
        false => Ok(()),
    }
}

/// Applies `op` to a header, or says why it cannot apply.
pub fn apply(header: &mut Header, op: &CsvOp) -> Result<(), String> {
    if let CsvOp::Create { columns, .. } = op {
        if header.is_some() {
            return Err("`create` on a file that exists at this point".into());
        }
        let mut seen = Vec::new();
        for c in columns.iter() {
            absent(&seen, c)?;
            seen.push(c.to_string());
        }
        *header = Some(seen);
        return Ok(());
    }
    let Some(h) = header else {
        return Err("the file does not exist at this point; `create` it first".into());
    };
    match op {
        CsvOp::Create { .. } => unreachable!("handled above"),
        CsvOp::Delete => *header = None,
        CsvOp::Rename { from, to } => {
            let i = position(h, from)?;
            absent(h, to)?;
            h[i] = to.to_string();
        }
        CsvOp::Add { column, value } => {
            absent(h, column)?;
            match value {
                Source::Value(_) => {}
                Source::Copy(from) => {
                    position(h, from)?;
                }
                Source::Template(pattern) => {
                    for part in template(pattern)? {
                        if let Part::Column(c) = part {
                            position(h, &c)?;
                        }
                    }
                }
            }
            h.push(column.to_string());
        }
        CsvOp::Drop { column } => {
            let i = position(h, column)?;
            h.remove(i);
        }
        CsvOp::Map { column, .. } | CsvOp::Convert { column, .. } | CsvOp::Fill { column, .. } => {
            position(h, column)?;
        }
        CsvOp::Reorder { columns } => {
            let mut wanted: Vec<&str> = columns.iter().map(|c| c.as_ref()).collect();
            let mut have: Vec<&str> = h.iter().map(String::as_str).collect();
            wanted.sort_unstable();
            have.sort_unstable();
            if wanted != have {
                return Err(format!(
                    "`reorder` must list every column once: {}",
                    h.join(", ")
                ));
            }
            *h = columns.iter().map(|c| c.to_string()).collect();
        }
    }
    Ok(())
}

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
        CsvOp::Delete => return Err("`delete` loses the file".into()),
    })
}

/// Whether an op, in an up, removes data (it must then say `destructive = true`).
pub fn removes_data(op: &CsvOp) -> bool {
    matches!(op, CsvOp::Drop { .. } | CsvOp::Delete)
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
                Step::Sql(_) => None,
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

pub fn op_name(op: &CsvOp) -> &'static str {
    match op {
        CsvOp::Create { .. } => "create",
        CsvOp::Delete => "delete",
        CsvOp::Rename { .. } => "rename",
        CsvOp::Add { .. } => "add",
        CsvOp::Drop { .. } => "drop",
        CsvOp::Map { .. } => "map",
        CsvOp::Convert { .. } => "convert",
        CsvOp::Reorder { .. } => "reorder",
        CsvOp::Fill { .. } => "fill",
    }
}
