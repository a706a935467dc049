//! Where ehrkit's contracts live on a chain: saved as JSON next to the user's config and
//! checked against the chain before use.

use crate::{Error, EvmBuild, Result};
use alloy::primitives::Address;
use alloy::providers::Provider;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The version of the deployment file format this crate writes (2: with the claim registry;
/// 3: with the EVM build; 4: with the guardian registry). Format 2 files are read too, as the
/// prague build: the only one there was before format 3; formats 2 and 3 read as deployments
/// without a guardian registry (everything works but guardians and break-glass policy, which
/// say so: [`Deployment::guardian_registry`]).
pub const DEPLOYMENT_FORMAT: u32 = 4;

/// The oldest format this crate reads.
const OLDEST_READABLE_FORMAT: u64 = 2;

/// A deployment of ehrkit's contracts on one chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deployment {
    /// File format version ([`DEPLOYMENT_FORMAT`]).
    pub format: u32,
    /// The chain the contracts are on.
    pub chain_id: u64,
    /// Which build of the contracts was deployed (the EVM version it targets).
    pub evm_build: EvmBuild,
    /// The account that deployed them (the first system admin).
    pub deployer: Address,
    /// The block of the first deployment transaction (event scans start here).
    pub deployed_at_block: u64,
    /// `RoleRegistry`.
    pub role_registry: Address,
    /// `ConsentRegistry`.
    pub consent_registry: Address,
    /// `RecordIndex`.
    pub record_index: Address,
    /// `ClaimRegistry`.
    pub claim_registry: Address,
    /// `GuardianRegistry` (`None` in a deployment made before it existed, format 2 or 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardian_registry: Option<Address>,
}

impl Deployment {
    /// Every contract with its name, for checks and display.
    pub fn contracts(&self) -> Vec<(&'static str, Address)> {
        let mut contracts = vec![
            ("RoleRegistry", self.role_registry),
            ("ConsentRegistry", self.consent_registry),
            ("RecordIndex", self.record_index),
            ("ClaimRegistry", self.claim_registry),
        ];
        contracts.extend(self.guardian_registry.map(|address| ("GuardianRegistry", address)));
        contracts
    }

    /// The guardian registry, or [`Error::NoGuardianRegistry`] for a deployment made before it.
    pub fn guardian_registry(&self) -> Result<Address> {
        self.guardian_registry.ok_or(Error::NoGuardianRegistry { chain_id: self.chain_id })
    }

    /// Reads a deployment file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::DeploymentIo { path: path.into(), source })?;
        let invalid = |reason: String| Error::DeploymentInvalid { path: path.into(), reason };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        // The format first: an older file lacks fields, and "missing field" would hide why.
        let mut value = value;
        match value.get("format").and_then(serde_json::Value::as_u64) {
            Some(format) if format == u64::from(DEPLOYMENT_FORMAT) => {}
            // Format 3 is format 4 without the guardian registry, which stays `None`.
            Some(3) => {
                if let Some(fields) = value.as_object_mut() {
                    fields.insert("format".into(), DEPLOYMENT_FORMAT.into());
                }
            }
            // Format 2 is format 3 without the build, and every format-2 deployment was of
            // the prague build: read it as that (a save writes format 4).
            Some(format @ OLDEST_READABLE_FORMAT) => {
                if let Some(fields) = value.as_object_mut() {
                    fields.insert("format".into(), DEPLOYMENT_FORMAT.into());
                    fields.insert("evmBuild".into(), EvmBuild::Prague.as_str().into());
                }
                tracing::debug!(format, "read an older deployment file as the prague build");
            }
            Some(format) => {
                return Err(invalid(format!(
                    "format {format} is not supported (this version reads {OLDEST_READABLE_FORMAT} \
                     to {DEPLOYMENT_FORMAT}); deploy this version's contracts again"
                )));
            }
            None => return Err(invalid("it has no numeric \"format\" field".to_owned())),
        }
        serde_json::from_value(value).map_err(|e| invalid(e.to_string()))
    }

    /// Writes the deployment file atomically (temporary file, fsync, rename), so a crash never
    /// leaves a half-written file behind.
    pub fn save(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        let io = |source| Error::DeploymentIo { path: path.into(), source };
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let text = serde_json::to_string_pretty(self).expect("a deployment always serializes");
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("deployment"),
            std::process::id()
        ));
        let result = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(io)
    }

    /// Checks that `provider` serves this deployment's chain and that every contract has code.
    pub async fn verify<P: Provider>(&self, provider: &P) -> Result<()> {
        let rpc_chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| Error::Rpc { action: "read the chain id", source: Box::new(e) })?;
        if rpc_chain_id != self.chain_id {
            return Err(Error::WrongChain { file_chain_id: self.chain_id, rpc_chain_id });
        }
        for (contract, address) in self.contracts() {
            let code = provider
                .get_code_at(address)
                .await
                .map_err(|e| Error::Rpc { action: "read contract code", source: Box::new(e) })?;
            if code.is_empty() {
                return Err(Error::NoCode { contract, address, chain_id: self.chain_id });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Deployment {
        Deployment {
            format: DEPLOYMENT_FORMAT,
            chain_id: 31337,
            evm_build: EvmBuild::Shanghai,
            deployer: Address::repeat_byte(1),
            deployed_at_block: 3,
            role_registry: Address::repeat_byte(2),
            consent_registry: Address::repeat_byte(3),
            record_index: Address::repeat_byte(4),
            claim_registry: Address::repeat_byte(5),
            guardian_registry: Some(Address::repeat_byte(6)),
        }
    }

    #[test]
    fn saves_and_loads_the_same_deployment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/deployment.json");
        sample().save(&path).unwrap();
        assert_eq!(Deployment::load(&path).unwrap(), sample());
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn rejects_unknown_formats_fields_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.json");
        let mut d = sample();
        d.format = 99;
        d.save(&path).unwrap();
        assert!(matches!(Deployment::load(&path), Err(Error::DeploymentInvalid { .. })));
        // A format-1 file (before the claim registry) says so, not "missing field".
        let mut value = serde_json::to_value(sample()).unwrap();
        value["format"] = 1.into();
        value.as_object_mut().unwrap().remove("claimRegistry");
        std::fs::write(&path, value.to_string()).unwrap();
        let message = Deployment::load(&path).unwrap_err().to_string();
        assert!(
            message.contains("format 1 is not supported (this version reads 2 to 4)"),
            "{message}"
        );
        // A format-2 file (before EVM builds) loads as the prague build.
        let mut value = serde_json::to_value(sample()).unwrap();
        value["format"] = 2.into();
        value.as_object_mut().unwrap().remove("evmBuild");
        value.as_object_mut().unwrap().remove("guardianRegistry");
        std::fs::write(&path, value.to_string()).unwrap();
        let loaded = Deployment::load(&path).unwrap();
        assert_eq!(
            loaded,
            Deployment { evm_build: EvmBuild::Prague, guardian_registry: None, ..sample() }
        );
        // A format-3 file (before guardians) loads without a guardian registry, which says so.
        let mut value = serde_json::to_value(sample()).unwrap();
        value["format"] = 3.into();
        value.as_object_mut().unwrap().remove("guardianRegistry");
        std::fs::write(&path, value.to_string()).unwrap();
        let loaded = Deployment::load(&path).unwrap();
        assert_eq!(loaded, Deployment { guardian_registry: None, ..sample() });
        let message = loaded.guardian_registry().unwrap_err().to_string();
        assert!(message.contains("no guardian registry"), "{message}");
        // An unknown build is named.
        let mut value = serde_json::to_value(sample()).unwrap();
        value["evmBuild"] = "london".into();
        std::fs::write(&path, value.to_string()).unwrap();
        let message = Deployment::load(&path).unwrap_err().to_string();
        assert!(message.contains("london"), "{message}");
        let mut value = serde_json::to_value(sample()).unwrap();
        value.as_object_mut().unwrap().remove("claimRegistry");
        std::fs::write(&path, value.to_string()).unwrap();
        let message = Deployment::load(&path).unwrap_err().to_string();
        assert!(message.contains("missing field `claimRegistry`"), "{message}");
        let mut value = serde_json::to_value(sample()).unwrap();
        value["surprise"] = 1.into();
        std::fs::write(&path, value.to_string()).unwrap();
        assert!(matches!(Deployment::load(&path), Err(Error::DeploymentInvalid { .. })));
        std::fs::write(&path, "{").unwrap();
        assert!(matches!(Deployment::load(&path), Err(Error::DeploymentInvalid { .. })));
        assert!(matches!(
            Deployment::load(&dir.path().join("missing.json")),
            Err(Error::DeploymentIo { .. })
        ));
    }
}
