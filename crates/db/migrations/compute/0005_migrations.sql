-- Resizes in progress and done (Nova's `migrations` table, one row per
-- resize): the flavor a server had before, so a revert can restore it,
-- and the hosts it went between. `status` follows Nova's: pre-migrating,
-- finished (waiting for confirm or revert), confirming, confirmed,
-- reverting, reverted, error.
CREATE TABLE compute_migrations (
    id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    migration_type TEXT NOT NULL,
    source_compute TEXT,
    dest_compute TEXT,
    old_flavor TEXT NOT NULL,
    new_flavor TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX compute_migrations_instance ON compute_migrations (instance_id);

-- A shelved server's snapshot (Nova's `shelved_image_id`, `shelved_at`
-- and `shelved_host` system metadata): the image unshelve boots from and
-- then deletes.
CREATE TABLE compute_shelved (
    instance_id TEXT PRIMARY KEY,
    image_id TEXT NOT NULL,
    shelved_host TEXT,
    shelved_at BIGINT NOT NULL
);
