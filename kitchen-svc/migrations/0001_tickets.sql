-- The kitchen's ticket queue: the first version of kitchen-svc's schema.
CREATE TABLE tickets (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id      BIGINT NOT NULL UNIQUE,
    order_number  TEXT NOT NULL,
    restaurant_id BIGINT NOT NULL,
    status        TEXT NOT NULL,
    fulfilment    TEXT NOT NULL,
    table_number  TEXT,
    reason        TEXT NOT NULL DEFAULT '',
    ready_by      TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at    TIMESTAMPTZ,
    ready_at      TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX tickets_restaurant_queue ON tickets (restaurant_id, created_at);

CREATE TABLE ticket_items (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id  BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    modifiers  JSONB NOT NULL DEFAULT '[]',
    special_instructions TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ticket_items_ticket ON ticket_items (ticket_id);
