-- A delivery claims a message with a random token; only the holder of the claim may mark it sent or failed.
ALTER TABLE outbox ADD COLUMN claim_token TEXT;
