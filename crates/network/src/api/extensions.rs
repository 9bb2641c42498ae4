//! `/v2.0/extensions` and `/v2.0/extensions/{alias}`: exactly the
//! extensions this server implements, with neutron-lib's names,
//! descriptions and timestamps (clients look an alias up and change
//! behaviour on it, so none is listed before its API works).

use super::NeutronErrors;
use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::{Error, Result};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Network>> {
    Router::new()
        .route("/v2.0/extensions", get(list))
        .route("/v2.0/extensions/{alias}", get(show))
}

/// One extension: (alias, name, description, updated).
pub const EXTENSIONS: &[(&str, &str, &str, &str)] = &[
    (
        "agent",
        "agent",
        "The agent management extension.",
        "2013-02-03T10:00:00-00:00",
    ),
    (
        "agent-resources-synced",
        "Agent's Resource View Synced to Placement",
        "Stores success/failure of last sync to Placement",
        "2018-12-19T00:00:00-00:00",
    ),
    (
        "allowed-address-pairs",
        "Allowed Address Pairs",
        "Provides allowed address pairs",
        "2013-07-23T10:00:00-00:00",
    ),
    (
        "availability_zone",
        "Availability Zone",
        "The availability zone extension.",
        "2015-01-01T10:00:00-00:00",
    ),
    (
        "binding",
        "Port Binding",
        "Expose port bindings of a virtual port to external application",
        "2014-02-03T10:00:00-00:00",
    ),
    (
        "external-net",
        "Neutron external network",
        "Adds external network attribute to network resource.",
        "2013-01-14T10:00:00-00:00",
    ),
    (
        "expose-port-forwarding-in-fip",
        "Expose Floating IP port forwardings",
        "Expose port forwarding fields in floating IP response",
        "2018-06-28T16:00:00-00:00",
    ),
    (
        "extra_dhcp_opt",
        "Neutron Extra DHCP options",
        "Extra options configuration for DHCP. For example PXE boot options to DHCP clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)",
        "2013-03-17T12:00:00-00:00",
    ),
    (
        "ext-gw-mode",
        "Neutron L3 Configurable external gateway mode",
        "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway",
        "2013-03-28T10:00:00-00:00",
    ),
    (
        "fip-port-details",
        "Floating IP Port Details Extension",
        "Add port_details attribute to Floating IP resource",
        "2018-04-09T10:00:00-00:00",
    ),
    (
        "floating-ip-port-forwarding",
        "Floating IP Port Forwarding",
        "Allow port forwarding from floating IP port to an internal port",
        "2018-01-19T10:00:00-00:00",
    ),
    (
        "floating-ip-port-forwarding-description",
        "Floating IP Port Forwarding new attribute description",
        "Add a description field to Port Forwarding rules",
        "2019-11-01T10:00:00-00:00",
    ),
    (
        "floatingip-pools",
        "Floating IP Pools Extension",
        "Provides a floating IP pools API.",
        "2018-03-21T10:00:00-00:00",
    ),
    (
        "ip-substring-filtering",
        "IP address substring filtering",
        "Provides IP address substring filtering when listing ports",
        "2017-11-28T09:00:00-00:00",
    ),
    (
        "net-mtu",
        "Network MTU",
        "Provides MTU attribute for a network resource.",
        "2015-03-25T10:00:00-00:00",
    ),
    (
        "pagination",
        "Pagination support",
        "Extension that indicates that pagination is enabled.",
        "2016-06-12T00:00:00-00:00",
    ),
    (
        "port-security",
        "Port Security",
        "Provides port security",
        "2012-07-23T10:00:00-00:00",
    ),
    (
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
        "2016-09-09T09:09:09-09:09",
    ),
    (
        "provider",
        "Provider Network",
        "Expose mapping of virtual networks to physical networks",
        "2012-09-07T10:00:00-00:00",
    ),
    (
        "quota_details",
        "Quota details management support",
        "Expose functions for quotas usage statistics per project",
        "2017-02-10T10:00:00-00:00",
    ),
    (
        "quota-check-limit",
        "Quota engine limit check",
        "Support for checking the resource usage before applying a new quota limit",
        "2021-09-08T16:00:00-00:00",
    ),
    (
        "quota-check-limit-default",
        "Quota engine limit check by default",
        "By default, the Neutron quota engine checks the resource usage before applying a new quota limit",
        "2024-08-21T16:00:00-00:00",
    ),
    (
        "quotas",
        "Quota management support",
        "Expose functions for quotas management per project",
        "2012-07-29T10:00:00-00:00",
    ),
    (
        "extraroute",
        "Neutron Extra Route",
        "Extra routes configuration for L3 router",
        "2013-02-01T10:00:00-00:00",
    ),
    (
        "router",
        "Neutron L3 Router",
        "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.",
        "2012-07-20T10:00:00-00:00",
    ),
    (
        "security-group",
        "security-group",
        "The security groups extension.",
        "2012-10-05T10:00:00-00:00",
    ),
    (
        "sorting",
        "Sorting support",
        "Extension that indicates that sorting is enabled.",
        "2016-06-12T00:00:00-00:00",
    ),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
        "2016-02-10T10:00:00-00:00",
    ),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
        "2016-04-11T10:00:00-00:00",
    ),
    (
        "standard-attr-tag",
        "Tag support for resources with standard attribute: network",
        "Enables to set tag on resources with standard attribute.",
        "2017-01-01T00:00:00-00:00",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.",
        "2016-09-12T10:00:00-00:00",
    ),
    (
        "stateful-security-group",
        "Stateful security group",
        "Indicates if the security group is stateful or not",
        "2019-11-26T09:00:00-00:00",
    ),
    (
        "subnet_allocation",
        "Subnet Allocation",
        "Enables allocation of subnets from a subnet pool",
        "2015-03-30T10:00:00-00:00",
    ),
    (
        "tag-ports-during-bulk-creation",
        "Tag Ports During Bulk Creation",
        "Allow to tag ports during bulk creation",
        "2019-12-29T19:00:00-00:00",
    ),
];

#[derive(Debug, Serialize, ToSchema)]
pub struct Extension {
    pub alias: String,
    pub name: String,
    pub description: String,
    pub updated: String,
    pub links: Vec<super::Link>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExtensionList {
    pub extensions: Vec<Extension>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExtensionShow {
    pub extension: Extension,
}

fn ext(e: &(&str, &str, &str, &str)) -> Extension {
    Extension {
        alias: e.0.into(),
        name: e.1.into(),
        description: e.2.into(),
        updated: e.3.into(),
        links: Vec::new(),
    }
}

#[utoipa::path(get, path = "/v2.0/extensions", tag = "extensions",
    responses((status = 200, body = ExtensionList), NeutronErrors))]
async fn list(_auth: Auth) -> Json<ExtensionList> {
    Json(ExtensionList {
        extensions: EXTENSIONS.iter().map(ext).collect(),
    })
}

#[utoipa::path(get, path = "/v2.0/extensions/{alias}", tag = "extensions",
    params(("alias" = String, Path)),
    responses((status = 200, body = ExtensionShow), NeutronErrors))]
async fn show(_auth: Auth, Path(alias): Path<String>) -> Result<Json<ExtensionShow>> {
    EXTENSIONS
        .iter()
        .find(|e| e.0 == alias)
        .map(|e| Json(ExtensionShow { extension: ext(e) }))
        .ok_or_else(|| Error::not_found(format!("Extension with alias {alias} does not exist")))
}
