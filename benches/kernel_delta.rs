//! The live size delta of one kernel option (what the size panel shows for the highlighted
//! option): the engine switches it, with what it selects and needs, reads the values of
//! every option with a figure, puts everything back, and the figures of what changed are
//! summed. Goal: under 2 ms per call.
//!
//! Uses the shipped `minimal` profile, its kernel source (Debian's linux-source-6.1) and the
//! cache's Kconfig tree (`$XDG_CACHE_HOME/stali`, filled by `stali check` or `stali kconfig`).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use stali::kconfig::sizes::{option_delta, plan_kernel, watch_list};
use stali::model::{Catalog, Profile, resolve};

fn bench(c: &mut Criterion) {
    let catalog = Catalog::embedded();
    let text = stali::model::catalog::shipped_profile("minimal").expect("shipped minimal");
    let profile = Profile::parse(text, None, &catalog).expect("minimal parses");
    let plan = resolve(&profile, &catalog).expect("minimal resolves");
    let cache = stali::pipeline::cache::default_root().expect("cache folder");
    let mut pk = plan_kernel(&plan, &cache)
        .expect("kernel tree")
        .expect("figures for the default kernel source (the shipped database)");
    let watch = watch_list(&pk.computed.kc, &pk.sizes);
    let deps = pk.computed.kc.dependents();
    // The scoped evaluation must agree with a full one.
    for opt in ["EXT4_FS", "NET", "VIRTIO_BLK", "IPV6"] {
        let s = pk.computed.kc.find(opt).expect("symbol");
        let on = pk.computed.kc.tri_value(s) == stali::kconfig::Tri::N;
        let full = pk.computed.kc.what_if(s, on, &watch);
        let scoped = pk.computed.kc.what_if_in(s, on, &watch, Some(&deps));
        assert_eq!(full, scoped, "{opt}");
    }
    eprintln!("watching {} options with figures", watch.len());
    for (opt, on) in [
        ("CONFIG_EXT4_FS", true),
        ("CONFIG_NET", true),
        ("CONFIG_VIRTIO_BLK", false),
    ] {
        let d =
            option_delta(&mut pk.computed.kc, &pk.sizes, &watch, &deps, opt, on).expect("delta");
        eprintln!(
            "{opt} {}: {} bytes, {} options change, {} without a figure",
            if on { "on" } else { "off" },
            d.bytes,
            d.changed.len(),
            d.no_figure
        );
        c.bench_function(
            &format!("delta {opt} {}", if on { "on" } else { "off" }),
            |b| {
                b.iter(|| {
                    black_box(
                        option_delta(&mut pk.computed.kc, &pk.sizes, &watch, &deps, opt, on)
                            .expect("delta"),
                    )
                })
            },
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
