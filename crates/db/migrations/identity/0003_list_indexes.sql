-- Indexes for keyset-paged lists (`db::list`): users are listed per domain
-- in id order, so a page is an index range scan instead of a sort of the
-- whole table.
CREATE INDEX users_domain_id ON users (domain_id, id);
