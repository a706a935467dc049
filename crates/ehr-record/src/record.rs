//! Record inputs, limits, and the validated [`Record`].

use std::fmt;
use std::io::Read;

use crate::error::RecordError;
use crate::json::{self, Node};
use crate::summary::Summary;
use crate::{Category, ResourceType, default_category, document, validate};

/// Largest attachment FHIR R4 can describe: `Attachment.size` is an `unsignedInt`
/// (at most 2^31 - 1 bytes).
pub const MAX_ATTACHMENT_SIZE: u64 = i32::MAX as u64;

/// Size limits, checked before an input is read in full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest FHIR JSON input (resource or Bundle) in bytes. Default 16 MiB; ceiling
    /// 2^32 - 1 (a frame stores the JSON length as a u32).
    pub max_json_bytes: u64,
    /// Largest wrapped file in bytes. Default and ceiling [`MAX_ATTACHMENT_SIZE`] (a larger
    /// value acts as the ceiling).
    pub max_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_json_bytes: 16 * 1024 * 1024, max_file_bytes: MAX_ATTACHMENT_SIZE }
    }
}

/// A wrapped file's attachment, whose bytes travel separately from the record's JSON (see
/// the crate's "Large files" section).
#[derive(Clone, PartialEq, Eq)]
pub struct AttachmentInfo {
    /// MIME type, given or detected.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
    /// The file name (last path component only), if it had one.
    pub title: Option<String>,
}

impl AttachmentInfo {
    /// The SHA-256 as lowercase hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

impl fmt::Debug for AttachmentInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The title (a file name) can be sensitive; leave it out of debug output.
        f.debug_struct("AttachmentInfo")
            .field("content_type", &self.content_type)
            .field("size", &self.size)
            .field("sha256", &self.sha256_hex())
            .finish_non_exhaustive()
    }
}

/// A validated record: FHIR R4 JSON of an accepted resource type, with its category.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    pub(crate) resource_type: ResourceType,
    pub(crate) category: Category,
    pub(crate) json: Vec<u8>,
    pub(crate) summary: Summary,
    pub(crate) attachment: Option<AttachmentInfo>,
}

impl Record {
    /// The top-level resource type.
    pub fn resource_type(&self) -> ResourceType {
        self.resource_type
    }

    /// The category (explicit, or derived as the "Categories" section describes).
    pub fn category(&self) -> Category {
        self.category
    }

    /// The FHIR JSON: the input bytes unchanged for FHIR input; the generated
    /// DocumentReference for a wrapped file.
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// The FHIR JSON, by value.
    pub fn into_json(self) -> Vec<u8> {
        self.json
    }

    /// A short description for listings (health data: keep it encrypted).
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// For a wrapped file: the attachment whose bytes travel next to the JSON.
    pub fn attachment(&self) -> Option<&AttachmentInfo> {
        self.attachment.as_ref()
    }
}

impl fmt::Debug for Record {
    /// Shows the shape only: the JSON and summary are health data and stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("resource_type", &self.resource_type)
            .field("category", &self.category)
            .field("json_len", &self.json.len())
            .field("attachment", &self.attachment)
            .finish_non_exhaustive()
    }
}

enum Source<'a> {
    FhirJson(&'a [u8]),
    FhirReader {
        reader: Box<dyn Read + 'a>,
        declared_size: Option<u64>,
    },
    File {
        file_name: String,
        content_type: Option<String>,
        reader: Box<dyn Read + 'a>,
        declared_size: Option<u64>,
    },
}

/// What a record is made from, before validation: FHIR JSON, or a file to wrap in a
/// DocumentReference. Configure with [`with_category`](Self::with_category) and
/// [`with_limits`](Self::with_limits), then [`validate`](Self::validate).
pub struct RecordInput<'a> {
    source: Source<'a>,
    category: Option<Category>,
    limits: Limits,
}

impl<'a> RecordInput<'a> {
    /// FHIR R4 JSON in memory (a resource or a Bundle).
    pub fn from_fhir_json(bytes: &'a [u8]) -> Self {
        Self::new(Source::FhirJson(bytes))
    }

    /// FHIR R4 JSON from a reader. `declared_size` (e.g. from file metadata) lets an
    /// oversized input be refused before any byte is read; reading also stops one byte past
    /// [`Limits::max_json_bytes`].
    pub fn from_fhir_reader(reader: impl Read + 'a, declared_size: Option<u64>) -> Self {
        Self::new(Source::FhirReader { reader: Box::new(reader), declared_size })
    }

    /// A non-FHIR file (PDF, DICOM, image, ...) to describe with a DocumentReference. The
    /// reader is consumed once, hashing as it goes; the bytes are not kept. `content_type`
    /// overrides detection ([`detect_content_type`](crate::detect_content_type));
    /// `file_name` gives the extension and the attachment title (directories are dropped).
    /// `declared_size` lets a file over [`Limits::max_file_bytes`] be refused before any byte
    /// is read; reading also stops one byte past the limit. The attachment size recorded is
    /// the number of bytes actually read.
    pub fn wrap_file(
        file_name: &str,
        content_type: Option<&str>,
        reader: impl Read + 'a,
        declared_size: Option<u64>,
    ) -> Self {
        Self::new(Source::File {
            file_name: file_name.to_owned(),
            content_type: content_type.map(str::to_owned),
            reader: Box::new(reader),
            declared_size,
        })
    }

    /// [`wrap_file`](Self::wrap_file) for bytes in memory.
    pub fn wrap_bytes(file_name: &str, content_type: Option<&str>, bytes: &'a [u8]) -> Self {
        Self::wrap_file(file_name, content_type, bytes, Some(bytes.len() as u64))
    }

    fn new(source: Source<'a>) -> Self {
        RecordInput { source, category: None, limits: Limits::default() }
    }

    /// Sets the category instead of deriving it.
    pub fn with_category(mut self, category: Category) -> Self {
        self.category = Some(category);
        self
    }

    /// Sets the size limits (default: [`Limits::default`]).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Reads (within the limits) and validates the input.
    pub fn validate(self) -> Result<Record, RecordError> {
        let limits = self.limits;
        let json_limit = limits.max_json_bytes.min(u64::from(u32::MAX));
        match self.source {
            Source::FhirJson(bytes) => {
                check_declared(Some(bytes.len() as u64), json_limit, "max_json_bytes")?;
                record_from_json(bytes.to_vec(), self.category)
            }
            Source::FhirReader { reader, declared_size } => {
                let bytes = read_limited(reader, declared_size, json_limit)?;
                record_from_json(bytes, self.category)
            }
            Source::File { file_name, content_type, reader, declared_size } => document::wrap(
                &file_name,
                content_type.as_deref(),
                reader,
                declared_size,
                limits.max_file_bytes.min(MAX_ATTACHMENT_SIZE),
                self.category,
            ),
        }
    }
}

/// Refuses a declared size over `limit`.
pub(crate) fn check_declared(
    declared: Option<u64>,
    limit: u64,
    setting: &'static str,
) -> Result<(), RecordError> {
    match declared {
        Some(size) if size > limit => {
            Err(RecordError::TooLarge { size: Some(size), limit, setting })
        }
        _ => Ok(()),
    }
}

/// Reads at most `limit` bytes of JSON; more is an error.
fn read_limited(
    reader: impl Read,
    declared: Option<u64>,
    limit: u64,
) -> Result<Vec<u8>, RecordError> {
    check_declared(declared, limit, "max_json_bytes")?;
    let capacity = declared.unwrap_or(0).min(limit).min(1 << 20);
    let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    reader.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(RecordError::TooLarge { size: None, limit, setting: "max_json_bytes" });
    }
    Ok(bytes)
}

/// Parses and validates FHIR JSON; the parsed tree is returned for callers that need more.
pub(crate) fn validate_json(
    bytes: &[u8],
    category: Option<Category>,
) -> Result<(ResourceType, Category, Summary, Node), RecordError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(RecordError::Empty);
    }
    let node = json::parse(bytes)?;
    let resource_type = validate::validate(&node)?;
    let category = match category {
        Some(c) => c,
        None => default_category::derive(resource_type, &node)?,
    };
    let summary = Summary::of(resource_type, &node);
    Ok((resource_type, category, summary, node))
}

fn record_from_json(json: Vec<u8>, category: Option<Category>) -> Result<Record, RecordError> {
    let (resource_type, category, summary, _) = validate_json(&json, category)?;
    Ok(Record { resource_type, category, json, summary, attachment: None })
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    const OBS: &str = r#"{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"text":"Hemoglobin"}}"#;

    #[test]
    fn fhir_json_keeps_the_original_bytes() {
        let input = format!("  {OBS}\n");
        let record = RecordInput::from_fhir_json(input.as_bytes()).validate().unwrap();
        assert_eq!(record.json(), input.as_bytes());
        assert_eq!(record.resource_type(), ResourceType::OBSERVATION);
        assert_eq!(record.category(), Category::LAB);
        assert_eq!(record.summary().title, "Hemoglobin");
        assert!(record.attachment().is_none());
    }

    #[test]
    fn explicit_category_wins() {
        let record = RecordInput::from_fhir_json(OBS.as_bytes())
            .with_category(Category::new("research").unwrap())
            .validate()
            .unwrap();
        assert_eq!(record.category().as_str(), "research");
    }

    #[test]
    fn empty_and_whitespace_inputs() {
        for input in [&b""[..], b"  \n\t "] {
            assert_eq!(RecordInput::from_fhir_json(input).validate().unwrap_err().kind(), "Empty");
        }
    }

    /// A reader that fails the test if read: the declared size alone must refuse it.
    struct Untouchable;
    impl Read for Untouchable {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            panic!("the input was read although its declared size is over the limit");
        }
    }

    #[test]
    fn declared_size_over_limit_is_refused_before_reading() {
        let limits = Limits { max_json_bytes: 100, ..Limits::default() };
        let err = RecordInput::from_fhir_reader(Untouchable, Some(101))
            .with_limits(limits)
            .validate()
            .unwrap_err();
        assert!(
            matches!(err, RecordError::TooLarge { size: Some(101), limit: 100, .. }),
            "{err:?}"
        );
    }

    /// An endless reader: reading must stop just past the limit.
    struct Endless(u64);
    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0 += buf.len() as u64;
            buf.fill(b' ');
            Ok(buf.len())
        }
    }

    #[test]
    fn undeclared_oversize_stops_at_the_limit() {
        let limits = Limits { max_json_bytes: 1000, ..Limits::default() };
        let err = RecordInput::from_fhir_reader(Endless(0), None)
            .with_limits(limits)
            .validate()
            .unwrap_err();
        assert!(matches!(err, RecordError::TooLarge { size: None, limit: 1000, .. }), "{err:?}");
        let err = RecordInput::from_fhir_json(OBS.as_bytes())
            .with_limits(Limits { max_json_bytes: 10, ..Limits::default() })
            .validate()
            .unwrap_err();
        assert_eq!(err.kind(), "TooLarge");
    }

    #[test]
    fn exactly_at_the_limit_is_fine() {
        let limits = Limits { max_json_bytes: OBS.len() as u64, ..Limits::default() };
        RecordInput::from_fhir_reader(OBS.as_bytes(), None).with_limits(limits).validate().unwrap();
    }

    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::PermissionDenied, "denied"))
        }
    }

    #[test]
    fn read_errors_are_io_errors() {
        let err = RecordInput::from_fhir_reader(Failing, None).validate().unwrap_err();
        assert_eq!(err.kind(), "Io");
        let err = RecordInput::wrap_file("x.pdf", None, Failing, None).validate().unwrap_err();
        assert_eq!(err.kind(), "Io");
    }

    #[test]
    fn debug_output_hides_content() {
        let record = RecordInput::from_fhir_json(OBS.as_bytes()).validate().unwrap();
        let debug = format!("{record:?}");
        assert!(!debug.contains("Hemoglobin"), "{debug}");
        assert!(debug.contains("json_len"), "{debug}");
    }
}
