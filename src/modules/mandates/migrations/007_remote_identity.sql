-- Remote consent with the person's identity checked through OpenID Connect (FranceConnect), not
-- stated by the helper: the SMS carries a single-use link (its hash in code_hash, method 'oidc');
-- the person opens it on their own phone, signs in at the provider (an identity_flow of purpose
-- 'sms', bound to that phone's browser and to the consent request), reads the mandate and answers.
-- The former answer « OUI 123456 » (method 'reply') stays for the identity-document fallback only.
ALTER TABLE mandates.sms_consent ADD COLUMN method text NOT NULL DEFAULT 'reply' CHECK (method IN ('reply', 'oidc'));
CREATE UNIQUE INDEX sms_consent_link ON mandates.sms_consent (code_hash) WHERE method = 'oidc';

ALTER TABLE mandates.identity_flow DROP CONSTRAINT identity_flow_purpose_check;
ALTER TABLE mandates.identity_flow ADD CONSTRAINT identity_flow_purpose_check CHECK (purpose IN ('create', 'person', 'sms'));
ALTER TABLE mandates.identity_flow ADD COLUMN consent_id uuid REFERENCES mandates.sms_consent(id) ON DELETE CASCADE;
ALTER TABLE mandates.identity_flow ADD CONSTRAINT identity_flow_sms_consent CHECK ((purpose = 'sms') = (consent_id IS NOT NULL));

-- FranceConnect's logout: the id_token of the check is kept (only until the session at the provider
-- is ended, at most a day like the rest of the row) to send it as id_token_hint to end_session_endpoint;
-- logout_state is the state of that logout, checked on the way back.
ALTER TABLE mandates.identity_flow ADD COLUMN id_token text;
ALTER TABLE mandates.identity_flow ADD COLUMN logout_state text;
CREATE UNIQUE INDEX identity_flow_logout_state ON mandates.identity_flow (logout_state) WHERE logout_state IS NOT NULL;
