-- 005_check_grants: ledger_check(), every invariant recomputed from the rows, and the
-- privileges of feegate_app (execute the contract's functions, read tables, nothing else).

SET LOCAL search_path = feegate, pg_temp;

CREATE FUNCTION ledger_check() RETURNS TABLE (check_name text, violations bigint, detail text)
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
             WHERE NOT EXISTS (SELECT 1 FROM settled s WHERE s.id = r.payment_id))
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
    )
    SELECT name, coalesce(cardinality(bad), 0)::bigint,
           CASE WHEN bad IS NULL THEN ''
                ELSE array_to_string(bad[1:10], ', ') ||
                     CASE WHEN cardinality(bad) > 10 THEN ', ...' ELSE '' END END
    FROM checks ORDER BY ord
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA feegate FROM PUBLIC;

GRANT USAGE ON SCHEMA feegate TO feegate_app;
GRANT SELECT ON ALL TABLES IN SCHEMA feegate TO feegate_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA feegate GRANT SELECT ON TABLES TO feegate_app;
GRANT EXECUTE ON FUNCTION
    api_create_payment(text, text, text, jsonb, text),
    api_get_payment(text, text),
    api_find_payments(text, text),
    api_cancel_payment(text, text, text, text),
    api_payment_events(text, text),
    api_catalog(text),
    checkout_view(text),
    checkout_begin(text, text, text),
    apply_provider_result(text, text, text, bigint, text, timestamptz, text, text),
    expire_due(int),
    outbox_claim(int, int),
    outbox_result(bigint, bool, int, text),
    clients_list(),
    receipt_view(text),
    ledger_check(),
    payment_json(text)
TO feegate_app;
