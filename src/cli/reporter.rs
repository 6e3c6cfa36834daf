//! The front ends of the pipeline's [`BuildEvent`] stream: a live display on a terminal
//! ([`Terminal`], indicatif), timestamped lines elsewhere ([`Plain`]), and one JSON object
//! per line on standard output for programs ([`Json`], `--message-format json`).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use clap::ValueEnum;

use crate::pipeline::events::{BuildEvent, Plain, Reporter};

/// Version of the JSON messages (the `format` field of every line).
pub const JSON_FORMAT: u32 = 1;

/// How `stali build` reports its progress.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MessageFormat {
    /// Live on a terminal (cargo's rules), plain lines elsewhere.
    #[default]
    Human,
    /// Timestamped lines on standard error, even on a terminal.
    Plain,
    /// One JSON object per line on standard output (see the README).
    Json,
}

/// True when progress may be drawn live: standard error is a terminal, `TERM` is set and
/// not `dumb`, and `CI` is not set (cargo's rules).
pub fn live_allowed() -> bool {
    live_allowed_with(
        std::io::stderr().is_terminal(),
        std::env::var("TERM").ok().as_deref(),
        std::env::var_os("CI").is_some(),
    )
}

/// [`live_allowed`] for a given terminal, `TERM` and `CI`.
pub fn live_allowed_with(terminal: bool, term: Option<&str>, ci: bool) -> bool {
    terminal && term.is_some_and(|t| t != "dumb") && !ci
}

/// The reporter for `format`: JSON lines, plain lines, or live when allowed.
pub fn choose(format: MessageFormat) -> Arc<dyn Reporter> {
    match format {
        MessageFormat::Json => Arc::new(Json::new()),
        MessageFormat::Plain => Arc::new(Plain::new()),
        MessageFormat::Human if live_allowed() => Arc::new(Terminal::new()),
        MessageFormat::Human => Arc::new(Plain::new()),
    }
}

/// A live spinner line with the current step, byte bars for downloads, and finished
/// packages and notes printed above them.
pub struct Terminal {
    multi: indicatif::MultiProgress,
    line: indicatif::ProgressBar,
    downloads: Mutex<HashMap<String, indicatif::ProgressBar>>,
}

impl Terminal {
    /// Starts the live line on standard error.
    pub fn new() -> Self {
        Terminal::with_target(indicatif::ProgressDrawTarget::stderr())
    }

    /// Starts the live line drawn to `target`.
    pub fn with_target(target: indicatif::ProgressDrawTarget) -> Self {
        let multi = indicatif::MultiProgress::with_draw_target(target);
        let line = multi.add(indicatif::ProgressBar::new_spinner());
        line.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed:>4}] {prefix:>8} {wide_msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        line.enable_steady_tick(std::time::Duration::from_millis(120));
        Terminal {
            multi,
            line,
            downloads: Mutex::new(HashMap::new()),
        }
    }

    fn show(&self, stage: &str, msg: &str) {
        self.line.set_prefix(stage.to_string());
        self.line.set_message(msg.to_string());
    }

    fn downloads(&self) -> std::sync::MutexGuard<'_, HashMap<String, indicatif::ProgressBar>> {
        self.downloads.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for Terminal {
    fn default() -> Self {
        Terminal::new()
    }
}

impl Reporter for Terminal {
    fn event(&self, e: &BuildEvent) {
        match e {
            BuildEvent::Step { stage, what } => self.show(stage, what),
            BuildEvent::ItemStarted { stage, name } => self.show(stage, name),
            BuildEvent::PackageCached { name, .. } => {
                let _ = self.multi.println(format!("  build {name}: cached"));
            }
            BuildEvent::PackageBuilt { name, .. } => {
                let _ = self.multi.println(format!("  build {name}: built"));
            }
            BuildEvent::DownloadStarted { label, total, from } => {
                let b = self
                    .multi
                    .add(indicatif::ProgressBar::new(total.unwrap_or(0)));
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "  {prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                b.set_prefix(label.clone());
                b.set_position(*from);
                if let Some(old) = self.downloads().insert(label.clone(), b) {
                    old.finish_and_clear();
                }
            }
            BuildEvent::DownloadProgress { label, bytes } => {
                if let Some(b) = self.downloads().get(label) {
                    b.set_position(*bytes);
                }
            }
            BuildEvent::DownloadFinished { label, .. }
            | BuildEvent::DownloadInterrupted { label, .. } => {
                if let Some(b) = self.downloads().remove(label) {
                    b.finish_and_clear();
                }
            }
            BuildEvent::Log { line, .. } => {
                let _ = self.multi.println(line);
            }
            BuildEvent::Warning { message } => {
                let _ = self.multi.println(message);
            }
            BuildEvent::StageStarted { .. }
            | BuildEvent::StageFinished { .. }
            | BuildEvent::SizeMeasured { .. } => {}
        }
    }

    fn finish(&self) {
        for (_, b) in self.downloads().drain() {
            b.finish_and_clear();
        }
        self.line.finish_and_clear();
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.finish();
    }
}

/// One JSON object per line on standard output: each event with `format` (this format's
/// version, [`JSON_FORMAT`]) and `time` (seconds since the start) added.
pub struct Json {
    start: Instant,
}

impl Json {
    /// A reporter whose `time` counts from now.
    pub fn new() -> Self {
        Json {
            start: Instant::now(),
        }
    }

    /// The line for `e` (without the newline).
    pub fn line(&self, e: &BuildEvent) -> String {
        self.message(serde_json::to_value(e).unwrap_or_default())
    }

    /// The line for a message the command itself adds (`build-finished`, `booted`): the
    /// object `fields` with `format` and `time`.
    pub fn message(&self, fields: serde_json::Value) -> String {
        let mut obj = serde_json::Map::new();
        obj.insert("format".into(), JSON_FORMAT.into());
        obj.insert(
            "time".into(),
            serde_json::json!((self.start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0),
        );
        if let serde_json::Value::Object(m) = fields {
            obj.extend(m);
        }
        serde_json::Value::Object(obj).to_string()
    }

    /// Writes `line` and a newline to standard output at once.
    pub fn emit(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}").and_then(|_| out.flush());
    }
}

impl Default for Json {
    fn default() -> Self {
        Json::new()
    }
}

impl Reporter for Json {
    fn event(&self, e: &BuildEvent) {
        self.emit(&self.line(e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_only_on_a_terminal_without_dumb_or_ci() {
        assert!(live_allowed_with(true, Some("xterm-256color"), false));
        assert!(!live_allowed_with(false, Some("xterm"), false));
        assert!(!live_allowed_with(true, Some("dumb"), false));
        assert!(!live_allowed_with(true, None, false));
        assert!(!live_allowed_with(true, Some("xterm"), true));
    }

    #[test]
    fn the_terminal_shows_steps_and_one_bar_per_download_until_it_ends() {
        let t = Terminal::with_target(indicatif::ProgressDrawTarget::hidden());
        t.event(&BuildEvent::Step {
            stage: "kernel".into(),
            what: "build bzImage".into(),
        });
        assert_eq!(t.line.prefix(), "kernel");
        assert_eq!(t.line.message(), "build bzImage");
        let started = |label: &str| BuildEvent::DownloadStarted {
            label: label.into(),
            total: Some(100),
            from: 10,
        };
        t.event(&started("download a"));
        t.event(&started("download b"));
        t.event(&BuildEvent::DownloadProgress {
            label: "download a".into(),
            bytes: 60,
        });
        assert_eq!(t.downloads()["download a"].position(), 60);
        assert_eq!(t.downloads()["download b"].position(), 10);
        t.event(&BuildEvent::DownloadFinished {
            label: "download a".into(),
            bytes: 100,
            seconds: 1.0,
        });
        t.event(&BuildEvent::DownloadInterrupted {
            label: "download b".into(),
            bytes: 20,
        });
        assert!(t.downloads().is_empty());
        t.finish();
        assert!(t.line.is_finished());
    }

    #[test]
    fn json_lines_carry_the_format_and_the_event() {
        let j = Json::new();
        let line = j.line(&BuildEvent::PackageBuilt {
            name: "sinit".into(),
            bytes: 12,
        });
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["format"], 1);
        assert_eq!(v["event"], "package-built");
        assert_eq!(v["name"], "sinit");
        assert_eq!(v["bytes"], 12);
        assert!(v["time"].as_f64().is_some_and(|t| t >= 0.0));
        let done: serde_json::Value = serde_json::from_str(
            &j.message(serde_json::json!({"event": "build-finished", "success": true})),
        )
        .expect("json");
        assert_eq!(done["format"], 1);
        assert_eq!(done["success"], true);
    }
}
