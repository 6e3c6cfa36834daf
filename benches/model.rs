//! Benchmarks of the model: `check` (parse + resolve) and `size` (+ estimate) on the shipped
//! profiles, in process, and a cold `stali size` process end to end.

use std::hint::black_box;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use stali::model::catalog::EMBEDDED_PROFILES;
use stali::model::{Catalog, Profile, estimate, resolve};

fn model(c: &mut Criterion) {
    let catalog = Catalog::embedded();
    c.bench_function("catalog/embedded", |b| {
        b.iter(|| black_box(Catalog::embedded()))
    });
    for (name, text) in EMBEDDED_PROFILES {
        c.bench_function(&format!("check/{name}"), |b| {
            b.iter(|| {
                let p = Profile::parse(black_box(text), None, &catalog).expect("valid");
                black_box(resolve(&p, &catalog).expect("resolves"))
            })
        });
        let plan = resolve(
            &Profile::parse(text, None, &catalog).expect("valid"),
            &catalog,
        )
        .expect("resolves");
        c.bench_function(&format!("size/{name}"), |b| {
            b.iter(|| black_box(estimate(black_box(&plan), &catalog)))
        });
    }
}

/// Check of a generated 1 MiB profile (kernel options one per line, then all on one
/// line): linear in the file's size since positions come from a line index.
fn large(c: &mut Criterion) {
    let catalog = Catalog::embedded();
    let mut g = c.benchmark_group("check");
    g.sample_size(10);
    for (label, one_line) in [("lines", false), ("one line", true)] {
        let text = stali::model::profile::generated_profile(1 << 20, one_line);
        g.bench_function(format!("generated 1 MiB ({label})"), |b| {
            b.iter(|| {
                let p = Profile::parse(black_box(&text), None, &catalog).expect("valid");
                black_box(resolve(&p, &catalog).expect("resolves"))
            })
        });
    }
    g.finish();
}

fn cold_process(c: &mut Criterion) {
    let exe = env!("CARGO_BIN_EXE_stali");
    let profile = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/stali-classic.toml");
    let mut g = c.benchmark_group("process");
    g.sample_size(20);
    g.bench_function("stali size stali-classic (cold process)", |b| {
        b.iter(|| {
            let o = Command::new(exe)
                .args(["size", profile])
                .output()
                .expect("run stali");
            assert!(o.status.success());
        })
    });
    g.finish();
}

criterion_group!(benches, model, large, cold_process);
criterion_main!(benches);
