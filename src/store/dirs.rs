//! qpmem's XDG directories, via the `directories` crate (so
//! `XDG_CONFIG_HOME`, `XDG_DATA_HOME` and `XDG_CACHE_HOME` are honoured):
//! - config: `$XDG_CONFIG_HOME/qpmem` (profiles, `config.ron`, themes);
//! - data: `$XDG_DATA_HOME/qpmem` (default backing files, `${data}`);
//! - cache: `$XDG_CACHE_HOME/qpmem` (QEMU versions, the guest kernel).

use std::path::PathBuf;

/// qpmem's XDG directories; `None` without a home directory.
pub fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "qpmem")
}

/// Where default backing files go: `$XDG_DATA_HOME/qpmem` (a `qpmem`
/// directory in the temporary directory when there is no home).
pub fn data_dir() -> PathBuf {
    project_dirs()
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("qpmem"))
}

/// `$XDG_CACHE_HOME/qpmem`, if there is a home directory.
pub fn cache_dir() -> Option<PathBuf> {
    project_dirs().map(|d| d.cache_dir().to_path_buf())
}
