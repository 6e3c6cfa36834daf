//! Every edit the configurator can make produces a profile `stali check` accepts, and
//! saving writes only what differs from the defaults.

mod ui_common;

use std::path::Path;

use crossterm::event::KeyCode;
use stali::model::{Catalog, Profile, load_plan};
use stali::ui::app::{App, Modal, View};
use stali::ui::menu::{Field, ItemKind, MenuId, items};
use ui_common::*;

/// The profile's content, without where it was read from.
fn content(p: &Profile) -> Profile {
    let mut p = p.clone();
    p.locations.clear();
    p.file = None;
    p
}

fn app_on(path: &Path) -> App {
    let c = Catalog::embedded();
    let text = std::fs::read_to_string(path).expect("read");
    let p = Profile::load(path, &c).expect("loads");
    App::new(p, Some(text), c, look("default")).expect("resolves")
}

/// Every menu of the configurator.
fn menus(app: &App) -> Vec<MenuId> {
    let mut v = vec![
        MenuId::Main,
        MenuId::Hardware,
        MenuId::Kernel,
        MenuId::Base,
        MenuId::Fragments,
        MenuId::Options,
        // Again: the option added the first time is edited the second.
        MenuId::Options,
        MenuId::Image,
        MenuId::Boot,
        MenuId::Compression,
    ];
    for it in items(&MenuId::Tools, &app.profile, &app.plan, &app.catalog) {
        if let ItemKind::Submenu(m) = it.kind {
            v.push(m);
        }
    }
    v
}

/// A value each prompt accepts.
fn answer(kind: &ItemKind) -> Option<&'static str> {
    Some(match kind {
        ItemKind::Field(Field::Name) => "edited",
        ItemKind::Field(Field::Description) => "Edited by every key",
        ItemKind::Field(Field::KernelSource) => "/usr/src/linux-source-6.1.tar.xz",
        ItemKind::Field(Field::Cmdline) => "console=ttyS0 quiet",
        ItemKind::Field(Field::Hostname) => "box-1",
        ItemKind::Field(Field::Budget) => "3 MiB",
        ItemKind::AddOption => "PRINTK_TIME=y",
        ItemKind::KOption(_) => "n",
        _ => return None,
    })
}

/// Saves, then reads the file back as `stali check` does: it must be accepted and hold
/// exactly what the configurator shows.
fn save_and_check(app: &mut App, path: &Path, what: &str) {
    press(app, "s");
    assert!(!app.dirty(), "{what}: not saved: {:?}", app.message);
    let (back, _) = load_plan(path, &app.catalog).unwrap_or_else(|e| {
        panic!(
            "{what}: `stali check` rejects the saved profile:\n{e}\n{}",
            std::fs::read_to_string(path).unwrap_or_default()
        )
    });
    assert_eq!(content(&back), content(&app.profile), "{what}");
}

#[test]
fn every_prompt_toggle_and_radio_saves_a_profile_check_accepts() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("edited.toml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/minimal.toml"),
        &path,
    )
    .expect("copy");
    let mut app = app_on(&path);
    let mut edits = 0;
    let mut kinds: Vec<std::mem::Discriminant<ItemKind>> = Vec::new();
    let mut fields: Vec<Field> = Vec::new();
    for menu in menus(&app) {
        let len = items(&menu, &app.profile, &app.plan, &app.catalog).len();
        for i in 0..len {
            app.stack = vec![View::Menu {
                id: MenuId::Main,
                cursor: 0,
            }];
            if menu != MenuId::Main {
                app.stack.push(View::Menu {
                    id: menu.clone(),
                    cursor: i,
                });
            } else {
                app.stack[0] = View::Menu {
                    id: menu.clone(),
                    cursor: i,
                };
            }
            app.refresh();
            let Some(item) = app.current_item().cloned() else {
                continue;
            };
            let what = format!("{} > {}", menu.path(), item.label);
            kinds.push(std::mem::discriminant(&item.kind));
            if let ItemKind::Field(f) = item.kind {
                fields.push(f);
            }
            match (&item.kind, answer(&item.kind)) {
                (ItemKind::Submenu(_), _) => continue,
                (_, Some(text)) => {
                    key(&mut app, KeyCode::Enter);
                    assert!(matches!(app.modal, Some(Modal::Prompt(_))), "{what}");
                    app.handle(ctrl('u'));
                    press(&mut app, &format!("{text}\n"));
                    assert!(app.modal.is_none(), "{what}: refused: {:?}", app.modal);
                }
                // A toggle or radio both ways: on, saved, off again.
                _ => {
                    press(&mut app, " ");
                    if app.dirty() {
                        edits += 1;
                        save_and_check(&mut app, &path, &what);
                    }
                    press(&mut app, " ");
                }
            }
            if app.dirty() {
                edits += 1;
                save_and_check(&mut app, &path, &what);
            }
        }
    }
    assert!(edits >= 40, "only {edits} edits were made");
    for kind in [
        ItemKind::Tool(String::new()),
        ItemKind::Hardware(String::new()),
        ItemKind::Base(String::new()),
        ItemKind::Fragment(String::new()),
        ItemKind::KOption(String::new()),
        ItemKind::AddOption,
        ItemKind::Boot(None),
        ItemKind::Compression(stali::model::Compression::Xz),
    ] {
        assert!(
            kinds.contains(&std::mem::discriminant(&kind)),
            "{kind:?} never edited"
        );
    }
    for f in Field::ALL {
        assert!(fields.contains(&f), "{f:?} never edited");
    }
    // And the command itself agrees.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_stali"))
        .args(["check", path.to_str().expect("utf-8")])
        .env("STALI_CONFIG_DIR", "/nonexistent")
        .output()
        .expect("runs");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn module_options_are_refused_as_check_refuses_them() {
    for (typed, why) in [
        ("EXT4_FS=m", "`m` builds a module"),
        ("MODULES=y", "CONFIG_MODULES is always off"),
        ("printk=y", "not a kernel option name"),
    ] {
        let mut app = real_app();
        let before = app.profile.clone();
        press(&mut app, "jj\njjj\na");
        app.handle(ctrl('u'));
        press(&mut app, &format!("{typed}\n"));
        match &app.modal {
            Some(Modal::Prompt(p)) => assert!(
                p.error.as_deref().is_some_and(|e| e.contains(why)),
                "{typed}: {:?}",
                p.error
            ),
            other => panic!("{typed}: accepted ({other:?})"),
        }
        assert_eq!(app.profile, before, "{typed}");
    }
}

#[test]
fn one_line_saved_unchanged_stays_one_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("tiny.toml");
    std::fs::write(&path, "format = 1\n").expect("write");
    let mut app = app_on(&path);
    app.save();
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "format = 1\n"
    );
    // One change writes one key, and nothing the defaults already say.
    press(&mut app, "jjj\njjj\n");
    app.handle(ctrl('u'));
    press(&mut app, "box\n");
    press(&mut app, "s");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "format = 1\n\n[image]\nhostname = \"box\"\n"
    );
}

#[test]
fn a_base_from_the_user_catalog_is_offered_and_saved() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = Catalog::embedded();
    let hw = dir.path().join("hardware");
    std::fs::create_dir_all(&hw).expect("mkdir");
    std::fs::write(
        hw.join("bases.toml"),
        "[[base]]\nname = \"allnoconfig\"\ndescription = \"Everything off\"\nsize = 500000\nsize_source = \"estimate: test\"\n",
    )
    .expect("write");
    c.extend_from_dir(dir.path());
    let path = dir.path().join("p.toml");
    std::fs::write(&path, "format = 1\n").expect("write");
    let p = Profile::load(&path, &c).expect("loads");
    let mut app = App::new(p, Some("format = 1\n".into()), c.clone(), look("default")).expect("ok");
    app.stack = vec![
        View::Menu {
            id: MenuId::Main,
            cursor: 0,
        },
        View::Menu {
            id: MenuId::Base,
            cursor: 0,
        },
    ];
    app.refresh();
    let at = app
        .items
        .iter()
        .position(|i| i.kind == ItemKind::Base("allnoconfig".into()))
        .expect("the user's base is listed");
    app.stack[1] = View::Menu {
        id: MenuId::Base,
        cursor: at,
    };
    press(&mut app, " s");
    let (back, _) = load_plan(&path, &c).expect("check accepts the user's base");
    assert_eq!(back.kernel.base, "allnoconfig");
}
