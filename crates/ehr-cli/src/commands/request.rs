//! `ehr request`: staff or an organization asks a patient for access.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render, when};
use alloy::primitives::Address;
use ehr_contracts::{Purpose, ReasonCode};
use ehr_sdk::NamedScope;
use ehr_sdk::parse;
use ehr_sdk::requests::{self, AccessRequestInfo, RequestSpec};
use std::time::Duration;

/// Ask a patient for access (staff or organization); the patient approves or denies.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr request 0xPATIENT --scope category:lab --purpose treatment --reason \"follow-up visit\" --account doctor
  ehr request 0xPATIENT --scope all --purpose insurance --reason \"claim 42\" --ttl 3d --json")]
pub(crate) struct Args {
    /// The patient.
    #[arg(value_parser = parse::address)]
    patient: Address,
    /// What access should cover: all, category:NAME or record:ID. A category needs its id
    /// for this patient, which only an All grant or a grant of that category gives.
    #[arg(long, value_parser = parse::scope)]
    scope: NamedScope,
    /// Why: treatment, insurance, research or emergency.
    #[arg(long, default_value = "treatment", value_parser = parse::purpose)]
    purpose: Purpose,
    /// Why, as a code logged in clear: treatment, emergency-treatment, payment, research,
    /// operations, care-coordination, patient-request, public-health or legal (or 1 to 9)
    /// [default: the purpose's usual code].
    #[arg(long, value_parser = parse::reason_code)]
    reason_code: Option<ReasonCode>,
    /// Why, in words (1 to 256 bytes): encrypted to the patient, only it reads them.
    #[arg(long)]
    reason: Option<String>,
    /// How long the patient may answer (at most 30d).
    #[arg(long, default_value = "7d", value_parser = parse::duration, value_name = "DURATION")]
    ttl: Duration,
    #[command(flatten)]
    eth: EthArgs,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let session = context.session(&args.eth, Signing::Required, false).await?;
    let spec = RequestSpec {
        patient: args.patient,
        scope: args.scope,
        purpose: args.purpose,
        ttl: args.ttl,
        reason_code: args.reason_code.unwrap_or(ReasonCode::for_purpose(args.purpose)),
        reason: args.reason,
    };
    context.print(&requests::request_access(&session, spec).await?)
}

impl Render for AccessRequestInfo {
    fn render(&self) -> String {
        Fields::new()
            .add("request", self.id)
            .add("status", self.status)
            .add("patient", self.patient)
            .add("requester", self.requester)
            .add("scope", self.scope)
            .add("purpose", self.purpose)
            .add("reason code", self.reason_code)
            .add("reason", self.reason.as_deref().unwrap_or(if self.has_encrypted_reason {
                "[encrypted to the patient]"
            } else {
                "none"
            }))
            .add("answer by", when(self.expires_at))
            .tx(&self.tx)
            .finish()
    }
}
