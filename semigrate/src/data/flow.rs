//! Column flow: a CSV file's header followed through one op, as the transform and the
//! build's chain pass (`build::flow`) both need it. Pure: no file is read.

use crate::model::{CsvOp, Source};

/// A header, or `None` for a file that does not exist at this point.
pub type Header = Option<Vec<String>>;

/// A piece of a `template`: text as is, or a column's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Text copied as it is.
    Text(String),
    /// The cell of the named column.
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
                let mut name = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed || name.is_empty() || name.contains('{') {
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
        CsvOp::Map { column, .. }
        | CsvOp::Convert { column, .. }
        | CsvOp::Fill { column, .. }
        | CsvOp::Apply { column, .. }
        | CsvOp::Replace { column, .. }
        | CsvOp::Filter { column, .. } => {
            position(h, column)?;
        }
        CsvOp::Split {
            column,
            separator,
            into,
        } => {
            let i = position(h, column)?;
            if separator.is_empty() || into.len() < 2 {
                return Err("`split` needs a `separator` and at least two columns `into`".into());
            }
            h.remove(i);
            for (k, name) in into.iter().enumerate() {
                absent(h, name)?;
                h.insert(i + k, name.to_string());
            }
        }
        CsvOp::Join {
            columns,
            separator,
            into,
        } => {
            if separator.is_empty() || columns.len() < 2 {
                return Err("`join` needs a `separator` and at least two `columns`".into());
            }
            let at = position(h, &columns[0])?;
            for column in columns.iter() {
                let i = position(h, column)?;
                h.remove(i);
            }
            absent(h, into)?;
            h.insert(at.min(h.len()), into.to_string());
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

/// The op's keyword in a spec (`rename`, `map`, ...), for messages.
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
        CsvOp::Apply { .. } => "apply",
        CsvOp::Replace { .. } => "replace",
        CsvOp::Split { .. } => "split",
        CsvOp::Join { .. } => "join",
        CsvOp::Filter { .. } => "filter",
    }
}
