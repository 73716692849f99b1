//! The stores of a fleet, from a fleet file or the configuration's `fleet` table, in
//! one syntax of one target a line:
//!
//! ```text
//! # a comment; blank lines are skipped
//! /srv/tenants/acme/app.db                  a SQLite file
//! /srv/tenants/*/app.db                     every file the glob matches
//! postgres://app@db1/shop                   a PostgreSQL database (its first schema)
//! postgres://app@db1/shop schema tenant_7   one schema of it
//! postgres://app@db1/shop schemas SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant_%'
//! include more-tenants.txt                  the lines of another fleet file
//! ```
//!
//! A relative path is taken from the folder of the file that names it. Lines are read
//! first (`lines`, pure), then expanded against the disk and the servers (`expand`).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// One store of a fleet, kept small (a fleet holds thousands, most of them files).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// A SQLite file.
    File(Box<Path>),
    /// A PostgreSQL database, or one schema of it.
    Server(Box<OnServer>),
}

/// A PostgreSQL database, in `schema` when one is named.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OnServer {
    /// The postgres:// URL, password and all: it is never printed.
    pub url: String,
    /// The schema that holds the tables and the history.
    pub schema: Option<String>,
}

impl Target {
    /// The database at `url`, in `schema` when one is named.
    pub fn server(url: String, schema: Option<String>) -> Target {
        Target::Server(Box::new(OnServer { url, schema }))
    }

    /// The target as a report and a summary show it: a SQLite path, or the URL without
    /// its password and with `schema NAME` after it.
    pub fn shown(&self) -> String {
        match self {
            Target::File(path) => path.display().to_string(),
            Target::Server(on) => {
                let url = crate::store::postgres::redact(&on.url);
                match &on.schema {
                    Some(schema) => format!("{url} schema {schema}"),
                    None => url,
                }
            }
        }
    }
}

/// One line of a fleet file, read but not yet expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// A SQLite path, made absolute against the file's folder.
    File(PathBuf),
    /// A glob of SQLite paths, made absolute likewise.
    Glob(String),
    /// A PostgreSQL database, or one schema of it.
    Server {
        /// The URL.
        url: String,
        /// The schema, when the line names one.
        schema: Option<String>,
    },
    /// Every schema the query lists (its first column) on the server at `url`.
    Schemas {
        /// The URL.
        url: String,
        /// The query.
        query: String,
    },
    /// Another fleet file.
    Include(PathBuf),
}

/// Where a line came from, for its errors: `fleet.txt:4`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    /// The line.
    pub line: Line,
    /// `FILE:N`, or the configuration key that gave it.
    pub at: String,
}

/// Reads the lines of a fleet file's `text`; `folder` is where its relative paths start
/// and `name` how its errors name it. Each line that cannot be read is an error naming
/// it, and the first one is returned.
pub fn lines(text: &str, folder: &Path, name: &str) -> Result<Vec<Placed>> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let at = format!("{name}:{}", n + 1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = one(line, folder).map_err(|why| Error::Usage(format!("{at}: {why}")))?;
        out.push(Placed { line, at });
    }
    Ok(out)
}

/// One line, trimmed and not a comment.
pub fn one(line: &str, folder: &Path) -> std::result::Result<Line, String> {
    let path = |p: &str| match Path::new(p).is_absolute() {
        true => PathBuf::from(p),
        false => folder.join(p),
    };
    if line.starts_with("postgres://") || line.starts_with("postgresql://") {
        let (url, rest) = match line.split_once(char::is_whitespace) {
            Some((url, rest)) => (url, rest.trim_start()),
            None => (line, ""),
        };
        let url = url.to_owned();
        let (word, tail) = match rest.split_once(char::is_whitespace) {
            Some((word, tail)) => (word, tail.trim()),
            None => (rest, ""),
        };
        return match (word, tail) {
            ("", _) => Ok(Line::Server { url, schema: None }),
            ("schema", name) if !name.is_empty() && !name.contains(char::is_whitespace) => {
                Ok(Line::Server {
                    url,
                    schema: Some(name.to_owned()),
                })
            }
            ("schemas", query) if !query.is_empty() => Ok(Line::Schemas {
                url,
                query: query.to_owned(),
            }),
            _ => Err(format!(
                "after a URL, write `schema NAME` or `schemas QUERY`, not {rest:?}"
            )),
        };
    }
    if let Some(file) = line.strip_prefix("include ") {
        return Ok(Line::Include(path(file.trim())));
    }
    let absolute = path(line);
    let text = absolute
        .to_str()
        .ok_or_else(|| format!("{line:?} is not UTF-8"))?;
    if line.contains(['*', '?', '[']) {
        glob::Pattern::new(text).map_err(|e| format!("{line:?} is not a valid glob: {e}"))?;
        return Ok(Line::Glob(text.to_owned()));
    }
    Ok(Line::File(absolute))
}

/// Lists the schemas of a `schemas` line: the query's first column, in its order.
pub type Schemas<'a> = dyn FnMut(&str, &str) -> std::result::Result<Vec<String>, String> + 'a;

/// The targets of `lines`, in their order, each once: globs matched against the disk
/// (sorted; one that matches nothing is an error, as a mistyped path would be), files
/// included, and `schemas` asked of their server by `schemas`.
pub fn expand(lines: Vec<Placed>, schemas: &mut Schemas<'_>) -> Result<Vec<Target>> {
    let mut out = Vec::new();
    expand_into(lines, schemas, &mut out, 0)?;
    Ok(first_of_each(out))
}

/// `targets` without those named again after their first place: found by sorting
/// their places rather than by a set of copies, so that a fleet holds one copy of
/// each path.
fn first_of_each(mut targets: Vec<Target>) -> Vec<Target> {
    let mut order: Vec<u32> = (0..targets.len() as u32).collect();
    order.sort_by(|&a, &b| {
        targets[a as usize]
            .cmp(&targets[b as usize])
            .then(a.cmp(&b))
    });
    let mut again = vec![false; targets.len()];
    for pair in order.windows(2) {
        if targets[pair[0] as usize] == targets[pair[1] as usize] {
            again[pair[1] as usize] = true;
        }
    }
    let mut again = again.into_iter();
    targets.retain(|_| !again.next().unwrap_or(false));
    targets.shrink_to_fit();
    targets
}

fn expand_into(
    placed: Vec<Placed>,
    schemas: &mut Schemas<'_>,
    out: &mut Vec<Target>,
    depth: usize,
) -> Result<()> {
    for Placed { line, at } in placed {
        let fail = |why: String| Error::Usage(format!("{at}: {why}"));
        match line {
            Line::File(path) => out.push(Target::File(path.into())),
            Line::Glob(pattern) => {
                let mut matched: Vec<PathBuf> = glob::glob(&pattern)
                    .map_err(|e| fail(e.to_string()))?
                    .filter_map(std::result::Result::ok)
                    .filter(|p| p.is_file())
                    .collect();
                if matched.is_empty() {
                    return Err(fail(format!("{pattern} matches no file")));
                }
                matched.sort();
                out.extend(matched.into_iter().map(|p| Target::File(p.into())));
            }
            Line::Server { url, schema } => out.push(Target::server(url, schema)),
            Line::Schemas { url, query } => {
                for schema in schemas(&url, &query).map_err(&fail)? {
                    let url = url.clone();
                    let schema = Some(schema);
                    out.push(Target::server(url, schema));
                }
            }
            Line::Include(file) => {
                if depth >= 8 {
                    return Err(fail("includes nest deeper than 8 files".into()));
                }
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| fail(format!("cannot read {}: {e}", file.display())))?;
                let folder = file.parent().unwrap_or(Path::new("."));
                let included = lines(&text, folder, &file.display().to_string())?;
                expand_into(included, schemas, out, depth + 1)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Line> {
        lines(text, Path::new("/srv"), "fleet.txt")
            .unwrap()
            .into_iter()
            .map(|p| p.line)
            .collect()
    }

    #[test]
    fn each_kind_of_line_is_read_and_relative_paths_start_at_the_file() {
        let got = read(
            "# tenants\n\n/a/app.db\nb/app.db\nt/*/app.db\n\
             postgres://u@h/db\npostgres://u@h/db schema tenant_1\n\
             postgresql://u@h/db   schemas SELECT nspname FROM pg_namespace\ninclude more.txt\n",
        );
        assert_eq!(
            got,
            [
                Line::File("/a/app.db".into()),
                Line::File("/srv/b/app.db".into()),
                Line::Glob("/srv/t/*/app.db".into()),
                Line::Server {
                    url: "postgres://u@h/db".into(),
                    schema: None
                },
                Line::Server {
                    url: "postgres://u@h/db".into(),
                    schema: Some("tenant_1".into())
                },
                Line::Schemas {
                    url: "postgresql://u@h/db".into(),
                    query: "SELECT nspname FROM pg_namespace".into()
                },
                Line::Include("/srv/more.txt".into()),
            ]
        );
    }

    #[test]
    fn a_bad_line_is_named_by_file_and_number() {
        for (text, words) in [
            (
                "/a.db\npostgres://h/db tenant_1\n",
                "fleet.txt:2: after a URL",
            ),
            ("postgres://h/db schema\n", "fleet.txt:1: after a URL"),
            ("postgres://h/db schema a b\n", "fleet.txt:1: after a URL"),
            ("postgres://h/db schemas\n", "fleet.txt:1: after a URL"),
            (
                "\n\n/t/[a/app.db\n",
                "fleet.txt:3: \"/t/[a/app.db\" is not a valid glob",
            ),
        ] {
            let e = lines(text, Path::new("/srv"), "fleet.txt").unwrap_err();
            assert!(e.to_string().contains(words), "{text:?}: {e}");
        }
    }

    #[test]
    fn globs_expand_sorted_and_targets_come_once_in_their_order() {
        let dir = tempfile::tempdir().unwrap();
        for t in ["b", "a", "c"] {
            std::fs::create_dir(dir.path().join(t)).unwrap();
            std::fs::write(dir.path().join(t).join("app.db"), "").unwrap();
        }
        std::fs::write(
            dir.path().join("more.txt"),
            "c/app.db\npostgres://h/db schema s2\n",
        )
        .unwrap();
        let text = "c/app.db\n*/app.db\ninclude more.txt\npostgres://h/db schemas SELECT 1\n";
        let placed = lines(text, dir.path(), "fleet.txt").unwrap();
        let mut asked = Vec::new();
        let targets = expand(placed, &mut |url: &str, query: &str| {
            asked.push((url.to_owned(), query.to_owned()));
            Ok(vec!["s1".to_owned(), "s2".to_owned()])
        })
        .unwrap();
        let file = |t: &str| Target::File(dir.path().join(t).join("app.db").into());
        let schema = |s: &str| Target::server("postgres://h/db".into(), Some(s.into()));
        assert_eq!(
            targets,
            [file("c"), file("a"), file("b"), schema("s2"), schema("s1")]
        );
        assert_eq!(
            asked,
            [("postgres://h/db".to_owned(), "SELECT 1".to_owned())]
        );
    }

    #[test]
    fn a_glob_that_matches_nothing_and_a_failing_query_are_errors_naming_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let placed = lines("\nnone/*.db\n", dir.path(), "fleet.txt").unwrap();
        let e = expand(placed, &mut |_: &str, _: &str| Ok(Vec::new())).unwrap_err();
        assert!(e.to_string().starts_with("fleet.txt:2: "), "{e}");
        assert!(e.to_string().ends_with("matches no file"), "{e}");
        let placed = lines("postgres://h/db schemas SELEC 1\n", dir.path(), "f").unwrap();
        let e = expand(placed, &mut |_: &str, _: &str| Err("syntax error".into())).unwrap_err();
        assert_eq!(e.to_string(), "f:1: syntax error");
    }

    #[test]
    fn a_server_target_is_shown_without_its_password() {
        let t = Target::server("postgres://app:secret@h/db".into(), Some("tenant_1".into()));
        assert_eq!(t.shown(), "postgres://app:***@h/db schema tenant_1");
    }
}
