//! Benchmarks of the configurator: a key plus a full redraw, one search keystroke over the
//! real catalog and over 20,000 synthetic entries, and the bytes one cursor move sends.
//! Besides criterion's report, a plain timing loop prints p50 and p99.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::{CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use stali::model::{Catalog, Profile};
use stali::ui::app::App;
use stali::ui::search::{Entry, Index, Search};
use stali::ui::theme::Look;

fn app() -> App {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/minimal.toml");
    let text = std::fs::read_to_string(&path).expect("profile");
    let p = Profile::parse(&text, Some(&path), &stali::model::Catalog::embedded()).expect("parses");
    let mut app = App::new(p, Some(text), Catalog::embedded(), Look::default()).expect("resolves");
    // Into Tools > library, the longest list, where a move also recomputes a size delta.
    for c in [KeyCode::Down, KeyCode::Enter, KeyCode::End, KeyCode::Enter] {
        app.handle(KeyEvent::new(c, KeyModifiers::NONE));
    }
    app
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

const WORDS: &[&str] = &[
    "serial", "usb", "net", "block", "virtio", "console", "ext4", "crypto", "sound", "input",
    "pci", "acpi", "efi", "driver", "support", "device", "memory", "debug", "power", "thermal",
];

/// 20,000 kernel-option-like entries, deterministic.
fn synthetic(n: usize) -> Index {
    let mut v = Vec::with_capacity(n);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..n {
        let mut pick = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            WORDS[(x % WORDS.len() as u64) as usize]
        };
        let (a, b, c, d) = (pick(), pick(), pick(), pick());
        v.push(Entry {
            name: format!("CONFIG_{}_{}_{i}", a.to_uppercase(), b.to_uppercase()),
            description: format!("{c} {d} option number {i}"),
            location: "Kernel > Fragments".into(),
            target: None,
        });
    }
    Index::new(v)
}

fn percentiles(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let p = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<40} p50 {:>9.1?}  p99 {:>9.1?}  max {:>9.1?}  (n={})",
        p(0.50),
        p(0.99),
        p(1.0),
        samples.len()
    );
}

/// Times one search keystroke: each sample types the next character of a query.
fn keystroke_samples(index: Index, queries: &[&str], rounds: usize) -> Vec<Duration> {
    let mut s = Search::new(index);
    let mut out = Vec::new();
    for _ in 0..rounds {
        for q in queries {
            s.set_query("");
            for end in 1..=q.len() {
                let t = Instant::now();
                s.set_query(&q[..end]);
                out.push(t.elapsed());
                black_box(&s.results);
            }
        }
    }
    out
}

/// A writer that only counts bytes.
struct Count(std::rc::Rc<std::cell::Cell<usize>>);

impl std::io::Write for Count {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.set(self.0.get() + b.len());
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn bytes_per_cursor_move() -> usize {
    let n = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut app = app();
    let opts = TerminalOptions {
        viewport: Viewport::Fixed(Rect::new(0, 0, 80, 24)),
    };
    let mut t =
        Terminal::with_options(CrosstermBackend::new(Count(n.clone())), opts).expect("terminal");
    stali::ui::draw_frame(&mut t, &app).expect("first frame");
    n.set(0);
    app.handle(key(KeyCode::Down));
    stali::ui::draw_frame(&mut t, &app).expect("second frame");
    n.get()
}

fn custom_report() {
    println!("--- stali ui: p50/p99 over a plain timing loop (release build) ---");
    let mut a = app();
    let mut term = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    let mut samples = Vec::new();
    for i in 0..2000 {
        let k = if i % 2 == 0 {
            KeyCode::Up
        } else {
            KeyCode::Down
        };
        let t = Instant::now();
        a.handle(key(k));
        term.draw(|f| stali::ui::draw::draw(&a, f)).expect("draw");
        samples.push(t.elapsed());
    }
    percentiles("key + full redraw, 80x24, real catalog", samples);
    let mut term = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    let mut samples = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        term.draw(|f| stali::ui::draw::draw(&a, f)).expect("draw");
        samples.push(t.elapsed());
    }
    percentiles("redraw only, 80x24", samples);
    let (p, _) =
        stali::ui::starting_profile(None, &stali::model::Catalog::embedded()).expect("default");
    let real = Index::build(&p, &Catalog::embedded());
    let n = real.len();
    percentiles(
        &format!("search keystroke, catalog ({n} entries)"),
        keystroke_samples(real, &["dropbear", "serial", "zlib", "cmdline"], 200),
    );
    percentiles(
        "search keystroke, 20,000 entries",
        keystroke_samples(
            synthetic(20_000),
            &["serial", "usbnet", "dr", "consoleefi"],
            10,
        ),
    );
    println!(
        "{:<40} {} bytes",
        "bytes sent for one cursor move, 80x24",
        bytes_per_cursor_move()
    );
}

fn benches(c: &mut Criterion) {
    let mut a = app();
    let mut term = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    let mut up = false;
    c.bench_function("key + redraw 80x24", |b| {
        b.iter(|| {
            up = !up;
            a.handle(key(if up { KeyCode::Up } else { KeyCode::Down }));
            term.draw(|f| stali::ui::draw::draw(&a, f)).expect("draw");
        })
    });
    let (p, _) =
        stali::ui::starting_profile(None, &stali::model::Catalog::embedded()).expect("default");
    let mut s = Search::new(Index::build(&p, &Catalog::embedded()));
    c.bench_function("search keystroke, catalog", |b| {
        b.iter(|| {
            s.set_query("se");
            s.set_query("ser");
            black_box(s.results.len());
        })
    });
    let mut s = Search::new(synthetic(20_000));
    c.bench_function("search keystroke x2, 20k entries (ser from empty)", |b| {
        b.iter(|| {
            s.set_query("s");
            s.set_query("se");
            black_box(s.results.len());
        })
    });
}

criterion_group!(ui_benches, benches);

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this once as a smoke
    // test, where the long timing loop (and a debug build's figures) would mean nothing.
    if std::env::args().any(|a| a == "--bench") {
        custom_report();
    }
    ui_benches();
    Criterion::default().configure_from_args().final_summary();
}
