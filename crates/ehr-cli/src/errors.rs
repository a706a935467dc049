//! Failures as users see them: one `error:` line on stderr saying what is wrong, and, when
//! the fix is not obvious from it, one `hint:` line saying what to do.

use ehr_sdk::Error as Sdk;
use std::process::ExitCode;

/// Prints `error` (and a hint) to stderr; returns the failure exit code.
pub(crate) fn report(error: &eyre::Report) -> ExitCode {
    eprintln!("error: {}", one_line(error));
    if let Some(hint) = hint(error) {
        eprintln!("hint: {hint}");
    }
    ExitCode::FAILURE
}

/// The error and its causes as one line, without repeating a cause already in the message.
pub(crate) fn one_line(error: &eyre::Report) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn sdk_error(error: &eyre::Report) -> Option<&Sdk> {
    error.chain().find_map(|cause| cause.downcast_ref::<Sdk>())
}

/// What to do about `error`, when that is worth a line.
pub(crate) fn hint(error: &eyre::Report) -> Option<String> {
    if let Some(e) = error.chain().find_map(|c| c.downcast_ref::<ehr_contracts::Error>()) {
        return contract_hint(e);
    }
    sdk_hint(sdk_error(error)?)
}

fn sdk_hint(error: &Sdk) -> Option<String> {
    let hint = match error {
        Sdk::RpcUnreachable { .. } => {
            "start a local chain with `ehr dev up`, or point --rpc-url / ETH_RPC_URL at a running node"
        }
        Sdk::NoDeployment { .. } => {
            "deploy the contracts with `ehr deploy`, or pass --deployment FILE of an existing deployment"
        }
        Sdk::DeploymentForOtherChain { .. } => {
            "use --rpc-url of that chain, or --deployment NEW_FILE to deploy elsewhere"
        }
        Sdk::DeploymentExists { .. } => "pass --force to deploy again and replace it",
        Sdk::NoSigner => {
            "pass --account NAME (see `ehr account list`), --keystore PATH or --private-key HEX"
        }
        Sdk::WrongPassword { .. } => {
            "check --password-file, or re-import the key with `ehr account import`"
        }
        Sdk::NoKeystore { .. } => {
            "create one with `ehr account new NAME`, or see `ehr account list`"
        }
        Sdk::AccountExists { .. } => "choose another name, or remove the old keystore file first",
        Sdk::UnknownPatient { .. } => "the patient registers with `ehr patient register`",
        Sdk::NoPublicKey { .. } => {
            "the grantee must first run `ehr key register` so keys can be wrapped to it"
        }
        Sdk::RecordKeyNeeded { .. } => {
            "pass --cid CID of the record's envelope (as `ehr upload` printed it)"
        }
        Sdk::NotADevChain { .. } => "on a real chain, send ether from a funded account instead",
        Sdk::TooManyClaimGrants { .. } => {
            "`ehr grant INSURER --scope all --purpose insurance`, then `ehr claim submit … --no-grant`"
        }
        Sdk::InvalidFhir { .. } => {
            "`ehr validate FILE` lists every problem on its own line, with the resource types"
        }
        Sdk::NotAuthorized { .. } => {
            "the patient grants access with `ehr grant WRITER --scope category:CAT` (or all)"
        }
        Sdk::Store(ehr_store::Error::UnderReplicated { .. }) => {
            "start the nodes named, or lower ?factor= in the replicated: store setting, and run \
             the command again (`ehr store status PATIENT` shows where records are)"
        }
        Sdk::UploadRefused { source, .. } | Sdk::NotIndexed { source, .. } => {
            return sdk_hint(source);
        }
        Sdk::Contract(e) => return contract_hint(e),
        _ => return None,
    };
    Some(hint.to_owned())
}

fn contract_hint(error: &ehr_contracts::Error) -> Option<String> {
    use ehr_contracts::Error as C;
    let hint = match error {
        C::WrongChain { .. } => {
            "use the --rpc-url of the deployment's chain, or the right --deployment file"
        }
        C::NoCode { .. } => "the chain was reset or is another one: run `ehr deploy` again",
        C::DeploymentInvalid { .. } => {
            "deploy this version's contracts with `ehr deploy --force`, which replaces the file"
        }
        C::InsufficientFunds { .. } => {
            "fund the account: on a dev chain `ehr dev fund ADDRESS` (`ehr account address NAME` \
             prints it); on a real chain, send it ether from a funded account"
        }
        C::Rpc { source, .. } if answered(source.as_ref()) => return None,
        C::Rpc { .. } => "check that the RPC node is running (`ehr dev status`) and --rpc-url",
        C::Reverted { .. } | C::RevertedWhenMined { .. } => {
            return revert_hint(error.revert_reason()?.error_name());
        }
        C::MinedButReverted { out_of_gas: true, .. } => {
            "the transaction ran out of gas after its estimate; run the command again"
        }
        _ => return None,
    };
    Some(hint.to_owned())
}

/// Whether the node answered (with an error of its own): then it is running, and saying so
/// would mislead.
fn answered(error: &(dyn std::error::Error + 'static)) -> bool {
    use alloy::transports::RpcError;
    error.downcast_ref::<alloy::contract::Error>().is_some_and(|e| {
        matches!(e, alloy::contract::Error::TransportError(RpcError::ErrorResp(_)))
    })
}

fn revert_hint(name: &str) -> Option<String> {
    let hint = match name {
        "AccessControlUnauthorizedAccount" => {
            "sign as the system admin (the deployer, or --admin at deploy)"
        }
        "RoleNotOrganization" => {
            "sign as the organization's admin account; the system admin adds it with `ehr org add`"
        }
        "ConsentNotPatient" => "the patient registers with `ehr patient register`",
        "ConsentInvalidGrantee" => "the organization adds its staff with `ehr staff add`",
        "IndexNotAuthorized" => {
            "the patient grants access with `ehr grant WRITER --scope category:CAT` (or all)"
        }
        "ConsentExpired" => "choose a later expiry (--expires counts from now)",
        "ConsentNotHospitalDoctor" => "only staff of an active hospital may open emergency access",
        "ConsentWrongEpoch" | "ConsentSignatureExpired" => {
            "sign the grant again (`ehr grant … --signature-only`)"
        }
        "InvalidAccountNonce" => {
            "this signature was already used or the patient voided it (`ehr void-signatures`); ask the patient to sign again"
        }
        "ConsentRequestNotPending" | "ConsentUnknownRequest" => {
            "see `ehr requests` for the open requests"
        }
        "ClaimNotPatient" => "the patient registers with `ehr patient register`",
        "ClaimInvalidInsurer" => {
            "the system admin adds insurers with `ehr org add ADDR --kind insurer --name NAME`"
        }
        "ClaimRecordNotGranted" => {
            "submit without --no-grant, so each record is granted to the insurer first"
        }
        "ClaimNotInsurer" => {
            "sign as the claim's insurer or one of its staff (`ehr claim show ID` names the insurer)"
        }
        "ClaimInvalidTransition" | "ClaimUnknown" => {
            "see `ehr claim show ID` or `ehr claim list` for where the claims stand"
        }
        _ => return None,
    };
    Some(hint.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use eyre::WrapErr;

    #[test]
    fn causes_join_into_one_line_without_repeats() {
        let io = std::io::Error::other("disk on fire\nreally");
        let report = Err::<(), _>(io).wrap_err("cannot save").unwrap_err();
        assert_eq!(one_line(&report), "cannot save: disk on fire really");
    }

    #[test]
    fn sdk_errors_get_hints() {
        let report = eyre::Report::new(Sdk::RpcUnreachable {
            url: "http://127.0.0.1:1/".into(),
            reason: "Connection refused".into(),
        });
        assert_eq!(
            one_line(&report),
            "cannot reach the RPC node at http://127.0.0.1:1/: Connection refused"
        );
        assert!(hint(&report).unwrap().contains("ehr dev up"));
        let report = eyre::Report::new(Sdk::Contract(ehr_contracts::Error::WrongChain {
            file_chain_id: 1,
            rpc_chain_id: 31337,
        }));
        assert!(one_line(&report).contains("chain 1 but the RPC serves chain 31337"));
        assert!(hint(&report).is_some());
        let report = eyre::Report::new(Sdk::Store(ehr_store::Error::UnderReplicated {
            cid: ehr_store::compute_cid(b"x"),
            factor: 2,
            pinned: 1,
            failures: "http://127.0.0.1:5002/: unreachable".into(),
        }));
        assert!(one_line(&report).contains("only 1 of the 2 nodes required"), "{report}");
        assert!(hint(&report).unwrap().contains("?factor="));
    }
}
