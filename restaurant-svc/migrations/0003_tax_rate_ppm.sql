-- Tax rates in millionths (8.875 % is 88750): rates such as New York
-- City's need more precision than basis points give.
ALTER TABLE restaurants DROP CONSTRAINT restaurants_tax_rate_bps_check;
ALTER TABLE restaurants RENAME COLUMN tax_rate_bps TO tax_rate_ppm;
UPDATE restaurants SET tax_rate_ppm = tax_rate_ppm * 100;
ALTER TABLE restaurants
    ADD CONSTRAINT restaurants_tax_rate_ppm_check CHECK (tax_rate_ppm BETWEEN 0 AND 1000000);
