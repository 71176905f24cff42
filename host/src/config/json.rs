//! A plugin's `config` table, turned into the JSON the plugin receives in every envelope.
//!
//! Converted by hand rather than through serde so that TOML dates become the strings a plugin
//! expects (serde would hand over toml's private date wrapper) and a float JSON cannot carry
//! (`nan`, `inf`) is reported where it is written.

use serde_json::{Map, Number, Value as Json};
use toml::de::DeValue;

use super::diagnostic::Sink;
use super::table::Value;

/// The JSON form of `value`, or `None` with every unrepresentable number reported.
pub(super) fn to_json(value: &Value<'_>, what: &str, sink: &mut Sink<'_>) -> Option<Json> {
    let before = sink.count();
    let json = convert(value, what, sink);
    (sink.count() == before).then_some(json)
}

fn convert(value: &Value<'_>, what: &str, sink: &mut Sink<'_>) -> Json {
    match value.get_ref() {
        DeValue::String(s) => Json::String(s.to_string()),
        DeValue::Boolean(b) => Json::Bool(*b),
        DeValue::Datetime(d) => Json::String(d.to_string()),
        DeValue::Integer(i) => {
            let parsed = i64::from_str_radix(i.as_str(), i.radix())
                .map(Number::from)
                .or_else(|_| u64::from_str_radix(i.as_str(), i.radix()).map(Number::from));
            if let Ok(n) = parsed {
                Json::Number(n)
            } else {
                sink.error(
                    value.span(),
                    format!("{what}: the integer {i} is too large"),
                );
                Json::Null
            }
        }
        DeValue::Float(f) => {
            if let Some(n) = f.as_str().parse::<f64>().ok().and_then(Number::from_f64) {
                Json::Number(n)
            } else {
                sink.error(
                    value.span(),
                    format!("{what}: {f} cannot be passed to a plugin (JSON has no such number)"),
                );
                Json::Null
            }
        }
        DeValue::Array(items) => {
            Json::Array(items.iter().map(|item| convert(item, what, sink)).collect())
        }
        DeValue::Table(table) => Json::Object(
            table
                .iter()
                .map(|(key, item)| (key.get_ref().to_string(), convert(item, what, sink)))
                .collect::<Map<_, _>>(),
        ),
    }
}
