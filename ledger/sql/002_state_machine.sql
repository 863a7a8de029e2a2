-- 002_state_machine: the payment state machine as data, one row per (status, event).
-- apply: change to to_status. apply_late: a success after the payment was given up
-- (failed, expired, cancelled): the money was taken, so it is still booked, with late = true.
-- ignore: nothing changes (a repeated or stale message). reject: the caller gets FG409.
-- ledger_check() verifies that the table covers every pair.

SET LOCAL search_path = feegate, pg_temp;

INSERT INTO payment_transitions (from_status, event, to_status, outcome) VALUES
    ('created', 'checkout',           'pending',   'apply'),
    ('created', 'provider_succeeded', 'succeeded', 'apply'),
    ('created', 'provider_failed',    NULL,        'ignore'),
    ('created', 'cancel',             'cancelled', 'apply'),
    ('created', 'expire',             'expired',   'apply'),
    ('created', 'refund_partial',     NULL,        'reject'),
    ('created', 'refund_full',        NULL,        'reject'),

    -- A second checkout while pending is a new attempt (the citizen went back and chose
    -- another bank); the status stays pending.
    ('pending', 'checkout',           'pending',   'apply'),
    ('pending', 'provider_succeeded', 'succeeded', 'apply'),
    ('pending', 'provider_failed',    'failed',    'apply'),
    ('pending', 'cancel',             'cancelled', 'apply'),
    ('pending', 'expire',             'expired',   'apply'),
    ('pending', 'refund_partial',     NULL,        'reject'),
    ('pending', 'refund_full',        NULL,        'reject'),

    ('succeeded', 'checkout',           NULL,                 'reject'),
    ('succeeded', 'provider_succeeded', NULL,                 'ignore'),
    ('succeeded', 'provider_failed',    NULL,                 'ignore'),
    ('succeeded', 'cancel',             NULL,                 'reject'),
    ('succeeded', 'expire',             NULL,                 'ignore'),
    ('succeeded', 'refund_partial',     'partially_refunded', 'apply'),
    ('succeeded', 'refund_full',        'refunded',           'apply'),

    ('failed', 'checkout',           NULL,        'reject'),
    ('failed', 'provider_succeeded', 'succeeded', 'apply_late'),
    ('failed', 'provider_failed',    NULL,        'ignore'),
    ('failed', 'cancel',             NULL,        'reject'),
    ('failed', 'expire',             NULL,        'ignore'),
    ('failed', 'refund_partial',     NULL,        'reject'),
    ('failed', 'refund_full',        NULL,        'reject'),

    ('expired', 'checkout',           NULL,        'reject'),
    ('expired', 'provider_succeeded', 'succeeded', 'apply_late'),
    ('expired', 'provider_failed',    NULL,        'ignore'),
    ('expired', 'cancel',             NULL,        'reject'),
    ('expired', 'expire',             NULL,        'ignore'),
    ('expired', 'refund_partial',     NULL,        'reject'),
    ('expired', 'refund_full',        NULL,        'reject'),

    -- Cancelling a cancelled payment is a no-op answered with the payment (200).
    ('cancelled', 'checkout',           NULL,        'reject'),
    ('cancelled', 'provider_succeeded', 'succeeded', 'apply_late'),
    ('cancelled', 'provider_failed',    NULL,        'ignore'),
    ('cancelled', 'cancel',             NULL,        'ignore'),
    ('cancelled', 'expire',             NULL,        'ignore'),
    ('cancelled', 'refund_partial',     NULL,        'reject'),
    ('cancelled', 'refund_full',        NULL,        'reject'),

    ('partially_refunded', 'checkout',           NULL,                 'reject'),
    ('partially_refunded', 'provider_succeeded', NULL,                 'ignore'),
    ('partially_refunded', 'provider_failed',    NULL,                 'ignore'),
    ('partially_refunded', 'cancel',             NULL,                 'reject'),
    ('partially_refunded', 'expire',             NULL,                 'ignore'),
    ('partially_refunded', 'refund_partial',     'partially_refunded', 'apply'),
    ('partially_refunded', 'refund_full',        'refunded',           'apply'),

    ('refunded', 'checkout',           NULL, 'reject'),
    ('refunded', 'provider_succeeded', NULL, 'ignore'),
    ('refunded', 'provider_failed',    NULL, 'ignore'),
    ('refunded', 'cancel',             NULL, 'reject'),
    ('refunded', 'expire',             NULL, 'ignore'),
    ('refunded', 'refund_partial',     NULL, 'reject'),
    ('refunded', 'refund_full',        NULL, 'reject');
