-- The real schema. The first version's tables were never written (no code
-- used them), so they are replaced rather than altered.
DROP TABLE deliveries;
DROP TABLE drivers;

-- Who drives. Their live position is kept in Redis (a GEO set, where the
-- nearest-driver search runs); the last one written here is what lasts.
-- `active` counts the deliveries they hold (assigned or picked up): a
-- driver is claimed by raising it, under the row's lock, so two
-- deliveries never take one driver past what a driver may hold.
CREATE TABLE drivers (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL,
    phone       TEXT NOT NULL UNIQUE,
    vehicle     TEXT NOT NULL,
    available   BOOLEAN NOT NULL DEFAULT false,
    latitude    DOUBLE PRECISION CHECK (latitude BETWEEN -90 AND 90),
    longitude   DOUBLE PRECISION CHECK (longitude BETWEEN -180 AND 180),
    location_at TIMESTAMPTZ,
    active      INT NOT NULL DEFAULT 0 CHECK (active >= 0),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CHECK ((latitude IS NULL) = (longitude IS NULL))
);

CREATE TABLE deliveries (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id         BIGINT NOT NULL UNIQUE,
    restaurant_id    BIGINT NOT NULL,
    tracking_id      TEXT NOT NULL UNIQUE,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'assigned', 'picked_up',
                         'delivered', 'failed', 'cancelled')),
    pickup_street    TEXT NOT NULL,
    pickup_city      TEXT NOT NULL,
    pickup_state     TEXT NOT NULL,
    pickup_zip_code  TEXT NOT NULL,
    pickup_country   TEXT NOT NULL,
    pickup_latitude  DOUBLE PRECISION,
    pickup_longitude DOUBLE PRECISION,
    dropoff_street   TEXT NOT NULL,
    dropoff_city     TEXT NOT NULL,
    dropoff_state    TEXT NOT NULL,
    dropoff_zip_code TEXT NOT NULL,
    dropoff_country  TEXT NOT NULL,
    dropoff_latitude  DOUBLE PRECISION,
    dropoff_longitude DOUBLE PRECISION,
    ready_by         TIMESTAMPTZ NOT NULL,
    driver_id        BIGINT REFERENCES drivers (id),
    eta              TIMESTAMPTZ,
    reason           TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    assigned_at      TIMESTAMPTZ,
    picked_up_at     TIMESTAMPTZ,
    delivered_at     TIMESTAMPTZ,
    CHECK ((status IN ('assigned', 'picked_up')) <= (driver_id IS NOT NULL))
);
CREATE INDEX deliveries_driver ON deliveries (driver_id, id) WHERE driver_id IS NOT NULL;
-- The queue of deliveries waiting for a driver, oldest first.
CREATE INDEX deliveries_waiting ON deliveries (created_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_listing ON deliveries (id);

-- Every move of a delivery, as orders keep theirs.
CREATE TABLE delivery_history (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id),
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX delivery_history_delivery ON delivery_history (delivery_id, id);
