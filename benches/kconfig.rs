//! Benchmarks of the Kconfig engine on the Linux 6.1 tree, side by side with the kernel's
//! own `conf --olddefconfig` on the same input: cold load (parse and evaluate, toolchain
//! probes memoized), a copy of a loaded tree, one toggle re-evaluated, memory.
//!
//! The tree and `conf` are the ones `cargo test --test kconfig` prepares under
//! `target/tmp/kconfig/` (or `STALI_KCONFIG_SRC` and `STALI_KCONFIG_CONF`). A plain timing
//! loop prints p50 and p99.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use stali::kconfig::{Kconfig, LoadOptions, Tri};

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time of this process (user + system), from `/proc/self/stat`.
fn cpu() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn main() {
    let tmp = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp/kconfig");
    let src = std::env::var_os("STALI_KCONFIG_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.join("linux-source-6.1"));
    let conf = std::env::var_os("STALI_KCONFIG_CONF")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.join("obj/scripts/kconfig/conf"));
    if !src.join("Kconfig").is_file() || !conf.is_file() {
        eprintln!(
            "no kernel tree at {} or no conf at {}: run `cargo test --test kconfig` first",
            src.display(),
            conf.display()
        );
        std::process::exit(1);
    }
    let mut opts = LoadOptions::x86_64();
    let cache = tmp.join("bench-probes.json");
    let _ = std::fs::remove_file(&cache);
    opts.cache_file = Some(cache);

    // First load ever: the toolchain probes run.
    let rss0 = rss_kib();
    let t = Instant::now();
    let mut kc = Kconfig::load(&src, &opts).expect("load");
    let first = t.elapsed();
    let rss1 = rss_kib();
    let tiny = kc.tinyconfig("x86").expect("tinyconfig");
    println!(
        "kconfig: {} symbols, {} menu entries, {} files",
        kc.syms.len(),
        kc.menus.len(),
        kc.file_count
    );
    println!("first load (probes run):            {}", ms(first));

    // Cold load with probes memoized: parse + finalize + olddefconfig.
    let mut cold = Vec::new();
    let cpu0 = cpu();
    for _ in 0..10 {
        let t = Instant::now();
        let mut k = Kconfig::load(&src, &opts).expect("load");
        black_box(k.olddefconfig(&tiny));
        cold.push(t.elapsed());
    }
    let cpu_each = (cpu() - cpu0) / 10;
    println!(
        "cold load + olddefconfig (memoized): p50 {}  p99 {}  (CPU {} each)",
        ms(pct(&mut cold, 0.5)),
        ms(pct(&mut cold, 0.99)),
        ms(cpu_each)
    );

    // The kernel's own conf on the same input.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = opts.kbuild_env(&src);
    let cc = Command::new("sh")
        .args(["-c", "gcc --version 2>/dev/null | head -n 1"])
        .output()
        .expect("gcc --version");
    env.insert(
        "CC_VERSION_TEXT".into(),
        String::from_utf8_lossy(&cc.stdout).trim_end().to_string(),
    );
    let mut conf_t = Vec::new();
    for _ in 0..3 {
        std::fs::write(dir.path().join(".config"), &tiny).expect("write");
        let t = Instant::now();
        let st = Command::new(&conf)
            .args(["-s", "--olddefconfig", "Kconfig"])
            .current_dir(dir.path())
            .env_clear()
            .envs(&env)
            .status()
            .expect("conf");
        assert!(st.success());
        conf_t.push(t.elapsed());
    }
    println!(
        "conf --olddefconfig (same input):    p50 {} (wall, with its probes)",
        ms(pct(&mut conf_t, 0.5))
    );

    // A second load from the on-disk tree cache (what `stali kconfig`, `stali check`, a
    // build and the configurator do after the first load of a tree).
    let store = tempfile::tempdir().expect("tempdir");
    let stored_opts = LoadOptions {
        tree_cache: Some(store.path().to_path_buf()),
        ..opts.clone()
    };
    Kconfig::load(&src, &stored_opts).expect("load");
    let mut again = Vec::new();
    let mut again_eval = Vec::new();
    let mut again_cpu = Duration::ZERO;
    for _ in 0..20 {
        let (t, c) = (Instant::now(), cpu());
        let mut k = Kconfig::load(&src, &stored_opts).expect("load");
        again_cpu += cpu() - c;
        assert!(
            k.from_store,
            "the second load did not come from the tree cache"
        );
        again.push(t.elapsed());
        black_box(k.olddefconfig(&tiny));
        again_eval.push(t.elapsed());
    }
    let stored_bytes: u64 = std::fs::read_dir(store.path())
        .expect("read_dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "second load from the tree cache:    p50 {}  p99 {}  (CPU {} each; {:.1} MiB stored); + olddefconfig p50 {}",
        ms(pct(&mut again, 0.5)),
        ms(pct(&mut again, 0.99)),
        ms(again_cpu / 20),
        stored_bytes as f64 / 1048576.0,
        ms(pct(&mut again_eval, 0.5))
    );

    // A second load from memory: a copy of the loaded tree.
    let mut copies = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        black_box(kc.clone());
        copies.push(t.elapsed());
    }
    println!(
        "copy of a loaded tree:              p50 {}  p99 {}",
        ms(pct(&mut copies, 0.5)),
        ms(pct(&mut copies, 0.99))
    );

    // One toggle re-evaluated: set a value, then recompute every symbol (a full redraw
    // needs no more).
    kc.olddefconfig(&tiny);
    let syms: Vec<u32> = [
        "PRINTK", "BLOCK", "PCI", "NET", "TTY", "PROC_FS", "SYSFS", "BUG",
    ]
    .iter()
    .filter_map(|n| kc.find(n))
    .collect();
    let mut toggles = Vec::new();
    for i in 0..400 {
        let s = syms[i % syms.len()];
        let t = Instant::now();
        let v = if kc.tri_value(s) == Tri::Y { "n" } else { "y" };
        assert!(kc.set_value(s, v), "toggle refused");
        for id in 0..kc.syms.len() as u32 {
            kc.calc_value(id);
        }
        toggles.push(t.elapsed());
    }
    println!(
        "toggle + full re-evaluation:        p50 {}  p99 {}",
        ms(pct(&mut toggles, 0.5)),
        ms(pct(&mut toggles, 0.99))
    );
    // What a redraw of one 80x24 screen needs: the values of about 20 entries.
    let screen: Vec<u32> = kc
        .children(stali::kconfig::ROOT_MENU)
        .into_iter()
        .flat_map(|m| kc.children(m))
        .filter_map(|m| kc.menus[m as usize].sym)
        .take(20)
        .collect();
    let mut screen_t = Vec::new();
    for i in 0..400 {
        let s = syms[i % syms.len()];
        let t = Instant::now();
        let v = if kc.tri_value(s) == Tri::Y { "n" } else { "y" };
        assert!(kc.set_value(s, v), "toggle refused");
        for &id in &screen {
            kc.calc_value(id);
        }
        screen_t.push(t.elapsed());
    }
    println!(
        "toggle + one screen re-evaluated:   p50 {}  p99 {}",
        ms(pct(&mut screen_t, 0.5)),
        ms(pct(&mut screen_t, 0.99))
    );
    println!(
        "memory of the loaded tree (RSS growth of the first load): {:.1} MiB",
        (rss1.saturating_sub(rss0)) as f64 / 1024.0
    );
}
