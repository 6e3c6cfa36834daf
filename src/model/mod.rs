//! The model: profiles, the catalog, resolution into a plan, and the size estimate.
//!
//! Nothing here knows about the terminal UI or how the pipeline builds things; both
//! consume [`Plan`] and [`Estimate`].

pub mod access;
pub mod arch;
pub mod catalog;
pub mod diag;
pub mod diff;
pub mod estimate;
pub mod kernel_sizes;
pub mod owned;
pub mod plan;
pub mod profile;
pub mod service;
pub mod track;
pub mod trust;
pub mod walk;

pub use arch::Arch;
pub use catalog::{BootMode, BuildStyle, Catalog, Fragment, Hardware, Origin, Source, ToolDef};
pub use diag::{Diagnostic, Invalid, Severity};
pub use estimate::{Component, Estimate, Kind, estimate};
pub use plan::{ImagePlan, KernelPlan, Plan, PlannedFragment, PlannedTool, resolve};
pub use profile::{Compression, KernelSource, Profile};

/// Loads, parses and resolves a profile file in one go.
pub fn load_plan(path: &std::path::Path, catalog: &Catalog) -> Result<(Profile, Plan), Invalid> {
    let profile = Profile::load(path, catalog)?;
    let plan = resolve(&profile, catalog)?;
    Ok((profile, plan))
}
