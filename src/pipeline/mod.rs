//! Low-level pipeline building blocks: running logged commands, writing the
//! initramfs, checking ELF files, building the kernel, writing the ISO,
//! booting it under QEMU and fetching sources.

pub mod cpio;
pub mod elf;
pub mod exec;
pub mod fetch;
pub mod iso;
pub mod kernel;
pub mod qemu;

#[cfg(test)]
mod chain_test;
