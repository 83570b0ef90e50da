//! Finding kernel modules and their dependencies in a `/lib/modules/<release>`
//! tree, without running depmod or modprobe.
//!
//! The dependency order comes from `modules.dep` when the tree has one. A
//! freshly unpacked Debian `linux-image-*` package has none (its postinst
//! runs depmod), so otherwise each module's `.modinfo` ELF section is read
//! for its `depends=` list. Modules listed in `modules.builtin` need nothing.
//! Compressed modules (`.ko.gz`, `.ko.xz`, `.ko.zst`) are decompressed here,
//! so the guest's busybox `insmod` only ever sees plain `.ko` files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use object::read::elf::{FileHeader, ProgramHeader};
use object::{elf, Endianness, Object, ObjectSection};

use super::compress::Compression;
use super::GuestError;

/// The modules that make QEMU's NVDIMMs visible: the ACPI NFIT bus driver,
/// the nvdimm core, the pmem block driver and BTT (which nd_pmem needs).
pub const NVDIMM_MODULES: &[&str] = &["libnvdimm", "nfit", "nd_btt", "nd_pmem"];

/// What a virtio-pmem device needs on top: the virtio PCI transport and
/// `virtio_pmem`, which registers an nd region (its dependencies,
/// `nd_virtio` and `virtio`, come with it). Loaded only for profiles
/// that have one, so a kernel without them still verifies NVDIMMs.
pub const VIRTIO_PMEM_MODULES: &[&str] = &["virtio_pci", "virtio_pmem"];

/// What CXL needs on top (Debian's 6.1 has them as modules): the ACPI
/// root (CEDT: the fixed memory windows as root decoders), the type-3
/// devices' PCI driver, their memdevs and the pmem bridge to libnvdimm
/// (`cxl_core` and `cxl_port` come as dependencies). Loaded only for
/// profiles with CXL.
pub const CXL_MODULES: &[&str] = &["cxl_acpi", "cxl_pci", "cxl_mem", "cxl_pmem"];

/// A module to load, with its file's contents already decompressed.
#[derive(Debug, Clone)]
pub struct LoadableModule {
    /// The module name with `-` written as `_`, e.g. `nd_pmem`.
    pub name: String,
    /// Where the module was found.
    pub path: PathBuf,
    /// The plain ELF `.ko` bytes.
    pub image: Vec<u8>,
}

/// What a modules tree offers.
#[derive(Debug)]
struct ModuleTree {
    dir: PathBuf,
    /// name -> file, for every module file in the tree.
    files: HashMap<String, PathBuf>,
    /// name -> dependency names, from modules.dep (None: read .modinfo).
    deps: Option<HashMap<String, Vec<String>>>,
    builtin: BTreeSet<String>,
}

/// Normalises a module file name or name to the kernel's form:
/// `kernel/drivers/nvdimm/nd-pmem.ko.xz` -> `nd_pmem`.
pub fn module_name(file_or_name: &str) -> String {
    let base = file_or_name.rsplit('/').next().unwrap_or(file_or_name);
    let stem = match base.find(".ko") {
        Some(i) if base[i..].starts_with(".ko") => &base[..i],
        _ => base,
    };
    stem.replace('-', "_")
}

/// Resolves `wanted` in the modules tree `dir` (`/lib/modules/<release>`)
/// and returns the modules to `insmod`, dependencies first. Built-in
/// modules are left out; an unknown module is an error naming it.
pub fn resolve_modules(dir: &Path, wanted: &[&str]) -> Result<Vec<LoadableModule>, GuestError> {
    let tree = ModuleTree::open(dir)?;
    let mut order = Vec::new();
    let mut state = BTreeMap::new();
    for name in wanted {
        tree.visit(&module_name(name), &mut state, &mut order)?;
    }
    Ok(order)
}

#[derive(Clone, Copy, PartialEq)]
enum Visit {
    InProgress,
    Done,
}

impl ModuleTree {
    fn open(dir: &Path) -> Result<Self, GuestError> {
        if !dir.is_dir() {
            return Err(GuestError::Missing {
                what: "kernel modules directory",
                path: dir.to_owned(),
                hint: "give the /lib/modules/<release> directory of the guest kernel".into(),
            });
        }
        let mut files = HashMap::new();
        collect_module_files(dir, &mut files)?;
        let builtin = match fs::read_to_string(dir.join("modules.builtin")) {
            Ok(text) => text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(module_name)
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(e) => {
                return Err(GuestError::io(
                    "cannot read",
                    dir.join("modules.builtin"),
                    e,
                ))
            }
        };
        let dep_path = dir.join("modules.dep");
        let deps = match fs::read_to_string(&dep_path) {
            Ok(text) => Some(parse_modules_dep(&dep_path, &text)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(GuestError::io("cannot read", dep_path, e)),
        };
        Ok(ModuleTree {
            dir: dir.to_owned(),
            files,
            deps,
            builtin,
        })
    }

    /// Depth-first, dependencies before dependants.
    fn visit(
        &self,
        name: &str,
        state: &mut BTreeMap<String, Visit>,
        order: &mut Vec<LoadableModule>,
    ) -> Result<(), GuestError> {
        match state.get(name) {
            Some(Visit::Done) => return Ok(()),
            Some(Visit::InProgress) => {
                return Err(GuestError::ModuleCycle {
                    module: name.to_owned(),
                })
            }
            None => {}
        }
        let Some(path) = self.files.get(name) else {
            if self.builtin.contains(name) {
                state.insert(name.to_owned(), Visit::Done);
                return Ok(());
            }
            return Err(GuestError::ModuleNotFound {
                module: name.to_owned(),
                dir: self.dir.clone(),
            });
        };
        state.insert(name.to_owned(), Visit::InProgress);
        let raw = fs::read(path).map_err(|e| GuestError::io("cannot read", path, e))?;
        let image = decompress_module(path, raw)?;
        let deps = match &self.deps {
            Some(map) => map.get(name).cloned().unwrap_or_default(),
            None => modinfo_depends(path, &image)?,
        };
        for dep in deps {
            self.visit(&dep, state, order)?;
        }
        state.insert(name.to_owned(), Visit::Done);
        order.push(LoadableModule {
            name: name.to_owned(),
            path: path.clone(),
            image,
        });
        Ok(())
    }
}

/// Walks the tree for `*.ko`, `*.ko.gz`, `*.ko.xz`, `*.ko.zst`, not
/// following symlinks (`build` and `source` point at header trees).
fn collect_module_files(
    dir: &Path,
    files: &mut HashMap<String, PathBuf>,
) -> Result<(), GuestError> {
    let entries = fs::read_dir(dir).map_err(|e| GuestError::io("cannot list", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| GuestError::io("cannot list", dir, e))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| GuestError::io("cannot stat", &path, e))?;
        if kind.is_dir() {
            collect_module_files(&path, files)?;
        } else if kind.is_file() {
            let file_name = entry.file_name();
            let Some(file_name) = file_name.to_str() else {
                continue;
            };
            if [".ko", ".ko.gz", ".ko.xz", ".ko.zst"]
                .iter()
                .any(|ext| file_name.ends_with(ext))
            {
                // Like depmod, the first one found wins; `updates/` and
                // `extra/` overriding `kernel/` is not needed here.
                files.entry(module_name(file_name)).or_insert(path);
            }
        }
    }
    Ok(())
}

/// Parses `modules.dep`: `kernel/a/x.ko.xz: kernel/b/y.ko.xz kernel/c/z.ko.xz`.
fn parse_modules_dep(path: &Path, text: &str) -> Result<HashMap<String, Vec<String>>, GuestError> {
    let mut map = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((module, deps)) = line.split_once(':') else {
            return Err(GuestError::BadModulesDep {
                path: path.to_owned(),
                line: i + 1,
                text: line.to_owned(),
            });
        };
        let module = module.trim();
        if module.is_empty() {
            return Err(GuestError::BadModulesDep {
                path: path.to_owned(),
                line: i + 1,
                text: line.to_owned(),
            });
        }
        map.insert(
            module_name(module),
            deps.split_whitespace().map(module_name).collect(),
        );
    }
    Ok(map)
}

/// The `depends=` list in the `.modinfo` section of a module (`image`, read from `path`).
fn modinfo_depends(path: &Path, image: &[u8]) -> Result<Vec<String>, GuestError> {
    let bad = |reason: String| GuestError::BadElf {
        path: path.to_owned(),
        reason,
    };
    let file = object::File::parse(image).map_err(|e| bad(e.to_string()))?;
    let section = file
        .section_by_name(".modinfo")
        .ok_or_else(|| bad("no .modinfo section".into()))?;
    let data = section.data().map_err(|e| bad(e.to_string()))?;
    let depends = data
        .split(|&b| b == 0)
        .find_map(|entry| entry.strip_prefix(b"depends="))
        .unwrap_or_default();
    let depends =
        std::str::from_utf8(depends).map_err(|e| bad(format!("depends= is not UTF-8: {e}")))?;
    Ok(depends
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(module_name)
        .collect())
}

/// Decompresses a module according to its file name's extension; plain
/// `.ko` files are returned as they are.
pub fn decompress_module(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>, GuestError> {
    match Compression::from_extension(path) {
        Some(kind) => kind.decompress(path, &raw),
        None => Ok(raw),
    }
}

/// Whether the ELF file `data` needs a program interpreter (a dynamic
/// loader), i.e. is not statically linked.
pub fn elf_needs_interpreter(path: &Path, data: &[u8]) -> Result<bool, GuestError> {
    fn check<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> object::Result<bool> {
        let header = Elf::parse(data)?;
        let endian = header.endian()?;
        let phdrs = header.program_headers(endian, data)?;
        Ok(phdrs.iter().any(|p| p.p_type(endian) == elf::PT_INTERP))
    }
    let result = match object::FileKind::parse(data) {
        Ok(object::FileKind::Elf64) => check::<elf::FileHeader64<Endianness>>(data),
        Ok(object::FileKind::Elf32) => check::<elf::FileHeader32<Endianness>>(data),
        Ok(other) => {
            return Err(GuestError::BadElf {
                path: path.to_owned(),
                reason: format!("it is a {other:?} file, not ELF"),
            })
        }
        Err(e) => Err(e),
    };
    result.map_err(|e| GuestError::BadElf {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn module_names_are_normalised() {
        assert_eq!(module_name("kernel/drivers/nvdimm/nd_pmem.ko"), "nd_pmem");
        assert_eq!(module_name("nd-pmem.ko.xz"), "nd_pmem");
        assert_eq!(module_name("kernel/drivers/acpi/nfit/nfit.ko.zst"), "nfit");
        assert_eq!(module_name("libnvdimm"), "libnvdimm");
    }

    #[test]
    fn modules_dep_is_parsed() {
        let text = "kernel/drivers/nvdimm/nd_pmem.ko.xz: kernel/drivers/nvdimm/nd_btt.ko.xz kernel/drivers/nvdimm/libnvdimm.ko.xz\n\
                    kernel/drivers/nvdimm/libnvdimm.ko.xz:\n";
        let map = parse_modules_dep(Path::new("modules.dep"), text).unwrap();
        assert_eq!(map["nd_pmem"], ["nd_btt", "libnvdimm"]);
        assert!(map["libnvdimm"].is_empty());
        let err = parse_modules_dep(Path::new("/x/modules.dep"), "a.ko\nnonsense\n").unwrap_err();
        assert!(err.to_string().contains("/x/modules.dep:1"), "{err}");
    }

    /// A tree with modules.dep, some compressed modules and a built-in one.
    fn fake_tree(dir: &Path) {
        let nv = dir.join("kernel/drivers/nvdimm");
        fs::create_dir_all(&nv).unwrap();
        fs::create_dir_all(dir.join("kernel/drivers/acpi/nfit")).unwrap();
        // Plain .ko
        fs::write(nv.join("libnvdimm.ko"), b"LIBNVDIMM").unwrap();
        // gzip
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"ND_BTT").unwrap();
        fs::write(nv.join("nd_btt.ko.gz"), gz.finish().unwrap()).unwrap();
        // xz
        let mut xz = Vec::new();
        xz2::read::XzEncoder::new(&b"ND_PMEM"[..], 1)
            .read_to_end(&mut xz)
            .unwrap();
        fs::write(nv.join("nd_pmem.ko.xz"), xz).unwrap();
        // zstd
        let zst = ruzstd::encoding::compress_to_vec(
            &b"NFIT"[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        fs::write(dir.join("kernel/drivers/acpi/nfit/nfit.ko.zst"), zst).unwrap();
        fs::write(
            dir.join("modules.dep"),
            "kernel/drivers/nvdimm/libnvdimm.ko:\n\
             kernel/drivers/nvdimm/nd_btt.ko.gz: kernel/drivers/nvdimm/libnvdimm.ko\n\
             kernel/drivers/nvdimm/nd_pmem.ko.xz: kernel/drivers/nvdimm/nd_btt.ko.gz kernel/drivers/nvdimm/libnvdimm.ko\n\
             kernel/drivers/acpi/nfit/nfit.ko.zst: kernel/drivers/nvdimm/libnvdimm.ko\n",
        )
        .unwrap();
        fs::write(dir.join("modules.builtin"), "kernel/drivers/dax/dax.ko\n").unwrap();
    }

    #[test]
    fn resolves_in_dependency_order_and_decompresses() {
        let tmp = tempfile::tempdir().unwrap();
        fake_tree(tmp.path());
        let mods = resolve_modules(tmp.path(), &["nd_pmem", "nfit", "dax"]).unwrap();
        let names: Vec<_> = mods.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["libnvdimm", "nd_btt", "nd_pmem", "nfit"]);
        let images: Vec<_> = mods.iter().map(|m| m.image.as_slice()).collect();
        assert_eq!(images, [&b"LIBNVDIMM"[..], b"ND_BTT", b"ND_PMEM", b"NFIT"]);
    }

    #[test]
    fn unknown_module_is_named_in_the_error() {
        let tmp = tempfile::tempdir().unwrap();
        fake_tree(tmp.path());
        let err = resolve_modules(tmp.path(), &["no_such_mod"]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("no_such_mod"), "{msg}");
        assert!(msg.contains(&tmp.path().display().to_string()), "{msg}");
    }

    /// A minimal ELF64 relocatable object with a `.modinfo` section, like a `.ko`.
    fn fake_ko(modinfo: &str) -> Vec<u8> {
        let shstrtab = b"\0.modinfo\0.shstrtab\0";
        let modinfo_off = 64u64;
        let shstrtab_off = modinfo_off + modinfo.len() as u64;
        let shoff = (shstrtab_off + shstrtab.len() as u64).div_ceil(8) * 8;
        let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1, 1];
        elf.resize(16, 0);
        elf.extend(1u16.to_le_bytes()); // ET_REL
        elf.extend(62u16.to_le_bytes()); // EM_X86_64
        elf.extend(1u32.to_le_bytes());
        elf.extend([0u8; 16]); // entry, phoff
        elf.extend(shoff.to_le_bytes());
        elf.extend(0u32.to_le_bytes()); // flags
        for v in [64u16, 0, 0, 64, 3, 2] {
            elf.extend(v.to_le_bytes()); // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
        }
        elf.extend(modinfo.as_bytes());
        elf.extend(shstrtab);
        elf.resize(shoff as usize, 0);
        let mut section = |name: u32, kind: u32, flags: u64, off: u64, size: u64| {
            elf.extend(name.to_le_bytes());
            elf.extend(kind.to_le_bytes());
            elf.extend(flags.to_le_bytes());
            elf.extend(0u64.to_le_bytes()); // addr
            elf.extend(off.to_le_bytes());
            elf.extend(size.to_le_bytes());
            elf.extend([0u8; 8]); // link, info
            elf.extend(1u64.to_le_bytes()); // addralign
            elf.extend(0u64.to_le_bytes()); // entsize
        };
        section(0, 0, 0, 0, 0);
        section(1, 1, 2, modinfo_off, modinfo.len() as u64); // PROGBITS, ALLOC
        section(10, 3, 0, shstrtab_off, shstrtab.len() as u64); // STRTAB
        elf
    }

    /// Without modules.dep (as in a fresh Debian package), `depends=` in
    /// each module's .modinfo gives the order.
    #[test]
    fn resolves_from_modinfo_without_modules_dep() {
        let tmp = tempfile::tempdir().unwrap();
        let nv = tmp.path().join("kernel/drivers/nvdimm");
        fs::create_dir_all(&nv).unwrap();
        let ko = |deps: &str| fake_ko(&format!("license=GPL\0depends={deps}\0intree=Y\0"));
        fs::write(nv.join("libnvdimm.ko"), ko("")).unwrap();
        fs::write(nv.join("nd_btt.ko"), ko("libnvdimm")).unwrap();
        fs::write(nv.join("nd_pmem.ko"), ko("libnvdimm,nd_btt")).unwrap();
        let mods = resolve_modules(tmp.path(), &["nd_pmem"]).unwrap();
        let names: Vec<_> = mods.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["libnvdimm", "nd_btt", "nd_pmem"]);
        assert_eq!(mods[2].image, ko("libnvdimm,nd_btt"));

        fs::write(nv.join("broken.ko"), b"not an ELF").unwrap();
        let err = resolve_modules(tmp.path(), &["broken"]).unwrap_err();
        assert!(err.to_string().contains("broken.ko"), "{err}");
    }

    #[test]
    fn dependency_cycle_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("a.ko"), b"").unwrap();
        fs::write(tmp.path().join("b.ko"), b"").unwrap();
        fs::write(tmp.path().join("modules.dep"), "a.ko: b.ko\nb.ko: a.ko\n").unwrap();
        let err = resolve_modules(tmp.path(), &["a"]).unwrap_err();
        assert!(matches!(err, GuestError::ModuleCycle { .. }), "{err}");
    }

    #[test]
    fn corrupt_compressed_module_is_an_error_not_a_panic() {
        for name in ["m.ko.gz", "m.ko.xz", "m.ko.zst"] {
            let err = decompress_module(Path::new(name), b"garbage!".to_vec()).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn non_elf_is_rejected() {
        let err = elf_needs_interpreter(Path::new("/x/busybox"), b"#!/bin/sh\n").unwrap_err();
        assert!(err.to_string().contains("/x/busybox"), "{err}");
    }
}
