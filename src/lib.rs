//! stali: compose, build and boot Stali, a Linux image in which every binary is static.
//!
//! The crate is three layers: [`model`] (profile, catalog, plan, size estimate), and two
//! consumers of its [`model::Plan`]: the terminal configurator in [`ui`] and the build
//! pipeline in [`pipeline`]. [`cli`] wires them to the command line; [`host`] knows which
//! host tools the pipeline needs.
//!
//! Imports go one way: `main -> cli -> {ui, pipeline} -> model` (`kconfig`, the Kconfig
//! engine, sits beside the pipeline; `host`, `fsutil` and `shell` are helpers below them);
//! `tests/architecture.rs` fails on any other arrow or on a cycle.

pub mod cli;
pub mod fsutil;
pub mod host;
pub mod kconfig;
pub mod model;
pub mod pipeline;
pub mod shell;
pub mod ui;
