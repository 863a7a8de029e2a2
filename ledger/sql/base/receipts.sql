-- receipts: gapless numbering and the legal documents around the numbered receipts
-- (docs/receipts.md). The tables are in schema.sql:
--   receipt_series      one counter row per (template, series), locked by the numbering
--   receipts            the numbered receipts
--   receipt_jobs        one row per receipt whose signed XML is still to be made; queued by a
--                       trigger on receipts (one small INSERT, so the series lock is not held
--                       longer)
--   receipt_documents   the signed XML, append-only, one per receipt and kind
--   receipt_links       adjustment and replacement receipts -> the original they correct
--   receipt_marks       cancelled / adjusted / replaced marks on receipts, append-only
-- Functions:
--   issue_receipt, receipt_at_commit   number a success's receipt, at commit
--   receipt_jobs_claim, receipt_job_fail, receipt_document_store, receipt_xml,
--   receipt_verify, receipt_view   for the gateway's receipt worker and pages
--   receipt_cancel, receipt_adjust   cancel and correct (owner only: called by refunds)

SET LOCAL search_path = feegate, pg_temp;

-- A receipt's lookup code: 12 characters of Crockford's base32 (digits and capitals without
-- I, L, O, U), 60 bits from the CSPRNG behind gen_random_uuid (15 of a version 4 UUID's
-- random hex digits; the 13th is its version). Not derived from anything: knowing receipts,
-- their numbers or ids tells nothing about another's code. GW_LOOKUP_CODE_CHARS.
CREATE FUNCTION lookup_code_new() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_hex text := replace(gen_random_uuid()::text, '-', '');
    v_bits bigint := ('x' || substr(v_hex, 1, 12) || substr(v_hex, 14, 3))::bit(60)::bigint;
    v_out text := '';
BEGIN
    FOR i IN 1 .. limits_lookup_code_chars() LOOP
        v_out := substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', (v_bits & 31)::int + 1, 1) || v_out;
        v_bits := v_bits >> 5;
    END LOOP;
    RETURN v_out;
END
$$;

-- An ID number as shown to someone who holds only a receipt's code: its last four characters
-- (a short one not at all).
CREATE FUNCTION mask_id_number(p_id text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_id IS NULL OR p_id = '' THEN p_id
                WHEN length(p_id) <= 4 THEN repeat('•', length(p_id))
                ELSE repeat('•', length(p_id) - 4) || right(p_id, 4) END
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
                          payer, items, lookup_code)
        SELECT v_id, p.id, p.agency_code, v_template, v_series, v_number, p.amount_vnd, p.payer,
               jsonb_agg(jsonb_build_object('fee_code', f.fee_code, 'name', f.name,
                                            'amount_vnd', (it.e ->> 'amount_vnd')::bigint)
                         ORDER BY it.ord), lookup_code_new()
        FROM jsonb_array_elements(p.items) WITH ORDINALITY AS it(e, ord)
        JOIN fees f ON f.agency_code = p.agency_code AND f.fee_code = it.e ->> 'fee_code';
    RETURN v_id;
END
$$;

-- A success's receipt is numbered at commit.
--
-- The number of a receipt is taken under the row lock of its (template, series) counter,
-- held to commit, so that numbers are gapless and never reused: the successes of one series
-- commit one transaction at a time. Taken inside apply_event, in the middle of the success,
-- the lock would be held through the rest of the transaction's work as well, and the
-- gateway runs several calls in one transaction (docs/architecture.md, "Batches"). So the
-- success journal carries a deferred constraint trigger: at commit, after every other
-- statement of the transaction, it numbers the receipt and queues the payment.succeeded
-- webhook (whose body shows the receipt). The lock is therefore held for the numbering and
-- the commit only, whatever else the transaction did. Numbers are still taken and committed
-- in the transaction of the payment they belong to; a transaction that rolls back takes
-- none. Within the success's own transaction the receipt does not exist before commit;
-- nothing reads it there (apply_provider_result and its callers return verdicts).
--
-- Deferred triggers run as the user who commits, and the gateway's role may not write:
-- hence SECURITY DEFINER.
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

CREATE CONSTRAINT TRIGGER journals_receipt AFTER INSERT ON journals
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.kind = 'payment_success')
    EXECUTE FUNCTION receipt_at_commit();

-- Every new receipt queues its document job in the same transaction: late, never missing.
CREATE FUNCTION receipt_queue_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feegate.receipt_jobs (receipt_id) VALUES (NEW.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER receipts_queue_job AFTER INSERT ON receipts
    FOR EACH ROW EXECUTE FUNCTION receipt_queue_job();

-- The receipt as the pages, the worker and the verification page see it: the receipt, its
-- kind, order_ref, original (for corrections), marks and document.
CREATE FUNCTION receipt_view(receipt_id text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN (
        SELECT json_build_object(
            'id', r.id,
            'payment_id', p.id,
            'template', r.template,
            'series', r.series,
            'number', lpad(r.number::text, 7, '0'),
            'lookup_code', r.lookup_code,
            'issued_at', ts_text(r.issued_at),
            'amount_vnd', r.amount_vnd,
            'payer', r.payer,
            'items', r.items,
            'agency', json_build_object('code', a.code, 'name', a.name, 'tax_code', a.tax_code,
                                        'address', a.address),
            'channel', p.channel,
            'channel_name', (SELECT c.name FROM channels c WHERE c.code = p.channel),
            'provider_txn_id', p.provider_txn_id,
            'paid_at', ts_text(p.paid_at),
            'late', p.late,
            'order_ref', p.order_ref,
            'kind', coalesce(l.kind, 'original'),
            'original', CASE WHEN l.receipt_id IS NOT NULL THEN json_build_object(
                'id', o.id, 'template', o.template, 'series', o.series,
                'number', lpad(o.number::text, 7, '0'), 'issued_at', ts_text(o.issued_at),
                'reason', l.reason, 'delta_vnd', l.delta_vnd) END,
            'marks', (SELECT coalesce(json_agg(json_build_object(
                          'mark', m.mark, 'by_receipt_id', m.by_receipt_id, 'reason', m.reason,
                          'at', ts_text(m.at)) ORDER BY m.id), '[]')
                      FROM receipt_marks m WHERE m.receipt_id = r.id),
            'document', (SELECT json_build_object(
                             'sha256', d.sha256, 'signed', d.signed_at IS NOT NULL,
                             'signed_at', ts_text(d.signed_at),
                             'cert_fingerprint', d.cert_fingerprint)
                         FROM receipt_documents d WHERE d.receipt_id = r.id AND d.kind = 'xml'),
            'url', p.base_url || '/receipts/' || r.id)::text
        FROM receipts r JOIN agencies a ON a.code = r.agency_code
                        LEFT JOIN receipt_links l ON l.receipt_id = r.id
                        LEFT JOIN receipts o ON o.id = l.original_id
                        JOIN payments p ON p.id = coalesce(r.payment_id, l.payment_id)
        WHERE r.id = receipt_view.receipt_id);
END
$$;

-- receipt_view without "marks" and "document", each a subquery per receipt, which a receipt
-- being issued cannot have: what receipt_jobs_claim returns for each job. Most of a claim's
-- time is the view of each claimed receipt (about 6 ms for 50 under the benchmark's load).
CREATE FUNCTION receipt_issue_view(receipt_id text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN (
        SELECT json_build_object(
            'id', r.id,
            'payment_id', p.id,
            'template', r.template,
            'series', r.series,
            'number', lpad(r.number::text, 7, '0'),
            'lookup_code', r.lookup_code,
            'issued_at', ts_text(r.issued_at),
            'amount_vnd', r.amount_vnd,
            'payer', r.payer,
            'items', r.items,
            'agency', json_build_object('code', a.code, 'name', a.name, 'tax_code', a.tax_code,
                                        'address', a.address),
            'channel', p.channel,
            'channel_name', (SELECT c.name FROM channels c WHERE c.code = p.channel),
            'provider_txn_id', p.provider_txn_id,
            'paid_at', ts_text(p.paid_at),
            'late', p.late,
            'order_ref', p.order_ref,
            'kind', coalesce(l.kind, 'original'),
            'original', CASE WHEN l.receipt_id IS NOT NULL THEN json_build_object(
                'id', o.id, 'template', o.template, 'series', o.series,
                'number', lpad(o.number::text, 7, '0'), 'issued_at', ts_text(o.issued_at),
                'reason', l.reason, 'delta_vnd', l.delta_vnd) END,
            'url', p.base_url || '/receipts/' || r.id)::text
        FROM receipts r JOIN agencies a ON a.code = r.agency_code
                        LEFT JOIN receipt_links l ON l.receipt_id = r.id
                        LEFT JOIN receipts o ON o.id = l.original_id
                        JOIN payments p ON p.id = coalesce(r.payment_id, l.payment_id)
        WHERE r.id = receipt_issue_view.receipt_id);
END
$$;

-- Up to max due jobs, leased for lease_s seconds, each with its receipt_issue_view.
--
-- The update reads the claimed rows by key ("= ANY (ARRAY(...))"), whatever the statistics
-- say. Joined back to receipt_jobs, the claimed ids let the planner, which sees a small
-- table, choose a hash join over a sequential scan of it; but the table is small in rows,
-- not in pages: every job is inserted, leased and deleted within seconds, so such a plan
-- reads every dead row of the last minutes again on each claim.
CREATE FUNCTION receipt_jobs_claim(max int, lease_s int)
RETURNS TABLE (receipt_id text, attempts int, view text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        UPDATE receipt_jobs j SET lease_until = now() + greatest(lease_s, 1) * interval '1 second',
                                  attempts = j.attempts + 1
        WHERE j.receipt_id = ANY (ARRAY(
            SELECT d.receipt_id FROM receipt_jobs d
            WHERE d.lease_until IS NULL OR d.lease_until <= now()
            ORDER BY d.created_at
            LIMIT greatest(least(receipt_jobs_claim.max, 1000), 0)
            FOR UPDATE SKIP LOCKED))
        RETURNING j.receipt_id, j.attempts, receipt_issue_view(j.receipt_id);
END
$$;

-- A job that failed: retried after min(5 s * 2^(attempts-1), 1 h).
CREATE FUNCTION receipt_job_fail(receipt_id text, error text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
#variable_conflict use_column
BEGIN
    UPDATE receipt_jobs j SET
        lease_until = now() + least(3600, 5 * power(2, least(greatest(j.attempts - 1, 0), 20)))
                              * interval '1 second',
        last_error = left(error, 1000)
    WHERE j.receipt_id = receipt_job_fail.receipt_id;
END
$$;

-- Stores the document (the sha256 is computed here, over the UTF-8 bytes) and ends the job.
-- A second store of the same receipt and kind (two gateways, a lease that ran out) keeps the
-- first document: returns false.
CREATE FUNCTION receipt_document_store(receipt_id text, kind text, body text,
                                       cert_fingerprint text)
RETURNS bool
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
#variable_conflict use_column
DECLARE
    v_stored bool;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM receipts r WHERE r.id = receipt_document_store.receipt_id) THEN
        PERFORM fail('FG404', 'receipt_not_found',
                     format('receipt "%s" does not exist', receipt_document_store.receipt_id));
    END IF;
    INSERT INTO receipt_documents (receipt_id, kind, body, sha256, signed_at, cert_fingerprint)
        VALUES (receipt_document_store.receipt_id, kind, body,
                encode(sha256(convert_to(body, 'UTF8')), 'hex'),
                CASE WHEN cert_fingerprint IS NOT NULL THEN now() END, cert_fingerprint)
        ON CONFLICT DO NOTHING;
    v_stored := FOUND;
    DELETE FROM receipt_jobs j WHERE j.receipt_id = receipt_document_store.receipt_id;
    RETURN v_stored;
END
$$;

-- The stored XML, or NULL while it is being issued (or for no such receipt).
CREATE FUNCTION receipt_xml(receipt_id text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
    SELECT d.body FROM receipt_documents d
    WHERE d.receipt_id = receipt_xml.receipt_id AND d.kind = 'xml'
$$;

-- The public verification page's answer (/verify), from what its visitor holds.
--   * A lookup code (as printed: case, dashes and spaces do not matter, O reads as 0, I and L
--     as 1), or a receipt id (the rcp_ id of an uploaded XML whose signature checked): the
--     receipt for someone who holds only its code, "match": "code". The payer's name, the ID
--     number masked to its last four characters (mask_id_number), no address; nothing that
--     opens another page (no receipt or payment id, no URL, no replacing receipt's id).
--   * "SERIES/NUMBER" or "TEMPLATE/SERIES/NUMBER" (the number with or without its zeros):
--     numbers are consecutive, so anyone can walk them; the answer proves existence and no
--     more, "match": "number": the symbols and the collecting agency, nothing of the payer,
--     the amount or the payment. FG409 when several templates have the series and number.
-- NULL when nothing matches (or the code has no known shape).
-- Patterns without bounded repetition (see the cheap patterns in schema.sql).
CREATE FUNCTION receipt_verify(code text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_parts text[] := string_to_array(upper(btrim(code)), '/');
    v_n int := cardinality(v_parts);
    v_lookup text := translate(upper(btrim(code)), 'OIL- ', '011');
    v_id text;
    v_ids text[];
    v jsonb;
BEGIN
    IF length(code) = 36 AND code ~ '^rcp_[0-9a-f]+$' THEN
        v_id := code;
    ELSIF v_n = 1 AND length(v_lookup) = limits_lookup_code_chars()
          AND v_lookup ~ '^[0-9A-HJKMNP-TV-Z]+$' THEN
        SELECT r.id INTO v_id FROM receipts r WHERE r.lookup_code = v_lookup;
    ELSIF v_n IN (2, 3) AND length(v_parts[v_n]) <= 7 AND v_parts[v_n] ~ '^[0-9]+$' THEN
        SELECT array_agg(r.id) INTO v_ids FROM receipts r
            WHERE r.series = v_parts[v_n - 1] AND r.number = v_parts[v_n]::int
              AND (v_n = 2 OR r.template = v_parts[1]);
        IF cardinality(v_ids) > 1 THEN
            PERFORM fail('FG409', 'receipt_code_ambiguous',
                         'several templates have this series and number: give the template too');
        END IF;
        RETURN (SELECT json_build_object(
                    'match', 'number', 'template', r.template, 'series', r.series,
                    'number', lpad(r.number::text, 7, '0'),
                    'agency', json_build_object('name', a.name))::text
                FROM receipts r JOIN agencies a ON a.code = r.agency_code
                WHERE r.id = v_ids[1]);
    END IF;
    v := receipt_view(v_id)::jsonb;
    IF v IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN (v - 'id' - 'payment_id' - 'url' - 'provider_txn_id'
            || jsonb_build_object(
                'match', 'code',
                'payer', jsonb_build_object(
                    'name', v -> 'payer' ->> 'name',
                    'id_number', mask_id_number(v -> 'payer' ->> 'id_number')),
                'marks', (SELECT coalesce(jsonb_agg(m - 'by_receipt_id'), '[]')
                          FROM jsonb_array_elements(v -> 'marks') m)))::text;
END
$$;

-- Cancels a receipt (a full refund, or an error found before delivery). The number stays
-- used; the receipt stays verifiable and shows the mark. receipt_cancel and receipt_adjust are
-- for the owner (refunds, operators): not granted to feegate_app; they set their search_path
-- because they are also called directly, not only from SECURITY DEFINER functions.
CREATE FUNCTION receipt_cancel(p_receipt_id text, p_reason text) RETURNS void
LANGUAGE plpgsql SET search_path = feegate, pg_temp AS $$
BEGIN
    PERFORM 1 FROM receipts WHERE id = p_receipt_id;
    IF NOT FOUND THEN
        PERFORM fail('FG404', 'receipt_not_found',
                     format('receipt "%s" does not exist', p_receipt_id));
    END IF;
    INSERT INTO receipt_marks (receipt_id, mark, reason) VALUES (p_receipt_id, 'cancelled',
                                                                  p_reason)
        ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        PERFORM fail('FG409', 'receipt_final',
                     format('receipt "%s" is already cancelled or replaced', p_receipt_id));
    END IF;
END
$$;

-- The original's lines changed by p_delta (new total minus old): a decrease is taken from the
-- last line backwards (lines that reach zero are dropped), an increase goes to the last line.
-- So that a correction's lines always add up to its amount.
CREATE FUNCTION adjust_items(p_items jsonb, p_delta bigint) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = feegate, pg_temp AS $$
DECLARE
    v_out jsonb := '[]';
    v_left bigint := p_delta;
    v_amt bigint;
    v_take bigint;
    e jsonb;
BEGIN
    FOR e IN SELECT x FROM jsonb_array_elements(p_items) WITH ORDINALITY AS t(x, ord)
             ORDER BY ord DESC LOOP
        v_amt := (e ->> 'amount_vnd')::bigint;
        IF v_left > 0 THEN
            v_take := v_left;
        ELSE
            v_take := greatest(v_left, -v_amt);
        END IF;
        v_amt := v_amt + v_take;
        v_left := v_left - v_take;
        IF v_amt > 0 THEN
            v_out := jsonb_build_array(jsonb_set(e, '{amount_vnd}', to_jsonb(v_amt))) || v_out;
        END IF;
    END LOOP;
    RETURN v_out;
END
$$;

-- Issues an adjustment (kind 'adjustment': partial refund, amount change) or replacement
-- (kind 'replacement': any correction) receipt for p_original: the next number of the
-- original's series, the given amount and items (NULL: the original's, changed by the
-- difference as adjust_items says; given items must add up to the amount), and marks the
-- original. Its signed document follows from receipt_jobs like any receipt's. Returns the
-- new receipt's id. FG409 once the original is cancelled or replaced.
CREATE FUNCTION receipt_adjust(p_original text, p_kind text, p_amount_vnd bigint,
                               p_items jsonb, p_reason text)
RETURNS text
LANGUAGE plpgsql SET search_path = feegate, pg_temp AS $$
DECLARE
    o receipts;
    v_items jsonb;
    v_payment text;
    v_number int;
    v_id text := hex_id('rcp_');
BEGIN
    IF p_kind NOT IN ('adjustment', 'replacement') THEN
        PERFORM fail('FG400', 'invalid_kind', 'kind must be adjustment or replacement');
    END IF;
    SELECT * INTO o FROM receipts WHERE id = p_original;
    IF NOT FOUND THEN
        PERFORM fail('FG404', 'receipt_not_found',
                     format('receipt "%s" does not exist', p_original));
    END IF;
    IF EXISTS (SELECT 1 FROM receipt_marks m WHERE m.receipt_id = o.id
                                               AND m.mark IN ('cancelled', 'replaced')) THEN
        PERFORM fail('FG409', 'receipt_final',
                     format('receipt "%s" is already cancelled or replaced', o.id));
    END IF;
    SELECT coalesce(o.payment_id, l.payment_id) INTO v_payment
        FROM (SELECT 1) x LEFT JOIN receipt_links l ON l.receipt_id = o.id;
    v_items := coalesce(p_items, adjust_items(o.items, p_amount_vnd - o.amount_vnd));
    IF p_amount_vnd IS NULL OR p_amount_vnd <= 0 OR p_amount_vnd IS DISTINCT FROM
       (SELECT sum((e ->> 'amount_vnd')::bigint) FROM jsonb_array_elements(v_items) e) THEN
        PERFORM fail('FG400', 'invalid_amount',
                     'the amount must be positive and equal the sum of the lines');
    END IF;
    UPDATE receipt_series s SET next_number = s.next_number + 1
        WHERE s.template = o.template AND s.series = o.series
        RETURNING s.next_number - 1 INTO STRICT v_number;
    INSERT INTO receipts (id, payment_id, agency_code, template, series, number, amount_vnd,
                          payer, items, lookup_code)
        VALUES (v_id, NULL, o.agency_code, o.template, o.series, v_number, p_amount_vnd,
                o.payer, v_items, lookup_code_new());
    INSERT INTO receipt_links (receipt_id, original_id, kind, payment_id, delta_vnd, reason)
        VALUES (v_id, o.id, p_kind, v_payment, p_amount_vnd - o.amount_vnd, p_reason);
    INSERT INTO receipt_marks (receipt_id, mark, by_receipt_id, reason)
        VALUES (o.id, CASE p_kind WHEN 'adjustment' THEN 'adjusted' ELSE 'replaced' END, v_id,
                p_reason);
    RETURN v_id;
END
$$;
