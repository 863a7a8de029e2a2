-- 025_post_journal_by_key: post_journal looks its accounts up by key.
--
-- post_journal of 008 opens the accounts its postings name that do not exist yet. The test
-- was an anti-join between the postings and the chart of accounts, which the planner runs as
-- a hash anti-join: every journal read the whole chart and hashed it. The chart grows with
-- every channel and treasury account, so every payment's success journal cost more as the
-- catalogue grew. Now each account named is looked up by its primary key. Same accounts
-- opened, same errors; the rest of the function is 008's, unchanged.

SET LOCAL search_path = feegate, pg_temp;

CREATE OR REPLACE FUNCTION post_journal(p_kind text, p_payment_id text, p_memo text,
                                        p_postings jsonb, p_day date DEFAULT NULL,
                                        p_meta jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_n bigint;
    v_sum numeric;
    v_bad bigint;
    v_id bigint;
    v_today date := (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date;
    v_day date := coalesce(p_day, (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date);
BEGIN
    IF jsonb_typeof(p_postings) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION USING ERRCODE = 'FG500', MESSAGE = 'journal_unbalanced',
            DETAIL = format('%s journal: postings must be an array', p_kind);
    END IF;
    SELECT count(*), sum((e ->> 'amount_vnd')::bigint),
           count(*) FILTER (WHERE coalesce((e ->> 'amount_vnd')::bigint, 0) = 0
                                  OR jsonb_typeof(e -> 'account') IS DISTINCT FROM 'string')
        INTO v_n, v_sum, v_bad FROM jsonb_array_elements(p_postings) e;
    IF v_n < 2 OR v_sum IS DISTINCT FROM 0 OR v_bad > 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'FG500', MESSAGE = 'journal_unbalanced',
            DETAIL = format('%s journal of %s: %s postings summing to %s (%s without an account '
                            'or amount)', p_kind, p_payment_id, v_n, v_sum, v_bad);
    END IF;
    IF v_day > v_today THEN
        RAISE EXCEPTION USING ERRCODE = 'FG422', MESSAGE = 'business_day_in_future',
            DETAIL = format('business day %s is after today (%s, Asia/Ho_Chi_Minh)', v_day,
                            v_today);
    END IF;
    PERFORM ledger_account(m.a) FROM (
        SELECT DISTINCT e ->> 'account' AS a FROM jsonb_array_elements(p_postings) e) m
        WHERE (SELECT 1 FROM accounts c WHERE c.code = m.a) IS NULL; -- by key, not a hash
    INSERT INTO journals (kind, payment_id, business_day, memo, late, ref_journal_id, maker,
                          checker)
        VALUES (p_kind, p_payment_id, v_day, coalesce(p_memo, ''),
                coalesce((p_meta ->> 'late')::bool, false), (p_meta ->> 'ref_journal_id')::bigint,
                p_meta ->> 'maker', p_meta ->> 'checker')
        RETURNING id INTO v_id;
    INSERT INTO postings (journal_id, account_code, amount_vnd)
        SELECT v_id, e ->> 'account', (e ->> 'amount_vnd')::bigint
        FROM jsonb_array_elements(p_postings) WITH ORDINALITY AS t(e, ord) ORDER BY ord;
    IF EXISTS (SELECT 1 FROM business_days d WHERE d.day = v_day AND d.status = 'closed') THEN
        RAISE EXCEPTION USING ERRCODE = 'FG409', MESSAGE = 'business_day_closed',
            DETAIL = format('business day %s is closed: date the journal in an open day', v_day);
    END IF;
    RETURN v_id;
END
$$;
