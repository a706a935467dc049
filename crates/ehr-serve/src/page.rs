//! The embedded page and its modules, with this launch's API token in `index.html`.

use crate::api_error::ApiError;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use hyper::header::{CONTENT_TYPE, HeaderValue};

mod assets {
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

/// What `index.html` holds where the token goes (`<meta name="ehr-api-token" content="…">`).
const TOKEN_PLACEHOLDER: &str = "{{EHR_API_TOKEN}}";

/// The page's files, `index.html` carrying `token`.
pub(crate) struct Page {
    index: Bytes,
}

impl Page {
    pub(crate) fn new(token: &str) -> Self {
        let index = asset("index.html").unwrap_or_default();
        let index = String::from_utf8_lossy(index).replace(TOKEN_PLACEHOLDER, token);
        Self { index: Bytes::from(index) }
    }

    /// `GET path`.
    pub(crate) fn file(&self, path: &str) -> Result<Response<Full<Bytes>>, ApiError> {
        let name = match path.trim_start_matches('/') {
            "" => "index.html",
            name => name,
        };
        let bytes = match name {
            "index.html" => self.index.clone(),
            _ => Bytes::from_static(asset(name).ok_or_else(|| ApiError::not_found(path))?),
        };
        let content_type = match name.rsplit('.').next() {
            Some("html") => "text/html; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("png") => "image/png",
            Some("svg") => "image/svg+xml",
            _ => "text/plain; charset=utf-8",
        };
        let mut response = Response::new(Full::new(bytes));
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
        headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        // The page carries this launch's token: no caching it.
        headers.insert("cache-control", HeaderValue::from_static("no-store"));
        // Everything comes from this server: no CDN, no inline script, no framing.
        headers.insert(
            "content-security-policy",
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
            ),
        );
        Ok(response)
    }
}

fn asset(name: &str) -> Option<&'static [u8]> {
    assets::FILES.iter().find(|(n, _)| *n == name).map(|(_, bytes)| *bytes)
}

/// Why the embedded page cannot work, if it cannot: this binary was built without npm modules
/// the page imports (its crypto). `scripts/setup` installs them; then rebuild.
pub fn page_problem() -> Option<String> {
    (!assets::MISSING.is_empty()).then(|| {
        format!(
            "this build of ehr has no {} for the patient page (node_modules was empty when it \
             was compiled)",
            assets::MISSING.join(" or ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_crypto_modules_are_embedded() {
        let names: Vec<&str> = assets::FILES.iter().map(|(n, _)| *n).collect();
        for name in ["index.html", "app.js", "crypto.js"] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        // The crypto the page imports is there (scripts/setup installs it before any build).
        assert_eq!(page_problem(), None);
        for module in ["vendor/@noble/curves/secp256k1.js", "vendor/@noble/hashes/sha3.js"] {
            assert!(names.contains(&module), "{module} missing from {names:?}");
        }
        let page = Page::new("feed");
        assert!(page.file("/").is_ok());
        assert!(page.file("/../Cargo.toml").is_err());
    }

    #[test]
    fn the_token_is_in_the_page() {
        let raw = String::from_utf8_lossy(asset("index.html").unwrap()).into_owned();
        assert!(
            raw.contains(&format!(r#"<meta name="ehr-api-token" content="{TOKEN_PLACEHOLDER}">"#))
        );
        let page = Page::new("0123abcd");
        let text = String::from_utf8_lossy(&page.index).into_owned();
        assert!(text.contains(r#"content="0123abcd""#) && !text.contains(TOKEN_PLACEHOLDER));
    }
}
