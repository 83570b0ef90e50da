//! Rules for arm64 guests on QEMU's `virt` machine (hw/arm/virt.c): the
//! Generic Event Device that memory devices need (firmware, a 64-bit CPU,
//! machine type 4.2+), the QEMU release, the physical address bits of the
//! CPU, the guest's page size, and a machine of the wrong architecture.
//! Each was measured on QEMU 7.2 (`tests/check_vs_qemu_arm.rs` holds the
//! errors against the real binary).

use super::{Basis, Context, Edit, Finding, Fix, Rule, Severity};
use crate::core::arch::Arch;
use crate::core::layout::device_memory_region;
use crate::core::profile::{MachineFamily, Profile};
use crate::core::qemu::caps::machine_version;
use crate::core::qemu::QemuVersion;
use crate::core::size::{align_up, format_human, format_qemu, GIB, KIB};

/// Is this an aarch64 profile on `virt` with memory devices?
fn virt_with_devices(p: &Profile) -> bool {
    p.arch == Arch::Aarch64
        && p.machine_family() == Some(MachineFamily::Virt)
        && !p.devices.is_empty()
}

fn first_device(p: &Profile) -> Option<&str> {
    p.devices.first().map(|d| d.id.as_str())
}

pub static NO_FIRMWARE: Rule = Rule {
    code: "QP600",
    name: "arm-no-firmware",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "On arm64 `virt` memory devices are announced to the guest by the ACPI Generic \
Event Device (GED), and QEMU creates the GED only when firmware is loaded (hw/arm/virt.c: \
`firmware_loaded && virt_is_acpi_enabled`). Without -bios or a pflash drive QEMU refuses \
every NVDIMM and pc-dimm: \"memory hotplug is not enabled: missing acpi-ged device\" \
(measured on QEMU 7.2). The fix adds `-bios` with the distribution's UEFI build \
(Debian/Ubuntu: qemu-efi-aarch64, /usr/share/qemu-efi-aarch64/QEMU_EFI.fd; Fedora: \
edk2-aarch64, /usr/share/edk2/aarch64/QEMU_EFI.fd) when one is installed.",
    check: no_firmware,
};

fn no_firmware(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    if !virt_with_devices(p) || p.has_firmware() {
        return Vec::new();
    }
    let message = format!(
        "no firmware (-bios or pflash): QEMU creates no ACPI GED without it and refuses the {} memory device(s) (\"memory hotplug is not enabled: missing acpi-ged device\")",
        p.devices.len()
    );
    match &ctx.host.firmware {
        Some(path) => {
            let path = path.to_string_lossy().into_owned();
            vec![Finding::fixed(
                first_device(p),
                message,
                Fix::one(
                    format!("add -bios {path}"),
                    Edit::AddArgs {
                        args: vec!["-bios".into(), path],
                    },
                ),
                None,
            )]
        }
        None => vec![Finding::about(
            first_device(p),
            message,
            Some(
                "install UEFI firmware (apt-get install qemu-efi-aarch64, dnf install edk2-aarch64) and add -bios with its QEMU_EFI.fd"
                    .into(),
            ),
        )],
    }
}

/// 32-bit CPU models `qemu-system-aarch64` offers (`-cpu help`): these
/// by name, and every `arm*`, `cortex-m*`, `cortex-r*`, `pxa*`, `sa1*`.
const CPUS_32_BIT: &[&str] = &[
    "cortex-a7",
    "cortex-a8",
    "cortex-a9",
    "cortex-a15",
    "ti925t",
];
const CPU_FAMILIES_32_BIT: &[&str] = &["arm", "cortex-m", "cortex-r", "pxa", "sa1"];

/// The CPU the machine gets: `-cpu`'s model, else virt's default.
fn cpu_of(p: &Profile) -> &str {
    p.cpu_model().unwrap_or(VIRT_DEFAULT_CPU)
}

/// `virt`'s default CPU (`mc->default_cpu_type`): a 32-bit Cortex-A15.
pub const VIRT_DEFAULT_CPU: &str = "cortex-a15";

fn is_32_bit(cpu: &str) -> bool {
    CPUS_32_BIT.contains(&cpu) || CPU_FAMILIES_32_BIT.iter().any(|f| cpu.starts_with(f))
}

pub static CPU_NOT_64_BIT: Rule = Rule {
    code: "QP601",
    name: "arm-cpu-not-64-bit",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "QEMU creates the ACPI GED that memory devices need only for a 64-bit CPU. `virt`'s \
default CPU is the 32-bit cortex-a15, so without -cpu (or with another 32-bit model: \
cortex-a7, -a8, -a9, -a15, the arm* and cortex-m/-r ones) QEMU refuses every memory device: \
\"memory hotplug is not enabled: missing acpi-ged device\" (measured on QEMU 7.2). The fix \
adds -cpu max (every feature TCG emulates, 52 physical address bits); under KVM -cpu host \
is the usual choice.",
    check: cpu_not_64_bit,
};

fn cpu_not_64_bit(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    if !virt_with_devices(p) {
        return Vec::new();
    }
    let cpu = cpu_of(p);
    if !is_32_bit(cpu) {
        return Vec::new();
    }
    let what = if p.cpu_model().is_none() {
        format!("no -cpu: virt's default CPU, {VIRT_DEFAULT_CPU}, is 32-bit")
    } else {
        format!("-cpu {cpu} is a 32-bit CPU")
    };
    let message = format!(
        "{what}, and QEMU creates the ACPI GED only for a 64-bit one: it refuses the memory devices (\"missing acpi-ged device\")"
    );
    if p.cpu_model().is_none() {
        vec![Finding::fixed(
            first_device(p),
            message,
            Fix::one(
                "add -cpu max",
                Edit::AddArgs {
                    args: vec!["-cpu".into(), "max".into()],
                },
            ),
            Some("or -cpu host under KVM"),
        )]
    } else {
        vec![Finding::about(
            first_device(p),
            message,
            Some("use a 64-bit CPU: -cpu max (or cortex-a57, cortex-a72, neoverse-n1; -cpu host under KVM)".into()),
        )]
    }
}

/// The first `virt` machine type with the GED (`virt_machine_4_1_options`
/// sets `no_ged`).
pub const GED_MACHINES: QemuVersion = QemuVersion::new(4, 2, 0);

pub static MACHINE_WITHOUT_GED: Rule = Rule {
    code: "QP602",
    name: "arm-machine-without-ged",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "Machine types up to virt-4.1 have no ACPI Generic Event Device (QEMU keeps their \
guest ABI), so memory devices cannot be announced: QEMU refuses them, \"memory hotplug is \
not enabled: missing acpi-ged device\" (measured on QEMU 7.2: virt-4.1 refused, virt-4.2 \
accepted).",
    check: machine_without_ged,
};

fn machine_without_ged(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    if !virt_with_devices(p) {
        return Vec::new();
    }
    let Some(v) = machine_version(&p.machine) else {
        return Vec::new();
    };
    if v >= GED_MACHINES {
        return Vec::new();
    }
    vec![Finding::about(
        first_device(p),
        format!(
            "machine type {} has no ACPI GED (virt-4.2 and later have it): QEMU refuses the memory devices",
            p.machine
        ),
        Some("use machine virt (or virt-4.2 or later)".into()),
    )]
}

/// The first QEMU with NVDIMMs on arm `virt`.
pub const VIRT_NVDIMM: QemuVersion = QemuVersion::new(5, 1, 0);

pub static QEMU_TOO_OLD: Rule = Rule {
    code: "QP603",
    name: "arm-qemu-too-old",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "QEMU supports NVDIMMs on arm64 `virt` since 5.1 (ACPI NFIT through the GED) and \
memory devices at all since 4.2 (the GED). An older qemu-system-aarch64 refuses them \
(`nvdimm=` is no property of its virt machine).",
    check: qemu_too_old,
};

fn qemu_too_old(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    let Some(v) = ctx.qemu_version() else {
        return Vec::new();
    };
    if !virt_with_devices(p) {
        return Vec::new();
    }
    let nvdimms: Vec<&str> = p
        .devices
        .iter()
        .filter(|d| d.is_nvdimm())
        .map(|d| d.id.as_str())
        .collect();
    let (need, what) = if v < GED_MACHINES {
        (GED_MACHINES, "memory devices")
    } else if v < VIRT_NVDIMM && !nvdimms.is_empty() {
        (VIRT_NVDIMM, "NVDIMMs")
    } else {
        return Vec::new();
    };
    vec![Finding::about(
        first_device(p),
        format!(
            "QEMU {v} has no {what} on arm virt (since {}.{})",
            need.major, need.minor
        ),
        Some(format!(
            "use qemu-system-aarch64 {}.{} or later",
            need.major, need.minor
        )),
    )]
}

/// Physical address bits of the CPU models under TCG, measured on QEMU
/// 7.2 ("Addressing limited to N bits"): `-cpu max` 52, neoverse-n1 48,
/// cortex-a57 and -a72 44, the rest 40.
pub fn tcg_pa_bits(cpu: &str) -> Option<u32> {
    Some(match cpu {
        "max" => 52,
        "neoverse-n1" => 48,
        "cortex-a57" | "cortex-a72" => 44,
        "cortex-a35" | "cortex-a53" | "cortex-a76" | "a64fx" => 40,
        c if is_32_bit(c) => 40,
        _ => return None,
    })
}

/// `virt_set_memmap`'s top of memory: the device memory region's base
/// plus its size rounded up to 1 GiB (or RAM's end without one).
pub fn memtop(ram: u64, maxmem: u64, slots: u32) -> Option<u64> {
    match device_memory_region(MachineFamily::Virt, ram, maxmem, slots) {
        Some(r) => r.base.checked_add(align_up(r.size, GIB)?),
        None => align_up(GIB.checked_add(ram)?, GIB),
    }
}

fn under_kvm(p: &Profile) -> bool {
    p.machine_options.iter().any(|o| o.starts_with("accel=kvm"))
        || p.extra_args
            .iter()
            .any(|a| a == "-enable-kvm" || a == "--enable-kvm" || a.starts_with("kvm"))
}

pub static ADDRESS_BITS: Rule = Rule {
    code: "QP604",
    name: "arm-address-bits",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "The top of `virt`'s memory, the device memory region's base (ROUND_UP(1 GiB + \
RAM, 1 GiB)) plus its size (maxmem - RAM + 1 GiB per slot) rounded up to 1 GiB, must fit \
the CPU's physical address bits (IPA size). QEMU 7.2 refuses otherwise: \"Addressing \
limited to N bits, but memory exceeds it by M bytes\". Measured under TCG: -cpu max 52 \
bits, neoverse-n1 48, cortex-a57/-a72 44, cortex-a35/-a53/-a76, a64fx and the 32-bit \
models 40; with `highmem=off` 32 bits. Under KVM the host's IPA limit applies, which \
qpmem does not know, so KVM and -cpu host are not judged.",
    check: address_bits,
};

fn address_bits(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    if p.arch != Arch::Aarch64 || p.machine_family() != Some(MachineFamily::Virt) {
        return Vec::new();
    }
    let highmem_off = p
        .machine_options
        .iter()
        .any(|o| matches!(o.as_str(), "highmem=off" | "highmem=no" | "highmem=false"));
    let cpu = cpu_of(p);
    let bits = if highmem_off {
        32
    } else if under_kvm(p) {
        return Vec::new();
    } else {
        match tcg_pa_bits(cpu) {
            Some(b) => b,
            None => return Vec::new(),
        }
    };
    let maxmem = p.effective_maxmem();
    let slots = if p.memory_hotplug() {
        p.effective_slots()
    } else {
        0
    };
    let limit = 1u64 << bits;
    let top = memtop(p.ram.0, maxmem.max(p.ram.0), slots);
    if top.is_some_and(|t| t <= limit) {
        return Vec::new();
    }
    let why = if highmem_off {
        "highmem=off".to_string()
    } else if p.cpu_model().is_none() {
        format!("virt's default CPU ({cpu})")
    } else {
        format!("-cpu {cpu}")
    };
    let over = top.map_or("more than 2^64".into(), |t| format_human(t - limit));
    vec![Finding::about(
        None,
        format!(
            "memory reaches {} ({} RAM from 1 GiB, maxmem={}, slots={slots}), beyond the {bits} physical address bits of {why} by {over} (QEMU: \"Addressing limited to {bits} bits\")",
            top.map_or("past 2^64".into(), |t| format!("{t:#x}")),
            format_human(p.ram.0),
            format_qemu(maxmem),
        ),
        Some(if highmem_off {
            "remove highmem=off, or lower maxmem or slots".into()
        } else {
            "lower maxmem or slots, or use a CPU with more address bits (-cpu max has 52)".into()
        }),
    )]
}

pub static GUEST_PAGE_SIZE: Rule = Rule {
    code: "QP605",
    name: "guest-page-size",
    severity: Severity::Error,
    basis: Basis::Unpredictable,
    docs: "`guest_page_size` must be one the architecture's Linux builds: 4K on x86_64; \
4K, 16K or 64K on arm64. Linux's memory section size follows it (arm64: 128 MiB with 4K \
and 16K pages, 512 MiB with 64K pages), and the map's section boundaries with it.",
    check: guest_page_size,
};

fn guest_page_size(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    let Some(size) = p.guest_page_size else {
        return Vec::new();
    };
    if p.arch.section_size(size.0).is_some() {
        return Vec::new();
    }
    let sizes: Vec<String> = p
        .arch
        .page_sizes()
        .iter()
        .map(|s| format!("{}K", s / KIB))
        .collect();
    vec![Finding::about(
        None,
        format!(
            "guest_page_size {} is no page size of {} Linux",
            format_qemu(size.0),
            p.arch.name()
        ),
        Some(format!("use one of {}", sizes.join(", "))),
    )]
}

pub static MACHINE_ARCH_MISMATCH: Rule = Rule {
    code: "QP606",
    name: "machine-arch-mismatch",
    severity: Severity::Error,
    basis: Basis::QemuRefuses,
    docs: "The machine type belongs to another architecture than the profile's `arch` (`virt` \
is arm64's, pc and q35 are x86_64's): the profile's QEMU binary has no such machine and \
refuses it (\"unsupported machine type\").",
    check: machine_arch_mismatch,
};

fn machine_arch_mismatch(ctx: &Context) -> Vec<Finding> {
    let p = ctx.profile;
    let Some(family) = p.machine_family() else {
        return Vec::new();
    };
    let arch = family.spec().arch();
    if arch == p.arch {
        return Vec::new();
    }
    vec![Finding::about(
        None,
        format!(
            "machine type '{}' is an {} machine, but the profile's arch is {} ({} has no such machine)",
            p.machine,
            arch.name(),
            p.arch.name(),
            p.arch.qemu_binary()
        ),
        Some(format!(
            "set arch: {}, or pick a machine of {}",
            arch.name(),
            p.arch.name()
        )),
    )]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::core::facts::HostFacts;
    use crate::core::profile::{Auto, Dimm};
    use crate::core::size::{Size, MIB};

    fn arm() -> Profile {
        let mut p = Profile::empty("arm");
        p.make_aarch64();
        p.extra_args
            .extend(["-bios".to_string(), "/fw/QEMU_EFI.fd".to_string()]);
        p.ram = Size::gib(1);
        p.slots = Auto::Fixed(4);
        p.maxmem = Auto::Fixed(Size::gib(8));
        p.devices = vec![Dimm::nvdimm(1, "/vms/a".into(), Size::gib(1))];
        p
    }

    fn errors(p: &Profile) -> Vec<&'static str> {
        run(p)
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.code)
            .collect()
    }

    #[test]
    fn a_complete_arm_profile_is_clean() {
        assert_eq!(errors(&arm()), Vec::<&str>::new());
    }

    #[test]
    fn firmware_is_added_from_what_the_host_has() {
        let mut p = arm();
        p.extra_args.truncate(2);
        assert_eq!(errors(&p), ["QP600"]);
        let host = HostFacts {
            firmware: Some("/usr/share/qemu-efi-aarch64/QEMU_EFI.fd".into()),
            ..HostFacts::default()
        };
        let ds = run_with(&p, &[], &host, None);
        let fix = only(&ds, "QP600")[0].fix.clone().unwrap();
        assert!(fix.is_unattended());
        assert!(fix.apply(&mut p));
        assert!(p.has_firmware());
        assert_eq!(errors(&p), Vec::<&str>::new());
        // A pflash drive is firmware too.
        p.extra_args.truncate(2);
        p.extra_args.extend([
            "-drive".to_string(),
            "if=pflash,format=raw,file=/fw/AAVMF_CODE.fd".to_string(),
        ]);
        assert_eq!(errors(&p), Vec::<&str>::new());
    }

    #[test]
    fn the_default_cpu_is_32_bit() {
        let mut p = arm();
        p.extra_args.drain(0..2);
        let ds = run(&p);
        let d = only(&ds, "QP601");
        assert!(d[0].message.contains("cortex-a15"), "{}", d[0].message);
        assert!(d[0].fix.as_ref().unwrap().apply(&mut p));
        assert_eq!(p.cpu_model(), Some("max"));
        p.extra_args = vec![
            "-cpu".into(),
            "cortex-a53".into(),
            "-bios".into(),
            "x".into(),
        ];
        assert!(only(&run(&p), "QP601").is_empty());
        p.extra_args[1] = "cortex-a9".into();
        assert!(only(&run(&p), "QP601")[0].fix.is_none());
        for cpu in ["cortex-a72", "cortex-a76", "cortex-a57", "max", "host"] {
            p.extra_args[1] = cpu.into();
            assert!(only(&run(&p), "QP601").is_empty(), "{cpu}");
        }
    }

    #[test]
    fn old_machine_types_and_old_qemu() {
        let mut p = arm();
        p.machine = "virt-4.1".into();
        assert_eq!(errors(&p), ["QP602"]);
        p.machine = "virt-4.2".into();
        assert_eq!(errors(&p), Vec::<&str>::new());
        p.machine = "virt".into();
        let at = |p: &Profile, major, minor| {
            let v = Some(QemuVersion::new(major, minor, 0));
            only(&run_with(p, &[], &HostFacts::default(), v), "QP603").len()
        };
        assert_eq!(at(&p, 5, 0), 1);
        assert_eq!(at(&p, 5, 1), 0);
        p.devices = vec![Dimm::pc_dimm(1, Size::gib(1))];
        assert_eq!(at(&p, 5, 0), 0);
        assert_eq!(at(&p, 4, 1), 1);
    }

    #[test]
    fn address_bits_measured_on_qemu_7_2() {
        // -m 1G,slots=4 with -cpu a64fx: maxmem=1000G accepted, 1020G
        // refused ("exceeds it by 1073741824 bytes"); cortex-a57
        // accepts 16000G; highmem=off refuses maxmem=2G with 4 slots.
        let case = |cpu: &str, maxmem: Size, opts: &[&str]| {
            let mut p = arm();
            p.extra_args[1] = cpu.into();
            p.maxmem = Auto::Fixed(maxmem);
            p.machine_options = opts.iter().map(|s| s.to_string()).collect();
            only(&run(&p), "QP604").first().map(|d| d.message.clone())
        };
        assert_eq!(case("a64fx", Size::gib(1000), &[]), None);
        let m = case("a64fx", Size::gib(1020), &[]).unwrap();
        assert!(
            m.contains("40 physical address bits") && m.contains("by 1 GiB"),
            "{m}"
        );
        assert_eq!(case("cortex-a57", Size::gib(16000), &[]), None);
        assert!(case("cortex-a57", Size::gib(250000), &[]).is_some());
        assert_eq!(case("max", Size::gib(300 * 1024), &[]), None);
        assert!(case("max", Size::gib(2), &["highmem=off"]).is_some());
        assert_eq!(memtop(GIB, 2 * GIB, 1), Some(4 * GIB));
        let mut p = arm();
        p.slots = Auto::Fixed(1);
        p.maxmem = Auto::Fixed(Size::gib(2));
        p.devices[0].size = Size::mib(512);
        p.machine_options = vec!["highmem=off".into()];
        assert!(only(&run(&p), "QP604").is_empty());
        assert_eq!(memtop(GIB, GIB, 0), Some(2 * GIB));
        assert_eq!(memtop(GIB + MIB, GIB, 0), Some(3 * GIB));
    }

    #[test]
    fn page_sizes_and_arch_mismatch() {
        let mut p = arm();
        p.guest_page_size = Some(Size(64 * KIB));
        assert!(only(&run(&p), "QP605").is_empty());
        p.guest_page_size = Some(Size(8 * KIB));
        assert!(only(&run(&p), "QP605")[0].message.contains("8K"));
        let mut x = seed(None);
        x.machine = "virt".into();
        assert!(only(&run(&x), "QP606")[0]
            .message
            .contains("aarch64 machine"));
        let mut a = arm();
        a.machine = "q35".into();
        assert_eq!(only(&run(&a), "QP606").len(), 1);
    }
}
