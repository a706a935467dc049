//! Embeds the patient page (`web/`) and the pinned npm crypto modules it imports
//! (`node_modules/@noble/{curves,hashes}`, installed by `scripts/setup`) into the binary, so
//! `ehr serve` needs no files at run time and loads nothing from a CDN.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..").canonicalize().unwrap();
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let web = root.join("web");
    println!("cargo:rerun-if-changed={}", web.display());
    collect(&web, "", &mut files, &|name| name != "package.json");
    let mut missing = Vec::new();
    for package in ["curves", "hashes"] {
        let dir = root.join("node_modules/@noble").join(package);
        println!("cargo:rerun-if-changed={}", dir.join("package.json").display());
        if !dir.join("package.json").is_file() {
            // The page would load without its crypto; `ehr serve` refuses to start instead.
            println!(
                "cargo:warning=ehr-serve: {} is missing (run scripts/setup, then rebuild): \
                 `ehr serve` will refuse to start",
                dir.display()
            );
            missing.push(format!("@noble/{package}"));
            // npm gives installed files a fixed old mtime, so watching them would not notice
            // their arrival; the directory they are created in gets a fresh one.
            let mut watch = dir.as_path();
            while !watch.exists() {
                watch = watch.parent().expect("the repository root exists");
            }
            println!("cargo:rerun-if-changed={}", watch.display());
        }
        let prefix = format!("vendor/@noble/{package}/");
        // The ES modules only: no sources, type declarations or maps.
        collect(&dir, &prefix, &mut files, &|name| name.ends_with(".js"));
        collect(&dir.join("abstract"), &format!("{prefix}abstract/"), &mut files, &|name| {
            name.ends_with(".js")
        });
        let license = dir.join("LICENSE");
        if license.is_file() {
            files.push((format!("{prefix}LICENSE"), license));
        }
    }
    files.sort();
    // Browsers have no node_modules: bare `@noble/…` specifiers become /vendor/ paths (an
    // import map would need an inline script, which the page's CSP forbids).
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("assets");
    for (url, path) in &mut files {
        if url.ends_with(".js") {
            let text = std::fs::read_to_string(&*path).unwrap();
            let text = text
                .replace("from '@noble/", "from '/vendor/@noble/")
                .replace("from \"@noble/", "from \"/vendor/@noble/");
            let dest = out_dir.join(&*url);
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::write(&dest, text).unwrap();
            *path = dest;
        }
    }
    let mut out = String::from(
        "/// Every embedded file: (URL path without the leading slash, bytes).\npub(crate) static FILES: &[(&str, &[u8])] = &[\n",
    );
    for (url, path) in &files {
        writeln!(out, "    ({url:?}, include_bytes!({:?})),", path.display().to_string()).unwrap();
    }
    out.push_str("];\n");
    writeln!(
        out,
        "/// npm modules the page imports that were not found at build time.\npub(crate) static MISSING: &[&str] = &{missing:?};"
    )
    .unwrap();
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("assets.rs");
    std::fs::write(dest, out).unwrap();
}

fn collect(
    dir: &Path,
    prefix: &str,
    files: &mut Vec<(String, PathBuf)>,
    keep: &dyn Fn(&str) -> bool,
) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_file() && keep(&name) {
            println!("cargo:rerun-if-changed={}", path.display());
            files.push((format!("{prefix}{name}"), path));
        } else if path.is_dir() && prefix.is_empty() && !name.starts_with('.') {
            collect(&path, &format!("{name}/"), files, keep);
        }
    }
}
