-- The real schema. The first version's tables were never written (no code
-- used them), so they are replaced rather than altered.
DROP TABLE ledger_transactions;
DROP TABLE invoices;
DROP TABLE payments;

-- One attempt to pay an order. An order has at most one payment that is
-- not declined or voided: paying again is allowed only after a decline.
CREATE TABLE payments (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id           BIGINT NOT NULL,
    restaurant_id      BIGINT NOT NULL,
    method             TEXT NOT NULL CHECK (method IN ('card', 'cash', 'mobile_money')),
    status             TEXT NOT NULL CHECK (status IN ('created', 'authorized', 'captured',
                           'partially_refunded', 'refunded', 'declined', 'voided')),
    currency           TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount_minor       BIGINT NOT NULL CHECK (amount_minor >= 0),
    captured_minor     BIGINT NOT NULL DEFAULT 0
                           CHECK (captured_minor BETWEEN 0 AND amount_minor),
    refunded_minor     BIGINT NOT NULL DEFAULT 0
                           CHECK (refunded_minor BETWEEN 0 AND captured_minor),
    provider           TEXT NOT NULL,
    provider_reference TEXT,
    decline_reason     TEXT,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX payments_order ON payments (order_id);
CREATE UNIQUE INDEX payments_one_live_per_order ON payments (order_id)
    WHERE status NOT IN ('declined', 'voided');
CREATE UNIQUE INDEX payments_provider_reference ON payments (provider, provider_reference)
    WHERE provider_reference IS NOT NULL;

-- An invoice per order, numbered 1, 2, 3, … within its restaurant.
CREATE TABLE invoice_numbers (
    restaurant_id BIGINT PRIMARY KEY,
    last_number   BIGINT NOT NULL CHECK (last_number > 0)
);
CREATE TABLE invoices (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    restaurant_id      BIGINT NOT NULL,
    number             BIGINT NOT NULL CHECK (number > 0),
    order_id           BIGINT NOT NULL UNIQUE,
    customer_id        BIGINT NOT NULL,
    currency           TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    lines              JSONB NOT NULL,
    subtotal_minor     BIGINT NOT NULL,
    discount_minor     BIGINT NOT NULL,
    delivery_fee_minor BIGINT NOT NULL,
    tax_minor          BIGINT NOT NULL,
    total_minor        BIGINT NOT NULL
                           CHECK (total_minor = subtotal_minor - discount_minor
                                  + delivery_fee_minor + tax_minor),
    status             TEXT NOT NULL CHECK (status IN ('open', 'paid', 'refunded', 'void')),
    issued_at          TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    UNIQUE (restaurant_id, number)
);
CREATE INDEX invoices_listing ON invoices (issued_at, id);

-- The ledger: double entry, append-only. A transaction's postings sum to
-- zero (checked when its writer commits), and no row is ever updated or
-- deleted — by anyone: the triggers refuse it whatever the code does.
CREATE TABLE ledger_transactions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('capture', 'refund')),
    payment_id    BIGINT NOT NULL REFERENCES payments (id),
    order_id      BIGINT NOT NULL,
    restaurant_id BIGINT NOT NULL,
    currency      TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX ledger_transactions_payment ON ledger_transactions (payment_id);
CREATE TABLE ledger_postings (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id BIGINT NOT NULL REFERENCES ledger_transactions (id),
    account        TEXT NOT NULL CHECK (account ~ '^(provider:[a-z_]+|restaurant:[0-9]+)$'),
    amount_minor   BIGINT NOT NULL CHECK (amount_minor <> 0)
);
CREATE INDEX ledger_postings_transaction ON ledger_postings (transaction_id);
CREATE INDEX ledger_postings_account ON ledger_postings (account);

CREATE FUNCTION ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER ledger_transactions_append_only
    BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();
CREATE TRIGGER ledger_transactions_no_truncate
    BEFORE TRUNCATE ON ledger_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_is_append_only();
CREATE TRIGGER ledger_postings_append_only
    BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();
CREATE TRIGGER ledger_postings_no_truncate
    BEFORE TRUNCATE ON ledger_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_is_append_only();

CREATE FUNCTION ledger_transaction_balances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT sum(amount_minor) FROM ledger_postings
        WHERE transaction_id = NEW.transaction_id) <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance', NEW.transaction_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER ledger_postings_balance
    AFTER INSERT ON ledger_postings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_transaction_balances();
