//! The target architectures: everything that differs between an x86_64 and an aarch64
//! image (kbuild's names, the cross compiler, the kernel image, the EFI file name, QEMU),
//! in one place, so no other module spells an architecture out.

use std::fmt;

/// A CPU architecture stali builds images for (a hardware target's `arch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Arch {
    /// 64-bit PC (`x86_64`).
    #[default]
    X86_64,
    /// 64-bit ARM (`aarch64`, kbuild's `arm64`).
    Aarch64,
}

impl Arch {
    /// Every architecture.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The catalog spelling (`x86_64`, `aarch64`).
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// Parses the catalog spelling.
    pub fn parse(s: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Whether this is the architecture stali itself runs on (no cross compiler needed).
    pub fn is_native(self) -> bool {
        self.as_str() == std::env::consts::ARCH
    }

    /// kbuild's `ARCH=` (`x86_64`, `arm64`).
    pub fn kbuild_arch(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "arm64",
        }
    }

    /// kbuild's `SRCARCH`, the folder under `arch/` (`x86`, `arm64`).
    pub fn srcarch(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86",
            Arch::Aarch64 => "arm64",
        }
    }

    /// The prefix of the GNU cross tools (`aarch64-linux-gnu-`), `None` when building on
    /// this architecture.
    pub fn cross_prefix(self) -> Option<&'static str> {
        if self.is_native() {
            return None;
        }
        Some(match self {
            Arch::X86_64 => "x86_64-linux-gnu-",
            Arch::Aarch64 => "aarch64-linux-gnu-",
        })
    }

    /// A GNU tool for this architecture (`gcc` -> `aarch64-linux-gnu-gcc` when crossing).
    pub fn tool(self, name: &str) -> String {
        format!("{}{name}", self.cross_prefix().unwrap_or(""))
    }

    /// What runs this architecture's programs on this machine (QEMU's user-mode
    /// emulator, `qemu-aarch64`), `None` natively: a recipe's `${RUN}`.
    pub fn runner(self) -> Option<&'static str> {
        if self.is_native() {
            return None;
        }
        Some(match self {
            Arch::X86_64 => "qemu-x86_64",
            Arch::Aarch64 => "qemu-aarch64",
        })
    }

    /// The kbuild target making the bootable kernel (`bzImage`; on arm64 the EFI
    /// decompressor's `vmlinuz.efi`, the only compressed image that boots by itself).
    pub fn kernel_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "bzImage",
            Arch::Aarch64 => "vmlinuz.efi",
        }
    }

    /// Where kbuild leaves that image, relative to the object folder.
    pub fn kernel_image(self) -> String {
        format!("arch/{}/boot/{}", self.srcarch(), self.kernel_target())
    }

    /// The removable-media boot file UEFI firmware looks for (`BOOTX64.EFI`, `BOOTAA64.EFI`).
    pub fn efi_boot_file(self) -> &'static str {
        match self {
            Arch::X86_64 => "BOOTX64.EFI",
            Arch::Aarch64 => "BOOTAA64.EFI",
        }
    }

    /// Whether images of this architecture can boot from a PC BIOS (isolinux).
    pub fn has_bios(self) -> bool {
        self == Arch::X86_64
    }

    /// The kernel fragment a UEFI boot adds (`efi`, `efi-arm64`).
    pub fn uefi_fragment(self) -> &'static str {
        match self {
            Arch::X86_64 => "efi",
            Arch::Aarch64 => "efi-arm64",
        }
    }

    /// Whether the kernel has a `CONFIG_CMDLINE_BOOL` switch (x86); arm64 has
    /// `CONFIG_CMDLINE` alone, with a choice of how it meets the boot loader's.
    pub fn has_cmdline_bool(self) -> bool {
        self == Arch::X86_64
    }

    /// The QEMU system emulator (`qemu-system-x86_64`, `qemu-system-aarch64`).
    pub fn qemu(self) -> &'static str {
        match self {
            Arch::X86_64 => "qemu-system-x86_64",
            Arch::Aarch64 => "qemu-system-aarch64",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_kbuild_spellings() {
        for a in Arch::ALL {
            assert_eq!(Arch::parse(a.as_str()), Some(a));
        }
        assert_eq!(Arch::parse("arm64"), None);
        assert_eq!(Arch::Aarch64.kbuild_arch(), "arm64");
        assert_eq!(Arch::Aarch64.kernel_image(), "arch/arm64/boot/vmlinuz.efi");
        assert_eq!(Arch::X86_64.kernel_image(), "arch/x86/boot/bzImage");
        assert!(!Arch::Aarch64.has_bios());
    }

    #[test]
    fn the_cross_prefix_is_only_for_a_foreign_architecture() {
        let foreign: Vec<Arch> = Arch::ALL.into_iter().filter(|a| !a.is_native()).collect();
        for a in Arch::ALL {
            assert_eq!(a.cross_prefix().is_some(), foreign.contains(&a));
        }
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!(Arch::Aarch64.tool("gcc"), "aarch64-linux-gnu-gcc");
            assert_eq!(Arch::X86_64.tool("strip"), "strip");
        }
    }
}
