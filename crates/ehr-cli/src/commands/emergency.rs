//! `ehr emergency`: break-glass access.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render, when};
use alloy::primitives::Address;
use ehr_sdk::emergency::{
    self, EmergencyClosed, EmergencyConfirmed, EmergencyOpened, EmergencyPolicy, HospitalRule,
    HospitalRuleSet, OpenEmergency,
};
use serde::Serialize;
use ehr_contracts::ReasonCode;
use ehr_sdk::parse;
use std::time::Duration;

/// Break-glass access: a hospital doctor opens time-limited access, always logged.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr emergency open 0xPATIENT --reason \"unconscious in ER\" --hours 6 --account doctor   # code emergency-treatment
  ehr emergency close 0xPATIENT --account doctor
  ehr emergency close 0xPATIENT --doctor 0xDOCTOR --account alice   # the patient ends it
  ehr emergency policy --cap-hours 24 --account alice                # renewal cap
  ehr emergency hospital 0xHOSPITAL deny --account alice              # deny list
  ehr emergency confirm --doctor 0xDOCTOR --account alice             # let it go on
  ehr emergency list --account alice                                  # open access, releases")]
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
    /// List a patient's open break-glass access, with the guardians that released to each doctor.
    #[command(after_help = "Examples:\n  ehr emergency list 0xPATIENT\n  ehr emergency list --account alice")]
    List {
        /// The patient [default: the signer].
        #[arg(value_parser = parse::address)]
        patient: Option<Address>,
        #[command(flatten)]
        eth: EthArgs,
    },
    /// Set your break-glass policy (patient): allowed hospitals only, and the renewal cap.
    #[command(after_help = "Examples:\n  ehr emergency policy --cap-hours 24\n  ehr emergency policy --allowed-only")]
    Policy {
        /// Admit only hospitals you allowed (`ehr emergency hospital H allow`).
        #[arg(long)]
        allowed_only: bool,
        /// Hours a doctor's access may add up to before you confirm it (1 to 8760)
        /// [default: 72].
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=8760))]
        cap_hours: Option<u64>,
        #[command(flatten)]
        eth: EthArgs,
    },
    /// Rule on one hospital's break-glass openings (patient): allow, deny or default.
    #[command(after_help = "Examples:\n  ehr emergency hospital 0xHOSPITAL deny\n  ehr emergency hospital 0xHOSPITAL allow")]
    Hospital {
        /// The hospital.
        #[arg(value_parser = parse::address)]
        hospital: Address,
        /// allow, deny or default.
        #[arg(value_parser = parse_rule)]
        rule: HospitalRule,
        #[command(flatten)]
        eth: EthArgs,
    },
    /// Confirm a doctor's break-glass access (patient): its time against the cap restarts.
    #[command(after_help = "Examples:\n  ehr emergency confirm --doctor 0xDOCTOR")]
    Confirm {
        /// The doctor.
        #[arg(long, value_parser = parse::address, value_name = "ADDRESS")]
        doctor: Address,
        #[command(flatten)]
        eth: EthArgs,
    },
}

fn parse_rule(text: &str) -> Result<HospitalRule, String> {
    match text {
        "allow" | "allowed" => Ok(HospitalRule::Allowed),
        "deny" | "denied" => Ok(HospitalRule::Denied),
        "default" => Ok(HospitalRule::Default),
        other => Err(format!("unknown rule {other:?} (use allow, deny or default)")),
    }
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
        EmergencyCommand::List { patient, eth } => {
            let session = context.session(&eth, Signing::Optional, false).await?;
            let patient = match patient {
                Some(patient) => patient,
                None => session.chain().address()?,
            };
            let open = emergency::open_emergencies(&session, patient).await?;
            context.print(&OpenList { patient, open })
        }
        EmergencyCommand::Policy { allowed_only, cap_hours, eth } => {
            let session = context.session(&eth, Signing::Required, false).await?;
            let cap = cap_hours.map(|h| Duration::from_secs(h * 3_600));
            context.print(&emergency::set_policy(&session, allowed_only, cap).await?)
        }
        EmergencyCommand::Hospital { hospital, rule, eth } => {
            let session = context.session(&eth, Signing::Required, false).await?;
            context.print(&emergency::set_hospital_rule(&session, hospital, rule).await?)
        }
        EmergencyCommand::Confirm { doctor, eth } => {
            let session = context.session(&eth, Signing::Required, false).await?;
            context.print(&emergency::confirm(&session, doctor).await?)
        }
    }
}

/// `ehr emergency list`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OpenList {
    patient: Address,
    open: Vec<OpenEmergency>,
}

impl Render for OpenList {
    fn render(&self) -> String {
        if self.open.is_empty() {
            return format!("no open emergency access to {}", self.patient);
        }
        self.open
            .iter()
            .map(|e| {
                let released: Vec<String> = e.released_by.iter().map(Address::to_string).collect();
                Fields::new()
                    .add("emergency access of", e.doctor)
                    .add("hospital", e.hospital)
                    .add("until", when(e.until))
                    .add("reason code", e.reason_code)
                    .add(
                        "guardian releases",
                        format!(
                            "{} of {} needed{}",
                            e.released_by.len(),
                            e.threshold,
                            if released.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", released.join(", "))
                            }
                        ),
                    )
                    .finish()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Render for EmergencyPolicy {
    fn render(&self) -> String {
        let fields = Fields::new()
            .add("break-glass policy of", self.patient)
            .add(
                "hospitals",
                if self.allowed_only { "only those allowed" } else { "any not denied" },
            )
            .add("renewal cap", format!("{} h", self.renewal_cap / 3_600));
        match &self.tx {
            Some(tx) => fields.tx(tx).finish(),
            None => fields.finish(),
        }
    }
}

impl Render for HospitalRuleSet {
    fn render(&self) -> String {
        let rule = match self.rule {
            HospitalRule::Default => "default",
            HospitalRule::Allowed => "allowed",
            HospitalRule::Denied => "denied",
        };
        Fields::new()
            .add("break-glass from hospital", self.hospital)
            .add("for patient", self.patient)
            .add("rule", rule)
            .tx(&self.tx)
            .finish()
    }
}

impl Render for EmergencyConfirmed {
    fn render(&self) -> String {
        Fields::new()
            .add("confirmed emergency access of", self.doctor)
            .add("for patient", self.patient)
            .add("time it had used", format!("{} s", self.used))
            .tx(&self.tx)
            .finish()
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
