//! The README's "Using `ehr`" walk-through, run as it stands, so it cannot rot: the shell
//! block is taken from README.md and run by bash (`-e`, so any failing command fails the
//! test) in a scratch directory holding the repository's `docs/examples`, with the `ehr`
//! under test first on PATH. Its one install line (`cargo install …`) is left out: the binary
//! under test is what it would install.

use crate::cli_support::{ehr, ehr_bin};
use std::path::Path;

const INSTALL_LINE: &str = "cargo install ";

/// The first ```sh block after the "## Using `ehr`" heading.
fn walkthrough(readme: &str) -> String {
    let section = readme.split_once("## Using `ehr`").expect("README has a Using `ehr` section").1;
    let block = section.split_once("```sh\n").expect("the section has a sh block").1;
    block.split_once("```").expect("the block is closed").0.to_owned()
}

/// Stops the walk-through's dev stack if the script failed before its `ehr dev down`.
struct StackGuard<'a>(&'a Path);

impl Drop for StackGuard<'_> {
    fn drop(&mut self) {
        let _ = ehr(self.0).args(["dev", "down"]).output();
    }
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let script = walkthrough(&readme);
    let lines: Vec<&str> = script.lines().collect();
    assert_eq!(
        lines.iter().filter(|l| l.starts_with(INSTALL_LINE)).count(),
        1,
        "one install line, first: {script}"
    );
    assert!(lines[0].starts_with(INSTALL_LINE), "{script}");
    let body = lines[1..].join("\n");

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("docs/examples")).unwrap();
    let example = root.join("docs/examples/hba1c.json");
    std::fs::copy(&example, dir.path().join("docs/examples/hba1c.json")).unwrap();
    let _guard = StackGuard(dir.path());

    let bin_dir = ehr_bin().parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let output = std::process::Command::new("bash")
        .args(["-e", "-o", "pipefail", "-c", &body])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("EHR_TOOLS_DIR", root.join(".tools"))
        .env_remove("ETH_RPC_URL")
        .env_remove("EHR_DATA_DIR")
        .env_remove("EHR_ACCOUNT")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the walk-through failed:\n{stderr}\n{stdout}");

    // What the walk-through says happens, happened.
    assert!(stdout.contains("verified at block"), "the search was verified: {stdout}");
    assert_eq!(
        std::fs::read(dir.path().join("hba1c-copy.json")).unwrap(),
        std::fs::read(&example).unwrap(),
        "the fetched record is the uploaded one, byte for byte"
    );
    assert!(stdout.contains("refused, as it should be"), "after revoke: {stdout}");
    assert!(
        stderr.contains("may not write lab records") || stderr.contains("holds no keys"),
        "the refusal says why: {stderr}"
    );
    assert!(stdout.contains("revoked") || stdout.contains("Revoked"), "the audit: {stdout}");
}
