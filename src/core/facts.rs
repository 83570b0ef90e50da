//! The facts the shells gather and the core judges: what is at each
//! backing path ([`FileFacts`], filled in by `crate::host::gather`) and
//! which QEMU will run ([`QemuStatus`], filled in by
//! `crate::qemu::discover`). Plain data: the core never looks for them.

use crate::core::qemu::version::QemuVersion;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Facts about the host that change placement or that the diagnostics
/// judge, gathered by the caller (the model itself touches no file
/// system): [`crate::host::gather`] fills them in; the default
/// knows nothing and the rules that need a fact stay quiet without it.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// Page size of backing files that are not ordinary 4 KiB-page files
    /// (files on hugetlbfs). Missing entries mean 4 KiB.
    pub file_page_size: BTreeMap<PathBuf, u64>,
    /// What the file system says about each backing path of the profile.
    pub files: BTreeMap<PathBuf, FileFacts>,
    /// Each backing path as the identity of the file it names (symlinks
    /// and `..` resolved where it exists, made absolute where it does
    /// not), for telling whether two paths are one file. A path missing
    /// here is compared as written, without `.` components.
    pub identity: BTreeMap<PathBuf, PathBuf>,
    /// The QEMU binary that will run the profile, when it was looked for.
    pub qemu: QemuStatus,
    /// qpmem's own data directory (where `${data}` points), when the
    /// gatherer knows it: `qpmem launch` creates what is missing under it,
    /// so a missing directory there is no surprise.
    pub data_dir: Option<PathBuf>,
    /// The distribution's UEFI firmware for the profile's arch, when the
    /// gatherer found one (`crate::host::firmware`): QP600's fix loads it.
    pub firmware: Option<PathBuf>,
    /// The libvirt that will run the profile's libvirt export, when asked
    /// (`check --libvirt`): the libvirt rules judge only then.
    pub libvirt: LibvirtStatus,
}

/// Everything known about one backing path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileFacts {
    pub entry: Entry,
    /// The file system that holds the path (or would hold it, for a file
    /// still to be created). `None` when nothing could be learnt.
    pub fs: Option<FsFacts>,
    /// Other processes that have the file open.
    pub open_by: Vec<Opener>,
    /// What the bytes where the device's label area goes hold today.
    pub label_area: LabelArea,
}

/// What is at the path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Entry {
    /// Nothing yet; QEMU creates the file, if its directory exists.
    Missing { parent_exists: bool },
    /// A regular file (or block device) of `size` bytes of which
    /// `allocated` are on disk (sparse files allocate less).
    File { size: u64, allocated: u64 },
    /// A directory: QEMU makes an unlinked temporary file in it.
    Directory,
    /// Something else (a socket, a fifo) or unreadable metadata.
    Other { what: String },
}

/// A mounted file system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FsFacts {
    /// `ext4`, `xfs`, `tmpfs`, `hugetlbfs`, ...
    pub fstype: String,
    pub mount_point: PathBuf,
    /// Device id (`st_dev`), to add up the space files on one file system need.
    pub dev: u64,
    /// Bytes an unprivileged writer may still use.
    pub free: u64,
    /// Mounted for DAX (`dax`, `dax=always`), or the file has the DAX
    /// attribute under `dax=inode`.
    pub dax: bool,
    /// The huge page size on hugetlbfs.
    pub huge_page: Option<u64>,
}

impl HostFacts {
    /// The identity of the file `path` names: the gathered one, else the
    /// path itself without `.` components.
    pub fn file_identity(&self, path: &std::path::Path) -> PathBuf {
        self.identity
            .get(path)
            .cloned()
            .unwrap_or_else(|| path.components().collect())
    }

    /// Is `dir` qpmem's data directory or inside it (compared without `.`
    /// components)?
    pub fn in_data_dir(&self, dir: &std::path::Path) -> bool {
        self.data_dir.as_deref().is_some_and(|data| {
            let data: PathBuf = data.components().collect();
            let dir: PathBuf = dir.components().collect();
            dir.starts_with(data)
        })
    }
}

impl FsFacts {
    /// Contents vanish when the host reboots.
    pub fn is_volatile(&self) -> bool {
        matches!(self.fstype.as_str(), "tmpfs" | "ramfs" | "hugetlbfs")
    }
}

/// A process that has a backing file open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Opener {
    pub pid: u32,
    /// Its `comm` (`qemu-system-x86`).
    pub command: String,
}

/// The first bytes of the label area (the last `label-size` bytes of the
/// backend) as they are in the file today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelArea {
    /// Not looked at: no file, no label, or the file is shorter.
    #[default]
    NotChecked,
    /// Zeros or a hole: nothing there yet.
    Empty,
    /// A namespace index block (`NAMESPACE_INDEX`): labels live there.
    Labels,
    /// Something else: data a label would now hide.
    Data,
}

/// The signature at the start of a namespace index block (Linux
/// `NSINDEX_SIGNATURE`).
pub const NSINDEX_SIGNATURE: &[u8; 16] = b"NAMESPACE_INDEX\0";

/// Where the binary's name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// `--qemu PATH`.
    Flag,
    /// `$QPMEM_QEMU`.
    Env,
    /// The profile's `qemu` field.
    Profile,
    /// `qemu-system-<arch>` looked up on `PATH` (`"path"` in JSON, as
    /// the text says "from PATH").
    #[serde(rename = "path")]
    Default,
}

impl Origin {
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Flag => "--qemu",
            Origin::Env => "$QPMEM_QEMU",
            Origin::Profile => "the profile's qemu",
            Origin::Default => "PATH",
        }
    }
}

/// What is known about the QEMU that will run the profile. Serialized
/// without the version, which its reader shows as a string
/// ([`QemuStatus::version`]) beside it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum QemuStatus {
    /// Nobody looked (the TUI before discovery, tests).
    #[default]
    NotChecked,
    /// The user said which release will run it (`--qemu-version`); no
    /// binary was looked for.
    Stated {
        #[serde(skip)]
        version: QemuVersion,
    },
    Found {
        path: PathBuf,
        #[serde(skip)]
        version: QemuVersion,
        origin: Origin,
    },
    /// No such binary.
    NotFound {
        wanted: String,
        origin: Origin,
        reason: String,
    },
    /// The binary exists but no version could be read from it.
    NoVersion { path: PathBuf, reason: String },
}

impl QemuStatus {
    /// `Stated` for a release the user named, else `NotChecked`.
    pub fn stated(version: Option<QemuVersion>) -> QemuStatus {
        version.map_or(QemuStatus::NotChecked, |version| QemuStatus::Stated {
            version,
        })
    }

    pub fn version(&self) -> Option<QemuVersion> {
        match self {
            QemuStatus::Found { version, .. } | QemuStatus::Stated { version } => Some(*version),
            _ => None,
        }
    }
}

/// What is known about the libvirt daemon that will run the profile's
/// libvirt export (filled in by `crate::host::libvirt::status`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum LibvirtStatus {
    /// Nobody asked: the libvirt rules stay quiet.
    #[default]
    NotAsked,
    /// `virsh -c URI version --daemon` answered.
    Found {
        uri: String,
        version: LibvirtVersion,
    },
    /// The daemon at `uri` did not answer (or virsh is missing).
    Unreachable { uri: String, reason: String },
}

impl LibvirtStatus {
    /// Was libvirt asked at all?
    pub fn asked(&self) -> bool {
        !matches!(self, LibvirtStatus::NotAsked)
    }
}

/// A libvirt release, `major.minor.micro`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LibvirtVersion {
    pub major: u32,
    pub minor: u32,
    pub micro: u32,
}

impl LibvirtVersion {
    /// The release these predictions were measured against.
    pub const MEASURED: LibvirtVersion = LibvirtVersion {
        major: 9,
        minor: 0,
        micro: 0,
    };

    /// Read `X.Y[.Z]`.
    pub fn parse(s: &str) -> Option<LibvirtVersion> {
        let mut parts = s.trim().split('.').map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next()??;
        let micro = match parts.next() {
            Some(m) => m?,
            None => 0,
        };
        parts.next().is_none().then_some(LibvirtVersion {
            major,
            minor,
            micro,
        })
    }

    /// The predictions hold for this release (same major.minor as measured).
    pub fn is_measured(self) -> bool {
        (self.major, self.minor) == (Self::MEASURED.major, Self::MEASURED.minor)
    }
}

impl std::fmt::Display for LibvirtVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}
