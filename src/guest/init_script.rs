//! The guest's `/init`: a busybox shell script that loads the nvdimm
//! modules, waits for the nd bus to settle, prints what the kernel sees as
//! `QPMEM-…` lines (parsed by [`super::report`]) and then powers off or
//! hands the console to a shell.
//!
//! Kernel console messages are turned down (`dmesg -n 1`) before the report
//! so they do not cut report lines in half; the nvdimm-related part of the
//! kernel log is printed by the report itself, with its log levels.

/// Where [`super::initramfs::build_initramfs`] writes the list of modules to
/// load, one name per line, dependencies first.
pub const MODULE_LIST: &str = "etc/qpmem/modules";
/// The directory holding `<name>.ko` for every listed module.
pub const MODULE_DIR: &str = "lib/modules";

/// What the guest does once the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitMode {
    /// Print the report, then power off (QEMU exits with `-no-reboot`).
    #[default]
    Report,
    /// Print the report, then start a shell on the console (a line
    /// `QPMEM-SHELL` announces it); power off when the shell exits.
    ReportThenShell,
}

const PROLOGUE: &str = r#"#!/bin/busybox sh
# /init of the qpmem guest. Prints QPMEM-* lines (see qpmem's src/guest/report.rs).
/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# Keep kernel messages off the console while the report is printed.
dmesg -n 1

attr() { cat "$1/$2" 2>/dev/null; }

echo
echo "QPMEM-BEGIN 1"
echo "QPMEM-KERNEL $(uname -r)"
if [ -f /etc/qpmem/modules ]; then
  while read -r m; do
    [ -n "$m" ] || continue
    if err=$(insmod "/lib/modules/$m.ko" 2>&1); then
      echo "QPMEM-MODULE $m loaded"
    else
      echo "QPMEM-MODULE $m failed" $err
    fi
  done < /etc/qpmem/modules
fi

# Region and namespace devices are registered asynchronously: reading
# wait_probe flushes that, and the list must then be still for 0.3 s.
for w in /sys/bus/nd/devices/ndbus*/wait_probe; do
  [ -e "$w" ] && cat "$w" >/dev/null 2>&1
done
prev=; same=0; n=0
while [ $n -lt 50 ] && [ $same -lt 3 ]; do
  cur=$(ls /sys/bus/nd/devices /sys/block 2>/dev/null | tr '\n' ' ')
  if [ "$cur" = "$prev" ]; then same=$((same + 1)); else same=0; prev=$cur; fi
  sleep 0.1
  n=$((n + 1))
done

grep 'Persistent Memory' /proc/iomem | while read -r line; do
  echo "QPMEM-IOMEM $line"
done
for r in /sys/bus/nd/devices/region*; do
  [ -d "$r" ] || continue
  echo "QPMEM-REGION ${r##*/} start=$(attr $r resource) size=$(attr $r size) align=$(attr $r align) mappings=$(attr $r mappings)"
done
for ns in /sys/bus/nd/devices/namespace*; do
  [ -d "$ns" ] || continue
  parent=$(readlink -f "$ns"); parent=${parent%/*}; parent=${parent##*/}
  blk=$(ls "$ns/block" 2>/dev/null | tr '\n' ','); blk=${blk%,}
  echo "QPMEM-NAMESPACE ${ns##*/} region=$parent start=$(attr $ns resource) size=$(attr $ns size) mode=$(attr $ns mode) blockdev=${blk:-none}"
done
# CXL (when its modules loaded): the memdevs appear asynchronously, after
# the root decoders (the fixed memory windows) are registered.
if [ -d /sys/bus/cxl/devices ]; then
  n=0
  while [ $n -lt 50 ] && ! ls /sys/bus/cxl/devices | grep -q '^mem'; do sleep 0.2; n=$((n + 1)); done
  sleep 0.5
  for d in /sys/bus/cxl/devices/decoder0.*; do
    [ -d "$d" ] || continue
    echo "QPMEM-CXL-DECODER ${d##*/} start=$(attr $d start) size=$(attr $d size)"
  done
  for m in /sys/bus/cxl/devices/mem*; do
    [ -d "$m" ] || continue
    echo "QPMEM-CXL-MEM ${m##*/} pmem=$(attr $m pmem/size) path=$(readlink -f $m)"
  done
fi
dmesg -r | grep -i -E 'nvdimm|nfit|pmem|nd_|cxl' | while read -r line; do
  echo "QPMEM-DMESG $line"
done
echo "QPMEM-END"
"#;

const POWER_OFF: &str = r#"sync
poweroff -f
"#;

const SHELL: &str = r#"echo "QPMEM-SHELL"
setsid cttyhack sh
sync
poweroff -f
"#;

/// The text of `/init` for `mode`.
pub fn init_script(mode: InitMode) -> String {
    let tail = match mode {
        InitMode::Report => POWER_OFF,
        InitMode::ReportThenShell => SHELL,
    };
    format!("{PROLOGUE}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_uses_the_paths_the_initramfs_writes() {
        let s = init_script(InitMode::Report);
        assert!(s.starts_with("#!/bin/busybox sh\n"));
        assert!(s.contains(&format!("/{MODULE_LIST}")));
        assert!(s.contains(&format!("/{MODULE_DIR}/$m.ko")));
    }

    #[test]
    fn modes_differ_only_in_what_follows_the_report() {
        let report = init_script(InitMode::Report);
        let shell = init_script(InitMode::ReportThenShell);
        assert!(report.ends_with("QPMEM-END\"\nsync\npoweroff -f\n"));
        assert!(shell.contains("QPMEM-END\"\necho \"QPMEM-SHELL\"\nsetsid cttyhack sh\n"));
        assert!(!report.contains("cttyhack"));
    }

    #[test]
    fn script_prints_every_marker_the_parser_reads() {
        let s = init_script(InitMode::ReportThenShell);
        for marker in crate::guest::report::MARKERS {
            assert!(
                s.contains(&format!("\"{marker}")),
                "{marker} is never printed"
            );
        }
    }

    /// busybox sh (or any POSIX sh) must accept the script's syntax.
    #[test]
    fn script_parses_as_shell() {
        let Ok(sh) = which::which("sh") else {
            return;
        };
        for mode in [InitMode::Report, InitMode::ReportThenShell] {
            let out = std::process::Command::new(&sh)
                .args(["-n", "-c", &init_script(mode)])
                .output()
                .expect("run sh -n");
            assert!(
                out.status.success(),
                "{mode:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
