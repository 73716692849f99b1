//! A comparable snapshot of a SQLite schema, and the differences a person needs to read.
//!
//! A snapshot is one read of `sqlite_schema`: the replay takes three per migration, so
//! it must not cost a query per table. Column lists (what `pragma_table_info` reports)
//! are derived only for the few tables whose definition changed, by creating the table
//! from its stored SQL in a scratch in-memory database.

mod table;

use rusqlite::Connection;
use std::collections::BTreeMap;
use std::iter::Peekable;
use std::str::Chars;
pub use table::{Column, Table};

/// One object of the schema: its type (`table`, `index`, `view`, `trigger`) and the
/// SQL SQLite stores for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// `table`, `index`, `view` or `trigger`.
    pub kind: String,
    /// Its definition, canonical.
    pub sql: String,
}

/// The user's objects (SQLite's own `sqlite_%` ones left out), by name: tables,
/// indexes, views and triggers share one namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schema {
    /// Every object by name.
    pub objects: BTreeMap<String, Object>,
}

/// What differs between a snapshot and the live schema: the snapshot's side and the
/// live side, each holding only the objects that differ.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// Before.
    pub was: Schema,
    /// After.
    pub now: Schema,
}

/// Folds whitespace so that SQL SQLite re-wrote (ALTER TABLE edits the stored text)
/// compares equal to the same definition typed by hand; a statement's end is where
/// its `;` is, whatever space is around it (a function re-created from a file that put
/// it on a line of its own). A string literal, an escape string's (`E'it\'s  x'`)
/// included, is kept as written: its spaces are its value. An apostrophe in a comment
/// (`-- it's`) opens none.
pub fn fold(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut space = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        let tight = matches!(c, '(' | ')' | ',' | ';') || out.ends_with(['(', ',', ';']);
        if space && !out.is_empty() && !tight {
            out.push(' ');
        }
        space = false;
        let escapes = c == '\'' && escape_string(&out);
        out.push(c);
        match c {
            '\'' => literal_rest(&mut chars, &mut out, escapes),
            '-' if chars.peek() == Some(&'-') => {
                // The comment's words are folded, its apostrophes are words.
                while let Some(&c) = chars.peek() {
                    if c == '\n' {
                        break;
                    }
                    chars.next();
                    match c.is_whitespace() {
                        true => space = true,
                        false => {
                            if std::mem::take(&mut space) {
                                out.push(' ');
                            }
                            out.push(c);
                        }
                    }
                }
            }
            _ => {}
        }
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
        if skip_comment(c, &mut chars) {
            out.push(' ');
            continue;
        }
        match c {
            '\'' => {
                let escapes = escape_string(&out);
                out.push(c);
                literal_rest(&mut chars, &mut out, escapes);
            }
            '"' | '`' | '[' | ']' => {}
            c => out.push(c.to_ascii_uppercase()),
        }
    }
    let folded = one_clock(&fold(&out));
    match (kind, folded.find('(')) {
        ("table", Some(open)) => format!("CREATE TABLE{}", &folded[open..]),
        _ => folded,
    }
}

/// PostgreSQL's spellings of the transaction's start time, as one: `now()` and
/// `transaction_timestamp()` are `CURRENT_TIMESTAMP` (its manual says so), and the
/// catalog keeps whichever a statement wrote, so a down that puts back `DEFAULT now()`
/// where the table had `DEFAULT CURRENT_TIMESTAMP` restores it. Read on canonical text
/// (upper case, folded); string literals are left as they are.
fn one_clock(sql: &str) -> String {
    const SPELLINGS: [&str; 2] = ["NOW()", "TRANSACTION_TIMESTAMP()"];
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        if c == '\'' {
            let escapes = escape_string(&out);
            out.push(c);
            let before = out.len();
            literal_rest(&mut rest[1..].chars().peekable(), &mut out, escapes);
            // The literal's characters, every one of them pushed as it was read.
            rest = &rest[1 + out.len() - before..];
            continue;
        }
        let word_start = !out
            .chars()
            .next_back()
            .is_some_and(|p| p.is_alphanumeric() || matches!(p, '_' | '$' | '.'));
        match SPELLINGS
            .iter()
            .find(|s| word_start && rest.starts_with(**s))
        {
            Some(spelling) => {
                out.push_str("CURRENT_TIMESTAMP");
                rest = &rest[spelling.len()..];
            }
            None => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// Skips the comment that `c` opens with the character after it, if it does: `--` to
/// the end of its line, `/* ... */` whole. Whether it did.
fn skip_comment(c: char, chars: &mut Peekable<Chars>) -> bool {
    match (c, chars.peek()) {
        ('-', Some('-')) => {
            for c in chars.by_ref() {
                if c == '\n' {
                    break;
                }
            }
            true
        }
        ('/', Some('*')) => {
            chars.next();
            let mut last = ' ';
            for c in chars.by_ref() {
                if last == '*' && c == '/' {
                    break;
                }
                last = c;
            }
            true
        }
        _ => false,
    }
}

/// Whether a quote after `before` opens PostgreSQL's escape string (`E'it\'s'`): an `E`
/// that starts a token, not the last letter of a word.
fn escape_string(before: &str) -> bool {
    let mut back = before.chars().rev();
    matches!(back.next(), Some('E' | 'e'))
        && !back
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// Pushes the rest of a string literal whose opening quote was just read: up to its
/// closing quote, a doubled quote (`''`) kept inside it, and in an escape string
/// (`escapes`) a backslash with the character it escapes.
fn literal_rest(chars: &mut Peekable<Chars>, out: &mut String, escapes: bool) {
    while let Some(c) = chars.next() {
        out.push(c);
        if escapes && c == '\\' {
            if let Some(escaped) = chars.next() {
                out.push(escaped);
            }
        } else if c == '\'' {
            if chars.peek() == Some(&'\'') {
                out.push(chars.next().expect("peeked"));
            } else {
                break;
            }
        }
    }
}

/// Where two canonical definitions part, with a little context either side.
fn divergence(after: &str, before: &str, sides: &Sides) -> String {
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
        "`{}` {}, `{}` {}",
        window(after),
        sides.now,
        window(before),
        sides.was
    )
}

/// Said of a definition that differs only in a date or time written into it.
const FROZEN_TIME: &str = "; the two differ only in a date or time: PostgreSQL folds \
     'now'::timestamp (or ::date) into the definition when the object is created, so it \
     holds that instant forever and every re-creation differs; write now() or \
     CURRENT_TIMESTAMP, which are evaluated at each query";

/// Whether two definitions differ only in their date and time literals (`'2026-12-05
/// 23:31:12.5'`): what an object that folded `'now'` at its creation looks like when
/// made twice.
fn holds_its_creation_time(before: &str, after: &str) -> bool {
    static TIME: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"'\d{4}-\d{2}-\d{2}[ T0-9:.+\-]*'").expect("a valid pattern")
    });
    let (b, a) = (
        TIME.replace_all(before, "'…'"),
        TIME.replace_all(after, "'…'"),
    );
    b == a && TIME.is_match(before)
}

/// The columns a stored `CREATE TABLE` defines, read back from a scratch database.
/// None for a table the scratch cannot create (a virtual table of a missing module).
fn columns(name: &str, sql: &str) -> Option<Vec<Column>> {
    Table::read(name, sql, &|_| None).map(|t| t.columns)
}

/// The user's objects: SQLite's own and semigrate's own (`semigrate_migrations`, ...)
/// left out.
const OBJECTS: &str = "SELECT type, name, coalesce(sql, '') FROM sqlite_schema \
                       WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                       AND name NOT LIKE 'semigrate\\_%' ESCAPE '\\'";

/// The digest of a schema's objects, in any order: the sum of each object's hash, so
/// that the store's catalog is read as it lies, without sorting it. Equal digests,
/// equal stored schemas (names are unique, so the objects are a set).
#[derive(Default)]
pub struct Digest {
    sum: u64,
    /// One object's bytes, hashed at once.
    object: Vec<u8>,
}

impl Digest {
    /// Adds one object.
    pub fn add(&mut self, kind: &str, name: &str, sql: &str) {
        self.object.clear();
        for part in [kind, name, sql] {
            self.object.extend_from_slice(part.as_bytes());
            self.object.push(0);
        }
        self.sum = self
            .sum
            .wrapping_add(xxhash_rust::xxh3::xxh3_64(&self.object));
    }

    /// The digest of what was added.
    pub fn finish(&self) -> u64 {
        self.sum
    }
}

/// The digest of a store's objects, straight from its rows: `Schema::digest` of
/// what `Schema::read` would build, without building it.
pub fn stored_digest(conn: &Connection) -> rusqlite::Result<u64> {
    let mut digest = Digest::default();
    let mut stmt = conn.prepare(OBJECTS)?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        digest.add(
            row.get_ref(0)?.as_str()?,
            row.get_ref(1)?.as_str()?,
            row.get_ref(2)?.as_str()?,
        );
    }
    Ok(digest.finish())
}

/// How a difference is worded: the replay compares the schema before up with the one
/// after down; the schema check, the compiled schema with the store's.
pub struct Sides {
    /// An object or column only on the first side.
    pub missing: &'static str,
    /// One only on the second.
    pub extra: &'static str,
    /// The first side, after a value.
    pub was: &'static str,
    /// The second side, after a value.
    pub now: &'static str,
}

/// Before up, after down.
pub const AFTER_DOWN: Sides = Sides {
    missing: "is missing after down",
    extra: "is left behind by down",
    was: "before",
    now: "after down",
};

/// As compiled, in the store.
pub const IN_STORE: Sides = Sides {
    missing: "is missing from the store",
    extra: "is in the store, not in the chain",
    was: "as compiled",
    now: "in the store",
};

impl Schema {
    /// Reads the whole schema.
    pub fn read(conn: &Connection) -> rusqlite::Result<Schema> {
        Schema::default().changes(conn).map(|c| c.now)
    }

    /// The schema a chain's migrations up to `at` leave on `engine`, from what each
    /// one's up changed; None when one of them was compiled without it.
    pub fn compiled(
        chain: &[crate::model::Migration],
        at: crate::model::SemVer,
        engine: crate::model::Engine,
    ) -> Option<Schema> {
        let mut schema = Schema::default();
        for m in chain.iter().take_while(|m| m.version <= at) {
            let objects = match engine {
                crate::model::Engine::Sqlite => &m.schema,
                crate::model::Engine::Postgres => &m.schema_postgres,
            };
            for o in objects.as_deref()? {
                match &o.sql {
                    Some(sql) => {
                        let object = Object {
                            kind: o.kind.to_string(),
                            sql: sql.to_string(),
                        };
                        schema.objects.insert(o.name.to_string(), object);
                    }
                    None => {
                        schema.objects.remove(o.name.as_ref());
                    }
                }
            }
        }
        Some(schema)
    }

    /// What differs, in meaning, between this schema and `other`: the objects whose
    /// canonical definitions differ or that only one side has.
    pub fn against(&self, other: &Schema) -> Change {
        let mut change = Change::default();
        // Most objects are stored as the replay stored them: equal text needs no
        // canonical form.
        let same = |a: &Object, b: &Object| {
            a.kind == b.kind
                && (a.sql == b.sql || canonical(&a.kind, &a.sql) == canonical(&b.kind, &b.sql))
        };
        for (name, o) in &self.objects {
            if !other.objects.get(name).is_some_and(|p| same(o, p)) {
                change.was.objects.insert(name.clone(), o.clone());
            }
        }
        for (name, o) in &other.objects {
            if !self.objects.get(name).is_some_and(|p| same(o, p)) {
                change.now.objects.insert(name.clone(), o.clone());
            }
        }
        change
    }

    /// A digest of every object as stored, in name order: what `Digest` computes over
    /// a store's rows.
    pub fn digest(&self) -> u64 {
        let mut digest = Digest::default();
        for (name, o) in &self.objects {
            digest.add(&o.kind, name, &o.sql);
        }
        digest.finish()
    }

    /// Leaves out the objects whose names `patterns` match (`*`: any text).
    pub fn without(mut self, patterns: &[&str]) -> Schema {
        if patterns.is_empty() {
            return self;
        }
        let whole = |p: &str| {
            let parts: Vec<String> = p.split('*').map(regex::escape).collect();
            format!("^{}$", parts.join(".*"))
        };
        if let Ok(set) = regex::RegexSet::new(patterns.iter().map(|p| whole(p))) {
            self.objects.retain(|name, _| !set.is_match(name));
        }
        self
    }

    /// Compares the live schema with this snapshot, allocating only for the objects
    /// that differ.
    pub fn changes(&self, conn: &Connection) -> rusqlite::Result<Change> {
        let mut change = Change::default();
        let mut unchanged = 0;
        let mut stmt = conn.prepare_cached(OBJECTS)?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let (kind, name, sql) = (
                row.get_ref(0)?.as_str()?,
                row.get_ref(1)?.as_str()?,
                row.get_ref(2)?.as_str()?,
            );
            match self.objects.get(name) {
                Some(o) if o.kind == kind && o.sql == sql => unchanged += 1,
                old => {
                    if let Some(o) = old {
                        change.was.objects.insert(name.to_owned(), o.clone());
                    }
                    let object = Object {
                        kind: kind.to_owned(),
                        sql: sql.to_owned(),
                    };
                    change.now.objects.insert(name.to_owned(), object);
                }
            }
        }
        if unchanged + change.was.objects.len() < self.objects.len() {
            for (name, o) in &self.objects {
                if !change.now.objects.contains_key(name) && !change.was.objects.contains_key(name)
                {
                    let still_there = conn
                        .prepare_cached("SELECT 1 FROM sqlite_schema WHERE name = ?1")?
                        .exists([name])?;
                    if !still_there {
                        change.was.objects.insert(name.clone(), o.clone());
                    }
                }
            }
        }
        Ok(change)
    }

    /// Brings the snapshot to the live schema a `change` was read from.
    pub fn apply(&mut self, change: &Change) {
        for name in change.was.objects.keys() {
            self.objects.remove(name);
        }
        self.objects.extend(change.now.objects.clone());
    }

    fn tables(&self) -> impl Iterator<Item = (&str, &str)> {
        self.objects
            .iter()
            .filter(|(_, o)| o.kind == "table")
            .map(|(name, o)| (name.as_str(), o.sql.as_str()))
    }

    /// The SQL of the table called `name` (SQLite's names ignore ASCII case), for
    /// `Change::differences_as` to resolve references with.
    pub fn table_named(&self, name: &str) -> Option<String> {
        self.objects
            .iter()
            .find(|(n, o)| o.kind == "table" && n.eq_ignore_ascii_case(name))
            .map(|(_, o)| o.sql.clone())
    }

    fn table_sql(&self, name: &str) -> Option<&str> {
        self.objects
            .get(name)
            .filter(|o| o.kind == "table")
            .map(|o| o.sql.as_str())
    }
}

impl Change {
    /// Read as "up, then down": what the schema after down lacks or adds compared with
    /// the schema before up, one difference per class. `unchanged` gives the SQL of a
    /// table the change does not hold, to resolve references to its primary key.
    pub fn differences(&self, unchanged: &dyn Fn(&str) -> Option<String>) -> Vec<Difference> {
        self.differences_as(&AFTER_DOWN, unchanged)
    }

    /// The objects a migration's up changed, as the table compiles them: each new or
    /// redefined object with its SQL, each removed one without.
    pub fn objects(&self) -> Vec<crate::model::SchemaObject> {
        use crate::model::{SchemaObject, Text};
        let removed = self
            .was
            .objects
            .iter()
            .filter(|(name, _)| !self.now.objects.contains_key(*name))
            .map(|(name, o)| SchemaObject {
                name: Text::Owned(name.clone()),
                kind: Text::Owned(o.kind.clone()),
                sql: None,
            });
        let written = self.now.objects.iter().map(|(name, o)| SchemaObject {
            name: Text::Owned(name.clone()),
            kind: Text::Owned(o.kind.clone()),
            sql: Some(Text::Owned(o.sql.clone())),
        });
        removed.chain(written).collect()
    }

    /// The names of the objects that differ, each once, sorted.
    pub fn names(&self) -> Vec<&String> {
        let mut names: Vec<&String> = self
            .was
            .objects
            .keys()
            .chain(self.now.objects.keys())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// What the second side lacks or adds compared with the first, one difference per
    /// class, worded for the two sides. Tables compare by meaning (`Table`), other
    /// objects by their canonical text; `unchanged` gives the SQL of a table that is
    /// the same on both sides, for the primary keys that references name.
    pub fn differences_as(
        &self,
        sides: &Sides,
        unchanged: &dyn Fn(&str) -> Option<String>,
    ) -> Vec<Difference> {
        let mut out = Vec::new();
        // A relation one side lacks is one difference: its columns, indexes,
        // constraints and triggers go with it.
        let whole = |side: &Schema, other: &Schema, kind: &str, name: &str, sql: &str| {
            relation_of(kind, name, sql).is_some_and(|r| {
                side.objects
                    .get_key_value(r)
                    .or_else(|| {
                        let r = r.trim_matches('"');
                        side.objects.iter().find(|(n, _)| n.eq_ignore_ascii_case(r))
                    })
                    .is_some_and(|(n, o)| {
                        matches!(o.kind.as_str(), "table" | "view")
                            && other.objects.get(n).is_none_or(|p| p.kind != o.kind)
                    })
            })
        };
        for (name, was) in &self.was.objects {
            let kind = &was.kind;
            let subject = format!("{kind} {name}");
            let Some(now) = self.now.objects.get(name).filter(|o| &o.kind == kind) else {
                if whole(&self.was, &self.now, kind, name, &was.sql) {
                    continue;
                }
                out.push(Difference::new(
                    &subject,
                    format!("{subject} {}", sides.missing),
                ));
                continue;
            };
            let (before, after) = (canonical(kind, &was.sql), canonical(kind, &now.sql));
            if before == after {
                continue;
            }
            let meanings = match kind.as_str() {
                "table" => self
                    .table(&self.was, name, unchanged)
                    .zip(self.table(&self.now, name, unchanged)),
                _ => None,
            };
            match meanings {
                Some((b, a)) => out.extend(table_differences(name, &b, &a, sides)),
                None => {
                    let mut text = format!(
                        "{subject} is defined differently: {}",
                        divergence(&after, &before, sides)
                    );
                    if holds_its_creation_time(&before, &after) {
                        text.push_str(FROZEN_TIME);
                    }
                    out.push(Difference::new(&subject, text));
                }
            }
        }
        for (name, now) in &self.now.objects {
            if self
                .was
                .objects
                .get(name)
                .is_none_or(|o| o.kind != now.kind)
                && !whole(&self.now, &self.was, &now.kind, name, &now.sql)
            {
                let subject = format!("{} {name}", now.kind);
                out.push(Difference::new(
                    &subject,
                    format!("{subject} {}", sides.extra),
                ));
            }
        }
        out
    }

    /// The meaning of table `name` on one side, its references resolved against that
    /// side, or against the tables both sides share.
    fn table(
        &self,
        side: &Schema,
        name: &str,
        unchanged: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Table> {
        let sql = side.table_sql(name)?;
        let keys = |target: &str| {
            let found = side
                .objects
                .iter()
                .find(|(n, o)| o.kind == "table" && n.eq_ignore_ascii_case(target))
                .map(|(n, o)| (n.clone(), o.sql.clone()))
                .or_else(|| unchanged(target).map(|sql| (target.to_owned(), sql)))?;
            Table::read(&found.0, &found.1, &|_| None).map(|t| t.primary_key())
        };
        Table::read(name, sql, &keys)
    }

    /// Read as "up": the tables and columns before up that are gone after it. A column
    /// replaced at the same position by one of the same type is a rename, and a table
    /// replaced by one with the same columns is a rename: neither loses data.
    pub fn removed(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (table, sql) in self.was.tables() {
            match self.now.table_sql(table) {
                Some(now) if now == sql => {}
                Some(now) => {
                    let (Some(before), Some(now)) = (columns(table, sql), columns(table, now))
                    else {
                        continue;
                    };
                    for (i, c) in before.iter().enumerate() {
                        if now.iter().any(|d| d.name == c.name) {
                            continue;
                        }
                        let renamed = now.get(i).is_some_and(|d| {
                            d.decl_type == c.decl_type && !before.iter().any(|b| b.name == d.name)
                        });
                        if !renamed {
                            out.push(format!("column {table}.{}", c.name));
                        }
                    }
                }
                None => {
                    let before = columns(table, sql);
                    let renamed = before.is_some()
                        && self.now.tables().any(|(t, now)| {
                            self.was.table_sql(t).is_none() && columns(t, now) == before
                        });
                    if !renamed {
                        out.push(format!("table {table}"));
                    }
                }
            }
        }
        out
    }
}

/// The table or view an object is part of: a column `t.c` or a constraint or
/// trigger `x on t` as the PostgreSQL catalog names them, an index or trigger by the
/// table its definition names.
fn relation_of<'a>(kind: &str, name: &'a str, sql: &'a str) -> Option<&'a str> {
    static ON: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"(?i)\bON\s+(?:ONLY\s+)?("[^"]+"|[\w.]+)"#).expect("a valid pattern")
    });
    match kind {
        "column" => name.split_once('.').map(|(t, _)| t),
        "constraint" => name.rsplit_once(" on ").map(|(_, t)| t),
        "index" | "trigger" => name
            .rsplit_once(" on ")
            .map(|(_, t)| t)
            .or_else(|| ON.captures(sql).and_then(|c| c.get(1)).map(|m| m.as_str())),
        _ => None,
    }
}

/// One difference between two schemas: what it is about, in the words a migration's
/// `down_leaves` acknowledges it with (`column users.bio`, `default of t.a`, `column
/// order of t`), and the line a person reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The object, column or property that differs.
    pub subject: String,
    /// What differs, in a sentence.
    pub line: String,
}

impl Difference {
    fn new(subject: &str, line: String) -> Difference {
        Difference {
            subject: subject.to_owned(),
            line,
        }
    }
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.line)
    }
}

/// What differs between a table's meaning on one side and the other: column by
/// column, then its constraints as sets; column order only when nothing else does.
fn table_differences(table: &str, before: &Table, after: &Table, sides: &Sides) -> Vec<Difference> {
    let Sides {
        missing,
        extra,
        was,
        now,
    } = sides;
    let mut out = Vec::new();
    let mut push = |subject: String, line: String| out.push(Difference { subject, line });
    for c in &before.columns {
        let name = &c.name;
        let Some(d) = after.column(name) else {
            push(
                format!("column {table}.{name}"),
                format!("column {table}.{name} {missing}"),
            );
            continue;
        };
        let shown = |t: &Option<String>, none: &str| t.clone().unwrap_or_else(|| none.to_owned());
        let typed = |t: &str| (!t.is_empty()).then(|| t.to_owned());
        if c.decl_type != d.decl_type {
            push(
                format!("type of {table}.{name}"),
                format!(
                    "column {table}.{name} has type {} {now}, {} {was}",
                    shown(&typed(&d.decl_type), "no type"),
                    shown(&typed(&c.decl_type), "no type")
                ),
            );
        }
        if c.not_null != d.not_null {
            let says = |n: bool| if n { "NOT NULL" } else { "nullable" };
            push(
                format!("not null of {table}.{name}"),
                format!(
                    "column {table}.{name} is {} {now}, {} {was}",
                    says(d.not_null),
                    says(c.not_null)
                ),
            );
        }
        for (property, b, a, none) in [
            ("default", &c.default, &d.default, "no default"),
            ("collation", &c.collation, &d.collation, "BINARY"),
            ("expression", &c.generated, &d.generated, "none"),
        ] {
            if b != a {
                push(
                    format!("{property} of {table}.{name}"),
                    format!(
                        "column {table}.{name} has {property} {} {now}, {} {was}",
                        shown(a, none),
                        shown(b, none)
                    ),
                );
            }
        }
        if c.primary_key != d.primary_key {
            push(
                format!("primary key of {table}"),
                format!("column {table}.{name} has another primary key part {now}"),
            );
        }
    }
    for d in &after.columns {
        if before.column(&d.name).is_none() {
            push(
                format!("column {table}.{}", d.name),
                format!("column {table}.{} {extra}", d.name),
            );
        }
    }
    fn sets<T: Ord + std::fmt::Display>(
        push: &mut dyn FnMut(String, String),
        subject: String,
        what: &str,
        before: &std::collections::BTreeSet<T>,
        after: &std::collections::BTreeSet<T>,
        sides: &Sides,
    ) {
        for gone in before.difference(after) {
            push(subject.clone(), format!("{what} {gone} {}", sides.missing));
        }
        for added in after.difference(before) {
            push(subject.clone(), format!("{what} {added} {}", sides.extra));
        }
    }
    let list = |set: &std::collections::BTreeSet<Vec<String>>| {
        set.iter()
            .map(|cols| format!("({})", cols.join(", ")))
            .collect::<std::collections::BTreeSet<_>>()
    };
    let checks = |set: &std::collections::BTreeSet<String>| {
        set.iter()
            .map(|e| format!("({e})"))
            .collect::<std::collections::BTreeSet<_>>()
    };
    sets(
        &mut push,
        format!("check of {table}"),
        &format!("{table}'s CHECK"),
        &checks(&before.checks),
        &checks(&after.checks),
        sides,
    );
    sets(
        &mut push,
        format!("foreign key of {table}"),
        &format!("{table}'s foreign key"),
        &before.foreign_keys,
        &after.foreign_keys,
        sides,
    );
    sets(
        &mut push,
        format!("unique of {table}"),
        &format!("{table}'s UNIQUE"),
        &list(&before.unique),
        &list(&after.unique),
        sides,
    );
    sets(
        &mut push,
        format!("options of {table}"),
        &format!("table {table}'s option"),
        &before.options,
        &after.options,
        sides,
    );
    let (b, a) = (before.order(), after.order());
    if out.is_empty() && b != a {
        // Only the stretch that differs, with a column either side when there is one.
        let start = b.iter().zip(&a).take_while(|(x, y)| x == y).count();
        let end = b
            .iter()
            .rev()
            .zip(a.iter().rev())
            .take_while(|(x, y)| x == y)
            .count();
        let window = |cols: &[String]| {
            let (from, to) = (
                start.saturating_sub(1),
                (cols.len() - end + 1).min(cols.len()),
            );
            let mut shown = cols[from..to].join(", ");
            if from > 0 {
                shown = format!("…, {shown}");
            }
            if to < cols.len() {
                shown.push_str(", …");
            }
            shown
        };
        out.push(Difference {
            subject: format!("column order of {table}"),
            line: format!(
                "table {table} has its columns in another order {now}: {}, {was}: {}",
                window(&a),
                window(&b)
            ),
        });
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

    /// The change from the schema `before` creates to the one `after` creates.
    fn change(before: &str, after: &str) -> Change {
        let old = Connection::open_in_memory().unwrap();
        old.execute_batch(before).unwrap();
        let snapshot = Schema::read(&old).unwrap();
        let new = Connection::open_in_memory().unwrap();
        new.execute_batch(after).unwrap();
        snapshot.changes(&new).unwrap()
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
        assert_eq!(fold("BEGIN SELECT 1 ;\n END ;"), "BEGIN SELECT 1;END;");
        // A literal's spaces are its value, `''` inside it or not.
        assert_eq!(fold("DEFAULT 'a  b ; c'"), "DEFAULT 'a  b ; c'");
        assert_eq!(fold("x = 'it''s  ok'  ,  y"), "x = 'it''s  ok',y");
        // An escape string's `\'` is inside it.
        assert_eq!(fold("x = E'it\\'s  ok'  ,  y"), "x = E'it\\'s  ok',y");
        assert_eq!(
            fold("BEGIN -- it's  the  end\n  RETURN  'a  b';\nEND"),
            "BEGIN -- it's the end RETURN 'a  b';END"
        );
        assert_ne!(
            canonical("table", "CREATE TABLE t (a TEXT DEFAULT 'a  b')"),
            canonical("table", "CREATE TABLE t (a TEXT DEFAULT 'a b')")
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
    fn now_and_current_timestamp_are_one_default_but_a_quoted_now_is_not() {
        let column = |default: &str| {
            canonical(
                "column",
                &format!("timestamp with time zone NOT NULL DEFAULT {default}"),
            )
        };
        assert_eq!(column("now()"), column("CURRENT_TIMESTAMP"));
        assert_eq!(
            column("transaction_timestamp()"),
            column("CURRENT_TIMESTAMP")
        );
        // A literal is the time the table was made, and another function is another.
        assert_ne!(column("'now()'::timestamptz"), column("CURRENT_TIMESTAMP"));
        assert_ne!(column("clock_timestamp()"), column("CURRENT_TIMESTAMP"));
        assert_ne!(column("app.now()"), column("CURRENT_TIMESTAMP"));
        assert_ne!(column("CURRENT_TIMESTAMP(3)"), column("CURRENT_TIMESTAMP"));
        // Inside an escape string, after an escaped quote, NOW() is still text.
        let noted = |default: &str| canonical("column", &format!("text DEFAULT {default}"));
        assert_ne!(
            noted("E'it\\'s NOW()'"),
            noted("E'it\\'s CURRENT_TIMESTAMP'")
        );
        assert_eq!(
            noted("E'it\\'s NOW()' || now()"),
            noted("E'it\\'s NOW()' || CURRENT_TIMESTAMP")
        );
    }

    #[test]
    fn an_escaped_quote_in_an_escape_string_does_not_end_it() {
        let written = "CREATE VIEW v AS SELECT a FROM t WHERE a <> E'it\\'s' AND b = 'X'";
        let read = "create view v as select a from t where a <> e'it\\'s' and b = 'X'";
        assert_eq!(canonical("view", written), canonical("view", read));
        assert_ne!(
            canonical("view", written),
            canonical("view", &written.replace("it\\'s", "it\\'S"))
        );
        // Without the E, or after a word that ends in E, a backslash escapes nothing.
        let plain = "CREATE VIEW v AS SELECT CASE WHEN a THEN 'a\\' ELSE'b\\' END AS note";
        assert_eq!(
            canonical("view", plain),
            canonical("view", &plain.to_lowercase())
        );
    }

    #[test]
    fn a_function_body_compares_whatever_the_space_around_its_semicolons() {
        let body = |end: &str| {
            format!(
                "CREATE OR REPLACE FUNCTION f() RETURNS trigger AS $function$\nBEGIN\n  \
                 DELETE FROM t WHERE x IS NULL{end}\n  RETURN NULL;\nEND;\n$function$"
            )
        };
        assert_eq!(
            canonical("function", &body(";")),
            canonical("function", &body("\n    ;"))
        );
        assert_ne!(
            canonical("function", &body(";")),
            canonical("function", &body(" AND y;"))
        );
    }

    #[test]
    fn a_view_that_folded_its_creation_time_gets_the_hint() {
        let view = |at: &str| {
            format!(
                "CREATE TABLE t (at TEXT); CREATE VIEW recent AS SELECT at FROM t \
                 WHERE at > '{at}';"
            )
        };
        let d = change(
            &view("2026-12-05 23:31:12.25+00"),
            &view("2026-12-05 23:31:13.5+00"),
        );
        let found = d.differences(&|_| None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].line.contains("view recent is defined differently"));
        assert!(
            found[0].line.contains("folds 'now'::timestamp"),
            "{found:?}"
        );
        // Any other change of the definition gets no such hint.
        let d = change(
            &view("2026-12-05 23:31:12"),
            &view("2026-12-05 23:31:12' OR at IS NULL OR at > '2026-12-06"),
        );
        let found = d.differences(&|_| None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(!found[0].line.contains("folds"), "{found:?}");
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
            before.changes(&conn).unwrap().differences(&|_| None),
            Vec::new()
        );
    }

    #[test]
    fn differences_name_the_objects() {
        let d = change(
            "CREATE TABLE t (a INTEGER, lum TEXT);",
            "CREATE TABLE t (a INTEGER, lum INTEGER); CREATE INDEX ix_risk ON t(a);",
        )
        .differences(&|_| None)
        .into_iter()
        .map(|d| d.line)
        .collect::<Vec<_>>();
        assert!(
            d.contains(&"index ix_risk is left behind by down".to_owned()),
            "{d:?}"
        );
        assert!(
            d.contains(&"column t.lum has type INTEGER after down, TEXT before".to_owned()),
            "{d:?}"
        );
        assert_eq!(d.len(), 2, "{d:?}");
    }

    #[test]
    fn missing_columns_and_objects_are_named() {
        let d = change(
            "CREATE TABLE t (a INTEGER, b TEXT NOT NULL); CREATE TABLE u (x);",
            "CREATE TABLE t (a INTEGER, b TEXT, c REAL);",
        )
        .differences(&|_| None)
        .into_iter()
        .map(|d| d.line)
        .collect::<Vec<_>>();
        assert!(
            d.contains(&"table u is missing after down".to_owned()),
            "{d:?}"
        );
        assert!(
            d.contains(&"column t.b is nullable after down, NOT NULL before".to_owned()),
            "{d:?}"
        );
        assert!(
            d.contains(&"column t.c is left behind by down".to_owned()),
            "{d:?}"
        );
    }

    #[test]
    fn a_missing_table_takes_its_parts_with_it() {
        let d = change(
            "CREATE TABLE t (a); CREATE TABLE u (x); CREATE INDEX ix_u ON u(x); \
             CREATE TRIGGER tr_u AFTER INSERT ON u BEGIN SELECT 1; END; \
             CREATE INDEX ix_t ON t(a);",
            "CREATE TABLE t (a); CREATE TABLE v (y); CREATE INDEX ix_v ON v(y);",
        )
        .differences(&|_| None)
        .into_iter()
        .map(|d| d.line)
        .collect::<Vec<_>>();
        assert_eq!(
            d,
            [
                "index ix_t is missing after down",
                "table u is missing after down",
                "table v is left behind by down",
            ],
        );
    }

    #[test]
    fn a_missing_relation_of_the_postgres_catalog_takes_its_parts_with_it() {
        let object = |kind: &str, sql: &str| Object {
            kind: kind.into(),
            sql: sql.into(),
        };
        let mut change = Change::default();
        for (name, o) in [
            ("u", object("table", "BASE TABLE")),
            ("u.x", object("column", "integer NOT NULL")),
            ("u_pkey on u", object("constraint", "PRIMARY KEY (x)")),
            (
                "ix_u",
                object("index", "CREATE INDEX ix_u ON u USING btree (x)"),
            ),
            ("v_u.x", object("column", "integer")),
            ("t.b", object("column", "text")),
        ] {
            change.was.objects.insert(name.into(), o);
        }
        change
            .now
            .objects
            .insert("w.z".into(), object("column", "integer"));
        change
            .now
            .objects
            .insert("w".into(), object("view", " SELECT 1 AS z;"));
        let d: Vec<String> = change
            .differences(&|_| None)
            .into_iter()
            .map(|d| d.line)
            .collect();
        assert_eq!(
            d,
            [
                "column t.b is missing after down",
                "table u is missing after down",
                "column v_u.x is missing after down",
                "view w is left behind by down",
            ],
        );
    }

    #[test]
    fn a_changed_constraint_is_a_difference() {
        let d = change(
            "CREATE TABLE t (a INTEGER CHECK (a > 0));",
            "CREATE TABLE t (a INTEGER);",
        )
        .differences(&|_| None)
        .into_iter()
        .map(|d| d.line)
        .collect::<Vec<_>>();
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0], "t's CHECK (A > 0) is missing after down");
    }

    #[test]
    fn removals_are_found_and_renames_are_not() {
        let before = "CREATE TABLE t (a INTEGER, b TEXT); CREATE TABLE u (x);";
        let dropped = change(before, "CREATE TABLE t (a INTEGER);").removed();
        assert_eq!(dropped, vec!["column t.b", "table u"]);
        let renamed = change(
            before,
            "CREATE TABLE t (a INTEGER, c TEXT); CREATE TABLE v (x);",
        )
        .removed();
        assert_eq!(renamed, Vec::<String>::new());
    }

    #[test]
    fn applying_a_change_brings_the_snapshot_up_to_date() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a); CREATE TABLE u (b); CREATE INDEX i ON t(a);")
            .unwrap();
        let mut snapshot = Schema::read(&conn).unwrap();
        conn.execute_batch("DROP INDEX i; ALTER TABLE u ADD COLUMN c; CREATE TABLE v (d);")
            .unwrap();
        let change = snapshot.changes(&conn).unwrap();
        assert_eq!(change.was.objects.keys().collect::<Vec<_>>(), ["i", "u"]);
        assert_eq!(change.now.objects.keys().collect::<Vec<_>>(), ["u", "v"]);
        snapshot.apply(&change);
        assert_eq!(snapshot, Schema::read(&conn).unwrap());
        assert_eq!(snapshot.changes(&conn).unwrap(), Change::default());
    }

    /// The digest read from a store's rows is the digest of the schema read from it,
    /// whatever order the objects were created in, and any change moves it;
    /// semigrate's own tables count for nothing.
    #[test]
    fn a_stores_digest_is_its_schemas_and_any_change_moves_it() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE z (a); CREATE TABLE b (a, c TEXT DEFAULT 'x'); CREATE INDEX ix ON b (c); \
             CREATE VIEW v AS SELECT a FROM z; CREATE TABLE semigrate_migrations (version TEXT);",
        )
        .unwrap();
        let digest = stored_digest(&conn).unwrap();
        assert_eq!(digest, Schema::read(&conn).unwrap().digest());
        conn.execute_batch("DROP TABLE semigrate_migrations")
            .unwrap();
        assert_eq!(stored_digest(&conn).unwrap(), digest);
        conn.execute_batch("CREATE INDEX ix2 ON z (a)").unwrap();
        assert_ne!(stored_digest(&conn).unwrap(), digest);
        conn.execute_batch("DROP INDEX ix2; DROP VIEW v; CREATE VIEW v AS SELECT a FROM b")
            .unwrap();
        assert_ne!(stored_digest(&conn).unwrap(), digest);
    }
}
