//! The build pipeline: `stali build` turns a plan into a bootable ISO, `stali boot` proves
//! it boots. It consumes [`crate::model::Plan`], takes plain options structs and knows
//! nothing of the command line or the UI (their handlers live in `cli`).
//!
//! Building blocks (each usable alone): [`exec`] runs logged commands, [`fetch`] gets
//! sources with git2, [`kernel`] configures and builds with kbuild, [`cpio`] writes a
//! reproducible initramfs, [`elf`] checks binaries are static, [`iso`] drives xorriso,
//! [`qemu`] boots. [`build`] strings the [`stages`] together with a [`cache`], and
//! reports through [`events`].

pub mod budget;
pub mod build;
pub mod cache;
pub mod cpio;
pub mod download;
pub mod elf;
pub mod events;
pub mod exec;
pub mod fetch;
pub mod iso;
pub mod kbuild_sizes;
pub mod kernel;
pub mod output;
pub mod qemu;
pub mod recipe;
pub mod report;
pub mod rootfs;
pub mod stages;
pub mod update;

#[cfg(test)]
mod chain_test;

use std::path::Path;

/// The banner to wait for when booting `iso`: from its build report, if there is one.
pub fn banner_for(iso: &Path) -> Option<String> {
    report::read_for(iso).map(|r| r.banner)
}

/// The architecture of `iso`'s kernel, as its build report says (x86_64 without one).
pub fn arch_for(iso: &Path) -> crate::model::Arch {
    report::read_for(iso).map(|r| r.arch()).unwrap_or_default()
}

/// The QEMU network card for `iso`: virtio-net when its kernel was built with it (as its
/// build report says; on PCI, or on aarch64's virtio-mmio), else e1000, which the
/// `networking` fragment always has.
pub fn nic_for(iso: &Path) -> &'static str {
    let report = report::read_for(iso);
    let has = |opt: &str| {
        report
            .as_ref()
            .is_some_and(|r| r.kernel_options.iter().any(|(k, v)| k == opt && v == "y"))
    };
    if has("CONFIG_VIRTIO_NET") && has("CONFIG_VIRTIO_MMIO") && !has("CONFIG_VIRTIO_PCI") {
        "virtio-net-device"
    } else if has("CONFIG_VIRTIO_NET") {
        "virtio-net-pci"
    } else {
        "e1000"
    }
}
