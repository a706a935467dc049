//! ECIES over secp256k1: wrap a short secret (a data key, epoch key material) to a recipient's
//! public key.
//!
//! Construction (all of it RustCrypto):
//!
//! 1. a fresh ephemeral key pair `(e, E)` per wrap;
//! 2. `z` = x-coordinate of the ECDH point `e·R`;
//! 3. `HKDF-SHA256(salt = E ‖ R, ikm = z, info = "ehrkit/v1/ecies/kek" ‖ len(purpose) ‖ purpose)`
//!    expanded to 44 bytes = AES-256 key ‖ 96-bit nonce (both points SEC1-compressed);
//! 4. AES-256-GCM over the plaintext with the caller's associated data.
//!
//! Output: `E (33 bytes) ‖ ciphertext ‖ tag (16 bytes)`.
//!
//! The nonce comes from HKDF rather than from the RNG because the key-encryption key is
//! single-use: a fresh ephemeral key makes `z`, and therefore the key, unique per wrap, so a
//! fixed nonce would already be safe; deriving it costs nothing and saves 12 bytes. Putting
//! both public keys in the salt binds the key to this exact sender/recipient pair. The caller's
//! purpose label keeps wraps made for different protocol steps from being swapped.
//!
//! The output does not name the recipient: only the ephemeral key is in clear.

use hkdf::Hkdf;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::{PublicKey, SecretKey};
use rand_core::OsRng;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::aead::{self, TAG_LEN, WrapKeyNonce};
use crate::{Error, Result, labels};

/// Length of the SEC1-compressed ephemeral public key that starts every wrapped value.
pub const EPHEMERAL_KEY_LEN: usize = 33;

/// Bytes a wrap adds to its plaintext: ephemeral key plus GCM tag.
pub const OVERHEAD: usize = EPHEMERAL_KEY_LEN + TAG_LEN;

/// Wraps `plaintext` to `recipient`, domain-separated by `purpose` and bound to `aad`.
///
/// `purpose` should be a versioned label such as `"ehrkit/v1/grant/epoch-key"` (1..=255
/// bytes); [`unwrap`] must be given the same purpose and `aad`.
pub fn wrap(recipient: &PublicKey, purpose: &str, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let ephemeral = SecretKey::random(&mut OsRng);
    wrap_with_ephemeral(&ephemeral, recipient, purpose, aad, plaintext)
}

/// [`wrap`] with a caller-chosen ephemeral key, for reproducible test vectors only.
///
/// Reusing an ephemeral key across two wraps to the same recipient and purpose reuses the
/// GCM key and nonce. Production code must call [`wrap`].
#[doc(hidden)]
pub fn wrap_with_ephemeral(
    ephemeral: &SecretKey,
    recipient: &PublicKey,
    purpose: &str,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let ephemeral_public = compressed(&ephemeral.public_key());
    let key_nonce = derive(ephemeral, &ephemeral_public, recipient, purpose)?;
    let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
    out.extend_from_slice(&ephemeral_public);
    out.extend_from_slice(&aead::seal(&key_nonce, aad, plaintext)?);
    Ok(out)
}

/// Recovers a value wrapped by [`wrap`] to `secret`'s public key.
///
/// Fails with [`Error::InvalidPublicKey`] if the ephemeral key is not a valid point and
/// [`Error::UnwrapFailed`] for a wrong key, purpose, associated data or a modified value.
pub fn unwrap(
    secret: &SecretKey,
    purpose: &str,
    aad: &[u8],
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    if wrapped.len() < OVERHEAD {
        return Err(Error::UnwrapFailed);
    }
    let (ephemeral_bytes, ciphertext) = wrapped.split_at(EPHEMERAL_KEY_LEN);
    let ephemeral = parse_ephemeral(ephemeral_bytes)?;
    let ephemeral_public = compressed(&ephemeral);
    let recipient = secret.public_key();
    let key_nonce = derive_shared(secret, &ephemeral, &ephemeral_public, &recipient, purpose)?;
    aead::open(&key_nonce, aad, ciphertext).ok_or(Error::UnwrapFailed)
}

/// Parses a SEC1-compressed point, and only that: 33 bytes starting `0x05` would also parse
/// (as a "compact" x-only point), which would make wrapped values malleable.
pub(crate) fn parse_ephemeral(bytes: &[u8]) -> Result<PublicKey> {
    match bytes.first() {
        Some(0x02 | 0x03) if bytes.len() == EPHEMERAL_KEY_LEN => {
            PublicKey::from_sec1_bytes(bytes).map_err(|_| Error::InvalidPublicKey)
        }
        _ => Err(Error::InvalidPublicKey),
    }
}

pub(crate) fn compressed(key: &PublicKey) -> [u8; EPHEMERAL_KEY_LEN] {
    let point = key.to_encoded_point(true);
    let mut out = [0u8; EPHEMERAL_KEY_LEN];
    out.copy_from_slice(point.as_bytes());
    out
}

pub(crate) fn key_nonce(
    ephemeral: &SecretKey,
    recipient: &PublicKey,
    purpose: &str,
) -> Result<([u8; 32], [u8; 12])> {
    let derived = derive(ephemeral, &compressed(&ephemeral.public_key()), recipient, purpose)?;
    let mut key = [0u8; 32];
    let mut nonce = [0u8; 12];
    key.copy_from_slice(&derived[..32]);
    nonce.copy_from_slice(&derived[32..]);
    Ok((key, nonce))
}

fn derive(
    ephemeral: &SecretKey,
    ephemeral_public: &[u8; EPHEMERAL_KEY_LEN],
    recipient: &PublicKey,
    purpose: &str,
) -> Result<WrapKeyNonce> {
    derive_shared(ephemeral, recipient, ephemeral_public, recipient, purpose)
}

/// `secret · peer`, then HKDF. The sender passes (e, R), the recipient (r, E): same point.
fn derive_shared(
    secret: &SecretKey,
    peer: &PublicKey,
    ephemeral_public: &[u8; EPHEMERAL_KEY_LEN],
    recipient: &PublicKey,
    purpose: &str,
) -> Result<WrapKeyNonce> {
    let purpose = purpose.as_bytes();
    let purpose_len = u8::try_from(purpose.len()).map_err(|_| Error::InvalidLabel)?;
    if purpose_len == 0 {
        return Err(Error::InvalidLabel);
    }
    let shared = k256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), peer.as_affine());

    let mut salt = [0u8; 2 * EPHEMERAL_KEY_LEN];
    salt[..EPHEMERAL_KEY_LEN].copy_from_slice(ephemeral_public);
    salt[EPHEMERAL_KEY_LEN..].copy_from_slice(&compressed(recipient));

    let hkdf = Hkdf::<Sha256>::new(Some(&salt), shared.raw_secret_bytes());
    let mut out = Zeroizing::new([0u8; 32 + aead::NONCE_LEN]);
    hkdf.expand_multi_info(&[labels::ECIES_KEK, &[purpose_len], purpose], &mut out[..])
        .map_err(|_| Error::InvalidLabel)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_bytes(&[byte; 32].into()).unwrap()
    }

    const PURPOSE: &str = "ehrkit/v1/test";

    #[test]
    fn round_trip() {
        let recipient = key(7);
        let wrapped = wrap(&recipient.public_key(), PURPOSE, b"aad", b"epoch key").unwrap();
        assert_eq!(wrapped.len(), OVERHEAD + 9);
        let plain = unwrap(&recipient, PURPOSE, b"aad", &wrapped).unwrap();
        assert_eq!(&plain[..], b"epoch key");
    }

    #[test]
    fn each_wrap_uses_a_fresh_ephemeral_key() {
        let pk = key(7).public_key();
        let a = wrap(&pk, PURPOSE, b"", b"x").unwrap();
        let b = wrap(&pk, PURPOSE, b"", b"x").unwrap();
        assert_ne!(a[..EPHEMERAL_KEY_LEN], b[..EPHEMERAL_KEY_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn wrong_key_purpose_or_aad_fail() {
        let recipient = key(7);
        let wrapped = wrap(&recipient.public_key(), PURPOSE, b"aad", b"secret").unwrap();
        let fail = |r| matches!(r, Err(Error::UnwrapFailed));
        assert!(fail(unwrap(&key(8), PURPOSE, b"aad", &wrapped)));
        assert!(fail(unwrap(&recipient, "ehrkit/v1/other", b"aad", &wrapped)));
        assert!(fail(unwrap(&recipient, PURPOSE, b"aaD", &wrapped)));
        assert!(fail(unwrap(&recipient, PURPOSE, b"aad", &wrapped[..wrapped.len() - 1])));
    }

    #[test]
    fn bad_ephemeral_key_is_reported() {
        let recipient = key(7);
        let mut wrapped = wrap(&recipient.public_key(), PURPOSE, b"", b"secret").unwrap();
        wrapped[0] = 0x05;
        assert!(matches!(unwrap(&recipient, PURPOSE, b"", &wrapped), Err(Error::InvalidPublicKey)));
    }

    #[test]
    fn only_compressed_ephemeral_keys_are_accepted() {
        let recipient = key(7);
        let wrapped = wrap(&recipient.public_key(), PURPOSE, b"", b"secret").unwrap();
        for tag in [0x00, 0x01, 0x04, 0x05, 0x06, 0xff] {
            let mut w = wrapped.clone();
            w[0] = tag;
            assert!(matches!(unwrap(&recipient, PURPOSE, b"", &w), Err(Error::InvalidPublicKey)));
        }
        // The other parity is a different (valid) point: the wrap no longer opens.
        let mut w = wrapped.clone();
        w[0] ^= 1;
        assert!(matches!(unwrap(&recipient, PURPOSE, b"", &w), Err(Error::UnwrapFailed)));
    }

    #[test]
    fn labels_are_validated() {
        let pk = key(7).public_key();
        assert!(matches!(wrap(&pk, "", b"", b"x"), Err(Error::InvalidLabel)));
        let long = "a".repeat(256);
        assert!(matches!(wrap(&pk, &long, b"", b"x"), Err(Error::InvalidLabel)));
        assert!(wrap(&pk, &long[..255], b"", b"x").is_ok());
    }
}
