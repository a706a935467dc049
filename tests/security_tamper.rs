//! Tampering, against a real anvil and a real kubo: a flipped byte in a stored blob, two blobs
//! swapped, a kubo node (a proxy in front of the real kubo) serving other bytes, and an RPC
//! node (a proxy in front of the real anvil) whose `eth_getLogs` answers omit, reorder,
//! duplicate, forge or alter index entries. Every case fails with a specific error; a failed
//! fetch never leaves a file behind, and a streamed fetch has written only a prefix of the
//! true plaintext — never decrypted garbage.

use std::sync::{Arc, Mutex};

use crate::records_support::*;
use crate::security_support::{HttpProxy, Verdict};
use alloy::sol_types::SolEvent;
use ehr_contracts::bindings::RecordIndex::RecordAdded;
use ehr_record::Category;
use ehr_sdk::fetch::{FetchOutput, fetch};
use ehr_sdk::journal::Journal;
use ehr_sdk::records::{RecordSource, UploadReport, UploadRequest, upload};
use ehr_sdk::search::{SearchRequest, search};
use ehr_sdk::{Chain, Error, Session};
use ehr_store::{LocalStore, StoreUrl};

fn all() -> SearchRequest {
    SearchRequest::default()
}

/// A writer that keeps what it was given.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Sink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn upload_three(world: &World, dir: &std::path::Path) -> eyre::Result<Vec<UploadReport>> {
    let patient = world.patient.chain().address()?;
    let journal = Journal::new(dir);
    let mut out = Vec::new();
    for (json, word) in [(HBA1C_JSON, "hba1c"), (DIABETES_JSON, "diabetes")] {
        let request =
            UploadRequest::new(patient, RecordSource::FhirJson(json.into())).keywords([word]);
        out.push(upload(&world.patient, &journal, request).await?);
    }
    // 700 KiB: three 256 KiB leaves under a dag-pb root.
    let big: Vec<u8> =
        (0..700 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8).collect();
    let request = UploadRequest::new(
        patient,
        RecordSource::Bytes { file_name: "scan.bin".into(), content_type: None, bytes: big },
    )
    .category(Category::LAB)
    .keywords(["scan"]);
    out.push(upload(&world.patient, &journal, request).await?);
    Ok(out)
}

fn big_plaintext() -> Vec<u8> {
    (0..700 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8).collect()
}

/// Fetches to a file and asserts it failed with a store or crypto error and left no file.
async fn fetch_fails(session: &Session, record: u64, dir: &std::path::Path) -> String {
    let patient = session.chain().address().ok();
    let patient = patient.expect("a signer");
    let out = dir.join(format!("tampered-{record}.out"));
    let err = fetch(session, patient, record, FetchOutput::File(out.clone()))
        .await
        .expect_err("a tampered record must not fetch");
    assert!(matches!(err, Error::Store(_) | Error::Crypto(_)), "{err:?}");
    assert!(!out.exists(), "no file after a failed fetch");
    let leftovers = std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".partial"))
        .count();
    assert_eq!(leftovers, 0, "no partial file either");
    err.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_local_store_is_detected_and_nothing_is_shown() -> eyre::Result<()> {
    let world = World::start(false).await?;
    let dir = tempfile::tempdir()?;
    let reports = upload_three(&world, dir.path()).await?;
    let store = LocalStore::open(world._store_dir.path()).await?;
    let (a, b, big) = (
        store.blob_path(&reports[0].cid),
        store.blob_path(&reports[1].cid),
        store.blob_path(&reports[2].cid),
    );
    let (a_bytes, b_bytes, big_bytes) =
        (std::fs::read(&a)?, std::fs::read(&b)?, std::fs::read(&big)?);

    // 1. One flipped byte in the middle of a one-block envelope.
    let mut flipped = a_bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    std::fs::write(&a, &flipped)?;
    let message = fetch_fails(&world.patient, 1, dir.path()).await;
    println!("flipped byte:   {message}");
    assert!(message.contains(&reports[0].cid.to_string()), "the error names the blob: {message}");

    // 2. Two blobs swapped (each file is a valid envelope of the same patient).
    std::fs::write(&a, &b_bytes)?;
    std::fs::write(&b, &a_bytes)?;
    println!("swapped blobs:  {}", fetch_fails(&world.patient, 1, dir.path()).await);
    println!("swapped blobs:  {}", fetch_fails(&world.patient, 2, dir.path()).await);
    std::fs::write(&a, &a_bytes)?;
    std::fs::write(&b, &b_bytes)?;

    // 3. A flipped byte in the third leaf of a dag-pb envelope: a file output gets nothing,
    // a streamed output only a prefix of the true plaintext (the first leaves verified).
    let mut flipped = big_bytes.clone();
    let at = 2 * 262_144 + 1000;
    flipped[at] ^= 0x80;
    std::fs::write(&big, &flipped)?;
    println!("flipped leaf:   {}", fetch_fails(&world.patient, 3, dir.path()).await);
    let sink = Sink::default();
    let patient = world.patient.chain().address()?;
    let err = fetch(&world.patient, patient, 3, FetchOutput::Writer(Box::new(sink.clone())))
        .await
        .expect_err("tampered");
    let written = sink.0.lock().unwrap().clone();
    let truth = big_plaintext();
    assert!(written.len() < truth.len(), "{err}");
    assert!(truth.starts_with(&written), "only authenticated plaintext was written ({err})");
    // A truncated blob.
    std::fs::write(&big, &big_bytes[..big_bytes.len() - 1])?;
    println!("truncated blob: {}", fetch_fails(&world.patient, 3, dir.path()).await);
    std::fs::write(&big, &big_bytes)?;

    // Restored: everything reads back.
    for record in 1..=3 {
        let out = dir.path().join(format!("ok-{record}"));
        fetch(&world.patient, patient, record, FetchOutput::File(out)).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kubo_node_serving_other_bytes_is_detected() -> eyre::Result<()> {
    let world = World::start(true).await?;
    let dir = tempfile::tempdir()?;
    let reports = upload_three(&world, dir.path()).await?;
    let kubo = world.chain.stack.kubo().expect("kubo");
    let proxy = HttpProxy::start(&kubo.api_url())?;
    let proxied: StoreUrl = format!("kubo:{}", proxy.url("/")).parse()?;
    let patient_key = world.patient.chain().signer()?.clone();
    let reader = session(&world.chain, &patient_key, &proxied).await?;
    let patient = patient_key.address();

    // Honest proxy: reads work.
    fetch(&reader, patient, 1, FetchOutput::File(dir.path().join("honest"))).await?;

    // The node flips a byte in every block it serves.
    proxy.after(|req, resp| {
        if req.path.contains("/block/get") && !resp.body.is_empty() {
            let mid = resp.body.len() / 2;
            resp.body[mid] ^= 0x04;
        }
        Verdict::Pass
    });
    for record in [1, 3] {
        println!("kubo flips a byte: {}", fetch_fails(&reader, record, dir.path()).await);
    }

    // The node answers with another envelope's block (a valid envelope of the same patient).
    let other =
        ehr_store::BlobStoreExt::get_bytes(&**world.patient.store().unwrap(), reports[1].cid)
            .await?
            .to_vec();
    proxy.after(move |req, resp| {
        if req.path.contains("/block/get") {
            resp.body = other.clone();
        }
        Verdict::Pass
    });
    println!("kubo serves another blob: {}", fetch_fails(&reader, 1, dir.path()).await);

    // The node truncates, or serves nothing at all.
    proxy.after(|req, resp| {
        if req.path.contains("/block/get") {
            let keep = resp.body.len() / 3;
            resp.body.truncate(keep);
        }
        Verdict::Pass
    });
    println!("kubo truncates: {}", fetch_fails(&reader, 1, dir.path()).await);
    proxy.after(|req, resp| {
        if req.path.contains("/block/get") {
            resp.body.clear();
        }
        Verdict::Pass
    });
    println!("kubo serves nothing: {}", fetch_fails(&reader, 3, dir.path()).await);

    proxy.clear();
    fetch(&reader, patient, 3, FetchOutput::File(dir.path().join("honest-3"))).await?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogAttack {
    Omit,
    ReorderPositions,
    SwapContents,
    Duplicate,
    InsertForged,
    AlterTags,
    AlterDigest,
}

fn is_record_added(log: &serde_json::Value, index: &str) -> bool {
    log["address"].as_str().is_some_and(|a| a.eq_ignore_ascii_case(index))
        && log["topics"][0]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case(&RecordAdded::SIGNATURE_HASH.to_string()))
}

/// Applies `attack` to a `eth_getLogs` result; returns whether anything changed.
fn attack_logs(attack: LogAttack, logs: &mut Vec<serde_json::Value>, index: &str) -> bool {
    let positions: Vec<usize> = logs
        .iter()
        .enumerate()
        .filter(|(_, l)| is_record_added(l, index))
        .map(|(i, _)| i)
        .collect();
    if positions.len() < 2 {
        return false;
    }
    let (first, second) = (positions[0], positions[1]);
    match attack {
        LogAttack::Omit => {
            logs.remove(second);
        }
        LogAttack::ReorderPositions => logs.swap(first, second),
        LogAttack::SwapContents => {
            let data = logs[first]["data"].clone();
            logs[first]["data"] = logs[second]["data"].clone();
            logs[second]["data"] = data;
        }
        LogAttack::Duplicate => {
            let copy = logs[first].clone();
            logs.insert(second, copy);
        }
        LogAttack::InsertForged => {
            // A third record that never existed: the last record's log with the next id, a
            // later log index and another digest.
            let last = *positions.last().unwrap();
            let mut forged = logs[last].clone();
            let id = u64::from_str_radix(
                forged["topics"][2].as_str().unwrap().trim_start_matches("0x"),
                16,
            )
            .unwrap();
            forged["topics"][2] = format!("0x{:064x}", id + 1).into();
            let log_index = u64::from_str_radix(
                forged["logIndex"].as_str().unwrap().trim_start_matches("0x"),
                16,
            )
            .unwrap();
            forged["logIndex"] = format!("0x{:x}", log_index + 1).into();
            let data = forged["data"].as_str().unwrap().to_owned();
            forged["data"] = format!("0x{}{}", "ab".repeat(32), &data[66..]).into();
            logs.insert(last + 1, forged);
        }
        LogAttack::AlterTags | LogAttack::AlterDigest => {
            let data = logs[first]["data"].as_str().unwrap().to_owned();
            let mut bytes = alloy::hex::decode(&data[2..]).unwrap();
            // data: digest (0..32), category, epoch, offset, length, tags (from 160).
            let at = if attack == LogAttack::AlterTags { 170 } else { 5 };
            bytes[at] ^= 0x01;
            logs[first]["data"] = format!("0x{}", alloy::hex::encode(bytes)).into();
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread")]
async fn an_rpc_node_tampering_with_index_events_is_detected() -> eyre::Result<()> {
    let world = World::start(false).await?;
    let dir = tempfile::tempdir()?;
    upload_three(&world, dir.path()).await?;
    world
        .grant(
            &world.doctor,
            ehr_sdk::NamedScope::Category("lab".into()),
            ehr_contracts::Purpose::Treatment,
        )
        .await?;
    let anvil = world.chain.stack.anvil().rpc_url().clone();
    let proxy = HttpProxy::start(&anvil)?;
    let index = world.chain.deployment.record_index.to_string();
    let attack: Arc<Mutex<Option<LogAttack>>> = Arc::default();
    let applied = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    {
        let (attack, applied, index) = (attack.clone(), applied.clone(), index.clone());
        proxy.after(move |req, resp| {
            let Some(current) = *attack.lock().unwrap() else { return Verdict::Pass };
            if req.rpc_method().as_deref() != Some("eth_getLogs") {
                return Verdict::Pass;
            }
            let mut body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
            if let Some(logs) = body["result"].as_array_mut()
                && attack_logs(current, logs, &index)
            {
                applied.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                resp.body = serde_json::to_vec(&body).unwrap();
            }
            Verdict::Pass
        });
    }
    let connect = |key: alloy::signers::local::PrivateKeySigner| {
        let (url, deployment, store) =
            (proxy.url("/"), world.chain.deployment.clone(), world.store_url.clone());
        async move {
            let chain = Chain::connect(url, Some(key)).await?;
            eyre::Ok(Session::with_deployment(chain, deployment, Some(&store)).await?)
        }
    };
    // Fresh sessions for every attack: a session keeps the index it verified, and a warm one
    // would answer from it without asking the node for those logs at all.
    let views = || async {
        let patient_view = connect(world.patient.chain().signer()?.clone()).await?;
        let doctor_view = connect(world.doctor.chain().signer()?.clone()).await?;
        eyre::Ok((patient_view, doctor_view))
    };
    let patient = world.patient.chain().address()?;

    // Honest: three records, verified.
    assert_eq!(search(&views().await?.0, patient, &all()).await?.hits.len(), 3);

    let mut table = Vec::new();
    for kind in [
        LogAttack::Omit,
        LogAttack::ReorderPositions,
        LogAttack::SwapContents,
        LogAttack::Duplicate,
        LogAttack::InsertForged,
        LogAttack::AlterTags,
        LogAttack::AlterDigest,
    ] {
        let (patient_view, doctor_view) = views().await?;
        *attack.lock().unwrap() = Some(kind);
        let before = applied.load(std::sync::atomic::Ordering::SeqCst);
        for (who, view) in [("patient", &patient_view), ("doctor", &doctor_view)] {
            let result = search(view, patient, &all()).await;
            assert!(applied.load(std::sync::atomic::Ordering::SeqCst) > before, "{kind:?} applied");
            match result {
                Err(Error::Index(e)) => table.push(format!("{kind:?} ({who}): search → {e}")),
                Err(other) => panic!("{kind:?}: unexpected error {other:?}"),
                Ok(report) => {
                    // Only acceptable if the client restored the true order by itself.
                    assert_eq!(kind, LogAttack::ReorderPositions, "{kind:?} went unnoticed");
                    assert_eq!(
                        report.hits.iter().map(|h| h.record_id).collect::<Vec<_>>(),
                        if who == "patient" { vec![1, 2, 3] } else { vec![1, 3] }
                    );
                    table.push(format!(
                        "{kind:?} ({who}): search sorted the entries back; result correct"
                    ));
                }
            }
            let out = dir.path().join("via-tampered-rpc");
            match fetch(view, patient, 1, FetchOutput::File(out.clone())).await {
                Err(Error::Index(_)) => assert!(!out.exists()),
                Err(other) => panic!("{kind:?}: unexpected fetch error {other:?}"),
                Ok(_) => {
                    assert_eq!(kind, LogAttack::ReorderPositions, "{kind:?} fetch went unnoticed");
                    assert_eq!(std::fs::read(&out)?, HBA1C_JSON.as_bytes());
                }
            }
        }
    }
    *attack.lock().unwrap() = None;
    println!("\n{}", table.join("\n"));
    assert_eq!(search(&views().await?.0, patient, &all()).await?.hits.len(), 3);
    Ok(())
}
