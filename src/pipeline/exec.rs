//! Running external commands with their output appended to a per-step log
//! file, with useful errors on failure and a global registry of running
//! children so that a signal handler can kill them all.
//!
//! Every child dies with stali, whatever kills it: once [`enable_supervisor`] has been
//! called (the `stali` binary does it at start), each command is started as `stali
//! __child PARENT_PID ARGV...`, a small supervisor that asks the kernel for a signal
//! when stali dies (`PR_SET_PDEATHSIG`, set on itself, which is safe), runs the command
//! in its process group and, on that signal, kills the whole group with SIGKILL. So a
//! `kill -9` of stali also takes down make's grandchildren, which a parent-death signal
//! on the direct child alone would leave running. (Setting the signal in the child
//! between fork and exec needs `pre_exec`, which is `unsafe`; this crate forbids it.)

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write as _};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Number of log lines quoted in a failure message.
pub const TAIL_LINES: usize = 40;

/// How the child's environment is built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EnvMode {
    /// Inherit the whole environment of this process (plus `Step::env`).
    #[default]
    Inherit,
    /// Start from an empty environment (plus `Step::env`).
    Clear,
    /// Keep only the named variables of this process (plus `Step::env`).
    Keep(Vec<String>),
}

/// One external command to run, logged to a file.
#[derive(Debug, Clone)]
pub struct Step {
    /// Program and arguments; `argv[0]` is looked up in `PATH`.
    pub argv: Vec<String>,
    /// Working directory (this process's directory when `None`).
    pub cwd: Option<PathBuf>,
    /// Extra environment variables, applied after `env_mode`.
    pub env: Vec<(String, String)>,
    /// How the base environment is built.
    pub env_mode: EnvMode,
    /// Log file receiving stdout and stderr (appended, parent dirs created).
    pub log: PathBuf,
    /// Run confined by bubblewrap, writing only to these folders (see [`Step::sandbox`]).
    pub sandbox: Option<Vec<PathBuf>>,
}

impl Step {
    /// A step running `argv` with output appended to `log`.
    pub fn new<I, S>(argv: I, log: impl Into<PathBuf>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Step {
            argv: argv.into_iter().map(Into::into).collect(),
            cwd: None,
            env: Vec::new(),
            env_mode: EnvMode::Inherit,
            log: log.into(),
            sandbox: None,
        }
    }

    /// Runs the step confined by bubblewrap (`bwrap`): the system's programs and
    /// libraries read-only, `writable` read-write, nothing else of the host (no home
    /// folder, no other files of `/etc`), a private `/tmp`, no network, its own PID
    /// namespace, and dead with its parent. `STALI_NO_SANDBOX=1` turns this off.
    pub fn sandbox(mut self, writable: impl IntoIterator<Item = PathBuf>) -> Self {
        self.sandbox = Some(writable.into_iter().collect());
        self
    }

    /// Sets the working directory.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Adds one environment variable.
    pub fn env(mut self, key: impl Into<String>, val: impl Into<String>) -> Self {
        self.env.push((key.into(), val.into()));
        self
    }

    /// Sets how the base environment is built.
    pub fn env_mode(mut self, mode: EnvMode) -> Self {
        self.env_mode = mode;
        self
    }

    /// The command line for display, arguments quoted where needed.
    pub fn display(&self) -> String {
        display_argv(&self.argv)
    }
}

pub use crate::shell::{display_argv, quote_arg};

// ---------------------------------------------------------------------------
// Registry of running children

/// Something running that can be killed from a signal handler.
enum Running {
    /// A duct handle; `group` is true when the child leads its own process group.
    Duct {
        handle: Arc<duct::Handle>,
        group: bool,
        label: String,
    },
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static CHILDREN: Mutex<Option<HashMap<u64, Running>>> = Mutex::new(None);

fn registry() -> MutexGuard<'static, Option<HashMap<u64, Running>>> {
    // A poisoned registry is still usable: it only holds handles.
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes a child from the registry when dropped.
pub(crate) struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(map) = registry().as_mut() {
            map.remove(&self.0);
        }
    }
}

/// Registers a started duct handle so `kill_all_children` can reach it.
pub(crate) fn register(handle: Arc<duct::Handle>, group: bool, label: &str) -> Registration {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    registry().get_or_insert_with(HashMap::new).insert(
        id,
        Running::Duct {
            handle,
            group,
            label: label.to_string(),
        },
    );
    Registration(id)
}

/// Number of registered running children (for tests and diagnostics).
pub fn running_children() -> usize {
    registry().as_ref().map_or(0, HashMap::len)
}

fn signal_group(handle: &duct::Handle, group: bool, sig: rustix::process::Signal) {
    for pid in handle.pids() {
        let Some(pid) = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            continue;
        };
        if group {
            // The child leads its own group: this reaches make's grandchildren too.
            let _ = rustix::process::kill_process_group(pid, sig);
        } else {
            let _ = rustix::process::kill_process(pid, sig);
        }
    }
}

/// Kills every registered child (and its process group): SIGTERM first, then
/// SIGKILL to whatever is still running after a short grace period.
/// Safe to call from a signal-handling thread.
pub fn kill_all_children() {
    kill_children_where(|_| true);
}

/// Kills the registered children whose command line (as displayed) matches.
pub(crate) fn kill_children_where(pred: impl Fn(&str) -> bool) {
    let handles: Vec<(Arc<duct::Handle>, bool)> = registry()
        .as_ref()
        .map(|m| {
            m.values()
                .filter(|Running::Duct { label, .. }| pred(label))
                .map(|Running::Duct { handle, group, .. }| (Arc::clone(handle), *group))
                .collect()
        })
        .unwrap_or_default();
    for (h, group) in &handles {
        if matches!(h.try_wait(), Ok(None)) {
            signal_group(h, *group, rustix::process::Signal::TERM);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    for (h, group) in &handles {
        while matches!(h.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if matches!(h.try_wait(), Ok(None)) {
            signal_group(h, *group, rustix::process::Signal::KILL);
            let _ = h.kill();
        } else if *group {
            // The leader is gone; make sure no grandchild lingers in its group.
            signal_group(h, true, rustix::process::Signal::KILL);
        }
    }
    // A killed process is gone only once the kernel has torn it down (a sandbox's PID
    // namespace is emptied by its dying init, and a zombie waits for init to reap it):
    // wait, a few seconds at most, until no process is left in the groups, so that
    // nothing of this run still exists when stali exits.
    let deadline = Instant::now() + Duration::from_secs(5);
    for (h, group) in &handles {
        if !*group {
            continue;
        }
        for pid in h.pids() {
            let Some(pid) = i32::try_from(pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            else {
                continue;
            };
            while rustix::process::test_kill_process_group(pid).is_ok() && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// The signal that interrupted this process (0 when none).
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

/// The signal (SIGINT, SIGTERM, SIGHUP) that interrupted this process, if one did: a
/// failure seen after it is the consequence of stopping the children, not an error.
pub fn interrupted() -> Option<i32> {
    match INTERRUPTED.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// Installs a SIGINT/SIGTERM/SIGHUP handler thread that prints one line
/// (`stali: interrupted`), kills all registered children and then exits the
/// process with status 128 + the signal: 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP).
pub fn install_signal_handler() -> Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("installing SIGINT/SIGTERM/SIGHUP handler")?;
    std::thread::Builder::new()
        .name("stali-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                // First: a build thread that sees its child die checks this flag.
                INTERRUPTED.store(sig, Ordering::SeqCst);
                // stderr may be gone with the terminal (SIGHUP): ignore failures.
                let _ = writeln!(io::stderr(), "stali: interrupted");
                kill_all_children();
                std::process::exit(128 + sig);
            }
        })
        .context("spawning signal handler thread")?;
    Ok(())
}

/// The exit code after an interruption by `sig`: 128 + the signal number.
pub fn interrupted_exit_code(sig: i32) -> i32 {
    128 + sig
}

// ---------------------------------------------------------------------------
// The supervisor: children die with stali

/// The program that supervises children (this executable), once enabled.
static SUPERVISOR: OnceLock<PathBuf> = OnceLock::new();

/// The hidden first argument that makes `stali` act as a child's supervisor.
pub const SUPERVISOR_ARG: &str = "__child";

/// Starts every later command through `exe __child PID ARGV...` (see the module
/// documentation). `exe` must be a `stali` binary whose `main` calls
/// [`supervise_main`] for that argument; `/proc/self/exe` names this very program even
/// when its file has been replaced since it started.
pub fn enable_supervisor(exe: impl Into<PathBuf>) {
    let _ = SUPERVISOR.set(exe.into());
}

/// Whether commands are started through the supervisor.
pub fn supervised() -> bool {
    SUPERVISOR.get().is_some()
}

/// The argument vector that runs `argv` so that it dies with this process: `argv` itself
/// when the supervisor is not enabled.
pub fn supervised_argv(argv: &[String]) -> Vec<OsString> {
    match SUPERVISOR.get() {
        Some(exe) => {
            let mut v: Vec<OsString> = vec![
                exe.clone().into_os_string(),
                SUPERVISOR_ARG.into(),
                std::process::id().to_string().into(),
            ];
            v.extend(argv.iter().map(OsString::from));
            v
        }
        None => argv.iter().map(OsString::from).collect(),
    }
}

/// A duct expression running `argv` (through the supervisor when enabled), after
/// checking that its program can be started (so "not found" and "permission denied" are
/// reported as such and not as the supervisor's failure). `path` is the `PATH` the child
/// will search, `cwd` its working directory.
pub fn command(
    argv: &[String],
    path: Option<&OsStr>,
    cwd: Option<&Path>,
) -> io::Result<duct::Expression> {
    let prog = argv
        .first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command line"))?;
    if supervised() {
        check_startable(prog, path, cwd)?;
    }
    let full = supervised_argv(argv);
    let (first, rest) = full
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command line"))?;
    Ok(duct::cmd(first, rest))
}

/// Fails like `execvp` would for `prog`: NotFound when no file of that name is on `path`
/// (or at that path), PermissionDenied when the only ones found are not executable.
fn check_startable(prog: &str, path: Option<&OsStr>, cwd: Option<&Path>) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| -> io::Result<()> {
        let m = fs::metadata(p)?;
        if m.is_file() && m.permissions().mode() & 0o111 != 0 {
            Ok(())
        } else {
            Err(io::Error::from(io::ErrorKind::PermissionDenied))
        }
    };
    if prog.contains('/') {
        let p = Path::new(prog);
        let p = match cwd {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_path_buf(),
        };
        return executable(&p);
    }
    let search = path
        .map(OsStr::to_os_string)
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let mut denied = false;
    for dir in std::env::split_paths(&search) {
        let dir = match cwd {
            Some(c) if dir.is_relative() => c.join(dir),
            _ => dir,
        };
        match executable(&dir.join(prog)) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => denied = true,
            Err(_) => {}
        }
    }
    Err(io::Error::from(if denied {
        io::ErrorKind::PermissionDenied
    } else {
        io::ErrorKind::NotFound
    }))
}

/// Kills what this supervisor runs: its whole process group when it leads one (stali
/// starts build steps that way), else only its child.
fn kill_supervised(child: u32) {
    use rustix::process::{Pid, Signal, getpgrp, getpid, kill_process, kill_process_group};
    if getpgrp() == getpid() {
        // Kills this supervisor too: that is how its parent learns the group is gone.
        let _ = kill_process_group(getpid(), Signal::KILL);
    } else if let Some(pid) = i32::try_from(child).ok().and_then(Pid::from_raw) {
        let _ = kill_process(pid, Signal::KILL);
    }
}

/// The `stali __child PARENT_PID PROGRAM ARGS...` supervisor; returns the exit code.
///
/// Asks for SIGTERM when its parent dies, checks the parent is still `PARENT_PID` (it
/// may have died before the request), runs the program with the same standard streams,
/// environment and folder, and on SIGTERM, SIGINT or SIGHUP kills it with its whole
/// process group. It exits like the program did: with its code, or by its signal.
pub fn supervise_main(args: &[OsString]) -> i32 {
    use rustix::process::{Signal, getppid, set_parent_process_death_signal};
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let usage = || {
        eprintln!("stali: usage: stali {SUPERVISOR_ARG} PARENT_PID PROGRAM [ARGS...]");
        2
    };
    let Some(parent) = args
        .first()
        .and_then(|p| p.to_str())
        .and_then(|p| p.parse::<i32>().ok())
    else {
        return usage();
    };
    let Some((prog, rest)) = args.get(1..).and_then(<[OsString]>::split_first) else {
        return usage();
    };
    if let Err(e) = set_parent_process_death_signal(Some(Signal::TERM)) {
        eprintln!("stali: cannot ask for a parent-death signal: {e}");
        return 1;
    }
    // The parent may have died before the request: then nothing would ever signal us.
    if getppid().map(|p| p.as_raw_nonzero().get()) != Some(parent) {
        return 1;
    }
    let mut signals = match signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stali: cannot handle signals: {e}");
            return 1;
        }
    };
    let handle = signals.handle();
    let mut child = match std::process::Command::new(prog).args(rest).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "stali: could not start `{}`: {}",
                prog.to_string_lossy(),
                describe_start_error(&e)
            );
            return if e.kind() == io::ErrorKind::NotFound {
                127
            } else {
                126
            };
        }
    };
    let pid = child.id();
    let watcher = std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            kill_supervised(pid);
        }
    });
    let status = child.wait();
    handle.close();
    let _ = watcher.join();
    match status {
        Ok(st) => match (st.code(), st.signal()) {
            (Some(code), _) => code,
            (None, Some(sig)) => {
                // End the same way, so the parent reads "killed by signal N".
                let _ = signal_hook::low_level::emulate_default_handler(sig);
                128 + sig
            }
            _ => 1,
        },
        Err(e) => {
            eprintln!("stali: waiting for `{}`: {e}", prog.to_string_lossy());
            1
        }
    }
}

// ---------------------------------------------------------------------------
// Running a step

/// Describes how a process ended, as "exited with code N" or "killed by signal S".
pub fn describe_status(status: &ExitStatus) -> String {
    if let Some(code) = status.code() {
        format!("exited with code {code}")
    } else if let Some(sig) = status.signal() {
        format!("killed by signal {sig} ({})", signal_name(sig))
    } else {
        format!("ended with {status}")
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => "unknown signal",
    }
}

/// Describes an error from starting a process ("not found", "permission denied").
pub fn describe_start_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "not found".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// The last `n` lines of `path` starting at byte `from` (lossy UTF-8).
pub fn tail_lines(path: &Path, from: u64, n: usize) -> String {
    let mut buf = Vec::new();
    if let Ok(mut f) = File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        // Read at most the last 256 KiB of this run's output.
        let start = from.max(len.saturating_sub(256 * 1024));
        if f.seek(SeekFrom::Start(start)).is_ok() {
            let _ = f.read_to_end(&mut buf);
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

pub use crate::host::BWRAP;

/// Host folders and files a sandboxed step may read: programs, libraries, the compiler's
/// files and the few `/etc` entries programs need to start (Debian's `alternatives`).
const SANDBOX_READ: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/passwd",
    "/etc/group",
];

/// Whether sandboxed steps are confined (not when `STALI_NO_SANDBOX=1`).
pub fn sandbox_enabled() -> bool {
    std::env::var_os("STALI_NO_SANDBOX").is_none_or(|v| v.is_empty() || v == "0")
}

/// The `PATH` package build steps get: the builder's (else `/usr/local/bin:/usr/bin:/bin`)
/// without the entries a step cannot use: relative ones, and under the sandbox those
/// inside `$HOME`, which it hides. Part of every package's key, with
/// [`sandbox_fingerprint`]: another `PATH` may find other programs.
pub fn step_path() -> String {
    step_path_of(
        std::env::var_os("PATH"),
        std::env::var_os("HOME").map(PathBuf::from),
        sandbox_enabled(),
    )
}

fn step_path_of(path: Option<OsString>, home: Option<PathBuf>, sandboxed: bool) -> String {
    let path = path
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let home = home.filter(|h| h != Path::new("/") && sandboxed);
    let kept: Vec<String> = std::env::split_paths(&path)
        .filter(|p| p.is_absolute() && !home.as_ref().is_some_and(|h| p.starts_with(h)))
        .map(|p| p.display().to_string())
        .collect();
    kept.join(":")
}

/// What a sandboxed step sees of the machine, as text for package keys: bubblewrap's
/// options and mounts for `path` (the work folder left out), or `unconfined` under
/// `STALI_NO_SANDBOX=1`.
pub fn sandbox_fingerprint(path: &str) -> String {
    if sandbox_enabled() {
        sandbox_argv(&[], &[], Some(OsStr::new(path)), None).join("\n")
    } else {
        "unconfined".into()
    }
}

/// The bubblewrap command line that runs `argv` in `cwd` with only `writable` writable
/// (see [`Step::sandbox`]); `path` is the `PATH` the step searches, whose folders are
/// made readable too (but none inside `$HOME`).
pub fn sandbox_argv(
    argv: &[String],
    writable: &[PathBuf],
    path: Option<&OsStr>,
    cwd: Option<&Path>,
) -> Vec<String> {
    let mut a: Vec<String> = [
        BWRAP,
        "--die-with-parent",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-uts",
        "--hostname",
        "stali-build",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut read: Vec<PathBuf> = SANDBOX_READ.iter().map(PathBuf::from).collect();
    if let Some(path) = path {
        // Not those inside the builder's home (~/.cargo/bin): the home stays hidden.
        let home = std::env::var_os("HOME").map(PathBuf::from);
        read.extend(std::env::split_paths(path).filter(|p| {
            p.is_absolute()
                && !home
                    .as_ref()
                    .is_some_and(|h| h != Path::new("/") && p.starts_with(h))
        }));
    }
    let mut done: Vec<PathBuf> = Vec::new();
    for p in read {
        // Once each, and not inside a folder already there.
        if done.iter().any(|d| p.starts_with(d)) {
            continue;
        }
        done.push(p.clone());
        let shown = p.display().to_string();
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                // Merged /usr: /bin -> usr/bin stays a link inside.
                if let Ok(target) = fs::read_link(&p) {
                    a.extend(["--symlink".into(), target.display().to_string(), shown]);
                }
            }
            Ok(_) => a.extend(["--ro-bind".into(), shown.clone(), shown]),
            Err(_) => {}
        }
    }
    for w in writable {
        let shown = w.display().to_string();
        a.extend(["--bind".into(), shown.clone(), shown]);
    }
    // Everything else (bwrap's own root) read-only: a write to /etc fails, not vanishes.
    a.extend(["--remount-ro".into(), "/".into()]);
    if let Some(dir) = cwd {
        a.extend(["--chdir".into(), dir.display().to_string()]);
    }
    a.push("--".into());
    a.extend(argv.iter().cloned());
    a
}

fn build_expression(step: &Step, log: &File) -> io::Result<duct::Expression> {
    // Build the whole environment here: duct gives inner (earlier) settings
    // precedence, so mixing `full_env` with `env` calls is error-prone.
    let mut vars: Vec<(OsString, OsString)> = match &step.env_mode {
        EnvMode::Inherit => std::env::vars_os().collect(),
        EnvMode::Clear => Vec::new(),
        EnvMode::Keep(keep) => std::env::vars_os()
            .filter(|(k, _)| keep.iter().any(|n| OsStr::new(n) == k))
            .collect(),
    };
    for (k, v) in &step.env {
        vars.retain(|(name, _)| name != OsStr::new(k));
        vars.push((k.into(), v.into()));
    }
    let path = vars
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_os_str());
    let argv = match &step.sandbox {
        Some(writable) if sandbox_enabled() => {
            // The program must exist outside for it to exist inside: say so plainly.
            check_startable(
                step.argv.first().map(String::as_str).unwrap_or(""),
                path,
                step.cwd.as_deref(),
            )?;
            sandbox_argv(&step.argv, writable, path, step.cwd.as_deref())
        }
        _ => step.argv.clone(),
    };
    let mut e = command(&argv, path, step.cwd.as_deref())?
        .stdin_null()
        // duct applies outer redirections first: `stderr_to_stdout` must be
        // inside (before) `stdout_file` so that stderr follows into the log.
        .stderr_to_stdout()
        .stdout_file(log.try_clone()?)
        .unchecked()
        .before_spawn(|c| {
            // Own process group: killing the group also kills make's grandchildren.
            c.process_group(0);
            Ok(())
        });
    if let Some(dir) = &step.cwd {
        e = e.dir(dir);
    }
    e = e.full_env(vars);
    Ok(e)
}

/// Runs `step`, appending its stdout and stderr to `step.log`.
///
/// On failure the error names the command, how it ended ("exited with code
/// N", "killed by signal S", "could not start: not found"), quotes the last
/// 40 lines of its output and gives the log's path.
pub fn run_logged(step: &Step) -> Result<()> {
    let shown = step.display();
    if let Some(parent) = step.log.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .with_context(|| format!("creating log directory {}", parent.display()))?;
    }
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&step.log)
        .with_context(|| format!("opening log file {}", step.log.display()))?;
    let start_offset = log.metadata().map(|m| m.len()).unwrap_or(0);
    let mut header = format!("==> {shown}\n");
    if let Some(dir) = &step.cwd {
        let _ = writeln!(header, "    (in {})", dir.display());
    }
    log.write_all(header.as_bytes())
        .with_context(|| format!("writing log file {}", step.log.display()))?;
    let body_offset = start_offset + header.len() as u64;

    if let Some(dir) = &step.cwd
        && !dir.is_dir()
    {
        bail!(
            "could not start `{shown}`: working directory {} does not exist",
            dir.display()
        );
    }
    if step.argv.is_empty() {
        bail!("empty command line (no program given)");
    }
    let handle = match build_expression(step, &log).and_then(|e| e.start()) {
        Ok(h) => Arc::new(h),
        Err(e) => {
            let _ = writeln!(log, "could not start: {e}");
            bail!(
                "could not start `{shown}`: {} ({e})\nlog: {}",
                describe_start_error(&e),
                step.log.display()
            );
        }
    };
    let reg = register(Arc::clone(&handle), true, &shown);
    let waited = handle.wait().map(|o| o.status);
    drop(reg);
    let status = waited.with_context(|| format!("waiting for `{shown}`"))?;
    if status.success() {
        return Ok(());
    }
    if interrupted().is_some() {
        bail!("interrupted");
    }
    let how = describe_status(&status);
    let tail = tail_lines(&step.log, body_offset, TAIL_LINES);
    let _ = writeln!(log, "==> {how}");
    bail!(
        "`{shown}` {how}\n--- last {TAIL_LINES} lines of output ---\n{tail}\n--- end of output ---\nfull log: {}",
        step.log.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(
            display_argv(&["make", "-C", "/a b", "CONFIG=\"x\"", "it's", ""]),
            r#"make -C '/a b' 'CONFIG="x"' 'it'\''s' ''"#
        );
    }

    #[test]
    fn success_appends_to_log() {
        let d = tempfile::tempdir().expect("tempdir");
        let log = d.path().join("logs/sub/step.log");
        run_logged(&Step::new(["echo", "hello"], &log)).expect("echo runs");
        run_logged(&Step::new(["printenv", "FOO"], &log).env("FOO", "bar")).expect("printenv");
        // stderr lands in the log too (and so in failure tails).
        run_logged(&Step::new(["ls", "/nonexistent-stali-probe"], &log)).expect_err("ls fails");
        let text = fs::read_to_string(&log).expect("log");
        assert!(text.contains("hello\n"), "{text}");
        assert!(text.contains("bar\n"), "{text}");
        assert!(text.contains("nonexistent-stali-probe"), "{text}");
        assert!(text.contains("==> echo hello"), "{text}");
    }

    #[test]
    fn cwd_and_cleared_env() {
        let d = tempfile::tempdir().expect("tempdir");
        let log = d.path().join("step.log");
        let step = Step::new(["/usr/bin/env"], &log)
            .env_mode(EnvMode::Clear)
            .env("ONLY", "1")
            .cwd(d.path());
        run_logged(&step).expect("env runs");
        let text = fs::read_to_string(&log).expect("log");
        assert!(text.contains("ONLY=1"), "{text}");
        assert!(!text.contains("PATH="), "{text}");
        run_logged(&Step::new(["pwd"], &log).cwd(d.path())).expect("pwd");
        let text = fs::read_to_string(&log).expect("log");
        assert!(text.contains(&d.path().display().to_string()));
    }

    #[test]
    fn failure_reports_code_and_tail() {
        let d = tempfile::tempdir().expect("tempdir");
        let log = d.path().join("fail.log");
        // Produce 100 lines then fail with code 3 (awk: no shell involved).
        let step = Step::new(
            [
                "awk",
                "BEGIN { for (i = 1; i <= 100; i++) print \"line \" i; exit 3 }",
            ],
            &log,
        );
        let err = format!("{:#}", run_logged(&step).expect_err("must fail"));
        assert!(err.contains("exited with code 3"), "{err}");
        assert!(err.contains("line 100"), "{err}");
        assert!(err.contains("line 61\n"), "{err}");
        assert!(!err.contains("line 60\n"), "{err}");
        assert!(err.contains(&log.display().to_string()), "{err}");
        assert!(err.starts_with("`awk 'BEGIN"), "{err}");
    }

    #[test]
    fn failure_by_signal_and_not_found() {
        let d = tempfile::tempdir().expect("tempdir");
        let log = d.path().join("x.log");
        let err = format!(
            "{:#}",
            run_logged(&Step::new(["kill", "-KILL", "0"], &log)).expect_err("killed")
        );
        assert!(err.contains("killed by signal 9"), "{err}");
        let err = format!(
            "{:#}",
            run_logged(&Step::new(["no-such-program-xyz"], &log)).expect_err("missing")
        );
        assert!(err.contains("could not start"), "{err}");
        assert!(err.contains("not found"), "{err}");
        let script = d.path().join("noexec");
        fs::write(&script, "#!/bin/true\n").expect("write");
        let err = format!(
            "{:#}",
            run_logged(&Step::new([script.display().to_string()], &log)).expect_err("noexec")
        );
        assert!(err.contains("permission denied"), "{err}");
    }

    /// Runs `argv` sandboxed with `writable` writable; returns the error text, if any.
    fn sandboxed(argv: &[&str], writable: &Path, log: &Path) -> Option<String> {
        let step = Step::new(argv.iter().copied(), log)
            .cwd(writable)
            .env_mode(EnvMode::Clear)
            .env("PATH", "/usr/bin:/bin")
            .sandbox([writable.to_path_buf()]);
        run_logged(&step).err().map(|e| format!("{e:#}"))
    }

    #[test]
    fn a_sandboxed_step_writes_only_its_folder_and_has_no_home_nor_network() {
        if !sandbox_enabled() {
            return;
        }
        let d = tempfile::tempdir().expect("tempdir");
        let w = d.path().join("work");
        fs::create_dir_all(&w).expect("mkdir");
        let log = d.path().join("s.log");
        // Its folder: writable, and the toolchain works there.
        fs::write(w.join("hi.c"), "int main(void) { return 0; }\n").expect("write");
        let ok = sandboxed(&["musl-gcc", "-static", "-o", "hi", "hi.c"], &w, &log);
        assert!(ok.is_none(), "{ok:?}");
        assert!(w.join("hi").is_file());
        // The host: read-only, and the rest is not there at all.
        let marker = "/etc/stali-sandbox-escape";
        assert!(sandboxed(&["touch", marker], &w, &log).is_some());
        assert!(!Path::new(marker).exists());
        let outside = d.path().join("outside");
        // (Beside the work folder is the sandbox's private /tmp here: contained.)
        let _ = sandboxed(&["touch", &outside.display().to_string()], &w, &log);
        assert!(!outside.exists());
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        if Path::new(&home).is_dir() && !w.starts_with(&home) {
            let err = sandboxed(&["ls", &home], &w, &log).expect("no home");
            assert!(err.contains("exited with code"), "{err}");
        }
        assert!(sandboxed(&["cat", "/etc/shadow"], &w, &log).is_some());
        // No network: a listener on the host's loopback gets no connection.
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        l.set_nonblocking(true).expect("nonblocking");
        let port = l.local_addr().expect("addr").port();
        let connect = format!("echo hi > /dev/tcp/127.0.0.1/{port}");
        assert!(sandboxed(&["bash", "-c", &connect], &w, &log).is_some());
        assert!(
            l.accept().is_err(),
            "the sandbox reached the host's network"
        );
        // Not found is said as such, not as bwrap's failure.
        let err = sandboxed(&["no-such-program-xyz"], &w, &log).expect("missing");
        assert!(
            err.contains("could not start") && err.contains("not found"),
            "{err}"
        );
    }

    #[test]
    fn the_steps_path_keeps_what_a_sandboxed_step_can_use() {
        let path = Some(OsString::from(
            "/usr/bin:bin:/home/u/.cargo/bin::/opt/x/bin",
        ));
        let home = Some(PathBuf::from("/home/u"));
        assert_eq!(
            step_path_of(path.clone(), home.clone(), true),
            "/usr/bin:/opt/x/bin"
        );
        assert_eq!(
            step_path_of(path, home, false),
            "/usr/bin:/home/u/.cargo/bin:/opt/x/bin"
        );
        assert_eq!(
            step_path_of(None, None, true),
            "/usr/local/bin:/usr/bin:/bin"
        );
        // What the sandbox shows is in the text packages are keyed by.
        if sandbox_enabled() {
            let a = sandbox_fingerprint("/usr/bin");
            assert!(
                a.contains("--unshare-net") && a.contains("/etc/passwd"),
                "{a}"
            );
            let other = tempfile::tempdir().expect("tempdir");
            let b = sandbox_fingerprint(&format!("/usr/bin:{}", other.path().display()));
            assert_ne!(a, b, "another PATH folder is another sandbox");
        }
    }

    #[test]
    fn kill_all_children_kills_group() {
        let d = tempfile::tempdir().expect("tempdir");
        let log = d.path().join("sleep.log");
        let marker = d.path().join("grandchild-alive");
        // A child (make) whose grandchild (sleep) would outlive a plain kill.
        fs::write(
            d.path().join("Makefile"),
            format!("all:\n\tsleep 30; touch {}\n", marker.display()),
        )
        .expect("makefile");
        let step = Step::new(["make", "-C", &d.path().display().to_string()], &log);
        let t = std::thread::spawn(move || run_logged(&step));
        let start = Instant::now();
        let dir = d.path().display().to_string();
        std::thread::sleep(Duration::from_millis(500));
        kill_children_where(|label| label.contains(&dir));
        let res = t.join().expect("join");
        let err = format!("{:#}", res.expect_err("killed"));
        assert!(
            err.contains("signal") || err.contains("exited with code"),
            "{err}"
        );
        assert!(start.elapsed() < Duration::from_secs(10));
        assert!(!marker.exists());
    }
}
