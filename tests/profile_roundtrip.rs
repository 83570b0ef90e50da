//! Property tests: any profile survives RON unchanged, and a pasted
//! command line imported, saved in the store and opened by name renders
//! the same argv as the pasted line itself.

mod common;

use proptest::prelude::*;
use qpmem::core::cmdline::{import, render_argv, render_shell};
use qpmem::core::profile::{Addr, Arch, Auto, Backend, Dimm, DimmKind, Profile, PROFILE_VERSION};
use qpmem::core::profile_ron::{parse_profile, to_ron};
use qpmem::core::size::Size;
use qpmem::store::Store;
use std::path::PathBuf;

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![
        any::<u64>().prop_map(Size),
        (0u64..64, 0u32..5).prop_map(|(n, k)| Size(n << (10 * k))),
    ]
}

fn text() -> impl Strategy<Value = String> {
    // Anything at all, including quotes, backslashes, control characters
    // and non-ASCII: RON has to escape it.
    any::<String>()
}

fn path() -> impl Strategy<Value = PathBuf> {
    text().prop_map(PathBuf::from)
}

fn auto<T: std::fmt::Debug + Clone + 'static>(
    inner: impl Strategy<Value = T>,
) -> impl Strategy<Value = Auto<T>> {
    prop_oneof![Just(Auto::Auto), inner.prop_map(Auto::Fixed)]
}

fn dimm() -> impl Strategy<Value = Dimm> {
    (
        (
            proptest::sample::select(DimmKind::ALL),
            text(),
            text(),
            prop_oneof![path().prop_map(Backend::File), Just(Backend::Ram)],
            size(),
            size(),
            proptest::option::of(size()),
            proptest::option::of(size()),
        ),
        (
            any::<[bool; 5]>(),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u64>().prop_map(Addr)),
            proptest::option::of(any::<u32>()),
            proptest::collection::vec(text(), 0..3),
            proptest::collection::vec(text(), 0..3),
            proptest::option::of(size()),
        ),
    )
        .prop_map(
            |(
                (kind, id, memdev, backend, size, label_size, align, block_size),
                (flags, node, addr, slot, backend_options, device_options, requested_size),
            )| Dimm {
                kind,
                id,
                memdev,
                backend,
                size,
                label_size,
                align,
                share: flags[0],
                pmem: flags[1],
                readonly: flags[2],
                discard_data: flags[3],
                unarmed: flags[4],
                node,
                addr,
                slot,
                backend_options,
                block_size,
                requested_size,
                device_options,
            },
        )
}

fn profile() -> impl Strategy<Value = Profile> {
    (
        (
            0..=PROFILE_VERSION,
            text(),
            text(),
            text(),
            proptest::collection::vec(text(), 0..3),
            size(),
            any::<u32>(),
            auto(any::<u32>()),
            auto(size()),
            any::<u32>(),
            any::<u32>(),
        ),
        (
            proptest::option::of(path()),
            proptest::option::of(path()),
            proptest::option::of(path()),
            proptest::option::of(text()),
            proptest::collection::vec(path(), 0..3),
            proptest::collection::vec(text(), 0..4),
            proptest::collection::vec(dimm(), 0..6),
        ),
    )
        .prop_map(
            |(
                (
                    version,
                    name,
                    description,
                    machine,
                    machine_options,
                    ram,
                    cpus,
                    slots,
                    maxmem,
                    spare_slots,
                    numa_nodes,
                ),
                (qemu, kernel, initrd, append, disks, extra_args, devices),
            )| Profile {
                allow: Vec::new(),
                // Kept libvirt elements, any text XML can hold in them.
                libvirt: extra_args
                    .iter()
                    .take(2)
                    .map(|t| {
                        let t: String = t
                            .chars()
                            .filter(|c| {
                                (!c.is_control() || matches!(c, '\t' | '\n'))
                                    && !matches!(c, '\u{fffe}' | '\u{ffff}')
                            })
                            .collect::<String>()
                            .replace('&', "&amp;")
                            .replace('<', "&lt;")
                            .replace('\'', "&apos;");
                        qpmem::core::libvirt_kept::KeptElement {
                            parent: qpmem::core::libvirt_kept::Parent::Devices,
                            xml: format!("<kept a='{t}'>{t}</kept>"),
                        }
                    })
                    .collect(),
                cxl: match numa_nodes % 3 {
                    1 => Some(qpmem::core::cxl::Cxl::docs_example(std::path::Path::new(
                        "/d",
                    ))),
                    2 => Some(qpmem::core::cxl::Cxl::run_qemu_example(
                        std::path::Path::new("/d,x"),
                    )),
                    _ => None,
                },
                syntax: if spare_slots % 2 == 0 {
                    qpmem::core::profile::Syntax::Opts
                } else {
                    qpmem::core::profile::Syntax::Json
                },
                version,
                name,
                description,
                // Both arches, and an arm64 page size now and then.
                arch: if cpus % 2 == 0 {
                    Arch::X86_64
                } else {
                    Arch::Aarch64
                },
                guest_page_size: (cpus % 3 == 1).then_some(Size(16 * 1024)),
                machine,
                machine_options,
                ram,
                cpus,
                slots,
                maxmem,
                spare_slots,
                numa_nodes,
                // Listed nodes too (RON backward compatible: absent when empty).
                numa: (0..numa_nodes % 3)
                    .map(|i| qpmem::core::profile::NumaNode {
                        nodeid: (i % 2 == 0).then_some(i),
                        cpus: vec![format!("{i}")],
                        memdev: Some(qpmem::core::profile::NumaMemory {
                            id: format!("ram-node{i}"),
                            backend: "memory-backend-ram".into(),
                            size: ram,
                            options: vec!["host-nodes=[0]".into()],
                        }),
                        mem: None,
                        initiator: None,
                        options: Vec::new(),
                    })
                    .collect(),
                numa_distances: (0..numa_nodes % 2)
                    .map(|i| qpmem::core::profile::NumaDistance {
                        src: i,
                        dst: i + 1,
                        val: 20,
                    })
                    .collect(),
                qemu,
                kernel,
                initrd,
                append,
                disks,
                extra_args,
                devices,
            },
        )
}

proptest! {
    #![proptest_config(common::proptest_config(256))]

    #[test]
    fn profile_to_ron_and_back_is_identity(p in profile()) {
        let text = to_ron(&p).unwrap();
        let back = parse_profile(&text, "generated.ron")
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back, p);
    }
}

/// A command line of the kind people paste: the seed's shape with
/// awkward paths, sizes, labels and alignments.
fn pasted_profile() -> impl Strategy<Value = Profile> {
    let path = proptest::string::string_regex("/[a-zA-Z0-9 ,'\"$\\\\é_.-]{1,20}").unwrap();
    let dimm = (
        path,
        1u64..64,
        prop_oneof![Just(0u64), Just(128 << 10), Just(2 << 20)],
        proptest::option::of(prop_oneof![Just(2u64 << 20), Just(128 << 20)]),
        any::<bool>(),
    );
    (
        proptest::collection::vec(dimm, 1..5),
        prop_oneof![Just("pc"), Just("q35")],
        1u64..8,
    )
        .prop_map(|(dimms, machine, ram_gib)| {
            let mut p = Profile::empty("pasted");
            p.machine = machine.to_string();
            p.ram = Size::gib(ram_gib);
            p.slots = Auto::Fixed(8);
            p.maxmem = Auto::Fixed(Size::gib(512));
            for (i, (path, gib, label, align, share)) in dimms.into_iter().enumerate() {
                let mut d = Dimm::nvdimm(i + 1, PathBuf::from(path), Size::gib(gib));
                d.label_size = Size(label);
                d.align = align.map(Size);
                d.share = share;
                p.devices.push(d);
            }
            p
        })
}

proptest! {
    #![proptest_config(common::proptest_config(64))]

    #[test]
    fn import_save_open_renders_the_pasted_argv(p in pasted_profile()) {
        let pasted = render_shell(&p);
        let (imported, _) = import(&pasted).unwrap();
        let want = render_argv(&imported);
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("c"), dir.path().join("d"));
        store.save("pasted", &imported).unwrap();
        let (opened, _) = store.open("pasted").unwrap().unwrap();
        prop_assert_eq!(render_argv(&opened), want.clone());
        // And the pasted line's own argv is what was generated.
        prop_assert_eq!(want, render_argv(&p));
    }
}
