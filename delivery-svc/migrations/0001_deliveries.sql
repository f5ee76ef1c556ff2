-- Drivers and deliveries: the first version of delivery-svc's schema.
CREATE TABLE drivers (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL,
    phone       TEXT NOT NULL UNIQUE,
    vehicle     TEXT NOT NULL DEFAULT '',
    available   BOOLEAN NOT NULL DEFAULT true,
    latitude    DOUBLE PRECISION,
    longitude   DOUBLE PRECISION,
    location_at TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id        BIGINT NOT NULL UNIQUE,
    restaurant_id   BIGINT NOT NULL,
    tracking_id     TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL,
    pickup_address  JSONB NOT NULL,
    pickup_latitude DOUBLE PRECISION,
    pickup_longitude DOUBLE PRECISION,
    dropoff_address JSONB NOT NULL,
    driver_id       BIGINT REFERENCES drivers (id),
    eta             TIMESTAMPTZ,
    reason          TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at    TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_driver ON deliveries (driver_id) WHERE driver_id IS NOT NULL;
