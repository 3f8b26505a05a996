-- Self-service subscriptions whose recurring billing was turned off because their purchaser
-- left (SS4): it comes back on when the purchaser's account is enabled again, unless the
-- purchaser or an admin changed it since.
ALTER TABLE subscriptions ADD COLUMN stopped_for_departure INTEGER NOT NULL DEFAULT 0;
