//! Keystone's JSON Home document (`Accept: application/json-home` on `/`
//! and `/v3`): every resource this server implements, under Keystone's
//! relation names. Clients such as python-tempestconf read the relation
//! names to learn which extensions exist (`…/3/ext/<EXT>/…`), so a
//! resource is listed here only when its routes exist, and with exactly
//! the relation, template and variables Keystone gives it
//! (keystone/tests/unit/test_versions.py `V3_JSON_HOME_RESOURCES`).

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The media type of the document.
pub const JSON_HOME: &str = "application/json-home";

/// Prefix of every relation and parameter name.
const REL_BASE: &str = "https://docs.openstack.org/api/openstack-identity/3/";

/// `(relation, href or href-template, href-vars)`, names after
/// [`REL_BASE`]; paths are relative to `/v3`.
type Row = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const RESOURCES: &[Row] = &[
    (
        "ext/OS-EP-FILTER/1.0/rel/endpoint_groups",
        "/OS-EP-FILTER/endpoint_groups",
        &[],
    ),
    (
        "ext/OS-EP-FILTER/1.0/rel/endpoint_group",
        "/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}",
        &[(
            "endpoint_group_id",
            "ext/OS-EP-FILTER/1.0/param/endpoint_group_id",
        )],
    ),
    (
        "ext/OS-EP-FILTER/1.0/rel/endpoints_in_endpoint_group",
        "/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/endpoints",
        &[(
            "endpoint_group_id",
            "ext/OS-EP-FILTER/1.0/param/endpoint_group_id",
        )],
    ),
    (
        "ext/OS-EP-FILTER/1.0/rel/projects_associated_with_endpoint_group",
        "/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects",
        &[(
            "endpoint_group_id",
            "ext/OS-EP-FILTER/1.0/param/endpoint_group_id",
        )],
    ),
    (
        "ext/OS-EP-FILTER/1.0/rel/endpoint_group_to_project_association",
        "/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects/{project_id}",
        &[
            (
                "endpoint_group_id",
                "ext/OS-EP-FILTER/1.0/param/endpoint_group_id",
            ),
            ("project_id", "param/project_id"),
        ],
    ),
    (
        "ext/OS-EP-FILTER/1.0/rel/endpoint_projects",
        "/OS-EP-FILTER/endpoints/{endpoint_id}/projects",
        &[("endpoint_id", "param/endpoint_id")],
    ),
    (
        "ext/OS-EP-FILTER/1.0/rel/project_endpoint_groups",
        "/OS-EP-FILTER/projects/{project_id}/endpoint_groups",
        &[("project_id", "param/project_id")],
    ),
    (
        "ext/OS-EP-FILTER/1.0/rel/project_endpoints",
        "/OS-EP-FILTER/projects/{project_id}/endpoints",
        &[("project_id", "param/project_id")],
    ),
    (
        "ext/OS-EP-FILTER/1.0/rel/project_endpoint",
        "/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}",
        &[
            ("endpoint_id", "param/endpoint_id"),
            ("project_id", "param/project_id"),
        ],
    ),
    (
        "ext/OS-INHERIT/1.0/rel/domain_group_roles_inherited_to_projects",
        "/OS-INHERIT/domains/{domain_id}/groups/{group_id}/roles/inherited_to_projects",
        &[
            ("domain_id", "param/domain_id"),
            ("group_id", "param/group_id"),
        ],
    ),
    (
        "ext/OS-INHERIT/1.0/rel/domain_group_role_inherited_to_projects",
        "/OS-INHERIT/domains/{domain_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects",
        &[
            ("domain_id", "param/domain_id"),
            ("group_id", "param/group_id"),
            ("role_id", "param/role_id"),
        ],
    ),
    (
        "ext/OS-INHERIT/1.0/rel/domain_user_roles_inherited_to_projects",
        "/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/inherited_to_projects",
        &[
            ("domain_id", "param/domain_id"),
            ("user_id", "param/user_id"),
        ],
    ),
    (
        "ext/OS-INHERIT/1.0/rel/domain_user_role_inherited_to_projects",
        "/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/{role_id}/inherited_to_projects",
        &[
            ("domain_id", "param/domain_id"),
            ("role_id", "param/role_id"),
            ("user_id", "param/user_id"),
        ],
    ),
    (
        "ext/OS-INHERIT/1.0/rel/project_group_role_inherited_to_projects",
        "/OS-INHERIT/projects/{project_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects",
        &[
            ("group_id", "param/group_id"),
            ("project_id", "param/project_id"),
            ("role_id", "param/role_id"),
        ],
    ),
    (
        "ext/OS-INHERIT/1.0/rel/project_user_role_inherited_to_projects",
        "/OS-INHERIT/projects/{project_id}/users/{user_id}/roles/{role_id}/inherited_to_projects",
        &[
            ("project_id", "param/project_id"),
            ("role_id", "param/role_id"),
            ("user_id", "param/user_id"),
        ],
    ),
    (
        "ext/OS-OAUTH1/1.0/rel/access_tokens",
        "/OS-OAUTH1/access_token",
        &[],
    ),
    (
        "ext/OS-OAUTH1/1.0/rel/authorize_request_token",
        "/OS-OAUTH1/authorize/{request_token_id}",
        &[(
            "request_token_id",
            "ext/OS-OAUTH1/1.0/param/request_token_id",
        )],
    ),
    (
        "ext/OS-OAUTH1/1.0/rel/consumers",
        "/OS-OAUTH1/consumers",
        &[],
    ),
    (
        "ext/OS-OAUTH1/1.0/rel/consumer",
        "/OS-OAUTH1/consumers/{consumer_id}",
        &[("consumer_id", "ext/OS-OAUTH1/1.0/param/consumer_id")],
    ),
    (
        "ext/OS-OAUTH1/1.0/rel/request_tokens",
        "/OS-OAUTH1/request_token",
        &[],
    ),
    ("ext/OS-TRUST/1.0/rel/trusts", "/OS-TRUST/trusts", &[]),
    (
        "ext/OS-TRUST/1.0/rel/trust",
        "/OS-TRUST/trusts/{trust_id}",
        &[("trust_id", "ext/OS-TRUST/1.0/param/trust_id")],
    ),
    (
        "ext/OS-TRUST/1.0/rel/trust_roles",
        "/OS-TRUST/trusts/{trust_id}/roles",
        &[("trust_id", "ext/OS-TRUST/1.0/param/trust_id")],
    ),
    (
        "ext/OS-TRUST/1.0/rel/trust_role",
        "/OS-TRUST/trusts/{trust_id}/roles/{role_id}",
        &[
            ("role_id", "param/role_id"),
            ("trust_id", "ext/OS-TRUST/1.0/param/trust_id"),
        ],
    ),
    ("rel/auth_catalog", "/auth/catalog", &[]),
    ("rel/auth_domains", "/auth/domains", &[]),
    ("rel/auth_projects", "/auth/projects", &[]),
    ("rel/auth_system", "/auth/system", &[]),
    ("rel/auth_tokens", "/auth/tokens", &[]),
    ("rel/credentials", "/credentials", &[]),
    (
        "rel/credential",
        "/credentials/{credential_id}",
        &[("credential_id", "param/credential_id")],
    ),
    ("rel/domains", "/domains", &[]),
    ("rel/domain_config_default", "/domains/config/default", &[]),
    (
        "rel/domain_config_default_group",
        "/domains/config/{group}/default",
        &[("group", "param/config_group")],
    ),
    (
        "rel/domain_config_default_option",
        "/domains/config/{group}/{option}/default",
        &[
            ("group", "param/config_group"),
            ("option", "param/config_option"),
        ],
    ),
    (
        "rel/domain",
        "/domains/{domain_id}",
        &[("domain_id", "param/domain_id")],
    ),
    (
        "rel/domain_config",
        "/domains/{domain_id}/config",
        &[("domain_id", "param/domain_id")],
    ),
    (
        "rel/domain_config_group",
        "/domains/{domain_id}/config/{group}",
        &[
            ("domain_id", "param/domain_id"),
            ("group", "param/config_group"),
        ],
    ),
    (
        "rel/domain_config_option",
        "/domains/{domain_id}/config/{group}/{option}",
        &[
            ("domain_id", "param/domain_id"),
            ("group", "param/config_group"),
            ("option", "param/config_option"),
        ],
    ),
    (
        "rel/domain_group_roles",
        "/domains/{domain_id}/groups/{group_id}/roles",
        &[
            ("domain_id", "param/domain_id"),
            ("group_id", "param/group_id"),
        ],
    ),
    (
        "rel/domain_group_role",
        "/domains/{domain_id}/groups/{group_id}/roles/{role_id}",
        &[
            ("domain_id", "param/domain_id"),
            ("group_id", "param/group_id"),
            ("role_id", "param/role_id"),
        ],
    ),
    (
        "rel/domain_user_roles",
        "/domains/{domain_id}/users/{user_id}/roles",
        &[
            ("domain_id", "param/domain_id"),
            ("user_id", "param/user_id"),
        ],
    ),
    (
        "rel/domain_user_role",
        "/domains/{domain_id}/users/{user_id}/roles/{role_id}",
        &[
            ("domain_id", "param/domain_id"),
            ("role_id", "param/role_id"),
            ("user_id", "param/user_id"),
        ],
    ),
    ("ext/OS-EC2/1.0/rel/ec2tokens", "/ec2tokens", &[]),
    ("rel/endpoints", "/endpoints", &[]),
    (
        "rel/endpoint",
        "/endpoints/{endpoint_id}",
        &[("endpoint_id", "param/endpoint_id")],
    ),
    ("rel/groups", "/groups", &[]),
    (
        "rel/group",
        "/groups/{group_id}",
        &[("group_id", "param/group_id")],
    ),
    (
        "rel/group_users",
        "/groups/{group_id}/users",
        &[("group_id", "param/group_id")],
    ),
    (
        "rel/group_user",
        "/groups/{group_id}/users/{user_id}",
        &[("group_id", "param/group_id"), ("user_id", "param/user_id")],
    ),
    ("rel/policies", "/policies", &[]),
    (
        "rel/policy",
        "/policies/{policy_id}",
        &[("policy_id", "param/policy_id")],
    ),
    ("rel/projects", "/projects", &[]),
    (
        "rel/project",
        "/projects/{project_id}",
        &[("project_id", "param/project_id")],
    ),
    (
        "rel/project_group_roles",
        "/projects/{project_id}/groups/{group_id}/roles",
        &[
            ("group_id", "param/group_id"),
            ("project_id", "param/project_id"),
        ],
    ),
    (
        "rel/project_group_role",
        "/projects/{project_id}/groups/{group_id}/roles/{role_id}",
        &[
            ("group_id", "param/group_id"),
            ("project_id", "param/project_id"),
            ("role_id", "param/role_id"),
        ],
    ),
    (
        "rel/project_tags",
        "/projects/{project_id}/tags/{value}",
        &[
            ("project_id", "param/project_id"),
            ("value", "param/tag_value"),
        ],
    ),
    (
        "rel/project_user_roles",
        "/projects/{project_id}/users/{user_id}/roles",
        &[
            ("project_id", "param/project_id"),
            ("user_id", "param/user_id"),
        ],
    ),
    (
        "rel/project_user_role",
        "/projects/{project_id}/users/{user_id}/roles/{role_id}",
        &[
            ("project_id", "param/project_id"),
            ("role_id", "param/role_id"),
            ("user_id", "param/user_id"),
        ],
    ),
    ("rel/regions", "/regions", &[]),
    (
        "rel/region",
        "/regions/{region_id}",
        &[("region_id", "param/region_id")],
    ),
    ("rel/role_assignments", "/role_assignments", &[]),
    ("rel/role_inferences", "/role_inferences", &[]),
    ("rel/roles", "/roles", &[]),
    (
        "rel/implied_roles",
        "/roles/{prior_role_id}/implies",
        &[("prior_role_id", "param/role_id")],
    ),
    (
        "rel/implied_role",
        "/roles/{prior_role_id}/implies/{implied_role_id}",
        &[
            ("implied_role_id", "param/role_id"),
            ("prior_role_id", "param/role_id"),
        ],
    ),
    (
        "rel/role",
        "/roles/{role_id}",
        &[("role_id", "param/role_id")],
    ),
    ("rel/services", "/services", &[]),
    (
        "rel/service",
        "/services/{service_id}",
        &[("service_id", "param/service_id")],
    ),
    (
        "rel/system_group_roles",
        "/system/groups/{group_id}/roles",
        &[("group_id", "param/group_id")],
    ),
    (
        "rel/system_group_role",
        "/system/groups/{group_id}/roles/{role_id}",
        &[("group_id", "param/group_id"), ("role_id", "param/role_id")],
    ),
    (
        "rel/system_user_roles",
        "/system/users/{user_id}/roles",
        &[("user_id", "param/user_id")],
    ),
    (
        "rel/system_user_role",
        "/system/users/{user_id}/roles/{role_id}",
        &[("role_id", "param/role_id"), ("user_id", "param/user_id")],
    ),
    ("rel/users", "/users", &[]),
    (
        "rel/user",
        "/users/{user_id}",
        &[("user_id", "param/user_id")],
    ),
    (
        "ext/OS-OAUTH1/1.0/rel/user_access_tokens",
        "/users/{user_id}/OS-OAUTH1/access_tokens",
        &[("user_id", "param/user_id")],
    ),
    (
        "ext/OS-OAUTH1/1.0/rel/user_access_token",
        "/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}",
        &[
            ("access_token_id", "ext/OS-OAUTH1/1.0/param/access_token_id"),
            ("user_id", "param/user_id"),
        ],
    ),
    (
        "ext/OS-OAUTH1/1.0/rel/user_access_token_roles",
        "/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}/roles",
        &[
            ("access_token_id", "ext/OS-OAUTH1/1.0/param/access_token_id"),
            ("user_id", "param/user_id"),
        ],
    ),
    (
        "ext/OS-OAUTH1/1.0/rel/user_access_token_role",
        "/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}/roles/{role_id}",
        &[
            ("access_token_id", "ext/OS-OAUTH1/1.0/param/access_token_id"),
            ("role_id", "param/role_id"),
            ("user_id", "param/user_id"),
        ],
    ),
    (
        "rel/access_rules",
        "/users/{user_id}/access_rules",
        &[("user_id", "param/user_id")],
    ),
    (
        "rel/access_rule",
        "/users/{user_id}/access_rules/{access_rule_id}",
        &[
            ("access_rule_id", "param/access_rule_id"),
            ("user_id", "param/user_id"),
        ],
    ),
    (
        "rel/application_credentials",
        "/users/{user_id}/application_credentials",
        &[("user_id", "param/user_id")],
    ),
    (
        "rel/application_credential",
        "/users/{user_id}/application_credentials/{application_credential_id}",
        &[
            (
                "application_credential_id",
                "param/application_credential_id",
            ),
            ("user_id", "param/user_id"),
        ],
    ),
    (
        "ext/OS-EC2/1.0/rel/user_credentials",
        "/users/{user_id}/credentials/OS-EC2",
        &[("user_id", "param/user_id")],
    ),
    (
        "ext/OS-EC2/1.0/rel/user_credential",
        "/users/{user_id}/credentials/OS-EC2/{credential_id}",
        &[
            ("credential_id", "param/credential_id"),
            ("user_id", "param/user_id"),
        ],
    ),
    (
        "rel/user_groups",
        "/users/{user_id}/groups",
        &[("user_id", "param/user_id")],
    ),
    (
        "rel/user_change_password",
        "/users/{user_id}/password",
        &[("user_id", "param/user_id")],
    ),
    (
        "rel/user_projects",
        "/users/{user_id}/projects",
        &[("user_id", "param/user_id")],
    ),
];

/// A JSON Home document: the resource of each relation.
#[derive(Serialize, ToSchema)]
pub struct JsonHome {
    pub resources: BTreeMap<String, HomeResource>,
}

/// A resource: a fixed `href`, or an `href-template` with the relation of
/// each of its variables.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum HomeResource {
    Fixed {
        href: String,
    },
    Template {
        #[serde(rename = "href-template")]
        href_template: String,
        #[serde(rename = "href-vars")]
        href_vars: BTreeMap<String, String>,
    },
}

/// The document with every path under `prefix` (`""` at `/v3`, `"/v3"`
/// at `/`, as Keystone's `translate_urls` does).
pub fn document(prefix: &str) -> JsonHome {
    let resources = RESOURCES
        .iter()
        .map(|(rel, path, vars)| {
            let href = format!("{prefix}{path}");
            let resource = if vars.is_empty() {
                HomeResource::Fixed { href }
            } else {
                HomeResource::Template {
                    href_template: href,
                    href_vars: vars
                        .iter()
                        .map(|(name, param)| ((*name).to_string(), format!("{REL_BASE}{param}")))
                        .collect(),
                }
            };
            (format!("{REL_BASE}{rel}"), resource)
        })
        .collect();
    JsonHome { resources }
}

/// The response: the document as `application/json-home`.
pub fn response(prefix: &str) -> Response {
    let mut r = axum::Json(document(prefix)).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_HOME));
    r
}

/// Whether the client prefers JSON Home to JSON: werkzeug's
/// `best_match([JSON, JSON_HOME])` as Keystone's discovery uses it — the
/// higher quality wins, JSON on a tie, and JSON when neither is accepted.
pub fn wanted(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let json = quality(accept, "application/json");
    let home = quality(accept, JSON_HOME);
    home > 0.0 && home > json
}

/// The quality `accept` gives `media`: its most specific matching range
/// (exact, then `type/*`, then `*/*`), 0 when none matches.
fn quality(accept: &str, media: &str) -> f32 {
    let (kind, _) = media.split_once('/').unwrap_or((media, ""));
    let mut best: Option<(u8, f32)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let specificity = if range == media {
            3
        } else if range == format!("{kind}/*") {
            2
        } else if range == "*/*" {
            1
        } else {
            continue;
        };
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    best.map_or(0.0, |(_, q)| q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")),
        );
        h
    }

    /// keystone's `test_accept_type_handling`.
    #[test]
    fn accept_negotiation_follows_keystone() {
        assert!(!wanted(&HeaderMap::new()));
        assert!(!wanted(&accept("application/json")));
        assert!(wanted(&accept("application/json-home")));
        assert!(!wanted(&accept("application/json, application/json-home")));
        assert!(!wanted(&accept("application/json-home, application/json")));
        assert!(wanted(&accept(
            "application/json-home, application/json;q=0.5"
        )));
        assert!(!wanted(&accept("text/unknown")));
        assert!(!wanted(&accept("*/*")));
    }

    #[test]
    fn document_is_prefixed() {
        let d = serde_json::to_value(document("/v3")).unwrap_or_default();
        let rel = format!("{REL_BASE}rel/auth_tokens");
        assert_eq!(d["resources"][&rel]["href"], "/v3/auth/tokens");
        let rel = format!("{REL_BASE}ext/OS-TRUST/1.0/rel/trust");
        assert_eq!(
            d["resources"][&rel]["href-template"],
            "/v3/OS-TRUST/trusts/{trust_id}"
        );
    }
}
