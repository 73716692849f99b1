//! What a SQLite table means, as opposed to how its `CREATE TABLE` was typed: two
//! tables are the same when their columns (name, declared type, NOT NULL, default as
//! parsed, collation, primary key, generated), their constraints as a set, and their
//! foreign keys resolved to the columns they reference are the same. Keyword case,
//! the order of a column's constraints, `REFERENCES t` against `REFERENCES t(id)` and
//! `DEFAULT FALSE` against `DEFAULT false` are layout; column order is a difference of
//! its own class.
//!
//! SQLite's pragmas report the columns, keys and unique constraints of a table created
//! from its SQL in a scratch database; what they do not report (collations, CHECK
//! expressions, generated expressions) is read from the SQL's tokens.

use rusqlite::Connection;
use std::collections::BTreeSet;

/// One column, as it compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Its name, as written.
    pub name: String,
    /// Its declared type, upper case, spaces folded.
    pub decl_type: String,
    /// Whether it is NOT NULL.
    pub not_null: bool,
    /// Its default, as parsed: keywords in upper case, `TRUE`/`FALSE` as 1/0, outer
    /// parentheses dropped.
    pub default: Option<String>,
    /// Its collation when not BINARY.
    pub collation: Option<String>,
    /// Its place in the primary key (0 when not in it).
    pub primary_key: i64,
    /// Its generating expression, and whether it is stored.
    pub generated: Option<String>,
}

/// A foreign key: the referencing columns, the table, and the referenced columns
/// (the target's primary key when the SQL names none and it is known).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ForeignKey {
    /// The columns of this table, lower case.
    pub from: Vec<String>,
    /// The referenced table, lower case.
    pub table: String,
    /// The referenced columns, lower case; empty when unnamed and unresolved.
    pub to: Vec<String>,
    /// `ON UPDATE`, `ON DELETE` and `MATCH`, as the pragma names them.
    pub actions: [String; 3],
}

impl std::fmt::Display for ForeignKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "({}) REFERENCES {}({})",
            self.from.join(", "),
            self.table,
            self.to.join(", ")
        )?;
        let [update, delete, _] = &self.actions;
        for (on, action) in [("UPDATE", update), ("DELETE", delete)] {
            if action != "NO ACTION" {
                write!(f, " ON {on} {action}")?;
            }
        }
        Ok(())
    }
}

/// A table's meaning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// Its columns in order.
    pub columns: Vec<Column>,
    /// Its CHECK expressions, column and table ones together.
    pub checks: BTreeSet<String>,
    /// Its foreign keys.
    pub foreign_keys: BTreeSet<ForeignKey>,
    /// Its UNIQUE constraints, each as its columns in order, lower case.
    pub unique: BTreeSet<Vec<String>>,
    /// `STRICT` and `WITHOUT ROWID`, as words.
    pub options: BTreeSet<String>,
}

impl Table {
    /// The meaning of the table `name` that `sql` creates, its foreign keys resolved
    /// with `keys` (a table's primary key columns). None when a scratch database
    /// cannot create it (a virtual table of a missing module).
    pub fn read(
        name: &str,
        sql: &str,
        keys: &dyn Fn(&str) -> Option<Vec<String>>,
    ) -> Option<Table> {
        let scratch = Connection::open_in_memory().ok()?;
        scratch.execute_batch(sql).ok()?;
        let parts = Parts::of(sql);
        let mut info = scratch
            .prepare(
                "SELECT name, type, \"notnull\", dflt_value, pk, hidden \
                 FROM pragma_table_xinfo(?1) ORDER BY cid",
            )
            .ok()?;
        let columns = info
            .query_map([name], |r| {
                let name: String = r.get(0)?;
                let hidden: i64 = r.get(5)?;
                let default: Option<String> = r.get(3)?;
                let generated = match hidden {
                    2 | 3 => Some(format!(
                        "{} {}",
                        parts.generated_of(&name).unwrap_or_default(),
                        if hidden == 3 { "STORED" } else { "VIRTUAL" }
                    )),
                    _ => None,
                };
                Ok(Column {
                    collation: parts.collation_of(&name),
                    decl_type: super::fold(&r.get::<_, String>(1)?.to_ascii_uppercase()),
                    not_null: r.get(2)?,
                    default: default.map(|d| expression(&d)),
                    primary_key: r.get(4)?,
                    generated,
                    name,
                })
            })
            .ok()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ok()?;
        let mut fks = scratch
            .prepare(
                "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete, \"match\" \
                 FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
            )
            .ok()?;
        let rows = fks
            .query_map([name], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    [r.get(4)?, r.get(5)?, r.get(6)?],
                ))
            })
            .ok()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ok()?;
        let mut foreign_keys: Vec<(i64, ForeignKey, bool)> = Vec::new();
        for (id, table, from, to, actions) in rows {
            let unnamed = to.is_none();
            match foreign_keys.last_mut().filter(|(last, ..)| *last == id) {
                Some((_, fk, _)) => {
                    fk.from.push(from.to_lowercase());
                    fk.to.extend(to.map(|t| t.to_lowercase()));
                }
                None => foreign_keys.push((
                    id,
                    ForeignKey {
                        from: vec![from.to_lowercase()],
                        table: table.to_lowercase(),
                        to: to.map(|t| t.to_lowercase()).into_iter().collect(),
                        actions,
                    },
                    unnamed,
                )),
            }
        }
        let foreign_keys = foreign_keys
            .into_iter()
            .map(|(_, mut fk, unnamed)| {
                if unnamed {
                    fk.to = keys(&fk.table)
                        .unwrap_or_default()
                        .iter()
                        .map(|c| c.to_lowercase())
                        .collect();
                }
                fk
            })
            .collect();
        let mut unique = BTreeSet::new();
        let mut indexes = scratch
            .prepare("SELECT name FROM pragma_index_list(?1) WHERE origin = 'u'")
            .ok()?;
        let names: Vec<String> = indexes
            .query_map([name], |r| r.get(0))
            .ok()?
            .collect::<rusqlite::Result<_>>()
            .ok()?;
        for index in names {
            let mut cols = scratch
                .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
                .ok()?;
            let columns: Vec<String> = cols
                .query_map([&index], |r| r.get::<_, String>(0))
                .ok()?
                .map(|c| c.map(|c| c.to_lowercase()))
                .collect::<rusqlite::Result<_>>()
                .ok()?;
            unique.insert(columns);
        }
        let mut options = BTreeSet::new();
        let (strict, without_rowid): (bool, bool) = scratch
            .query_row(
                "SELECT strict, wr FROM pragma_table_list(?1) WHERE schema = 'main'",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok()?;
        if strict {
            options.insert("STRICT".to_owned());
        }
        if without_rowid {
            options.insert("WITHOUT ROWID".to_owned());
        }
        Some(Table {
            columns,
            checks: parts.checks,
            foreign_keys,
            unique,
            options,
        })
    }

    /// The column called `name` (SQLite's names ignore ASCII case).
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The column names in order, lower case.
    pub fn order(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.to_lowercase()).collect()
    }

    /// The primary key's columns in key order.
    pub fn primary_key(&self) -> Vec<String> {
        let mut key: Vec<&Column> = self.columns.iter().filter(|c| c.primary_key > 0).collect();
        key.sort_by_key(|c| c.primary_key);
        key.into_iter().map(|c| c.name.clone()).collect()
    }
}

/// An expression as it compares: keywords upper case outside string literals, layout
/// folded, `TRUE`/`FALSE` as SQLite stores them (1 and 0), outer parentheses dropped.
pub fn expression(text: &str) -> String {
    let tokens = tokens(text);
    let mut words: Vec<String> = tokens
        .iter()
        .map(|t| match t.as_str() {
            "TRUE" => "1".to_owned(),
            "FALSE" => "0".to_owned(),
            _ => t.clone(),
        })
        .collect();
    while words.len() >= 2
        && words.first().is_some_and(|w| w == "(")
        && words.last().is_some_and(|w| w == ")")
        && closes_at(&words, 0) == Some(words.len() - 1)
    {
        words.remove(0);
        words.pop();
    }
    words.join(" ")
}

/// Where the parenthesis opened at `open` closes.
fn closes_at(words: &[String], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, w) in words.iter().enumerate().skip(open) {
        match w.as_str() {
            "(" => depth += 1,
            ")" => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The SQL's tokens: comments dropped, words upper case and unquoted, string
/// literals kept as written, each punctuation mark its own token.
fn tokens(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if super::skip_comment(c, &mut chars) {
            continue;
        }
        match c {
            c if c.is_whitespace() => {}
            '\'' => {
                let mut s = String::from('\'');
                super::literal_rest(&mut chars, &mut s, false);
                out.push(s);
            }
            '"' | '`' | '[' => {
                let close = match c {
                    '[' => ']',
                    c => c,
                };
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    if c == close {
                        if close != ']' && chars.peek() == Some(&close) {
                            s.push(chars.next().expect("peeked"));
                            continue;
                        }
                        break;
                    }
                    s.push(c);
                }
                out.push(s.to_ascii_uppercase());
            }
            c if c.is_alphanumeric() || c == '_' || c == '$' || c == '.' => {
                let mut s = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_alphanumeric() || n == '_' || n == '$' || n == '.' {
                        s.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(s.to_ascii_uppercase());
            }
            c => out.push(c.to_string()),
        }
    }
    out
}

/// What the pragmas do not report, read from the SQL: per column its collation and
/// generating expression, and every CHECK expression.
struct Parts {
    collations: Vec<(String, String)>,
    generated: Vec<(String, String)>,
    checks: BTreeSet<String>,
}

impl Parts {
    fn of(sql: &str) -> Parts {
        let words = tokens(sql);
        let mut parts = Parts {
            collations: Vec::new(),
            generated: Vec::new(),
            checks: BTreeSet::new(),
        };
        let Some(open) = words.iter().position(|w| w == "(") else {
            return parts;
        };
        let Some(close) = closes_at(&words, open) else {
            return parts;
        };
        // The definitions between the outer parentheses, split on commas at depth 0.
        let mut definitions: Vec<&[String]> = Vec::new();
        let (mut depth, mut start) = (0usize, open + 1);
        for i in open + 1..close {
            match words[i].as_str() {
                "(" => depth += 1,
                ")" => depth = depth.saturating_sub(1),
                "," if depth == 0 => {
                    definitions.push(&words[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        definitions.push(&words[start..close]);
        const TABLE_CONSTRAINTS: [&str; 5] =
            ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"];
        for definition in definitions {
            let Some(first) = definition.first() else {
                continue;
            };
            let column = (!TABLE_CONSTRAINTS.contains(&first.as_str())).then_some(first);
            let words: Vec<String> = definition.to_vec();
            let mut i = 0;
            while i < words.len() {
                let parenthesised = |at: usize| {
                    (words.get(at).map(String::as_str) == Some("("))
                        .then(|| closes_at(&words, at))
                        .flatten()
                        .map(|end| expression(&words[at..=end].join(" ")))
                };
                match words[i].as_str() {
                    "CHECK" => {
                        if let Some(e) = parenthesised(i + 1) {
                            parts.checks.insert(e);
                        }
                    }
                    "COLLATE" => {
                        if let (Some(c), Some(name)) = (column, words.get(i + 1))
                            && name != "BINARY"
                        {
                            parts.collations.push((c.clone(), name.clone()));
                        }
                    }
                    "AS" => {
                        if let (Some(c), Some(e)) = (column, parenthesised(i + 1)) {
                            parts.generated.push((c.clone(), e));
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        parts
    }

    fn collation_of(&self, column: &str) -> Option<String> {
        self.collations
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(column))
            .map(|(_, name)| name.clone())
    }

    fn generated_of(&self, column: &str) -> Option<String> {
        self.generated
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(column))
            .map(|(_, e)| e.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_keys(_: &str) -> Option<Vec<String>> {
        None
    }

    fn read(sql: &str) -> Table {
        Table::read("t", sql, &|t| (t == "p").then(|| vec!["id".to_owned()])).unwrap()
    }

    #[test]
    fn layout_and_keyword_case_are_not_meaning() {
        assert_eq!(
            read("CREATE TABLE t (a INTEGER DEFAULT 0 NOT NULL, b TEXT DEFAULT FALSE)"),
            read("create table t (a integer not null default 0, b text default false)")
        );
        assert_eq!(
            read("CREATE TABLE t (b BOOLEAN DEFAULT FALSE)"),
            read("CREATE TABLE t (b BOOLEAN DEFAULT (0))")
        );
        assert_eq!(
            read("CREATE TABLE t (a, b, UNIQUE (a, b), CHECK (a > 0))"),
            read("CREATE TABLE t (a CHECK (a>0), b, CONSTRAINT u UNIQUE (a, b))")
        );
    }

    #[test]
    fn a_reference_to_a_primary_key_is_the_same_named_or_not() {
        assert_eq!(
            read("CREATE TABLE t (p INTEGER REFERENCES p)"),
            read("CREATE TABLE t (p INTEGER REFERENCES p(id))")
        );
        assert_ne!(
            read("CREATE TABLE t (p INTEGER REFERENCES p)"),
            read("CREATE TABLE t (p INTEGER REFERENCES p(other))")
        );
        // Unresolved, an unnamed reference differs from a named one.
        let unnamed = Table::read("t", "CREATE TABLE t (p REFERENCES q)", &no_keys).unwrap();
        let named = Table::read("t", "CREATE TABLE t (p REFERENCES q(id))", &no_keys).unwrap();
        assert_ne!(unnamed, named);
    }

    #[test]
    fn real_differences_remain() {
        let base = read("CREATE TABLE t (a INTEGER NOT NULL DEFAULT 0)");
        for other in [
            "CREATE TABLE t (a INTEGER DEFAULT 0)",
            "CREATE TABLE t (a INTEGER NOT NULL DEFAULT 1)",
            "CREATE TABLE t (a INTEGER NOT NULL DEFAULT '0')",
            "CREATE TABLE t (a TEXT NOT NULL DEFAULT 0)",
            "CREATE TABLE t (a INTEGER NOT NULL DEFAULT 0 COLLATE NOCASE)",
            "CREATE TABLE t (a INTEGER NOT NULL DEFAULT 0 CHECK (a > 0))",
            "CREATE TABLE t (a INTEGER NOT NULL DEFAULT 0 PRIMARY KEY)",
            "CREATE TABLE t (a INTEGER NOT NULL DEFAULT 0 UNIQUE)",
            "CREATE TABLE t (a INTEGER NOT NULL DEFAULT 0) STRICT",
        ] {
            assert_ne!(base, read(other), "{other}");
        }
        assert_ne!(
            read("CREATE TABLE t (a, g AS (a * 2))"),
            read("CREATE TABLE t (a, g AS (a * 3))")
        );
        assert_ne!(
            read("CREATE TABLE t (a, g AS (a * 2) STORED)"),
            read("CREATE TABLE t (a, g AS (a * 2))")
        );
        assert_ne!(
            read("CREATE TABLE t (p REFERENCES p ON DELETE CASCADE)"),
            read("CREATE TABLE t (p REFERENCES p)")
        );
    }

    #[test]
    fn column_order_is_seen() {
        let (a, b) = (
            read("CREATE TABLE t (a INTEGER, b TEXT)"),
            read("CREATE TABLE t (b TEXT, a INTEGER)"),
        );
        assert_ne!(a.order(), b.order());
        assert_eq!(a.column("A"), b.column("a"));
    }

    #[test]
    fn string_literals_keep_their_case() {
        assert_ne!(expression("'x'"), expression("'X'"));
        assert_eq!(expression("( current_timestamp )"), "CURRENT_TIMESTAMP");
        assert_eq!(expression("(1) + (2)"), "( 1 ) + ( 2 )");
    }
}
