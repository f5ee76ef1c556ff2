-- A customer's choice for one channel keeps only what they chose: a NULL
-- flag is one they never set, and follows the default (which moves with
-- what is known of them, such as whether they have an email).
ALTER TABLE preferences
    ALTER COLUMN order_updates DROP NOT NULL,
    ALTER COLUMN marketing DROP NOT NULL;
