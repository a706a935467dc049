//! Where the writer's randomness comes from. Production code always uses [`OsEntropy`];
//! [`FixedEntropy`] replays given values so test vectors are reproducible.

use std::collections::VecDeque;

use k256::SecretKey;
use rand_core::{OsRng, RngCore};

use crate::{Error, Result};

/// Length of the random part of a decoy key slot (what a real slot's ciphertext and tag take).
pub const DECOY_BODY_LEN: usize = 48;

/// Source of every random value an envelope writer needs.
#[doc(hidden)]
pub trait Entropy {
    /// The header's 32-byte salt.
    fn header_salt(&mut self) -> Result<[u8; 32]>;
    /// An ephemeral secp256k1 key (one per real or decoy public-key slot).
    fn ephemeral_secret(&mut self) -> Result<SecretKey>;
    /// The ciphertext-shaped filler of a decoy slot.
    fn decoy_body(&mut self) -> Result<[u8; DECOY_BODY_LEN]>;
    /// The 16-byte salt of a symmetric slot.
    fn slot_salt(&mut self) -> Result<[u8; 16]>;
}

/// The operating system's CSPRNG.
#[doc(hidden)]
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEntropy;

fn os_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    OsRng.try_fill_bytes(&mut out).map_err(|_| Error::Randomness)?;
    Ok(out)
}

impl Entropy for OsEntropy {
    fn header_salt(&mut self) -> Result<[u8; 32]> {
        os_bytes()
    }
    fn ephemeral_secret(&mut self) -> Result<SecretKey> {
        Ok(SecretKey::random(&mut OsRng))
    }
    fn decoy_body(&mut self) -> Result<[u8; DECOY_BODY_LEN]> {
        os_bytes()
    }
    fn slot_salt(&mut self) -> Result<[u8; 16]> {
        os_bytes()
    }
}

/// Replays fixed values, in order, for reproducible test vectors. Never use it to encrypt
/// real data: replaying values reuses nonces and keys.
///
/// The writer draws, in this order: the header salt; one ephemeral key per public-key
/// recipient (patient first, then grantees in the order given); for each decoy slot an
/// ephemeral key then a decoy body; one slot salt per symmetric recipient.
/// Running out of values yields [`Error::Randomness`].
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct FixedEntropy {
    /// Returned by [`Entropy::header_salt`] (every call).
    pub header_salt: [u8; 32],
    /// Returned by successive [`Entropy::ephemeral_secret`] calls.
    pub ephemeral_secrets: VecDeque<SecretKey>,
    /// Returned by successive [`Entropy::decoy_body`] calls.
    pub decoy_bodies: VecDeque<[u8; DECOY_BODY_LEN]>,
    /// Returned by successive [`Entropy::slot_salt`] calls.
    pub slot_salts: VecDeque<[u8; 16]>,
}

impl Entropy for FixedEntropy {
    fn header_salt(&mut self) -> Result<[u8; 32]> {
        Ok(self.header_salt)
    }
    fn ephemeral_secret(&mut self) -> Result<SecretKey> {
        self.ephemeral_secrets.pop_front().ok_or(Error::Randomness)
    }
    fn decoy_body(&mut self) -> Result<[u8; DECOY_BODY_LEN]> {
        self.decoy_bodies.pop_front().ok_or(Error::Randomness)
    }
    fn slot_salt(&mut self) -> Result<[u8; 16]> {
        self.slot_salts.pop_front().ok_or(Error::Randomness)
    }
}
