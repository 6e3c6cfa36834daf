//! The configurator (`stali menu`): a full-screen terminal UI that composes an image.
//!
//! [`app::App`] holds the state and handles keys without touching the terminal;
//! [`draw::draw`] paints it. This module is the thin shell around them: terminal setup and
//! restore, signals, and a loop that redraws only after an event.
//!
//! Unsaved changes are written to a recovery file when the session ends by a signal
//! (SIGHUP, SIGTERM, SIGINT) or the terminal goes away: `DIR/.NAME.toml.stali-recover` beside
//! the profile, or `$XDG_STATE_HOME/stali/recover/untitled.toml.stali-recover` for a profile
//! not saved yet (see [`save`]). The next `stali menu` of that profile offers to recover it.

pub mod action;
pub mod app;
pub mod draw;
pub mod input;
pub mod kernel;
pub mod menu;
pub mod prompt;
pub mod save;
pub mod search;
pub mod svg;
pub mod theme;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{Context, Result};
use crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
    disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute, queue};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGWINCH};

use crate::model::catalog::{EMBEDDED_PROFILES, shipped_profile};
use crate::model::{Catalog, Profile};
use app::{App, Effect};
use theme::{Glyphs, Look, Theme};

/// Prints a line on stderr; unlike `eprintln!` it never panics, as a lost terminal's
/// stderr fails every write.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// What the configurator starts with (the command line's `stali menu` arguments).
#[derive(Clone, Default)]
pub struct MenuOptions {
    /// Profile to edit (the embedded default when `None`; asked for on first save).
    pub profile: Option<std::path::PathBuf>,
    /// Colour theme by name.
    pub theme: Option<String>,
    /// Draw boxes with ASCII characters only.
    pub ascii: bool,
    /// Loads the kernel's own tree for Kernel > All options (none: not shown).
    pub kernel: Option<kernel::Loader>,
}

impl std::fmt::Debug for MenuOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MenuOptions")
            .field("profile", &self.profile)
            .field("theme", &self.theme)
            .field("ascii", &self.ascii)
            .field("kernel", &self.kernel.is_some())
            .finish()
    }
}

/// Runs the configurator; returns the exit code.
pub fn run(args: MenuOptions) -> i32 {
    let catalog = Catalog::load();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let theme = match Theme::choose(&catalog, args.theme.as_deref(), no_color) {
        Ok(t) => t,
        Err(e) => {
            say!("stali menu: {e:#}");
            return 1;
        }
    };
    let glyphs = Glyphs::choose(args.ascii, std::env::var("TERM").ok().as_deref());
    let (profile, text) = match starting_profile(args.profile.as_deref(), &catalog) {
        Ok(x) => x,
        Err(e) => {
            say!("{e}");
            return 1;
        }
    };
    let mut app = match App::new(profile, text, catalog, Look { theme, glyphs }) {
        Ok(a) => a,
        Err(e) => {
            say!("stali menu: the profile is not valid:\n{e}");
            return 1;
        }
    };
    let which = match (
        std::io::stdin().is_terminal(),
        std::io::stdout().is_terminal(),
    ) {
        (true, true) => None,
        (false, true) => Some("standard input is"),
        (true, false) => Some("standard output is"),
        (false, false) => Some("standard input and output are"),
    };
    if let Some(which) = which {
        say!(
            "stali menu: {which} not a terminal; the configurator needs one. In scripts use `stali check`, `stali size` or edit the profile."
        );
        return 2;
    }
    if let Some(rp) = save::recovery_path(app.profile.file.as_deref()).filter(|p| p.is_file()) {
        app.offer_recovery(rp);
    }
    match run_tty(app, args.kernel) {
        Ok(code) => code,
        Err(e) => {
            restore_terminal();
            say!("stali menu: {e:#}");
            1
        }
    }
}

/// The profile to start from, and the text whose comments saving keeps: the file; a
/// shipped profile named without a path (with no file, so the first save asks where);
/// or the embedded default (for a path that does not exist yet, or none).
pub fn starting_profile(
    path: Option<&Path>,
    catalog: &Catalog,
) -> Result<(Profile, Option<String>), String> {
    let default_text = EMBEDDED_PROFILES
        .first()
        .map(|(_, t)| *t)
        .unwrap_or("format = 1\n");
    let parse = |text: &str, name: Option<&str>| {
        let file = name.map(|n| PathBuf::from(format!("{n}.toml")));
        let mut p = Profile::parse(text, file.as_deref(), catalog)
            .map_err(|e| format!("stali menu: {e}"))?;
        p.file = None;
        Ok::<_, String>((p, Some(text.to_string())))
    };
    match path {
        Some(p) if p.exists() => {
            let profile = Profile::load(p, catalog).map_err(|e| format!("stali menu: {e}"))?;
            let text = std::fs::read_to_string(p).ok();
            Ok((profile, text))
        }
        Some(p) => {
            let name = p.to_string_lossy();
            if let Some(text) = shipped_profile(&name) {
                return parse(text, Some(&name));
            }
            let (mut profile, text) = parse(default_text, None)?;
            profile.name = Profile::default_name(Some(p));
            profile.file = Some(PathBuf::from(p));
            Ok((profile, text))
        }
        None => parse(default_text, None),
    }
}

enum Input {
    Bytes(Vec<u8>),
    /// The kernel tree finished loading.
    Wake,
    Signal(i32),
    Gone,
}

/// Undoes every terminal mode the configurator set; safe to call more than once.
pub fn restore_terminal() {
    let _ = disable_raw_mode();
    let mut out = std::io::stdout();
    let _ = execute!(
        out,
        EndSynchronizedUpdate,
        LeaveAlternateScreen,
        cursor::Show
    );
}

/// Draws one frame wrapped in synchronized-update codes, so the terminal shows it at once.
pub fn draw_frame<W: Write>(
    t: &mut Terminal<CrosstermBackend<W>>,
    app: &App,
) -> std::io::Result<()> {
    queue!(t.backend_mut(), BeginSynchronizedUpdate)?;
    t.draw(|f| draw::draw(app, f))?;
    execute!(t.backend_mut(), EndSynchronizedUpdate)?;
    Ok(())
}

fn run_tty(mut app: App, kernel: Option<kernel::Loader>) -> Result<i32> {
    let (tx, rx) = mpsc::channel::<Input>();
    if let Some(loader) = kernel {
        // The tree loads in its own thread; the first screen does not wait for it.
        let wake = std::sync::Mutex::new(tx.clone());
        let notify: kernel::Notify = std::sync::Arc::new(move || {
            if let Ok(t) = wake.lock() {
                let _ = t.send(Input::Wake);
            }
        });
        app.set_kernel_loader(loader, Some(notify));
    }
    let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGTERM, SIGINT, SIGWINCH])
        .context("cannot install signal handlers")?;
    let stx = tx.clone();
    std::thread::spawn(move || {
        for s in signals.forever() {
            if stx.send(Input::Signal(s)).is_err() {
                break;
            }
        }
    });
    // A blocking read in its own thread: end of file or an error means the terminal is gone.
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => {
                    let _ = tx.send(Input::Gone);
                    break;
                }
                Ok(n) => {
                    if tx.send(Input::Bytes(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    let _ = tx.send(Input::Gone);
                    break;
                }
            }
        }
    });

    enable_raw_mode().context("cannot put the terminal in raw mode")?;
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        prev(info);
    }));
    let mut out = std::io::BufWriter::with_capacity(32 * 1024, std::io::stdout());
    execute!(out, EnterAlternateScreen, cursor::Hide)
        .context("cannot switch to the alternate screen")?;
    // Never dropped: ratatui's drop shows the cursor and, when the terminal is gone,
    // prints (and so panics on) a dead stderr. `restore_terminal` does its work instead.
    let mut terminal = std::mem::ManuallyDrop::new(
        Terminal::new(CrosstermBackend::new(out)).context("cannot set up the terminal")?,
    );

    let mut decoder = input::Decoder::new();
    loop {
        if let Ok(size) = terminal.size() {
            app.resize(size.width, size.height);
        }
        if draw_frame(&mut terminal, &app).is_err() {
            return Ok(cut_short(&app, None));
        }
        // Wait for an event (no timeout: nothing changes on its own, except that a held-back
        // ESC waits at most ESC_TIMEOUT for the rest of its sequence), then take every
        // event already queued before drawing again.
        let first = if decoder.waiting() {
            match rx.recv_timeout(input::ESC_TIMEOUT) {
                Ok(e) => Some(e),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Ok(cut_short(&app, None));
                }
            }
        } else {
            match rx.recv() {
                Ok(e) => Some(e),
                Err(_) => return Ok(cut_short(&app, None)),
            }
        };
        let mut keys = match first {
            None => decoder.flush(),
            Some(_) => Vec::new(),
        };
        let mut next = first;
        loop {
            for k in keys.drain(..) {
                if app.handle(k) == Effect::Quit {
                    let _ = terminal.show_cursor();
                    restore_terminal();
                    return Ok(0);
                }
            }
            match next.take() {
                None => break,
                Some(Input::Bytes(b)) => keys = decoder.feed(&b),
                Some(Input::Signal(SIGWINCH)) => {}
                Some(Input::Wake) => app.refresh(),
                Some(Input::Signal(s)) => return Ok(cut_short(&app, Some(s))),
                Some(Input::Gone) => return Ok(cut_short(&app, None)),
            }
            next = rx.try_recv().ok();
        }
    }
}

/// Ends a session cut short by a signal or a lost terminal: keeps unsaved changes in the
/// recovery file, restores the terminal, says what happened; returns the exit code.
fn cut_short(app: &App, signal: Option<i32>) -> i32 {
    let kept = if app.dirty() {
        Some(save::write_recovery(
            &app.profile,
            app.saved_text.as_deref(),
        ))
    } else {
        None
    };
    restore_terminal();
    let why = match signal {
        Some(SIGHUP) => "the terminal hung up (SIGHUP)".to_string(),
        Some(SIGTERM) => "terminated (SIGTERM)".to_string(),
        Some(SIGINT) => "interrupted (SIGINT)".to_string(),
        Some(s) => format!("signal {s}"),
        None => "the terminal went away".to_string(),
    };
    match kept {
        Some(Ok(p)) => say!("stali menu: {why}; unsaved changes kept in {}", p.display()),
        Some(Err(e)) => say!("stali menu: {why}; could not keep unsaved changes: {e:#}"),
        None => say!("stali menu: {why}"),
    }
    128 + signal.unwrap_or(1)
}
