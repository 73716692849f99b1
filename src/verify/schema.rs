//! A comparable snapshot of a SQLite schema, and the differences a person needs to read.

use rusqlite::Connection;
use std::collections::BTreeMap;

/// One column as `pragma_table_info` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub decl_type: String,
    pub not_null: bool,
    pub default: Option<String>,
    pub primary_key: i64,
}

/// The user's objects (SQLite's own `sqlite_%` tables left out), with their SQL in
/// canonical form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schema {
    /// (type, name) → canonical SQL (see [`canonical`])
    pub objects: BTreeMap<(String, String), String>,
    /// table → columns in order
    pub columns: BTreeMap<String, Vec<Column>>,
}

/// Folds whitespace so that SQL SQLite re-wrote (ALTER TABLE edits the stored text)
/// compares equal to the same definition typed by hand.
pub fn fold(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut space = false;
    for c in sql.chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        let tight = matches!(c, '(' | ')' | ',') || out.ends_with(['(', ',']);
        if space && !out.is_empty() && !tight {
            out.push(' ');
        }
        space = false;
        out.push(c);
    }
    out
}

/// The definition SQLite keeps, reduced to what it means: comments dropped, identifier
/// quotes dropped, case and layout folded, and a table's own name left out. SQLite
/// rewrites the stored text on `ALTER TABLE … RENAME` (`CREATE TABLE "accidents"`), so
/// two equal schemas need not have equal text.
pub fn canonical(kind: &str, sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '-' if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                out.push(' ');
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                out.push(' ');
            }
            '\'' => {
                out.push(c);
                while let Some(c) = chars.next() {
                    out.push(c);
                    if c == '\'' {
                        if chars.peek() == Some(&'\'') {
                            out.push(chars.next().expect("peeked"));
                        } else {
                            break;
                        }
                    }
                }
            }
            '"' | '`' | '[' | ']' => {}
            c => out.push(c.to_ascii_uppercase()),
        }
    }
    let folded = fold(&out);
    match (kind, folded.find('(')) {
        ("table", Some(open)) => format!("CREATE TABLE{}", &folded[open..]),
        _ => folded,
    }
}

/// Where two canonical definitions part, with a little context either side.
fn divergence(after: &str, before: &str) -> String {
    let at = after
        .char_indices()
        .zip(before.chars())
        .find(|((_, a), b)| a != b)
        .map_or(after.len().min(before.len()), |((i, _), _)| i);
    let window = |s: &str| {
        let start = s.floor_char_boundary(at.saturating_sub(30));
        let end = s.floor_char_boundary((at + 40).min(s.len()));
        format!("…{}…", &s[start..end])
    };
    format!(
        "`{}` after down, `{}` before",
        window(after),
        window(before)
    )
}

impl Schema {
    pub fn read(conn: &Connection) -> rusqlite::Result<Schema> {
        let mut schema = Schema::default();
        let mut stmt = conn.prepare(
            "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema \
             WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        for row in rows {
            let (kind, name, _table, sql): (String, String, String, String) = row?;
            let sql = canonical(&kind, &sql);
            schema.objects.insert((kind, name), sql);
        }
        let tables: Vec<String> = schema
            .objects
            .keys()
            .filter(|(kind, _)| kind == "table")
            .map(|(_, name)| name.clone())
            .collect();
        let mut info = conn.prepare(
            "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1) ORDER BY cid",
        )?;
        for table in tables {
            let columns = info
                .query_map([&table], |r| {
                    Ok(Column {
                        name: r.get(0)?,
                        decl_type: r.get(1)?,
                        not_null: r.get(2)?,
                        default: r.get(3)?,
                        primary_key: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            schema.columns.insert(table, columns);
        }
        Ok(schema)
    }

    fn column(&self, table: &str, name: &str) -> Option<&Column> {
        self.columns.get(table)?.iter().find(|c| c.name == name)
    }

    /// What `after` (the schema after down) lacks or adds compared with `self` (the
    /// schema before up), one readable line per difference.
    pub fn differences(&self, after: &Schema) -> Vec<String> {
        let mut out = Vec::new();
        for ((kind, name), sql) in &self.objects {
            match after.objects.get(&(kind.clone(), name.clone())) {
                None => out.push(format!("{kind} {name} is missing after down")),
                Some(other) if other != sql && kind != "table" => out.push(format!(
                    "{kind} {name} is defined differently: {}",
                    divergence(other, sql)
                )),
                Some(_) => {}
            }
        }
        for (kind, name) in after.objects.keys() {
            if !self.objects.contains_key(&(kind.clone(), name.clone())) {
                out.push(format!("{kind} {name} is left behind by down"));
            }
        }
        for (table, before) in &self.columns {
            let Some(now) = after.columns.get(table) else {
                continue;
            };
            for c in before {
                match after.column(table, &c.name) {
                    None => out.push(format!("column {table}.{} is missing after down", c.name)),
                    Some(d) => out.extend(column_differences(table, c, d)),
                }
            }
            for d in now {
                if self.column(table, &d.name).is_none() {
                    out.push(format!("column {table}.{} is left behind by down", d.name));
                }
            }
            let order = |cs: &[Column]| cs.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
            if out.is_empty() && order(before) != order(now) {
                out.push(format!(
                    "table {table} has its columns in another order after down: {}, before: {}",
                    order(now).join(", "),
                    order(before).join(", ")
                ));
            }
        }
        if out.is_empty() {
            // Same objects and columns, yet different SQL: a constraint changed.
            for ((kind, name), sql) in &self.objects {
                if let Some(other) = after.objects.get(&(kind.clone(), name.clone()))
                    && other != sql
                {
                    out.push(format!(
                        "{kind} {name} is defined differently: {}",
                        divergence(other, sql)
                    ));
                }
            }
        }
        out
    }

    /// Tables and columns of `self` (before up) that `after` (after up) no longer has.
    /// A column replaced at the same position by one of the same type is a rename, and
    /// a table replaced by one with the same columns is a rename: neither loses data.
    pub fn removed_by(&self, after: &Schema) -> Vec<String> {
        let mut out = Vec::new();
        for (table, before) in &self.columns {
            match after.columns.get(table) {
                None => {
                    let renamed = after
                        .columns
                        .iter()
                        .any(|(t, cs)| !self.columns.contains_key(t) && same_shape(cs, before));
                    if !renamed {
                        out.push(format!("table {table}"));
                    }
                }
                Some(now) => {
                    for (i, c) in before.iter().enumerate() {
                        if after.column(table, &c.name).is_some() {
                            continue;
                        }
                        let renamed = now.get(i).is_some_and(|d| {
                            d.decl_type == c.decl_type && self.column(table, &d.name).is_none()
                        });
                        if !renamed {
                            out.push(format!("column {table}.{}", c.name));
                        }
                    }
                }
            }
        }
        out
    }
}

fn same_shape(a: &[Column], b: &[Column]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.name == y.name && x.decl_type == y.decl_type)
}

fn column_differences(table: &str, before: &Column, after: &Column) -> Vec<String> {
    let name = &before.name;
    let mut out = Vec::new();
    let shown = |t: &str| {
        if t.is_empty() {
            "no type".to_owned()
        } else {
            t.to_owned()
        }
    };
    if before.decl_type != after.decl_type {
        out.push(format!(
            "column {table}.{name} has type {} after down, {} before",
            shown(&after.decl_type),
            shown(&before.decl_type)
        ));
    }
    if before.not_null != after.not_null {
        let says = |n: bool| if n { "NOT NULL" } else { "nullable" };
        out.push(format!(
            "column {table}.{name} is {} after down, {} before",
            says(after.not_null),
            says(before.not_null)
        ));
    }
    if before.default != after.default {
        let says = |d: &Option<String>| d.clone().unwrap_or_else(|| "no default".into());
        out.push(format!(
            "column {table}.{name} has default {} after down, {} before",
            says(&after.default),
            says(&before.default)
        ));
    }
    if before.primary_key != after.primary_key {
        out.push(format!(
            "column {table}.{name} changed its primary key part after down"
        ));
    }
    out
}

/// SQL cut short for a one-line message.
pub fn cut(sql: &str) -> String {
    let folded = fold(sql);
    match folded.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &folded[..i]),
        None => folded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(sql: &str) -> Schema {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(sql).unwrap();
        Schema::read(&conn).unwrap()
    }

    #[test]
    fn folding_ignores_layout() {
        assert_eq!(
            fold("CREATE  TABLE t (\n  a INT ,\n b )"),
            "CREATE TABLE t(a INT,b)"
        );
        assert_eq!(
            fold("CREATE TABLE t(a INT, b)"),
            fold("CREATE TABLE t (a INT,b)")
        );
    }

    #[test]
    fn canonical_form_ignores_comments_quotes_case_and_the_table_name() {
        let typed =
            "CREATE TABLE accidents_old (\n  a TEXT, -- note\n  b /* x */ INT DEFAULT 'it''s'\n)";
        let renamed = "create table \"accidents\"(a text, b int default 'it''s')";
        assert_eq!(canonical("table", typed), canonical("table", renamed));
        assert_ne!(
            canonical("table", "CREATE TABLE t (a DEFAULT 'x')"),
            canonical("table", "CREATE TABLE t (a DEFAULT 'X')")
        );
    }

    #[test]
    fn add_then_drop_column_is_equal() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a INTEGER, b TEXT);")
            .unwrap();
        let before = Schema::read(&conn).unwrap();
        conn.execute_batch("ALTER TABLE t ADD COLUMN risk REAL; ALTER TABLE t DROP COLUMN risk;")
            .unwrap();
        assert_eq!(
            before.differences(&Schema::read(&conn).unwrap()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn differences_name_the_objects() {
        let before = schema("CREATE TABLE t (a INTEGER, lum TEXT);");
        let after =
            schema("CREATE TABLE t (a INTEGER, lum INTEGER); CREATE INDEX ix_risk ON t(a);");
        let d = before.differences(&after);
        assert!(
            d.contains(&"index ix_risk is left behind by down".to_owned()),
            "{d:?}"
        );
        assert!(
            d.contains(&"column t.lum has type INTEGER after down, TEXT before".to_owned()),
            "{d:?}"
        );
    }

    #[test]
    fn a_changed_constraint_is_a_difference() {
        let before = schema("CREATE TABLE t (a INTEGER CHECK (a > 0));");
        let after = schema("CREATE TABLE t (a INTEGER);");
        assert_eq!(before.differences(&after).len(), 1);
    }

    #[test]
    fn removals_are_found_and_renames_are_not() {
        let before = schema("CREATE TABLE t (a INTEGER, b TEXT); CREATE TABLE u (x);");
        let dropped = schema("CREATE TABLE t (a INTEGER);");
        assert_eq!(before.removed_by(&dropped), vec!["column t.b", "table u"]);
        let renamed = schema("CREATE TABLE t (a INTEGER, c TEXT); CREATE TABLE v (x);");
        assert_eq!(before.removed_by(&renamed), Vec::<String>::new());
    }
}
