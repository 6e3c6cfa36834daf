//! SVG pictures of the main screens, from the same renderer as the terminal.
//! `STALI_UPDATE_SCREENSHOTS=1 cargo test --test ui_screenshots` rewrites them; otherwise
//! the test fails when a committed picture differs from what the renderer draws now.

mod ui_common;

use std::path::Path;

use stali::ui::app::App;
use stali::ui::svg::buffer_to_svg;
use ui_common::*;

fn picture(name: &str, app: &App, w: u16, h: u16, stale: &mut Vec<String>) {
    let t = render(app, w, h);
    let svg = buffer_to_svg(t.backend().buffer(), &app.look.theme);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("screenshots")
        .join(format!("{name}.svg"));
    if std::env::var_os("STALI_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, &svg).expect("write");
        return;
    }
    match std::fs::read_to_string(&path) {
        Ok(old) if old == svg => {}
        _ => stale.push(name.to_string()),
    }
}

#[test]
fn screenshots_are_current() {
    let mut stale = Vec::new();
    let app = frozen_app();
    picture("main-menu", &app, 80, 24, &mut stale);
    let mut app = frozen_app();
    press(&mut app, "j\njjjj\n ");
    picture("tools-network", &app, 80, 24, &mut stale);
    let mut app = frozen_app();
    press(&mut app, "/ser");
    picture("search", &app, 80, 24, &mut stale);
    let mut app = frozen_app();
    press(&mut app, "/dropbear\n?");
    picture("help", &app, 80, 24, &mut stale);
    let (p, text) = frozen_profile();
    let mut classic = App::new(p, Some(text), frozen_catalog(), look("classic")).expect("ok");
    press(&mut classic, "j\njjjjj\n");
    picture("classic-library", &classic, 80, 24, &mut stale);
    // Kernel > All options on the fixture Kconfig tree: File systems with the hidden entries
    // shown (z), each with why.
    let cache = tempfile::tempdir().expect("tempdir");
    let mut kernel = kernel_app(cache.path());
    press(&mut kernel, "jj\njjjj\njjj\nz");
    picture("kernel-tree", &kernel, 80, 24, &mut stale);
    assert!(
        stale.is_empty(),
        "screenshots out of date: {stale:?}; run STALI_UPDATE_SCREENSHOTS=1 cargo test --test ui_screenshots"
    );
}
