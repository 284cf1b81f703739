-- CoHealth schema 2 (SQLite): the portal's server-side secrets.
-- Never edit once landed; add a new file instead.

CREATE TABLE portal_secret (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
