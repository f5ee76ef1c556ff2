-- The orders still under way, counted every 15 s for the operators' gauge
-- of open orders by status: a small index, however many orders are done.
CREATE INDEX orders_open ON orders (status)
    WHERE status IN ('PENDING', 'CONFIRMED', 'PREPARING', 'READY', 'OUT_FOR_DELIVERY');
