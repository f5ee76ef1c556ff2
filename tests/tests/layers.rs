//! Layers that only point down, in every crate of the workspace: no two
//! top-level modules of a crate import each other, directly or through
//! others, and a service's `domain` knows neither SQL nor gRPC.
//!
//! A module `a` depends on `b` when its code — comments and its
//! `#[cfg(test)]` tail left out — names `crate::b` (or `crate::{b, …}`).
//! Tests of a module may reach anywhere; the code they test may not.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

#[test]
fn no_crate_has_modules_that_import_each_other_in_a_circle() {
    let mut circles = Vec::new();
    for (krate, src) in crates() {
        for circle in cycles(&module_edges(&src)) {
            circles.push(format!("{krate}: {}", circle.join(" <-> ")));
        }
    }
    assert!(
        circles.is_empty(),
        "modules that import each other in a circle:\n{}",
        circles.join("\n")
    );
}

#[test]
fn service_domains_know_neither_sql_nor_grpc() {
    let mut leaks = Vec::new();
    for (krate, src) in crates() {
        for file in rust_files(&src) {
            let module = top_module(&src, &file);
            if module != "domain" {
                continue;
            }
            let code = code_of(&file);
            for name in ["sqlx", "tonic", "prost", "foodmesh_proto"] {
                if mentions(&code, name) {
                    leaks.push(format!("{krate}: {} names {name}", file.display()));
                }
            }
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

#[test]
fn the_check_finds_a_circle_and_only_a_circle() {
    let edges = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
        ("d".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert_eq!(cycles(&edges), [vec!["a", "b", "c"]]);

    let text = "use crate::{store::Store, domain};\n// crate::grpc\n\
                fn f() { crate::events::x(); }\n#[cfg(test)]\nuse crate::watch;";
    assert_eq!(
        referenced_modules(&code(text)),
        BTreeSet::from(["domain", "events", "store"].map(str::to_owned))
    );
}

/// Every member crate with a `src` folder: (its folder's name, `src`).
fn crates() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace");
    let mut found = Vec::new();
    for entry in fs::read_dir(root)
        .expect("the workspace is readable")
        .flatten()
    {
        let dir = entry.path();
        let src = dir.join("src");
        if dir.join("Cargo.toml").is_file() && src.is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            found.push((name, src));
        }
    }
    found.sort();
    assert!(found.len() > 5, "found only {found:?}");
    found
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).expect("readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The crate-level module a file belongs to: `store` for `src/store.rs`
/// and `src/store/keys.rs`.
fn top_module(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("under src");
    let first = relative
        .components()
        .next()
        .expect("a file under src")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_owned()
}

fn code_of(file: &Path) -> String {
    code(&fs::read_to_string(file).expect("readable"))
}

/// Source before its `#[cfg(test)]` tail, without `//` comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn mentions(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + name.len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !word(before) && !word(after)
    })
}

/// The crate-level modules `code` names through `crate::`.
fn referenced_modules(code: &str) -> BTreeSet<String> {
    let mut modules = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or_default();
            for part in inner.split(',') {
                let name = part.trim().split("::").next().unwrap_or_default();
                modules.insert(name.to_owned());
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            modules.insert(name);
        }
    }
    modules.retain(|m| !m.is_empty() && m != "self");
    modules
}

/// Which crate-level modules each one names.
fn module_edges(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(src) {
        let module = top_module(src, &file);
        if module == "lib" || module == "main" {
            continue;
        }
        let mut named = referenced_modules(&code_of(&file));
        named.remove(&module);
        edges.entry(module).or_default().extend(named);
    }
    edges
}

/// The groups of more than one module that reach each other (Tarjan's
/// strongly connected components), each sorted.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Search<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Search<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.edges.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.edges.contains_key(w) {
                    continue;
                }
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    group.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.found.push(group);
                }
            }
        }
    }
    let mut search = Search {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !search.index.contains_key(v.as_str()) {
            search.visit(v);
        }
    }
    search.found
}
