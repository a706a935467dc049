//! CID parsing from text and from bytes: never panics; what parses round-trips.
#![no_main]
use std::str::FromStr;

use ehr_store::Cid;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cid) = Cid::from_bytes(data) {
        assert_eq!(Cid::from_bytes(&cid.to_bytes()).unwrap(), cid);
        assert_eq!(Cid::from_str(&cid.to_string()).unwrap(), cid);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(cid) = Cid::from_str(text)
    {
        assert_eq!(Cid::from_str(&cid.to_string()).unwrap(), cid);
    }
});
