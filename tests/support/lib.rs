//! Shared support for ehrkit's integration tests.
pub use ehr_devstack as devstack;
