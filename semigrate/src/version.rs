//! The version a migration brings a store to: SemVer's release versions, ordered as
//! the chain orders them. Below both the model and what Rust steps see.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A release version: `MAJOR.MINOR.PATCH`, nothing else (no pre-release, no build
/// metadata), so that two versions compare the way the chain orders them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SemVer {
    /// Incompatible changes.
    pub major: u64,
    /// Compatible additions.
    pub minor: u64,
    /// Fixes.
    pub patch: u64,
}

impl SemVer {
    /// The empty store: below every migration.
    pub const ZERO: SemVer = SemVer::new(0, 0, 0);

    /// The version MAJOR.MINOR.PATCH.
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        SemVer {
            major,
            minor,
            patch,
        }
    }

    /// The three versions that may follow this one in a chain without a gap.
    pub fn successors(self) -> [SemVer; 3] {
        [
            SemVer::new(self.major, self.minor, self.patch + 1),
            SemVer::new(self.major, self.minor + 1, 0),
            SemVer::new(self.major + 1, 0, 0),
        ]
    }

    /// Parses `X.Y.Z` strictly: SemVer's own grammar (no leading zeros), and
    /// pre-release or build metadata refused with a reason.
    pub fn parse(text: &str) -> Result<SemVer, String> {
        let parsed = semver::Version::parse(text)
            .map_err(|e| format!("`{text}` is not a version of the form X.Y.Z ({e})"))?;
        if !parsed.pre.is_empty() {
            return Err(format!(
                "`{text}` has a pre-release part; migrations take release versions only"
            ));
        }
        if !parsed.build.is_empty() {
            return Err(format!(
                "`{text}` has build metadata; migrations take release versions only"
            ));
        }
        Ok(SemVer::new(parsed.major, parsed.minor, parsed.patch))
    }
}

impl fmt::Display for SemVer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl std::str::FromStr for SemVer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SemVer::parse(s)
    }
}

impl Serialize for SemVer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Digits written by hand, not through `fmt`: `status --json` writes a version
        // per migration, and the formatting machinery cost more than the rest of
        // the entry.
        let mut text = [0u8; 3 * 20 + 2];
        let mut end = text.len();
        for (i, n) in [self.patch, self.minor, self.major].into_iter().enumerate() {
            if i > 0 {
                end -= 1;
                text[end] = b'.';
            }
            let mut n = n;
            loop {
                end -= 1;
                text[end] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
        }
        s.serialize_str(std::str::from_utf8(&text[end..]).expect("ASCII digits and dots"))
    }
}

impl<'de> Deserialize<'de> for SemVer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        SemVer::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parse_accepts_release_versions_only() {
        assert_eq!(SemVer::parse("1.10.0"), Ok(SemVer::new(1, 10, 0)));
        assert!(
            SemVer::parse("1.0.0-rc.1")
                .unwrap_err()
                .contains("pre-release")
        );
        assert!(
            SemVer::parse("1.0.0+build")
                .unwrap_err()
                .contains("build metadata")
        );
        assert!(SemVer::parse("01.0.0").is_err(), "leading zero");
        assert!(SemVer::parse("1.0").is_err());
    }

    #[test]
    fn versions_serialize_as_they_display() {
        for v in [
            SemVer::ZERO,
            SemVer::new(1, 10, 0),
            SemVer::new(0, 0, 1000),
            SemVer::new(u64::MAX, 9, u64::MAX),
        ] {
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{v}\""));
        }
    }

    #[test]
    fn versions_order_numerically() {
        assert!(SemVer::new(1, 10, 0) > SemVer::new(1, 9, 9));
        assert!(SemVer::new(2, 0, 0) > SemVer::new(1, 99, 99));
    }
}
