-- Invoices follow their order: issued from `order.created` (or from the
-- order a payment names, whichever comes first) and brought up to date by
-- later views of the order, never by an older one.
ALTER TABLE invoices DROP COLUMN lines;
ALTER TABLE invoices ADD COLUMN order_updated_at TIMESTAMPTZ NOT NULL;
CREATE INDEX invoices_restaurant ON invoices (restaurant_id, issued_at, id);

CREATE TABLE invoice_lines (
    invoice_id       BIGINT NOT NULL REFERENCES invoices (id),
    position         INT NOT NULL CHECK (position >= 0),
    description      TEXT NOT NULL,
    quantity         INT NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT NOT NULL,
    total_minor      BIGINT NOT NULL,
    PRIMARY KEY (invoice_id, position)
);

-- A client's Idempotency-Key on a payment or a refund, unique per caller
-- (scope), with the fingerprint of the first request's body and what it
-- made. Written in the unit of work that makes the payment or the refund,
-- so a key is bound exactly when its result exists.
CREATE TABLE idempotency_keys (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint BYTEA NOT NULL,
    payment_id  BIGINT REFERENCES payments (id),
    refund_id   BIGINT REFERENCES refunds (id),
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key),
    CHECK ((payment_id IS NULL) <> (refund_id IS NULL))
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
