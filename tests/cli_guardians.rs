//! Guardians through the `ehr` binary against `ehr dev up`: a patient names 2 of 3 guardians,
//! a doctor breaks the glass, one guardian releases by hand (`ehr guardian release`), another
//! through `ehr guardian watch --once`; the doctor's search finds the allergy only after the
//! second; a denied hospital and a renewal cap are refused with their reasons; the patient's
//! audit shows the releases.

use crate::cli_support::Project;
use serde_json::Value;

const PW: [&str; 2] = ["--password-file", "pw"];

#[test]
fn guardians_and_break_glass_through_the_cli() {
    let p = Project::with_stack();
    p.account("admin");
    let hospital = p.account("hospital");
    let doctor = p.account("doctor");
    let alice = p.account("alice");
    let guardians: Vec<String> = ["bob", "carol", "dave"].iter().map(|n| p.account(n)).collect();
    let args = |args: &[&str], signer: &str| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.extend(["--account", signer, PW[0], PW[1]].map(str::to_owned));
        all
    };
    let run = |a: &[&str], signer: &str| -> Value {
        let all = args(a, signer);
        p.json(&all.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let fails = |a: &[&str], signer: &str| -> String {
        let all = args(a, signer);
        p.fails(&all.iter().map(String::as_str).collect::<Vec<_>>())
    };

    run(&["deploy"], "admin");
    run(&["org", "add", &hospital, "--kind", "hospital", "--name", "General"], "admin");
    run(&["staff", "add", &doctor], "hospital");
    run(&["key", "register"], "doctor");
    for name in ["alice", "bob", "carol", "dave"] {
        run(&["patient", "register"], name);
    }
    std::fs::write(p.path().join("allergy.txt"), "penicillin: anaphylaxis").unwrap();
    run(&["upload", "allergy.txt", "--category", "allergy", "--keywords", "penicillin"], "alice");

    let (g1, g2, g3) = (&guardians[0], &guardians[1], &guardians[2]);
    let wrong = fails(&["guardian", "set", g1, g2, g3, "--threshold", "4"], "alice");
    assert!(wrong.contains("4 of 3 is not"), "{wrong}");
    let set = run(&["guardian", "set", g1, g2, g3, "--threshold", "2"], "alice");
    assert_eq!((set["kitId"].as_u64(), set["threshold"].as_u64()), (Some(1), Some(2)));
    let shown = p.ok(&["guardian", "show", &alice]);
    assert!(shown.contains("2 of 3"), "{shown}");

    run(&["emergency", "open", &alice, "--hours", "6"], "doctor");
    let first = run(&["guardian", "release", &alice, "--doctor", &doctor], "bob");
    assert_eq!((first["index"].as_u64(), first["released"].as_u64()), (Some(1), Some(1)));
    let early = fails(&["search", &alice, "penicillin"], "doctor");
    assert!(early.contains("holds no keys"), "{early}");
    let watched =
        p.ok(&args(&["guardian", "watch", "--from-block", "0", "--once", "--json"], "carol")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>());
    let outcome: Value = serde_json::from_str(watched.trim()).unwrap();
    assert_eq!(
        (outcome["outcome"].as_str(), outcome["index"].as_u64()),
        (Some("released"), Some(2))
    );
    let found = run(&["search", &alice, "penicillin"], "doctor");
    assert_eq!(found["hits"].as_array().map(Vec::len), Some(1), "{found}");
    let listed = p.json(&["emergency", "list", &alice]);
    let open = listed["open"].as_array().expect("a list");
    assert_eq!(open.len(), 1, "{listed}");
    assert_eq!(open[0]["doctor"].as_str().map(str::to_lowercase), Some(doctor.to_lowercase()));
    assert_eq!(open[0]["releasedBy"].as_array().map(Vec::len), Some(2), "{listed}");

    run(&["emergency", "hospital", &hospital, "deny"], "alice");
    let denied = fails(&["guardian", "release", &alice, "--doctor", &doctor], "dave");
    assert!(denied.contains("does not admit its hospital"), "{denied}");
    run(&["emergency", "hospital", &hospital, "default"], "alice");
    run(&["emergency", "policy", "--cap-hours", "8"], "alice");
    let capped = fails(&["emergency", "open", &alice, "--hours", "24"], "doctor");
    assert!(capped.contains("over the patient's cap"), "{capped}");

    let trail = p.ok(&args(&["audit"], "alice").iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(trail.matches("released its share of kit 1").count(), 2, "{trail}");
}
