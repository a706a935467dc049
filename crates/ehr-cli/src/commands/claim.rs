//! `ehr claim`: insurance claims — the patient files one, the insurer reviews and decides it.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render, when};
use crate::signer;
use alloy::primitives::Address;
use ehr_contracts::{ClaimStatus, DecisionCode, Role};
use ehr_sdk::claims::{
    self, ClaimFilter, ClaimInfo, ClaimRequest, ClaimReview, Currency, ReviewOutput,
    SubmittedClaim,
};
use ehr_sdk::parse;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// Insurance claims: the patient files one over some records, the insurer reviews and decides.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr claim submit --insurer 0xINSURER --records 1,2 --amount 120.50 --currency EUR --account alice
  ehr claim review 1 -o claim-1 --account insurer   # fetch, decrypt and verify every record
  ehr claim decide 1 approve --reason \"covered by policy 7\" --account insurer
  ehr claim list --account alice                     # a patient's claims, or an insurer's
  ehr claim show 1 --json")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: ClaimCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ClaimCommand {
    /// File a claim with an insurer over some of your records (patient).
    ///
    /// The insurer first gets an insurance-purpose grant of each record, carrying its key
    /// (unless --no-grant); then the claim is submitted.
    #[command(after_help = "\
Examples:
  ehr claim submit --insurer 0xINSURER --records 1,2 --amount 120.50 --currency EUR
  ehr claim submit --insurer 0xINSURER --records 3 --amount 15000 --currency JPY --expires 30d
  ehr claim submit --insurer 0xINSURER --records 1,2,3 --amount 80 --currency CHF --no-grant   # it holds an all grant

The amount is in the currency's usual notation (EUR has 2 decimals, JPY none), in minor units
(cents) inside the claim; the chain stores only a commitment to amount and currency, which
travel encrypted to the insurer and to the patient.")]
    Submit {
        /// The insurer organization's account (with a registered public key).
        #[arg(long, value_parser = parse::address, value_name = "ADDRESS")]
        insurer: Address,
        /// The records the claim covers, by number: 1 to 64 of them, e.g. 1,2,5.
        #[arg(
            long,
            required = true,
            value_delimiter = ',',
            value_parser = claims::record_id,
            value_name = "ID,…"
        )]
        records: Vec<u64>,
        /// The amount claimed, e.g. 120.50.
        #[arg(long, value_name = "AMOUNT")]
        amount: String,
        /// The ISO 4217 currency code, e.g. EUR.
        #[arg(long, value_parser = claims::currency, value_name = "CODE")]
        currency: Currency,
        /// How long the insurer's record grants last: e.g. 90d, 30d (at most 3650d).
        #[arg(long, default_value = "90d", value_parser = parse::duration, value_name = "DURATION")]
        expires: Duration,
        /// Give no grants: rely on the access the insurer already holds (an all grant, or
        /// record grants given before).
        #[arg(long, conflicts_with = "expires")]
        no_grant: bool,
        #[command(flatten)]
        eth: EthArgs,
    },
    /// Review a claim (insurer or its staff): fetch, decrypt and verify every record.
    ///
    /// A submitted claim is first taken into review (on chain); then every record it covers is
    /// fetched through the patient's verified index, decrypted with the key the insurer's grant
    /// carried, and checked.
    #[command(after_help = "\
Examples:
  ehr claim review 1                 # verify every record, keep nothing
  ehr claim review 1 -o claim-1      # and save them as claim-1/record-ID.json (or -NAME for files)")]
    Review {
        /// The claim's id.
        id: u64,
        /// Save the records into this directory (created if needed; files are replaced).
        #[arg(short, long, value_name = "DIR")]
        output: Option<PathBuf>,
        #[command(flatten)]
        eth: EthArgs,
    },
    /// Approve or reject a claim under review (the insurer or its staff).
    #[command(after_help = "\
Examples:
  ehr claim decide 1 approve
  ehr claim decide 2 reject --code not-covered --reason \"physiotherapy is outside plan B\"")]
    Decide {
        /// The claim's id.
        id: u64,
        /// approve or reject.
        #[arg(value_enum)]
        verdict: Verdict,
        /// Why, as a code logged in clear: covered, partly-covered, not-covered,
        /// information-missing, not-medically-necessary, out-of-network, duplicate or other (or
        /// 1 to 8) [default: covered to approve, not-covered to reject].
        #[arg(long, value_parser = parse::decision_code)]
        code: Option<DecisionCode>,
        /// Why, in words (1 to 256 bytes): encrypted to the patient, only it reads them.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        eth: EthArgs,
    },
    /// List claims: a patient's own, or those filed with an insurer (its account or staff).
    #[command(after_help = "\
Examples:
  ehr claim list --account alice
  ehr claim list --insurer 0xINSURER --json
  ehr claim list --patient 0xPATIENT")]
    List {
        /// Only claims of this patient [default: the signer, if it is a patient].
        #[arg(long, value_parser = parse::address, value_name = "ADDRESS")]
        patient: Option<Address>,
        /// Only claims filed with this insurer [default: the signer's organization, if it is
        /// an insurer or its staff].
        #[arg(long, value_parser = parse::address, value_name = "ADDRESS")]
        insurer: Option<Address>,
        #[command(flatten)]
        eth: EthArgs,
    },
    /// Show one claim, with its decision once decided.
    #[command(after_help = "Examples:\n  ehr claim show 1\n  ehr claim show 1 --json")]
    Show {
        /// The claim's id.
        id: u64,
        #[command(flatten)]
        eth: EthArgs,
    },
}

/// The insurer's verdict.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Approve the claim.
    Approve,
    /// Reject the claim.
    Reject,
}

/// The claims listed.
#[derive(Serialize)]
struct ClaimList {
    claims: Vec<ClaimInfo>,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    match args.command {
        ClaimCommand::Submit { insurer, records, amount, currency, expires, no_grant, eth } => {
            let amount = currency.parse_amount(&amount)?;
            let session = context.session(&eth, Signing::Required, !no_grant).await?;
            let request = ClaimRequest {
                insurer,
                record_ids: records,
                amount,
                currency,
                grant_for: (!no_grant).then_some(expires),
            };
            context.print(&claims::submit_claim_with(&session, request).await?)
        }
        ClaimCommand::Review { id, output, eth } => {
            let session = context.session(&eth, Signing::Required, true).await?;
            let output = output.map_or(ReviewOutput::VerifyOnly, ReviewOutput::Directory);
            context.print(&claims::review_claim(&session, id, output).await?)
        }
        ClaimCommand::Decide { id, verdict, code, reason, eth } => {
            if let Some(text) = &reason {
                ehr_sdk::requests::check_reason(text)?;
            }
            let session = context.session(&eth, Signing::Required, false).await?;
            let approve = verdict == Verdict::Approve;
            let code = code.unwrap_or(if approve {
                DecisionCode::Covered
            } else {
                DecisionCode::NotCovered
            });
            let decided =
                claims::decide_claim(&session, id, approve, code, reason.as_deref()).await?;
            context.print(&decided)
        }
        ClaimCommand::List { patient, insurer, eth } => {
            // Listing needs no key: the signer flags only say who "me" is.
            let me = signer::resolve_address(&eth.signer, &context.settings)?;
            let mut eth = eth.clone();
            eth.signer = Default::default();
            let session = context.session(&eth, Signing::Optional, false).await?;
            let mut filter = ClaimFilter { patient, insurer };
            if patient.is_none() && insurer.is_none() {
                let me = me.ok_or(ehr_sdk::Error::NoSigner)?;
                match ehr_sdk::roles::role_of(&session, me).await? {
                    Role::Patient => filter.patient = Some(me),
                    Role::Staff => {
                        filter.insurer = Some(session.roles().orgOf(me).call().await?);
                    }
                    _ => filter.insurer = Some(me),
                }
            }
            context.print(&ClaimList { claims: claims::list_claims(&session, filter).await? })
        }
        ClaimCommand::Show { id, eth } => {
            let session = context.session(&eth, Signing::Optional, false).await?;
            context.print(&claims::get_claim(&session, id).await?)
        }
    }
}

/// "120.50 EUR", or a note that the amount is sealed (only the patient and the insurer's
/// account read it).
fn money(claim: &ClaimInfo) -> String {
    match (&claim.amount, &claim.currency) {
        (Some(amount), Some(currency)) => format!("{amount} {currency}"),
        _ => format!("an amount sealed to the insurer and the patient (commitment {})", claim.terms_commitment),
    }
}

fn record_list(ids: &[u64]) -> String {
    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}

fn claim_fields(claim: &ClaimInfo) -> Fields {
    let mut fields = Fields::new()
        .add("claim", claim.id)
        .add("status", claim.status)
        .add("patient", claim.patient)
        .add("insurer", claim.insurer)
        .add("records", record_list(&claim.record_ids))
        .add("amount", money(claim))
        .add("submitted", when(claim.submitted_at));
    if let Some(decided_at) = claim.decided_at {
        fields = fields.add("decided", when(decided_at));
    }
    if let Some(decision) = &claim.decision {
        fields = fields
            .add("decided by", decision.reviewer)
            .add("reason code", decision.reason_code)
            .add("reason", shown_decision_reason(decision));
    }
    fields
}

impl Render for ClaimInfo {
    fn render(&self) -> String {
        claim_fields(self).finish()
    }
}

impl Render for SubmittedClaim {
    fn render(&self) -> String {
        let mut out = String::new();
        for grant in &self.grants {
            out.push_str(&format!(
                "granted {} {} for {} until {} (block {})\n",
                grant.grantee,
                grant.scope,
                grant.purpose,
                when(grant.expiry),
                grant.tx.block
            ));
        }
        out.push_str(&claim_fields(&self.claim).tx(&self.tx).finish());
        out
    }
}

impl Render for ClaimReview {
    fn render(&self) -> String {
        let mut fields = claim_fields(&self.claim);
        if let Some(tx) = &self.review_started {
            fields = fields.add("review started", format!("{} (block {})", tx.tx_hash, tx.block));
        }
        let mut out = fields.finish();
        for record in &self.records {
            out.push_str(&format!(
                "record {}: {} ({}), {} bytes, sha256 {}, verified at block {} → {}\n",
                record.record_id,
                record.resource_type,
                record.category,
                record.bytes,
                record.sha256,
                record.verified_at_block,
                record.output
            ));
        }
        out
    }
}

impl Render for ClaimList {
    fn render(&self) -> String {
        if self.claims.is_empty() {
            return "no claims".to_owned();
        }
        self.claims
            .iter()
            .map(|c| {
                let decided = match (&c.decision, c.status) {
                    (Some(d), ClaimStatus::Approved | ClaimStatus::Rejected) => {
                        format!(": {} ({})", d.reason_code, shown_decision_reason(d))
                    }
                    _ => String::new(),
                };
                format!(
                    "#{} {:<12} {} → {} records {} for {} filed {}{decided}\n",
                    c.id,
                    c.status.to_string(),
                    c.patient,
                    c.insurer,
                    record_list(&c.record_ids),
                    money(c),
                    when(c.submitted_at)
                )
            })
            .collect()
    }
}

/// The reviewer's words as this viewer may see them.
fn shown_decision_reason(decision: &claims::Decision) -> String {
    match (&decision.reason, decision.has_encrypted_reason) {
        (Some(words), _) => format!("{words:?}"),
        (None, true) => "[encrypted to the patient]".to_owned(),
        (None, false) => "none".to_owned(),
    }
}
