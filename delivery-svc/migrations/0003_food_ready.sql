-- When the kitchen had the food ready (its order's `order.ready`): a
-- driver picks up only food that is ready, so the order can go out for
-- delivery.
ALTER TABLE deliveries ADD COLUMN food_ready_at TIMESTAMPTZ;
