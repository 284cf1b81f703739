-- CoHealth schema 5 (SQLite): sharing and your own data — grants, the audit
-- log, account deletion with a grace period, raw-sample retention.
-- Never edit once landed; add a new file instead.

-- Read access one person gives another to one category of their data.
-- category: 'vitals' | 'activity' | 'records' | 'appointments'.
CREATE TABLE data_grant (
    id INTEGER PRIMARY KEY,
    owner_person INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    grantee_person INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    category TEXT NOT NULL,
    until_ms INTEGER,
    created_ms INTEGER NOT NULL,
    created_by INTEGER REFERENCES app_user(id) ON DELETE SET NULL,
    revoked_ms INTEGER
);
CREATE INDEX data_grant_grantee ON data_grant(grantee_person, category);
CREATE INDEX data_grant_owner ON data_grant(owner_person);

-- Who read, exported, shared or deleted whose data. Kept when the actor's
-- account goes (actor ids are not foreign keys); removed with the subject.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    actor_user INTEGER,
    actor_person INTEGER,
    actor_name TEXT NOT NULL,
    subject_person INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    action TEXT NOT NULL,
    category TEXT,
    detail TEXT
);
CREATE INDEX audit_log_subject ON audit_log(subject_person, ts_ms);

-- An account deletion waiting out its grace period.
CREATE TABLE deletion_request (
    person_id INTEGER PRIMARY KEY REFERENCES person(id) ON DELETE CASCADE,
    requested_ms INTEGER NOT NULL,
    due_ms INTEGER NOT NULL,
    requested_by INTEGER REFERENCES app_user(id) ON DELETE SET NULL
);

-- Raw samples older than this many days are dropped (rollups stay); NULL keeps all.
ALTER TABLE household ADD COLUMN retention_days INTEGER;
-- An adult of the household who manages a person without an account (a young child).
ALTER TABLE person ADD COLUMN managed_by INTEGER REFERENCES person(id) ON DELETE SET NULL;
