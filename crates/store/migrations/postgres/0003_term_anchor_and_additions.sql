-- Terms are counted from an anchor (purchase or reactivation) so renewals keep the day of the
-- month; rows from before start counting at their current term. Recent license additions, each
-- removable for 7 days, as a JSON array of [microseconds, count] pairs.
ALTER TABLE subscriptions ADD COLUMN term_anchor BIGINT;
ALTER TABLE subscriptions ADD COLUMN recent_additions TEXT NOT NULL DEFAULT '[]';
UPDATE subscriptions SET term_anchor = term_start WHERE term_anchor IS NULL;
