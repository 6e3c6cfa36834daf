//! Build progress: a live line on a terminal, plain timestamped lines elsewhere (CI, logs).

use std::io::IsTerminal;
use std::time::Instant;

/// Progress reporting for one build.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    start: Instant,
}

impl Progress {
    /// Live on a terminal unless `plain`, `TERM=dumb` or `CI` is set.
    pub fn new(plain: bool) -> Self {
        let live = !plain
            && std::io::stderr().is_terminal()
            && std::env::var("TERM").map(|t| t != "dumb").unwrap_or(false)
            && std::env::var_os("CI").is_none();
        let bar = live.then(|| {
            let b = indicatif::ProgressBar::new_spinner();
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
            bar,
            start: Instant::now(),
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

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
