//! The stages of `stali build`, each cached by a content key: [`sources`] (fetch),
//! [`kernel`] (UAPI headers, then configure and build the bzImage), [`packages`]
//! (dependency order, independent ones in parallel) and [`image`] (root filesystem,
//! initramfs, ISO). `super::build` strings them together.

pub mod image;
pub mod kernel;
pub mod packages;
pub mod sources;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use super::build::BuildOptions;
use super::events::Reporter;
use crate::model::Plan;

/// What every stage of one build needs to know.
pub struct Ctx<'a> {
    /// The plan being built.
    pub plan: &'a Plan,
    /// The build's options.
    pub opts: &'a BuildOptions,
    /// The cache root (canonical).
    pub cache: &'a Path,
    /// The folder of this profile's logs.
    pub logs: &'a Path,
    /// Versions of the host tools that shape outputs (see `build::host_versions`).
    pub versions: &'a BTreeMap<String, String>,
    /// Where the stages report.
    pub events: &'a dyn Reporter,
    /// Stages that did work, in order.
    pub rebuilt: Mutex<Vec<String>>,
}

impl Ctx<'_> {
    /// Records that `what` did work (not from the cache).
    pub fn rebuilt(&self, what: impl Into<String>) {
        self.rebuilt
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(what.into());
    }

    /// The version of host tool `name`, or `""`.
    pub fn version(&self, name: &str) -> &str {
        self.versions.get(name).map(String::as_str).unwrap_or("")
    }

    /// Reports a step of `stage` worth a line.
    pub fn step(&self, stage: &str, what: impl Into<String>) {
        self.events.event(&super::events::BuildEvent::Step {
            stage: stage.into(),
            what: what.into(),
        });
    }
}
