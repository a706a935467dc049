//! Insurance claims through the `ehr` binary against a stack started with `ehr dev up`: the
//! patient files a claim (each record granted to the insurer first); staff without keys are
//! refused before anything changes; the insurer reviews (fetches, decrypts and verifies every
//! record) and its staff decides; a second claim is rejected; the audit trail shows every
//! step. Bad input — unknown record, record not granted, wrong insurer deciding, a double
//! decision, malformed amounts — fails with one line each.

use crate::cli_support::Project;
use crate::records_support::{DIABETES_JSON, HBA1C_JSON};
use serde_json::Value;

const PW: [&str; 2] = ["--password-file", "pw"];

fn with_signer<'a>(args: &[&'a str], account: &'a str) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(["--account", account, PW[0], PW[1]]);
    all
}

fn lower(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_lowercase()
}

#[test]
fn claims_through_the_cli() {
    let p = Project::with_stack();
    let _admin = p.account("admin");
    let insurer = p.account("insurer");
    let other_insurer = p.account("other");
    let clerk = p.account("clerk");
    let hospital = p.account("hospital");
    let patient = p.account("patient");
    let run = |args: &[&str], signer: &str| -> Value { p.json(&with_signer(args, signer)) };
    let fails = |args: &[&str], signer: &str| -> String { p.fails(&with_signer(args, signer)) };

    let deployed = run(&["deploy"], "admin");
    assert!(deployed["deployment"]["claimRegistry"].as_str().unwrap().starts_with("0x"));
    run(&["org", "add", &insurer, "--kind", "insurer", "--name", "Acme Insurance"], "admin");
    run(&["org", "add", &other_insurer, "--kind", "insurer", "--name", "Beta Mutual"], "admin");
    run(&["org", "add", &hospital, "--kind", "hospital", "--name", "General Hospital"], "admin");
    run(&["staff", "add", &clerk], "insurer");
    run(&["key", "register"], "insurer");
    run(&["key", "register"], "other");
    run(&["patient", "register"], "patient");
    std::fs::write(p.path().join("hba1c.json"), HBA1C_JSON).unwrap();
    std::fs::write(p.path().join("diabetes.json"), DIABETES_JSON).unwrap();
    let pdf = ehr_record::sample_pdf("Invoice: HbA1c test");
    std::fs::write(p.path().join("invoice.pdf"), &pdf).unwrap();
    run(&["upload", "hba1c.json", "--fhir", "--keywords", "hba1c"], "patient");
    run(&["upload", "diabetes.json", "--fhir", "--keywords", "diabetes"], "patient");
    run(&["upload", "invoice.pdf", "--category", "billing", "--keywords", "invoice"], "patient");

    // The patient files claim 1 over records 1 and 3: two insurance grants, then the claim.
    let submit = [
        "claim",
        "submit",
        "--insurer",
        &insurer,
        "--records",
        "1,3",
        "--amount",
        "120.50",
        "--currency",
        "eur",
    ];
    let filed = run(&submit, "patient");
    let claim = &filed["claim"];
    assert_eq!((claim["id"].as_u64(), claim["status"].as_str()), (Some(1), Some("submitted")));
    assert_eq!(claim["recordIds"], serde_json::json!([1, 3]));
    assert_eq!(
        (claim["amount"].as_str(), claim["currency"].as_str()),
        (Some("120.50"), Some("EUR"))
    );
    assert_eq!(claim["minorUnits"], 12_050);
    assert_eq!(lower(&claim["insurer"]), insurer.to_lowercase());
    let grants = filed["grants"].as_array().unwrap();
    let scopes: Vec<&str> = grants.iter().map(|g| g["scope"].as_str().unwrap()).collect();
    assert_eq!(scopes, ["record:1", "record:3"]);
    assert!(grants.iter().all(|g| g["purpose"] == "insurance"));

    // Anyone may read it; both sides list it.
    let shown = p.json(&["claim", "show", "1"]);
    assert_eq!(shown["status"], "submitted");
    let mine = run(&["claim", "list"], "patient");
    assert_eq!(mine["claims"].as_array().unwrap().len(), 1);
    let theirs = run(&["claim", "list"], "clerk");
    assert_eq!(theirs["claims"][0]["id"], 1);
    assert!(run(&["claim", "list"], "other")["claims"].as_array().unwrap().is_empty());

    // The clerk holds no keys (the grants went to the insurer's account): refused, unchanged.
    let line = fails(&["claim", "review", "1"], "clerk");
    assert!(line.contains("holds no key for record 1 of claim 1"), "{line}");
    let expected = format!("to the insurer's account {}", insurer.to_lowercase());
    assert!(line.to_lowercase().contains(&expected), "{line}");
    assert_eq!(p.json(&["claim", "show", "1"])["status"], "submitted");
    // Another insurer may not even start.
    let line = fails(&["claim", "review", "1"], "other");
    assert!(line.contains("may not act on claim 1"), "{line}");

    // The insurer reviews: the claim moves to review, every record is decrypted and verified.
    let review = run(&["claim", "review", "1", "-o", "review"], "insurer");
    assert_eq!(review["claim"]["status"], "underReview");
    assert!(review["reviewStarted"]["txHash"].as_str().unwrap().starts_with("0x"));
    let records = review["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["resourceType"], "Observation");
    assert_eq!(records[1]["contentType"], "application/pdf");
    let dir = p.path().join("review");
    assert_eq!(std::fs::read(dir.join("record-1.json")).unwrap(), HBA1C_JSON.as_bytes());
    assert_eq!(std::fs::read(dir.join("record-3-invoice.pdf")).unwrap(), pdf);
    // Reviewing again sends nothing and verifies again.
    let again = run(&["claim", "review", "1"], "insurer");
    assert!(again.get("reviewStarted").is_none(), "{again}");
    assert_eq!(again["records"].as_array().unwrap().len(), 2);

    // The wrong insurer, or the patient, deciding: one clear line each.
    let decide = ["claim", "decide", "1", "approve", "--reason", "covered by policy 7"];
    let line = fails(&decide, "other");
    assert!(line.contains("may not act on claim 1"), "{line}");
    let line = fails(&decide, "patient");
    assert!(line.contains("may not act on claim 1"), "{line}");
    // Staff may decide; a second decision is refused.
    let decided = run(&decide, "clerk");
    assert_eq!((decided["status"].as_str(), decided["id"].as_u64()), (Some("approved"), Some(1)));
    // The code is public; the words are on chain only encrypted to the patient.
    assert_eq!(decided["decision"]["reasonCode"], "covered");
    assert_eq!(decided["decision"]["hasEncryptedReason"], true);
    assert!(decided["decision"].get("reason").is_none(), "{decided}");
    let as_patient = run(&["claim", "show", "1"], "patient");
    assert_eq!(as_patient["decision"]["reason"], "covered by policy 7");
    assert_eq!(lower(&decided["decision"]["reviewer"]), clerk.to_lowercase());
    assert!(decided["decidedAt"].as_u64().unwrap() > 0);
    let line = fails(&["claim", "decide", "1", "reject", "--reason", "changed my mind"], "insurer");
    assert!(line.contains("claim 1 is approved"), "{line}");

    // A second claim, with its records in text output, rejected.
    let text = p.ok(&with_signer(
        &[
            "claim",
            "submit",
            "--insurer",
            &insurer,
            "--records",
            "2",
            "--amount",
            "80",
            "--currency",
            "CHF",
        ],
        "patient",
    ));
    assert!(text.contains("record:2") && text.contains("80.00 CHF"), "{text}");
    let line = fails(&["claim", "decide", "2", "reject", "--reason", "too early"], "insurer");
    assert!(line.contains("claim 2 is submitted"), "{line}");
    let text = p.ok(&with_signer(&["claim", "review", "2"], "insurer"));
    assert!(text.contains("record 2: Condition") && text.contains("verified at block"), "{text}");
    let line = fails(&["claim", "decide", "2", "reject", "--code", "9"], "insurer");
    assert!(line.contains("unknown decision code \"9\""), "{line}");
    run(&["claim", "decide", "2", "reject", "--reason", "not covered by the plan"], "insurer");
    let listed = run(&["claim", "list", "--insurer", &insurer], "patient");
    let statuses: Vec<&str> = listed["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["approved", "rejected"]);
    let text = p.ok(&["claim", "show", "2"]);
    assert!(text.contains("rejected") && text.contains("not-covered"), "{text}");
    assert!(text.contains("[encrypted to the patient]"), "{text}");
    let text = p.ok(&with_signer(&["claim", "show", "2"], "patient"));
    assert!(text.contains("not covered by the plan"), "{text}");

    // Bad inputs: one line each, nothing filed.
    let bad = |records: &str, amount: &str, currency: &str, extra: &[&str]| -> String {
        let mut args = vec![
            "claim",
            "submit",
            "--insurer",
            insurer.as_str(),
            "--records",
            records,
            "--amount",
            amount,
            "--currency",
            currency,
        ];
        args.extend(extra);
        fails(&args, "patient")
    };
    let line = bad("9", "10", "EUR", &[]);
    assert!(line.contains("the patient has no record 9"), "{line}");
    // Not granted: the other insurer holds nothing, and --no-grant grants nothing (the
    // contract's own refusal, decoded).
    let line = fails(
        &[
            "claim",
            "submit",
            "--insurer",
            &other_insurer,
            "--records",
            "2,1",
            "--amount",
            "10",
            "--currency",
            "EUR",
            "--no-grant",
        ],
        "patient",
    );
    assert!(line.contains("the insurer holds no access to record 2"), "{line}");
    let line = bad("1,1", "10", "EUR", &[]);
    assert!(line.contains("repeats one"), "{line}");
    let line = bad("0", "10", "EUR", &[]);
    assert!(line.contains("record ids start at 1"), "{line}");
    let line = bad("1", "1.005", "EUR", &[]);
    assert!(line.contains("EUR has 2 decimals"), "{line}");
    let line = bad("1", "0", "EUR", &[]);
    assert!(line.contains("more than zero"), "{line}");
    let line = bad("1", "10", "EURO", &[]);
    assert!(line.contains("three-letter ISO 4217 code"), "{line}");
    let line = fails(
        &[
            "claim",
            "submit",
            "--insurer",
            &hospital,
            "--records",
            "1",
            "--amount",
            "1",
            "--currency",
            "EUR",
        ],
        "patient",
    );
    assert!(line.contains("is not an active insurer organization"), "{line}");
    let line = fails(&["claim", "decide", "2", "approve", "--reason", " "], "insurer");
    assert!(line.contains("a reason must not be empty"), "{line}");
    let line = p.fails(&["claim", "show", "99"]);
    assert!(line.contains("there is no claim 99"), "{line}");
    assert_eq!(run(&["claim", "list"], "patient")["claims"].as_array().unwrap().len(), 2);

    // The patient's audit trail shows both claims' steps in order.
    let trail = run(&["audit", &patient], "patient");
    let kinds: Vec<&str> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["kind"].as_str().unwrap())
        .filter(|k| k.starts_with("claim"))
        .collect();
    assert_eq!(
        kinds,
        [
            "claimSubmitted",
            "claimReviewStarted",
            "claimDecided",
            "claimSubmitted",
            "claimReviewStarted",
            "claimDecided"
        ]
    );
    let text = p.ok(&with_signer(&["audit", &patient], "patient"));
    assert!(text.contains("claim 1 filed with") && text.contains("for 120.50 EUR"), "{text}");
    assert!(text.contains("claim 2 rejected by"), "{text}");
    // The patient's trail opens the reviewer's words; the code is shown to anyone.
    assert!(text.contains("(not-covered): \"not covered by the plan\""), "{text}");
}
