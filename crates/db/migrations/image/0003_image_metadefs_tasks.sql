-- Image (Glance) metadata definitions ("metadefs") and tasks. Portable SQL as
-- in 0001_image.sql: TEXT and BIGINT only, booleans as 0/1, times in microseconds.

-- Namespaces are addressed by their unique `namespace` name, which an update
-- may change; children refer to the stable `id` so a rename moves nothing.
CREATE TABLE metadef_namespaces (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL UNIQUE,
    display_name TEXT,
    description TEXT,
    visibility TEXT NOT NULL,
    protected BIGINT NOT NULL DEFAULT 0,
    owner TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- `required` is a JSON array of property names, `properties` a JSON object
-- of property definitions.
CREATE TABLE metadef_objects (
    id TEXT PRIMARY KEY,
    namespace_id TEXT NOT NULL REFERENCES metadef_namespaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    required TEXT NOT NULL DEFAULT '[]',
    properties TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (namespace_id, name)
);

-- `json_schema`: the property's definition (title, type, enum, …) as JSON.
CREATE TABLE metadef_properties (
    id TEXT PRIMARY KEY,
    namespace_id TEXT NOT NULL REFERENCES metadef_namespaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    json_schema TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (namespace_id, name)
);

-- Glance's tag names are unique case-insensitively (MySQL's collation); the
-- expression index makes both engines say so.
CREATE TABLE metadef_tags (
    id TEXT PRIMARY KEY,
    namespace_id TEXT NOT NULL REFERENCES metadef_namespaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX metadef_tags_name ON metadef_tags (namespace_id, lower(name));

-- Resource types are named by Heat's resource type names; an association
-- with an unknown name creates it. The types the default metadefs use are
-- seeded (protected), so a cloud without `db_load_metadefs` lists them too.
CREATE TABLE metadef_resource_types (
    name TEXT PRIMARY KEY,
    protected BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO metadef_resource_types (name, protected, created_at, updated_at) VALUES
    ('OS::Glance::Image', 1, 1796515200000000, 1796515200000000),
    ('OS::Cinder::Volume', 1, 1796515200000000, 1796515200000000),
    ('OS::Nova::Flavor', 1, 1796515200000000, 1796515200000000),
    ('OS::Nova::Aggregate', 1, 1796515200000000, 1796515200000000),
    ('OS::Nova::Server', 1, 1796515200000000, 1796515200000000);

CREATE TABLE metadef_namespace_resource_types (
    namespace_id TEXT NOT NULL REFERENCES metadef_namespaces(id) ON DELETE CASCADE,
    resource_type TEXT NOT NULL REFERENCES metadef_resource_types(name),
    prefix TEXT,
    properties_target TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, resource_type)
);

-- Tasks: the legacy `import` tasks of `POST /v2/tasks` and the
-- `api_image_import` tasks an image import records. `input` and `result`
-- are JSON (or NULL); `expires_at` is set when the task ends, and expired
-- tasks are no longer shown (and are removed when a task is next created).
CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    owner TEXT,
    image_id TEXT,
    request_id TEXT,
    user_id TEXT,
    input TEXT,
    result TEXT,
    message TEXT NOT NULL DEFAULT '',
    expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX tasks_image ON tasks (image_id);
CREATE INDEX tasks_owner ON tasks (owner);
