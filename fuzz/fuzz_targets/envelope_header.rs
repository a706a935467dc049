//! Envelope header parsing on arbitrary bytes: never panics; what parses re-encodes to the
//! length it consumed.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((header, used)) = ehr_crypto::Header::parse(data) {
        assert!(used <= data.len());
        assert_eq!(header.encoded_len(), used);
    }
});
