//! alloy bindings generated at compile time from the committed artifacts in `abi/`
//! (regenerate them with `scripts/gen-abi`; CI fails when they lag behind the Solidity).
//!
//! Each contract sits in its own module because the artifacts share interface types
//! (`IRoleRegistry.Role`, ...) that `sol!` would otherwise define twice.

#![allow(missing_docs, clippy::too_many_arguments)]

/// `RoleRegistry`: admin → organizations → staff; patients; public keys.
pub mod role_registry {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        RoleRegistry,
        "../../abi/RoleRegistry.json"
    );
}

/// `ConsentRegistry`: grants, revocations, requests, break-glass access.
pub mod consent_registry {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        ConsentRegistry,
        "../../abi/ConsentRegistry.json"
    );
}

/// `RecordIndex`: the searchable index — accumulator, record events, write rule.
pub mod record_index {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        RecordIndex,
        "../../abi/RecordIndex.json"
    );
}

/// `ClaimRegistry`: insurance claims — submission, review, decision.
pub mod claim_registry {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        ClaimRegistry,
        "../../abi/ClaimRegistry.json"
    );
}

/// `GuardianRegistry`: threshold guardians, emergency kits, share releases, break-glass policy.
pub mod guardian_registry {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        GuardianRegistry,
        "../../abi/GuardianRegistry.json"
    );
}

pub use claim_registry::{ClaimRegistry, IClaimRegistry};
pub use consent_registry::{ConsentRegistry, IConsentRegistry};
pub use guardian_registry::{GuardianRegistry, IGuardianRegistry};
pub use record_index::{IRecordIndex, RecordIndex};
pub use role_registry::{IRoleRegistry, RoleRegistry};
