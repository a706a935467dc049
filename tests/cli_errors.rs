//! Bad input and broken setups: every failure exits non-zero with one clear `error:` line on
//! stderr (and at most a hint), never a panic or a wall of text.

use crate::cli_support::Project;

const SOMEONE: &str = "0x00000000000000000000000000000000000000a1";

#[test]
fn malformed_arguments_are_refused_before_anything_runs() {
    let p = Project::new();
    let cases: &[(&[&str], &str)] = &[
        (&["grant", SOMEONE, "--scope", "folder:x"], "unknown scope kind"),
        (&["grant", SOMEONE, "--scope", "record:0"], "record ids start at 1"),
        (&["grant", SOMEONE, "--scope", "all", "--expires", "30x"], "unknown unit \"x\""),
        (&["grant", SOMEONE, "--scope", "all", "--expires", "9999d"], "too long"),
        (&["grant", SOMEONE, "--scope", "all", "--purpose", "fun"], "unknown purpose"),
        (&["grant", "0x1234", "--scope", "all"], "0x followed by 40 hex digits"),
        (&["request", SOMEONE, "--scope", "all", "--reason", "x", "--ttl", "0s"], "zero"),
        (&["audit", SOMEONE, "--since", "yesterday"], "invalid date"),
        (
            &["org", "add", SOMEONE, "--kind", "pharmacy", "--name", "x"],
            "unknown organization kind",
        ),
        (&["dev", "fund", SOMEONE, "--eth", "lots"], "invalid amount"),
        (&["emergency", "open", SOMEONE, "--reason", "x", "--hours", "99"], "99"),
    ];
    for (args, expected) in cases {
        let line = p.fails(args);
        assert!(line.contains(expected), "`ehr {}`: {line}", args.join(" "));
    }
}

#[test]
fn broken_setups_say_what_is_wrong() {
    let p = Project::new();
    // No deployment file.
    let line = p.fails(&["audit", SOMEONE]);
    assert!(line.contains("no deployment file at .ehr/deployment.json"), "{line}");
    // An RPC node that is not there.
    let deployment = serde_json::json!({
        "format": 2, "chainId": 31337, "deployer": SOMEONE, "deployedAtBlock": 1,
        "roleRegistry": SOMEONE, "consentRegistry": SOMEONE, "recordIndex": SOMEONE,
        "claimRegistry": SOMEONE,
    });
    std::fs::write(p.path().join("d.json"), deployment.to_string()).unwrap();
    let line =
        p.fails(&["audit", SOMEONE, "--deployment", "d.json", "--rpc-url", "http://127.0.0.1:1"]);
    assert!(line.contains("cannot reach the RPC node at http://127.0.0.1:1/"), "{line}");
    // An RPC node that takes the connection and never answers: the deadline ends it.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap(); // never accepts
    let url = format!("http://{}", silent.local_addr().unwrap());
    let args =
        ["audit", SOMEONE, "--deployment", "d.json", "--rpc-url", &url, "--rpc-timeout", "1"];
    // A guard only, far above the 1 s deadline (+ 3 retries): a broken deadline fails here
    // instead of hanging the suite.
    let output = p.ehr().args(args).timeout(std::time::Duration::from_secs(120)).output().unwrap();
    let line = crate::cli_support::check_failure(&output, &args.join(" "));
    assert!(line.contains(&format!("cannot reach the RPC node at {url}/")), "{line}");
    assert!(line.contains("no answer within 1 s"), "{line}");
    let line = p.fails(&["audit", SOMEONE, "--rpc-timeout", "0"]);
    assert!(line.contains("--rpc-timeout") && line.contains("0"), "{line}");
    // A config file that does not parse.
    std::fs::write(p.path().join("ehr.toml"), "rpc = 1\n").unwrap();
    let line = p.fails(&["audit", SOMEONE]);
    assert!(line.contains("ehr.toml") && line.contains("unknown field"), "{line}");
    std::fs::remove_file(p.path().join("ehr.toml")).unwrap();
    // Keystores: a wrong password, no password and no terminal, an unknown account.
    std::fs::write(p.path().join("pw"), "right\n").unwrap();
    std::fs::write(p.path().join("bad"), "wrong\n").unwrap();
    p.ok(&["account", "new", "alice", "--password-file", "pw", "--fast-kdf"]);
    let args = ["grant", SOMEONE, "--scope", "all", "--deployment", "d.json", "--account", "alice"];
    let line = p.fails(&[&args[..], &["--password-file", "bad"]].concat());
    assert!(line.contains("wrong password for keystore .ehr/keystores/alice"), "{line}");
    let line = p.fails(&args);
    assert!(line.contains("--password-file") && line.contains("not a terminal"), "{line}");
    let line = p.fails(&["account", "address", "bob"]);
    assert!(line.contains("no keystore at .ehr/keystores/bob"), "{line}");
    let line = p.fails(&["account", "new", "alice", "--password-file", "pw"]);
    assert!(line.contains("already exists"), "{line}");
    let line = p.fails(&["account", "new", "../evil", "--password-file", "pw"]);
    assert!(line.contains("invalid account name"), "{line}");
}

#[test]
fn chain_errors_are_decoded() {
    let p = Project::with_stack();
    p.account("admin");
    let alice = p.account("alice");
    let signer = |name: &'static str| ["--account", name, "--password-file", "pw"];
    // Nothing deployed yet, and no signer for a transaction.
    let line = p.fails(&["deploy"]);
    assert!(line.contains("needs a signing account"), "{line}");
    p.ok(&[&["deploy"][..], &signer("admin")].concat());
    let line = p.fails(&[&["deploy"][..], &signer("admin")].concat());
    assert!(line.contains("already holds a deployment for chain 31337"), "{line}");

    // Unknown patients.
    let line = p.fails(&["audit", SOMEONE]);
    assert!(line.contains(&format!("{} is not a registered patient", checksum(SOMEONE))), "{line}");
    let line = p.fails(&[&["grant", SOMEONE, "--scope", "all"][..], &signer("alice")].concat());
    assert!(line.contains("is not a registered patient"), "{line}");

    // A contract refusal, decoded: alice is not the system admin.
    let line = p.fails(
        &[&["org", "add", SOMEONE, "--kind", "lab", "--name", "Lab"][..], &signer("alice")]
            .concat(),
    );
    assert!(
        line.contains("add the organization was rejected")
            && line.contains("only the system admin"),
        "{line}"
    );
    // A grantee without a public key.
    p.ok(&[&["patient", "register"][..], &signer("alice")].concat());
    let line = p.fails(&[&["grant", SOMEONE, "--scope", "all"][..], &signer("alice")].concat());
    assert!(line.contains("has registered no public key"), "{line}");
    // Approving a request that does not exist.
    let line = p.fails(&[&["approve", "7"][..], &signer("alice")].concat());
    assert!(line.contains("there is no access request 7"), "{line}");
    // A record grant without the record's envelope.
    let line = p.fails(&[&["grant", &alice, "--scope", "record:3"][..], &signer("alice")].concat());
    assert!(line.contains("record 3"), "{line}");

    // A deployment file of another chain: used, refused; deployed over, refused.
    let text = std::fs::read_to_string(p.path().join(".ehr/deployment.json")).unwrap();
    std::fs::write(
        p.path().join("other.json"),
        text.replace("\"chainId\": 31337", "\"chainId\": 5"),
    )
    .unwrap();
    let line = p.fails(&["audit", &alice, "--deployment", "other.json"]);
    assert!(line.contains("for chain 5 but the RPC serves chain 31337"), "{line}");
    let line = p.fails(&[&["deploy", "--deployment", "other.json"][..], &signer("admin")].concat());
    assert!(line.contains("chain 5") && line.contains("refusing to overwrite"), "{line}");
}

fn checksum(address: &str) -> String {
    address.parse::<alloy::primitives::Address>().unwrap().to_checksum(None)
}
