-- 003_core: the internal functions every operation goes through. None is executable by
-- feegate_app except payment_json. They run as invoker, without a SET clause: only the owner
-- may execute them, and they are reached through the SECURITY DEFINER API functions (004),
-- whose search_path they inherit (a SET clause on every nested call costs a GUC save and
-- restore, and keeps SQL helpers from being inlined).
--   payment_json   the payment object, built in one place (keys in the API's order)
--   post_journal   the only write path into journals and postings
--   book_success   the success journal of a payment (clearing -> payable per fee split)
--   issue_receipt  the next gapless number of the agency's (template, series)
--   queue_webhook  an outbox row for a status change
--   apply_event    the state machine: lock, look up the transition, change, record, notify

SET LOCAL search_path = feegate, pg_temp;

-- RFC 3339 in Vietnam time, e.g. 2026-03-01T09:30:00+07:00 (no DST in Vietnam since 1975).
CREATE FUNCTION ts_text(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(t AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM-DD"T"HH24:MI:SS"+07:00"')
$$;

-- 32 lowercase hex digits from the CSPRNG, for pay_/rcp_/evt_ identifiers.
CREATE FUNCTION hex_id(prefix text) RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT prefix || replace(gen_random_uuid()::text, '-', '')
$$;

CREATE FUNCTION payment_json(p_id text) RETURNS json
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
BEGIN
    RETURN (SELECT json_build_object(
        'payment_id', p.id,
        'order_ref', p.order_ref,
        'agency_code', p.agency_code,
        'status', p.status,
        'late', p.late,
        'amount_vnd', p.amount_vnd,
        'items', p.items,
        'payer', p.payer,
        'channel', p.channel,
        'merchant_ref', p.merchant_ref,
        'provider_txn_id', p.provider_txn_id,
        'created_at', ts_text(p.created_at),
        'expires_at', ts_text(p.expires_at),
        'paid_at', ts_text(p.paid_at),
        'refunded_vnd', p.refunded_vnd,
        'checkout_url', p.base_url || '/pay/' || p.id,
        'return_url', p.return_url,
        'locale', p.locale,
        'receipt', CASE WHEN r.id IS NOT NULL THEN json_build_object(
            'id', r.id,
            'template', r.template,
            'series', r.series,
            'number', lpad(r.number::text, 7, '0'),
            'url', p.base_url || '/receipts/' || r.id) END)
    FROM payments p LEFT JOIN receipts r ON r.payment_id = p.id
    WHERE p.id = p_id);
END
$$;

-- The account type follows from the code's prefix; an unknown prefix is a bug.
CREATE FUNCTION account_type(p_code text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    CASE split_part(p_code, ':', 1)
        WHEN 'clearing' THEN RETURN 'asset';
        WHEN 'payable' THEN RETURN 'liability';
        WHEN 'fee' THEN RETURN 'expense';
        WHEN 'income' THEN RETURN 'income';
        WHEN 'equity' THEN RETURN 'equity';
        ELSE
            RAISE EXCEPTION USING ERRCODE = 'FG500', MESSAGE = 'unknown_account',
                DETAIL = format('account code "%s" has no known prefix', p_code);
    END CASE;
END
$$;

-- The only write path into the ledger. p_postings is [{"account":..,"amount_vnd":..}],
-- debit positive, credit negative. Asserts the balance before inserting (the commit trigger
-- and the statement trigger on postings check it again: pair assertion). Accounts are
-- created on first use. Returns the journal id.
CREATE FUNCTION post_journal(p_kind text, p_payment_id text, p_memo text, p_postings jsonb)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_n bigint;
    v_sum numeric;
    v_zero bigint;
    v_id bigint;
BEGIN
    SELECT count(*), sum((e ->> 'amount_vnd')::bigint),
           count(*) FILTER (WHERE (e ->> 'amount_vnd')::bigint = 0)
        INTO v_n, v_sum, v_zero FROM jsonb_array_elements(p_postings) e;
    IF v_n < 2 OR v_sum IS DISTINCT FROM 0 OR v_zero > 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'FG500', MESSAGE = 'journal_unbalanced',
            DETAIL = format('%s journal of %s: %s postings summing to %s', p_kind,
                            p_payment_id, v_n, v_sum);
    END IF;
    INSERT INTO accounts (code, name, type)
        SELECT DISTINCT e ->> 'account', e ->> 'account', account_type(e ->> 'account')
        FROM jsonb_array_elements(p_postings) e
        WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.code = e ->> 'account')
        ON CONFLICT DO NOTHING;
    INSERT INTO journals (kind, payment_id, business_day, memo)
        VALUES (p_kind, p_payment_id, (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, p_memo)
        RETURNING id INTO v_id;
    INSERT INTO postings (journal_id, account_code, amount_vnd)
        SELECT v_id, e ->> 'account', (e ->> 'amount_vnd')::bigint
        FROM jsonb_array_elements(p_postings) WITH ORDINALITY AS t(e, ord) ORDER BY ord;
    RETURN v_id;
END
$$;

-- Credit parts of each item by fee split: floor(amount * share_bp / 10000) except the last
-- split (highest ordinal), which takes the remainder, so an item's parts sum exactly.
CREATE FUNCTION split_items(p_agency_code text, p_items jsonb)
RETURNS TABLE (treasury_account text, amount_vnd bigint)
LANGUAGE sql STABLE AS $$
    WITH it AS (
        SELECT ord, e ->> 'fee_code' AS fee_code, (e ->> 'amount_vnd')::bigint AS amt
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS t(e, ord)
    ), parts AS (
        SELECT s.treasury_account, s.ordinal, it.ord, it.amt,
               it.amt * s.share_bp / 10000 AS part,
               max(s.ordinal) OVER w AS last_ordinal,
               sum(it.amt * s.share_bp / 10000) OVER w AS all_parts
        FROM it JOIN fee_splits s
            ON s.agency_code = p_agency_code AND s.fee_code = it.fee_code
        WINDOW w AS (PARTITION BY it.ord)
    )
    SELECT treasury_account,
           sum(CASE WHEN ordinal = last_ordinal THEN part + (amt - all_parts) ELSE part END)::bigint
    FROM parts GROUP BY treasury_account ORDER BY treasury_account
$$;

-- The success journal: debit clearing:<channel> the amount, credit payable:<treasury> per
-- fee split. The unique index journals_payment_success makes it at most once per payment.
CREATE FUNCTION book_success(p payments) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_postings jsonb;
BEGIN
    SELECT jsonb_build_array(jsonb_build_object('account', 'clearing:' || p.channel,
                                                'amount_vnd', p.amount_vnd))
           || coalesce(jsonb_agg(jsonb_build_object('account', 'payable:' || s.treasury_account,
                                                    'amount_vnd', -s.amount_vnd)), '[]')
        INTO v_postings FROM split_items(p.agency_code, p.items) s;
    RETURN post_journal('payment_success', p.id,
                        format('payment %s order %s via %s %s', p.id, p.order_ref, p.channel,
                               p.provider_txn_id),
                        v_postings);
END
$$;

-- Takes the next number of the agency's (template, series) under the counter's row lock,
-- held to commit: numbers are gapless and never reused. Returns the receipt id.
CREATE FUNCTION issue_receipt(p payments) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_template text;
    v_series text;
    v_number int;
    v_id text := hex_id('rcp_');
BEGIN
    UPDATE receipt_series s SET next_number = s.next_number + 1
        FROM agencies a
        WHERE a.code = p.agency_code AND s.template = a.receipt_template
          AND s.series = a.receipt_series
        RETURNING s.template, s.series, s.next_number - 1 INTO STRICT v_template, v_series, v_number;
    INSERT INTO receipts (id, payment_id, agency_code, template, series, number, amount_vnd,
                          payer, items)
        SELECT v_id, p.id, p.agency_code, v_template, v_series, v_number, p.amount_vnd, p.payer,
               jsonb_agg(jsonb_build_object('fee_code', f.fee_code, 'name', f.name,
                                            'amount_vnd', (it.e ->> 'amount_vnd')::bigint)
                         ORDER BY it.ord)
        FROM jsonb_array_elements(p.items) WITH ORDINALITY AS it(e, ord)
        JOIN fees f ON f.agency_code = p.agency_code AND f.fee_code = it.e ->> 'fee_code';
    RETURN v_id;
END
$$;

-- An outbox row for the payment's new status. next_attempt_at stays NULL when the client has
-- no webhook URL: the event is kept (listed, replayable) but never claimed.
CREATE FUNCTION queue_webhook(p_payment_id text, p_status text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_event_id text := hex_id('evt_');
    v_type text := 'payment.' || p_status;
BEGIN
    INSERT INTO outbox (event_id, client_id, payment_id, type, body, next_attempt_at)
        SELECT v_event_id, p.client_id, p.id, v_type,
               json_build_object('event_id', v_event_id, 'type', v_type,
                                 'created_at', ts_text(now()),
                                 'payment', payment_json(p.id))::text,
               CASE WHEN c.webhook_url IS NOT NULL THEN now() END
        FROM payments p JOIN clients c ON c.id = p.client_id
        WHERE p.id = p_payment_id;
END
$$;

-- The state machine. Locks the payment, looks up (status, event); reject raises FG409,
-- ignore changes nothing; apply/apply_late update the payment (with the provider fields of
-- p_data for checkout and success), book the success, append the event, number the receipt
-- (last, so the series lock is held briefly) and queue the webhook if the status changed.
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
        PERFORM book_success(v_row);
    END IF;
    INSERT INTO payment_events (payment_id, seq, event, from_status, to_status, data)
        VALUES (p_payment_id, v_row.event_seq, p_event, o_from, o_to, coalesce(p_data, '{}'));
    IF p_event = 'provider_succeeded' THEN
        PERFORM issue_receipt(v_row);
    END IF;
    IF o_to <> o_from THEN
        PERFORM queue_webhook(p_payment_id, o_to);
    END IF;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA feegate FROM PUBLIC;
