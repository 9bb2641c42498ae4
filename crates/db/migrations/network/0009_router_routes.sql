-- Extra routes (the `extraroute` extension): a router's `routes`, a JSON
-- list of [destination, nexthop] pairs in the order they were given.
ALTER TABLE routers ADD COLUMN routes TEXT NOT NULL DEFAULT '[]';
