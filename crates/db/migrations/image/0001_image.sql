-- Image (Glance) schema. Portable SQL: TEXT and BIGINT only, booleans as 0/1,
-- times in microseconds since the epoch.

-- One row per image. Extra (additional) properties are a JSON object of
-- strings in `properties`. `upload_id` names the one upload or stage in
-- progress (status saving/uploading/importing): every write that ends it is
-- conditional on it, so two concurrent uploads cannot both finish.
-- `stored_bytes` is data on disk (uploaded or staged), `reserved_bytes`
-- quota held by the upload in progress; together they rebuild the usage
-- counters after a crash.
CREATE TABLE images (
    id TEXT PRIMARY KEY,
    name TEXT,
    status TEXT NOT NULL,
    visibility TEXT NOT NULL,
    owner TEXT,
    size BIGINT,
    virtual_size BIGINT,
    disk_format TEXT,
    container_format TEXT,
    checksum TEXT,
    os_hash_algo TEXT,
    os_hash_value TEXT,
    min_disk BIGINT NOT NULL DEFAULT 0,
    min_ram BIGINT NOT NULL DEFAULT 0,
    protected BIGINT NOT NULL DEFAULT 0,
    os_hidden BIGINT NOT NULL DEFAULT 0,
    properties TEXT NOT NULL DEFAULT '{}',
    upload_id TEXT,
    stored_bytes BIGINT NOT NULL DEFAULT 0,
    reserved_bytes BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX images_owner ON images (owner);
CREATE INDEX images_visibility ON images (visibility);

CREATE TABLE image_tags (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    value TEXT NOT NULL,
    PRIMARY KEY (image_id, value)
);

CREATE TABLE image_members (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (image_id, member_id)
);
CREATE INDEX image_members_member ON image_members (member_id);

-- Per-project usage, changed only by conditional UPDATEs (`… WHERE images
-- + 1 <= limit`), so concurrent creates and uploads cannot overshoot a quota.
CREATE TABLE image_usage (
    project_id TEXT PRIMARY KEY,
    images BIGINT NOT NULL DEFAULT 0,
    bytes BIGINT NOT NULL DEFAULT 0
);
