//! Key generations against a real anvil: the master secret mixes the wallet's signature with
//! a recovery secret and is pinned on chain by a key-check value. A wrong recovery secret (or a
//! wallet whose signatures are not deterministic) is refused before anything is granted or
//! written; a phished master-secret signature alone derives nothing; a key rotation starts a
//! new generation at a new epoch and every record stays readable.

use std::time::Duration;

use crate::records_support::*;
use alloy::signers::Signer;
use ehr_contracts::{Purpose, tx};
use ehr_crypto::RecoverySecret;
use ehr_index::MasterSecret;
use ehr_sdk::consent::{self, GrantSpec};
use ehr_sdk::journal::Journal;
use ehr_sdk::records::upload;
use ehr_sdk::search::{SearchRequest, search};
use ehr_sdk::{Error, Session, keys, rotation};

async fn chain_state(session: &Session) -> eyre::Result<(u64, u64, alloy::primitives::U256)> {
    let patient = session.chain().address()?;
    let client = session.index_client();
    let records = client.state_at(patient, client.latest_block().await?).await?.records;
    let epoch = tx::call("epoch", session.consent().epochOf(patient)).await?;
    let nonce = tx::call("nonce", session.consent().nonces(patient)).await?;
    Ok((records, epoch, nonce))
}

#[tokio::test(flavor = "multi_thread")]
async fn key_generations_are_checked_unphishable_and_rotate() -> eyre::Result<()> {
    let world = World::start(false).await?;
    let patient = world.patient.chain().address()?;
    let d = world.patient.deployment().clone();
    let dir = tempfile::tempdir()?;
    let journal = Journal::new(dir.path());

    // Registration set up generation 1 with its key-check value.
    let state = tx::call("keys", world.patient.consent().keysOf(patient)).await?;
    assert_eq!((state.generation, state.epoch), (1, 0));
    let derived = keys::patient_keys(&world.patient).await?;
    let on_chain = tx::call("gen", world.patient.consent().generationOf(patient, 1)).await?;
    assert_eq!(derived.current().key_check(), on_chain.keyCheck.0);
    upload(&world.patient, &journal, lab_note(patient, "first")).await?;

    // A phished signature alone: the signature-only derivation (what a phishing page can ask
    // any wallet for) and the generation-1 signature without the recovery secret give other
    // keys, which the key-check value on chain tells apart.
    let legacy = ehr_index::derive_master_secret(
        world.patient.chain().signer()?,
        d.chain_id,
        d.record_index,
    )
    .await?;
    let hash =
        ehr_index::master_secret::generation_signing_hash(patient, 1, d.chain_id, d.record_index);
    let phished = world.patient.chain().signer()?.sign_hash(&hash).await?.normalized_s();
    let guessed = MasterSecret::from_generation(
        &phished.as_bytes(),
        &RecoverySecret::from_bytes([0; 32]),
        &patient.0.0,
        1,
    );
    for attempt in [legacy, guessed] {
        assert_ne!(attempt.as_bytes(), derived.current().as_bytes());
        assert_ne!(attempt.key_check(), on_chain.keyCheck.0);
    }

    // A wrong recovery secret (a mistyped code, or a wallet that signs with fresh randomness:
    // both give another K_p) is refused before anything is sent.
    let wrong = world.patient.clone().with_recovery_secret(1, RecoverySecret::from_bytes([9; 32]));
    let before = chain_state(&world.patient).await?;
    match upload(&wrong, &journal, lab_note(patient, "never")).await {
        Err(Error::KeyCheckMismatch { generation: 1, .. }) => {}
        other => panic!("upload with the wrong recovery secret: {other:?}"),
    }
    let spec = GrantSpec {
        grantee: world.doctor.chain().address()?,
        scope: ehr_sdk::NamedScope::All,
        purpose: Purpose::Treatment,
        duration: Duration::from_secs(24 * 3600),
        record_key: None,
    };
    match consent::grant(&wrong, spec.clone()).await {
        Err(Error::KeyCheckMismatch { generation: 1, .. }) => {}
        other => panic!("grant with the wrong recovery secret: {other:?}"),
    }
    assert_eq!(chain_state(&world.patient).await?, before, "nothing granted, written or signed");

    // The right one, given as a recovery code (what the page is told), works like the default.
    let code = keys::recovery_secret(&world.patient, 1)?.to_code();
    let by_code = world.patient.clone().with_recovery_secret(1, RecoverySecret::from_code(&code)?);
    consent::grant(&by_code, spec).await?;

    // Rotation: generation 2 at epoch 1; old and new records open for the patient; the doctor
    // (All grant, re-shared) reads the new one too.
    let rotated = rotation::rotate_keys(&world.patient).await?;
    assert_eq!(rotated.new_epoch, 1);
    assert_eq!(rotated.reshare.shared.len(), 1);
    let state = tx::call("keys", world.patient.consent().keysOf(patient)).await?;
    assert_eq!((state.generation, state.epoch), (2, 1));
    let second = upload(&world.patient, &journal, lab_note(patient, "second")).await?;
    assert_eq!(second.epoch, 1);
    let mine = search(&world.patient, patient, &SearchRequest::default()).await?;
    assert_eq!(mine.hits.len(), 2, "{mine:?}");
    let doctors = search(&world.doctor, patient, &SearchRequest::default()).await?;
    assert_eq!(doctors.hits.len(), 2, "{doctors:?}");
    // Generation 2's code differs from generation 1's.
    assert_ne!(keys::recovery_secret(&world.patient, 2)?.to_code(), code);
    Ok(())
}
