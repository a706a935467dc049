//! The authorization matrix, table-driven, against a real anvil and the embedded store: every
//! role (admin, organization admin, doctor of hospital A holding a lab grant, doctor of
//! hospital B without one, a deactivated doctor that held a lab grant, the patient, another
//! patient, an insurer, an unregistered account) × every state-changing operation of the role,
//! consent and index contracts (on chain: allowed, or a revert with the exact custom error
//! name) and every read path (unwrapping grant key material, searching, fetching, opening the
//! envelope with the account's own key: off chain, no key material and so no plaintext).
//! The whole matrix is printed as a table; every cell is compared with the expected one.
//!
//! Claims are in it too (`ClaimRegistry`: submit, start review, decide).

use std::time::Duration;

use crate::records_support::*;
use alloy::primitives::{B256, Bytes, keccak256};
use alloy::signers::local::PrivateKeySigner;
use ehr_contracts::bindings::ClaimRegistry::ClaimRegistryInstance;
use ehr_contracts::bindings::{ClaimRegistry, IConsentRegistry, IRecordIndex};
use ehr_contracts::{OrgKind, Purpose, Scope, tx};
use ehr_record::Category;
use ehr_sdk::Session;
use ehr_sdk::fetch::{FetchOutput, fetch, locate_envelope};
use ehr_sdk::journal::Journal;
use ehr_sdk::pipeline::{ExpectedContext, ReaderKey, open_record};
use ehr_sdk::record_keys::secret_key;
use ehr_sdk::records::{RecordSource, UploadRequest, upload};
use ehr_sdk::search::{SearchRequest, search};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum R {
    Admin,
    OrgAdmin,
    DoctorA,
    DoctorB,
    Deactivated,
    Patient,
    OtherPatient,
    Insurer,
    Unregistered,
}
use R::*;

const ROLES: [R; 9] =
    [Admin, OrgAdmin, DoctorA, DoctorB, Deactivated, Patient, OtherPatient, Insurer, Unregistered];

fn short(role: R) -> &'static str {
    match role {
        Admin => "admin",
        OrgAdmin => "orgA-admin",
        DoctorA => "doctorA(lab)",
        DoctorB => "doctorB",
        Deactivated => "deactivated",
        Patient => "patient",
        OtherPatient => "other-pat",
        Insurer => "insurer",
        Unregistered => "unregistered",
    }
}

struct Cast {
    world_chain: ehrkit_tests::TestChain,
    store_url: ehr_store::StoreUrl,
    _dir: tempfile::TempDir,
    keys: Vec<(R, PrivateKeySigner)>,
    sessions: Vec<(R, Session)>,
}

impl Cast {
    fn s(&self, role: R) -> &Session {
        &self.sessions.iter().find(|(r, _)| *r == role).unwrap().1
    }
    fn k(&self, role: R) -> &PrivateKeySigner {
        &self.keys.iter().find(|(r, _)| *r == role).unwrap().1
    }
}

const DAY: u64 = 24 * 3600;

/// "ok" or the revert's custom error name.
fn outcome<T>(result: Result<T, ehr_contracts::Error>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => match e.revert_reason() {
            Some(reason) => reason.error_name().to_owned(),
            None => format!("NOT-A-REVERT: {e}"),
        },
    }
}

/// The SDK error's variant name.
fn variant(error: &ehr_sdk::Error) -> String {
    let debug = format!("{error:?}");
    debug.split(|c: char| !c.is_alphanumeric()).next().unwrap_or_default().to_owned()
}

/// A fresh pseudo-random 32-byte value.
fn rnd() -> B256 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    keccak256(COUNTER.fetch_add(1, Ordering::SeqCst).to_be_bytes())
}

fn tags() -> Bytes {
    Bytes::from(vec![0x5a; 128]) // one bucket of 8 tags
}

/// The patient's opaque ids of `lab` and `diagnosis` (set up once: the matrix has one
/// patient on one chain).
static CATEGORY_IDS: std::sync::OnceLock<(B256, B256)> = std::sync::OnceLock::new();

fn lab() -> B256 {
    CATEGORY_IDS.get().expect("set up").0
}

fn diagnosis() -> B256 {
    CATEGORY_IDS.get().expect("set up").1
}

async fn now(session: &Session) -> eyre::Result<u64> {
    Ok(session.chain().head().await?.1)
}

#[derive(Debug, Clone, Copy)]
enum Op {
    AddOrganization,
    RemoveOrganization,
    AddStaff,
    RemoveStaff,
    RegisterOwnKey,
    RegisterOthersKey,
    AddRecordLab,
    AddRecordDiagnosis,
    AddRecordsBatchLab,
    SupersedeLab,
    LogReads,
    RequestAccess,
    ApproveRequest,
    DenyRequest,
    GrantAsSelf,
    GrantForPatient,
    ShareEpochKeys,
    RevokeGrantee,
    OpenEmergency,
    CloseEmergency,
    SubmitClaim,
    StartClaimReview,
    DecideClaim,
    RegisterPatient,
}

const OPS: [Op; 24] = [
    Op::AddOrganization,
    Op::RemoveOrganization,
    Op::AddStaff,
    Op::RemoveStaff,
    Op::RegisterOwnKey,
    Op::RegisterOthersKey,
    Op::AddRecordLab,
    Op::AddRecordDiagnosis,
    Op::AddRecordsBatchLab,
    Op::SupersedeLab,
    Op::LogReads,
    Op::RequestAccess,
    Op::ApproveRequest,
    Op::DenyRequest,
    Op::GrantAsSelf,
    Op::GrantForPatient,
    Op::ShareEpochKeys,
    Op::RevokeGrantee,
    Op::OpenEmergency,
    Op::CloseEmergency,
    Op::SubmitClaim,
    Op::StartClaimReview,
    Op::DecideClaim,
    Op::RegisterPatient,
];

/// What the rules say (README, contract NatSpec, docs/protocol.md).
fn expected(op: Op, role: R) -> &'static str {
    match op {
        Op::AddOrganization | Op::RemoveOrganization => match role {
            Admin => "ok",
            _ => "AccessControlUnauthorizedAccount",
        },
        Op::AddStaff => match role {
            OrgAdmin | Insurer => "ok",
            _ => "RoleNotOrganization",
        },
        Op::RemoveStaff => match role {
            OrgAdmin => "ok",
            Insurer => "RoleNotStaffOf",
            _ => "RoleNotOrganization",
        },
        Op::RegisterOwnKey => "ok",
        Op::RegisterOthersKey => "RolePublicKeyMismatch",
        Op::AddRecordLab | Op::AddRecordsBatchLab | Op::SupersedeLab => match role {
            Patient | DoctorA => "ok",
            _ => "IndexNotAuthorized",
        },
        Op::AddRecordDiagnosis => match role {
            Patient => "ok",
            _ => "IndexNotAuthorized",
        },
        Op::LogReads => match role {
            DoctorA => "ok",
            _ => "IndexNotGrantee",
        },
        Op::RequestAccess => match role {
            OrgAdmin | DoctorA | DoctorB | Insurer => "ok",
            _ => "ConsentInvalidGrantee",
        },
        Op::ApproveRequest | Op::DenyRequest => match role {
            Patient => "ok",
            _ => "ConsentNotRequestPatient",
        },
        Op::GrantAsSelf => match role {
            Patient | OtherPatient => "ok",
            _ => "ConsentNotPatient",
        },
        Op::GrantForPatient => match role {
            Patient => "ok",
            _ => "ConsentNotPatient",
        },
        Op::ShareEpochKeys => match role {
            Patient => "ok",
            OtherPatient => "ConsentNoActiveGrant",
            _ => "ConsentNotPatient",
        },
        // Both patients granted doctor B in GrantAsSelf; nobody else has a grant to revoke.
        Op::RevokeGrantee => match role {
            Patient | OtherPatient => "ok",
            _ => "ConsentNoActiveGrant",
        },
        Op::OpenEmergency => match role {
            DoctorA | DoctorB => "ok",
            _ => "ConsentNotHospitalDoctor",
        },
        Op::CloseEmergency => match role {
            Patient | DoctorB => "ok",
            _ => "ConsentNotEmergencyParty",
        },
        Op::SubmitClaim => match role {
            Patient => "ok",
            // A patient, but record 1 is not its record.
            OtherPatient => "ClaimUnknownRecord",
            _ => "ClaimNotPatient",
        },
        Op::StartClaimReview | Op::DecideClaim => match role {
            Insurer => "ok",
            _ => "ClaimNotInsurer",
        },
        Op::RegisterPatient => match role {
            Admin | Deactivated | Unregistered => "ok",
            _ => "RoleAlreadyAssigned",
        },
    }
}

async fn attempt(cast: &Cast, op: Op, role: R) -> eyre::Result<String> {
    let me = cast.s(role);
    let patient = cast.k(Patient).address();
    let admin = cast.s(Admin);
    let org_a = cast.s(OrgAdmin);
    let roles = me.roles_as_signer()?;
    let consent = me.consent_as_signer()?;
    let index = ehr_contracts::bindings::RecordIndex::new(
        me.deployment().record_index,
        me.chain().writer()?.clone(),
    );
    let epoch = me.consent().epochOf(patient).call().await?;
    Ok(match op {
        Op::AddOrganization => {
            let fresh = PrivateKeySigner::random().address();
            outcome(tx::send("add org", roles.addOrganization(fresh, 0, "New".into())).await)
        }
        Op::RemoveOrganization => {
            let throwaway = PrivateKeySigner::random().address();
            ehr_sdk::roles::add_organization(admin, throwaway, OrgKind::Lab, "Throwaway").await?;
            outcome(tx::send("remove org", roles.removeOrganization(throwaway)).await)
        }
        Op::AddStaff => {
            let fresh = PrivateKeySigner::random().address();
            outcome(tx::send("add staff", roles.addStaff(fresh)).await)
        }
        Op::RemoveStaff => {
            let staff = PrivateKeySigner::random().address();
            ehr_sdk::roles::add_staff(org_a, staff).await?;
            outcome(tx::send("remove staff", roles.removeStaff(staff)).await)
        }
        Op::RegisterOwnKey => {
            let key = ehr_sdk::roles::public_key(cast.k(role));
            outcome(tx::send("key", roles.registerPublicKey(key)).await)
        }
        Op::RegisterOthersKey => {
            let key = ehr_sdk::roles::public_key(&PrivateKeySigner::random());
            outcome(tx::send("key", roles.registerPublicKey(key)).await)
        }
        Op::AddRecordLab => {
            let digest = rnd();
            outcome(tx::send("add", index.addRecord(patient, digest, lab(), epoch, tags())).await)
        }
        Op::AddRecordDiagnosis => {
            let digest = rnd();
            let call = index.addRecord(patient, digest, diagnosis(), epoch, tags());
            outcome(tx::send("add", call).await)
        }
        Op::AddRecordsBatchLab => {
            let records: Vec<IRecordIndex::RecordInput> = (0..2)
                .map(|_| IRecordIndex::RecordInput { digest: rnd(), category: lab(), tags: tags() })
                .collect();
            outcome(tx::send("add batch", index.addRecords(patient, epoch, records)).await)
        }
        Op::SupersedeLab => {
            let call = index.supersede(patient, 1, rnd(), lab(), epoch, tags());
            outcome(tx::send("supersede", call).await)
        }
        Op::LogReads => {
            let sealed = Bytes::from([rnd().0, rnd().0, rnd().0].concat()[..81].to_vec());
            outcome(tx::send("log reads", index.logReads(patient, sealed)).await)
        }
        Op::RequestAccess => {
            let call = consent.requestAccess(
                patient,
                Scope::Category(lab()).to_sol(),
                Purpose::Treatment.as_u8(),
                DAY,
                1,
                Bytes::new(),
            );
            outcome(tx::send("request", call).await)
        }
        Op::ApproveRequest | Op::DenyRequest => {
            let doctor_b = cast.s(DoctorB).consent_as_signer()?;
            let call = doctor_b.requestAccess(
                patient,
                Scope::Category(diagnosis()).to_sol(),
                Purpose::Treatment.as_u8(),
                DAY,
                1,
                Bytes::new(),
            );
            tx::send("request", call).await?;
            let id = me.consent().requestCount().call().await?;
            if matches!(op, Op::ApproveRequest) {
                let expiry = now(me).await? + DAY;
                let call = consent.approveRequest(id, expiry, Bytes::from_static(b"keys"));
                outcome(tx::send("approve", call).await)
            } else {
                outcome(tx::send("deny", consent.denyRequest(id)).await)
            }
        }
        Op::GrantAsSelf | Op::GrantForPatient => {
            let granter =
                if matches!(op, Op::GrantAsSelf) { cast.k(role).address() } else { patient };
            let epoch = me.consent().epochOf(granter).call().await?;
            let request = IConsentRegistry::GrantRequest {
                patient: granter,
                grantee: cast.k(DoctorB).address(),
                scope: Scope::Category(diagnosis()).to_sol(),
                purpose: Purpose::Treatment.as_u8(),
                expiry: now(me).await? + DAY,
                epoch,
                wrappedKeys: Bytes::from_static(b"keys"),
            };
            outcome(tx::send("grant", consent.grant(request)).await)
        }
        Op::ShareEpochKeys => {
            let call = consent.shareEpochKeys(cast.k(DoctorA).address(), Bytes::from_static(b"k"));
            outcome(tx::send("share", call).await)
        }
        Op::RevokeGrantee => {
            outcome(tx::send("revoke", consent.revoke(cast.k(DoctorB).address())).await)
        }
        Op::OpenEmergency => {
            let call = consent.openEmergencyAccess(patient, 2, Bytes::new(), 3600);
            outcome(tx::send("open", call).await)
        }
        Op::CloseEmergency => {
            let doctor_b = cast.s(DoctorB);
            let code = ehr_contracts::ReasonCode::EmergencyTreatment;
            ehr_sdk::emergency::open(
                doctor_b,
                patient,
                code,
                Some("ER"),
                Duration::from_secs(3600),
            )
            .await?;
            let call = consent.closeEmergencyAccess(patient, cast.k(DoctorB).address());
            outcome(tx::send("close", call).await)
        }
        Op::SubmitClaim | Op::StartClaimReview | Op::DecideClaim => {
            let insurer = cast.k(Insurer).address();
            let claims_as = |s: &Session| -> eyre::Result<_> {
                Ok(ClaimRegistry::new(s.deployment().claim_registry, s.chain().writer()?.clone()))
            };
            let submit = |claims: ClaimRegistryInstance<alloy::providers::DynProvider>| async move {
                let call = claims.submitClaim(
                    insurer,
                    vec![1],
                    keccak256(b"terms"),
                    Bytes::from(vec![7; 200]),
                );
                tx::send("claim", call).await
            };
            let patient_session = cast.s(Patient);
            // The patient grants the insurer record 1 (the key material is opaque here).
            let grant = IConsentRegistry::GrantRequest {
                patient,
                grantee: insurer,
                scope: Scope::Record(1).to_sol(),
                purpose: Purpose::Insurance.as_u8(),
                expiry: now(me).await? + DAY,
                epoch: me.consent().epochOf(patient).call().await?,
                wrappedKeys: Bytes::from_static(b"keys"),
            };
            tx::send("grant", patient_session.consent_as_signer()?.grant(grant)).await?;
            if matches!(op, Op::SubmitClaim) {
                outcome(submit(claims_as(me)?).await)
            } else {
                submit(claims_as(patient_session)?).await?;
                let id = claims_as(me)?.claimCount().call().await?;
                if matches!(op, Op::StartClaimReview) {
                    outcome(tx::send("review", claims_as(me)?.startReview(id)).await)
                } else {
                    tx::send("review", claims_as(cast.s(Insurer))?.startReview(id)).await?;
                    outcome(
                        tx::send("decide", claims_as(me)?.decide(id, true, 1, Default::default()))
                            .await,
                    )
                }
            }
        }
        Op::RegisterPatient => {
            let key = ehr_sdk::roles::public_key(cast.k(role));
            outcome(tx::send("register", roles.registerPatient(key)).await)
        }
    })
}

async fn setup() -> eyre::Result<Cast> {
    let chain = ehrkit_tests::TestChain::start(false).await?;
    let dir = tempfile::tempdir()?;
    let store_url: ehr_store::StoreUrl = format!("local:{}", dir.path().display()).parse()?;
    let mut keys = vec![(Admin, chain.admin.clone())];
    for role in &ROLES[1..] {
        keys.push((*role, chain.account().await?));
    }
    let mut sessions = Vec::new();
    for (role, key) in &keys {
        sessions.push((*role, session(&chain, key, &store_url).await?));
    }
    let cast = Cast { world_chain: chain, store_url, _dir: dir, keys, sessions };
    let org_b = cast.world_chain.account().await?;
    let org_b_session = session(&cast.world_chain, &org_b, &cast.store_url).await?;
    let admin = cast.s(Admin);
    ehr_sdk::roles::add_organization(admin, cast.k(OrgAdmin).address(), OrgKind::Hospital, "A")
        .await?;
    ehr_sdk::roles::add_organization(admin, org_b.address(), OrgKind::Hospital, "B").await?;
    ehr_sdk::roles::add_organization(admin, cast.k(Insurer).address(), OrgKind::Insurer, "Ins")
        .await?;
    for (org, doctor) in
        [(cast.s(OrgAdmin), DoctorA), (&org_b_session, DoctorB), (cast.s(OrgAdmin), Deactivated)]
    {
        ehr_sdk::roles::add_staff(org, cast.k(doctor).address()).await?;
        ehr_sdk::roles::register_public_key(cast.s(doctor)).await?;
    }
    ehr_sdk::roles::register_patient(cast.s(Patient)).await?;
    let patient_keys =
        ehr_index::SearchKeys::patient(ehr_sdk::keys::master_secret(cast.s(Patient)).await?);
    let ids = (
        *patient_keys.category_id("lab")?.as_bytes32(),
        *patient_keys.category_id("diagnosis")?.as_bytes32(),
    );
    assert_eq!(*CATEGORY_IDS.get_or_init(|| ids), ids);
    ehr_sdk::roles::register_patient(cast.s(OtherPatient)).await?;
    for grantee in [DoctorA, Deactivated] {
        let spec = ehr_sdk::consent::GrantSpec {
            grantee: cast.k(grantee).address(),
            scope: ehr_sdk::NamedScope::Category("lab".into()),
            purpose: Purpose::Treatment,
            duration: Duration::from_secs(30 * DAY),
            record_key: None,
        };
        ehr_sdk::consent::grant(cast.s(Patient), spec).await?;
    }
    let journal = Journal::new(cast._dir.path());
    let patient = cast.k(Patient).address();
    let r1 =
        UploadRequest::new(patient, RecordSource::FhirJson(HBA1C_JSON.into())).keywords(["hba1c"]);
    assert_eq!(upload(cast.s(Patient), &journal, r1).await?.record_id, 1);
    let r2 = UploadRequest::new(patient, RecordSource::FhirJson(DIABETES_JSON.into()))
        .keywords(["diabetes"]);
    assert_eq!(upload(cast.s(Patient), &journal, r2).await?.record_id, 2);
    let r3 = UploadRequest::new(
        patient,
        RecordSource::Bytes {
            file_name: "lab.pdf".into(),
            content_type: None,
            bytes: ehr_record::sample_pdf("HbA1c 7.1"),
        },
    )
    .category(Category::LAB)
    .keywords(["hba1c"]);
    assert_eq!(upload(cast.s(DoctorA), &journal, r3).await?.record_id, 3);
    // The deactivated doctor leaves hospital A after it was granted (and read) lab records.
    ehr_sdk::roles::remove_staff(cast.s(OrgAdmin), cast.k(Deactivated).address()).await?;
    Ok(cast)
}

/// Read paths, off chain: what key material the role unwraps, what it finds, what it decrypts.
async fn reads(cast: &Cast, role: R) -> eyre::Result<Vec<(String, String, String)>> {
    let me = cast.s(role);
    let patient = cast.k(Patient).address();
    let mut rows = Vec::new();
    let privileged = matches!(role, Patient | DoctorA | Deactivated);

    // 1. Grant key material.
    let client =
        ehr_index::IndexClient::from_deployment(me.chain().reader().clone(), me.deployment());
    let head = me.chain().head().await?.0;
    let keys = if role == Patient {
        "all (master secret)".to_owned()
    } else {
        let granted = client.grantee_keys(patient, &secret_key(cast.k(role)), head).await?;
        match granted.keys.epochs() {
            Some(e) if !e.is_empty() => format!("epochs {e:?}"),
            _ => "none".to_owned(),
        }
    };
    let want = match role {
        Patient => "all (master secret)",
        DoctorA | Deactivated => "epochs [0]",
        _ => "none",
    };
    rows.push(("unwrap grant keys".into(), want.into(), keys));

    // 2. Search.
    for (word, want_hits) in [("hba1c", "[1, 3]"), ("diabetes", "[2]")] {
        let request = SearchRequest { keywords: vec![word.into()], ..Default::default() };
        let got = match search(me, patient, &request).await {
            Ok(report) => {
                format!("{:?}", report.hits.iter().map(|h| h.record_id).collect::<Vec<_>>())
            }
            Err(e) => variant(&e),
        };
        let want = match role {
            Patient => want_hits.to_owned(),
            DoctorA if word == "hba1c" => want_hits.to_owned(),
            DoctorA => "[]".to_owned(),
            // Its keys still match (below they still decrypt), but the chain refuses its read
            // log, and the client does not read what it cannot log.
            Deactivated => "ReadNotLoggable".to_owned(),
            _ => "NoSearchKeys".to_owned(),
        };
        rows.push((format!("search {word:?}"), want, got));
    }

    // 3. Fetch (the SDK path) and 4. open the envelope with the account's own key.
    let store = me.store().expect("a store").clone();
    for (record, name, want_bytes) in
        [(1u64, "lab", HBA1C_JSON.as_bytes()), (2, "diagnosis", DIABETES_JSON.as_bytes())]
    {
        let out = cast._dir.path().join(format!("{}-{record}.out", short(role)));
        let got = match fetch(me, patient, record, FetchOutput::File(out.clone())).await {
            Ok(_) => {
                assert_eq!(std::fs::read(&out)?, want_bytes, "plaintext intact");
                "ok".to_owned()
            }
            Err(e) => {
                assert!(!out.exists(), "a denied fetch leaves no file");
                variant(&e)
            }
        };
        let want = match role {
            Deactivated if record == 1 => "ReadNotLoggable",
            _ if role == Patient || (privileged && record == 1) => "ok",
            _ => "NoRecordKey",
        };
        rows.push((format!("fetch #{record} ({name})"), want.into(), got));

        let digest = {
            let index = client.verified_index(patient, None).await?;
            index.record(record).unwrap().digest
        };
        let cid = locate_envelope(&*store, record, digest).await?;
        let d = me.deployment();
        let expected_ctx = ExpectedContext::Patient {
            chain_id: d.chain_id,
            index_contract: d.record_index.0.0,
            patient: patient.0.0,
        };
        let key = ReaderKey::Secret(secret_key(cast.k(role)));
        let got = match open_record(&*store, cid, key, expected_ctx, |r| {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(r, &mut buf)
                .map_err(ehr_sdk::pipeline::plaintext_read_error)?;
            Ok(buf)
        })
        .await
        {
            Ok((plain, _)) => {
                // The framed record: a short header, then the original bytes.
                assert!(plain.ends_with(want_bytes), "plaintext intact");
                "ok".to_owned()
            }
            Err(e) => variant(&e),
        };
        let want = if role == Patient { "ok" } else { "Crypto" };
        rows.push((format!("open #{record} with own key"), want.into(), got));
    }
    Ok(rows)
}

fn print_table(title: &str, rows: &[(String, Vec<String>)]) {
    let first = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0).max(10);
    let widths: Vec<usize> = ROLES
        .iter()
        .enumerate()
        .map(|(i, r)| {
            rows.iter().map(|(_, c)| c[i].chars().count()).max().unwrap_or(0).max(short(*r).len())
        })
        .collect();
    println!("\n{title}");
    let mut line = format!("| {:first$} |", "operation");
    for (r, w) in ROLES.iter().zip(&widths) {
        line += &format!(" {:w$} |", short(*r));
    }
    println!("{line}");
    let mut sep = format!("|{}|", "-".repeat(first + 2));
    for w in &widths {
        sep += &format!("{}|", "-".repeat(w + 2));
    }
    println!("{sep}");
    for (name, cells) in rows {
        let mut line = format!("| {name:first$} |");
        for (c, w) in cells.iter().zip(&widths) {
            line += &format!(" {c:w$} |");
        }
        println!("{line}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_role_against_every_operation_and_read_path() -> eyre::Result<()> {
    let cast = setup().await?;
    let mut mismatches = Vec::new();

    // Reads first: the writes below change grants and epochs.
    let mut read_rows: Vec<(String, Vec<String>)> = Vec::new();
    for (i, role) in ROLES.iter().enumerate() {
        for (j, (name, want, got)) in reads(&cast, *role).await?.into_iter().enumerate() {
            if i == 0 {
                read_rows.push((name.clone(), Vec::new()));
            }
            let cell = if want == got { got.clone() } else { format!("{got} (WANT {want})") };
            if want != got {
                mismatches.push(format!("{} / {name}: got {got}, want {want}", short(*role)));
            }
            read_rows[j].1.push(cell);
        }
    }

    let mut op_rows: Vec<(String, Vec<String>)> = Vec::new();
    for op in OPS {
        let mut cells = Vec::new();
        for role in ROLES {
            let got = attempt(&cast, op, role).await?;
            let want = expected(op, role);
            if got != want {
                mismatches.push(format!("{} / {op:?}: got {got}, want {want}", short(role)));
                cells.push(format!("{got} (WANT {want})"));
            } else {
                cells.push(got);
            }
        }
        op_rows.push((format!("{op:?}"), cells));
    }
    print_table("Read paths (off chain): key material, search hits, plaintext", &read_rows);
    print_table("State-changing operations (on chain): ok or the custom error", &op_rows);
    println!(
        "\nNote: the deactivated doctor's keys still open the epoch-0 lab records it was \
         granted: key material cannot be taken back (docs/protocol.md §6). It can no longer \
         write, log reads, request access or open emergency access, so ehrkit's own client \
         refuses its searches and fetches (it does not read what it cannot log)."
    );
    assert!(mismatches.is_empty(), "authorization matrix mismatches:\n{}", mismatches.join("\n"));
    Ok(())
}
