//! Benchmarks of Kernel > All options on Linux 6.1 (Debian's linux-source-6.1, the tarball
//! profiles/minimal.toml names): one toggle re-evaluated and redrawn, a search keystroke over
//! every symbol, opening the search, and the bytes a cursor move sends at 80x24.
//! Criterion's report, then p50/p99 from a plain timing loop.

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
use stali::ui::search::{Index, Search};
use stali::ui::theme::Look;

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn press(app: &mut App, keys: &str) {
    for c in keys.chars() {
        app.handle(key(match c {
            '\n' => KeyCode::Enter,
            '\x1b' => KeyCode::Esc,
            c => KeyCode::Char(c),
        }));
    }
}

/// profiles/minimal.toml with the kernel tree loaded.
fn app() -> App {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/minimal.toml");
    let text = std::fs::read_to_string(&path).expect("profile");
    let p = Profile::parse(&text, Some(&path), &Catalog::embedded()).expect("parses");
    let mut app = App::new(p, Some(text), Catalog::embedded(), Look::default()).expect("resolves");
    app.set_kernel_loader(stali::cli::kconfig_cmd::menu_loader(None), None);
    app.wait_kernel();
    assert!(
        app.kernel.status().is_none(),
        "the kernel tree did not load: {:?}",
        app.kernel.status()
    );
    app
}

/// The app in Kernel > All options > File systems, on "Enable POSIX file locking API".
fn in_file_systems() -> App {
    let mut a = app();
    press(&mut a, "/file_locking\n");
    assert!(
        a.current_item()
            .is_some_and(|i| i.label.contains("POSIX file locking")),
        "{:?}",
        a.current_item()
    );
    a
}

/// CPU time of the whole process so far (user + system, all threads), from /proc: the work
/// done, whatever the machine's load does to wall times.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    // Clock ticks are 1/100 s on Linux.
    Duration::from_millis(f.iter().sum::<u64>() * 10)
}

fn cpu_per_op(name: &str, start: Duration, n: usize) {
    let per = (cpu_time().saturating_sub(start)) / n as u32;
    println!("{name:<44} CPU per operation {per:>9.2?} (mean of {n})");
}

fn percentiles(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let p = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<44} p50 {:>9.2?}  p99 {:>9.2?}  max {:>9.2?}  (n={})",
        p(0.50),
        p(0.99),
        p(1.0),
        samples.len()
    );
}

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

/// Bytes written for one cursor move in the kernel tree (File systems), 80x24.
fn bytes_per_cursor_move(app: &mut App) -> usize {
    let n = std::rc::Rc::new(std::cell::Cell::new(0));
    let opts = TerminalOptions {
        viewport: Viewport::Fixed(Rect::new(0, 0, 80, 24)),
    };
    let mut t =
        Terminal::with_options(CrosstermBackend::new(Count(n.clone())), opts).expect("terminal");
    stali::ui::draw_frame(&mut t, app).expect("first frame");
    n.set(0);
    app.handle(key(KeyCode::Down));
    stali::ui::draw_frame(&mut t, app).expect("second frame");
    n.get()
}

fn custom_report() {
    println!("--- stali ui, kernel tree (Linux 6.1): p50/p99 over a plain timing loop ---");
    let mut a = in_file_systems();
    let mut term = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    let mut samples = Vec::new();
    let cpu = cpu_time();
    for _ in 0..400 {
        let t = Instant::now();
        a.handle(key(KeyCode::Char(' ')));
        term.draw(|f| stali::ui::draw::draw(&a, f)).expect("draw");
        samples.push(t.elapsed());
    }
    cpu_per_op("toggle + re-evaluate + redraw, 80x24", cpu, 400);
    percentiles("toggle + re-evaluate + redraw, 80x24", samples);
    // Its parts: the engine's lines of the menu after a change, and the profile's resolve.
    let menu = match a.view() {
        stali::ui::app::View::Menu {
            id: stali::ui::menu::MenuId::KMenu(m, _),
            ..
        } => *m,
        _ => 0,
    };
    let mut samples = Vec::new();
    let cpu = cpu_time();
    for _ in 0..400 {
        let t = Instant::now();
        if let Some(tree) = a.kernel.tree() {
            tree.kc.clear_all_valid();
            black_box(tree.lines(menu, false));
        }
        samples.push(t.elapsed());
    }
    cpu_per_op("  part: all values invalid, menu's lines", cpu, 400);
    percentiles("  part: all values invalid, menu's lines", samples);
    let mut samples = Vec::new();
    for _ in 0..400 {
        let t = Instant::now();
        let plan = stali::model::resolve(&a.profile, &a.catalog).expect("resolves");
        black_box(stali::model::estimate(&plan, &a.catalog));
        samples.push(t.elapsed());
    }
    percentiles("  part: resolve + estimate the profile", samples);
    let mut samples = Vec::new();
    let cpu = cpu_time();
    for i in 0..2000 {
        let t = Instant::now();
        a.handle(key(if i % 2 == 0 {
            KeyCode::Down
        } else {
            KeyCode::Up
        }));
        term.draw(|f| stali::ui::draw::draw(&a, f)).expect("draw");
        samples.push(t.elapsed());
    }
    cpu_per_op("cursor move + redraw, 80x24", cpu, 2000);
    percentiles("cursor move + redraw, 80x24", samples);
    let mut samples = Vec::new();
    let cpu = cpu_time();
    for _ in 0..60 {
        press(&mut a, "\x1b");
        let t = Instant::now();
        a.handle(key(KeyCode::Char('/')));
        samples.push(t.elapsed());
    }
    let n = a.search.as_ref().map_or(0, |s| s.index.len());
    cpu_per_op(&format!("open search ({n} entries)"), cpu, 60);
    percentiles(&format!("open search ({n} entries)"), samples);
    let index = a
        .search
        .as_ref()
        .map(|s| s.index.clone())
        .unwrap_or_default();
    let mut s = Search::new(index);
    let mut samples = Vec::new();
    let cpu = cpu_time();
    for _ in 0..5 {
        for q in ["ext4", "serial", "usb storage", "virtio blk", "printk time"] {
            s.set_query("");
            for end in 1..=q.len() {
                let t = Instant::now();
                s.set_query(&q[..end]);
                samples.push(t.elapsed());
                black_box(&s.results);
            }
        }
    }
    cpu_per_op(
        &format!("search keystroke ({n} entries)"),
        cpu,
        samples.len(),
    );
    percentiles(&format!("search keystroke ({n} entries)"), samples);
    let mut a = in_file_systems();
    println!(
        "{:<44} {} bytes",
        "bytes for one cursor move in the tree, 80x24",
        bytes_per_cursor_move(&mut a)
    );
}

fn benches(c: &mut Criterion) {
    let mut a = in_file_systems();
    let mut term = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    c.bench_function("kernel tree: toggle + redraw 80x24", |b| {
        b.iter(|| {
            a.handle(key(KeyCode::Char(' ')));
            term.draw(|f| stali::ui::draw::draw(&a, f)).expect("draw");
        })
    });
    let index: Index = {
        press(&mut a, "/");
        a.search
            .as_ref()
            .map(|s| s.index.clone())
            .unwrap_or_default()
    };
    let mut s = Search::new(index);
    c.bench_function("kernel search keystroke x2 (e, ex from empty)", |b| {
        b.iter(|| {
            s.set_query("e");
            s.set_query("ex");
            black_box(s.results.len());
        })
    });
}

criterion_group!(ui_kernel_benches, benches);

fn main() {
    // `cargo test --all-targets` runs this once as a smoke test; the timing loop only runs
    // under `cargo bench`.
    if std::env::args().any(|a| a == "--bench") {
        custom_report();
        ui_kernel_benches();
        Criterion::default().configure_from_args().final_summary();
    }
}
