//! What the pipeline says while it works: a stream of [`BuildEvent`]s sent to a
//! [`Reporter`]. The pipeline never prints progress itself; front ends choose how to show
//! the events (a live terminal, plain lines, JSON lines: see `cli::reporter`). [`Plain`]
//! is the library's own reporter, used when a caller gives none.

use std::time::{Duration, Instant};

/// One thing that happened during a fetch or a build.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum BuildEvent {
    /// A stage begins (`fetch`, `headers`, `packages`, `rootfs`, `kernel`, `iso`, `report`).
    StageStarted {
        /// The stage.
        stage: String,
    },
    /// A stage ended; `cached` when it did no work.
    StageFinished {
        /// The stage.
        stage: String,
        /// Whether everything came from the cache.
        cached: bool,
        /// How long it took.
        seconds: f64,
    },
    /// A stage does a piece of work worth a line (configuring the kernel, packing).
    Step {
        /// The stage.
        stage: String,
        /// What it does.
        what: String,
    },
    /// An item of a stage starts (a source fetched, a package built).
    ItemStarted {
        /// The stage.
        stage: String,
        /// The item.
        name: String,
    },
    /// A package came from the cache.
    PackageCached {
        /// The package.
        name: String,
        /// Its installed bytes.
        bytes: u64,
    },
    /// A package was built.
    PackageBuilt {
        /// The package.
        name: String,
        /// Its installed bytes.
        bytes: u64,
    },
    /// A download begins (or resumes at byte `from`).
    DownloadStarted {
        /// What is downloaded (`download NAME`).
        label: String,
        /// Its size, when the server says.
        total: Option<u64>,
        /// The byte it resumes at (0 for a fresh download).
        from: u64,
    },
    /// `bytes` of a download are here.
    DownloadProgress {
        /// The download's label.
        label: String,
        /// Bytes received so far (resumed bytes included).
        bytes: u64,
    },
    /// A download ended well.
    DownloadFinished {
        /// The download's label.
        label: String,
        /// Bytes of the file.
        bytes: u64,
        /// How long this transfer took.
        seconds: f64,
    },
    /// A download stopped before its end (to be retried or given up).
    DownloadInterrupted {
        /// The download's label.
        label: String,
        /// Bytes received so far.
        bytes: u64,
    },
    /// A line worth keeping (a retry, a URL rewritten), not a problem.
    Log {
        /// The stage.
        stage: String,
        /// The line.
        line: String,
    },
    /// A size was measured (`package NAME`, `userland`, `initramfs`, `kernel`, `iso`).
    SizeMeasured {
        /// What was measured.
        what: String,
        /// Its size.
        bytes: u64,
    },
    /// Something the user should know, which does not stop the build.
    Warning {
        /// The message, as it would be printed.
        message: String,
    },
}

/// Receives the events of a fetch or a build (from several threads at once).
pub trait Reporter: Send + Sync {
    /// One event happened.
    fn event(&self, e: &BuildEvent);

    /// The fetch or build is over (successfully or not): clear anything live.
    fn finish(&self) {}
}

/// Seconds since `start`, as events report durations.
pub fn seconds_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

/// Emits `StageStarted` now and `StageFinished` when [`StageTimer::finish`] is called.
pub struct StageTimer<'a> {
    events: &'a dyn Reporter,
    stage: &'static str,
    start: Instant,
}

impl<'a> StageTimer<'a> {
    /// `stage` starts.
    pub fn start(events: &'a dyn Reporter, stage: &'static str) -> Self {
        events.event(&BuildEvent::StageStarted {
            stage: stage.into(),
        });
        StageTimer {
            events,
            stage,
            start: Instant::now(),
        }
    }

    /// The stage ended; `cached` when it did no work.
    pub fn finish(self, cached: bool) {
        self.events.event(&BuildEvent::StageFinished {
            stage: self.stage.into(),
            cached,
            seconds: seconds_since(self.start),
        });
    }
}

/// Timestamped lines on standard error, as stali printed them before the live display
/// existed: one per step, package and download; items, sizes and stage ends are not shown.
pub struct Plain {
    start: Instant,
}

impl Plain {
    /// A reporter whose timestamps count from now.
    pub fn new() -> Self {
        Plain {
            start: Instant::now(),
        }
    }

    /// The line `e` is shown as, if any (without the newline).
    pub fn line(&self, e: &BuildEvent) -> Option<String> {
        let at = self.start.elapsed();
        plain_line(at, e)
    }
}

impl Default for Plain {
    fn default() -> Self {
        Plain::new()
    }
}

impl Reporter for Plain {
    fn event(&self, e: &BuildEvent) {
        if let Some(l) = self.line(e) {
            eprintln!("{l}");
        }
    }
}

/// The plain line for `e` at `at` since the start (see [`Plain`]).
pub fn plain_line(at: Duration, e: &BuildEvent) -> Option<String> {
    let stamp = |stage: &str, msg: &str| format!("[{:>7.1}s] {stage:>8} {msg}", at.as_secs_f64());
    match e {
        BuildEvent::Step { stage, what } => Some(stamp(stage, what)),
        BuildEvent::PackageCached { name, .. } => Some(stamp("build", &format!("{name}: cached"))),
        BuildEvent::PackageBuilt { name, .. } => Some(stamp("build", &format!("{name}: built"))),
        BuildEvent::DownloadStarted { label, total, from } => {
            let size = total.map(|t| format!(" ({t} bytes)")).unwrap_or_default();
            let resume = if *from > 0 {
                format!(", resuming at byte {from}")
            } else {
                String::new()
            };
            Some(stamp("fetch", &format!("{label}{size}{resume}")))
        }
        BuildEvent::DownloadFinished {
            label,
            bytes,
            seconds,
        } => Some(stamp(
            "fetch",
            &format!("{label}: {bytes} bytes in {seconds:.1} s"),
        )),
        BuildEvent::Log { line, .. } => Some(line.clone()),
        BuildEvent::Warning { message } => Some(message.clone()),
        BuildEvent::StageStarted { .. }
        | BuildEvent::StageFinished { .. }
        | BuildEvent::ItemStarted { .. }
        | BuildEvent::DownloadProgress { .. }
        | BuildEvent::DownloadInterrupted { .. }
        | BuildEvent::SizeMeasured { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_keep_the_old_format() {
        let at = Duration::from_millis(1500);
        let step = BuildEvent::Step {
            stage: "kernel".into(),
            what: "build bzImage".into(),
        };
        assert_eq!(
            plain_line(at, &step).as_deref(),
            Some("[    1.5s]   kernel build bzImage")
        );
        let built = BuildEvent::PackageBuilt {
            name: "sinit".into(),
            bytes: 9,
        };
        assert_eq!(
            plain_line(at, &built).as_deref(),
            Some("[    1.5s]    build sinit: built")
        );
        let dl = BuildEvent::DownloadStarted {
            label: "download a.tar".into(),
            total: Some(10),
            from: 4,
        };
        assert_eq!(
            plain_line(at, &dl).as_deref(),
            Some("[    1.5s]    fetch download a.tar (10 bytes), resuming at byte 4")
        );
        let item = BuildEvent::ItemStarted {
            stage: "build".into(),
            name: "sinit".into(),
        };
        assert_eq!(plain_line(at, &item), None);
    }

    #[test]
    fn events_serialize_with_a_kebab_case_tag() {
        let v = serde_json::to_value(BuildEvent::SizeMeasured {
            what: "iso".into(),
            bytes: 42,
        })
        .expect("json");
        assert_eq!(
            v,
            serde_json::json!({"event": "size-measured", "what": "iso", "bytes": 42})
        );
    }

    #[derive(Default)]
    struct Record(std::sync::Mutex<Vec<BuildEvent>>);

    impl Reporter for Record {
        fn event(&self, e: &BuildEvent) {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(e.clone());
        }
    }

    #[test]
    fn a_stage_timer_brackets_the_stage() {
        let r = Record::default();
        StageTimer::start(&r, "iso").finish(true);
        let got = r.0.lock().expect("lock").clone();
        assert_eq!(
            got[0],
            BuildEvent::StageStarted {
                stage: "iso".into()
            }
        );
        assert!(matches!(
            &got[1],
            BuildEvent::StageFinished { stage, cached: true, .. } if stage == "iso"
        ));
    }
}
