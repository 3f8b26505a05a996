-- Self-service purchases (SS1): what the purchaser pays with and paid, and whether the
-- subscription began as a trial (one trial per user and product; a no-card trial under
-- OnlyTrialsWithoutPaymentMethod blocks buying that product afterwards).
ALTER TABLE subscriptions ADD COLUMN payment_method_id TEXT;
-- Minor units per license per billing period when bought, in `currency`.
ALTER TABLE subscriptions ADD COLUMN price_minor BIGINT;
ALTER TABLE subscriptions ADD COLUMN currency TEXT;
ALTER TABLE subscriptions ADD COLUMN began_as_trial BIGINT NOT NULL DEFAULT 0;
-- The policy value in force when a trial began (POL1), for the rule on buying after it.
ALTER TABLE subscriptions ADD COLUMN trial_policy TEXT;
ALTER TABLE subscriptions ADD COLUMN cancel_feedback TEXT;
CREATE UNIQUE INDEX subscriptions_one_trial ON subscriptions (tenant_id, purchaser_id, sku_id) WHERE began_as_trial = 1;
CREATE INDEX subscriptions_purchaser ON subscriptions (tenant_id, purchaser_id);
