-- The notifications as they are sent: templates per kind and channel,
-- preferences per customer and channel, and the log, where a message is
-- written as an intent (unique per event, recipient and channel) before
-- any provider hears of it. The first version's tables never held a row.
DROP TABLE notifications;
DROP TABLE notification_templates;
DROP TABLE notification_preferences;

CREATE TABLE templates (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- What it is for: an order step (`order_confirmed`) or a bulk send's name.
    kind       TEXT NOT NULL,
    channel    TEXT NOT NULL CHECK (channel IN ('sms', 'email', 'push')),
    -- The email's subject, or the push's title; unused by SMS.
    subject    TEXT NOT NULL DEFAULT '',
    body       TEXT NOT NULL,
    active     BOOLEAN NOT NULL DEFAULT true,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (kind, channel)
);

-- A customer's choice for one channel. Without a row the defaults hold:
-- order updates on email (or SMS when no email is known), no marketing.
CREATE TABLE preferences (
    customer_id   BIGINT NOT NULL,
    channel       TEXT NOT NULL CHECK (channel IN ('sms', 'email', 'push')),
    order_updates BOOLEAN NOT NULL,
    marketing     BOOLEAN NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, channel)
);

CREATE TABLE bulk_jobs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT NOT NULL,
    channel     TEXT NOT NULL,
    category    TEXT NOT NULL CHECK (category IN ('order_updates', 'marketing')),
    recipients  INTEGER NOT NULL,
    -- Opted out (or without an address on the channel): never queued.
    skipped     INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE notifications (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- `<event id>:<customer>:<channel>` for an order step, `bulk:<job>:<n>`
    -- for a bulk send: a second intent for the same message is not written.
    dedupe_key        TEXT NOT NULL UNIQUE,
    customer_id       BIGINT NOT NULL,
    order_id          BIGINT,
    bulk_job_id       BIGINT REFERENCES bulk_jobs (id),
    kind              TEXT NOT NULL,
    channel           TEXT NOT NULL CHECK (channel IN ('sms', 'email', 'push')),
    -- The email address, the phone number, or the push target.
    recipient         TEXT NOT NULL,
    subject           TEXT NOT NULL DEFAULT '',
    message           TEXT NOT NULL,
    provider          TEXT NOT NULL,
    provider_response TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL
        CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- While `sending`: past this, the sender that claimed it is gone.
    lease_until       TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at           TIMESTAMPTZ,
    delivered_at      TIMESTAMPTZ
);
-- The senders' queue: what is due, per channel.
CREATE INDEX notifications_due ON notifications (channel, next_attempt_at)
    WHERE status = 'queued';
CREATE INDEX notifications_interrupted ON notifications (channel, lease_until)
    WHERE status = 'sending';
CREATE INDEX notifications_customer ON notifications (customer_id, id DESC);
CREATE INDEX notifications_order ON notifications (order_id, id DESC)
    WHERE order_id IS NOT NULL;
CREATE INDEX notifications_bulk ON notifications (bulk_job_id, status)
    WHERE bulk_job_id IS NOT NULL;

-- What the messages of an order need to know of it, from its latest
-- event: delivery events name only the order.
CREATE TABLE orders (
    order_id      BIGINT PRIMARY KEY,
    customer_id   BIGINT NOT NULL,
    name          TEXT NOT NULL,
    email         TEXT NOT NULL,
    phone         TEXT NOT NULL,
    order_number  TEXT NOT NULL,
    restaurant    TEXT NOT NULL,
    -- The total as the customer reads it (`USD 25.98`).
    amount        TEXT NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX orders_customer ON orders (customer_id, updated_at DESC);

-- The order steps a customer hears of, on each channel. Admins edit them.
INSERT INTO templates (kind, channel, subject, body) VALUES
    ('order_received', 'email', 'We have your order {order_number}',
     'Hi {name}, {restaurant} has your order {order_number} for {amount}. Follow it at {link}'),
    ('order_received', 'sms', '',
     '{restaurant}: order {order_number} received ({amount}). {link}'),
    ('order_received', 'push', 'Order received',
     '{restaurant} has your order {order_number}.'),
    ('order_confirmed', 'email', 'Order {order_number} is confirmed',
     'Hi {name}, {restaurant} confirmed order {order_number}. It should be ready {eta}.'),
    ('order_confirmed', 'sms', '',
     '{restaurant}: order {order_number} confirmed, ready {eta}.'),
    ('order_confirmed', 'push', 'Order confirmed',
     'Order {order_number} is confirmed, ready {eta}.'),
    ('order_ready', 'email', 'Order {order_number} is ready',
     'Hi {name}, order {order_number} is ready to collect at {restaurant}.'),
    ('order_ready', 'sms', '',
     '{restaurant}: order {order_number} is ready to collect.'),
    ('order_ready', 'push', 'Ready to collect',
     'Order {order_number} is ready at {restaurant}.'),
    ('order_out_for_delivery', 'email', 'Order {order_number} is on its way',
     'Hi {name}, your order {order_number} is on its way and arrives {eta}. Track it: {link}'),
    ('order_out_for_delivery', 'sms', '',
     'Order {order_number} is on its way, arriving {eta}. Track: {link}'),
    ('order_out_for_delivery', 'push', 'On its way',
     'Order {order_number} arrives {eta}.'),
    ('order_delivered', 'email', 'Order {order_number} was delivered',
     'Hi {name}, order {order_number} from {restaurant} was delivered. Enjoy!'),
    ('order_delivered', 'sms', '',
     'Order {order_number} was delivered. Enjoy!'),
    ('order_delivered', 'push', 'Delivered',
     'Order {order_number} was delivered.'),
    ('order_cancelled', 'email', 'Order {order_number} was cancelled',
     'Hi {name}, order {order_number} at {restaurant} was cancelled: {reason}. {refund}'),
    ('order_cancelled', 'sms', '',
     'Order {order_number} was cancelled: {reason}. {refund}'),
    ('order_cancelled', 'push', 'Order cancelled',
     'Order {order_number} was cancelled. {refund}');
