//! `ehr --help` and every command's help show examples; the command names users script
//! against stay put; commands of later work say they are not available yet.

use crate::cli_support::{Project, check_failure};

/// Every command path, as users type it.
const COMMANDS: &[&str] = &[
    "dev",
    "dev up",
    "dev down",
    "dev status",
    "dev fund",
    "deploy",
    "account",
    "account new",
    "account import",
    "account list",
    "account address",
    "org",
    "org add",
    "org remove",
    "staff",
    "staff add",
    "staff remove",
    "patient",
    "patient register",
    "key",
    "key register",
    "grant",
    "revoke",
    "reshare",
    "request",
    "requests",
    "approve",
    "deny",
    "relay",
    "relay submit",
    "emergency",
    "emergency open",
    "emergency close",
    "audit",
    "upload",
    "search",
    "fetch",
    "export",
    "claim",
    "claim submit",
    "claim review",
    "claim decide",
    "claim list",
    "claim show",
    "demo",
    "serve",
    "validate",
    "void-signatures",
    "unlogged-reads",
    "store",
    "store status",
    "store repair",
];

#[test]
fn every_help_page_shows_examples() {
    let project = Project::new();
    let top = project.ok(&["--help"]);
    assert!(top.contains("Examples:"), "{top}");
    for command in COMMANDS {
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push("--help");
        let help = project.ok(&args);
        assert!(
            help.contains("Examples:\n  ehr "),
            "`ehr {command} --help` has no example:\n{help}"
        );
        assert!(help.contains("Usage: ehr "), "{help}");
    }
}

#[test]
fn the_foundation_commands_keep_their_names_and_order() {
    let top = Project::new().ok(&["--help"]);
    let listed: Vec<&str> = top
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let foundation = [
        "dev",
        "deploy",
        "account",
        "org",
        "staff",
        "patient",
        "key",
        "grant",
        "revoke",
        "reshare",
        "request",
        "requests",
        "approve",
        "deny",
        "relay",
        "emergency",
        "audit",
    ];
    // Later commands join after these (and `help` comes last).
    assert_eq!(listed[..foundation.len()], foundation, "{listed:?}");
    assert_eq!(listed.last(), Some(&"help"));
}

#[test]
fn commands_of_later_work_say_so_in_one_line() {
    let project = Project::new();
    for name in ["upload", "search", "fetch", "export", "demo", "claim"] {
        // Once a command exists its help works; until then it fails with one clear line.
        if project.ehr().args([name, "--help"]).output().unwrap().status.success() {
            continue;
        }
        let output = project.ehr().args([name, "x"]).output().unwrap();
        let line = check_failure(&output, name);
        assert!(line.contains("is not available yet"), "{line}");
    }
    let line = project.fails(&["grnat"]);
    assert!(line.contains("unknown command"), "{line}");
}
