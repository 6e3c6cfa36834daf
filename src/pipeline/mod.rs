//! The build pipeline (`stali build`, `stali boot`).

use crate::cli::{BootArgs, BuildArgs};

/// Runs `stali build`; returns the exit code.
pub fn cli_build(_args: &BuildArgs) -> i32 {
    eprintln!("stali build: not built yet");
    1
}

/// Runs `stali boot`; returns the exit code.
pub fn cli_boot(_args: &BootArgs) -> i32 {
    eprintln!("stali boot: not built yet");
    1
}
