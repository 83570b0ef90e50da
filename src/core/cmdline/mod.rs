//! The QEMU command line: render a profile as argv and as a shell command,
//! and import a pasted command line back into a profile.
//!
//! QEMU option values are comma-separated `key=value` lists (QemuOpts): a
//! literal comma inside a value is written doubled (`mem-path=/a,,b`), and a
//! single comma starts the next property, so every value qpmem writes goes
//! through [`escape_value`]. Booleans are always written `=on`/`=off`,
//! never in the bare form QEMU deprecated.

mod import;
mod render;

pub use import::{import, ImportError, ImportNote, ImportNoteKind};
pub use render::{
    qmp_objects, render_argv, render_argv_for, render_shell, render_shell_for, shell_quote,
};

/// A memory device in the profile's extra arguments that qpmem does not
/// place: it takes room in the same device memory region (or, for CXL,
/// a window of its own), so the map would be wrong without saying so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmodelled {
    /// The driver or option: `virtio-pmem`, `cxl-type3`, `-machine cxl=on`.
    pub what: String,
    /// Its id, when it has one.
    pub id: Option<String>,
}

impl std::fmt::Display for Unmodelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.id {
            Some(id) => write!(f, "{} {id}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

/// Drivers whose memory qpmem cannot place yet (virtio-pmem-pci and
/// virtio-mem-pci are device kinds; their bare virtio-bus forms are not).
const UNMODELLED_DRIVERS: &[&str] = &[
    "virtio-pmem",
    "virtio-mem",
    "cxl-type3",
    "pxb-cxl",
    "cxl-rp",
    "cxl-upstream",
    "cxl-downstream",
];

/// Every option in `extra_args` (QemuOpts or JSON) that changes the guest
/// physical memory map in a way qpmem does not model.
pub fn unmodelled(p: &crate::core::profile::Profile) -> Vec<Unmodelled> {
    let mut out = Vec::new();
    for o in &p.machine_options {
        if o.starts_with("cxl=on") || o.starts_with("cxl-fmw.") {
            out.push(Unmodelled {
                what: format!("-machine {o}"),
                id: None,
            });
        }
    }
    for w in p.extra_args.windows(2) {
        if !matches!(w[0].as_str(), "-device" | "--device") {
            continue;
        }
        let (driver, id) = if w[1].trim_start().starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(&w[1]).unwrap_or_default();
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
            (s("driver").unwrap_or_default(), s("id"))
        } else {
            let pieces = split_opts(&w[1]);
            let id = pieces
                .iter()
                .find_map(|p| p.strip_prefix("id="))
                .map(unescape);
            (unescape(&pieces[0]), id)
        };
        if UNMODELLED_DRIVERS.contains(&driver.as_str()) {
            out.push(Unmodelled { what: driver, id });
        }
    }
    out
}

/// Double every comma so QEMU reads `value` as one property value.
pub fn escape_value(value: &str) -> String {
    value.replace(',', ",,")
}

/// Split a QemuOpts string at single commas; `,,` stays in the piece as an
/// escaped comma (the pieces are still escaped: see [`unescape`]).
pub fn split_opts(s: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' {
            if chars.peek() == Some(&',') {
                chars.next();
                current.push_str(",,");
            } else {
                pieces.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    pieces.push(current);
    pieces
}

/// Undo [`escape_value`].
pub fn unescape(s: &str) -> String {
    s.replace(",,", ",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_are_doubled_and_split_back() {
        assert_eq!(escape_value("/a,b"), "/a,,b");
        let pieces = split_opts("memory-backend-file,id=m1,mem-path=/a,,b,size=1G");
        assert_eq!(
            pieces,
            vec!["memory-backend-file", "id=m1", "mem-path=/a,,b", "size=1G"]
        );
        assert_eq!(unescape(&pieces[2]), "mem-path=/a,b");
        assert_eq!(split_opts(""), vec![""]);
        assert_eq!(split_opts("a,,,b"), vec!["a,,", "b"]);
    }
}
