//! The configurator (`stali menu`).

use crate::cli::MenuArgs;

/// Runs the configurator; returns the exit code.
pub fn run(_args: MenuArgs) -> i32 {
    eprintln!("stali menu: not built yet");
    2
}
