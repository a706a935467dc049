//! Output: every command returns a typed value that serializes to JSON (`--json`) and renders
//! as text, so both forms always carry the same data.

use ehr_sdk::TxInfo;
use serde::Serialize;
use std::fmt::Write;

/// The human form of a command's result.
pub(crate) trait Render {
    /// Lines for a person to read (no trailing newline needed).
    fn render(&self) -> String;
}

/// The JSON or text form of `value`, as printed.
pub(crate) fn format<T: Serialize + Render>(value: &T, json: bool) -> eyre::Result<String> {
    if json {
        Ok(serde_json::to_string_pretty(value)?)
    } else {
        Ok(value.render().trim_end().to_owned())
    }
}

/// `label: value` lines with the values aligned.
#[derive(Default)]
pub(crate) struct Fields {
    rows: Vec<(String, String)>,
}

impl Fields {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn add(mut self, label: &str, value: impl std::fmt::Display) -> Self {
        self.rows.push((label.to_owned(), value.to_string()));
        self
    }

    pub(crate) fn tx(self, tx: &TxInfo) -> Self {
        self.add("tx", format_args!("{} (block {})", tx.tx_hash, tx.block))
    }

    pub(crate) fn finish(self) -> String {
        let width = self.rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (label, value) in self.rows {
            let _ = writeln!(out, "{:<width$}  {value}", format!("{label}:"), width = width + 1);
        }
        out
    }
}

/// A unix time for people.
pub(crate) fn when(secs: u64) -> String {
    ehr_sdk::time::format_timestamp(secs)
}

/// Whether a read went into the patient's audit trail, in words.
pub(crate) fn read_log(report: &ehr_sdk::read_log::ReadLogReport) -> String {
    use ehr_sdk::read_log::ReadLogReport;
    match report {
        ReadLogReport::OwnRecords => "not needed (your own records)".to_owned(),
        ReadLogReport::Skipped => "skipped, as the patient's grant allows".to_owned(),
        ReadLogReport::ClaimReview => "the claim's review events".to_owned(),
        ReadLogReport::Logged { txs } => {
            let hashes: Vec<String> = txs.iter().map(|t| t.tx_hash.to_string()).collect();
            format!("logged for the patient in {}", hashes.join(", "))
        }
    }
}

/// A FHIR resource (a Bundle), printed as its JSON whether or not `--json` was given.
#[derive(serde::Serialize)]
#[serde(transparent)]
pub(crate) struct FhirJson(pub(crate) serde_json::Value);

impl Render for FhirJson {
    fn render(&self) -> String {
        serde_json::to_string_pretty(&self.0).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Sample {
        name: &'static str,
        count: u32,
    }

    impl Render for Sample {
        fn render(&self) -> String {
            Fields::new().add("name", self.name).add("count", self.count).finish()
        }
    }

    #[test]
    fn json_and_text_come_from_the_same_value() {
        let sample = Sample { name: "lab", count: 3 };
        assert_eq!(format(&sample, false).unwrap(), "name:   lab\ncount:  3");
        let json: serde_json::Value =
            serde_json::from_str(&format(&sample, true).unwrap()).unwrap();
        assert_eq!(json, serde_json::json!({"name": "lab", "count": 3}));
    }
}
