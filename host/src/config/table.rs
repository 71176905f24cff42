//! Reading one TOML table key by key, so that every bad key is reported at its own position.
//!
//! Each value is deserialized on its own with serde (through the newtypes of the sibling
//! modules), from a `toml::de::ValueDeserializer` that still knows where the value is. A bad
//! value is reported and the reader carries on, which a derived `Deserialize` for the whole
//! table could not do: it stops at its first error.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::diagnostic::Sink;

/// A TOML value with its position.
pub(super) type Value<'i> = Spanned<DeValue<'i>>;

/// A table whose keys have been checked against the allowed ones.
pub(super) struct Table<'a, 'i> {
    /// How messages name the table: `[subscribers.ci]`, `route "github-pushes"`.
    pub(super) name: String,
    /// Where the table starts (its header): a missing key is reported there.
    pub(super) span: Range<usize>,
    entries: &'a DeTable<'i>,
}

impl<'a, 'i> Table<'a, 'i> {
    /// Reads `value` as a table with the keys in `allowed`, reporting every other key.
    /// Returns `None`, reported, when `value` is not a table.
    pub(super) fn new(
        name: String,
        value: &'a Value<'i>,
        allowed: &[&str],
        sink: &mut Sink<'_>,
    ) -> Option<Self> {
        let DeValue::Table(entries) = value.get_ref() else {
            sink.error(
                value.span(),
                format!("{name} must be a table, not {}", describe(value)),
            );
            return None;
        };
        for (key, _) in entries {
            if !allowed.contains(&key.get_ref().as_ref()) {
                sink.error(
                    key.span(),
                    format!(
                        "unknown key `{}` in {name}; expected one of: {}",
                        key.get_ref(),
                        allowed.join(", ")
                    ),
                );
            }
        }
        Some(Table {
            name,
            span: value.span(),
            entries,
        })
    }

    /// The value of `key` as written, if present.
    pub(super) fn raw(&self, key: &str) -> Option<&'a Value<'i>> {
        self.entries.get(key)
    }

    /// The value of `key`, or `None` when it is absent or bad (bad values are reported).
    pub(super) fn get<T: DeserializeOwned>(&self, key: &str, sink: &mut Sink<'_>) -> Option<T> {
        let value = self.raw(key)?;
        match deserialize(value) {
            Ok(v) => Some(v),
            Err((span, message)) => {
                sink.error(span, format!("`{key}` in {}: {message}", self.name));
                None
            }
        }
    }

    /// The value of `key`, or `default` when it is absent (or bad, which is reported).
    pub(super) fn get_or<T: DeserializeOwned>(
        &self,
        key: &str,
        default: T,
        sink: &mut Sink<'_>,
    ) -> T {
        self.get(key, sink).unwrap_or(default)
    }

    /// The value of `key`, `default` when it is absent, `None` when it is bad (reported): for
    /// values without which the item must be left out rather than read with a default.
    pub(super) fn optional<T: DeserializeOwned>(
        &self,
        key: &str,
        default: T,
        sink: &mut Sink<'_>,
    ) -> Option<T> {
        match self.raw(key) {
            None => Some(default),
            Some(_) => self.get(key, sink),
        }
    }

    /// The value of a key that must be present; a missing one is reported at the table.
    pub(super) fn required<T: DeserializeOwned>(
        &self,
        key: &str,
        sink: &mut Sink<'_>,
    ) -> Option<T> {
        if self.raw(key).is_none() {
            self.missing(key, sink);
            return None;
        }
        self.get(key, sink)
    }

    /// The array under `key`, which must hold at least one item: an empty one is reported,
    /// followed by `hint`. `None` when it is absent, bad or empty.
    pub(super) fn get_list<T: DeserializeOwned>(
        &self,
        key: &str,
        hint: &str,
        sink: &mut Sink<'_>,
    ) -> Option<Vec<T>> {
        let list: Vec<T> = self.get(key, sink)?;
        if list.is_empty() {
            let span = self.raw(key).map_or_else(|| self.span.clone(), Value::span);
            sink.error(span, format!("`{key}` in {} is empty; {hint}", self.name));
            return None;
        }
        Some(list)
    }

    /// Like [`Table::get_list`], for a key that must be present.
    pub(super) fn required_list<T: DeserializeOwned>(
        &self,
        key: &str,
        hint: &str,
        sink: &mut Sink<'_>,
    ) -> Option<Vec<T>> {
        if self.raw(key).is_none() {
            self.missing(key, sink);
            return None;
        }
        self.get_list(key, hint, sink)
    }

    fn missing(&self, key: &str, sink: &mut Sink<'_>) {
        sink.error(
            self.span.clone(),
            format!("missing key `{key}` in {}", self.name),
        );
    }
}

/// Deserializes one value; on failure, the position of the innermost bad part and why.
pub(super) fn deserialize<T: DeserializeOwned>(
    value: &Value<'_>,
) -> Result<T, (Range<usize>, String)> {
    T::deserialize(ValueDeserializer::from(value.clone())).map_err(|e| {
        (
            e.span().unwrap_or_else(|| value.span()),
            e.message().to_owned(),
        )
    })
}

/// "the integer 5", "a table", ... for messages about a value of the wrong kind.
pub(super) fn describe(value: &Value<'_>) -> String {
    match value.get_ref() {
        // Not quoted: it may be an interpolated secret.
        DeValue::String(_) => "a string".to_owned(),
        DeValue::Integer(i) => format!("the integer {i}"),
        DeValue::Float(f) => format!("the number {f}"),
        DeValue::Boolean(b) => format!("`{b}`"),
        DeValue::Datetime(d) => format!("the date {d}"),
        DeValue::Array(_) => "an array".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}
