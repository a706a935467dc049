//! `ehr grant`: the patient grants access, directly or as a signed grant for someone else to
//! submit.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render, when};
use alloy::primitives::Address;
use ehr_contracts::Purpose;
use ehr_sdk::consent::{self, GrantRecord, GrantSpec};
use ehr_sdk::relay::{self, RelayReceipt, SignedGrant};
use ehr_sdk::{NamedScope, Session, parse};
use ehr_store::Cid;
use serde::Serialize;
use std::time::Duration;
use url::Url;

/// Grant access to your records (patient); wraps the scope's keys to the grantee.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr grant 0xDOCTOR --scope category:lab --purpose treatment --expires 30d --account alice
  ehr grant 0xDOCTOR --scope all --expires 12h --signature-only > grant.json   # the doctor submits it
  ehr grant 0xINSURER --scope record:12 --cid bafy… --purpose insurance --expires 90d
  ehr grant 0xDOCTOR --scope all --relay https://relay.example/grants")]
pub(crate) struct Args {
    /// Who receives access (staff or an organization, with a registered public key).
    #[arg(value_parser = parse::address)]
    grantee: Address,
    /// What it covers: all, category:NAME or record:ID (a category's name stays off chain:
    /// the chain sees this patient's opaque id for it).
    #[arg(long, value_parser = parse::scope)]
    scope: NamedScope,
    /// Why: treatment, insurance, research or emergency.
    #[arg(long, default_value = "treatment", value_parser = parse::purpose)]
    purpose: Purpose,
    /// How long it lasts: e.g. 30d, 12h, 90m (at most 3650d).
    #[arg(long, default_value = "30d", value_parser = parse::duration, value_name = "DURATION")]
    expires: Duration,
    /// For a record scope: the CID of the record's envelope (its data key is handed over).
    #[arg(long, value_name = "CID")]
    cid: Option<Cid>,
    /// Sign the grant (EIP-712) and POST it to this relay, which submits it and pays.
    #[arg(long, value_name = "URL", conflicts_with = "signature_only")]
    relay: Option<Url>,
    /// Sign the grant and print it as JSON instead of sending it (submit with `ehr relay submit`).
    #[arg(long)]
    signature_only: bool,
    /// How long a signed grant stays submittable.
    #[arg(long, default_value = "1h", value_parser = parse::duration, value_name = "DURATION")]
    valid_for: Duration,
    #[command(flatten)]
    eth: EthArgs,
}

/// A signed grant handed to a relay.
#[derive(Serialize)]
struct Relayed {
    relay: RelayReceipt,
    signed: SignedGrant,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let session = context.session(&args.eth, Signing::Required, args.cid.is_some()).await?;
    let spec = spec(&session, &args).await?;
    if args.signature_only {
        return context.print(&relay::sign_grant(&session, spec, args.valid_for).await?);
    }
    if let Some(url) = &args.relay {
        let signed = relay::sign_grant(&session, spec, args.valid_for).await?;
        let receipt = relay::post_to_relay(url, &signed).await?;
        return context.print(&Relayed { relay: receipt, signed });
    }
    context.print(&consent::grant(&session, spec).await?)
}

async fn spec(session: &Session, args: &Args) -> eyre::Result<GrantSpec> {
    Ok(GrantSpec {
        grantee: args.grantee,
        scope: args.scope.clone(),
        purpose: args.purpose,
        duration: args.expires,
        record_key: record_key(session, record_of(&args.scope), args.cid).await?,
    })
}

fn record_of(scope: &NamedScope) -> Option<u64> {
    match scope {
        NamedScope::Record(record) => Some(*record),
        _ => None,
    }
}

/// The data key a grant of `record` (a record scope; `None` for others) hands over, read from
/// the record's envelope.
pub(super) async fn record_key(
    session: &Session,
    record: Option<u64>,
    cid: Option<Cid>,
) -> eyre::Result<Option<ehr_crypto::DataKey>> {
    match (record, cid) {
        (Some(record), Some(cid)) => {
            Ok(Some(ehr_sdk::keys::record_data_key(session, record, cid).await?))
        }
        (Some(record), None) => Err(ehr_sdk::Error::RecordKeyNeeded { record }.into()),
        (_, Some(_)) => Err(eyre::eyre!("--cid is only for record scopes (record:ID)")),
        (_, None) => Ok(None),
    }
}

impl Render for GrantRecord {
    fn render(&self) -> String {
        Fields::new()
            .add("granted", self.grantee)
            .add("patient", self.patient)
            .add("scope", &self.scope)
            .add("purpose", self.purpose)
            .add("expires", when(self.expiry))
            .add("key epoch", self.epoch)
            .add("submitted by", self.submitter)
            .tx(&self.tx)
            .finish()
    }
}

impl Render for SignedGrant {
    fn render(&self) -> String {
        // The signed grant is data to hand on: its text form is its JSON.
        serde_json::to_string_pretty(self).expect("a signed grant serializes")
    }
}

impl Render for Relayed {
    fn render(&self) -> String {
        Fields::new()
            .add("sent signed grant to", &self.relay.url)
            .add("relay answered", format!("HTTP {}: {}", self.relay.status, self.relay.response))
            .add("grantee", self.signed.grant.grantee)
            .add("expires", when(self.signed.grant.expiry))
            .finish()
    }
}
