-- Provider calls already handled, by the provider's own event id: a replay
-- of a signed call within its five minutes is recognised and changes
-- nothing.
CREATE TABLE webhook_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL CHECK (event_id <> ''),
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider, event_id)
);
