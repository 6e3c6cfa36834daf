//! The root filesystem: the skeleton stali generates (folders, /etc files, rc scripts) and
//! the packages' staging trees merged over it, a file claimed twice being an error.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::exec::quote_arg;
use crate::model::Plan;
use crate::model::service::{LINK, Service, start_order};

/// Folders every image has.
pub const SKELETON_DIRS: &[&str] = &[
    "bin", "dev", "etc", "proc", "root", "run", "sbin", "sys", "tmp", "usr", "usr/bin", "usr/sbin",
    "var", "var/log",
];

/// The pseudo file systems rc.init mounts, as `/etc/fstab` lists them:
/// (device, folder, type, options).
pub const PSEUDO_MOUNTS: &[(&str, &str, &str, &str)] = &[
    ("proc", "/proc", "proc", "nosuid,nodev,noexec"),
    ("sysfs", "/sys", "sysfs", "nosuid,nodev,noexec"),
    ("dev", "/dev", "devtmpfs", "nosuid,mode=755"),
    ("devpts", "/dev/pts", "devpts", "mode=620,ptmxmode=666"),
    ("tmp", "/tmp", "tmpfs", "nosuid,nodev,mode=1777"),
    ("run", "/run", "tmpfs", "nosuid,nodev,mode=755"),
];

/// `/etc/group`: the usual groups with Debian's numbers, among them every group smdev's
/// device rules name (tty, disk, cdrom, audio, video), so that `smdev -s` finds them.
pub const GROUPS: &[(&str, u32)] = &[
    ("root", 0),
    ("tty", 5),
    ("disk", 6),
    ("kmem", 15),
    ("dialout", 20),
    ("cdrom", 24),
    ("audio", 29),
    ("video", 44),
];

/// One package's staging tree to merge into the image, with the modes its recipe
/// declares (`modes = { "/bin/su" = "4755" }`, paths relative to the image root).
#[derive(Debug, Clone)]
pub struct Staging {
    /// The package's name.
    pub package: String,
    /// Its staging folder.
    pub dir: PathBuf,
    /// Declared modes, by path inside the image without the leading `/`.
    pub modes: BTreeMap<String, u32>,
}

/// What a merge did.
#[derive(Debug, Default)]
pub struct Merged {
    /// The package that installs each file (not folder), by path inside the image.
    pub owner: BTreeMap<PathBuf, String>,
    /// One line per mode that was lowered (setuid, setgid, world-writable).
    pub dropped: Vec<String>,
}

/// The mode a package's file or folder gets in the image unless its recipe declares
/// one: no setuid or setgid bit, and nothing world-writable (a folder may be when it is
/// sticky, like `/tmp`).
pub fn allowed_mode(is_dir: bool, mode: u32) -> u32 {
    let mut m = mode & 0o7777 & !0o6000;
    if !(is_dir && m & 0o1000 != 0) {
        m &= !0o002;
    }
    m
}

/// What a staging entry is, as its folder lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Dir,
    File,
    Link(PathBuf),
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Kind::Dir => "a folder".into(),
            Kind::File => "a file".into(),
            Kind::Link(t) => format!("a link to {}", t.display()),
        }
    }
}

/// Every entry below a staging tree, folders included, links never followed.
fn entries(dir: &Path) -> Result<Vec<(PathBuf, Kind)>> {
    let d = super::cache::open_beneath(dir)?;
    let mut out = Vec::new();
    for rel in super::cache::files_below(dir)? {
        let kind = match d.read_link_contents(&rel) {
            Ok(t) => Kind::Link(t),
            Err(_) => Kind::File,
        };
        let mut a = rel.parent();
        while let Some(p) = a.filter(|p| !p.as_os_str().is_empty()) {
            out.push((p.to_path_buf(), Kind::Dir));
            a = p.parent();
        }
        out.push((rel, kind));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Merges the packages' staging trees into `root`, refusing a path two packages both
/// install (a folder shared by both is fine) and files below another package's link or
/// file (each folder of a tree is listed, so this is the same check): nothing is ever written through a link (the root is opened as a capability, so
/// not even a link made between the check and the write leads out of it). Modes are
/// lowered by [`allowed_mode`] unless declared; a declared path the package does not
/// install is an error.
pub fn merge(root: &Path, stagings: &[Staging]) -> Result<Merged> {
    let mut merged = Merged::default();
    let mut kinds: BTreeMap<PathBuf, (Kind, &str)> = BTreeMap::new();
    for st in stagings {
        let list = entries(&st.dir)?;
        for (rel, kind) in &list {
            let pkg = st.package.as_str();
            match kinds.get(rel) {
                Some((Kind::Dir, _)) if *kind == Kind::Dir => {}
                Some((other_kind, other)) => {
                    let ((dir_pkg, _), (pkg_of, k)) = match (other_kind, kind) {
                        (Kind::Dir, k) => ((*other, other_kind), (pkg, k)),
                        (k, Kind::Dir) => ((pkg, kind), (*other, k)),
                        _ => bail!(
                            "/{} is installed by both {other} and {pkg}: drop one of them, or change one recipe",
                            rel.display()
                        ),
                    };
                    // Writing the folder's files would go through the link (or fail on
                    // the file): refused, whichever package comes first.
                    bail!(
                        "{dir_pkg} installs files below /{r}, which {pkg_of} installs as {}: stali never merges through a link; make /{r} a folder in {pkg_of}, or install the files where the link points",
                        k.describe(),
                        r = rel.display(),
                    );
                }
                None => {
                    kinds.insert(rel.clone(), (kind.clone(), pkg));
                }
            }
        }
        for path in st.modes.keys() {
            if !list.iter().any(|(r, _)| r == Path::new(path)) {
                bail!(
                    "{}'s recipe declares a mode for /{path}, which it does not install",
                    st.package
                );
            }
        }
    }
    fs::create_dir_all(root).with_context(|| format!("cannot create {}", root.display()))?;
    for st in stagings {
        let mut adjust = |rel: &Path, is_dir: bool, mode: u32| -> u32 {
            if let Some(m) = rel.to_str().and_then(|r| st.modes.get(r)) {
                return *m;
            }
            let m = allowed_mode(is_dir, mode);
            if m != mode & 0o7777 {
                merged.dropped.push(format!(
                    "{}: /{} installed with mode {:04o} instead of {:04o} (setuid, setgid and world-writable bits need `modes = {{ \"/{}\" = \"{:04o}\" }}` in the recipe)",
                    st.package,
                    rel.display(),
                    m,
                    mode & 0o7777,
                    rel.display(),
                    mode & 0o7777
                ));
            }
            m
        };
        super::cache::copy_tree_with(&st.dir, root, &mut adjust)
            .with_context(|| format!("merging {} into the image", st.package))?;
    }
    merged.owner = kinds
        .into_iter()
        .filter(|(_, (k, _))| *k != Kind::Dir)
        .map(|(p, (_, pkg))| (p, pkg.to_string()))
        .collect();
    Ok(merged)
}

/// What the image holds: which programs exist decides what the boot scripts may call.
/// Looked up beneath the root, so a link out of the image is never followed.
struct Has(Option<cap_std::fs::Dir>);

impl Has {
    fn new(root: &Path) -> Self {
        Has(super::cache::open_beneath(root).ok())
    }

    /// Whether `/PATH` exists in the image (a link counts).
    fn path(&self, p: &str) -> bool {
        self.0
            .as_ref()
            .is_some_and(|d| d.symlink_metadata(p.trim_start_matches('/')).is_ok())
    }

    /// Whether a program called `name` is in one of the PATH folders.
    fn program(&self, name: &str) -> bool {
        ["bin", "sbin", "usr/bin", "usr/sbin"]
            .iter()
            .any(|d| self.path(&format!("{d}/{name}")))
    }
}

/// The console devices a login shell is started on, from the command line's `console=`
/// entries (`tty0`, "the current virtual terminal", becomes `tty1`); each is a plain
/// device name.
pub fn console_devices(cmdline: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for arg in cmdline.split_whitespace() {
        let Some(dev) = arg.strip_prefix("console=") else {
            continue;
        };
        let dev = dev.split(',').next().unwrap_or("");
        let dev = if dev == "tty0" { "tty1" } else { dev };
        let plain = !dev.is_empty() && dev.bytes().all(|b| b.is_ascii_alphanumeric());
        if plain && !out.iter().any(|d| d == dev) {
            out.push(dev.to_string());
        }
    }
    out
}

/// The services of the planned tools, in start order.
pub fn planned_services(plan: &Plan) -> Vec<&Service> {
    let all: Vec<&Service> = plan.tools.iter().flat_map(|t| &t.def.services).collect();
    let owned: Vec<Service> = all.iter().map(|s| (*s).clone()).collect();
    start_order(&owned)
        .into_iter()
        .filter_map(|o| all.iter().copied().find(|s| s.name == o.name))
        .collect()
}

/// A service's arguments as shell words, `${LINK}` becoming `"$l"`.
fn service_words(svc: &Service) -> String {
    svc.run
        .iter()
        .map(|a| {
            a.split(LINK)
                .map(|piece| {
                    if piece.is_empty() {
                        String::new()
                    } else {
                        quote_arg(piece)
                    }
                })
                .collect::<Vec<_>>()
                .join("\"$l\"")
        })
        .map(|w| if w.is_empty() { "''".to_string() } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `/etc/rc.init` script for this plan, using only what the image contains.
pub fn rc_init(plan: &Plan, root: &Path) -> String {
    let has = Has::new(root);
    let mut s = String::new();
    s.push_str("#!/bin/sh\n");
    s.push_str(&format!(
        "# Generated by stali for the profile \"{}\". sinit runs it once at boot.\n",
        plan.name
    ));
    s.push_str("PATH=/bin:/sbin:/usr/bin:/usr/sbin\nexport PATH\numask 022\n");
    if has.program("mount") {
        s.push_str("\n# The pseudo file systems (as /etc/fstab lists them).\n");
        for (dev, dir, fstype, opts) in PSEUDO_MOUNTS {
            if *dir == "/dev/pts" {
                if !has.program("mkdir") {
                    s.push_str("# no mkdir in the image: /dev/pts is not mounted\n");
                    continue;
                }
                s.push_str("mkdir -p /dev/pts\n");
            }
            s.push_str(&format!("mount -t {fstype} -o {opts} {dev} {dir}\n"));
        }
    } else {
        s.push_str("# no mount in the image: nothing is mounted\n");
    }
    s.push_str("read -r h </etc/hostname && echo \"$h\" >/proc/sys/kernel/hostname 2>/dev/null\n");
    if has.program("smdev") {
        s.push_str("smdev -s\n");
    }

    s.push_str("\n# Network links: lo and every interface up");
    if has.program("ip") {
        s.push_str(" (iproute2).\n");
        s.push_str("for l in /sys/class/net/*; do\n\t[ -e \"$l\" ] && ip link set dev \"${l##*/}\" up\ndone\n");
    } else {
        s.push_str(" (no `ip` in the image: IFF_UP set through sysfs).\n");
        s.push_str("for l in /sys/class/net/*; do\n\tread -r f <\"$l/flags\" && echo $((f | 1)) >\"$l/flags\"\ndone\n");
    }

    let services = planned_services(plan);
    if !services.is_empty() {
        let sleep = has.program("sleep");
        s.push_str("\n# Services declared by the tools (`stali list tools`). Each runs in the background\n# with its output in /var/log/NAME.log; RESPAWN=1 starts it again a second after it exits.\n");
        let body = if sleep {
            "n=$1 r=$2\nshift 2\nexec </dev/null >>\"/var/log/$n.log\" 2>&1\nif [ \"$r\" = 1 ]; then\n\twhile :; do \"$@\"; sleep 1; done\nelse\n\texec \"$@\"\nfi"
        } else {
            "n=$1\nshift 2\n# no sleep in the image: services are started once, never respawned\nexec \"$@\" </dev/null >>\"/var/log/$n.log\" 2>&1"
        };
        s.push_str("service() {\n\t");
        s.push_str(&background(&has, body, "service \"$@\"").replace('\n', "\n\t"));
        s.push('\n');
        s.push_str("}\n");
        for svc in services {
            let program = &svc.run[0];
            if !has.path(program) {
                s.push_str(&format!(
                    "# {}: {program} is not in the image, not started\n",
                    svc.name
                ));
                continue;
            }
            let respawn = if svc.respawn { "1" } else { "0" };
            let words = service_words(svc);
            s.push_str(&format!("# {}\n", svc.summary()));
            if svc.per_link {
                s.push_str(&format!(
                    "for l in /sys/class/net/*; do\n\tl=${{l##*/}}\n\t[ \"$l\" = lo ] || [ \"$l\" = '*' ] || service \"{}-$l\" {respawn} {words}\ndone\n",
                    svc.name
                ));
            } else {
                s.push_str(&format!("service {} {respawn} {words}\n", svc.name));
            }
        }
    }

    s.push_str(&format!(
        "\necho \"{}\" > /dev/console\n",
        plan.ready_banner()
    ));
    if has.path("bin/sh") {
        s.push_str(&console_shells(plan, &has));
    }
    s
}

/// The part of rc.init that keeps a shell on each console, with the console as its
/// controlling terminal (so Ctrl-C and job control work): ubase's `getty`, else sbase's
/// `setsid`; a login prompt when root has a password and `login` exists, else a root shell.
fn console_shells(plan: &Plan, has: &Has) -> String {
    let mut s = String::new();
    let devices = console_devices(&plan.image.cmdline);
    let pause = if has.program("sleep") {
        "; sleep 1"
    } else {
        ""
    };
    let prompt = plan.access.password_hash.is_some() && has.program("login");
    // The console devices exist only in a mounted devtmpfs.
    if devices.is_empty()
        || !(has.program("getty") || has.program("setsid"))
        || !has.program("mount")
    {
        s.push_str("\n# A shell on the console, started again whenever it exits (no getty or setsid, or no\n# mount for devtmpfs, in the image: /dev/console cannot be a controlling terminal, so\n# Ctrl-C does not reach it).\n");
        s.push_str(&format!(
            "{}\n",
            background(
                has,
                &format!("while :; do\n\t/bin/sh -l </dev/console >/dev/console 2>&1{pause}\ndone"),
                ""
            )
        ));
        return s;
    }
    s.push_str(&format!(
        "\n# {} on each console, which is its controlling terminal,\n# started again when it exits.\n",
        if prompt {
            "A login prompt"
        } else {
            "A root shell (root has no password: a login prompt would lock everyone out)"
        }
    ));
    for dev in devices {
        let term = if dev.starts_with("ttyS") || dev.starts_with("hvc") {
            "vt100"
        } else {
            "linux"
        };
        let run = if has.program("getty") {
            if prompt {
                format!("getty /dev/{dev} {term}")
            } else {
                format!("getty /dev/{dev} {term} /bin/sh -l")
            }
        } else {
            format!("TERM={term} setsid /bin/sh -c 'exec /bin/sh -l <>/dev/{dev} >&0 2>&1'")
        };
        s.push_str(&format!(
            "{}\n",
            background(
                has,
                &format!("while [ -c /dev/{dev} ]; do\n\t{run}{pause}\ndone"),
                ""
            )
        ));
    }
    s
}

/// Shell text that runs `script` in the background, `args` (`$0` first) being its
/// positional parameters when it runs in a new shell.
/// With sbase's `setsid -f` it is a new session whose signals are the defaults; a plain
/// `&` would make it ignore SIGINT and SIGQUIT (a shell without job control does that to
/// background jobs), and every program it starts, the console shell's `sleep` included,
/// would inherit that, so Ctrl-C would reach nothing.
fn background(has: &Has, script: &str, args: &str) -> String {
    if has.program("setsid") {
        let args = if args.is_empty() {
            String::new()
        } else {
            format!(" {args}")
        };
        format!("setsid -f /bin/sh -c {}{args}", quote_arg(script))
    } else {
        // A subshell sees the positional parameters it was started with.
        format!("(\n{script}\n) &")
    }
}

/// The `/etc/rc.shutdown` script: stop every process (services first among them), sync,
/// then power off or reboot with what the image has.
pub fn rc_shutdown(root: &Path) -> String {
    let has = Has::new(root);
    let mut s = String::from(
        "#!/bin/sh\n# Generated by stali. sinit runs it with `reboot` or `poweroff`.\nPATH=/bin:/sbin:/usr/bin:/usr/sbin\nexport PATH\n",
    );
    s.push_str("# Stop the services (their respawn loops too) and every other process but init.\n");
    s.push_str("echo \"stali: stopping services\" >/dev/console\n");
    s.push_str("kill -TERM -1 2>/dev/null\n");
    if has.program("sleep") {
        s.push_str("sleep 1\n");
    }
    s.push_str("kill -KILL -1 2>/dev/null\nsync\necho \"stali: synced\" >/dev/console\n");
    if has.program("halt") {
        s.push_str("if [ \"$1\" = reboot ]; then\n\thalt -r\nelse\n\thalt -p\nfi\n");
    }
    s
}

/// `/etc/fstab`: the pseudo file systems rc.init mounts.
pub fn fstab() -> String {
    let mut s = String::from("# <device> <folder> <type> <options> <dump> <pass>\n");
    for (dev, dir, fstype, opts) in PSEUDO_MOUNTS {
        s.push_str(&format!("{dev:<8} {dir:<9} {fstype:<9} {opts} 0 0\n"));
    }
    s
}

/// Writes the skeleton into `root` (after the packages are merged, so the scripts can see
/// which tools exist). `/init` points at `/sbin/init`.
pub fn skeleton(plan: &Plan, root: &Path) -> Result<()> {
    use cap_std::fs::{Permissions, PermissionsExt as _};
    let dir = super::cache::open_beneath(root)?;
    let fail = |rel: &str, e: std::io::Error| {
        super::cache::beneath_error(&dir, Path::new("/"), Path::new(rel), e)
    };
    let mkdir = |rel: &str, mode: Option<u32>| -> Result<()> {
        dir.create_dir_all(rel).map_err(|e| fail(rel, e))?;
        if let Some(m) = mode {
            dir.set_permissions(rel, Permissions::from_mode(m))
                .map_err(|e| fail(rel, e))?;
        }
        Ok(())
    };
    let link = |target: &str, rel: &str| -> Result<()> {
        if dir.symlink_metadata(rel).is_err() {
            dir.symlink_contents(target, rel)
                .map_err(|e| fail(rel, e))?;
        }
        Ok(())
    };
    for d in SKELETON_DIRS {
        mkdir(d, None)?;
    }
    mkdir("tmp", Some(0o1777))?;
    mkdir("root", Some(0o700))?;
    let write = |rel: &str, text: &str, mode: u32| -> Result<()> {
        if dir.symlink_metadata(rel).is_ok() {
            dir.remove_file(rel).map_err(|e| fail(rel, e))?;
        }
        dir.write(rel, text).map_err(|e| fail(rel, e))?;
        dir.set_permissions(rel, Permissions::from_mode(mode))
            .map_err(|e| fail(rel, e))?;
        Ok(())
    };
    write("etc/hostname", &format!("{}\n", plan.image.hostname), 0o644)?;
    write("etc/rc.init", &rc_init(plan, root), 0o755)?;
    write("etc/rc.shutdown", &rc_shutdown(root), 0o755)?;
    write("etc/fstab", &fstab(), 0o644)?;
    write("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0o644)?;
    write("etc/shadow", &plan.access.shadow(), 0o600)?;
    let group: String = GROUPS
        .iter()
        .map(|(name, gid)| format!("{name}:x:{gid}:\n"))
        .collect();
    write("etc/group", &group, 0o644)?;
    write("etc/shells", "/bin/sh\n", 0o644)?;
    write(
        "etc/profile",
        "PATH=/bin:/sbin:/usr/bin:/usr/sbin\nexport PATH\nPS1='# '\n",
        0o644,
    )?;
    write(
        "etc/os-release",
        &format!(
            "NAME=Stali\nID=stali\nPRETTY_NAME=\"Stali ({})\"\n",
            plan.name
        ),
        0o644,
    )?;
    if !plan.access.ssh_keys.is_empty() {
        mkdir("root/.ssh", Some(0o700))?;
        write(
            "root/.ssh/authorized_keys",
            &plan.access.authorized_keys(),
            0o600,
        )?;
    }
    for svc in planned_services(plan) {
        for d in &svc.dirs {
            mkdir(d.trim_start_matches('/'), Some(0o700))?;
        }
    }
    // Programs write pid files to /var/run; it is the tmpfs on /run.
    link("../run", "var/run")?;
    // sinit's way to stop the machine: SIGUSR1 to init powers off, SIGINT reboots, both
    // through /etc/rc.shutdown (which stops the services and syncs).
    let has = Has::new(root);
    if plan.provider("init").is_some_and(|t| t.def.name == "sinit") && has.path("bin/sh") {
        for (name, signal) in [("poweroff", "USR1"), ("reboot", "INT")] {
            if !has.program(name) {
                write(
                    &format!("sbin/{name}"),
                    &format!(
                        "#!/bin/sh\n# Generated by stali: sinit runs /etc/rc.shutdown {name}.\nkill -{signal} 1\n"
                    ),
                    0o755,
                )?;
            }
        }
    }
    link("/sbin/init", "init")
}

/// Removes what an image never needs from a program's staging tree: headers, static
/// libraries, manuals, pkg-config files, libtool archives.
pub fn prune(staging: &Path) -> Result<()> {
    for rel in [
        "usr/include",
        "usr/share/man",
        "usr/share/doc",
        "usr/share/info",
        "usr/lib/pkgconfig",
        "usr/share/pkgconfig",
        "usr/man",
        "usr/local/man",
        "usr/local/share/man",
    ] {
        super::cache::remove_dir(&staging.join(rel))?;
    }
    for rel in super::cache::files_below(staging)? {
        let name = rel.to_string_lossy();
        if name.ends_with(".a") || name.ends_with(".la") || name.ends_with(".o") {
            fs::remove_file(staging.join(&rel)).with_context(|| format!("cannot remove {name}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Catalog, Profile, resolve};
    use std::os::unix::fs::PermissionsExt;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPaORoyBEBR//9VSAPsSslOymeAnTnGMoMKPUygU/wg/ me@host";

    fn plan(extra: &str) -> Plan {
        let text = format!(
            "format = 1\nname = \"sys\"\n[tools]\nselect = [\"sinit\", \"mksh\", \"sbase\", \"ubase\", \"sdhcp\", \"dropbear\"]\n[image]\ncmdline = \"console=tty0 console=ttyS0,115200 panic=-1\"\n{extra}"
        );
        let p = Profile::parse(&text, None, &Catalog::embedded()).expect("profile");
        resolve(&p, &Catalog::embedded()).expect("plan")
    }

    /// An image root holding empty files at the given paths.
    fn root_with(files: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().expect("tempdir");
        for f in files {
            let p = d.path().join(f);
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs::write(&p, "").expect("write");
        }
        d
    }

    const FULL: &[&str] = &[
        "bin/sh",
        "bin/mkdir",
        "bin/sleep",
        "bin/setsid",
        "bin/mount",
        "bin/getty",
        "bin/login",
        "bin/halt",
        "sbin/init",
        "usr/sbin/sdhcp",
        "usr/sbin/dropbear",
    ];

    #[test]
    fn rc_init_mounts_links_services_and_consoles() {
        let p = plan(&format!("[access]\nssh_keys = [\"{KEY}\"]\n"));
        let root = root_with(FULL);
        let s = rc_init(&p, root.path());
        for want in [
            "mount -t devpts -o mode=620,ptmxmode=666 devpts /dev/pts\n",
            "mount -t tmpfs -o nosuid,nodev,mode=755 run /run\n",
            "echo $((f | 1)) >\"$l/flags\"",
            "service \"sdhcp-$l\" 1 /usr/sbin/sdhcp -f \"$l\"\n",
            "service dropbear 1 /usr/sbin/dropbear -F -E -R -p 22\n",
            "getty /dev/tty1 linux /bin/sh -l; sleep 1",
            "getty /dev/ttyS0 vt100 /bin/sh -l; sleep 1",
            "echo \"stali: sys ready\" > /dev/console",
        ] {
            assert!(s.contains(want), "{want:?} missing from:\n{s}");
        }
        // sdhcp starts before dropbear (dropbear says `after = [\"sdhcp\"]`).
        assert!(s.find("sdhcp-$l").expect("sdhcp") < s.find("service dropbear").expect("dropbear"));
        // The host's POSIX shell reads it without a syntax error.
        let f = root.path().join("rc.init");
        fs::write(&f, &s).expect("write");
        let o = std::process::Command::new("sh")
            .arg("-n")
            .arg(&f)
            .output()
            .expect("sh -n");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    #[test]
    fn rc_init_uses_what_the_image_has() {
        let p = plan("");
        // Without mount there is no devtmpfs, so no /dev/ttyS0: the shell is on /dev/console.
        let root = root_with(&["bin/sh", "bin/setsid", "bin/getty"]);
        let s = rc_init(&p, root.path());
        assert!(s.contains("no mount in the image"), "{s}");
        assert!(s.contains("/bin/sh -l </dev/console"), "{s}");
        // Only a shell, mount and iproute2: no getty, setsid, mkdir or sleep.
        let root = root_with(&["bin/sh", "bin/mount", "sbin/ip"]);
        let s = rc_init(&p, root.path());
        assert!(s.contains("ip link set dev \"${l##*/}\" up"), "{s}");
        assert!(
            s.contains("no mkdir in the image: /dev/pts is not mounted"),
            "{s}"
        );
        assert!(
            s.contains("# sdhcp: /usr/sbin/sdhcp is not in the image, not started"),
            "{s}"
        );
        assert!(
            s.contains("/bin/sh -l </dev/console >/dev/console 2>&1\n"),
            "{s}"
        );
        assert!(!s.contains("sleep 1"), "{s}");
        // A root password and login: a login prompt instead of a root shell.
        let hash = format!("$6$salt${}", "a".repeat(86));
        let p = plan(&format!("[access]\npassword_hash = \"{hash}\"\n"));
        let root = root_with(FULL);
        let s = rc_init(&p, root.path());
        assert!(s.contains("getty /dev/ttyS0 vt100; sleep 1"), "{s}");
    }

    #[test]
    fn service_arguments_are_quoted_for_the_shell() {
        let svc = Service {
            name: "x".into(),
            description: String::new(),
            run: vec![
                "/usr/bin/x".into(),
                "it's; reboot".into(),
                "--if=${LINK}.conf".into(),
                String::new(),
            ],
            respawn: false,
            per_link: true,
            dirs: Vec::new(),
            after: Vec::new(),
        };
        assert_eq!(
            service_words(&svc),
            "/usr/bin/x 'it'\\''s; reboot' --if=\"$l\".conf ''"
        );
    }

    #[test]
    fn skeleton_writes_access_fstab_and_service_folders() {
        let p = plan(&format!("[access]\nssh_keys = [\"{KEY}\"]\n"));
        let root = root_with(FULL);
        skeleton(&p, root.path()).expect("skeleton");
        let r = root.path();
        let mode = |rel: &str| {
            fs::symlink_metadata(r.join(rel))
                .expect(rel)
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(
            fs::read_to_string(r.join("root/.ssh/authorized_keys")).expect("keys"),
            format!("{KEY}\n")
        );
        assert_eq!(mode("root/.ssh/authorized_keys"), 0o600);
        assert_eq!(mode("root/.ssh"), 0o700);
        assert_eq!(mode("etc/dropbear"), 0o700);
        assert_eq!(mode("etc/shadow"), 0o600);
        assert!(
            fs::read_to_string(r.join("etc/shadow"))
                .expect("shadow")
                .starts_with("root:!:")
        );
        // Every group smdev's rules (config.h at its pin) give devices to exists.
        let group = fs::read_to_string(r.join("etc/group")).expect("group");
        for g in ["root", "tty", "disk", "cdrom", "audio", "video"] {
            assert!(
                group.lines().any(|l| l.starts_with(&format!("{g}:x:"))),
                "{g}: {group}"
            );
        }
        let fstab = fs::read_to_string(r.join("etc/fstab")).expect("fstab");
        assert!(fstab.contains("devpts   /dev/pts  devpts"), "{fstab}");
        assert_eq!(
            fs::read_link(r.join("var/run")).expect("link"),
            PathBuf::from("../run")
        );
        let off = fs::read_to_string(r.join("sbin/poweroff")).expect("poweroff");
        assert!(off.ends_with("kill -USR1 1\n"), "{off}");
        let down = fs::read_to_string(r.join("etc/rc.shutdown")).expect("rc.shutdown");
        assert!(
            down.contains("kill -TERM -1") && down.contains("sync\n"),
            "{down}"
        );
    }

    #[test]
    fn consoles_come_from_the_command_line() {
        assert_eq!(
            console_devices("console=tty0 console=ttyS0,115200n8 quiet console=ttyS0"),
            ["tty1", "ttyS0"]
        );
        assert!(console_devices("console=../x quiet").is_empty());
    }

    fn staging(package: &str, dir: PathBuf) -> Staging {
        Staging {
            package: package.into(),
            dir,
            modes: BTreeMap::new(),
        }
    }

    #[test]
    fn a_file_installed_twice_names_both_packages() {
        let d = tempfile::tempdir().expect("tempdir");
        for p in ["a", "b"] {
            fs::create_dir_all(d.path().join(p).join("bin")).expect("mkdir");
            fs::write(d.path().join(p).join("bin/ls"), p).expect("write");
        }
        let err = merge(
            &d.path().join("root"),
            &[
                staging("sbase", d.path().join("a")),
                staging("coreutils", d.path().join("b")),
            ],
        )
        .expect_err("conflict");
        assert_eq!(
            err.to_string(),
            "/bin/ls is installed by both sbase and coreutils: drop one of them, or change one recipe"
        );
    }

    /// A folder outside every tree, with one file, that no merge may touch.
    fn host_folder(d: &Path) -> PathBuf {
        let host = d.join("host-etc");
        fs::create_dir_all(&host).expect("mkdir");
        fs::write(host.join("passwd"), "host\n").expect("write");
        fs::set_permissions(&host, fs::Permissions::from_mode(0o755)).expect("chmod");
        host
    }

    fn assert_untouched(host: &Path) {
        let names: Vec<_> = fs::read_dir(host)
            .expect("read")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["passwd"], "the host folder gained files");
        assert_eq!(fs::read(host.join("passwd")).expect("read"), b"host\n");
        let mode = fs::metadata(host).expect("meta").permissions().mode() & 0o7777;
        assert_eq!(mode, 0o755, "the host folder was chmodded");
    }

    #[test]
    fn nothing_is_merged_through_another_packages_link() {
        let d = tempfile::tempdir().expect("tempdir");
        let host = host_folder(d.path());
        let a = d.path().join("a");
        fs::create_dir_all(a.join("usr")).expect("mkdir");
        std::os::unix::fs::symlink(&host, a.join("usr/share")).expect("link");
        let b = d.path().join("b");
        fs::create_dir_all(b.join("usr/share/x")).expect("mkdir");
        fs::write(b.join("usr/share/x/passwd"), "evil\n").expect("write");
        fs::set_permissions(b.join("usr/share/x"), fs::Permissions::from_mode(0o1777))
            .expect("chmod");
        for order in [["linker", "writer"], ["writer", "linker"]] {
            let st: Vec<Staging> = order
                .iter()
                .map(|p| staging(p, if *p == "linker" { a.clone() } else { b.clone() }))
                .collect();
            let root = d.path().join(format!("root-{}", order[0]));
            let err = merge(&root, &st).expect_err("merged through a link");
            assert_eq!(
                err.to_string(),
                format!(
                    "writer installs files below /usr/share, which linker installs as a link to {}: stali never merges through a link; make /usr/share a folder in linker, or install the files where the link points",
                    host.display()
                )
            );
            assert_untouched(&host);
        }
        // Alone, the link is merged as a link: it points into the image once it boots.
        let root = d.path().join("root-alone");
        merge(&root, &[staging("linker", a.clone())]).expect("a link alone");
        assert_eq!(fs::read_link(root.join("usr/share")).expect("link"), host);
        // The skeleton's writes do not go through a package's link either.
        let c = d.path().join("c");
        fs::create_dir_all(&c).expect("mkdir");
        std::os::unix::fs::symlink(&host, c.join("etc")).expect("link");
        let root = d.path().join("root-etc");
        merge(&root, &[staging("etc-linker", c)]).expect("merge");
        let err = skeleton(&plan(""), &root).expect_err("wrote through /etc");
        let msg = format!("{err:#}");
        assert!(
            msg.contains(&format!("/etc is a link to {}", host.display())),
            "{msg}"
        );
        assert_untouched(&host);
        // Nor is the archive packed through it.
        let cpio = crate::pipeline::cpio::build_newc(Some(&root), &[], 0).expect("cpio");
        assert!(
            !cpio.windows(5).any(|w| w == b"host\n"),
            "the host file was packed"
        );
    }

    #[test]
    fn setuid_and_world_writable_modes_need_a_declaration() {
        let d = tempfile::tempdir().expect("tempdir");
        let s = d.path().join("s");
        for (f, mode) in [
            ("bin/su", 0o4755),
            ("bin/wall", 0o2755),
            ("bin/open", 0o666),
            ("bin/ok", 0o755),
            ("bin/passwd", 0o4755),
        ] {
            fs::create_dir_all(s.join("bin")).expect("mkdir");
            fs::write(s.join(f), "x").expect("write");
            fs::set_permissions(s.join(f), fs::Permissions::from_mode(mode)).expect("chmod");
        }
        for (dir, mode) in [("var/spool", 0o777), ("var/tmp", 0o1777)] {
            fs::create_dir_all(s.join(dir)).expect("mkdir");
            fs::write(s.join(dir).join("keep"), "").expect("write");
            fs::set_permissions(s.join(dir), fs::Permissions::from_mode(mode)).expect("chmod");
        }
        let mut st = staging("ubase", s.clone());
        st.modes.insert("bin/passwd".into(), 0o4711);
        let root = d.path().join("root");
        let merged = merge(&root, std::slice::from_ref(&st)).expect("merge");
        let mode = |rel: &str| {
            fs::symlink_metadata(root.join(rel))
                .expect(rel)
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(mode("bin/su"), 0o755);
        assert_eq!(mode("bin/wall"), 0o755);
        assert_eq!(mode("bin/open"), 0o664);
        assert_eq!(mode("bin/ok"), 0o755);
        assert_eq!(mode("bin/passwd"), 0o4711, "a declared mode is kept");
        assert_eq!(mode("var/spool"), 0o775);
        assert_eq!(
            mode("var/tmp"),
            0o1777,
            "a sticky folder may be world-writable"
        );
        assert_eq!(merged.dropped.len(), 4, "{:?}", merged.dropped);
        assert_eq!(
            merged.dropped[0],
            "ubase: /bin/open installed with mode 0664 instead of 0666 (setuid, setgid and world-writable bits need `modes = { \"/bin/open\" = \"0666\" }` in the recipe)"
        );
        // A declaration for a file the package does not install is an error.
        st.modes.insert("bin/nope".into(), 0o4755);
        let err = merge(&d.path().join("root2"), &[st]).expect_err("undeclared");
        assert_eq!(
            err.to_string(),
            "ubase's recipe declares a mode for /bin/nope, which it does not install"
        );
    }

    #[test]
    fn prune_keeps_programs_and_drops_development_files() {
        let d = tempfile::tempdir().expect("tempdir");
        let s = d.path();
        for f in [
            "usr/bin/x",
            "usr/include/x.h",
            "usr/lib/libx.a",
            "usr/share/man/man1/x.1",
        ] {
            fs::create_dir_all(s.join(f).parent().expect("parent")).expect("mkdir");
            fs::write(s.join(f), "x").expect("write");
        }
        prune(s).expect("prune");
        let left = super::super::cache::files_below(s).expect("files");
        assert_eq!(left, vec![PathBuf::from("usr/bin/x")]);
    }
}
