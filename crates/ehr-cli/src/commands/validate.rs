//! `ehr validate`: FHIR R4 files checked the way `ehr upload` checks them, with every problem
//! listed, without a chain, keys or a store.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use crate::context::Context;
use crate::output::Render;
use ehr_record::{FhirReport, Limits, RecordError};
use eyre::eyre;
use serde::Serialize;

/// Check FHIR R4 JSON files (resources or Bundles) offline, listing every problem.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr validate lab-result.json                    # one resource
  ehr validate export/*.json                      # many files, problems grouped by file
  ehr validate patient-bundle.json --json         # the same as JSON, for tools

For each file: the resource types it holds (a Bundle's entries and contained resources
count), the category `ehr upload` would give it, and every problem (up to 100) with its
FHIR path. Exits 0 when every file is valid, 1 otherwise. Messages never repeat values
from the files.")]
pub(crate) struct Args {
    /// FHIR R4 JSON files.
    #[arg(value_name = "FILE", required = true, num_args = 1..)]
    files: Vec<PathBuf>,
}

/// What `ehr validate` found.
#[derive(Serialize, Debug)]
struct ValidateReport {
    /// Files checked.
    files: Vec<FileReport>,
    /// How many are valid.
    valid: usize,
    /// How many are not.
    invalid: usize,
}

/// One file's outcome.
#[derive(Serialize, Debug)]
struct FileReport {
    file: String,
    valid: bool,
    /// The top-level resource type.
    resource_type: Option<String>,
    /// Resources by type: the file's own, Bundle entries and contained ones.
    resources: BTreeMap<String, usize>,
    /// The category a record of it would get (without `--category`).
    category: Option<String>,
    errors: Vec<Issue>,
    /// More problems than listed were found.
    more_errors: bool,
}

/// One problem.
#[derive(Serialize, Debug)]
struct Issue {
    /// `RecordError::kind()`: `MissingField`, `NotInValueSet`, ...
    kind: &'static str,
    /// The FHIR path, e.g. `Bundle.entry[3].resource.ofType(Observation).code`.
    path: Option<String>,
    message: String,
}

impl From<&RecordError> for Issue {
    fn from(err: &RecordError) -> Self {
        Issue { kind: err.kind(), path: err.path().map(str::to_owned), message: err.to_string() }
    }
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let files: Vec<FileReport> = args.files.iter().map(check_file).collect();
    let invalid = files.iter().filter(|f| !f.valid).count();
    let report = ValidateReport { valid: files.len() - invalid, invalid, files };
    context.print(&report)?;
    if invalid > 0 {
        return Err(eyre!(
            "{invalid} of {} file{} not valid FHIR R4",
            report.files.len(),
            if report.files.len() == 1 { " is" } else { "s are" }
        ));
    }
    Ok(())
}

fn check_file(path: &PathBuf) -> FileReport {
    let file = path.display().to_string();
    let failed = |err: RecordError| FileReport {
        file: file.clone(),
        valid: false,
        resource_type: None,
        resources: BTreeMap::new(),
        category: None,
        errors: vec![Issue::from(&err)],
        more_errors: false,
    };
    // The same size limit as `ehr upload`, checked before reading.
    let limit = Limits::default().max_json_bytes;
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() > limit => {
            return failed(RecordError::TooLarge {
                size: Some(meta.len()),
                limit,
                setting: "max_json_bytes",
            });
        }
        Ok(_) => {}
        Err(e) => return failed(RecordError::Io(e)),
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return failed(RecordError::Io(e)),
    };
    let report: FhirReport = ehr_record::validate_fhir_json(&bytes);
    FileReport {
        file,
        valid: report.is_valid(),
        resource_type: report.resource_type.map(|t| t.as_str().to_owned()),
        resources: report
            .resource_counts
            .iter()
            .map(|(t, n)| (t.as_str().to_owned(), *n))
            .collect(),
        category: report.category.map(|c| c.as_str().to_owned()),
        errors: report.errors.iter().map(Issue::from).collect(),
        more_errors: report.truncated,
    }
}

impl Render for ValidateReport {
    fn render(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            let verdict = if file.valid {
                "valid".to_owned()
            } else {
                let more = if file.more_errors { "+" } else { "" };
                let n = file.errors.len();
                format!("{n}{more} problem{}", if n == 1 && !file.more_errors { "" } else { "s" })
            };
            let _ = write!(out, "{}: {verdict}", file.file);
            if let Some(t) = &file.resource_type {
                let _ = write!(out, ", {t}");
            }
            if let Some(c) = &file.category {
                let _ = write!(out, ", category {c}");
            }
            out.push('\n');
            if file.resources.values().sum::<usize>() > 1 {
                let counts: Vec<String> =
                    file.resources.iter().map(|(t, n)| format!("{t} {n}")).collect();
                let _ = writeln!(out, "  resources: {}", counts.join(", "));
            }
            for issue in &file.errors {
                let _ = writeln!(out, "  {}: {}", issue.kind, issue.message);
            }
            if file.more_errors {
                let _ = writeln!(
                    out,
                    "  … more problems; only the first {} are listed",
                    ehr_record::MAX_REPORTED_ERRORS
                );
            }
        }
        if self.files.len() > 1 {
            let _ = writeln!(out, "{} valid, {} not valid", self.valid, self.invalid);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, json: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, json).unwrap();
        path
    }

    #[test]
    fn reports_types_category_and_every_problem() {
        let dir = tempfile::tempdir().unwrap();
        let good = write(
            &dir,
            "good.json",
            r#"{"resourceType":"Bundle","type":"collection","entry":[
              {"resource":{"resourceType":"Patient"}},
              {"resource":{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"}}}]}"#,
        );
        let bad = write(
            &dir,
            "bad.json",
            r#"{"resourceType":"Observation","status":"done","colour":"red"}"#,
        );
        let report = check_file(&good);
        assert!(report.valid, "{report:?}");
        assert_eq!(report.category.as_deref(), Some("encounter"));
        assert_eq!(report.resources.get("Encounter"), Some(&1));
        assert_eq!(report.resources.get("Bundle"), Some(&1));
        let report = check_file(&bad);
        let kinds: Vec<_> = report.errors.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["NotInValueSet", "UnknownElement", "MissingField"]);
        let text = ValidateReport { files: vec![report], valid: 0, invalid: 1 }.render();
        assert!(text.starts_with(&format!("{}: 3 problems, Observation", bad.display())), "{text}");
        assert!(text.contains("Observation.colour"), "{text}");
        let missing = check_file(&dir.path().join("nope.json"));
        assert_eq!(missing.errors[0].kind, "Io");
    }
}
