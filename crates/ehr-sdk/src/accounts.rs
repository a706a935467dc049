//! Accounts kept as Web3 Secret Storage keystores (scrypt + AES-128-CTR, the format geth,
//! Foundry and browser wallets read), one file per account named after it, in a directory
//! only its owner may read. A private key is never written in plain text.
//!
//! Each file also carries the account's `address` (as geth writes it), so listing accounts
//! and showing an address need no password.

pub use crate::keystore_file::KdfCost;
use crate::{Error, Result, keystore_file};
use alloy::primitives::{Address, B256};
use alloy::signers::local::{LocalSignerError, PrivateKeySigner};
use serde::Serialize;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// A keystore directory (`.ehr/keystores/` by default).
#[derive(Debug, Clone)]
pub struct Keystores {
    dir: PathBuf,
    kdf: KdfCost,
}

/// One account in a keystore directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountInfo {
    /// The account's name (its file name).
    pub name: String,
    /// Its address.
    pub address: Address,
    /// The keystore file.
    pub path: PathBuf,
}

/// Checks that `name` is safe as a file name: 1 to 64 of `A-Z a-z 0-9 - _`.
pub fn validate_name(name: &str) -> Result<()> {
    let valid = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(Error::InvalidAccountName { name: name.to_owned() });
    }
    Ok(())
}

/// A private key from hex (64 digits, `0x` optional, surrounding whitespace ignored).
pub fn parse_private_key(text: &str) -> Result<PrivateKeySigner> {
    let hex = text.trim();
    let hex = hex.strip_prefix("0x").unwrap_or(hex);
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::InvalidPrivateKey);
    }
    let bytes: B256 = hex.parse().map_err(|_| Error::InvalidPrivateKey)?;
    PrivateKeySigner::from_bytes(&bytes).map_err(|_| Error::InvalidPrivateKey)
}

/// Unlocks a keystore file with `password`; a wrong password is [`Error::WrongPassword`].
pub fn unlock(path: &Path, password: &str) -> Result<PrivateKeySigner> {
    if !path.is_file() {
        return Err(Error::NoKeystore { path: path.to_path_buf() });
    }
    PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| match e {
        // eth-keystore is not a direct dependency; its MAC error is recognised by its text.
        LocalSignerError::EthKeystoreError(e) if e.to_string() == "Mac Mismatch" => {
            Error::WrongPassword { path: path.to_path_buf() }
        }
        other => Error::Keystore { path: path.to_path_buf(), reason: other.to_string() },
    })
}

/// The address a keystore file records, read without the password.
pub fn keystore_address(path: &Path) -> Result<Address> {
    let bad = |reason: String| Error::Keystore { path: path.to_path_buf(), reason };
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NoKeystore { path: path.to_path_buf() });
        }
        Err(e) => return Err(bad(e.to_string())),
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let hex = json
        .get("address")
        .and_then(|a| a.as_str())
        .ok_or_else(|| bad("it records no address; unlock it to see the account".into()))?;
    let hex = hex.strip_prefix("0x").unwrap_or(hex);
    format!("0x{hex}").parse().map_err(|_| bad(format!("invalid address {hex:?}")))
}

impl Keystores {
    /// The keystores in `dir` (created when the first account is); new ones get the
    /// standard scrypt cost.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), kdf: KdfCost::Standard }
    }

    /// New keystores get `cost` ([`KdfCost::Fast`] only for tests and throw-away accounts).
    pub fn with_kdf(mut self, cost: KdfCost) -> Self {
        self.kdf = cost;
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The keystore file of the account `name`.
    pub fn path(&self, name: &str) -> Result<PathBuf> {
        validate_name(name)?;
        Ok(self.dir.join(name))
    }

    /// Creates a new random account `name`, encrypted with `password`.
    pub fn create(&self, name: &str, password: &str) -> Result<AccountInfo> {
        let signer = PrivateKeySigner::random();
        self.store(name, &signer, password)
    }

    /// Stores an existing key as account `name`, encrypted with `password`.
    pub fn import(
        &self,
        name: &str,
        signer: &PrivateKeySigner,
        password: &str,
    ) -> Result<AccountInfo> {
        self.store(name, signer, password)
    }

    /// Every account in the directory, by name. Files that are not keystores are skipped.
    pub fn list(&self) -> Result<Vec<AccountInfo>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::Keystore { path: self.dir.clone(), reason: e.to_string() });
            }
        };
        let mut accounts: Vec<AccountInfo> = entries
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                validate_name(&name).ok()?;
                let path = entry.path();
                let address = keystore_address(&path).ok()?;
                Some(AccountInfo { name, address, path })
            })
            .collect();
        accounts.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(accounts)
    }

    /// The account `name` (its address, without unlocking).
    pub fn get(&self, name: &str) -> Result<AccountInfo> {
        let path = self.path(name)?;
        let address = keystore_address(&path)?;
        Ok(AccountInfo { name: name.to_owned(), address, path })
    }

    /// Unlocks the account `name`.
    pub fn unlock(&self, name: &str, password: &str) -> Result<PrivateKeySigner> {
        unlock(&self.path(name)?, password)
    }

    /// Writes the keystore under a temporary name, adds the address, makes it owner-only, and
    /// links it into place, so an existing account is never overwritten (even by a race) and
    /// no half-written file carries the account's name.
    fn store(&self, name: &str, signer: &PrivateKeySigner, password: &str) -> Result<AccountInfo> {
        let path = self.path(name)?;
        let io = |e: std::io::Error| Error::Keystore { path: path.clone(), reason: e.to_string() };
        if path.exists() {
            return Err(Error::AccountExists { name: name.to_owned(), path });
        }
        fs::create_dir_all(&self.dir).map_err(io)?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
        let tmp = self.dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let result = (|| {
            let key: Zeroizing<[u8; 32]> = Zeroizing::new(signer.credential().to_bytes().into());
            let json = keystore_file::encrypt(&key, signer.address(), password, self.kdf)
                .map_err(|reason| Error::Keystore { path: path.clone(), reason })?;
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io)?;
            file.write_all(json.to_string().as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(io)?;
            match fs::hard_link(&tmp, &path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(Error::AccountExists { name: name.to_owned(), path: path.clone() })
                }
                Err(e) => Err(io(e)),
            }
        })();
        let _ = fs::remove_file(&tmp);
        result?;
        Ok(AccountInfo { name: name.to_owned(), address: signer.address(), path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_file_names() {
        assert!(validate_name("alice").is_ok());
        assert!(validate_name("dr_who-2").is_ok());
        for bad in ["", "../x", "a b", "a/b", ".hidden", &"x".repeat(65)] {
            assert!(matches!(validate_name(bad), Err(Error::InvalidAccountName { .. })), "{bad}");
        }
    }

    #[test]
    fn private_keys_parse_with_or_without_prefix() {
        let hex = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
        let a = parse_private_key(hex).unwrap();
        let b = parse_private_key(&format!("0x{hex}\n")).unwrap();
        assert_eq!(a.address(), b.address());
        assert_eq!(
            a.address().to_string().to_lowercase(),
            "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
        );
        assert!(matches!(parse_private_key("0x1234"), Err(Error::InvalidPrivateKey)));
        assert!(matches!(parse_private_key(&"0".repeat(64)), Err(Error::InvalidPrivateKey)));
    }

    #[test]
    fn accounts_round_trip_and_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let stores = Keystores::new(dir.path().join("keystores")).with_kdf(KdfCost::Fast);
        let created = stores.create("alice", "pw").unwrap();
        let mode = fs::metadata(&created.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(stores.get("alice").unwrap().address, created.address);
        assert_eq!(stores.unlock("alice", "pw").unwrap().address(), created.address);
        assert!(matches!(stores.unlock("alice", "nope"), Err(Error::WrongPassword { .. })));
        assert!(matches!(stores.create("alice", "pw"), Err(Error::AccountExists { .. })));
        assert!(matches!(stores.get("bob"), Err(Error::NoKeystore { .. })));

        let key = parse_private_key(&"11".repeat(32)).unwrap();
        stores.import("bob", &key, "pw2").unwrap();
        let names: Vec<String> = stores.list().unwrap().into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["alice", "bob"]);
        assert_eq!(stores.unlock("bob", "pw2").unwrap().address(), key.address());
        let text = fs::read_to_string(stores.path("bob").unwrap()).unwrap();
        assert!(!text.contains(&"11".repeat(32)), "the key is not stored in plain text");
    }
}
