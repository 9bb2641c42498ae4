-- A router's external gateway is its port with device_owner
-- `network:router_gateway` (device_id the router's id); the router row
-- keeps only the SNAT switch that neutron stores with it.
ALTER TABLE routers ADD COLUMN enable_snat BIGINT NOT NULL DEFAULT 1;
