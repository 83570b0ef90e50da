//! Property tests for the diagnostics: no profile, however extreme
//! (sizes near 2^64, zero slots, duplicate or invalid ids, addresses
//! anywhere), makes `check` or `fix_all` panic, every placement failure
//! becomes an error diagnostic on its device, and applying every fix
//! reaches a profile with nothing left to fix.

mod common;

use proptest::prelude::*;
use qpmem::core::diagnose::{check_profile, fix_all, Fix, Severity};
use qpmem::core::facts::HostFacts;
use qpmem::core::facts::QemuStatus;
use qpmem::core::layout::layout;
use qpmem::core::profile::{Addr, Auto, Backend, Dimm, Profile};
use qpmem::core::qemu::QemuVersion;
use qpmem::core::size::Size;

fn config() -> ProptestConfig {
    common::proptest_config(256)
}

/// Byte counts from 0 to 2^64 - 1, with the interesting ones likely.
fn bytes() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        Just(1 << 40),
        (0u64..64).prop_map(|m| m << 20),
        (0u64..64).prop_map(|g| g << 30),
        any::<u64>(),
    ]
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("nv1".to_string()),
        Just("nv2".to_string()),
        Just("1nv".to_string()),
        Just(String::new()),
        "[a-z][a-z0-9]{0,3}",
    ]
}

fn dimm() -> impl Strategy<Value = Dimm> {
    (
        (any::<bool>(), any::<bool>(), id(), id()),
        (bytes(), bytes(), proptest::option::of(bytes())),
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
        proptest::option::of(any::<u32>()),
        proptest::option::of(0u32..300),
        proptest::option::of(bytes()),
    )
        .prop_map(
            |((nv, file, id, memdev), (size, label, align), flags, node, slot, addr)| {
                let mut d = if nv {
                    Dimm::nvdimm(1, "/nonexistent/qpmem/a,b".into(), Size(size))
                } else {
                    Dimm::pc_dimm(1, Size(size))
                };
                if !file {
                    d.backend = Backend::Ram;
                }
                d.id = id;
                d.memdev = memdev;
                d.label_size = Size(label);
                d.align = align.map(Size);
                (d.share, d.pmem, d.readonly, d.discard_data, d.unarmed) = flags;
                d.node = node;
                d.slot = slot;
                d.addr = addr.map(Addr);
                d
            },
        )
}

fn profile() -> impl Strategy<Value = Profile> {
    (
        prop_oneof![
            Just("pc"),
            Just("q35"),
            Just("pc-i440fx-7.0"),
            Just("pc-q35-99.9"),
            Just("microvm")
        ],
        bytes(),
        proptest::option::of(bytes()),
        proptest::option::of(prop_oneof![Just(0u32), Just(u32::MAX), 0u32..300]),
        0u32..3,
        proptest::collection::vec(dimm(), 0..5),
    )
        .prop_map(|(machine, ram, maxmem, slots, numa, devices)| {
            let mut p = Profile::empty("prop");
            p.machine = machine.into();
            p.ram = Size(ram);
            p.maxmem = maxmem.map_or(Auto::Auto, |m| Auto::Fixed(Size(m)));
            p.slots = slots.map_or(Auto::Auto, Auto::Fixed);
            p.numa_nodes = numa;
            p.devices = devices;
            p
        })
}

fn version() -> impl Strategy<Value = Option<QemuVersion>> {
    proptest::option::of((0u32..12, 0u32..13).prop_map(|(a, b)| QemuVersion::new(a, b, 0)))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn check_and_fix_never_panic(p in profile(), v in version()) {
        let host = HostFacts::default();
        let ds = check_profile(&p, &[], &with_version(&host, v));
        for d in &ds {
            prop_assert!(d.code.starts_with("QP"));
            prop_assert!(!d.message.is_empty());
            // A fix that changes nothing is no fix.
            if let Some(fix) = &d.fix {
                let mut q = p.clone();
                fix.apply(&mut q);
                prop_assert!(q != p, "{} offers a fix that changes nothing: {}", d.code, fix.summary);
            }
        }
        let mut q = p.clone();
        fix_all(&mut q, &[], &with_version(&host, v));
        let _ = check_profile(&q, &[], &with_version(&host, v));
    }

    #[test]
    fn every_placement_failure_is_an_error_on_its_device(p in profile()) {
        let host = HostFacts::default();
        let Ok(l) = layout(&p, &host) else { return Ok(()) };
        let ds = check_profile(&p, &[], &with_version(&host, None));
        let errors = |id: &str| ds.iter().any(|d| {
            d.severity == Severity::Error
                && (d.device.as_deref() == Some(id) || d.device.is_none())
        });
        for dev in &l.devices {
            if let Err(e) = &dev.result {
                prop_assert!(errors(&dev.id), "{} refused ({e}) with no error: {ds:#?}", dev.id);
            }
        }
    }

    #[test]
    /// Nothing `--fix` could apply is left (fixes that need a person's
    /// judgement stay offered).
    fn fix_all_leaves_nothing_fixable(p in profile(), v in version()) {
        // RAM near 2^64 leaves no room above it for any maxmem at all.
        let mut q = p.clone();
        q.ram = Size(p.ram.0 % (1 << 46));
        let host = HostFacts::default();
        fix_all(&mut q, &[], &with_version(&host, v));
        let left: Vec<_> = check_profile(&q, &[], &with_version(&host, v))
            .into_iter()
            .filter(|d| d.fix.as_ref().is_some_and(Fix::is_unattended))
            .map(|d| (d.code, d.message))
            .collect();
        prop_assert!(left.is_empty(), "still fixable after fix_all: {left:#?}\n{q:#?}");
    }
}

proptest! {
    #![proptest_config(config())]

    /// maxmem within 64 GiB of 2^64: nothing panics, and when the device
    /// memory region (from at least 4 GiB) cannot end below 2^64, check
    /// reports an error, as QEMU 7.2 refuses it ("unsupported amount of
    /// maximum memory", measured; see tests/check_vs_qemu.rs).
    #[test]
    fn maxmem_near_the_top_of_u64(
        ram_mib in 1u64..8192,
        slots in 0u32..=256,
        below in 0u64..(1 << 36),
        size_gib in 0u64..4,
    ) {
        let maxmem = (u64::MAX - below) & !4095;
        let mut p = Profile::empty("top");
        p.ram = Size::mib(ram_mib);
        p.slots = Auto::Fixed(slots);
        p.maxmem = Auto::Fixed(Size(maxmem));
        if size_gib > 0 {
            p.devices.push(Dimm::nvdimm(1, "/nonexistent/nv1".into(), Size::gib(size_gib)));
        }
        let host = HostFacts::default();
        let ds = check_profile(&p, &[], &with_version(&host, Some(QemuVersion::new(7, 2, 0))));
        if let Ok(l) = layout(&p, &host) {
            let _ = qpmem::core::map::to_table(&p, &l);
            let _ = qpmem::core::map::to_json(&p, &l);
        }
        let size = u128::from(maxmem - (ram_mib << 20)) + u128::from(slots) * (1 << 30);
        let end = (4u128 << 30) + size;
        if size < 1 << 64 && end >= 1 << 64 {
            prop_assert!(
                ds.iter().any(|d| d.severity == Severity::Error),
                "maxmem {maxmem:#x}: no error: {:?}",
                ds.iter().map(|d| d.code).collect::<Vec<_>>()
            );
        }
    }
}

/// `host` with the QEMU release `v` stated (as `--qemu-version` does).
fn with_version(host: &HostFacts, v: Option<QemuVersion>) -> HostFacts {
    HostFacts {
        qemu: QemuStatus::stated(v),
        ..host.clone()
    }
}
