//! Rules about booting the guest: what the kernel command line must say
//! for the guest's messages to reach the console qpmem shows.

use super::{Basis, Context, Edit, Finding, Fix, Rule, Severity};
use crate::core::profile::{Arch, Profile};

pub static KERNEL_CONSOLE_MISSING: Rule = Rule {
    code: "QP500",
    name: "kernel-console-missing",
    severity: Severity::Warning,
    basis: Basis::Surprise,
    docs: "A kernel is set (`kernel`, QEMU's -kernel) but its command line (`append`) has no \
`console=ttyS0`. qpmem's console (the launch view, `qpmem launch`) is the guest's first \
serial port; without `console=ttyS0` an x86 Linux kernel writes its messages to the VGA \
console, which `-display none` shows nowhere, so the console stays blank until a login \
prompt (if any) appears on the serial port. On arm64 `virt` the first serial port is the \
PL011, `console=ttyAMA0`. The fix adds the arch's console to `append`.",
    check: kernel_console_missing,
};

/// The console the first serial port is on Linux, for the profile's arch.
fn serial_console(arch: Arch) -> &'static str {
    arch.serial_console()
}

/// Does `append` send the kernel's console to `tty` (`console=ttyS0`,
/// `console=ttyS0,115200n8`)?
fn has_console(append: &str, tty: &str) -> bool {
    append.split_ascii_whitespace().any(|w| {
        w.strip_prefix("console=")
            .and_then(|v| v.strip_prefix(tty))
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(','))
    })
}

fn kernel_console_missing(ctx: &Context) -> Vec<Finding> {
    let p: &Profile = ctx.profile;
    if p.kernel.is_none() {
        return Vec::new();
    }
    let tty = serial_console(p.arch);
    let append = p.append.as_deref().unwrap_or("");
    if has_console(append, tty) {
        return Vec::new();
    }
    let arg = format!("console={tty}");
    let message = if append.trim().is_empty() {
        format!("a kernel is set but no append: the guest's messages never reach qpmem's console (the serial port, {tty})")
    } else {
        format!("append has no {arg}: the guest's messages never reach qpmem's console (the serial port, {tty})")
    };
    vec![Finding::fixed(
        None,
        message,
        Fix::one(format!("add {arg} to append"), Edit::AddKernelArg { arg }),
        None,
    )]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{fix_all, Applicability};
    use crate::core::facts::HostFacts;

    #[test]
    fn arm64_wants_the_pl011_console() {
        let mut p = seed(None);
        p.make_aarch64();
        p.kernel = Some("/boot/Image".into());
        p.append = Some("console=ttyS0".into());
        let ds = run(&p);
        let w = only(&ds, "QP500");
        assert_eq!(w[0].help.as_deref(), Some("add console=ttyAMA0 to append"));
    }

    #[test]
    fn a_kernel_without_a_serial_console_is_fixed_by_adding_it() {
        let mut p = seed(None);
        assert!(only(&run(&p), "QP500").is_empty(), "no kernel, no finding");
        p.kernel = Some("/boot/vmlinuz".into());
        let ds = run(&p);
        let w = only(&ds, "QP500");
        assert_eq!(w.len(), 1);
        assert!(
            w[0].message.starts_with("a kernel is set but no append"),
            "{}",
            w[0].message
        );
        let fix = w[0].fix.as_ref().unwrap();
        assert_eq!(fix.applicability, Applicability::MachineApplicable);
        assert_eq!(w[0].help.as_deref(), Some("add console=ttyS0 to append"));

        p.append = Some("root=/dev/vda quiet".into());
        let mut fixed = p.clone();
        assert!(fix.apply(&mut fixed));
        assert_eq!(
            fixed.append.as_deref(),
            Some("root=/dev/vda quiet console=ttyS0")
        );
        assert!(only(&run(&fixed), "QP500").is_empty());
        // Applying it again adds nothing.
        assert!(fix.apply(&mut fixed));
        assert_eq!(
            fixed.append.as_deref(),
            Some("root=/dev/vda quiet console=ttyS0")
        );

        let mut all = p.clone();
        fix_all(&mut all, &[], &HostFacts::default());
        assert!(all.append.as_deref().unwrap().ends_with(" console=ttyS0"));
    }

    #[test]
    fn any_serial_console_spelling_counts_and_lookalikes_do_not() {
        let mut p = seed(None);
        p.kernel = Some("/k".into());
        for ok in [
            "console=ttyS0",
            "quiet console=ttyS0,115200n8",
            "console=tty0 console=ttyS0",
        ] {
            p.append = Some(ok.into());
            assert!(only(&run(&p), "QP500").is_empty(), "{ok}");
        }
        for bad in [
            "console=ttyS1",
            "console=ttyS01",
            "xconsole=ttyS0",
            "console=tty0",
        ] {
            p.append = Some(bad.into());
            assert_eq!(only(&run(&p), "QP500").len(), 1, "{bad}");
        }
    }
}
