//! Where a problem in routes.toml is, and the list of every problem found.
//!
//! Parsing never stops at the first mistake: each reader reports into a [`Sink`] and carries
//! on, so one `wasmhook check` shows the operator everything to fix. Problems are kept as byte
//! offsets while reading and turned into 1-based line and column (counted in characters, as
//! editors count them) only at the end, sorted into file order.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A position in a file: 1-based line and column, the column counted in characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// One problem, and where it is.
///
/// A diagnostic without a location concerns a whole file (it could not be read, say); its
/// message then starts with the file's name, so that every diagnostic prints as
/// `file:line:col: message` or `file: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostic {
    pub location: Option<Location>,
    pub message: String,
}

impl Diagnostic {
    /// A problem with a whole file, such as one that cannot be read.
    pub fn whole_file(file: &Path, message: impl fmt::Display) -> Diagnostic {
        Diagnostic {
            location: None,
            message: format!("{}: {message}", file.display()),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(location) => write!(f, "{location}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Every problem found, in file order. Display: one `file:line:col: message` per line.
#[derive(Debug, thiserror::Error)]
pub struct ConfigErrors(pub Vec<Diagnostic>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

/// Turns byte offsets into lines and columns.
pub(super) struct Lines<'t> {
    text: &'t str,
    /// Byte offset where each line starts.
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    pub(super) fn new(text: &'t str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { text, starts }
    }

    /// 1-based (line, column) of a byte offset; the column counts characters.
    pub(super) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = self.text.floor_char_boundary(offset);
        let line = self.starts.partition_point(|&start| start <= offset);
        let start = self.starts[line - 1];
        (line, self.text[start..offset].chars().count() + 1)
    }
}

/// Collects problems while the file is read.
pub(super) struct Sink<'t> {
    file: PathBuf,
    lines: Lines<'t>,
    found: Vec<(usize, String)>,
    /// Strings whose interpolation failed: their value is unknown, so any further complaint
    /// about them would only repeat the first one.
    muted: Vec<Range<usize>>,
}

impl<'t> Sink<'t> {
    pub(super) fn new(file: &Path, text: &'t str) -> Self {
        Sink {
            file: file.to_path_buf(),
            lines: Lines::new(text),
            found: Vec::new(),
            muted: Vec::new(),
        }
    }

    /// Records a problem at the start of `span`.
    pub(super) fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let muted = self
            .muted
            .iter()
            .any(|m| m.start <= span.start && span.end <= m.end);
        if !muted {
            self.found.push((span.start, message.into()));
        }
    }

    /// Records a problem with the value in `span`, and ignores any later one about it.
    pub(super) fn error_and_mute(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.found.push((span.start, message.into()));
        self.muted.push(span);
    }

    /// How many problems so far; compare before and after reading an item to know if it is good.
    pub(super) fn count(&self) -> usize {
        self.found.len()
    }

    pub(super) fn location(&self, offset: usize) -> Location {
        let (line, column) = self.lines.position(offset);
        Location {
            file: self.file.clone(),
            line,
            column,
        }
    }

    /// Everything found, in file order (problems at the same place keep the order found).
    pub(super) fn finish(mut self) -> Result<(), ConfigErrors> {
        if self.found.is_empty() {
            return Ok(());
        }
        self.found.sort_by_key(|(offset, _)| *offset);
        let diagnostics = self
            .found
            .iter()
            .map(|(offset, message)| Diagnostic {
                location: Some(self.location(*offset)),
                message: message.clone(),
            })
            .collect();
        Err(ConfigErrors(diagnostics))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let lines = Lines::new("a = 1\nné = \"é\"\n\nx");
        assert_eq!(lines.position(0), (1, 1));
        assert_eq!(lines.position(4), (1, 5));
        assert_eq!(lines.position(6), (2, 1));
        // "né = " is 6 bytes but 5 characters.
        assert_eq!(lines.position(12), (2, 6));
        assert_eq!(lines.position(17), (3, 1));
        assert_eq!(lines.position(18), (4, 1));
        assert_eq!(lines.position(999), (4, 2));
    }

    #[test]
    fn displays_one_problem_per_line() {
        let mut sink = Sink::new(Path::new("routes.toml"), "a\nb\n");
        sink.error(2..3, "second");
        sink.error(0..1, "first");
        let errors = sink.finish().unwrap_err();
        assert_eq!(
            errors.to_string(),
            "routes.toml:1:1: first\nroutes.toml:2:1: second"
        );
    }

    #[test]
    fn muted_values_are_reported_once() {
        let mut sink = Sink::new(Path::new("r.toml"), "secret = \"${X}\"");
        sink.error_and_mute(9..15, "environment variable X is not set");
        sink.error(9..15, "secret must start with whsec_");
        assert_eq!(sink.finish().unwrap_err().0.len(), 1);
    }

    #[test]
    fn whole_file_problems_name_the_file() {
        let d = Diagnostic::whole_file(Path::new("routes.toml"), "cannot read it");
        assert_eq!(d.to_string(), "routes.toml: cannot read it");
    }
}
