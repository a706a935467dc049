#![doc = include_str!("../README.md")]

mod category;
mod content_type;
mod default_category;
mod document;
mod error;
mod frame;
mod json;
mod record;
mod report;
mod resource_type;
mod sample_pdf;
mod sniff;
mod summary;
mod type_category;
mod validate;

pub use category::{Category, MAX_CATEGORY_LEN};
pub use content_type::{OCTET_STREAM, SNIFF_LEN, detect_content_type};
pub use error::{RecordError, Result};
pub use frame::{AttachmentReader, FRAME_MAGIC, FramedReader, read_frame};
pub use record::{AttachmentInfo, Limits, MAX_ATTACHMENT_SIZE, Record, RecordInput};
pub use report::{FhirReport, MAX_REPORTED_ERRORS, validate_fhir_json};
pub use resource_type::{ResourceType, UnsupportedResourceType};
pub use sample_pdf::sample_pdf;
pub use sniff::{JsonContent, sniff_json};
pub use summary::Summary;
pub use validate::{ElementType, element_type};

/// Code system of ehrkit record categories, as used in a resource's `category` element
/// (wrapped files carry one; any resource may, to state its category itself).
pub const CATEGORY_SYSTEM: &str =
    "https://github.com/ehrkit/ehrkit/fhir/CodeSystem/record-category";

/// URL of the extension on `Attachment` that carries the SHA-256 of the attachment bytes as
/// `valueBase64Binary` (R4's own `Attachment.hash` is defined as SHA-1).
pub const SHA256_EXTENSION_URL: &str =
    "https://github.com/ehrkit/ehrkit/fhir/StructureDefinition/attachment-sha256";
