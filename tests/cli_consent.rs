//! The consent story through the `ehr` binary against a real local stack started with
//! `ehr dev up`: deploy; a hospital, a doctor, an insurer and a patient; a direct grant and a
//! relayed one; a request approved and one denied; a revocation that advances the key epoch
//! and re-shares the new keys with the remaining grantee; break-glass access; and the audit
//! trail showing every step in chain order, the same in JSON and in text. Then the stack is
//! stopped and restarted on the same chain.

use crate::cli_support::Project;
use serde_json::Value;

const PW: [&str; 2] = ["--password-file", "pw"];

fn as_(account: &str) -> Vec<&str> {
    vec!["--account", account, PW[0], PW[1]]
}

fn lower(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_lowercase()
}

#[test]
fn consent_story_through_the_cli() {
    let p = Project::with_stack();
    let admin = p.account("admin");
    let hospital = p.account("hospital");
    let doctor = p.account("doctor");
    let insurer = p.account("insurer");
    let alice = p.account("alice");
    let run = |args: &[&str], signer: &str| -> Value {
        let mut all = args.to_vec();
        all.extend(as_(signer));
        p.json(&all)
    };

    // Deploy; the deployment file lands in the data dir.
    let deployed = run(&["deploy"], "admin");
    assert_eq!(deployed["deployment"]["chainId"], 31337);
    assert_eq!(lower(&deployed["admin"]), admin.to_lowercase());
    assert!(p.path().join(".ehr/deployment.json").is_file());

    // Roles.
    let org = run(
        &["org", "add", &hospital, "--kind", "hospital", "--name", "General Hospital"],
        "admin",
    );
    assert_eq!((org["kind"].as_str(), org["active"].as_bool()), (Some("hospital"), Some(true)));
    run(&["org", "add", &insurer, "--kind", "insurer", "--name", "Acme Insurance"], "admin");
    let staff = run(&["staff", "add", &doctor], "hospital");
    assert_eq!(lower(&staff["org"]), hospital.to_lowercase());
    assert_eq!(run(&["key", "register"], "doctor")["role"], "staff");
    assert_eq!(run(&["key", "register"], "insurer")["role"], "organization");
    assert_eq!(run(&["patient", "register"], "alice")["role"], "patient");

    // A direct grant: the patient pays.
    let grant = run(
        &[
            "grant",
            &doctor,
            "--scope",
            "category:lab",
            "--purpose",
            "treatment",
            "--expires",
            "30d",
        ],
        "alice",
    );
    assert_eq!((grant["scope"].as_str(), grant["epoch"].as_u64()), (Some("category:lab"), Some(0)));
    assert_eq!(lower(&grant["submitter"]), alice.to_lowercase());

    // A signed grant the doctor relays and pays for.
    let signed = run(
        &["grant", &doctor, "--scope", "category:imaging", "--expires", "12h", "--signature-only"],
        "alice",
    );
    std::fs::write(p.path().join("grant.json"), signed.to_string()).unwrap();
    let relayed = run(&["relay", "submit", "grant.json"], "doctor");
    assert_eq!(lower(&relayed["submitter"]), doctor.to_lowercase());
    assert_eq!(relayed["scope"], "category:imaging");
    let replay = p.fails(&["relay", "submit", "grant.json", "--account", "doctor", PW[0], PW[1]]);
    assert!(replay.contains("replayed"), "{replay}");

    // Requests: the insurer's is approved, the doctor's denied.
    let request = run(
        &[
            "request",
            &alice,
            "--scope",
            "all",
            "--purpose",
            "insurance",
            "--reason",
            "claim 42",
            "--ttl",
            "7d",
        ],
        "insurer",
    );
    assert_eq!((request["id"].as_u64(), request["status"].as_str()), (Some(1), Some("pending")));
    let pending = run(&["requests", "--pending"], "alice");
    assert_eq!(pending["requests"].as_array().unwrap().len(), 1);
    assert_eq!(pending["requests"][0]["reason"], "claim 42");
    let mine = run(&["requests"], "insurer");
    assert_eq!(lower(&mine["requests"][0]["requester"]), insurer.to_lowercase());
    let approval = run(&["approve", "1", "--expires", "90d"], "alice");
    assert_eq!(lower(&approval["grant"]["grantee"]), insurer.to_lowercase());
    assert_eq!(approval["grant"]["scope"], "all");
    run(&["request", &alice, "--scope", "record:1", "--reason", "second opinion"], "doctor");
    let denial = run(&["deny", "2"], "alice");
    assert_eq!(lower(&denial["requester"]), doctor.to_lowercase());
    let all = run(&["requests"], "alice");
    let statuses: Vec<&str> =
        all["requests"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["approved", "denied"]);
    assert!(run(&["requests", "--pending"], "alice")["requests"].as_array().unwrap().is_empty());

    // Revoking the doctor advances the epoch and re-shares it with the insurer only.
    let revoked = run(&["revoke", &doctor], "alice");
    assert_eq!(revoked["newEpoch"], 1);
    let shared = revoked["reshare"]["shared"].as_array().unwrap();
    assert_eq!(shared.len(), 1, "{revoked}");
    assert_eq!(lower(&shared[0]["grantee"]), insurer.to_lowercase());
    assert_eq!(shared[0]["scopes"], serde_json::json!(["all"]));
    assert_eq!(shared[0]["epoch"], 1);
    // Running the re-share again finds nothing left to do.
    let again = run(&["reshare"], "alice");
    assert!(again["shared"].as_array().unwrap().is_empty());
    assert_eq!(lower(&again["upToDate"][0]), insurer.to_lowercase());
    // The text form tells the patient what was re-shared.
    let text = p.ok(&["reshare", "--account", "alice", PW[0], PW[1]]);
    assert!(text.contains("already holds the epoch 1 keys"), "{text}");

    // Break-glass access by the doctor, closed by the patient.
    let opened = run(
        &["emergency", "open", &alice, "--reason", "unconscious in ER", "--hours", "6"],
        "doctor",
    );
    assert_eq!(lower(&opened["hospital"]), hospital.to_lowercase());
    assert_eq!(opened["reasonCode"], "emergency-treatment");
    // The words are encrypted to the patient: its own audit reads them, an anonymous one not.
    let own = run(&["audit", &alice], "alice");
    let opened_event = |trail: &serde_json::Value| {
        trail["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["event"]["kind"] == "emergencyOpened")
            .map(|e| e["event"].clone())
            .unwrap()
    };
    assert_eq!(opened_event(&own)["reason"], "unconscious in ER");
    assert!(opened_event(&p.json(&["audit", &alice])).get("reason").is_none());
    let closed = run(&["emergency", "close", &alice, "--doctor", &doctor], "alice");
    assert_eq!(lower(&closed["closedBy"]), alice.to_lowercase());

    // The audit trail: every step, in chain order, with times; JSON and text agree.
    let trail = p.json(&["audit", &alice]);
    let entries = trail["entries"].as_array().unwrap();
    let kinds: Vec<&str> = entries.iter().map(|e| e["event"]["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "patientRegistered",
            "granted",
            "granted",
            "accessRequested",
            "requestApproved",
            "granted",
            "accessRequested",
            "requestDenied",
            "revoked",
            "epochKeysShared",
            "emergencyOpened",
            "emergencyClosed",
        ]
    );
    let positions: Vec<(u64, u64)> = entries
        .iter()
        .map(|e| (e["block"].as_u64().unwrap(), e["logIndex"].as_u64().unwrap()))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "sorted by (block, log index): {positions:?}"
    );
    let times: Vec<u64> = entries.iter().map(|e| e["timestamp"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]) && times[0] > 1_600_000_000, "{times:?}");
    assert_eq!(lower(&entries[8]["event"]["grantee"]), doctor.to_lowercase());
    assert_eq!(entries[8]["event"]["newEpoch"], 1);

    let text = p.ok(&["audit", &alice]);
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), entries.len(), "{text}");
    for (line, entry) in lines.iter().zip(entries) {
        let time = entry["time"].as_str().unwrap().replace('T', " ").replace('Z', " UTC");
        assert!(line.starts_with(&time), "{line} vs {time}");
        assert!(line.contains(&format!("block {:>6}", entry["block"].as_u64().unwrap())), "{line}");
        assert!(line.ends_with(entry["summary"].as_str().unwrap()), "{line}");
    }

    // The same trail as a FHIR R4 Bundle of AuditEvent, and the grants as Consent: both pass
    // the R4 validator (`ehr validate` is the same one), one AuditEvent per entry.
    let fhir = run(&["audit", &alice, "--fhir"], "alice");
    let report = ehr_record::validate_fhir_json(&serde_json::to_vec(&fhir).unwrap());
    assert!(report.is_valid(), "{:?}", report.errors);
    assert_eq!(fhir["entry"].as_array().unwrap().len(), entries.len());
    let subtypes: Vec<&str> = fhir["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["subtype"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(subtypes, kinds);
    let consents = run(&["grants", "--fhir"], "alice");
    let report = ehr_record::validate_fhir_json(&serde_json::to_vec(&consents).unwrap());
    assert!(report.is_valid(), "{:?}", report.errors);
    assert!(
        consents["entry"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["resource"]["resourceType"] == "Consent")
    );

    // --since drops what came before.
    let late = p.json(&["audit", &alice, "--since", &times[10].to_string()]);
    assert!(late["entries"].as_array().unwrap().len() >= 2);

    // The stack stops and comes back on the same chain.
    let down = p.json(&["dev", "down"]);
    assert_eq!(down["services"][0]["wasRunning"], true);
    let status = p.json(&["dev", "status"]);
    assert_eq!(status["services"][0]["running"], false);
    let up = p.json(&["dev", "up"]);
    assert_eq!(
        (up["alreadyRunning"].as_bool(), up["resumedChain"].as_bool()),
        (Some(false), Some(true))
    );
    let again = p.json(&["audit", &alice]);
    assert_eq!(again["entries"].as_array().unwrap().len(), entries.len());
    let up = p.json(&["dev", "up"]);
    assert_eq!(up["alreadyRunning"], true);
}
