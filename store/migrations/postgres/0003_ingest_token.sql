-- Bearer tokens that let one device (a phone exporter) post readings over HTTP.
-- Only a SHA-256 of each token is kept; the token itself is shown once.
CREATE TABLE ingest_token (
    token_hash TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    last_used_ms BIGINT
);
CREATE INDEX ingest_token_device ON ingest_token(device_id);
