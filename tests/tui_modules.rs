//! No two modules of the TUI import each other, directly or through a
//! chain: the modules under src/tui form a graph without cycles. A child
//! module using its own parent's items (`panes::map` using `panes`'s
//! `Component`) is allowed; everything else counts, `use` statements and
//! paths written inline alike (unit tests at the end of a file excepted).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// The TUI's modules and their source, `tui` being the root.
fn modules(dir: &Path, prefix: &Module, out: &mut BTreeMap<Module, String>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            let mut m = prefix.clone();
            m.push(name);
            modules(&p, &m, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let mut m = prefix.clone();
            if name != "mod" {
                m.push(name);
            }
            let text = std::fs::read_to_string(&p).unwrap();
            out.insert(m, text);
        }
    }
}

/// The code without comments and without the unit tests at the end.
fn code(text: &str) -> String {
    let body = match text.find("\n#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    body.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expand a use tree (`super::{a, b::{c, self}}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    // `X as Y` names X; then no blanks are left to matter.
    let mut words = tree.split_whitespace();
    let mut tree = String::new();
    while let Some(w) = words.next() {
        if w == "as" {
            // Keep what closes the tree after the alias (`M},`).
            let alias = words.next().unwrap_or("");
            tree.push_str(alias.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_'));
        } else {
            tree.push_str(w);
        }
    }
    let Some(open) = tree.find('{') else {
        return vec![tree.trim_end_matches("::self").to_string()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap()];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{prefix}{p}")))
        .map(|p| p.trim_end_matches("::self").to_string())
        .collect()
}

/// Every path a module's code names that starts at `crate::tui` or `super`.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    // `use` statements, whole trees.
    for stmt in code.split(';') {
        if let Some(i) = stmt.find("use ") {
            let before = &stmt[..i];
            if before.trim().is_empty() || before.trim_end().ends_with("pub") {
                out.extend(expand(stmt[i + 4..].trim()));
            }
        }
    }
    // Paths written inline.
    let bytes: Vec<char> = code.chars().collect();
    let text: String = bytes.iter().collect();
    for start in ["crate::tui::", "super::"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(start) {
            let at = from + i;
            let prev = text[..at].chars().last();
            let end = text[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(text.len(), |e| at + e);
            if !prev.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                out.push(text[at..end].trim_end_matches(':').to_string());
            }
            from = end.max(at + 1);
        }
    }
    out
}

/// The module a path from `m` points into: the longest known module.
fn target(m: &Module, path: &str, known: &BTreeSet<Module>) -> Option<Module> {
    let mut segs: Vec<&str> = path.split("::").collect();
    if segs
        .last()
        .is_some_and(|s| s.is_empty() || *s == "super" || *s == "tui")
    {
        return None;
    }
    let mut base: Module = if segs.first() == Some(&"crate") {
        if segs.get(1) != Some(&"tui") {
            return None;
        }
        segs.drain(..2);
        Vec::new()
    } else {
        let mut b = m.clone();
        while segs.first() == Some(&"super") {
            b.pop();
            segs.remove(0);
        }
        b
    };
    let mut best = None;
    for s in segs {
        base.push(s.to_string());
        if known.contains(&base) {
            best = Some(base.clone());
        } else {
            break;
        }
    }
    Some(best.unwrap_or_else(|| base[..base.len() - 1].to_vec()))
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "tui".into()
    } else {
        format!("tui::{}", m.join("::"))
    }
}

#[test]
fn the_tui_modules_import_each_other_in_one_direction_only() {
    let mut mods = BTreeMap::new();
    modules(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tui"),
        &Vec::new(),
        &mut mods,
    );
    let known: BTreeSet<Module> = mods.keys().cloned().collect();
    assert!(known.contains(&vec!["app".to_string()]), "{known:?}");
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (m, text) in &mods {
        for p in paths(&code(text)) {
            let Some(t) = target(m, &p, &known) else {
                continue;
            };
            // A module may use its own ancestors' items.
            if t == *m || m.starts_with(&t) {
                continue;
            }
            edges.entry(m.clone()).or_default().insert(t);
        }
    }
    // The driver and the screen depend on the app, not the other way.
    let app = vec!["app".to_string()];
    assert!(edges[&vec!["ui".to_string()]].contains(&app));
    // Depth-first search for a cycle.
    fn visit(
        m: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        stack: &mut Vec<Module>,
        done: &mut BTreeSet<Module>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(i) = stack.iter().position(|s| s == m) {
            let cycle: Vec<String> = stack[i..].iter().chain([m]).map(name).collect();
            panic!("import cycle: {}", cycle.join(" -> "));
        }
        stack.push(m.clone());
        for t in edges.get(m).into_iter().flatten() {
            visit(t, edges, stack, done);
        }
        stack.pop();
        done.insert(m.clone());
    }
    let mut done = BTreeSet::new();
    for m in &known {
        visit(m, &edges, &mut Vec::new(), &mut done);
    }
}

#[test]
fn the_cycle_finder_sees_use_trees_and_inline_paths() {
    let m = vec!["panes".to_string(), "map".to_string()];
    let known: BTreeSet<Module> = [
        vec![],
        vec!["app".to_string()],
        vec!["panes".to_string()],
        m.clone(),
        vec!["ui".to_string()],
    ]
    .into_iter()
    .collect();
    let code = code(
        "use super::{Component, step};\nuse crate::tui::app::{App, Mode as M};\n\
         fn f() { crate::tui::ui::wrap(1); } // crate::tui::nothing\n#[cfg(test)]\nuse crate::tui::x;",
    );
    let targets: BTreeSet<String> = paths(&code)
        .iter()
        .filter_map(|p| target(&m, p, &known))
        .map(|t| name(&t))
        .collect();
    assert_eq!(
        targets,
        ["tui::app", "tui::panes", "tui::ui"]
            .map(String::from)
            .into_iter()
            .collect()
    );
}
