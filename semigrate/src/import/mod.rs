//! `import`: another tool's migrations as specs of this chain. Each migration becomes
//! one spec, in the tool's order, named for the version the mapping gives it, with its
//! origin kept (`origin = "diesel:2019-02-26-002946_create_user"`) and its SQL in the
//! team's own files under `sql/` (or inline). With `acknowledge`, a first proof says
//! what each down is known to leave, and the specs say so (`down_leaves`), so that the
//! chain builds at once with its debt listed.
//!
//! The mapping is deterministic: the n-th migration imported gets `first` raised by
//! n - 1 steps, a step being a minor (0.1.0, 0.2.0, ...) or a patch (0.1.0, 0.1.1, ...).

pub mod adopt;
pub mod formats;

use crate::error::{Error, Result};
use crate::model::{List, Migration, SemVer, SqlText, Step, Text};
use crate::spec_file;
use formats::Source;
pub use formats::{EmptyDowns, Tool};
use std::path::{Path, PathBuf};

/// How versions follow one another in an import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stride {
    /// 0.1.0, 0.2.0, 0.3.0 ...
    Minor,
    /// 0.1.0, 0.1.1, 0.1.2 ...
    Patch,
}

impl Stride {
    fn after(self, v: SemVer) -> SemVer {
        match self {
            Stride::Minor => SemVer::new(v.major, v.minor + 1, 0),
            Stride::Patch => SemVer::new(v.major, v.minor, v.patch + 1),
        }
    }
}

/// One migration on its way to a spec.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The version the mapping gives it.
    pub version: SemVer,
    /// As the other tool keeps it.
    pub source: Source,
    /// What its down is known to leave, once acknowledged: each difference's subject
    /// and its line.
    pub leaves: Vec<(String, String)>,
    /// Why its down cannot run, once a proof found it: the spec is then irreversible.
    pub down_fails: Option<String>,
    /// PostgreSQL: the tables its steps were measured to block writes on, accepted
    /// (`locks`): it ran so in production already.
    pub locks: Vec<String>,
    /// PostgreSQL: its up fails on tables that hold rows (`fails_on_rows`).
    pub fails_on_rows: bool,
}

impl Imported {
    /// `tool:name`, as the spec's `origin` records it.
    pub fn origin(&self, tool: Tool) -> String {
        format!("{}:{}", tool.name(), self.source.name)
    }

    /// The spec's file name.
    pub fn file(&self) -> String {
        spec_file::file_name(self.version, slug(&self.source.name).as_deref())
    }

    fn reversible(&self) -> bool {
        self.source.down.is_some() && self.down_fails.is_none()
    }
}

/// Versions for `sources`, from `first`, one `stride` apart.
pub fn map(sources: Vec<Source>, first: SemVer, stride: Stride) -> Vec<Imported> {
    let mut version = first;
    let mut out = Vec::with_capacity(sources.len());
    for (i, source) in sources.into_iter().enumerate() {
        if i > 0 {
            version = stride.after(version);
        }
        out.push(Imported {
            version,
            source,
            leaves: Vec::new(),
            down_fails: None,
            locks: Vec::new(),
            fails_on_rows: false,
        });
    }
    out
}

/// The words of a migration's name, without its number: `2019-02-26-002946_create_user`
/// is "create user", `V1.1__Add_index` is "Add index".
fn words(name: &str) -> String {
    let rest = name
        .trim_start_matches(['V', 'v'])
        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '.' || c == '_');
    rest.replace(['_', '-'], " ").trim().to_owned()
}

/// A slug for the spec's file name from the migration's name: a-z, 0-9 and _, at most
/// 40 characters; None when nothing of it is left.
fn slug(name: &str) -> Option<String> {
    let mut slug = String::new();
    for c in words(name).chars() {
        match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => slug.push(c),
            _ if !slug.ends_with('_') && !slug.is_empty() => slug.push('_'),
            _ => {}
        }
    }
    let slug: String = slug.trim_end_matches('_').chars().take(40).collect();
    let slug = slug.trim_end_matches('_').to_owned();
    (!slug.is_empty()).then_some(slug)
}

/// The migrations as the proof replays them: each up and down as one SQL step for
/// every engine.
pub fn migrations(imported: &[Imported]) -> Vec<Migration> {
    let sql = |text: &str| {
        vec![Step::Sql(SqlText::portable(Text::Owned(
            text.replace("\r\n", "\n"),
        )))]
    };
    imported
        .iter()
        .map(|i| {
            let s = &i.source;
            Migration {
                version: i.version,
                file: i.file().into(),
                description: words(&s.name).into(),
                transaction: s.transaction,
                foreign_keys: true,
                irreversible: !i.reversible(),
                destructive: true,
                up: List::Owned(match s.up.is_empty() {
                    true => Vec::new(),
                    false => sql(&s.up.text),
                }),
                down: List::Owned(match &s.down {
                    Some(down) if i.reversible() && !down.is_empty() => sql(&down.text),
                    _ => Vec::new(),
                }),
                validate: List::Owned(Vec::new()),
                checksum: Text::Borrowed(""),
                timeouts: Default::default(),
                locks: crate::model::Locks {
                    accepted: crate::model::Accepted::Tables(
                        i.locks.iter().cloned().map(Text::Owned).collect(),
                    ),
                    measured: None,
                },
                schema: None,
                schema_postgres: None,
                schema_digest: None,
                origin: None,
                down_leaves: List::Owned(
                    i.leaves
                        .iter()
                        .map(|(s, _)| Text::Owned(s.clone()))
                        .collect(),
                ),
                fails_on_rows: i.fails_on_rows,
            }
        })
        .collect()
}

/// Runs the proof on the imported chain (on SQLite, or on the PostgreSQL server at
/// `postgres`) and records in each migration what its down leaves, or that its down
/// fails. Returns what the proof found that an acknowledgement cannot cover (an up
/// that fails, which ends the proof, since the migrations after it depend on it), a
/// line each, naming the spec.
pub fn acknowledge(imported: &mut [Imported], postgres: Option<&str>) -> Result<Vec<String>> {
    // Each pass acknowledges what it finds (a down found failing becomes
    // irreversible), and the next proves the chain so acknowledged; each finding is
    // acknowledged once, so few passes are needed.
    let mut passes = 1;
    loop {
        let mut chain = migrations(imported);
        let found = match postgres {
            Some(url) => crate::proof::postgres::replay(url, &mut chain, true),
            None => crate::proof::sqlite::replay(&mut chain),
        }
        .map_err(Error::Usage)?;
        let mut changed = false;
        let mut left_over = Vec::new();
        for f in found {
            let i = &mut imported[f.index];
            if let Some(why) = f.down_failed {
                if i.down_fails.is_none() {
                    i.down_fails = Some(why);
                    changed = true;
                }
                continue;
            }
            let leaves: Vec<(String, String)> = f
                .left
                .iter()
                .map(|d| (d.subject.clone(), d.line.clone()))
                .collect();
            let mut locks = i.locks.clone();
            locks.extend(f.hazards.iter().filter(|t| !i.locks.contains(t)).cloned());
            if leaves != i.leaves || locks != i.locks || (f.fails_on_rows && !i.fails_on_rows) {
                i.leaves = leaves;
                i.locks = locks;
                i.fails_on_rows |= f.fails_on_rows;
                changed = true;
            }
            let file = i.file();
            left_over.extend(
                f.errors
                    .iter()
                    .map(|e| format!("{file} ({}): {e}", i.source.name)),
            );
        }
        // Once nothing new is acknowledged, what is left is what no key answers for.
        if !changed || passes == 8 {
            return Ok(left_over);
        }
        passes += 1;
    }
}

/// The spec of one imported migration, its SQL in `sql/` files or inline.
pub fn spec(i: &Imported, tool: Tool, inline: bool) -> String {
    let quoted = |s: &str| toml::Value::String(s.to_owned()).to_string();
    // A comment is one line: a line break in what it quotes (a literal's) would end it.
    let one_line = |s: &str| s.replace(['\r', '\n'], " ");
    let s = &i.source;
    let mut out = format!("# Imported from {}: {}\n", tool.name(), s.name);
    for note in &s.notes {
        out.push_str(&format!("# {}\n", one_line(note)));
    }
    let description = match words(&s.name) {
        w if w.is_empty() => format!("{} migration {}", tool.name(), s.id),
        w => w,
    };
    out.push_str(&format!("description = {}\n", quoted(&description)));
    out.push_str(&format!("origin = {}\n", quoted(&i.origin(tool))));
    if !s.transaction {
        out.push_str("transaction = false\n");
    }
    // The proof compares schemas; what an up drops is the team's to say.
    out.push_str("destructive = true\n");
    if !i.reversible() {
        match (&s.down, &i.down_fails) {
            (None, _) => out.push_str("# it has no down\n"),
            (Some(_), Some(why)) if inline => out.push_str(&format!(
                "# its down fails, so it is irreversible until the down is fixed: {}\n",
                one_line(why)
            )),
            (Some(_), Some(why)) => out.push_str(&format!(
                "# its down fails, so it is irreversible until the down is fixed \
                 (fix {}, then drop `irreversible` and the `#` before its [[down]] below): {}\n",
                sql_file(i, "down"),
                one_line(why)
            )),
            (Some(_), None) => {}
        }
        out.push_str("irreversible = true\n");
    }
    if i.fails_on_rows {
        out.push_str("# The proof found that the up fails on tables that hold rows:\n");
        out.push_str("fails_on_rows = true\n");
    }
    if !i.locks.is_empty() {
        out.push_str("# The proof measured steps that block writes on these tables:\n");
        let tables: Vec<String> = i.locks.iter().map(|t| quoted(t)).collect();
        out.push_str(&format!("locks = [{}]\n", tables.join(", ")));
    }
    if !i.leaves.is_empty() {
        out.push_str("# The proof found that the down does not restore all that the up changed:\n");
        for (_, line) in &i.leaves {
            out.push_str(&format!("#   {}\n", one_line(line)));
        }
        out.push_str("down_leaves = [\n");
        for (subject, _) in &i.leaves {
            out.push_str(&format!("    {},\n", quoted(subject)));
        }
        out.push_str("]\n");
    }
    let step = |direction: &str, text: &str| match inline {
        true => format!("\n[[{direction}]]\nsql = {}\n", quoted(text)),
        false => format!(
            "\n[[{direction}]]\nfile = {}\n",
            quoted(&sql_file(i, direction))
        ),
    };
    let undoes_nothing = i.reversible() && s.down.as_ref().is_some_and(|d| d.is_empty());
    // Keys before the first [[table]], or TOML would put them in it.
    if undoes_nothing {
        out.push_str("down = []\n");
    }
    match s.up.is_empty() {
        true => out.push_str("# its up holds no statement\nup = []\n"),
        false => out.push_str(&step("up", &s.up.text)),
    }
    if !inline && i.down_fails.is_some() {
        out.push_str(&format!(
            "\n# [[down]]\n# file = {}\n",
            quoted(&sql_file(i, "down"))
        ));
    }
    // A down with statements is kept even under an empty up: the tool ran it.
    if let Some(down) = &s.down
        && i.reversible()
        && !undoes_nothing
    {
        out.push_str(&step("down", &down.text));
    }
    out
}

/// Where the SQL of one direction goes, relative to the migrations folder.
fn sql_file(i: &Imported, direction: &str) -> String {
    format!("sql/{}.{direction}.sql", i.source.name)
}

/// The files an import writes: each spec, and each SQL file (unless inline), relative
/// to the migrations folder, with their text.
pub fn files(imported: &[Imported], tool: Tool, inline: bool) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for i in imported {
        out.push((PathBuf::from(i.file()), spec(i, tool, inline)));
        if inline {
            continue;
        }
        if !i.source.up.is_empty() {
            out.push((PathBuf::from(sql_file(i, "up")), i.source.up.text.clone()));
        }
        // A down that fails is kept for the team to fix.
        if let Some(down) = &i.source.down
            && (i.reversible() || i.down_fails.is_some())
            && !down.is_empty()
        {
            out.push((PathBuf::from(sql_file(i, "down")), down.text.clone()));
        }
    }
    out
}

/// Writes `files` under `dir`, none of which may exist yet: all are checked first, so
/// that an import that cannot be written writes nothing; one that fails midway takes
/// back what it wrote.
pub fn write(dir: &Path, files: &[(PathBuf, String)]) -> Result<()> {
    let io = |path: &Path, e: std::io::Error| Error::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some((path, _)) = files.iter().find(|(p, _)| dir.join(p).exists()) {
        return Err(Error::Usage(format!(
            "{} already exists; import never overwrites a file",
            dir.join(path).display()
        )));
    }
    let taken: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| spec_file::parse(&e.file_name().to_string_lossy()).ok())
        .map(|s| s.version.to_string())
        .collect();
    for (path, _) in files {
        if let Ok(name) = spec_file::parse(&path.to_string_lossy())
            && taken.contains(&name.version.to_string())
        {
            return Err(Error::Usage(format!(
                "{} gives {}, which a spec in {} already gives: import after the chain's newest version (--first)",
                path.display(),
                name.version,
                dir.display()
            )));
        }
    }
    let mut written: Vec<PathBuf> = Vec::new();
    let result = files.iter().try_for_each(|(path, text)| {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        written.push(path.clone());
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| io(&path, e))
    });
    if result.is_err() {
        for path in written.iter().rev() {
            let _ = std::fs::remove_file(path);
        }
    }
    result
}

/// Raises the `[package]` version of the manifest at `path` to `version` when it is
/// lower, keeping the rest of the file as it is; returns the version it had.
pub fn raise_package_version(path: &Path, version: SemVer) -> Result<Option<SemVer>> {
    let io = |e: std::io::Error| Error::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    let mut in_package = false;
    let mut out = String::with_capacity(text.len());
    let mut was = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_package = trimmed == "[package]";
        }
        let value = trimmed
            .strip_prefix("version")
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix('='))
            .map(|r| r.trim().trim_matches('"'));
        match value.map(SemVer::parse) {
            Some(Ok(old)) if in_package && was.is_none() => {
                was = Some(old);
                match old < version {
                    true => out.push_str(&format!(
                        "version = \"{version}\"{}",
                        if line.ends_with('\n') { "\n" } else { "" }
                    )),
                    false => out.push_str(line),
                }
            }
            _ => out.push_str(line),
        }
    }
    if was.is_some_and(|old| old < version) {
        crate::durable::replace(path, out.as_bytes(), ".Cargo.toml.", "import.manifest")
            .map_err(io)?;
    }
    Ok(was)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str, up: &str, down: Option<&str>) -> Source {
        let part = |text: &str| formats::Part {
            text: text.to_owned(),
            file: PathBuf::from(name),
        };
        Source {
            id: name.to_owned(),
            name: name.to_owned(),
            up: part(up),
            down: down.map(part),
            transaction: true,
            notes: Vec::new(),
        }
    }

    /// `sources` imported from 0.1.0, a minor apart.
    fn mapped(sources: Vec<Source>) -> Vec<Imported> {
        map(sources, SemVer::new(0, 1, 0), Stride::Minor)
    }

    #[test]
    fn versions_follow_the_stride() {
        let sources = || {
            vec![
                source("1_a", "x", None),
                source("2_b", "y", None),
                source("3_c", "z", None),
            ]
        };
        let minor: Vec<String> = map(sources(), SemVer::new(0, 1, 0), Stride::Minor)
            .iter()
            .map(|i| i.version.to_string())
            .collect();
        assert_eq!(minor, ["0.1.0", "0.2.0", "0.3.0"]);
        let patch: Vec<String> = map(sources(), SemVer::new(1, 0, 0), Stride::Patch)
            .iter()
            .map(|i| i.version.to_string())
            .collect();
        assert_eq!(patch, ["1.0.0", "1.0.1", "1.0.2"]);
    }

    #[test]
    fn names_become_words_and_slugs() {
        assert_eq!(words("2019-02-26-002946_create_user"), "create user");
        assert_eq!(words("V1.1__Add_Index"), "Add Index");
        assert_eq!(slug("V1.1__Add Index!"), Some("add_index".into()));
        assert_eq!(slug("00001"), None);
        assert_eq!(slug(&format!("1_{}", "a".repeat(60))).unwrap().len(), 40);
    }

    #[test]
    fn a_spec_says_what_it_was_and_what_it_leaves() {
        let mut i = mapped(vec![source(
            "1_bio",
            "ALTER TABLE u ADD bio TEXT;",
            Some("SELECT 1;"),
        )])
        .remove(0);
        i.leaves = vec![(
            "column u.bio".into(),
            "column u.bio is left behind by down".into(),
        )];
        let text = spec(&i, Tool::GolangMigrate, false);
        assert!(text.contains("origin = \"golang-migrate:1_bio\""), "{text}");
        assert!(
            text.contains("down_leaves = [\n    \"column u.bio\",\n]"),
            "{text}"
        );
        assert!(text.contains("file = \"sql/1_bio.up.sql\""), "{text}");
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(parsed["description"].as_str(), Some("bio"));
        let inline = spec(&i, Tool::GolangMigrate, true);
        let parsed: toml::Table = toml::from_str(&inline).unwrap();
        assert_eq!(
            parsed["up"][0]["sql"].as_str(),
            Some("ALTER TABLE u ADD bio TEXT;")
        );
    }

    #[test]
    fn a_down_under_an_empty_up_is_written_as_proved() {
        let imported = mapped(vec![
            source("1_drop", "-- nothing here\n", Some("DROP TABLE t;")),
            source("2_none", "", Some("")),
        ]);
        let written = files(&imported, Tool::GolangMigrate, false);
        let named: Vec<String> = written
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        assert!(
            named.contains(&"sql/1_drop.down.sql".to_owned()),
            "{named:?}"
        );
        assert!(!named.iter().any(|n| n.contains(".up.sql")), "{named:?}");
        let drop: toml::Table = toml::from_str(&written[0].1).unwrap();
        assert_eq!(
            drop["down"][0]["file"].as_str(),
            Some("sql/1_drop.down.sql")
        );
        assert_eq!(drop["up"].as_array().map(Vec::len), Some(0));
        let none: toml::Table = toml::from_str(&written[2].1).unwrap();
        assert_eq!(none["down"].as_array().map(Vec::len), Some(0));
        assert!(!none.contains_key("irreversible"));
    }

    #[test]
    fn a_down_that_does_nothing_is_proved_and_what_it_leaves_acknowledged() {
        let mut imported = mapped(vec![
            source("1_a", "CREATE TABLE a (x INTEGER);", Some("DROP TABLE a;")),
            source("2_b", "ALTER TABLE a ADD y TEXT;", Some("-- nothing\n")),
        ]);
        assert!(acknowledge(&mut imported, None).unwrap().is_empty());
        let written = files(&imported, Tool::Diesel, false);
        assert!(
            !written.iter().any(|(p, _)| p.ends_with("2_b.down.sql")),
            "an empty down has no file"
        );
        let (_, b) = written
            .iter()
            .find(|(p, _)| p == &imported[1].file())
            .unwrap();
        let b: toml::Table = toml::from_str(b).unwrap();
        assert_eq!(b["down"].as_array().map(Vec::len), Some(0));
        assert!(!b.contains_key("irreversible"));
        let leaves = b["down_leaves"].as_array().unwrap();
        assert!(
            leaves.iter().any(|l| l.as_str().unwrap().contains("a.y")),
            "{leaves:?}"
        );
    }

    #[test]
    fn what_the_proof_quotes_stays_in_its_comment_line() {
        let mut imported = mapped(vec![source(
            "1_f",
            "CREATE TABLE f (a TEXT);",
            Some("DROP TABLE f;"),
        )]);
        imported[0].leaves.push((
            "default of f.a".into(),
            "default of f.a: 'two\nlines'".into(),
        ));
        for inline in [false, true] {
            let text = spec(&imported[0], Tool::Sqlx, inline);
            let parsed: toml::Table =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert_eq!(parsed["down_leaves"][0].as_str(), Some("default of f.a"));
        }
        imported[0].down_fails = Some("fails on 'a\nb'".into());
        for inline in [false, true] {
            let text = spec(&imported[0], Tool::Sqlx, inline);
            let parsed: toml::Table =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert_eq!(parsed["irreversible"].as_bool(), Some(true));
        }
    }

    #[test]
    fn a_down_that_fails_is_kept_for_the_team_to_fix() {
        let mut imported = mapped(vec![source(
            "1_nn",
            "ALTER TABLE t ALTER a DROP NOT NULL;",
            Some("ALTER TABLE t ADD CONSTRAINT a_nn NOT NULL a;"),
        )]);
        imported[0].down_fails = Some("syntax error at or near \"NOT\"".into());
        let written = files(&imported, Tool::Diesel, false);
        let down = written
            .iter()
            .find(|(p, _)| p.display().to_string() == "sql/1_nn.down.sql")
            .expect("the failing down is written");
        assert!(down.1.contains("ADD CONSTRAINT a_nn"), "{}", down.1);
        let text = &written[0].1;
        let parsed: toml::Table = toml::from_str(text).unwrap();
        assert_eq!(parsed["irreversible"].as_bool(), Some(true));
        assert!(!parsed.contains_key("down"), "{text}");
        // Uncommenting the step named in the comment gives a spec with that down.
        let fixed = text.replace("# [[down]]\n# file", "[[down]]\nfile");
        let fixed: toml::Table = toml::from_str(&fixed).unwrap();
        assert_eq!(fixed["down"][0]["file"].as_str(), Some("sql/1_nn.down.sql"));
        let inline = spec(&imported[0], Tool::Diesel, true);
        assert!(!inline.contains("sql/1_nn.down.sql"), "{inline}");
    }

    #[test]
    fn the_package_version_is_raised_only_upwards() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        let text = "[package]\nname = \"x\"\nversion = \"0.1.0\"\n\n[dependencies]\nfoo = { version = \"1\" }\n";
        std::fs::write(&manifest, text).unwrap();
        assert_eq!(
            raise_package_version(&manifest, SemVer::new(0, 9, 0)).unwrap(),
            Some(SemVer::new(0, 1, 0))
        );
        let raised = std::fs::read_to_string(&manifest).unwrap();
        assert_eq!(raised, text.replace("0.1.0", "0.9.0"));
        raise_package_version(&manifest, SemVer::new(0, 2, 0)).unwrap();
        assert_eq!(std::fs::read_to_string(&manifest).unwrap(), raised);
    }
}
