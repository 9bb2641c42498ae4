-- Identity API extensions: credentials, trusts, endpoint filtering,
-- policies, domain configuration, OAuth1, access rules, security compliance.

CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id TEXT,
    type TEXT NOT NULL,
    -- fernet-encrypted with the credential key repository
    encrypted_blob TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX credentials_user ON credentials (user_id);

CREATE TABLE trusts (
    id TEXT PRIMARY KEY,
    trustor_user_id TEXT NOT NULL,
    trustee_user_id TEXT NOT NULL,
    project_id TEXT,
    impersonation BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT,
    remaining_uses BIGINT,
    allow_redelegation BIGINT NOT NULL DEFAULT 0,
    redelegation_count BIGINT NOT NULL DEFAULT 0,
    redelegated_trust_id TEXT,
    deleted_at BIGINT,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);

CREATE TABLE trust_roles (
    trust_id TEXT NOT NULL REFERENCES trusts(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL,
    PRIMARY KEY (trust_id, role_id)
);

CREATE TABLE endpoint_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    filters TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE project_endpoints (
    project_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    PRIMARY KEY (project_id, endpoint_id)
);

CREATE TABLE project_endpoint_groups (
    project_id TEXT NOT NULL,
    endpoint_group_id TEXT NOT NULL REFERENCES endpoint_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, endpoint_group_id)
);

CREATE TABLE policies (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    blob TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}'
);

-- value is JSON
CREATE TABLE domain_configs (
    domain_id TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    grp TEXT NOT NULL,
    opt TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (domain_id, grp, opt)
);

CREATE TABLE access_rules (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    service TEXT NOT NULL,
    path TEXT NOT NULL,
    method TEXT NOT NULL,
    UNIQUE (user_id, service, path, method)
);

CREATE TABLE application_credential_access_rules (
    application_credential_id TEXT NOT NULL REFERENCES application_credentials(id) ON DELETE CASCADE,
    access_rule_id TEXT NOT NULL REFERENCES access_rules(id),
    PRIMARY KEY (application_credential_id, access_rule_id)
);

CREATE TABLE oauth1_consumers (
    id TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    secret_hash TEXT NOT NULL,
    -- the secret itself is needed to check HMAC-SHA1 signatures; stored
    -- encrypted with the credential keys
    encrypted_secret TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE oauth1_request_tokens (
    id TEXT PRIMARY KEY,
    encrypted_secret TEXT NOT NULL,
    consumer_id TEXT NOT NULL REFERENCES oauth1_consumers(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    authorizing_user_id TEXT,
    role_ids TEXT,
    verifier TEXT,
    expires_at BIGINT NOT NULL
);

CREATE TABLE oauth1_access_tokens (
    id TEXT PRIMARY KEY,
    encrypted_secret TEXT NOT NULL,
    consumer_id TEXT NOT NULL REFERENCES oauth1_consumers(id) ON DELETE CASCADE,
    authorizing_user_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    role_ids TEXT NOT NULL,
    expires_at BIGINT
);

CREATE TABLE password_history (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id);

ALTER TABLE users ADD COLUMN failed_auth_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN failed_auth_at BIGINT;
ALTER TABLE users ADD COLUMN password_expires_at BIGINT;
ALTER TABLE revocation_events ADD COLUMN trust_id TEXT;
ALTER TABLE revocation_events ADD COLUMN consumer_id TEXT;
ALTER TABLE revocation_events ADD COLUMN access_token_id TEXT;
