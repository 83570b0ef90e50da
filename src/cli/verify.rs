//! `qpmem verify`: boot a throwaway guest on scratch files and compare what
//! its kernel saw with the prediction.

use super::common::{load, out, qemu_binary, Failure, Outcome, QemuArgs, SourceArgs};
use clap::{Args, ValueEnum};
use qpmem::core::size::format_qemu;
use qpmem::verify::{
    find_busybox_for, find_kernel_for, verify_with_progress, Accel, Stage, VerifyError,
    VerifyOptions,
};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub qemu: QemuArgs,
    /// Guest kernel image (bzImage; an arm64 Image for arch aarch64);
    /// default: /boot/vmlinuz-$(uname -r), else the Debian kernel unpacked in
    /// $QPMEM_GUEST_KERNEL_DIR; for aarch64 the one in target/guest-kernel-arm64
    /// (scripts/fetch-guest-kernel.sh DIR arm64).
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// The kernel's /lib/modules/<release> directory (for the nvdimm modules).
    #[arg(long, value_name = "DIR")]
    pub modules: Option<PathBuf>,
    /// A statically linked busybox; default: `busybox` on PATH (for aarch64:
    /// bin/busybox beside the arm64 kernel's boot/).
    #[arg(long, value_name = "PATH")]
    pub busybox: Option<PathBuf>,
    /// Seconds the guest gets to boot and report before QEMU is killed.
    #[arg(long, value_name = "SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
    /// Accelerator: software emulation (tcg), or kvm where it works well.
    #[arg(long, value_enum, default_value = "tcg")]
    pub accel: AccelArg,
    /// JSON output (addresses and sizes in bytes).
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum AccelArg {
    Tcg,
    Kvm,
}

pub fn run(a: VerifyArgs) -> Outcome {
    let loaded = load(&a.source)?;
    let qemu = qemu_binary(&a.qemu, &loaded.profile)?;
    let arch = loaded.profile.arch;
    let kernel = find_kernel_for(arch, a.kernel.as_deref(), a.modules.as_deref())?;
    let busybox = match a.busybox {
        Some(b) => b,
        None => find_busybox_for(arch, &kernel)?,
    };
    // Ctrl-C, TERM or HUP sets the flag; the run then kills QEMU, removes
    // its scratch directory and returns.
    let cancel = super::common::cancel_on_signals()?;
    let mut options = VerifyOptions::new(qemu, kernel, busybox);
    options.timeout = Duration::from_secs(a.timeout);
    options.accel = match a.accel {
        AccelArg::Kvm => Accel::Kvm,
        AccelArg::Tcg => Accel::Tcg,
    };
    options.cancel = Some(cancel);

    let chatty = !a.json && std::io::stderr().is_terminal();
    let result = verify_with_progress(&loaded.profile, &options, |stage| {
        if chatty && stage != Stage::Done {
            eprintln!("qpmem: {}…", stage.label());
        }
    });
    let report = match result {
        Ok(r) => r,
        Err(VerifyError::Cancelled) => {
            return Err(Failure {
                code: 2,
                message: "interrupted; QEMU was stopped".into(),
            })
        }
        Err(e) => return Err(e.into()),
    };

    let text = if a.json {
        let mut t = serde_json::to_string_pretty(&report)?;
        t.push('\n');
        t
    } else {
        table(&report)
    };
    out(&text)?;
    Ok(if report.all_match {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn table(r: &qpmem::verify::VerifyReport) -> String {
    let hex = |v: Option<u64>| v.map_or("-".to_string(), |v| format!("{v:#x}"));
    let size = |v: Option<u64>| v.map_or("-".to_string(), format_qemu);
    // A CXL-only profile has no DIMM table.
    let mut t = if r.dimms.is_empty() && r.cxl.is_some() {
        String::new()
    } else {
        format!(
            "{:<10} {:<14} {:>10}  {:<14} {:>10}  {:<8} RESULT\n",
            "ID", "PREDICTED", "SIZE", "GUEST", "SIZE", "REGION"
        )
    };
    for d in &r.dimms {
        t.push_str(&format!(
            "{:<10} {:<14} {:>10}  {:<14} {:>10}  {:<8} {}\n",
            d.id,
            hex(d.addr),
            size(d.size),
            hex(d.guest_addr),
            size(d.guest_size),
            d.region.as_deref().unwrap_or("-"),
            d.verdict.label()
        ));
    }
    for u in &r.unexpected {
        t.push_str(&format!(
            "{:<10} {:<14} {:>10}  {:<14} {:>10}  {:<8} UNEXPECTED\n",
            "?",
            "-",
            "-",
            format!("{:#x}", u.addr),
            format_qemu(u.size),
            "-"
        ));
    }
    if let Some(c) = &r.cxl {
        t.push_str(&format!(
            "{}{:<10} {:<14} {:>10}  {:<14} {:>10}  {:<11} RESULT\n",
            if t.is_empty() { "" } else { "\n" },
            "CXL",
            "PREDICTED",
            "SIZE",
            "GUEST",
            "SIZE",
            "DECODER"
        ));
        for w in &c.windows {
            t.push_str(&format!(
                "{:<10} {:<14} {:>10}  {:<14} {:>10}  {:<11} {}\n",
                format!("window {}", w.index),
                format!("{:#x}", w.base),
                format_qemu(w.size),
                hex(w.guest_base),
                size(w.guest_size),
                w.decoder.as_deref().unwrap_or("-"),
                w.verdict.label()
            ));
        }
        for u in &c.unexpected {
            t.push_str(&format!(
                "{:<10} {:<14} {:>10}  {:<14} {:>10}  {:<11} UNEXPECTED\n",
                "window ?",
                "-",
                "-",
                format!("{:#x}", u.addr),
                format_qemu(u.size),
                "-"
            ));
        }
        // Type-3 devices: a memdev of their pmem size below their host
        // bridge's root bus.
        for m in &c.memdevs {
            let found = m.memdev.is_some();
            t.push_str(&format!(
                "{:<10} {:<14} {:>10}  {:<14} {:>10}  {:<11} {}\n",
                m.id,
                format!("pci0000:{:02x}", m.bus_nr),
                format_qemu(m.pmem_size),
                m.memdev.as_deref().unwrap_or("-"),
                if found {
                    format_qemu(m.pmem_size)
                } else {
                    "-".into()
                },
                "-",
                m.verdict.label()
            ));
        }
    }
    if !r.kernel_warnings.is_empty() {
        t.push_str("\nkernel warnings:\n");
        for w in &r.kernel_warnings {
            t.push_str(&format!("  {w}\n"));
        }
    }
    for n in &r.notes {
        t.push_str(&format!("note: {n}\n"));
    }
    t.push_str(&format!(
        "\nguest kernel {} ({}), {:.1} s\n",
        r.kernel_release.as_deref().unwrap_or("?"),
        r.accel.name(),
        r.boot_seconds
    ));
    t.push_str(if r.all_match {
        "The guest saw every device where qpmem predicted.\n"
    } else {
        "The guest's view DIFFERS from qpmem's prediction.\n"
    });
    t
}
