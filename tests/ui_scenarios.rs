//! Scenarios: drive the configurator with keys and check the model, the figures and the files.

mod ui_common;

use crossterm::event::KeyCode;
use stali::model::profile::human;
use stali::model::{Catalog, Profile, estimate, resolve};
use stali::ui::app::{App, Delta, Effect, Level, Modal, View};
use ui_common::*;

fn total_of(p: &Profile, c: &Catalog) -> u64 {
    estimate(&resolve(p, c).expect("resolves"), c).total_bytes
}

#[test]
fn adding_dropbear_pulls_in_zlib_and_the_figures_follow() {
    let mut app = real_app();
    let before = app.estimate.total_bytes;
    press(&mut app, "/drop");
    // The delta shown for the highlighted result is the model's own.
    let mut with = app.profile.clone();
    with.select.push("dropbear".into());
    let expected = total_of(&with, &app.catalog);
    assert_eq!(
        app.delta,
        Delta::Bytes {
            delta: expected as i64 - before as i64,
            total: expected
        }
    );
    press(&mut app, "\n ");
    assert!(app.profile.select.contains(&"dropbear".to_string()));
    let zlib = app.plan.tool("zlib").expect("zlib pulled in");
    assert!(!zlib.selected);
    assert_eq!(zlib.required_by, vec!["dropbear".to_string()]);
    assert_eq!(app.estimate.total_bytes, expected);
    assert_eq!(
        app.estimate,
        estimate(
            &resolve(&app.profile, &app.catalog).expect("ok"),
            &app.catalog
        )
    );
    // On screen, on the same keypress: the total and the -*- marker.
    let s = screen(&app, 80, 24);
    assert!(s.contains(&human(expected)), "{s}");
    press(&mut app, "\x1b\x1b/zlib\n");
    let s = screen(&app, 80, 24);
    assert!(s.contains("-*- zlib"), "{s}");
}

#[test]
fn removing_a_needed_tool_is_refused_with_the_reason() {
    let mut app = real_app();
    press(&mut app, "/dropbear\n \x1b\x1b/zlib\n ");
    let before = app.profile.clone();
    let msg = app.message.clone().expect("a message");
    assert_eq!(msg.level, Level::Error);
    assert!(
        msg.text.contains("zlib is needed by dropbear"),
        "{}",
        msg.text
    );
    assert_eq!(app.profile, before);
    // Chosen by hand too: still refused while dropbear needs it.
    let mut p = app.profile.clone();
    p.select.push("zlib".into());
    app.apply(p, None).expect("valid");
    press(&mut app, " ");
    assert!(app.profile.select.contains(&"zlib".to_string()));
    assert!(
        app.message
            .expect("message")
            .text
            .contains("zlib is needed by dropbear")
    );
}

#[test]
fn providers_of_sh_are_a_choice() {
    let mut app = frozen_app();
    press(&mut app, "/dash\n ");
    assert!(app.profile.select.contains(&"dash".to_string()));
    assert!(!app.profile.select.contains(&"mksh".to_string()));
    assert!(
        app.message
            .as_ref()
            .expect("note")
            .text
            .contains("dash replaces mksh (both provide sh)")
    );
    let s = screen(&app, 80, 24);
    assert!(s.contains("(untested)"), "{s}");
    press(&mut app, "j ");
    assert!(app.profile.select.contains(&"mksh".to_string()));
    assert!(!app.profile.select.contains(&"dash".to_string()));
}

#[test]
fn undo_and_redo_walk_the_snapshots() {
    let mut app = real_app();
    let p0 = app.profile.clone();
    press(&mut app, "/dropbear\n ");
    let p1 = app.profile.clone();
    press(&mut app, "\x1b\x1bjjj\nj\n ");
    let p2 = app.profile.clone();
    assert_ne!(p1, p2);
    assert_eq!(p2.image.compression.as_str(), "gzip");
    press(&mut app, "u");
    assert_eq!(app.profile, p1);
    press(&mut app, "u");
    assert_eq!(app.profile, p0);
    assert!(!app.dirty());
    app.handle(ctrl('r'));
    assert_eq!(app.profile, p1);
    assert_eq!(app.estimate.total_bytes, total_of(&p1, &app.catalog));
    app.handle(ctrl('r'));
    assert_eq!(app.profile, p2);
    press(&mut app, "u");
    // A new change drops what could be redone.
    press(&mut app, "k ");
    app.handle(ctrl('r'));
    assert_eq!(app.message.expect("message").text, "nothing to redo");
}

#[test]
fn save_writes_the_change_and_keeps_every_comment() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut app, path, original) = app_on_copy(dir.path());
    press(&mut app, "/dropbear\n ");
    assert!(app.dirty());
    press(&mut app, "s");
    assert!(!app.dirty());
    assert_eq!(app.message.as_ref().expect("saved").level, Level::Ok);
    let saved = std::fs::read_to_string(&path).expect("saved");
    for line in original.lines().filter(|l| l.contains('#')) {
        let comment = &line[line.find('#').unwrap_or(0)..];
        assert!(
            saved.contains(comment),
            "lost comment {comment:?} in\n{saved}"
        );
    }
    let back = Profile::load(&path, &stali::model::Catalog::embedded()).expect("valid");
    assert_eq!(back.select, app.profile.select);
    assert!(back.select.contains(&"dropbear".to_string()));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 1, "only the profile: {names:?}");
    // The diff against the saved file is now empty.
    press(&mut app, "\x1b\x1bd");
    assert!(
        matches!(app.view(), View::Diff { changes, .. } if changes.is_empty()),
        "{:?}",
        app.view()
    );
}

#[test]
fn first_save_asks_for_a_name() {
    let dir = tempfile::tempdir().expect("tmp");
    let (p, text) =
        stali::ui::starting_profile(None, &stali::model::Catalog::embedded()).expect("default");
    let mut app = App::new(p, text, Catalog::embedded(), look("default")).expect("ok");
    press(&mut app, "s");
    assert!(matches!(app.modal, Some(Modal::Prompt(_))));
    let target = dir.path().join("mine.toml");
    press(&mut app, &format!("{}\n", target.display()));
    assert!(app.modal.is_none(), "{:?}", app.modal);
    let back = Profile::load(&target, &stali::model::Catalog::embedded()).expect("saved and valid");
    assert_eq!(back.name, "mine");
    assert_eq!(app.profile.file.as_deref(), Some(target.as_path()));
}

#[test]
fn text_fields_are_validated() {
    let mut app = real_app();
    press(&mut app, "jjj\njjj\n");
    app.handle(ctrl('u'));
    press(&mut app, "bad_name\n");
    match &app.modal {
        Some(Modal::Prompt(p)) => assert!(
            p.error
                .as_deref()
                .is_some_and(|e| e.contains("letters, digits"))
        ),
        other => panic!("prompt expected: {other:?}"),
    }
    app.handle(ctrl('u'));
    press(&mut app, "box-1\n");
    assert!(app.modal.is_none());
    assert_eq!(app.profile.image.hostname, "box-1");
    // Budget: a size, checked by the model's parser; the estimate knows it.
    press(&mut app, "j\n");
    app.handle(ctrl('u'));
    press(&mut app, "eight\n");
    assert!(matches!(&app.modal, Some(Modal::Prompt(p)) if p.error.is_some()));
    app.handle(ctrl('u'));
    press(&mut app, "1 KiB\n");
    assert_eq!(app.profile.image.budget, Some(1024));
    assert!(app.estimate.over_budget());
    // Command line: the model's validator.
    press(&mut app, "kk\n");
    app.handle(ctrl('u'));
    press(&mut app, "console=ttyS0; reboot\n");
    assert!(
        matches!(&app.modal, Some(Modal::Prompt(p)) if p.error.as_deref().is_some_and(|e| e.contains(";")))
    );
    press(&mut app, "\x1b");
    assert!(app.modal.is_none());
}

#[test]
fn kernel_options_are_an_editable_list() {
    let mut app = real_app();
    press(&mut app, "jj\njjj\n\n");
    app.handle(ctrl('u'));
    press(&mut app, "PRINTK_TIME=y\n");
    assert_eq!(
        app.profile.kernel.options,
        vec![("CONFIG_PRINTK_TIME".to_string(), "y".to_string())]
    );
    press(&mut app, "k\n");
    app.handle(ctrl('u'));
    press(&mut app, "n\n");
    assert_eq!(app.profile.kernel.options[0].1, "n");
    press(&mut app, "x");
    assert!(app.profile.kernel.options.is_empty());
}

#[test]
fn quit_asks_when_there_are_unsaved_changes() {
    let mut app = real_app();
    assert_eq!(press(&mut app, "q"), Effect::Quit);
    let mut app = real_app();
    press(&mut app, "/dropbear\n ");
    assert_eq!(press(&mut app, "q"), Effect::None);
    assert!(matches!(app.modal, Some(Modal::Confirm(_))));
    assert_eq!(press(&mut app, "n"), Effect::None);
    assert!(app.modal.is_none());
    press(&mut app, "q");
    assert_eq!(press(&mut app, "y"), Effect::Quit);
}

#[test]
fn search_digits_jump_and_back_returns_to_the_results() {
    let mut app = real_app();
    press(&mut app, "/dropbear\t1");
    assert!(matches!(app.view(), View::Menu { .. }));
    assert_eq!(
        app.current_item().map(|i| i.label.as_str()),
        Some("dropbear")
    );
    key(&mut app, KeyCode::Left);
    assert!(matches!(app.view(), View::Search));
    assert_eq!(
        app.search.as_ref().map(|s| s.query.as_str()),
        Some("dropbear")
    );
    press(&mut app, "h");
    assert!(matches!(app.view(), View::Menu { .. }));
    assert_eq!(app.stack.len(), 1);
}

#[test]
fn recovery_file_is_offered_and_restores_the_changes() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut app, path, text) = app_on_copy(dir.path());
    press(&mut app, "/dropbear\n ");
    let rec = stali::ui::save::write_recovery(&app.profile, Some(&text)).expect("written");
    assert_eq!(rec, dir.path().join(".minimal.toml.stali-recover"));
    let wanted = app.profile.select.clone();
    let (_, _, _) = (path, (), ());
    let p = Profile::load(
        &dir.path().join("minimal.toml"),
        &stali::model::Catalog::embedded(),
    )
    .expect("loads");
    let mut fresh = App::new(p, Some(text), Catalog::embedded(), look("default")).expect("ok");
    fresh.offer_recovery(rec.clone());
    press(&mut fresh, "y");
    assert_eq!(fresh.profile.select, wanted);
    assert!(fresh.dirty());
    press(&mut fresh, "s");
    assert!(!rec.exists(), "saving removes the recovery file");
}

#[test]
fn no_panic_at_any_size() {
    let mut screens: Vec<App> = Vec::new();
    for keys in [
        "",
        "j\njjjj\n",
        "/drop",
        "/dropbear\n?",
        "/dropbear\n q",
        "jjj\njjj\n",
        "d",
    ] {
        let mut app = frozen_app();
        press(&mut app, keys);
        screens.push(app);
    }
    for app in &screens {
        for w in (1..=130).step_by(7) {
            for h in (1..=45).step_by(4) {
                let _ = render(app, w, h);
            }
        }
        let _ = render(app, 80, 24);
        let _ = render(app, 1, 1);
        let _ = render(app, 500, 3);
    }
}

#[test]
fn not_a_terminal_exits_2_and_bad_theme_exits_1() {
    let bin = env!("CARGO_BIN_EXE_stali");
    let out = std::process::Command::new(bin)
        .arg("menu")
        .env("STALI_CONFIG_DIR", "/nonexistent")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a terminal"));
    let out = std::process::Command::new(bin)
        .args(["menu", "--theme", "clasic"])
        .env("STALI_CONFIG_DIR", "/nonexistent")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `classic`"));
}

#[test]
fn a_profile_that_carries_code_says_so_and_what_it_runs() {
    let text = "format = 1\nname = \"shared\"\n[tools]\nselect = [\"sinit\", \"mksh\", \"probe\"]\n\
                [[tool]]\nname = \"probe\"\ndescription = \"probe\"\ngit = \"https://example.org/p.git\"\n\
                rev = \"0123456789abcdef0123456789abcdef01234567\"\nbuild = { steps = [[\"sh\", \"-c\", \"id\"]] }\nsize = 1\n";
    let c = Catalog::embedded();
    let p = Profile::parse(text, Some(std::path::Path::new("shared.toml")), &c).expect("parses");
    let app = App::new(p, Some(text.into()), c, look("default")).expect("resolves");
    // The size panel wraps the line: read it from where it starts, row after row.
    let s = screen(&app, 120, 40);
    let rows: Vec<Vec<char>> = s.lines().map(|l| l.chars().collect()).collect();
    let (row, col) = rows
        .iter()
        .enumerate()
        .find_map(|(y, r)| {
            let line: String = r.iter().collect();
            line.find("! carries code")
                .map(|b| (y, line[..b].chars().count()))
        })
        .unwrap_or_else(|| panic!("no carried-code line:\n{s}"));
    let mut said = Vec::new();
    for r in &rows[row..] {
        let part: String = r[col..].iter().take_while(|c| **c != '│').collect();
        if part.trim().is_empty() {
            break;
        }
        said.push(part.trim().to_string());
    }
    let said = said.join(" ");
    assert!(
        said.starts_with(
            "! carries code: recipe `probe` (https://example.org/p.git) runs the commands `sh -c id`; built only once trusted"
        ),
        "{said}\n{s}"
    );
    // The shipped profile carries none.
    let s = screen(&real_app(), 120, 40);
    assert!(!s.contains("carries code"), "{s}");
}

#[test]
fn picking_qemu_aarch64_changes_the_estimate_and_saves_a_buildable_profile() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut app, path, _) = app_on_copy(dir.path());
    let before = app.estimate.total_bytes;
    press(&mut app, "\n");
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("qemu-aarch64"),
        "the Target hardware menu lists it:\n{s}"
    );
    // Highlighted, it shows what it would cost; the profile's BIOS boot and ttyS0
    // console go with the x86 hardware.
    press(&mut app, "jj");
    let mut with = app.profile.clone();
    with.retarget("qemu-aarch64", &app.catalog);
    let expected = total_of(&with, &app.catalog);
    assert_ne!(expected, before, "the estimate differs on aarch64");
    assert_eq!(
        app.delta,
        Delta::Bytes {
            delta: expected as i64 - before as i64,
            total: expected
        }
    );
    press(&mut app, " ");
    assert_eq!(app.profile.hardware, "qemu-aarch64");
    assert_eq!(app.plan.hardware.arch, stali::model::Arch::Aarch64);
    assert_eq!(app.profile.image.boot, Some(stali::model::BootMode::Uefi));
    assert_eq!(
        app.profile.image.cmdline.as_deref(),
        Some("console=ttyAMA0")
    );
    assert_eq!(app.estimate.total_bytes, expected);
    let note = app.message.as_ref().expect("a note").text.clone();
    assert!(
        note.contains("boot = uefi") && note.contains("console=ttyAMA0"),
        "{note}"
    );
    let s = screen(&app, 80, 24);
    assert!(s.contains(&human(expected)), "{s}");
    press(&mut app, "s");
    assert!(!app.dirty());
    let back = Profile::load(&path, &Catalog::embedded()).expect("saved and valid");
    assert_eq!(back.hardware, "qemu-aarch64");
    let plan = resolve(&back, &Catalog::embedded()).expect("the saved profile resolves");
    assert!(plan.kernel.has_fragment("efi-arm64"));
    assert_eq!(plan.image.cmdline, "console=ttyAMA0");
}
