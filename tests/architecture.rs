//! The architecture, held by the compiler's own parser: the pure core
//! (`src/core/`) does no I/O and imports no shell module, and no two
//! modules import each other, directly or through a chain.
//!
//! Every source file is parsed with `syn`; every `use` and every path in
//! code (types, calls, patterns, macros' paths) is resolved to the module
//! it names. Items under `#[cfg(test)]` are left out: a unit test may
//! write a temporary file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// Paths a core file must not name (the shells' tools).
const FORBIDDEN_IN_CORE: &[&str] = &[
    "std::fs",
    "std::process",
    "std::net",
    "std::os::unix::net",
    "std::os::unix::fs",
    "std::env",
    "std::io::stdin",
    "std::io::stdout",
    "std::io::stderr",
    "std::thread",
    "rustix",
    "which",
    "directories",
    "crossterm",
    "ratatui",
    "tempfile",
    "signal_hook",
];

/// Macros that print: I/O as much as a write to a file.
const FORBIDDEN_MACROS_IN_CORE: &[&str] = &["println", "eprintln", "print", "eprint", "dbg"];

/// A module: its crate (`lib` or `bin`) and its path inside it.
type Module = Vec<String>;

struct SourceFile {
    module: Module,
    path: PathBuf,
}

/// Every source file with the module it defines.
fn source_files(root: &Path) -> Vec<SourceFile> {
    let mut out = Vec::new();
    walk(root, &mut |path| {
        let rel = path.strip_prefix(root).unwrap();
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let file = parts.pop().unwrap();
        let stem = file.trim_end_matches(".rs").to_string();
        // main.rs and cli/ are the binary; everything else the library.
        let krate = if parts.first().map(String::as_str) == Some("cli") || stem == "main" {
            "bin"
        } else {
            "lib"
        };
        let mut module = vec![krate.to_string()];
        module.extend(parts);
        if !matches!(stem.as_str(), "mod" | "lib" | "main") {
            module.push(stem);
        }
        out.push(SourceFile {
            module,
            path: path.to_path_buf(),
        });
    });
    out
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, f);
        } else if p.extension().is_some_and(|e| e == "rs") {
            f(&p);
        }
    }
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.meta
                .require_list()
                .is_ok_and(|l| l.tokens.to_string().split_whitespace().any(|t| t == "test"))
    })
}

/// Every path a file names, as segment lists (`use` trees expanded).
#[derive(Default)]
struct Paths {
    paths: Vec<Vec<String>>,
    macros: Vec<String>,
}

impl Paths {
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                if n.ident != "self" {
                    full.push(n.ident.to_string());
                }
                self.paths.push(full);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                full.push(r.ident.to_string());
                self.paths.push(full);
            }
            syn::UseTree::Glob(_) => self.paths.push(prefix.clone()),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs: &[syn::Attribute] = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Enum(e) => &e.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            _ => &[],
        };
        if is_cfg_test(attrs) {
            return;
        }
        if let syn::Item::Use(u) = item {
            let mut prefix = Vec::new();
            if u.leading_colon.is_some() {
                prefix.push(String::new());
            }
            self.use_tree(&mut prefix, &u.tree);
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_cfg_test(&f.attrs) {
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.paths
            .push(p.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        if let Some(last) = m.path.segments.last() {
            self.macros.push(last.ident.to_string());
        }
        // Paths inside a macro's arguments (`matches!(x, Foo::Bar)`,
        // `format!("{}", crate::x::y())`) are tokens: parse what parses.
        if let Ok(args) = m.parse_body_with(
            syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
        ) {
            for a in &args {
                self.visit_expr(a);
            }
        }
        syn::visit::visit_macro(self, m);
    }
}

struct Crate {
    files: Vec<SourceFile>,
    modules: BTreeSet<Module>,
}

impl Crate {
    fn load() -> Crate {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let files = source_files(&root);
        let modules = files.iter().map(|f| f.module.clone()).collect();
        Crate { files, modules }
    }

    /// The module a path names from inside `from`, or `None` for an
    /// external crate, a local item or a prelude name.
    fn resolve(&self, from: &Module, path: &[String]) -> Option<Module> {
        let (mut base, rest): (Module, &[String]) = match path.first().map(String::as_str) {
            Some("crate") => (vec![from[0].clone()], &path[1..]),
            Some("qpmem") => (vec!["lib".to_string()], &path[1..]),
            Some("self") => (from.clone(), &path[1..]),
            Some("super") => {
                let mut b = from.clone();
                let mut rest = path;
                while rest.first().map(String::as_str) == Some("super") {
                    b.pop();
                    rest = &rest[1..];
                }
                (b, rest)
            }
            // A child module named without `self::` (`mod inuse;` then
            // `inuse::holders`).
            Some(first) => {
                let mut child = from.clone();
                child.push(first.to_string());
                if self.modules.contains(&child) {
                    (child, &path[1..])
                } else {
                    return None;
                }
            }
            None => return None,
        };
        for seg in rest {
            let mut next = base.clone();
            next.push(seg.clone());
            if self.modules.contains(&next) {
                base = next;
            } else {
                break;
            }
        }
        Some(base)
    }

    fn parse(&self, file: &SourceFile) -> Paths {
        let text = std::fs::read_to_string(&file.path).unwrap();
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.path.display()));
        let mut paths = Paths::default();
        paths.visit_file(&ast);
        paths
    }

    /// Module -> the modules it names (outside its own ancestors).
    fn graph(&self) -> BTreeMap<Module, BTreeSet<Module>> {
        let mut g: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        for f in &self.files {
            let edges = g.entry(f.module.clone()).or_default();
            for p in self.parse(f).paths {
                let Some(to) = self.resolve(&f.module, &p) else {
                    continue;
                };
                // A child using its parent's items (or itself) is how a
                // module is built, not a dependency between modules.
                if to != f.module && !f.module.starts_with(&to) {
                    edges.insert(to);
                }
            }
        }
        g
    }
}

fn is_core(m: &Module) -> bool {
    m.len() >= 2 && m[0] == "lib" && m[1] == "core"
}

fn show(m: &Module) -> String {
    let krate = if m[0] == "bin" { "qpmem(bin)" } else { "crate" };
    std::iter::once(krate)
        .chain(m[1..].iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("::")
}

#[test]
fn the_core_does_no_io_and_imports_no_shell() {
    let krate = Crate::load();
    let core_files: Vec<_> = krate.files.iter().filter(|f| is_core(&f.module)).collect();
    assert!(
        core_files.len() >= 20,
        "expected the core under src/core/, found {} files",
        core_files.len()
    );
    let mut problems = Vec::new();
    for f in core_files {
        let paths = krate.parse(f);
        for p in &paths.paths {
            let joined = p.join("::");
            if let Some(bad) = FORBIDDEN_IN_CORE
                .iter()
                .find(|b| joined == **b || joined.starts_with(&format!("{b}::")))
            {
                problems.push(format!("{}: uses {bad} ({joined})", f.path.display()));
            }
            if let Some(to) = krate.resolve(&f.module, p) {
                if !is_core(&to) {
                    problems.push(format!(
                        "{}: imports {} ({joined}), which is not in the core",
                        f.path.display(),
                        show(&to)
                    ));
                }
            }
        }
        for m in &paths.macros {
            if FORBIDDEN_MACROS_IN_CORE.contains(&m.as_str()) {
                problems.push(format!("{}: prints with {m}!", f.path.display()));
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Strongly connected components of more than one module (Tarjan).
fn cycles(g: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'a> {
        g: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        next: usize,
        out: Vec<Vec<Module>>,
    }
    fn connect<'a>(s: &mut State<'a>, v: &'a Module) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let g = s.g;
        for w in g.get(v).into_iter().flatten() {
            let Some((w, _)) = g.get_key_value(w) else {
                continue;
            };
            if !s.index.contains_key(w) {
                connect(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v) {
            connect(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_two_modules_import_each_other() {
    let krate = Crate::load();
    let g = krate.graph();
    let found: Vec<String> = cycles(&g)
        .iter()
        .map(|c| {
            let names: Vec<String> = c.iter().map(show).collect();
            // The edges inside the cycle, to say where to cut it.
            let members: BTreeSet<&Module> = c.iter().collect();
            let edges: Vec<String> = c
                .iter()
                .flat_map(|m| {
                    g[m].iter()
                        .filter(|t| members.contains(t))
                        .map(move |t| format!("{} -> {}", show(m), show(t)))
                })
                .collect();
            format!("{{{}}}: {}", names.join(", "), edges.join("; "))
        })
        .collect();
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

/// The checker itself: a cycle it must see and a path it must resolve.
#[test]
fn the_checker_finds_a_cycle_and_resolves_paths() {
    let m = |s: &str| -> Module { s.split("::").map(str::to_string).collect() };
    let mut g = BTreeMap::new();
    g.insert(m("lib::a"), BTreeSet::from([m("lib::b")]));
    g.insert(m("lib::b"), BTreeSet::from([m("lib::c")]));
    g.insert(m("lib::c"), BTreeSet::from([m("lib::a")]));
    g.insert(m("lib::d"), BTreeSet::from([m("lib::a")]));
    assert_eq!(
        cycles(&g),
        vec![vec![m("lib::a"), m("lib::b"), m("lib::c")]]
    );

    let krate = Crate::load();
    let seg = |s: &str| -> Vec<String> { s.split("::").map(str::to_string).collect() };
    assert_eq!(
        krate.resolve(&m("lib::tui::app"), &seg("crate::core::layout::layout")),
        Some(m("lib::core::layout"))
    );
    assert_eq!(
        krate.resolve(&m("lib::core::diagnose::backing"), &seg("super::Context")),
        Some(m("lib::core::diagnose"))
    );
    assert_eq!(
        krate.resolve(&m("bin::cli::check"), &seg("qpmem::host::gather")),
        Some(m("lib::host"))
    );
    assert_eq!(
        krate.resolve(&m("lib::core::size"), &seg("std::fs::File")),
        None
    );
}
