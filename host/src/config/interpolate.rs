//! `${NAME}` in string values, replaced by environment variables before anything is checked.
//!
//! Secrets stay out of routes.toml this way, and a value is validated as it will be used:
//! `secret = "${SUB_SECRET}"` is checked for its `whsec_` prefix after substitution. `$${` is a
//! literal `${`. Only values are interpolated, never keys, and a substituted value is not
//! interpolated again.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::Sink;

/// Looks up an environment variable; injectable so that tests do not touch the process's.
pub(super) type Env<'e> = &'e dyn Fn(&str) -> Option<String>;

/// Replaces `${NAME}` in every string value of `table`, reporting each that cannot be.
pub(super) fn interpolate_table(table: &mut DeTable<'_>, env: Env<'_>, sink: &mut Sink<'_>) {
    for (_, value) in table.iter_mut() {
        interpolate_value(value, env, sink);
    }
}

fn interpolate_value(value: &mut Spanned<DeValue<'_>>, env: Env<'_>, sink: &mut Sink<'_>) {
    let span = value.span();
    match value.get_mut() {
        DeValue::String(text) => {
            if !text.contains('$') {
                return;
            }
            match interpolate(text, env) {
                Ok(replaced) => *text = replaced.into(),
                Err(problems) => {
                    for problem in problems {
                        sink.error_and_mute(span.clone(), problem);
                    }
                }
            }
        }
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                interpolate_value(item, env, sink);
            }
        }
        DeValue::Table(table) => interpolate_table(table, env, sink),
        DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) | DeValue::Datetime(_) => {}
    }
}

/// One string with its `${NAME}`s replaced, or every problem in it.
pub(super) fn interpolate(text: &str, env: Env<'_>) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(close) = tail.find('}') else {
                problems.push(format!(
                    "unterminated `${{` in {text:?}; write `${{NAME}}`, or `$${{` for a literal `${{`"
                ));
                break;
            };
            let name = &tail[..close];
            if !is_variable_name(name) {
                problems.push(format!(
                    "`${{{name}}}` is not an environment variable name \
                     (letters, digits and `_`, not starting with a digit)"
                ));
            } else if let Some(value) = env(name) {
                out.push_str(&value);
            } else {
                problems.push(format!("environment variable {name} is not set"));
            }
            rest = &tail[close + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cret".into()),
            "EMPTY" => Some(String::new()),
            "DOLLAR" => Some("${TOKEN}".into()),
            _ => None,
        }
    }

    fn run(text: &str) -> Result<String, Vec<String>> {
        interpolate(text, &env)
    }

    #[test]
    fn replaces_variables_anywhere_in_a_string() {
        assert_eq!(run("${TOKEN}").unwrap(), "s3cret");
        assert_eq!(run("Bearer ${TOKEN}!").unwrap(), "Bearer s3cret!");
        assert_eq!(run("a${EMPTY}b${TOKEN}").unwrap(), "abs3cret");
    }

    #[test]
    fn leaves_other_dollars_alone() {
        assert_eq!(run("$5 and $HOME and $").unwrap(), "$5 and $HOME and $");
        assert_eq!(run("$${TOKEN}").unwrap(), "${TOKEN}");
        // Only `$${` escapes; the leftmost one wins.
        assert_eq!(run("$$${TOKEN}").unwrap(), "$${TOKEN}");
    }

    #[test]
    fn does_not_interpolate_substituted_values() {
        assert_eq!(run("${DOLLAR}").unwrap(), "${TOKEN}");
    }

    #[test]
    fn reports_every_unset_variable() {
        assert_eq!(
            run("${A}:${TOKEN}:${B}").unwrap_err(),
            [
                "environment variable A is not set",
                "environment variable B is not set"
            ]
        );
    }

    #[test]
    fn reports_malformed_references() {
        assert!(run("${TOKEN").unwrap_err()[0].starts_with("unterminated `${`"));
        assert!(run("${1X}").unwrap_err()[0].contains("is not an environment variable name"));
        assert!(run("${}").unwrap_err()[0].contains("is not an environment variable name"));
    }
}
