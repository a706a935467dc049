//! The foundation story against a real anvil and a real kubo: deploy; register a hospital, a
//! doctor and a patient; the patient signs a grant (EIP-712, domain read from the contract) that
//! the doctor submits; it reads back; a replay fails with the decoded custom error; the patient
//! revokes; access is gone and the key epoch advanced. Bad input gets specific, decoded errors.

use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use ehr_contracts::bindings::{ConsentRegistry, IConsentRegistry, RoleRegistry};
use ehr_contracts::{Deployment, Error, Purpose, Role, Scope, eip712, tx};
use ehrkit_tests::{TestChain, address_of, public_key};

const DAY: u64 = 24 * 60 * 60;

/// A registered hospital, doctor and patient.
struct Cast {
    hospital: PrivateKeySigner,
    doctor: PrivateKeySigner,
    patient: PrivateKeySigner,
}

async fn register_cast(chain: &TestChain) -> eyre::Result<Cast> {
    let roles = chain.deployment.role_registry;
    let (hospital, doctors) = chain.hospital_with_doctors(roles, "General Hospital", 1).await?;
    let [doctor] = <[_; 1]>::try_from(doctors).expect("one doctor");
    let patient = chain.patient(roles).await?;
    Ok(Cast { hospital, doctor, patient })
}

async fn now(chain: &TestChain) -> eyre::Result<u64> {
    let block =
        chain.reader().get_block_by_number(Default::default()).await?.expect("latest block");
    Ok(block.header.timestamp)
}

fn grant_for(
    patient: &PrivateKeySigner,
    grantee: &PrivateKeySigner,
    scope: Scope,
    expiry: u64,
    epoch: u64,
) -> IConsentRegistry::GrantRequest {
    IConsentRegistry::GrantRequest {
        patient: patient.address(),
        grantee: grantee.address(),
        scope: scope.to_sol(),
        purpose: Purpose::Treatment.as_u8(),
        expiry,
        epoch,
        wrappedKeys: Bytes::from_static(b"epoch keys wrapped to the doctor"),
    }
}

fn reverted_with(result: Result<impl std::fmt::Debug, Error>, name: &str) -> String {
    match result {
        Err(error) => {
            let reason = error
                .revert_reason()
                .unwrap_or_else(|| panic!("expected a revert with {name}, got {error}"));
            assert_eq!(reason.error_name(), name, "{error}");
            error.to_string()
        }
        Ok(value) => panic!("expected a revert with {name}, got success {value:?}"),
    }
}

#[tokio::test]
async fn patient_signed_grant_is_relayed_replay_fails_and_revocation_removes_access()
-> eyre::Result<()> {
    let chain = TestChain::start(true).await?;

    // kubo is the real daemon, answering its RPC with its real version.
    let kubo = chain.stack.kubo().expect("kubo was started");
    let version: serde_json::Value = reqwest::Client::new()
        .post(kubo.api_url().join("/api/v0/version")?)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(version["Version"], "0.41.0");

    let d = chain.deployment.clone();
    d.verify(&chain.reader()).await?;
    let cast = register_cast(&chain).await?;
    let roles = RoleRegistry::new(d.role_registry, chain.reader());
    assert_eq!(Role::from_u8(roles.roleOf(cast.patient.address()).call().await?)?, Role::Patient);
    assert_eq!(Role::from_u8(roles.roleOf(cast.doctor.address()).call().await?)?, Role::Staff);
    assert_eq!(roles.orgOf(cast.doctor.address()).call().await?, cast.hospital.address());
    assert!(roles.isActiveDoctor(cast.doctor.address()).call().await?);
    let stored_key = roles.publicKeyOf(cast.patient.address()).call().await?;
    assert_eq!(address_of(&stored_key), cast.patient.address(), "the stored key is the patient's");

    // The patient signs with its local signer; the domain comes from eip712Domain().
    let domain = eip712::consent_domain(&chain.reader(), d.consent_registry).await?;
    let lab = Scope::Category(alloy::primitives::B256::right_padding_from(&[0x1a; 16]));
    let expiry = now(&chain).await? + 30 * DAY;
    let grant = grant_for(&cast.patient, &cast.doctor, lab, expiry, 0);
    let (nonce, deadline) = (U256::ZERO, U256::from(now(&chain).await? + 3600));
    let consent_as_doctor = ConsentRegistry::new(d.consent_registry, chain.provider(&cast.doctor));
    let on_chain_digest =
        consent_as_doctor.grantDigest(grant.clone(), nonce, deadline).call().await?;
    assert_eq!(eip712::grant_signing_hash(&domain, &grant, nonce, deadline), on_chain_digest);
    let signature = eip712::sign_grant(&cast.patient, &domain, &grant, nonce, deadline).await?;

    // The doctor submits it and pays the gas.
    let receipt = tx::send(
        "grant access",
        consent_as_doctor.grantWithSig(grant.clone(), nonce, deadline, signature.clone()),
    )
    .await?;
    assert_eq!(receipt.from, cast.doctor.address());
    let granted = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| ConsentRegistry::AccessGranted::decode_log_data(log.data()).ok())
        .expect("an AccessGranted event");
    assert_eq!(granted.patient, cast.patient.address());
    assert_eq!(granted.submitter, cast.doctor.address());
    assert_eq!(granted.wrappedKeys, grant.wrappedKeys);

    // It reads back.
    let consent = ConsentRegistry::new(d.consent_registry, chain.reader());
    let info =
        consent.grantOf(cast.patient.address(), cast.doctor.address(), lab.to_sol()).call().await?;
    assert!(info.active);
    assert_eq!(
        (info.expiry, info.epoch, Purpose::from_u8(info.purpose)?),
        (expiry, 0, Purpose::Treatment)
    );
    assert!(
        consent
            .hasAccess(cast.patient.address(), cast.doctor.address(), lab.to_sol())
            .call()
            .await?
    );
    let imaging = Scope::Category(alloy::primitives::B256::right_padding_from(&[0x2b; 16]));
    assert!(
        !consent
            .hasAccess(cast.patient.address(), cast.doctor.address(), imaging.to_sol())
            .call()
            .await?
    );
    assert_eq!(consent.nonces(cast.patient.address()).call().await?, U256::from(1));

    // Replaying the same signature fails with the decoded nonce error.
    let replay = tx::send(
        "grant access",
        consent_as_doctor.grantWithSig(grant.clone(), nonce, deadline, signature),
    )
    .await;
    let message = reverted_with(replay, "InvalidAccountNonce");
    assert!(message.contains("replayed"), "{message}");

    // The patient revokes: access is gone and the epoch moved.
    let consent_as_patient =
        ConsentRegistry::new(d.consent_registry, chain.provider(&cast.patient));
    let receipt = tx::send("revoke", consent_as_patient.revoke(cast.doctor.address())).await?;
    let revoked = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| ConsentRegistry::AccessRevoked::decode_log_data(log.data()).ok())
        .expect("an AccessRevoked event");
    assert_eq!(revoked.newEpoch, 1);
    assert!(
        !consent
            .hasAccess(cast.patient.address(), cast.doctor.address(), lab.to_sol())
            .call()
            .await?
    );
    assert!(
        !consent
            .grantOf(cast.patient.address(), cast.doctor.address(), lab.to_sol())
            .call()
            .await?
            .active
    );
    assert_eq!(consent.epochOf(cast.patient.address()).call().await?, 1);

    // A grant signed for the old epoch cannot be submitted after the revocation.
    let stale = grant_for(&cast.patient, &cast.doctor, lab, expiry, 0);
    let nonce = U256::from(1);
    let signature = eip712::sign_grant(&cast.patient, &domain, &stale, nonce, deadline).await?;
    let result =
        tx::send("grant access", consent_as_doctor.grantWithSig(stale, nonce, deadline, signature))
            .await;
    let message = reverted_with(result, "ConsentWrongEpoch");
    assert!(message.contains("epoch 0") && message.contains("epoch 1"), "{message}");
    Ok(())
}

#[tokio::test]
async fn bad_signatures_and_registrations_get_specific_decoded_errors() -> eyre::Result<()> {
    let chain = TestChain::start(false).await?;
    let d = chain.deployment.clone();
    let cast = register_cast(&chain).await?;
    let consent = ConsentRegistry::new(d.consent_registry, chain.provider(&cast.doctor));
    let domain = eip712::consent_domain(&chain.reader(), d.consent_registry).await?;
    let expiry = now(&chain).await? + DAY;
    let deadline = U256::from(now(&chain).await? + 3600);
    let grant = grant_for(&cast.patient, &cast.doctor, Scope::All, expiry, 0);

    // Signed for another chain id: recovers to someone else.
    let mut other_chain = domain.clone();
    other_chain.chain_id = Some(U256::from(1));
    let sig = eip712::sign_grant(&cast.patient, &other_chain, &grant, U256::ZERO, deadline).await?;
    let message = reverted_with(
        tx::send("grant", consent.grantWithSig(grant.clone(), U256::ZERO, deadline, sig)).await,
        "ConsentInvalidSigner",
    );
    assert!(message.contains(&cast.patient.address().to_string()), "{message}");

    // Signed by someone other than the patient.
    let sig = eip712::sign_grant(&cast.doctor, &domain, &grant, U256::ZERO, deadline).await?;
    reverted_with(
        tx::send("grant", consent.grantWithSig(grant.clone(), U256::ZERO, deadline, sig)).await,
        "ConsentInvalidSigner",
    );

    // Malformed: truncated, and the malleable high-s twin of a valid signature.
    let valid = eip712::sign_grant(&cast.patient, &domain, &grant, U256::ZERO, deadline).await?;
    let sig = valid.clone();
    let truncated = Bytes::copy_from_slice(&sig[..64]);
    reverted_with(
        tx::send("grant", consent.grantWithSig(grant.clone(), U256::ZERO, deadline, truncated))
            .await,
        "ConsentInvalidSignature",
    );
    let n = U256::from_str_radix(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
        16,
    )?;
    let s = U256::from_be_slice(&sig[32..64]);
    let mut malleable = sig.to_vec();
    malleable[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
    malleable[64] = if sig[64] == 27 { 28 } else { 27 };
    reverted_with(
        tx::send(
            "grant",
            consent.grantWithSig(grant.clone(), U256::ZERO, deadline, malleable.into()),
        )
        .await,
        "ConsentInvalidSignature",
    );

    // An expired deadline.
    let past = U256::from(now(&chain).await? - 1);
    let sig = eip712::sign_grant(&cast.patient, &domain, &grant, U256::ZERO, past).await?;
    let message = reverted_with(
        tx::send("grant", consent.grantWithSig(grant.clone(), U256::ZERO, past, sig)).await,
        "ConsentSignatureExpired",
    );
    assert!(message.contains("sign again"), "{message}");

    // The valid one still works afterwards: nothing above consumed the nonce.
    tx::send("grant", consent.grantWithSig(grant.clone(), U256::ZERO, deadline, valid)).await?;

    // Double registration and an unknown organization.
    let roles = RoleRegistry::new(d.role_registry, chain.provider(&cast.patient));
    let message = reverted_with(
        tx::send("register", roles.registerPatient(public_key(&cast.patient))).await,
        "RoleAlreadyAssigned",
    );
    assert!(message.contains("already registered as patient"), "{message}");
    let stranger = chain.account().await?;
    let roles = RoleRegistry::new(d.role_registry, chain.provider(&stranger));
    reverted_with(
        tx::send("add staff", roles.addStaff(cast.patient.address())).await,
        "RoleNotOrganization",
    );
    let message = reverted_with(
        tx::send("register", roles.registerPatient(public_key(&cast.patient))).await,
        "RolePublicKeyMismatch",
    );
    assert!(message.contains("register your own key"), "{message}");
    reverted_with(
        tx::send("add org", roles.addOrganization(stranger.address(), 0, "Rogue".into())).await,
        "AccessControlUnauthorizedAccount",
    );
    Ok(())
}

#[tokio::test]
async fn a_deployment_file_for_another_chain_or_a_reset_chain_is_refused() -> eyre::Result<()> {
    let chain = TestChain::start(false).await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("deployment.json");
    chain.deployment.save(&path)?;
    let loaded = Deployment::load(&path)?;
    loaded.verify(&chain.reader()).await?;

    let mut other = loaded.clone();
    other.chain_id = 1;
    let err = other.verify(&chain.reader()).await.expect_err("wrong chain");
    assert!(matches!(err, Error::WrongChain { file_chain_id: 1, rpc_chain_id: 31337 }), "{err}");

    let mut reset = loaded;
    reset.consent_registry = Address::repeat_byte(0x11);
    let err = reset.verify(&chain.reader()).await.expect_err("no code there");
    assert!(matches!(err, Error::NoCode { contract: "ConsentRegistry", .. }), "{err}");
    Ok(())
}
