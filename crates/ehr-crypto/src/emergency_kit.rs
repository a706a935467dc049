//! A patient's emergency kit: the keys of the categories it marked for emergencies, sealed
//! under a fresh secret whose Feldman-verifiable Shamir shares are wrapped to its guardians.
//!
//! ```text
//! s         = a fresh random non-zero secp256k1 scalar per kit (the emergency secret)
//! (i, y_i)  = Feldman VSS of s, threshold t of n, i = 1..n (guardian i), over k256's scalar field
//! C_1..C_t  = the commitments to the sharing polynomial's coefficients (C_1 = s·G), 33 bytes each
//! h         = keccak256(C_1 ‖ … ‖ C_t)
//! kit       = 0x01 ‖ t[1] ‖ n[1] ‖ C_1..C_t ‖ share_1..share_n ‖ be16(len scope) ‖ scope ‖ material
//! share_i   = ECIES(guardian i, "ehrkit/v2/guardian-share",  patient ‖ guardian_i ‖ be64(epoch) ‖ i ‖ h, y_i)   81 bytes
//! release   = ECIES(doctor,     "ehrkit/v2/guardian-release", patient ‖ doctor ‖ guardian_i ‖ be64(epoch) ‖ i ‖ h, y_i)
//! scope     = ECIES(patient,    "ehrkit/v2/emergency-scope",  patient ‖ be64(epoch) ‖ h, what the patient chose)
//! material  = AES-256-GCM(HKDF(ikm = s, salt = patient ‖ be64(epoch), info = "ehrkit/v2/emergency-key"),
//!                         aad = patient ‖ be64(epoch) ‖ h, entry ‖ entry ‖ …)
//! entry     = be64(e) ‖ kind ‖ value[32] ‖ the grant plaintext of (kind, value) in epoch e
//!             (All: K_e ‖ K_cat, 105 bytes; Category: K_idx ‖ K_data ‖ name, 137 bytes)
//! ```
//!
//! `epoch` is the patient's epoch when the kit was published; the entries cover every epoch up
//! to it, so a doctor reads the allergy list written years ago. Every share verifies against
//! the commitments before it is used ([`Error::ShareDoesNotVerify`]), so a guardian (or
//! anyone relaying for it) cannot make a doctor reconstruct a wrong secret unnoticed; the
//! commitments are inside the kit, whose hash the guardian registry keeps. One share tells
//! nothing about `s` when t ≥ 2 (t − 1 points of a degree t − 1 polynomial are uniform); the
//! commitments reveal `s·G`, from which recovering `s` is the discrete logarithm.
//!
//! With t = 1 there is nothing to split (vsss-rs needs t ≥ 2): every share is `s` itself and
//! the one commitment `s·G`, which the same Feldman check verifies.

use std::fmt;

use hkdf::Hkdf;
use k256::elliptic_curve::group::GroupEncoding;
use k256::elliptic_curve::{Field, PrimeField};
use k256::{ProjectivePoint, PublicKey, Scalar, SecretKey};
use sha2::Sha256;
use sha3::{Digest, Keccak256};
use vsss_rs::{
    DefaultShare, FeldmanVerifierSet, IdentifierPrimeField, ReadableShareSet, Share,
    ShareVerifierGroup, ValueGroup, feldman,
};
use zeroize::{Zeroize, Zeroizing};

use crate::aead::{self, WrapKeyNonce};
use crate::patient_keys::{GrantKeys, GrantScope};
use crate::{Error, Result, ecies, labels};

/// The version byte that starts every kit.
pub const KIT_VERSION: u8 = 1;
/// The most guardians a kit has shares for (the guardian registry's `MAX_GUARDIANS`).
pub const MAX_GUARDIANS: usize = 16;
/// Bytes of one commitment (a SEC1-compressed point).
pub const COMMITMENT_LEN: usize = 33;
/// Bytes of one wrapped share, to a guardian or to a doctor.
pub const WRAPPED_SHARE_LEN: usize = ecies::OVERHEAD + 32;

type KShare = DefaultShare<IdentifierPrimeField<Scalar>, IdentifierPrimeField<Scalar>>;
/// A share's value y_i, as bytes.
type ShareValue = Zeroizing<[u8; 32]>;
/// A commitment C_j, SEC1-compressed.
type Commitment = [u8; COMMITMENT_LEN];
type KVerifier = ShareVerifierGroup<ProjectivePoint>;

/// Whose kit, and the epoch it was published in: part of every binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KitContext {
    /// The patient.
    pub patient: [u8; 20],
    /// The patient's epoch at publication (the newest epoch whose keys the kit holds).
    pub epoch: u64,
}

impl KitContext {
    fn prefix(&self) -> [u8; 28] {
        let mut out = [0u8; 28];
        out[..20].copy_from_slice(&self.patient);
        out[20..].copy_from_slice(&self.epoch.to_be_bytes());
        out
    }
}

/// One guardian's share of a kit's secret, verified against the kit's commitments. Zeroized
/// on drop; `Debug` shows the index only.
#[derive(Clone)]
pub struct EmergencyShare {
    index: u8,
    value: Zeroizing<[u8; 32]>,
}

impl EmergencyShare {
    /// The guardian's number in the set (1 to n).
    pub fn index(&self) -> u8 {
        self.index
    }

    /// This share with its value changed (still a canonical scalar): what a guardian that
    /// lies would release. For tests of verification only.
    #[doc(hidden)]
    pub fn tampered(&self) -> Self {
        let mut value = self.value.clone();
        value[31] ^= 1;
        Self { index: self.index, value }
    }

    fn scalar(&self) -> Option<Scalar> {
        Option::from(Scalar::from_repr((*self.value).into()))
    }

    fn vsss(&self) -> Option<KShare> {
        Some(KShare::with_identifier_and_value(
            IdentifierPrimeField(Scalar::from(u64::from(self.index))),
            IdentifierPrimeField(self.scalar()?),
        ))
    }
}

impl fmt::Debug for EmergencyShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmergencyShare({}, [redacted])", self.index)
    }
}

/// A guardian a kit is sealed for: its address and its registered public key (checked
/// against each other by the caller, see [`crate::public_key_for_address`]).
#[derive(Debug, Clone)]
pub struct KitGuardian {
    /// The guardian's address.
    pub address: [u8; 20],
    /// Its public key.
    pub key: PublicKey,
}

/// Builds a kit: splits a fresh secret t-of-n among `guardians` (share i for guardian i),
/// seals `scope` (opaque to this module: what the patient chose, so it can re-split later) to
/// the patient and `entries` under the secret.
///
/// [`Error::InvalidThreshold`] unless 1 ≤ t ≤ n ≤ 16; [`Error::AddressMismatch`] when a
/// guardian's key is not its address's.
pub fn seal_kit(
    context: &KitContext,
    patient_key: &PublicKey,
    guardians: &[KitGuardian],
    threshold: u8,
    scope: &[u8],
    entries: &[(u64, GrantKeys)],
) -> Result<Vec<u8>> {
    let n = guardians.len();
    if threshold == 0 || usize::from(threshold) > n || n > MAX_GUARDIANS {
        return Err(Error::InvalidThreshold { threshold, guardians: n });
    }
    if guardians.iter().any(|g| crate::eth_address(&g.key) != g.address) {
        return Err(Error::AddressMismatch);
    }
    let secret = loop {
        let candidate = Scalar::random(&mut rand_core::OsRng);
        if !bool::from(candidate.is_zero()) {
            break candidate;
        }
    };
    let (values, commitments) = split(&secret, threshold, n)?;
    let hash = commitments_hash(&commitments);

    let mut kit = vec![KIT_VERSION, threshold, n as u8];
    commitments.iter().for_each(|c| kit.extend_from_slice(c));
    for (i, (guardian, value)) in guardians.iter().zip(&values).enumerate() {
        let index = (i + 1) as u8;
        let aad = share_aad(context, &guardian.address, index, &hash);
        kit.extend(ecies::wrap(&guardian.key, labels::GUARDIAN_SHARE_PURPOSE, &aad, &value[..])?);
    }
    let sealed_scope =
        ecies::wrap(patient_key, labels::EMERGENCY_SCOPE_PURPOSE, &kit_aad(context, &hash), scope)?;
    let scope_len = u16::try_from(sealed_scope.len()).map_err(|_| Error::TooLarge)?;
    kit.extend_from_slice(&scope_len.to_be_bytes());
    kit.extend(sealed_scope);

    let mut plain = Zeroizing::new(Vec::new());
    for (epoch, keys) in entries {
        let scope = keys.scope();
        if matches!(scope, GrantScope::Record(_)) {
            return Err(Error::InvalidKit("a kit holds All or Category keys, not a record's"));
        }
        plain.extend_from_slice(&epoch.to_be_bytes());
        plain.push(scope.kind());
        plain.extend_from_slice(&scope.value());
        plain.extend_from_slice(&keys.plaintext());
    }
    let key_nonce = material_key(&secret, context);
    let mut secret = secret;
    secret.zeroize();
    kit.extend(aead::seal(&key_nonce, &kit_aad(context, &hash), &plain)?);
    Ok(kit)
}

/// The shares' values (y_1..y_n) and the commitments of a Feldman split of `secret`.
fn split(secret: &Scalar, threshold: u8, n: usize) -> Result<(Vec<ShareValue>, Vec<Commitment>)> {
    let encode = |point: &ProjectivePoint| -> [u8; 33] {
        let mut out = [0u8; 33];
        out.copy_from_slice(&point.to_bytes()[..]);
        out
    };
    if threshold == 1 {
        let value: [u8; 32] = secret.to_bytes().into();
        let values = (0..n).map(|_| Zeroizing::new(value)).collect();
        return Ok((values, vec![encode(&(ProjectivePoint::GENERATOR * secret))]));
    }
    let (mut shares, verifiers) = feldman::split_secret::<KShare, KVerifier>(
        usize::from(threshold),
        n,
        &IdentifierPrimeField(*secret),
        None,
        rand_core::OsRng,
    )
    .map_err(|_| Error::InvalidThreshold { threshold, guardians: n })?;
    let mut values = Vec::with_capacity(n);
    for (i, share) in shares.iter().enumerate() {
        // The crate numbers shares 1, 2, 3, ...: share i belongs to guardian i.
        if share.identifier().0 != Scalar::from(i as u64 + 1) {
            return Err(Error::InvalidKit("shares are not numbered 1 to n"));
        }
        values.push(Zeroizing::new(share.value().0.to_bytes().into()));
    }
    shares.iter_mut().for_each(Zeroize::zeroize);
    // verifiers[0] is the generator; the commitments follow.
    let commitments = verifiers[1..].iter().map(|v| encode(&v.0)).collect();
    Ok((values, commitments))
}

fn commitments_hash(commitments: &[[u8; 33]]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    commitments.iter().for_each(|c| hasher.update(c));
    hasher.finalize().into()
}

fn kit_aad(context: &KitContext, hash: &[u8; 32]) -> Vec<u8> {
    [&context.prefix()[..], hash].concat()
}

fn share_aad(context: &KitContext, guardian: &[u8; 20], index: u8, hash: &[u8; 32]) -> Vec<u8> {
    [&context.patient[..], guardian, &context.epoch.to_be_bytes(), &[index], hash].concat()
}

fn release_aad(
    context: &KitContext,
    doctor: &[u8; 20],
    guardian: &[u8; 20],
    index: u8,
    hash: &[u8; 32],
) -> Vec<u8> {
    [&context.patient[..], doctor, guardian, &context.epoch.to_be_bytes(), &[index], hash].concat()
}

fn material_key(secret: &Scalar, context: &KitContext) -> WrapKeyNonce {
    let mut out = Zeroizing::new([0u8; 32 + aead::NONCE_LEN]);
    let ikm = Zeroizing::new(<[u8; 32]>::from(secret.to_bytes()));
    Hkdf::<Sha256>::new(Some(&context.prefix()), &ikm[..])
        .expand(labels::EMERGENCY_KEY, &mut out[..])
        .expect("44 bytes is a valid HKDF-SHA256 output length");
    out
}

/// A parsed kit, as the guardian registry's `EmergencyKitPublished` carried it.
#[derive(Clone)]
pub struct EmergencyKit {
    threshold: u8,
    commitments: Vec<[u8; 33]>,
    shares: Vec<Vec<u8>>,
    scope: Vec<u8>,
    material: Vec<u8>,
    hash: [u8; 32],
}

impl fmt::Debug for EmergencyKit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmergencyKit({} of {})", self.threshold, self.shares.len())
    }
}

impl EmergencyKit {
    /// Parses a kit's bytes ([`Error::InvalidKit`] saying what is wrong).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let [version, threshold, n, rest @ ..] = bytes else {
            return Err(Error::InvalidKit("shorter than its header"));
        };
        if *version != KIT_VERSION {
            return Err(Error::UnsupportedVersion(*version));
        }
        let (t, n) = (usize::from(*threshold), usize::from(*n));
        if t == 0 || t > n || n > MAX_GUARDIANS {
            return Err(Error::InvalidThreshold { threshold: *threshold, guardians: n });
        }
        let fixed = t * COMMITMENT_LEN + n * WRAPPED_SHARE_LEN + 2;
        if rest.len() < fixed {
            return Err(Error::InvalidKit("shorter than its commitments and shares"));
        }
        let (commitment_bytes, rest) = rest.split_at(t * COMMITMENT_LEN);
        let mut commitments = Vec::with_capacity(t);
        for chunk in commitment_bytes.chunks(COMMITMENT_LEN) {
            let mut c = [0u8; 33];
            c.copy_from_slice(chunk);
            let point: Option<ProjectivePoint> = ProjectivePoint::from_bytes(&c.into()).into();
            if point.is_none() {
                return Err(Error::InvalidKit("a commitment is not a curve point"));
            }
            commitments.push(c);
        }
        let (share_bytes, rest) = rest.split_at(n * WRAPPED_SHARE_LEN);
        let shares = share_bytes.chunks(WRAPPED_SHARE_LEN).map(<[u8]>::to_vec).collect();
        let (len, rest) = rest.split_at(2);
        let scope_len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if rest.len() < scope_len + aead::TAG_LEN {
            return Err(Error::InvalidKit("shorter than its sealed scope and material"));
        }
        let (scope, material) = rest.split_at(scope_len);
        let hash = commitments_hash(&commitments);
        Ok(Self {
            threshold: *threshold,
            commitments,
            shares,
            scope: scope.to_vec(),
            material: material.to_vec(),
            hash,
        })
    }

    /// How many shares open the kit.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// How many guardians hold a share.
    pub fn guardian_count(&self) -> usize {
        self.shares.len()
    }

    /// Guardian `index`'s share, unwrapped with its secret key and verified.
    /// [`Error::UnwrapFailed`] when it is not this guardian's (wrong key, index or kit);
    /// [`Error::ShareDoesNotVerify`] when it opens but does not match the commitments.
    pub fn guardian_share(
        &self,
        index: u8,
        guardian: &SecretKey,
        context: &KitContext,
    ) -> Result<EmergencyShare> {
        let wrapped = self.wrapped_share(index)?;
        let address = crate::eth_address(&guardian.public_key());
        let aad = share_aad(context, &address, index, &self.hash);
        let plain = ecies::unwrap(guardian, labels::GUARDIAN_SHARE_PURPOSE, &aad, wrapped)?;
        self.verified(index, &plain)
    }

    /// `share` re-wrapped by guardian `guardian` to `doctor` (whose key the caller checked).
    pub fn release_to(
        &self,
        share: &EmergencyShare,
        guardian: &[u8; 20],
        doctor: &PublicKey,
        context: &KitContext,
    ) -> Result<Vec<u8>> {
        let aad =
            release_aad(context, &crate::eth_address(doctor), guardian, share.index, &self.hash);
        ecies::wrap(doctor, labels::GUARDIAN_RELEASE_PURPOSE, &aad, &share.value[..])
    }

    /// A share guardian number `index` (`guardian`) released to the doctor, unwrapped with
    /// the doctor's key and verified ([`Error::UnwrapFailed`], [`Error::ShareDoesNotVerify`]).
    pub fn released_share(
        &self,
        wrapped: &[u8],
        index: u8,
        guardian: &[u8; 20],
        doctor: &SecretKey,
        context: &KitContext,
    ) -> Result<EmergencyShare> {
        self.wrapped_share(index)?;
        let doctor_address = crate::eth_address(&doctor.public_key());
        let aad = release_aad(context, &doctor_address, guardian, index, &self.hash);
        let plain = ecies::unwrap(doctor, labels::GUARDIAN_RELEASE_PURPOSE, &aad, wrapped)?;
        self.verified(index, &plain)
    }

    fn wrapped_share(&self, index: u8) -> Result<&[u8]> {
        usize::from(index)
            .checked_sub(1)
            .and_then(|i| self.shares.get(i))
            .map(Vec::as_slice)
            .ok_or(Error::InvalidKit("no share has that index"))
    }

    fn verified(&self, index: u8, plain: &[u8]) -> Result<EmergencyShare> {
        let mut value = Zeroizing::new([0u8; 32]);
        if plain.len() != 32 {
            return Err(Error::ShareDoesNotVerify { index });
        }
        value.copy_from_slice(plain);
        let share = EmergencyShare { index, value };
        self.verify(&share)?;
        Ok(share)
    }

    /// Checks `share` against the kit's commitments ([`Error::ShareDoesNotVerify`]).
    pub fn verify(&self, share: &EmergencyShare) -> Result<()> {
        let invalid = Error::ShareDoesNotVerify { index: share.index };
        let vsss = share.vsss().ok_or(Error::ShareDoesNotVerify { index: share.index })?;
        let mut set: Vec<KVerifier> = vec![ValueGroup(ProjectivePoint::GENERATOR)];
        for c in &self.commitments {
            let point: Option<ProjectivePoint> = ProjectivePoint::from_bytes(&(*c).into()).into();
            set.push(ValueGroup(point.ok_or(Error::InvalidKit("bad commitment"))?));
        }
        <Vec<KVerifier> as FeldmanVerifierSet<KShare, KVerifier>>::verify_share(&set, &vsss)
            .map_err(|_| invalid)
    }

    /// The kit's key material, from at least `threshold` verified shares of distinct
    /// guardians ([`Error::NotEnoughShares`] otherwise), as (epoch, keys) pairs.
    pub fn open(
        &self,
        shares: &[EmergencyShare],
        context: &KitContext,
    ) -> Result<Vec<(u64, GrantKeys)>> {
        let mut distinct: Vec<&EmergencyShare> = Vec::new();
        for share in shares {
            self.verify(share)?;
            if !distinct.iter().any(|s| s.index == share.index) {
                distinct.push(share);
            }
        }
        let need = usize::from(self.threshold);
        if distinct.len() < need {
            return Err(Error::NotEnoughShares { have: distinct.len(), need });
        }
        let mut secret = if need == 1 {
            distinct[0].scalar().ok_or(Error::ShareDoesNotVerify { index: distinct[0].index })?
        } else {
            let mut set: Vec<KShare> = distinct[..need]
                .iter()
                .map(|s| s.vsss().ok_or(Error::ShareDoesNotVerify { index: s.index }))
                .collect::<Result<_>>()?;
            let combined =
                set.combine().map_err(|_| Error::InvalidKit("the shares do not combine"));
            set.iter_mut().for_each(Zeroize::zeroize);
            combined?.0
        };
        let key_nonce = material_key(&secret, context);
        secret.zeroize();
        let plain = aead::open(&key_nonce, &kit_aad(context, &self.hash), &self.material)
            .ok_or(Error::UnwrapFailed)?;
        parse_entries(&plain)
    }

    /// The scope the patient sealed to itself, opened with its account key.
    pub fn patient_scope(
        &self,
        patient: &SecretKey,
        context: &KitContext,
    ) -> Result<Zeroizing<Vec<u8>>> {
        ecies::unwrap(
            patient,
            labels::EMERGENCY_SCOPE_PURPOSE,
            &kit_aad(context, &self.hash),
            &self.scope,
        )
    }
}

fn parse_entries(plain: &[u8]) -> Result<Vec<(u64, GrantKeys)>> {
    let mut entries = Vec::new();
    let mut rest = plain;
    while !rest.is_empty() {
        if rest.len() < 41 {
            return Err(Error::InvalidKit("a truncated entry"));
        }
        let epoch = u64::from_be_bytes(rest[..8].try_into().expect("8 bytes"));
        let mut value = [0u8; 32];
        value.copy_from_slice(&rest[9..41]);
        let (scope, len) = match rest[8] {
            0 => (GrantScope::All, 64),
            1 => (GrantScope::Category(value), 96),
            _ => return Err(Error::InvalidKit("an entry of an unknown kind")),
        };
        if rest.len() < 41 + len {
            return Err(Error::InvalidKit("a truncated entry"));
        }
        entries.push((epoch, GrantKeys::from_plaintext(scope, &rest[41..41 + len])?));
        rest = &rest[41 + len..];
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MasterSecret;

    fn secret(byte: u8) -> SecretKey {
        SecretKey::from_bytes(&[byte; 32].into()).unwrap()
    }

    fn guardian(key: &SecretKey) -> KitGuardian {
        KitGuardian { address: crate::eth_address(&key.public_key()), key: key.public_key() }
    }

    const CONTEXT: KitContext = KitContext { patient: [7; 20], epoch: 2 };

    fn entries() -> Vec<(u64, GrantKeys)> {
        let master = MasterSecret::from_bytes([3; 32]);
        let naming = master.category_naming_key();
        let allergy = naming.category_id(&[b'a'; 32]);
        (0..=2)
            .map(|e| {
                let keys = master.epoch_key(e).category_keys(&allergy);
                (e, GrantKeys::Category { category: allergy, name: [b'a'; 32], keys })
            })
            .chain([(2, GrantKeys::All { epoch: master.epoch_key(2), naming })])
            .collect()
    }

    fn kit(threshold: u8) -> (Vec<u8>, [SecretKey; 3]) {
        let keys = [secret(11), secret(12), secret(13)];
        let guardians: Vec<KitGuardian> = keys.iter().map(guardian).collect();
        let bytes = seal_kit(
            &CONTEXT,
            &secret(1).public_key(),
            &guardians,
            threshold,
            b"scope",
            &entries(),
        )
        .unwrap();
        (bytes, keys)
    }

    fn plain(keys: &[(u64, GrantKeys)]) -> Vec<(u64, Vec<u8>)> {
        keys.iter().map(|(e, k)| (*e, k.plaintext().to_vec())).collect()
    }

    #[test]
    fn two_of_three_opens_with_any_two_shares_and_not_with_one() {
        let (bytes, keys) = kit(2);
        let kit = EmergencyKit::parse(&bytes).unwrap();
        assert_eq!((kit.threshold(), kit.guardian_count()), (2, 3));
        let doctor = secret(20);
        let shares: Vec<EmergencyShare> = (1..=3u8)
            .map(|i| {
                let share = kit.guardian_share(i, &keys[usize::from(i) - 1], &CONTEXT).unwrap();
                let g = crate::eth_address(&keys[usize::from(i) - 1].public_key());
                let wrapped = kit.release_to(&share, &g, &doctor.public_key(), &CONTEXT).unwrap();
                assert_eq!(wrapped.len(), WRAPPED_SHARE_LEN);
                kit.released_share(&wrapped, i, &g, &doctor, &CONTEXT).unwrap()
            })
            .collect();
        for pair in [[0, 1], [0, 2], [1, 2]] {
            let two = [shares[pair[0]].clone(), shares[pair[1]].clone()];
            assert_eq!(plain(&kit.open(&two, &CONTEXT).unwrap()), plain(&entries()));
        }
        assert!(matches!(
            kit.open(&shares[..1], &CONTEXT),
            Err(Error::NotEnoughShares { have: 1, need: 2 })
        ));
        let same = [shares[0].clone(), shares[0].clone()];
        assert!(matches!(
            kit.open(&same, &CONTEXT),
            Err(Error::NotEnoughShares { have: 1, need: 2 })
        ));
        assert_eq!(&kit.patient_scope(&secret(1), &CONTEXT).unwrap()[..], b"scope");
    }

    #[test]
    fn one_of_n_opens_with_one_share() {
        let (bytes, keys) = kit(1);
        let kit = EmergencyKit::parse(&bytes).unwrap();
        let share = kit.guardian_share(3, &keys[2], &CONTEXT).unwrap();
        assert_eq!(plain(&kit.open(&[share], &CONTEXT).unwrap()), plain(&entries()));
    }

    #[test]
    fn a_share_that_does_not_verify_is_named() {
        let (bytes, keys) = kit(2);
        let kit = EmergencyKit::parse(&bytes).unwrap();
        let mut share = kit.guardian_share(1, &keys[0], &CONTEXT).unwrap();
        share.value[31] ^= 1;
        assert!(matches!(kit.verify(&share), Err(Error::ShareDoesNotVerify { index: 1 })));
        // A guardian's genuine share presented under another index.
        let mut moved = kit.guardian_share(2, &keys[1], &CONTEXT).unwrap();
        moved.index = 3;
        assert!(matches!(kit.verify(&moved), Err(Error::ShareDoesNotVerify { index: 3 })));
        let good = kit.guardian_share(3, &keys[2], &CONTEXT).unwrap();
        assert!(matches!(
            kit.open(&[share, good], &CONTEXT),
            Err(Error::ShareDoesNotVerify { index: 1 })
        ));
        // A guardian's wrapped share is bound to its index, its key, the patient and epoch.
        assert!(matches!(kit.guardian_share(2, &keys[0], &CONTEXT), Err(Error::UnwrapFailed)));
        let other = KitContext { epoch: 3, ..CONTEXT };
        assert!(matches!(kit.guardian_share(1, &keys[0], &other), Err(Error::UnwrapFailed)));
    }

    #[test]
    fn bad_thresholds_and_kits_are_refused() {
        let keys = [secret(11), secret(12)];
        let guardians: Vec<KitGuardian> = keys.iter().map(guardian).collect();
        let patient = secret(1).public_key();
        for t in [0, 3] {
            assert!(matches!(
                seal_kit(&CONTEXT, &patient, &guardians, t, b"", &entries()),
                Err(Error::InvalidThreshold { threshold, guardians: 2 }) if threshold == t
            ));
        }
        let mut wrong = guardians.clone();
        wrong[1].address = [9; 20];
        assert!(matches!(
            seal_kit(&CONTEXT, &patient, &wrong, 1, b"", &entries()),
            Err(Error::AddressMismatch)
        ));
        let (bytes, _) = kit(2);
        assert!(matches!(EmergencyKit::parse(&bytes[..2]), Err(Error::InvalidKit(_))));
        assert!(matches!(EmergencyKit::parse(&bytes[..100]), Err(Error::InvalidKit(_))));
        let mut v2 = bytes.clone();
        v2[0] = 2;
        assert!(matches!(EmergencyKit::parse(&v2), Err(Error::UnsupportedVersion(2))));
        let mut t4 = bytes;
        t4[1] = 4;
        assert!(matches!(
            EmergencyKit::parse(&t4),
            Err(Error::InvalidThreshold { threshold: 4, .. })
        ));
    }
}
