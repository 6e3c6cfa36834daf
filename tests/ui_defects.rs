//! The configurator's defects found by a user over SSH, one test each (each failed before
//! its fix).

mod ui_common;

use crossterm::event::KeyCode;
use stali::model::{Catalog, Profile};
use stali::ui::app::{App, Confirm, Effect, Modal, View};
use stali::ui::prompt::PromptKind;
use ui_common::*;

#[test]
fn keys_do_nothing_behind_the_too_small_screen() {
    let mut app = real_app();
    app.resize(60, 20);
    let before = app.profile.clone();
    press(&mut app, "jj\n\n /dropbear\n  u");
    assert_eq!(app.profile, before, "an edit happened unseen");
    assert_eq!(app.stack.len(), 1, "moved unseen: {:?}", app.stack);
    assert!(screen(&app, 60, 20).contains("terminal too small"));
    assert_eq!(press(&mut app, "q"), Effect::Quit, "q still quits");
    // With unsaved changes, q asks; the question shows on the small screen.
    let mut app = real_app();
    press(&mut app, "/dropbear\n ");
    app.resize(60, 20);
    assert_eq!(press(&mut app, "q"), Effect::None);
    assert!(screen(&app, 60, 20).contains("Quit without saving?"));
    assert_eq!(press(&mut app, "y"), Effect::Quit);
}

#[test]
fn slash_starts_a_new_search() {
    let mut app = real_app();
    press(&mut app, "/dro\n");
    assert!(matches!(app.view(), View::Menu { .. }));
    press(&mut app, "/zlib");
    assert_eq!(app.search.as_ref().map(|s| s.query.as_str()), Some("zlib"));
    press(&mut app, "\n");
    assert_eq!(app.current_item().map(|i| i.label.as_str()), Some("zlib"));
    // Back from the jump returns to the new results, not the old ones.
    key(&mut app, KeyCode::Left);
    assert_eq!(app.search.as_ref().map(|s| s.query.as_str()), Some("zlib"));
    assert_eq!(
        app.stack.iter().filter(|v| **v == View::Search).count(),
        1,
        "{:?}",
        app.stack
    );
}

#[test]
fn the_recovery_offer_says_what_changed_and_quitting_without_saving_drops_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut app, path, text) = app_on_copy(dir.path());
    press(&mut app, "/dropbear\n ");
    let rec = stali::ui::save::write_recovery(&app.profile, Some(&text)).expect("written");
    let c = Catalog::embedded();
    let mut fresh = App::new(
        Profile::load(&path, &c).expect("loads"),
        Some(text),
        c,
        look("default"),
    )
    .expect("ok");
    fresh.offer_recovery(rec.clone());
    let question = match &fresh.modal {
        Some(Modal::Confirm(q @ Confirm::Recover { .. })) => q.question(),
        other => panic!("no offer: {other:?}"),
    };
    assert!(question.contains("+ dropbear"), "{question}");
    assert!(
        question.contains("seconds ago") || question.contains("second ago"),
        "{question}"
    );
    let s = screen(&fresh, 80, 24);
    assert!(s.contains("+ dropbear"), "{s}");
    press(&mut fresh, "y");
    assert!(fresh.dirty());
    press(&mut fresh, "q");
    assert_eq!(press(&mut fresh, "y"), Effect::Quit);
    assert!(
        !rec.exists(),
        "quit without saving: the recovery file is not offered again"
    );
}

#[test]
fn the_diff_and_the_panel_say_which_size_they_mean() {
    let mut app = real_app();
    press(&mut app, "/dropbear");
    let s = screen(&app, 80, 24);
    assert!(s.contains("adding it, in the image:"), "{s}");
    press(&mut app, "\n d");
    let s = screen(&app, 80, 24);
    assert!(s.contains("installed)"), "{s}");
    assert!(s.contains("estimated image"), "{s}");
}

#[test]
fn undo_says_what_it_undid() {
    let mut app = real_app();
    press(&mut app, "/dropbear\n u");
    let m = app.message.clone().expect("a message").text;
    assert!(m.starts_with("undid + dropbear"), "{m}");
    app.handle(ctrl('r'));
    let m = app.message.clone().expect("a message").text;
    assert!(m.starts_with("redid + dropbear"), "{m}");
}

#[test]
fn open_takes_a_shipped_name_and_s_never_overwrites_it() {
    let mut app = real_app();
    press(&mut app, "orescue\n");
    assert!(app.modal.is_none(), "{:?}", app.modal);
    assert_eq!(app.profile.name, "rescue");
    assert_eq!(app.profile.file, None);
    press(&mut app, "s");
    assert!(
        matches!(&app.modal, Some(Modal::Prompt(p)) if p.kind == PromptKind::SaveAs),
        "{:?}",
        app.modal
    );
    // A name that is neither a file nor a shipped profile: the prompt says so.
    let mut app = real_app();
    press(&mut app, "orescu\n");
    match &app.modal {
        Some(Modal::Prompt(p)) => assert!(
            p.error
                .as_deref()
                .is_some_and(|e| e.contains("did you mean the shipped profile `rescue`")),
            "{:?}",
            p.error
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn help_stops_at_its_last_line() {
    let mut app = real_app();
    press(&mut app, "?");
    let limit = stali::ui::draw::scroll_limit(&app);
    for _ in 0..600 {
        press(&mut app, "j");
    }
    let at = match app.view() {
        View::Help { scroll, .. } => *scroll,
        v => panic!("{v:?}"),
    };
    assert_eq!(at, limit);
    assert!(limit < 100, "{limit}");
    press(&mut app, "k");
    assert!(matches!(app.view(), View::Help { scroll, .. } if *scroll + 1 == limit.max(1)));
}

#[test]
fn dialogs_leave_the_size_panel_whole_at_80_columns() {
    let mut app = real_app();
    press(&mut app, "/dropbear\n ");
    let panel = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.chars().skip(50).collect::<String>())
            .collect()
    };
    let without = panel(&screen(&app, 80, 24));
    press(&mut app, "q");
    assert!(matches!(app.modal, Some(Modal::Confirm(Confirm::Quit))));
    let with = screen(&app, 80, 24);
    assert!(with.contains("There are unsaved changes"), "{with}");
    // The hint bar changes with the dialog; the panel rows above it do not.
    assert_eq!(panel(&with)[..22].join("\n"), without[..22].join("\n"));
    press(&mut app, "n\x1b\x1bjj\njjj\n");
    let without = panel(&screen(&app, 80, 24));
    press(&mut app, "a");
    assert!(matches!(app.modal, Some(Modal::Prompt(_))));
    let with = screen(&app, 80, 24);
    assert_eq!(panel(&with)[..22].join("\n"), without[..22].join("\n"));
}

#[test]
fn every_hint_is_a_key_that_does_what_it_says() {
    use crossterm::event::{KeyEvent, KeyModifiers};
    use stali::ui::action::find;
    let mut screens = Vec::new();
    for keys in [
        "",
        "jj\n",
        "jj\njjj\n",
        "jj\njjj\n\n",
        "/drop",
        "/drop\t",
        "?",
        "??",
        "/dropbear\n d",
        "jjj\njjj\n",
    ] {
        let mut app = real_app();
        press(&mut app, keys);
        screens.push((keys, app));
    }
    for (keys, app) in &screens {
        let hints = app.hints();
        assert!(!hints.is_empty(), "{keys:?}: no hints");
        for (shown, word) in hints {
            // The binding the hint comes from, and the key it names.
            let b = app
                .tables()
                .iter()
                .flat_map(|t| t.iter())
                .find(|b| {
                    b.hint.is_some_and(|h| h.0 == shown) || b.keys.iter().any(|k| k.name() == shown)
                })
                .unwrap_or_else(|| panic!("{keys:?}: hint {shown} {word} has no binding"));
            let key = b.keys[0];
            let ev = KeyEvent::new(
                key.code,
                if key.ctrl {
                    KeyModifiers::CONTROL
                } else {
                    KeyModifiers::NONE
                },
            );
            let acting = find(app.tables(), &ev).map(|x| x.action);
            assert_eq!(
                acting,
                Some(b.action),
                "{keys:?}: the hint `{shown} {word}` is shadowed"
            );
        }
    }
    // The list of every key names each key of a menu.
    let mut app = real_app();
    press(&mut app, "??");
    let s = screen(&app, 120, 40);
    for needle in [
        "Ctrl-r",
        "redo",
        "Down, j, Tab, Ctrl-n",
        "add a kernel option",
    ] {
        assert!(s.contains(needle), "{needle} missing:\n{s}");
    }
}
