-- The ticket queue in full, grown from the first schema (whose tables no
-- code ever wrote, so every constraint below holds on them).

ALTER TABLE tickets
    ADD CONSTRAINT tickets_order_id_positive CHECK (order_id > 0),
    ADD CONSTRAINT tickets_restaurant_id_positive CHECK (restaurant_id > 0),
    ADD CONSTRAINT tickets_status_known CHECK (status IN
        ('queued', 'accepted', 'preparing', 'ready', 'picked_up', 'cancelled', 'rejected')),
    ADD CONSTRAINT tickets_fulfilment_known CHECK (fulfilment IN ('table', 'pickup', 'delivery')),
    ALTER COLUMN table_number SET DEFAULT '',
    ALTER COLUMN ready_by SET NOT NULL,
    ALTER COLUMN created_at DROP DEFAULT,
    ALTER COLUMN updated_at DROP DEFAULT,
    ADD COLUMN notes TEXT NOT NULL DEFAULT '',
    ADD COLUMN accepted_at TIMESTAMPTZ,
    ADD COLUMN picked_up_at TIMESTAMPTZ,
    -- Grows by one with every change: the compare-and-set guard of updates
    -- and how watchers drop stale copies.
    ADD COLUMN version BIGINT NOT NULL DEFAULT 1 CHECK (version > 0);

UPDATE tickets SET table_number = '' WHERE table_number IS NULL;
ALTER TABLE tickets
    ALTER COLUMN table_number SET NOT NULL,
    -- Only table service has a table, so a pickup ticket with one cannot
    -- be stored.
    ADD CONSTRAINT tickets_table_only_for_tables
        CHECK (fulfilment = 'table' OR table_number = '');

-- The display's queue: a restaurant's open tickets, oldest first.
DROP INDEX tickets_restaurant_queue;
CREATE INDEX tickets_open_queue ON tickets (restaurant_id, created_at, id)
    WHERE status IN ('queued', 'accepted', 'preparing', 'ready');
-- Listings of any status, oldest first.
CREATE INDEX tickets_by_restaurant ON tickets (restaurant_id, created_at, id);
-- Preparation statistics over a recent window.
CREATE INDEX tickets_ready_at ON tickets (restaurant_id, ready_at)
    WHERE ready_at IS NOT NULL;

-- Lines keep the order they were given in; modifiers are plain names.
ALTER TABLE ticket_items
    ADD COLUMN position INTEGER NOT NULL DEFAULT 0 CHECK (position >= 0),
    DROP COLUMN modifiers,
    ADD COLUMN modifiers TEXT[] NOT NULL DEFAULT '{}';
DROP INDEX ticket_items_ticket;
CREATE UNIQUE INDEX ticket_items_ticket_position ON ticket_items (ticket_id, position);

-- Orders whose cancellation arrived while they had no ticket. Events of one
-- order can be applied out of order when one of them is retried, so a late
-- order.confirmed must not queue food for an order already cancelled.
CREATE TABLE cancelled_orders (
    order_id     BIGINT PRIMARY KEY,
    cancelled_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
