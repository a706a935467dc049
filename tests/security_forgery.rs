//! Forgery and replay of the patient's EIP-712 signatures, against a real anvil, for all three
//! signed entry points (`grantWithSig`, `revokeWithSig`, `approveRequestWithSig`): a reused
//! signature, one made for another chain id, one made for another deployment of the same
//! contract, the malleable high-s twin, a truncated one, an expired deadline, a signature by
//! someone other than the patient, a relayer altering a signed field, and a grant signed before
//! the patient's key epoch moved. Every one is rejected with its exact custom error, and none
//! consumes the patient's nonce (the valid signature still works afterwards).

use crate::security_support::assert_reverted;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::Eip712Domain;
use ehr_contracts::bindings::{ConsentRegistry, IConsentRegistry};
use ehr_contracts::{DeployOptions, Purpose, Scope, eip712, tx};
use ehrkit_tests::TestChain;

const DAY: u64 = 24 * 60 * 60;
/// secp256k1's group order n.
const N: &str = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141";

struct Cast {
    doctor: PrivateKeySigner,
    other_doctor: PrivateKeySigner,
    patient: PrivateKeySigner,
}

async fn register(chain: &TestChain, roles_at: Address) -> eyre::Result<Cast> {
    let (_hospital, doctors) = chain.hospital_with_doctors(roles_at, "General", 2).await?;
    let [doctor, other_doctor] = <[_; 2]>::try_from(doctors).expect("two doctors");
    let patient = chain.patient(roles_at).await?;
    Ok(Cast { doctor, other_doctor, patient })
}

async fn now(chain: &TestChain) -> eyre::Result<u64> {
    let block = chain.reader().get_block_by_number(Default::default()).await?.expect("a block");
    Ok(block.header.timestamp)
}

fn grant(
    patient: Address,
    grantee: Address,
    scope: Scope,
    expiry: u64,
    epoch: u64,
) -> IConsentRegistry::GrantRequest {
    IConsentRegistry::GrantRequest {
        patient,
        grantee,
        scope: scope.to_sol(),
        purpose: Purpose::Treatment.as_u8(),
        expiry,
        epoch,
        wrappedKeys: Bytes::from_static(b"wrapped keys (opaque to the contract)"),
    }
}

/// The malleable twin (n - s, flipped v) of a 65-byte r ‖ s ‖ v signature.
fn high_s(sig: &Bytes) -> Bytes {
    let n = U256::from_str_radix(N, 16).unwrap();
    let s = U256::from_be_slice(&sig[32..64]);
    let mut twin = sig.to_vec();
    twin[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
    twin[64] = if sig[64] == 27 { 28 } else { 27 };
    twin.into()
}

fn with_chain_id(domain: &Eip712Domain, id: u64) -> Eip712Domain {
    let mut d = domain.clone();
    d.chain_id = Some(U256::from(id));
    d
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_and_replayed_signatures_are_rejected_on_every_signed_entry_point()
-> eyre::Result<()> {
    let chain = TestChain::start(false).await?;
    let d = chain.deployment.clone();
    let cast = register(&chain, d.role_registry).await?;
    // A second, independent deployment on the same chain: its domain differs only in the
    // verifying contract.
    let other = ehr_contracts::deploy(
        &chain.provider(&chain.admin),
        DeployOptions { admin: chain.admin.address(), admin_transfer_delay: 0, evm: None },
    )
    .await?;
    let domain = eip712::consent_domain(&chain.reader(), d.consent_registry).await?;
    let other_domain = eip712::consent_domain(&chain.reader(), other.consent_registry).await?;
    assert_ne!(domain.verifying_contract, other_domain.verifying_contract);
    let relayer = chain.account().await?; // anyone may submit a signed message
    let consent = ConsentRegistry::new(d.consent_registry, chain.provider(&relayer));
    let reader = ConsentRegistry::new(d.consent_registry, chain.reader());
    let patient = cast.patient.address();
    let nonce_of = || async { eyre::Ok(reader.nonces(patient).call().await?) };

    let lab = Scope::Category(alloy::primitives::B256::right_padding_from(&[0x1a; 16]));
    let expiry = now(&chain).await? + 30 * DAY;
    let deadline = U256::from(now(&chain).await? + 3600);
    let g = grant(patient, cast.doctor.address(), lab, expiry, 0);
    let valid = eip712::sign_grant(&cast.patient, &domain, &g, U256::ZERO, deadline).await?;

    // --- grantWithSig ---------------------------------------------------------------
    let send = |g: IConsentRegistry::GrantRequest, nonce: U256, deadline: U256, sig: Bytes| {
        let consent = consent.clone();
        async move { tx::send("grant", consent.grantWithSig(g, nonce, deadline, sig)).await }
    };
    // Another chain id, another contract: the digest differs, so another address recovers.
    let sig =
        eip712::sign_grant(&cast.patient, &with_chain_id(&domain, 1), &g, U256::ZERO, deadline)
            .await?;
    assert_reverted(send(g.clone(), U256::ZERO, deadline, sig).await, "ConsentInvalidSigner");
    let sig = eip712::sign_grant(&cast.patient, &other_domain, &g, U256::ZERO, deadline).await?;
    assert_reverted(
        send(g.clone(), U256::ZERO, deadline, sig.clone()).await,
        "ConsentInvalidSigner",
    );
    // High s, truncated, not the patient, expired.
    assert_reverted(
        send(g.clone(), U256::ZERO, deadline, high_s(&valid)).await,
        "ConsentInvalidSignature",
    );
    let truncated = Bytes::copy_from_slice(&valid[..64]);
    assert_reverted(
        send(g.clone(), U256::ZERO, deadline, truncated).await,
        "ConsentInvalidSignature",
    );
    let sig = eip712::sign_grant(&cast.doctor, &domain, &g, U256::ZERO, deadline).await?;
    assert_reverted(send(g.clone(), U256::ZERO, deadline, sig).await, "ConsentInvalidSigner");
    let past = U256::from(now(&chain).await? - 1);
    let sig = eip712::sign_grant(&cast.patient, &domain, &g, U256::ZERO, past).await?;
    assert_reverted(send(g.clone(), U256::ZERO, past, sig).await, "ConsentSignatureExpired");
    // A relayer altering any signed field: grantee, scope, expiry, purpose, key material,
    // deadline, nonce.
    let mut altered = g.clone();
    altered.grantee = cast.other_doctor.address();
    assert_reverted(
        send(altered, U256::ZERO, deadline, valid.clone()).await,
        "ConsentInvalidSigner",
    );
    let mut altered = g.clone();
    altered.scope = Scope::All.to_sol();
    assert_reverted(
        send(altered, U256::ZERO, deadline, valid.clone()).await,
        "ConsentInvalidSigner",
    );
    let mut altered = g.clone();
    altered.expiry += DAY;
    assert_reverted(
        send(altered, U256::ZERO, deadline, valid.clone()).await,
        "ConsentInvalidSigner",
    );
    let mut altered = g.clone();
    altered.purpose = Purpose::Research.as_u8();
    assert_reverted(
        send(altered, U256::ZERO, deadline, valid.clone()).await,
        "ConsentInvalidSigner",
    );
    let mut altered = g.clone();
    altered.wrappedKeys = Bytes::from_static(b"keys wrapped to the attacker");
    assert_reverted(
        send(altered, U256::ZERO, deadline, valid.clone()).await,
        "ConsentInvalidSigner",
    );
    assert_reverted(
        send(g.clone(), U256::ZERO, deadline + U256::from(1), valid.clone()).await,
        "ConsentInvalidSigner",
    );
    assert_eq!(nonce_of().await?, U256::ZERO, "no rejected attempt consumed the nonce");
    // The valid one works once; its replay, on this and on the other contract, fails.
    send(g.clone(), U256::ZERO, deadline, valid.clone()).await?;
    assert_reverted(
        send(g.clone(), U256::ZERO, deadline, valid.clone()).await,
        "InvalidAccountNonce",
    );
    let other_consent = ConsentRegistry::new(other.consent_registry, chain.provider(&relayer));
    assert_reverted(
        tx::send(
            "grant",
            other_consent.grantWithSig(g.clone(), U256::ZERO, deadline, valid.clone()),
        )
        .await,
        "ConsentInvalidSigner",
    );
    assert_eq!(nonce_of().await?, U256::from(1));

    // --- revokeWithSig --------------------------------------------------------------
    let doctor = cast.doctor.address();
    let revoke = |nonce: U256, deadline: U256, sig: Bytes| {
        let consent = consent.clone();
        async move {
            tx::send("revoke", consent.revokeWithSig(patient, doctor, nonce, deadline, sig)).await
        }
    };
    let one = U256::from(1);
    let valid_revoke = eip712::sign_revoke(&cast.patient, &domain, doctor, one, deadline).await?;
    let on_chain = reader.revokeDigest(patient, doctor, one, deadline).call().await?;
    assert_eq!(on_chain, eip712::revoke_signing_hash(&domain, patient, doctor, one, deadline));
    let sig = eip712::sign_revoke(&cast.patient, &with_chain_id(&domain, 5), doctor, one, deadline)
        .await?;
    assert_reverted(revoke(one, deadline, sig).await, "ConsentInvalidSigner");
    let sig = eip712::sign_revoke(&cast.patient, &other_domain, doctor, one, deadline).await?;
    assert_reverted(revoke(one, deadline, sig).await, "ConsentInvalidSigner");
    assert_reverted(revoke(one, deadline, high_s(&valid_revoke)).await, "ConsentInvalidSignature");
    // Signed by the doctor itself (it recovers to the doctor, not the patient).
    let sig = eip712::sign_revoke(&cast.doctor, &domain, doctor, one, deadline).await?;
    assert_reverted(revoke(one, deadline, sig).await, "ConsentInvalidSigner");
    let sig = eip712::sign_revoke(&cast.patient, &domain, doctor, one, past).await?;
    assert_reverted(revoke(one, past, sig).await, "ConsentSignatureExpired");
    // Pointing the revocation at another grantee.
    let other_doctor = cast.other_doctor.address();
    assert_reverted(
        tx::send(
            "revoke",
            consent.revokeWithSig(patient, other_doctor, one, deadline, valid_revoke.clone()),
        )
        .await,
        "ConsentInvalidSigner",
    );
    // A signature with a future nonce: valid signer, wrong nonce.
    let two = U256::from(2);
    let sig = eip712::sign_revoke(&cast.patient, &domain, doctor, two, deadline).await?;
    assert_reverted(revoke(two, deadline, sig).await, "InvalidAccountNonce");
    assert_eq!(nonce_of().await?, one);
    revoke(one, deadline, valid_revoke.clone()).await?;
    assert_eq!(reader.epochOf(patient).call().await?, 1);
    assert_reverted(revoke(one, deadline, valid_revoke).await, "InvalidAccountNonce");

    // --- a grant signed before the epoch moved ---------------------------------------
    // Signed with nonce 2 in epoch 0 before the revocation; submitted afterwards.
    let stale = grant(patient, doctor, lab, expiry, 0);
    let sig = eip712::sign_grant(&cast.patient, &domain, &stale, two, deadline).await?;
    let message = assert_reverted(send(stale, two, deadline, sig).await, "ConsentWrongEpoch");
    assert!(message.contains("epoch 0") && message.contains("epoch 1"), "{message}");

    // --- approveRequestWithSig ----------------------------------------------------------
    let doctor_consent = ConsentRegistry::new(d.consent_registry, chain.provider(&cast.doctor));
    tx::send(
        "request",
        doctor_consent.requestAccess(
            patient,
            lab.to_sol(),
            Purpose::Treatment.as_u8(),
            DAY,
            1,
            Bytes::new(),
        ),
    )
    .await?;
    let request_id = reader.requestCount().call().await?;
    let nonce = nonce_of().await?;
    let approve = |g: IConsentRegistry::GrantRequest, nonce: U256, deadline: U256, sig: Bytes| {
        let consent = consent.clone();
        async move {
            tx::send("approve", consent.approveRequestWithSig(request_id, g, nonce, deadline, sig))
                .await
        }
    };
    // Signed before the epoch moved (epoch 0; the patient is in epoch 1 now).
    let old = grant(patient, doctor, lab, expiry, 0);
    let sig = eip712::sign_grant(&cast.patient, &domain, &old, nonce, deadline).await?;
    assert_reverted(approve(old, nonce, deadline, sig).await, "ConsentWrongEpoch");
    let g1 = grant(patient, doctor, lab, expiry, 1);
    let valid = eip712::sign_grant(&cast.patient, &domain, &g1, nonce, deadline).await?;
    let sig = eip712::sign_grant(&cast.patient, &with_chain_id(&domain, 10), &g1, nonce, deadline)
        .await?;
    assert_reverted(approve(g1.clone(), nonce, deadline, sig).await, "ConsentInvalidSigner");
    let sig = eip712::sign_grant(&cast.patient, &other_domain, &g1, nonce, deadline).await?;
    assert_reverted(approve(g1.clone(), nonce, deadline, sig).await, "ConsentInvalidSigner");
    assert_reverted(
        approve(g1.clone(), nonce, deadline, high_s(&valid)).await,
        "ConsentInvalidSignature",
    );
    let sig = eip712::sign_grant(&cast.doctor, &domain, &g1, nonce, deadline).await?;
    assert_reverted(approve(g1.clone(), nonce, deadline, sig).await, "ConsentInvalidSigner");
    let sig = eip712::sign_grant(&cast.patient, &domain, &g1, nonce, past).await?;
    assert_reverted(approve(g1.clone(), nonce, past, sig).await, "ConsentSignatureExpired");
    // A signed grant whose scope differs from the request's, or for another grantee.
    let mut wider = g1.clone();
    wider.scope = Scope::All.to_sol();
    let sig = eip712::sign_grant(&cast.patient, &domain, &wider, nonce, deadline).await?;
    assert_reverted(approve(wider, nonce, deadline, sig).await, "ConsentRequestMismatch");
    let mut other_grantee = g1.clone();
    other_grantee.grantee = other_doctor;
    let sig = eip712::sign_grant(&cast.patient, &domain, &other_grantee, nonce, deadline).await?;
    assert_reverted(approve(other_grantee, nonce, deadline, sig).await, "ConsentRequestMismatch");
    assert_eq!(nonce_of().await?, nonce, "nothing consumed the nonce");
    approve(g1.clone(), nonce, deadline, valid.clone()).await?;
    // Replaying the approval: the request is no longer pending.
    assert_reverted(
        approve(g1.clone(), nonce, deadline, valid.clone()).await,
        "ConsentRequestNotPending",
    );
    // ... and the same signature through grantWithSig: the nonce is used.
    assert_reverted(send(g1, nonce, deadline, valid).await, "InvalidAccountNonce");
    assert!(reader.hasAccess(patient, doctor, lab.to_sol()).call().await?);
    Ok(())
}
