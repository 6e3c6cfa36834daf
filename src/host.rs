//! Host tools the pipeline needs, where to find them, and how to install them.
//!
//! `stali doctor` prints this; `stali build` checks it before any work starts.

use std::path::{Path, PathBuf};

/// The program that confines sandboxed build steps (bubblewrap).
pub const BWRAP: &str = "bwrap";

/// What a host requirement is needed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Need {
    /// Compiling the userland (recipes, stripping, unpacking).
    Userland,
    /// Building the kernel.
    Kernel,
    /// Writing the ISO.
    Iso,
    /// Booting under QEMU (`stali boot`).
    Boot,
    /// The kernel source the shipped profiles name (only for profiles that use it).
    Source,
    /// Building aarch64 images on another machine: the cross compiler, binutils, musl.
    #[serde(rename = "aarch64")]
    CrossAarch64,
    /// Booting aarch64 images under QEMU.
    #[serde(rename = "boot-aarch64")]
    BootAarch64,
}

/// What building an image of `arch` needs besides the common needs (the cross tools).
pub fn build_needs(arch: crate::model::Arch) -> Vec<Need> {
    match arch.cross_prefix() {
        Some(_) if arch == crate::model::Arch::Aarch64 => vec![Need::CrossAarch64],
        _ => Vec::new(),
    }
}

/// What booting an image of `arch` needs.
pub fn boot_needs(arch: crate::model::Arch) -> Vec<Need> {
    match arch {
        crate::model::Arch::X86_64 => vec![Need::Boot],
        crate::model::Arch::Aarch64 => vec![Need::BootAarch64],
    }
}

/// Every need, in pipeline order.
pub const ALL_NEEDS: &[Need] = &[
    Need::Userland,
    Need::Kernel,
    Need::Iso,
    Need::Boot,
    Need::Source,
    Need::CrossAarch64,
    Need::BootAarch64,
];

/// How to find a requirement on this machine.
#[derive(Debug, Clone, Copy)]
pub enum Probe {
    /// Programs looked up on `PATH`; every one of them is needed.
    Programs(&'static [&'static str]),
    /// A program called by this absolute path (make's `SHELL`, `#!` lines).
    Absolute(&'static str),
    /// The compiler a wrapper script runs (`exec "${REALGCC:-NAME}"` in musl-gcc), on `PATH`.
    WrappedCompiler(&'static str),
    /// A data file at one of these paths (distributions differ).
    File(&'static [&'static str]),
}

/// A distribution family whose package names the table knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Debian and Ubuntu (`apt-get install`).
    Debian,
    /// Fedora (`dnf install`).
    Fedora,
    /// Arch Linux (`pacman -S`).
    Arch,
    /// Alpine (`apk add`).
    Alpine,
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

impl Packages {
    /// The package on `family`.
    pub fn of(&self, family: Family) -> &'static str {
        match family {
            Family::Debian => self.debian,
            Family::Fedora => self.fedora,
            Family::Arch => self.arch,
            Family::Alpine => self.alpine,
        }
    }
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

const fn same(name: &'static str) -> Packages {
    pk(name, name, name, name)
}

/// Every host requirement, in pipeline order: everything the pipeline runs, directly or
/// through make, kbuild and the recipes (the end-to-end test builds with `PATH` reduced to
/// the programs named here), and the files it reads from the host.
pub const REQUIREMENTS: &[Requirement] = &[
    Requirement {
        name: "sh",
        probe: Probe::Absolute("/bin/sh"),
        purpose: "make's shell and every `#!/bin/sh` script",
        need: Need::Userland,
        packages: pk("dash", "bash", "bash", "busybox"),
    },
    Requirement {
        name: "bubblewrap",
        probe: Probe::Programs(&[BWRAP]),
        purpose: "confines each package build step (no network, no home, writes only its folder)",
        need: Need::Userland,
        packages: same("bubblewrap"),
    },
    Requirement {
        name: "shell utilities",
        probe: Probe::Programs(&[
            "sh", "cat", "cp", "mv", "rm", "mkdir", "rmdir", "ln", "chmod", "touch", "ls", "head",
            "tail", "tr", "wc", "cut", "sort", "uniq", "basename", "dirname", "expr", "echo",
            "printf", "env", "mktemp", "uname", "install", "tee", "test", "true", "false", "sleep",
            "date", "od", "readlink", "realpath", "nproc",
        ]),
        purpose: "run by make, kbuild and the recipes' scripts",
        need: Need::Userland,
        packages: pk("coreutils", "coreutils", "coreutils", "coreutils"),
    },
    Requirement {
        name: "grep, sed, awk",
        probe: Probe::Programs(&["grep", "sed", "awk"]),
        purpose: "text processing in kbuild and the recipes",
        need: Need::Userland,
        packages: pk(
            "grep sed mawk",
            "grep sed gawk",
            "grep sed gawk",
            "grep sed gawk",
        ),
    },
    Requirement {
        name: "find, xargs",
        probe: Probe::Programs(&["find", "xargs"]),
        purpose: "kbuild's header and object lists",
        need: Need::Userland,
        packages: same("findutils"),
    },
    Requirement {
        name: "diff, cmp",
        probe: Probe::Programs(&["diff", "cmp"]),
        purpose: "kbuild's and configure's comparisons",
        need: Need::Userland,
        packages: same("diffutils"),
    },
    Requirement {
        name: "getconf",
        probe: Probe::Programs(&["getconf"]),
        purpose: "kbuild asks it for the host's word size",
        need: Need::Userland,
        packages: pk("libc-bin", "glibc-common", "glibc", "musl-utils"),
    },
    Requirement {
        name: "musl-gcc",
        probe: Probe::Programs(&["musl-gcc"]),
        purpose: "static C compiler wrapper for musl",
        need: Need::Userland,
        packages: pk("musl-tools", "musl-gcc", "musl", "musl-dev"),
    },
    Requirement {
        name: "musl-gcc's compiler",
        probe: Probe::WrappedCompiler("musl-gcc"),
        purpose: "the gcc that musl-gcc runs",
        need: Need::Userland,
        packages: same("gcc"),
    },
    Requirement {
        name: "make",
        probe: Probe::Programs(&["make"]),
        purpose: "runs recipes and kbuild",
        need: Need::Userland,
        packages: same("make"),
    },
    Requirement {
        name: "binutils",
        probe: Probe::Programs(&[
            "as", "ld", "ar", "nm", "ranlib", "strip", "objcopy", "objdump", "readelf",
        ]),
        purpose: "assembles, links and strips",
        need: Need::Userland,
        packages: same("binutils"),
    },
    Requirement {
        name: "tar",
        probe: Probe::Programs(&["tar"]),
        purpose: "unpacks source tarballs",
        need: Need::Userland,
        packages: same("tar"),
    },
    Requirement {
        name: "gzip",
        probe: Probe::Programs(&["gzip"]),
        purpose: "unpacks .tar.gz sources; gzip kernel compression",
        need: Need::Userland,
        packages: same("gzip"),
    },
    Requirement {
        name: "bzip2",
        probe: Probe::Programs(&["bzip2"]),
        purpose: "unpacks .tar.bz2 sources (dropbear's release tarballs)",
        need: Need::Userland,
        packages: same("bzip2"),
    },
    Requirement {
        name: "autotools",
        probe: Probe::Programs(&[
            "autoreconf",
            "autoconf",
            "autoheader",
            "autom4te",
            "aclocal",
            "automake",
            "m4",
            "perl",
        ]),
        purpose: "regenerates configure for recipes built from git",
        need: Need::Userland,
        packages: pk(
            "autoconf automake m4 perl",
            "autoconf automake m4 perl",
            "autoconf automake m4 perl",
            "autoconf automake m4 perl",
        ),
    },
    Requirement {
        name: "libtoolize",
        probe: Probe::Programs(&["libtoolize"]),
        purpose: "libtool for autotools recipes",
        need: Need::Userland,
        packages: same("libtool"),
    },
    Requirement {
        name: "libtool",
        probe: Probe::Programs(&["libtool"]),
        purpose: "the libtool script (libtermkey)",
        need: Need::Userland,
        packages: pk("libtool-bin", "libtool", "libtool", "libtool"),
    },
    Requirement {
        name: "autopoint",
        probe: Probe::Programs(&["autopoint"]),
        purpose: "gettext macros (kbd)",
        need: Need::Userland,
        packages: pk("autopoint", "gettext-devel", "gettext", "gettext-dev"),
    },
    Requirement {
        name: "gperf",
        probe: Probe::Programs(&["gperf"]),
        purpose: "perfect hashes (e2fsprogs, kbd)",
        need: Need::Userland,
        packages: same("gperf"),
    },
    Requirement {
        name: "pkg-config",
        probe: Probe::Programs(&["pkg-config"]),
        purpose: "finds libraries in the sysroot",
        need: Need::Userland,
        packages: pk("pkgconf", "pkgconf-pkg-config", "pkgconf", "pkgconf"),
    },
    Requirement {
        name: "tic",
        probe: Probe::Programs(&["tic"]),
        purpose: "compiles ncurses' built-in terminal descriptions",
        need: Need::Userland,
        packages: pk("ncurses-bin", "ncurses", "ncurses", "ncurses"),
    },
    Requirement {
        name: "gcc",
        probe: Probe::Programs(&["gcc"]),
        purpose: "compiles the kernel",
        need: Need::Kernel,
        packages: same("gcc"),
    },
    Requirement {
        name: "flex, bison",
        probe: Probe::Programs(&["flex", "bison"]),
        purpose: "kconfig's lexer and parser",
        need: Need::Kernel,
        packages: pk("flex bison", "flex bison", "flex bison", "flex bison"),
    },
    Requirement {
        name: "bc",
        probe: Probe::Programs(&["bc"]),
        purpose: "kernel build-time constants",
        need: Need::Kernel,
        packages: same("bc"),
    },
    Requirement {
        name: "xz",
        probe: Probe::Programs(&["xz"]),
        purpose: "xz kernel compression, .tar.xz sources",
        need: Need::Kernel,
        packages: pk("xz-utils", "xz", "xz", "xz"),
    },
    Requirement {
        name: "zstd",
        probe: Probe::Programs(&["zstd"]),
        purpose: "zstd kernel compression",
        need: Need::Kernel,
        packages: same("zstd"),
    },
    Requirement {
        name: "rsync",
        probe: Probe::Programs(&["rsync"]),
        purpose: "the kernel's `make headers_install`",
        need: Need::Kernel,
        packages: same("rsync"),
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
        probe: Probe::Programs(&["xorriso"]),
        purpose: "writes the ISO",
        need: Need::Iso,
        packages: pk("xorriso", "xorriso", "libisoburn", "xorriso"),
    },
    Requirement {
        name: "isolinux.bin",
        probe: Probe::File(ISOLINUX_BIN),
        purpose: "BIOS boot loader",
        need: Need::Iso,
        packages: pk("isolinux", "syslinux", "syslinux", "syslinux"),
    },
    Requirement {
        name: "isohdpfx.bin",
        probe: Probe::File(ISOHDPFX_BIN),
        purpose: "hybrid MBR for USB sticks",
        need: Need::Iso,
        packages: pk("isolinux", "syslinux", "syslinux", "syslinux"),
    },
    Requirement {
        name: "ldlinux.c32",
        probe: Probe::File(LDLINUX_C32),
        purpose: "isolinux core module",
        need: Need::Iso,
        packages: pk("syslinux-common", "syslinux", "syslinux", "syslinux"),
    },
    Requirement {
        name: "mkfs.fat",
        probe: Probe::Programs(&["mkfs.fat"]),
        purpose: "EFI system partition image",
        need: Need::Iso,
        packages: same("dosfstools"),
    },
    Requirement {
        name: "mtools",
        probe: Probe::Programs(&["mmd", "mcopy"]),
        purpose: "fills the EFI image",
        need: Need::Iso,
        packages: same("mtools"),
    },
    Requirement {
        name: "qemu-system-x86_64",
        probe: Probe::Programs(&["qemu-system-x86_64"]),
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
        probe: Probe::File(OVMF_FD),
        purpose: "UEFI firmware for stali boot --uefi",
        need: Need::Boot,
        packages: pk("ovmf", "edk2-ovmf", "edk2-ovmf", "ovmf"),
    },
    Requirement {
        name: "aarch64 cross compiler",
        probe: Probe::Programs(&["aarch64-linux-gnu-gcc"]),
        purpose: "compiles the kernel and, with musl's specs, the userland of aarch64 images",
        need: Need::CrossAarch64,
        packages: pk(
            "gcc-aarch64-linux-gnu",
            "gcc-aarch64-linux-gnu",
            "aarch64-linux-gnu-gcc",
            "gcc-aarch64",
        ),
    },
    Requirement {
        name: "aarch64 binutils",
        probe: Probe::Programs(&[
            "aarch64-linux-gnu-as",
            "aarch64-linux-gnu-ld",
            "aarch64-linux-gnu-ar",
            "aarch64-linux-gnu-nm",
            "aarch64-linux-gnu-ranlib",
            "aarch64-linux-gnu-strip",
            "aarch64-linux-gnu-objcopy",
            "aarch64-linux-gnu-objdump",
            "aarch64-linux-gnu-readelf",
        ]),
        purpose: "assembles, links and strips aarch64 kernels and programs",
        need: Need::CrossAarch64,
        packages: pk(
            "binutils-aarch64-linux-gnu",
            "binutils-aarch64-linux-gnu",
            "aarch64-linux-gnu-binutils",
            "binutils-aarch64",
        ),
    },
    Requirement {
        name: "qemu-aarch64",
        probe: Probe::Programs(&["qemu-aarch64"]),
        purpose: "runs aarch64 programs during a build (a recipe's ${RUN}: sbase-box -i)",
        need: Need::CrossAarch64,
        packages: pk("qemu-user", "qemu-user", "qemu-user", "qemu-aarch64"),
    },
    Requirement {
        name: "musl for aarch64",
        probe: Probe::File(MUSL_SPECS_AARCH64),
        purpose: "the C library aarch64 programs link statically (Debian: `dpkg --add-architecture arm64` first)",
        need: Need::CrossAarch64,
        packages: pk("musl-dev:arm64", "", "", ""),
    },
    Requirement {
        name: "qemu-system-aarch64",
        probe: Probe::Programs(&["qemu-system-aarch64"]),
        purpose: "boots aarch64 images (stali boot, the virt machine)",
        need: Need::BootAarch64,
        packages: pk(
            "qemu-system-arm",
            "qemu-system-aarch64",
            "qemu-system-aarch64",
            "qemu-system-aarch64",
        ),
    },
    Requirement {
        name: "QEMU_EFI",
        probe: Probe::File(QEMU_EFI_AARCH64),
        purpose: "UEFI firmware for QEMU's aarch64 virt machine",
        need: Need::BootAarch64,
        packages: pk("qemu-efi-aarch64", "edk2-aarch64", "edk2-armvirt", "ovmf"),
    },
    Requirement {
        name: "linux-source-6.1",
        probe: Probe::File(&[crate::model::profile::DEFAULT_KERNEL_PATH]),
        purpose: "the kernel source the shipped profiles name",
        need: Need::Source,
        packages: pk("linux-source-6.1", "", "", ""),
    },
];

/// Where distributions put isolinux.bin.
pub const ISOLINUX_BIN: &[&str] = &[
    "/usr/lib/ISOLINUX/isolinux.bin",
    "/usr/share/syslinux/isolinux.bin",
    "/usr/lib/syslinux/bios/isolinux.bin",
];

/// Where distributions put the isohybrid MBR.
pub const ISOHDPFX_BIN: &[&str] = &[
    "/usr/lib/ISOLINUX/isohdpfx.bin",
    "/usr/share/syslinux/isohdpfx.bin",
    "/usr/lib/syslinux/bios/isohdpfx.bin",
];

/// Where distributions put isolinux's core module.
pub const LDLINUX_C32: &[&str] = &[
    "/usr/lib/syslinux/modules/bios/ldlinux.c32",
    "/usr/share/syslinux/ldlinux.c32",
    "/usr/lib/syslinux/bios/ldlinux.c32",
];

/// Where distributions put OVMF, the UEFI firmware for QEMU.
pub const OVMF_FD: &[&str] = &[
    "/usr/share/ovmf/OVMF.fd",
    "/usr/share/edk2/ovmf/OVMF_CODE.fd",
    "/usr/share/edk2/x64/OVMF.fd",
    "/usr/share/qemu/OVMF.fd",
];

/// Where distributions put the UEFI firmware of QEMU's aarch64 virt machine.
pub const QEMU_EFI_AARCH64: &[&str] = &[
    "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd",
    "/usr/share/edk2/aarch64/QEMU_EFI.fd",
    "/usr/share/edk2/armvirt/aarch64/QEMU_EFI.fd",
    "/usr/share/AAVMF/AAVMF_CODE.fd",
];

/// Where Debian's multi-arch `musl-dev:arm64` puts musl-gcc's specs file for aarch64.
pub const MUSL_SPECS_AARCH64: &[&str] = &["/usr/lib/aarch64-linux-musl/musl-gcc.specs"];

/// Where musl-gcc's specs file for `arch` is looked for (its libc.a beside it).
pub fn musl_specs(arch: crate::model::Arch) -> &'static [&'static str] {
    match arch {
        crate::model::Arch::X86_64 => &["/usr/lib/x86_64-linux-musl/musl-gcc.specs"],
        crate::model::Arch::Aarch64 => MUSL_SPECS_AARCH64,
    }
}

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

/// The compiler a wrapper script such as musl-gcc runs: the `NAME` of its
/// `${REALGCC:-NAME}`, or `None` when the wrapper is not such a script.
pub fn wrapped_compiler(wrapper: &Path) -> Option<String> {
    let text = std::fs::read(wrapper).ok()?;
    let text = String::from_utf8_lossy(&text);
    let at = text.find("${REALGCC:-")? + "${REALGCC:-".len();
    let name: String = text[at..].chars().take_while(|c| *c != '}').collect();
    (!name.is_empty() && !name.contains(['/', ' ', '$'])).then_some(name)
}

/// One program or file of a requirement, and where it is.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Found {
    /// Program name (or absolute path, or the first file path).
    pub name: String,
    /// Where it is, if it is here.
    pub path: Option<PathBuf>,
    /// Whether the pipeline finds it on `PATH` (rather than by an absolute path).
    pub on_path: bool,
}

impl Requirement {
    /// Every program or file of the requirement, each with where it is.
    pub fn locate_all(&self) -> Vec<Found> {
        match self.probe {
            Probe::Programs(names) => names
                .iter()
                .map(|n| Found {
                    name: n.to_string(),
                    path: which(n),
                    on_path: true,
                })
                .collect(),
            Probe::Absolute(p) => vec![Found {
                name: p.to_string(),
                path: is_executable(Path::new(p)).then(|| PathBuf::from(p)),
                on_path: false,
            }],
            Probe::WrappedCompiler(wrapper) => {
                let name = which(wrapper)
                    .and_then(|w| wrapped_compiler(&w))
                    .unwrap_or_else(|| "gcc".to_string());
                vec![Found {
                    path: which(&name),
                    name,
                    on_path: true,
                }]
            }
            Probe::File(paths) => vec![Found {
                name: paths.first().map(|p| p.to_string()).unwrap_or_default(),
                path: paths.iter().map(PathBuf::from).find(|p| p.is_file()),
                on_path: false,
            }],
        }
    }

    /// Where the requirement was found (its first program or file), if all of it was.
    pub fn locate(&self) -> Option<PathBuf> {
        let all = self.locate_all();
        if all.iter().all(|f| f.path.is_some()) {
            all.into_iter().next().and_then(|f| f.path)
        } else {
            None
        }
    }
}

/// The requirement called `name` (as in [`REQUIREMENTS`]).
pub fn requirement(name: &str) -> Option<&'static Requirement> {
    REQUIREMENTS.iter().find(|r| r.name == name)
}

/// The first of `paths` that is a file here, or an error naming the requirement's package.
pub fn host_file(paths: &[&str], what: &str) -> anyhow::Result<PathBuf> {
    if let Some(p) = paths.iter().map(PathBuf::from).find(|p| p.is_file()) {
        return Ok(p);
    }
    let r = REQUIREMENTS.iter().find(|r| match r.probe {
        Probe::File(ps) => std::ptr::eq(ps, paths) || ps == paths,
        _ => false,
    });
    let pkg = r.map(|r| r.packages.debian).unwrap_or("");
    anyhow::bail!(
        "{what} not found (looked at {}); on Debian/Ubuntu: apt-get install {pkg}",
        paths.join(", ")
    )
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
    /// Where it was found (its first program or file), when all of it was.
    pub found: Option<PathBuf>,
    /// Each program or file, with where it is.
    pub items: Vec<Found>,
    /// The names of the programs or files that are missing.
    pub missing: Vec<String>,
    /// Debian package(s), space-separated.
    pub debian: &'static str,
}

/// Checks every requirement needed for `needs`.
pub fn check(needs: &[Need]) -> Vec<Status> {
    REQUIREMENTS
        .iter()
        .filter(|r| needs.contains(&r.need))
        .map(|r| {
            let items = r.locate_all();
            let missing: Vec<String> = items
                .iter()
                .filter(|f| f.path.is_none())
                .map(|f| f.name.clone())
                .collect();
            Status {
                name: r.name,
                need: r.need,
                purpose: r.purpose,
                found: if missing.is_empty() {
                    items.first().and_then(|f| f.path.clone())
                } else {
                    None
                },
                items,
                missing,
                debian: r.packages.debian,
            }
        })
        .collect()
}

/// Every package of `family` that the requirements for `needs` name, sorted, once each.
pub fn packages(family: Family, needs: &[Need]) -> Vec<&'static str> {
    let mut v: Vec<&str> = REQUIREMENTS
        .iter()
        .filter(|r| needs.contains(&r.need))
        .flat_map(|r| r.packages.of(family).split_whitespace())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Install commands for the missing requirements, one per distribution family.
pub fn install_commands(missing: &[&str]) -> Vec<(&'static str, String)> {
    let reqs: Vec<&Requirement> = REQUIREMENTS
        .iter()
        .filter(|r| missing.contains(&r.name))
        .collect();
    let pkgs = |f: Family| {
        let mut v: Vec<&str> = reqs
            .iter()
            .flat_map(|r| r.packages.of(f).split_whitespace())
            .collect();
        v.sort();
        v.dedup();
        v.join(" ")
    };
    vec![
        (
            "Debian/Ubuntu",
            format!("apt-get install -y {}", pkgs(Family::Debian)),
        ),
        ("Fedora", format!("dnf install -y {}", pkgs(Family::Fedora))),
        ("Arch", format!("pacman -S --needed {}", pkgs(Family::Arch))),
        ("Alpine", format!("apk add {}", pkgs(Family::Alpine))),
    ]
}

fn missing_message(status: &[Status]) -> Option<String> {
    let missing: Vec<&Status> = status.iter().filter(|s| !s.missing.is_empty()).collect();
    if missing.is_empty() {
        return None;
    }
    let names: Vec<String> = missing
        .iter()
        .map(|s| {
            if s.items.len() > 1 {
                format!("{} ({})", s.name, s.missing.join(", "))
            } else {
                s.missing.join(", ")
            }
        })
        .collect();
    let reqs: Vec<&str> = missing.iter().map(|s| s.name).collect();
    let mut msg = format!("missing host tools: {}\n", names.join(", "));
    for (family, cmd) in install_commands(&reqs) {
        msg.push_str(&format!("  {family}: {cmd}\n"));
    }
    msg.push_str("(`stali doctor` shows every requirement)");
    Some(msg)
}

/// Fails before any work when a requirement for `needs` is missing, naming the packages.
pub fn require(needs: &[Need]) -> anyhow::Result<()> {
    match missing_message(&check(needs)) {
        Some(m) => anyhow::bail!(m),
        None => Ok(()),
    }
}

/// Fails when one of these programs (each named in [`REQUIREMENTS`]) is not on `PATH`.
pub fn require_programs(programs: &[&str]) -> anyhow::Result<()> {
    let status: Vec<Status> = check(ALL_NEEDS)
        .into_iter()
        .filter(|s| s.items.iter().any(|f| programs.contains(&f.name.as_str())))
        .map(|mut s| {
            s.items.retain(|f| programs.contains(&f.name.as_str()));
            s.missing.retain(|m| programs.contains(&m.as_str()));
            s
        })
        .collect();
    match missing_message(&status) {
        Some(m) => anyhow::bail!(m),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_commands_name_packages_per_family() {
        let c = install_commands(&["musl-gcc", "xorriso", "rsync"]);
        assert_eq!(c[0].1, "apt-get install -y musl-tools rsync xorriso");
        assert_eq!(c[2].1, "pacman -S --needed libisoburn musl rsync");
    }

    #[test]
    fn which_finds_a_real_program_and_not_a_fake_one() {
        assert!(which("sh").is_some());
        assert!(which("no-such-program-stali").is_none());
    }

    #[test]
    fn debian_packages_cover_every_requirement() {
        let all = packages(Family::Debian, ALL_NEEDS);
        for want in [
            "rsync",
            "musl-tools",
            "coreutils",
            "linux-source-6.1",
            "ovmf",
        ] {
            assert!(all.contains(&want), "{want} not in {all:?}");
        }
        for r in REQUIREMENTS {
            assert!(
                !r.packages.debian.is_empty(),
                "{} has no Debian package",
                r.name
            );
        }
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(all, sorted);
    }

    #[test]
    fn the_wrapped_compiler_is_read_from_the_wrapper() {
        let d = tempfile::tempdir().expect("tempdir");
        let w = d.path().join("musl-gcc");
        std::fs::write(
            &w,
            "#!/bin/sh\nexec \"${REALGCC:-x86_64-linux-gnu-gcc}\" \"$@\" -specs \"/x.specs\"\n",
        )
        .expect("write");
        assert_eq!(
            wrapped_compiler(&w).as_deref(),
            Some("x86_64-linux-gnu-gcc")
        );
        std::fs::write(&w, "\x7fELF...").expect("write");
        assert_eq!(wrapped_compiler(&w), None);
    }

    #[test]
    fn a_missing_program_is_named_with_its_group_and_package() {
        let s = vec![Status {
            name: "binutils",
            need: Need::Userland,
            purpose: "",
            found: None,
            items: vec![
                Found {
                    name: "as".into(),
                    path: Some("/usr/bin/as".into()),
                    on_path: true,
                },
                Found {
                    name: "ld".into(),
                    path: None,
                    on_path: true,
                },
            ],
            missing: vec!["ld".into()],
            debian: "binutils",
        }];
        let m = missing_message(&s).expect("a message");
        assert!(
            m.contains("binutils (ld)") && m.contains("apt-get install -y binutils"),
            "{m}"
        );
    }
}
