//! Shared by the `cli_*` tests: the `ehr` binary (built once per test process), a scratch
//! project directory with a running dev stack, and checks of the one-line error contract.

#![allow(dead_code, unreachable_pub)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The `ehr` binary. `cargo test -p ehrkit-tests` does not build other packages' binaries,
/// so it is built here once (`EHR_BIN` names a prebuilt one instead).
pub fn ehr_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("EHR_BIN") {
            return PathBuf::from(path);
        }
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "ehr-cli", "--bin", "ehr"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the ehr binary failed");
        // The test binary is target/<profile>/deps/<name>; ehr is target/<profile>/ehr.
        let exe = std::env::current_exe().expect("the test binary has a path");
        exe.parent().and_then(Path::parent).expect("target/<profile>").join("ehr")
    })
}

/// `ehr` in `dir` with a clean environment: no inherited ehrkit or Foundry variables.
pub fn ehr(dir: &Path) -> Command {
    Command::from_std(std_ehr(dir))
}

/// [`ehr`] as a plain process command (to spawn several at once).
pub fn std_ehr(dir: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(ehr_bin());
    command.current_dir(dir);
    for var in [
        "ETH_RPC_URL",
        "EHR_PRIVATE_KEY",
        "EHR_KEYSTORE",
        "EHR_ACCOUNT",
        "EHR_PASSWORD_FILE",
        "EHR_DEPLOYMENT",
        "EHR_STORE",
        "EHR_CONFIG",
        "EHR_DATA_DIR",
        "RUST_BACKTRACE",
    ] {
        command.env_remove(var);
    }
    // The dev stack's binaries come from the checkout's .tools, whatever the cwd.
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools");
    command.env("EHR_TOOLS_DIR", tools);
    command
}

/// A scratch project directory; when it holds a dev stack, dropping it runs `ehr dev down`
/// (also when the test panics), so no anvil or kubo outlives the test.
pub struct Project {
    pub dir: tempfile::TempDir,
    stack: bool,
}

impl Project {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("a temporary directory"), stack: false }
    }

    /// A project with `ehr dev up` already run (the embedded store).
    pub fn with_stack() -> Self {
        Self::with_stack_args(&["dev", "up"])
    }

    /// A project with `ehr dev up --kubo` already run (a real kubo as the store).
    pub fn with_kubo_stack() -> Self {
        Self::with_stack_args(&["dev", "up", "--kubo"])
    }

    fn with_stack_args(args: &[&str]) -> Self {
        let mut project = Self::new();
        project.ok(args);
        project.stack = true;
        project
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn ehr(&self) -> Command {
        ehr(self.path())
    }

    /// Starts `ehr ARGS` without waiting for it, its output captured.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        std_ehr(self.path())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("ehr starts")
    }

    /// Runs `ehr ARGS`, requires success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.ehr().args(args).output().expect("ehr runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "`ehr {}` failed:\n{stderr}\n{stdout}", args.join(" "));
        stdout
    }

    /// Runs `ehr ARGS --json` and parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        let text = self.ok(&all);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("`ehr {}`: {e}: {text}", all.join(" ")))
    }

    /// Runs `ehr ARGS`, requires the one-line failure, returns the error line.
    pub fn fails(&self, args: &[&str]) -> String {
        let output = self.ehr().args(args).output().expect("ehr runs");
        check_failure(&output, &args.join(" "))
    }

    /// Creates a keystore account `name` (password file `pw`) and funds it.
    pub fn account(&self, name: &str) -> String {
        std::fs::write(self.path().join("pw"), "correct horse\n").unwrap();
        let account = self.json(&["account", "new", name, "--password-file", "pw", "--fast-kdf"]);
        let address = account["address"].as_str().unwrap().to_owned();
        self.ok(&["dev", "fund", &address]);
        address
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if self.stack {
            let _ = self.ehr().args(["dev", "down"]).output();
        }
    }
}

/// A failed run's contract: non-zero exit, empty stdout, a first stderr line `error: …`, no
/// other error line, no panic; a hint line at most. Returns the error line.
pub fn check_failure(output: &std::process::Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "`ehr {what}` should fail; stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "`ehr {what}` panicked: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let first = lines.first().copied().unwrap_or_default();
    assert!(first.starts_with("error: "), "`ehr {what}`: first stderr line is {first:?}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("error")).count(),
        1,
        "`ehr {what}`: one error line: {stderr}"
    );
    for line in &lines[1..] {
        assert!(
            line.starts_with("hint: ") || line.starts_with("For more information"),
            "`ehr {what}`: unexpected stderr line {line:?}"
        );
    }
    first.to_owned()
}
