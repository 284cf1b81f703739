-- CoHealth schema 4 (SQLite): account security (registration, two-factor,
-- email tokens, personal access tokens, session details, profiles, invitations).
-- Never edit once landed; add a new file instead.

ALTER TABLE household ADD COLUMN open_registration INTEGER NOT NULL DEFAULT 0;
ALTER TABLE household ADD COLUMN require_2fa INTEGER NOT NULL DEFAULT 0;

ALTER TABLE person ADD COLUMN date_of_birth TEXT;
ALTER TABLE person ADD COLUMN sex TEXT;
ALTER TABLE person ADD COLUMN height_cm REAL;
ALTER TABLE person ADD COLUMN units TEXT NOT NULL DEFAULT 'metric';
ALTER TABLE person ADD COLUMN phone TEXT;
ALTER TABLE person ADD COLUMN conditions TEXT;
ALTER TABLE person ADD COLUMN allergies TEXT;
ALTER TABLE person ADD COLUMN blood_type TEXT;
ALTER TABLE person ADD COLUMN onboarded_ms INTEGER;

ALTER TABLE app_user ADD COLUMN email_verified_ms INTEGER;
ALTER TABLE app_user ADD COLUMN password_changed_ms INTEGER;
-- Base32 TOTP secret; set while enrolling, live once totp_enabled_ms is set.
ALTER TABLE app_user ADD COLUMN totp_secret TEXT;
ALTER TABLE app_user ADD COLUMN totp_enabled_ms INTEGER;
-- The last accepted time step, so a code cannot be used twice.
ALTER TABLE app_user ADD COLUMN totp_last_step INTEGER;

-- 'full': signed in; 'mfa': password accepted, second factor still owed.
ALTER TABLE web_session ADD COLUMN stage TEXT NOT NULL DEFAULT 'full';
ALTER TABLE web_session ADD COLUMN user_agent TEXT;
ALTER TABLE web_session ADD COLUMN client_addr TEXT;

CREATE TABLE recovery_code (
    user_id INTEGER NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    used_ms INTEGER,
    PRIMARY KEY (user_id, code_hash)
);

-- Single-use links sent by email: password reset ('reset') and address check ('verify').
CREATE TABLE email_token (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    email TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    used_ms INTEGER
);
CREATE INDEX email_token_user ON email_token(user_id);

-- Personal access tokens for integrations; only a SHA-256 is kept.
CREATE TABLE personal_token (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER,
    last_used_ms INTEGER,
    revoked_ms INTEGER
);
CREATE INDEX personal_token_user ON personal_token(user_id);

-- Single-use invitations into the household.
CREATE TABLE invitation (
    token_hash TEXT PRIMARY KEY,
    household_id INTEGER NOT NULL REFERENCES household(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    email TEXT,
    created_by INTEGER REFERENCES app_user(id) ON DELETE SET NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    used_ms INTEGER,
    used_by INTEGER REFERENCES app_user(id) ON DELETE SET NULL
);
