//! Packing the guest's initramfs: a static busybox, the nvdimm kernel
//! modules (dependencies first, decompressed) and `/init`.
//!
//! Layout of the image:
//!
//! ```text
//! init                      the script (see super::init_script)
//! bin/busybox, bin/sh       applet links are made at boot (busybox --install -s)
//! dev/console               so the kernel can give /init a console
//! etc/qpmem/modules         module names, one a line, in load order
//! lib/modules/<name>.ko     each module, uncompressed
//! proc sys tmp sbin usr/bin usr/sbin
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use super::cpio::CpioWriter;
use super::init_script::{init_script, InitMode, MODULE_DIR, MODULE_LIST};
use super::modules::{elf_needs_interpreter, resolve_modules, NVDIMM_MODULES};
use super::GuestError;

/// What goes into the initramfs.
#[derive(Debug, Clone)]
pub struct InitramfsSpec {
    /// A statically linked busybox (Debian: package busybox-static, /bin/busybox).
    pub busybox: PathBuf,
    /// The guest kernel's `/lib/modules/<release>` directory; `None` when the
    /// kernel has the nvdimm drivers built in (or the modules are not wanted).
    pub modules_dir: Option<PathBuf>,
    /// Modules to load (with their dependencies); ignored without `modules_dir`.
    pub modules: Vec<String>,
    /// The text of `/init`.
    pub init: String,
}

impl InitramfsSpec {
    /// The usual spec: the [`NVDIMM_MODULES`] and the stock `/init` for `mode`.
    pub fn new(busybox: PathBuf, modules_dir: Option<PathBuf>, mode: InitMode) -> Self {
        InitramfsSpec {
            busybox,
            modules_dir,
            modules: NVDIMM_MODULES.iter().map(|m| m.to_string()).collect(),
            init: init_script(mode),
        }
    }
}

/// Builds the initramfs (an uncompressed newc cpio archive) in memory.
pub fn build_initramfs(spec: &InitramfsSpec) -> Result<Vec<u8>, GuestError> {
    let busybox = fs::read(&spec.busybox).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => GuestError::Missing {
            what: "busybox",
            path: spec.busybox.clone(),
            hint: "install the busybox-static package".into(),
        },
        _ => GuestError::io("cannot read", &spec.busybox, e),
    })?;
    if elf_needs_interpreter(&spec.busybox, &busybox)? {
        return Err(GuestError::BusyboxNotStatic {
            path: spec.busybox.clone(),
        });
    }
    let modules = match &spec.modules_dir {
        Some(dir) => {
            let wanted: Vec<&str> = spec.modules.iter().map(String::as_str).collect();
            resolve_modules(dir, &wanted)?
        }
        None => Vec::new(),
    };

    let mut w = CpioWriter::new(Vec::new());
    for dir in [
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "dev",
        "proc",
        "sys",
        "tmp",
        "etc",
        "etc/qpmem",
        "lib",
        MODULE_DIR,
    ] {
        w.dir(dir, 0o755)?;
    }
    w.char_device("dev/console", 0o600, 5, 1)?;
    w.file("bin/busybox", 0o755, &busybox)?;
    w.symlink("bin/sh", "busybox")?;
    let mut list = String::new();
    for m in &modules {
        w.file(&format!("{MODULE_DIR}/{}.ko", m.name), 0o644, &m.image)?;
        list.push_str(&m.name);
        list.push('\n');
    }
    w.file(MODULE_LIST, 0o644, list.as_bytes())?;
    w.file("init", 0o755, spec.init.as_bytes())?;
    w.finish()
}

/// Builds the initramfs and writes it to `path`.
pub fn write_initramfs(spec: &InitramfsSpec, path: &Path) -> Result<(), GuestError> {
    let image = build_initramfs(spec)?;
    fs::write(path, image).map_err(|e| GuestError::io("cannot write", path, e))
}

/// Finds busybox: `busybox` in `PATH`, then `/bin/busybox`, `/usr/bin/busybox`.
/// Whether it is static is checked by [`build_initramfs`].
pub fn find_busybox() -> Result<PathBuf, GuestError> {
    if let Ok(path) = which::which("busybox") {
        return Ok(path);
    }
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or(GuestError::BusyboxNotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::cpio::tests::read_archive;

    #[test]
    fn missing_busybox_names_the_path_and_package() {
        let spec = InitramfsSpec::new("/nonexistent/busybox".into(), None, InitMode::Report);
        let msg = build_initramfs(&spec).unwrap_err().to_string();
        assert!(msg.contains("/nonexistent/busybox"), "{msg}");
        assert!(msg.contains("busybox-static"), "{msg}");
    }

    #[test]
    fn dynamic_binary_is_refused_as_busybox() {
        // /bin/sh on the build machine is dynamically linked.
        let Ok(sh) = which::which("sh") else { return };
        let spec = InitramfsSpec::new(sh.clone(), None, InitMode::Report);
        match build_initramfs(&spec) {
            Err(GuestError::BusyboxNotStatic { path }) => assert_eq!(path, sh),
            // A static sh is possible in principle; then it must pack fine.
            other => assert!(other.is_ok(), "{other:?}"),
        }
    }

    /// With the real busybox (when installed) and a fake module tree, the
    /// archive has the expected layout and module order.
    #[test]
    fn layout_with_real_busybox() {
        let Ok(busybox) = find_busybox() else {
            eprintln!("skipped: busybox not installed");
            return;
        };
        let tmp = tempfile::tempdir().unwrap();
        let nv = tmp.path().join("kernel/drivers/nvdimm");
        fs::create_dir_all(&nv).unwrap();
        fs::write(nv.join("libnvdimm.ko"), b"L").unwrap();
        fs::write(nv.join("nd_btt.ko"), b"B").unwrap();
        fs::write(nv.join("nd_pmem.ko"), b"P").unwrap();
        fs::write(
            tmp.path().join("modules.dep"),
            "kernel/drivers/nvdimm/libnvdimm.ko:\n\
             kernel/drivers/nvdimm/nd_btt.ko: kernel/drivers/nvdimm/libnvdimm.ko\n\
             kernel/drivers/nvdimm/nd_pmem.ko: kernel/drivers/nvdimm/nd_btt.ko kernel/drivers/nvdimm/libnvdimm.ko\n",
        )
        .unwrap();
        fs::write(
            tmp.path().join("modules.builtin"),
            "kernel/drivers/acpi/nfit/nfit.ko\n",
        )
        .unwrap();
        let spec = InitramfsSpec::new(busybox, Some(tmp.path().into()), InitMode::Report);
        let bytes = match build_initramfs(&spec) {
            Err(GuestError::BusyboxNotStatic { .. }) => return,
            other => other.unwrap(),
        };
        let entries = read_archive(&bytes);
        let find = |n: &str| {
            entries
                .iter()
                .find(|e| e.name == n)
                .unwrap_or_else(|| panic!("{n}"))
        };
        assert_eq!(
            find("etc/qpmem/modules").data,
            b"libnvdimm\nnd_btt\nnd_pmem\n"
        );
        assert_eq!(find("lib/modules/nd_pmem.ko").data, b"P");
        assert_eq!(find("dev/console").rdev, (5, 1));
        assert_eq!(find("init").mode, 0o100_755);
        assert!(find("init").data.starts_with(b"#!/bin/busybox sh"));
        assert_eq!(find("bin/sh").data, b"busybox");
    }
}
