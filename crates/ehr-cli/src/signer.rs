//! Turning the signer flags into a key: `--private-key`, `--keystore PATH` or `--account NAME`,
//! with the password from `--password-file` or, on a terminal, a prompt without echo.

use crate::cli::SignerArgs;
use crate::config::Settings;
use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use ehr_sdk::accounts::{Keystores, keystore_address, parse_private_key, unlock};
use eyre::{WrapErr, eyre};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// A password, wiped from memory when dropped.
pub(crate) type Password = Zeroizing<String>;

/// Where the signing key is.
enum KeySource {
    Raw(String),
    Keystore(PathBuf),
}

fn key_source(args: &SignerArgs, settings: &Settings) -> eyre::Result<Option<KeySource>> {
    if let Some(key) = &args.private_key {
        return Ok(Some(KeySource::Raw(key.clone())));
    }
    if let Some(path) = &args.keystore {
        return Ok(Some(KeySource::Keystore(path.clone())));
    }
    match settings.account(args.account.as_deref()) {
        Some(name) => {
            Ok(Some(KeySource::Keystore(Keystores::new(settings.keystore_dir()).path(&name)?)))
        }
        None => Ok(None),
    }
}

/// The signer the flags name, unlocked; `None` when they name none.
pub(crate) fn resolve(
    args: &SignerArgs,
    settings: &Settings,
) -> eyre::Result<Option<PrivateKeySigner>> {
    match key_source(args, settings)? {
        None => Ok(None),
        Some(KeySource::Raw(hex)) => Ok(Some(parse_private_key(&hex)?)),
        Some(KeySource::Keystore(path)) => {
            if !path.is_file() {
                return Err(ehr_sdk::Error::NoKeystore { path }.into());
            }
            let password = password(args, &path, false)?;
            let signer = unlock(&path, password.as_str())?;
            tracing::info!(address = %signer.address(), keystore = %path.display(), "unlocked");
            Ok(Some(signer))
        }
    }
}

/// The address the flags name, without unlocking a keystore.
pub(crate) fn resolve_address(
    args: &SignerArgs,
    settings: &Settings,
) -> eyre::Result<Option<Address>> {
    match key_source(args, settings)? {
        None => Ok(None),
        Some(KeySource::Raw(hex)) => Ok(Some(parse_private_key(&hex)?.address())),
        Some(KeySource::Keystore(path)) => Ok(Some(keystore_address(&path)?)),
    }
}

/// The keystore password: the password file's first line, or a prompt on the terminal.
/// `confirm` asks twice (for a new keystore).
pub(crate) fn password(
    args: &SignerArgs,
    keystore: &Path,
    confirm: bool,
) -> eyre::Result<Password> {
    if let Some(file) = &args.password_file {
        let text = std::fs::read_to_string(file)
            .wrap_err_with(|| format!("cannot read the password file {}", file.display()))?;
        // Editors add a final newline; the password is the line without it.
        let line = text.strip_suffix('\n').unwrap_or(&text);
        let line = line.strip_suffix('\r').unwrap_or(line);
        return Ok(Zeroizing::new(line.to_owned()));
    }
    if !std::io::stdin().is_terminal() {
        return Err(eyre!(
            "keystore {} needs a password: pass --password-file FILE (ehr cannot prompt, stdin is not a terminal)",
            keystore.display()
        ));
    }
    let first = Zeroizing::new(
        rpassword::prompt_password(format!("Password for {}: ", keystore.display()))
            .wrap_err("cannot read the password from the terminal")?,
    );
    if confirm {
        let again = Zeroizing::new(
            rpassword::prompt_password("Repeat the password: ")
                .wrap_err("cannot read the password from the terminal")?,
        );
        if again.as_str() != first.as_str() {
            return Err(eyre!("the two passwords differ; nothing was written"));
        }
    }
    Ok(first)
}
