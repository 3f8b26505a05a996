-- Billing records outlive their owner (BILL1, BILL2): a purchaser's billing account, its
-- billing profile and their cards are kept when their user account is deleted, so admins still
-- see who paid for what and with which card. owner_user_id stays the deleted user's id; their
-- name is kept in deleted_purchasers.
ALTER TABLE payment_methods DROP CONSTRAINT payment_methods_owner_user_id_fkey;
ALTER TABLE billing_accounts DROP CONSTRAINT billing_accounts_owner_user_id_fkey;
