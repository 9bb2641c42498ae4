-- Remote console tokens (Nova's `console_auth_tokens`): the SHA-256 of
-- each token handed out in a console URL (the token itself is never
-- stored), the server and console type it opens, and when it expires
-- (microseconds since the epoch). Expired rows are refused and purged.
CREATE TABLE compute_console_tokens (
    token_hash TEXT PRIMARY KEY,
    instance_uuid TEXT NOT NULL,
    console_type TEXT NOT NULL,
    host TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX compute_console_tokens_expires ON compute_console_tokens (expires_at);
