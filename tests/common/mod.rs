//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

pub mod guest;

/// The real QEMU, or `None` (after saying why) when it is missing and the
/// environment does not require it. With `QPMEM_REQUIRE_QEMU=1` a missing
/// QEMU fails the test instead.
pub fn qemu_or_skip(test: &str) -> Option<PathBuf> {
    match which::which("qemu-system-x86_64") {
        Ok(p) => Some(p),
        Err(_) => {
            if std::env::var("QPMEM_REQUIRE_QEMU").as_deref() == Ok("1") {
                panic!(
                    "{test}: qemu-system-x86_64 is required (QPMEM_REQUIRE_QEMU=1) but not on PATH"
                );
            }
            eprintln!(
                "{test}: SKIPPED: qemu-system-x86_64 not on PATH (apt-get install qemu-system-x86)"
            );
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
