//! `[[routes]]`: which events, through which plugins, to which subscribers.
//!
//! A route is read in two steps: first on its own, then, once every section is known, its
//! names are checked against the sources, plugins and subscribers that exist.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::diagnostic::Sink;
use super::names::{Name, closest};
use super::parse_str::ParseStr;
use super::table::{Table, Value};

/// One `[[routes]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    /// Unique; `"<source>-<index>"` when not given, the index counting `[[routes]]` from 0.
    pub name: String,
    pub source: String,
    /// Plugin names; all must pass, in order.
    pub filters: Vec<String>,
    /// Plugin names, applied in order.
    pub transforms: Vec<String>,
    /// Never empty.
    pub subscribers: Vec<String>,
}

const KEYS: &[&str] = &["name", "source", "filters", "transforms", "subscribers"];

/// A route read on its own, with where its names are, for the cross-checks.
pub(super) struct RouteDraft {
    pub(super) route: RouteConfig,
    /// Where the name is written, or the `[[routes]]` header for a default name.
    name_span: Range<usize>,
    /// Whether the name was written or is the default one.
    explicit_name: bool,
    source: Spanned<Name>,
    filters: Vec<Spanned<Name>>,
    transforms: Vec<Spanned<Name>>,
    subscribers: Vec<Spanned<Name>>,
}

/// The names defined in the other sections.
pub(super) struct Known<'k> {
    pub(super) sources: Vec<&'k str>,
    pub(super) plugins: Vec<&'k str>,
    pub(super) subscribers: Vec<&'k str>,
}

impl RouteDraft {
    pub(super) fn read(index: usize, value: &Value<'_>, sink: &mut Sink<'_>) -> Option<RouteDraft> {
        let table = Table::new(label(index, value), value, KEYS, sink)?;
        let explicit_name = table.get::<Spanned<Name>>("name", sink);
        let source = table.required::<Spanned<Name>>("source", sink);
        let filters = table
            .get::<Vec<Spanned<Name>>>("filters", sink)
            .unwrap_or_default();
        let transforms = table
            .get::<Vec<Spanned<Name>>>("transforms", sink)
            .unwrap_or_default();
        let subscribers = table.required::<Vec<Spanned<Name>>>("subscribers", sink);
        if let (Some(list), Some(value)) = (&subscribers, table.raw("subscribers"))
            && list.is_empty()
        {
            sink.error(
                value.span(),
                format!(
                    "`subscribers` in {} is empty; a route delivers to at least one subscriber",
                    table.name
                ),
            );
        }
        let (source, subscribers) = (source?, subscribers?);
        let is_explicit = explicit_name.is_some();
        let (name, name_span) = match explicit_name {
            Some(name) => (name.get_ref().0.clone(), name.span()),
            None if table.raw("name").is_some() => return None,
            None => (default_name(&source.get_ref().0, index), table.span.clone()),
        };
        let strings =
            |names: &[Spanned<Name>]| names.iter().map(|n| n.get_ref().0.clone()).collect();
        Some(RouteDraft {
            route: RouteConfig {
                name,
                source: source.get_ref().0.clone(),
                filters: strings(&filters),
                transforms: strings(&transforms),
                subscribers: strings(&subscribers),
            },
            name_span,
            explicit_name: is_explicit,
            source,
            filters,
            transforms,
            subscribers,
        })
    }
}

fn default_name(source: &str, index: usize) -> String {
    format!("{source}-{index}")
}

/// How messages name the route: by its name when it can be told, else by its index.
fn label(index: usize, value: &Value<'_>) -> String {
    let valid = |key: &str| {
        let text = value.get_ref().get(key)?.get_ref().as_str()?;
        Name::parse_str(text).ok().map(|n| n.0)
    };
    match (valid("name"), valid("source")) {
        (Some(name), _) => format!("route {name:?}"),
        (None, Some(source)) if value.get_ref().get("name").is_none() => {
            format!("route {:?}", default_name(&source, index))
        }
        _ => format!("routes[{index}]"),
    }
}

/// Reports duplicate route names and names of things that do not exist.
pub(super) fn check(drafts: &[RouteDraft], known: &Known<'_>, sink: &mut Sink<'_>) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for draft in drafts {
        let name = draft.route.name.as_str();
        if let Some(first) = seen.get(name) {
            let first = sink.location(*first);
            let (line, column) = (first.line, first.column);
            let message = if draft.explicit_name {
                format!(
                    "duplicate route name {name:?}; the first route with it is at line {line}, column {column}"
                )
            } else {
                format!(
                    "this route's default name {name:?} is taken by the route at line {line}, column {column}; \
                     give this one a `name`"
                )
            };
            sink.error(draft.name_span.clone(), message);
        } else {
            seen.insert(name, draft.name_span.start);
        }
        let route = format!("route {name:?}");
        exists(&route, "source", &draft.source, &known.sources, sink);
        for plugin in draft.filters.iter().chain(&draft.transforms) {
            exists(&route, "plugin", plugin, &known.plugins, sink);
        }
        for (i, subscriber) in draft.subscribers.iter().enumerate() {
            exists(&route, "subscriber", subscriber, &known.subscribers, sink);
            if draft.subscribers[..i]
                .iter()
                .any(|s| s.get_ref() == subscriber.get_ref())
            {
                sink.error(
                    subscriber.span(),
                    format!(
                        "{route}: subscriber {:?} is listed twice",
                        subscriber.get_ref().0
                    ),
                );
            }
        }
    }
}

fn exists(route: &str, kind: &str, name: &Spanned<Name>, known: &[&str], sink: &mut Sink<'_>) {
    let wanted = name.get_ref().0.as_str();
    if known.contains(&wanted) {
        return;
    }
    let hint = match closest(wanted, known.iter().copied()) {
        Some(close) => format!("; did you mean {close:?}?"),
        None => String::new(),
    };
    sink.error(
        name.span(),
        format!("{route}: no {kind} named {wanted:?}{hint}"),
    );
}
