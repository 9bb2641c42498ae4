-- An image upload in flight keeps `upload_seen_at` (microseconds since the
-- epoch, like the other times) fresh, and clears it when it ends. On a
-- store several processes share, an upload whose process stopped is known
-- by its stale lease and put back to `queued` by any surviving process.
ALTER TABLE images ADD COLUMN upload_seen_at BIGINT;
