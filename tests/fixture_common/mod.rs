//! Fixture sources as real git repositories: a folder of `tests/fixtures` committed into a
//! new repository, which a profile then names by its `file://` URL and head commit.

use std::path::Path;

/// Makes a real git repository at `into` holding the files of `tests/fixtures/FIXTURE` and
/// returns its head commit.
pub fn fixture_repo(fixture: &str, into: &Path) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let repo = git2::Repository::init(into).expect("git init");
    let mut index = repo.index().expect("index");
    for entry in std::fs::read_dir(&src).expect("fixture") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        std::fs::copy(entry.path(), into.join(&name)).expect("copy fixture file");
        index.add_path(Path::new(&name)).expect("add");
    }
    index.write().expect("write index");
    let tree = repo
        .find_tree(index.write_tree().expect("tree"))
        .expect("tree");
    let sig = git2::Signature::new(
        "stali tests",
        "tests@stali.invalid",
        &git2::Time::new(1_451_606_400, 0),
    )
    .expect("sig");
    let oid = repo
        .commit(
            Some("HEAD"),
            &sig,
            &sig,
            &format!("fixture {fixture}"),
            &tree,
            &[],
        )
        .expect("commit");
    oid.to_string()
}
