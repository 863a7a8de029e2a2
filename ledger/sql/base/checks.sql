-- checks: ledger_check(), every invariant recomputed from the rows (`feegate ledger check`).
-- It is the union of three parts, kept apart so that each stays readable:
--   ledger_check_base   the ledger, the payments and their state machine, the receipts
--   ledger_check_more   business days, settlements, corrections, the chart of accounts
--   ledger_check_refs   the references the payment path's rows carry
--   ledger_check_overpayments   payments paid twice: each booked once, and the overpaid
--                       accounts holding exactly what is still owed back
--
-- The rows a payment writes carry foreign keys (schema.sql, "References"), enforced when the
-- row is written. ledger_check_refs proves the same references again, from the rows:
-- rows_reference_catalogue, rows_reference_payments and documents_reference_receipts. That
-- is a second line of defence, and the only one against a superuser who writes with
-- session_replication_role = replica, which skips the keys' triggers. A referenced client,
-- agency, channel or payment cannot be deleted or renamed, and those tables cannot be
-- truncated (refuse_referenced in integrity.sql); catalogue rows are retired by disabling
-- them, not by deleting them.

SET LOCAL search_path = feegate, pg_temp;

-- The ledger's balance, the payments, their events and state machine, and the receipts
-- (corrections have no payment of their own; every receipt is documented or queued).
CREATE FUNCTION ledger_check_base()
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

-- The posting rules: the chart of accounts, settlements, refunds, corrections and
-- reversals, write-offs by two people, late flags, no journal dated in the future.
CREATE FUNCTION ledger_check_more() RETURNS TABLE (check_name text, violations bigint, detail text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
    WITH checks (ord, name, bad) AS (
        SELECT 1, 'accounts_in_chart',
            (SELECT array_agg(a.code ORDER BY a.code) FROM accounts a
             WHERE a.type IS DISTINCT FROM (CASE split_part(a.code, ':', 1)
                 WHEN 'clearing' THEN 'asset' WHEN 'bank' THEN 'asset'
                 WHEN 'payable' THEN 'liability' WHEN 'refunds' THEN 'liability'
                 WHEN 'overpaid' THEN 'liability'
                 WHEN 'suspense' THEN 'liability' WHEN 'fees' THEN 'expense'
                 WHEN 'fee' THEN 'expense' WHEN 'writeoff' THEN 'expense'
                 WHEN 'income' THEN 'income' WHEN 'equity' THEN 'equity' END))
        UNION ALL
        SELECT 2, 'settlements_reference_payments',
            (SELECT array_agg(j.id::text ORDER BY j.id) FROM journals j
             WHERE j.kind = 'settlement' AND (SELECT coalesce(sum(s.gross_vnd), 0)
                                              FROM settlement_items s WHERE s.journal_id = j.id)
                   IS DISTINCT FROM (SELECT -sum(p.amount_vnd) FROM postings p
                                     WHERE p.journal_id = j.id AND p.amount_vnd < 0))
        UNION ALL
        SELECT 3, 'settled_items_booked',
            (SELECT array_agg(s.payment_id || '/' || s.treasury_account ORDER BY 1)
             FROM settlement_items s
             WHERE NOT EXISTS (SELECT 1 FROM journals j WHERE j.id = s.journal_id
                                                         AND j.kind = 'settlement')
                OR NOT EXISTS (SELECT 1 FROM journals j WHERE j.payment_id = s.payment_id
                                                         AND j.kind = 'payment_success'))
        UNION ALL
        SELECT 4, 'write_offs_two_people',
            (SELECT array_agg(j.id::text ORDER BY j.id) FROM journals j
             WHERE j.kind = 'write_off' AND (j.maker IS NULL OR j.checker IS NULL
                                            OR j.maker = j.checker))
        UNION ALL
        SELECT 5, 'corrections_reference_original',
            (SELECT array_agg(j.id::text ORDER BY j.id) FROM journals j
             WHERE j.kind IN ('reversal', 'correction') AND NOT EXISTS (
                 SELECT 1 FROM journals o WHERE o.id = j.ref_journal_id AND o.id < j.id
                    AND o.payment_id IS NOT DISTINCT FROM j.payment_id))
        UNION ALL
        SELECT 6, 'reversals_negate_original',
            (SELECT array_agg(j.id::text ORDER BY j.id) FROM journals j
             WHERE j.kind = 'reversal' AND EXISTS (
                 (SELECT account_code, -amount_vnd FROM postings WHERE journal_id = j.ref_journal_id
                  EXCEPT ALL SELECT account_code, amount_vnd FROM postings WHERE journal_id = j.id)
                 UNION ALL
                 (SELECT account_code, amount_vnd FROM postings WHERE journal_id = j.id
                  EXCEPT ALL SELECT account_code, -amount_vnd FROM postings
                  WHERE journal_id = j.ref_journal_id)))
        UNION ALL
        SELECT 7, 'refunds_within_payment',
            (SELECT array_agg(x.payment_id ORDER BY x.payment_id) FROM (
                SELECT j.payment_id, sum(-p.amount_vnd) AS refunded FROM journals j
                JOIN postings p ON p.journal_id = j.id AND p.amount_vnd < 0
                WHERE j.kind IN ('refund_before_settlement', 'refund_after_settlement')
                GROUP BY j.payment_id) x
             JOIN payments pay ON pay.id = x.payment_id WHERE x.refunded > pay.amount_vnd)
        UNION ALL
        SELECT 8, 'journals_not_in_future',
            (SELECT array_agg(j.id::text ORDER BY j.id) FROM journals j
             WHERE j.business_day > (j.created_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date)
        UNION ALL
        SELECT 9, 'late_flags_match_payments',
            (SELECT array_agg(j.id::text ORDER BY j.id) FROM journals j
             JOIN payments p ON p.id = j.payment_id
             WHERE j.kind = 'payment_success' AND j.late AND NOT p.late)
    )
    SELECT name, coalesce(cardinality(bad), 0)::bigint,
           CASE WHEN bad IS NULL THEN ''
                ELSE array_to_string(bad[1:10], ', ') ||
                     CASE WHEN cardinality(bad) > 10 THEN ', ...' ELSE '' END END
    FROM checks ORDER BY ord
$$;

-- The references of the payment path's rows (see above).
CREATE FUNCTION ledger_check_refs() RETURNS TABLE (check_name text, violations bigint,
                                                   detail text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
    WITH checks (ord, name, bad) AS (
        SELECT 1, 'rows_reference_catalogue',
            (SELECT array_agg(x.what ORDER BY x.what) FROM (
                SELECT 'payments/' || p.id AS what FROM payments p
                WHERE NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = p.client_id)
                   OR NOT EXISTS (SELECT 1 FROM agencies a WHERE a.code = p.agency_code)
                   OR (p.channel IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM channels c WHERE c.code = p.channel))
                UNION ALL
                SELECT 'payment_attempts/' || a.merchant_ref FROM payment_attempts a
                WHERE NOT EXISTS (SELECT 1 FROM channels c WHERE c.code = a.channel)
                UNION ALL
                SELECT 'idempotency/' || i.client_id || '/' || i.idem_key FROM idempotency i
                WHERE NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = i.client_id)) x)
        UNION ALL
        SELECT 2, 'rows_reference_payments',
            (SELECT array_agg(x.what ORDER BY x.what) FROM (
                SELECT 'payment_events/' || e.id AS what FROM payment_events e
                WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.id = e.payment_id)
                UNION ALL
                SELECT 'payment_attempts/' || a.merchant_ref FROM payment_attempts a
                WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.id = a.payment_id)
                UNION ALL
                SELECT 'journals/' || j.id FROM journals j
                WHERE j.payment_id IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.id = j.payment_id)
                UNION ALL
                SELECT 'receipts/' || r.id FROM receipts r
                WHERE r.payment_id IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.id = r.payment_id)) x)
        UNION ALL
        SELECT 3, 'documents_reference_receipts',
            (SELECT array_agg(d.id::text ORDER BY d.id) FROM receipt_documents d
             WHERE NOT EXISTS (SELECT 1 FROM receipts r WHERE r.id = d.receipt_id))
    )
    SELECT name, coalesce(cardinality(bad), 0)::bigint,
           CASE WHEN bad IS NULL THEN ''
                ELSE array_to_string(bad[1:10], ', ') ||
                     CASE WHEN cardinality(bad) > 10 THEN ', ...' ELSE '' END END
    FROM checks ORDER BY ord
$$;

-- Overpayments (overpayments.sql): each channel's overpaid balance is what its overpayments
-- still owe (owed, refunding, to_transfer); each overpayment is a success of another attempt
-- of its payment, which is paid, booked by its own journal, and its refund or transfer by
-- theirs; no overpayment journal without its overpayment.
CREATE FUNCTION ledger_check_overpayments()
RETURNS TABLE (check_name text, violations bigint, detail text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
    WITH
    bal AS (
        SELECT substr(p.account_code, 10) AS channel, -sum(p.amount_vnd) AS held
        FROM postings p WHERE p.account_code LIKE 'overpaid:%' GROUP BY 1
    ),
    owed AS (
        SELECT o.channel, sum(o.amount_vnd) AS owed FROM overpayments o
        WHERE o.state IN ('owed', 'refunding', 'to_transfer') GROUP BY 1
    ),
    checks (ord, name, bad) AS (
        SELECT 1, 'overpaid_balance_is_owed',
            (SELECT array_agg(coalesce(b.channel, w.channel) || ' holds '
                              || coalesce(b.held, 0) || ', owes ' || coalesce(w.owed, 0)
                              ORDER BY 1)
             FROM bal b FULL JOIN owed w ON w.channel = b.channel
             WHERE coalesce(b.held, 0) <> coalesce(w.owed, 0))
        UNION ALL
        SELECT 2, 'overpayments_of_paid_payments',
            (SELECT array_agg(o.id ORDER BY o.id) FROM overpayments o
             LEFT JOIN payments p ON p.id = o.payment_id
             LEFT JOIN payment_attempts a ON a.merchant_ref = o.merchant_ref
             WHERE p.status IS NULL
                OR p.status NOT IN ('succeeded', 'partially_refunded', 'refunded')
                OR p.merchant_ref IS NOT DISTINCT FROM o.merchant_ref
                OR a.payment_id IS DISTINCT FROM o.payment_id
                OR a.channel IS DISTINCT FROM o.channel OR o.amount_vnd <> p.amount_vnd)
        UNION ALL
        SELECT 3, 'overpayments_booked',
            (SELECT array_agg(o.id ORDER BY o.id) FROM overpayments o
             WHERE NOT EXISTS (
                     SELECT 1 FROM journals j JOIN postings p ON p.journal_id = j.id
                     WHERE j.id = o.journal_id AND j.kind = 'overpayment'
                       AND j.payment_id = o.payment_id
                       AND p.account_code = 'overpaid:' || o.channel
                       AND p.amount_vnd = -o.amount_vnd)
                OR (o.state = 'refunded') <> EXISTS (
                     SELECT 1 FROM refunds r JOIN journals j ON j.payment_id = o.payment_id
                         AND j.kind = 'overpayment_refund' AND j.memo LIKE '% ' || o.id || ' %'
                     WHERE r.id = o.refund_id AND r.overpayment_id = o.id
                       AND r.status = 'succeeded')
                OR (o.state = 'transferred') <> EXISTS (
                     SELECT 1 FROM journals j WHERE j.payment_id = o.payment_id
                       AND j.kind = 'overpayment_transfer' AND j.memo LIKE '% ' || o.id || ' %'))
        UNION ALL
        SELECT 4, 'overpayment_journals_explained',
            (SELECT array_agg(j.id::text ORDER BY j.id) FROM journals j
             WHERE j.kind = 'overpayment'
               AND NOT EXISTS (SELECT 1 FROM overpayments o WHERE o.journal_id = j.id))
    )
    SELECT name, coalesce(cardinality(bad), 0)::bigint,
           CASE WHEN bad IS NULL THEN ''
                ELSE array_to_string(bad[1:10], ', ') ||
                     CASE WHEN cardinality(bad) > 10 THEN ', ...' ELSE '' END END
    FROM checks ORDER BY ord
$$;

-- Every check, one row each: violations 0 when it holds.
CREATE FUNCTION ledger_check() RETURNS TABLE (check_name text, violations bigint,
                                                         detail text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
    SELECT * FROM ledger_check_base()
    UNION ALL
    SELECT * FROM ledger_check_more()
    UNION ALL
    SELECT * FROM ledger_check_refs()
    UNION ALL
    SELECT * FROM ledger_check_overpayments()
$$;
