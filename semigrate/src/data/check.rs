//! CSV validations: one streaming pass over the file as the migration leaves it.

use crate::model::CsvCheck;
use ::csv::{ByteRecord, ReaderBuilder};
use std::collections::HashSet;
use std::path::Path;

/// Checks `file` (None: it does not exist) against every rule `check` gives, but
/// `rows_match`, which needs the store; returns the number of rows.
pub fn check(file: Option<&Path>, check: &CsvCheck) -> Result<u64, String> {
    let path = &check.path;
    let file = file.ok_or_else(|| format!("{path} does not exist"))?;
    let mut reader = ReaderBuilder::new()
        .delimiter(check.delimiter)
        .has_headers(false)
        .from_path(file)
        .map_err(|e| format!("{path}: cannot read: {e}"))?;
    let malformed = |e: ::csv::Error| format!("{path}: {e}");
    let mut row = ByteRecord::new();
    if !reader.read_byte_record(&mut row).map_err(malformed)? {
        return Err(format!("{path} is empty"));
    }
    let header = super::header_names(&row);
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
    let unique = check
        .unique
        .as_deref()
        .map(|c| at(c).map(|i| (c, i)))
        .transpose()?;
    let values_in = match &check.values_in {
        Some((column, values)) => {
            let allowed: HashSet<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
            Some((column.as_ref(), at(column)?, allowed))
        }
        None => None,
    };
    let not_null: Vec<(&str, usize)> = check
        .not_null
        .iter()
        .map(|c| at(c).map(|i| (c.as_ref(), i)))
        .collect::<Result<_, _>>()?;
    let key: Vec<usize> = check
        .unique_together
        .iter()
        .map(|c| at(c))
        .collect::<Result<_, _>>()?;
    let matches = match &check.matches {
        Some((column, pattern)) => Some((column.as_ref(), at(column)?, whole(pattern)?)),
        None => None,
    };
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut keys: HashSet<Vec<Vec<u8>>> = HashSet::new();
    let mut rows = 0u64;
    while reader.read_byte_record(&mut row).map_err(malformed)? {
        rows += 1;
        let line = row.position().map_or(0, |p| p.line());
        if let Some((column, _)) = not_null.iter().find(|(_, i)| row[*i].is_empty()) {
            return Err(format!("{path} line {line}: `{column}` is empty"));
        }
        if !key.is_empty() && !keys.insert(key.iter().map(|i| row[*i].to_vec()).collect()) {
            return Err(format!(
                "{path} line {line}: ({}) repeats the values ({})",
                check.unique_together.join(", "),
                key.iter()
                    .map(|i| super::shown_value(&row[*i]))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some((column, i, pattern)) = &matches
            && !pattern.is_match(&row[*i])
        {
            return Err(format!(
                "{path} line {line}: `{column}` has `{}`, which does not match {}",
                super::shown_value(&row[*i]),
                pattern.as_str()
            ));
        }
        if let Some((column, i)) = unique
            && !seen.insert(row[i].to_vec())
        {
            return Err(format!(
                "{path} line {line}: `{column}` repeats the value `{}`",
                super::shown_value(&row[i])
            ));
        }
        if let Some((column, i, allowed)) = &values_in
            && !allowed.contains(&row[*i])
        {
            return Err(format!(
                "{path} line {line}: `{column}` has `{}`, which is not among the allowed values",
                super::shown_value(&row[*i])
            ));
        }
    }
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

/// `pattern` matching a whole cell's bytes.
pub fn whole(pattern: &str) -> Result<regex::bytes::Regex, String> {
    regex::bytes::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| format!("`{pattern}` is not a regular expression: {e}"))
}
