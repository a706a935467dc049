//! One-shot helpers over the streaming API for records that fit in memory.

use std::io::{Read, Write};

use super::context::RecordContext;
use super::reader::EnvelopeReader;
use super::slots::{DecryptionKey, Recipients};
use super::writer::EnvelopeWriter;
use crate::keys::DataKey;
use crate::{Error, Result};

/// Encrypts `plaintext` into a complete envelope (64 KiB chunks).
pub fn seal(
    plaintext: &[u8],
    data_key: &DataKey,
    context: &RecordContext,
    recipients: &Recipients,
) -> Result<Vec<u8>> {
    // Padding adds at most ~12%; reserve it so the buffer is not regrown.
    let capacity = plaintext.len() + plaintext.len() / 8 + 8 * 1024;
    let mut writer =
        EnvelopeWriter::new(Vec::with_capacity(capacity), data_key, context, recipients)?;
    writer.write_all(plaintext)?;
    Ok(writer.finish()?.0)
}

/// Decrypts and verifies a complete envelope. Nothing is returned unless the whole envelope
/// authenticated.
pub fn open(envelope: &[u8], key: DecryptionKey<'_>, expected: &RecordContext) -> Result<Vec<u8>> {
    let mut reader = EnvelopeReader::new(envelope, key, expected)?;
    let mut plaintext = Vec::with_capacity(envelope.len());
    reader.read_to_end(&mut plaintext).map_err(Error::from)?;
    Ok(plaintext)
}
