//! The `ehr` binary scripted the way a doctor scripts it: many processes on one account, an
//! idle chain, a grant that runs out, files that are not what their names say, retries, a
//! fresh account with no ether. Each test names the defect it holds shut.

use crate::cli_support::{Project, check_failure};
use crate::records_support::HBA1C_JSON;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PW: [&str; 2] = ["--password-file", "pw"];

fn as_signer<'a>(args: &[&'a str], account: &'a str) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(["--account", account, PW[0], PW[1]]);
    all
}

/// A stack with a hospital, its doctor (`doctor`) and a registered patient (`patient`);
/// returns (doctor, patient).
fn hospital_doctor_patient(p: &Project) -> (String, String) {
    let _admin = p.account("admin");
    let hospital = p.account("hospital");
    let doctor = p.account("doctor");
    let patient = p.account("patient");
    p.json(&as_signer(&["deploy"], "admin"));
    p.json(&as_signer(&["org", "add", &hospital, "--kind", "hospital", "--name", "H"], "admin"));
    p.json(&as_signer(&["staff", "add", &doctor], "hospital"));
    p.json(&as_signer(&["key", "register"], "doctor"));
    p.json(&as_signer(&["patient", "register"], "patient"));
    (doctor, patient)
}

/// An HbA1c Observation (category lab) whose value makes it distinct.
fn lab_result(n: usize) -> String {
    HBA1C_JSON.replace("\"value\": 7.8", &format!("\"value\": {}.{}", 5 + n / 10, n % 10))
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn journal_entries(p: &Project) -> usize {
    std::fs::read_dir(p.path().join(".ehr/uploads"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .unwrap_or(0)
}

fn pins(p: &Project) -> usize {
    std::fs::read_dir(p.path().join(".ehr/blobs/pins")).map(|dir| dir.count()).unwrap_or(0)
}

fn cast(p: &Project, args: &[&str]) -> String {
    let rpc = p.json(&["dev", "status"])["services"][0]["url"].as_str().unwrap().to_owned();
    let cast = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/cast");
    let output = std::process::Command::new(cast)
        .args(args)
        .args(["--rpc-url", &rpc])
        .output()
        .expect("cast runs");
    assert!(output.status.success(), "cast {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Defect 1: 20 `ehr upload` processes by one account at once lost 6-11 of them to "nonce
/// too low". Now every one is indexed, exactly once.
#[test]
fn twenty_parallel_uploads_by_one_doctor_are_all_indexed_once() {
    let p = Project::with_stack();
    let (doctor, patient) = hospital_doctor_patient(&p);
    p.json(&as_signer(
        &["grant", &doctor, "--scope", "category:lab", "--expires", "1d"],
        "patient",
    ));
    let files: Vec<String> = (0..20)
        .map(|n| {
            let name = format!("lab-{n}.json");
            std::fs::write(p.path().join(&name), lab_result(n)).unwrap();
            name
        })
        .collect();
    let children: Vec<_> = files
        .iter()
        .map(|file| {
            let args = ["upload", file, "--patient", &patient, "--keywords", "hba1c", "--json"];
            p.spawn(&as_signer(&args, "doctor"))
        })
        .collect();
    let mut ids = BTreeSet::new();
    for (file, child) in files.iter().zip(children) {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "upload of {file} failed: {stderr}");
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert!(ids.insert(report["recordId"].as_u64().unwrap()), "record ids are distinct");
    }
    assert_eq!(ids, (1..=20).collect::<BTreeSet<u64>>());
    let found = p.json(&as_signer(&["search", &patient, "hba1c"], "doctor"));
    assert_eq!(found["hits"].as_array().unwrap().len(), 20, "{found}");
}

/// Defect 1, second half: many files in one process go through batched `addRecords`.
#[test]
fn a_directory_and_a_list_upload_in_batches_from_one_process() {
    let p = Project::with_stack();
    let (_, patient) = hospital_doctor_patient(&p);
    std::fs::create_dir_all(p.path().join("labs/2025")).unwrap();
    for n in 0..6 {
        let dir = if n < 3 { "labs" } else { "labs/2025" };
        std::fs::write(p.path().join(format!("{dir}/r{n}.json")), lab_result(n)).unwrap();
    }
    std::fs::write(p.path().join("labs/.hidden"), "not uploaded").unwrap();
    let report = p.json(&as_signer(&["upload", "labs", "--keywords", "batch"], "patient"));
    let records = report["records"].as_array().unwrap();
    assert_eq!(records.len(), 6, "{report}");
    // Records ready together share an addRecords (the first may go alone while the rest are
    // still being encrypted).
    let transactions = report["transactions"].as_array().unwrap().len();
    assert!(transactions < records.len(), "batched: {report}");
    // In path order, hidden files skipped.
    let order: Vec<&str> = records.iter().map(|r| r["file"].as_str().unwrap()).collect();
    assert_eq!(order[0], "labs/2025/r3.json");
    assert_eq!(order[5], "labs/r2.json");

    for n in 6..9 {
        std::fs::write(p.path().join(format!("more{n}.json")), lab_result(n)).unwrap();
    }
    std::fs::write(p.path().join("list.txt"), "# the rest\nmore6.json\n\nmore7.json\nmore8.json\n")
        .unwrap();
    let listed = p
        .json(&as_signer(&["upload", "--from-list", "list.txt", "--patient", &patient], "patient"));
    let ids: Vec<u64> = listed["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["recordId"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [7, 8, 9]);
    // One bad file refuses the whole set before anything is stored.
    std::fs::write(p.path().join("bad.json"), [0xffu8, 0, 1, 2]).unwrap();
    let line =
        p.fails(&as_signer(&["upload", "more6.json", "bad.json", "--allow-duplicate"], "patient"));
    assert!(line.contains("bad.json") && line.contains("not JSON"), "{line}");
    assert_eq!(journal_entries(&p), 9, "nothing was journaled for the refused set");
}

/// Defect 3: `--expires 5s` was counted from the last block; after 8 idle seconds the grant
/// had expired when mined (ConsentExpired, not decoded). Expiries count from the clock.
#[test]
fn an_idle_chain_counts_grant_expiry_from_the_clock() {
    let p = Project::with_stack();
    let (doctor, _) = hospital_doctor_patient(&p);
    std::thread::sleep(Duration::from_secs(8)); // no transactions: anvil mines no blocks
    let before = unix_now();
    let grant = p.json(&as_signer(
        &["grant", &doctor, "--scope", "category:lab", "--expires", "5s"],
        "patient",
    ));
    let expiry = grant["expiry"].as_u64().unwrap();
    assert!(
        expiry >= before + 5 && expiry <= unix_now() + 5,
        "expiry {expiry} counts from now ({before})"
    );
}

/// Defect 2: on an idle chain a grant that had just expired still passed `canWrite` and gas
/// estimation (both at the old block's time); the mined transaction ran out of gas, and the
/// blob, its pin and a pending journal entry were left behind with advice that could not
/// work. Now the permission is checked at the clock's time before anything is stored.
#[test]
fn an_upload_on_an_expired_grant_leaves_nothing_and_says_why() {
    let p = Project::with_stack();
    let (doctor, patient) = hospital_doctor_patient(&p);
    p.json(&as_signer(
        &["grant", &doctor, "--scope", "category:lab", "--expires", "3s"],
        "patient",
    ));
    std::fs::write(p.path().join("hba1c.json"), HBA1C_JSON).unwrap();
    let nonce_before = cast(&p, &["nonce", &doctor]);
    let (pins_before, entries_before) = (pins(&p), journal_entries(&p));
    std::thread::sleep(Duration::from_secs(4)); // idle: the last block predates the expiry
    let output = p
        .ehr()
        .args(as_signer(&["upload", "hba1c.json", "--patient", &patient], "doctor"))
        .output()
        .unwrap();
    let line = check_failure(&output, "upload on an expired grant");
    assert!(line.contains("may not write lab records"), "{line}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("hint: the patient grants access"), "{stderr}");
    assert!(!stderr.contains("--resume"), "no advice that cannot work: {stderr}");
    assert_eq!(cast(&p, &["nonce", &doctor]), nonce_before, "no transaction was sent");
    assert_eq!((pins(&p), journal_entries(&p)), (pins_before, entries_before), "nothing stored");
}

/// Defect 2, the other half: access that ends between the check and the mining (here the
/// next block is forced an hour past the grant's expiry). The mined transaction reverts with
/// enough gas to say why (not out of gas), the reason is decoded, and what the upload had
/// stored is taken back.
#[test]
fn access_that_ends_in_flight_is_decoded_and_taken_back() {
    let p = Project::with_stack();
    let (doctor, patient) = hospital_doctor_patient(&p);
    p.json(&as_signer(
        &["grant", &doctor, "--scope", "category:lab", "--expires", "1h"],
        "patient",
    ));
    std::fs::write(p.path().join("hba1c.json"), HBA1C_JSON).unwrap();
    let (pins_before, entries_before) = (pins(&p), journal_entries(&p));
    let later = (unix_now() + 7_200).to_string();
    cast(&p, &["rpc", "evm_setNextBlockTimestamp", &later]);
    let args =
        as_signer(&["upload", "hba1c.json", "--patient", &patient, "--keywords", "x"], "doctor");
    let output = p.ehr().args(&args).output().unwrap();
    let line = check_failure(&output, "upload whose access ends in flight");
    assert!(!line.contains("out of gas"), "{line}");
    assert!(
        // The contract knows only the category's opaque id (`#…`), not its name.
        line.contains("rejected when mined") && line.contains("may not add #"),
        "decoded: {line}"
    );
    assert!(line.contains("nothing was indexed"), "{line}");
    assert_eq!(
        (pins(&p), journal_entries(&p)),
        (pins_before, entries_before),
        "taken back: {line}"
    );
    // The same file uploads once access is back: the refused attempt is not a duplicate.
    p.json(&as_signer(
        &["grant", &doctor, "--scope", "category:lab", "--expires", "1d"],
        "patient",
    ));
    let report = p.json(&args);
    assert_eq!(report["recordId"], 1);
}

/// Defect 4: `ehr upload --resume` exited 0 while it reported entries left undone.
#[test]
fn resume_fails_while_anything_is_left_undone() {
    let p = Project::with_stack();
    let (doctor, patient) = hospital_doctor_patient(&p);
    p.json(&as_signer(
        &["grant", &doctor, "--scope", "category:lab", "--expires", "1d"],
        "patient",
    ));
    let resumed = p.json(&as_signer(&["upload", "--resume"], "patient"));
    assert_eq!(resumed["entries"], serde_json::json!([]), "nothing to do: exit 0");

    // A record stored and journaled by the patient but not indexed; then a revocation moves
    // the key epoch, so it can no longer be indexed as stored.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(store_without_indexing(&p, &patient));
    assert_eq!(journal_entries(&p), 1);
    p.json(&as_signer(&["revoke", &doctor], "patient"));
    let args = as_signer(&["upload", "--resume", "--json"], "patient");
    let output = p.ehr().args(&args).output().unwrap();
    let line = check_failure(&output, "upload --resume with an entry left");
    assert!(line.contains("1 journaled upload is not indexed"), "{line}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("--json still lists them");
    assert_eq!(report["entries"][0]["outcome"], "needs-reupload", "{report}");
}

/// Stores a record as the patient through the SDK with the CLI's data directory, without
/// indexing it (what an interrupted upload leaves).
async fn store_without_indexing(p: &Project, patient: &str) {
    use ehr_sdk::records::{RecordSource, UploadRequest, store_and_journal};
    let data = p.path().join(".ehr");
    let signer = ehr_sdk::accounts::Keystores::new(data.join("keystores"))
        .unlock("patient", "correct horse")
        .unwrap();
    let status = p.json(&["dev", "status"]);
    let session = ehr_sdk::Session::open(ehr_sdk::SessionConfig {
        rpc_url: status["services"][0]["url"].as_str().unwrap().parse().unwrap(),
        deployment: data.join("deployment.json"),
        signer: Some(signer),
        store: Some(format!("local:{}", data.join("blobs").display()).parse().unwrap()),
    })
    .await
    .unwrap();
    let journal = ehr_sdk::journal::Journal::new(&data);
    let source = RecordSource::FhirJson(lab_result(42).into_bytes());
    let request = UploadRequest::new(patient.parse().unwrap(), source);
    store_and_journal(&session, &journal, request).await.unwrap();
}

/// Defect 5: `ehr dev up` after a `--kubo` stack silently switched to the embedded store.
#[test]
fn the_dev_stack_keeps_its_store_and_says_when_it_switches() {
    let p = Project::with_kubo_stack();
    p.ok(&["dev", "down"]);
    let up = p.json(&["dev", "up"]);
    assert!(up["stack"]["store"].as_str().unwrap().starts_with("kubo:"), "remembered: {up}");
    assert!(up.get("switchedFrom").is_none(), "{up}");
    let again = p.ok(&["dev", "up", "--embedded"]);
    assert!(again.contains("store switched") && again.contains("from kubo:"), "{again}");
    assert!(again.contains("--kubo` switches back"), "{again}");
    let status = p.json(&["dev", "status"]);
    assert!(status["store"].as_str().unwrap().starts_with("local:"), "{status}");
    assert_eq!(status["services"].as_array().unwrap().len(), 1, "kubo is stopped: {status}");
    let kept = p.json(&["dev", "up"]);
    assert!(kept["stack"]["store"].as_str().unwrap().starts_with("local:"), "{kept}");
}

/// Defect 6: 4 KiB of random bytes named `.json` were stored as `application/json`.
#[test]
fn the_bytes_decide_what_a_file_is() {
    let p = Project::with_stack();
    let (_, _) = hospital_doctor_patient(&p);
    let random: Vec<u8> =
        (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    std::fs::write(p.path().join("lab.json"), &random).unwrap();
    let args = as_signer(&["upload", "lab.json", "--category", "lab"], "patient");
    let line = p.fails(&args);
    assert!(
        line.contains("lab.json is named as application/json, but its bytes are not JSON"),
        "{line}"
    );
    assert!(line.contains("--as-document"), "{line}");
    assert_eq!((journal_entries(&p), pins(&p)), (0, 0), "nothing stored");
    let mut opaque = args.clone();
    opaque.push("--as-document");
    let stored = p.json(&opaque);
    assert_eq!(stored["contentType"], "application/octet-stream", "{stored}");
    // FHIR is recognised by its content, whatever the name, without --fhir.
    std::fs::write(p.path().join("result.txt"), HBA1C_JSON).unwrap();
    let fhir = p.json(&as_signer(&["upload", "result.txt"], "patient"));
    assert_eq!(
        (fhir["resourceType"].as_str(), fhir["category"].as_str()),
        (Some("Observation"), Some("lab"))
    );
}

/// Defect 7: a signer without ether was told to check that the RPC node is running.
#[test]
fn an_unfunded_signer_is_told_to_fund_it() {
    let p = Project::with_stack();
    p.account("admin");
    p.json(&as_signer(&["deploy"], "admin"));
    p.json(&["account", "new", "poor", "--fast-kdf", PW[0], PW[1]]);
    let output = p.ehr().args(as_signer(&["patient", "register"], "poor")).output().unwrap();
    let line = check_failure(&output, "patient register without ether");
    assert!(line.contains("too little ether to pay for the gas"), "{line}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("hint: fund the account: on a dev chain `ehr dev fund"), "{stderr}");
    assert!(!stderr.contains("RPC node is running"), "{stderr}");
}

/// Defect 8: new keystores used scrypt N = 8192; the standard (geth, Foundry) is 2^18.
#[test]
fn new_keystores_use_the_standard_scrypt_cost() {
    let p = Project::new();
    std::fs::write(p.path().join("pw"), "correct horse\n").unwrap();
    p.json(&["account", "new", "standard", PW[0], PW[1]]);
    p.json(&["account", "new", "quick", "--fast-kdf", PW[0], PW[1]]);
    let n = |name: &str| -> u64 {
        let text = std::fs::read_to_string(p.path().join(".ehr/keystores").join(name)).unwrap();
        serde_json::from_str::<Value>(&text).unwrap()["crypto"]["kdfparams"]["n"].as_u64().unwrap()
    };
    assert_eq!((n("standard"), n("quick")), (1 << 18, 1 << 13));
    // Both unlock with the password, through the reader every command uses.
    let keystores = ehr_sdk::accounts::Keystores::new(p.path().join(".ehr/keystores"));
    for name in ["standard", "quick"] {
        let address = keystores.get(name).unwrap().address;
        assert_eq!(keystores.unlock(name, "correct horse").unwrap().address(), address);
    }
}

/// Issue 11, case 4: a revocation's re-share reached grantees who were no longer active (a
/// doctor the hospital let go). They are left out now, said so, and the contract refuses a
/// direct share with them too.
#[test]
fn a_revocation_reshares_only_with_active_participants() {
    let p = Project::with_stack();
    let (doctor, _) = hospital_doctor_patient(&p);
    let colleague = p.account("colleague");
    p.json(&as_signer(&["staff", "add", &colleague], "hospital"));
    p.json(&as_signer(&["key", "register"], "colleague"));
    for grantee in [&doctor, &colleague] {
        p.json(&as_signer(
            &["grant", grantee, "--scope", "category:lab", "--expires", "1d"],
            "patient",
        ));
    }
    p.json(&as_signer(&["staff", "remove", &colleague], "hospital"));
    let revoked = p.json(&as_signer(&["revoke", &doctor], "patient"));
    let reshare = &revoked["reshare"];
    assert_eq!(reshare["shared"], serde_json::json!([]), "{revoked}");
    let inactive: Vec<String> = reshare["inactive"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(inactive, [colleague.to_lowercase()], "{revoked}");
    let text = p.ok(&as_signer(&["reshare"], "patient"));
    assert!(text.contains("no longer an active participant"), "{text}");
}

/// Issue 11, case 7: a signed grant that was withheld stayed valid until its deadline and
/// the patient could not take it back. `ehr void-signatures` voids it (and every other
/// unsubmitted signature), and the audit trail says so.
#[test]
fn a_withheld_signed_grant_can_be_voided() {
    let p = Project::with_stack();
    let (doctor, patient) = hospital_doctor_patient(&p);
    let args = [
        "grant",
        &doctor,
        "--scope",
        "all",
        "--expires",
        "1d",
        "--valid-for",
        "1h",
        "--signature-only",
    ];
    let signed = p.json(&as_signer(&args, "patient"));
    std::fs::write(p.path().join("grant.json"), signed.to_string()).unwrap();
    let voided = p.json(&as_signer(&["void-signatures"], "patient"));
    assert_eq!(voided["nonce"], "0x0", "{voided}");
    let output =
        p.ehr().args(as_signer(&["relay", "submit", "grant.json"], "doctor")).output().unwrap();
    let line = check_failure(&output, "relay of a voided grant");
    assert!(line.contains("the patient voided it"), "{line}");
    let trail = p.ok(&["audit", &patient]);
    assert!(trail.contains("voided nonce 0"), "{trail}");
    // Voiding is the patient's alone.
    let line = p.fails(&as_signer(&["void-signatures"], "doctor"));
    assert!(line.contains("not a registered patient") || line.contains("patient"), "{line}");
}
