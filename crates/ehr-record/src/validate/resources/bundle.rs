//! `Bundle` (R4): a `Resource` (not a DomainResource: no text, contained or extensions at
//! the top), whose entries are validated recursively.

use std::collections::HashSet;

use crate::error::RecordError;
use crate::json::Node;
use crate::validate::datatypes::*;
use crate::validate::path::Path;
use crate::validate::schema::*;

/// `Bundle.type` (required binding bundle-type).
pub(crate) static BUNDLE_TYPE: [&str; 9] = [
    "document",
    "message",
    "transaction",
    "transaction-response",
    "batch",
    "batch-response",
    "history",
    "searchset",
    "collection",
];

static LINK: Struct = Struct {
    name: "Bundle.link",
    base: Base::Backbone,
    fields: &[req("relation", STRING), req("url", URI)],
    check: None,
};

static SEARCH: Struct = Struct {
    name: "Bundle.entry.search",
    base: Base::Backbone,
    fields: &[opt("mode", code(&["match", "include", "outcome"])), opt("score", DECIMAL)],
    check: None,
};

static REQUEST: Struct = Struct {
    name: "Bundle.entry.request",
    base: Base::Backbone,
    fields: &[
        req("method", code(&["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"])),
        req("url", URI),
        opt("ifNoneMatch", STRING),
        opt("ifModifiedSince", INSTANT),
        opt("ifMatch", STRING),
        opt("ifNoneExist", STRING),
    ],
    check: None,
};

static RESPONSE: Struct = Struct {
    name: "Bundle.entry.response",
    base: Base::Backbone,
    fields: &[
        req("status", STRING),
        opt("location", URI),
        opt("etag", STRING),
        opt("lastModified", INSTANT),
        opt("outcome", Type::Resource),
    ],
    check: None,
};

static ENTRY: Struct = Struct {
    name: "Bundle.entry",
    base: Base::Backbone,
    fields: &[
        list("link", cx(&LINK)),
        opt("fullUrl", URI),
        opt("resource", Type::Resource),
        opt("search", cx(&SEARCH)),
        opt("request", cx(&REQUEST)),
        opt("response", cx(&RESPONSE)),
    ],
    check: Some(|obj, path, _| {
        rule(
            has(obj, "resource") || has(obj, "request") || has(obj, "response"),
            path,
            "bdl-5",
            "an entry has a resource, a request or a response",
        )?;
        if let Some(Node::String(url)) = member(obj, "fullUrl") {
            check_full_url(url, member(obj, "resource"), &path.field("fullUrl"))?;
        }
        Ok(())
    }),
};

/// `Bundle`: type is required; entry rules depend on it.
pub(crate) static BUNDLE: Struct = Struct {
    name: "Bundle",
    base: Base::Resource,
    fields: &[
        opt("identifier", cx(&IDENTIFIER)),
        req("type", code(&BUNDLE_TYPE)),
        opt("timestamp", INSTANT),
        opt("total", UNSIGNED_INT),
        list("link", cx(&LINK)),
        list("entry", cx(&ENTRY)),
        opt("signature", cx(&SIGNATURE)),
    ],
    check: Some(|obj, path, _| check_bundle(obj, path)),
};

fn check_bundle(obj: &Obj, path: &Path<'_>) -> Result<(), RecordError> {
    let kind = member(obj, "type").and_then(Node::as_str).unwrap_or_default();
    rule(
        !has(obj, "total") || matches!(kind, "searchset" | "history"),
        path,
        "bdl-1",
        "total is only allowed in a searchset or history bundle",
    )?;
    let entries = member(obj, "entry").and_then(Node::as_array).unwrap_or_default();
    let entry_path = path.field("entry");
    let mut seen_full_urls: HashSet<(&str, Option<&str>)> = HashSet::new();
    for (i, entry) in entries.iter().enumerate() {
        let at = entry_path.index(i);
        let has_key = |key| entry.get(key).is_some();
        rule(
            !has_key("search") || kind == "searchset",
            &at,
            "bdl-2",
            "entry.search is only allowed in a searchset bundle",
        )?;
        let needs_request = matches!(kind, "batch" | "transaction" | "history");
        rule(
            has_key("request") == needs_request,
            &at,
            "bdl-3",
            "entry.request is required in batch, transaction and history bundles, and not \
             allowed in others",
        )?;
        let needs_response = matches!(kind, "batch-response" | "transaction-response" | "history");
        rule(
            has_key("response") == needs_response,
            &at,
            "bdl-4",
            "entry.response is required in batch-response, transaction-response and history \
             bundles, and not allowed in others",
        )?;
        if let Some(full_url) = entry.get("fullUrl").and_then(Node::as_str) {
            let version = entry
                .get("resource")
                .and_then(|r| r.get("meta"))
                .and_then(|m| m.get("versionId"))
                .and_then(Node::as_str);
            let unique = seen_full_urls.insert((full_url, version));
            rule(
                kind == "history" || unique,
                &at.field("fullUrl"),
                "bdl-7",
                "fullUrl must be unique in a bundle, unless the entries have different \
                 meta.versionId",
            )?;
        }
    }
    if kind == "document" {
        let identifier = member(obj, "identifier");
        let has_sub = |key| identifier.and_then(|i| i.get(key)).is_some();
        rule(
            has_sub("system") && has_sub("value"),
            path,
            "bdl-9",
            "a document bundle has an identifier with a system and a value",
        )?;
        rule(has(obj, "timestamp"), path, "bdl-10", "a document bundle has a timestamp")?;
    }
    let first_type = entries
        .first()
        .and_then(|e| e.get("resource"))
        .and_then(|r| r.get("resourceType"))
        .and_then(Node::as_str);
    rule(
        kind != "document" || first_type == Some("Composition"),
        path,
        "bdl-11",
        "a document bundle starts with a Composition",
    )?;
    rule(
        kind != "message" || first_type == Some("MessageHeader"),
        path,
        "bdl-12",
        "a message bundle starts with a MessageHeader",
    )
}

/// `Bundle.entry.fullUrl`: an absolute URI, not version-specific (bdl-8), and not in
/// disagreement with the resource's type and id (R4 prose on `fullUrl`).
fn check_full_url(url: &str, resource: Option<&Node>, path: &Path<'_>) -> Result<(), RecordError> {
    let scheme_len = url
        .find(':')
        .filter(|&n| {
            n > 0 && url[..n].bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        })
        .filter(|_| url.as_bytes()[0].is_ascii_alphabetic());
    let absolute = scheme_len.is_some()
        && match url {
            u if u.starts_with("urn:uuid:") => crate::validate::primitive::check(
                crate::validate::schema::Prim::Uuid,
                &Node::String(u.to_owned()),
                path,
            )
            .is_ok(),
            u if u.starts_with("urn:oid:") => crate::validate::primitive::check(
                crate::validate::schema::Prim::Oid,
                &Node::String(u.to_owned()),
                path,
            )
            .is_ok(),
            _ => true,
        };
    if !absolute {
        return Err(RecordError::InvalidFormat {
            path: path.render(),
            datatype: "uri",
            expected: "an absolute URI, such as urn:uuid:<uuid> or \
                       https://server/fhir/Observation/123",
        });
    }
    rule(
        !url.contains("/_history/"),
        path,
        "bdl-8",
        "fullUrl may not be version-specific (no /_history/)",
    )?;
    // A RESTful fullUrl ends with <Type>/<id>; it must match the resource.
    if url.starts_with("http://") || url.starts_with("https://") {
        let mut tail = url.trim_end_matches('/').rsplit('/');
        if let (Some(id), Some(type_name), Some(resource)) = (tail.next(), tail.next(), resource) {
            let looks_restful = type_name.starts_with(|c: char| c.is_ascii_uppercase())
                && type_name.bytes().all(|b| b.is_ascii_alphabetic());
            let resource_type = resource.get("resourceType").and_then(Node::as_str);
            let resource_id = resource.get("id").and_then(Node::as_str);
            if looks_restful && resource_id.is_some() {
                rule(
                    resource_type == Some(type_name) && resource_id == Some(id),
                    path,
                    "fullUrl-id",
                    "a RESTful fullUrl (…/Type/id) must match the entry resource's type and id",
                )?;
            }
        }
    }
    Ok(())
}
