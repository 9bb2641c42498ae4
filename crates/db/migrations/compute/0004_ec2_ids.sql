-- EC2 ids for the metadata API (Nova's `instance_id_mappings` and
-- `s3_images`): the integer behind a server's `instance-id` (`i-%08x`)
-- and its image's `ami-id` (`ami-%08x`), keyed by their UUID. One is
-- given the first time a server's metadata is read and never reused, so
-- it stays stable for the server's life.
CREATE TABLE compute_ec2_ids (
    id BIGINT PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE
);
