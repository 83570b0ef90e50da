//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

pub mod guest;
pub mod libvirt;
pub mod vm;

/// The real QEMU, or `None` (after saying why) when it is missing and the
/// environment does not require it. With `QPMEM_REQUIRE_QEMU=1` a missing
/// QEMU fails the test instead.
pub fn qemu_or_skip(test: &str) -> Option<PathBuf> {
    binary_or_skip(test, "qemu-system-x86_64", "qemu-system-x86")
}

/// The real `qemu-system-aarch64`, or `None` as [`qemu_or_skip`] decides.
pub fn aarch64_qemu_or_skip(test: &str) -> Option<PathBuf> {
    binary_or_skip(test, "qemu-system-aarch64", "qemu-system-arm")
}

/// UEFI firmware for arm64 `virt`, or `None` as [`qemu_or_skip`] decides.
pub fn aarch64_firmware_or_skip(test: &str) -> Option<PathBuf> {
    let found = qpmem::host::firmware::find(qpmem::core::arch::Arch::Aarch64);
    if found.is_none() {
        if std::env::var("QPMEM_REQUIRE_QEMU").as_deref() == Ok("1") {
            panic!("{test}: arm64 UEFI firmware is required (QPMEM_REQUIRE_QEMU=1) but none was found (apt-get install qemu-efi-aarch64)");
        }
        eprintln!("{test}: SKIPPED: no arm64 UEFI firmware (apt-get install qemu-efi-aarch64)");
    }
    found
}

/// libvirt's `virt-xml-validate`, or `None` as [`qemu_or_skip`] decides.
pub fn virt_xml_validate_or_skip(test: &str) -> Option<PathBuf> {
    binary_or_skip(test, "virt-xml-validate", "libvirt-clients")
}

/// `virt-xml-validate FILE domain` (the `validator` found by
/// [`virt_xml_validate_or_skip`]) accepts `file`; `context` goes in the
/// failure message.
pub fn assert_valid_domain(validator: &std::path::Path, file: &std::path::Path, context: &str) {
    let out = std::process::Command::new(validator)
        .arg(file)
        .arg("domain")
        .output()
        .expect("run virt-xml-validate");
    assert!(
        out.status.success(),
        "virt-xml-validate refuses {}: {}{}\n{context}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn binary_or_skip(test: &str, binary: &str, package: &str) -> Option<PathBuf> {
    match which::which(binary) {
        Ok(p) => Some(p),
        Err(_) => {
            if std::env::var("QPMEM_REQUIRE_QEMU").as_deref() == Ok("1") {
                panic!("{test}: {binary} is required (QPMEM_REQUIRE_QEMU=1) but not on PATH");
            }
            eprintln!("{test}: SKIPPED: {binary} not on PATH (apt-get install {package})");
            None
        }
    }
}

/// What a real POSIX `sh` makes of `words_text` as the words of a command
/// (the shell form qpmem prints): every word, in order.
pub fn sh_words(words_text: &str) -> Vec<String> {
    let script = format!("printf '%s\\0' {words_text}");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "sh failed on: {script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .split_terminator('\0')
        .map(String::from)
        .collect()
}

/// The settings every property test uses: `cases` cases; the seeds in the
/// `.proptest-regressions` file beside the test are replayed first, but a
/// new failure is never written into the tree (it is printed, to be kept
/// as a fixed test). `PROPTEST_RNG_SEED`, which `.ci/run` sets, fixes the
/// seed, so CI explores the same cases on every run; locally every run
/// explores new ones.
pub fn proptest_config(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases,
        failure_persistence: Some(Box::new(ReplayOnly(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        ))),
        ..proptest::test_runner::Config::default()
    }
}

/// Reads persisted failures, never writes them.
#[derive(Debug, Clone, PartialEq)]
struct ReplayOnly(proptest::test_runner::FileFailurePersistence);

impl proptest::test_runner::FailurePersistence for ReplayOnly {
    fn load_persisted_failures2(
        &self,
        source_file: Option<&'static str>,
    ) -> Vec<proptest::test_runner::PersistedSeed> {
        self.0.load_persisted_failures2(source_file)
    }

    fn save_persisted_failure2(
        &mut self,
        source_file: Option<&'static str>,
        seed: proptest::test_runner::PersistedSeed,
        shrunken_value: &dyn std::fmt::Debug,
    ) {
        eprintln!(
            "{}: property test failed (not saved; keep it as a fixed test): cc {seed} # shrinks to {shrunken_value:?}",
            source_file.unwrap_or("?")
        );
    }

    fn box_clone(&self) -> Box<dyn proptest::test_runner::FailurePersistence> {
        Box::new(self.clone())
    }

    fn eq(&self, other: &dyn proptest::test_runner::FailurePersistence) -> bool {
        other.as_any().downcast_ref::<ReplayOnly>() == Some(self)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A QEMU wrapper script in `dir` that appends its arguments to the
/// returned log, answers `--version` with `version`, and otherwise runs
/// `real`: which QEMU a command ran, and which version it was shown.
pub fn qemu_wrapper(
    dir: &std::path::Path,
    real: &std::path::Path,
    version: &str,
) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let log = dir.join("calls");
    let script = dir.join("qemu-wrapper");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\n\
             if [ \"$1\" = --version ]; then echo 'QEMU emulator version {version} (wrapper)'; exit 0; fi\n\
             exec '{}' \"$@\"\n",
            log.display(),
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, log)
}
