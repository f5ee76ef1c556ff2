-- A bulk send started again with the same key by the same sender (a client
-- retrying after a timeout) answers with the first one's job.
ALTER TABLE bulk_jobs ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX bulk_jobs_key ON bulk_jobs (created_by, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
