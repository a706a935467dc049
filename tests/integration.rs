//! ehrkit's integration tests, linked into one test binary.
//!
//! Every file here links the whole stack (alloy, the SDK, the harness); one binary per file
//! meant twenty links of ~100 MB each, minutes of CI time and gigabytes of disk. Each file
//! stays a module named after what it tests, so one area still runs on its own:
//! `cargo test --test integration security_faults::`.

// Shared fixtures.
mod cli_support;
mod records_support;
mod security_support;

// The foundation: harness, contracts, blob store.
mod chains_story;
mod consent_flow;
mod consent_rotation;
mod devstack;
mod guardians_flow;
mod store_kubo;
mod store_replicated;

// Search and record workflows through the SDK.
mod index_search;
mod key_generations;
mod records_export;
mod records_flow;
mod records_kubo;
mod records_read_log;
mod records_resume;

// `ehr serve`.
mod serve_hardening;

// The `ehr` binary.
mod cli_claims;
mod cli_consent;
mod cli_demo;
mod cli_errors;
mod cli_fhir_corpus;
mod cli_guardians;
mod cli_help;
mod cli_records;
mod cli_scripted;
mod readme_walkthrough;

// The security suite (docs/security.md).
mod security_authz_matrix;
mod security_faults;
mod security_forgery;
mod security_guardians;
mod security_key_material;
mod security_load;
mod security_phi_canary;
mod security_tamper;
