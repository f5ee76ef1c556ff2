-- Restaurants, their menus and their coupons: the first version of
-- restaurant-svc's schema. Money is BIGINT minor units of the restaurant's
-- currency; every row of a restaurant stays when it is deleted (soft delete),
-- because orders and invoices still refer to it.

CREATE TABLE restaurants (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name               TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    phone              TEXT NOT NULL DEFAULT '',
    email              TEXT NOT NULL DEFAULT '',
    cuisine_type       TEXT NOT NULL DEFAULT '',
    street             TEXT NOT NULL,
    city               TEXT NOT NULL,
    state              TEXT NOT NULL DEFAULT '',
    zip_code           TEXT NOT NULL DEFAULT '',
    country            TEXT NOT NULL,
    latitude           DOUBLE PRECISION,
    longitude          DOUBLE PRECISION,
    currency           TEXT NOT NULL,
    timezone           TEXT NOT NULL,
    delivery_fee_minor BIGINT NOT NULL CHECK (delivery_fee_minor >= 0),
    avg_prep_minutes   INTEGER NOT NULL CHECK (avg_prep_minutes >= 0),
    tax_rate_bps       INTEGER NOT NULL CHECK (tax_rate_bps BETWEEN 0 AND 10000),
    active             BOOLEAN NOT NULL DEFAULT TRUE,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at         TIMESTAMPTZ,
    CHECK ((latitude IS NULL) = (longitude IS NULL))
);
-- Listings filter on these case-insensitively, and only on live rows.
CREATE INDEX restaurants_cuisine ON restaurants (lower(cuisine_type)) WHERE deleted_at IS NULL;
CREATE INDEX restaurants_city ON restaurants (lower(city)) WHERE deleted_at IS NULL;

CREATE TABLE opening_hours (
    restaurant_id BIGINT NOT NULL REFERENCES restaurants (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    day_of_week   SMALLINT NOT NULL CHECK (day_of_week BETWEEN 1 AND 7),
    opens         TIME NOT NULL,
    closes        TIME NOT NULL,
    PRIMARY KEY (restaurant_id, position)
);

CREATE TABLE categories (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    restaurant_id BIGINT NOT NULL REFERENCES restaurants (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    position      INTEGER NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX categories_restaurant ON categories (restaurant_id, position);

CREATE TABLE menu_items (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    restaurant_id BIGINT NOT NULL REFERENCES restaurants (id) ON DELETE CASCADE,
    -- Deleting a category leaves its items uncategorised.
    category_id   BIGINT REFERENCES categories (id) ON DELETE SET NULL,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    price_minor   BIGINT NOT NULL CHECK (price_minor >= 0),
    available     BOOLEAN NOT NULL DEFAULT TRUE,
    image_url     TEXT NOT NULL DEFAULT '',
    position      INTEGER NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX menu_items_restaurant ON menu_items (restaurant_id);
CREATE INDEX menu_items_category ON menu_items (category_id);

CREATE TABLE option_groups (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    restaurant_id BIGINT NOT NULL REFERENCES restaurants (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    min_select    INTEGER NOT NULL CHECK (min_select >= 0),
    -- 0 means no upper bound.
    max_select    INTEGER NOT NULL CHECK (max_select >= 0),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX option_groups_restaurant ON option_groups (restaurant_id);

CREATE TABLE options (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    option_group_id   BIGINT NOT NULL REFERENCES option_groups (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    price_delta_minor BIGINT NOT NULL,
    available         BOOLEAN NOT NULL DEFAULT TRUE,
    position          INTEGER NOT NULL
);
CREATE INDEX options_group ON options (option_group_id, position);

-- Which option groups an item offers, in display order.
CREATE TABLE menu_item_option_groups (
    menu_item_id    BIGINT NOT NULL REFERENCES menu_items (id) ON DELETE CASCADE,
    option_group_id BIGINT NOT NULL REFERENCES option_groups (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    PRIMARY KEY (menu_item_id, option_group_id)
);
CREATE INDEX menu_item_option_groups_group ON menu_item_option_groups (option_group_id);

CREATE TABLE coupons (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    restaurant_id     BIGINT NOT NULL REFERENCES restaurants (id) ON DELETE CASCADE,
    -- Upper case, so the unique constraint is case-insensitive.
    code              TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    kind              TEXT NOT NULL CHECK (kind IN ('percent', 'fixed')),
    value             BIGINT NOT NULL CHECK (value > 0),
    valid_from        TIMESTAMPTZ NOT NULL,
    valid_until       TIMESTAMPTZ CHECK (valid_until > valid_from),
    min_order_minor   BIGINT NOT NULL DEFAULT 0 CHECK (min_order_minor >= 0),
    -- 0 means no such limit, for the three below.
    max_redemptions   BIGINT NOT NULL DEFAULT 0 CHECK (max_redemptions >= 0),
    max_per_customer  BIGINT NOT NULL DEFAULT 0 CHECK (max_per_customer >= 0),
    first_n_customers BIGINT NOT NULL DEFAULT 0 CHECK (first_n_customers >= 0),
    active            BOOLEAN NOT NULL DEFAULT TRUE,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT coupons_code_unique UNIQUE (restaurant_id, code)
);

-- One row per order that used a coupon. A released row no longer holds a
-- slot of max_redemptions or max_per_customer, but its customer still counts
-- among the first N.
CREATE TABLE coupon_redemptions (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    restaurant_id  BIGINT NOT NULL REFERENCES restaurants (id) ON DELETE CASCADE,
    coupon_id      BIGINT NOT NULL REFERENCES coupons (id) ON DELETE CASCADE,
    order_ref      TEXT NOT NULL,
    customer_ref   TEXT NOT NULL,
    discount_minor BIGINT NOT NULL CHECK (discount_minor >= 0),
    redeemed_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    released_at    TIMESTAMPTZ,
    CONSTRAINT coupon_redemptions_order_unique UNIQUE (restaurant_id, order_ref)
);
CREATE INDEX coupon_redemptions_coupon ON coupon_redemptions (coupon_id, customer_ref);
