-- A TOTP card becomes a sign-in factor only once its holder confirms it from their own session
-- (security review, session 12): a référent may add any active account as a helper, and a card
-- they hold, associated to that account, used to lock it out at its next sign-in.
-- Cards associated before this migration stay in service (confirmed at their association).
ALTER TABLE mandates.totp_card ADD COLUMN confirmed_at timestamptz;
UPDATE mandates.totp_card SET confirmed_at = associated_at WHERE user_id IS NOT NULL;
ALTER TABLE mandates.totp_card ADD CONSTRAINT totp_card_confirmed_associated CHECK (confirmed_at IS NULL OR user_id IS NOT NULL);
