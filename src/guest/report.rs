//! Reading the guest's report back from the serial console text.
//!
//! The guest's `/init` (see [`init_script`](fn@super::init_script)) prints one line per fact,
//! each starting with a marker:
//!
//! ```text
//! QPMEM-BEGIN 1
//! QPMEM-KERNEL 6.1.0-56-amd64
//! QPMEM-MODULE nfit loaded            (or: QPMEM-MODULE nfit failed <why>)
//! QPMEM-IOMEM 100000000-177ffffff : Persistent Memory
//! QPMEM-REGION region0 start=0x100000000 size=2013265920 align=16777216 mappings=1
//! QPMEM-NAMESPACE namespace0.0 region=region0 start=0x100000000 size=2013265920 mode=raw blockdev=pmem0
//! QPMEM-CXL-DECODER decoder0.0 start=0x490000000 size=0x100000000
//! QPMEM-CXL-MEM mem0 pmem=0x10000000 path=/sys/devices/pci0000:0c/0000:0c:00.0/0000:0d:00.0/mem0
//! QPMEM-DMESG <4>[    1.23] nd_pmem namespace0.0: unable to guarantee persistence of writes
//! QPMEM-END
//! QPMEM-SHELL                          (interactive mode only)
//! ```
//!
//! The parser never fails and never panics: it takes whatever it can, looks
//! for markers anywhere in a line (kernel text may precede them), accepts
//! `\r\n`, and lists lines it could not understand in
//! [`GuestReport::problems`]. A later `QPMEM-BEGIN` starts the report anew
//! (the guest rebooted); lines after `QPMEM-END` are ignored, so whatever is
//! typed into the interactive shell cannot alter the report.

const BEGIN: &str = "QPMEM-BEGIN";
const KERNEL: &str = "QPMEM-KERNEL";
const MODULE: &str = "QPMEM-MODULE";
const IOMEM: &str = "QPMEM-IOMEM";
const REGION: &str = "QPMEM-REGION";
const NAMESPACE: &str = "QPMEM-NAMESPACE";
const CXL_DECODER: &str = "QPMEM-CXL-DECODER";
const CXL_MEM: &str = "QPMEM-CXL-MEM";
const DMESG: &str = "QPMEM-DMESG";
const END: &str = "QPMEM-END";
/// Printed after the report in [`super::InitMode::ReportThenShell`], just
/// before the shell starts.
pub const SHELL_MARKER: &str = "QPMEM-SHELL";

/// Every marker the parser understands, in the order the guest prints them.
pub const MARKERS: &[&str] = &[
    BEGIN,
    KERNEL,
    MODULE,
    IOMEM,
    REGION,
    NAMESPACE,
    CXL_DECODER,
    CXL_MEM,
    DMESG,
    END,
    SHELL_MARKER,
];

/// What the guest saw, as far as the console text tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestReport {
    /// `QPMEM-BEGIN` was seen: the guest's `/init` ran.
    pub begun: bool,
    /// `QPMEM-END` was seen: the report is whole.
    pub complete: bool,
    /// `QPMEM-SHELL` was seen: the interactive shell is starting.
    pub shell_started: bool,
    /// `uname -r` in the guest.
    pub kernel_release: Option<String>,
    /// Each module `/init` tried to load.
    pub modules: Vec<ModuleLoad>,
    /// `/proc/iomem` lines naming "Persistent Memory", in the guest's order.
    pub pmem_ranges: Vec<IomemRange>,
    /// `/sys/bus/nd/devices/region*`.
    pub regions: Vec<Region>,
    /// `/sys/bus/nd/devices/namespace*`.
    pub namespaces: Vec<Namespace>,
    /// CXL root decoders (`/sys/bus/cxl/devices/decoder0.N`): the fixed
    /// memory windows as the kernel took them from the CEDT.
    pub cxl_decoders: Vec<CxlDecoder>,
    /// CXL memdevs (`/sys/bus/cxl/devices/memN`).
    pub cxl_memdevs: Vec<CxlMemdev>,
    /// Kernel log lines mentioning nvdimm, nfit, pmem, nd_ or cxl, all levels.
    pub kernel_messages: Vec<KernelMessage>,
    /// The text of those kernel messages whose level is warning or worse.
    pub kernel_warnings: Vec<String>,
    /// Marker lines that could not be understood, quoted.
    pub problems: Vec<String>,
}

/// One attempt to `insmod` a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleLoad {
    pub name: String,
    pub loaded: bool,
    /// insmod's complaint when it failed.
    pub detail: String,
}

/// A `/proc/iomem` range; `end` is inclusive, as `/proc/iomem` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IomemRange {
    pub start: u64,
    pub end: u64,
    /// e.g. "Persistent Memory", or "Persistent Memory (legacy)" for e820 type 12.
    pub name: String,
}

impl IomemRange {
    /// Number of bytes in the range.
    pub fn size(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// An nvdimm region as the guest's libnvdimm describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// e.g. `region0`.
    pub name: String,
    /// Physical start address (`resource`).
    pub start: u64,
    pub size: u64,
    /// The region's `align` attribute (absent on old kernels).
    pub align: Option<u64>,
    /// Number of DIMMs interleaved into the region.
    pub mappings: Option<u64>,
}

/// An nvdimm namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// e.g. `namespace0.0`.
    pub name: String,
    /// The region it belongs to, e.g. `region0`.
    pub region: String,
    /// Physical start address; absent for an empty (seed) namespace.
    pub start: Option<u64>,
    pub size: u64,
    /// `raw`, `fsdax`, `devdax`, `sector`, `safe`… (absent if unreadable).
    pub mode: Option<String>,
    /// Block devices of the namespace itself, e.g. `pmem0`.
    pub blockdevs: Vec<String>,
}

/// A CXL root decoder: one fixed memory window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CxlDecoder {
    /// e.g. `decoder0.0`.
    pub name: String,
    pub start: u64,
    pub size: u64,
}

/// A CXL memory device (a type-3 device the kernel bound).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CxlMemdev {
    /// e.g. `mem0`.
    pub name: String,
    /// Its persistent capacity (`pmem/size`).
    pub pmem_size: u64,
    /// Its sysfs path (below the PCI root bus of its host bridge).
    pub path: String,
}

/// One line of the kernel log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelMessage {
    /// 0 (emergency) to 7 (debug), when the line carried it.
    pub level: Option<u8>,
    /// The message without level and timestamp.
    pub text: String,
}

/// Kernel log levels at or below this are warnings (`KERN_WARNING` = 4).
const WARNING_LEVEL: u8 = 4;

/// Parses the guest's console output. See the module documentation.
pub fn parse_report(console_text: &str) -> GuestReport {
    let mut report = GuestReport::default();
    for raw_line in console_text.split(['\n', '\r']) {
        let Some(at) = raw_line.find("QPMEM-") else {
            continue;
        };
        let line = raw_line[at..].trim_end();
        let (marker, rest) = match line.split_once(char::is_whitespace) {
            Some((m, r)) => (m, r.trim()),
            None => (line, ""),
        };
        if marker == BEGIN {
            report = GuestReport {
                begun: true,
                ..GuestReport::default()
            };
            continue;
        }
        if report.complete {
            if marker == SHELL_MARKER {
                report.shell_started = true;
            }
            continue;
        }
        let outcome = match marker {
            KERNEL => {
                report.kernel_release = Some(rest.to_owned()).filter(|r| !r.is_empty());
                Ok(())
            }
            MODULE => parse_module(rest).map(|m| report.modules.push(m)),
            IOMEM => parse_iomem(rest).map(|r| report.pmem_ranges.push(r)),
            REGION => parse_region(rest).map(|r| report.regions.push(r)),
            NAMESPACE => parse_namespace(rest).map(|n| report.namespaces.push(n)),
            CXL_DECODER => parse_cxl_decoder(rest).map(|d| report.cxl_decoders.push(d)),
            CXL_MEM => parse_cxl_memdev(rest).map(|m| report.cxl_memdevs.push(m)),
            DMESG => {
                let msg = parse_kernel_message(rest);
                if msg.level.is_some_and(|l| l <= WARNING_LEVEL) {
                    report.kernel_warnings.push(msg.text.clone());
                }
                report.kernel_messages.push(msg);
                Ok(())
            }
            END => {
                report.complete = true;
                Ok(())
            }
            // Not ours (e.g. an echoed `QPMEM-…` typed by someone): ignore.
            _ => Ok(()),
        };
        if let Err(why) = outcome {
            report.problems.push(format!("{why}: {line:?}"));
        }
    }
    report
}

/// A decimal or `0x` hexadecimal number.
fn parse_num(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// `name key=value key=value…`; empty values count as absent.
struct Fields<'a> {
    name: &'a str,
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Fields<'a> {
    fn parse(rest: &'a str, name_prefix: &str) -> Result<Self, String> {
        let mut tokens = rest.split_whitespace();
        let name = tokens
            .next()
            .filter(|n| n.starts_with(name_prefix) && !n.contains('='))
            .ok_or_else(|| format!("expected a {name_prefix}* name"))?;
        let mut pairs = Vec::new();
        for token in tokens {
            let (k, v) = token
                .split_once('=')
                .ok_or_else(|| format!("{token:?} is not key=value"))?;
            pairs.push((k, v));
        }
        Ok(Fields { name, pairs })
    }

    fn text(&self, key: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .filter(|v| !v.is_empty())
    }

    fn num(&self, key: &str) -> Result<Option<u64>, String> {
        match self.text(key) {
            None => Ok(None),
            Some(v) => parse_num(v)
                .map(Some)
                .ok_or_else(|| format!("{key}={v:?} is not a number")),
        }
    }

    fn required_num(&self, key: &str) -> Result<u64, String> {
        self.num(key)?.ok_or_else(|| format!("{key} is missing"))
    }
}

fn parse_module(rest: &str) -> Result<ModuleLoad, String> {
    let mut words = rest.splitn(3, ' ');
    let (Some(name), Some(verdict)) = (words.next(), words.next()) else {
        return Err("expected `<module> loaded|failed`".into());
    };
    let loaded = match verdict {
        "loaded" => true,
        "failed" => false,
        other => return Err(format!("unknown module verdict {other:?}")),
    };
    Ok(ModuleLoad {
        name: name.to_owned(),
        loaded,
        detail: words.next().unwrap_or("").trim().to_owned(),
    })
}

fn parse_iomem(rest: &str) -> Result<IomemRange, String> {
    let (range, name) = rest
        .split_once(':')
        .ok_or("expected `<start>-<end> : <name>`")?;
    let (start, end) = range
        .trim()
        .split_once('-')
        .ok_or("expected `<start>-<end>`")?;
    let hex = |s: &str| {
        u64::from_str_radix(s.trim(), 16).map_err(|_| format!("{s:?} is not a hex address"))
    };
    let (start, end) = (hex(start)?, hex(end)?);
    if end < start {
        return Err("range ends before it starts".into());
    }
    Ok(IomemRange {
        start,
        end,
        name: name.trim().to_owned(),
    })
}

fn parse_region(rest: &str) -> Result<Region, String> {
    let f = Fields::parse(rest, "region")?;
    Ok(Region {
        name: f.name.to_owned(),
        start: f.required_num("start")?,
        size: f.required_num("size")?,
        align: f.num("align")?,
        mappings: f.num("mappings")?,
    })
}

fn parse_cxl_decoder(rest: &str) -> Result<CxlDecoder, String> {
    let f = Fields::parse(rest, "decoder")?;
    Ok(CxlDecoder {
        name: f.name.to_owned(),
        start: f.required_num("start")?,
        size: f.required_num("size")?,
    })
}

fn parse_cxl_memdev(rest: &str) -> Result<CxlMemdev, String> {
    let f = Fields::parse(rest, "mem")?;
    Ok(CxlMemdev {
        name: f.name.to_owned(),
        pmem_size: f.required_num("pmem")?,
        path: f.text("path").unwrap_or_default().to_owned(),
    })
}

fn parse_namespace(rest: &str) -> Result<Namespace, String> {
    let f = Fields::parse(rest, "namespace")?;
    let region = f.text("region").ok_or("region is missing")?;
    let blockdevs = match f.text("blockdev") {
        None | Some("none") => Vec::new(),
        Some(list) => list.split(',').map(str::to_owned).collect(),
    };
    Ok(Namespace {
        name: f.name.to_owned(),
        region: region.to_owned(),
        start: f.num("start")?,
        size: f.required_num("size")?,
        mode: f.text("mode").map(str::to_owned),
        blockdevs,
    })
}

/// `<4>[    1.234567] text`, either prefix optional. Syslog prefixes may
/// carry a facility (`<12>`): the level is the low three bits.
fn parse_kernel_message(rest: &str) -> KernelMessage {
    let mut text = rest;
    let mut level = None;
    if let Some(after) = text.strip_prefix('<') {
        if let Some((num, tail)) = after.split_once('>') {
            if let Ok(n) = num.parse::<u32>() {
                level = Some((n & 7) as u8);
                text = tail;
            }
        }
    }
    let trimmed = text.trim_start();
    if let Some(after) = trimmed.strip_prefix('[') {
        if let Some((stamp, tail)) = after.split_once(']') {
            if stamp.trim().parse::<f64>().is_ok() {
                text = tail;
            }
        }
    }
    KernelMessage {
        level,
        text: text.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Console text shaped like a real boot: kernel noise, CRLF line ends,
    /// a kernel message glued in front of a marker.
    const REALISTIC: &str = "\
SeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n\
Booting from ROM..\r\n\
[    0.000000] Linux version 6.1.0-56-amd64\r\n\
\r\n\
QPMEM-BEGIN 1\r\n\
QPMEM-KERNEL 6.1.0-56-amd64\r\n\
QPMEM-MODULE libnvdimm loaded\r\n\
QPMEM-MODULE nd_btt loaded\r\n\
QPMEM-MODULE nd_pmem loaded\r\n\
QPMEM-MODULE nfit failed insmod: can't insert '/lib/modules/nfit.ko': No such device\r\n\
QPMEM-IOMEM 100000000-177ffffff : Persistent Memory\r\n\
[    2.345678] random: crng init done\r\n\
[    2.4] oops QPMEM-IOMEM 178000000-1efffffff : Persistent Memory\r\n\
QPMEM-REGION region0 start=0x100000000 size=2013265920 align=16777216 mappings=1\r\n\
QPMEM-REGION region1 start=0x178000000 size=2013265920 align= mappings=1\r\n\
QPMEM-NAMESPACE namespace0.0 region=region0 start=0x100000000 size=2013265920 mode=raw blockdev=pmem0\r\n\
QPMEM-NAMESPACE namespace1.0 region=region1 start= size=0 mode=raw blockdev=none\r\n\
QPMEM-DMESG <6>[    1.900000] nd_pmem namespace0.0: unable to guarantee persistence of writes\r\n\
QPMEM-DMESG <4>[    1.950000] nfit ACPI0012:00: found a zero length table '0' parsing nfit\r\n\
QPMEM-DMESG plain line without prefixes\r\n\
QPMEM-END\r\n\
QPMEM-SHELL\r\n\
~ # echo QPMEM-REGION region9 start=0 size=1\r\n\
QPMEM-REGION region9 start=0 size=1\r\n";

    #[test]
    fn parses_a_realistic_console() {
        let r = parse_report(REALISTIC);
        assert!(r.begun && r.complete && r.shell_started);
        assert_eq!(r.kernel_release.as_deref(), Some("6.1.0-56-amd64"));
        assert_eq!(r.modules.len(), 4);
        assert!(!r.modules[3].loaded);
        assert!(r.modules[3].detail.contains("No such device"));
        assert_eq!(
            r.pmem_ranges,
            [
                IomemRange {
                    start: 0x1_0000_0000,
                    end: 0x1_77ff_ffff,
                    name: "Persistent Memory".into()
                },
                IomemRange {
                    start: 0x1_7800_0000,
                    end: 0x1_efff_ffff,
                    name: "Persistent Memory".into()
                },
            ]
        );
        assert_eq!(r.pmem_ranges[0].size(), 0x7800_0000);
        assert_eq!(r.regions.len(), 2, "region9 was typed after the end");
        assert_eq!(r.regions[0].align, Some(16 << 20));
        assert_eq!(r.regions[1].align, None);
        assert_eq!(r.regions[1].start, 0x1_7800_0000);
        assert_eq!(r.namespaces[0].blockdevs, ["pmem0"]);
        assert_eq!(r.namespaces[0].mode.as_deref(), Some("raw"));
        assert_eq!(r.namespaces[1].start, None);
        assert!(r.namespaces[1].blockdevs.is_empty());
        assert_eq!(r.kernel_messages.len(), 3);
        assert_eq!(r.kernel_messages[0].level, Some(6));
        assert_eq!(
            r.kernel_messages[0].text,
            "nd_pmem namespace0.0: unable to guarantee persistence of writes"
        );
        assert_eq!(r.kernel_messages[2].level, None);
        assert_eq!(
            r.kernel_warnings,
            ["nfit ACPI0012:00: found a zero length table '0' parsing nfit"]
        );
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    #[test]
    fn malformed_lines_become_problems_not_panics() {
        let text = "QPMEM-BEGIN 1\n\
QPMEM-IOMEM zzz-100 : Persistent Memory\n\
QPMEM-IOMEM 200-100 : Persistent Memory\n\
QPMEM-IOMEM\n\
QPMEM-REGION region0 start=0x1000[    3.1] kernel text glued in\n\
QPMEM-REGION region1 size=5\n\
QPMEM-REGION\n\
QPMEM-REGION region2 start=0xffffffffffffffffff size=1\n\
QPMEM-NAMESPACE namespace0.0 size=1\n\
QPMEM-MODULE nfit exploded\n\
QPMEM-MODULE\n\
QPMEM-DMESG <99999999999>\n\
QPMEM-DMESG <4\n\
QPMEM-DMESG [\n\
QPMEM-KERNEL\n\
QPMEM-\n\
\u{fffd}QPMEM-IOMEM \u{e9}\u{e9}-\u{e9} : \u{1F600}\n";
        let r = parse_report(text);
        assert!(r.begun);
        assert!(!r.complete);
        assert!(r.pmem_ranges.is_empty() && r.regions.is_empty() && r.namespaces.is_empty());
        assert!(r.modules.is_empty());
        assert_eq!(r.kernel_release, None);
        assert_eq!(r.kernel_messages.len(), 3);
        assert_eq!(r.problems.len(), 11, "{:#?}", r.problems);
        assert!(r.problems[0].contains("zzz"));
    }

    #[test]
    fn a_new_begin_starts_over_and_no_begin_still_parses() {
        let r = parse_report(
            "QPMEM-BEGIN 1\nQPMEM-REGION region0 start=1 size=2\nQPMEM-BEGIN 1\nQPMEM-END\n",
        );
        assert!(r.regions.is_empty() && r.complete);
        let r = parse_report("QPMEM-REGION region0 start=1 size=2\n");
        assert!(!r.begun);
        assert_eq!(r.regions.len(), 1);
        assert_eq!(parse_report(""), GuestReport::default());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap fuzz over every marker followed by awkward tails.
        let tails = [
            "",
            " ",
            "=",
            " =",
            " a=b=c",
            " 0x",
            " -",
            " : ",
            " <7>[",
            "\u{0}",
            " region0 x",
        ];
        for m in MARKERS {
            for t in tails {
                let r = parse_report(&format!("{m}{t}\r\n{m}{t}"));
                // No tail is a range: none is made up from the pieces.
                assert!(r.pmem_ranges.is_empty(), "{m}{t}: {r:?}");
            }
        }
    }
}
