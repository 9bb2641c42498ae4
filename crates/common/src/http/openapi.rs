//! What every service's OpenAPI document shares: the `X-Auth-Token`
//! security scheme and operation ids made unique across resources.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};

/// Adds the `X-Auth-Token` security scheme a document's
/// `security(("token" = []))` names, and makes operation ids unique (a
/// handler's name, such as `list`, recurs in every resource's module) by
/// prefixing each with its first tag.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenAuth;

impl utoipa::Modify for TokenAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Auth-Token"))),
        );
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
                &mut item.options,
            ]
            .into_iter()
            .flatten()
            {
                let tag = op
                    .tags
                    .as_ref()
                    .and_then(|t| t.first())
                    .map(|t| t.replace(' ', "_"));
                if let (Some(tag), Some(id)) = (tag, op.operation_id.as_mut()) {
                    *id = format!("{tag}.{id}");
                }
            }
        }
    }
}
