-- 007_receipts: the legal documents around the numbered receipts (docs/receipts.md).
--   receipt_jobs        one row per receipt whose signed XML is still to be made; queued by a
--                       trigger on receipts (one small INSERT in the success transaction,
--                       after issue_receipt, so the series lock is not held longer)
--   receipt_documents   the signed XML, append-only, one per receipt and kind
--   receipt_links       adjustment and replacement receipts -> the original they correct
--   receipt_marks       cancelled / adjusted / replaced marks on receipts, append-only
--   receipt_jobs_claim, receipt_job_fail, receipt_document_store, receipt_xml,
--   receipt_verify      for the gateway's receipt worker and pages
--   receipt_cancel, receipt_adjust   cancel and correct (owner only: called by refunds)
--   receipt_view        redefined (from 004) with the document, the marks and the original
--   ledger_check        redefined (from 005): corrections have no payment of their own, and
--                       every receipt is documented or queued

SET LOCAL search_path = feegate, pg_temp;

-- Jobs are work, not evidence: claimed with a lease, deleted when the document is stored.
-- No foreign key: the row is written on the success path, right after its receipt.
CREATE TABLE receipt_jobs (
    receipt_id  text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    attempts    int NOT NULL DEFAULT 0,
    last_error  text
);
CREATE INDEX receipt_jobs_due ON receipt_jobs (created_at);

CREATE TABLE receipt_documents (
    id               bigserial PRIMARY KEY,
    receipt_id       text NOT NULL REFERENCES receipts (id),
    kind             text NOT NULL CHECK (kind IN ('xml')),
    body             text NOT NULL CHECK (length(body) BETWEEN 1 AND 1000000),
    sha256           text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    signed_at        timestamptz, -- NULL: no signing certificate was configured
    cert_fingerprint text CHECK (cert_fingerprint ~ '^[0-9a-f]{64}$'),
    stored_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (receipt_id, kind),
    CHECK ((signed_at IS NULL) = (cert_fingerprint IS NULL))
);

-- Corrections are receipts of their own (next number of the same series) without a payment
-- of their own: payment_id stays NULL there, and the link says whose payment it was.
ALTER TABLE receipts ALTER COLUMN payment_id DROP NOT NULL;

CREATE TABLE receipt_links (
    receipt_id  text PRIMARY KEY REFERENCES receipts (id),
    original_id text NOT NULL REFERENCES receipts (id),
    kind        text NOT NULL CHECK (kind IN ('adjustment', 'replacement')),
    payment_id  text NOT NULL REFERENCES payments (id),
    delta_vnd   bigint NOT NULL, -- new amount minus the original's
    reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    CHECK (receipt_id <> original_id)
);
CREATE INDEX receipt_links_original ON receipt_links (original_id);

CREATE TABLE receipt_marks (
    id            bigserial PRIMARY KEY,
    receipt_id    text NOT NULL REFERENCES receipts (id),
    mark          text NOT NULL CHECK (mark IN ('cancelled', 'adjusted', 'replaced')),
    by_receipt_id text REFERENCES receipts (id),
    reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    at            timestamptz NOT NULL DEFAULT now(),
    CHECK ((mark = 'cancelled') = (by_receipt_id IS NULL))
);
-- A receipt ends at most once: cancelled or replaced.
CREATE UNIQUE INDEX receipt_marks_final ON receipt_marks (receipt_id)
    WHERE mark IN ('cancelled', 'replaced');

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['receipt_documents', 'receipt_links', 'receipt_marks'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON feegate.%I '
                       'FOR EACH ROW EXECUTE FUNCTION feegate.forbid_change()',
                       t || '_append_only', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON feegate.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION feegate.forbid_change()',
                       t || '_no_truncate', t);
    END LOOP;
END
$$;

-- Every new receipt queues its document job in the same transaction: late, never missing.
CREATE FUNCTION receipt_queue_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feegate.receipt_jobs (receipt_id) VALUES (NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER receipts_queue_job AFTER INSERT ON receipts
    FOR EACH ROW EXECUTE FUNCTION receipt_queue_job();

-- Receipts numbered before this migration get their documents too.
INSERT INTO receipt_jobs (receipt_id, created_at) SELECT id, issued_at FROM receipts;

-- The receipt as the pages, the worker and the verification page see it. Keys of 004 kept;
-- added: kind, order_ref, original (for corrections), marks, document.
CREATE OR REPLACE FUNCTION receipt_view(receipt_id text) RETURNS text
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
            'issued_at', ts_text(r.issued_at),
            'amount_vnd', r.amount_vnd,
            'payer', r.payer,
            'items', r.items,
            'agency', json_build_object('code', a.code, 'name', a.name, 'tax_code', a.tax_code,
                                        'address', a.address),
            'channel', p.channel,
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

-- Up to max due jobs, leased for lease_s seconds, each with its receipt_view.
CREATE FUNCTION receipt_jobs_claim(max int, lease_s int)
RETURNS TABLE (receipt_id text, attempts int, view text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        WITH due AS (
            SELECT j.receipt_id FROM receipt_jobs j
            WHERE j.lease_until IS NULL OR j.lease_until <= now()
            ORDER BY j.created_at
            LIMIT greatest(least(receipt_jobs_claim.max, 1000), 0)
            FOR UPDATE SKIP LOCKED
        )
        UPDATE receipt_jobs j SET lease_until = now() + greatest(lease_s, 1) * interval '1 second',
                                  attempts = j.attempts + 1
        FROM due WHERE j.receipt_id = due.receipt_id
        RETURNING j.receipt_id, j.attempts, receipt_view(j.receipt_id);
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

-- The receipt_view of a code: a receipt id, or "SERIES/NUMBER" or "TEMPLATE/SERIES/NUMBER"
-- (the number with or without its zeros). NULL when nothing matches; FG409 when a series and
-- number match receipts of several templates.
CREATE FUNCTION receipt_verify(code text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_parts text[] := string_to_array(upper(btrim(code)), '/');
    v_n int := cardinality(v_parts);
    v_ids text[];
BEGIN
    IF code ~ '^rcp_[0-9a-f]{32}$' THEN
        RETURN receipt_view(code);
    END IF;
    IF v_n NOT IN (2, 3) OR v_parts[v_n] !~ '^[0-9]{1,7}$' THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(r.id) INTO v_ids FROM receipts r
        WHERE r.series = v_parts[v_n - 1] AND r.number = v_parts[v_n]::int
          AND (v_n = 2 OR r.template = v_parts[1]);
    IF cardinality(v_ids) > 1 THEN
        PERFORM fail('FG409', 'receipt_code_ambiguous',
                     'several templates have this series and number: give the template too');
    END IF;
    RETURN receipt_view(v_ids[1]);
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
                          payer, items)
        VALUES (v_id, NULL, o.agency_code, o.template, o.series, v_number, p_amount_vnd,
                o.payer, v_items);
    INSERT INTO receipt_links (receipt_id, original_id, kind, payment_id, delta_vnd, reason)
        VALUES (v_id, o.id, p_kind, v_payment, p_amount_vnd - o.amount_vnd, p_reason);
    INSERT INTO receipt_marks (receipt_id, mark, by_receipt_id, reason)
        VALUES (o.id, CASE p_kind WHEN 'adjustment' THEN 'adjusted' ELSE 'replaced' END, v_id,
                p_reason);
    RETURN v_id;
END
$$;

-- From 005 (the latest definition), with checks 9, 16 and 17 for receipts.
CREATE OR REPLACE FUNCTION ledger_check()
RETURNS TABLE (check_name text, violations bigint, detail text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
    WITH
    jb AS (
        SELECT j.id, count(p.id) AS n, coalesce(sum(p.amount_vnd), 0) AS total
        FROM journals j LEFT JOIN postings p ON p.journal_id = j.id GROUP BY j.id
    ),
    succ AS (
        SELECT j.payment_id, count(*) AS n, sum(d.debit) AS debit
        FROM journals j
        JOIN LATERAL (SELECT sum(p.amount_vnd) FILTER (WHERE p.amount_vnd > 0) AS debit
                      FROM postings p WHERE p.journal_id = j.id) d ON true
        WHERE j.kind = 'payment_success' GROUP BY j.payment_id
    ),
    settled AS (
        SELECT * FROM payments WHERE status IN ('succeeded', 'partially_refunded', 'refunded')
    ),
    rs AS (
        SELECT s.template, s.series, s.next_number, count(r.id) AS n,
               count(DISTINCT r.number) AS nd, coalesce(max(r.number), 0) AS mx,
               coalesce(min(r.number), 1) AS mn
        FROM receipt_series s LEFT JOIN receipts r
            ON r.template = s.template AND r.series = s.series
        GROUP BY s.template, s.series, s.next_number
    ),
    checks (ord, name, bad) AS (
        SELECT 1, 'journals_balanced', (SELECT array_agg(id::text ORDER BY id) FROM jb
                                         WHERE n < 2 OR total <> 0)
        UNION ALL
        SELECT 2, 'postings_sum_zero', (SELECT ARRAY[sum(amount_vnd)::text] FROM postings
                                         HAVING sum(amount_vnd) <> 0)
        UNION ALL
        SELECT 3, 'posting_accounts_exist',
            (SELECT array_agg(DISTINCT p.account_code) FROM postings p
             WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.code = p.account_code))
        UNION ALL
        SELECT 4, 'postings_have_journal',
            (SELECT array_agg(p.id::text ORDER BY p.id) FROM postings p
             WHERE NOT EXISTS (SELECT 1 FROM journals j WHERE j.id = p.journal_id))
        UNION ALL
        SELECT 5, 'payment_settled_at_most_once',
            (SELECT array_agg(payment_id ORDER BY payment_id) FROM succ WHERE n > 1)
        UNION ALL
        SELECT 6, 'settled_payments_booked',
            (SELECT array_agg(s.id ORDER BY s.id) FROM settled s
             LEFT JOIN succ ON succ.payment_id = s.id
             WHERE succ.n IS DISTINCT FROM 1 OR succ.debit IS DISTINCT FROM s.amount_vnd)
        UNION ALL
        SELECT 7, 'settled_payments_receipted',
            (SELECT array_agg(s.id ORDER BY s.id) FROM settled s
             WHERE NOT EXISTS (SELECT 1 FROM receipts r WHERE r.payment_id = s.id
                                                         AND r.amount_vnd = s.amount_vnd))
        UNION ALL
        SELECT 8, 'success_journals_settled',
            (SELECT array_agg(succ.payment_id ORDER BY succ.payment_id) FROM succ
             WHERE NOT EXISTS (SELECT 1 FROM settled s WHERE s.id = succ.payment_id))
        UNION ALL
        SELECT 9, 'receipts_of_settled_payments',
            (SELECT array_agg(r.id ORDER BY r.id) FROM receipts r
             LEFT JOIN receipt_links l ON l.receipt_id = r.id
             WHERE NOT EXISTS (SELECT 1 FROM settled s
                               WHERE s.id = coalesce(r.payment_id, l.payment_id)))
        UNION ALL
        SELECT 10, 'receipt_numbers_gapless',
            (SELECT array_agg(template || '/' || series ORDER BY template, series) FROM rs
             WHERE n <> nd OR mn <> 1 OR mx <> n OR mx <> next_number - 1)
        UNION ALL
        SELECT 11, 'transitions_complete',
            (SELECT array_agg(s.status || '/' || e.event ORDER BY s.status, e.event)
             FROM payment_statuses s CROSS JOIN payment_event_kinds e
             WHERE NOT EXISTS (SELECT 1 FROM payment_transitions t
                               WHERE t.from_status = s.status AND t.event = e.event))
        UNION ALL
        SELECT 12, 'fee_splits_complete',
            (SELECT array_agg(f.agency_code || '/' || f.fee_code ORDER BY 1) FROM fees f
             WHERE (SELECT coalesce(sum(share_bp), 0) FROM fee_splits s
                    WHERE s.agency_code = f.agency_code AND s.fee_code = f.fee_code) <> 10000)
        UNION ALL
        SELECT 13, 'receipts_match_catalogue',
            (SELECT array_agg(r.id ORDER BY r.id) FROM receipts r
             JOIN payments p ON p.id = r.payment_id
             WHERE r.agency_code <> p.agency_code OR NOT EXISTS (
                 SELECT 1 FROM receipt_series s
                 WHERE s.template = r.template AND s.series = r.series))
        UNION ALL
        SELECT 14, 'outbox_rows_match_payments',
            (SELECT array_agg(o.id::text ORDER BY o.id) FROM outbox o
             LEFT JOIN payments p ON p.id = o.payment_id
             WHERE p.id IS NULL OR p.client_id <> o.client_id)
        UNION ALL
        SELECT 15, 'payment_amounts_sum_items',
            (SELECT array_agg(p.id ORDER BY p.id) FROM payments p
             WHERE p.amount_vnd IS DISTINCT FROM
                   (SELECT sum((e ->> 'amount_vnd')::bigint) FROM jsonb_array_elements(p.items) e))
        UNION ALL
        SELECT 16, 'receipts_documented_or_queued',
            (SELECT array_agg(r.id ORDER BY r.id) FROM receipts r
             WHERE NOT EXISTS (SELECT 1 FROM receipt_documents d WHERE d.receipt_id = r.id)
               AND NOT EXISTS (SELECT 1 FROM receipt_jobs j WHERE j.receipt_id = r.id))
        UNION ALL
        SELECT 17, 'receipt_corrections_linked',
            (SELECT array_agg(r.id ORDER BY r.id) FROM receipts r
             WHERE (r.payment_id IS NULL) <> EXISTS (SELECT 1 FROM receipt_links l
                                                      WHERE l.receipt_id = r.id))
    )
    SELECT name, coalesce(cardinality(bad), 0)::bigint,
           CASE WHEN bad IS NULL THEN ''
                ELSE array_to_string(bad[1:10], ', ') ||
                     CASE WHEN cardinality(bad) > 10 THEN ', ...' ELSE '' END END
    FROM checks ORDER BY ord
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA feegate FROM PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA feegate TO feegate_app;
GRANT EXECUTE ON FUNCTION
    receipt_view(text),
    receipt_jobs_claim(int, int),
    receipt_job_fail(text, text),
    receipt_document_store(text, text, text, text),
    receipt_xml(text),
    receipt_verify(text),
    ledger_check()
TO feegate_app;
