//! A minimal ELF reader (32/64-bit, little/big endian): enough to tell
//! whether a file is dynamically linked (PT_INTERP, DT_NEEDED), to check a
//! whole tree is static, and to strip it.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::exec::{Step, run_logged};

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const ET_REL: u16 = 1;

/// What `inspect` learnt about a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfInfo {
    /// True when the file starts with the ELF magic.
    pub is_elf: bool,
    /// 32 or 64 (0 when not ELF).
    pub class: u8,
    /// ELF file type (`e_type`: 1 relocatable, 2 executable, 3 shared/PIE).
    pub elf_type: u16,
    /// Requested program interpreter (PT_INTERP), if any.
    pub interp: Option<String>,
    /// Shared libraries named by DT_NEEDED, in order.
    pub needed: Vec<String>,
    /// Has a PT_DYNAMIC segment but no interpreter and no needed libraries.
    pub static_pie: bool,
}

impl ElfInfo {
    /// True for an ELF file that needs no dynamic loader and no shared library.
    pub fn is_static(&self) -> bool {
        self.is_elf && self.interp.is_none() && self.needed.is_empty()
    }

    /// "interpreter X, needs a, b" for error messages.
    pub fn describe_dynamic(&self) -> String {
        let mut parts = Vec::new();
        if let Some(i) = &self.interp {
            parts.push(format!("interpreter {i}"));
        }
        if !self.needed.is_empty() {
            parts.push(format!("needs {}", self.needed.join(", ")));
        }
        parts.join(", ")
    }
}

struct Reader<'a> {
    data: &'a [u8],
    big: bool,
    wide: bool,
}

impl Reader<'_> {
    fn bytes(&self, off: u64, n: usize) -> Result<&[u8]> {
        let start = usize::try_from(off).context("offset too large")?;
        let end = start.checked_add(n).context("offset overflow")?;
        self.data.get(start..end).with_context(|| {
            format!(
                "truncated ELF: wanted bytes {start}..{end} of {}",
                self.data.len()
            )
        })
    }
    fn u16(&self, off: u64) -> Result<u16> {
        let b: [u8; 2] = self.bytes(off, 2)?.try_into()?;
        Ok(if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }
    fn u32(&self, off: u64) -> Result<u32> {
        let b: [u8; 4] = self.bytes(off, 4)?.try_into()?;
        Ok(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
    fn u64(&self, off: u64) -> Result<u64> {
        let b: [u8; 8] = self.bytes(off, 8)?.try_into()?;
        Ok(if self.big {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }
    /// A word: 4 bytes for ELF32, 8 for ELF64.
    fn word(&self, off: u64) -> Result<u64> {
        if self.wide {
            self.u64(off)
        } else {
            self.u32(off).map(u64::from)
        }
    }
    fn cstr(&self, off: u64, limit: u64) -> Result<String> {
        let start = usize::try_from(off).context("offset too large")?;
        let end = usize::try_from(limit)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        let s = self
            .data
            .get(start..end)
            .context("string outside the file")?;
        let len = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        Ok(String::from_utf8_lossy(&s[..len]).into_owned())
    }
}

struct Phdr {
    kind: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
}

/// Parses ELF bytes (an empty/non-ELF input gives `is_elf: false`).
pub fn parse(data: &[u8]) -> Result<ElfInfo> {
    if data.len() < 16 || &data[..4] != b"\x7fELF" {
        return Ok(ElfInfo::default());
    }
    let wide = match data[4] {
        1 => false,
        2 => true,
        c => bail!("unknown ELF class {c}"),
    };
    let big = match data[5] {
        1 => false,
        2 => true,
        d => bail!("unknown ELF data encoding {d}"),
    };
    let r = Reader { data, big, wide };
    let elf_type = r.u16(0x10)?;
    let (phoff, phentsize, phnum) = if wide {
        (r.u64(0x20)?, r.u16(0x36)?, r.u16(0x38)?)
    } else {
        (u64::from(r.u32(0x1c)?), r.u16(0x2a)?, r.u16(0x2c)?)
    };
    let mut phdrs = Vec::new();
    for i in 0..u64::from(phnum) {
        let base = phoff + i * u64::from(phentsize);
        let ph = if wide {
            Phdr {
                kind: r.u32(base)?,
                offset: r.u64(base + 8)?,
                vaddr: r.u64(base + 16)?,
                filesz: r.u64(base + 32)?,
            }
        } else {
            Phdr {
                kind: r.u32(base)?,
                offset: u64::from(r.u32(base + 4)?),
                vaddr: u64::from(r.u32(base + 8)?),
                filesz: u64::from(r.u32(base + 16)?),
            }
        };
        phdrs.push(ph);
    }
    let mut info = ElfInfo {
        is_elf: true,
        class: if wide { 64 } else { 32 },
        elf_type,
        ..ElfInfo::default()
    };
    if let Some(p) = phdrs.iter().find(|p| p.kind == PT_INTERP) {
        info.interp = Some(r.cstr(p.offset, p.offset.saturating_add(p.filesz))?);
    }
    let mut has_dynamic = false;
    if let Some(dynp) = phdrs.iter().find(|p| p.kind == PT_DYNAMIC) {
        has_dynamic = true;
        let ent = if wide { 16 } else { 8 };
        let mut needed_offs = Vec::new();
        let (mut strtab, mut strsz) = (None, None);
        let mut off = dynp.offset;
        while off + ent <= dynp.offset.saturating_add(dynp.filesz) {
            let tag = r.word(off)?;
            let val = r.word(off + ent / 2)?;
            match tag {
                DT_NULL => break,
                DT_NEEDED => needed_offs.push(val),
                DT_STRTAB => strtab = Some(val),
                DT_STRSZ => strsz = Some(val),
                _ => {}
            }
            off += ent;
        }
        if !needed_offs.is_empty() {
            let addr = strtab.context("DT_NEEDED without DT_STRTAB")?;
            // DT_STRTAB is a virtual address: map it through the PT_LOAD segments.
            let file_off = phdrs
                .iter()
                .filter(|p| p.kind == PT_LOAD)
                .find(|p| addr >= p.vaddr && addr < p.vaddr.saturating_add(p.filesz))
                .map(|p| p.offset + (addr - p.vaddr))
                .context("DT_STRTAB is outside every PT_LOAD segment")?;
            let limit = strsz.map_or(data.len() as u64, |s| file_off.saturating_add(s));
            for n in needed_offs {
                info.needed.push(r.cstr(file_off + n, limit)?);
            }
        }
    }
    info.static_pie = has_dynamic && info.interp.is_none() && info.needed.is_empty();
    Ok(info)
}

/// Inspects the file at `path` (non-ELF files give `is_elf: false`).
pub fn inspect(path: &Path) -> Result<ElfInfo> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = f
            .read(&mut magic[got..])
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            return Ok(ElfInfo::default());
        }
        got += n;
    }
    if &magic != b"\x7fELF" {
        return Ok(ElfInfo::default());
    }
    let data = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&data).with_context(|| format!("parsing ELF file {}", path.display()))
}

/// All regular files under `root` (symlinks not followed), sorted by path.
fn regular_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let e = e.with_context(|| format!("reading {}", dir.display()))?;
            let ft = e
                .file_type()
                .with_context(|| format!("reading type of {}", e.path().display()))?;
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Returns every ELF file under `root`; fails naming the first dynamically
/// linked one (relative path, interpreter and needed libraries).
pub fn check_static_tree(root: &Path) -> Result<Vec<PathBuf>> {
    let mut elves = Vec::new();
    for path in regular_files(root)? {
        let info = inspect(&path)?;
        if !info.is_elf {
            continue;
        }
        if !info.is_static() {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            bail!(
                "{} is dynamically linked ({}); every binary must be static",
                rel.display(),
                info.describe_dynamic()
            );
        }
        elves.push(path);
    }
    Ok(elves)
}

/// Runs `strip --strip-all` (the program `strip`, e.g. `aarch64-linux-gnu-strip` for a
/// cross build) on every ELF file under `root` except relocatable objects and
/// `.a`/`.o`/`.ko` files; returns the stripped files.
pub fn strip_tree(root: &Path, strip: &str, log: &Path) -> Result<Vec<PathBuf>> {
    let mut stripped = Vec::new();
    for path in regular_files(root)? {
        let skip_ext = path
            .extension()
            .is_some_and(|e| e == "a" || e == "o" || e == "ko");
        if skip_ext {
            continue;
        }
        let info = inspect(&path)?;
        if !info.is_elf || info.elf_type == ET_REL {
            continue;
        }
        run_logged(&Step::new(
            [
                strip.to_string(),
                "--strip-all".to_string(),
                path.display().to_string(),
            ],
            log,
        ))
        .with_context(|| format!("stripping {}", path.display()))?;
        stripped.push(path);
    }
    Ok(stripped)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = "#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}\n";

    fn compile(cc: &str, extra: &[&str], dir: &Path, out: &str) -> PathBuf {
        let src = dir.join("hello.c");
        fs::write(&src, HELLO).expect("write source");
        let exe = dir.join(out);
        let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        args.extend([
            "-o".into(),
            exe.display().to_string(),
            src.display().to_string(),
        ]);
        duct::cmd(cc, args).run().expect("compiler runs");
        exe
    }

    #[test]
    fn not_elf() {
        assert!(!parse(b"#!/bin/sh\n").expect("parse").is_elf);
        assert!(!parse(b"").expect("parse").is_elf);
        assert!(!parse(b"\x7fELF\x02\x01\x01").expect("short").is_elf);
    }

    #[test]
    fn static_ok_dynamic_named() {
        let d = tempfile::tempdir().expect("tempdir");
        let root = d.path().join("root");
        fs::create_dir_all(root.join("bin")).expect("mkdir");
        fs::create_dir_all(root.join("usr/bin")).expect("mkdir");
        let st = compile("musl-gcc", &["-static", "-Os"], &root.join("bin"), "hello");
        fs::write(root.join("bin/script"), "#!/bin/sh\n").expect("w");
        let info = inspect(&st).expect("inspect");
        assert!(
            info.is_elf && info.is_static() && info.class == 64,
            "{info:?}"
        );
        let elves = check_static_tree(&root).expect("static tree");
        assert_eq!(elves, vec![st.clone()]);

        let before = fs::metadata(&st).expect("meta").len();
        let log = d.path().join("strip.log");
        assert_eq!(
            strip_tree(&root, "strip", &log).expect("strip"),
            vec![st.clone()]
        );
        assert!(fs::metadata(&st).expect("meta").len() <= before);

        let dy = compile("gcc", &[], &root.join("usr/bin"), "dyn");
        let info = inspect(&dy).expect("inspect");
        assert!(!info.is_static());
        assert_eq!(info.needed, ["libc.so.6"]);
        assert!(
            info.interp
                .as_deref()
                .is_some_and(|i| i.contains("ld-linux")),
            "{info:?}"
        );
        let err = format!("{:#}", check_static_tree(&root).expect_err("dynamic"));
        assert!(
            err.starts_with("usr/bin/dyn is dynamically linked"),
            "{err}"
        );
        assert!(err.contains("libc.so.6"), "{err}");
        assert!(err.contains("ld-linux-x86-64.so.2"), "{err}");
    }

    #[test]
    fn static_pie_and_32bit() {
        let d = tempfile::tempdir().expect("tempdir");
        // Debian's musl-gcc wrapper silently links `-static-pie` against
        // libc.so: the checker must see through that.
        let src = d.path().join("hello.c");
        fs::write(&src, HELLO).expect("write");
        let exe = d.path().join("musl-spie");
        if duct::cmd!("musl-gcc", "-static-pie", "-fPIE", "-o", &exe, &src)
            .stderr_null()
            .run()
            .is_ok()
        {
            let info = inspect(&exe).expect("inspect");
            if !info.is_static() {
                assert!(
                    info.needed.iter().any(|n| n.starts_with("libc.so")),
                    "{info:?}"
                );
            }
        }
        // A real static PIE: PT_DYNAMIC (for self-relocation) but no
        // interpreter and no DT_NEEDED.
        let start = d.path().join("start.c");
        fs::write(
            &start,
            "void _start(void){__asm__ volatile(\"mov $60,%eax\\nxor %edi,%edi\\nsyscall\");}\n",
        )
        .expect("write");
        let exe = d.path().join("spie");
        duct::cmd!(
            "gcc",
            "-nostdlib",
            "-static-pie",
            "-fPIE",
            "-o",
            &exe,
            &start
        )
        .run()
        .expect("gcc -static-pie");
        let info = inspect(&exe).expect("inspect");
        assert!(
            info.static_pie && info.is_static() && info.elf_type == 3,
            "{info:?}"
        );
        duct::cmd!(&exe).run().expect("static pie runs");
        // A 32-bit big-endian-agnostic check: a hand-made minimal ELF32 BE header.
        let mut h = vec![0u8; 52];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 1; // ELF32
        h[5] = 2; // big endian
        h[0x10..0x12].copy_from_slice(&2u16.to_be_bytes());
        let info = parse(&h).expect("parse");
        assert!(info.is_elf && info.class == 32 && info.elf_type == 2 && info.is_static());
    }
}
