//! Single-message AES-256-GCM for wrapping keys. Every caller passes a key that is used for
//! exactly one message (freshly derived), which is why a derived, deterministic nonce is safe.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// AES-GCM tag length.
pub(crate) const TAG_LEN: usize = 16;
/// AES-GCM nonce length.
pub(crate) const NONCE_LEN: usize = 12;

/// Key and nonce for one wrap, as expanded together from HKDF.
pub(crate) type WrapKeyNonce = Zeroizing<[u8; 32 + NONCE_LEN]>;

pub(crate) fn seal(key_nonce: &WrapKeyNonce, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let (cipher, nonce) = split(key_nonce);
    cipher
        .encrypt(&nonce.into(), Payload { msg: plaintext, aad })
        // Only fails beyond GCM's 2^36-byte message limit.
        .map_err(|_| Error::TooLarge)
}

pub(crate) fn open(
    key_nonce: &WrapKeyNonce,
    aad: &[u8],
    ciphertext: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let (cipher, nonce) = split(key_nonce);
    cipher.decrypt(&nonce.into(), Payload { msg: ciphertext, aad }).ok().map(Zeroizing::new)
}

fn split(key_nonce: &WrapKeyNonce) -> (Aes256Gcm, [u8; NONCE_LEN]) {
    let mut key = Zeroizing::new([0u8; 32]);
    let mut nonce = [0u8; NONCE_LEN];
    key.copy_from_slice(&key_nonce[..32]);
    nonce.copy_from_slice(&key_nonce[32..]);
    (Aes256Gcm::new((&*key).into()), nonce)
}
