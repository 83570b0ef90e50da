//! The options qpmem owns when it runs QEMU itself (`probe`, `launch`):
//! where the console, the monitors and the display go. A profile's kept
//! `extra_args` may name them too (an imported `-nographic` or `-serial
//! mon:stdio`); those are set aside so they cannot clash with qpmem's own,
//! and the caller reports what was set aside.

/// Options that take a value and that qpmem replaces.
const WITH_VALUE: &[&str] = &[
    "serial",
    "monitor",
    "display",
    "qmp",
    "qmp-pretty",
    "mon",
    "vnc",
    "parallel",
];
/// Options without a value that qpmem replaces.
const FLAGS: &[&str] = &["nographic", "daemonize", "curses", "sdl"];

/// `extra_args` without the console, monitor and display options, and the
/// options set aside (each with its value, as one string).
pub fn without_console_options(args: &[String]) -> (Vec<String>, Vec<String>) {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let name = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .unwrap_or("");
        let value = args.get(i + 1);
        if FLAGS.contains(&name) {
            dropped.push(arg.clone());
            i += 1;
        } else if WITH_VALUE.contains(&name) {
            match value {
                Some(v) => dropped.push(format!("{arg} {v}")),
                None => dropped.push(arg.clone()),
            }
            i += 2;
        } else if name == "chardev" && value.is_some_and(|v| is_stdio_chardev(v)) {
            dropped.push(format!("{arg} {}", value.map(String::as_str).unwrap_or("")));
            i += 2;
        } else {
            kept.push(arg.clone());
            i += 1;
        }
    }
    (kept, dropped)
}

/// `-chardev stdio,...`: only one character device may use stdio.
fn is_stdio_chardev(value: &str) -> bool {
    value.split(',').next() == Some("stdio")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn sets_aside_console_options_and_keeps_the_rest() {
        let args = v(&[
            "-nographic",
            "-serial",
            "mon:stdio",
            "-enable-kvm",
            "-chardev",
            "stdio,id=c0,mux=on",
            "-chardev",
            "socket,id=s,path=/tmp/s",
            "--display",
            "gtk",
            "-numa",
            "node",
        ]);
        let (kept, dropped) = without_console_options(&args);
        assert_eq!(
            kept,
            v(&[
                "-enable-kvm",
                "-chardev",
                "socket,id=s,path=/tmp/s",
                "-numa",
                "node"
            ])
        );
        assert_eq!(
            dropped,
            v(&[
                "-nographic",
                "-serial mon:stdio",
                "-chardev stdio,id=c0,mux=on",
                "--display gtk"
            ])
        );
        let (kept, dropped) = without_console_options(&v(&["-monitor"]));
        assert!(kept.is_empty());
        assert_eq!(dropped, v(&["-monitor"]));
    }
}
