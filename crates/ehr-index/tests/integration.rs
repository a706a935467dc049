//! ehr-index's integration tests, linked into one test binary: each of these links alloy,
//! and one binary per file cost a ~100 MB link apiece. Run one area with
//! `cargo test -p ehr-index --test integration verify::`.

mod common;

mod cache;
mod matching;
mod vectors;
mod verify;
