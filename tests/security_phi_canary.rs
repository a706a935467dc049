//! PHI canary, against a real anvil and the embedded store: the demo's record workflow (a
//! patient, a hospital doctor with a grant, FHIR records, a wrapped PDF, search, fetch,
//! revocation, a later record, break-glass access) runs with unique random marker strings in
//! the record bodies, the keywords, the file names, a category name (granted, written,
//! searched, requested and audited by name), the words of an access request, of a
//! break-glass opening and of an insurer's claim decision (which the patient reads back), a
//! claim's amount, and the doctor's read logs (keywords and record numbers, which the patient
//! opens in its audit). Then every byte the chain holds is
//! scanned — every block with its full transactions (calldata), every receipt and log, and
//! the storage and code of every account from anvil's `anvil_dumpState` — and every stored
//! blob, for each marker raw, lower-cased, as hex, upper-case hex, UTF-16 and base64: zero
//! hits; nor does any stored blob carry the patient's address. A control marker deliberately
//! put on chain (an organization's name: calldata, event and storage) proves the scanner finds
//! what is there.

use std::time::Duration;

use crate::records_support::*;
use crate::security_support::{marker, scan};
use ehr_contracts::{OrgKind, Purpose};
use ehr_record::Category;
use ehr_sdk::fetch::{FetchOutput, fetch};
use ehr_sdk::journal::Journal;
use ehr_sdk::records::{BatchItem, BatchOptions, RecordSource, UploadRequest, upload, upload_many};
use ehr_sdk::search::{SearchRequest, search};
use serde_json::{Value, json};

async fn rpc(url: &reqwest::Url, method: &str, params: Value) -> eyre::Result<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let answer: Value =
        reqwest::Client::new().post(url.clone()).json(&body).send().await?.json().await?;
    if let Some(error) = answer.get("error") {
        eyre::bail!("{method}: {error}");
    }
    Ok(answer["result"].clone())
}

fn hex_field(value: &Value) -> Vec<u8> {
    value
        .as_str()
        .and_then(|s| alloy::hex::decode(s.trim_start_matches("0x")).ok())
        .unwrap_or_default()
}

/// Everything the chain holds, as (what, bytes) pieces: each block's JSON with full
/// transactions and the decoded calldata, each receipt's JSON with the decoded log data, and
/// the decompressed state dump (code and storage of every account).
async fn chain_bytes(url: &reqwest::Url) -> eyre::Result<Vec<(String, Vec<u8>)>> {
    let mut pieces = Vec::new();
    let head = rpc(url, "eth_blockNumber", json!([])).await?;
    let head = u64::from_str_radix(head.as_str().unwrap().trim_start_matches("0x"), 16)?;
    for n in 0..=head {
        let tag = format!("0x{n:x}");
        let block = rpc(url, "eth_getBlockByNumber", json!([tag, true])).await?;
        pieces.push((format!("block {n}"), serde_json::to_vec(&block)?));
        for tx in block["transactions"].as_array().into_iter().flatten() {
            pieces.push((format!("calldata in block {n}"), hex_field(&tx["input"])));
        }
        let receipts = rpc(url, "eth_getBlockReceipts", json!([tag])).await?;
        pieces.push((format!("receipts of block {n}"), serde_json::to_vec(&receipts)?));
        for receipt in receipts.as_array().into_iter().flatten() {
            for log in receipt["logs"].as_array().into_iter().flatten() {
                pieces.push((format!("log data in block {n}"), hex_field(&log["data"])));
            }
        }
    }
    let dump = hex_field(&rpc(url, "anvil_dumpState", json!([])).await?);
    let state = if dump.starts_with(&[0x1f, 0x8b]) {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.json.gz");
        std::fs::write(&path, &dump)?;
        let out = std::process::Command::new("gzip").arg("-dc").arg(&path).output()?;
        eyre::ensure!(out.status.success(), "gzip -dc failed");
        out.stdout
    } else {
        dump
    };
    assert!(state.len() > 1000 && state.starts_with(b"{"), "a JSON state dump");
    // Storage values as bytes too (each slot's 32-byte word).
    let parsed: Value = serde_json::from_slice(&state)?;
    let mut words = Vec::new();
    for account in parsed["accounts"].as_object().into_iter().flat_map(|m| m.values()) {
        for value in account["storage"].as_object().into_iter().flat_map(|m| m.values()) {
            words.extend(hex_field(value));
        }
        words.extend(hex_field(&account["code"]));
    }
    pieces.push(("state dump".into(), state));
    pieces.push(("storage words and code".into(), words));
    Ok(pieces)
}

fn store_bytes(dir: &std::path::Path) -> eyre::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else {
                out.push((format!("store file {}", path.display()), std::fs::read(&path)?));
                // The file name too (a CID; a leak through names would show here).
                out.push(("store file name".into(), path.to_string_lossy().as_bytes().to_vec()));
            }
        }
    }
    Ok(out)
}

fn hits_in(pieces: &[(String, Vec<u8>)], markers: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for (what, bytes) in pieces {
        for (marker, encoding) in scan(bytes, markers) {
            found.push(format!("{marker} ({encoding}) in {what}"));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn no_marker_from_records_keywords_or_file_names_reaches_the_chain_or_the_store()
-> eyre::Result<()> {
    let world = World::start(false).await?;
    let patient = world.patient.chain().address()?;
    let dir = tempfile::tempdir()?;
    let journal = Journal::new(dir.path());
    let [body, keyword, file_name, pdf_text, batch_word] =
        ["Body", "Kw", "File", "Pdf", "Batch"].map(marker);
    // A category name is PHI too (`hiv`, `mental-health`): a valid name that is a marker.
    let category = marker("Cat").to_ascii_lowercase();
    // So are the reasons a doctor gives for a request or for break-glass access.
    let [reason_text, emergency_text, decision_text] = ["Why", "Er", "Dec"].map(marker);
    let markers = vec![
        reason_text.clone(),
        decision_text.clone(),
        emergency_text.clone(),
        body.clone(),
        keyword.clone(),
        file_name.clone(),
        pdf_text.clone(),
        batch_word.clone(),
        category.clone(),
    ];

    // Records: FHIR bodies carrying the marker (patient name, note), a PDF whose file name and
    // text carry markers, keywords that are markers; by the patient and a granted doctor.
    world.grant(&world.doctor, NamedScope::Category("lab".into()), Purpose::Treatment).await?;
    let hba1c = HBA1C_JSON.replace("Adaeze", &body).replace("follow-up", &body);
    assert!(hba1c.contains(&body));
    let request = UploadRequest::new(patient, RecordSource::FhirJson(hba1c.clone().into_bytes()))
        .keywords([keyword.as_str(), "hba1c"]);
    upload(&world.patient, &journal, request).await?;
    let diabetes = DIABETES_JSON.replace("Adaeze", &body);
    let request = UploadRequest::new(patient, RecordSource::FhirJson(diabetes.into_bytes()))
        .keywords([keyword.as_str()]);
    upload(&world.patient, &journal, request).await?;
    let pdf = ehr_record::sample_pdf(&pdf_text);
    let request = UploadRequest::new(
        patient,
        RecordSource::Bytes {
            file_name: format!("{file_name}.pdf"),
            content_type: None,
            bytes: pdf.clone(),
        },
    )
    .category(Category::LAB)
    .keywords([keyword.as_str(), file_name.as_str()]);
    upload(&world.doctor, &journal, request).await?;
    let items = (0..3)
        .map(|i| BatchItem {
            source: RecordSource::Bytes {
                file_name: format!("{file_name}-{i}.txt"),
                content_type: Some("text/plain".into()),
                bytes: format!("{body} progress note {i}").into_bytes(),
            },
            category: None,
            keywords: vec![batch_word.clone(), format!("{keyword}{i}")],
        })
        .collect();
    upload_many(&world.patient, &journal, patient, items, BatchOptions::default()).await?;

    // Search, fetch, revoke, a record after the revocation, break-glass access.
    let request = SearchRequest { keywords: vec![keyword.clone()], ..Default::default() };
    let found = search(&world.doctor, patient, &request).await?;
    assert_eq!(found.hits.iter().map(|h| h.record_id).collect::<Vec<_>>(), [1, 3]);
    let out = dir.path().join("fetched.json");
    fetch(&world.doctor, patient, 1, FetchOutput::File(out.clone())).await?;
    assert_eq!(std::fs::read_to_string(&out)?, hba1c, "the marker round-trips");

    // The sensitive category, by name everywhere a person types or reads it.
    world.grant(&world.doctor, NamedScope::Category(category.clone()), Purpose::Treatment).await?;
    let request = UploadRequest::new(
        patient,
        RecordSource::Bytes {
            file_name: "note.txt".into(),
            content_type: Some("text/plain".into()),
            bytes: format!("{body} counselling note").into_bytes(),
        },
    )
    .category(Category::new(&category)?)
    .keywords([batch_word.as_str()]);
    upload(&world.doctor, &journal, request).await?;
    let request = SearchRequest {
        keywords: vec![batch_word.clone()],
        category: Some(category.clone()),
        ..Default::default()
    };
    let found = search(&world.doctor, patient, &request).await?;
    assert_eq!(found.hits.len(), 1, "the doctor finds it by the category's name");
    assert_eq!(found.hits[0].category, category, "and reads the name back");
    let asked = ehr_sdk::requests::request_access(
        &world.doctor,
        ehr_sdk::requests::RequestSpec {
            patient,
            scope: NamedScope::Category(category.clone()),
            purpose: Purpose::Treatment,
            ttl: Duration::from_secs(86_400),
            reason_code: ehr_contracts::ReasonCode::Treatment,
            reason: Some(format!("{reason_text} follow-up")),
        },
    )
    .await?;
    assert!(matches!(asked.scope, ehr_contracts::Scope::Category(_)));
    assert!(asked.has_encrypted_reason);
    // Only the patient reads the words; everyone else sees the code.
    let filter = ehr_sdk::requests::RequestFilter { patient: Some(patient), ..Default::default() };
    let as_patient = ehr_sdk::requests::list_requests(&world.patient, filter).await?;
    assert_eq!(as_patient[0].reason.as_deref(), Some(format!("{reason_text} follow-up").as_str()));
    let as_doctor = ehr_sdk::requests::list_requests(&world.doctor, filter).await?;
    assert_eq!(
        (as_doctor[0].reason.as_deref(), as_doctor[0].reason_code.name()),
        (None, "treatment")
    );
    // The patient's audit names the well-known categories; a name it has not been told stays
    // an opaque id (the chain holds nothing to recover it from).
    let trail = ehr_sdk::audit::audit(&world.patient, patient, None).await?;
    let summaries: Vec<&str> = trail.entries.iter().map(|e| e.summary.as_str()).collect();
    assert!(summaries.iter().any(|s| s.contains("(lab) added")), "{summaries:#?}");
    assert!(summaries.iter().any(|s| s.contains("(#")), "{summaries:#?}");
    // The doctor's searches and fetch went on chain as read logs, their keywords (markers)
    // sealed: the patient reads them back, the scan below finds them nowhere in clear.
    assert!(
        summaries.iter().any(|s| s.contains("searched") && s.contains(keyword.as_str())),
        "the patient's audit opens the logged search: {summaries:#?}"
    );
    assert!(summaries.iter().any(|s| s.contains("fetched record 1")), "{summaries:#?}");
    ehr_sdk::consent::revoke(&world.patient, world.doctor.chain().address()?).await?;
    let request = UploadRequest::new(
        patient,
        RecordSource::FhirJson(METFORMIN_JSON.replace("Adaeze", &body).into_bytes()),
    )
    .keywords([keyword.as_str()]);
    upload(&world.patient, &journal, request).await?;
    ehr_sdk::emergency::open(
        &world.doctor,
        patient,
        ehr_contracts::ReasonCode::EmergencyTreatment,
        Some(&format!("{emergency_text} unconscious in the ER")),
        Duration::from_secs(600),
    )
    .await?;
    let trail = ehr_sdk::audit::audit(&world.patient, patient, None).await?;
    let opened = trail.entries.iter().find(|e| e.summary.starts_with("emergency access opened"));
    assert!(
        opened.is_some_and(|e| e.summary.contains(&emergency_text)),
        "the patient's audit reads the break-glass words: {opened:?}"
    );
    let found = search(
        &world.patient,
        patient,
        &SearchRequest { keywords: vec![keyword.clone()], ..Default::default() },
    )
    .await?;
    assert_eq!(found.hits.len(), 4, "records 1, 2, 3 and 7 carry the keyword");

    // A claim: its amount reveals the care too. A unique amount, searched below as the
    // big-endian uint128 the contract would have stored and logged.
    let admin = session(&world.chain, &world.chain.admin, &world.store_url).await?;
    let insurer_key = world.chain.account().await?;
    ehr_sdk::roles::add_organization(&admin, insurer_key.address(), OrgKind::Insurer, "Insurer")
        .await?;
    let insurer = session(&world.chain, &insurer_key, &world.store_url).await?;
    ehr_sdk::roles::register_public_key(&insurer).await?;
    let seed = alloy::primitives::keccak256(marker("Amount"));
    let amount =
        1_000_000 + u128::from(u64::from_be_bytes(seed[..8].try_into()?) % 1_000_000_000_000);
    let eur = ehr_sdk::claims::Currency::new("EUR")?;
    let filed =
        ehr_sdk::claims::submit_claim(&world.patient, insurer_key.address(), &[1], amount, eur)
            .await?;
    assert_eq!(filed.claim.minor_units, Some(amount), "the patient reads its own claim");
    let seen_by_insurer = ehr_sdk::claims::get_claim(&insurer, filed.claim.id).await?;
    assert_eq!(seen_by_insurer.minor_units, Some(amount), "the insurer opens the terms");
    let seen_by_doctor = ehr_sdk::claims::get_claim(&world.doctor, filed.claim.id).await?;
    assert_eq!(seen_by_doctor.minor_units, None, "anyone else sees only the commitment");
    // The insurer's words on its decision are about the patient's care too.
    ehr_sdk::claims::review_claim(
        &insurer,
        filed.claim.id,
        ehr_sdk::claims::ReviewOutput::VerifyOnly,
    )
    .await?;
    let decided = ehr_sdk::claims::decide_claim(
        &insurer,
        filed.claim.id,
        false,
        ehr_contracts::DecisionCode::NotMedicallyNecessary,
        Some(&decision_text),
    )
    .await?;
    assert!(
        decided.decision.as_ref().is_some_and(|d| d.reason.is_none() && d.has_encrypted_reason)
    );
    let as_patient = ehr_sdk::claims::get_claim(&world.patient, filed.claim.id).await?;
    assert_eq!(
        as_patient.decision.and_then(|d| d.reason).as_deref(),
        Some(decision_text.as_str()),
        "the patient opens the reviewer's words"
    );
    let amount_needles =
        [alloy::hex::encode(amount.to_be_bytes()), alloy::hex::encode_upper(amount.to_be_bytes())];

    let rpc_url = world.chain.stack.anvil().rpc_url().clone();
    let chain = chain_bytes(&rpc_url).await?;
    let store = store_bytes(world._store_dir.path())?;
    let total: usize = chain.iter().chain(&store).map(|(_, b)| b.len()).sum();
    let hits = hits_in(&chain, &markers);
    let store_hits = hits_in(&store, &markers);
    println!(
        "scanned {} chain pieces and {} store files, {total} bytes, for {} markers × {} encodings",
        chain.len(),
        store.len() / 2,
        markers.len(),
        crate::security_support::marker_encodings(&markers[0]).len()
    );
    assert!(hits.is_empty(), "PHI on chain:\n{}", hits.join("\n"));
    let amount_bytes = amount.to_be_bytes();
    let has_amount = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        bytes.windows(amount_bytes.len()).any(|w| w == amount_bytes)
            || amount_needles.iter().any(|needle| text.contains(needle.as_str()))
    };
    // Control: the amount as the old contract logged it (an ABI word), raw or in JSON hex.
    let word = alloy::primitives::U256::from(amount).to_be_bytes::<32>();
    assert!(
        has_amount(&word)
            && has_amount(format!("{{\"data\":\"0x{}\"}}", alloy::hex::encode(word)).as_bytes())
    );
    let amount_hits: Vec<&str> = chain
        .iter()
        .filter(|(_, bytes)| has_amount(bytes))
        .map(|(what, _)| what.as_str())
        .collect();
    assert!(amount_hits.is_empty(), "the claim amount {amount} on chain: {amount_hits:?}");
    assert!(store_hits.is_empty(), "PHI in the store:\n{}", store_hits.join("\n"));
    // The envelopes do not name their patient (version 2 headers carry only a record id), so
    // a storage node cannot link a blob to a patient without the chain's index.
    let address_hex = alloy::hex::encode(patient.as_slice());
    let named: Vec<&str> = store
        .iter()
        .filter(|(_, bytes)| {
            bytes.windows(20).any(|w| w == patient.as_slice())
                || String::from_utf8_lossy(bytes).to_ascii_lowercase().contains(&address_hex)
        })
        .map(|(what, _)| what.as_str())
        .collect();
    assert!(!store.is_empty() && named.is_empty(), "the patient's address in the store: {named:?}");

    // Control: a marker deliberately put on chain is found in calldata, logs and storage.
    let control = marker("Ctl");
    let org = world.chain.account().await?;
    let admin = session(&world.chain, &world.chain.admin, &world.store_url).await?;
    ehr_sdk::roles::add_organization(&admin, org.address(), OrgKind::Lab, &control).await?;
    let chain = chain_bytes(&rpc_url).await?;
    let found = hits_in(&chain, std::slice::from_ref(&control));
    println!("control marker found {} times, e.g. {:?}", found.len(), &found[..found.len().min(4)]);
    for place in ["calldata", "log data", "storage words", "state dump"] {
        assert!(
            found.iter().any(|h| h.contains(place)),
            "the scanner finds the control in {place}: {found:?}"
        );
    }
    // And a marker in a stored blob (stored unencrypted on purpose) is found.
    let raw = ehr_store::BlobStoreExt::put_bytes(
        &**world.patient.store().unwrap(),
        control.clone().into_bytes(),
    )
    .await?;
    let store = store_bytes(world._store_dir.path())?;
    assert!(
        !hits_in(&store, std::slice::from_ref(&control)).is_empty(),
        "control blob {raw} found"
    );
    Ok(())
}
