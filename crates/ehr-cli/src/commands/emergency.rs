//! `ehr emergency`: break-glass access.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render, when};
use alloy::primitives::Address;
use ehr_sdk::emergency::{self, EmergencyClosed, EmergencyOpened};
use ehr_contracts::ReasonCode;
use ehr_sdk::parse;
use std::time::Duration;

/// Break-glass access: a hospital doctor opens time-limited access, always logged.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr emergency open 0xPATIENT --reason \"unconscious in ER\" --hours 6 --account doctor   # code emergency-treatment
  ehr emergency close 0xPATIENT --account doctor
  ehr emergency close 0xPATIENT --doctor 0xDOCTOR --account alice   # the patient ends it")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: EmergencyCommand,
}

#[derive(clap::Subcommand, Debug)]
enum EmergencyCommand {
    /// Open emergency access to a patient (doctor of an active hospital).
    #[command(after_help = "Examples:\n  ehr emergency open 0xPATIENT --reason \"unconscious in ER\" --hours 6")]
    Open {
        /// The patient.
        #[arg(value_parser = parse::address)]
        patient: Address,
        /// Why, as a code logged in clear: treatment, emergency-treatment, payment, research,
        /// operations, care-coordination, patient-request, public-health or legal (or 1 to 9).
        #[arg(long, default_value = "emergency-treatment", value_parser = parse::reason_code)]
        reason_code: ReasonCode,
        /// Why, in words (1 to 256 bytes): encrypted to the patient, only it reads them.
        #[arg(long)]
        reason: Option<String>,
        /// How many hours it lasts (1 to 72).
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=72))]
        hours: u64,
        #[command(flatten)]
        eth: EthArgs,
    },
    /// Close emergency access early (the doctor, or the patient).
    #[command(after_help = "Examples:\n  ehr emergency close 0xPATIENT\n  ehr emergency close 0xPATIENT --doctor 0xDOCTOR")]
    Close {
        /// The patient.
        #[arg(value_parser = parse::address)]
        patient: Address,
        /// The doctor whose access ends [default: the signer].
        #[arg(long, value_parser = parse::address, value_name = "ADDRESS")]
        doctor: Option<Address>,
        #[command(flatten)]
        eth: EthArgs,
    },
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    match args.command {
        EmergencyCommand::Open { patient, reason_code, reason, hours, eth } => {
            let session = context.session(&eth, Signing::Required, false).await?;
            let duration = Duration::from_secs(hours * 3_600);
            let opened =
                emergency::open(&session, patient, reason_code, reason.as_deref(), duration).await?;
            context.print(&opened)
        }
        EmergencyCommand::Close { patient, doctor, eth } => {
            let session = context.session(&eth, Signing::Required, false).await?;
            let doctor = match doctor {
                Some(doctor) => doctor,
                None => session.chain().address()?,
            };
            context.print(&emergency::close(&session, patient, doctor).await?)
        }
    }
}

impl Render for EmergencyOpened {
    fn render(&self) -> String {
        Fields::new()
            .add("emergency access to", self.patient)
            .add("doctor", self.doctor)
            .add("hospital", self.hospital)
            .add("until", when(self.until))
            .add("reason code", self.reason_code)
            .add("reason (encrypted to the patient)", self.reason.as_deref().unwrap_or("none"))
            .tx(&self.tx)
            .finish()
    }
}

impl Render for EmergencyClosed {
    fn render(&self) -> String {
        Fields::new()
            .add("closed emergency access to", self.patient)
            .add("doctor", self.doctor)
            .add("closed by", self.closed_by)
            .tx(&self.tx)
            .finish()
    }
}
