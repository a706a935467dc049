//! `ehr guardian`: threshold guardians who release the patient's emergency keys to a
//! break-glass doctor.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render};
use alloy::primitives::Address;
use ehr_sdk::guardians::{self, EmergencyScope, KitPublished, Released, WatchOutcome};
use ehr_sdk::parse;
use serde::Serialize;
use std::time::Duration;

/// Guardians: who may hand a break-glass doctor the patient's emergency keys, t of n.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr guardian set 0xLAB 0xHOSPITAL 0xRELATIVE --threshold 2 --account alice
  ehr guardian set 0xA 0xB --threshold 1 --scope all --account alice
  ehr guardian show 0xPATIENT
  ehr guardian release 0xPATIENT --doctor 0xDOCTOR --account lab
  ehr guardian watch --account lab          # releases whenever the rules allow")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: GuardianCommand,
}

#[derive(clap::Subcommand, Debug)]
enum GuardianCommand {
    /// Name your guardians and threshold and publish your emergency kit (patient).
    #[command(after_help = "Examples:\n  ehr guardian set 0xLAB 0xHOSPITAL 0xRELATIVE --threshold 2\n  ehr guardian set 0xA 0xB --threshold 2 --scope allergy,prescription")]
    Set {
        /// The guardians: registered patients, organizations or staff with a public key.
        #[arg(required = true, value_parser = parse::address)]
        guardians: Vec<Address>,
        /// How many guardians must release their shares before a doctor reads (1 to n).
        #[arg(long, short = 't')]
        threshold: u8,
        /// What a doctor reads: `all`, or comma-separated categories
        /// [default: allergy,prescription,diagnosis,immunization].
        #[arg(long, value_name = "all|CATEGORY,...")]
        scope: Option<String>,
        #[command(flatten)]
        eth: EthArgs,
    },
    /// Show a patient's guardians and current kit.
    #[command(after_help = "Examples:\n  ehr guardian show 0xPATIENT")]
    Show {
        /// The patient [default: the signer].
        #[arg(value_parser = parse::address)]
        patient: Option<Address>,
        #[command(flatten)]
        eth: EthArgs,
    },
    /// Release your share to a doctor that opened break-glass access (guardian, one-shot).
    #[command(after_help = "Examples:\n  ehr guardian release 0xPATIENT --doctor 0xDOCTOR")]
    Release {
        /// The patient.
        #[arg(value_parser = parse::address)]
        patient: Address,
        /// The doctor.
        #[arg(long, value_parser = parse::address, value_name = "ADDRESS")]
        doctor: Address,
        #[command(flatten)]
        eth: EthArgs,
    },
    /// Watch for break-glass openings of the patients you guard and release when the rules
    /// allow (runs until stopped; one JSON line or summary per outcome; a poll the node fails
    /// is retried, and so is a release that failed, at every interval).
    #[command(after_help = "Examples:\n  ehr guardian watch\n  ehr guardian watch --from-block 0 --once --json")]
    Watch {
        /// First block to look at [default: the deployment's first block, so openings made
        /// while no watcher ran are answered too; accesses no longer open are skipped, and a
        /// share already released is not sent again].
        #[arg(long)]
        from_block: Option<u64>,
        /// Seconds between polls.
        #[arg(long, default_value_t = 2)]
        interval: u64,
        /// Stop after one pass (for scripts).
        #[arg(long)]
        once: bool,
        #[command(flatten)]
        eth: EthArgs,
    },
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    match args.command {
        GuardianCommand::Set { guardians: list, threshold, scope, eth } => {
            let session = context.session(&eth, Signing::Required, false).await?;
            let scope = match scope.as_deref() {
                None => EmergencyScope::default(),
                Some("all") => EmergencyScope::All,
                Some(names) => {
                    EmergencyScope::Categories(names.split(',').map(|n| n.trim().to_owned()).collect())
                }
            };
            context.print(&guardians::set_guardians(&session, &list, threshold, scope).await?)
        }
        GuardianCommand::Show { patient, eth } => {
            let session = context.session(&eth, Signing::Optional, false).await?;
            let patient = match patient {
                Some(patient) => patient,
                None => session.chain().address()?,
            };
            let (head, _) = session.chain().head().await?;
            let kit = guardians::current_kit(&session, patient, head).await?;
            context.print(&GuardianSet {
                patient,
                guardians: kit.as_ref().map(|k| k.guardians.clone()).unwrap_or_default(),
                threshold: kit.as_ref().map_or(0, |k| k.threshold),
                kit_id: kit.as_ref().map(|k| k.kit_id),
                epoch: kit.as_ref().map(|k| k.epoch),
            })
        }
        GuardianCommand::Release { patient, doctor, eth } => {
            let session = context.session(&eth, Signing::Required, false).await?;
            context.print(&guardians::release(&session, patient, doctor).await?)
        }
        GuardianCommand::Watch { from_block, interval, once, eth } => {
            let session = context.session(&eth, Signing::Required, false).await?;
            let mut from = from_block.unwrap_or(session.deployment().deployed_at_block);
            // Releases that failed (the node, a timeout), answered again at every poll until
            // they are released or refused.
            let mut failed: Vec<(Address, Address)> = Vec::new();
            loop {
                for (patient, doctor) in std::mem::take(&mut failed) {
                    match guardians::answer(&session, patient, doctor).await {
                        Some(WatchOutcome::Failed { .. }) => failed.push((patient, doctor)),
                        Some(outcome) => context.print(&outcome)?,
                        None => {}
                    }
                }
                // A node that fails one poll is asked again at the next (a watcher runs for
                // days); the range is only moved past once it was answered.
                let pass = async {
                    let (head, _) = session.chain().head().await?;
                    let outcomes = if head >= from {
                        guardians::watch_once(&session, from, head).await?
                    } else {
                        Vec::new()
                    };
                    Ok::<_, ehr_sdk::Error>((head, outcomes))
                };
                match pass.await {
                    Ok((head, outcomes)) => {
                        for outcome in &outcomes {
                            context.print(outcome)?;
                            if let WatchOutcome::Failed { patient, doctor, .. } = outcome {
                                failed.push((*patient, *doctor));
                            }
                        }
                        from = from.max(head + 1);
                    }
                    Err(e) if !once => tracing::warn!("guardian watch: {e}; trying again"),
                    Err(e) => return Err(e.into()),
                }
                if once {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_secs(interval.max(1))).await;
            }
        }
    }
}

/// `ehr guardian show`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GuardianSet {
    patient: Address,
    guardians: Vec<Address>,
    threshold: u8,
    kit_id: Option<u64>,
    epoch: Option<u64>,
}

impl Render for GuardianSet {
    fn render(&self) -> String {
        if self.guardians.is_empty() {
            return format!("patient {} has no guardians", self.patient);
        }
        let list: Vec<String> = self.guardians.iter().map(Address::to_string).collect();
        Fields::new()
            .add("patient", self.patient)
            .add("threshold", format!("{} of {}", self.threshold, self.guardians.len()))
            .add("guardians", list.join(", "))
            .add("emergency kit", self.kit_id.map_or("none".to_owned(), |id| id.to_string()))
            .add("covers epochs up to", self.epoch.map_or("-".to_owned(), |e| e.to_string()))
            .finish()
    }
}

impl Render for KitPublished {
    fn render(&self) -> String {
        let list: Vec<String> = self.guardians.iter().map(Address::to_string).collect();
        Fields::new()
            .add("guardians of", self.patient)
            .add("threshold", format!("{} of {}", self.threshold, self.guardians.len()))
            .add("guardians", list.join(", "))
            .add("emergency scope", &self.scope)
            .add("emergency kit", format!("{} ({} bytes, epochs 0 to {})", self.kit_id, self.kit_bytes, self.epoch))
            .tx(&self.tx)
            .finish()
    }
}

impl Render for Released {
    fn render(&self) -> String {
        Fields::new()
            .add("released share of", self.patient)
            .add("to doctor", self.doctor)
            .add("guardian", format!("{} (number {})", self.guardian, self.index))
            .add("releases", format!("{} of the {} needed", self.released, self.threshold))
            .tx(&self.tx)
            .finish()
    }
}

impl Render for WatchOutcome {
    fn render(&self) -> String {
        match self {
            WatchOutcome::Released(released) => released.render(),
            WatchOutcome::Refused { patient, doctor, reason } => {
                format!("refused to release patient {patient}'s share to {doctor}: {reason}")
            }
            WatchOutcome::Failed { patient, doctor, error } => {
                format!("could not release patient {patient}'s share to {doctor}: {error}")
            }
        }
    }
}
