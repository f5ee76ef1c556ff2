-- Notifications, templates and preferences: the first version of
-- notification-svc's schema.
CREATE TABLE notifications (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient         TEXT NOT NULL,
    channel           TEXT NOT NULL,
    message           TEXT NOT NULL,
    provider          TEXT NOT NULL DEFAULT '',
    provider_response TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL,
    retry_count       INTEGER NOT NULL DEFAULT 0,
    dedupe_key        TEXT UNIQUE,
    sent_at           TIMESTAMPTZ,
    delivered_at      TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notifications_recipient ON notifications (recipient, created_at DESC);

CREATE TABLE notification_templates (
    name       TEXT NOT NULL,
    channel    TEXT NOT NULL,
    subject    TEXT NOT NULL DEFAULT '',
    body       TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (name, channel)
);

CREATE TABLE notification_preferences (
    recipient  TEXT PRIMARY KEY,
    channels   TEXT[] NOT NULL DEFAULT '{}',
    opted_out  BOOLEAN NOT NULL DEFAULT false,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
