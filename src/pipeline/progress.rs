//! Build progress: a live line on a terminal, plain timestamped lines elsewhere (CI, logs).

use std::io::IsTerminal;
use std::time::Instant;

/// Progress reporting for one build.
pub struct Progress {
    multi: Option<indicatif::MultiProgress>,
    bar: Option<indicatif::ProgressBar>,
    start: Instant,
}

/// True when progress may be drawn live: standard error is a terminal, `TERM` is set and
/// not `dumb`, and `CI` is not set (cargo's rules).
pub fn live_allowed() -> bool {
    std::io::stderr().is_terminal()
        && std::env::var("TERM").map(|t| t != "dumb").unwrap_or(false)
        && std::env::var_os("CI").is_none()
}

impl Progress {
    /// Live on a terminal unless `plain`, `TERM=dumb` or `CI` is set.
    pub fn new(plain: bool) -> Self {
        let live = !plain && live_allowed();
        let multi = live.then(indicatif::MultiProgress::new);
        let bar = multi.as_ref().map(|m| {
            let b = m.add(indicatif::ProgressBar::new_spinner());
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed:>4}] {prefix:>8} {wide_msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        Progress {
            multi,
            bar,
            start: Instant::now(),
        }
    }

    /// A transfer of `total` bytes (when known) starting at `from`: a byte bar under the
    /// live line on a terminal, a line when it starts and one when it ends elsewhere.
    pub fn transfer(&self, label: &str, total: Option<u64>, from: u64) -> Transfer<'_> {
        let bar = self.multi.as_ref().map(|m| {
            let b = m.add(indicatif::ProgressBar::new(total.unwrap_or(0)));
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "  {prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.set_prefix(label.to_string());
            b.set_position(from);
            b
        });
        if bar.is_none() {
            let size = total.map(|t| format!(" ({t} bytes)")).unwrap_or_default();
            let resume = if from > 0 {
                format!(", resuming at byte {from}")
            } else {
                String::new()
            };
            self.line("fetch", &format!("{label}{size}{resume}"));
        }
        Transfer {
            progress: self,
            bar,
            label: label.to_string(),
        }
    }

    fn line(&self, stage: &str, msg: &str) {
        match &self.bar {
            Some(b) => {
                b.set_prefix(stage.to_string());
                b.set_message(msg.to_string());
            }
            None => eprintln!(
                "[{:>7.1}s] {stage:>8} {msg}",
                self.start.elapsed().as_secs_f64()
            ),
        }
    }

    /// A stage starts.
    pub fn stage(&self, stage: &str, msg: &str) {
        self.line(stage, msg);
    }

    /// An item of a stage starts.
    pub fn item(&self, stage: &str, name: &str) {
        if self.bar.is_some() {
            self.line(stage, name);
        }
    }

    /// An item finished (from the cache or built).
    pub fn done(&self, stage: &str, name: &str, cached: bool) {
        let how = if cached { "cached" } else { "built" };
        match &self.bar {
            Some(b) => b.println(format!("  {stage} {name}: {how}")),
            None => eprintln!(
                "[{:>7.1}s] {stage:>8} {name}: {how}",
                self.start.elapsed().as_secs_f64()
            ),
        }
    }

    /// The build is over.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// One transfer under way (see [`Progress::transfer`]).
pub struct Transfer<'a> {
    progress: &'a Progress,
    bar: Option<indicatif::ProgressBar>,
    label: String,
}

impl Transfer<'_> {
    /// `bytes` of the file are here.
    pub fn set(&self, bytes: u64) {
        if let Some(b) = &self.bar {
            b.set_position(bytes);
        }
    }

    /// The transfer ended with `bytes` in `took`.
    pub fn finish(self, bytes: u64, took: std::time::Duration) {
        match &self.bar {
            Some(b) => b.finish_and_clear(),
            None => self.progress.line(
                "fetch",
                &format!(
                    "{}: {bytes} bytes in {:.1} s",
                    self.label,
                    took.as_secs_f64()
                ),
            ),
        }
    }
}

impl Drop for Transfer<'_> {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
