//! `[[tests]]`: a request for a source and the messages each subscriber should get from it,
//! run by `wasmhook test` without network, so that users can check their wiring in their CI.
//!
//! Read like `[[routes]]`: each entry on its own, key by key, then its source and subscribers
//! against the names that exist. Fixture files are only resolved here, and read when the tests
//! run, as plugin files are.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use toml::Spanned;
use toml::de::DeValue;

use super::diagnostic::{Location, Sink};
use super::json::to_json;
use super::names::{Name, closest};
use super::parse_str::ParseStr;
use super::route::RouteConfig;
use super::subscriber::read_headers;
use super::table::{Table, Value, describe};
use super::web::NonEmpty;

/// One `[[tests]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteTest {
    /// Unique among the tests; free text, shown in the report.
    pub name: String,
    /// Where the entry is written, so that a failure can point at it.
    pub location: Location,
    /// An existing source.
    pub source: String,
    pub body: TestBody,
    /// Request headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// What each named subscriber must get; subscribers not named are not checked.
    pub expect: BTreeMap<String, Expectation>,
}

/// The request body of a test.
#[derive(Debug, Clone, PartialEq)]
pub enum TestBody {
    /// `body = "..."`: sent as is.
    Text(String),
    /// `json = ...`: any TOML value, sent serialised, as `application/json` unless the test's
    /// headers say otherwise.
    Json(Json),
    /// `file = "..."`: the bytes of this file (absolute), read when the test runs.
    File(PathBuf),
}

/// What one subscriber must get.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation {
    /// `"dropped"`: no message at all.
    Dropped,
    /// These messages, in this order.
    Messages(Vec<ExpectedMessage>),
}

/// One expected message.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedMessage {
    /// Compared with the message's body parsed as JSON (a body that is not JSON compares as a
    /// string).
    pub body: Json,
    /// Each must be sent with this value (names lower-cased); other headers are not checked.
    pub headers: Vec<(String, String)>,
}

const KEYS: &[&str] = &[
    "name", "source", "body", "json", "file", "headers", "expect",
];
const BODY_KEYS: &[&str] = &["body", "json", "file"];
const MESSAGE_KEYS: &[&str] = &["body", "headers"];

/// Reads every `[[tests]]` entry and checks them against the sources, subscribers and routes.
pub(super) fn read_all(
    value: &Value<'_>,
    base: &Path,
    sources: &[&str],
    subscribers: &[&str],
    routes: &[RouteConfig],
    sink: &mut Sink<'_>,
) -> Vec<RouteTest> {
    let DeValue::Array(entries) = value.get_ref() else {
        sink.error(
            value.span(),
            format!(
                "`tests` must be an array of tables, written [[tests]], not {}",
                describe(value)
            ),
        );
        return Vec::new();
    };
    let mut tests: Vec<RouteTest> = Vec::new();
    let mut first_at: BTreeMap<String, Location> = BTreeMap::new();
    for (index, entry) in entries.iter().enumerate() {
        let Some(test) = read(index, entry, base, sources, subscribers, routes, sink) else {
            continue;
        };
        if let Some(first) = first_at.get(&test.name) {
            let at = entry
                .get_ref()
                .get("name")
                .map_or(entry.span(), Value::span);
            sink.error(
                at,
                format!(
                    "duplicate test name {:?}; the first test with it is at line {}, column {}",
                    test.name, first.line, first.column
                ),
            );
            continue;
        }
        first_at.insert(test.name.clone(), test.location.clone());
        tests.push(test);
    }
    tests
}

fn read(
    index: usize,
    value: &Value<'_>,
    base: &Path,
    sources: &[&str],
    subscribers: &[&str],
    routes: &[RouteConfig],
    sink: &mut Sink<'_>,
) -> Option<RouteTest> {
    let label = match value
        .get_ref()
        .get("name")
        .and_then(|n| n.get_ref().as_str())
    {
        Some(name) => format!("test {name:?}"),
        None => format!("tests[{index}]"),
    };
    let before = sink.count();
    let table = Table::new(label, value, KEYS, sink)?;
    let name = table.required::<NonEmpty>("name", sink);
    let source = table.required::<Spanned<Name>>("source", sink);
    if let Some(source) = &source {
        exists(&table.name, "source", source, sources, sink);
    }
    let body = read_body(&table, base, sink);
    let headers = read_headers(&table, sink);
    let expect = read_expect(&table, subscribers, sink);
    if let (Some(source), Some(expect)) = (&source, &expect) {
        check_reachable(&table.name, &source.get_ref().0, expect, routes, sink);
    }
    let location = sink.location(table.span.start);
    if sink.count() != before {
        return None;
    }
    Some(RouteTest {
        name: name?.0,
        location,
        source: source?.get_ref().0.clone(),
        body: body?,
        headers: headers?,
        expect: expect?
            .into_iter()
            .map(|(name, expectation)| (name.get_ref().0.clone(), expectation))
            .collect(),
    })
}

/// Exactly one of `body`, `json` and `file`.
fn read_body(table: &Table<'_, '_>, base: &Path, sink: &mut Sink<'_>) -> Option<TestBody> {
    let given: Vec<&str> = BODY_KEYS
        .iter()
        .copied()
        .filter(|key| table.raw(key).is_some())
        .collect();
    match given.as_slice() {
        [] => {
            sink.error(
                table.span.clone(),
                format!(
                    "{} has no request body; give one of `body` (a string), `json` (any value) \
                     or `file` (a path)",
                    table.name
                ),
            );
            None
        }
        ["body"] => table.get::<String>("body", sink).map(TestBody::Text),
        ["json"] => {
            let value = table.raw("json")?;
            to_json(value, &format!("`json` in {}", table.name), sink).map(TestBody::Json)
        }
        [_file] => table
            .get::<NonEmpty>("file", sink)
            .map(|path| TestBody::File(base.join(path.0))),
        [_, second, ..] => {
            let span = table.raw(second).map_or(table.span.clone(), Value::span);
            sink.error(
                span,
                format!(
                    "{} has {}; give only one request body",
                    table.name,
                    given
                        .iter()
                        .map(|key| format!("`{key}`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            );
            None
        }
    }
}

/// `expect = { chat = [{ body = ... }], commits = "dropped" }`.
fn read_expect(
    table: &Table<'_, '_>,
    subscribers: &[&str],
    sink: &mut Sink<'_>,
) -> Option<Vec<(Spanned<Name>, Expectation)>> {
    let Some(value) = table.raw("expect") else {
        sink.error(
            table.span.clone(),
            format!(
                "missing key `expect` in {}; say what each subscriber must get, e.g. \
                 [tests.expect] chat = [{{ body = {{ text = \"...\" }} }}] or commits = \"dropped\"",
                table.name
            ),
        );
        return None;
    };
    let what = format!("`expect` in {}", table.name);
    let Some(entries) = value.get_ref().as_table() else {
        sink.error(
            value.span(),
            format!(
                "{what} must be a table of subscriber names, not {}",
                describe(value)
            ),
        );
        return None;
    };
    if entries.is_empty() {
        sink.error(
            value.span(),
            format!("{what} is empty; a test checks at least one subscriber"),
        );
        return None;
    }
    let before = sink.count();
    let mut all = Vec::new();
    for (key, value) in entries {
        let name = match Name::parse_str(key.get_ref()) {
            Ok(name) => Spanned::new(key.span(), name),
            Err(message) => {
                sink.error(key.span(), format!("{what}: {message}"));
                continue;
            }
        };
        exists(&table.name, "subscriber", &name, subscribers, sink);
        let what = format!("`expect.{}` in {}", name.get_ref().0, table.name);
        if let Some(expectation) = read_expectation(&what, value, sink) {
            all.push((name, expectation));
        }
    }
    (sink.count() == before).then_some(all)
}

fn read_expectation(what: &str, value: &Value<'_>, sink: &mut Sink<'_>) -> Option<Expectation> {
    match value.get_ref() {
        DeValue::String(text) if text == "dropped" => Some(Expectation::Dropped),
        DeValue::Array(items) => {
            let before = sink.count();
            let messages: Vec<ExpectedMessage> = items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    read_message(&format!("{what}, message {}", i + 1), item, sink)
                })
                .collect();
            (sink.count() == before).then_some(Expectation::Messages(messages))
        }
        _ => {
            sink.error(
                value.span(),
                format!(
                    "{what} must be \"dropped\" or a list of messages such as \
                     [{{ body = {{ text = \"...\" }} }}], not {}",
                    describe(value)
                ),
            );
            None
        }
    }
}

fn read_message(what: &str, value: &Value<'_>, sink: &mut Sink<'_>) -> Option<ExpectedMessage> {
    let table = Table::new(what.to_owned(), value, MESSAGE_KEYS, sink)?;
    let body = match table.raw("body") {
        Some(body) => to_json(body, &format!("`body` in {what}"), sink),
        None => {
            sink.error(table.span.clone(), format!("missing key `body` in {what}"));
            None
        }
    };
    let headers = read_headers(&table, sink);
    Some(ExpectedMessage {
        body: body?,
        headers: headers?,
    })
}

/// A subscriber no route of the source delivers to can only ever be "dropped": almost surely
/// a mistake in the test or in the routes.
fn check_reachable(
    test: &str,
    source: &str,
    expect: &[(Spanned<Name>, Expectation)],
    routes: &[RouteConfig],
    sink: &mut Sink<'_>,
) {
    for (name, _) in expect {
        let wanted = &name.get_ref().0;
        let reached = routes
            .iter()
            .filter(|route| route.source == source)
            .any(|route| route.subscribers.contains(wanted));
        if !reached {
            sink.error(
                name.span(),
                format!("{test}: no route of source {source:?} delivers to subscriber {wanted:?}"),
            );
        }
    }
}

fn exists(test: &str, kind: &str, name: &Spanned<Name>, known: &[&str], sink: &mut Sink<'_>) {
    let wanted = name.get_ref().0.as_str();
    if known.contains(&wanted) {
        return;
    }
    let hint = closest(wanted, known.iter().copied())
        .map(|close| format!("; did you mean {close:?}?"))
        .unwrap_or_default();
    sink.error(
        name.span(),
        format!("{test}: no {kind} named {wanted:?}{hint}"),
    );
}
