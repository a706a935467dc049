//! Access that ends, against a real anvil: a grantee whose grant expired reads nothing the
//! patient writes after its next action, and a grant the patient signed but nobody submitted
//! is rotated away once it can no longer be submitted.

use std::time::Duration;

use crate::records_support::*;
use alloy::providers::Provider;
use ehr_contracts::{Purpose, tx};
use ehr_sdk::consent::{self, GrantSpec};
use ehr_sdk::journal::Journal;
use ehr_sdk::records::upload;
use ehr_sdk::rotation::{self, RotationReason};
use ehr_sdk::search::{SearchRequest, search};
use ehr_sdk::{NamedScope, Session, relay};

async fn advance(session: &Session, seconds: u64) -> eyre::Result<()> {
    let reader = session.chain().reader();
    let _: serde_json::Value = reader.raw_request("evm_increaseTime".into(), (seconds,)).await?;
    let _: serde_json::Value = reader.raw_request("evm_mine".into(), ()).await?;
    Ok(())
}

async fn epoch_of(session: &Session) -> eyre::Result<u64> {
    let patient = session.chain().address()?;
    Ok(tx::call("epoch", session.consent().epochOf(patient)).await?)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_grantee_reads_nothing_written_after_the_patients_next_action()
-> eyre::Result<()> {
    let world = World::start(false).await?;
    let patient = world.patient.chain().address()?;
    let dir = tempfile::tempdir()?;
    let journal = Journal::new(dir.path());
    let spec = |grantee: &Session, minutes: u64| -> eyre::Result<GrantSpec> {
        Ok(GrantSpec {
            grantee: grantee.chain().address()?,
            scope: NamedScope::Category("lab".into()),
            purpose: Purpose::Treatment,
            duration: Duration::from_secs(minutes * 60),
            record_key: None,
        })
    };
    consent::grant(&world.patient, spec(&world.doctor, 10)?).await?;
    consent::grant(&world.patient, spec(&world.nurse, 24 * 60)?).await?;
    upload(&world.patient, &journal, lab_note(patient, "before")).await?;
    assert_eq!(rotation::check(&world.patient).await?.reasons, vec![]);

    // The doctor's grant expires; nothing has happened yet, so it still holds epoch 0's keys.
    advance(&world.patient, 11 * 60).await?;
    let due = rotation::check(&world.patient).await?;
    assert!(
        matches!(due.reasons.as_slice(), [RotationReason::ExpiredGrant { grantee, .. }] if *grantee == world.doctor.chain().address()?),
        "{due:?}"
    );
    let stored = consent::stored_grants(&world.patient, patient).await?;
    assert_eq!(stored.iter().filter(|g| g.expired).count(), 1, "{stored:?}");
    assert_eq!(consent::active_grants(&world.patient, patient).await?.len(), 1);

    // The patient's next action (an upload) rotates first, then writes under epoch 1.
    let after = upload(&world.patient, &journal, lab_note(patient, "after")).await?;
    assert_eq!(after.epoch, 1);
    assert_eq!(epoch_of(&world.patient).await?, 1);
    assert_eq!(rotation::check(&world.patient).await?.reasons, vec![], "rotated once");

    // The expired doctor's keys are epoch 0's only: they cannot open the new record. (Its
    // client does not search at all: the chain no longer takes its read logs.) The nurse
    // reads both.
    let head = world.doctor.chain().head().await?.0;
    let ring = ehr_sdk::record_keys::key_ring(&world.doctor, patient, head).await?;
    assert_eq!(ring.keys.epochs(), Some(vec![0]));
    let err = search(&world.doctor, patient, &SearchRequest::default()).await.unwrap_err();
    assert!(matches!(err, ehr_sdk::Error::ReadNotLoggable { .. }), "{err}");
    let nurse_view = search(&world.nurse, patient, &SearchRequest::default()).await?;
    assert_eq!(nurse_view.hits.len(), 2, "{nurse_view:?}");
    // The expired grant is still stored: the patient can revoke it.
    consent::revoke(&world.patient, world.doctor.chain().address()?).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_grant_never_submitted_is_rotated_away() -> eyre::Result<()> {
    let world = World::start(false).await?;
    let pending_dir = tempfile::tempdir()?;
    let patient_session = world.patient.clone().with_pending_grants_dir(pending_dir.path());
    let spec = |grantee: &Session| -> eyre::Result<GrantSpec> {
        Ok(GrantSpec {
            grantee: grantee.chain().address()?,
            scope: NamedScope::All,
            purpose: Purpose::Treatment,
            duration: Duration::from_secs(24 * 3600),
            record_key: None,
        })
    };
    // One signed grant is submitted (by a relayer): it settles, nothing rotates.
    let submitted =
        relay::sign_grant(&patient_session, spec(&world.nurse)?, Duration::from_secs(600)).await?;
    relay::submit_signed_grant(&world.hospital, &submitted).await?;
    // Another is signed and withheld.
    let withheld =
        relay::sign_grant(&patient_session, spec(&world.doctor)?, Duration::from_secs(600)).await?;
    let check = rotation::check(&patient_session).await?;
    assert_eq!(check.reasons, vec![]);
    assert_eq!(check.pending.len(), 1, "the withheld one is pending: {check:?}");
    assert_eq!(check.pending[0].grantee, world.doctor.chain().address()?);

    // Its deadline passes without it reaching the chain.
    advance(&world.patient, 601).await?;
    let check = rotation::check(&patient_session).await?;
    assert!(
        matches!(check.reasons.as_slice(), [RotationReason::UnsubmittedSignature { grantee, .. }] if *grantee == world.doctor.chain().address()?),
        "{check:?}"
    );
    let outcome = rotation::maintain(&patient_session).await?.expect("a rotation");
    assert_eq!(outcome.new_epoch, 1);
    // The nurse's grant is in force: it gets epoch 1's keys; the doctor gets nothing.
    assert_eq!(outcome.reshare.shared.len(), 1);
    assert_eq!(outcome.reshare.shared[0].grantee, world.nurse.chain().address()?);
    assert_eq!(
        std::fs::read_dir(pending_dir.path())?
            .flatten()
            .flat_map(|d| std::fs::read_dir(d.path()))
            .flatten()
            .count(),
        0,
        "both settled and forgotten"
    );
    assert!(rotation::maintain(&patient_session).await?.is_none());
    drop(withheld);
    Ok(())
}
