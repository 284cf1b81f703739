-- CoHealth schema 1 (SQLite). Never edit once landed; add a new file instead.
-- Times are UTC milliseconds since the Unix epoch (INTEGER).

CREATE TABLE household (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE person (
    id INTEGER PRIMARY KEY,
    household_id INTEGER NOT NULL REFERENCES household(id),
    display_name TEXT NOT NULL,
    time_zone TEXT NOT NULL DEFAULT 'UTC',
    created_ms INTEGER NOT NULL
);

CREATE TABLE app_user (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL UNIQUE REFERENCES person(id) ON DELETE CASCADE,
    email TEXT NOT NULL UNIQUE,
    username TEXT UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE web_session (
    id_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL
);
CREATE INDEX web_session_user ON web_session(user_id);

CREATE TABLE metric (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    unit TEXT NOT NULL,
    aggregation TEXT NOT NULL
);

CREATE TABLE device (
    id TEXT PRIMARY KEY,
    name TEXT,
    model TEXT,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    battery REAL,
    rssi INTEGER,
    person_id INTEGER REFERENCES person(id) ON DELETE SET NULL,
    claimed_ms INTEGER
);
CREATE INDEX device_person ON device(person_id);

CREATE TABLE source (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES device(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    sub_source TEXT NOT NULL,
    priority INTEGER NOT NULL,
    UNIQUE (device_id, kind, sub_source)
);

CREATE TABLE source_priority (
    person_id INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    priority INTEGER NOT NULL,
    PRIMARY KEY (person_id, kind)
);

CREATE TABLE sample (
    person_id INTEGER NOT NULL,
    metric_id INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    source_id INTEGER NOT NULL,
    value REAL NOT NULL,
    offset_s INTEGER,
    PRIMARY KEY (person_id, metric_id, ts_ms, source_id)
) WITHOUT ROWID;

CREATE TABLE pending_sample (
    source_id INTEGER NOT NULL,
    metric_id INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    value REAL NOT NULL,
    offset_s INTEGER,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (source_id, metric_id, ts_ms)
);
CREATE INDEX pending_sample_device ON pending_sample(device_id);
CREATE INDEX pending_sample_received ON pending_sample(received_ms);

CREATE TABLE counter_state (
    source_id INTEGER NOT NULL,
    metric_id INTEGER NOT NULL,
    last_value REAL NOT NULL,
    last_ts_ms INTEGER NOT NULL,
    PRIMARY KEY (source_id, metric_id)
);

CREATE TABLE rollup_minute (
    person_id INTEGER NOT NULL,
    metric_id INTEGER NOT NULL,
    bucket_ms INTEGER NOT NULL,
    n INTEGER NOT NULL,
    total REAL NOT NULL,
    lo REAL NOT NULL,
    hi REAL NOT NULL,
    PRIMARY KEY (person_id, metric_id, bucket_ms)
) WITHOUT ROWID;

CREATE TABLE rollup_hour (
    person_id INTEGER NOT NULL,
    metric_id INTEGER NOT NULL,
    bucket_ms INTEGER NOT NULL,
    n INTEGER NOT NULL,
    total REAL NOT NULL,
    lo REAL NOT NULL,
    hi REAL NOT NULL,
    PRIMARY KEY (person_id, metric_id, bucket_ms)
) WITHOUT ROWID;

CREATE TABLE rollup_day (
    person_id INTEGER NOT NULL,
    metric_id INTEGER NOT NULL,
    day TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    n INTEGER NOT NULL,
    total REAL NOT NULL,
    lo REAL NOT NULL,
    hi REAL NOT NULL,
    PRIMARY KEY (person_id, metric_id, day)
) WITHOUT ROWID;

CREATE TABLE dead_letter (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    topic TEXT NOT NULL,
    error TEXT NOT NULL,
    payload BLOB NOT NULL
);

INSERT INTO metric (id, name, unit, aggregation) VALUES
    (1, 'heart_rate', 'bpm', 'level'),
    (2, 'rr_interval', 'ms', 'level'),
    (3, 'hrv_rmssd', 'ms', 'level'),
    (4, 'resting_heart_rate', 'bpm', 'level'),
    (5, 'steps', 'count', 'sum'),
    (6, 'active_energy', 'kcal', 'sum'),
    (7, 'basal_energy', 'kcal', 'sum'),
    (8, 'distance', 'm', 'sum'),
    (9, 'speed', 'm/s', 'level'),
    (10, 'cadence', 'rpm', 'level'),
    (11, 'weight', 'kg', 'level'),
    (12, 'body_fat', '%', 'level'),
    (13, 'muscle_mass', 'kg', 'level'),
    (14, 'bmi', 'kg/m2', 'level'),
    (15, 'impedance', 'ohm', 'level'),
    (16, 'blood_pressure_systolic', 'mmHg', 'level'),
    (17, 'blood_pressure_diastolic', 'mmHg', 'level'),
    (18, 'blood_pressure_mean', 'mmHg', 'level'),
    (19, 'pulse_rate', 'bpm', 'level'),
    (20, 'spo2', '%', 'level'),
    (21, 'body_temperature', 'degC', 'level'),
    (22, 'battery', '%', 'level');
