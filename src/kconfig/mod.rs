//! A Kconfig engine modelled on the kernel's own `scripts/kconfig` (Linux 6.1): lexer,
//! parser, preprocessor, evaluator, `.config` reader and writer.
//!
//! The tree is kept the way the C code keeps it (symbols in a table, menus as a tree of
//! entries, properties with their visibility), and the evaluation functions are ports of
//! `symbol.c`, `menu.c` and `confdata.c`, so that every `.config` it writes is byte-identical
//! to what `conf` writes. It depends on nothing else in stali.
//!
//! For a front end:
//! - the menu tree: [`Kconfig::children`] from [`ROOT_MENU`], [`Kconfig::menu_prompt`],
//!   [`Kconfig::menu_is_visible`], each [`Menu`]'s `help`, `file` ([`Kconfig::file_name`]) and
//!   `line`, [`Kconfig::menu_path`];
//! - a symbol's facts: [`Kconfig::value`], [`Kconfig::sym_type`], its `dir_dep` ("depends on",
//!   printed by [`Kconfig::expr_text`]), `rev_dep` and `implied` ("selected by", "implied by":
//!   [`Kconfig::or_terms`] and [`Kconfig::term_source`]), [`Kconfig::is_changeable`],
//!   [`Kconfig::why`] in words;
//! - a change: [`Kconfig::set_value`] checks the range and the constraints as `conf` does,
//!   invalidates every value, and values are then recomputed lazily, only for what is read
//!   (one screen of entries after a toggle);
//! - whole configurations: [`Kconfig::olddefconfig`], [`Kconfig::tinyconfig`],
//!   [`Kconfig::arch_defconfig`], [`Kconfig::allconfig`], [`Kconfig::savedefconfig`].

pub mod cache;
pub mod check;
pub mod confdata;
pub mod eval;
pub mod explain;
pub mod lexer;
pub mod parser;
pub mod preprocess;
pub mod profile;
pub mod sizes;
pub mod tree;
pub mod whatif;

pub use confdata::Mode;
pub use tree::{
    Expr, ExprId, Kconfig, LoadOptions, Menu, MenuId, PropId, PropKind, Property, ROOT_MENU, SymId,
    SymType, Symbol, Tri,
};

#[cfg(test)]
mod tests {
    use super::*;

    const KCONFIG: &str = r#"mainmenu "Test $(SRCARCH)"
v := $(SRCARCH)
config MODULES
	bool "modules"
	modules
config HIDE
	bool "hide"
menu "Things"
	visible if !HIDE
config A
	bool "a"
	select B
	imply C
	help
	  Help for A,
	    indented.

	  Second paragraph.
config B
	bool
config C
	tristate "c"
choice
	prompt "pick"
	default Y2
config Y1
	bool "one"
config Y2
	bool "two"
endchoice
endmenu
source "arch/$(v)/Kconfig"
"#;

    fn tree() -> (tempfile::TempDir, Kconfig) {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join("Kconfig"), KCONFIG).expect("write");
        std::fs::create_dir_all(d.path().join("arch/x86")).expect("mkdir");
        std::fs::write(
            d.path().join("arch/x86/Kconfig"),
            "config N\n\tint \"n\"\n\trange 1 9\n\tdefault 4\n",
        )
        .expect("write");
        let kc = Kconfig::load(d.path(), &LoadOptions::x86_64()).expect("load");
        (d, kc)
    }

    #[test]
    fn selects_implies_choices_ranges_and_help() {
        let (_d, mut kc) = tree();
        let out = kc.olddefconfig("CONFIG_A=y\nCONFIG_N=12\n");
        assert!(
            out.starts_with("#\n# Automatically generated file; DO NOT EDIT.\n# Test x86\n#\n")
        );
        for line in [
            "CONFIG_A=y\n",
            "CONFIG_B=y\n",
            "CONFIG_C=y\n",
            "CONFIG_Y2=y\n",
            "CONFIG_N=4\n",
        ] {
            assert!(out.contains(line), "{line} missing from\n{out}");
        }
        assert!(out.contains("\n#\n# Things\n#\n") && out.contains("# end of Things\n"));
        let a = kc.find("A").expect("A");
        let help = kc.menus[kc.sym(a).menus[0] as usize]
            .help
            .clone()
            .unwrap_or_default();
        // No blank line before the next entry: no final newline, as in the C lexer.
        assert_eq!(help, "Help for A,\n  indented.\n\nSecond paragraph.");
        let b = kc.find("CONFIG_B").expect("B");
        assert!(!kc.set_value(b, "n"), "a selected symbol cannot be n");
        let out = kc.olddefconfig("CONFIG_HIDE=y\n");
        assert!(!out.contains("Things"), "visible if hides the menu:\n{out}");
        assert!(kc.why(a).contains("defined at Kconfig:"));
    }

    #[test]
    fn a_second_load_reads_the_stored_tree_until_a_file_changes() {
        let (d, mut fresh) = tree();
        let store = tempfile::tempdir().expect("tempdir");
        let opts = LoadOptions {
            tree_cache: Some(store.path().to_path_buf()),
            ..LoadOptions::x86_64()
        };
        let mut first = Kconfig::load(d.path(), &opts).expect("load");
        assert!(!first.from_store);
        let stored: Vec<_> = std::fs::read_dir(store.path())
            .expect("read_dir")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(stored.len(), 1, "{stored:?}");
        let input = "CONFIG_A=y\nCONFIG_N=12\n";
        let want = fresh.olddefconfig(input);
        assert_eq!(first.olddefconfig(input), want);
        // The second load comes from the stored file; a file that cannot be decoded is
        // parsed again (and stored anew).
        let mut second = Kconfig::load(d.path(), &opts).expect("load");
        assert!(second.from_store);
        assert_eq!(second.olddefconfig(input), want);
        std::fs::write(&stored[0], b"garbage").expect("write");
        let mut third = Kconfig::load(d.path(), &opts).expect("load");
        assert!(!third.from_store);
        assert_eq!(third.olddefconfig(input), want);
        assert!(Kconfig::load(d.path(), &opts).expect("load").from_store);
        // A changed file (here a sourced one, other size) is seen.
        std::fs::write(
            d.path().join("arch/x86/Kconfig"),
            "config N\n\tint \"n\"\n\trange 1 9\n\tdefault 5\nconfig NEW\n\tbool \"new\"\n",
        )
        .expect("write");
        let mut kc = Kconfig::load(d.path(), &opts).expect("load");
        assert!(
            kc.find("NEW").is_some(),
            "a changed file was not read again"
        );
        assert!(kc.olddefconfig("").contains("CONFIG_N=5\n"));
    }

    #[test]
    fn malformed_input_is_an_error_with_its_location() {
        let d = tempfile::tempdir().expect("tempdir");
        for (text, at) in [
            ("config A\n\tbool \"a\"\n\tselect\n", "Kconfig:3:"),
            ("endmenu\n", "Kconfig:1:"),
            ("config A\n\tbool \"a\" if (B\n", "Kconfig:2:"),
            ("source \"missing/Kconfig\"\n", "Kconfig:1:"),
            ("$(error-if,y,boom)\n", "Kconfig:1:"),
            (
                &format!(
                    "config A\n\tbool \"a\"\n\tdepends on {}B\n",
                    "(".repeat(5000)
                ),
                "Kconfig:3:",
            ),
        ] {
            std::fs::write(d.path().join("Kconfig"), text).expect("write");
            let e = Kconfig::load(d.path(), &LoadOptions::x86_64()).expect_err(text);
            assert!(format!("{e:#}").contains(at), "{text:?}: {e:#}");
        }
    }
}
