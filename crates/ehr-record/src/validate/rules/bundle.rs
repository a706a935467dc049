//! `Bundle` (R4) invariants: bdl-1..5, 7..12, and fullUrl rules.

use std::collections::HashSet;

use crate::error::RecordError;
use crate::json::Node;
use crate::validate::Ctx;
use crate::validate::path::Path;
use crate::validate::schema::{Obj, Prim, has, member, rule};

/// bdl-5 and the entry's fullUrl.
pub(super) fn entry(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Result<(), RecordError> {
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
}

/// bdl-1..4, 7, 9..12.
pub(super) fn bundle(obj: &Obj, path: &Path<'_>, ctx: &mut Ctx) -> Result<(), RecordError> {
    check_bundle(obj, path, ctx);
    Ok(())
}

/// The paging links of a search result (RFC 8288 relations R4's search page uses).
const PAGING: [&str; 6] = ["self", "first", "previous", "prev", "next", "last"];

/// A searchset entry: a match has an id (search results are server resources), an
/// outcome is an OperationOutcome (R4 search, "Bundle.entry.search.mode").
fn search_entry(entry: &Node, at: &Path<'_>) -> Result<(), RecordError> {
    let mode = entry.get("search").and_then(|s| s.get("mode")).and_then(Node::as_str);
    let resource = entry.get("resource");
    let resource_type = resource.and_then(|r| r.get("resourceType")).and_then(Node::as_str);
    let resource_at = at.field("resource");
    match mode {
        Some("match") if resource.is_some() => rule(
            resource.and_then(|r| r.get("id")).is_some(),
            &resource_at,
            "bdl-search-id",
            "a search match is a server's resource and has an id",
        ),
        Some("outcome") if resource.is_some() => rule(
            resource_type == Some("OperationOutcome"),
            &resource_at,
            "bdl-search-outcome",
            "an entry of search mode `outcome` holds an OperationOutcome",
        ),
        _ => Ok(()),
    }
}

fn check_bundle(obj: &Obj, path: &Path<'_>, ctx: &mut Ctx) {
    let kind = member(obj, "type").and_then(Node::as_str).unwrap_or_default();
    ctx.report(rule(
        !has(obj, "total") || matches!(kind, "searchset" | "history"),
        path,
        "bdl-1",
        "total is only allowed in a searchset or history bundle",
    ));
    let links = member(obj, "link").and_then(Node::as_array).unwrap_or_default();
    for (i, link) in links.iter().enumerate() {
        let relation = link.get("relation").and_then(Node::as_str);
        let paging = relation.is_some_and(|r| PAGING.contains(&r));
        let repeated =
            links[..i].iter().any(|l| l.get("relation").and_then(Node::as_str) == relation);
        ctx.report(rule(
            !(paging && repeated),
            &path.field("link").index(i),
            "bdl-link-unique",
            "the link relations self, first, previous, next and last may each occur once",
        ));
    }
    let entries = member(obj, "entry").and_then(Node::as_array).unwrap_or_default();
    let entry_path = path.field("entry");
    let mut seen_full_urls: HashSet<(&str, Option<&str>)> = HashSet::new();
    for (i, entry) in entries.iter().enumerate() {
        let at = entry_path.index(i);
        let has_key = |key| entry.get(key).is_some();
        ctx.report(rule(
            !has_key("search") || kind == "searchset",
            &at,
            "bdl-2",
            "entry.search is only allowed in a searchset bundle",
        ));
        let needs_request = matches!(kind, "batch" | "transaction" | "history");
        ctx.report(rule(
            has_key("request") == needs_request,
            &at,
            "bdl-3",
            "entry.request is required in batch, transaction and history bundles, and not \
             allowed in others",
        ));
        let needs_response = matches!(kind, "batch-response" | "transaction-response" | "history");
        ctx.report(rule(
            has_key("response") == needs_response,
            &at,
            "bdl-4",
            "entry.response is required in batch-response, transaction-response and history \
             bundles, and not allowed in others",
        ));
        if kind == "searchset" {
            ctx.report(search_entry(entry, &at));
        }
        if let Some(full_url) = entry.get("fullUrl").and_then(Node::as_str) {
            let version = entry
                .get("resource")
                .and_then(|r| r.get("meta"))
                .and_then(|m| m.get("versionId"))
                .and_then(Node::as_str);
            let unique = seen_full_urls.insert((full_url, version));
            ctx.report(rule(
                kind == "history" || unique,
                &at.field("fullUrl"),
                "bdl-7",
                "fullUrl must be unique in a bundle, unless the entries have different \
                 meta.versionId",
            ));
        }
    }
    if kind == "document" {
        let identifier = member(obj, "identifier");
        let has_sub = |key| identifier.and_then(|i| i.get(key)).is_some();
        ctx.report(rule(
            has_sub("system") && has_sub("value"),
            path,
            "bdl-9",
            "a document bundle has an identifier with a system and a value",
        ));
        ctx.report(rule(
            has(obj, "timestamp"),
            path,
            "bdl-10",
            "a document bundle has a timestamp",
        ));
    }
    let first_type = entries
        .first()
        .and_then(|e| e.get("resource"))
        .and_then(|r| r.get("resourceType"))
        .and_then(Node::as_str);
    ctx.report(rule(
        kind != "document" || first_type == Some("Composition"),
        path,
        "bdl-11",
        "a document bundle starts with a Composition",
    ));
    ctx.report(rule(
        kind != "message" || first_type == Some("MessageHeader"),
        path,
        "bdl-12",
        "a message bundle starts with a MessageHeader",
    ));
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
            u if u.starts_with("urn:uuid:") => {
                crate::validate::primitive::check(Prim::Uuid, &Node::String(u.to_owned()), path)
                    .is_ok()
            }
            u if u.starts_with("urn:oid:") => {
                crate::validate::primitive::check(Prim::Oid, &Node::String(u.to_owned()), path)
                    .is_ok()
            }
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
