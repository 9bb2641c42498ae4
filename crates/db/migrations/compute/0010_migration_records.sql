-- What `GET /os-migrations` shows of each migration (Nova's `migrations`
-- table): the integer `id` Nova's API prints (given as MAX + 1 under the
-- write lock, as aggregate ids are), the user and project that started it
-- (2.80), and the nodes and the destination's address. Cold and live
-- migrations are rows here too (`migration_type` `migration`,
-- `live-migration`), beside resizes.
ALTER TABLE compute_migrations ADD COLUMN legacy_id BIGINT;
ALTER TABLE compute_migrations ADD COLUMN user_id TEXT;
ALTER TABLE compute_migrations ADD COLUMN project_id TEXT;
ALTER TABLE compute_migrations ADD COLUMN source_node TEXT;
ALTER TABLE compute_migrations ADD COLUMN dest_node TEXT;
ALTER TABLE compute_migrations ADD COLUMN dest_host TEXT;

-- Resizes recorded before this migration: numbered in creation order,
-- their owner taken from the server (the closest record of who asked).
UPDATE compute_migrations SET legacy_id = (
    SELECT COUNT(*) FROM compute_migrations m
    WHERE m.created_at < compute_migrations.created_at
       OR (m.created_at = compute_migrations.created_at AND m.id <= compute_migrations.id)
);
UPDATE compute_migrations SET
    user_id = (SELECT i.user_id FROM compute_instances i WHERE i.id = compute_migrations.instance_id),
    project_id = (SELECT i.project_id FROM compute_instances i WHERE i.id = compute_migrations.instance_id),
    source_node = source_compute,
    dest_node = dest_compute;

CREATE UNIQUE INDEX compute_migrations_legacy_id ON compute_migrations (legacy_id);
CREATE INDEX compute_migrations_updated ON compute_migrations (updated_at);
