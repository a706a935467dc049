//! Shared support for ehrkit's integration tests: a running stack with ehrkit deployed, and
//! funded accounts that talk to it. Everything runs against the real anvil (and kubo) that
//! `ehr-devstack` starts.

use alloy::primitives::{Address, Bytes};
use alloy::providers::DynProvider;
use alloy::signers::local::PrivateKeySigner;
use ehr_contracts::bindings::RoleRegistry;
use ehr_contracts::{DeployOptions, Deployment, OrgKind, tx};

pub use ehr_devstack as devstack;
use ehr_devstack::{DevStack, StackOptions};

/// A local stack with ehrkit's contracts deployed by `admin`.
pub struct TestChain {
    /// The running processes.
    pub stack: DevStack,
    /// Where the contracts are.
    pub deployment: Deployment,
    /// The system admin (deployer).
    pub admin: PrivateKeySigner,
}

impl TestChain {
    /// Starts anvil (and kubo when `kubo` is true) and deploys the contracts.
    pub async fn start(kubo: bool) -> eyre::Result<Self> {
        let stack = DevStack::start(StackOptions { kubo, ..Default::default() }).await?;
        let admin = funded_account(&stack).await?;
        let provider = provider_for(&stack, &admin);
        let deployment = ehr_contracts::deploy(
            &provider,
            DeployOptions { admin: admin.address(), admin_transfer_delay: 0, evm: None },
        )
        .await?;
        Ok(Self { stack, deployment, admin })
    }

    /// A new random account with 100 ETH.
    pub async fn account(&self) -> eyre::Result<PrivateKeySigner> {
        funded_account(&self.stack).await
    }

    /// A provider that signs transactions as `signer`.
    pub fn provider(&self, signer: &PrivateKeySigner) -> DynProvider {
        provider_for(&self.stack, signer)
    }

    /// A provider without a wallet (for reads).
    pub fn reader(&self) -> DynProvider {
        ehr_contracts::read_provider(self.stack.anvil().rpc_url())
    }

    /// A new hospital named `name`, added by the admin to the role registry at `roles`, and
    /// `doctors` new staff members of it, each with its public key registered.
    pub async fn hospital_with_doctors(
        &self,
        roles: Address,
        name: &str,
        doctors: usize,
    ) -> eyre::Result<(PrivateKeySigner, Vec<PrivateKeySigner>)> {
        let registry = |s: &PrivateKeySigner| RoleRegistry::new(roles, self.provider(s));
        let hospital = self.account().await?;
        let as_admin = registry(&self.admin);
        let kind = OrgKind::Hospital.as_u8();
        tx::send("add hospital", as_admin.addOrganization(hospital.address(), kind, name.into()))
            .await?;
        let mut staff = Vec::with_capacity(doctors);
        for _ in 0..doctors {
            let doctor = self.account().await?;
            tx::send("add doctor", registry(&hospital).addStaff(doctor.address())).await?;
            tx::send("doctor key", registry(&doctor).registerPublicKey(public_key(&doctor)))
                .await?;
            staff.push(doctor);
        }
        Ok((hospital, staff))
    }

    /// A new account registered as a patient of the role registry at `roles`.
    pub async fn patient(&self, roles: Address) -> eyre::Result<PrivateKeySigner> {
        let patient = self.account().await?;
        let registry = RoleRegistry::new(roles, self.provider(&patient));
        tx::send("register patient", registry.registerPatient(public_key(&patient))).await?;
        Ok(patient)
    }
}

/// A random key funded with 100 ETH through anvil's `anvil_setBalance`.
pub async fn funded_account(stack: &DevStack) -> eyre::Result<PrivateKeySigner> {
    let signer = PrivateKeySigner::random();
    stack.anvil().set_balance(&signer.address().to_string(), 100 * 10u128.pow(18)).await?;
    Ok(signer)
}

/// A provider that signs transactions as `signer`.
pub fn provider_for(stack: &DevStack, signer: &PrivateKeySigner) -> DynProvider {
    ehr_contracts::signing_provider(stack.anvil().rpc_url(), signer.clone())
}

/// The 64-byte uncompressed public key (X ‖ Y) the RoleRegistry stores for `signer`.
pub fn public_key(signer: &PrivateKeySigner) -> Bytes {
    let point = signer.credential().verifying_key().to_encoded_point(false);
    Bytes::copy_from_slice(&point.as_bytes()[1..])
}

/// The address a 64-byte public key belongs to.
pub fn address_of(public_key: &[u8]) -> Address {
    Address::from_raw_public_key(public_key)
}
