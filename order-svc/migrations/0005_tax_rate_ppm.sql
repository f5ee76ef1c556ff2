-- Tax rates in millionths (8.875 % is 88750), as restaurant-svc now
-- gives them.
ALTER TABLE orders RENAME COLUMN tax_rate_bps TO tax_rate_ppm;
UPDATE orders SET tax_rate_ppm = tax_rate_ppm * 100;
