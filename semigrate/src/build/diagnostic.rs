//! A build error a person can act on: the file, the position, what rule was broken
//! and, where one exists, how to fix it.

use std::fmt;
use std::path::{Path, PathBuf};

/// One error found in a spec or in the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the error is in.
    pub file: PathBuf,
    /// 1-based line and column (in characters); 0 when the error concerns the whole
    /// file rather than a place in it.
    pub line: usize,
    /// 1-based column in characters; 0 with `line`.
    pub column: usize,
    /// The rule broken, in words.
    pub message: String,
    /// How to fix it, when there is one way.
    pub help: Option<String>,
    /// The text of the line the error points at, to quote it.
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// An error about a whole file (its name, its place in the chain).
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            message: message.into(),
            help: None,
            source_line: None,
        }
    }

    /// An error at a byte offset of `source`, the text of `file`.
    pub fn at(file: &Path, source: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_column(source, offset);
        Diagnostic {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
            help: None,
            source_line: source.lines().nth(line - 1).map(str::to_owned),
        }
    }

    /// Adds how to fix it.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl Diagnostic {
    /// The error as rustc shows one: the rule broken, the file and position, the line
    /// quoted with a caret under the column, and the help.
    pub fn render(&self) -> String {
        use annotate_snippets::{AnnotationKind, Level, Origin, Renderer, Snippet};
        let path = self.file.display().to_string();
        let title = Level::ERROR.primary_title(self.message.as_str());
        // A chain error knows its line but not the text: read it from the file.
        let quoted = self.source_line.clone().or_else(|| {
            let text = std::fs::read_to_string(&self.file).ok()?;
            text.lines()
                .nth(self.line.checked_sub(1)?)
                .map(str::to_owned)
        });
        let mut group = match &quoted {
            Some(text) => {
                let at = text
                    .char_indices()
                    .nth(self.column.saturating_sub(1))
                    .map_or(text.len()..text.len(), |(i, c)| i..i + c.len_utf8());
                title.element(
                    Snippet::source(text.as_str())
                        .line_start(self.line)
                        .path(path.as_str())
                        .annotation(AnnotationKind::Primary.span(at)),
                )
            }
            None if self.line > 0 => title.element(
                Origin::path(path.as_str())
                    .line(self.line)
                    .char_column(self.column),
            ),
            None => title.element(Origin::path(path.as_str())),
        };
        if let Some(help) = &self.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        Renderer::plain().render(&[group]).to_string()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

/// Converts a byte offset (as toml spans give) to a 1-based line and character column.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_character_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // `=` on line 2 sits after the two-byte `é`: column counts characters.
        assert_eq!(line_column(text, text.find("= 2").unwrap()), (2, 4));
        assert_eq!(line_column(text, 999), (3, 1));
    }

    #[test]
    fn display_names_file_position_and_help() {
        let d = Diagnostic::at(Path::new("m/v1_0_0.toml"), "x\ny", 2, "bad").with_help("fix it");
        assert_eq!(d.to_string(), "m/v1_0_0.toml:2:1: bad (help: fix it)");
        assert_eq!(
            Diagnostic::file(Path::new("f"), "whole").to_string(),
            "f: whole"
        );
    }
}
