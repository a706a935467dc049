//! Shared setup of the record workflow tests: a chain with a hospital, a lab, a doctor, a
//! nurse (no grants), a researcher and a patient, each with an SDK session on one blob store;
//! FHIR fixtures full of identifiers; a tiny PDF.

#![allow(dead_code, unreachable_pub)] // each test binary uses part of this module

use std::time::Duration;

use alloy::signers::local::PrivateKeySigner;
use ehr_contracts::{OrgKind, Purpose};
pub use ehr_sdk::NamedScope;
use ehr_sdk::consent::GrantSpec;
use ehr_sdk::{Chain, Session};
use ehr_store::StoreUrl;
use ehrkit_tests::TestChain;

pub const PATIENT_JSON: &str = include_str!("patient.json");
pub const HBA1C_JSON: &str = include_str!("hba1c.json");
pub const DIABETES_JSON: &str = include_str!("diabetes.json");
pub const METFORMIN_JSON: &str = include_str!("metformin.json");

/// Identifying strings the fixtures contain (names, phone, e-mail, address, SSN, ids).
pub const IDENTIFIERS: [&str; 12] = [
    "Okonkwo",
    "Lindqvist",
    "Adaeze",
    "Marit",
    "555-0142",
    "adaeze.ol@example.org",
    "Wisteria",
    "Fairview",
    "123-45-6789",
    "Wexford",
    "pat-4711",
    "dr-418",
];

/// A running chain with ehrkit deployed, a blob store, and the cast.
pub struct World {
    pub chain: TestChain,
    pub store_url: StoreUrl,
    pub _store_dir: tempfile::TempDir,
    pub patient: Session,
    pub doctor: Session,
    pub nurse: Session,
    pub researcher: Session,
    pub hospital: Session,
}

impl World {
    /// Starts anvil (and kubo when `kubo`; the blob store is then kubo, else a LocalStore).
    pub async fn start(kubo: bool) -> eyre::Result<Self> {
        let chain = TestChain::start(kubo).await?;
        let store_dir = tempfile::tempdir()?;
        let store_url: StoreUrl = match chain.stack.kubo() {
            Some(node) => format!("kubo:{}", node.api_url()).parse()?,
            None => format!("local:{}", store_dir.path().display()).parse()?,
        };
        let admin = session(&chain, &chain.admin, &store_url).await?;
        let hospital_key = chain.account().await?;
        let lab_key = chain.account().await?;
        ehr_sdk::roles::add_organization(
            &admin,
            hospital_key.address(),
            OrgKind::Hospital,
            "General Hospital",
        )
        .await?;
        ehr_sdk::roles::add_organization(&admin, lab_key.address(), OrgKind::Lab, "Research Lab")
            .await?;
        let hospital = session(&chain, &hospital_key, &store_url).await?;
        let lab = session(&chain, &lab_key, &store_url).await?;
        let mut staff = Vec::new();
        for org in [&hospital, &hospital, &lab] {
            let key = chain.account().await?;
            ehr_sdk::roles::add_staff(org, key.address()).await?;
            let member = session(&chain, &key, &store_url).await?;
            ehr_sdk::roles::register_public_key(&member).await?;
            staff.push(member);
        }
        let researcher = staff.pop().expect("three staff");
        let nurse = staff.pop().expect("three staff");
        let doctor = staff.pop().expect("three staff");
        let patient_key = chain.account().await?;
        let patient = session(&chain, &patient_key, &store_url).await?;
        ehr_sdk::roles::register_patient(&patient).await?;
        Ok(Self {
            chain,
            store_url,
            _store_dir: store_dir,
            patient,
            doctor,
            nurse,
            researcher,
            hospital,
        })
    }

    /// The patient grants `grantee` `scope` for `purpose`, 30 days.
    pub async fn grant(
        &self,
        grantee: &Session,
        scope: NamedScope,
        purpose: Purpose,
    ) -> eyre::Result<()> {
        let spec = GrantSpec {
            grantee: grantee.chain().address()?,
            scope,
            purpose,
            duration: Duration::from_secs(30 * 24 * 3600),
            record_key: None,
        };
        ehr_sdk::consent::grant(&self.patient, spec).await?;
        Ok(())
    }

    /// A session for a new funded account (not registered anywhere).
    pub async fn stranger(&self) -> eyre::Result<Session> {
        let key = self.chain.account().await?;
        session(&self.chain, &key, &self.store_url).await
    }
}

/// A session signing as `signer`.
pub async fn session(
    chain: &TestChain,
    signer: &PrivateKeySigner,
    store: &StoreUrl,
) -> eyre::Result<Session> {
    let connection = Chain::connect(chain.stack.anvil().rpc_url(), Some(signer.clone())).await?;
    Ok(Session::with_deployment(connection, chain.deployment.clone(), Some(store)).await?)
}

/// An upload of a small text file `<word>.txt` in the lab category, keyword `word`: distinct
/// content per word, so uploads never collide as duplicates.
pub fn lab_note(
    patient: alloy::primitives::Address,
    word: &str,
) -> ehr_sdk::records::UploadRequest {
    use ehr_sdk::records::{RecordSource, UploadRequest};
    let bytes = format!("lab note {word}").into_bytes();
    UploadRequest::new(
        patient,
        RecordSource::Bytes { file_name: format!("{word}.txt"), content_type: None, bytes },
    )
    .category(ehr_record::Category::LAB)
    .keywords([word.to_owned()])
}
