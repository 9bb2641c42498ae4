//! `GET /info`: the capabilities this object store implements, in Swift's
//! format, so clients (`swift upload` choosing SLO, bulk delete page
//! sizes) discover them.

use super::{bulk, large, listing, meta, tempurl, ObjectStore};
use crate::names;
use serde_json::{json, Value};

/// The upstream Swift release `/info` reports (see [`ObjectStore::info`]).
pub const SWIFT_VERSION: &str = "2.35.0";

impl ObjectStore {
    pub fn info(&self) -> Value {
        json!({
            "swift": {
                // The Swift release whose API this store follows, not
                // oxistack's own version: clients gate features on it
                // (tempest reads MAJOR.MINOR and, from 2.34, expects
                // `X-Account-Quota-Count` to be enforced). 2.35.0
                // (2025.1 Epoxy) is the first release with all that is
                // implemented here (account object-count quotas and
                // `allow_open_expired` came in 2.34); naming a later one
                // would promise its changes, which are not checked here.
                "version": SWIFT_VERSION,
                "strict_cors_mode": self.settings.cors.strict,
                "policies": [{"name": "Policy-0", "default": true}],
                "allow_account_management": false,
                "account_autocreate": true,
                "allow_open_expired": false,
                "max_file_size": self.settings.max_file_size,
                "max_meta_name_length": meta::MAX_META_NAME_LENGTH,
                "max_meta_value_length": meta::MAX_META_VALUE_LENGTH,
                "max_meta_count": meta::MAX_META_COUNT,
                "max_meta_overall_size": meta::MAX_META_OVERALL_SIZE,
                "max_header_size": meta::MAX_HEADER_SIZE,
                "max_object_name_length": names::MAX_OBJECT_NAME_LENGTH,
                "container_listing_limit": listing::LISTING_LIMIT,
                "account_listing_limit": listing::LISTING_LIMIT,
                "max_account_name_length": names::MAX_ACCOUNT_NAME_LENGTH,
                "max_container_name_length": names::MAX_CONTAINER_NAME_LENGTH,
                "extra_header_count": 0,
                "valid_api_versions": ["v1", "v1.0"],
            },
            "tempurl": {
                "methods": tempurl::METHODS,
                "incoming_remove_headers": ["x-timestamp", "x-open-expired"],
                "incoming_allow_headers": [],
                "outgoing_remove_headers": ["x-object-meta-*"],
                "outgoing_allow_headers": ["x-object-meta-public-*"],
                "allowed_digests": tempurl::ALLOWED_DIGESTS,
                "deprecated_digests": ["sha1"],
            },
            "slo": {
                "max_manifest_segments": large::MAX_MANIFEST_SEGMENTS,
                "max_manifest_size": large::MAX_MANIFEST_SIZE,
                "yield_frequency": 10,
                "min_segment_size": 1,
                "allow_async_delete": false,
            },
            "bulk_upload": {
                "max_containers_per_extraction": self.settings.max_containers_per_extraction,
                "max_failed_extractions": self.settings.max_failed_extractions,
            },
            "bulk_delete": {
                "max_deletes_per_request": bulk::MAX_DELETES_PER_REQUEST,
                "max_failed_deletes": bulk::MAX_FAILED_DELETES,
            },
            "account_quotas": {},
            "container_quotas": {},
            "versioned_writes": {
                "allowed_flags": ["x-versions-location", "x-history-location"],
            },
        })
    }
}
