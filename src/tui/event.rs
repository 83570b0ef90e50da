//! What crosses between the app and its driver ([`run`](mod@crate::tui::run)):
//! the [`Event`]s the app handles (terminal input and the results of
//! effects), the [`Effect`]s it asks for, and [`TaskError`], why an
//! effect failed (typed and cloneable, shown as text by the app).

use super::profiles::{Opened, ProfileEntry, ProfileRef};
use crate::core::facts::{HostFacts, QemuStatus};
use crate::core::profile::Profile;
use crate::core::qemu::Comparison;
use crate::files::FileError;
use crate::source::SourceError;
use crate::store::StoreError;
use crate::verify::{VerifyError, VerifyReport};
use crate::vm::{PrepareError, VmError};
use crossterm::event::{KeyEvent, MouseEvent};
use std::path::PathBuf;
use std::sync::Arc;

/// Why an effect failed. The errors of the store, QEMU and the guest
/// check are kept as they are (shared, so an event can be cloned).
#[derive(Debug, Clone, thiserror::Error)]
pub enum TaskError {
    #[error("no home directory: the profile store is unavailable")]
    NoStore,
    #[error(transparent)]
    Store(Arc<StoreError>),
    /// A profile to open could not be found or read.
    #[error(transparent)]
    Source(Arc<SourceError>),
    /// The directory a save goes into could not be made.
    #[error("{}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: Arc<std::io::Error>,
    },
    /// No QEMU to launch: none there, or it says no version.
    #[error("not launching: QEMU {qemu}: {reason}")]
    NoQemu { qemu: String, reason: String },
    /// The launch check's errors, each rendered.
    #[error("not launching: {}", .0.join("; "))]
    Blocked(Vec<String>),
    #[error("not launching: {0}")]
    Prepare(Arc<PrepareError>),
    #[error("launch failed: {0}")]
    Launch(Arc<VmError>),
    /// The terminal failed while the VM ran (the VM was stopped).
    #[error("QEMU stopped: {0}")]
    Terminal(Arc<std::io::Error>),
    /// QEMU exited with an error status; its last line on stderr.
    #[error("QEMU {state}{}", last.as_ref().map(|l| format!(": {l}")).unwrap_or_default())]
    QemuFailed { state: String, last: Option<String> },
    #[error(transparent)]
    Verify(Arc<VerifyError>),
    #[error("cannot start the guest check: {0}")]
    VerifyThread(Arc<std::io::Error>),
    /// An output file (the map's picture) could not be written.
    #[error(transparent)]
    File(Arc<FileError>),
}

impl From<FileError> for TaskError {
    fn from(e: FileError) -> TaskError {
        TaskError::File(Arc::new(e))
    }
}

impl From<SourceError> for TaskError {
    fn from(e: SourceError) -> TaskError {
        TaskError::Source(Arc::new(e))
    }
}

impl From<StoreError> for TaskError {
    fn from(e: StoreError) -> TaskError {
        TaskError::Store(Arc::new(e))
    }
}

/// What the launch check found (see [`crate::vm::Plan`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LaunchCheck {
    /// The files and directories that will be created: asked about first.
    pub changes: Vec<String>,
    /// What to know before launching (nothing to boot...): shown in the
    /// question and in the launch view.
    pub notes: Vec<String>,
}

/// What happens to the app.
#[derive(Debug, Clone)]
pub enum Event {
    Key(KeyEvent),
    /// Text pasted into the terminal (bracketed paste): typed into the
    /// field or name being edited, ignored elsewhere (it must not run
    /// keys as commands).
    Paste(String),
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// Which QEMU runs the profile, and its release (or why none).
    QemuDetected(QemuStatus),
    /// What the host says about the backing files and QEMU (the same facts
    /// `qpmem check` judges).
    HostGathered(Box<HostFacts>),
    /// A save finished: the path written, or the error.
    Saved(Result<PathBuf, TaskError>),
    /// The map's picture was written (where), or why not.
    PictureSaved(Result<PathBuf, TaskError>),
    /// The profiles the picker offers, or why they cannot be listed.
    ProfilesListed(Result<Vec<ProfileEntry>, TaskError>),
    /// A profile was read for `o`.
    Opened(Result<Box<Opened>, TaskError>),
    /// The command line was copied: how, or why not (the clipboard's
    /// own summary, not a store or QEMU error).
    Copied(Result<String, String>),
    /// The launch check: what launching will change and what to know
    /// first, or why the VM cannot be launched.
    LaunchChecked(Result<LaunchCheck, TaskError>),
    /// The VM ended (how), or could not be started (why).
    Launched(Result<String, TaskError>),
    /// A stored profile was removed (its name) or renamed (from, to, the
    /// new file), or why not.
    ProfileRemoved(Result<String, TaskError>),
    ProfileRenamed(Result<(String, String, PathBuf), TaskError>),
    /// The theme chosen with the cycle key was written to `config.ron`
    /// (its name), or why not.
    ThemeRemembered(Result<String, TaskError>),
    /// Devices were hotplugged into the VM launched from here (in order):
    /// offered as cold-plugged devices of the profile.
    Hotplugged(Vec<crate::core::device::Dimm>),
    /// Changes for the next launch asked for in the launch view (room to
    /// hotplug): applied to the profile as one change.
    NextLaunch(Vec<crate::core::diagnose::Fix>),
    /// QEMU, launched from here, reported where it placed the devices.
    QemuPlaced(Box<Comparison>),
    /// A guest check moved on to a new stage (its label).
    VerifyStage(String),
    /// A guest check ended: its report, or why it could not run.
    Verified(Result<Box<VerifyReport>, TaskError>),
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Quit,
    /// Write `profile` to `path` atomically (as the stored profile
    /// `name` when given), then send [`Event::Saved`].
    Save {
        path: PathBuf,
        name: Option<String>,
        profile: Profile,
    },
    /// Write the map's SVG picture to `path` (never over a FIFO's or a
    /// device's place, atomically over a file), then send
    /// [`Event::PictureSaved`].
    SavePicture {
        path: PathBuf,
        svg: String,
    },
    /// List profiles, then send [`Event::ProfilesListed`].
    ListProfiles,
    /// Read a profile, then send [`Event::Opened`].
    Open(ProfileRef),
    /// Put the text on the clipboard, then send [`Event::Copied`].
    Copy(String),
    /// Check the profile for launching, then send [`Event::LaunchChecked`].
    Launch(Profile),
    /// Create the missing files and run the VM with its console; send
    /// [`Event::Launched`] when it ends.
    StartVm(Profile),
    /// Find the profile's QEMU (see [`crate::qemu::discover::resolve`]) and
    /// read its version, then send [`Event::QemuDetected`].
    DetectQemu(Profile),
    /// Look at the host for this profile, then send [`Event::HostGathered`].
    GatherHost(Profile),
    /// Boot a throwaway guest on scratch files (in the background),
    /// sending [`Event::VerifyStage`] as it goes and [`Event::Verified`].
    Verify(Profile),
    /// Stop the running guest check.
    CancelVerify,
    /// Remove a stored profile (kept as `.bak`), then send
    /// [`Event::ProfileRemoved`].
    RemoveProfile(String),
    /// Rename a stored profile, then send [`Event::ProfileRenamed`].
    RenameProfile {
        from: String,
        to: String,
    },
    /// Remember this theme's name in `config.ron`, then send
    /// [`Event::ThemeRemembered`].
    RememberTheme(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_the_messages_did() {
        let blocked = TaskError::Blocked(vec!["error[QP200]: x".into(), "error: y".into()]);
        assert_eq!(
            blocked.to_string(),
            "not launching: error[QP200]: x; error: y"
        );
        let missing = TaskError::NoQemu {
            qemu: "qemu-system-x86_64".into(),
            reason: "not on PATH".into(),
        };
        assert_eq!(
            missing.to_string(),
            "not launching: QEMU qemu-system-x86_64: not on PATH"
        );
        let failed = |last: Option<&str>| TaskError::QemuFailed {
            state: "exited (status 1)".into(),
            last: last.map(String::from),
        };
        assert_eq!(
            failed(Some("qemu: -device: bad")).to_string(),
            "QEMU exited (status 1): qemu: -device: bad"
        );
        assert_eq!(failed(None).to_string(), "QEMU exited (status 1)");
        let store = StoreError::NoSuchProfile {
            name: "x".into(),
            path: "/p/x.ron".into(),
        };
        let text = store.to_string();
        let e = TaskError::from(store);
        assert_eq!(e.to_string(), text);
        // Typed, and an event carrying one clones (the source is shared).
        let ev = Event::Saved(Err(e));
        match ev.clone() {
            Event::Saved(Err(TaskError::Store(s))) => {
                assert!(matches!(*s, StoreError::NoSuchProfile { .. }))
            }
            other => panic!("{other:?}"),
        }
    }
}
