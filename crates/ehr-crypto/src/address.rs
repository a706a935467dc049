//! Linking secp256k1 public keys to Ethereum addresses, so a key read from chain can be
//! checked against the account it claims to belong to before anything is encrypted to it.

use k256::PublicKey;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use sha3::{Digest, Keccak256};

use crate::{Error, Result};

/// Length of a raw uncompressed public key as stored on chain: `X ‖ Y`, no `0x04` prefix.
pub const RAW_PUBLIC_KEY_LEN: usize = 64;

/// The Ethereum address of a public key: the last 20 bytes of `keccak256(X ‖ Y)`.
pub fn eth_address(public_key: &PublicKey) -> [u8; 20] {
    let point = public_key.to_encoded_point(false);
    // The uncompressed SEC1 encoding is 0x04 ‖ X ‖ Y; Ethereum hashes X ‖ Y only.
    address_of_raw(&point.as_bytes()[1..])
}

/// The 64-byte `X ‖ Y` form of a public key, as the chain stores it.
pub fn raw_public_key(public_key: &PublicKey) -> [u8; RAW_PUBLIC_KEY_LEN] {
    let point = public_key.to_encoded_point(false);
    let mut raw = [0u8; RAW_PUBLIC_KEY_LEN];
    raw.copy_from_slice(&point.as_bytes()[1..]);
    raw
}

/// Parses a 64-byte `X ‖ Y` public key and checks that it belongs to `address`.
///
/// Fails with [`Error::InvalidPublicKey`] for a wrong length or a point not on the curve,
/// and [`Error::AddressMismatch`] if the key hashes to a different address.
pub fn public_key_for_address(raw: &[u8], address: &[u8; 20]) -> Result<PublicKey> {
    if raw.len() != RAW_PUBLIC_KEY_LEN {
        return Err(Error::InvalidPublicKey);
    }
    let mut sec1 = [0u8; RAW_PUBLIC_KEY_LEN + 1];
    sec1[0] = 0x04;
    sec1[1..].copy_from_slice(raw);
    let key = PublicKey::from_sec1_bytes(&sec1).map_err(|_| Error::InvalidPublicKey)?;
    if &address_of_raw(raw) != address {
        return Err(Error::AddressMismatch);
    }
    Ok(key)
}

fn address_of_raw(raw: &[u8]) -> [u8; 20] {
    let hash = Keccak256::digest(raw);
    let mut address = [0u8; 20];
    address.copy_from_slice(&hash[12..]);
    address
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::SecretKey;

    fn key_one() -> SecretKey {
        let mut bytes = [0u8; 32];
        bytes[31] = 1;
        SecretKey::from_bytes(&bytes.into()).unwrap()
    }

    // Secret key 1 is the generator; its address is a well-known constant.
    const ADDRESS_OF_KEY_ONE: [u8; 20] = [
        0x7e, 0x5f, 0x45, 0x52, 0x09, 0x1a, 0x69, 0x12, 0x5d, 0x5d, 0xfc, 0xb7, 0xb8, 0xc2, 0x65,
        0x90, 0x29, 0x39, 0x5b, 0xdf,
    ];

    #[test]
    fn address_of_the_generator() {
        assert_eq!(eth_address(&key_one().public_key()), ADDRESS_OF_KEY_ONE);
    }

    #[test]
    fn raw_key_round_trips_against_its_address() {
        let pk = key_one().public_key();
        let raw = raw_public_key(&pk);
        assert_eq!(public_key_for_address(&raw, &ADDRESS_OF_KEY_ONE).unwrap(), pk);
    }

    #[test]
    fn wrong_address_is_a_mismatch() {
        let raw = raw_public_key(&key_one().public_key());
        let mut other = ADDRESS_OF_KEY_ONE;
        other[19] ^= 1;
        assert!(matches!(public_key_for_address(&raw, &other), Err(Error::AddressMismatch)));
    }

    #[test]
    fn off_curve_point_and_bad_lengths_are_invalid() {
        let mut raw = raw_public_key(&key_one().public_key());
        raw[63] ^= 1;
        assert!(matches!(
            public_key_for_address(&raw, &ADDRESS_OF_KEY_ONE),
            Err(Error::InvalidPublicKey)
        ));
        for len in [0, 33, 63, 65] {
            assert!(matches!(
                public_key_for_address(&vec![4u8; len], &ADDRESS_OF_KEY_ONE),
                Err(Error::InvalidPublicKey)
            ));
        }
    }
}
