-- Customers, orders, their lines and history, guest access tokens,
-- idempotency keys and coupon releases: order-svc's whole schema.

-- Registered customers keep the positive id the auth system gave them;
-- guest profiles take negative ids from this sequence, so the two kinds
-- share one id space and never collide.
CREATE SEQUENCE guest_customer_ids AS BIGINT
    INCREMENT BY -1 MINVALUE -9223372036854775807 MAXVALUE -1 START WITH -1;

CREATE TABLE customers (
    id                       BIGINT PRIMARY KEY CHECK (id <> 0),
    phone                    TEXT,
    name                     TEXT NOT NULL DEFAULT '',
    email                    TEXT NOT NULL DEFAULT '',
    preferred_payment_method TEXT CHECK (preferred_payment_method IN ('card', 'cash', 'mobile_money')),
    order_count              INTEGER NOT NULL DEFAULT 0,
    last_order_at            TIMESTAMPTZ,
    created_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (id > 0 OR phone IS NOT NULL)
);
-- A guest profile is keyed by its phone; a registered customer's phone is
-- theirs alone among registered customers. The two kinds may share a phone:
-- a guest checkout never reaches into an account.
CREATE UNIQUE INDEX customers_guest_phone ON customers (phone) WHERE id < 0;
CREATE UNIQUE INDEX customers_registered_phone ON customers (phone) WHERE id > 0;

-- Most recent first (smallest position).
CREATE TABLE customer_addresses (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    street      TEXT NOT NULL,
    city        TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT '',
    zip_code    TEXT NOT NULL DEFAULT '',
    country     TEXT NOT NULL
);
CREATE INDEX customer_addresses_customer ON customer_addresses (customer_id, position);

CREATE TABLE orders (
    id                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_number           TEXT NOT NULL UNIQUE,
    restaurant_id          BIGINT NOT NULL,
    restaurant_name        TEXT NOT NULL,
    customer_id            BIGINT NOT NULL REFERENCES customers (id),
    guest                  BOOLEAN NOT NULL,
    contact_name           TEXT NOT NULL DEFAULT '',
    contact_phone          TEXT NOT NULL DEFAULT '',
    contact_email          TEXT NOT NULL DEFAULT '',
    order_type             TEXT NOT NULL CHECK (order_type IN ('dine_in', 'takeout', 'delivery')),
    source                 TEXT NOT NULL CHECK (source IN ('web', 'app', 'frontdesk', 'phone', 'chat')),
    status                 TEXT NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'PREPARING',
                               'READY', 'OUT_FOR_DELIVERY', 'COMPLETED', 'CANCELLED')),
    table_number           TEXT,
    delivery_street        TEXT,
    delivery_city          TEXT,
    delivery_state         TEXT,
    delivery_zip_code      TEXT,
    delivery_country       TEXT,
    currency               TEXT NOT NULL,
    subtotal_minor         BIGINT NOT NULL CHECK (subtotal_minor >= 0),
    discount_minor         BIGINT NOT NULL CHECK (discount_minor BETWEEN 0 AND subtotal_minor),
    delivery_fee_minor     BIGINT NOT NULL CHECK (delivery_fee_minor >= 0),
    tax_minor              BIGINT NOT NULL CHECK (tax_minor >= 0),
    total_minor            BIGINT NOT NULL CHECK (total_minor >= 0),
    tax_rate_bps           INTEGER NOT NULL,
    coupon_code            TEXT,
    coupon_kind            TEXT CHECK (coupon_kind IN ('percent', 'fixed')),
    coupon_value           BIGINT,
    coupon_min_order_minor BIGINT,
    payment_method         TEXT CHECK (payment_method IN ('card', 'cash', 'mobile_money')),
    notes                  TEXT NOT NULL DEFAULT '',
    pickup_street          TEXT NOT NULL DEFAULT '',
    pickup_city            TEXT NOT NULL DEFAULT '',
    pickup_state           TEXT NOT NULL DEFAULT '',
    pickup_zip_code        TEXT NOT NULL DEFAULT '',
    pickup_country         TEXT NOT NULL DEFAULT '',
    pickup_latitude        DOUBLE PRECISION,
    pickup_longitude       DOUBLE PRECISION,
    prep_minutes           INTEGER NOT NULL DEFAULT 0,
    version                BIGINT NOT NULL DEFAULT 1,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    confirmed_at           TIMESTAMPTZ,
    CHECK ((order_type = 'dine_in') = (table_number IS NOT NULL)),
    CHECK ((order_type = 'delivery') = (delivery_street IS NOT NULL)),
    CHECK ((coupon_code IS NULL) = (coupon_kind IS NULL))
);
CREATE INDEX orders_newest ON orders (id DESC);
CREATE INDEX orders_restaurant ON orders (restaurant_id, id DESC);
CREATE INDEX orders_customer ON orders (customer_id, id DESC);
CREATE INDEX orders_created ON orders (created_at);
-- The payment timeout scans only what is still waiting.
CREATE INDEX orders_pending ON orders (created_at) WHERE status = 'PENDING';

-- Options are kept as three parallel arrays: id, name and price delta as
-- they were when the line was last priced.
CREATE TABLE order_lines (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id             BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    menu_item_id         BIGINT NOT NULL,
    name                 TEXT NOT NULL,
    quantity             INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    unit_price_minor     BIGINT NOT NULL,
    line_total_minor     BIGINT NOT NULL,
    option_ids           BIGINT[] NOT NULL DEFAULT '{}',
    option_names         TEXT[] NOT NULL DEFAULT '{}',
    option_deltas_minor  BIGINT[] NOT NULL DEFAULT '{}',
    special_instructions TEXT NOT NULL DEFAULT '',
    CHECK (cardinality(option_ids) = cardinality(option_names)
       AND cardinality(option_ids) = cardinality(option_deltas_minor))
);
CREATE INDEX order_lines_order ON order_lines (order_id, id);

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

-- Only the SHA-256 of a guest's access token is kept. An order may have
-- several: a replayed create hands out a further one.
CREATE TABLE order_access_tokens (
    token_hash BYTEA PRIMARY KEY,
    order_id   BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX order_access_tokens_order ON order_access_tokens (order_id);

-- A create's idempotency key, unique per caller (scope). It is claimed
-- (claim, claimed_until) before any work, so a twin request waits for the
-- first one's outcome; the order's own transaction records the order.
CREATE TABLE idempotency_keys (
    scope         TEXT NOT NULL,
    key           TEXT NOT NULL,
    fingerprint   BYTEA NOT NULL,
    claim         BIGINT NOT NULL,
    claimed_until TIMESTAMPTZ NOT NULL,
    order_id      BIGINT REFERENCES orders (id) ON DELETE CASCADE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Coupon redemptions that must be given back to restaurant-svc, retried
-- until it accepts. A row with attempts = 0 and a future next_attempt_at is
-- a hold taken before redeeming: the order's own transaction deletes it, so
-- a redemption whose order was never written is released when it falls due.
CREATE TABLE coupon_releases (
    restaurant_id   BIGINT NOT NULL,
    order_ref       TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT NOT NULL DEFAULT '',
    released_at     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (restaurant_id, order_ref)
);
CREATE INDEX coupon_releases_due ON coupon_releases (next_attempt_at) WHERE released_at IS NULL;
