-- Walk-in orders: staff take a dine-in or takeout order without anyone's
-- details, so the order has no customer profile.
ALTER TABLE orders
    ALTER COLUMN customer_id DROP NOT NULL,
    ADD CONSTRAINT orders_walk_in_at_the_restaurant
        CHECK (customer_id IS NOT NULL OR order_type IN ('dine_in', 'takeout'));
