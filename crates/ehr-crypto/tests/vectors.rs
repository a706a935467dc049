//! Test vectors under `tests/vectors/envelope/`.
//!
//! `vectors_match_the_implementation` rebuilds every vector from its fixed inputs (injected
//! randomness) and compares it with the stored JSON; `stored_vectors_open` decrypts the stored
//! bytes without regenerating anything. After an intentional format change, rewrite them with
//!
//! ```text
//! cargo test -p ehr-crypto --test vectors -- --ignored regenerate_vectors
//! ```

use std::fs;
use std::path::PathBuf;

use ehr_crypto::internals::{self, FixedEntropy};
use ehr_crypto::padding::{padded_envelope_len, padme};
use ehr_crypto::{
    ChunkSize, DataKey, DecryptionKey, EnvelopeWriter, Header, KeyEncryptionKey, KeyId, KeySlot,
    Recipients, RecordContext, RecordId, SecretKey, ecies, eth_address, raw_public_key,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/envelope")
}

struct EnvelopeCase {
    file: &'static str,
    description: &'static str,
    chunk_size: u32,
    len: usize,
}

const ENVELOPE_CASES: &[EnvelopeCase] = &[
    EnvelopeCase {
        file: "envelope-empty.json",
        description: "empty record",
        chunk_size: 4096,
        len: 0,
    },
    EnvelopeCase { file: "envelope-1.json", description: "one byte", chunk_size: 4096, len: 1 },
    EnvelopeCase {
        file: "envelope-chunk-minus-1.json",
        description: "one byte short of a chunk",
        chunk_size: 4096,
        len: 4095,
    },
    EnvelopeCase {
        file: "envelope-chunk.json",
        description: "exactly one chunk",
        chunk_size: 4096,
        len: 4096,
    },
    EnvelopeCase {
        file: "envelope-chunk-plus-1.json",
        description: "one byte past a chunk",
        chunk_size: 4096,
        len: 4097,
    },
    EnvelopeCase {
        file: "envelope-several-chunks.json",
        description: "three full chunks and a partial one, padding spanning chunks",
        chunk_size: 4096,
        len: 3 * 4096 + 1000,
    },
    EnvelopeCase {
        file: "envelope-default-chunk.json",
        description: "small record with the default 64 KiB chunk size",
        chunk_size: 65536,
        len: 300,
    },
];

fn bytes<const N: usize>(first: u8) -> [u8; N] {
    std::array::from_fn(|i| first.wrapping_add(i as u8))
}

fn secret(byte: u8) -> SecretKey {
    SecretKey::from_bytes(&[byte; 32].into()).unwrap()
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn h(data: impl AsRef<[u8]>) -> Value {
    Value::String(hex::encode(data))
}

fn unhex(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("hex string")).expect("valid hex")
}

fn unhex_array<const N: usize>(value: &Value) -> [u8; N] {
    unhex(value).try_into().expect("length")
}

/// Builds one envelope vector from fixed inputs.
fn envelope_vector(case: &EnvelopeCase) -> Value {
    let data_key = DataKey::from_bytes(bytes(0x00));
    let salt: [u8; 32] = bytes(0xa0);
    let patient = secret(0x11);
    let grantee = secret(0x22);
    let ephemerals: Vec<SecretKey> = [0xe1, 0xe2, 0xe3, 0xe4].into_iter().map(secret).collect();
    let decoys: Vec<[u8; 48]> = vec![[0xd1; 48], [0xd2; 48]];
    let key_id = KeyId(*b"ehrkit-vector-01");
    let kek = KeyEncryptionKey::from_bytes([0x5a; 32]);
    let slot_salt = [0x5c; 16];
    let context = RecordContext {
        chain_id: 31337,
        index_contract: unhex_array(&json!("5fbdb2315678afecb367f032d93f642f64180aa3")),
        patient: eth_address(&patient.public_key()),
        record_id: RecordId(bytes(0xf0)),
    };
    let recipients = Recipients::new(patient.public_key())
        .with_grantee(grantee.public_key())
        .with_symmetric(key_id, kek.clone());
    let mut entropy = FixedEntropy {
        header_salt: salt,
        ephemeral_secrets: ephemerals.iter().cloned().collect(),
        decoy_bodies: decoys.iter().copied().collect(),
        slot_salts: vec![slot_salt].into(),
    };
    let plaintext = plaintext(case.len);
    let chunk_size = ChunkSize::new(case.chunk_size).unwrap();

    let mut writer = EnvelopeWriter::with_entropy(
        Vec::new(),
        &data_key,
        &context,
        &recipients,
        chunk_size,
        &mut entropy,
    )
    .unwrap();
    std::io::Write::write_all(&mut writer, &plaintext).unwrap();
    let header = writer.header().clone();
    let (envelope, stats) = writer.finish().unwrap();
    assert!(entropy.ephemeral_secrets.is_empty() && entropy.decoy_bodies.is_empty());

    let header_bytes = header.to_bytes();
    let (content_key, nonce_prefix, mac_key) = internals::record_keys(&data_key, &salt);
    let slots: Vec<Value> = header
        .slots()
        .iter()
        .map(|slot| match slot {
            KeySlot::Ecies { wrapped } => json!({ "type": "ecies", "bytes": h(wrapped) }),
            KeySlot::Symmetric { key_id, salt, wrapped } => json!({
                "type": "symmetric", "key_id": h(key_id.0), "salt": h(salt), "wrapped": h(wrapped),
            }),
        })
        .collect();

    json!({
        "description": case.description,
        "format_version": ehr_crypto::envelope::VERSION,
        "inputs": {
            "chunk_size": case.chunk_size,
            "data_key": h(data_key.as_bytes()),
            "header_salt": h(salt),
            "context": {
                "chain_id": context.chain_id,
                "index_contract": h(context.index_contract),
                "patient": h(context.patient),
                "record_id": h(context.record_id.0),
            },
            "patient_secret_key": h(patient.to_bytes()),
            "grantee_secret_keys": [h(grantee.to_bytes())],
            "ephemeral_secret_keys": ephemerals.iter().map(|k| h(k.to_bytes())).collect::<Vec<_>>(),
            "decoy_bodies": decoys.iter().map(h).collect::<Vec<_>>(),
            "symmetric_recipients": [{ "key_id": h(key_id.0), "kek": h(kek.as_bytes()), "slot_salt": h(slot_salt) }],
            "plaintext_len": plaintext.len(),
            "plaintext": h(&plaintext),
        },
        "intermediate": {
            "patient_public_key": h(raw_public_key(&patient.public_key())),
            "grantee_public_key": h(raw_public_key(&grantee.public_key())),
            "content_key": h(content_key),
            "nonce_prefix": h(nonce_prefix),
            "header_mac_key": h(mac_key),
            "slot_binding": h(internals::slot_binding(&context)),
            "slots": slots,
            "header_mac": h(header.mac()),
            "header_len": header_bytes.len(),
            "header": h(&header_bytes),
            "header_hash": h(internals::header_hash(&header_bytes, &context)),
            "chunks": stats.chunks,
        },
        "expected": {
            "envelope_len": envelope.len(),
            "envelope_sha256": h(Sha256::digest(&envelope)),
            "envelope": h(&envelope),
        },
    })
}

fn ecies_vectors() -> Value {
    let recipient = secret(0x44);
    let cases = [
        (0x71u8, "ehrkit/v1/grant/epoch-key", &b""[..], vec![0x55u8; 32]),
        (0x72, "ehrkit/v1/grant/epoch-key", &b"grant #1"[..], (0u8..32).collect()),
        (0x73, "ehrkit/v1/test/empty", &b"aad"[..], Vec::new()),
    ];
    let vectors: Vec<Value> = cases
        .iter()
        .map(|(eph, purpose, aad, plaintext)| {
            let ephemeral = secret(*eph);
            let (key, nonce) =
                internals::ecies_key_nonce(&ephemeral, &recipient.public_key(), purpose).unwrap();
            let wrapped = ecies::wrap_with_ephemeral(
                &ephemeral,
                &recipient.public_key(),
                purpose,
                aad,
                plaintext,
            )
            .unwrap();
            json!({
                "ephemeral_secret_key": h(ephemeral.to_bytes()),
                "purpose": purpose,
                "aad": h(aad),
                "plaintext": h(plaintext),
                "kek": h(key),
                "nonce": h(nonce),
                "wrapped": h(&wrapped),
            })
        })
        .collect();
    json!({
        "description": "ECIES over secp256k1: HKDF-SHA256(salt = E ‖ R compressed, ikm = ECDH x, info = \"ehrkit/v1/ecies/kek\" ‖ u8 len ‖ purpose) → key ‖ nonce; AES-256-GCM",
        "recipient_secret_key": h(recipient.to_bytes()),
        "recipient_public_key_compressed": h(ehr_crypto::PublicKey::to_sec1_bytes(&recipient.public_key())),
        "vectors": vectors,
    })
}

fn padding_vectors() -> Value {
    let lens: [u64; 14] = [
        0,
        1,
        2,
        9,
        100,
        1000,
        1025,
        4096,
        65_537,
        1_000_000,
        123_456_789,
        1 << 30,
        (1 << 30) + 1,
        5_000_000_000,
    ];
    let padme_values: Vec<Value> =
        lens.iter().map(|&len| json!({ "len": len, "padme": padme(len).unwrap() })).collect();
    let envelopes: Vec<Value> = [
        (629u64, 4096u64, 0u64),
        (629, 4096, 4095),
        (629, 4096, 4096),
        (629, 65536, 1_000_000),
        (5000, 1 << 22, 1 << 30),
    ]
    .iter()
    .map(|&(header_len, chunk_size, plaintext_len)| {
        json!({
            "header_len": header_len,
            "chunk_size": chunk_size,
            "plaintext_len": plaintext_len,
            "envelope_len": padded_envelope_len(header_len, chunk_size, plaintext_len).unwrap(),
        })
    })
    .collect();
    json!({
        "description": "Padmé buckets and total envelope lengths (header + chunks + tags), see docs/envelope.md",
        "padme": padme_values,
        "envelope_len": envelopes,
    })
}

fn address_vectors() -> Value {
    let mut one = [0u8; 32];
    one[31] = 1;
    let keys = [SecretKey::from_bytes(&one.into()).unwrap(), secret(0x11), secret(0x22)];
    let vectors: Vec<Value> = keys
        .iter()
        .map(|sk| {
            json!({
                "secret_key": h(sk.to_bytes()),
                "public_key": h(raw_public_key(&sk.public_key())),
                "address": h(eth_address(&sk.public_key())),
            })
        })
        .collect();
    json!({ "description": "64-byte X ‖ Y public key → keccak256 → last 20 bytes", "vectors": vectors })
}

fn all_vectors() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> =
        ENVELOPE_CASES.iter().map(|c| (c.file.to_string(), envelope_vector(c))).collect();
    out.push(("ecies.json".into(), ecies_vectors()));
    out.push(("padding.json".into(), padding_vectors()));
    out.push(("address.json".into(), address_vectors()));
    out
}

fn first_difference(path: &str, stored: &Value, fresh: &Value) -> Option<String> {
    match (stored, fresh) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<_> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|k| match (a.get(k), b.get(k)) {
                (Some(x), Some(y)) => first_difference(&format!("{path}.{k}"), x, y),
                _ => Some(format!("{path}.{k}: present on one side only")),
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(&format!("{path}[{i}]"), x, y)),
        _ if stored == fresh => None,
        _ => Some(format!("{path} differs")),
    }
}

#[test]
fn vectors_match_the_implementation() {
    for (file, fresh) in all_vectors() {
        let path = dir().join(&file);
        let text = fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (regenerate: see tests/vectors.rs)", path.display())
        });
        let stored: Value = serde_json::from_str(&text).expect("valid JSON");
        if let Some(diff) = first_difference(&file, &stored, &fresh) {
            panic!("vector {diff}: the implementation no longer produces the stored bytes");
        }
    }
}

/// Independent of the generator: parses the stored inputs and opens the stored bytes.
#[test]
fn stored_vectors_open() {
    let mut seen = 0;
    for case in ENVELOPE_CASES {
        let text = fs::read_to_string(dir().join(case.file)).expect("vector file");
        let v: Value = serde_json::from_str(&text).unwrap();
        let (inputs, mid, expected) = (&v["inputs"], &v["intermediate"], &v["expected"]);
        let envelope = unhex(&expected["envelope"]);
        assert_eq!(envelope.len() as u64, expected["envelope_len"].as_u64().unwrap());
        assert_eq!(padme(envelope.len() as u64), Some(envelope.len() as u64));
        assert_eq!(hex::encode(Sha256::digest(&envelope)), expected["envelope_sha256"]);

        let ctx = &inputs["context"];
        let context = RecordContext {
            chain_id: ctx["chain_id"].as_u64().unwrap(),
            index_contract: unhex_array(&ctx["index_contract"]),
            patient: unhex_array(&ctx["patient"]),
            record_id: RecordId(unhex_array(&ctx["record_id"])),
        };
        let plaintext = unhex(&inputs["plaintext"]);
        let patient = SecretKey::from_slice(&unhex(&inputs["patient_secret_key"])).unwrap();
        let grantee = SecretKey::from_slice(&unhex(&inputs["grantee_secret_keys"][0])).unwrap();
        let sym = &inputs["symmetric_recipients"][0];
        let kek = KeyEncryptionKey::from_bytes(unhex_array(&sym["kek"]));
        let key_id = KeyId(unhex_array(&sym["key_id"]));
        for key in [
            DecryptionKey::Secp256k1(&patient),
            DecryptionKey::Secp256k1(&grantee),
            DecryptionKey::Symmetric { key_id, kek: &kek },
        ] {
            assert_eq!(
                ehr_crypto::open(&envelope, key, &context).unwrap(),
                plaintext,
                "{}",
                case.file
            );
        }

        let (header, header_len) = Header::parse(&envelope).unwrap();
        assert_eq!(hex::encode(&envelope[..header_len]), mid["header"]);
        assert_eq!(header.to_bytes(), envelope[..header_len]);
        assert_eq!(
            hex::encode(internals::header_hash(&envelope[..header_len], &context)),
            mid["header_hash"]
        );
        assert_eq!(hex::encode(internals::slot_binding(&context)), mid["slot_binding"]);
        let data_key = DataKey::from_bytes(unhex_array(&inputs["data_key"]));
        let (content_key, nonce_prefix, mac_key) =
            internals::record_keys(&data_key, &unhex_array(&inputs["header_salt"]));
        assert_eq!(hex::encode(content_key), mid["content_key"]);
        assert_eq!(hex::encode(nonce_prefix), mid["nonce_prefix"]);
        assert_eq!(hex::encode(mac_key), mid["header_mac_key"]);
        assert_eq!(header.chunk_size().get() as u64, inputs["chunk_size"].as_u64().unwrap());
        seen += 1;
    }
    assert_eq!(seen, ENVELOPE_CASES.len());

    let v: Value =
        serde_json::from_str(&fs::read_to_string(dir().join("ecies.json")).unwrap()).unwrap();
    let recipient = SecretKey::from_slice(&unhex(&v["recipient_secret_key"])).unwrap();
    for case in v["vectors"].as_array().unwrap() {
        let purpose = case["purpose"].as_str().unwrap();
        let opened =
            ecies::unwrap(&recipient, purpose, &unhex(&case["aad"]), &unhex(&case["wrapped"]))
                .unwrap();
        assert_eq!(&opened[..], &unhex(&case["plaintext"])[..]);
    }
}

#[test]
#[ignore = "rewrites tests/vectors/envelope/*.json; run after an intentional format change"]
fn regenerate_vectors() {
    fs::create_dir_all(dir()).unwrap();
    for (file, value) in all_vectors() {
        let mut text = serde_json::to_string_pretty(&value).unwrap();
        text.push('\n');
        fs::write(dir().join(file), text).unwrap();
    }
}
