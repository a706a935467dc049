//! The EIP-712 messages a patient signs so that someone else (a doctor, a relayer) can submit
//! a grant or a revocation and pay its gas. The domain is read from the contract's ERC-5267
//! `eip712Domain()`, never assumed, so a signature can only be valid for the chain and the
//! contract it was made for.

use crate::bindings::{ConsentRegistry, IConsentRegistry};
use crate::{Error, Result, tx};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::signers::Signer;
use alloy::sol_types::{Eip712Domain, SolStruct};

/// The typed structs exactly as `ConsentRegistry` hashes them.
pub mod typed {
    #![allow(missing_docs)]
    alloy::sol! {
        #[derive(Debug, PartialEq, Eq)]
        struct Scope {
            uint8 kind;
            bytes32 value;
        }

        #[derive(Debug, PartialEq, Eq)]
        struct Grant {
            address patient;
            address grantee;
            Scope scope;
            uint8 purpose;
            uint64 expiry;
            uint64 epoch;
            bytes wrappedKeys;
            uint256 nonce;
            uint256 deadline;
        }

        #[derive(Debug, PartialEq, Eq)]
        struct Revoke {
            address patient;
            address grantee;
            uint256 nonce;
            uint256 deadline;
        }
    }
}

/// ERC-5267 field bits: name, version, chainId, verifyingContract (no salt, no extensions).
const EXPECTED_DOMAIN_FIELDS: u8 = 0x0f;

/// Reads the consent registry's EIP-712 domain from the chain.
pub async fn consent_domain<P: Provider>(
    provider: &P,
    consent_registry: Address,
) -> Result<Eip712Domain> {
    let contract = ConsentRegistry::new(consent_registry, provider);
    let d = tx::call("read the EIP-712 domain", contract.eip712Domain()).await?;
    if d.fields.0[0] != EXPECTED_DOMAIN_FIELDS || !d.extensions.is_empty() {
        return Err(Error::UnexpectedDomain {
            contract: consent_registry,
            reason: format!("fields {:#04x}, {} extensions", d.fields.0[0], d.extensions.len()),
        });
    }
    if d.verifyingContract != consent_registry {
        return Err(Error::UnexpectedDomain {
            contract: consent_registry,
            reason: format!("verifying contract is {}", d.verifyingContract),
        });
    }
    let chain_id = u64::try_from(d.chainId).map_err(|_| Error::UnexpectedDomain {
        contract: consent_registry,
        reason: "chain id over 64 bits".into(),
    })?;
    Ok(Eip712Domain::new(
        Some(d.name.into()),
        Some(d.version.into()),
        Some(U256::from(chain_id)),
        Some(d.verifyingContract),
        None,
    ))
}

fn typed_grant(
    grant: &IConsentRegistry::GrantRequest,
    nonce: U256,
    deadline: U256,
) -> typed::Grant {
    typed::Grant {
        patient: grant.patient,
        grantee: grant.grantee,
        scope: typed::Scope { kind: grant.scope.kind, value: grant.scope.value },
        purpose: grant.purpose,
        expiry: grant.expiry,
        epoch: grant.epoch,
        wrappedKeys: grant.wrappedKeys.clone(),
        nonce,
        deadline,
    }
}

/// The digest a patient signs for `grant` (equal to the contract's `grantDigest`).
pub fn grant_signing_hash(
    domain: &Eip712Domain,
    grant: &IConsentRegistry::GrantRequest,
    nonce: U256,
    deadline: U256,
) -> B256 {
    typed_grant(grant, nonce, deadline).eip712_signing_hash(domain)
}

/// The digest a patient signs to revoke `grantee` (equal to the contract's `revokeDigest`).
pub fn revoke_signing_hash(
    domain: &Eip712Domain,
    patient: Address,
    grantee: Address,
    nonce: U256,
    deadline: U256,
) -> B256 {
    typed::Revoke { patient, grantee, nonce, deadline }.eip712_signing_hash(domain)
}

/// Signs a grant as the patient; returns the 65-byte `r ‖ s ‖ v` signature the contract takes.
pub async fn sign_grant<S: Signer + Sync>(
    signer: &S,
    domain: &Eip712Domain,
    grant: &IConsentRegistry::GrantRequest,
    nonce: U256,
    deadline: U256,
) -> Result<Bytes> {
    let hash = grant_signing_hash(domain, grant, nonce, deadline);
    let signature = signer.sign_hash(&hash).await?;
    Ok(Bytes::copy_from_slice(&signature.as_bytes()))
}

/// Signs a revocation as the patient; returns the 65-byte `r ‖ s ‖ v` signature.
pub async fn sign_revoke<S: Signer + Sync>(
    signer: &S,
    domain: &Eip712Domain,
    grantee: Address,
    nonce: U256,
    deadline: U256,
) -> Result<Bytes> {
    let hash = revoke_signing_hash(domain, signer.address(), grantee, nonce, deadline);
    let signature = signer.sign_hash(&hash).await?;
    Ok(Bytes::copy_from_slice(&signature.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::signers::local::PrivateKeySigner;

    fn domain(chain_id: u64, contract: Address) -> Eip712Domain {
        Eip712Domain::new(
            Some("ehrkit ConsentRegistry".into()),
            Some("1".into()),
            Some(U256::from(chain_id)),
            Some(contract),
            None,
        )
    }

    fn grant(patient: Address) -> IConsentRegistry::GrantRequest {
        IConsentRegistry::GrantRequest {
            patient,
            grantee: Address::repeat_byte(9),
            scope: IConsentRegistry::Scope { kind: 0, value: B256::ZERO },
            purpose: 0,
            expiry: 1_000,
            epoch: 0,
            wrappedKeys: Bytes::from_static(b"keys"),
        }
    }

    #[test]
    fn type_strings_match_the_contract() {
        assert_eq!(
            typed::Grant::eip712_encode_type(),
            "Grant(address patient,address grantee,Scope scope,uint8 purpose,uint64 expiry,uint64 epoch,bytes wrappedKeys,uint256 nonce,uint256 deadline)Scope(uint8 kind,bytes32 value)"
        );
        assert_eq!(
            typed::Revoke::eip712_encode_type(),
            "Revoke(address patient,address grantee,uint256 nonce,uint256 deadline)"
        );
    }

    #[tokio::test]
    async fn signatures_recover_to_the_patient_and_bind_chain_and_contract() {
        let signer = PrivateKeySigner::random();
        let g = grant(signer.address());
        let d = domain(31337, Address::repeat_byte(7));
        let sig = sign_grant(&signer, &d, &g, U256::ZERO, U256::from(5)).await.unwrap();
        assert_eq!(sig.len(), 65);
        assert!(sig[64] == 27 || sig[64] == 28, "v is 27 or 28 as ecrecover expects");
        let parsed = alloy::primitives::Signature::try_from(sig.as_ref()).unwrap();
        let hash = grant_signing_hash(&d, &g, U256::ZERO, U256::from(5));
        assert_eq!(parsed.recover_address_from_prehash(&hash).unwrap(), signer.address());
        assert_ne!(
            hash,
            grant_signing_hash(&domain(1, Address::repeat_byte(7)), &g, U256::ZERO, U256::from(5))
        );
        assert_ne!(
            hash,
            grant_signing_hash(
                &domain(31337, Address::repeat_byte(8)),
                &g,
                U256::ZERO,
                U256::from(5)
            )
        );
        assert_ne!(hash, grant_signing_hash(&d, &g, U256::from(1), U256::from(5)));
    }
}
