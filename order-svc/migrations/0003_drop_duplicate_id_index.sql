-- `orders_newest` (id DESC) repeats the primary key: Postgres reads a
-- B-tree in either direction, so newest-first pages use `orders_pkey`.
-- Every order written paid for the second index and nothing read it.
DROP INDEX IF EXISTS orders_newest;
