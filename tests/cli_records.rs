//! The record commands through the `ehr` binary against a stack started with `ehr dev up`:
//! upload (FHIR, a document, standard input), verified search with filters, fetch to a file
//! and to standard output, resume, a de-identified export; bad input fails with one line.

use crate::cli_support::{Project, check_failure};
use crate::records_support::{DIABETES_JSON, HBA1C_JSON, IDENTIFIERS, PATIENT_JSON};
use serde_json::Value;

const PW: [&str; 2] = ["--password-file", "pw"];

fn with_signer<'a>(args: &[&'a str], account: &'a str) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(["--account", account, PW[0], PW[1]]);
    all
}

fn ids(found: &Value) -> Vec<u64> {
    found["hits"].as_array().unwrap().iter().map(|h| h["recordId"].as_u64().unwrap()).collect()
}

#[test]
fn upload_search_fetch_export_through_the_cli_with_the_embedded_store() {
    upload_search_fetch_export(Project::with_stack());
}

#[test]
fn upload_search_fetch_export_through_the_cli_with_kubo() {
    let p = Project::with_kubo_stack();
    let status: Value = p.json(&["dev", "status"]);
    assert!(status.to_string().contains("kubo:"), "the dev stack's store is kubo: {status}");
    upload_search_fetch_export(p);
}

fn upload_search_fetch_export(p: Project) {
    let _admin = p.account("admin");
    let hospital = p.account("hospital");
    let doctor = p.account("doctor");
    let patient = p.account("patient");
    let run = |args: &[&str], signer: &str| -> Value { p.json(&with_signer(args, signer)) };
    let fails = |args: &[&str], signer: &str| -> String { p.fails(&with_signer(args, signer)) };
    run(&["deploy"], "admin");
    run(&["org", "add", &hospital, "--kind", "hospital", "--name", "General Hospital"], "admin");
    run(&["staff", "add", &doctor], "hospital");
    run(&["key", "register"], "doctor");
    run(&["patient", "register"], "patient");
    run(&["grant", &doctor, "--scope", "category:lab", "--purpose", "treatment"], "patient");
    for (name, text) in [
        ("hba1c.json", HBA1C_JSON),
        ("diabetes.json", DIABETES_JSON),
        ("patient.json", PATIENT_JSON),
    ] {
        std::fs::write(p.path().join(name), text).unwrap();
    }
    let pdf = ehr_record::sample_pdf("HbA1c report");
    std::fs::write(p.path().join("report.pdf"), &pdf).unwrap();

    // Uploads: the patient's own (patient defaults to the signer), the doctor's document.
    let first = run(&["upload", "hba1c.json", "--fhir", "--keywords", "hba1c,diabetes"], "patient");
    assert_eq!((first["recordId"].as_u64(), first["category"].as_str()), (Some(1), Some("lab")));
    assert!(first["cid"].as_str().unwrap().starts_with("bafkrei"));
    assert!(first["tx"]["txHash"].as_str().unwrap().starts_with("0x"));
    let second = run(
        &["upload", "diabetes.json", "--fhir", "--keywords", "diabetes", "--patient", &patient],
        "patient",
    );
    assert_eq!(second["category"], "diagnosis");
    let third = run(
        &[
            "upload",
            "report.pdf",
            "--patient",
            &patient,
            "--category",
            "lab",
            "--keywords",
            "report,hba1c",
        ],
        "doctor",
    );
    assert_eq!(
        (third["recordId"].as_u64(), third["contentType"].as_str()),
        (Some(3), Some("application/pdf"))
    );
    // Standard input, as text output this time.
    let output = p
        .ehr()
        .args(with_signer(&["upload", "-", "--fhir", "--keywords", "demographics"], "patient"))
        .write_stdin(PATIENT_JSON)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        text.contains("record:") && text.contains("demographics") && text.contains("tx:"),
        "{text}"
    );

    // Search: verified at a block; the doctor sees lab only; filters work.
    let found = run(&["search", &patient, "diabetes"], "patient");
    assert_eq!(ids(&found), [1, 2]);
    assert!(found["verifiedAtBlock"].as_u64().unwrap() > 0);
    let found = run(&["search", &patient, "report", "demographics", "--any"], "patient");
    assert_eq!(ids(&found), [3, 4]);
    let found = run(&["search", &patient, "diabetes", "--category", "diagnosis"], "patient");
    assert_eq!(ids(&found), [2]);
    let found = run(
        &["search", &patient, "diabetes", "--since", "2000-01-01", "--until", "2999-12-31"],
        "patient",
    );
    assert_eq!(ids(&found), [1, 2]);
    let found = run(&["search", &patient, "diabetes", "--until", "2001-01-01"], "patient");
    assert_eq!(ids(&found), Vec::<u64>::new());
    let found = run(&["search", &patient, "hba1c"], "doctor");
    assert_eq!((ids(&found), found["notReadable"].as_u64()), (vec![1, 3], Some(2)));
    let text = p.ok(&with_signer(&["search", &patient, "hba1c"], "doctor"));
    assert!(text.contains("verified at block"), "{text}");

    // Fetch to a file and to stdout; a document comes back as the file itself.
    let fetched = run(&["fetch", "1", "--patient", &patient, "-o", "out.json"], "doctor");
    assert_eq!(fetched["resourceType"], "Observation");
    assert_eq!(std::fs::read(p.path().join("out.json")).unwrap(), HBA1C_JSON.as_bytes());
    let output = p
        .ehr()
        .args(with_signer(&["fetch", "3", "--patient", &patient], "doctor"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.stdout, pdf);

    // Resume with nothing pending.
    let resumed = run(&["upload", "--resume"], "patient");
    assert_eq!(resumed["entries"], serde_json::json!([]));

    // De-identified export of the patient's own records.
    let exported = run(&["export", "--deidentify", &patient, "-o", "export"], "patient");
    assert_eq!(exported["records"].as_array().unwrap().len(), 4);
    for entry in std::fs::read_dir(p.path().join("export")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for identifier in IDENTIFIERS {
            assert!(!text.contains(identifier), "{identifier} exported");
        }
    }

    // Sealed to a researcher (here the doctor's registered key), opened only by it.
    let sealed = run(&["export", "--deidentify", "--to", &doctor, "-o", "study.sealed"], "patient");
    assert_eq!(sealed["records"].as_array().unwrap().len(), 4);
    let opened = run(&["export", "--open", "study.sealed", "-o", "study"], "doctor");
    assert_eq!(opened["manifest"]["records"].as_array().unwrap().len(), 4);
    let line = fails(&["export", "--open", "study.sealed", "-o", "nope"], "patient");
    assert!(line.contains("error"), "{line}");

    // Bad input: one line each.
    let line = fails(&["upload", "hba1c.json", "--fhir", "--keywords", "a,,b"], "patient");
    assert!(line.contains("keyword 2 of --keywords is empty"), "{line}");
    let line = fails(&["upload", "hba1c.json", "--fhir"], "patient");
    assert!(line.contains("already uploaded") && line.contains("--allow-duplicate"), "{line}");
    let line = fails(&["upload", "missing.pdf"], "patient");
    assert!(line.contains("cannot read missing.pdf"), "{line}");
    let line = fails(&["upload", "report.pdf", "--fhir"], "patient");
    assert!(line.contains("JSON") || line.contains("json"), "{line}");
    let line = fails(
        &["upload", "diabetes.json", "--fhir", "--patient", &patient, "--allow-duplicate"],
        "doctor",
    );
    assert!(line.contains("may not write diagnosis records"), "{line}");
    let line = fails(&["search", &doctor, "diabetes"], "patient");
    assert!(line.contains("is not a registered patient"), "{line}");
    let line = fails(&["search", &patient, "diabetes"], "hospital");
    assert!(line.contains("holds no keys to search"), "{line}");
    let line = fails(&["fetch", "2", "--patient", &patient, "-o", "nope.json"], "doctor");
    assert!(line.contains("holds no key for record 2"), "{line}");
    assert!(!p.path().join("nope.json").exists());
    let line = fails(&["fetch", "99", "--patient", &patient], "patient");
    assert!(line.contains("has no record 99"), "{line}");
    let line = fails(&["export", &patient, "-o", "x"], "patient");
    assert!(line.contains("--deidentify"), "{line}");
    let line = fails(&["export", "--deidentify", &patient, "-o", "export"], "patient");
    assert!(line.contains("not empty"), "{line}");
    let line = fails(&["export", "--deidentify", &patient, "-o", "y"], "doctor");
    assert!(line.contains("the patient makes the export"), "{line}");
    let output = p
        .ehr()
        .args(with_signer(&["search", &patient, "x", "--since", "yesterday"], "patient"))
        .output()
        .unwrap();
    let line = check_failure(&output, "search --since yesterday");
    assert!(line.contains("YYYY-MM-DD"), "{line}");
    let output = p.ehr().args(with_signer(&["search", &patient], "patient")).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&output.stderr).contains("<KEYWORD>"));
}
