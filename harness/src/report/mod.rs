//! Reporting. [`text`] renders one run for a terminal (`mapconform run`); the cross-kernel
//! report (`mapconform report`) is a pure [`model`] built from committed snapshots and/or
//! fresh [`results`], with [`explanations`] attached, and renderers that only consume it:
//! [`markdown`] (CI step summary), [`html`] (one self-contained page), [`junit`].
pub mod cli;
pub mod doors;
pub mod explanations;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod results;
pub mod text;

// `report::text(..)`, `report::compare(..)`, … keep working for existing callers.
pub use text::*;
