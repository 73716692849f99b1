//! The migration folders of other tools, read into one shape: each migration's id (as
//! that tool's history table stores it), its name, its up and down SQL, and whether it
//! runs in a transaction. Each tool's order is kept: numeric where its versions are
//! numbers (golang-migrate's 1, 2, ... 10), as text where they are timestamps.

use crate::statements::Token;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The tools whose folders `import` reads, and whose stores `adopt` takes over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// diesel_cli: `migrations/2019-02-26-002946_name/{up,down}.sql`, `metadata.toml`.
    Diesel,
    /// sqlx-cli: `20240101120000_name.sql`, or `.up.sql` and `.down.sql`.
    Sqlx,
    /// golang-migrate: `1_name.up.sql` and `1_name.down.sql`.
    GolangMigrate,
    /// goose: `00001_name.sql` with `-- +goose Up` and `-- +goose Down`.
    Goose,
    /// dbmate: `20151129054053_name.sql` with `-- migrate:up` and `-- migrate:down`.
    Dbmate,
    /// Flyway: `V1.1__name.sql`, and `U1.1__name.sql` to undo it.
    Flyway,
    /// sql-migrate: any `.sql` with `-- +migrate Up` and `-- +migrate Down`.
    SqlMigrate,
}

impl Tool {
    /// Every tool, as `--from` names them.
    pub const ALL: [Tool; 7] = [
        Tool::Diesel,
        Tool::Sqlx,
        Tool::GolangMigrate,
        Tool::Goose,
        Tool::Dbmate,
        Tool::Flyway,
        Tool::SqlMigrate,
    ];

    /// Its name, as `--from` takes it and `origin` records it.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Diesel => "diesel",
            Tool::Sqlx => "sqlx",
            Tool::GolangMigrate => "golang-migrate",
            Tool::Goose => "goose",
            Tool::Dbmate => "dbmate",
            Tool::Flyway => "flyway",
            Tool::SqlMigrate => "sql-migrate",
        }
    }

    /// The tool `--from` names.
    pub fn parse(name: &str) -> Result<Tool, String> {
        Tool::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Tool::ALL.iter().map(|t| t.name()).collect();
                format!("`{name}` is not a tool import knows: {}", names.join(", "))
            })
    }
}

/// One direction's SQL, and the file it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// The SQL, as written.
    pub text: String,
    /// The file it comes from.
    pub file: PathBuf,
}

impl Part {
    /// Whether it holds no statement (empty, or comments only).
    pub fn is_empty(&self) -> bool {
        crate::statements::split(&self.text).is_empty()
    }

    /// Whether each of its statements only reads: a `SELECT` that calls nothing (no
    /// parenthesis, so no function that could write) and makes no table (`INTO`).
    /// Teams write such a down to say there is no undoing the up.
    fn only_reads(&self) -> bool {
        self.all(|first, tokens| {
            first.eq_ignore_ascii_case("select")
                && !tokens.iter().any(|(_, t)| match t {
                    Token::Punct(b'(') => true,
                    Token::Word(w) => w.eq_ignore_ascii_case("into"),
                    _ => false,
                })
        })
    }

    /// Whether each of its statements reads or writes rows and leaves the schema
    /// alone: undoing it is the team's choice of data, not a schema to restore.
    fn only_data(&self) -> bool {
        self.all(|first, _| {
            ["select", "insert", "update", "delete", "with"]
                .iter()
                .any(|k| first.eq_ignore_ascii_case(k))
        })
    }

    /// Whether it holds statements and each, by its first word and its tokens, passes.
    fn all(&self, passes: impl Fn(&str, &[(usize, Token)]) -> bool) -> bool {
        let statements = crate::statements::split(&self.text);
        !statements.is_empty()
            && statements.iter().all(|statement| {
                let tokens = crate::statements::tokens(statement);
                matches!(tokens.first(), Some((_, Token::Word(first))) if passes(first, &tokens))
            })
    }
}

/// One migration as another tool keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The id the tool's history records (`20190226002946`, `1`, `1.1`, a file name).
    pub id: String,
    /// Its name in the tool's folder (`2019-02-26-002946_create_user`).
    pub name: String,
    /// What brings the store up.
    pub up: Part,
    /// What takes it back down; None when there is none, or it holds no statement.
    pub down: Option<Part>,
    /// Whether the tool runs it in a transaction.
    pub transaction: bool,
    /// What a person should know of how it was read.
    pub notes: Vec<String>,
}

/// Reads the folder `dir` of `tool`: every migration, in the tool's order, its empty
/// downs as `empty` says, or every file that cannot be placed, named.
pub fn read(tool: Tool, dir: &Path, empty: EmptyDowns) -> Result<Vec<Source>, Vec<String>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| vec![format!("{}: cannot read the folder: {e}", dir.display())])?;
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    let mut errors = Vec::new();
    let mut found: Vec<(Key, Source)> = Vec::new();
    match tool {
        Tool::Diesel => diesel(&paths, &mut found, &mut errors),
        Tool::Sqlx | Tool::GolangMigrate => pairs(tool, &paths, &mut found, &mut errors),
        Tool::Goose | Tool::Dbmate | Tool::SqlMigrate => {
            sections(tool, &paths, &mut found, &mut errors)
        }
        Tool::Flyway => flyway(&paths, &mut found, &mut errors),
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    // Two migrations are one version when their tool orders them as one (Flyway's
    // 1.1 and 1.01), or records them under one id (dbmate's leading digits).
    let mut ids: Vec<(&str, &Path)> = found
        .iter()
        .map(|(_, s)| (s.id.as_str(), s.up.file.as_path()))
        .collect();
    ids.sort();
    let same_id = ids
        .windows(2)
        .filter(|p| p[0].0 == p[1].0)
        .map(|p| (p[0].1, p[1].1));
    let same_key = found
        .windows(2)
        .filter(|p| p[0].0 == p[1].0 && p[0].1.id != p[1].1.id)
        .map(|p| (p[0].1.up.file.as_path(), p[1].1.up.file.as_path()));
    errors.extend(same_id.chain(same_key).map(|(a, b)| same_version(a, b)));
    if found.is_empty() && errors.is_empty() {
        errors.push(format!(
            "{}: no {} migration found in it",
            dir.display(),
            tool.name()
        ));
    }
    match errors.is_empty() {
        true => Ok(found
            .into_iter()
            .map(|(_, mut source)| {
                empty_down(&mut source, tool, empty);
                source
            })
            .collect()),
        false => Err(errors),
    }
}

/// The error of two files that are one version to their tool.
fn same_version(a: &Path, b: &Path) -> String {
    format!("{} and {} have the same version", a.display(), b.display())
}

/// How a tool orders its migrations: by number, by numeric parts (Flyway's 1.10
/// after 1.9), by a leading number then the whole name (sql-migrate, whose id is the
/// file's name: `1-a.sql` and `1-b.sql` are two migrations), or by text (timestamps).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Number(u128),
    Parts(Vec<u128>),
    Led(u128, String),
    Text(String),
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read_text(path: &Path, errors: &mut Vec<String>) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) => {
            errors.push(format!("{}: cannot read: {e}", path.display()));
            None
        }
    }
}

/// The number and the name of `<digits>_<name><suffix>`.
fn numbered<'a>(name: &'a str, suffix: &str) -> Option<(&'a str, &'a str)> {
    let stem = name.strip_suffix(suffix)?;
    let (number, rest) = stem.split_once('_').unwrap_or((stem, ""));
    (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())).then_some((number, rest))
}

/// Files that are not migrations in a folder of migrations: a `.sql` one is named as
/// an error, since it may be a migration misnamed; others (a README) are left alone.
fn unplaced(path: &Path, tool: Tool, expected: &str, errors: &mut Vec<String>) {
    if path.extension().is_some_and(|e| e == "sql" || e == "go") {
        errors.push(format!(
            "{}: not a {} migration (expected {expected})",
            path.display(),
            tool.name()
        ));
    } else if path.is_dir() && tool != Tool::Diesel {
        errors.push(format!(
            "{}: a folder among {} migrations; import reads the files of one folder",
            path.display(),
            tool.name()
        ));
    }
}

/// diesel: a folder per migration, `<version>_<name>/up.sql` and `down.sql`; its version
/// is the digits of the part before the first `_`.
fn diesel(paths: &[PathBuf], found: &mut Vec<(Key, Source)>, errors: &mut Vec<String>) {
    for path in paths {
        let name = file_name(path);
        if !path.is_dir() {
            if name.ends_with(".sql") {
                unplaced(
                    path,
                    Tool::Diesel,
                    "a folder `2019-02-26-002946_name/` holding up.sql",
                    errors,
                );
            }
            continue;
        }
        let prefix = name.split('_').next().unwrap_or_default();
        let id: String = prefix.chars().filter(char::is_ascii_digit).collect();
        if id.is_empty() || !prefix.chars().all(|c| c.is_ascii_digit() || c == '-') {
            errors.push(format!(
                "{}: not a diesel migration folder (expected `2019-02-26-002946_name`)",
                path.display()
            ));
            continue;
        }
        let up = path.join("up.sql");
        if !up.is_file() {
            errors.push(format!("{}: the migration has no up.sql", path.display()));
            continue;
        }
        let Some(up_text) = read_text(&up, errors) else {
            continue;
        };
        let down_path = path.join("down.sql");
        let down = match down_path.is_file() {
            true => read_text(&down_path, errors).map(|text| Part {
                text,
                file: down_path.clone(),
            }),
            false => None,
        };
        let mut transaction = true;
        let metadata = path.join("metadata.toml");
        if metadata.is_file()
            && let Some(text) = read_text(&metadata, errors)
        {
            match toml::from_str::<toml::Table>(&text) {
                Ok(table) => {
                    if table.get("run_in_transaction") == Some(&toml::Value::Boolean(false)) {
                        transaction = false;
                    }
                }
                Err(e) => errors.push(format!("{}: {}", metadata.display(), e.message())),
            }
        }
        let source = Source {
            id,
            name: name.clone(),
            up: Part {
                text: up_text,
                file: up,
            },
            down,
            transaction,
            notes: Vec::new(),
        };
        found.push((Key::Text(source.id.clone()), finish(source)));
    }
}

/// sqlx and golang-migrate: `<version>_<name>.up.sql` with `.down.sql`; sqlx also takes
/// a lone `<version>_<name>.sql`, which has no down, and `-- no-transaction`.
fn pairs(tool: Tool, paths: &[PathBuf], found: &mut Vec<(Key, Source)>, errors: &mut Vec<String>) {
    let mut ups: BTreeMap<String, (String, PathBuf)> = BTreeMap::new();
    let mut downs: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut simple: Vec<(String, String, PathBuf)> = Vec::new();
    let expected = match tool {
        Tool::Sqlx => "`<version>_<name>.sql`, or `.up.sql` and `.down.sql`",
        _ => "`<version>_<name>.up.sql` and `.down.sql`",
    };
    for path in paths {
        let name = file_name(path);
        if let Some((number, rest)) = numbered(&name, ".up.sql") {
            if let Some((_, other)) = ups.insert(number.to_owned(), (rest.to_owned(), path.clone()))
            {
                errors.push(same_version(&other, path));
            }
        } else if let Some((number, _)) = numbered(&name, ".down.sql") {
            if let Some(other) = downs.insert(number.to_owned(), path.clone()) {
                errors.push(same_version(&other, path));
            }
        } else if let Some((number, rest)) = numbered(&name, ".sql").filter(|_| tool == Tool::Sqlx)
        {
            simple.push((number.to_owned(), rest.to_owned(), path.clone()));
        } else {
            unplaced(path, tool, expected, errors);
        }
    }
    for (number, path) in &downs {
        if !ups.contains_key(number) {
            errors.push(format!("{}: a down without its up", path.display()));
        }
    }
    let with_downs = ups.into_iter().map(|(number, (rest, up))| {
        let down = downs.get(&number).cloned();
        (number, rest, up, down)
    });
    let simple = simple
        .into_iter()
        .map(|(number, rest, up)| (number, rest, up, None));
    for (number, rest, up, down) in with_downs.chain(simple) {
        let Some(up_text) = read_text(&up, errors) else {
            continue;
        };
        let down = down.and_then(|file| read_text(&file, errors).map(|text| Part { text, file }));
        let no_transaction = |text: &str| {
            text.lines()
                .next()
                .is_some_and(|l| l.trim() == "-- no-transaction")
        };
        let transaction = !(tool == Tool::Sqlx && no_transaction(&up_text));
        let Ok(value) = number.parse::<u128>() else {
            errors.push(format!("{}: its version is too large", up.display()));
            continue;
        };
        let name = match rest.is_empty() {
            true => number.clone(),
            false => format!("{number}_{rest}"),
        };
        let source = Source {
            id: value.to_string(),
            name,
            up: Part {
                text: up_text,
                file: up,
            },
            down,
            transaction,
            notes: Vec::new(),
        };
        found.push((Key::Number(value), finish(source)));
    }
}

/// goose, dbmate and sql-migrate: one file each, its up and down marked by comments.
fn sections(
    tool: Tool,
    paths: &[PathBuf],
    found: &mut Vec<(Key, Source)>,
    errors: &mut Vec<String>,
) {
    for path in paths {
        let name = file_name(path);
        if tool == Tool::Goose && name.ends_with(".go") {
            errors.push(format!(
                "{}: a Go migration; import reads SQL only: write it as a spec with a Rust step",
                path.display()
            ));
            continue;
        }
        let numbered_name = numbered(&name, ".sql");
        // sql-migrate and dbmate take any `.sql` name: their version is its leading digits.
        let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
        let key = match (tool, numbered_name) {
            (Tool::SqlMigrate, _) if name.ends_with(".sql") => {
                // sql-migrate orders by a leading number when the name has one.
                match digits.parse::<u128>() {
                    Ok(n) => Key::Led(n, name.clone()),
                    Err(_) => Key::Text(name.clone()),
                }
            }
            // dbmate orders by the whole name.
            (Tool::Dbmate, _) if name.ends_with(".sql") && !digits.is_empty() => {
                Key::Text(name.clone())
            }
            (Tool::Goose, Some((number, _))) => match number.parse::<u128>() {
                Ok(n) => Key::Number(n),
                Err(_) => {
                    errors.push(format!("{}: its version is too large", path.display()));
                    continue;
                }
            },
            _ => {
                unplaced(path, tool, "`<version>_<name>.sql`", errors);
                continue;
            }
        };
        let Some(text) = read_text(path, errors) else {
            continue;
        };
        let id = match &key {
            Key::Number(n) => n.to_string(),
            _ if tool == Tool::Dbmate => digits,
            _ => name.clone(),
        };
        match split_sections(tool, &text) {
            Err(why) => errors.push(format!("{}: {why}", path.display())),
            Ok(Sections {
                up,
                down,
                transaction,
            }) => {
                let stem = name.trim_end_matches(".sql").to_owned();
                // goose runs a file without `-- +goose Down` as a down that does nothing.
                let down = match tool {
                    Tool::Goose => Some(down.unwrap_or_default()),
                    _ => down,
                };
                let source = Source {
                    id,
                    name: stem,
                    up: Part {
                        text: up,
                        file: path.clone(),
                    },
                    down: down.map(|text| Part {
                        text,
                        file: path.clone(),
                    }),
                    transaction,
                    notes: Vec::new(),
                };
                found.push((key, finish(source)));
            }
        }
    }
}

/// A file's up and down, as its markers cut it.
struct Sections {
    up: String,
    down: Option<String>,
    transaction: bool,
}

/// Cuts a goose, dbmate or sql-migrate file on its markers. The lines between them are
/// kept as written (`StatementBegin`/`End` are comments to SQL).
fn split_sections(tool: Tool, text: &str) -> Result<Sections, String> {
    // Each tool reads its markers after `--` and any space (`--migrate:up` is dbmate's
    // too), their words in any case.
    let (up_marker, down_marker) = match tool {
        Tool::Goose => ("+goose up", "+goose down"),
        Tool::Dbmate => ("migrate:up", "migrate:down"),
        _ => ("+migrate up", "+migrate down"),
    };
    let mut up: Option<String> = None;
    let mut down: Option<String> = None;
    let mut transaction = true;
    let mut current: Option<&mut String> = None;
    for line in text.split_inclusive('\n') {
        let lower = line.trim().to_ascii_lowercase();
        let words: Vec<&str> = lower
            .strip_prefix("--")
            .map_or_else(Vec::new, |comment| comment.split_whitespace().collect());
        let marker = |m: &str| {
            let mw: Vec<&str> = m.split_whitespace().collect();
            words.len() >= mw.len() && words[..mw.len()] == mw[..]
        };
        if marker(up_marker) {
            if words.contains(&"notransaction") || words.contains(&"transaction:false") {
                transaction = false;
            }
            current = Some(up.get_or_insert_with(String::new));
            continue;
        }
        if marker(down_marker) {
            current = Some(down.get_or_insert_with(String::new));
            continue;
        }
        if tool == Tool::Goose && words == ["+goose", "no", "transaction"] {
            transaction = false;
            continue;
        }
        match current.as_deref_mut() {
            Some(part) => part.push_str(line),
            None if crate::statements::split(line).is_empty() => {}
            None => {
                return Err(format!(
                    "SQL before the first `-- {up_marker}` marker: say which direction it belongs to"
                ));
            }
        }
    }
    let up = up.ok_or_else(|| format!("no `-- {up_marker}` marker"))?;
    Ok(Sections {
        up,
        down,
        transaction,
    })
}

/// Flyway: `V<version>__<name>.sql`, undone by `U<version>__<name>.sql`; a repeatable
/// `R__` migration has no version, and no place in a chain of versions yet.
fn flyway(paths: &[PathBuf], found: &mut Vec<(Key, Source)>, errors: &mut Vec<String>) {
    let mut undos: BTreeMap<Vec<u128>, PathBuf> = BTreeMap::new();
    let mut versioned = Vec::new();
    for path in paths {
        let name = file_name(path);
        if name.starts_with("R__") && name.ends_with(".sql") {
            errors.push(format!(
                "{}: a repeatable migration (R__), which a chain of versions cannot hold: \
                 make it a versioned one (V<n>__) or leave it out of the folder imported",
                path.display()
            ));
            continue;
        }
        let parsed = name.strip_suffix(".sql").and_then(|stem| {
            let kind = stem.chars().next()?;
            let (version, rest) = stem[1..].split_once("__")?;
            let parts: Option<Vec<u128>> = version
                .split(['.', '_'])
                .map(|p| p.parse::<u128>().ok())
                .collect();
            Some((kind, parts?, version.replace('_', "."), rest.to_owned()))
        });
        match parsed {
            Some(('V', parts, version, rest)) => {
                versioned.push((parts, version, rest, path.clone()))
            }
            Some(('U', parts, _, _)) => {
                undos.insert(parts, path.clone());
            }
            _ => unplaced(
                path,
                Tool::Flyway,
                "`V<version>__<name>.sql` or `U<version>__<name>.sql`",
                errors,
            ),
        }
    }
    for (parts, path) in &undos {
        if !versioned.iter().any(|v| &v.0 == parts) {
            errors.push(format!(
                "{}: an undo without its versioned migration",
                path.display()
            ));
        }
    }
    for (parts, version, rest, path) in versioned {
        let Some(text) = read_text(&path, errors) else {
            continue;
        };
        let down = undos.get(&parts).and_then(|file| {
            read_text(file, errors).map(|text| Part {
                text,
                file: file.clone(),
            })
        });
        let source = Source {
            id: version.clone(),
            name: format!("V{version}__{rest}"),
            up: Part { text, file: path },
            down,
            transaction: true,
            notes: Vec::new(),
        };
        found.push((Key::Parts(parts), finish(source)));
    }
}

/// What a down that holds no statement, or only reads, means under an up that does
/// something: `import --empty-downs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmptyDowns {
    /// There is no undoing the up: the spec is irreversible (diesel writes empty downs
    /// for migrations it cannot undo, teams a `SELECT` to say so).
    Irreversible,
    /// A down that does nothing, as the tool itself runs it: the proof says what it
    /// leaves, and `--acknowledge` writes that in `down_leaves`.
    Nothing,
}

impl EmptyDowns {
    /// The policy `--empty-downs` names.
    pub fn parse(name: &str) -> Result<EmptyDowns, String> {
        match name {
            "irreversible" => Ok(EmptyDowns::Irreversible),
            "nothing" => Ok(EmptyDowns::Nothing),
            _ => Err(format!(
                "`{name}` is not what an empty down can mean: irreversible, nothing"
            )),
        }
    }
}

/// Applies `policy` to a down with no statement, or one that only reads.
fn empty_down(source: &mut Source, tool: Tool, policy: EmptyDowns) {
    let Some(down) = &source.down else {
        return;
    };
    // An empty down undoes an empty up (`down = []`); of an up that does something, it
    // says nothing about how to undo it. A down that only reads says there is no
    // undoing an up that changes the schema; under an up that only changes rows, it
    // is the team's "nothing to undo".
    let what = if source.up.is_empty() {
        return;
    } else if down.is_empty() {
        "holds no statement"
    } else if down.only_reads() && !source.up.only_data() {
        "only reads (SELECT)"
    } else {
        return;
    };
    match policy {
        EmptyDowns::Irreversible => {
            source.down = None;
            source
                .notes
                .push(format!("its down {what}: imported as irreversible"));
        }
        EmptyDowns::Nothing => source.notes.push(format!(
            "its down {what}: imported as a down that does nothing, as {} runs it",
            tool.name()
        )),
    }
}

/// What every format shares once read: a file that opens its own transaction runs
/// outside semigrate's.
fn finish(mut source: Source) -> Source {
    let parts = std::iter::once(&source.up).chain(source.down.as_ref());
    let own_transaction = parts.into_iter().any(|part| {
        crate::statements::split(&part.text)
            .iter()
            .any(|s| crate::statements::control(s).is_some())
    });
    if own_transaction && source.transaction {
        source.transaction = false;
        source.notes.push(
            "it opens its own transaction (BEGIN ... COMMIT): imported with transaction = false"
                .into(),
        );
    }
    source
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn names(sources: &[Source]) -> Vec<&str> {
        sources.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn golang_migrate_orders_by_number() {
        let dir = folder(&[
            ("10_ten.up.sql", "CREATE TABLE ten (x);"),
            ("10_ten.down.sql", "DROP TABLE ten;"),
            ("2_two.up.sql", "CREATE TABLE two (x);"),
            ("1_one.up.sql", "CREATE TABLE one (x);"),
            ("1_one.down.sql", "DROP TABLE one;"),
            ("README.md", "notes"),
        ]);
        let read = read(Tool::GolangMigrate, dir.path(), EmptyDowns::Irreversible).unwrap();
        assert_eq!(names(&read), ["1_one", "2_two", "10_ten"]);
        assert_eq!(read[2].id, "10");
        assert!(read[1].down.is_none());
    }

    #[test]
    fn a_file_that_cannot_be_placed_is_named() {
        let dir = folder(&[
            ("1_one.up.sql", "SELECT 1;"),
            ("one.sql", "SELECT 1;"),
            ("3_x.down.sql", ""),
        ]);
        let errors = read(Tool::GolangMigrate, dir.path(), EmptyDowns::Irreversible).unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("one.sql: not a golang-migrate migration")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("3_x.down.sql: a down without its up")),
            "{errors:?}"
        );
        // Two ups of one version: neither is dropped without a word.
        let twice = folder(&[("1_a.up.sql", "SELECT 1;"), ("1_b.up.sql", "SELECT 1;")]);
        let errors = read(Tool::GolangMigrate, twice.path(), EmptyDowns::Irreversible).unwrap_err();
        assert!(
            errors[0].ends_with("1_b.up.sql have the same version"),
            "{errors:?}"
        );
    }

    #[test]
    fn diesel_reads_folders_metadata_and_empty_downs() {
        let dir = folder(&[
            (
                "2019-02-26-002946_create_user/up.sql",
                "CREATE TABLE users (id INTEGER);",
            ),
            (
                "2019-02-26-002946_create_user/down.sql",
                "-- nothing to undo\n",
            ),
            (
                "2019-03-01-000000_index/up.sql",
                "CREATE INDEX CONCURRENTLY i ON users (id);",
            ),
            ("2019-03-01-000000_index/down.sql", "DROP INDEX i;"),
            (
                "2019-03-01-000000_index/metadata.toml",
                "run_in_transaction = false\n",
            ),
        ]);
        let read = read(Tool::Diesel, dir.path(), EmptyDowns::Irreversible).unwrap();
        assert_eq!(read[0].id, "20190226002946");
        assert!(read[0].down.is_none() && read[0].transaction);
        assert!(!read[1].transaction && read[1].down.is_some());
    }

    #[test]
    fn an_empty_down_undoes_only_an_empty_up() {
        let dir = folder(&[
            ("1_a.up.sql", "-- nothing for this engine\n"),
            ("1_a.down.sql", ""),
            ("2_b.up.sql", "CREATE TABLE b (x);"),
            ("2_b.down.sql", "-- cannot drop it here\n"),
        ]);
        let read = read(Tool::GolangMigrate, dir.path(), EmptyDowns::Irreversible).unwrap();
        assert!(read[0].up.is_empty() && read[0].down.is_some());
        assert!(read[1].down.is_none(), "irreversible");
        assert_eq!(read[1].notes.len(), 1);
    }

    #[test]
    fn a_down_that_only_reads_undoes_nothing() {
        let dir = folder(&[
            ("1_a.up.sql", "DROP VIEW fast;"),
            (
                "1_a.down.sql",
                "-- There is no restore for this\nSELECT * FROM users LIMIT 1;\n",
            ),
            ("2_b.up.sql", "CREATE SEQUENCE s;"),
            ("2_b.down.sql", "SELECT drop_it('s');"),
            ("3_c.up.sql", "CREATE TABLE c (x int);"),
            ("3_c.down.sql", "SELECT * INTO c_old FROM c; DROP TABLE c;"),
            ("4_d.up.sql", "UPDATE users SET url = NULL WHERE url = '';"),
            ("4_d.down.sql", "SELECT 1;"),
        ]);
        let read = read(Tool::GolangMigrate, dir.path(), EmptyDowns::Irreversible).unwrap();
        assert!(read[0].down.is_none(), "a plain read undoes nothing");
        assert!(
            read[0].notes[0].contains("only reads"),
            "{:?}",
            read[0].notes
        );
        assert!(read[1].down.is_some(), "a function called may write");
        assert!(read[2].down.is_some(), "SELECT INTO makes a table");
        assert!(read[3].down.is_some(), "under a backfill, nothing to undo");
        assert!(read[3].notes.is_empty(), "{:?}", read[3].notes);
    }

    #[test]
    fn empty_downs_may_mean_a_down_that_does_nothing() {
        let dir = folder(&[
            ("1_a.up.sql", "CREATE TABLE a (x int);"),
            (
                "1_a.down.sql",
                "-- This file should undo anything in `up.sql`\n",
            ),
            ("2_b.up.sql", "DROP VIEW fast;"),
            ("2_b.down.sql", "SELECT 1;"),
            ("3_c.up.sql", "ALTER TABLE a ADD y int;"),
            ("4_d.up.sql", "-- nothing here\n"),
            ("4_d.down.sql", ""),
        ]);
        let read = read(Tool::GolangMigrate, dir.path(), EmptyDowns::Nothing).unwrap();
        assert!(read[0].down.as_ref().is_some_and(Part::is_empty));
        assert!(
            read[0].notes[0].contains("does nothing, as golang-migrate runs it"),
            "{:?}",
            read[0].notes
        );
        assert!(read[1].down.is_some(), "a down that only reads is kept too");
        assert!(read[2].down.is_none(), "a missing down is still none");
        assert!(
            read[3].notes.is_empty(),
            "an empty up's empty down says nothing"
        );
    }

    #[test]
    fn sqlx_reads_simple_and_reversible_files() {
        let dir = folder(&[
            (
                "20240101000000_users.sql",
                "CREATE TABLE users (id INTEGER);",
            ),
            (
                "20240102000000_index.up.sql",
                "-- no-transaction\nCREATE INDEX i ON users (id);",
            ),
            ("20240102000000_index.down.sql", "DROP INDEX i;"),
        ]);
        let read = read(Tool::Sqlx, dir.path(), EmptyDowns::Irreversible).unwrap();
        assert_eq!(
            names(&read),
            ["20240101000000_users", "20240102000000_index"]
        );
        assert!(read[0].down.is_none() && read[0].transaction);
        assert!(!read[1].transaction && read[1].down.is_some());
    }

    #[test]
    fn markers_cut_goose_dbmate_and_sql_migrate_files() {
        let goose = folder(&[
            (
                "00002_f.sql",
                "-- +goose Up\n-- +goose NO TRANSACTION\n-- +goose StatementBegin\nCREATE TABLE f (x);\n-- +goose StatementEnd\n\n-- +goose Down\nDROP TABLE f;\n",
            ),
            ("00001_e.sql", "-- +goose Up\nCREATE TABLE e (x);\n"),
        ]);
        let read_goose = read(Tool::Goose, goose.path(), EmptyDowns::Irreversible).unwrap();
        assert_eq!(names(&read_goose), ["00001_e", "00002_f"]);
        assert_eq!(read_goose[1].id, "2");
        assert!(!read_goose[1].transaction);
        assert!(read_goose[1].up.text.contains("CREATE TABLE f"));
        assert_eq!(read_goose[1].down.as_ref().unwrap().text, "DROP TABLE f;\n");
        assert!(read_goose[0].down.is_none());
        assert!(read_goose[0].notes[0].contains("holds no statement"));
        // goose runs a file without a Down section as a down that does nothing.
        let read_goose = read(Tool::Goose, goose.path(), EmptyDowns::Nothing).unwrap();
        assert!(read_goose[0].down.as_ref().is_some_and(Part::is_empty));

        let dbmate = folder(&[(
            "20151129054053_t.sql",
            "-- migrate:up transaction:false\nCREATE TABLE t (x);\n-- migrate:down\nDROP TABLE t;\n",
        )]);
        let read_dbmate = read(Tool::Dbmate, dbmate.path(), EmptyDowns::Irreversible).unwrap();
        assert!(!read_dbmate[0].transaction);
        assert_eq!(read_dbmate[0].id, "20151129054053");

        let sql_migrate = folder(&[
            (
                "10_b.sql",
                "-- +migrate Up\nCREATE TABLE b (x);\n-- +migrate Down\nDROP TABLE b;\n",
            ),
            (
                "9_a.sql",
                "-- +migrate Up notransaction\nCREATE TABLE a (x);\n",
            ),
            // Its id is the whole name: one leading number may start two migrations.
            (
                "10-a.sql",
                "-- +migrate Up\nCREATE TABLE c (x);\n-- +migrate Down\nDROP TABLE c;\n",
            ),
        ]);
        let read_sm = read(
            Tool::SqlMigrate,
            sql_migrate.path(),
            EmptyDowns::Irreversible,
        )
        .unwrap();
        assert_eq!(names(&read_sm), ["9_a", "10-a", "10_b"]);
        assert_eq!(read_sm[0].id, "9_a.sql");
        assert!(!read_sm[0].transaction);

        let unmarked = folder(&[("00001_x.sql", "CREATE TABLE x (a);\n")]);
        let errors = read(Tool::Goose, unmarked.path(), EmptyDowns::Irreversible).unwrap_err();
        assert!(errors[0].contains("SQL before the first"), "{errors:?}");
    }

    /// dbmate takes any `.sql` name that starts with digits, its version, orders the
    /// files by name, and reads `--migrate:up` as `-- migrate:up`.
    #[test]
    fn dbmate_names_are_leading_digits_in_the_order_of_their_names() {
        let file = "--migrate:up\nCREATE TABLE t (x);\n--  migrate:down\nDROP TABLE t;\n";
        let dir = folder(&[
            ("20220101000000_b.sql", file),
            ("00000000000000-initial-schema.sql", file),
            ("0001.sql", file),
        ]);
        let read_dbmate = read(Tool::Dbmate, dir.path(), EmptyDowns::Irreversible).unwrap();
        assert_eq!(
            names(&read_dbmate),
            ["00000000000000-initial-schema", "0001", "20220101000000_b"]
        );
        assert_eq!(read_dbmate[0].id, "00000000000000");
        assert_eq!(read_dbmate[1].id, "0001");
        assert_eq!(
            read_dbmate[2].down.as_ref().unwrap().text,
            "DROP TABLE t;\n"
        );
        // Its history would hold one version for both.
        let twice = folder(&[("0001_a.sql", file), ("0001_b.sql", file)]);
        let errors = read(Tool::Dbmate, twice.path(), EmptyDowns::Irreversible).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].ends_with("0001_b.sql have the same version"),
            "{errors:?}"
        );
    }

    #[test]
    fn flyway_pairs_versions_with_undos_and_refuses_repeatables() {
        let dir = folder(&[
            ("V1__init.sql", "CREATE TABLE a (x);"),
            ("V1.10__later.sql", "CREATE TABLE c (x);"),
            ("V1.9__before.sql", "CREATE TABLE b (x);"),
            ("U1.9__before.sql", "DROP TABLE b;"),
        ]);
        let read_fw = read(Tool::Flyway, dir.path(), EmptyDowns::Irreversible).unwrap();
        assert_eq!(
            names(&read_fw),
            ["V1__init", "V1.9__before", "V1.10__later"]
        );
        assert!(read_fw[1].down.is_some() && read_fw[2].down.is_none());
        let repeatable = folder(&[("V1__init.sql", "SELECT 1;"), ("R__views.sql", "SELECT 1;")]);
        let errors = read(Tool::Flyway, repeatable.path(), EmptyDowns::Irreversible).unwrap_err();
        assert!(
            errors[0].contains("R__views.sql: a repeatable migration"),
            "{errors:?}"
        );
    }

    #[test]
    fn an_explicit_transaction_turns_semigrates_off() {
        let dir = folder(&[("1_t.up.sql", "BEGIN;\nCREATE TABLE t (x);\nCOMMIT;\n")]);
        let read = read(Tool::GolangMigrate, dir.path(), EmptyDowns::Irreversible).unwrap();
        assert!(!read[0].transaction);
        assert!(read[0].notes[0].contains("own transaction"));
    }
}
