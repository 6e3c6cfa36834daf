//! Boot benchmark: time from QEMU start to the ready banner, per boot mode, and ISO sizes.
//!
//! `STALI_BENCH_ISOS="a.iso b.iso" cargo bench --bench boot` boots each ISO (built by
//! `stali build`, with its `NAME.build-report.json` beside it or `STALI_BENCH_EXPECT` set)
//! `STALI_BENCH_RUNS` times (default 5) in every mode its report allows, and prints the
//! minimum, median and maximum seconds to the banner. Without `STALI_BENCH_ISOS` it says so
//! and does nothing (it needs ISOs, which take minutes to build).

use std::path::PathBuf;
use std::time::Duration;

use stali::pipeline::{banner_for, qemu};

fn main() {
    let Ok(list) = std::env::var("STALI_BENCH_ISOS") else {
        println!("boot bench: set STALI_BENCH_ISOS to ISO paths built by `stali build`");
        return;
    };
    let runs: usize = std::env::var("STALI_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    for iso in list.split_whitespace().map(PathBuf::from) {
        let Some(expect) = std::env::var("STALI_BENCH_EXPECT")
            .ok()
            .or_else(|| banner_for(&iso))
        else {
            println!(
                "{}: no build report beside it; set STALI_BENCH_EXPECT",
                iso.display()
            );
            continue;
        };
        let size = std::fs::metadata(&iso).map(|m| m.len()).unwrap_or(0);
        let boot = stali::pipeline::report::read_for(&iso)
            .map(|r| r.boot)
            .unwrap_or_else(|| "hybrid".into());
        println!("{}: {size} bytes, {boot}", iso.display());
        for uefi in [false, true] {
            if (uefi && boot == "bios") || (!uefi && boot == "uefi") {
                continue;
            }
            let mut times = Vec::new();
            for _ in 0..runs {
                let mut spec = qemu::BootSpec::new(iso.clone(), uefi, expect.clone());
                spec.timeout = Duration::from_secs(300);
                match qemu::boot(&spec) {
                    Ok(o) => times.push(o.elapsed.as_secs_f64()),
                    Err(e) => {
                        println!("  boot failed: {e:#}");
                        break;
                    }
                }
            }
            times.sort_by(f64::total_cmp);
            if let (Some(min), Some(max)) = (times.first(), times.last()) {
                println!(
                    "  {}: {} runs, min {min:.2} s, median {:.2} s, max {max:.2} s",
                    if uefi { "UEFI" } else { "BIOS" },
                    times.len(),
                    times[times.len() / 2]
                );
            }
        }
    }
}
