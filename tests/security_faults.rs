//! Faults, against a real anvil and a real kubo: kubo SIGKILLed in the middle of an upload;
//! anvil SIGKILLed and restarted from its periodic state file; an RPC node (a proxy in front
//! of the real anvil) that drops connections before a request reaches the node or after the
//! node executed it; a blob store on a size-capped file system (RLIMIT_FSIZE in a child
//! process: writes past the cap fail in the kernel); a record lost because anvil came back from
//! a state dump older than it; re-uploading the same content. In every
//! case: no orphan index entry, no lost or doubled record, and `resume` (or a plain retry)
//! completes the work once the fault is gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::records_support::*;
use crate::security_support::{HttpProxy, Verdict};
use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use ehr_contracts::{DeployOptions, Deployment};
use ehr_devstack::{AnvilOptions, DevStack, KuboNode, KuboOptions, StackOptions};
use ehr_sdk::fetch::{FetchOutput, fetch};
use ehr_sdk::journal::{EntryStatus, Journal};
use ehr_sdk::records::{
    RecordSource, ResumeOutcome, ResumedEntry, UploadProgress, UploadRequest, UploadStage, resume,
    store_and_journal, upload,
};
use ehr_sdk::search::{SearchRequest, search};
use ehr_sdk::{Chain, Error, Session};
use ehr_store::StoreUrl;
use ehrkit_tests::TestChain;

async fn records_on_chain(session: &Session, patient: Address) -> eyre::Result<u64> {
    Ok(session.index().stateOf(patient).call().await?.records)
}

fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect()
}

fn all() -> SearchRequest {
    SearchRequest::default()
}

async fn connect(
    rpc: reqwest::Url,
    key: &PrivateKeySigner,
    deployment: &Deployment,
    store: &StoreUrl,
) -> eyre::Result<Session> {
    let chain = Chain::connect(rpc, Some(key.clone())).await?;
    Ok(Session::with_deployment(chain, deployment.clone(), Some(store)).await?)
}

/// A chain with ehrkit deployed and a registered patient; anvil dumps its state every second.
async fn chain_with_patient(
    state_interval: Option<u64>,
) -> eyre::Result<(TestChain, PrivateKeySigner)> {
    let stack = DevStack::start(StackOptions {
        anvil: AnvilOptions { state_interval_secs: state_interval, ..Default::default() },
        ..Default::default()
    })
    .await?;
    let admin = ehrkit_tests::funded_account(&stack).await?;
    let deployment = ehr_contracts::deploy(
        &ehrkit_tests::provider_for(&stack, &admin),
        DeployOptions { admin: admin.address(), admin_transfer_delay: 0, evm: None },
    )
    .await?;
    let chain = TestChain { stack, deployment, admin };
    let patient = chain.account().await?;
    Ok((chain, patient))
}

#[tokio::test(flavor = "multi_thread")]
async fn kubo_killed_in_the_middle_of_an_upload() -> eyre::Result<()> {
    let (chain, patient_key) = chain_with_patient(None).await?;
    let dir = tempfile::tempdir()?;
    let repo = dir.path().join("kubo-repo");
    let kubo_options = || KuboOptions { repo: Some(repo.clone()), ..Default::default() };
    let mut kubo = KuboNode::start(dir.path(), kubo_options()).await?;
    let store: StoreUrl = format!("kubo:{}", kubo.api_url()).parse()?;
    let patient =
        connect(chain.stack.anvil().rpc_url(), &patient_key, &chain.deployment, &store).await?;
    ehr_sdk::roles::register_patient(&patient).await?;
    let me = patient_key.address();
    let journal = Journal::new(&dir.path().join("journal"));

    // A 4 MiB file; kubo is SIGKILLed once half of it is encrypted and streaming to kubo.
    let file = dir.path().join("ct.bin");
    let content = pseudo_random(4 << 20, 7);
    std::fs::write(&file, &content)?;
    let pid = kubo.pid();
    let killed = Arc::new(AtomicBool::new(false));
    let progress = {
        let killed = killed.clone();
        Arc::new(move |p: UploadProgress| {
            let half = p.total.is_some_and(|t| p.done * 2 >= t);
            if p.stage == UploadStage::Encrypting && half && !killed.swap(true, Ordering::SeqCst) {
                let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        })
    };
    let request = || {
        UploadRequest::new(me, RecordSource::File { path: file.clone(), content_type: None })
            .category(ehr_record::Category::new("imaging").unwrap())
            .keywords(["ct"])
    };
    let err = upload(&patient, &journal, request().progress(progress)).await.unwrap_err();
    assert!(killed.load(Ordering::SeqCst), "kubo was killed mid-upload");
    println!("upload with kubo killed: {err}");
    assert!(matches!(err, Error::Store(_)), "{err:?}");
    assert_eq!(records_on_chain(&patient, me).await?, 0, "no orphan index entry");
    assert!(
        journal.entries()?.iter().all(|e| e.status != EntryStatus::Done),
        "nothing claims to be done"
    );
    let _ = kubo.kill();

    // kubo restarts on the same repository (new ports); resume, then the upload completes.
    let kubo = KuboNode::start(dir.path(), kubo_options()).await?;
    let store: StoreUrl = format!("kubo:{}", kubo.api_url()).parse()?;
    let patient =
        connect(chain.stack.anvil().rpc_url(), &patient_key, &chain.deployment, &store).await?;
    let report = resume(&patient, &journal).await?;
    println!("resume after restart: {report:?}");
    let report = upload(&patient, &journal, request()).await?;
    assert_eq!(report.record_id, 1);
    assert_eq!(records_on_chain(&patient, me).await?, 1);
    let out = dir.path().join("ct-copy.bin");
    fetch(&patient, me, 1, FetchOutput::File(out.clone())).await?;
    assert!(std::fs::read(&out)? == content);
    // Re-uploading the same file is refused as a duplicate: idempotent.
    let err = upload(&patient, &journal, request()).await.unwrap_err();
    assert!(matches!(err, Error::Duplicate { record_id: Some(1), .. }), "{err:?}");
    assert_eq!(records_on_chain(&patient, me).await?, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn anvil_sigkilled_and_restarted_from_its_state_file() -> eyre::Result<()> {
    let (mut chain, patient_key) = chain_with_patient(Some(1)).await?;
    let dir = tempfile::tempdir()?;
    let store: StoreUrl = format!("local:{}", dir.path().join("store").display()).parse()?;
    let rpc = chain.stack.anvil().rpc_url();
    let patient = connect(rpc.clone(), &patient_key, &chain.deployment, &store).await?;
    ehr_sdk::roles::register_patient(&patient).await?;
    let me = patient_key.address();
    let journal = Journal::new(&dir.path().join("journal"));
    for (json, word) in [(HBA1C_JSON, "hba1c"), (DIABETES_JSON, "diabetes")] {
        let request = UploadRequest::new(me, RecordSource::FhirJson(json.into())).keywords([word]);
        upload(&patient, &journal, request).await?;
    }
    // Wait past two dump intervals: the state file now holds both records.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // A third record is stored and journaled; anvil dies (SIGKILL) before it is indexed.
    let pending = store_and_journal(
        &patient,
        &journal,
        UploadRequest::new(me, RecordSource::FhirJson(METFORMIN_JSON.into()))
            .keywords(["metformin"]),
    )
    .await?;
    let head_before = patient.chain().head().await?.0;
    chain.stack.anvil_mut().kill()?;
    let err = search(&patient, me, &all()).await.unwrap_err();
    println!("search with anvil down: {err}");
    let err = resume(&patient, &journal).await.unwrap_err();
    println!("resume with anvil down: {err}");
    assert_eq!(journal.read(&pending.entry.id)?.status, EntryStatus::Pending, "nothing lost");

    // Restarted from the state file on the same port: what was mined before the last dump
    // survives (registrations, deployment, both records, the accumulator).
    chain.stack.anvil_mut().restart().await?;
    let patient = connect(rpc, &patient_key, &chain.deployment, &store).await?;
    let head_after = patient.chain().head().await?.0;
    println!("head before the kill {head_before}, after the restart {head_after}");
    assert!(head_after >= head_before.saturating_sub(1));
    assert_eq!(records_on_chain(&patient, me).await?, 2);
    let found = search(&patient, me, &all()).await?;
    assert_eq!(found.hits.iter().map(|h| h.record_id).collect::<Vec<_>>(), [1, 2]);
    // resume finishes the journaled record, exactly once.
    let report = resume(&patient, &journal).await?;
    assert_eq!(report.indexed(), 1, "{report:?}");
    assert!(matches!(report.entries[0].outcome, ResumeOutcome::Indexed { record_id: 3, .. }));
    assert!(resume(&patient, &journal).await?.entries.is_empty());
    let found = search(&patient, me, &all()).await?;
    assert_eq!(found.hits.iter().map(|h| h.record_id).collect::<Vec<_>>(), [1, 2, 3]);
    let out = dir.path().join("metformin.json");
    fetch(&patient, me, 3, FetchOutput::File(out.clone())).await?;
    assert_eq!(std::fs::read(&out)?, METFORMIN_JSON.as_bytes());

    // A record indexed after the last dump is lost with the crash, although the journal marked
    // it done. Made deterministic: keep the state file of one dump, index record 4, SIGKILL,
    // put that state file back (= the crash came right after that dump), restart.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let state_path = chain.stack.anvil().state_path().to_path_buf();
    let snapshot = loop {
        let bytes = std::fs::read(&state_path)?;
        if serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() {
            break bytes;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let note = b"note written just before the crash".to_vec();
    let request = UploadRequest::new(
        me,
        RecordSource::Bytes {
            file_name: "late.txt".into(),
            content_type: Some("text/plain".into()),
            bytes: note.clone(),
        },
    );
    let late = upload(&patient, &journal, request).await?;
    assert_eq!(late.record_id, 4);
    chain.stack.anvil_mut().kill()?;
    std::fs::write(&state_path, &snapshot)?;
    chain.stack.anvil_mut().restart().await?;
    let patient =
        connect(chain.stack.anvil().rpc_url(), &patient_key, &chain.deployment, &store).await?;
    assert_eq!(records_on_chain(&patient, me).await?, 3, "record 4 was mined after the last dump");
    // resume sees a "done" entry the chain no longer counts and indexes it again.
    let report = resume(&patient, &journal).await?;
    println!(
        "resume after the rollback: {:?}",
        report.entries.iter().map(|e| &e.outcome).collect::<Vec<_>>()
    );
    assert!(
        matches!(
            report.entries[..],
            [ResumedEntry { outcome: ResumeOutcome::Indexed { record_id: 4, .. }, .. }]
        ),
        "{report:?}"
    );
    assert_eq!(records_on_chain(&patient, me).await?, 4);
    let out = dir.path().join("late.txt");
    fetch(&patient, me, 4, FetchOutput::File(out.clone())).await?;
    assert_eq!(std::fs::read(&out)?, note);
    assert!(resume(&patient, &journal).await?.entries.is_empty(), "nothing left to do");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn rpc_connections_dropped_before_or_after_the_node_acts() -> eyre::Result<()> {
    let world = World::start(false).await?;
    let dir = tempfile::tempdir()?;
    let journal = Journal::new(dir.path());
    let proxy = HttpProxy::start(&world.chain.stack.anvil().rpc_url())?;
    let key = world.patient.chain().signer()?.clone();
    let me = key.address();
    let via_proxy =
        connect(proxy.url("/"), &key, &world.chain.deployment, &world.store_url).await?;
    let request = |json: &str, word: &str| {
        UploadRequest::new(me, RecordSource::FhirJson(json.as_bytes().to_vec())).keywords([word])
    };
    upload(&via_proxy, &journal, request(HBA1C_JSON, "hba1c")).await?;

    // 1. Every request is dropped before it reaches the node: reads and writes fail with a
    // transport error, nothing is indexed, no file is written.
    proxy.before(|_| Verdict::Drop);
    let err = search(&via_proxy, me, &all()).await.unwrap_err();
    println!("search, connection dropped: {err}");
    let out = dir.path().join("x.json");
    let err = fetch(&via_proxy, me, 1, FetchOutput::File(out.clone())).await.unwrap_err();
    println!("fetch, connection dropped: {err}");
    assert!(!out.exists());
    let err = upload(&via_proxy, &journal, request(DIABETES_JSON, "diabetes")).await.unwrap_err();
    println!("upload, connection dropped: {err}");
    assert!(journal.entries()?.iter().all(|e| e.status == EntryStatus::Done), "nothing stored");
    // Only the index transaction is dropped (the blob is stored and journaled by then).
    proxy.before(|req| {
        if req.rpc_method().as_deref() == Some("eth_sendRawTransaction") {
            Verdict::Drop
        } else {
            Verdict::Pass
        }
    });
    let err = upload(&via_proxy, &journal, request(DIABETES_JSON, "diabetes")).await.unwrap_err();
    println!("upload, index transaction dropped: {err}");
    proxy.clear();
    assert_eq!(records_on_chain(&world.patient, me).await?, 1, "no orphan index entry");
    assert_eq!(
        journal.entries()?.iter().filter(|e| e.status == EntryStatus::Pending).count(),
        1,
        "the stored record waits in the journal"
    );
    // resume indexes it once the node is reachable.
    let report = resume(&via_proxy, &journal).await?;
    println!(
        "resume after the outage: {:?}",
        report.entries.iter().map(|e| &e.outcome).collect::<Vec<_>>()
    );
    assert_eq!(report.indexed(), 1);
    assert_eq!(records_on_chain(&world.patient, me).await?, 2);

    // 2. Flaky: every third request is dropped before it reaches the node. The providers
    // retry a failed exchange (ehr_contracts::connect), so the upload succeeds first time.
    let counter = Arc::new(AtomicUsize::new(0));
    {
        let counter = counter.clone();
        proxy.before(move |_| {
            if counter.fetch_add(1, Ordering::SeqCst) % 3 == 2 {
                Verdict::Drop
            } else {
                Verdict::Pass
            }
        });
    }
    let mut attempts = 0;
    loop {
        attempts += 1;
        match upload(&via_proxy, &journal, request(METFORMIN_JSON, "metformin")).await {
            Ok(report) => {
                assert_eq!(report.record_id, 3);
                break;
            }
            Err(Error::Duplicate { .. }) => {
                // An earlier attempt stored and journaled it: finish it with resume.
                let report = resume(&via_proxy, &journal).await;
                if report.is_ok() && records_on_chain(&world.patient, me).await? == 3 {
                    break;
                }
            }
            Err(e) => println!("attempt {attempts}: {e}"),
        }
        assert!(attempts < 30, "gave up");
    }
    proxy.clear();
    println!(
        "flaky RPC: upload finished after {attempts} attempts, {} requests dropped",
        proxy.dropped.load(Ordering::SeqCst)
    );
    assert_eq!(attempts, 1, "the retries absorbed the dropped connections");
    assert_eq!(records_on_chain(&world.patient, me).await?, 3);

    // 3. The node mines the index transaction but the answer is lost: the upload fails, the
    // journal keeps the entry pending, and resume finds it already indexed (no second entry).
    let lost = Arc::new(AtomicBool::new(false));
    {
        let lost = lost.clone();
        proxy.after(move |req, _| {
            if req.rpc_method().as_deref() == Some("eth_sendRawTransaction")
                && !lost.swap(true, Ordering::SeqCst)
            {
                Verdict::Drop
            } else {
                Verdict::Pass
            }
        });
    }
    let pdf = ehr_record::sample_pdf("after a lost answer");
    let err = upload(
        &via_proxy,
        &journal,
        UploadRequest::new(
            me,
            RecordSource::Bytes { file_name: "r.pdf".into(), content_type: None, bytes: pdf },
        )
        .category(ehr_record::Category::LAB),
    )
    .await
    .unwrap_err();
    println!("upload, answer to the transaction lost: {err}");
    proxy.clear();
    // Give the node a moment to mine (automine is immediate).
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(records_on_chain(&world.patient, me).await?, 4, "the node did index it");
    let report = resume(&via_proxy, &journal).await?;
    let outcomes: Vec<_> = report.entries.iter().map(|e| e.outcome.clone()).collect();
    println!("resume after the lost answer: {outcomes:?}");
    assert!(outcomes.contains(&ResumeOutcome::AlreadyIndexed { record_id: 4 }), "{outcomes:?}");
    assert_eq!(records_on_chain(&world.patient, me).await?, 4, "not indexed twice");
    assert!(journal.entries()?.iter().all(|e| e.status == EntryStatus::Done));
    let found = search(&world.patient, me, &all()).await?;
    assert_eq!(found.hits.iter().map(|h| h.record_id).collect::<Vec<_>>(), [1, 2, 3, 4]);
    Ok(())
}

/// The child half of the disk-full test: uploads one 2 MiB record with its blob store in
/// `EHR_FAULT_STORE`, under the file-size cap its parent set; prints the error.
/// The child's test name as libtest knows it (`--exact` needs the module path, minus the
/// crate's own name).
fn child_test_name() -> String {
    const NAME: &str = "child_upload_under_a_size_cap";
    match module_path!().split_once("::") {
        Some((_crate, module)) => format!("{module}::{NAME}"),
        None => NAME.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn child_upload_under_a_size_cap() -> eyre::Result<()> {
    let Ok(spec) = std::env::var("EHR_FAULT_CHILD") else { return Ok(()) };
    let spec: serde_json::Value = serde_json::from_str(&spec)?;
    let key: PrivateKeySigner = spec["key"].as_str().unwrap().parse()?;
    let deployment: Deployment = serde_json::from_value(spec["deployment"].clone())?;
    let store: StoreUrl = spec["store"].as_str().unwrap().parse()?;
    let session =
        connect(spec["rpc"].as_str().unwrap().parse()?, &key, &deployment, &store).await?;
    let journal = Journal::new(std::path::Path::new(spec["journal"].as_str().unwrap()));
    let request = UploadRequest::new(
        key.address(),
        RecordSource::Bytes {
            file_name: "big.bin".into(),
            content_type: None,
            bytes: pseudo_random(2 << 20, 3),
        },
    )
    .category(ehr_record::Category::new("imaging")?);
    match upload(&session, &journal, request).await {
        Ok(report) => println!("CHILD-RESULT ok {}", report.record_id),
        Err(e) => println!("CHILD-RESULT error {e:?}"),
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_under_the_store_loses_nothing_and_leaves_nothing() -> eyre::Result<()> {
    if std::env::var("EHR_FAULT_CHILD").is_ok() {
        return Ok(());
    }
    let (chain, patient_key) = chain_with_patient(None).await?;
    let dir = tempfile::tempdir()?;
    let store_dir = dir.path().join("store");
    let store: StoreUrl = format!("local:{}", store_dir.display()).parse()?;
    let patient =
        connect(chain.stack.anvil().rpc_url(), &patient_key, &chain.deployment, &store).await?;
    ehr_sdk::roles::register_patient(&patient).await?;
    let me = patient_key.address();
    let journal_dir = dir.path().join("journal");
    let spec = serde_json::json!({
        "key": alloy::hex::encode(patient_key.to_bytes()),
        "deployment": chain.deployment,
        "store": store.to_string(),
        "rpc": chain.stack.anvil().rpc_url().to_string(),
        "journal": journal_dir.display().to_string(),
    });
    // The child may write no file past 512 KiB (RLIMIT_FSIZE; SIGXFSZ ignored, so the write
    // fails with EFBIG in the kernel, as a full quota would).
    let exe = std::env::current_exe()?;
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 512; exec \"$0\" \"$@\"")
        .arg(&exe)
        .args(["--exact", &child_test_name(), "--nocapture", "--test-threads=1"])
        .env("EHR_FAULT_CHILD", spec.to_string())
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find(|l| l.contains("CHILD-RESULT")).unwrap_or_else(|| {
        panic!("child output: {stdout}\n{}", String::from_utf8_lossy(&output.stderr))
    });
    println!("{line}");
    assert!(
        line.contains("error") && line.contains("Store"),
        "the capped upload failed in the store: {line}"
    );
    assert_eq!(records_on_chain(&patient, me).await?, 0, "no orphan index entry");
    // Nothing half-written is visible: no blob, no temporary file, no pending journal entry.
    let local = ehr_store::LocalStore::open(&store_dir).await?;
    assert!(local.list().await?.is_empty(), "no blob");
    let tmp = store_dir.join("tmp");
    let temps = if tmp.exists() { std::fs::read_dir(&tmp)?.count() } else { 0 };
    assert_eq!(temps, 0, "no temporary file left");
    let journal = Journal::new(&journal_dir);
    assert!(journal.entries()?.is_empty(), "no journal entry for a blob that was never stored");
    // Space is back: the same upload succeeds, once.
    let request = || {
        UploadRequest::new(
            me,
            RecordSource::Bytes {
                file_name: "big.bin".into(),
                content_type: None,
                bytes: pseudo_random(2 << 20, 3),
            },
        )
        .category(ehr_record::Category::new("imaging").unwrap())
    };
    assert_eq!(upload(&patient, &journal, request()).await?.record_id, 1);
    let err = upload(&patient, &journal, request()).await.unwrap_err();
    assert!(matches!(err, Error::Duplicate { record_id: Some(1), .. }), "{err:?}");
    assert_eq!(records_on_chain(&patient, me).await?, 1);
    Ok(())
}
