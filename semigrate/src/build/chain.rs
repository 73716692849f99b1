//! The version rules of a chain: no duplicate, no gap (SemVer successors), and nothing
//! above the package version.

use crate::build::config::Gaps;
use crate::build::diagnostic::Diagnostic;
use crate::model::SemVer;
use std::path::PathBuf;

/// One spec's place in the chain, with where to point an error at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The version the file name gives.
    pub version: SemVer,
    /// The spec file.
    pub file: PathBuf,
    /// Where to point in it (1-based; 0 for the whole file).
    pub line: usize,
    /// The column of that place (1-based).
    pub column: usize,
}

impl Link {
    fn error(&self, message: String, help: Option<String>) -> Diagnostic {
        Diagnostic {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            message,
            help,
            source_line: None,
        }
    }
}

/// "1.0.1, 1.1.0 or 2.0.0"
pub fn successors_text(v: SemVer) -> String {
    let [a, b, c] = v.successors();
    format!("{a}, {b} or {c}")
}

/// Checks the chain rules on links sorted by version; returns every violation.
pub fn check(links: &[Link], gaps: Gaps, package: SemVer) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    for pair in links.windows(2) {
        let (before, this) = (&pair[0], &pair[1]);
        if this.version == before.version {
            errors.push(
                this.error(
                    format!(
                        "version {} is also given by {}",
                        this.version,
                        before.file.display()
                    ),
                    Some(
                        "every version has exactly one spec; give this one the next free version"
                            .into(),
                    ),
                ),
            );
        } else if gaps == Gaps::Deny && !before.version.successors().contains(&this.version) {
            errors.push(this.error(
                format!(
                    "version {} leaves a gap after {}",
                    this.version, before.version
                ),
                Some(format!(
                    "the next version after {} is {}; or set gaps = \"allow\" in [package.metadata.semigrate]",
                    before.version,
                    successors_text(before.version)
                )),
            ));
        }
    }
    if let Some(newest) = links.last().filter(|l| l.version > package) {
        errors.push(newest.error(
            format!(
                "version {} is above the package version {package}",
                newest.version
            ),
            Some(format!(
                "raise `version` in Cargo.toml to {} or above",
                newest.version
            )),
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(versions: &[(u64, u64, u64)]) -> Vec<Link> {
        versions
            .iter()
            .map(|&(a, b, c)| Link {
                version: SemVer::new(a, b, c),
                file: PathBuf::from(format!("v{a}_{b}_{c}.toml")),
                line: 1,
                column: 1,
            })
            .collect()
    }

    const PKG: SemVer = SemVer::new(9, 0, 0);

    #[test]
    fn successors_pass() {
        let links = chain(&[(1, 0, 0), (1, 0, 1), (1, 1, 0), (2, 0, 0), (2, 0, 1)]);
        assert_eq!(check(&links, Gaps::Deny, PKG), vec![]);
    }

    #[test]
    fn the_first_version_is_free() {
        assert_eq!(
            check(&chain(&[(0, 8, 0), (0, 9, 0)]), Gaps::Deny, PKG),
            vec![]
        );
    }

    #[test]
    fn gaps_fail_and_name_the_successors() {
        for (from, to) in [
            ((1, 0, 0), (1, 0, 2)),
            ((1, 0, 0), (1, 2, 0)),
            ((1, 1, 0), (2, 0, 1)),
            ((1, 0, 0), (3, 0, 0)),
            ((1, 1, 3), (1, 2, 1)),
        ] {
            let errors = check(&chain(&[from, to]), Gaps::Deny, PKG);
            assert_eq!(errors.len(), 1, "{from:?} -> {to:?}");
            assert!(errors[0].message.contains("leaves a gap"), "{}", errors[0]);
            let v = SemVer::new(from.0, from.1, from.2);
            assert!(
                errors[0]
                    .help
                    .as_ref()
                    .unwrap()
                    .contains(&successors_text(v))
            );
        }
        let e = &check(&chain(&[(1, 0, 0), (1, 0, 2)]), Gaps::Deny, PKG)[0];
        assert_eq!(e.file, PathBuf::from("v1_0_2.toml"));
        assert!(
            e.help
                .as_ref()
                .unwrap()
                .starts_with("the next version after 1.0.0 is 1.0.1, 1.1.0 or 2.0.0")
        );
    }

    #[test]
    fn allow_turns_off_only_the_gap_rule() {
        let links = chain(&[(1, 0, 0), (1, 5, 0), (1, 5, 0)]);
        let errors = check(&links, Gaps::Allow, PKG);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("also given by"));
    }

    #[test]
    fn duplicates_are_named() {
        let mut links = chain(&[(1, 2, 0), (1, 2, 0)]);
        links[1].file = PathBuf::from("v1_2_0__x.toml");
        let errors = check(&links, Gaps::Deny, PKG);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].file, PathBuf::from("v1_2_0__x.toml"));
        assert!(errors[0].message.contains("v1_2_0.toml"), "{}", errors[0]);
    }

    #[test]
    fn a_version_above_the_package_fails() {
        let errors = check(
            &chain(&[(2, 0, 0), (2, 0, 1)]),
            Gaps::Deny,
            SemVer::new(2, 0, 0),
        );
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0]
                .message
                .contains("above the package version 2.0.0")
        );
        assert!(check(&chain(&[(2, 0, 0)]), Gaps::Deny, SemVer::new(2, 0, 0)).is_empty());
    }
}
