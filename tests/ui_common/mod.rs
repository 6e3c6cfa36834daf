//! Helpers shared by the UI tests: a frozen catalog, key presses, rendering.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use stali::model::{Catalog, Profile};
use stali::ui::app::{App, Effect};
use stali::ui::theme::{Glyphs, Look, Theme};

/// The fixture folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ui")
}

/// A catalog frozen in tests/fixtures/ui, so snapshots do not move when the real one grows.
pub fn frozen_catalog() -> Catalog {
    let mut c = Catalog::embedded();
    c.tools.clear();
    c.hardware.clear();
    c.bases.clear();
    c.fragments.clear();
    c.extend_from_dir(&fixtures());
    assert!(c.warnings.is_empty(), "fixture catalog: {:?}", c.warnings);
    c
}

/// The fixture copy of profiles/minimal.toml, as if read from `minimal.toml`.
pub fn frozen_profile() -> (Profile, String) {
    let text = std::fs::read_to_string(fixtures().join("minimal.toml")).expect("fixture profile");
    let p = Profile::parse(
        &text,
        Some(Path::new("profiles/minimal.toml")),
        &stali::model::Catalog::embedded(),
    )
    .expect("fixture profile parses");
    (p, text)
}

/// An app on the frozen catalog and profile with the default theme.
pub fn frozen_app() -> App {
    let (p, text) = frozen_profile();
    App::new(p, Some(text), frozen_catalog(), look("default")).expect("resolves")
}

/// The real embedded catalog and profiles/minimal.toml.
pub fn real_app() -> App {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/minimal.toml");
    let text = std::fs::read_to_string(&path).expect("profile");
    let p = Profile::parse(
        &text,
        Some(Path::new("profiles/minimal.toml")),
        &stali::model::Catalog::embedded(),
    )
    .expect("parses");
    App::new(p, Some(text), Catalog::embedded(), look("default")).expect("resolves")
}

/// A theme by name with Unicode glyphs.
pub fn look(theme: &str) -> Look {
    Look {
        theme: Theme::named(&Catalog::embedded(), theme).expect("theme"),
        glyphs: Glyphs::UNICODE,
    }
}

/// A key with no modifier.
pub fn k(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// A control key.
pub fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

/// Presses keys written as text: each character is a key; `\n` is Enter, `\x1b` Esc.
pub fn press(app: &mut App, keys: &str) -> Effect {
    let mut last = Effect::None;
    for c in keys.chars() {
        let code = match c {
            '\n' => KeyCode::Enter,
            '\x1b' => KeyCode::Esc,
            '\x7f' => KeyCode::Backspace,
            '\t' => KeyCode::Tab,
            c => KeyCode::Char(c),
        };
        last = app.handle(k(code));
    }
    last
}

/// Presses one key.
pub fn key(app: &mut App, code: KeyCode) -> Effect {
    app.handle(k(code))
}

/// Draws the app on a test terminal and returns it.
pub fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    t.draw(|f| stali::ui::draw::draw(app, f)).expect("draws");
    t
}

/// The screen as text lines.
pub fn screen(app: &App, w: u16, h: u16) -> String {
    let t = render(app, w, h);
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// An app on a copy of profiles/minimal.toml in `dir`: the app, the copy's path, its text.
pub fn app_on_copy(dir: &Path) -> (App, PathBuf, String) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/minimal.toml");
    let path = dir.join("minimal.toml");
    std::fs::copy(&src, &path).expect("copy");
    let text = std::fs::read_to_string(&path).expect("read");
    let c = Catalog::embedded();
    let p = Profile::load(&path, &c).expect("loads");
    let app = App::new(p, Some(text.clone()), c, look("default")).expect("ok");
    (app, path, text)
}

// The kernel tree of Kernel > All options, on the fixture Kconfig tree (tests/fixtures/kconfig-ui).

pub fn tree_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kconfig-ui")
}

pub fn profile_text() -> String {
    format!(
        r#"# A profile on the fixture Kconfig tree.
format = 1
name = "tree"

[target]
hardware = "bare-x86_64"

[tools]
select = ["sinit", "mksh", "sbase"]

[kernel]
source = {{ path = "{}" }}
base = "tinyconfig"

[kernel.options]
# a comment the configurator keeps
CONFIG_LOG_BUF_SHIFT = "14"
"#,
        tree_dir().display()
    )
}

/// The frozen catalog with a bare x86_64 machine whose only fragment (`base`) leaves the
/// block layer off, as tinyconfig does.
pub fn kernel_catalog() -> Catalog {
    let mut c = frozen_catalog();
    let mut hw = c
        .hardware
        .iter()
        .find(|h| h.name == "qemu-x86_64")
        .expect("qemu-x86_64 in the fixture catalog")
        .clone();
    hw.name = "bare-x86_64".into();
    hw.fragments = vec!["base".into()];
    c.hardware.push(hw);
    c
}

pub fn loader(cache: &Path) -> stali::ui::kernel::Loader {
    stali::cli::kconfig_cmd::menu_loader(Some(cache.to_path_buf()))
}

/// An app on the fixture tree, loaded; the profile as if read from `profiles/tree.toml`.
pub fn kernel_app(cache: &Path) -> App {
    let text = profile_text();
    let c = kernel_catalog();
    let p = Profile::parse(&text, Some(Path::new("profiles/tree.toml")), &c).expect("parses");
    let mut app = App::new(p, Some(text), c, look("default")).expect("resolves");
    app.set_kernel_loader(loader(cache), None);
    app.wait_kernel();
    app
}
