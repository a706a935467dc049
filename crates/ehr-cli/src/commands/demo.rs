//! `ehr demo`: the whole story on a private local chain and the embedded store, each step
//! checked, told step by step.

use crate::context::Context;
use crate::output::Render;
use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use ehr_contracts::{ClaimStatus, DecisionCode, OrgKind, Purpose, Role, Scope};
use ehr_devstack::{AnvilNode, AnvilOptions, Lifetime};
use ehr_record::Category;
use ehr_sdk::audit::{self, AuditEvent};
use ehr_sdk::claims::{self, Currency, ReviewOutput};
use ehr_sdk::consent::{self, GrantSpec};
use ehr_sdk::deploy::DeployRequest;
use ehr_sdk::devnet::{STACK_FORMAT, ServiceInfo, StackFile};
use ehr_sdk::fetch::{self, FetchOutput};
use ehr_sdk::journal::Journal;
use ehr_sdk::records::{self, RecordSource, UploadReport, UploadRequest};
use ehr_sdk::search::{self, SearchRequest};
use ehr_sdk::{Chain, Session, emergency, guardians, relay, roles, time};
use ehr_store::StoreUrl;
use eyre::{WrapErr, eyre};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

const DAY: Duration = Duration::from_secs(24 * 3600);
const WEI_PER_ETH: u128 = 1_000_000_000_000_000_000;

/// Run the whole story on a private local chain: roles, records, consent, search, revocation,
/// claims, break-glass access, audit.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr demo                       # a private chain and store in a temporary directory, removed after
  ehr demo --keep                # leave them running and print how to continue and stop
  ehr demo --dir demo-run --json # the story as JSON; files under demo-run/

Each step checks its outcome; the exit code is 0 only when every step verified.")]
pub(crate) struct Args {
    /// Leave the chain running (and its directory in place) at the end.
    #[arg(long)]
    keep: bool,
    /// Directory for the chain's state, the deployment, the blobs and fetched files
    /// [default: a new temporary directory].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// The demo's result: what each step did and checked.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DemoReport {
    /// Where the demo's files are (removed at the end unless kept).
    directory: PathBuf,
    /// The chain's RPC URL.
    rpc_url: String,
    /// Whether the chain was left running.
    kept: bool,
    /// The steps.
    steps: Vec<Step>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Step {
    number: usize,
    title: String,
    lines: Vec<String>,
    #[serde(flatten)]
    outcome: Outcome,
}

#[derive(Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
enum Outcome {
    Verified { check: String },
}

/// The story so far; prints each step as it finishes unless the output is JSON.
struct Story {
    steps: Vec<Step>,
    live: bool,
    current: Option<(String, Vec<String>)>,
}

impl Story {
    fn begin(&mut self, title: &str) {
        self.current = Some((title.to_owned(), Vec::new()));
        if self.live {
            println!("\n{}. {title}", self.steps.len() + 1);
        }
    }

    fn line(&mut self, text: impl Into<String>) {
        let text = text.into();
        if self.live {
            println!("   {text}");
            let _ = std::io::stdout().flush();
        }
        if let Some((_, lines)) = &mut self.current {
            lines.push(text);
        }
    }

    fn finish(&mut self, outcome: Outcome) {
        let (title, lines) = self.current.take().unwrap_or_default();
        if self.live {
            let Outcome::Verified { check } = &outcome;
            println!("   ✓ {check}");
        }
        self.steps.push(Step { number: self.steps.len() + 1, title, lines, outcome });
    }

    fn verified(&mut self, check: impl Into<String>) {
        self.finish(Outcome::Verified { check: check.into() });
    }

    /// Fails the step unless `ok`.
    fn ensure(&self, ok: bool, what: impl std::fmt::Display) -> eyre::Result<()> {
        if ok {
            return Ok(());
        }
        let title = self.current.as_ref().map_or("", |(t, _)| t.as_str());
        Err(eyre!("demo step {} ({title}) failed: {what}", self.steps.len() + 1))
    }
}

/// The private stack: anvil tied to this process (or detached with `--keep`), in `dir`.
struct Stack {
    dir: PathBuf,
    remove_dir: bool,
    anvil: Option<AnvilNode>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Stop anvil before its directory goes away.
        drop(self.anvil.take());
        if self.remove_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let live = !json_output();
    let (dir, temporary) = match &args.dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!(
                "ehr-demo-{}-{}",
                std::process::id(),
                std::time::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_millis())
            )),
            true,
        ),
    };
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        return Err(eyre!("{} is not empty: give the demo a new or empty --dir", dir.display()));
    }
    std::fs::create_dir_all(&dir)?;
    let mut stack = Stack { dir: dir.clone(), remove_dir: temporary && !args.keep, anvil: None };
    let mut story = Story { steps: Vec::new(), live, current: None };
    if live {
        println!("ehrkit demo: patient-controlled, client-side-encrypted health records");
        println!("(files in {})", dir.display());
    }
    let outcome = tell(&mut story, &mut stack, args.keep).await;
    let rpc_url = stack.anvil.as_ref().map(|a| a.rpc_url().to_string()).unwrap_or_default();
    if args.keep
        && let Some(anvil) = stack.anvil.take()
    {
        keep_running(anvil, &dir, &mut story)?;
    }
    outcome?;
    let report = DemoReport { directory: dir, rpc_url, kept: args.keep, steps: story.steps };
    if live {
        println!("\n{}", summary(&report));
        Ok(())
    } else {
        context.print(&report)
    }
}

/// Whether `--json` was given (the story is then printed once, as JSON, at the end).
fn json_output() -> bool {
    std::env::args().skip(1).take_while(|a| a != "--").any(|a| a == "--json")
}

fn summary(report: &DemoReport) -> String {
    format!("All {} steps verified.", report.steps.len())
}

impl Render for DemoReport {
    fn render(&self) -> String {
        let mut out = String::new();
        for step in &self.steps {
            out.push_str(&format!("{}. {}\n", step.number, step.title));
            for line in &step.lines {
                out.push_str(&format!("   {line}\n"));
            }
            let Outcome::Verified { check } = &step.outcome;
            out.push_str(&format!("   ✓ {check}\n"));
        }
        out.push_str(&summary(self));
        out
    }
}

/// Leaves anvil running, writes the stack file `ehr dev` reads, and says how to go on.
fn keep_running(anvil: AnvilNode, dir: &Path, story: &mut Story) -> eyre::Result<()> {
    let dev_dir = dir.join("dev");
    let stack = StackFile {
        format: STACK_FORMAT,
        chain_id: anvil.chain_id(),
        anvil: ServiceInfo {
            pid: anvil.pid(),
            url: anvil.rpc_url(),
            log: anvil.log_path().to_path_buf(),
        },
        state_file: anvil.state_path().to_path_buf(),
        kubo: None,
        store: format!("local:{}", dir.join("blobs").display()),
    };
    anvil.detach();
    stack.save(&dev_dir)?;
    if story.live {
        println!("\nThe chain keeps running. Continue with, for example:");
        println!("  ehr --data-dir {} search PATIENT diabetes --private-key KEY", dir.display());
        println!("  ehr --data-dir {} dev down      # stop it", dir.display());
    }
    Ok(())
}

/// A demo participant: a funded key and its session.
struct Actor {
    name: &'static str,
    key: PrivateKeySigner,
    session: Session,
}

impl Actor {
    fn address(&self) -> Address {
        self.key.address()
    }
}

async fn tell(story: &mut Story, stack: &mut Stack, keep: bool) -> eyre::Result<()> {
    let dir = stack.dir.clone();

    story.begin("Start a private local chain (anvil) and the embedded blob store");
    let dev_dir = dir.join("dev");
    std::fs::create_dir_all(&dev_dir)?;
    let lifetime = if keep { Lifetime::Detached } else { Lifetime::Tied };
    let anvil = AnvilNode::start(
        &dev_dir,
        AnvilOptions { dir: Some(dev_dir.clone()), lifetime, silent: true, ..Default::default() },
    )
    .await
    .wrap_err("cannot start anvil (run scripts/setup, or set EHR_ANVIL_BIN)")?;
    let rpc_url = anvil.rpc_url();
    let chain_id = anvil.chain_id();
    stack.anvil = Some(anvil);
    let anvil = stack.anvil.as_ref().expect("just started");
    let store: StoreUrl = format!("local:{}", dir.join("blobs").display()).parse()?;
    story.line(format!("chain {chain_id} at {rpc_url}"));
    story.line(format!("blob store {store}"));
    let probe = Chain::connect(rpc_url.clone(), None).await?;
    story.ensure(probe.chain_id() == chain_id, "the chain answers with its id")?;
    story.verified("the chain answers with its id");

    story.begin("Deploy the contracts");
    let fund = |key: &PrivateKeySigner| {
        let address = key.address().to_string();
        async move { anvil.set_balance(&address, 100 * WEI_PER_ETH).await }
    };
    let admin_key = PrivateKeySigner::random();
    fund(&admin_key).await?;
    let admin_chain = Chain::connect(rpc_url.clone(), Some(admin_key.clone())).await?;
    let deployment_path = dir.join("deployment.json");
    let deployed = ehr_sdk::deploy::deploy(
        &admin_chain,
        DeployRequest {
            path: deployment_path,
            admin: None,
            admin_delay: Some(0),
            force: false,
            evm: None,
        },
    )
    .await?;
    let d = deployed.deployment.clone();
    story.line(format!("RoleRegistry    {}", d.role_registry));
    story.line(format!("ConsentRegistry {}", d.consent_registry));
    story.line(format!("RecordIndex     {}", d.record_index));
    story.line(format!("ClaimRegistry   {}", d.claim_registry));
    if let Some(guardians) = d.guardian_registry {
        story.line(format!("GuardianRegistry {guardians}"));
    }
    let session_of = |key: &PrivateKeySigner| {
        let (url, deployment, store, key) =
            (rpc_url.clone(), d.clone(), store.clone(), key.clone());
        async move {
            let chain = Chain::connect(url, Some(key)).await?;
            Ok::<_, eyre::Report>(Session::with_deployment(chain, deployment, Some(&store)).await?)
        }
    };
    let admin = session_of(&admin_key).await?;
    story.verified("every contract has code on the deployment's chain");

    story.begin("Register a hospital, a doctor, a patient and an insurer");
    let mut actors = Vec::new();
    for name in ["hospital", "doctor", "patient", "insurer"] {
        let key = PrivateKeySigner::random();
        fund(&key).await?;
        let session = session_of(&key).await?;
        actors.push(Actor { name, key, session });
    }
    let [hospital, doctor, patient, insurer] =
        <[Actor; 4]>::try_from(actors).map_err(|_| eyre!("four actors"))?;
    roles::add_organization(
        &admin,
        hospital.address(),
        OrgKind::Hospital,
        "Riverside General Hospital",
    )
    .await?;
    roles::add_organization(&admin, insurer.address(), OrgKind::Insurer, "Acme Health Insurance")
        .await?;
    roles::add_staff(&hospital.session, doctor.address()).await?;
    roles::register_public_key(&doctor.session).await?;
    roles::register_patient(&patient.session).await?;
    for actor in [&hospital, &doctor, &patient, &insurer] {
        story.line(format!("{:<8} {}", actor.name, actor.address()));
    }
    let is_doctor = admin.roles().isActiveDoctor(doctor.address()).call().await?;
    let patient_role = roles::role_of(&admin, patient.address()).await?;
    story.ensure(is_doctor && patient_role == Role::Patient, "the roles read back")?;
    story.verified("the doctor is active staff of the hospital; the patient is registered");

    story.begin("The patient uploads three FHIR records and a PDF (encrypted on this machine)");
    let journal = Journal::new(&dir);
    let p = patient.address();
    let uploads = [
        (RecordSource::FhirJson(HBA1C.into()), None, &["hba1c", "diabetes", "lab"][..]),
        (RecordSource::FhirJson(DIABETES.into()), None, &["diabetes", "type 2"][..]),
        (RecordSource::FhirJson(METFORMIN.into()), None, &["metformin", "diabetes"][..]),
        (
            RecordSource::Bytes {
                file_name: "discharge-summary.pdf".into(),
                content_type: None,
                bytes: ehr_record::sample_pdf(DISCHARGE_SUMMARY),
            },
            None::<Category>,
            &["discharge", "diabetes"][..],
        ),
    ];
    let mut uploaded: Vec<UploadReport> = Vec::new();
    for (source, category, keywords) in uploads {
        let mut request = UploadRequest::new(p, source).keywords(keywords.iter().copied());
        if let Some(category) = category {
            request = request.category(category);
        }
        let report = records::upload(&patient.session, &journal, request).await?;
        story.line(describe_upload(&report));
        uploaded.push(report);
    }
    let found = search::search(&patient.session, p, &words(&["diabetes"])).await?;
    story.ensure(record_ids(&found) == [1, 2, 3, 4], "the patient finds its four records")?;
    story.verified(format!(
        "the patient's search for \"diabetes\" finds records 1-4, verified at block {}",
        found.verified_at_block
    ));

    story.begin("The patient signs a grant (EIP-712); the doctor submits it and pays the gas");
    let spec = GrantSpec {
        grantee: doctor.address(),
        scope: ehr_sdk::NamedScope::All,
        purpose: Purpose::Treatment,
        duration: 30 * DAY,
        record_key: None,
    };
    let signed = relay::sign_grant(&patient.session, spec, Duration::from_secs(3600)).await?;
    story.line("signed by the patient off chain: scope all, treatment, 30 days");
    let grant = relay::submit_signed_grant(&doctor.session, &signed).await?;
    story.line(format!("submitted by {} in block {}", grant.submitter, grant.tx.block));
    let has_access =
        admin.consent().hasAccess(p, doctor.address(), Scope::All.to_sol()).call().await?;
    story.ensure(
        has_access && grant.submitter == doctor.address() && grant.patient == p,
        "the grant is in force",
    )?;
    story.verified("hasAccess(patient, doctor, all) is true; the doctor paid the gas");

    story.begin("The doctor searches, fetches, and adds a lab result");
    let found = search::search(&doctor.session, p, &words(&["diabetes"])).await?;
    story.line(format!(
        "search \"diabetes\": records {:?}, verified at block {}",
        record_ids(&found),
        found.verified_at_block
    ));
    let lab_copy = dir.join("fetched-hba1c.json");
    let fetched = fetch::fetch(&doctor.session, p, 1, FetchOutput::File(lab_copy.clone())).await?;
    story.line(format!("fetched record 1 ({}, {} bytes)", fetched.resource_type, fetched.bytes));
    let pdf_copy = dir.join("fetched-discharge-summary.pdf");
    let pdf = fetch::fetch(&doctor.session, p, 4, FetchOutput::File(pdf_copy.clone())).await?;
    story.line(format!(
        "fetched record 4 as {} ({} bytes, sha256 checked)",
        pdf.content_type, pdf.bytes
    ));
    let followup = records::upload(
        &doctor.session,
        &journal,
        UploadRequest::new(p, RecordSource::FhirJson(HBA1C_FOLLOW_UP.into())).keywords([
            "hba1c",
            "diabetes",
            "follow-up",
        ]),
    )
    .await?;
    story.line(format!("the doctor wrote {}", describe_upload(&followup)));
    let same_json = std::fs::read(&lab_copy)? == HBA1C.as_bytes();
    let same_pdf = Some(std::fs::read(&pdf_copy)?) == pdf_bytes(&uploaded[3]);
    story.ensure(record_ids(&found) == [1, 2, 3, 4], "the doctor finds the four records")?;
    story.ensure(same_json && same_pdf, "the fetched files equal the uploaded ones")?;
    story.ensure(followup.record_id == 5, "the doctor's record is record 5")?;
    story.verified("the doctor decrypted exactly what was uploaded, and wrote record 5");

    story.begin("The patient revokes the doctor: records written after it are out of reach");
    let revoked = consent::revoke(&patient.session, doctor.address()).await?;
    story.line(format!(
        "revoked in block {}; key epoch is now {}",
        revoked.tx.block, revoked.new_epoch
    ));
    let later = records::upload(
        &patient.session,
        &journal,
        UploadRequest::new(p, RecordSource::FhirJson(HBA1C_LATER.into()))
            .keywords(["hba1c", "diabetes"]),
    )
    .await?;
    story.line(format!("the patient then wrote {}", describe_upload(&later)));
    // The revoked doctor's old keys still match old records, but the chain no longer takes
    // its read logs, and the client does not read what it cannot log.
    let doctor_view = search::search(&doctor.session, p, &words(&["diabetes"])).await;
    let patient_view = search::search(&patient.session, p, &words(&["diabetes"])).await?;
    story.line(match &doctor_view {
        Ok(found) => format!(
            "doctor's search \"diabetes\": records {:?} ({} not readable with its keys)",
            record_ids(found),
            found.not_readable
        ),
        Err(e) => format!("doctor's search \"diabetes\": refused ({e})"),
    });
    story.line(format!("patient's search \"diabetes\": records {:?}", record_ids(&patient_view)));
    let fetch_later = fetch::fetch(
        &doctor.session,
        p,
        later.record_id,
        FetchOutput::File(dir.join("should-not-exist.json")),
    )
    .await;
    let write_again = records::upload(
        &doctor.session,
        &journal,
        UploadRequest::new(p, RecordSource::FhirJson(HBA1C_FOLLOW_UP.into())).allow_duplicate(true),
    )
    .await;
    story.line(match &write_again {
        Err(e) => format!("doctor's new upload: refused ({e})"),
        Ok(_) => "doctor's new upload succeeded".to_owned(),
    });
    story.line(match &fetch_later {
        Err(e) => format!("doctor's fetch of record {}: refused ({e})", later.record_id),
        Ok(_) => "doctor's fetch of the new record succeeded".to_owned(),
    });
    story.ensure(
        matches!(doctor_view, Err(ehr_sdk::Error::ReadNotLoggable { .. })),
        "the doctor's search is refused: it can no longer log a read",
    )?;
    story.ensure(record_ids(&patient_view).contains(&later.record_id), "the patient finds it")?;
    story.ensure(
        matches!(fetch_later, Err(ehr_sdk::Error::NoRecordKey { .. })),
        "the doctor cannot decrypt the new record",
    )?;
    story.ensure(
        matches!(write_again, Err(ehr_sdk::Error::NotAuthorized { .. })),
        "the doctor can no longer write",
    )?;
    story.verified(format!(
        "record {} is invisible and unreadable to the doctor, which can no longer write",
        later.record_id
    ));

    story.begin("An insurance claim is reviewed and decided");
    roles::register_public_key(&insurer.session).await?;
    let insurer_key = admin.roles().publicKeyOf(insurer.address()).call().await?;
    story.line(format!("the insurer {} registered its public key", insurer.address()));
    let eur = Currency::new("EUR")?;
    let amount = eur.parse_amount("120.50")?;
    let submitted =
        claims::submit_claim(&patient.session, insurer.address(), &[1, 2], amount, eur).await?;
    let claim_id = submitted.claim.id;
    story.line(format!(
        "the patient granted the insurer records 1 and 2 for insurance ({} grants, each with \
         the record's key) and filed claim {claim_id} for {} {} in block {} (on chain only a \
         commitment; the amount is sealed to the insurer and the patient)",
        submitted.grants.len(),
        submitted.claim.amount.as_deref().unwrap_or("?"),
        submitted.claim.currency.map(|c| c.to_string()).unwrap_or_default(),
        submitted.tx.block
    ));
    let review_dir = dir.join("claim-review");
    let review = claims::review_claim(
        &insurer.session,
        claim_id,
        ReviewOutput::Directory(review_dir.clone()),
    )
    .await?;
    for record in &review.records {
        story.line(format!(
            "the insurer fetched record {} ({}, {} bytes), decrypted it and verified it at block {}",
            record.record_id, record.resource_type, record.bytes, record.verified_at_block
        ));
    }
    let beyond = fetch::fetch(
        &insurer.session,
        p,
        3,
        FetchOutput::Writer(Box::new(std::io::sink())),
    )
    .await;
    story.line(match &beyond {
        Err(e) => format!("the insurer's fetch of record 3: refused ({e})"),
        Ok(_) => "the insurer's fetch of record 3 succeeded".to_owned(),
    });
    let decided = claims::decide_claim(
        &insurer.session,
        claim_id,
        true,
        DecisionCode::Covered,
        Some("HbA1c monitoring of type 2 diabetes is covered"),
    )
    .await?;
    story.line(format!(
        "claim {claim_id} {} by {}",
        decided.status,
        decided.decision.as_ref().map_or(Address::ZERO, |d| d.reviewer)
    ));
    let granted_as_filed = submitted.grants.len() == 2
        && submitted.grants.iter().zip([1, 2]).all(|(g, id)| {
            g.grantee == insurer.address()
                && g.scope.scope == Scope::Record(id)
                && g.purpose == Purpose::Insurance
        });
    story.ensure(insurer_key.len() == 64, "the insurer's public key is registered")?;
    story.ensure(
        granted_as_filed
            && submitted.claim.status == ClaimStatus::Submitted
            && submitted.claim.record_ids == [1, 2]
            && submitted.claim.minor_units == Some(12_050),
        "the claim is filed over records 1 and 2 for 120.50 EUR, each granted for insurance",
    )?;
    let read = |name: &str| std::fs::read(review_dir.join(name)).ok();
    story.ensure(
        review.review_started.is_some()
            && review.claim.status == ClaimStatus::UnderReview
            && review.records.iter().map(|r| r.record_id).eq([1, 2])
            && read("record-1.json").as_deref() == Some(HBA1C.as_bytes())
            && read("record-2.json").as_deref() == Some(DIABETES.as_bytes()),
        "the insurer took the claim into review and decrypted exactly the two uploaded records",
    )?;
    story.ensure(
        matches!(beyond, Err(ehr_sdk::Error::NoRecordKey { .. })),
        "the insurer cannot decrypt a record the claim does not cover",
    )?;
    story.ensure(
        decided.status == ClaimStatus::Approved
            && decided.decision.as_ref().is_some_and(|d| d.approved && d.reviewer == insurer.address()),
        "the claim is approved by the insurer",
    )?;
    story.verified(format!(
        "the insurer read records 1 and 2 through its insurance grants (and nothing else), and \
         claim {claim_id} is approved"
    ));

    story.begin(
        "Break-glass: the doctor opens emergency access, two of three guardians release, the \
         doctor reads the allergies",
    );
    let allergy_list = records::upload(
        &patient.session,
        &journal,
        UploadRequest::new(p, RecordSource::FhirJson(PENICILLIN_ALLERGY.into()))
            .keywords(["penicillin", "allergy"]),
    )
    .await?;
    let mut guardian_sessions = Vec::new();
    for _ in 0..2 {
        let key = PrivateKeySigner::random();
        fund(&key).await?;
        let relative = session_of(&key).await?;
        roles::register_patient(&relative).await?;
        guardian_sessions.push(relative);
    }
    let guardian_list =
        [guardian_sessions[0].chain().address()?, guardian_sessions[1].chain().address()?, insurer.address()];
    let kit = guardians::set_guardians(
        &patient.session,
        &guardian_list,
        2,
        guardians::EmergencyScope::default(),
    )
    .await?;
    story.line(format!(
        "the patient names 2 of 3 guardians (two relatives and the insurer) for {}: kit {} ({} bytes)",
        kit.scope, kit.kit_id, kit.kit_bytes
    ));
    let opened = emergency::open(
        &doctor.session,
        p,
        ehr_contracts::ReasonCode::EmergencyTreatment,
        Some("patient unconscious in the emergency department"),
        Duration::from_secs(3600),
    )
    .await?;
    story.line(format!(
        "open until {} (block {})",
        time::format_timestamp(opened.until),
        opened.tx.block
    ));
    let until = admin.consent().emergencyUntil(p, doctor.address()).call().await?;
    let (head, now) = admin.chain().head().await?;
    story.ensure(until > now, "emergency access is open")?;
    let before = fetch::fetch(
        &doctor.session,
        p,
        allergy_list.record_id,
        FetchOutput::File(dir.join("allergy-too-early.json")),
    )
    .await;
    story.ensure(
        matches!(before, Err(ehr_sdk::Error::NoRecordKey { .. })),
        "before any release the doctor cannot read the allergy list",
    )?;
    let mut released = 0;
    for guardian in &guardian_sessions {
        for outcome in guardians::watch_once(guardian, opened.tx.block, head).await? {
            if let guardians::WatchOutcome::Released(r) = outcome {
                story.line(format!("guardian {} released its share ({} of {})", r.index, r.released, r.threshold));
                released += 1;
            }
        }
    }
    story.ensure(released == 2, "both watching guardians released their shares")?;
    let allergy_copy = dir.join("allergy.json");
    let read = fetch::fetch(
        &doctor.session,
        p,
        allergy_list.record_id,
        FetchOutput::File(allergy_copy.clone()),
    )
    .await?;
    story.line(format!("the doctor reads record {} ({})", read.record_id, read.category));
    story.ensure(
        std::fs::read(&allergy_copy)?.as_slice() == PENICILLIN_ALLERGY.as_bytes()
            && read.category == "allergy",
        "the doctor decrypted the allergy list exactly",
    )?;
    // The HbA1c written after the revocation: a lab result, of an epoch the doctor holds no
    // grant for, and outside the emergency scope.
    let lab = fetch::fetch(
        &doctor.session,
        p,
        later.record_id,
        FetchOutput::File(dir.join("lab-out-of-scope.json")),
    )
    .await;
    story.ensure(
        matches!(lab, Err(ehr_sdk::Error::NoRecordKey { .. })),
        "the later lab result stays outside the emergency scope",
    )?;
    story.verified(
        "with two guardian releases on chain the doctor reads the allergy list, and not the later lab result",
    );

    story.begin("The patient's audit timeline");
    let timeline = audit::audit(&patient.session, p, None).await?;
    for entry in &timeline.entries {
        story.line(format!("block {:>3}  {}", entry.block, entry.summary));
    }
    let has = |pick: fn(&AuditEvent) -> bool| timeline.entries.iter().any(|e| pick(&e.event));
    story.ensure(has(|e| matches!(e, AuditEvent::Granted { .. })), "the grant is in the trail")?;
    story.ensure(
        has(|e| matches!(e, AuditEvent::Revoked { .. })),
        "the revocation is in the trail",
    )?;
    story.ensure(
        has(|e| matches!(e, AuditEvent::EmergencyOpened { .. })),
        "the break-glass access is in the trail",
    )?;
    let releases = timeline
        .entries
        .iter()
        .filter(|e| matches!(e.event, AuditEvent::ShareReleased { .. }))
        .count();
    story.ensure(
        releases == 2 && has(|e| matches!(e, AuditEvent::GuardiansSet { .. })),
        "the guardians and both releases are in the trail",
    )?;
    story.ensure(
        has(|e| matches!(e, AuditEvent::ClaimSubmitted { .. }))
            && has(|e| matches!(e, AuditEvent::ClaimReviewStarted { .. }))
            && has(|e| matches!(e, AuditEvent::ClaimDecided { approved: true, .. })),
        "the claim's submission, review and decision are in the trail",
    )?;
    let records_in_trail = timeline
        .entries
        .iter()
        .filter(|e| matches!(e.event, AuditEvent::RecordAdded { .. }))
        .count();
    story.ensure(
        records_in_trail == 7,
        format!("seven records in the trail, found {records_in_trail}"),
    )?;
    story.verified(
        "grants, revocation, the claim's three steps, break-glass access, the guardians' two \
         releases and all seven records are in the trail",
    );
    Ok(())
}

fn words(keywords: &[&str]) -> SearchRequest {
    SearchRequest {
        keywords: keywords.iter().map(|w| (*w).to_owned()).collect(),
        ..Default::default()
    }
}

fn record_ids(report: &search::SearchReport) -> Vec<u64> {
    report.hits.iter().map(|h| h.record_id).collect()
}

fn describe_upload(report: &UploadReport) -> String {
    format!(
        "record {}: {} ({}), {} bytes → {} encrypted, CID {}",
        report.record_id,
        report.resource_type,
        report.category,
        report.plaintext_bytes,
        report.envelope_bytes,
        report.cid
    )
}

/// The PDF uploaded as `report` (the demo's only one), to compare with what was fetched.
fn pdf_bytes(report: &UploadReport) -> Option<Vec<u8>> {
    (report.content_type.as_deref() == Some("application/pdf"))
        .then(|| ehr_record::sample_pdf(DISCHARGE_SUMMARY))
}


/// The text of the discharge-summary PDF the demo uploads.
const DISCHARGE_SUMMARY: &str = "Discharge summary: type 2 diabetes, start metformin";

/// An HbA1c lab result (LOINC 4548-4).
const HBA1C: &str = r#"{
  "resourceType": "Observation",
  "status": "final",
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobin A1c/Hemoglobin.total in Blood"}], "text": "HbA1c"},
  "subject": {"reference": "Patient/example", "display": "Maria Example"},
  "effectiveDateTime": "2025-03-14T08:30:00Z",
  "issued": "2025-03-14T15:02:11Z",
  "valueQuantity": {"value": 7.8, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
  "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "H"}]}]
}
"#;

/// A type 2 diabetes diagnosis (SNOMED CT 44054006, ICD-10 E11.9).
const DIABETES: &str = r#"{
  "resourceType": "Condition",
  "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
  "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
  "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006", "display": "Diabetes mellitus type 2"}, {"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9"}], "text": "Type 2 diabetes mellitus"},
  "subject": {"reference": "Patient/example", "display": "Maria Example"},
  "onsetDateTime": "2025-03-20",
  "recordedDate": "2025-03-21"
}
"#;

/// Metformin 500 mg (RxNorm 860975), once daily.
const METFORMIN: &str = r#"{
  "resourceType": "MedicationRequest",
  "status": "active",
  "intent": "order",
  "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "860975", "display": "metformin hydrochloride 500 MG Extended Release Oral Tablet"}], "text": "Metformin 500 mg ER"},
  "subject": {"reference": "Patient/example", "display": "Maria Example"},
  "authoredOn": "2025-03-21",
  "dosageInstruction": [{"text": "500 mg once daily with the evening meal"}]
}
"#;

/// The doctor's follow-up HbA1c, three months later.
const HBA1C_FOLLOW_UP: &str = r#"{
  "resourceType": "Observation",
  "status": "final",
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobin A1c/Hemoglobin.total in Blood"}], "text": "HbA1c"},
  "subject": {"reference": "Patient/example"},
  "effectiveDateTime": "2025-06-16T08:10:00Z",
  "valueQuantity": {"value": 7.1, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
}
"#;

/// The patient's penicillin allergy (SNOMED CT 91936005): what an emergency doctor must see.
const PENICILLIN_ALLERGY: &str = r#"{
  "resourceType": "AllergyIntolerance",
  "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
  "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "confirmed"}]},
  "type": "allergy",
  "category": ["medication"],
  "criticality": "high",
  "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91936005", "display": "Allergy to penicillin"}], "text": "Penicillin allergy"},
  "patient": {"reference": "Patient/example", "display": "Maria Example"},
  "reaction": [{"manifestation": [{"text": "anaphylaxis"}], "severity": "severe"}]
}
"#;

/// A later HbA1c the patient adds after the revocation.
const HBA1C_LATER: &str = r#"{
  "resourceType": "Observation",
  "status": "final",
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobin A1c/Hemoglobin.total in Blood"}], "text": "HbA1c"},
  "subject": {"reference": "Patient/example"},
  "effectiveDateTime": "2025-09-15T09:00:00Z",
  "valueQuantity": {"value": 6.6, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
}
"#;
