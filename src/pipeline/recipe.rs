//! Turns a tool's build style into argument vectors: `make`, `autotools` or explicit steps,
//! with `${VAR}` substitution and never a shell.

use std::path::Path;

use crate::model::{BuildStyle, ToolDef};

/// The variables every recipe sees, fixed per build for reproducibility.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// C compiler (`musl-gcc`).
    pub cc: String,
    /// For a cross build: the text of a musl-gcc-like wrapper script (the cross gcc with
    /// musl's specs file) that each package build writes into its work folder and uses as
    /// `CC`.
    pub wrapper: Option<String>,
    /// `strip` for the target (`aarch64-linux-gnu-strip` for a cross build).
    pub strip: String,
    /// What runs a program built for the target on this machine, as `${RUN}`: nothing
    /// natively, QEMU's user-mode emulator for another architecture (`qemu-aarch64`).
    pub runner: String,
    /// Target triple for `./configure --host`.
    pub host: String,
    /// Parallel jobs inside one package.
    pub jobs: usize,
}

/// The per-package paths a recipe runs with.
#[derive(Debug, Clone)]
pub struct Dirs<'a> {
    /// The package's source tree (working directory).
    pub src: &'a Path,
    /// Headers and static libraries of its dependencies, kernel headers included.
    pub sysroot: &'a Path,
    /// Empty staging directory that `make install` fills.
    pub destdir: &'a Path,
}

/// The value of each recipe variable for one package.
pub fn variables(tc: &Toolchain, d: &Dirs<'_>) -> Vec<(&'static str, String)> {
    let sysroot = d.sysroot.display().to_string();
    vec![
        ("CC", tc.cc.clone()),
        (
            "CFLAGS",
            format!(
                "-Os -pipe -ffile-prefix-map={}=. -isystem {sysroot}/usr/include",
                d.src.display()
            ),
        ),
        ("LDFLAGS", format!("-static -s -L{sysroot}/usr/lib")),
        ("DESTDIR", d.destdir.display().to_string()),
        ("PREFIX", "/usr".to_string()),
        ("JOBS", tc.jobs.to_string()),
        ("SYSROOT", sysroot),
        ("HOST", tc.host.clone()),
        ("RUN", tc.runner.clone()),
    ]
}

/// Replaces every `${NAME}` of a known variable; unknown ones are left as written.
pub fn substitute(arg: &str, vars: &[(&str, String)]) -> String {
    let mut out = arg.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    out
}

fn var<'a>(vars: &'a [(&str, String)], k: &str) -> &'a str {
    vars.iter()
        .find(|(n, _)| *n == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// The commands that build and install `tool`, plus environment variables for all of them.
pub fn commands(
    tool: &ToolDef,
    tc: &Toolchain,
    d: &Dirs<'_>,
) -> (Vec<Vec<String>>, Vec<(String, String)>) {
    let vars = variables(tc, d);
    let v = |k: &str| var(&vars, k).to_string();
    let mut env: Vec<(String, String)> = tool
        .env
        .iter()
        .map(|(k, val)| (k.clone(), substitute(val, &vars)))
        .collect();
    let extra = |flags: &[String]| {
        flags
            .iter()
            .map(|f| substitute(f, &vars))
            .collect::<Vec<_>>()
    };
    let steps = match &tool.build {
        BuildStyle::Make => {
            let common = vec![
                format!("CC={}", v("CC")),
                format!("CFLAGS={}", v("CFLAGS")),
                format!("LDFLAGS={}", v("LDFLAGS")),
                format!("PREFIX={}", v("PREFIX")),
                format!("DESTDIR={}", v("DESTDIR")),
            ];
            let mut build = vec!["make".to_string(), format!("-j{}", tc.jobs)];
            build.extend(common.clone());
            build.extend(extra(&tool.make_flags));
            let mut install = vec!["make".to_string(), "install".to_string()];
            install.extend(common);
            install.extend(extra(&tool.make_flags));
            vec![build, install]
        }
        BuildStyle::Autotools => {
            env.push(("CC".into(), v("CC")));
            env.push(("CFLAGS".into(), v("CFLAGS")));
            env.push(("LDFLAGS".into(), v("LDFLAGS")));
            let mut configure = vec![
                "./configure".to_string(),
                format!("--host={}", v("HOST")),
                "--prefix=/usr".to_string(),
                "--disable-shared".to_string(),
                "--enable-static".to_string(),
            ];
            configure.extend(extra(&tool.configure_flags));
            let mut make = vec!["make".to_string(), format!("-j{}", tc.jobs)];
            make.extend(extra(&tool.make_flags));
            let mut install = vec![
                "make".to_string(),
                "install".to_string(),
                format!("DESTDIR={}", v("DESTDIR")),
            ];
            install.extend(extra(&tool.make_flags));
            vec![configure, make, install]
        }
        BuildStyle::Steps(steps) => steps
            .iter()
            .map(|argv| {
                let mut out: Vec<String> = argv.iter().map(|a| substitute(a, &vars)).collect();
                // A leading `${RUN}` is no word at all where programs run natively.
                if argv.first().is_some_and(|a| a == "${RUN}")
                    && out.first().is_some_and(String::is_empty)
                {
                    out.remove(0);
                }
                out
            })
            .collect(),
    };
    (steps, env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Origin, Source};

    fn tool(build: BuildStyle) -> ToolDef {
        ToolDef {
            name: "t".into(),
            description: String::new(),
            long: String::new(),
            category: "core".into(),
            source: Source::Git {
                url: "file:///x".into(),
                rev: "0".repeat(40),
                exclude: Vec::new(),
            },
            license: "MIT".into(),
            build,
            make_flags: vec!["V=1".into()],
            configure_flags: vec!["--without-x".into()],
            env: vec![("FOO".into(), "${SYSROOT}/x".into())],
            depends: vec![],
            provides: vec![],
            conflicts: vec![],
            size: 0,
            size_source: String::new(),
            compressed: None,
            untested: None,
            modes: Default::default(),
            untested_on: Default::default(),
            track: None,
            services: Vec::new(),
            origin: Origin::Profile,
        }
    }

    fn dirs() -> (
        Toolchain,
        std::path::PathBuf,
        std::path::PathBuf,
        std::path::PathBuf,
    ) {
        (
            Toolchain {
                cc: "musl-gcc".into(),
                wrapper: None,
                strip: "strip".into(),
                runner: String::new(),
                host: "x86_64-linux-musl".into(),
                jobs: 2,
            },
            "/c/src".into(),
            "/c/sys".into(),
            "/c/dest".into(),
        )
    }

    #[test]
    fn make_passes_variables_and_flags_to_both_runs() {
        let (tc, s, y, d) = dirs();
        let (steps, env) = commands(
            &tool(BuildStyle::Make),
            &tc,
            &Dirs {
                src: &s,
                sysroot: &y,
                destdir: &d,
            },
        );
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0][..2], ["make", "-j2"]);
        assert!(steps[0].contains(&"CC=musl-gcc".to_string()));
        assert!(steps[0].contains(&"LDFLAGS=-static -s -L/c/sys/usr/lib".to_string()));
        assert!(steps[1].contains(&"DESTDIR=/c/dest".to_string()));
        assert!(steps[1].contains(&"V=1".to_string()));
        assert_eq!(env, vec![("FOO".to_string(), "/c/sys/x".to_string())]);
    }

    #[test]
    fn autotools_configures_for_the_host_statically() {
        let (tc, s, y, d) = dirs();
        let (steps, env) = commands(
            &tool(BuildStyle::Autotools),
            &tc,
            &Dirs {
                src: &s,
                sysroot: &y,
                destdir: &d,
            },
        );
        assert_eq!(
            steps[0],
            [
                "./configure",
                "--host=x86_64-linux-musl",
                "--prefix=/usr",
                "--disable-shared",
                "--enable-static",
                "--without-x"
            ]
        );
        assert!(
            env.iter()
                .any(|(k, v)| k == "CFLAGS" && v.contains("-ffile-prefix-map=/c/src=."))
        );
        assert_eq!(steps[2][..3], ["make", "install", "DESTDIR=/c/dest"]);
    }

    #[test]
    fn steps_substitute_known_variables_only() {
        let (tc, s, y, d) = dirs();
        let t = tool(BuildStyle::Steps(vec![vec![
            "${CC}".into(),
            "-o".into(),
            "${DESTDIR}/bin/x".into(),
            "${UNKNOWN}".into(),
        ]]));
        let (steps, _) = commands(
            &t,
            &tc,
            &Dirs {
                src: &s,
                sysroot: &y,
                destdir: &d,
            },
        );
        assert_eq!(steps[0], ["musl-gcc", "-o", "/c/dest/bin/x", "${UNKNOWN}"]);
    }

    #[test]
    fn run_is_the_target_runner_or_no_word_at_all() {
        let (mut tc, s, y, d) = dirs();
        let t = tool(BuildStyle::Steps(vec![vec![
            "${RUN}".into(),
            "${DESTDIR}/bin/box".into(),
            "-i".into(),
        ]]));
        let dirs = Dirs {
            src: &s,
            sysroot: &y,
            destdir: &d,
        };
        assert_eq!(commands(&t, &tc, &dirs).0[0], ["/c/dest/bin/box", "-i"]);
        tc.runner = "qemu-aarch64".into();
        assert_eq!(
            commands(&t, &tc, &dirs).0[0],
            ["qemu-aarch64", "/c/dest/bin/box", "-i"]
        );
    }
}
