-- Nova's `instances.auto_disk_config`: whether the guest's root partition
-- is grown to fill its disk (`OS-DCF:diskConfig` AUTO, 1) or left as the
-- image made it (MANUAL, 0). Set at create (the request, else the image's
-- `auto_disk_config` property) and by update, rebuild and resize.
ALTER TABLE compute_instances ADD COLUMN auto_disk_config BIGINT NOT NULL DEFAULT 0;
