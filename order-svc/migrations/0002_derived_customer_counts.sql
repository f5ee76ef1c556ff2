-- How many orders a profile has placed, and when the last, are read from
-- the orders themselves: keeping them as counters made every order of a
-- customer update (and lock until commit) the same profile row, so one
-- customer's orders could only commit one after another.
ALTER TABLE customers DROP COLUMN order_count, DROP COLUMN last_order_at;
