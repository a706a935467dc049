//! The audit trail as FHIR R4: a `Bundle` (type `collection`) of one `AuditEvent` per
//! [`AuditEntry`] (`ehr audit --fhir`), and the patient's stored grants as `Consent`
//! resources (`ehr grants --fhir`). Both are checked by `ehr_record`'s R4 validator in the
//! tests; docs/fhir.md gives the element mapping.
//!
//! Accounts and contracts are not FHIR resources here: every party is a `Reference` by
//! `identifier`, a CAIP-10 account id (`eip155:<chain id>:<address>`), so nothing points at a
//! server that does not exist. What the chain keeps opaque stays so: a category is its
//! on-chain id unless the viewer's keys name it, a read log's records and keywords appear only
//! when the viewer (the patient) opened it.

use alloy::primitives::Address;
use ehr_contracts::{Purpose, Scope};
use serde_json::{Value, json};

use crate::audit::{AuditEntry, AuditEvent, ReadAction, Timeline};
use crate::consent::StoredGrant;
use crate::time::rfc3339;

/// Identifier system of an account or contract: CAIP-10 ids.
pub const ACCOUNT_SYSTEM: &str = "https://chainagnostic.org/CAIPs/caip-10";
/// Code system of ehrkit's own event and consent codes (the `AuditEvent` kind names).
pub const EHRKIT_SYSTEM: &str = "urn:ehrkit:audit-event";
/// Identifier system of a record: `<record index CAIP-10 id>/<patient>/<record number>`.
pub const RECORD_SYSTEM: &str = "urn:ehrkit:record";
const DICOM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
const SOURCE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/security-source-type";
const PURPOSE_OF_USE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const INTERACTION: &str = "http://hl7.org/fhir/restful-interaction";

/// Where the trail was read: the chain and the contracts, for ids.
#[derive(Debug, Clone, Copy)]
pub struct FhirContext {
    /// The chain id.
    pub chain_id: u64,
    /// The record index (the source of record and read events; names records).
    pub record_index: Address,
}

impl FhirContext {
    fn account(&self, account: &Address) -> Value {
        json!({"identifier": {"system": ACCOUNT_SYSTEM,
                              "value": format!("eip155:{}:{account}", self.chain_id)}})
    }

    fn record(&self, patient: &Address, record: u64) -> Value {
        json!({"identifier": {"system": RECORD_SYSTEM,
                              "value": format!("eip155:{}:{}/{patient}/{record}",
                                               self.chain_id, self.record_index)}})
    }
}

impl FhirContext {
    /// The context of a session's deployment.
    pub fn of(session: &crate::Session) -> Self {
        let d = session.deployment();
        Self { chain_id: d.chain_id, record_index: d.record_index }
    }
}

/// [`crate::audit::audit`] as a `Bundle` of `AuditEvent`s.
pub async fn audit_as_fhir(
    session: &crate::Session,
    patient: Address,
    since: Option<u64>,
) -> crate::Result<Value> {
    let timeline = crate::audit::audit(session, patient, since).await?;
    Ok(audit_bundle(&FhirContext::of(session), &timeline))
}

/// The patient's stored grants ([`crate::consent::stored_grants`]) as a `Bundle` of
/// `Consent`s, categories by name where the session's keys (the patient's) name them.
pub async fn grants_as_fhir(session: &crate::Session, patient: Address) -> crate::Result<Value> {
    let grants = crate::consent::stored_grants(session, patient).await?;
    let keys = match session.chain().signer() {
        Ok(_) => {
            let (head, _) = session.chain().head().await?;
            crate::record_keys::key_ring(session, patient, head).await.ok().map(|r| r.keys)
        }
        Err(_) => None,
    };
    let name = |scope: &Scope| match (scope, &keys) {
        (Scope::Category(id), Some(keys)) => {
            keys.category_name(&ehr_index::Category::from_bytes32(*id)).map(str::to_owned)
        }
        _ => None,
    };
    Ok(consent_bundle(&FhirContext::of(session), &patient, &grants, name))
}

/// `Purpose` as HL7 v3 PurposeOfUse.
fn purpose_of_use(purpose: Purpose) -> Value {
    let (code, display) = match purpose {
        Purpose::Treatment => ("TREAT", "treatment"),
        Purpose::Insurance => ("HPAYMT", "healthcare payment"),
        Purpose::Research => ("HRESCH", "healthcare research"),
        Purpose::Emergency => ("ETREAT", "Emergency Treatment"),
    };
    json!({"system": PURPOSE_OF_USE, "code": code, "display": display})
}

/// The DICOM event type, the CRUDE action, ehrkit's own kind, and the acting account.
fn classify(
    event: &AuditEvent,
    patient: &Address,
) -> (&'static str, &'static str, &'static str, Address) {
    use AuditEvent as E;
    // DCM 110110 Patient Record, 110112 Query, 110113 Security Alert, 110137 User Security
    // Attributes Changed (consent and keys).
    match event {
        E::PatientRegistered => ("110137", "C", "patientRegistered", *patient),
        E::Granted { .. } => ("110137", "C", "granted", *patient),
        E::Revoked { .. } => ("110137", "D", "revoked", *patient),
        E::EpochKeysShared { .. } => ("110137", "U", "epochKeysShared", *patient),
        E::NonceInvalidated { .. } => ("110137", "U", "nonceInvalidated", *patient),
        E::UnloggedReadsSet { .. } => ("110137", "U", "unloggedReadsSet", *patient),
        E::AccessRequested { requester, .. } => ("110137", "C", "accessRequested", *requester),
        E::RequestApproved { .. } => ("110137", "U", "requestApproved", *patient),
        E::RequestDenied { .. } => ("110137", "U", "requestDenied", *patient),
        E::RecordAdded { writer, .. } => ("110110", "C", "recordAdded", *writer),
        E::RecordSuperseded { writer, .. } => ("110110", "U", "recordSuperseded", *writer),
        E::ReadsLogged { reader, action: Some(ReadAction::Search), .. } => {
            ("110112", "E", "readsLogged", *reader)
        }
        E::ReadsLogged { reader, .. } => ("110110", "R", "readsLogged", *reader),
        E::EmergencyOpened { doctor, .. } => ("110113", "E", "emergencyOpened", *doctor),
        E::EmergencyClosed { closed_by, .. } => ("110113", "U", "emergencyClosed", *closed_by),
        E::ClaimSubmitted { .. } => ("110110", "C", "claimSubmitted", *patient),
        E::ClaimReviewStarted { reviewer, .. } => ("110110", "R", "claimReviewStarted", *reviewer),
        E::ClaimDecided { reviewer, .. } => ("110110", "U", "claimDecided", *reviewer),
        E::GuardiansSet { .. } => ("110137", "C", "guardiansSet", *patient),
        E::GuardiansCleared => ("110137", "D", "guardiansCleared", *patient),
        E::EmergencyKitPublished { .. } => ("110137", "U", "emergencyKitPublished", *patient),
        E::ShareReleased { guardian, .. } => ("110113", "E", "shareReleased", *guardian),
        E::EmergencyPolicySet { .. } => ("110137", "U", "emergencyPolicySet", *patient),
        E::HospitalRuleSet { .. } => ("110137", "U", "hospitalRuleSet", *patient),
        E::EmergencyConfirmed { .. } => ("110113", "U", "emergencyConfirmed", *patient),
    }
}

fn dicom_display(code: &str) -> &'static str {
    match code {
        "110112" => "Query",
        "110113" => "Security Alert",
        "110137" => "User Security Attributes Changed",
        _ => "Patient Record",
    }
}

/// One audit entry as an R4 `AuditEvent`.
pub fn audit_event(context: &FhirContext, patient: &Address, entry: &AuditEntry) -> Value {
    use AuditEvent as E;
    let event = &entry.event;
    let (type_code, action, kind, actor) = classify(event, patient);
    let mut subtype = vec![json!({"system": EHRKIT_SYSTEM, "code": kind})];
    if let E::ReadsLogged { action: Some(read), .. } = event {
        let interaction = match read {
            ReadAction::Fetch => "read",
            ReadAction::Search => "search-type",
        };
        subtype.push(json!({"system": INTERACTION, "code": interaction}));
    }
    let mut resource = json!({
        "resourceType": "AuditEvent",
        "id": format!("b{}-l{}", entry.block, entry.log_index),
        "type": {"system": DICOM, "code": type_code, "display": dicom_display(type_code)},
        "subtype": subtype,
        "action": action,
        "recorded": rfc3339(entry.timestamp),
        "outcome": "0",
        "outcomeDesc": entry.summary,
        "agent": [{"who": context.account(&actor), "requestor": true}],
        "source": {
            "site": format!("eip155:{}", context.chain_id),
            "observer": context.account(&context.record_index),
            "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}]
        },
    });
    let purpose = match event {
        E::Granted { purpose, .. } | E::AccessRequested { purpose, .. } => Some(*purpose),
        E::EmergencyOpened { .. } | E::ShareReleased { .. } => Some(Purpose::Emergency),
        E::ClaimSubmitted { .. } | E::ClaimReviewStarted { .. } | E::ClaimDecided { .. } => {
            Some(Purpose::Insurance)
        }
        _ => None,
    };
    if let Some(purpose) = purpose {
        resource["purposeOfEvent"] = json!([{"coding": [purpose_of_use(purpose)]}]);
    }
    // The other party, when there is one: the grantee, the requester's patient, ...
    let other = match event {
        E::Granted { grantee, .. }
        | E::Revoked { grantee, .. }
        | E::EpochKeysShared { grantee, .. } => Some(*grantee),
        E::UnloggedReadsSet { grantee, .. } => Some(*grantee),
        E::RequestApproved { requester, .. } | E::RequestDenied { requester, .. } => {
            Some(*requester)
        }
        E::ClaimSubmitted { insurer, .. } => Some(*insurer),
        E::EmergencyClosed { doctor, closed_by, .. } if doctor != closed_by => Some(*doctor),
        E::ShareReleased { doctor, .. } | E::EmergencyConfirmed { doctor, .. } => Some(*doctor),
        E::HospitalRuleSet { hospital, .. } => Some(*hospital),
        _ => None,
    };
    if let Some(other) = other {
        resource["agent"]
            .as_array_mut()
            .expect("an array")
            .push(json!({"who": context.account(&other), "requestor": false}));
    }
    let mut patient_entity = json!({
        "what": context.account(patient),
        "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
        "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
        "detail": [{"type": "transaction", "valueString": entry.tx_hash.to_string()}]
    });
    let mut details = Vec::new();
    match event {
        E::Granted { scope, category, expiry, .. } => {
            details.push(("scope", shown_scope(scope, category)));
            details.push(("expiry", rfc3339(*expiry)));
        }
        E::AccessRequested { scope, category, reason_code, reason, .. } => {
            details.push(("scope", shown_scope(scope, category)));
            details.push(("reasonCode", reason_code.to_string()));
            if let Some(reason) = reason {
                details.push(("reason", reason.clone()));
            }
        }
        E::EmergencyOpened { reason_code, reason, until, .. } => {
            details.push(("reasonCode", reason_code.to_string()));
            details.push(("until", rfc3339(*until)));
            if let Some(reason) = reason {
                details.push(("reason", reason.clone()));
            }
        }
        E::ClaimDecided { reason_code, reason, .. } => {
            details.push(("decisionCode", reason_code.to_string()));
            if let Some(reason) = reason {
                details.push(("reason", reason.clone()));
            }
        }
        E::ReadsLogged { keywords: Some(words), .. } => {
            details.extend(words.iter().map(|w| ("keyword", w.clone())));
        }
        E::ReadsLogged { unopenable: true, .. } => {
            details.push(("unopenable", "not sealed to the patient by this reader".to_owned()));
        }
        _ => {}
    }
    for (name, value) in details {
        patient_entity["detail"]
            .as_array_mut()
            .expect("an array")
            .push(json!({"type": name, "valueString": value}));
    }
    let mut entities = vec![patient_entity];
    let records: Vec<u64> = match event {
        E::RecordAdded { record_id, .. } => vec![*record_id],
        E::RecordSuperseded { record_id, superseded_by, .. } => vec![*record_id, *superseded_by],
        E::ReadsLogged { record_ids: Some(ids), .. } => ids.clone(),
        E::ClaimSubmitted { record_ids, .. } => record_ids.clone(),
        _ => Vec::new(),
    };
    let category = match event {
        E::RecordAdded { category, .. } | E::RecordSuperseded { category, .. } => {
            Some(category.clone())
        }
        _ => None,
    };
    for record in records {
        let mut entity = json!({
            "what": context.record(patient, record),
            "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
            "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
        });
        if let Some(category) = &category {
            entity["detail"] = json!([{"type": "category", "valueString": category}]);
        }
        entities.push(entity);
    }
    resource["entity"] = Value::Array(entities);
    resource
}

fn shown_scope(scope: &Scope, category: &Option<String>) -> String {
    match category {
        Some(name) => format!("category:{name}"),
        None => scope.to_string(),
    }
}

/// The whole trail as a `Bundle` of type `collection`, one `AuditEvent` per entry.
pub fn audit_bundle(context: &FhirContext, timeline: &Timeline) -> Value {
    let entries: Vec<Value> = timeline
        .entries
        .iter()
        .map(|entry| json!({"resource": audit_event(context, &timeline.patient, entry)}))
        .collect();
    let mut bundle = json!({"resourceType": "Bundle", "type": "collection"});
    if let Some(last) = timeline.entries.last() {
        bundle["timestamp"] = json!(rfc3339(last.timestamp));
    }
    if !entries.is_empty() {
        bundle["entry"] = Value::Array(entries);
    }
    bundle
}

/// One stored grant as an R4 `Consent`: `active` until it expires, then `inactive`.
pub fn consent(
    context: &FhirContext,
    patient: &Address,
    stored: &StoredGrant,
    category: Option<&str>,
) -> Value {
    let grant = &stored.grant;
    let scope_code = match grant.purpose {
        Purpose::Research => ("research", "Research"),
        Purpose::Treatment | Purpose::Emergency => ("treatment", "Treatment"),
        Purpose::Insurance => ("patient-privacy", "Privacy Consent"),
    };
    let mut actions = vec![json!({"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/consentaction",
        "code": "access", "display": "Access"}]})];
    if stored.unlogged_reads {
        actions.push(json!({"coding": [{"system": EHRKIT_SYSTEM, "code": "read-without-log",
                                        "display": "read without an on-chain read log"}]}));
    }
    let mut provision = json!({
        "type": "permit",
        "period": {"end": rfc3339(grant.expiry)},
        "actor": [{
            "role": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "code": "IRCP", "display": "information recipient"}]},
            "reference": context.account(&grant.grantee)
        }],
        "action": actions,
        "purpose": [purpose_of_use(grant.purpose)],
    });
    match grant.scope {
        Scope::All => {}
        Scope::Category(id) => {
            let code = category.map_or_else(|| Scope::Category(id).to_string(), str::to_owned);
            provision["class"] = json!([{"system": "urn:ehrkit:category", "code": code}]);
        }
        Scope::Record(record) => {
            provision["data"] =
                json!([{"meaning": "instance", "reference": context.record(patient, record)}]);
        }
    }
    json!({
        "resourceType": "Consent",
        "status": if stored.expired { "inactive" } else { "active" },
        "scope": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/consentscope",
            "code": scope_code.0, "display": scope_code.1}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0",
                                  "display": "Patient Consent"}]}],
        "patient": context.account(patient),
        "performer": [context.account(patient)],
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                   "code": "OPTIN", "display": "opt-in"}]},
        "provision": provision,
    })
}

/// The patient's stored grants as a `Bundle` (`collection`) of `Consent` resources.
/// `category_name` names a category id when the viewer's keys can.
pub fn consent_bundle(
    context: &FhirContext,
    patient: &Address,
    grants: &[StoredGrant],
    category_name: impl Fn(&Scope) -> Option<String>,
) -> Value {
    let entries: Vec<Value> = grants
        .iter()
        .map(|g| {
            let name = category_name(&g.grant.scope);
            json!({"resource": consent(context, patient, g, name.as_deref())})
        })
        .collect();
    let mut bundle = json!({"resourceType": "Bundle", "type": "collection"});
    if !entries.is_empty() {
        bundle["entry"] = Value::Array(entries);
    }
    bundle
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::ActiveGrant;
    use alloy::primitives::{B256, Bytes};
    use ehr_contracts::ReasonCode;

    fn a(byte: u8) -> Address {
        Address::repeat_byte(byte)
    }

    /// One of every kind of audit event.
    fn every_event() -> Vec<AuditEvent> {
        use AuditEvent as E;
        let lab = Scope::Category(B256::right_padding_from(&[0x1a; 16]));
        vec![
            E::PatientRegistered,
            E::Granted {
                grantee: a(2),
                scope: lab,
                category: Some("lab".into()),
                purpose: Purpose::Treatment,
                expiry: 1_800_000_000,
                epoch: 0,
                submitter: a(1),
            },
            E::Revoked { grantee: a(2), new_epoch: 1, submitter: a(1) },
            E::EpochKeysShared { grantee: a(3), epoch: 1 },
            E::NonceInvalidated { nonce: 4 },
            E::UnloggedReadsSet { grantee: a(2), scope_id: B256::repeat_byte(9), allowed: true },
            E::AccessRequested {
                request_id: 1,
                requester: a(4),
                scope: Scope::All,
                category: None,
                purpose: Purpose::Research,
                expires_at: 1_800_000_000,
                reason_code: ReasonCode::Research,
                reason: Some("cohort study".into()),
                encrypted_reason: Bytes::new(),
            },
            E::RequestApproved { request_id: 1, requester: a(4) },
            E::RequestDenied { request_id: 2, requester: a(4) },
            E::RecordAdded {
                record_id: 7,
                writer: a(2),
                category: "lab".into(),
                category_id: B256::ZERO,
                epoch: 0,
            },
            E::RecordSuperseded {
                record_id: 7,
                superseded_by: 8,
                writer: a(2),
                category: "lab".into(),
                category_id: B256::ZERO,
            },
            E::ReadsLogged {
                reader: a(2),
                action: Some(ReadAction::Fetch),
                record_ids: Some(vec![7]),
                keywords: Some(vec![]),
                unopenable: false,
                sealed_reads: Bytes::new(),
            },
            E::ReadsLogged {
                reader: a(2),
                action: Some(ReadAction::Search),
                record_ids: Some(vec![7, 8]),
                keywords: Some(vec!["hba1c".into()]),
                unopenable: false,
                sealed_reads: Bytes::new(),
            },
            E::ReadsLogged {
                reader: a(5),
                action: None,
                record_ids: None,
                keywords: None,
                unopenable: true,
                sealed_reads: Bytes::new(),
            },
            E::EmergencyOpened {
                doctor: a(6),
                hospital: a(7),
                until: 1_800_000_000,
                reason_code: ReasonCode::EmergencyTreatment,
                reason: None,
                encrypted_reason: Bytes::new(),
            },
            E::EmergencyClosed { doctor: a(6), closed_by: a(1) },
            E::ClaimSubmitted {
                claim_id: 1,
                insurer: a(8),
                record_ids: vec![7],
                amount: None,
                currency: None,
                terms_commitment: B256::ZERO,
                sealed_terms: Bytes::new(),
            },
            E::ClaimReviewStarted { claim_id: 1, insurer: a(8), reviewer: a(9) },
            E::ClaimDecided {
                claim_id: 1,
                insurer: a(8),
                reviewer: a(9),
                approved: true,
                reason_code: ehr_contracts::DecisionCode::Covered,
                reason: Some("covered in full".into()),
                encrypted_reason: Bytes::new(),
            },
            E::GuardiansSet { threshold: 2, guardians: vec![a(10), a(11), a(12)] },
            E::GuardiansCleared,
            E::EmergencyKitPublished { kit_id: 1, epoch: 2 },
            E::ShareReleased { doctor: a(4), guardian: a(10), index: 1, kit_id: 1 },
            E::EmergencyPolicySet { allowed_only: true, renewal_cap: 86_400 },
            E::HospitalRuleSet { hospital: a(13), rule: 2 },
            E::EmergencyConfirmed { doctor: a(4), used: 3_600 },
        ]
    }

    fn context() -> FhirContext {
        FhirContext { chain_id: 31337, record_index: a(0xee) }
    }

    fn assert_valid(value: &Value) {
        let bytes = serde_json::to_vec(value).unwrap();
        let report = ehr_record::validate_fhir_json(&bytes);
        let problems: Vec<String> = report.errors.iter().map(|e| e.to_string()).collect();
        assert!(
            report.is_valid(),
            "{problems:#?}\n{}",
            serde_json::to_string_pretty(value).unwrap()
        );
    }

    #[test]
    fn every_audit_event_kind_is_a_valid_r4_audit_event_in_a_valid_bundle() {
        let entries: Vec<AuditEntry> = every_event()
            .into_iter()
            .enumerate()
            .map(|(i, event)| AuditEntry {
                block: 10 + i as u64,
                log_index: 0,
                timestamp: 1_740_837_909 + i as u64,
                time: rfc3339(1_740_837_909 + i as u64),
                tx_hash: B256::repeat_byte(i as u8),
                summary: event.describe(),
                event,
            })
            .collect();
        let timeline = Timeline { patient: a(1), to_block: 40, since: None, entries };
        let bundle = audit_bundle(&context(), &timeline);
        assert_valid(&bundle);
        let events = bundle["entry"].as_array().unwrap();
        assert_eq!(events.len(), timeline.entries.len());
        for event in events {
            assert_valid(&event["resource"]);
        }
        // A fetch is a read of the record, a search a query naming its keywords.
        let fetch = &events[11]["resource"];
        assert_eq!(fetch["action"], "R");
        assert_eq!(
            fetch["agent"][0]["who"]["identifier"]["value"],
            format!("eip155:31337:{}", a(2))
        );
        assert_eq!(
            fetch["entity"][1]["what"]["identifier"]["value"],
            format!("eip155:31337:{}/{}/7", a(0xee), a(1))
        );
        let search = &events[12]["resource"];
        assert_eq!(search["type"]["code"], "110112");
        assert_eq!(search["entity"][0]["detail"][1]["valueString"], "hba1c");
        // The validator is not vacuous: without its source, or with an action outside CRUDE,
        // an AuditEvent fails.
        for broken in [json!({"source": null}), json!({"action": "X"})] {
            let mut event = fetch.clone();
            let (key, value) = broken.as_object().unwrap().iter().next().unwrap();
            if value.is_null() {
                event.as_object_mut().unwrap().remove(key);
            } else {
                event[key] = value.clone();
            }
            let report = ehr_record::validate_fhir_json(&serde_json::to_vec(&event).unwrap());
            assert!(!report.is_valid(), "{key}");
        }
        // An empty trail is a valid empty bundle.
        assert_valid(&audit_bundle(&context(), &Timeline { entries: vec![], ..timeline }));
    }

    #[test]
    fn every_grant_shape_is_a_valid_r4_consent() {
        let lab = Scope::Category(B256::right_padding_from(&[0x1a; 16]));
        let mut grants = Vec::new();
        for (scope, purpose) in [
            (Scope::All, Purpose::Treatment),
            (lab, Purpose::Research),
            (Scope::Record(7), Purpose::Insurance),
            (Scope::All, Purpose::Emergency),
        ] {
            for (expired, unlogged_reads) in [(false, false), (true, true)] {
                grants.push(StoredGrant {
                    grant: ActiveGrant {
                        grantee: a(2),
                        scope,
                        purpose,
                        expiry: 1_800_000_000,
                        epoch: 0,
                    },
                    expired,
                    unlogged_reads,
                });
            }
        }
        let bundle = consent_bundle(&context(), &a(1), &grants, |scope| {
            matches!(scope, Scope::Category(_)).then(|| "lab".to_owned())
        });
        assert_valid(&bundle);
        let consents = bundle["entry"].as_array().unwrap();
        assert_eq!(consents.len(), 8);
        assert_eq!(consents[0]["resource"]["status"], "active");
        assert_eq!(consents[1]["resource"]["status"], "inactive");
        assert_eq!(consents[2]["resource"]["scope"]["coding"][0]["code"], "research");
        assert_eq!(consents[2]["resource"]["provision"]["class"][0]["code"], "lab");
        assert_eq!(
            consents[3]["resource"]["provision"]["action"][1]["coding"][0]["code"],
            "read-without-log"
        );
        assert_eq!(consents[4]["resource"]["provision"]["data"][0]["meaning"], "instance");
        assert_valid(&consent_bundle(&context(), &a(1), &[], |_| None));
    }
}
