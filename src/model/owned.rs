//! Kernel options a profile or fragment may not set: those that name a file of the
//! machine building the image (a shared profile would copy the builder's files into the
//! kernel it hands out), and those the pipeline sets itself from the profile's own keys.
//! This is the one list: `stali check` refuses them, catalog fragments are checked
//! against it, and the pipeline takes the names it sets from here.

use super::Compression;

/// `CONFIG_MODULES`: always off.
pub const MODULES: &str = "CONFIG_MODULES";
/// `CONFIG_BLK_DEV_INITRD`: the initramfs is always built in.
pub const BLK_DEV_INITRD: &str = "CONFIG_BLK_DEV_INITRD";
/// `CONFIG_INITRAMFS_SOURCE`: the pipeline's own cpio archive.
pub const INITRAMFS_SOURCE: &str = "CONFIG_INITRAMFS_SOURCE";
/// `CONFIG_INITRAMFS_COMPRESSION_NONE`: the kernel compresses the initramfs with itself.
pub const INITRAMFS_COMPRESSION_NONE: &str = "CONFIG_INITRAMFS_COMPRESSION_NONE";
/// `CONFIG_CMDLINE_BOOL`: the command line is built in.
pub const CMDLINE_BOOL: &str = "CONFIG_CMDLINE_BOOL";
/// `CONFIG_CMDLINE`: from `image.cmdline`.
pub const CMDLINE: &str = "CONFIG_CMDLINE";
/// `CONFIG_CMDLINE_FORCE` (arm64): the built-in command line wins over the firmware's.
pub const CMDLINE_FORCE: &str = "CONFIG_CMDLINE_FORCE";

/// The kernel compression choice option for `c` (`image.compression`).
pub fn compression_option(c: Compression) -> &'static str {
    match c {
        Compression::Gzip => "CONFIG_KERNEL_GZIP",
        Compression::Xz => "CONFIG_KERNEL_XZ",
        Compression::Zstd => "CONFIG_KERNEL_ZSTD",
    }
}

/// The value the pipeline always gives an option, which a profile or fragment may repeat.
const FIXED: &[(&str, &str)] = &[(MODULES, "n"), (BLK_DEV_INITRD, "y")];

/// Options the pipeline sets itself, each with the profile key that decides it.
pub const PIPELINE_SET: &[(&str, &str)] = &[
    (MODULES, "a Stali kernel has no modules"),
    (
        BLK_DEV_INITRD,
        "the initramfs is always built in, CONFIG_BLK_DEV_INITRD is always on",
    ),
    (CMDLINE_BOOL, "set `image.cmdline` instead"),
    (CMDLINE, "set `image.cmdline` instead"),
    ("CONFIG_CMDLINE_OVERRIDE", "set `image.cmdline` instead"),
    (CMDLINE_FORCE, "set `image.cmdline` instead"),
    (
        "CONFIG_CMDLINE_FROM_BOOTLOADER",
        "set `image.cmdline` instead",
    ),
    ("CONFIG_CMDLINE_EXTEND", "set `image.cmdline` instead"),
    // The whole compression choice (x86 offers these seven).
    ("CONFIG_KERNEL_GZIP", "set `image.compression` instead"),
    ("CONFIG_KERNEL_XZ", "set `image.compression` instead"),
    ("CONFIG_KERNEL_ZSTD", "set `image.compression` instead"),
    ("CONFIG_KERNEL_BZIP2", "set `image.compression` instead"),
    ("CONFIG_KERNEL_LZMA", "set `image.compression` instead"),
    ("CONFIG_KERNEL_LZO", "set `image.compression` instead"),
    ("CONFIG_KERNEL_LZ4", "set `image.compression` instead"),
];

/// Prefixes of option families the pipeline sets itself (`CONFIG_INITRAMFS_SOURCE`,
/// `_COMPRESSION_*`, `_ROOT_UID`, ...: the initramfs is the pipeline's).
pub const PIPELINE_PREFIXES: &[&str] = &["CONFIG_INITRAMFS_"];

/// String options whose value is a file or folder of the building machine that kbuild
/// reads into the kernel or its build (from the `string` options of linux 6.1's Kconfig
/// whose help speaks of a file or path; those naming a path inside the image, such as
/// `CONFIG_UEVENT_HELPER_PATH`, `CONFIG_MODPROBE_PATH`, `CONFIG_DEFAULT_INIT`,
/// `CONFIG_IMA_X509_PATH` or `CONFIG_STATIC_USERMODEHELPER_PATH`, are allowed). Any other
/// string-valued `*_KEY`, `*_KEYS` or `*_CERT*` option is refused too.
pub const HOST_PATHS: &[&str] = &[
    // drivers/base/firmware_loader: firmware files built into the kernel, and their folder.
    "CONFIG_EXTRA_FIRMWARE",
    "CONFIG_EXTRA_FIRMWARE_DIR",
    // usr/: files or a folder packed into the built-in initramfs.
    "CONFIG_INITRAMFS_SOURCE",
    // certs/: the signing key, and PEM files of certificates built into the keyrings.
    "CONFIG_MODULE_SIG_KEY",
    "CONFIG_SYSTEM_TRUSTED_KEYS",
    "CONFIG_SYSTEM_REVOCATION_KEYS",
    "CONFIG_SYSTEM_BLACKLIST_HASH_LIST",
    // drivers/acpi: an ASL/AML file compiled into the kernel.
    "CONFIG_ACPI_CUSTOM_DSDT_FILE",
    // init/: a bootconfig file embedded in the kernel.
    "CONFIG_BOOT_CONFIG_EMBED_FILE",
    // kernel/module: a symbol list read at build time.
    "CONFIG_UNUSED_KSYMS_WHITELIST",
    // net/wireless: a folder of regulatory database keys compiled in.
    "CONFIG_CFG80211_EXTRA_REGDB_KEYDIR",
    // arch/*: device trees compiled in (not on x86, refused all the same).
    "CONFIG_BUILTIN_DTB_SOURCE",
];

/// Why a profile or fragment may not set `name` to `value`, or `None` when it may.
/// `CONFIG_MODULES = "n"` and `CONFIG_BLK_DEV_INITRD = "y"` may be repeated: they are
/// what the pipeline sets anyway.
pub fn owned_option(name: &str, value: &str) -> Option<String> {
    if HOST_PATHS.contains(&name) || (is_string_value(value) && is_key_or_cert(name)) {
        return Some(format!(
            "{name} names a file on the machine that builds the image, which kbuild would copy \
             into the kernel: a profile may not name host files"
        ));
    }
    if name == MODULES {
        return (value != "n")
            .then(|| "a Stali kernel has no modules; CONFIG_MODULES is always off".to_string());
    }
    if FIXED.contains(&(name, value)) {
        return None;
    }
    if let Some((_, why)) = PIPELINE_SET.iter().find(|(n, _)| *n == name) {
        return Some(format!("{name} is set by the pipeline: {why}"));
    }
    if PIPELINE_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return Some(format!(
            "{name} is set by the pipeline: the initramfs is the image's own"
        ));
    }
    None
}

/// Key and certificate options (`*_KEY`, `*_KEYS`, `*_CERT*`): as strings, file names.
fn is_key_or_cert(name: &str) -> bool {
    let n = name.strip_prefix("CONFIG_").unwrap_or(name);
    n.ends_with("_KEY") || n.ends_with("_KEYS") || n.contains("_CERT")
}

/// Whether a profile value is a string (not `y`, `n` or a number).
fn is_string_value(v: &str) -> bool {
    let v = v.trim();
    let number = v.parse::<i64>().is_ok()
        || v.strip_prefix("0x")
            .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()));
    !(v == "y" || v == "n" || number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_and_pipeline_options_are_refused() {
        for n in HOST_PATHS {
            assert!(owned_option(n, "\"x\"").is_some(), "{n}");
        }
        for (n, _) in PIPELINE_SET.iter().filter(|(n, _)| *n != MODULES) {
            assert!(
                owned_option(n, "y").is_some() || *n == BLK_DEV_INITRD,
                "{n}"
            );
            assert!(owned_option(n, "n").is_some() || *n == MODULES, "{n}");
        }
        assert!(owned_option("CONFIG_INITRAMFS_ROOT_UID", "0").is_some());
        assert!(owned_option("CONFIG_SOME_SIGNING_KEY", "certs/mine.pem").is_some());
        assert!(owned_option("CONFIG_SOME_CERTS", "\"a.pem\"").is_some());
        assert!(owned_option("CONFIG_TRUSTED_KEYS", "y").is_none());
        assert!(owned_option("CONFIG_MODULES", "y").is_some());
        assert!(owned_option("CONFIG_MODULES", "n").is_none());
        assert!(owned_option("CONFIG_PRINTK_TIME", "y").is_none());
        assert!(owned_option("CONFIG_UEVENT_HELPER_PATH", "\"/sbin/x\"").is_none());
        assert!(owned_option("CONFIG_INPUT_KEYBOARD", "y").is_none());
    }

    #[test]
    fn fragments_are_checked_too() {
        use crate::model::{Origin, catalog::parse_fragment};
        let err = parse_fragment(
            "x",
            "# title: x\nCONFIG_PRINTK=y\nCONFIG_EXTRA_FIRMWARE_DIR=\"/etc\"\n",
            Origin::Embedded,
        )
        .expect_err("refused");
        assert!(
            err.starts_with("line 3: CONFIG_EXTRA_FIRMWARE_DIR names a file"),
            "{err}"
        );
        let err = parse_fragment(
            "x",
            "# CONFIG_BLK_DEV_INITRD is not set\n",
            Origin::Embedded,
        )
        .expect_err("refused");
        assert!(err.contains("always built in"), "{err}");
        parse_fragment(
            "x",
            "# CONFIG_MODULES is not set\nCONFIG_BLK_DEV_INITRD=y\n",
            Origin::Embedded,
        )
        .expect("what the pipeline sets anyway");
    }
}
