//! Hotplug into the running VM: the next DIMM judged against what QEMU
//! reports now ([`crate::core::hotplug`]), its backing file created as a
//! launch creates one (never over an existing file), then QMP
//! `object-add` and `device_add`, and QEMU's report against the
//! prediction. A refused `device_add` takes its object back
//! (`object-del`) and the file it made, so a failure leaves nothing.

use super::preflight::{plan_files, prepare, Plan};
use super::{Vm, VmError};
use crate::core::device::Dimm;
use crate::core::facts::{HostFacts, QemuStatus};
use crate::core::hotplug::{outcome, plan, HotplugPlan, Outcome, Running};
use crate::core::new_dimm::new_nvdimm;
use crate::core::qemu::QemuVersion;
use crate::core::size::format_human;
use crate::lock;
use serde_json::Value;

/// A hotplug judged against the running VM and this host.
#[derive(Debug, Clone, PartialEq)]
pub struct HotplugCheck {
    /// The VM it was judged against.
    pub running: Running,
    pub plan: HotplugPlan,
    /// The directories and backing file it creates, and what is wrong
    /// with them (launch's own file plan).
    pub files: Plan,
    /// When the VM has no room for it: what gives the next launch room
    /// ([`crate::core::hotplug::room_fix`] on the launched profile).
    pub room: Option<crate::core::diagnose::Fix>,
}

impl HotplugCheck {
    /// Everything that stops it, one message each.
    pub fn errors(&self) -> Vec<String> {
        let mut out = self.plan.errors();
        out.extend(self.files.problems.iter().map(ToString::to_string));
        out
    }

    /// What it creates on disk, for the question asked first.
    pub fn changes(&self) -> Vec<String> {
        self.files.changes()
    }

    /// One line: the device and where QEMU will put it.
    pub fn summary(&self) -> String {
        let d = &self.plan.device;
        match &self.plan.placement {
            Ok(p) => format!(
                "{}: {} ({} visible) at {:#x}-{:#x}{}",
                d.id,
                format_human(d.size.0),
                format_human(p.size),
                p.addr,
                p.end() - 1,
                p.slot.map_or_else(String::new, |s| format!(", slot {s}"))
            ),
            Err(e) => format!(
                "{}: {}: QEMU will refuse it: {e}",
                d.id,
                format_human(d.size.0)
            ),
        }
    }
}

/// How a hotplug went.
#[derive(Debug, thiserror::Error)]
pub enum HotplugError {
    #[error("not plugged: {}", .0.join("; "))]
    Blocked(Vec<String>),
    #[error("not plugged: {0}")]
    Prepare(#[from] super::PrepareError),
    /// QEMU refused; what qpmem added was taken back.
    #[error("QEMU refused {what}: {message} (nothing was left behind)")]
    Refused { what: &'static str, message: String },
    #[error(transparent)]
    Vm(#[from] VmError),
}

/// How long an unplug waits for the guest to release the device.
pub const UNPLUG_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// QEMU's refusal of a QMP command as [`HotplugError::Refused`] (its
/// own words); any other failure as it is.
fn refused(what: &'static str, e: VmError) -> HotplugError {
    match e {
        VmError::Qmp(crate::qemu::QmpError::Command { desc, .. }) => HotplugError::Refused {
            what,
            message: desc,
        },
        other => HotplugError::Vm(other),
    }
}

impl Vm {
    /// The release of the QEMU running, from QMP `query-version`.
    fn running_version(&self) -> Option<QemuVersion> {
        let v = self.qmp("query-version", None).ok()?;
        let n = |k: &str| v["qemu"][k].as_u64().and_then(|n| u32::try_from(n).ok());
        Some(QemuVersion::new(n("major")?, n("minor")?, n("micro")?))
    }

    /// What the VM is now: the launched profile, the devices this session
    /// hotplugged, and QEMU's own report.
    pub fn running(&self) -> Result<Running, VmError> {
        if self.domain.is_some() {
            return Err(VmError::Unsupported(
                "hotplug through libvirt is not built: libvirt would not know the device (use virsh attach-device)",
            ));
        }
        let plugged = {
            let mut guard = lock(&self.qmp);
            let qmp = guard.as_mut().ok_or(VmError::NotReady)?;
            qmp.query_memory_devices()?
        };
        Ok(Running::new(
            &self.profile,
            &self.hotplugged(),
            plugged,
            self.running_version(),
        ))
    }

    /// The devices hotplugged in this session, in order.
    pub fn hotplugged(&self) -> Vec<Dimm> {
        lock(&self.hotplugged).clone()
    }

    /// The next DIMM (the defaults of the editor's `a`, a backing file of
    /// its own beside the others) judged against the running VM.
    pub fn plan_hotplug(&self) -> Result<HotplugCheck, VmError> {
        let running = self.running()?;
        let ctx = crate::host::new_dimm_context(crate::store::dirs::data_dir(), running.qemu);
        let device = new_nvdimm(&running.profile, &ctx);
        Ok(self.check_hotplug(&running, device))
    }

    /// Judge adding `device` to the VM as it is now, with the host's
    /// facts (the rules `qpmem check` runs).
    pub fn check_hotplug(&self, running: &Running, device: Dimm) -> HotplugCheck {
        let mut with = running.profile.clone();
        with.devices.push(device.clone());
        let host = HostFacts {
            qemu: QemuStatus::stated(running.qemu),
            ..crate::host::gather(&with)
        };
        let plan = plan(running, device.clone(), &host);
        let mut one = running.profile.clone();
        one.devices = vec![device];
        let mut files = Plan::default();
        plan_files(&one, &mut files);
        HotplugCheck {
            running: running.clone(),
            room: crate::core::hotplug::room_fix(&self.profile, &plan),
            plan,
            files,
        }
    }

    /// Carry out a checked hotplug: create its file (`confirmed` answers
    /// [`HotplugCheck::changes`]), `object-add`, `device_add`, then QEMU's
    /// report against the prediction. On a refusal everything added is
    /// taken back.
    pub fn hotplug(&self, check: &HotplugCheck, confirmed: bool) -> Result<Outcome, HotplugError> {
        let errors = check.errors();
        if !errors.is_empty() {
            return Err(HotplugError::Blocked(errors));
        }
        prepare(&check.files, confirmed)?;
        let undo_files = || {
            for f in check.files.create_files.iter().filter(|f| !f.grows_empty) {
                let _ = std::fs::remove_file(&f.path);
            }
            for d in check.files.create_dirs.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
        };
        let p = &check.plan;
        if let Err(e) = self.qmp("object-add", Some(p.object_add.clone())) {
            undo_files();
            return Err(refused("object-add", e));
        }
        if let Err(e) = self.qmp("device_add", Some(p.device_add.clone())) {
            let id = p.object_add["id"].clone();
            let _ = self.qmp("object-del", Some(serde_json::json!({ "id": id })));
            undo_files();
            return Err(refused("device_add", e));
        }
        lock(&self.hotplugged).push(p.device.clone());
        let after = {
            let mut guard = lock(&self.qmp);
            let qmp = guard.as_mut().ok_or(VmError::NotReady)?;
            qmp.query_memory_devices()?
        };
        Ok(outcome(p, &after))
    }

    /// Unplug `id` (QMP `device_del`): QEMU refuses NVDIMMs ("nvdimm
    /// device hot unplug is not supported yet") and its reason comes back;
    /// a pc-dimm is released by the guest (ACPI eject), waited for up to
    /// [`UNPLUG_WAIT`], then its backend is removed (`object-del`).
    /// `Ok(true)`: gone; `Ok(false)`: asked, the guest still holds it.
    pub fn unplug(&self, id: &str) -> Result<bool, HotplugError> {
        let memdev = self
            .running()?
            .plugged
            .into_iter()
            .find(|m| m.id.as_deref() == Some(id))
            .map(|m| m.memdev.trim_start_matches("/objects/").to_string());
        let Some(memdev) = memdev else {
            return Err(HotplugError::Blocked(vec![format!(
                "QEMU reports no device {id}"
            )]));
        };
        self.qmp("device_del", Some(serde_json::json!({ "id": id })))
            .map_err(|e| refused("device_del", e))?;
        let deadline = std::time::Instant::now() + UNPLUG_WAIT;
        loop {
            let gone = self
                .running()?
                .plugged
                .iter()
                .all(|m| m.id.as_deref() != Some(id));
            if gone {
                break;
            }
            if std::time::Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.qmp("object-del", Some(serde_json::json!({ "id": memdev })));
        lock(&self.hotplugged).retain(|d| d.id != id);
        Ok(true)
    }

    /// Grow (or shrink) virtio-mem device `id`'s `requested-size` by one
    /// step, a memory section in whole blocks (128 MiB with 2 MiB
    /// blocks), between 0 and its backend's size: QMP `qom-get`, then
    /// `qom-set` on `/machine/peripheral/ID` (QEMU refuses a size above
    /// the backend's or off the block size, and its reason comes back).
    /// The guest's driver then plugs or unplugs blocks to meet it.
    /// Returns the new requested size and the device's size.
    pub fn resize(&self, id: &str, grow: bool) -> Result<(u64, u64), HotplugError> {
        let running = self.running()?;
        let Some(d) = running.profile.devices.iter().find(|d| {
            d.id == id
                && d.kind
                    .spec()
                    .has(crate::core::device::Setting::RequestedSize)
        }) else {
            return Err(HotplugError::Blocked(vec![format!(
                "{id} is not a virtio-mem device: only virtio-mem resizes"
            )]));
        };
        let page = crate::core::device::page_size(&HostFacts::default(), &d.backend);
        let block = crate::core::device::virtio_mem::block_size(d, page).max(1);
        let step =
            crate::core::size::align_up(running.profile.section_size(), block).unwrap_or(block);
        let path = format!("/machine/peripheral/{id}");
        let now = self
            .qmp(
                "qom-get",
                Some(serde_json::json!({ "path": path, "property": "requested-size" })),
            )
            .map_err(|e| refused("qom-get", e))?
            .as_u64()
            .unwrap_or(0);
        let size = d.size.0;
        let to = if grow {
            now.saturating_add(step).min(size - size % block)
        } else {
            now.saturating_sub(step)
        };
        self.qmp(
            "qom-set",
            Some(serde_json::json!({ "path": path, "property": "requested-size", "value": to })),
        )
        .map_err(|e| refused("qom-set", e))?;
        Ok((to, size))
    }

    /// A QMP command with arguments; its `return`.
    pub fn qmp(&self, command: &str, args: Option<Value>) -> Result<Value, VmError> {
        if matches!(self.status(), super::VmStatus::Exited(_)) {
            return Err(VmError::Exited);
        }
        let mut guard = lock(&self.qmp);
        let qmp = guard.as_mut().ok_or(VmError::NotReady)?;
        qmp.execute(command, args)
    }
}
