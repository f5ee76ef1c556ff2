-- Each refund of a payment, with its reason and the ledger transaction
-- that records it.
CREATE TABLE refunds (
    id                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id            BIGINT NOT NULL REFERENCES payments (id),
    amount_minor          BIGINT NOT NULL CHECK (amount_minor > 0),
    reason                TEXT NOT NULL DEFAULT '',
    ledger_transaction_id BIGINT NOT NULL UNIQUE REFERENCES ledger_transactions (id),
    created_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id);
