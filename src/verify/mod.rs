//! `verify`: boot the profile's machine in a throwaway Linux guest and
//! compare what the guest kernel saw with qpmem's prediction.
//!
//! This module owns the whole run, in the stages reported by [`Stage`]:
//! build the report-mode initramfs ([`crate::guest`]), boot QEMU with the
//! profile's machine type, RAM, CPUs, NUMA nodes and memory devices, wait
//! for the guest's report, and [`compare()`] it with [`crate::core::layout`](mod@crate::core::layout).
//!
//! Safety rule: the profile's own backing files are never created, opened,
//! or even looked at. Every file-backed device gets a sparse scratch file
//! of the same size in a private run directory ([`crate::rundir`]) that is
//! removed afterwards (also on a cancel, and by the next run after a
//! SIGKILL).
//! The profile's kernel, initrd, append line, disks and extra arguments are
//! replaced by the guest's own; `prealloc` and `pmem` backend options are
//! dropped (they would fill the scratch files or claim they are on real
//! persistent memory), as is `accel=` (see [`Accel`]).
//!
//! QEMU never outlives a run: on the deadline, on cancellation (the
//! `cancel` flag, set by a Ctrl-C handler or a key in the TUI) and on any
//! error it is killed and reaped.

pub mod compare;

pub use compare::{
    compare, compare_cxl, Comparison, CxlComparison, DimmCheck, GuestRange, MemdevCheck, Verdict,
    WindowCheck,
};

use crate::core::facts::HostFacts;
use crate::core::layout::{layout, LayoutError};
use crate::core::profile::{Arch, Backend, Profile};
use crate::guest::{
    self, build_initramfs, GuestError, GuestKernel, GuestReport, GuestVm, InitMode, InitramfsSpec,
    KernelSource, DEFAULT_APPEND, KERNEL_DIR_ENV,
};
use serde::Serialize;
use std::ffi::OsString;
use std::fs::{self, File};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long the guest gets when the caller does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The marker the guest's `/init` prints first (see [`crate::guest::init_script`]).
const REPORT_BEGIN: &str = "QPMEM-BEGIN";

/// Which QEMU accelerator boots the guest. Placement does not depend on it.
///
/// Software emulation is the default: an openable `/dev/kvm` does not mean
/// KVM works (under nested virtualisation it can be slower than TCG by
/// orders of magnitude), and TCG boots the guest in seconds anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Accel {
    /// Software emulation: works everywhere.
    #[default]
    Tcg,
    Kvm,
}

impl Accel {
    /// The accelerator name QEMU's `-accel` takes.
    pub fn name(self) -> &'static str {
        match self {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        }
    }
}

/// What a run needs besides the profile.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The QEMU binary.
    pub qemu: PathBuf,
    /// The guest kernel: see [`find_kernel`].
    pub kernel: GuestKernel,
    /// A static busybox: see [`crate::guest::find_busybox`].
    pub busybox: PathBuf,
    /// How long the guest gets, from QEMU's start to its report.
    pub timeout: Duration,
    /// Where the uncompressed kernel for the fast (PVH) boot is cached;
    /// `None`: [`default_cache_dir`]. Without any, the bzImage is booted.
    pub cache_dir: Option<PathBuf>,
    pub accel: Accel,
    /// Set it (from a signal handler, another thread) to stop the run;
    /// QEMU is killed and the result is [`VerifyError::Cancelled`].
    pub cancel: Option<Arc<AtomicBool>>,
}

impl VerifyOptions {
    /// Everything found the way `qpmem verify` finds it without flags:
    /// QEMU from `$QPMEM_QEMU`, the profile or `PATH`; the kernel from
    /// [`find_kernel`]; busybox from `PATH`.
    pub fn for_profile(profile: &Profile) -> Result<Self, VerifyError> {
        let qemu = crate::qemu::discover::resolve(None, profile)?;
        let kernel = find_kernel_for(profile.arch, None, None)?;
        let busybox = find_busybox_for(profile.arch, &kernel)?;
        Ok(VerifyOptions::new(qemu, kernel, busybox))
    }

    /// Options with the default timeout, cache and accelerator, no cancel flag.
    pub fn new(qemu: PathBuf, kernel: GuestKernel, busybox: PathBuf) -> Self {
        VerifyOptions {
            qemu,
            kernel,
            busybox,
            timeout: DEFAULT_TIMEOUT,
            cache_dir: None,
            accel: Accel::Tcg,
            cancel: None,
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::SeqCst))
    }
}

/// Where a run is; passed to the progress callback as each stage begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    BuildingInitramfs,
    /// QEMU is running and the kernel boots.
    Booting,
    /// The guest's `/init` runs and prints its report.
    WaitingForReport,
    Done,
}

impl Stage {
    /// A short phrase for a status line.
    pub fn label(self) -> &'static str {
        match self {
            Stage::BuildingInitramfs => "building initramfs",
            Stage::Booting => "booting",
            Stage::WaitingForReport => "waiting for report",
            Stage::Done => "done",
        }
    }
}

/// What the guest saw, against the prediction. Serializes to the JSON of
/// `qpmem verify --json`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Every DIMM where predicted and no unexplained pmem range.
    #[serde(rename = "match")]
    pub all_match: bool,
    pub dimms: Vec<DimmCheck>,
    /// Pmem ranges the guest reported that no DIMM accounts for.
    pub unexpected: Vec<GuestRange>,
    /// With CXL: each window against the guest's root decoders, each
    /// type-3 device against its memdevs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cxl: Option<CxlComparison>,
    /// nvdimm-related kernel messages of level warning or worse.
    pub kernel_warnings: Vec<String>,
    /// Other things worth knowing: modules that failed to load, report
    /// lines that could not be read, a slow boot path.
    pub notes: Vec<String>,
    pub kernel_release: Option<String>,
    pub accel: Accel,
    /// From QEMU's start to its exit.
    pub boot_seconds: f64,
    /// The guest's whole report.
    #[serde(skip)]
    pub guest: GuestReport,
}

/// Why a run could not produce a comparison.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot predict the layout: {0}")]
    Layout(#[from] LayoutError),
    #[error("no guest kernel: {detail}, {KERNEL_DIR_ENV} is not set and there is none in $XDG_CACHE_HOME/qpmem/guest-kernel or ./target/guest-kernel. Install the linux-image-amd64 package (for /boot/vmlinuz-<release> and /lib/modules/<release>), give --kernel PATH [--modules DIR], or unpack Debian's kernel with `scripts/fetch-guest-kernel.sh DIR` and set {KERNEL_DIR_ENV}=DIR")]
    NoKernel { detail: String },
    #[error("scratch file {path}: {source}")]
    Scratch {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("QEMU refused the configuration ({status}):\n{stderr}")]
    Refused { status: String, stderr: String },
    #[error("the guest stopped before finishing its report ({status}). QEMU said:\n{stderr}\nLast console output:\n{console_tail}")]
    Incomplete {
        status: String,
        stderr: String,
        console_tail: String,
    },
    #[error("the guest did not report within {seconds} s; QEMU was killed. Last console output:\n{console_tail}")]
    Timeout { seconds: u64, console_tail: String },
    #[error("cancelled; QEMU was killed")]
    Cancelled,
    #[error("no arm64 guest kernel: none in $XDG_CACHE_HOME/qpmem/guest-kernel-arm64 or ./target/guest-kernel-arm64. Unpack Debian's with `scripts/fetch-guest-kernel.sh DIR arm64` (default DIR target/guest-kernel-arm64), or give --kernel PATH [--modules DIR]")]
    NoArmKernel,
    #[error("no arm64 busybox: {path} does not exist. `scripts/fetch-guest-kernel.sh DIR arm64` puts busybox-static:arm64 there, or give --busybox PATH (a static aarch64 busybox)")]
    NoArmBusybox { path: PathBuf },
    #[error(transparent)]
    Qemu(#[from] crate::qemu::FindError),
    #[error(transparent)]
    RunDir(#[from] crate::rundir::RunDirError),
    #[error(transparent)]
    Guest(GuestError),
}

impl From<GuestError> for VerifyError {
    fn from(e: GuestError) -> Self {
        match e {
            GuestError::Cancelled => VerifyError::Cancelled,
            GuestError::Timeout {
                seconds,
                console_tail,
                ..
            } => VerifyError::Timeout {
                seconds,
                console_tail: or_none(console_tail),
            },
            other => VerifyError::Guest(other),
        }
    }
}

/// Console output for an error message; the kernel boots with `quiet`, so
/// there may be none.
fn or_none(console: String) -> String {
    if console.trim().is_empty() {
        "(none)".into()
    } else {
        console
    }
}

/// `$XDG_CACHE_HOME/qpmem` (usually `~/.cache/qpmem`).
pub fn default_cache_dir() -> Option<PathBuf> {
    crate::store::dirs::cache_dir()
}

/// The guest kernel for `qpmem verify`: `kernel` (with `modules`, else the
/// modules tree beside it: `<dir>/../lib/modules/<release>` as in an
/// unpacked package, or `/lib/modules/<release>`) when given; else the
/// host's `/boot/vmlinuz-$(uname -r)` with `/lib/modules/$(uname -r)`; else,
/// when `$QPMEM_GUEST_KERNEL_DIR` is set, the Debian kernel unpacked there.
pub fn find_kernel(
    kernel: Option<&Path>,
    modules: Option<&Path>,
) -> Result<GuestKernel, VerifyError> {
    if let Some(vmlinuz) = kernel {
        let modules_dir = modules
            .map(Path::to_path_buf)
            .or_else(|| modules_beside(vmlinuz));
        return Ok(KernelSource::Path {
            vmlinuz: vmlinuz.to_path_buf(),
            modules_dir,
        }
        .resolve()?);
    }
    let with_modules = |mut k: GuestKernel| {
        if let Some(m) = modules {
            k.modules_dir = Some(m.to_path_buf());
        }
        k
    };
    match guest::host_kernel() {
        Ok(k) => Ok(with_modules(k)),
        Err(host) => {
            if std::env::var_os(KERNEL_DIR_ENV).is_some_and(|v| !v.is_empty()) {
                return Ok(with_modules(guest::debian_kernel_cache(None)?));
            }
            // Where `scripts/fetch-guest-kernel.sh` (and so
            // `scripts/install-deps --test`) unpacks one.
            for dir in unpacked_kernel_dirs() {
                if dir.join("boot").is_dir() {
                    return Ok(with_modules(guest::debian_kernel_cache(Some(&dir))?));
                }
            }
            let detail = match host {
                GuestError::Missing { path, .. } => {
                    format!("the host's {} does not exist", path.display())
                }
                other => other.to_string(),
            };
            Err(VerifyError::NoKernel { detail })
        }
    }
}

/// [`find_kernel`] for a guest of `arch`: on aarch64 the host's kernel
/// never fits, so the given one or the Debian arm64 kernel unpacked in
/// [`unpacked_kernel_dirs_for`] (by `scripts/fetch-guest-kernel.sh DIR arm64`).
pub fn find_kernel_for(
    arch: Arch,
    kernel: Option<&Path>,
    modules: Option<&Path>,
) -> Result<GuestKernel, VerifyError> {
    if arch == Arch::X86_64 || kernel.is_some() {
        return find_kernel(kernel, modules);
    }
    for dir in unpacked_kernel_dirs_for(arch) {
        if dir.join("boot").is_dir() {
            let mut k = guest::debian_kernel_cache(Some(&dir))?;
            if let Some(m) = modules {
                k.modules_dir = Some(m.to_path_buf());
            }
            return Ok(k);
        }
    }
    Err(VerifyError::NoArmKernel)
}

/// The static busybox for a guest of `arch`: on x86_64 the host's
/// ([`guest::find_busybox`]); on aarch64 `bin/busybox` of the unpacked
/// kernel tree (`<dir>/boot/vmlinuz-*` -> `<dir>/bin/busybox`), where
/// `scripts/fetch-guest-kernel.sh DIR arm64` puts busybox-static:arm64.
pub fn find_busybox_for(arch: Arch, kernel: &GuestKernel) -> Result<PathBuf, VerifyError> {
    if arch == Arch::X86_64 {
        return Ok(guest::find_busybox()?);
    }
    let root = kernel.vmlinuz.parent().and_then(Path::parent);
    let path = root.map_or_else(|| PathBuf::from("bin/busybox"), |r| r.join("bin/busybox"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(VerifyError::NoArmBusybox { path })
    }
}

/// [`unpacked_kernel_dirs`] for `arch`: `guest-kernel-arm64` beside
/// `guest-kernel` for aarch64.
pub fn unpacked_kernel_dirs_for(arch: Arch) -> Vec<PathBuf> {
    match arch {
        Arch::X86_64 => unpacked_kernel_dirs(),
        Arch::Aarch64 => unpacked_kernel_dirs()
            .into_iter()
            .map(|d| d.with_file_name("guest-kernel-arm64"))
            .collect(),
    }
}

/// Where an unpacked Debian kernel is looked for when the host has none
/// and `$QPMEM_GUEST_KERNEL_DIR` is not set: `$XDG_CACHE_HOME/qpmem/guest-kernel`,
/// then `target/guest-kernel` in the current directory (a checkout after
/// `scripts/install-deps --test`; `$CARGO_TARGET_DIR/guest-kernel` when set).
pub fn unpacked_kernel_dirs() -> Vec<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    crate::store::dirs::cache_dir()
        .map(|d| d.join("guest-kernel"))
        .into_iter()
        .chain([target.join("guest-kernel")])
        .collect()
}

/// The modules tree for `.../boot/vmlinuz-<release>`: `.../lib/modules/<release>`
/// (an unpacked package), else `/lib/modules/<release>` if it exists.
fn modules_beside(vmlinuz: &Path) -> Option<PathBuf> {
    let release = vmlinuz.file_name()?.to_str()?.strip_prefix("vmlinuz-")?;
    let mut candidates = Vec::new();
    if let Some(root) = vmlinuz.parent().and_then(Path::parent) {
        candidates.push(root.join("lib/modules").join(release));
        candidates.push(root.join("usr/lib/modules").join(release));
    }
    candidates.push(Path::new("/lib/modules").join(release));
    candidates.into_iter().find(|p| p.is_dir())
}

/// Backend option keys that must not reach the scratch run.
const DROPPED_BACKEND_KEYS: &[&str] = &[
    "mem-path",
    "prealloc",
    "prealloc-threads",
    "prealloc-context",
    "pmem",
];

/// The profile as booted: file backends on sparse scratch files in
/// `scratch` (created here), and nothing of the profile's own boot set-up.
pub fn scratch_profile(profile: &Profile, scratch: &Path) -> Result<Profile, VerifyError> {
    let mut p = profile.clone();
    p.kernel = None;
    p.initrd = None;
    p.append = None;
    p.disks.clear();
    // arm64 keeps its CPU and firmware: the GED that announces the
    // devices needs a 64-bit CPU and UEFI.
    p.extra_args = if p.arch == Arch::Aarch64 {
        p.extra_args
            .windows(2)
            .filter(|w| {
                let name = w[0].trim_start_matches('-');
                w[0].starts_with('-')
                    && (matches!(name, "cpu" | "bios" | "pflash")
                        || (name == "drive" && w[1].split(',').any(|o| o == "if=pflash")))
            })
            .flat_map(|w| w.iter().cloned())
            .collect()
    } else {
        Vec::new()
    };
    p.machine_options
        .retain(|o| option_key(o) != "accel" && option_key(o) != "nvdimm");
    for (i, d) in p.devices.iter_mut().enumerate() {
        d.backend_options
            .retain(|o| !DROPPED_BACKEND_KEYS.contains(&option_key(o)));
        if let Backend::File(_) = d.backend {
            d.backend = sparse_file(&scratch.join(format!("backing-{i}")), d.size.0)?;
            d.pmem = false;
        }
    }
    // CXL's backends (type-3 capacity, label storage) on scratch files too.
    if let Some(cxl) = p.cxl.as_mut() {
        for (i, m) in cxl.memories_mut().into_iter().enumerate() {
            if let Backend::File(_) = m.backend {
                m.backend = sparse_file(&scratch.join(format!("cxl-backing-{i}")), m.size.0)?;
            }
        }
    }
    Ok(p)
}

/// A sparse scratch file of `size` bytes at `path`, as a backend.
fn sparse_file(path: &Path, size: u64) -> Result<Backend, VerifyError> {
    File::create(path)
        .and_then(|f| f.set_len(size))
        .map_err(|source| VerifyError::Scratch {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(Backend::File(path.to_path_buf()))
}

/// `key` of `key=value` (or of a bare `key`).
fn option_key(option: &str) -> &str {
    option.split_once('=').map_or(option, |(k, _)| k).trim()
}

/// The full QEMU argv (without the program) for the scratch profile.
fn qemu_args(
    p: &Profile,
    qemu: &Path,
    kernel: &GuestKernel,
    initrd: &Path,
    accel: &str,
) -> Vec<OsString> {
    // In the running QEMU's words (CXL's memdev= or persistent-memdev=).
    let version = crate::qemu::discover::cached_version(qemu).ok();
    let mut args: Vec<OsString> = crate::core::cmdline::render_argv_for(p, version)
        .into_iter()
        .skip(1)
        .map(Into::into)
        .collect();
    for a in [
        "-nodefaults",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-no-reboot",
        "-accel",
        accel,
    ] {
        args.push(a.into());
    }
    args.extend(kernel.qemu_args(initrd, &guest_append(p.arch)));
    args
}

/// [`DEFAULT_APPEND`] with the arch's serial console; arm64 also asks for
/// ACPI (`acpi=force`), through which the NFIT describes the NVDIMMs.
pub fn guest_append(arch: Arch) -> String {
    match arch {
        Arch::X86_64 => DEFAULT_APPEND.to_string(),
        arch => format!(
            "{} acpi=force",
            DEFAULT_APPEND.replace("ttyS0", arch.serial_console())
        ),
    }
}

/// The kernel to boot: the cached PVH image when it can be made (a
/// failure only costs speed, and is noted), else the bzImage.
fn fast_kernel(
    kernel: &GuestKernel,
    cache: Option<PathBuf>,
    notes: &mut Vec<String>,
) -> GuestKernel {
    let Some(cache) = cache.or_else(default_cache_dir) else {
        return kernel.clone();
    };
    // One directory per kernel path, so two kernels both called
    // `vmlinuz` never share a cache entry.
    let key = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        fs::canonicalize(&kernel.vmlinuz)
            .unwrap_or_else(|_| kernel.vmlinuz.clone())
            .hash(&mut h);
        h.finish()
    };
    let dir = cache.join(format!("pvh-{key:016x}"));
    match kernel.clone().with_pvh_image(&dir) {
        Ok(k) => k,
        Err(e) => {
            notes.push(format!("booting the compressed kernel (slower): {e}"));
            kernel.clone()
        }
    }
}

/// [`verify_with_progress`] without progress reports.
pub fn verify(profile: &Profile, options: &VerifyOptions) -> Result<VerifyReport, VerifyError> {
    verify_with_progress(profile, options, |_| {})
}

/// Boots `profile` in a throwaway guest and compares what it saw with the
/// prediction. `progress` is called as each [`Stage`] begins.
pub fn verify_with_progress(
    profile: &Profile,
    options: &VerifyOptions,
    mut progress: impl FnMut(Stage),
) -> Result<VerifyReport, VerifyError> {
    let predicted = layout(profile, &HostFacts::default())?;
    let mut notes = Vec::new();

    progress(Stage::BuildingInitramfs);
    let scratch = crate::rundir::RunDir::for_scratch("verify")?;
    let guest_profile = scratch_profile(profile, scratch.path())?;
    let mut spec = InitramfsSpec::new(
        options.busybox.clone(),
        options.kernel.modules_dir.clone(),
        InitMode::Report,
    );
    if profile
        .devices
        .iter()
        .any(|d| d.kind == crate::core::profile::DimmKind::VirtioPmem)
    {
        spec.modules.extend(
            crate::guest::VIRTIO_PMEM_MODULES
                .iter()
                .map(|m| m.to_string()),
        );
    }
    if profile.cxl.is_some() {
        spec.modules
            .extend(crate::guest::CXL_MODULES.iter().map(|m| m.to_string()));
    }
    let initrd = scratch.path().join("initrd.cpio");
    let image = build_initramfs(&spec)?;
    fs::write(&initrd, image).map_err(|source| VerifyError::Scratch {
        path: initrd.clone(),
        source,
    })?;
    // PVH is x86's; other arches boot the image as it is.
    let kernel = if profile.arch == Arch::X86_64 {
        fast_kernel(&options.kernel, options.cache_dir.clone(), &mut notes)
    } else {
        options.kernel.clone()
    };
    if options.cancelled() {
        return Err(VerifyError::Cancelled);
    }

    progress(Stage::Booting);
    let accel = options.accel;
    let mut cmd = Command::new(&options.qemu);
    cmd.args(qemu_args(
        &guest_profile,
        &options.qemu,
        &kernel,
        &initrd,
        accel.name(),
    ));
    let vm = GuestVm::spawn(cmd)?;
    let mut began = false;
    let run = vm.wait_until(options.timeout, |vm| {
        if options.cancelled() {
            return ControlFlow::Break(());
        }
        if !began && vm.console().contains(REPORT_BEGIN) {
            began = true;
            progress(Stage::WaitingForReport);
        }
        ControlFlow::Continue(())
    })?;
    // Ctrl-C also reaches QEMU, which then exits on its own.
    if options.cancelled() {
        return Err(VerifyError::Cancelled);
    }
    let report = run.report;
    if !report.complete {
        let status = run.status.to_string();
        let stderr = run.stderr.trim_end().to_owned();
        return Err(if !report.begun && !run.status.success() {
            VerifyError::Refused { status, stderr }
        } else {
            VerifyError::Incomplete {
                status,
                stderr,
                console_tail: or_none(guest::runner::tail(&run.console)),
            }
        });
    }

    for m in report.modules.iter().filter(|m| !m.loaded) {
        notes.push(format!(
            "kernel module {} did not load: {}",
            m.name, m.detail
        ));
    }
    if options.kernel.modules_dir.is_none() && report.regions.is_empty() {
        notes.push(
            "no nvdimm regions and no modules given: if the kernel's nvdimm drivers are modules, \
             give --modules DIR"
                .into(),
        );
    }
    notes.extend(
        report
            .problems
            .iter()
            .map(|p| format!("unreadable report line: {p}")),
    );
    let comparison = compare(&predicted, &report);
    let cxl = profile
        .cxl
        .as_ref()
        .zip(predicted.cxl.as_ref())
        .map(|(c, l)| compare_cxl(c, l, &report));
    progress(Stage::Done);
    Ok(VerifyReport {
        all_match: comparison.all_match() && cxl.as_ref().is_none_or(|c| c.all_match()),
        dimms: comparison.dimms,
        unexpected: comparison.unexpected,
        cxl,
        kernel_warnings: report.kernel_warnings.clone(),
        notes,
        kernel_release: report.kernel_release.clone(),
        accel,
        boot_seconds: run.elapsed.as_secs_f64(),
        guest: report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cmdline::render_argv;
    use crate::core::profile::Dimm;
    use crate::core::size::Size;

    #[test]
    fn scratch_profile_never_touches_the_profiles_files() {
        let tmp = tempfile::tempdir().unwrap();
        let own = tmp.path().join("own");
        let scratch = tmp.path().join("scratch");
        fs::create_dir(&scratch).unwrap();
        let mut p = Profile::seed(&own);
        p.kernel = Some(own.join("vmlinuz"));
        p.disks.push(own.join("disk.qcow2"));
        p.extra_args = vec!["-netdev".into(), "user,id=n".into()];
        p.machine_options = vec!["accel=kvm".into(), "usb=off".into()];
        p.devices[0].pmem = true;
        p.devices[0].backend_options = vec![
            "prealloc=on".into(),
            "mem-path=/elsewhere".into(),
            "x-use-canonical-path-for-ramblock-id=off".into(),
        ];
        p.devices.push(Dimm::pc_dimm(3, Size::gib(1)));
        let g = scratch_profile(&p, &scratch).unwrap();
        assert!(!own.exists(), "the profile's directory was created");
        let argv = render_argv(&g).join(" ");
        assert!(!argv.contains(own.to_str().unwrap()), "{argv}");
        assert!(
            !argv.contains("prealloc") && !argv.contains("/elsewhere"),
            "{argv}"
        );
        assert!(
            !argv.contains("pmem=on") && !argv.contains("accel"),
            "{argv}"
        );
        assert!(
            argv.contains("usb=off") && argv.contains("x-use-canonical"),
            "{argv}"
        );
        assert!(
            !argv.contains("-netdev") && !argv.contains("-kernel"),
            "{argv}"
        );
        for (i, d) in g.devices.iter().take(2).enumerate() {
            let path = d.backend.path().unwrap();
            assert_eq!(path, scratch.join(format!("backing-{i}")));
            let meta = fs::metadata(path).unwrap();
            assert_eq!(meta.len(), 17 << 30);
            // Sparse: nothing allocated for 17 GiB.
            use std::os::unix::fs::MetadataExt;
            assert!(meta.blocks() < 64, "{} blocks", meta.blocks());
        }
        assert_eq!(g.devices[2].backend, Backend::Ram);
    }

    #[test]
    fn modules_are_found_beside_an_unpacked_kernel() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        fs::create_dir_all(d.join("boot")).unwrap();
        fs::create_dir_all(d.join("lib/modules/9.9.9-test")).unwrap();
        let vmlinuz = d.join("boot/vmlinuz-9.9.9-test");
        fs::write(&vmlinuz, b"k").unwrap();
        let k = find_kernel(Some(&vmlinuz), None).unwrap();
        assert_eq!(k.modules_dir, Some(d.join("lib/modules/9.9.9-test")));
        let other = d.join("mods");
        fs::create_dir(&other).unwrap();
        let k = find_kernel(Some(&vmlinuz), Some(&other)).unwrap();
        assert_eq!(k.modules_dir, Some(other));
        let err = find_kernel(Some(&d.join("nope")), None).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn an_unknown_machine_fails_before_anything_runs() {
        let mut p = Profile::seed(Path::new("/nonexistent"));
        p.machine = "virt".into();
        let opts = VerifyOptions::new(
            "/nonexistent/qemu".into(),
            GuestKernel {
                vmlinuz: "/nonexistent/vmlinuz".into(),
                modules_dir: None,
                release: None,
            },
            "/nonexistent/busybox".into(),
        );
        let mut stages = Vec::new();
        let err = verify_with_progress(&p, &opts, |s| stages.push(s)).unwrap_err();
        assert!(matches!(err, VerifyError::Layout(_)), "{err}");
        assert!(stages.is_empty());
    }

    #[test]
    fn a_missing_busybox_is_named() {
        let p = Profile::seed(Path::new("/nonexistent"));
        let opts = VerifyOptions::new(
            "/nonexistent/qemu".into(),
            GuestKernel {
                vmlinuz: "/nonexistent/vmlinuz".into(),
                modules_dir: None,
                release: None,
            },
            "/nonexistent/busybox".into(),
        );
        let err = verify(&p, &opts).unwrap_err().to_string();
        assert!(
            err.contains("/nonexistent/busybox") && err.contains("busybox-static"),
            "{err}"
        );
    }
}
