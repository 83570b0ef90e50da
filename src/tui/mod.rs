//! The interactive editor (`qpmem`, `qpmem edit`).
//!
//! [`app`] is a state machine (`handle(Event) -> Vec<Effect>`) with no
//! terminal inside; [`action`] holds the key map and the serde `Action`
//! enum it produces; [`form`] parses and validates what is typed into the
//! editor forms; [`ui`] and [`panes`] draw (one file per pane) without
//! changing state; [`theme`] loads RON themes; [`profiles`] is what the
//! open picker lists; [`run`](mod@run) is the driver that owns the terminal and
//! performs effects.

pub mod action;
pub mod app;
pub mod form;
pub mod panes;
pub mod profiles;
pub mod run;
pub mod theme;
pub mod ui;

pub use app::{App, Effect, Event, Pane, Setup};
pub use run::{run, Options};
