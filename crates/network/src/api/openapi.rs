//! The Networking v2.0 API's OpenAPI document, built from the handlers'
//! `#[utoipa::path]` annotations and the types beside them; `oxistack
//! openapi network` prints it and `docs/openapi/network.json` holds the
//! checked-in copy.

use super::*;
use common::http::openapi::TokenAuth;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "oxistack Network service (OpenStack Neutron v2.0)",
        version = "2.0",
        description = "Neutron's v2.0 API as oxistack serves it. Every call except the version document takes a token in X-Auth-Token; every path also answers with `.json` appended."
    ),
    paths(
        versions,
        resources,
        extensions::list,
        extensions::show,
        networks::list,
        networks::create,
        networks::show,
        networks::update,
        networks::delete,
        subnets::list,
        subnets::create,
        subnets::show,
        subnets::update,
        subnets::delete,
        ports::list,
        ports::create,
        ports::show,
        ports::update,
        ports::delete,
        quotas::list,
        quotas::show,
        quotas::default,
        quotas::details,
        quotas::update,
        quotas::delete,
        security_groups::list,
        security_groups::create,
        security_groups::show,
        security_groups::update,
        security_groups::delete,
        security_groups::list_rules,
        security_groups::create_rules,
        security_groups::show_rule,
        security_groups::delete_rule,
        routers::list,
        routers::create,
        routers::show,
        routers::update,
        routers::delete,
        routers::add_interface,
        routers::remove_interface,
        floatingips::list,
        floatingips::create,
        floatingips::show,
        floatingips::update,
        floatingips::delete,
        floatingips::list_pfs,
        floatingips::create_pf,
        floatingips::show_pf,
        floatingips::update_pf,
        floatingips::delete_pf,
        floatingips::pools,
        subnetpools::list,
        subnetpools::create,
        subnetpools::show,
        subnetpools::update,
        subnetpools::delete,
        tags::list,
        tags::replace,
        tags::remove_all,
        tags::show,
        tags::add,
        tags::remove,
        agents::list,
        agents::show,
        agents::update,
        agents::delete,
        agents::list_zones,
    ),
    components(schemas(NeutronError, NeutronErrorBody)),
    modifiers(&TokenAuth),
    security(("token" = []))
)]
struct NetworkApi;

/// The Network service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    NetworkApi::openapi()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// Every operation has its own operation id.
    #[test]
    fn document_lists_operations() {
        let doc = super::openapi();
        let mut ids: Vec<String> = doc
            .paths
            .paths
            .values()
            .flat_map(|item| {
                [&item.get, &item.put, &item.post, &item.delete, &item.patch]
                    .into_iter()
                    .flatten()
                    .map(|op| op.operation_id.clone().unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
        let n = ids.len();

        assert_eq!(n, 68);
        assert!(ids.contains(&"networks.list".to_string()));
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "operation ids repeat");
    }
}
