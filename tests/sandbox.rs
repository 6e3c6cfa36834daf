//! Package build steps run confined by bubblewrap: a recipe that writes to /etc, reads
//! the builder's home or opens a network connection fails, and the host is untouched.
//! The kernel is a stand-in tree (only `headers_install`), so no kernel is built: the
//! build stops at the kernel stage, after the packages.

use std::path::Path;
use std::process::{Command, Output};

fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .output()
        .expect("git runs");
    assert!(o.status.success(), "git {args:?}");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Builds a profile whose one tool runs `steps` (TOML); returns the build's output.
fn build_with_steps(d: &Path, steps: &str) -> Output {
    build_with_tools(d, &[("probe", steps, "")])
}

/// Builds a profile of the tools `(name, steps, more recipe keys)`, all from one fixture
/// source; returns the build's output.
fn build_with_tools(d: &Path, tools: &[(&str, &str, &str)]) -> Output {
    let k = d.join("kernel");
    std::fs::create_dir_all(&k).expect("mkdir");
    std::fs::write(
        k.join("Makefile"),
        "headers_install:\n\tmkdir -p $(INSTALL_HDR_PATH)/include\n",
    )
    .expect("Makefile");
    std::fs::write(k.join("Kconfig"), "").expect("Kconfig");
    let src = d.join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("README"), "x\n").expect("write");
    git(&src, &["init", "-q"]);
    git(&src, &["add", "-A"]);
    git(&src, &["commit", "-qm", "x"]);
    let rev = git(&src, &["rev-parse", "HEAD"]);
    let names: Vec<String> = tools.iter().map(|t| format!("\"{}\"", t.0)).collect();
    let mut text = format!(
        "format = 1\nname = \"sb\"\n[tools]\nselect = [{}]\n[kernel]\nsource = {{ path = \"{}\" }}\n",
        names.join(", "),
        k.display()
    );
    for (name, steps, extra) in tools {
        text.push_str(&format!(
            "[[tool]]\nname = \"{name}\"\ndescription = \"probe\"\ngit = \"file://{}\"\nrev = \"{rev}\"\n\
             build = {{ steps = {steps} }}\nsize = 1\n{extra}\n",
            src.display()
        ));
    }
    let profile = d.join("p.toml");
    std::fs::write(&profile, text).expect("profile");
    Command::new(env!("CARGO_BIN_EXE_stali"))
        .arg("build")
        .arg(&profile)
        .arg("--trust")
        .arg("--cache")
        .arg(d.join("cache"))
        .arg("-o")
        .arg(d.join("o.iso"))
        .env("STALI_CONFIG_DIR", "/nonexistent-stali-config")
        .output()
        .expect("stali runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_recipe_cannot_write_to_etc() {
    let d = tempfile::tempdir().expect("tempdir");
    let marker = format!("/etc/stali-sandbox-test-{}", std::process::id());
    let o = build_with_steps(d.path(), &format!("[[\"touch\", \"{marker}\"]]"));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("`touch {marker}` exited with code 1")),
        "{err}"
    );
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(!Path::new(&marker).exists());
}

#[test]
fn a_recipe_cannot_read_the_builders_home_nor_reach_the_network() {
    let d = tempfile::tempdir().expect("tempdir");
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let o = build_with_steps(d.path(), &format!("[[\"ls\", \"{home}\"]]"));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("No such file or directory"), "{err}");

    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    l.set_nonblocking(true).expect("nonblocking");
    let port = l.local_addr().expect("addr").port();
    let d = tempfile::tempdir().expect("tempdir");
    let o = build_with_steps(
        d.path(),
        &format!("[[\"bash\", \"-c\", \"echo hi > /dev/tcp/127.0.0.1/{port}\"]]"),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(l.accept().is_err(), "a recipe reached the host's network");
}

#[test]
fn a_recipe_writes_its_own_folders() {
    let d = tempfile::tempdir().expect("tempdir");
    let o = build_with_steps(
        d.path(),
        "[[\"mkdir\", \"-p\", \"${DESTDIR}/usr/share/probe\"], [\"touch\", \"${DESTDIR}/usr/share/probe/ok\"]]",
    );
    // The packages are done; the stand-in kernel stops the build after them.
    let err = stderr(&o);
    assert!(err.contains("tinyconfig"), "{err}");
    let pkg = std::fs::read_dir(d.path().join("cache/pkg"))
        .expect("pkg")
        .flatten()
        .next()
        .expect("a package");
    assert!(pkg.path().join("staging/usr/share/probe/ok").is_file());
}

#[test]
fn a_package_link_out_of_the_image_is_never_merged_through() {
    let d = tempfile::tempdir().expect("tempdir");
    // Stands for the builder's /etc: a folder outside the build that nothing may touch.
    let host = d.path().join("host-etc");
    std::fs::create_dir_all(&host).expect("mkdir");
    std::fs::write(host.join("passwd"), "host\n").expect("write");
    let link = format!(
        "[[\"mkdir\", \"-p\", \"${{DESTDIR}}/usr\"], [\"ln\", \"-s\", \"{}\", \"${{DESTDIR}}/usr/share\"]]",
        host.display()
    );
    let write = "[[\"mkdir\", \"-p\", \"${DESTDIR}/usr/share/x\"], [\"cp\", \"README\", \"${DESTDIR}/usr/share/passwd\"], [\"chmod\", \"1777\", \"${DESTDIR}/usr/share/x\"]]";
    let o = build_with_tools(d.path(), &[("linker", &link, ""), ("writer", write, "")]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "writer installs files below /usr/share, which linker installs as a link to {}: stali never merges through a link",
            host.display()
        )),
        "{err}"
    );
    let names: Vec<_> = std::fs::read_dir(&host)
        .expect("host")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, ["passwd"], "files written onto the host");
    assert_eq!(std::fs::read(host.join("passwd")).expect("read"), b"host\n");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&host).expect("meta").permissions().mode();
    assert_eq!(mode & 0o7777, 0o755, "the host folder was chmodded");
}

#[test]
fn setuid_bits_reach_the_image_only_when_declared() {
    let d = tempfile::tempdir().expect("tempdir");
    let steps = "[[\"mkdir\", \"-p\", \"${DESTDIR}/bin\"], [\"cp\", \"README\", \"${DESTDIR}/bin/su\"], [\"cp\", \"README\", \"${DESTDIR}/bin/passwd\"], [\"chmod\", \"4755\", \"${DESTDIR}/bin/su\", \"${DESTDIR}/bin/passwd\"]]";
    let o = build_with_tools(
        d.path(),
        &[("probe", steps, "modes = { \"/bin/passwd\" = \"4755\" }")],
    );
    // The image is merged before the stand-in kernel stops the build.
    let err = stderr(&o);
    assert!(err.contains("tinyconfig"), "{err}");
    assert!(
        err.contains("probe: /bin/su installed with mode 0755 instead of 4755"),
        "{err}"
    );
    assert!(!err.contains("/bin/passwd installed"), "{err}");
}
