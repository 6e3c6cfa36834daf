//! Host tools the pipeline needs, where to find them, and how to install them.
//!
//! `stali doctor` prints this; `stali build` checks it before any work starts.

use std::path::{Path, PathBuf};

/// What a host requirement is needed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Need {
    /// Compiling the userland.
    Userland,
    /// Building the kernel.
    Kernel,
    /// Writing the ISO.
    Iso,
    /// Booting under QEMU (`stali boot`).
    Boot,
}

/// How to find a requirement on this machine.
#[derive(Debug, Clone, Copy)]
pub enum Probe {
    /// A program on `PATH`.
    Program(&'static str),
    /// A file at one of these paths (distributions differ).
    File(&'static [&'static str]),
}

/// Package names providing a requirement on the four families we document.
#[derive(Debug, Clone, Copy)]
pub struct Packages {
    /// Debian and Ubuntu (`apt-get install`).
    pub debian: &'static str,
    /// Fedora (`dnf install`).
    pub fedora: &'static str,
    /// Arch Linux (`pacman -S`).
    pub arch: &'static str,
    /// Alpine (`apk add`).
    pub alpine: &'static str,
}

/// One host requirement.
#[derive(Debug, Clone, Copy)]
pub struct Requirement {
    /// Short name shown to the user.
    pub name: &'static str,
    /// How to find it.
    pub probe: Probe,
    /// Why it is needed.
    pub purpose: &'static str,
    /// Which stage needs it.
    pub need: Need,
    /// Packages that provide it.
    pub packages: Packages,
}

const fn pk(
    debian: &'static str,
    fedora: &'static str,
    arch: &'static str,
    alpine: &'static str,
) -> Packages {
    Packages {
        debian,
        fedora,
        arch,
        alpine,
    }
}

/// Every host requirement, in pipeline order.
pub const REQUIREMENTS: &[Requirement] = &[
    Requirement {
        name: "musl-gcc",
        probe: Probe::Program("musl-gcc"),
        purpose: "static C compiler wrapper for musl",
        need: Need::Userland,
        packages: pk("musl-tools", "musl-gcc", "musl", "musl-dev"),
    },
    Requirement {
        name: "make",
        probe: Probe::Program("make"),
        purpose: "runs recipes and kbuild",
        need: Need::Userland,
        packages: pk("make", "make", "make", "make"),
    },
    Requirement {
        name: "strip",
        probe: Probe::Program("strip"),
        purpose: "strips installed binaries",
        need: Need::Userland,
        packages: pk("binutils", "binutils", "binutils", "binutils"),
    },
    Requirement {
        name: "sed",
        probe: Probe::Program("sed"),
        purpose: "used by several recipes",
        need: Need::Userland,
        packages: pk("sed", "sed", "sed", "sed"),
    },
    Requirement {
        name: "tar",
        probe: Probe::Program("tar"),
        purpose: "unpacks source tarballs",
        need: Need::Userland,
        packages: pk("tar", "tar", "tar", "tar"),
    },
    Requirement {
        name: "autoreconf",
        probe: Probe::Program("autoreconf"),
        purpose: "regenerates configure for recipes built from git",
        need: Need::Userland,
        packages: pk("autoconf", "autoconf", "autoconf", "autoconf"),
    },
    Requirement {
        name: "automake",
        probe: Probe::Program("automake"),
        purpose: "Makefile.in generation for autotools recipes",
        need: Need::Userland,
        packages: pk("automake", "automake", "automake", "automake"),
    },
    Requirement {
        name: "libtoolize",
        probe: Probe::Program("libtoolize"),
        purpose: "libtool for autotools recipes",
        need: Need::Userland,
        packages: pk("libtool", "libtool", "libtool", "libtool"),
    },
    Requirement {
        name: "libtool",
        probe: Probe::Program("libtool"),
        purpose: "the libtool script (libtermkey)",
        need: Need::Userland,
        packages: pk("libtool-bin", "libtool", "libtool", "libtool"),
    },
    Requirement {
        name: "autopoint",
        probe: Probe::Program("autopoint"),
        purpose: "gettext macros (kbd)",
        need: Need::Userland,
        packages: pk("autopoint", "gettext-devel", "gettext", "gettext-dev"),
    },
    Requirement {
        name: "gperf",
        probe: Probe::Program("gperf"),
        purpose: "perfect hashes (e2fsprogs, kbd)",
        need: Need::Userland,
        packages: pk("gperf", "gperf", "gperf", "gperf"),
    },
    Requirement {
        name: "pkg-config",
        probe: Probe::Program("pkg-config"),
        purpose: "finds libraries in the sysroot",
        need: Need::Userland,
        packages: pk("pkgconf", "pkgconf-pkg-config", "pkgconf", "pkgconf"),
    },
    Requirement {
        name: "tic",
        probe: Probe::Program("tic"),
        purpose: "compiles ncurses' built-in terminal descriptions",
        need: Need::Userland,
        packages: pk("ncurses-bin", "ncurses", "ncurses", "ncurses"),
    },
    Requirement {
        name: "gcc",
        probe: Probe::Program("gcc"),
        purpose: "compiles the kernel",
        need: Need::Kernel,
        packages: pk("gcc", "gcc", "gcc", "gcc"),
    },
    Requirement {
        name: "flex",
        probe: Probe::Program("flex"),
        purpose: "kconfig lexer",
        need: Need::Kernel,
        packages: pk("flex", "flex", "flex", "flex"),
    },
    Requirement {
        name: "bison",
        probe: Probe::Program("bison"),
        purpose: "kconfig parser",
        need: Need::Kernel,
        packages: pk("bison", "bison", "bison", "bison"),
    },
    Requirement {
        name: "bc",
        probe: Probe::Program("bc"),
        purpose: "kernel build-time constants",
        need: Need::Kernel,
        packages: pk("bc", "bc", "bc", "bc"),
    },
    Requirement {
        name: "xz",
        probe: Probe::Program("xz"),
        purpose: "kernel and source compression",
        need: Need::Kernel,
        packages: pk("xz-utils", "xz", "xz", "xz"),
    },
    Requirement {
        name: "zstd",
        probe: Probe::Program("zstd"),
        purpose: "zstd kernel compression",
        need: Need::Kernel,
        packages: pk("zstd", "zstd", "zstd", "zstd"),
    },
    Requirement {
        name: "libelf headers",
        probe: Probe::File(&["/usr/include/gelf.h", "/usr/include/libelf/gelf.h"]),
        purpose: "objtool (x86_64 kernel)",
        need: Need::Kernel,
        packages: pk(
            "libelf-dev",
            "elfutils-libelf-devel",
            "libelf",
            "elfutils-dev",
        ),
    },
    Requirement {
        name: "openssl headers",
        probe: Probe::File(&["/usr/include/openssl/ssl.h"]),
        purpose: "kernel certificate tools",
        need: Need::Kernel,
        packages: pk("libssl-dev", "openssl-devel", "openssl", "openssl-dev"),
    },
    Requirement {
        name: "xorriso",
        probe: Probe::Program("xorriso"),
        purpose: "writes the ISO",
        need: Need::Iso,
        packages: pk("xorriso", "xorriso", "libisoburn", "xorriso"),
    },
    Requirement {
        name: "isolinux.bin",
        probe: Probe::File(&[
            "/usr/lib/ISOLINUX/isolinux.bin",
            "/usr/share/syslinux/isolinux.bin",
            "/usr/lib/syslinux/bios/isolinux.bin",
        ]),
        purpose: "BIOS boot loader",
        need: Need::Iso,
        packages: pk("isolinux", "syslinux", "syslinux", "syslinux"),
    },
    Requirement {
        name: "isohdpfx.bin",
        probe: Probe::File(&[
            "/usr/lib/ISOLINUX/isohdpfx.bin",
            "/usr/share/syslinux/isohdpfx.bin",
            "/usr/lib/syslinux/bios/isohdpfx.bin",
        ]),
        purpose: "hybrid MBR for USB sticks",
        need: Need::Iso,
        packages: pk("isolinux", "syslinux", "syslinux", "syslinux"),
    },
    Requirement {
        name: "ldlinux.c32",
        probe: Probe::File(&[
            "/usr/lib/syslinux/modules/bios/ldlinux.c32",
            "/usr/share/syslinux/ldlinux.c32",
            "/usr/lib/syslinux/bios/ldlinux.c32",
        ]),
        purpose: "isolinux core module",
        need: Need::Iso,
        packages: pk("syslinux-common", "syslinux", "syslinux", "syslinux"),
    },
    Requirement {
        name: "mkfs.fat",
        probe: Probe::Program("mkfs.fat"),
        purpose: "EFI system partition image",
        need: Need::Iso,
        packages: pk("dosfstools", "dosfstools", "dosfstools", "dosfstools"),
    },
    Requirement {
        name: "mcopy",
        probe: Probe::Program("mcopy"),
        purpose: "fills the EFI image",
        need: Need::Iso,
        packages: pk("mtools", "mtools", "mtools", "mtools"),
    },
    Requirement {
        name: "qemu-system-x86_64",
        probe: Probe::Program("qemu-system-x86_64"),
        purpose: "boots the image (stali boot)",
        need: Need::Boot,
        packages: pk(
            "qemu-system-x86",
            "qemu-system-x86",
            "qemu-system-x86",
            "qemu-system-x86_64",
        ),
    },
    Requirement {
        name: "OVMF",
        probe: Probe::File(&[
            "/usr/share/ovmf/OVMF.fd",
            "/usr/share/edk2/ovmf/OVMF_CODE.fd",
            "/usr/share/edk2/x64/OVMF.fd",
            "/usr/share/qemu/OVMF.fd",
        ]),
        purpose: "UEFI firmware for stali boot --uefi",
        need: Need::Boot,
        packages: pk("ovmf", "edk2-ovmf", "edk2-ovmf", "ovmf"),
    },
];

/// Finds a program on `PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

impl Requirement {
    /// Where the requirement was found, if it was.
    pub fn locate(&self) -> Option<PathBuf> {
        match self.probe {
            Probe::Program(p) => which(p),
            Probe::File(paths) => paths.iter().map(PathBuf::from).find(|p| p.is_file()),
        }
    }
}

/// The requirement called `name` (as in [`REQUIREMENTS`]).
pub fn requirement(name: &str) -> Option<&'static Requirement> {
    REQUIREMENTS.iter().find(|r| r.name == name)
}

/// Where the requirement `name` is on this machine, or an error naming the package to install.
pub fn locate(name: &str) -> anyhow::Result<PathBuf> {
    let r = requirement(name).ok_or_else(|| anyhow::anyhow!("unknown host requirement {name}"))?;
    r.locate().ok_or_else(|| {
        anyhow::anyhow!(
            "{} not found ({}); on Debian/Ubuntu: apt-get install {}",
            r.name,
            r.purpose,
            r.packages.debian
        )
    })
}

/// The state of one requirement on this machine.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// Requirement name.
    pub name: &'static str,
    /// Stage that needs it.
    pub need: Need,
    /// Why it is needed.
    pub purpose: &'static str,
    /// Where it was found.
    pub found: Option<PathBuf>,
    /// Debian package.
    pub debian: &'static str,
}

/// Checks every requirement needed for `needs`.
pub fn check(needs: &[Need]) -> Vec<Status> {
    REQUIREMENTS
        .iter()
        .filter(|r| needs.contains(&r.need))
        .map(|r| Status {
            name: r.name,
            need: r.need,
            purpose: r.purpose,
            found: r.locate(),
            debian: r.packages.debian,
        })
        .collect()
}

/// Install commands for the missing requirements, one per distribution family.
pub fn install_commands(missing: &[&str]) -> Vec<(&'static str, String)> {
    let reqs: Vec<&Requirement> = REQUIREMENTS
        .iter()
        .filter(|r| missing.contains(&r.name))
        .collect();
    let pkgs = |f: fn(&Packages) -> &'static str| {
        let mut v: Vec<&str> = reqs.iter().map(|r| f(&r.packages)).collect();
        v.sort();
        v.dedup();
        v.join(" ")
    };
    vec![
        (
            "Debian/Ubuntu",
            format!("apt-get install -y {}", pkgs(|p| p.debian)),
        ),
        ("Fedora", format!("dnf install -y {}", pkgs(|p| p.fedora))),
        ("Arch", format!("pacman -S --needed {}", pkgs(|p| p.arch))),
        ("Alpine", format!("apk add {}", pkgs(|p| p.alpine))),
    ]
}

/// Fails before any work when a requirement for `needs` is missing, naming the packages.
pub fn require(needs: &[Need]) -> anyhow::Result<()> {
    let missing: Vec<&str> = check(needs)
        .iter()
        .filter(|s| s.found.is_none())
        .map(|s| s.name)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let cmds = install_commands(&missing);
    let mut msg = format!("missing host tools: {}\n", missing.join(", "));
    for (family, cmd) in cmds {
        msg.push_str(&format!("  {family}: {cmd}\n"));
    }
    msg.push_str("(`stali doctor` shows every requirement)");
    anyhow::bail!(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_commands_name_packages_per_family() {
        let c = install_commands(&["musl-gcc", "xorriso"]);
        assert_eq!(c[0].1, "apt-get install -y musl-tools xorriso");
        assert_eq!(c[2].1, "pacman -S --needed libisoburn musl");
    }

    #[test]
    fn which_finds_a_real_program_and_not_a_fake_one() {
        assert!(which("sh").is_some());
        assert!(which("no-such-program-stali").is_none());
    }
}
