-- 020_claim_by_key: the receipt issuer's claim updates the claimed jobs through their primary
-- key, and returns a view without the parts a new receipt cannot have.
--
-- receipt_jobs_claim of 007 joined the claimed ids back to receipt_jobs, and the planner,
-- which sees a small table, may choose a hash join over a sequential scan of it. The table is
-- small in rows but not in pages: every job is inserted, leased and deleted within seconds,
-- so such a plan reads every dead row of the last minutes again on each claim. Written as
-- "= ANY (ARRAY(...))", the update reads the claimed rows by key, whatever the statistics say.
--
-- Most of a claim's time is the view of each claimed receipt (about 6 ms for 50 under the
-- benchmark's load). The claim now returns receipt_issue_view: receipt_view of 007 without
-- "marks" and "document", each a subquery per job, which a receipt being issued cannot have.

SET LOCAL search_path = feegate, pg_temp;

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
            'url', p.base_url || '/receipts/' || r.id)::text
        FROM receipts r JOIN agencies a ON a.code = r.agency_code
                        LEFT JOIN receipt_links l ON l.receipt_id = r.id
                        LEFT JOIN receipts o ON o.id = l.original_id
                        JOIN payments p ON p.id = coalesce(r.payment_id, l.payment_id)
        WHERE r.id = receipt_issue_view.receipt_id);
END
$$;
REVOKE ALL ON FUNCTION receipt_issue_view(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION receipt_jobs_claim(max int, lease_s int)
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
