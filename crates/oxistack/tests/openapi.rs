//! The checked-in OpenAPI documents (`docs/openapi/<service>.json`) are the
//! ones the code builds, and `oxistack openapi SERVICE` prints them.
//! `OXISTACK_BLESS=1 cargo test -p oxistack --test openapi` rewrites them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may panic

use std::path::PathBuf;

fn docs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi")
}

#[test]
fn checked_in_documents_match_the_code() {
    let bless = std::env::var_os("OXISTACK_BLESS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for service in oxistack::openapi::services() {
        let doc = oxistack::openapi::document(service).unwrap().unwrap();
        let path = docs_dir().join(format!("{service}.json"));
        if bless {
            std::fs::create_dir_all(docs_dir()).unwrap();
            std::fs::write(&path, &doc).unwrap();
            continue;
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        if on_disk != doc {
            stale.push(format!(
                "{} differs from the code's document: regenerate it with \
                 `oxistack openapi {service} > docs/openapi/{service}.json` or \
                 `OXISTACK_BLESS=1 cargo test -p oxistack --test openapi`",
                path.display()
            ));
        }
    }
    assert!(stale.is_empty(), "{}", stale.join("\n"));
}

/// A document on disk for a service the code has none for is stale.
#[test]
fn every_checked_in_document_has_a_service() {
    let known: Vec<&str> = oxistack::openapi::services().collect();
    for entry in std::fs::read_dir(docs_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(service) = name.strip_suffix(".json") else {
            continue;
        };
        assert!(
            known.contains(&service),
            "docs/openapi/{name} has no service in oxistack::openapi::SERVICES"
        );
    }
}

#[test]
fn command_prints_the_document() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oxistack"))
        .args(["openapi", "image"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        printed,
        oxistack::openapi::document("image").unwrap().unwrap()
    );
    let doc: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v2/images"]["get"].is_object());

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oxistack"))
        .args(["openapi", "no-such-service"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values"));
}
