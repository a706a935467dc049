//! Content types of wrapped files: detection by magic bytes and file extension.

/// The content type used when nothing more specific is known.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// How many leading bytes [`detect_content_type`] looks at (the DICOM marker ends at 132).
pub const SNIFF_LEN: usize = 132;

/// The content type of a file, from its first bytes and its name.
///
/// Magic bytes win over the extension (a PDF named `scan.png` is a PDF): PDF (`%PDF-`),
/// DICOM (`DICM` at offset 128), PNG, JPEG, GIF and TIFF signatures. Otherwise the
/// extension decides (`.pdf`, `.dcm`/`.dicom`, `.png`, `.jpg`/`.jpeg`, `.gif`,
/// `.tif`/`.tiff`, `.txt`, `.csv`, `.json`, `.xml`, case-insensitive), and then
/// [`OCTET_STREAM`]. `head` should hold the first [`SNIFF_LEN`] bytes (fewer if the file is
/// shorter).
///
/// ```
/// use ehr_record::detect_content_type;
///
/// assert_eq!(detect_content_type("report", b"%PDF-1.7\n..."), "application/pdf");
/// assert_eq!(detect_content_type("photo.JPG", b""), "image/jpeg");
/// assert_eq!(detect_content_type("data.bin", b"\x00\x01"), "application/octet-stream");
/// ```
pub fn detect_content_type(file_name: &str, head: &[u8]) -> &'static str {
    sniff(head).or_else(|| by_extension(file_name)).unwrap_or(OCTET_STREAM)
}

fn sniff(head: &[u8]) -> Option<&'static str> {
    const SIGNATURES: [(&[u8], &str); 7] = [
        (b"%PDF-", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xFF\xD8\xFF", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"II*\0", "image/tiff"),
        (b"MM\0*", "image/tiff"),
    ];
    if head.get(128..132) == Some(&b"DICM"[..]) {
        return Some("application/dicom");
    }
    SIGNATURES.iter().find(|(magic, _)| head.starts_with(magic)).map(|(_, ct)| *ct)
}

fn by_extension(file_name: &str) -> Option<&'static str> {
    let (_, ext) = file_name.rsplit_once('.')?;
    Some(match ext.to_ascii_lowercase().as_str() {
        "pdf" => "application/pdf",
        "dcm" | "dicom" => "application/dicom",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "tif" | "tiff" => "image/tiff",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "xml" => "application/xml",
        _ => return None,
    })
}

/// Whether `s` is a MIME type as FHIR's `mimetypes` binding takes it (BCP 13):
/// `type/subtype`, optionally followed by `; name=value` parameters.
pub(crate) fn is_mime_type(s: &str) -> bool {
    fn token(t: &str) -> bool {
        !t.is_empty()
            && t.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
    }
    if !crate::validate::is_code(s) {
        return false;
    }
    let mut parts = s.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    let params_ok = parts.all(|p| {
        p.trim().split_once('=').is_some_and(|(name, value)| token(name) && !value.is_empty())
    });
    essence.split_once('/').is_some_and(|(ty, sub)| token(ty) && token(sub)) && params_ok
}

/// Whether a content type is imaging (`image/*` or `application/dicom`).
pub(crate) fn is_imaging(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence.starts_with("image/") || essence == "application/dicom"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dicom_head() -> Vec<u8> {
        let mut head = vec![0u8; 128];
        head.extend_from_slice(b"DICM");
        head
    }

    #[test]
    fn magic_bytes_win_over_extension() {
        assert_eq!(detect_content_type("scan.png", b"%PDF-1.4"), "application/pdf");
        assert_eq!(detect_content_type("x.pdf", &dicom_head()), "application/dicom");
        assert_eq!(detect_content_type("x", b"\x89PNG\r\n\x1a\nrest"), "image/png");
        assert_eq!(detect_content_type("x", b"\xFF\xD8\xFF\xE0"), "image/jpeg");
        assert_eq!(detect_content_type("x", b"GIF89a"), "image/gif");
        assert_eq!(detect_content_type("x", b"II*\0"), "image/tiff");
    }

    #[test]
    fn extension_then_default() {
        assert_eq!(detect_content_type("IMG0001.DCM", b"no magic"), "application/dicom");
        assert_eq!(detect_content_type("notes.txt", b"hello"), "text/plain");
        assert_eq!(detect_content_type("archive.tar.gz", b"\x1f\x8b"), OCTET_STREAM);
        assert_eq!(detect_content_type("noext", b""), OCTET_STREAM);
        assert_eq!(detect_content_type("x", b"\0\0\0\0"), OCTET_STREAM);
        // A short file is not mistaken for DICOM.
        assert_eq!(detect_content_type("x", b"DICM"), OCTET_STREAM);
    }

    #[test]
    fn mime_types() {
        assert!(is_mime_type("application/pdf"));
        assert!(is_mime_type("text/plain; charset=UTF-8"));
        assert!(is_mime_type("application/fhir+json"));
        assert!(!is_mime_type("pdf"));
        assert!(!is_mime_type("application/"));
        assert!(!is_mime_type("a/b/c"));
        assert!(!is_mime_type("text/plain; charset"));
        assert!(!is_mime_type(" text/plain"));
        assert!(!is_mime_type("te xt/plain"));
    }

    #[test]
    fn imaging_types() {
        assert!(is_imaging("image/png"));
        assert!(is_imaging("Application/DICOM"));
        assert!(!is_imaging("application/pdf"));
    }
}
