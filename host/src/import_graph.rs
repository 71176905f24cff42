//! The modules of this crate depend on each other one way: ingest → pipeline → delivery →
//! topology → plugin → config, and so on down to the leaves, never back up. These tests read
//! the `crate::`, `super::` and `self::` paths of every source file (test modules left out)
//! and fail on a circle, between top-level modules or between files, naming it, so that a new
//! one is seen where it is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A node (a module, or a file by its module path) → the nodes it names.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// A source file: its module path (`["store", "held"]`; `[]` for lib.rs) and its text without
/// its test module.
struct Source {
    module: Vec<String>,
    product: String,
}

#[test]
fn the_modules_of_the_crate_import_each_other_one_way() {
    let sources = read_sources();
    let mut graph = Graph::new();
    for source in sources.iter().filter(|s| !s.module.is_empty()) {
        let top = &source.module[0];
        let named = graph.entry(top.clone()).or_default();
        for path in paths(source) {
            if let Some(first) = path.first()
                && first != top
                && sources.iter().any(|s| s.module.first() == Some(first))
            {
                named.insert(first.clone());
            }
        }
    }
    assert!(graph["ingest"].contains("store"), "{graph:#?}");
    if let Some(circle) = find_circle(&graph) {
        panic!(
            "these modules import each other in a circle: {}\nthe imports of each module: {graph:#?}",
            circle.join(" → ")
        );
    }
}

#[test]
fn the_files_of_the_crate_import_each_other_one_way() {
    let sources = read_sources();
    let files: BTreeSet<Vec<String>> = sources.iter().map(|s| s.module.clone()).collect();
    let mut graph = Graph::new();
    for source in &sources {
        let name = source.module.join("::");
        let named = graph.entry(name.clone()).or_default();
        for path in paths(source) {
            // The file of the longest prefix of the path that is one: `store::writer::Write`
            // is in store/writer.rs, `store::Store` in store/mod.rs.
            let file = (1..=path.len())
                .rev()
                .map(|n| &path[..n])
                .find(|prefix| files.contains(*prefix))
                .map(|prefix| prefix.join("::"));
            if let Some(file) = file
                && file != name
            {
                named.insert(file);
            }
        }
    }
    assert!(
        graph["store::sqlite::held"].contains("store::sqlite::writer"),
        "{graph:#?}"
    );
    if let Some(circle) = find_circle(&graph) {
        panic!(
            "these files import each other in a circle: {}",
            circle.join(" → ")
        );
    }
}

/// Every file of `src/` but the binary's, with the templates of `plugin new` left out.
fn read_sources() -> Vec<Source> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = Vec::new();
    read_folder(&src, &src, &mut sources);
    sources
}

fn read_folder(src: &Path, folder: &Path, sources: &mut Vec<Source>) {
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name != "templates") {
                read_folder(src, &path, sources);
            }
            continue;
        }
        if path.extension().is_none_or(|ext| ext != "rs") || path.ends_with("main.rs") {
            continue;
        }
        let relative = path.strip_prefix(src).unwrap().with_extension("");
        let mut module: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_str().unwrap().to_owned())
            .collect();
        if module
            .last()
            .is_some_and(|last| last == "mod" || last == "lib")
        {
            module.pop();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let product = text.split("#[cfg(test)]\nmod ").next().unwrap().to_owned();
        sources.push(Source { module, product });
    }
}

/// The paths a file names, from the crate root: `crate::a::b`, `super::b` and `self::b` made
/// absolute, each member of a `{...}` group a path of its own.
fn paths(source: &Source) -> Vec<Vec<String>> {
    let text = &source.product;
    let mut found = Vec::new();
    for (at, _) in text.match_indices("::") {
        let Some(root) = identifier_before(text, at) else {
            continue;
        };
        let base: Vec<String> = match root {
            "crate" => Vec::new(),
            "self" => source.module.clone(),
            // A `super` after another segment was taken with the path it continues.
            "super" if !text[..at - root.len()].ends_with("::") => {
                source.module[..source.module.len().saturating_sub(1)].to_vec()
            }
            _ => continue,
        };
        let rest = &text[at + 2..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for member in group.split(',') {
                found.push(resolve(&base, member));
            }
        } else {
            found.push(resolve(&base, rest));
        }
    }
    found
}

/// `base` followed by the segments at the start of `text` (`super` goes one up).
fn resolve(base: &[String], text: &str) -> Vec<String> {
    let mut path = base.to_vec();
    for segment in text.trim_start().split("::") {
        let end = segment
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(segment.len());
        match &segment[..end] {
            "" => break,
            "super" => {
                path.pop();
            }
            name => path.push(name.to_owned()),
        }
        if end < segment.len() {
            break;
        }
    }
    path
}

/// The identifier that ends at byte `end` of `text`, if one does.
fn identifier_before(text: &str, end: usize) -> Option<&str> {
    let start = text[..end]
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |at| at + 1);
    (start < end).then(|| &text[start..end])
}

/// A circle of the graph, as the path around it, if there is one.
fn find_circle(graph: &Graph) -> Option<Vec<String>> {
    let mut done = BTreeSet::new();
    for start in graph.keys() {
        let mut path = Vec::new();
        if let Some(circle) = visit(graph, start, &mut path, &mut done) {
            return Some(circle);
        }
    }
    None
}

fn visit(
    graph: &Graph,
    node: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|n| n == node) {
        let mut circle = path[at..].to_vec();
        circle.push(node.to_owned());
        return Some(circle);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node.to_owned());
    for next in graph.get(node).into_iter().flatten() {
        if let Some(circle) = visit(graph, next, path, done) {
            return Some(circle);
        }
    }
    path.pop();
    done.insert(node.to_owned());
    None
}

#[test]
fn circles_are_found_and_paths_made_absolute() {
    let graph: Graph = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(m, to)| (m.to_owned(), to.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(find_circle(&graph).unwrap(), ["a", "b", "c", "a"]);
    let mut one_way = graph.clone();
    one_way.get_mut("c").unwrap().clear();
    assert_eq!(find_circle(&one_way), None);

    let source = Source {
        module: vec!["store".to_owned(), "held".to_owned()],
        product: "use crate::{admin, store::Store};\nuse super::writer::Write;\n\
                  let x = crate::clock::now();\nuse super::super::ids;\nself::inner::f();"
            .to_owned(),
    };
    let paths: Vec<String> = paths(&source).iter().map(|p| p.join("::")).collect();
    assert_eq!(
        paths,
        [
            "admin",
            "store::Store",
            "store::writer::Write",
            "clock::now",
            "ids",
            "store::held::inner::f"
        ]
    );
}
