//! What the runtime knows of spec files, for `new`, `init` and `schema`: their names
//! (`v{MAJOR}_{MINOR}_{PATCH}.toml` or `v{MAJOR}_{MINOR}_{PATCH}__{slug}.toml`) and
//! the JSON Schema of their contents, which the build derives from its TOML model.

use crate::model::SemVer;

/// The JSON Schema of a spec file, for editors (taplo, Even Better TOML).
pub const SCHEMA: &str = include_str!("../templates/spec.schema.json");

/// What a well-formed file name says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecName {
    /// The version the name gives.
    pub version: SemVer,
    /// The words after `__`, if any.
    pub slug: Option<String>,
}

const FORM: &str = "expected v{MAJOR}_{MINOR}_{PATCH}.toml or v{MAJOR}_{MINOR}_{PATCH}__{slug}.toml, slug of a-z, 0-9 and _";

/// Parses a `.toml` file name. The error says what is wrong and, when the name is
/// nearly right, which name was meant.
pub fn parse(file_name: &str) -> Result<SpecName, (String, Option<String>)> {
    let refuse = |why: String| (why, suggestion(file_name));
    let stem = file_name
        .strip_suffix(".toml")
        .ok_or_else(|| refuse(format!("`{file_name}` does not end in .toml")))?;
    let rest = stem
        .strip_prefix('v')
        .ok_or_else(|| refuse(format!("`{file_name}` is not a migration name; {FORM}")))?;
    let (numbers, slug) = match rest.split_once("__") {
        Some((numbers, slug)) => (numbers, Some(slug)),
        None => (rest, None),
    };
    let parts: Vec<&str> = numbers.split('_').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(refuse(format!(
            "`{file_name}` is not a migration name; {FORM}"
        )));
    }
    if parts.iter().any(|p| p.len() > 1 && p.starts_with('0')) {
        return Err(refuse(format!(
            "`{file_name}` has a leading zero in its version; SemVer numbers have none"
        )));
    }
    let number = |p: &str| {
        p.parse::<u64>()
            .map_err(|_| refuse(format!("`{file_name}` has a version number too large")))
    };
    let version = SemVer::new(number(parts[0])?, number(parts[1])?, number(parts[2])?);
    if let Some(slug) = slug
        && (slug.is_empty()
            || !slug
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_')))
    {
        return Err(refuse(format!(
            "`{file_name}` has the slug `{slug}`; a slug is made of a-z, 0-9 and _"
        )));
    }
    Ok(SpecName {
        version,
        slug: slug.map(str::to_owned),
    })
}

/// The file name for a version and optional slug.
pub fn file_name(version: SemVer, slug: Option<&str>) -> String {
    let base = format!("v{}_{}_{}", version.major, version.minor, version.patch);
    match slug {
        Some(slug) => format!("{base}__{slug}.toml"),
        None => format!("{base}.toml"),
    }
}

/// The well-formed name a nearly-right one was probably meant to be
/// (`V1.2.0-add-index.toml` → `v1_2_0__add_index.toml`).
fn suggestion(given: &str) -> Option<String> {
    let stem = given.strip_suffix(".toml").unwrap_or(given).to_lowercase();
    let stem = stem.strip_prefix('v').unwrap_or(&stem);
    let split = stem
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(stem.len());
    let (numbers, slug) = stem.split_at(split);
    let numbers: Vec<u64> = numbers
        .split(['.', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if numbers.len() != 3 {
        return None;
    }
    let slug: String = slug
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .trim_matches('_')
        .to_owned();
    let version = SemVer::new(numbers[0], numbers[1], numbers[2]);
    let name = file_name(version, (!slug.is_empty()).then_some(slug.as_str()));
    (name != given).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_names() {
        assert_eq!(
            parse("v1_2_3.toml"),
            Ok(SpecName {
                version: SemVer::new(1, 2, 3),
                slug: None
            })
        );
        assert_eq!(
            parse("v10_0_0__risk_score2.toml"),
            Ok(SpecName {
                version: SemVer::new(10, 0, 0),
                slug: Some("risk_score2".into())
            })
        );
    }

    #[test]
    fn leading_zeros_are_refused() {
        let (why, _) = parse("v1_02_0.toml").unwrap_err();
        assert!(why.contains("leading zero"), "{why}");
        assert!(parse("v0_0_0.toml").is_ok());
    }

    #[test]
    fn malformed_names_are_refused_with_a_suggestion() {
        let (why, help) = parse("V1.2.0-add-index.toml").unwrap_err();
        assert!(why.contains("not a migration name"), "{why}");
        assert_eq!(help.as_deref(), Some("v1_2_0__add_index.toml"));

        let (why, help) = parse("v1_2_0__Add.toml").unwrap_err();
        assert!(why.contains("slug"), "{why}");
        assert_eq!(help.as_deref(), Some("v1_2_0__add.toml"));

        assert_eq!(
            parse("V1_0_0.toml").unwrap_err().1.as_deref(),
            Some("v1_0_0.toml")
        );
        assert!(parse("v1_2.toml").is_err());
        assert!(parse("v1_2_0__.toml").is_err());
        assert!(parse("notes.toml").unwrap_err().1.is_none());
    }

    #[test]
    fn file_name_round_trips() {
        let v = SemVer::new(1, 1, 0);
        assert_eq!(parse(&file_name(v, Some("x"))).unwrap().version, v);
    }
}
