//! The layout of `shared/src` holds: each layer imports only the layers below it, the pure layers
//! have no AWS, async or I/O code, and no two modules import each other, directly or in a circle.
//!
//! Read from the source text (test code left out), so a new `use` that breaks the layering fails
//! here with the file and the path that broke it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Each top-level module and the top-level modules it may import (itself included).
const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &["domain"]),
    ("state", &["domain", "state"]),
    ("outbound", &["domain", "state", "outbound"]),
    ("error", &["domain", "error"]),
    ("ports", &["domain", "state", "outbound", "error", "ports"]),
    (
        "adapters",
        &["domain", "state", "outbound", "error", "ports", "adapters"],
    ),
    (
        "service",
        &["domain", "state", "outbound", "error", "ports", "service"],
    ),
    (
        "bootstrap",
        &[
            "domain",
            "state",
            "outbound",
            "error",
            "ports",
            "adapters",
            "service",
            "bootstrap",
        ],
    ),
];

/// Layers that must stay pure: no AWS SDK, no async, no file, network or environment access.
const PURE: &[&str] = &["domain", "state", "outbound"];
const IMPURE_MARKERS: &[&str] = &[
    "aws_sdk",
    "aws_config",
    "aws_smithy",
    "async fn",
    ".await",
    "tokio",
    "std::fs",
    "std::net",
    "std::env",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every non-test source file under `src`, with its text and test items removed.
fn sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                if name != "tests" {
                    walk(&path, out);
                }
            } else if name.ends_with(".rs") && name != "tests.rs" {
                let text = fs::read_to_string(&path).unwrap();
                out.push((path, without_tests(&text)));
            }
        }
    }
    let mut out = Vec::new();
    walk(&src(), &mut out);
    assert!(out.len() > 30, "the source walk found too few files");
    out
}

/// `text` without `#[cfg(test)]` items (the attribute through the end of the item's braces) and
/// without comment lines.
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            let mut depth = 0i32;
            let mut opened = false;
            for l in lines.by_ref() {
                depth += l.matches('{').count() as i32 - l.matches('}').count() as i32;
                opened |= l.contains('{');
                if (opened && depth <= 0) || (!opened && l.trim_end().ends_with(';')) {
                    break;
                }
            }
            continue;
        }
        if line.trim_start().starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The module a file belongs to, as (top-level, second-level): `domain/verdict/x.rs` is
/// `domain::verdict`; the domain's vocabulary files and each folder's `mod.rs` are the folder itself.
fn module_of(path: &Path) -> (String, Option<String>) {
    let rel = path.strip_prefix(src()).unwrap();
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    let top = parts[0].clone();
    let second = parts
        .get(1)
        .filter(|s| s.as_str() != "mod")
        .cloned()
        .filter(|s| !is_vocabulary(&top, s));
    (top, second)
}

/// The domain's vocabulary files: they make up the `domain` module itself (re-exported from it).
fn is_vocabulary(top: &str, second: &str) -> bool {
    top == "domain" && ["finding", "image", "scan", "severity"].contains(&second)
}

/// The modules a file's text refers to through `crate::` and `super::` paths.
fn references(path: &Path, text: &str) -> BTreeSet<(String, Option<String>)> {
    let (top, second) = module_of(path);
    let mut refs = BTreeSet::new();
    let folders: BTreeSet<String> = fs::read_dir(src())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().to_string())
        .collect();
    for (i, _) in text.match_indices("crate::") {
        if i > 0 && text[..i].ends_with('$') {
            continue;
        }
        let rest = &text[i + "crate::".len()..];
        let mut segs = rest.split("::").map(|s| {
            s.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        });
        let t = segs.next().unwrap_or_default();
        if !folders.contains(&t) {
            continue;
        }
        let s = segs.next().filter(|s| {
            s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && src().join(&t).join(format!("{s}.rs")).exists()
                || src().join(&t).join(s).join("mod.rs").exists()
        });
        let s = s.filter(|s| !is_vocabulary(&t, s));
        refs.insert((t, s));
    }
    // `super::x` from a second-level module names a sibling in the same folder.
    if second.is_some() {
        for (i, _) in text.match_indices("super::") {
            let name: String = text[i + "super::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if src().join(&top).join(format!("{name}.rs")).exists() && !is_vocabulary(&top, &name) {
                refs.insert((top.clone(), Some(name)));
            }
        }
    }
    refs.remove(&(top, second));
    refs
}

#[test]
fn each_layer_imports_only_the_layers_below_it() {
    let allowed: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut broken = Vec::new();
    for (path, text) in sources() {
        let (top, _) = module_of(&path);
        if top == "lib" {
            continue;
        }
        let Some(may) = allowed.get(top.as_str()) else {
            broken.push(format!(
                "{}: a top-level module with no layer",
                path.display()
            ));
            continue;
        };
        for (t, _) in references(&path, &text) {
            if !may.contains(&t.as_str()) {
                broken.push(format!("{}: {top} imports {t}", path.display()));
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn the_pure_layers_have_no_aws_async_or_io_code() {
    let mut broken = Vec::new();
    for (path, text) in sources() {
        let (top, _) = module_of(&path);
        if !PURE.contains(&top.as_str()) {
            continue;
        }
        for marker in IMPURE_MARKERS {
            if text.contains(marker) {
                broken.push(format!("{}: {marker}", path.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "impure code in a pure layer:\n{}",
        broken.join("\n")
    );
}

#[test]
fn no_two_modules_import_each_other_in_a_circle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let name = |(t, s): &(String, Option<String>)| match s {
        Some(s) => format!("{t}::{s}"),
        None => t.clone(),
    };
    for (path, text) in sources() {
        let from = name(&module_of(&path));
        let to = graph.entry(from).or_default();
        for r in references(&path, &text) {
            to.insert(name(&r));
        }
    }
    // A module folder's root (`domain`) declares its children: that is not an import of them, but
    // its own `use`s are. Depth-first search for a back edge.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let at = stack.iter().position(|n| n == next).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    assert!(graph.len() > 20, "the module graph is too small: {graph:?}");
    for node in graph.keys() {
        if !state.contains_key(node.as_str()) {
            let cycle = visit(node, &graph, &mut state, &mut Vec::new());
            assert!(
                cycle.is_none(),
                "import circle: {}",
                cycle.unwrap().join(" -> ")
            );
        }
    }
}

#[test]
fn the_checks_see_a_circle_and_a_layer_break_when_there_is_one() {
    // A guard against a check that can never fail: the reference reader finds what the checks use.
    let path = src().join("outbound").join("message.rs");
    let refs = references(&path, "use crate::ports::Notifier;\nuse super::chat::x;\n");
    assert!(refs.contains(&("ports".to_string(), None)));
    assert!(refs.contains(&("outbound".to_string(), Some("chat".to_string()))));
    let text =
        "#[cfg(test)]\nmod tests {\n    use crate::ports::X;\n}\nuse crate::domain::Finding;\n";
    assert_eq!(without_tests(text), "use crate::domain::Finding;\n");
}
