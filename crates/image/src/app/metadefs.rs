//! Metadata definitions (Glance's "metadefs"): namespaces and, inside a
//! namespace, objects, properties, tags and resource type associations.
//!
//! Who sees a namespace is decided first, as Glance's database layer does
//! (admins see all; others their project's, public ones and unowned ones;
//! anything else is a 404); then the `*_metadef_*` policy rules decide what
//! the caller may do (by default reads for readers, every change for
//! admins only). A protected namespace cannot be deleted, nor can anything
//! in it. Input is checked against Glance's metadef schemas (the fields,
//! types, lengths and enums that matter), with its 400/403/409 words.

use super::Image;
use crate::db::metadefs::{self as mdb, Association, Item, Kind, Namespace, ResourceType};
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use serde_json::{json, Map, Value};

/// A namespace with everything in it, as `GET …/namespaces/{ns}` shows it.
#[derive(Debug, Clone)]
pub struct NamespaceDetail {
    pub ns: Namespace,
    pub associations: Vec<Association>,
    pub objects: Vec<Item>,
    pub properties: Vec<Item>,
    pub tags: Vec<Item>,
}

/// Attributes a client may not send (Glance answers 403 for them).
const READ_ONLY: &[&str] = &["self", "schema", "created_at", "updated_at"];

/// The keys a property definition keeps (Glance's `PropertyType`).
const PROPERTY_KEYS: &[&str] = &[
    "title",
    "description",
    "operators",
    "type",
    "required",
    "minimum",
    "maximum",
    "maxLength",
    "minLength",
    "pattern",
    "enum",
    "readonly",
    "default",
    "items",
    "maxItems",
    "minItems",
    "uniqueItems",
    "additionalItems",
];
const PROPERTY_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];

fn invalid(schema: &str, why: impl std::fmt::Display) -> Error {
    Error::bad_request(format!(
        "Provided object does not match schema '{schema}': {why}"
    ))
}

fn namespace_not_found(name: &str) -> Error {
    Error::not_found(format!(
        "Metadata definition namespace={name} was not found."
    ))
}

fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Object => "object",
        Kind::Property => "property",
        Kind::Tag => "tag",
    }
}

/// Glance's policy rules for the calls on one kind of namespace item.
struct ItemRules {
    list: &'static str,
    get: &'static str,
    add: &'static str,
    modify: &'static str,
    delete: &'static str,
}

fn item_rules(kind: Kind) -> ItemRules {
    match kind {
        Kind::Object => ItemRules {
            list: "get_metadef_objects",
            get: "get_metadef_object",
            add: "add_metadef_object",
            modify: "modify_metadef_object",
            delete: "delete_metadef_object",
        },
        Kind::Property => ItemRules {
            list: "get_metadef_properties",
            get: "get_metadef_property",
            add: "add_metadef_property",
            modify: "modify_metadef_property",
            delete: "remove_metadef_property",
        },
        Kind::Tag => ItemRules {
            list: "get_metadef_tags",
            get: "get_metadef_tag",
            add: "add_metadef_tag",
            modify: "modify_metadef_tag",
            delete: "delete_metadef_tag",
        },
    }
}

fn item_not_found(kind: Kind, ns: &str, name: &str) -> Error {
    Error::not_found(format!(
        "The metadata definition {} with name={name} was not found in namespace={ns}.",
        kind_word(kind)
    ))
}

fn item_duplicate(kind: Kind, ns: &str, name: &str) -> Error {
    Error::conflict(match kind {
        Kind::Tag => format!(
            "A metadata tag with name={name} already exists in namespace={ns}. \
             (Please note that metadata tag names are case insensitive)."
        ),
        k => format!(
            "A metadata definition {} with name={name} already exists in namespace={ns}.",
            kind_word(k)
        ),
    })
}

/// A unique violation becomes `dup`; any other error stays as it is.
fn on_conflict(e: db::sqlx::Error, dup: impl FnOnce() -> Error) -> Error {
    match Error::from(e) {
        e if e.kind() == common::ErrorKind::Conflict => dup(),
        other => other,
    }
}

fn check_read_only(body: &Map<String, Value>) -> Result<()> {
    for k in READ_ONLY {
        if body.contains_key(*k) {
            return Err(Error::forbidden(format!("Attribute '{k}' is read-only.")));
        }
    }
    Ok(())
}

fn as_object(schema: &str, body: Value) -> Result<Map<String, Value>> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(invalid(schema, "the request body must be a JSON object")),
    }
}

/// An optional string field no longer than `max` characters.
fn opt_string(
    schema: &str,
    body: &Map<String, Value>,
    key: &str,
    max: usize,
) -> Result<Option<String>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
        Some(Value::String(s)) => Err(invalid(
            schema,
            format!("'{s}' is too long ('{key}' allows {max} characters)"),
        )),
        Some(v) => Err(invalid(
            schema,
            format!("{v} is not of type 'string' ('{key}')"),
        )),
    }
}

/// A required, non-empty string field no longer than `max` characters.
fn req_string(schema: &str, body: &Map<String, Value>, key: &str, max: usize) -> Result<String> {
    match opt_string(schema, body, key, max)? {
        Some(s) if !s.is_empty() => Ok(s),
        Some(_) => Err(invalid(schema, format!("'{key}' must not be empty"))),
        None => Err(invalid(schema, format!("'{key}' is a required property"))),
    }
}

/// Checks one property definition and keeps the keys Glance keeps.
fn property_definition(schema: &str, name: &str, def: &Value) -> Result<Value> {
    let Value::Object(def) = def else {
        return Err(invalid(
            schema,
            format!("property '{name}' must be an object"),
        ));
    };
    for key in ["title", "type"] {
        if !def.contains_key(key) {
            return Err(invalid(
                schema,
                format!("'{key}' is a required property (property '{name}')"),
            ));
        }
    }
    opt_string(schema, def, "title", usize::MAX)?;
    opt_string(schema, def, "description", usize::MAX)?;
    match def.get("type") {
        Some(Value::String(t)) if PROPERTY_TYPES.contains(&t.as_str()) => {}
        Some(Value::Null) => {}
        Some(t) => {
            return Err(invalid(
                schema,
                format!("{t} is not one of {PROPERTY_TYPES:?} (property '{name}')"),
            ))
        }
        None => {}
    }
    for key in ["enum", "operators", "required"] {
        if def.get(key).is_some_and(|v| !v.is_array()) {
            return Err(invalid(
                schema,
                format!("'{key}' must be an array (property '{name}')"),
            ));
        }
    }
    for key in ["minimum", "maximum"] {
        if def.get(key).is_some_and(|v| !v.is_number()) {
            return Err(invalid(
                schema,
                format!("'{key}' must be a number (property '{name}')"),
            ));
        }
    }
    for key in ["maxLength", "minLength", "maxItems", "minItems"] {
        if def.get(key).is_some_and(|v| v.as_u64().is_none()) {
            return Err(invalid(
                schema,
                format!("'{key}' must be a non-negative integer (property '{name}')"),
            ));
        }
    }
    for key in ["readonly", "uniqueItems", "additionalItems"] {
        if def.get(key).is_some_and(|v| !v.is_boolean()) {
            return Err(invalid(
                schema,
                format!("'{key}' must be a boolean (property '{name}')"),
            ));
        }
    }
    if def.get("items").is_some_and(|v| !v.is_object()) {
        return Err(invalid(
            schema,
            format!("'items' must be an object (property '{name}')"),
        ));
    }
    let kept: Map<String, Value> = def
        .iter()
        .filter(|(k, _)| PROPERTY_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Value::Object(kept))
}

/// A map of property definitions (a namespace's or an object's).
fn property_map(schema: &str, v: Option<&Value>) -> Result<Map<String, Value>> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, d)| Ok((k.clone(), property_definition(schema, k, d)?)))
            .collect(),
        Some(_) => Err(invalid(schema, "'properties' must be an object")),
    }
}

fn string_array(schema: &str, key: &str, v: Option<&Value>) -> Result<Vec<Value>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => Ok(a.clone()),
        Some(_) => Err(invalid(
            schema,
            format!("'{key}' must be an array of strings"),
        )),
    }
}

/// An object from a request body: its name and the JSON kept for it.
pub fn object_input(body: &Map<String, Value>) -> Result<(String, Value)> {
    let name = req_string("object", body, "name", 80)?;
    let description = opt_string("object", body, "description", usize::MAX)?;
    let required = string_array("object", "required", body.get("required"))?;
    let properties = property_map("object", body.get("properties"))?;
    Ok((
        name,
        json!({"description": description, "required": required, "properties": properties}),
    ))
}

/// A property from a request body: its name and its definition.
pub fn property_input(body: &Map<String, Value>) -> Result<(String, Value)> {
    let name = req_string("property", body, "name", 80)?;
    let def = property_definition("property", &name, &Value::Object(body.clone()))?;
    Ok((name, def))
}

fn tag_name(v: &Value) -> Result<String> {
    let Value::Object(m) = v else {
        return Err(invalid("tag", "a tag must be an object"));
    };
    req_string("tag", m, "name", 255)
}

fn association_input(body: &Map<String, Value>, now: i64) -> Result<Association> {
    Ok(Association {
        name: req_string("resource_type_association", body, "name", 80)?,
        prefix: opt_string("resource_type_association", body, "prefix", 80)?,
        properties_target: opt_string("resource_type_association", body, "properties_target", 80)?,
        created_at: now,
        updated_at: now,
    })
}

impl Image {
    /// The policy target (Glance's `MetadefAPIPolicy`): the namespace's
    /// owner and visibility, or the caller's project when there is no
    /// namespace (list, create).
    fn ns_target(ctx: &AuthContext, ns: Option<&Namespace>) -> Value {
        match ns {
            Some(ns) => json!({"project_id": ns.owner, "visibility": ns.visibility}),
            None => json!({ "project_id": ctx.project_id() }),
        }
    }

    fn md_allowed(&self, ctx: &AuthContext, action: &str, ns: Option<&Namespace>) -> bool {
        self.policy
            .check(action, &ctx.policy_credentials(), &Self::ns_target(ctx, ns))
    }

    /// Checks `action`: a 403, or a 404 where the caller may not even read
    /// the namespace (so refusals do not reveal it), as Glance does.
    fn md_enforce(&self, ctx: &AuthContext, action: &str, ns: Option<&Namespace>) -> Result<()> {
        if self.md_allowed(ctx, action, ns) {
            return Ok(());
        }
        if let Some(n) = ns {
            if action == "get_metadef_namespace"
                || !self.md_allowed(ctx, "get_metadef_namespace", ns)
            {
                return Err(namespace_not_found(&n.namespace));
            }
        }
        Err(Error::forbidden(format!(
            "You are not authorized to complete {action} action."
        )))
    }

    /// Glance's `_is_namespace_visible`.
    fn ns_visible(&self, ctx: &AuthContext, ns: &Namespace) -> bool {
        self.is_admin(ctx)
            || ns.owner.is_none()
            || ns.visibility == "public"
            || (ctx.project_id().is_some() && ns.owner.as_deref() == ctx.project_id())
    }

    /// Namespace `name` if the caller may see it, else a 404 (so names of
    /// other projects' private namespaces cannot be probed).
    pub async fn visible_namespace(&self, ctx: &AuthContext, name: &str) -> Result<Namespace> {
        match mdb::get_namespace(&self.db.pool, name).await? {
            Some(ns) if self.ns_visible(ctx, &ns) => Ok(ns),
            _ => Err(namespace_not_found(name)),
        }
    }

    /// The visible namespace `name` once the caller passes `action` on it.
    async fn namespace_for(
        &self,
        ctx: &AuthContext,
        name: &str,
        action: &str,
    ) -> Result<Namespace> {
        let ns = self.visible_namespace(ctx, name).await?;
        self.md_enforce(ctx, action, Some(&ns))?;
        Ok(ns)
    }

    /// The visible namespace `name` after the read rule `action`, which
    /// hides it (404) when refused, as Glance's show does.
    async fn readable_namespace(
        &self,
        ctx: &AuthContext,
        name: &str,
        action: &str,
    ) -> Result<Namespace> {
        let ns = self.visible_namespace(ctx, name).await?;
        if !self.md_allowed(ctx, action, Some(&ns)) {
            return Err(namespace_not_found(name));
        }
        Ok(ns)
    }

    /// `GET /v2/metadefs/namespaces`: the page and the marker of the next.
    pub async fn list_namespaces(
        &self,
        ctx: &AuthContext,
        q: &QueryMap,
    ) -> Result<(Vec<(Namespace, Vec<Association>)>, Option<String>)> {
        self.md_enforce(ctx, "get_metadef_namespaces", None)?;
        self.md_enforce(ctx, "list_metadef_resource_types", None)?;
        let desc = match q.get("sort_dir").unwrap_or("desc") {
            "desc" => true,
            "asc" => false,
            d => return Err(Error::bad_request(format!("Invalid sort direction: {d}"))),
        };
        let sort_key = q.get("sort_key").unwrap_or("created_at");
        if !mdb::NS_SORT_KEYS.contains(&sort_key) {
            return Err(Error::bad_request(format!("Invalid sort key: {sort_key}")));
        }
        let visibility = q.get("visibility");
        if let Some(v) = visibility {
            if v != "public" && v != "private" {
                return Err(Error::bad_request(format!("Invalid visibility value: {v}")));
            }
        }
        let limit = match q.get("limit") {
            None => self.settings.list_limit,
            Some(l) => {
                let n: i64 = l
                    .parse()
                    .map_err(|_| Error::bad_request("limit param must be an integer"))?;
                usize::try_from(n)
                    .map_err(|_| Error::bad_request("limit param must be positive"))?
            }
        }
        .min(self.settings.list_limit_max);
        let resource_types: Option<Vec<String>> = q
            .get("resource_types")
            .map(|s| s.split(',').map(|t| t.trim().to_string()).collect());
        let project = if self.is_admin(ctx) {
            None
        } else {
            // No project: only public and unowned namespaces.
            Some(ctx.project_id().unwrap_or(""))
        };
        let all = mdb::list_namespaces(
            &self.db.pool,
            project,
            visibility,
            resource_types.as_deref(),
            sort_key,
            desc,
        )
        .await?;
        // Namespaces are few (tens), so the page is cut here rather than in
        // SQL; the marker is a namespace name the caller can see.
        let start = match q.get("marker") {
            None => 0,
            Some(m) => {
                let ns = self.visible_namespace(ctx, m).await?;
                all.iter()
                    .position(|n| n.id == ns.id)
                    .map(|p| p + 1)
                    .unwrap_or(all.len())
            }
        };
        let page: Vec<Namespace> = all
            .into_iter()
            .skip(start)
            .filter(|ns| self.md_allowed(ctx, "get_metadef_namespace", Some(ns)))
            .take(limit)
            .collect();
        let next = (limit > 0 && page.len() == limit)
            .then(|| page.last().map(|n| n.namespace.clone()))
            .flatten();
        let mut out = Vec::with_capacity(page.len());
        for ns in page {
            let assoc = mdb::list_associations(&self.db.pool, &ns.id).await?;
            out.push((ns, assoc));
        }
        Ok((out, next))
    }

    /// `POST /v2/metadefs/namespaces`, with any objects, properties, tags
    /// and resource type associations in the body, in one transaction.
    pub async fn create_namespace(
        &self,
        ctx: &AuthContext,
        body: Value,
    ) -> Result<NamespaceDetail> {
        let body = as_object("namespace", body)?;
        check_read_only(&body)?;
        self.md_enforce(ctx, "add_metadef_namespace", None)?;
        let now = self.now();
        let mut ns = self.namespace_fields(ctx, &body, None, now)?;
        ns.created_at = now;
        let associations = match body.get("resource_type_associations") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Value::Object(m) => association_input(m, now),
                    _ => Err(invalid(
                        "namespace",
                        "resource_type_associations items must be objects",
                    )),
                })
                .collect::<Result<_>>()?,
            Some(_) => {
                return Err(invalid(
                    "namespace",
                    "'resource_type_associations' must be an array",
                ))
            }
        };
        let item = |name: String, body: Value| Item {
            name,
            body,
            created_at: now,
            updated_at: now,
        };
        let objects: Vec<Item> = match body.get("objects") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Value::Object(m) => object_input(m).map(|(n, b)| item(n, b)),
                    _ => Err(invalid("namespace", "objects must be objects")),
                })
                .collect::<Result<_>>()?,
            Some(_) => return Err(invalid("namespace", "'objects' must be an array")),
        };
        let properties: Vec<Item> = property_map("namespace", body.get("properties"))?
            .into_iter()
            .map(|(n, d)| item(n, d))
            .collect();
        let tags: Vec<Item> = match body.get("tags") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| tag_name(v).map(|n| item(n, Value::Null)))
                .collect::<Result<_>>()?,
            Some(_) => return Err(invalid("namespace", "'tags' must be an array")),
        };
        if !associations.is_empty() {
            self.md_enforce(ctx, "add_metadef_resource_type_association", None)?;
        }
        if !objects.is_empty() {
            self.md_enforce(ctx, "add_metadef_object", None)?;
        }
        if !properties.is_empty() {
            self.md_enforce(ctx, "add_metadef_property", None)?;
        }
        if !tags.is_empty() {
            self.md_enforce(ctx, "add_metadef_tag", None)?;
        }
        let name = ns.namespace.clone();
        let mut tx = self.begin().await?;
        mdb::insert_namespace(tx.conn(), &ns).await.map_err(|e| {
            on_conflict(e, || {
                Error::conflict(format!(
                    "Metadata definition namespace={name} already exists."
                ))
            })
        })?;
        for a in &associations {
            mdb::ensure_resource_type(tx.conn(), &a.name, now).await?;
            mdb::insert_association(tx.conn(), &ns.id, a)
                .await
                .map_err(|e| on_conflict(e, || association_duplicate(&name, &a.name)))?;
        }
        for (kind, items) in [
            (Kind::Object, &objects),
            (Kind::Property, &properties),
            (Kind::Tag, &tags),
        ] {
            for it in items {
                mdb::insert_item(tx.conn(), kind, &ns.id, it)
                    .await
                    .map_err(|e| on_conflict(e, || item_duplicate(kind, &name, &it.name)))?;
            }
        }
        tx.commit().await?;
        Ok(NamespaceDetail {
            ns,
            associations,
            objects,
            properties,
            tags,
        })
    }

    /// The namespace attributes of a create or update body. On update the
    /// optional ones fall back to the create defaults, as in Glance.
    fn namespace_fields(
        &self,
        ctx: &AuthContext,
        body: &Map<String, Value>,
        old: Option<&Namespace>,
        now: i64,
    ) -> Result<Namespace> {
        let namespace = req_string("namespace", body, "namespace", 80)?;
        let display_name = opt_string("namespace", body, "display_name", 80)?;
        let description = opt_string("namespace", body, "description", 500)?;
        let visibility = match opt_string("namespace", body, "visibility", 80)? {
            None => "private".to_string(),
            Some(v) if v == "public" || v == "private" => v,
            Some(v) => {
                return Err(invalid(
                    "namespace",
                    format!("'{v}' is not one of ['public', 'private']"),
                ))
            }
        };
        let protected = match body.get("protected") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                return Err(invalid(
                    "namespace",
                    format!("{v} is not of type 'boolean'"),
                ))
            }
        };
        let owner = opt_string("namespace", body, "owner", 255)?
            .or_else(|| ctx.project_id().map(str::to_string));
        Ok(Namespace {
            id: old.map(|o| o.id.clone()).unwrap_or_else(common::ids::uuid),
            namespace,
            display_name,
            description,
            visibility,
            protected,
            owner,
            created_at: old.map(|o| o.created_at).unwrap_or(now),
            updated_at: now,
        })
    }

    /// `GET /v2/metadefs/namespaces/{ns}`; with `resource_type`, property
    /// names carry that association's prefix.
    pub async fn show_namespace(
        &self,
        ctx: &AuthContext,
        name: &str,
        resource_type: Option<&str>,
    ) -> Result<NamespaceDetail> {
        let ns = self
            .readable_namespace(ctx, name, "get_metadef_namespace")
            .await?;
        for action in [
            "list_metadef_resource_types",
            "get_metadef_objects",
            "get_metadef_properties",
            "get_metadef_tags",
        ] {
            self.md_enforce(ctx, action, Some(&ns))?;
        }
        let pool = &self.db.pool;
        let associations = mdb::list_associations(pool, &ns.id).await?;
        let mut objects = mdb::list_items(pool, Kind::Object, &ns.id).await?;
        let mut properties = mdb::list_items(pool, Kind::Property, &ns.id).await?;
        let tags = mdb::list_items(pool, Kind::Tag, &ns.id).await?;
        let prefix = resource_type
            .and_then(|rt| associations.iter().find(|a| a.name == rt))
            .and_then(|a| a.prefix.clone())
            .filter(|p| !p.is_empty());
        if let Some(p) = prefix {
            for prop in &mut properties {
                prop.name = format!("{p}{}", prop.name);
            }
            for obj in &mut objects {
                prefix_object(&mut obj.body, &p);
            }
        }
        Ok(NamespaceDetail {
            ns,
            associations,
            objects,
            properties,
            tags,
        })
    }

    /// `PUT /v2/metadefs/namespaces/{ns}`: the body replaces the namespace's
    /// own attributes (not its contents).
    pub async fn update_namespace(
        &self,
        ctx: &AuthContext,
        name: &str,
        body: Value,
    ) -> Result<Namespace> {
        let old = self.writable_namespace(ctx, name).await?;
        let body = as_object("namespace", body)?;
        check_read_only(&body)?;
        self.md_enforce(ctx, "modify_metadef_namespace", Some(&old))?;
        let ns = self.namespace_fields(ctx, &body, Some(&old), self.now())?;
        let new_name = ns.namespace.clone();
        let mut tx = self.begin().await?;
        let updated = mdb::update_namespace(tx.conn(), &ns).await.map_err(|e| {
            on_conflict(e, || {
                Error::conflict(format!(
                    "Metadata definition namespace={new_name} already exists."
                ))
            })
        })?;
        if !updated {
            return Err(Error::not_found(format!("Namespace {name} not found")));
        }
        tx.commit().await?;
        Ok(ns)
    }

    /// The visible namespace `name` for a change (Glance's words for a
    /// namespace the caller cannot see differ from show's).
    async fn writable_namespace(&self, ctx: &AuthContext, name: &str) -> Result<Namespace> {
        self.visible_namespace(ctx, name)
            .await
            .map_err(|_| Error::not_found(format!("Namespace {name} not found")))
    }

    pub async fn delete_namespace(&self, ctx: &AuthContext, name: &str) -> Result<()> {
        let ns = self.writable_namespace(ctx, name).await?;
        self.md_enforce(ctx, "delete_metadef_namespace", Some(&ns))?;
        let mut tx = self.begin().await?;
        if !mdb::delete_namespace(tx.conn(), &ns.id).await? {
            // Protected (the DELETE checks it) or gone meanwhile.
            return match mdb::get_namespace(&self.db.pool, name).await? {
                Some(n) if n.protected => Err(protected_namespace(name)),
                _ => Err(Error::not_found(format!("Namespace {name} not found"))),
            };
        }
        tx.commit().await?;
        Ok(())
    }

    /// `DELETE …/namespaces/{ns}/{objects,properties,tags}`: empties the
    /// namespace of one kind, which counts as deleting the namespace for
    /// policy and protection, as in Glance.
    pub async fn delete_namespace_items(
        &self,
        ctx: &AuthContext,
        name: &str,
        kind: Kind,
    ) -> Result<()> {
        let ns = self.writable_namespace(ctx, name).await?;
        self.md_enforce(ctx, "delete_metadef_namespace", Some(&ns))?;
        if kind == Kind::Tag {
            self.md_enforce(ctx, "delete_metadef_tags", Some(&ns))?;
        }
        if ns.protected {
            return Err(protected_namespace(name));
        }
        let mut tx = self.begin().await?;
        mdb::delete_all_items(tx.conn(), kind, &ns.id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The objects, properties or tags of namespace `name`.
    pub async fn list_items(
        &self,
        ctx: &AuthContext,
        name: &str,
        kind: Kind,
    ) -> Result<(Namespace, Vec<Item>)> {
        let ns = self.namespace_for(ctx, name, item_rules(kind).list).await?;
        let items = mdb::list_items(&self.db.pool, kind, &ns.id).await?;
        Ok((ns, items))
    }

    pub async fn get_item(
        &self,
        ctx: &AuthContext,
        name: &str,
        kind: Kind,
        item: &str,
    ) -> Result<Item> {
        let ns = self.namespace_for(ctx, name, item_rules(kind).get).await?;
        mdb::get_item(&self.db.pool, kind, &ns.id, item)
            .await?
            .ok_or_else(|| item_not_found(kind, name, item))
    }

    /// Creates an object or property from `body`, or tag `tag` (tags have
    /// no body: the name is in the path).
    pub async fn create_item(
        &self,
        ctx: &AuthContext,
        name: &str,
        kind: Kind,
        tag: Option<&str>,
        body: Value,
    ) -> Result<Item> {
        let ns = self.visible_namespace(ctx, name).await?;
        let (item_name, item_body) = match kind {
            Kind::Object => {
                let b = as_object("object", body)?;
                check_read_only(&b)?;
                object_input(&b)?
            }
            Kind::Property => {
                let b = as_object("property", body)?;
                check_read_only(&b)?;
                property_input(&b)?
            }
            Kind::Tag => {
                let t = tag.unwrap_or_default();
                (tag_name(&json!({ "name": t }))?, Value::Null)
            }
        };
        self.md_enforce(ctx, item_rules(kind).add, Some(&ns))?;
        let now = self.now();
        let it = Item {
            name: item_name,
            body: item_body,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.begin().await?;
        mdb::insert_item(tx.conn(), kind, &ns.id, &it)
            .await
            .map_err(|e| on_conflict(e, || item_duplicate(kind, name, &it.name)))?;
        tx.commit().await?;
        Ok(it)
    }

    /// `POST …/tags` with a list: replaces the namespace's tags, or adds to
    /// them with `X-Openstack-Append: true`. All or nothing.
    pub async fn create_tags(
        &self,
        ctx: &AuthContext,
        name: &str,
        body: Value,
        append: bool,
    ) -> Result<Vec<Item>> {
        let ns = self.visible_namespace(ctx, name).await?;
        let b = as_object("tags", body)?;
        check_read_only(&b)?;
        let names: Vec<String> = match b.get("tags") {
            Some(Value::Array(a)) => a.iter().map(tag_name).collect::<Result<_>>()?,
            None => return Err(invalid("tags", "'tags' is a required property")),
            Some(_) => return Err(invalid("tags", "'tags' must be an array")),
        };
        self.md_enforce(ctx, "add_metadef_tags", Some(&ns))?;
        let now = self.now();
        let items: Vec<Item> = names
            .into_iter()
            .map(|n| Item {
                name: n,
                body: Value::Null,
                created_at: now,
                updated_at: now,
            })
            .collect();
        let mut tx = self.begin().await?;
        if !append {
            mdb::delete_all_items(tx.conn(), Kind::Tag, &ns.id).await?;
        }
        for it in &items {
            mdb::insert_item(tx.conn(), Kind::Tag, &ns.id, it)
                .await
                .map_err(|e| on_conflict(e, || item_duplicate(Kind::Tag, name, &it.name)))?;
        }
        tx.commit().await?;
        Ok(items)
    }

    /// `PUT` on an object, property or tag: the body replaces it (and may
    /// rename it).
    pub async fn update_item(
        &self,
        ctx: &AuthContext,
        name: &str,
        kind: Kind,
        item: &str,
        body: Value,
    ) -> Result<Item> {
        let ns = self.visible_namespace(ctx, name).await?;
        let schema = kind_word(kind);
        let b = as_object(schema, body)?;
        check_read_only(&b)?;
        let (new_name, new_body) = match kind {
            Kind::Object => object_input(&b)?,
            Kind::Property => property_input(&b)?,
            Kind::Tag => (tag_name(&Value::Object(b.clone()))?, Value::Null),
        };
        self.md_enforce(ctx, item_rules(kind).modify, Some(&ns))?;
        let old = mdb::get_item(&self.db.pool, kind, &ns.id, item)
            .await?
            .ok_or_else(|| item_not_found(kind, name, item))?;
        let it = Item {
            name: new_name,
            body: new_body,
            created_at: old.created_at,
            updated_at: self.now(),
        };
        let mut tx = self.begin().await?;
        let updated = mdb::update_item(tx.conn(), kind, &ns.id, item, &it)
            .await
            .map_err(|e| on_conflict(e, || item_duplicate(kind, name, &it.name)))?;
        if !updated {
            return Err(item_not_found(kind, name, item));
        }
        tx.commit().await?;
        Ok(it)
    }

    pub async fn delete_item(
        &self,
        ctx: &AuthContext,
        name: &str,
        kind: Kind,
        item: &str,
    ) -> Result<()> {
        let ns = self
            .namespace_for(ctx, name, item_rules(kind).delete)
            .await?;
        if ns.protected {
            return Err(Error::forbidden(format!(
                "Metadata definition {} {item} is protected and cannot be deleted.",
                kind_word(kind)
            )));
        }
        let mut tx = self.begin().await?;
        if !mdb::delete_item(tx.conn(), kind, &ns.id, item).await? {
            return Err(item_not_found(kind, name, item));
        }
        tx.commit().await?;
        Ok(())
    }

    /// `GET /v2/metadefs/resource_types`.
    pub async fn list_resource_types(&self, ctx: &AuthContext) -> Result<Vec<ResourceType>> {
        self.md_enforce(ctx, "list_metadef_resource_types", None)?;
        Ok(mdb::list_resource_types(&self.db.pool).await?)
    }

    /// `GET …/namespaces/{ns}/resource_types`.
    pub async fn list_associations(
        &self,
        ctx: &AuthContext,
        name: &str,
    ) -> Result<Vec<Association>> {
        let ns = self.writable_namespace(ctx, name).await?;
        self.md_enforce(ctx, "list_metadef_resource_types", Some(&ns))?;
        if !self.md_allowed(ctx, "get_metadef_resource_type", Some(&ns)) {
            return Ok(Vec::new());
        }
        Ok(mdb::list_associations(&self.db.pool, &ns.id).await?)
    }

    /// `POST …/namespaces/{ns}/resource_types`: associates a resource type
    /// (created if new) with the namespace.
    pub async fn add_association(
        &self,
        ctx: &AuthContext,
        name: &str,
        body: Value,
    ) -> Result<Association> {
        let ns = self.writable_namespace(ctx, name).await?;
        let b = as_object("resource_type_association", body)?;
        check_read_only(&b)?;
        let now = self.now();
        let a = association_input(&b, now)?;
        self.md_enforce(ctx, "add_metadef_resource_type_association", Some(&ns))?;
        let mut tx = self.begin().await?;
        mdb::ensure_resource_type(tx.conn(), &a.name, now).await?;
        mdb::insert_association(tx.conn(), &ns.id, &a)
            .await
            .map_err(|e| on_conflict(e, || association_duplicate(name, &a.name)))?;
        tx.commit().await?;
        Ok(a)
    }

    pub async fn remove_association(
        &self,
        ctx: &AuthContext,
        name: &str,
        resource_type: &str,
    ) -> Result<()> {
        let ns = self.writable_namespace(ctx, name).await?;
        self.md_enforce(ctx, "remove_metadef_resource_type_association", Some(&ns))?;
        if ns.protected {
            return Err(Error::forbidden(format!(
                "Metadata definition resource-type-association {resource_type} is protected and cannot be deleted."
            )));
        }
        let mut tx = self.begin().await?;
        if !mdb::delete_association(tx.conn(), &ns.id, resource_type).await? {
            return Err(Error::not_found(format!(
                "The metadata definition resource-type association of resource-type={resource_type} to namespace={name}, was not found."
            )));
        }
        tx.commit().await?;
        Ok(())
    }
}

fn protected_namespace(name: &str) -> Error {
    Error::forbidden(format!(
        "Metadata definition namespace {name} is protected and cannot be deleted."
    ))
}

fn association_duplicate(ns: &str, rt: &str) -> Error {
    Error::conflict(format!(
        "The metadata definition resource-type association of resource-type={rt} to namespace={ns} already exists."
    ))
}

/// Prefixes an object's property names and required list (Glance's
/// `_prefix_property_name`).
fn prefix_object(body: &mut Value, prefix: &str) {
    if let Some(Value::Object(props)) = body.get_mut("properties") {
        let renamed: Map<String, Value> = std::mem::take(props)
            .into_iter()
            .map(|(k, v)| (format!("{prefix}{k}"), v))
            .collect();
        *props = renamed;
    }
    if let Some(Value::Array(req)) = body.get_mut("required") {
        for r in req.iter_mut() {
            if let Value::String(s) = r {
                *s = format!("{prefix}{s}");
            }
        }
    }
}
