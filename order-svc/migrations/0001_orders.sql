-- Customers and orders: the first version of order-svc's schema.
CREATE TABLE customers (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone           TEXT UNIQUE,
    name            TEXT NOT NULL DEFAULT '',
    email           TEXT NOT NULL DEFAULT '',
    saved_addresses JSONB NOT NULL DEFAULT '[]',
    preferred_payment_method TEXT,
    order_count     INTEGER NOT NULL DEFAULT 0,
    last_order_at   TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_number     TEXT NOT NULL UNIQUE,
    restaurant_id    BIGINT NOT NULL,
    customer_id      BIGINT REFERENCES customers (id),
    order_type       TEXT NOT NULL,
    source           TEXT NOT NULL,
    status           TEXT NOT NULL,
    table_number     TEXT,
    delivery_address JSONB,
    currency         TEXT NOT NULL,
    subtotal_minor   BIGINT NOT NULL,
    discount_minor   BIGINT NOT NULL DEFAULT 0,
    delivery_fee_minor BIGINT NOT NULL DEFAULT 0,
    tax_minor        BIGINT NOT NULL DEFAULT 0,
    total_minor      BIGINT NOT NULL,
    coupon_code      TEXT,
    payment_method   TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX orders_restaurant_created ON orders (restaurant_id, created_at DESC);
CREATE INDEX orders_customer_created ON orders (customer_id, created_at DESC);

CREATE TABLE order_items (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id         BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    menu_item_id     BIGINT NOT NULL,
    name             TEXT NOT NULL,
    quantity         INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    unit_price_minor BIGINT NOT NULL,
    options          JSONB NOT NULL DEFAULT '[]',
    special_instructions TEXT NOT NULL DEFAULT ''
);
CREATE INDEX order_items_order ON order_items (order_id);

CREATE TABLE order_status_history (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX order_status_history_order ON order_status_history (order_id, id);
