//! `GET /info`: the capabilities this object store implements, in Swift's
//! format, so clients (`swift upload` choosing SLO, bulk delete page
//! sizes) discover them. [`ObjectStore::info`] returns them as a type;
//! `api/info.rs` writes it out.

use super::{bulk, large, listing, meta, tempurl, ObjectStore};
use crate::names;
use serde::Serialize;
use utoipa::ToSchema;

/// The upstream Swift release `/info` reports (see [`ObjectStore::info`]).
pub const SWIFT_VERSION: &str = "2.35.0";

/// `GET /info`: one section per middleware, as Swift lists them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Capabilities {
    pub swift: SwiftInfo,
    pub tempurl: TempUrlInfo,
    pub slo: SloInfo,
    pub bulk_upload: BulkUploadInfo,
    pub bulk_delete: BulkDeleteInfo,
    pub account_quotas: Empty,
    pub container_quotas: Empty,
    pub versioned_writes: VersionedWritesInfo,
}

/// The proxy's own section.
#[derive(Debug, Serialize, ToSchema)]
pub struct SwiftInfo {
    pub version: String,
    pub strict_cors_mode: bool,
    pub policies: Vec<Policy>,
    pub allow_account_management: bool,
    pub account_autocreate: bool,
    pub allow_open_expired: bool,
    pub max_file_size: u64,
    pub max_meta_name_length: usize,
    pub max_meta_value_length: usize,
    pub max_meta_count: usize,
    pub max_meta_overall_size: usize,
    pub max_header_size: usize,
    pub max_object_name_length: usize,
    pub container_listing_limit: usize,
    pub account_listing_limit: usize,
    pub max_account_name_length: usize,
    pub max_container_name_length: usize,
    pub extra_header_count: usize,
    pub valid_api_versions: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Policy {
    pub name: String,
    pub default: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TempUrlInfo {
    pub methods: Vec<String>,
    pub incoming_remove_headers: Vec<String>,
    pub incoming_allow_headers: Vec<String>,
    pub outgoing_remove_headers: Vec<String>,
    pub outgoing_allow_headers: Vec<String>,
    pub allowed_digests: Vec<String>,
    pub deprecated_digests: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SloInfo {
    pub max_manifest_segments: usize,
    pub max_manifest_size: usize,
    pub yield_frequency: usize,
    pub min_segment_size: usize,
    pub allow_async_delete: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkUploadInfo {
    pub max_containers_per_extraction: usize,
    pub max_failed_extractions: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkDeleteInfo {
    pub max_deletes_per_request: usize,
    pub max_failed_deletes: usize,
}

/// A middleware with nothing to configure: `{}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Empty {}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionedWritesInfo {
    pub allowed_flags: Vec<String>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

impl ObjectStore {
    pub fn info(&self) -> Capabilities {
        Capabilities {
            swift: SwiftInfo {
                // The Swift release whose API this store follows, not
                // oxistack's own version: clients gate features on it
                // (tempest reads MAJOR.MINOR and, from 2.34, expects
                // `X-Account-Quota-Count` to be enforced). 2.35.0
                // (2025.1 Epoxy) is the first release with all that is
                // implemented here (account object-count quotas and
                // `allow_open_expired` came in 2.34); naming a later one
                // would promise its changes, which are not checked here.
                version: SWIFT_VERSION.into(),
                strict_cors_mode: self.settings.cors.strict,
                policies: vec![Policy {
                    name: "Policy-0".into(),
                    default: true,
                }],
                allow_account_management: false,
                account_autocreate: true,
                allow_open_expired: false,
                max_file_size: self.settings.max_file_size,
                max_meta_name_length: meta::MAX_META_NAME_LENGTH,
                max_meta_value_length: meta::MAX_META_VALUE_LENGTH,
                max_meta_count: meta::MAX_META_COUNT,
                max_meta_overall_size: meta::MAX_META_OVERALL_SIZE,
                max_header_size: meta::MAX_HEADER_SIZE,
                max_object_name_length: names::MAX_OBJECT_NAME_LENGTH,
                container_listing_limit: listing::LISTING_LIMIT,
                account_listing_limit: listing::LISTING_LIMIT,
                max_account_name_length: names::MAX_ACCOUNT_NAME_LENGTH,
                max_container_name_length: names::MAX_CONTAINER_NAME_LENGTH,
                extra_header_count: 0,
                valid_api_versions: strings(&["v1", "v1.0"]),
            },
            tempurl: TempUrlInfo {
                methods: strings(&tempurl::METHODS),
                incoming_remove_headers: strings(&["x-timestamp", "x-open-expired"]),
                incoming_allow_headers: Vec::new(),
                outgoing_remove_headers: strings(&["x-object-meta-*"]),
                outgoing_allow_headers: strings(&["x-object-meta-public-*"]),
                allowed_digests: strings(&tempurl::ALLOWED_DIGESTS),
                deprecated_digests: strings(&["sha1"]),
            },
            slo: SloInfo {
                max_manifest_segments: large::MAX_MANIFEST_SEGMENTS,
                max_manifest_size: large::MAX_MANIFEST_SIZE,
                yield_frequency: 10,
                min_segment_size: 1,
                allow_async_delete: false,
            },
            bulk_upload: BulkUploadInfo {
                max_containers_per_extraction: self.settings.max_containers_per_extraction,
                max_failed_extractions: self.settings.max_failed_extractions,
            },
            bulk_delete: BulkDeleteInfo {
                max_deletes_per_request: bulk::MAX_DELETES_PER_REQUEST,
                max_failed_deletes: bulk::MAX_FAILED_DELETES,
            },
            account_quotas: Empty {},
            container_quotas: Empty {},
            versioned_writes: VersionedWritesInfo {
                allowed_flags: strings(&["x-versions-location", "x-history-location"]),
            },
        }
    }
}
