//! Replicated storage on three real kubo nodes, each with its own repository, networked on
//! loopback only: 50 records uploaded with factor 2 through the SDK; one node SIGKILLed →
//! every record still fetches and verifies, and status lists them all as under-replicated;
//! the node comes back (same repository, same API port) having lost some of its blobs →
//! repair pins them again until every record has its factor, and a second repair does
//! nothing. Then the first node sits behind a proxy that flips a byte in every block it
//! serves: reads skip it. Last, with two nodes dead, a write cannot reach factor 2 and is
//! refused, leaving no pin and no record.

use crate::records_support::{HBA1C_JSON, session};
use crate::security_support::{HttpProxy, Verdict};
use ehr_devstack::{KuboNode, KuboOptions, Tool, find_tool};
use ehr_sdk::fetch::{FetchOutput, fetch};
use ehr_sdk::journal::Journal;
use ehr_sdk::records::{BatchItem, BatchOptions, RecordSource, UploadRequest, upload, upload_many};
use ehr_sdk::storage::{self, StorageStatus};
use ehr_sdk::{Error, Session};
use ehr_store::{Holding, StoreUrl};
use ehrkit_tests::TestChain;
use futures_util::{StreamExt, TryStreamExt, stream};
use std::path::Path;
use std::time::Instant;

const RECORDS: usize = 50;

async fn start_node(dir: &Path, api_port: Option<u16>) -> eyre::Result<KuboNode> {
    let options = KuboOptions { networked: true, api_port, ..Default::default() };
    Ok(KuboNode::start(dir, options).await?)
}

fn replicated(apis: &[String]) -> eyre::Result<StoreUrl> {
    let nodes: Vec<String> = apis.iter().map(|api| format!("kubo:{api}")).collect();
    Ok(format!("replicated:{}?factor=2", nodes.join(",")).parse()?)
}

/// Fetches every record and checks it is the uploaded FHIR JSON.
async fn fetch_all(
    reader: &Session,
    patient: alloy::primitives::Address,
    dir: &Path,
) -> eyre::Result<()> {
    stream::iter(1..=RECORDS as u64)
        .map(|id| async move {
            let out = dir.join(format!("record-{id}.json"));
            fetch(reader, patient, id, FetchOutput::File(out.clone())).await?;
            eyre::ensure!(std::fs::read(&out)? == HBA1C_JSON.as_bytes(), "record {id} differs");
            Ok(())
        })
        .buffer_unordered(8)
        .try_collect::<()>()
        .await
}

/// How many records each node pins.
fn pins_per_node(status: &StorageStatus, nodes: usize) -> Vec<usize> {
    let mut per_node = vec![0; nodes];
    for record in &status.records {
        for (i, node) in record.nodes.iter().enumerate() {
            per_node[i] += usize::from(node.holding == Holding::Pinned);
        }
    }
    per_node
}

#[tokio::test(flavor = "multi_thread")]
async fn three_kubo_nodes_survive_a_killed_node_and_a_lying_one() -> eyre::Result<()> {
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    let node_dirs: Vec<_> = (0..3).map(|i| dir.path().join(format!("node{i}"))).collect();
    let (chain, a, b, c) = tokio::join!(
        TestChain::start(false),
        start_node(&node_dirs[0], None),
        start_node(&node_dirs[1], None),
        start_node(&node_dirs[2], None),
    );
    let (chain, mut nodes) = (chain?, vec![a?, b?, c?]);
    let apis: Vec<String> = nodes.iter().map(|n| n.api_url().to_string()).collect();
    let store_url = replicated(&apis)?;
    let patient_key = chain.account().await?;
    let patient = patient_key.address();
    let owner = session(&chain, &patient_key, &store_url).await?;
    ehr_sdk::roles::register_patient(&owner).await?;
    eprintln!("stack up: {:?}", started.elapsed());

    // 50 records, each pinned on the primary and on one more node.
    let phase = Instant::now();
    let items = (0..RECORDS)
        .map(|i| BatchItem {
            source: RecordSource::FhirJson(HBA1C_JSON.into()),
            category: None,
            keywords: vec![format!("visit{i}")],
        })
        .collect();
    let options = BatchOptions { allow_duplicate: true, ..Default::default() };
    let uploaded = upload_many(&owner, &Journal::new(dir.path()), patient, items, options).await?;
    assert_eq!(uploaded.records.len(), RECORDS);
    let status = storage::status(&owner, patient).await?;
    assert_eq!((status.records.len(), status.factor), (RECORDS, 2));
    assert!(status.under_replicated.is_empty(), "{:?}", status.under_replicated);
    assert!(status.records.iter().all(|r| r.pinned == 2));
    let per_node = pins_per_node(&status, 3);
    assert_eq!(per_node[0], RECORDS, "the primary pins everything: {per_node:?}");
    assert!(per_node[1] > 0 && per_node[2] > 0, "replicas spread over both others: {per_node:?}");
    eprintln!("upload + status of {RECORDS}: {:?} (pins per node {per_node:?})", phase.elapsed());

    // The primary crashes: every record is still there, from the nodes after it.
    let phase = Instant::now();
    let api_port = nodes[0].api_url().port().expect("an explicit port");
    let pid = nodes[0].pid();
    nodes[0].kill()?;
    assert!(!alive(pid), "kubo {pid} survived SIGKILL");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out)?;
    fetch_all(&owner, patient, &out).await?;
    eprintln!("{RECORDS} fetches with the primary dead: {:?}", phase.elapsed());
    let status = storage::status(&owner, patient).await?;
    assert_eq!(status.under_replicated.len(), RECORDS);
    assert!(
        status.records.iter().all(|r| matches!(r.nodes[0].holding, Holding::Unreachable { .. })),
        "the dead node is reported unreachable"
    );

    // It comes back from its own repository, but lost the first 20 records' blobs (as a node
    // restored from an older copy would): unpinned and collected while it was down.
    let lost: Vec<String> = uploaded.records[..20].iter().map(|r| r.cid.to_string()).collect();
    let repo = nodes[0].repo().to_path_buf();
    let ipfs = find_tool(Tool::Ipfs)?;
    let mut pin_rm = vec!["pin", "rm"];
    pin_rm.extend(lost.iter().map(String::as_str));
    for args in [pin_rm, vec!["repo", "gc", "--quiet"]] {
        let output = std::process::Command::new(&ipfs)
            .env("IPFS_PATH", &repo)
            .env("IPFS_TELEMETRY", "off")
            .args(&args)
            .output()?;
        eyre::ensure!(
            output.status.success(),
            "ipfs {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    nodes[0] = start_node(&node_dirs[0], Some(api_port)).await?;
    let status = storage::status(&owner, patient).await?;
    let lost_ids: Vec<u64> = uploaded.records[..20].iter().map(|r| r.record_id).collect();
    assert_eq!(status.under_replicated, lost_ids);
    for record in status.records.iter().filter(|r| lost_ids.contains(&r.record_id)) {
        assert_eq!(record.nodes[0].holding, Holding::Absent, "record {}", record.record_id);
        assert_eq!(record.pinned, 1);
    }

    // Repair fetches the lost ones over bitswap from the nodes that still hold them.
    let phase = Instant::now();
    let repair = storage::repair(&owner, patient).await?;
    assert_eq!(repair.records, RECORDS);
    assert_eq!(repair.repaired.len(), 20, "{repair:#?}");
    assert!(repair.still_under_replicated.is_empty(), "{repair:#?}");
    assert!(
        repair.repaired.iter().all(|r| r.before == 1 && r.after == 2 && r.pinned_on.len() == 1)
    );
    let status = storage::status(&owner, patient).await?;
    assert!(status.under_replicated.is_empty(), "{:?}", status.under_replicated);
    assert!(status.records.iter().all(|r| r.pinned == 2));
    let again = storage::repair(&owner, patient).await?;
    assert!(again.repaired.is_empty(), "a second repair did something: {again:#?}");
    eprintln!("repair of 20 + status + idempotent repair: {:?}", phase.elapsed());

    // The first node now flips a byte in every block it serves; the others are honest.
    let phase = Instant::now();
    let proxy = HttpProxy::start(&nodes[0].api_url())?;
    proxy.after(|req, resp| {
        if req.path.contains("/block/get") && !resp.body.is_empty() {
            let mid = resp.body.len() / 2;
            resp.body[mid] ^= 0x01;
        }
        Verdict::Pass
    });
    let mut behind_liar = apis.clone();
    behind_liar[0] = proxy.url("/").to_string();
    let reader = session(&chain, &patient_key, &replicated(&behind_liar)?).await?;
    let out = dir.path().join("via-liar");
    std::fs::create_dir_all(&out)?;
    fetch_all(&reader, patient, &out).await?;
    // The proxy does lie: on its own it serves nothing that verifies.
    let liar_only: StoreUrl = format!("kubo:{}", proxy.url("/")).parse()?;
    let alone = session(&chain, &patient_key, &liar_only).await?;
    // (The last record was never lost, so the first node holds it.)
    let kept = uploaded.records[RECORDS - 1].record_id;
    let err =
        fetch(&alone, patient, kept, FetchOutput::File(out.join("lie.json"))).await.unwrap_err();
    assert!(matches!(err, Error::Store(ehr_store::Error::Corrupt { .. })), "{err:?}");
    eprintln!("{RECORDS} fetches past a lying node: {:?}", phase.elapsed());

    // With two of the three nodes dead a write cannot reach factor 2: it fails, says so,
    // and neither pins the envelope on the one node left nor indexes the record.
    let first_api = nodes[0].api_url();
    let pins_on_first = || async {
        let url = first_api.join("api/v0/pin/ls?type=recursive")?;
        let answer: serde_json::Value =
            reqwest::Client::new().post(url).send().await?.json().await?;
        eyre::Ok(answer["Keys"].as_object().map_or(0, |keys| keys.len()))
    };
    let pins_before = pins_on_first().await?;
    assert!(pins_before >= RECORDS - 20, "the first node pins the records it kept: {pins_before}");
    nodes[1].kill()?;
    nodes[2].kill()?;
    let request = UploadRequest::new(patient, RecordSource::FhirJson(HBA1C_JSON.into()))
        .allow_duplicate(true);
    let err = upload(&owner, &Journal::new(dir.path()), request).await.unwrap_err();
    assert!(err.to_string().contains("only 1 of the 2 nodes required"), "{err}");
    assert_eq!(pins_on_first().await?, pins_before, "the refused write left a pin");
    let status = storage::status(&owner, patient).await?;
    assert_eq!(status.records.len(), RECORDS, "the refused write was indexed");
    eprintln!("whole test: {:?}", started.elapsed());
    Ok(())
}

/// Whether a process is alive and not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat.split_whitespace().nth(2).is_none_or(|state| state != "Z"))
        .unwrap_or(false)
}

/// `ehr store status` and `ehr store repair` through the binary: on the dev stack's embedded
/// store (one node, factor 1) every record is pinned; with a replicated setting whose nodes
/// are all down, every record is under-replicated and repair fails in one line.
#[test]
fn store_status_and_repair_through_the_cli() {
    use crate::cli_support::Project;
    let p = Project::with_stack();
    let _admin = p.account("admin");
    let patient = p.account("patient");
    let signed = |args: &[&str], who: &str| {
        let mut all = args.to_vec();
        all.extend(["--account", who, "--password-file", "pw"]);
        p.json(&all)
    };
    signed(&["deploy"], "admin");
    signed(&["patient", "register"], "patient");
    std::fs::write(p.path().join("hba1c.json"), HBA1C_JSON).unwrap();
    for word in ["first", "second"] {
        signed(
            &["upload", "hba1c.json", "--fhir", "--keywords", word, "--allow-duplicate"],
            "patient",
        );
    }

    let status = p.json(&["store", "status", &patient]);
    assert_eq!(status["factor"], 1, "{status}");
    assert_eq!(status["records"].as_array().unwrap().len(), 2, "{status}");
    assert_eq!(status["underReplicated"], serde_json::json!([]), "{status}");
    assert_eq!(status["records"][0]["nodes"][0]["state"], "pinned", "{status}");
    let text = p.ok(&["store", "status", &patient]);
    assert!(text.contains("every record is pinned on enough nodes"), "{text}");
    let repair = p.json(&["store", "repair", &patient]);
    assert_eq!(repair["repaired"], serde_json::json!([]), "{repair}");

    // Three nodes nobody listens on.
    let ports: Vec<u16> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port())
        .collect();
    let nodes: Vec<String> =
        ports.iter().map(|port| format!("kubo:http://127.0.0.1:{port}")).collect();
    let down = format!("replicated:{}?factor=2", nodes.join(","));
    let status = p.json(&["store", "status", &patient, "--store", &down]);
    assert_eq!(status["underReplicated"], serde_json::json!([1, 2]), "{status}");
    let line = p.fails(&["store", "repair", &patient, "--store", &down]);
    assert!(line.contains("2 records still pinned on fewer than 2 nodes (1, 2)"), "{line}");
    let line =
        p.fails(&["store", "status", &patient, "--store", "replicated:kubo:http://127.0.0.1:1"]);
    assert!(line.contains("at least two nodes"), "{line}");
}
