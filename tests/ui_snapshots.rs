//! Snapshots of every screen on a test terminal, at 80x24 and 120x40.

mod ui_common;

use crossterm::event::KeyCode;
use stali::ui::app::App;
use ui_common::*;

fn snap(name: &str, app: &App) {
    for (w, h) in [(80, 24), (120, 40)] {
        let t = render(app, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
    }
}

#[test]
fn main_menu() {
    snap("main_menu", &frozen_app());
}

#[test]
fn submenus() {
    // (keys from the main menu, name)
    let cases = [
        ("\n", "hardware"),
        ("j\n", "tools"),
        ("j\njjjj\n", "tools_network"),
        ("j\njjjjj\n", "tools_library"),
        ("j\nj\n", "tools_shell"),
        ("jj\n", "kernel"),
        ("jj\nj\n", "kernel_base"),
        ("jj\njj\n", "kernel_fragments"),
        ("jj\njjj\n", "kernel_options"),
        ("jjj\n", "image"),
        ("jjj\n\n", "image_boot"),
        ("jjj\nj\n", "image_compression"),
    ];
    for (keys, name) in cases {
        let mut app = frozen_app();
        press(&mut app, keys);
        snap(name, &app);
    }
}

#[test]
fn tools_after_adding_dropbear() {
    let mut app = frozen_app();
    press(&mut app, "j\njjjj\n ");
    snap("tools_network_dropbear", &app);
}

#[test]
fn search_results() {
    let mut app = frozen_app();
    press(&mut app, "/drop");
    snap("search_drop", &app);
    let mut app = frozen_app();
    press(&mut app, "/serial");
    key(&mut app, KeyCode::Tab);
    snap("search_serial_list", &app);
}

#[test]
fn help_screens() {
    let mut app = frozen_app();
    press(&mut app, "/dropbear\n?");
    snap("help_dropbear", &app);
    let mut app = frozen_app();
    press(&mut app, "jj\njj\n?");
    snap("help_fragment_base", &app);
    let mut app = frozen_app();
    press(&mut app, "?");
    snap("help_main", &app);
}

#[test]
fn refused_deselection() {
    let mut app = frozen_app();
    press(&mut app, "/dropbear\n ");
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Esc);
    press(&mut app, "/zlib\n ");
    snap("refused_zlib", &app);
}

#[test]
fn provider_choice() {
    let mut app = frozen_app();
    press(&mut app, "j\nj\n ");
    snap("choice_dash", &app);
}

#[test]
fn diff_view() {
    let mut app = frozen_app();
    press(&mut app, "/dropbear\n \x1b\x1bjjj\nj\n d");
    snap("diff", &app);
}

#[test]
fn quit_confirmation() {
    let mut app = frozen_app();
    press(&mut app, "/dropbear\n q");
    snap("quit_confirm", &app);
}

#[test]
fn prompt_with_error() {
    let mut app = frozen_app();
    press(&mut app, "jjj\njjj\n");
    key(&mut app, KeyCode::Char('u'));
    for _ in 0..10 {
        key(&mut app, KeyCode::Backspace);
    }
    press(&mut app, "bad_name\n");
    snap("prompt_hostname_error", &app);
}

#[test]
fn over_budget() {
    let mut app = frozen_app();
    press(&mut app, "jjj\njjjj\n");
    for _ in 0..10 {
        key(&mut app, KeyCode::Backspace);
    }
    press(&mut app, "1 MiB\n");
    snap("over_budget", &app);
}

#[test]
fn mono_ascii() {
    let (p, text) = frozen_profile();
    let mut look = look("mono");
    look.glyphs = stali::ui::theme::Glyphs::ASCII;
    let mut app = App::new(p, Some(text), frozen_catalog(), look).expect("resolves");
    press(&mut app, "j\njjjj\n");
    snap("mono_ascii_network", &app);
}

#[test]
fn too_small() {
    let app = frozen_app();
    for (w, h) in [(60, 20), (79, 24), (80, 23), (1, 1)] {
        let t = render(&app, w, h);
        insta::assert_snapshot!(format!("too_small_{w}x{h}"), t.backend());
    }
}
