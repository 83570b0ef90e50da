//! A small QMP client: JSON lines over a unix socket.

use crate::core::qemu::MemoryDeviceInfo;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("QMP socket {path}: {source}")]
    Connect {
        path: String,
        source: std::io::Error,
    },
    #[error("QMP: {0}")]
    Io(#[from] std::io::Error),
    #[error("QMP: unreadable reply: {0}")]
    Json(#[from] serde_json::Error),
    #[error("QMP: the connection closed")]
    Closed,
    #[error("QMP {command}: {class}: {desc}")]
    Command {
        command: String,
        class: String,
        desc: String,
    },
    #[error("QMP socket {path}: the process at the other end (pid {peer}) is not our QEMU (pid {expected}); refusing it")]
    NotOurQemu {
        path: String,
        peer: i32,
        expected: u32,
    },
    #[error("QMP: unexpected reply: {0}")]
    Unexpected(String),
}

/// An open QMP session, capabilities negotiated.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    /// Connect to `path`, check that the process listening there is
    /// `expected_pid` (our QEMU child, by `SO_PEERCRED`), read the greeting
    /// and leave negotiation mode.
    pub fn connect(path: &Path, timeout: Duration, expected_pid: u32) -> Result<Qmp, QmpError> {
        let stream = UnixStream::connect(path).map_err(|source| QmpError::Connect {
            path: path.display().to_string(),
            source,
        })?;
        let cred = rustix::net::sockopt::socket_peercred(&stream).map_err(std::io::Error::from)?;
        let peer = cred.pid.as_raw_pid();
        if u32::try_from(peer).ok() != Some(expected_pid) {
            return Err(QmpError::NotOurQemu {
                path: path.display().to_string(),
                peer,
                expected: expected_pid,
            });
        }
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let writer = stream.try_clone()?;
        let mut qmp = Qmp {
            reader: BufReader::new(stream),
            writer,
        };
        let greeting = qmp.read_message()?;
        if greeting.get("QMP").is_none() {
            return Err(QmpError::Unexpected(greeting.to_string()));
        }
        qmp.execute("qmp_capabilities", None)?;
        Ok(qmp)
    }

    fn read_message(&mut self) -> Result<Value, QmpError> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(QmpError::Closed);
        }
        Ok(serde_json::from_str(&line)?)
    }

    /// Run a command and return its `return` value; events are skipped.
    pub fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value, QmpError> {
        let mut msg = json!({ "execute": command });
        if let Some(args) = arguments {
            msg["arguments"] = args;
        }
        let mut line = msg.to_string();
        line.push('\n');
        self.writer.write_all(line.as_bytes())?;
        loop {
            let reply = self.read_message()?;
            if reply.get("event").is_some() {
                continue;
            }
            if let Some(ret) = reply.get("return") {
                return Ok(ret.clone());
            }
            if let Some(err) = reply.get("error") {
                let s = |k: &str| err.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                return Err(QmpError::Command {
                    command: command.to_string(),
                    class: s("class"),
                    desc: s("desc"),
                });
            }
            return Err(QmpError::Unexpected(reply.to_string()));
        }
    }

    /// `query-memory-devices`, flattened.
    pub fn query_memory_devices(&mut self) -> Result<Vec<MemoryDeviceInfo>, QmpError> {
        let ret = self.execute("query-memory-devices", None)?;
        parse_memory_devices(&ret)
    }
}

/// Flatten `[{"type":"nvdimm","data":{...}}]`.
pub fn parse_memory_devices(ret: &Value) -> Result<Vec<MemoryDeviceInfo>, QmpError> {
    let items = ret
        .as_array()
        .ok_or_else(|| QmpError::Unexpected(ret.to_string()))?;
    items
        .iter()
        .map(|item| {
            let kind = item.get("type").cloned().unwrap_or(Value::Null);
            let mut data = item
                .get("data")
                .cloned()
                .ok_or_else(|| QmpError::Unexpected(item.to_string()))?;
            if let Value::Object(map) = &mut data {
                map.insert("type".into(), kind);
                // virtio-pmem and virtio-mem report `memaddr`, no slot or node.
                if let Some(a) = map.get("memaddr").cloned() {
                    map.entry("addr").or_insert(a);
                }
                // virtio-mem's `size` is what the guest has plugged (0
                // under -S); the range it takes of the region is
                // `max-size`, its backend's size.
                if let Some(m) = map.get("max-size").cloned() {
                    map.insert("size".into(), m);
                }
            }
            serde_json::from_value(data).map_err(QmpError::from)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_query_memory_devices() {
        let v: Value = serde_json::from_str(r#"[{"type":"nvdimm","data":{"id":"nv1","slot":0,"addr":4294967296,"size":18251513856,"node":0,"memdev":"/objects/mem1","hotplugged":false,"hotpluggable":true}}]"#).unwrap();
        let d = parse_memory_devices(&v).unwrap();
        assert_eq!(d[0].kind, "nvdimm");
        assert_eq!(d[0].id.as_deref(), Some("nv1"));
        assert_eq!(d[0].addr, 0x1_0000_0000);
        assert!(parse_memory_devices(&json!({"x":1})).is_err());
        assert!(parse_memory_devices(&json!([{"type":"dimm"}])).is_err());
        // What 7.2 reports for a virtio-pmem-pci device.
        let v = json!([{"type":"virtio-pmem","data":{"id":"vpmem1","memaddr":4294967296u64,"size":4294967296u64,"memdev":"/objects/vm1"}}]);
        let d = parse_memory_devices(&v).unwrap();
        assert_eq!(
            (d[0].kind.as_str(), d[0].addr),
            ("virtio-pmem", 0x1_0000_0000)
        );
    }

    /// A QMP server in this process: its peer pid is ours.
    fn fake_server() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("qmp.sock");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let mut s = s.unwrap();
                let _ = s.write_all(b"{\"QMP\": {}}\n");
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) > 0 {
                    let _ = s.write_all(b"{\"return\": {}}\n");
                }
            }
        });
        (dir, sock)
    }

    #[test]
    fn refuses_a_peer_that_is_not_our_qemu() {
        let (_dir, sock) = fake_server();
        let other = std::process::id() + 1;
        match Qmp::connect(&sock, Duration::from_secs(5), other) {
            Err(QmpError::NotOurQemu { peer, expected, .. }) => {
                assert_eq!(peer as u32, std::process::id());
                assert_eq!(expected, other);
            }
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("connected to a socket served by another process"),
        }
        // The same server is accepted when it is the expected peer.
        Qmp::connect(&sock, Duration::from_secs(5), std::process::id()).unwrap();
    }
}
