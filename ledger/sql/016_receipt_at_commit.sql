-- 016_receipt_at_commit: a success's receipt is numbered at commit.
--
-- The number of a receipt is taken under the row lock of its (template, series) counter,
-- held to commit, so that numbers are gapless and never reused: the successes of one series
-- commit one transaction at a time. Until now the number was taken inside apply_event, in
-- the middle of the success, and when the gateway runs several calls in one transaction
-- (docs/architecture.md, "Batches") the lock was held through the rest of the batch's
-- work as well. Now the success journal carries a deferred constraint trigger: at commit,
-- after every other statement of the transaction, it numbers the receipt and queues the
-- payment.succeeded webhook (whose body shows the receipt). The lock is therefore held for
-- the numbering and the commit only, whatever else the transaction did. Numbers are still
-- taken and committed in the transaction of the payment they belong to; a transaction that
-- rolls back takes none.
--
-- Within the success's own transaction the receipt does not exist before commit; nothing
-- reads it there (apply_provider_result and its callers return verdicts).

SET LOCAL search_path = feegate, pg_temp;

-- apply_event of 003, except that a provider_succeeded leaves the receipt and its webhook
-- to receipt_at_commit.
CREATE OR REPLACE FUNCTION apply_event(p_payment_id text, p_event text, p_data jsonb,
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
        PERFORM book_success(v_row); -- its journal's trigger issues the receipt at commit
    END IF;
    INSERT INTO payment_events (payment_id, seq, event, from_status, to_status, data)
        VALUES (p_payment_id, v_row.event_seq, p_event, o_from, o_to, coalesce(p_data, '{}'));
    IF o_to <> o_from AND p_event <> 'provider_succeeded' THEN
        PERFORM queue_webhook(p_payment_id, o_to);
    END IF;
END
$$;

-- At commit, for each success journal: the payment's receipt (next number of its series)
-- and its payment.succeeded webhook. Deferred triggers run as the user who commits, and the
-- gateway's role may not write: hence SECURITY DEFINER.
CREATE FUNCTION receipt_at_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_row payments;
BEGIN
    SELECT * INTO STRICT v_row FROM payments WHERE id = NEW.payment_id;
    PERFORM issue_receipt(v_row);
    PERFORM queue_webhook(v_row.id, 'succeeded');
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION receipt_at_commit() FROM PUBLIC;

CREATE CONSTRAINT TRIGGER journals_receipt AFTER INSERT ON journals
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.kind = 'payment_success')
    EXECUTE FUNCTION receipt_at_commit();
