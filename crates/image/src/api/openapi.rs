//! The Image v2 API's OpenAPI document, built from the handlers'
//! `#[utoipa::path]` annotations and the request/response types beside
//! them; `oxistack openapi image` prints it and `docs/openapi/image.json`
//! holds the checked-in copy.

use super::*;
use common::http::openapi::TokenAuth;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "oxistack Image service (OpenStack Glance v2)",
        version = "2.17",
        description = "Glance v2 as oxistack serves it. Every call except the version documents takes a token in X-Auth-Token."
    ),
    paths(
        versions_choice,
        versions,
        images::list,
        images::create,
        images::show,
        images::update,
        images::delete,
        images::add_tag,
        images::delete_tag,
        images::deactivate,
        images::reactivate,
        images::tasks,
        image_data::upload,
        image_data::download,
        image_data::stage,
        image_data::import,
        members::list,
        members::create,
        members::show,
        members::update,
        members::delete,
        schemas::image,
        schemas::images,
        schemas::member,
        schemas::members,
        schemas::task,
        schemas::tasks,
        schemas::metadefs,
        metadef_namespaces::list,
        metadef_namespaces::create,
        metadef_namespaces::show,
        metadef_namespaces::update,
        metadef_namespaces::remove,
        metadef_namespaces::list_associations,
        metadef_namespaces::add_association,
        metadef_namespaces::remove_association,
        metadef_namespaces::resource_types,
        metadef_objects::list,
        metadef_objects::create,
        metadef_objects::remove_all,
        metadef_objects::show,
        metadef_objects::update,
        metadef_objects::remove,
        metadef_properties::list,
        metadef_properties::create,
        metadef_properties::remove_all,
        metadef_properties::show,
        metadef_properties::update,
        metadef_properties::remove,
        metadef_tags::list,
        metadef_tags::create_many,
        metadef_tags::remove_all,
        metadef_tags::show,
        metadef_tags::create,
        metadef_tags::update,
        metadef_tags::remove,
        tasks::list,
        tasks::create,
        tasks::show,
        tasks::remove,
        discovery::import_info,
        discovery::stores,
        discovery::usage,
    ),
    components(schemas(GlanceError)),
    modifiers(&TokenAuth),
    security(("token" = []))
)]
struct ImageApi;

/// The Image service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ImageApi::openapi()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// Every operation of the router is in the document (the version
    /// aliases `/v2` and `/v2/` aside), each with its own operation id.
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
        assert_eq!(ids.len(), 63);
        assert!(ids.contains(&"images.list".to_string()));
        assert!(ids.contains(&"metadef_tags.list".to_string()));
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 63, "operation ids repeat");
    }
}
