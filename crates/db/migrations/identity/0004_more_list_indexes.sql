-- Indexes for the keyset-paged lists of projects, credentials and trusts
-- (`db::list`): each list's usual filter column followed by the id, its
-- order, so a page is an index range scan instead of a sort of every
-- matching row. The credentials index replaces the one on user_id alone,
-- which it covers. Application credentials and access rules are listed
-- per user, few at a time, from their (user_id, …) unique indexes.
CREATE INDEX projects_domain_id ON projects (domain_id, id);
DROP INDEX credentials_user;
CREATE INDEX credentials_user_id ON credentials (user_id, id);
CREATE INDEX trusts_trustor_user_id ON trusts (trustor_user_id, id);
CREATE INDEX trusts_trustee_user_id ON trusts (trustee_user_id, id);
