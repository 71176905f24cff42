//! Names of sources, plugins, subscribers and routes, and "did you mean" for misspelt ones.
//!
//! Names appear in URLs (`/hooks/{source}`), metric labels and log lines, so they are kept to
//! `[a-z0-9][a-z0-9_-]*`: nothing to escape anywhere.

use super::parse_str::{ParseStr, deserialize_from_str};

/// A valid name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Name(pub String);

impl ParseStr for Name {
    const EXPECTING: &'static str = "a name of lower-case letters, digits, `-` and `_`";

    fn parse_str(text: &str) -> Result<Self, String> {
        let mut chars = text.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if first_ok
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            Ok(Name(text.to_owned()))
        } else {
            Err(format!(
                "{text:?} is not a valid name; use lower-case letters, digits, `-` and `_`, \
                 starting with a letter or digit"
            ))
        }
    }
}

deserialize_from_str!(Name);

/// The candidate closest to `wanted`, if it is within two edits of it.
pub(super) fn closest<'c>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(wanted, candidate), candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_lower_case_names() {
        for ok in ["github", "push-only", "to_ci", "2fa", "a"] {
            assert!(Name::parse_str(ok).is_ok(), "{ok}");
        }
        for bad in ["", "GitHub", "-x", "_x", "a b", "a.b", "é"] {
            assert!(Name::parse_str(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn suggests_close_names() {
        let names = ["push-only", "to-ci", "github"];
        assert_eq!(closest("push-onyl", names), Some("push-only"));
        assert_eq!(closest("githb", names), Some("github"));
        assert_eq!(closest("slack", names), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
