-- Indexes for keyset-paged lists (`db::list`): each list's default order
-- with the id as tie-breaker, so a page is an index range scan instead of
-- a sort of the whole table. Descending pages scan the same index
-- backwards.
CREATE INDEX images_created_at_id ON images (created_at, id);
CREATE INDEX image_tags_value ON image_tags (value);
