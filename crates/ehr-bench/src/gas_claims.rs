//! Gas of the insurance-claim lifecycle from real anvil receipts: the patient submits a claim
//! over records it granted the insurer (one record, then three), the insurer starts the
//! review and decides.

use alloy::primitives::{Address, FixedBytes};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use ehr_contracts::bindings::{ClaimRegistry, ConsentRegistry, IConsentRegistry, RoleRegistry};
use ehr_contracts::{OrgKind, Purpose, Scope, tx};
use ehr_crypto::{DataKey, GrantKeys};
use ehr_index::grant::wrap_grant;

use crate::{Env, Results, public_key};

const DAY: u64 = 86_400;
/// USD 125.00, in the currency's minor unit.
const AMOUNT_CENTS: u128 = 12_500;

fn gas(receipt: &TransactionReceipt) -> f64 {
    receipt.gas_used as f64
}

/// The patient grants `insurer` one record, with that record's data key wrapped for it (a
/// fresh key stands in for the envelope's: the contract stores the bytes, it cannot tell).
async fn grant_record(
    env: &Env,
    patient: &PrivateKeySigner,
    insurer: Address,
    record: u64,
    expiry: u64,
) -> eyre::Result<()> {
    let d = &env.deployment;
    let insurer_key =
        RoleRegistry::new(d.role_registry, env.reader()).publicKeyOf(insurer).call().await?;
    let epoch = ConsentRegistry::new(d.consent_registry, env.reader())
        .epochOf(patient.address())
        .call()
        .await?;
    let keys = GrantKeys::Record { record, key: DataKey::generate()? };
    let wrapped = wrap_grant(&keys, patient.address(), insurer, &insurer_key, epoch)?;
    let request = IConsentRegistry::GrantRequest {
        patient: patient.address(),
        grantee: insurer,
        scope: Scope::Record(record).to_sol(),
        purpose: Purpose::Insurance.as_u8(),
        expiry,
        epoch,
        wrappedKeys: wrapped,
    };
    tx::send(
        "grant a record to the insurer",
        ConsentRegistry::new(d.consent_registry, env.provider(patient)).grant(request),
    )
    .await?;
    Ok(())
}

/// Measures submitClaim (1 and 3 records), startReview and decide for `patient`, whose
/// records 1..=3 exist.
pub(crate) async fn run(
    env: &Env,
    patient: &PrivateKeySigner,
    now: u64,
    receipt_method: &str,
    results: &mut Results,
) -> eyre::Result<()> {
    let d = &env.deployment;
    let insurer = env.account().await?;
    let roles = |s: &PrivateKeySigner| RoleRegistry::new(d.role_registry, env.provider(s));
    tx::send(
        "add insurer",
        roles(&env.admin).addOrganization(
            insurer.address(),
            OrgKind::Insurer.as_u8(),
            "Mutual Health".into(),
        ),
    )
    .await?;
    tx::send("insurer key", roles(&insurer).registerPublicKey(public_key(&insurer))).await?;
    for record in 1..=3 {
        grant_record(env, patient, insurer.address(), record, now + 30 * DAY).await?;
    }

    let claims = |s: &PrivateKeySigner| ClaimRegistry::new(d.claim_registry, env.provider(s));
    // What a client sends: the commitment and the terms sealed to insurer and patient (200
    // bytes of ciphertext; random-looking, so non-zero calldata).
    let terms = ehr_crypto::claim_terms::ClaimTerms::new(AMOUNT_CENTS, *b"USD");
    let commitment = FixedBytes::<32>::from(terms.commitment());
    let sealed =
        alloy::primitives::Bytes::from(vec![0x5a; ehr_crypto::claim_terms::SEALED_TERMS_LEN]);
    for ids in [vec![1u64], vec![1, 2, 3]] {
        let n = ids.len();
        let r = tx::send(
            "submit claim",
            claims(patient).submitClaim(insurer.address(), ids, commitment, sealed.clone()),
        )
        .await?;
        results.put(
            &format!("gas.claim.submit.records{n}"),
            gas(&r),
            &format!(
                "patient's submitClaim over {n} record(s) granted to the insurer (Record scopes; \
                 one hasAccess check per record): {receipt_method}"
            ),
        );
    }
    // The three-record claim, submitted last.
    let id = ClaimRegistry::new(d.claim_registry, env.reader()).claimCount().call().await?;
    let r = tx::send("start review", claims(&insurer).startReview(id)).await?;
    results.put(
        "gas.claim.start_review",
        gas(&r),
        &format!("insurer's startReview: {receipt_method}"),
    );
    // The reviewer's 37 words of text, sealed to the patient as the SDK does (86 bytes).
    let binding = ehr_crypto::reason::ReasonBinding {
        context: ehr_crypto::reason::ReasonContext::ClaimDecision,
        chain_id: d.chain_id,
        registry: d.claim_registry.0.0,
        patient: patient.address().0.0,
        sender: insurer.address().0.0,
        code: 1,
    };
    let patient_key = ehr_crypto::public_key_for_address(&public_key(patient), &binding.patient)?;
    let sealed = ehr_crypto::reason::seal_reason(
        &patient_key,
        &binding,
        "covered under plan B, outpatient care",
    )?;
    let r = tx::send("decide", claims(&insurer).decide(id, true, 1, sealed.into())).await?;
    results.put(
        "gas.claim.decide",
        gas(&r),
        &format!(
            "insurer's decide (approved, code 1, 37 bytes of words sealed to the patient: 86 bytes): {receipt_method}"
        ),
    );
    Ok(())
}
