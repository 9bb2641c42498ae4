-- Object storage (Swift v1): accounts, containers and objects.
--
-- Container and object names are BYTEA so that both engines order and
-- compare them byte by byte, as Swift's listings (marker, end_marker,
-- prefix, delimiter) require, whatever the PostgreSQL database's collation
-- is. (SQLite gives BYTEA numeric affinity, which leaves the blobs the
-- service binds untouched.)
--
-- Counters (container_count, object_count, bytes_used) are kept by the same
-- transaction that changes the rows they count, so listings and counts
-- agree; every object write updates its container row first, which also
-- serialises writes within a container on PostgreSQL.

CREATE TABLE swift_accounts (
    account TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    put_timestamp BIGINT NOT NULL,
    -- {"x-account-meta-temp-url-key": "…", …}: lowercase header → value.
    metadata TEXT NOT NULL DEFAULT '{}',
    -- Quotas only a reseller admin sets (account_quotas' sysmeta).
    quota_bytes BIGINT,
    quota_count BIGINT,
    container_count BIGINT NOT NULL DEFAULT 0,
    object_count BIGINT NOT NULL DEFAULT 0,
    bytes_used BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE swift_containers (
    account TEXT NOT NULL REFERENCES swift_accounts(account),
    name BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    put_timestamp BIGINT NOT NULL,
    -- X-Container-Meta-* (quotas, temp-URL keys …): lowercase header → value.
    metadata TEXT NOT NULL DEFAULT '{}',
    read_acl TEXT,
    write_acl TEXT,
    -- Legacy versioned writes: archive container and 'stack' or 'history'.
    versions_location TEXT,
    versions_mode TEXT,
    object_count BIGINT NOT NULL DEFAULT 0,
    bytes_used BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account, name)
);

CREATE TABLE swift_objects (
    account TEXT NOT NULL,
    container BYTEA NOT NULL,
    name BYTEA NOT NULL,
    -- The data file (a fresh id per write: files are never rewritten).
    file_id TEXT NOT NULL,
    size BIGINT NOT NULL,
    etag TEXT NOT NULL,
    content_type TEXT NOT NULL,
    -- Microseconds; X-Timestamp and Last-Modified.
    created_at BIGINT NOT NULL,
    -- X-Object-Meta-*, Content-Disposition, Content-Encoding: header → value.
    metadata TEXT NOT NULL DEFAULT '{}',
    -- X-Delete-At, seconds since the epoch.
    delete_at BIGINT,
    -- X-Object-Manifest of a dynamic large object.
    manifest TEXT,
    -- Static large object manifests: the SLO's ETag and total size.
    slo_etag TEXT,
    slo_size BIGINT,
    PRIMARY KEY (account, container, name),
    FOREIGN KEY (account, container) REFERENCES swift_containers(account, name)
);

CREATE INDEX swift_objects_delete_at ON swift_objects (delete_at);

CREATE INDEX swift_objects_file ON swift_objects (file_id);
