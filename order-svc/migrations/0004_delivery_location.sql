-- Where a delivery is dropped off, when the customer gave the point: the
-- delivery's arrival time counts the ride to it. Both or neither.
ALTER TABLE orders
    ADD COLUMN delivery_latitude double precision,
    ADD COLUMN delivery_longitude double precision,
    ADD CONSTRAINT orders_delivery_location_whole
        CHECK ((delivery_latitude IS NULL) = (delivery_longitude IS NULL));
