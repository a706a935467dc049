//! `ehr demo` on a fresh directory: every step verifies and it exits 0, in text and in JSON;
//! its private chain does not outlive it.

use crate::cli_support::Project;

fn dir_has(project: &Project, path: &str) -> bool {
    project.path().join(path).is_file()
}

#[test]
fn the_demo_tells_the_whole_story_and_exits_zero() {
    let project = Project::new();
    let text = project.ok(&["demo", "--dir", "run"]);
    for step in [
        "1. Start a private local chain",
        "4. The patient uploads three FHIR records and a PDF",
        "5. The patient signs a grant (EIP-712); the doctor submits it",
        "6. The doctor searches, fetches",
        "7. The patient revokes the doctor",
        "8. An insurance claim is reviewed and decided",
        "9. Break-glass",
        "10. The patient's audit timeline",
    ] {
        assert!(text.contains(step), "missing {step:?} in:\n{text}");
    }
    assert!(text.contains("All 10 steps verified."), "{text}");
    assert!(!text.contains("failed") && !text.contains("SKIPPED"), "{text}");
    // The insurer's reviewed copies of the claimed records.
    assert!(dir_has(&project, "run/claim-review/record-1.json"));
    assert!(dir_has(&project, "run/claim-review/record-2.json"));
    // The fetched files are the uploaded ones, and nothing keeps running.
    let dir = project.path().join("run");
    assert!(dir.join("fetched-discharge-summary.pdf").is_file());
    assert!(!dir.join("dev/stack.json").exists(), "no stack left for `ehr dev` without --keep");

    let report = project.json(&["demo"]);
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 10);
    for step in steps {
        assert_eq!(step["outcome"], "verified", "{step}");
    }
    assert!(steps[7]["check"].as_str().unwrap().contains("is approved"), "{}", steps[7]);
    assert_eq!(report["kept"], false);
    let temporary = report["directory"].as_str().unwrap();
    assert!(!std::path::Path::new(temporary).exists(), "the temporary directory is removed");
}
