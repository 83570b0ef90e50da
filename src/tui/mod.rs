//! The interactive editor (`qpmem`, `qpmem edit`) and the launch view.
//!
//! [`app`] is a state machine (`handle(Event) -> Vec<Effect>`, the types
//! in [`event`]) with no terminal inside: one mode, the document
//! ([`doc`]), the panes' components ([`panes`], one file each, drawing
//! without changing state) and the screen's [`geometry`]. [`action`] holds
//! the serde `Action` enum and the default key table, [`keymap`] the key
//! map in use (with the user's `keys.ron`), [`input`] the one line editor,
//! [`form`] what each form field accepts; [`ui`] draws the screen from the
//! app; [`theme`] loads RON themes; [`profiles`] is what the open picker
//! lists; [`run`](mod@run) is the driver that owns the terminal and
//! performs effects. [`launch_view`] is the running VM's view, a state
//! machine too (`handle(ViewEvent) -> Vec<VmEffect>`), and [`launch`] the
//! one loop that runs it, for `qpmem launch` and the editor's `l` alike.

pub mod action;
pub mod app;
pub mod doc;
pub mod event;
pub mod form;
pub mod geometry;
pub mod input;
pub mod keymap;
pub mod launch;
pub mod launch_view;
pub mod panes;
pub mod profiles;
pub mod run;
pub mod theme;
pub mod ui;

pub use app::{App, Setup};
pub use event::{Effect, Event, LaunchCheck};
pub use geometry::Pane;
pub use run::{run, Options};
