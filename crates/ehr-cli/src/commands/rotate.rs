//! `ehr rotate`: the patient moves to a new key epoch so that keys someone should no longer
//! hold open nothing written from now on.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Render, when};
use ehr_sdk::rotation::{self, RotateOutcome, RotationCheck, RotationReason};
use serde::Serialize;

/// Rotate your key epoch (patient): after a grant expired, or a signed grant was never submitted.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr rotate --account alice            # rotate if anything asks for it, else say why not
  ehr rotate --account alice --force    # rotate anyway
  ehr rotate --account alice --check    # only say whether a rotation is due
  ehr rotate --account alice --keys     # a new master secret (new key generation)

An expired grant ends writing at once, but its grantee still holds the current epoch's keys:
every record written later in the epoch opens with them. The same holds for a grant you signed
(`ehr grant --signature-only`, or through a relay) that never reached the chain. ehrkit rotates
by itself before you grant, sign a grant or upload; this command does it now. The new epoch's
keys are re-shared with every grantee whose grant is in force.")]
pub(crate) struct Args {
    /// Rotate even when nothing asks for it.
    #[arg(long, conflicts_with = "check")]
    force: bool,
    /// Only report whether a rotation is due (changes nothing).
    #[arg(long)]
    check: bool,
    /// Move to a new key generation (a new master secret and recovery code), e.g. after a
    /// recovery code or a master-secret signature was exposed.
    #[arg(long, conflicts_with_all = ["check", "force"])]
    keys: bool,
    #[command(flatten)]
    eth: EthArgs,
}

/// What `ehr rotate` did.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RotateReport {
    #[serde(flatten)]
    check: RotationCheck,
    rotated: Option<RotateOutcome>,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let session = context.session(&args.eth, Signing::Required, false).await?;
    session.require_patient(session.chain().address()?).await?;
    let check = rotation::check(&session).await?;
    let rotated = if args.check {
        None
    } else if args.keys {
        Some(rotation::rotate_keys(&session).await?)
    } else if args.force {
        let mut reasons = check.reasons.clone();
        reasons.push(RotationReason::Requested);
        Some(rotation::rotate(&session, reasons).await?)
    } else {
        rotation::maintain(&session).await?
    };
    context.print(&RotateReport { check, rotated })
}

impl Render for RotateReport {
    fn render(&self) -> String {
        let mut out = String::new();
        for reason in &self.check.reasons {
            out.push_str(&format!("{}\n", reason_text(reason)));
        }
        for pending in &self.check.pending {
            out.push_str(&format!(
                "a grant to {} you signed can still be submitted until {} (`ehr void-signatures` ends it)\n",
                pending.grantee,
                when(pending.deadline.saturating_to())
            ));
        }
        match &self.rotated {
            Some(outcome) => {
                out.push_str(&format!(
                    "rotated to key epoch {} in tx {}\n",
                    outcome.new_epoch, outcome.tx.tx_hash
                ));
                out.push_str(&outcome.reshare.render());
            }
            None if self.check.reasons.is_empty() => out.push_str(&format!(
                "key epoch {}: no expired grantee or withheld signature holds its keys; nothing to rotate\n",
                self.check.epoch
            )),
            None => out.push_str("a rotation is due: run `ehr rotate` without --check\n"),
        }
        out
    }
}

fn reason_text(reason: &RotationReason) -> String {
    match reason {
        RotationReason::ExpiredGrant { grantee, scope, expiry } => format!(
            "{grantee}'s {scope} grant expired {} but it holds this epoch's keys",
            when(*expiry)
        ),
        RotationReason::UnsubmittedSignature { grantee, deadline } => format!(
            "a grant to {grantee} you signed was never submitted (deadline {}), yet its keys are out",
            when(deadline.saturating_to())
        ),
        RotationReason::Requested => "rotation requested".to_owned(),
        RotationReason::NewKeyGeneration { generation } => format!(
            "key generation {generation} started (`ehr key recovery-code` shows its code for the page)"
        ),
    }
}
