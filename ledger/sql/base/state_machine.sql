-- state_machine: the payment state machine as data, one row per (status, event), and
-- apply_event, the only function that changes a payment's status.
-- apply: change to to_status. apply_late: a success after the payment was given up
-- (expired, cancelled): the money was taken, so it is still booked, with late = true.
-- ignore: nothing changes (a repeated or stale message). reject: the caller gets FG409.
-- overpay: a success of a payment already paid: a repeat of the attempt that paid it (or of
-- one already booked as an overpayment) is ignored; a success of another attempt means the
-- citizen paid twice, and is booked as an overpayment (overpayments.sql), the status kept.
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
    -- A decline closes the attempt, not the payment: it stays pending (payable until it
    -- expires), the event is recorded, no webhook (the status did not change).
    ('pending', 'provider_failed',    'pending',   'apply'),
    ('pending', 'cancel',             'cancelled', 'apply'),
    ('pending', 'expire',             'expired',   'apply'),
    ('pending', 'refund_partial',     NULL,        'reject'),
    ('pending', 'refund_full',        NULL,        'reject'),

    ('succeeded', 'checkout',           NULL,                 'reject'),
    ('succeeded', 'provider_succeeded', NULL,                 'overpay'),
    ('succeeded', 'provider_failed',    NULL,                 'ignore'),
    ('succeeded', 'cancel',             NULL,                 'reject'),
    ('succeeded', 'expire',             NULL,                 'ignore'),
    ('succeeded', 'refund_partial',     'partially_refunded', 'apply'),
    ('succeeded', 'refund_full',        'refunded',           'apply'),

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
    ('partially_refunded', 'provider_succeeded', NULL,                 'overpay'),
    ('partially_refunded', 'provider_failed',    NULL,                 'ignore'),
    ('partially_refunded', 'cancel',             NULL,                 'reject'),
    ('partially_refunded', 'expire',             NULL,                 'ignore'),
    ('partially_refunded', 'refund_partial',     'partially_refunded', 'apply'),
    ('partially_refunded', 'refund_full',        'refunded',           'apply'),

    ('refunded', 'checkout',           NULL, 'reject'),
    ('refunded', 'provider_succeeded', NULL, 'overpay'),
    ('refunded', 'provider_failed',    NULL, 'ignore'),
    ('refunded', 'cancel',             NULL, 'reject'),
    ('refunded', 'expire',             NULL, 'ignore'),
    ('refunded', 'refund_partial',     NULL, 'reject'),
    ('refunded', 'refund_full',        NULL, 'reject');

-- The state machine. Locks the payment, looks up (status, event); reject raises FG409,
-- ignore changes nothing; overpay books an overpayment or changes nothing (above);
-- apply/apply_late update the payment (with the provider fields of p_data for checkout and
-- success), book the success, append the event and queue the
-- webhook if the status changed. A provider_succeeded leaves the receipt and its webhook to
-- receipt_at_commit (receipts.sql), which numbers the receipt at commit.
CREATE FUNCTION apply_event(p_payment_id text, p_event text, p_data jsonb,
                                       OUT o_outcome text, OUT o_from text, OUT o_to text)
LANGUAGE plpgsql AS $$
DECLARE
    v_row payments;
    v_provider bool := p_event IN ('checkout', 'provider_succeeded');
BEGIN
    SELECT status INTO o_from FROM payments WHERE id = p_payment_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'FG404', MESSAGE = 'payment_not_found',
            DETAIL = format('payment "%s" does not exist', p_payment_id);
    END IF;
    SELECT t.outcome, t.to_status INTO STRICT o_outcome, o_to
        FROM payment_transitions t WHERE t.from_status = o_from AND t.event = p_event;
    IF o_outcome = 'reject' THEN
        RAISE EXCEPTION USING ERRCODE = 'FG409',
            MESSAGE = CASE p_event WHEN 'checkout' THEN 'payment_not_payable'
                                   WHEN 'cancel' THEN 'payment_not_cancellable'
                                   WHEN 'refund_partial' THEN 'payment_not_refundable'
                                   WHEN 'refund_full' THEN 'payment_not_refundable'
                                   ELSE 'invalid_transition' END,
            DETAIL = format('payment "%s" is %s', p_payment_id, o_from);
    ELSIF o_outcome = 'overpay' THEN
        o_to := o_from;
        IF EXISTS (SELECT 1 FROM payments p WHERE p.id = p_payment_id
                     AND p.merchant_ref IS DISTINCT FROM p_data ->> 'merchant_ref')
           AND NOT EXISTS (SELECT 1 FROM overpayments o
                           WHERE o.merchant_ref = p_data ->> 'merchant_ref') THEN
            PERFORM overpayment_book(p_payment_id, p_data);
        ELSE
            o_outcome := 'ignore';
        END IF;
        RETURN;
    ELSIF o_outcome = 'ignore' THEN
        o_to := o_from;
        RETURN;
    END IF;
    UPDATE payments p SET
        status = o_to,
        late = p.late OR o_outcome = 'apply_late',
        channel = CASE WHEN v_provider THEN p_data ->> 'channel' ELSE p.channel END,
        merchant_ref = CASE WHEN v_provider THEN p_data ->> 'merchant_ref' ELSE p.merchant_ref END,
        provider_txn_id = CASE WHEN p_event = 'provider_succeeded'
                               THEN p_data ->> 'provider_txn_id' ELSE p.provider_txn_id END,
        paid_at = CASE WHEN p_event = 'provider_succeeded'
                       THEN (p_data ->> 'paid_at')::timestamptz ELSE p.paid_at END,
        updated_at = now(),
        event_seq = p.event_seq + 1
    WHERE p.id = p_payment_id
    RETURNING p.* INTO v_row;
    IF p_event = 'provider_succeeded' THEN
        PERFORM book_success(v_row); -- its journal's trigger issues the receipt at commit
    END IF;
    INSERT INTO payment_events (payment_id, seq, event, from_status, to_status, data)
        VALUES (p_payment_id, v_row.event_seq, p_event, o_from, o_to, coalesce(p_data, '{}'));
    IF o_to <> o_from AND p_event <> 'provider_succeeded' THEN
        PERFORM queue_webhook(p_payment_id, o_to);
    END IF;
END
$$;
