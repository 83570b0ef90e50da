//! Which other processes hold a file open: every `/proc/<pid>/fd/*` is
//! compared by device and inode, so a path reached through a symlink or a
//! bind mount is still recognised. Processes whose descriptors this user
//! may not read (other users', without root) are skipped.

use std::fs;
use std::os::unix::fs::MetadataExt;

/// For each file (given as device and inode), the processes other than
/// this one that have it open: `(index into files, pid, command name)`,
/// one entry per process and file.
pub fn holders(files: impl IntoIterator<Item = (u64, u64)>) -> Vec<(usize, u32, String)> {
    let files: Vec<(u64, u64)> = files.into_iter().collect();
    let mut found = Vec::new();
    if files.is_empty() {
        return found;
    }
    let me = std::process::id();
    let Ok(procs) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let mut hit = vec![false; files.len()];
        for fd in fds.flatten() {
            let Ok(meta) = fs::metadata(fd.path()) else {
                continue;
            };
            for (i, (dev, ino)) in files.iter().enumerate() {
                if meta.dev() == *dev && meta.ino() == *ino {
                    hit[i] = true;
                }
            }
        }
        if hit.iter().any(|h| *h) {
            let command = fs::read_to_string(entry.path().join("comm"))
                .map(|c| c.trim_end().to_string())
                .unwrap_or_else(|_| "?".into());
            for (i, h) in hit.iter().enumerate() {
                if *h {
                    found.push((i, pid, command.clone()));
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn finds_another_process_holding_the_file_but_not_us() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("held");
        fs::write(&path, b"x").unwrap();
        let meta = fs::metadata(&path).unwrap();
        // We hold it ourselves: that does not count.
        let _own = fs::File::open(&path).unwrap();
        assert!(holders([(meta.dev(), meta.ino())]).is_empty());
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("exec sleep 30 3<\"$0\"")
            .arg(&path)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let want = (1, pid, "sleep".to_string());
        // Until the shell has opened the file and become `sleep`. Other
        // tests' children may show up too (a forked child holds its
        // parent's descriptors until it execs): look for ours.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut got = Vec::new();
        while !got.contains(&want) && std::time::Instant::now() < deadline {
            got = holders([(0, 0), (meta.dev(), meta.ino())]);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(got.contains(&want), "{got:?}");
        assert!(got
            .iter()
            .all(|(i, p, _)| *i == 1 && *p != std::process::id()));
    }
}
