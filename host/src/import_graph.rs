//! The modules of this crate depend on each other one way: ingest → pipeline → delivery →
//! topology → plugin → config, and so on down to the leaves, never back up. This test reads
//! the `crate::` paths of every source file (test modules left out) and fails on a circle
//! between top-level modules, naming it, so that a new one is seen where it is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules its files name through `crate::`.
type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn the_modules_of_the_crate_import_each_other_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = Graph::new();
    read_folder(&src, &src, &mut graph);
    assert!(graph.contains_key("ingest") && graph["ingest"].contains("store"));
    if let Some(circle) = find_circle(&graph) {
        panic!(
            "these modules import each other in a circle: {}\nthe imports of each module: {graph:#?}",
            circle.join(" → ")
        );
    }
}

fn read_folder(src: &Path, folder: &Path, graph: &mut Graph) {
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_folder(src, &path, graph);
            continue;
        }
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let relative = path.strip_prefix(src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = Path::new(first).with_extension("");
        let module = module.to_str().unwrap();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let product = text.split("#[cfg(test)]\nmod ").next().unwrap();
        let named = graph.entry(module.to_owned()).or_default();
        for other in crate_paths(product) {
            if other != module {
                named.insert(other);
            }
        }
    }
}

/// The first segment of every `crate::` path in `text`, `use crate::{a, b::c}` included.
fn crate_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            found.extend(group.split(',').filter_map(first_identifier));
        } else {
            found.extend(first_identifier(rest));
        }
    }
    found
}

fn first_identifier(text: &str) -> Option<String> {
    let text = text.trim_start();
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    (end > 0).then(|| text[..end].to_owned())
}

/// A circle of modules, as the path around it, if there is one.
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
    module: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|m| m == module) {
        let mut circle = path[at..].to_vec();
        circle.push(module.to_owned());
        return Some(circle);
    }
    if done.contains(module) {
        return None;
    }
    path.push(module.to_owned());
    for next in graph.get(module).into_iter().flatten() {
        if let Some(circle) = visit(graph, next, path, done) {
            return Some(circle);
        }
    }
    path.pop();
    done.insert(module.to_owned());
    None
}

#[test]
fn a_circle_is_found_and_named() {
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
    assert_eq!(
        crate_paths("use crate::{admin, store::Store};\nlet x = crate::clock::now();"),
        ["admin", "store", "clock"]
    );
}
