//! Copy text to the clipboard for the TUI's `y`: an OSC 52 escape sequence
//! written to the terminal (it travels through SSH), plus `wl-copy`,
//! `xclip` or `xsel` when one is installed and its display is reachable.
//!
//! Inside tmux the plain OSC 52 sequence reaches the outer terminal only
//! when tmux's `set-clipboard` is `on`; its default, `external`, keeps
//! applications out. So inside tmux qpmem also hands the text to `tmux
//! load-buffer -w -`, which fills tmux's paste buffer and (with the default
//! `set-clipboard external`) forwards it to the outer terminal's clipboard
//! by OSC 52 itself. qpmem does not wrap the sequence in tmux's DCS
//! passthrough: that needs `allow-passthrough on`, which is off by default
//! since tmux 3.3, and would bypass tmux's own buffer.

use base64::Engine;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The OSC 52 sequence that sets the clipboard (`c`) to `text`:
/// `ESC ] 52 ; c ; BASE64 BEL`.
pub fn osc52(text: &str) -> String {
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
    )
}

/// One way the text went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Way {
    /// The OSC 52 sequence was written to the terminal.
    Osc52,
    /// A helper program took it (`tmux`, `wl-copy`, `xclip`, `xsel`).
    Tool(&'static str),
}

/// What happened: the ways that worked, and those that were tried and failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub ways: Vec<Way>,
    pub failures: Vec<(&'static str, String)>,
}

impl Report {
    /// A short line for the status bar: `copied (OSC 52, wl-copy)`.
    pub fn summary(&self) -> String {
        if self.ways.is_empty() {
            let why: Vec<_> = self
                .failures
                .iter()
                .map(|(w, e)| format!("{w}: {e}"))
                .collect();
            return format!("not copied ({})", why.join("; "));
        }
        let ways: Vec<&str> = self
            .ways
            .iter()
            .map(|w| match w {
                Way::Osc52 => "OSC 52",
                Way::Tool(t) => t,
            })
            .collect();
        format!("copied ({})", ways.join(", "))
    }
}

/// What the environment offers, gathered once (tests build their own).
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// Inside tmux (`$TMUX` set).
    pub tmux: bool,
    /// `$WAYLAND_DISPLAY` set.
    pub wayland: bool,
    /// `$DISPLAY` set.
    pub x11: bool,
    /// Found on PATH.
    pub tools: Vec<(&'static str, PathBuf)>,
}

impl Env {
    /// Read the process environment and look the helpers up on PATH.
    pub fn detect() -> Env {
        let set = |v| std::env::var_os(v).is_some_and(|s| !s.is_empty());
        let tools = ["tmux", "wl-copy", "xclip", "xsel"]
            .into_iter()
            .filter_map(|t| which::which(t).ok().map(|p| (t, p)))
            .collect();
        Env {
            tmux: set("TMUX"),
            wayland: set("WAYLAND_DISPLAY"),
            x11: set("DISPLAY"),
            tools,
        }
    }

    fn tool(&self, name: &str) -> Option<&PathBuf> {
        self.tools.iter().find(|(t, _)| *t == name).map(|(_, p)| p)
    }

    /// The helper commands that apply here, in order, with their arguments.
    pub fn commands(&self) -> Vec<(&'static str, PathBuf, Vec<&'static str>)> {
        let mut out = Vec::new();
        let mut add = |name: &'static str, args: Vec<&'static str>| {
            if let Some(p) = self.tool(name) {
                out.push((name, p.clone(), args));
            }
        };
        if self.tmux {
            add("tmux", vec!["load-buffer", "-w", "-"]);
        }
        if self.wayland {
            add("wl-copy", vec![]);
        }
        if self.x11 {
            if self.tool("xclip").is_some() {
                add("xclip", vec!["-selection", "clipboard", "-in"]);
            } else {
                add("xsel", vec!["--clipboard", "--input"]);
            }
        }
        out
    }
}

/// Copy `text`: OSC 52 to `terminal` (the TUI's output; flushed), then
/// every helper that applies. Never panics; failures are reported.
pub fn copy(text: &str, terminal: &mut dyn Write, env: &Env) -> Report {
    let mut report = Report::default();
    match terminal
        .write_all(osc52(text).as_bytes())
        .and_then(|_| terminal.flush())
    {
        Ok(()) => report.ways.push(Way::Osc52),
        Err(e) => report.failures.push(("OSC 52", e.to_string())),
    }
    for (name, path, args) in env.commands() {
        match run_tool(&path, &args, text) {
            Ok(()) => report.ways.push(Way::Tool(name)),
            Err(e) => report.failures.push((name, e)),
        }
    }
    report
}

/// Feed `text` to a helper's stdin. X11/Wayland helpers fork a process
/// that keeps serving the selection; the one started here returns once
/// it has read its input. Give up (and kill it) after two seconds.
fn run_tool(path: &std::path::Path, args: &[&str], text: &str) -> Result<(), String> {
    let mut child = Command::new(path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("exited with {status}")),
            Ok(None) if start.elapsed() > Duration::from_secs(2) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("did not finish within 2 s".into());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_follow_the_environment() {
        let tools = vec![
            ("tmux", PathBuf::from("/bin/tmux")),
            ("xclip", PathBuf::from("/bin/xclip")),
            ("xsel", PathBuf::from("/bin/xsel")),
            ("wl-copy", PathBuf::from("/bin/wl-copy")),
        ];
        let none = Env {
            tools: tools.clone(),
            ..Env::default()
        };
        assert!(none.commands().is_empty());
        let all = Env {
            tmux: true,
            wayland: true,
            x11: true,
            tools,
        };
        let names: Vec<_> = all.commands().into_iter().map(|c| c.0).collect();
        assert_eq!(names, ["tmux", "wl-copy", "xclip"]);
    }

    #[test]
    fn copy_reports_the_ways_it_went() {
        let mut term = Vec::new();
        let r = copy("hi", &mut term, &Env::default());
        assert_eq!(r.ways, [Way::Osc52]);
        assert_eq!(term, b"\x1b]52;c;aGk=\x07");
        assert_eq!(r.summary(), "copied (OSC 52)");
        // A helper that fails is reported, and the others still count.
        let env = Env {
            x11: true,
            tools: vec![("xclip", PathBuf::from("/nonexistent/xclip"))],
            ..Env::default()
        };
        let r = copy("hi", &mut Vec::new(), &env);
        assert_eq!(r.ways, [Way::Osc52]);
        assert_eq!(r.failures.len(), 1);
        assert_eq!(r.failures[0].0, "xclip");
    }
}
