//! The whole story on each dev-node implementation ehrkit claims to run on: anvil, Hardhat's
//! node (EDR), ganache and `geth --dev`. Deploy (the node's EVM is probed and the newest build
//! it runs is deployed), roles (hospital, doctor with its key, patient), a grant the patient
//! signs (EIP-712) and the doctor relays and pays for, an upload by the doctor, a verified
//! search, a fetch of the original bytes, and a revocation after which the doctor can no
//! longer write. Every node is the real one, started on a free loopback port; a node that is
//! not installed fails its test (scripts/setup installs them all).

use std::time::{Duration, Instant};

use crate::records_support::HBA1C_JSON;
use alloy::signers::local::PrivateKeySigner;
use ehr_contracts::{EvmBuild, OrgKind, Purpose};
use ehr_sdk::consent::GrantSpec;
use ehr_sdk::deploy::DeployRequest;
use ehr_sdk::fetch::{FetchOutput, fetch};
use ehr_sdk::journal::Journal;
use ehr_sdk::records::{RecordSource, UploadRequest, upload};
use ehr_sdk::search::{SearchRequest, search};
use ehr_sdk::{Chain, Error, Session, SessionConfig};
use ehrkit_tests::devstack::{ChainNode, NodeKind};
use eyre::WrapErr;

/// Ether each new account gets from the node's own funded account.
const FUNDING_WEI: u128 = 10 * 10u128.pow(18);

#[tokio::test(flavor = "multi_thread")]
async fn story_on_anvil() -> eyre::Result<()> {
    story(NodeKind::Anvil, EvmBuild::Prague).await
}

#[tokio::test(flavor = "multi_thread")]
async fn story_on_hardhat() -> eyre::Result<()> {
    story(NodeKind::Hardhat, EvmBuild::Prague).await
}

#[tokio::test(flavor = "multi_thread")]
async fn story_on_ganache() -> eyre::Result<()> {
    // ganache 7.9 stops at shanghai: the prague build would hit MCOPY ("invalid opcode").
    story(NodeKind::Ganache, EvmBuild::Shanghai).await
}

#[tokio::test(flavor = "multi_thread")]
async fn story_on_geth() -> eyre::Result<()> {
    story(NodeKind::Geth, EvmBuild::Prague).await
}

async fn story(kind: NodeKind, expected_build: EvmBuild) -> eyre::Result<()> {
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    let node = ChainNode::start(kind, dir.path())
        .await
        .wrap_err_with(|| format!("starting {} (scripts/setup installs it)", kind.name()))?;
    let rpc_url = node.rpc_url();
    let new_account = || async {
        let signer = PrivateKeySigner::random();
        node.fund(&signer.address().to_string(), FUNDING_WEI).await?;
        eyre::Ok(signer)
    };

    // Deploy: the probe picks the build, the file records it, the dev chain needs no delay.
    let admin = new_account().await?;
    let deployment_path = dir.path().join("deployment.json");
    let admin_chain = Chain::connect(rpc_url.clone(), Some(admin.clone())).await?;
    let request = DeployRequest {
        path: deployment_path.clone(),
        admin: None,
        admin_delay: None,
        force: false,
        evm: None,
    };
    let deployed = ehr_sdk::deploy::deploy(&admin_chain, request).await?;
    assert_eq!(deployed.deployment.evm_build, expected_build, "{}", kind.name());
    if expected_build < EvmBuild::Prague {
        // Asking for a newer build than the node runs is refused, with the probe's answer.
        let newer = ehr_contracts::choose_build(admin_chain.reader(), Some(EvmBuild::Prague)).await;
        let message = newer.unwrap_err().to_string();
        assert!(message.contains("does not run the prague build"), "{message}");
    }
    assert_eq!(deployed.admin_delay, 0);
    let store: ehr_store::StoreUrl =
        format!("local:{}", dir.path().join("store").display()).parse()?;
    let session = |signer: &PrivateKeySigner| {
        Session::open(SessionConfig {
            rpc_url: rpc_url.clone(),
            deployment: deployment_path.clone(),
            signer: Some(signer.clone()),
            store: Some(store.clone()),
        })
    };

    // Roles: a hospital, its doctor with a registered key, a patient.
    let admin = session(&admin).await?;
    let hospital_key = new_account().await?;
    ehr_sdk::roles::add_organization(&admin, hospital_key.address(), OrgKind::Hospital, "General")
        .await?;
    let hospital = session(&hospital_key).await?;
    let doctor_key = new_account().await?;
    ehr_sdk::roles::add_staff(&hospital, doctor_key.address()).await?;
    let doctor = session(&doctor_key).await?;
    ehr_sdk::roles::register_public_key(&doctor).await?;
    let patient_key = new_account().await?;
    let patient = session(&patient_key).await?;
    ehr_sdk::roles::register_patient(&patient).await?;

    // The patient signs a lab grant; the doctor submits it and pays.
    let spec = GrantSpec {
        grantee: doctor_key.address(),
        scope: ehr_sdk::NamedScope::Category("lab".into()),
        purpose: Purpose::Treatment,
        duration: Duration::from_secs(30 * 24 * 3600),
        record_key: None,
    };
    let signed = ehr_sdk::relay::sign_grant(&patient, spec, Duration::from_secs(3600)).await?;
    assert_eq!(signed.recover_signer(&doctor).await?, patient_key.address());
    let granted = ehr_sdk::relay::submit_signed_grant(&doctor, &signed).await?;
    assert_eq!((granted.patient, granted.submitter), (patient_key.address(), doctor_key.address()));

    // The doctor uploads a lab result; a search finds it, verified at the head; it fetches.
    let journal_dir = tempfile::tempdir()?;
    let journal = Journal::new(journal_dir.path());
    let request =
        UploadRequest::new(patient_key.address(), RecordSource::FhirJson(HBA1C_JSON.into()))
            .keywords(["HbA1c", "diabetes"]);
    let uploaded = upload(&doctor, &journal, request).await?;
    assert_eq!((uploaded.record_id, uploaded.category.as_str()), (1, "lab"));
    let query = SearchRequest { keywords: vec!["hba1c".into()], ..Default::default() };
    let found = search(&doctor, patient_key.address(), &query).await?;
    assert_eq!(found.hits.iter().map(|h| h.record_id).collect::<Vec<_>>(), [1]);
    // Verified at the head of its time; then the read went on chain (a later block).
    let ehr_sdk::read_log::ReadLogReport::Logged { txs } = &found.read_log else {
        panic!("{}: a grantee's search is logged: {:?}", kind.name(), found.read_log)
    };
    assert!(found.verified_at_block < txs[0].block, "{}", kind.name());
    assert!(txs[0].block <= doctor.chain().head().await?.0);
    let out = journal_dir.path().join("hba1c.json");
    fetch(&doctor, patient_key.address(), 1, FetchOutput::File(out.clone())).await?;
    assert_eq!(std::fs::read(&out)?, HBA1C_JSON.as_bytes());

    // The patient revokes: the epoch moves and the doctor's next write is refused.
    let revoked = ehr_sdk::consent::revoke(&patient, doctor_key.address()).await?;
    assert_eq!(revoked.new_epoch, 1);
    let request =
        UploadRequest::new(patient_key.address(), RecordSource::FhirJson(HBA1C_JSON.into()))
            .allow_duplicate(true);
    let refused = upload(&doctor, &journal, request).await.unwrap_err();
    assert!(matches!(refused, Error::NotAuthorized { .. }), "{}: {refused}", kind.name());
    eprintln!("{}: the story passed in {:.1} s", kind.name(), started.elapsed().as_secs_f64());
    Ok(())
}
