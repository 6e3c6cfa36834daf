//! stali: compose, build and boot Stali, a Linux image in which every binary is static.
//!
//! The crate is three layers: [`model`] (profile, catalog, plan, size estimate), and two
//! consumers of its [`model::Plan`]: the terminal configurator in [`ui`] and the build
//! pipeline in [`pipeline`]. [`cli`] wires them to the command line; [`host`] knows which
//! host tools the pipeline needs.

pub mod cli;
pub mod host;
pub mod kconfig;
pub mod model;
pub mod pipeline;
pub mod ui;
