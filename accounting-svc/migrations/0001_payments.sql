-- Payments, invoices and the append-only ledger: the first version of
-- accounting-svc's schema.
CREATE TABLE payments (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id           BIGINT NOT NULL,
    method             TEXT NOT NULL,
    status             TEXT NOT NULL,
    currency           TEXT NOT NULL,
    amount_minor       BIGINT NOT NULL CHECK (amount_minor >= 0),
    captured_minor     BIGINT NOT NULL DEFAULT 0,
    refunded_minor     BIGINT NOT NULL DEFAULT 0,
    provider           TEXT NOT NULL,
    provider_reference TEXT,
    decline_reason     TEXT NOT NULL DEFAULT '',
    idempotency_key    TEXT UNIQUE,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (refunded_minor <= captured_minor)
);
CREATE INDEX payments_order ON payments (order_id);

CREATE TABLE invoices (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number             TEXT NOT NULL UNIQUE,
    order_id           BIGINT NOT NULL UNIQUE,
    currency           TEXT NOT NULL,
    lines              JSONB NOT NULL,
    subtotal_minor     BIGINT NOT NULL,
    discount_minor     BIGINT NOT NULL,
    delivery_fee_minor BIGINT NOT NULL,
    tax_minor          BIGINT NOT NULL,
    total_minor        BIGINT NOT NULL,
    status             TEXT NOT NULL,
    issued_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Append-only: every balance is a sum over these rows.
CREATE TABLE ledger_transactions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id   BIGINT REFERENCES payments (id),
    order_id     BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    currency     TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ledger_transactions_order ON ledger_transactions (order_id);
