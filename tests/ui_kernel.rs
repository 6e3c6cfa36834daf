//! Kernel > All options: the kernel's own menu tree in the configurator, on a small Kconfig
//! tree committed in tests/fixtures/kconfig-ui (stable snapshots), loaded by the same loader
//! `stali menu` uses, with the real Kconfig engine.

mod ui_common;

use std::path::Path;
use std::sync::Arc;

use stali::model::{Profile, resolve};
use stali::ui::app::{App, View};
use stali::ui::kernel::Loader;
use stali::ui::menu::{ItemKind, MenuId};
use ui_common::*;

fn snap(name: &str, app: &App) {
    let t = render(app, 80, 24);
    insta::assert_snapshot!(format!("{name}_80x24"), t.backend());
}

/// Kernel > All options, from the main menu.
const ALL_OPTIONS: &str = "jj\njjjj\n";

fn message(app: &App) -> String {
    app.message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default()
}

fn option(app: &App, name: &str) -> Option<String> {
    app.profile
        .kernel
        .options
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

#[test]
fn the_tree_as_menuconfig_shows_it() {
    let cache = tempfile::tempdir().expect("tempdir");
    let mut app = kernel_app(cache.path());
    press(&mut app, ALL_OPTIONS);
    snap("kernel_tree_root", &app);
    let s = screen(&app, 80, 24);
    // As menuconfig: a menu with nothing visible inside reads `----`.
    assert!(s.contains("[ ] Enable the block layer  ----"), "{s}");
    press(&mut app, "j\n");
    snap("kernel_tree_general", &app);
    let s = screen(&app, 80, 24);
    for want in [
        "[*] Configure standard kernel features",
        "(14) Kernel log buffer size",
        "() Local version",
        "*** Scheduler ***",
        "Preemption Model (No Forced",
        "(0x1000000) Physical address",
    ] {
        assert!(s.contains(want), "{want:?} missing:\n{s}");
    }
    // The choice opens as radios.
    let at = app
        .items
        .iter()
        .position(|i| i.label.contains("Preemption Model"))
        .expect("the choice");
    for _ in 0..at {
        press(&mut app, "j");
    }
    press(&mut app, "\n");
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("(X) No Forced Preemption") && s.contains("( ) Voluntary Kernel Preemption"),
        "{s}"
    );
    snap("kernel_tree_choice", &app);
}

#[test]
fn hidden_entries_show_with_why_and_edits_obey_the_engine() {
    let cache = tempfile::tempdir().expect("tempdir");
    let mut app = kernel_app(cache.path());
    press(&mut app, ALL_OPTIONS);
    let fs = app
        .items
        .iter()
        .position(|i| i.label.starts_with("File systems"))
        .expect("File systems");
    for _ in 0..fs {
        press(&mut app, "j");
    }
    press(&mut app, "\n");
    let s = screen(&app, 80, 24);
    assert!(!s.contains("ext4"), "ext4 is hidden while BLOCK is n:\n{s}");
    press(&mut app, "z");
    let ext4 = app
        .items
        .iter()
        .find(|i| i.label == "The Extended 4 (ext4) filesystem")
        .expect("shown with z");
    assert_eq!(ext4.detail, "needs BLOCK [=n]");
    snap("kernel_tree_hidden", &app);
    // Hidden: the engine refuses it, with the dependency in words.
    press(&mut app, " ");
    assert!(
        message(&app).contains("needs BLOCK [=n]"),
        "{}",
        message(&app)
    );
    assert_eq!(option(&app, "CONFIG_EXT4_FS"), None);
    // A value out of range is refused in its prompt.
    assert!(
        app.profile
            .kernel
            .options
            .iter()
            .any(|(k, _)| k == "CONFIG_LOG_BUF_SHIFT")
    );
}

#[test]
fn help_says_what_menuconfig_says_and_why() {
    let cache = tempfile::tempdir().expect("tempdir");
    let mut app = kernel_app(cache.path());
    press(&mut app, "/ext4_fs");
    snap("kernel_search_ext4", &app);
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("EXT4_FS") && s.contains("kernel: File systems"),
        "{s}"
    );
    press(&mut app, "\n");
    assert!(
        matches!(
            app.current_item().map(|i| &i.kind),
            Some(ItemKind::KEntry(_))
        ),
        "Enter jumps to the entry"
    );
    assert!(app.current_item().is_some_and(|i| i.label.contains("ext4")));
    press(&mut app, "?");
    snap("kernel_help_ext4", &app);
    let h = app.kernel_help.clone().expect("kernel help");
    assert_eq!(h.title, "CONFIG_EXT4_FS: The Extended 4 (ext4) filesystem");
    assert_eq!(h.status, "Unavailable here: it needs BLOCK [=n]");
    let fact = |k: &str| {
        h.facts
            .iter()
            .filter(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(fact("Type"), ["tristate"]);
    assert_eq!(fact("Value"), ["n"]);
    assert_eq!(fact("Depends on"), ["BLOCK [=n] (= n)"]);
    assert_eq!(
        fact("Selects"),
        ["JBD2 if BLOCK [=n]", "CRC16 if BLOCK [=n]"]
    );
    assert_eq!(fact("Defined at"), ["Kconfig:85"]);
    assert_eq!(fact("Location"), ["Kernel > All options > File systems"]);
    assert!(
        h.help
            .starts_with("This is the next generation of the ext3 filesystem.\n")
    );
    // JBD2's help names what selects it.
    press(&mut app, "\x1b\x1b\x1b/jbd2\n?");
    let h = app.kernel_help.clone().expect("kernel help");
    assert!(
        h.facts
            .iter()
            .any(|(k, v)| k == "Selected by" && v == "EXT4_FS [=n] && BLOCK [=n] (= n)"),
        "{:?}",
        h.facts
    );
    // Words of the help are found too (after the matches in names and prompts).
    press(&mut app, "\x1b\x1b\x1b/journalling");
    assert_eq!(
        app.search
            .as_ref()
            .and_then(|s| s.current())
            .map(|e| e.name.as_str()),
        Some("JBD2")
    );
    press(&mut app, "\n?");
    // Back from a jump returns to the hits.
    press(&mut app, "\x1b\x1b");
    assert_eq!(app.view(), &View::Search);
}

#[test]
fn the_done_when_enable_block_and_ext4_save_and_it_sticks() {
    let cache = tempfile::tempdir().expect("tempdir");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = kernel_app(cache.path());
    // Enable the block layer: a line, since base and fragments leave it off.
    press(&mut app, "/block\n");
    assert!(
        app.current_item()
            .is_some_and(|i| i.label.contains("Enable the block layer"))
    );
    press(&mut app, " ");
    assert_eq!(
        option(&app, "CONFIG_BLOCK").as_deref(),
        Some("y"),
        "{}",
        message(&app)
    );
    // Now ext4 can be set; its select pulls JBD2 in (forced, -*-).
    press(&mut app, "/ext4_fs\n ");
    assert_eq!(
        option(&app, "CONFIG_EXT4_FS").as_deref(),
        Some("y"),
        "{}",
        message(&app)
    );
    press(&mut app, "\x1b\x1b/jbd2\n");
    let s = screen(&app, 80, 24);
    assert!(s.contains(">-*- JBD2"), "{s}");
    // A select holds CRC16 on: -*-, and it cannot go below that floor.
    press(&mut app, "\x1b\x1b/crc16\n");
    assert!(screen(&app, 80, 24).contains(">-*- CRC16 functions"));
    press(&mut app, " ");
    assert_eq!(
        message(&app),
        "CONFIG_CRC16 is selected by EXT4_FS [=y] && BLOCK [=y]: it stays y"
    );
    assert_eq!(option(&app, "CONFIG_CRC16"), None);
    // The choice: a value other than the reference is a line; the reference again removes it.
    press(&mut app, "\x1b\x1b/preempt_voluntary\n ");
    assert_eq!(
        option(&app, "CONFIG_PREEMPT_VOLUNTARY").as_deref(),
        Some("y")
    );
    assert_eq!(
        option(&app, "CONFIG_PREEMPT_NONE"),
        None,
        "{:?}",
        app.profile.kernel.options
    );
    press(&mut app, "\x1b\x1b/preempt_none\n ");
    assert_eq!(
        option(&app, "CONFIG_PREEMPT_VOLUNTARY"),
        None,
        "{:?}",
        app.profile.kernel.options
    );
    assert_eq!(option(&app, "CONFIG_PREEMPT_NONE"), None);
    // Out of range, through the value prompt.
    press(&mut app, "\x1b\x1b/log_buf\n\n");
    app.handle(ctrl('u'));
    press(&mut app, "40\n");
    let err = match &app.modal {
        Some(stali::ui::app::Modal::Prompt(p)) => p.error.clone().unwrap_or_default(),
        other => panic!("the prompt stays open with its error: {other:?}"),
    };
    assert_eq!(err, "`40` is out of range 12..25");
    press(&mut app, "\x1b");
    // Save: the comment stays, the two lines are there.
    let path = dir.path().join("tree.toml");
    app.save_to(&path);
    let saved = std::fs::read_to_string(&path).expect("saved");
    assert!(
        saved.contains("# a comment the configurator keeps"),
        "{saved}"
    );
    assert!(saved.contains("CONFIG_BLOCK = \"y\""), "{saved}");
    assert!(saved.contains("CONFIG_EXT4_FS = \"y\""), "{saved}");
    assert!(!saved.contains("PREEMPT"), "{saved}");
    // What the build computes from the saved profile has ext4 built in, and every request
    // of the profile sticks (what `stali check` verifies).
    let c = kernel_catalog();
    let p = Profile::load(&path, &c).expect("loads");
    let plan = resolve(&p, &c).expect("resolves");
    let mut computed = stali::kconfig::profile::compute(
        &plan,
        &tree_dir(),
        cache.path(),
        std::path::Path::new(stali::kconfig::profile::INITRAMFS_PLACEHOLDER),
    )
    .expect("computes");
    assert!(
        computed.config.contains("\nCONFIG_EXT4_FS=y\n"),
        "{}",
        computed.config
    );
    assert!(computed.config.contains("\nCONFIG_JBD2=y\n"));
    let reqs = stali::kconfig::profile::requests(&p, &plan);
    // (The fixture catalog's fragments name options the small tree does not have.)
    let errors: Vec<String> = stali::kconfig::profile::check_requests(&mut computed, &reqs)
        .into_iter()
        .filter(|e| e.contains("tree.toml"))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        reqs.iter()
            .any(|r| r.name == "CONFIG_EXT4_FS" && r.at.contains("tree.toml"))
    );
}

#[test]
fn setting_a_value_back_removes_its_line() {
    let cache = tempfile::tempdir().expect("tempdir");
    let mut app = kernel_app(cache.path());
    press(&mut app, "/printk_time\n");
    press(&mut app, " ");
    assert_eq!(option(&app, "CONFIG_PRINTK_TIME").as_deref(), Some("y"));
    press(&mut app, " ");
    assert_eq!(
        option(&app, "CONFIG_PRINTK_TIME"),
        None,
        "{}",
        message(&app)
    );
    // Undo brings the line back, and the tree follows (loaded again).
    press(&mut app, "u");
    assert_eq!(option(&app, "CONFIG_PRINTK_TIME").as_deref(), Some("y"));
    app.wait_kernel();
    let s = screen(&app, 80, 24);
    assert!(
        s.contains(">[*]   Show timing information on printks"),
        "{s}"
    );
}

#[test]
fn the_first_screen_does_not_wait_and_errors_are_a_line() {
    // A loader that waits until the test lets it go: the kernel menus say "loading".
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = std::sync::Mutex::new(rx);
    let cache = tempfile::tempdir().expect("tempdir");
    let real = loader(cache.path());
    let slow: Loader = Arc::new(move |plan| {
        let _ = rx.lock().map(|r| r.recv());
        real(plan)
    });
    let text = profile_text();
    let c = kernel_catalog();
    let p = Profile::parse(&text, Some(Path::new("profiles/tree.toml")), &c).expect("parses");
    let mut app = App::new(p, Some(text), c, look("default")).expect("resolves");
    app.set_kernel_loader(slow, None);
    press(&mut app, "jj\n");
    assert!(screen(&app, 80, 24).contains("All options (loading...)"));
    press(&mut app, "jjjj\n");
    assert!(screen(&app, 80, 24).contains("loading the kernel configuration..."));
    tx.send(()).expect("send");
    app.wait_kernel();
    assert!(screen(&app, 80, 24).contains("General setup  --->"));

    // A source that is not on this machine.
    let text = profile_text().replace(&tree_dir().display().to_string(), "/nonexistent/linux");
    let c = kernel_catalog();
    let p = Profile::parse(&text, Some(Path::new("profiles/tree.toml")), &c).expect("parses");
    let mut app = App::new(p, Some(text), c, look("default")).expect("resolves");
    app.set_kernel_loader(loader(cache.path()), None);
    app.wait_kernel();
    press(&mut app, "jj\njjjj\n");
    assert_eq!(
        app.items.first().map(|i| i.label.as_str()),
        Some("cannot show the kernel tree: the kernel source /nonexistent/linux does not exist")
    );
    assert!(matches!(
        app.view(),
        View::Menu {
            id: MenuId::KMenu(..),
            ..
        }
    ));
}

#[test]
fn extra_options_complete_names_and_check_them() {
    let cache = tempfile::tempdir().expect("tempdir");
    let mut app = kernel_app(cache.path());
    press(&mut app, "jj\njjj\n");
    press(&mut app, "a");
    press(&mut app, "EXT\t");
    let (text, note) = match &app.modal {
        Some(stali::ui::app::Modal::Prompt(p)) => (p.text.clone(), p.note.clone()),
        other => panic!("a prompt: {other:?}"),
    };
    assert_eq!(text, "CONFIG_EXT4_FS");
    assert_eq!(note.as_deref(), Some("EXT4_FS EXT4_FS_POSIX_ACL"));
    press(&mut app, "_POSIX_ACL\t");
    press(&mut app, "y\n");
    let err = match &app.modal {
        Some(stali::ui::app::Modal::Prompt(p)) => p.error.clone().unwrap_or_default(),
        other => panic!("refused in the prompt: {other:?}"),
    };
    assert!(err.contains("needs EXT4_FS [=n]"), "{err}");
    app.handle(ctrl('u'));
    press(&mut app, "CONFIG_EXT5_FS=y\n");
    let err = match &app.modal {
        Some(stali::ui::app::Modal::Prompt(p)) => p.error.clone().unwrap_or_default(),
        other => panic!("refused in the prompt: {other:?}"),
    };
    assert!(err.contains("did you mean `EXT4_FS`"), "{err}");
}

#[test]
fn another_profile_opened_gets_its_tree() {
    let cache = tempfile::tempdir().expect("tempdir");
    let dir = tempfile::tempdir().expect("tempdir");
    let other = dir.path().join("other.toml");
    std::fs::write(
        &other,
        profile_text().replace("name = \"tree\"", "name = \"other\""),
    )
    .expect("write");
    let mut app = kernel_app(cache.path());
    press(&mut app, "o");
    press(&mut app, &format!("{}\n", other.display()));
    assert!(message(&app).starts_with("opened "), "{}", message(&app));
    app.wait_kernel();
    press(&mut app, ALL_OPTIONS);
    assert!(
        screen(&app, 80, 24).contains("General setup  --->"),
        "{}",
        screen(&app, 80, 24)
    );
}

/// A size database for the fixture tree (Linux 6.1.0 by its Makefile): one measured build
/// with the block layer off, figures for the block layer, ext4 and what ext4 selects.
fn write_fixture_sizes(cache: &Path) {
    use stali::model::kernel_sizes::{BuildRecord, Figure, KernelSizes, SizeDb, user_path};
    let fig = |bytes: u64, bz: i64, dir: &str| Figure {
        bytes,
        bz,
        objects: 3,
        dir: dir.into(),
        build: "f1".into(),
        ..Default::default()
    };
    let mut k = KernelSizes {
        kernel: "6.1.0".into(),
        arch: "x86_64".into(),
        compiler: "gcc 12.2.0".into(),
        marginal_ratio: 0.4,
        ..Default::default()
    };
    k.builds.push(BuildRecord {
        id: "f1".into(),
        label: "fixture: the tree profile".into(),
        base: "tinyconfig".into(),
        compression: "xz".into(),
        bzimage: 900_000,
        ..Default::default()
    });
    k.symbols
        .insert("BLOCK".into(), fig(100_000, 40_000, "block/"));
    k.symbols
        .insert("EXT4_FS".into(), fig(300_000, 120_000, "fs/ext4/"));
    k.symbols
        .insert("JBD2".into(), fig(30_000, 12_000, "fs/jbd2/"));
    let db = SizeDb {
        format: stali::model::kernel_sizes::FORMAT,
        kernels: vec![k],
    };
    db.write(&user_path(cache)).expect("size database written");
}

#[test]
fn the_size_panel_prices_the_highlighted_option_and_the_total_follows() {
    let cache = tempfile::tempdir().expect("tempdir");
    write_fixture_sizes(cache.path());
    let mut app = kernel_app(cache.path());
    let before = app.estimate.kernel_bytes;
    assert!(
        app.estimate.kernel_model.contains("per-option figures"),
        "{}",
        app.estimate.kernel_model
    );
    // Ext4 needs the block layer: its delta counts both, and what it selects (JBD2).
    let size = |app: &App| {
        app.kernel_focus
            .as_ref()
            .map(|f| f.size.clone())
            .unwrap_or_default()
    };
    press(&mut app, "/ext4_fs\n");
    let want = stali::model::profile::human_delta(40_000 + 120_000 + 12_000);
    assert_eq!(size(&app), format!("turning it on: {want} (3 options)"));
    assert!(screen(&app, 100, 40).contains(&format!("turning it on: {want}")));
    // The block layer alone.
    press(&mut app, "\x1b\x1b/block\n");
    let block = stali::model::profile::human_delta(40_000);
    assert_eq!(size(&app), format!("turning it on: {block} (1 option)"));
    // Turning it on moves the kernel (each copy of it) by that figure, exactly.
    press(&mut app, " ");
    assert_eq!(option(&app, "CONFIG_BLOCK").as_deref(), Some("y"));
    assert_eq!(
        app.estimate.kernel_bytes,
        before + 40_000 * app.estimate.kernel_copies
    );
    assert_eq!(
        size(&app),
        format!("turning it off: -{}", &block[1..]) + " (1 option)"
    );
    // Help says where the figure comes from.
    press(&mut app, "?");
    let s = screen(&app, 100, 40);
    assert!(
        s.contains("3 objects under block/") && s.contains("measured in build f1 (fixture)"),
        "{s}"
    );
    press(&mut app, "\x1b");
    // An option with no figure says so, and a chosen one is counted in the total's note.
    press(&mut app, "\x1b\x1b/printk\n");
    assert!(size(&app).starts_with("no figure yet"), "{}", size(&app));
    assert!(screen(&app, 100, 40).contains("without a figure"));
}
