//! The interactive editor (`qpmem`, `qpmem edit`) and the launch view.
//!
//! [`app`] is a state machine (`handle(Event) -> Vec<Effect>`) with no
//! terminal inside; [`action`] holds the key map and the serde `Action`
//! enum it produces; [`form`] parses and validates what is typed into the
//! editor forms; [`ui`] and [`panes`] draw (one file per pane) without
//! changing state; [`theme`] loads RON themes; [`profiles`] is what the
//! open picker lists; [`run`](mod@run) is the driver that owns the terminal and
//! performs effects. [`launch_view`] is the running VM's view, a state
//! machine too (`handle(ViewEvent) -> Vec<VmEffect>`), and [`launch`] the
//! one loop that runs it, for `qpmem launch` and the editor's `l` alike.

pub mod action;
pub mod app;
pub mod form;
pub mod launch;
pub mod launch_view;
pub mod panes;
pub mod profiles;
pub mod run;
pub mod theme;
pub mod ui;

pub use app::{App, Effect, Event, LaunchCheck, Pane, Setup};
pub use run::{run, Options};
