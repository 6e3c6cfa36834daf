//! A Kconfig engine modelled on the kernel's own `scripts/kconfig` (Linux 6.1): lexer,
//! parser, preprocessor, evaluator, `.config` reader and writer.
//!
//! The tree is kept the way the C code keeps it (symbols in a table, menus as a tree of
//! entries, properties with their visibility), and the evaluation functions are ports of
//! `symbol.c`, `menu.c` and `confdata.c`, so that every `.config` it writes is byte-identical
//! to what `conf` writes. It depends on nothing else in stali.
//!
//! A front end walks [`Kconfig::menus`] from [`ROOT_MENU`] (see [`Menu`]), reads values with
//! [`Kconfig::value`], and changes them with [`Kconfig::set_value`].

pub mod cache;
pub mod confdata;
pub mod eval;
pub mod explain;
pub mod lexer;
pub mod parser;
pub mod preprocess;
pub mod tree;

pub use confdata::Mode;
pub use tree::{
    Expr, ExprId, Kconfig, LoadOptions, Menu, MenuId, PropId, PropKind, Property, ROOT_MENU, SymId,
    SymType, Symbol, Tri,
};
