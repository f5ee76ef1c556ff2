-- What delivery-svc heard of an order before the order's delivery opened:
-- the kitchen's ready time, its cancellation. Such an event can come
-- first (the order.confirmed that opens the delivery being retried, or
-- held by a consumer that died); what it said is kept, and the opening
-- reads it.
CREATE TABLE order_notes (
    order_id         BIGINT PRIMARY KEY,
    food_ready_at    TIMESTAMPTZ,
    cancelled_reason TEXT,
    noted_at         TIMESTAMPTZ NOT NULL
);
