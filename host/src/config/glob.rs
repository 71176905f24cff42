//! `watch` patterns of a plugin: which files, relative to routes.toml's folder, trigger its
//! `build` under `wasmhook serve --watch`.
//!
//! The syntax is deliberately small: `/` separates folders, `*` matches any run of characters
//! within one name, `?` one character, and a component that is exactly `**` matches any number
//! of folders (none included). Anything else is literal, except `[`, `]`, `{` and `}`, which
//! are refused rather than silently taken literally: other glob dialects give them a meaning.

use std::path::{Component, Path};

use super::parse_str::{ParseStr, deserialize_from_str};

/// One `watch` pattern, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchGlob {
    text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// `**`: any number of folders.
    AnyFolders,
    /// One path component, with `*` and `?` wildcards.
    Name(Vec<char>),
}

impl WatchGlob {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The folder under which every match lies (relative to routes.toml's folder): the
    /// components before the first wildcard. Watching it recursively sees every match.
    pub fn root(&self) -> std::path::PathBuf {
        self.parts
            .iter()
            .map_while(|part| match part {
                Part::Name(chars) if !chars.iter().any(|c| matches!(c, '*' | '?')) => {
                    Some(chars.iter().collect::<String>())
                }
                _ => None,
            })
            .collect()
    }

    /// How many path components every match has; `None` when the pattern has `**`.
    pub fn depth(&self) -> Option<usize> {
        (!self.parts.contains(&Part::AnyFolders)).then_some(self.parts.len())
    }

    /// Whether `relative` (a path relative to routes.toml's folder) matches.
    pub fn matches(&self, relative: &Path) -> bool {
        let mut names = Vec::new();
        for component in relative.components() {
            match component {
                Component::Normal(name) => names.push(name.to_string_lossy().into_owned()),
                Component::CurDir => {}
                _ => return false,
            }
        }
        let names: Vec<Vec<char>> = names.iter().map(|n| n.chars().collect()).collect();
        match_parts(&self.parts, &names)
    }
}

fn match_parts(parts: &[Part], names: &[Vec<char>]) -> bool {
    match parts.split_first() {
        None => names.is_empty(),
        Some((Part::AnyFolders, rest)) => {
            (0..=names.len()).any(|skip| match_parts(rest, &names[skip..]))
        }
        Some((Part::Name(pattern), rest)) => names
            .split_first()
            .is_some_and(|(name, names)| match_name(pattern, name) && match_parts(rest, names)),
    }
}

fn match_name(pattern: &[char], name: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|skip| match_name(rest, &name[skip..])),
        Some(('?', rest)) => !name.is_empty() && match_name(rest, &name[1..]),
        Some((c, rest)) => name.first() == Some(c) && match_name(rest, &name[1..]),
    }
}

impl ParseStr for WatchGlob {
    const EXPECTING: &'static str =
        r#"a file pattern relative to routes.toml's folder, such as "src/**" or "*.c""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err(format!(
                "a pattern must not be empty; expected {}",
                Self::EXPECTING
            ));
        }
        if text.starts_with('/') || Path::new(text).is_absolute() {
            return Err(format!(
                "{text:?} is absolute; a pattern is relative to routes.toml's folder"
            ));
        }
        if let Some(c) = text.chars().find(|c| matches!(c, '[' | ']' | '{' | '}')) {
            return Err(format!(
                "{text:?}: `{c}` is not supported; use `*`, `?` and `**` (list several patterns instead of braces)"
            ));
        }
        let mut parts = Vec::new();
        for name in text.split('/') {
            match name {
                "" | "." => {}
                ".." => {
                    return Err(format!(
                        "{text:?}: `..` is not allowed; a pattern matches files under routes.toml's folder"
                    ));
                }
                "**" => parts.push(Part::AnyFolders),
                name if name.contains("**") => {
                    return Err(format!(
                        "{text:?}: `**` must be a whole folder name, as in \"src/**/*.rs\""
                    ));
                }
                name => parts.push(Part::Name(name.chars().collect())),
            }
        }
        if parts.is_empty() {
            return Err(format!(
                "{text:?} matches no file; expected {}",
                Self::EXPECTING
            ));
        }
        Ok(WatchGlob {
            text: text.to_owned(),
            parts,
        })
    }
}

deserialize_from_str!(WatchGlob);

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(text: &str) -> WatchGlob {
        WatchGlob::parse_str(text).unwrap()
    }

    #[test]
    fn matches_names_folders_and_wildcards() {
        let m = |pattern: &str, path: &str| glob(pattern).matches(Path::new(path));
        assert!(m("Cargo.toml", "Cargo.toml"));
        assert!(!m("Cargo.toml", "sub/Cargo.toml"));
        assert!(m("src/**", "src/lib.rs"));
        assert!(m("src/**", "src/a/b/c.rs"));
        assert!(!m("src/**", "srcs/lib.rs"));
        assert!(m("src/**/*.rs", "src/lib.rs"));
        assert!(m("src/**/*.rs", "src/a/b.rs"));
        assert!(!m("src/**/*.rs", "src/a/b.c"));
        assert!(m("*.c", "filter.c"));
        assert!(!m("*.c", "lib/filter.c"));
        assert!(m("**/*.c", "lib/filter.c"));
        assert!(m("plugin?.wat", "plugin1.wat"));
        assert!(!m("plugin?.wat", "plugin.wat"));
        assert!(m("./a/b", "a/b"));
    }

    #[test]
    fn roots_stop_at_the_first_wildcard() {
        assert_eq!(glob("src/**").root(), Path::new("src"));
        assert_eq!(glob("a/b/*.rs").root(), Path::new("a/b"));
        assert_eq!(glob("*.c").root(), Path::new(""));
        assert_eq!(glob("Cargo.toml").root(), Path::new("Cargo.toml"));
    }

    #[test]
    fn refuses_what_it_cannot_mean() {
        let e = |text: &str| WatchGlob::parse_str(text).unwrap_err();
        assert!(e("").contains("empty"));
        assert!(e("/etc/*").contains("absolute"));
        assert!(e("../src/**").contains(".."));
        assert!(e("src/*.{rs,toml}").contains("not supported"));
        assert!(e("[ab].c").contains("not supported"));
        assert!(e("src/**.rs").contains("whole folder name"));
        assert!(e("./").contains("matches no file"));
    }
}
