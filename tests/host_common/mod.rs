//! The host table as the tests see it: a folder of links to the programs it names.
#![allow(dead_code)]

use std::process::Command;

/// A folder holding only links to the programs the host table names (as `stali doctor
/// --json` locates them), less those in `except`: with `PATH` set to it, a command can
/// run nothing else.
pub fn doctor_path(except: &[&str]) -> tempfile::TempDir {
    let o = Command::new(env!("CARGO_BIN_EXE_stali"))
        .args(["doctor", "--json"])
        .output()
        .expect("run stali doctor");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "stali doctor:\n{out}");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("doctor json");
    let dir = tempfile::tempdir().expect("tempdir");
    for r in j["requirements"].as_array().expect("requirements") {
        for item in r["items"].as_array().expect("items") {
            let name = item["name"].as_str().expect("name");
            if item["on_path"] != true || except.contains(&name) {
                continue;
            }
            let path = item["path"].as_str().expect("located");
            let link = dir.path().join(name);
            if !link.exists() {
                std::os::unix::fs::symlink(path, &link).expect("link a program");
            }
        }
    }
    dir
}
