//! Property tests for the core parsers: sizes, the command-line importer,
//! QEMU version strings and QMP replies never panic, and what qpmem writes
//! it reads back unchanged.

mod common;

use proptest::prelude::*;
use qpmem::core::cmdline::{import, render_argv, render_shell};
use qpmem::core::profile::{Addr, Auto, Backend, Dimm, DimmKind, Profile};
use qpmem::core::qemu::QemuVersion;
use qpmem::core::size::{format_qemu, parse_size, BareUnit, Size};
use qpmem::qemu::qmp::parse_memory_devices;

fn config() -> ProptestConfig {
    common::proptest_config(256)
}

/// Paths with the characters that break naive quoting: spaces, quotes,
/// `$`, backslashes, commas, non-ASCII.
fn awkward_path() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just(" ".to_string()),
            Just("'".to_string()),
            Just("\"".to_string()),
            Just("$".to_string()),
            Just("\\".to_string()),
            Just(",".to_string()),
            Just(",,".to_string()),
            Just("é".to_string()),
            Just("🦀".to_string()),
            "[a-z0-9._-]{1,6}",
        ],
        1..8,
    )
    .prop_map(|parts| format!("/vms/{}", parts.concat()))
}

fn id() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9._-]{0,8}"
}

fn dimm() -> impl Strategy<Value = Dimm> {
    (
        any::<bool>(),
        awkward_path(),
        1u64..64,
        prop_oneof![Just(0u64), Just(128 << 10), Just(2 << 20)],
        proptest::option::of(prop_oneof![Just(2u64 << 20), Just(128 << 20)]),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        proptest::option::of(0u32..4),
        proptest::option::of(0u32..8),
        proptest::option::of((4u64..64).prop_map(|g| g << 30)),
    )
        .prop_map(
            |(nv, path, gib, label, align, (share, pmem, readonly, unarmed), node, slot, addr)| {
                let mut d = if nv {
                    Dimm::nvdimm(0, path.into(), Size(gib << 30))
                } else {
                    let mut d = Dimm::pc_dimm(0, Size(gib << 30));
                    if share {
                        d.backend = Backend::File(path.into());
                    }
                    d
                };
                if d.kind == DimmKind::Nvdimm {
                    d.label_size = Size(label);
                    d.unarmed = unarmed;
                }
                if d.backend != Backend::Ram {
                    d.align = align.map(Size);
                    d.pmem = pmem;
                    d.readonly = readonly;
                }
                d.share = share;
                d.node = node;
                d.slot = slot;
                d.addr = addr.map(Addr);
                d
            },
        )
}

fn profile() -> impl Strategy<Value = Profile> {
    (
        prop_oneof![Just("pc"), Just("q35"), Just("pc-i440fx-7.2")],
        (1u64..8192).prop_map(|m| m << 20),
        1u32..16,
        proptest::collection::vec((id(), id(), dimm()), 0..6),
        proptest::option::of(awkward_path()),
        proptest::option::of("[ -~]{0,30}"),
    )
        .prop_map(|(machine, ram, cpus, devices, kernel, append)| {
            let mut p = Profile::empty("prop");
            p.machine = machine.to_string();
            p.ram = Size(ram);
            p.cpus = cpus;
            p.slots = Auto::Fixed(8);
            p.maxmem = Auto::Fixed(Size(ram + (512 << 30)));
            for (n, (_, _, mut d)) in devices.into_iter().enumerate() {
                // Unique ids: a suffix keeps generated names apart.
                d.id = format!("dev{n}");
                d.memdev = format!("mem{n}");
                p.devices.push(d);
            }
            p.kernel = kernel.map(Into::into);
            p.append = append;
            p
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sizes_never_panic(s in "\\PC{0,24}") {
        let _ = parse_size(&s, BareUnit::Bytes);
        let _ = parse_size(&s, BareUnit::Mebibytes);
    }

    #[test]
    fn canonical_sizes_read_back(n in any::<u64>()) {
        prop_assert_eq!(parse_size(&format_qemu(n), BareUnit::Bytes), Ok(n));
    }

    #[test]
    fn import_never_panics_on_anything(s in "\\PC{0,200}") {
        let _ = import(&s);
    }

    #[test]
    fn import_never_panics_on_mangled_lines(
        cut in 0usize..400,
        junk in "[ ,='\"\\\\a-z0-9-]{0,12}",
    ) {
        let line = "qemu-system-x86_64 -machine pc,nvdimm=on -m 512M,slots=2,maxmem=40G -object memory-backend-file,id=mem1,share=on,mem-path=/vms/nv1,size=17G,align=128M -device nvdimm,memdev=mem1,id=nv1,label-size=2M,node=0";
        let cut = cut.min(line.len());
        let mangled = format!("{}{}{}", &line[..cut], junk, &line[cut..]);
        let _ = import(&mangled);
    }

    #[test]
    fn version_output_never_panics(s in "\\PC{0,80}") {
        let _ = QemuVersion::from_version_output(&s);
    }

    #[test]
    fn qmp_replies_never_panic(s in "[\\[\\]{}:,\"a-z0-9 ]{0,80}") {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&s) {
            let _ = parse_memory_devices(&v);
        }
    }

    /// The shell form, pasted back, is the same command: quoting and comma
    /// escaping survive every awkward character.
    #[test]
    fn shell_form_imports_back_to_the_same_argv(p in profile()) {
        let argv = render_argv(&p);
        let (back, _) = import(&render_shell(&p)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(render_argv(&back), argv);
    }
}

proptest! {
    #![proptest_config(common::proptest_config(64))]

    /// A real sh reads the shell form as exactly the argv form.
    #[test]
    fn real_sh_reads_the_shell_form_as_the_argv(p in profile()) {
        prop_assert_eq!(common::sh_words(&render_shell(&p)), render_argv(&p));
    }
}
