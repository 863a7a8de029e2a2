-- ledger: the double-entry ledger (docs/ledger.md, "Posting rules" and "Tamper evidence").
--   accounts        the chart: clearing, payable, fees, refunds, overpaid, suspense, writeoff,
--                   bank, income, equity; created on demand by ledger_account() only, and for every
--                   channel and treasury account when it is inserted
--   post_journal    the only write path into journals and postings: business day,
--                   metadata, accounts checked
--   book_success    the success journal of a payment (clearing -> payable per fee split)
--   ledger_settle, ledger_refund, ledger_refund_paid, ledger_fee_topup, ledger_correct,
--   ledger_to_suspense, ledger_write_off   the posting rules (owner only)
--   ledger_seal     the hash chain (journal_seals), filled in journal id order outside the
--                   payment transaction (the gateway calls it every second)
-- The tables (journals, postings, business_days, settlement_items, journal_seals) are in
-- schema.sql, their integrity triggers in integrity.sql, ledger_check() in checks.sql.

SET LOCAL search_path = feegate, pg_temp;

-- The account type follows from the code's prefix; an unknown prefix is a bug.
CREATE FUNCTION account_type(p_code text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    CASE split_part(p_code, ':', 1)
        WHEN 'clearing' THEN RETURN 'asset';
        WHEN 'bank' THEN RETURN 'asset';
        WHEN 'payable' THEN RETURN 'liability';
        WHEN 'refunds' THEN RETURN 'liability';
        WHEN 'overpaid' THEN RETURN 'liability';
        WHEN 'suspense' THEN RETURN 'liability';
        WHEN 'fees' THEN RETURN 'expense';
        WHEN 'fee' THEN RETURN 'expense';
        WHEN 'writeoff' THEN RETURN 'expense';
        WHEN 'income' THEN RETURN 'income';
        WHEN 'equity' THEN RETURN 'equity';
        ELSE
            RAISE EXCEPTION USING ERRCODE = 'FG422', MESSAGE = 'unknown_account',
                DETAIL = format('account "%s" is not in the chart of accounts', p_code);
    END CASE;
END
$$;

-- The one way an account comes into being. Channel accounts (clearing, fees, refunds,
-- overpaid, suspense, writeoff) need the channel, payable accounts the treasury account; bank, income
-- and equity accounts are the switch's own and take any suffix. Returns the code.
CREATE FUNCTION ledger_account(p_code text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_prefix text := split_part(p_code, ':', 1);
    v_suffix text := substr(p_code, length(split_part(p_code, ':', 1)) + 2);
    v_name text;
BEGIN
    IF p_code IS NULL OR p_code !~ '^[a-z_]+:[A-Za-z0-9_-]+$' THEN
        RAISE EXCEPTION USING ERRCODE = 'FG422', MESSAGE = 'unknown_account',
            DETAIL = format('account "%s" is not of the form prefix:name', p_code);
    END IF;
    IF EXISTS (SELECT 1 FROM accounts WHERE code = p_code) THEN
        RETURN p_code;
    END IF;
    IF v_prefix IN ('clearing', 'fees', 'refunds', 'overpaid', 'suspense', 'writeoff') THEN
        SELECT name INTO v_name FROM channels WHERE code = v_suffix;
    ELSIF v_prefix = 'payable' THEN
        SELECT name INTO v_name FROM treasury_accounts WHERE code = v_suffix;
    ELSIF v_prefix IN ('bank', 'income', 'equity') THEN
        v_name := v_suffix;
    END IF;
    IF v_name IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'FG422', MESSAGE = 'unknown_account',
            DETAIL = format('account "%s" is not in the chart of accounts (no such %s)', p_code,
                            CASE WHEN v_prefix = 'payable' THEN 'treasury account'
                                 WHEN v_prefix IN ('clearing', 'fees', 'refunds', 'overpaid',
                                                   'suspense', 'writeoff') THEN 'channel'
                                 ELSE 'prefix' END);
    END IF;
    INSERT INTO accounts (code, name, type)
        VALUES (p_code, v_prefix || ' ' || v_name, account_type(p_code))
        ON CONFLICT DO NOTHING;
    RETURN p_code;
END
$$;

-- Opens the ledger accounts of a new channel or treasury account. It sets its search_path
-- (ledger_account names its tables without the schema): an operator adding a treasury
-- account from psql, whose path is "$user", public, would otherwise get 'relation
-- "accounts" does not exist'. It runs only when the catalogue grows, never on the payment
-- path, so the SET clause costs nothing that matters.
CREATE FUNCTION accounts_of_new_row() RETURNS trigger LANGUAGE plpgsql
SET search_path = feegate, pg_temp AS $$
DECLARE
    p text;
BEGIN
    IF TG_TABLE_NAME = 'channels' THEN
        FOREACH p IN ARRAY ARRAY['clearing', 'fees', 'refunds', 'overpaid', 'suspense',
                                 'writeoff'] LOOP
            PERFORM feegate.ledger_account(p || ':' || NEW.code);
        END LOOP;
    ELSE
        PERFORM feegate.ledger_account('payable:' || NEW.code);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER channels_accounts AFTER INSERT ON channels
    FOR EACH ROW EXECUTE FUNCTION accounts_of_new_row();

CREATE TRIGGER treasury_accounts_accounts AFTER INSERT ON treasury_accounts
    FOR EACH ROW EXECUTE FUNCTION accounts_of_new_row();

-- The switch's operating bank account (fee top-ups) and the opening-balance equity.
SELECT ledger_account('bank:operating'), ledger_account('equity:opening');

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

-- The only write path into the ledger. p_postings is [{"account":..,"amount_vnd":..}], debit
-- positive, credit negative, at least two, summing to zero (asserted here before inserting;
-- the commit trigger checks it again: pair assertion). p_day: the business day (NULL: today
-- in Asia/Ho_Chi_Minh); a future or closed day is refused. p_meta: optional
-- {"late": bool, "ref_journal_id": id, "maker": staff, "checker": staff}. Accounts missing
-- from the chart are created by ledger_account (which refuses unknown ones). The closed-day
-- test runs after the journal row is inserted: day close takes a SHARE lock on journals
-- first, so either this journal is committed before the day closes or it sees it closed.
-- Returns the journal id.
--
-- Each account named is looked up by its primary key. As an anti-join between the postings
-- and the chart, the planner ran a hash anti-join: every journal read the whole chart and
-- hashed it, and the chart grows with every channel and treasury account, so every
-- payment's success journal cost more as the catalogue grew.
CREATE FUNCTION post_journal(p_kind text, p_payment_id text, p_memo text,
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

-- The success journal (also for a late success, flagged late): debit clearing:<channel> the
-- amount, credit payable:<treasury> per fee split. At most once per payment (the unique
-- index journals_payment_success).
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
                        format('%spayment %s order %s via %s %s',
                               CASE WHEN p.late THEN 'late ' ELSE '' END, p.id, p.order_ref,
                               p.channel, p.provider_txn_id),
                        v_postings, NULL,
                        CASE WHEN p.late THEN '{"late": true}'::jsonb END);
END
$$;

-- One field of the canonical text: NULL is "~", a value is its length in bytes, ":", itself.
CREATE FUNCTION canon_field(v text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN v IS NULL THEN '~' ELSE octet_length(v)::text || ':' || v END
$$;

-- The canonical text of each listed journal and its postings (in posting id order), what a
-- seal hashes; ldg_verify.c rebuilds the same bytes from the rows.
CREATE FUNCTION journal_canon(p_ids bigint[]) RETURNS TABLE (id bigint, canon text)
LANGUAGE sql STABLE AS $$
    SELECT j.id, 'J' || canon_field(j.id::text) || canon_field(j.kind)
           || canon_field(j.payment_id) || canon_field(to_char(j.business_day, 'YYYY-MM-DD'))
           || canon_field(j.memo)
           || canon_field((extract(epoch FROM j.created_at) * 1000000)::bigint::text)
           || canon_field(j.late::text) || canon_field(j.ref_journal_id::text)
           || canon_field(j.maker) || canon_field(j.checker) || coalesce(pa.txt, '')
    FROM journals j
    LEFT JOIN LATERAL (SELECT string_agg('P' || canon_field(p.id::text)
                                         || canon_field(p.account_code)
                                         || canon_field(p.amount_vnd::text), '' ORDER BY p.id)
                       FROM postings p WHERE p.journal_id = j.id) pa(txt) ON true
    WHERE j.id = ANY (p_ids)
    ORDER BY j.id
$$;

-- Seals up to p_max committed journals in id order: hash = sha256(previous hash || canonical
-- text), the first previous hash 32 zero bytes. Runs outside the payment transactions, under
-- one advisory lock ("feegates"); journals whose ids were passed while uncommitted are kept in
-- seal_gaps and sealed when they appear (forgotten after a day: rolled back). Returns the
-- number sealed.
CREATE FUNCTION ledger_seal(p_max int) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_seq bigint;
    v_hash bytea;
    v_hwm bigint;
    v_ids bigint[];
    v_canon text[];
    v_hashes bytea[] := '{}';
    v_prevs bytea[] := '{}';
    i int;
BEGIN
    PERFORM pg_advisory_xact_lock(7378415059207480691);
    SELECT s.seq, s.hash INTO v_seq, v_hash FROM journal_seals s ORDER BY s.seq DESC LIMIT 1;
    v_seq := coalesce(v_seq, 0);
    v_hash := coalesce(v_hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    v_hwm := coalesce((SELECT max(journal_id) FROM journal_seals), 0);
    SELECT array_agg(x.id ORDER BY x.id) INTO v_ids FROM (
        (SELECT j.id FROM journals j JOIN seal_gaps g ON g.journal_id = j.id)
        UNION ALL
        (SELECT j.id FROM journals j WHERE j.id > v_hwm ORDER BY j.id LIMIT greatest(p_max, 0))
        ORDER BY 1 LIMIT greatest(p_max, 0)) x;
    IF v_ids IS NULL THEN
        RETURN 0;
    END IF;
    SELECT array_agg(c.canon ORDER BY c.id) INTO v_canon FROM journal_canon(v_ids) c;
    FOR i IN 1 .. cardinality(v_ids) LOOP
        v_prevs := v_prevs || v_hash;
        v_hash := sha256(v_hash || convert_to(v_canon[i], 'UTF8'));
        v_hashes := v_hashes || v_hash;
    END LOOP;
    INSERT INTO journal_seals (seq, journal_id, prev_hash, hash)
        SELECT v_seq + x.ord, x.id, x.prev, x.hash
        FROM unnest(v_ids, v_prevs, v_hashes) WITH ORDINALITY AS x(id, prev, hash, ord);
    DELETE FROM seal_gaps g WHERE g.journal_id = ANY (v_ids) OR g.noted_at < now() - interval '1 day';
    INSERT INTO seal_gaps (journal_id)
        SELECT k FROM generate_series(v_hwm + 1, v_ids[cardinality(v_ids)] - 1) k
        EXCEPT SELECT unnest(v_ids)
        ON CONFLICT DO NOTHING;
    RETURN cardinality(v_ids);
END
$$;

-- Staff ids: 1 to 64 of [A-Za-z0-9_.@-], written without bounded repetition (see the
-- cheap patterns in schema.sql).
CREATE FUNCTION check_staff(p_who text, p_role text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_who IS NULL OR length(p_who) > 64 OR p_who !~ '^[A-Za-z0-9_.@-]+$' THEN
        RAISE EXCEPTION USING ERRCODE = 'FG422', MESSAGE = 'invalid_staff',
            DETAIL = format('%s must be a staff id (1 to 64 of A-Z a-z 0-9 _ . @ -)', p_role);
    END IF;
    RETURN p_who;
END
$$;

CREATE FUNCTION check_amount(p_amount bigint, p_allow_negative bool) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_amount IS NULL OR p_amount = 0 OR (p_amount < 0 AND NOT p_allow_negative)
       OR abs(p_amount) > 1000000000000000 THEN
        RAISE EXCEPTION USING ERRCODE = 'FG422', MESSAGE = 'invalid_amount',
            DETAIL = format('amount %s VND is not allowed here', p_amount);
    END IF;
    RETURN p_amount;
END
$$;

-- The part of a payment still owed to each treasury account: minus the sum of its payable
-- postings in the journals of the payment (success, refunds, corrections).
CREATE FUNCTION payment_payables(p_payment_id text)
RETURNS TABLE (treasury_account text, owed_vnd bigint)
LANGUAGE sql STABLE AS $$
    SELECT substr(p.account_code, 9), (-sum(p.amount_vnd))::bigint
    FROM journals j JOIN postings p ON p.journal_id = j.id
    WHERE j.payment_id = p_payment_id AND p.account_code LIKE 'payable:%'
    GROUP BY p.account_code ORDER BY p.account_code
$$;

-- Provider settlement of the listed payments' parts for one treasury account, net of the
-- provider's fee: debit payable:<treasury> the net, debit fees:<channel> the fee, credit
-- clearing:<channel> the gross. Each (payment, treasury account) is settled once.
CREATE FUNCTION ledger_settle(p_channel text, p_treasury text, p_payment_ids text[],
                              p_fee_vnd bigint, p_ref text, p_day date DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_gross bigint;
    v_n int;
    v_id bigint;
    v_bad text;
    v_owed bigint[];
BEGIN
    IF coalesce(cardinality(p_payment_ids), 0) = 0
       OR cardinality(p_payment_ids) <> (SELECT count(DISTINCT x) FROM unnest(p_payment_ids) x) THEN
        PERFORM fail('FG422', 'invalid_settlement', 'a settlement lists one or more distinct payments');
    END IF;
    IF p_fee_vnd IS NULL OR p_fee_vnd < 0 THEN
        PERFORM fail('FG422', 'invalid_amount', format('fee %s VND is not allowed', p_fee_vnd));
    END IF;
    PERFORM 1 FROM payments WHERE id = ANY (p_payment_ids) ORDER BY id FOR UPDATE;
    SELECT x INTO v_bad FROM unnest(p_payment_ids) x
        WHERE NOT EXISTS (SELECT 1 FROM payments p JOIN journals j ON j.payment_id = p.id
                          AND j.kind = 'payment_success' WHERE p.id = x AND p.channel = p_channel)
        LIMIT 1;
    IF v_bad IS NOT NULL THEN
        PERFORM fail('FG422', 'payment_not_settleable',
                     format('payment "%s" has no success booked through channel "%s"', v_bad,
                            p_channel));
    END IF;
    SELECT x INTO v_bad FROM unnest(p_payment_ids) x
        WHERE EXISTS (SELECT 1 FROM settlement_items s WHERE s.payment_id = x
                      AND s.treasury_account = p_treasury) LIMIT 1;
    IF v_bad IS NOT NULL THEN
        PERFORM fail('FG409', 'payment_already_settled',
                     format('payment "%s" is already settled to "%s"', v_bad, p_treasury));
    END IF;
    SELECT array_agg(o.owed ORDER BY o.ord) INTO v_owed FROM (
        SELECT x.ord, coalesce((SELECT pp.owed_vnd FROM payment_payables(x.id) pp
                                WHERE pp.treasury_account = p_treasury), 0) AS owed
        FROM unnest(p_payment_ids) WITH ORDINALITY AS x(id, ord)) o;
    FOR v_n IN 1 .. cardinality(p_payment_ids) LOOP
        IF v_owed[v_n] <= 0 THEN
            PERFORM fail('FG422', 'payment_not_settleable',
                         format('payment "%s" owes nothing to "%s"', p_payment_ids[v_n],
                                p_treasury));
        END IF;
    END LOOP;
    v_gross := (SELECT sum(x) FROM unnest(v_owed) x);
    v_n := cardinality(p_payment_ids);
    IF p_fee_vnd > v_gross THEN
        PERFORM fail('FG422', 'invalid_amount',
                     format('fee %s VND is more than the gross %s VND', p_fee_vnd, v_gross));
    END IF;
    v_id := post_journal('settlement', NULL,
        format('settlement %s: %s payments to %s via %s, gross %s fee %s net %s', p_ref, v_n,
               p_treasury, p_channel, v_gross, p_fee_vnd, v_gross - p_fee_vnd),
        (SELECT jsonb_agg(e) FROM (VALUES
            (jsonb_build_object('account', 'payable:' || p_treasury, 'amount_vnd', v_gross - p_fee_vnd)),
            (jsonb_build_object('account', 'fees:' || p_channel, 'amount_vnd', p_fee_vnd)),
            (jsonb_build_object('account', 'clearing:' || p_channel, 'amount_vnd', -v_gross))) v(e)
         WHERE (e ->> 'amount_vnd')::bigint <> 0),
        p_day, NULL);
    INSERT INTO settlement_items (payment_id, treasury_account, journal_id, gross_vnd)
        SELECT x.id, p_treasury, v_id, x.owed FROM unnest(p_payment_ids, v_owed) AS x(id, owed);
    RETURN v_id;
END
$$;

-- The switch pays a treasury account the fees the provider kept (the treasury is owed the
-- gross): debit payable:<treasury>, credit bank:operating.
CREATE FUNCTION ledger_fee_topup(p_treasury text, p_amount_vnd bigint, p_ref text,
                                 p_maker text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM check_amount(p_amount_vnd, false);
    RETURN post_journal('fee_topup', NULL, format('fee top-up %s to %s', p_ref, p_treasury),
        jsonb_build_array(
            jsonb_build_object('account', 'payable:' || p_treasury, 'amount_vnd', p_amount_vnd),
            jsonb_build_object('account', 'bank:operating', 'amount_vnd', -p_amount_vnd)),
        NULL, jsonb_build_object('maker', p_maker));
END
$$;

-- A refund of part or all of a payment, split over its treasury accounts in proportion to
-- what the success credited them (floor, the remainder to the last account by code). A part
-- not yet settled comes back out of the provider's collection (refund_before_settlement:
-- debit payable, credit clearing); a settled part becomes a claim on the treasury account
-- and a debt to the payer until the provider pays it out (refund_after_settlement: debit
-- payable, credit refunds:<channel>; then ledger_refund_paid). Returns the journal ids.
CREATE FUNCTION ledger_refund(p_payment_id text, p_amount_vnd bigint, p_ref text,
                              p_maker text DEFAULT NULL)
RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
    p payments;
    v_success bigint;
    v_refunded bigint;
    v_ids bigint[] := '{}';
    v_postings jsonb;
    v_settled bool;
BEGIN
    PERFORM check_amount(p_amount_vnd, false);
    SELECT * INTO p FROM payments WHERE id = p_payment_id FOR UPDATE;
    SELECT id INTO v_success FROM journals WHERE payment_id = p_payment_id
                                              AND kind = 'payment_success';
    IF v_success IS NULL THEN
        PERFORM fail('FG409', 'payment_not_refundable',
                     format('payment "%s" has no success booked', p_payment_id));
    END IF;
    SELECT coalesce(sum(-pp.amount_vnd), 0) INTO v_refunded
        FROM journals j JOIN postings pp ON pp.journal_id = j.id
        WHERE j.payment_id = p_payment_id AND pp.amount_vnd < 0
          AND j.kind IN ('refund_before_settlement', 'refund_after_settlement');
    IF v_refunded + p_amount_vnd > p.amount_vnd THEN
        PERFORM fail('FG409', 'refund_exceeds_payment',
                     format('payment "%s" of %s VND has %s VND refunded already; %s more is too much',
                            p_payment_id, p.amount_vnd, v_refunded, p_amount_vnd));
    END IF;
    FOREACH v_settled IN ARRAY ARRAY[false, true] LOOP
        WITH credits AS (
            SELECT substr(pp.account_code, 9) AS t, -pp.amount_vnd AS c,
                   row_number() OVER (ORDER BY pp.account_code DESC) AS rn
            FROM postings pp WHERE pp.journal_id = v_success AND pp.account_code LIKE 'payable:%'
        ), parts AS (
            SELECT t, CASE WHEN rn = 1
                           THEN p_amount_vnd - (SELECT coalesce(sum(floor(p_amount_vnd::numeric * c2.c / p.amount_vnd)), 0)::bigint
                                                FROM credits c2 WHERE c2.rn > 1)
                           ELSE floor(p_amount_vnd::numeric * c / p.amount_vnd)::bigint END AS part
            FROM credits
        ), mine AS (
            SELECT t, part FROM parts
            WHERE part > 0 AND EXISTS (SELECT 1 FROM settlement_items s
                                       WHERE s.payment_id = p_payment_id
                                         AND s.treasury_account = parts.t) = v_settled
        )
        SELECT jsonb_agg(e) INTO v_postings FROM (
            SELECT jsonb_build_object('account', 'payable:' || t, 'amount_vnd', part) AS e
            FROM mine
            UNION ALL
            SELECT jsonb_build_object('account', CASE WHEN v_settled THEN 'refunds:' ELSE 'clearing:' END
                                                  || p.channel, 'amount_vnd', -sum(part))
            FROM mine HAVING count(*) > 0) x;
        IF v_postings IS NOT NULL THEN
            v_ids := v_ids || post_journal(
                CASE WHEN v_settled THEN 'refund_after_settlement' ELSE 'refund_before_settlement' END,
                p_payment_id, format('refund %s of payment %s', p_ref, p_payment_id), v_postings,
                NULL, jsonb_build_object('maker', p_maker));
        END IF;
    END LOOP;
    RETURN v_ids;
END
$$;

-- The provider paid a refund out to the payer from the collection: debit refunds:<channel>,
-- credit clearing:<channel>.
CREATE FUNCTION ledger_refund_paid(p_channel text, p_amount_vnd bigint, p_ref text,
                                   p_payment_id text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM check_amount(p_amount_vnd, false);
    RETURN post_journal('refund_paid', p_payment_id, format('refund paid out %s', p_ref),
        jsonb_build_array(
            jsonb_build_object('account', 'refunds:' || p_channel, 'amount_vnd', p_amount_vnd),
            jsonb_build_object('account', 'clearing:' || p_channel, 'amount_vnd', -p_amount_vnd)));
END
$$;

-- A correction: a reversal of the original (every posting negated) and, if p_postings is not
-- NULL, a correcting journal with the right postings; both reference the original and carry
-- its payment. A journal is reversed once; a reversal is not reversed (correct the original's
-- correction instead).
CREATE FUNCTION ledger_correct(p_journal_id bigint, p_postings jsonb, p_memo text, p_maker text,
                               OUT reversal_id bigint, OUT correction_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    j journals;
BEGIN
    PERFORM check_staff(p_maker, 'maker');
    SELECT * INTO j FROM journals WHERE id = p_journal_id;
    IF NOT FOUND THEN
        PERFORM fail('FG404', 'journal_not_found', format('journal %s does not exist', p_journal_id));
    END IF;
    IF j.kind = 'reversal' THEN
        PERFORM fail('FG409', 'journal_not_correctable',
                     format('journal %s is a reversal: correct journal %s instead', j.id,
                            j.ref_journal_id));
    END IF;
    IF EXISTS (SELECT 1 FROM journals WHERE kind = 'reversal' AND ref_journal_id = j.id) THEN
        PERFORM fail('FG409', 'journal_already_reversed',
                     format('journal %s is already reversed', j.id));
    END IF;
    reversal_id := post_journal('reversal', j.payment_id,
        format('reversal of journal %s: %s', j.id, p_memo),
        (SELECT jsonb_agg(jsonb_build_object('account', account_code, 'amount_vnd', -amount_vnd)
                          ORDER BY id) FROM postings WHERE journal_id = j.id),
        NULL, jsonb_build_object('ref_journal_id', j.id, 'maker', p_maker));
    IF p_postings IS NOT NULL THEN
        correction_id := post_journal('correction', j.payment_id,
            format('correction of journal %s: %s', j.id, p_memo), p_postings,
            NULL, jsonb_build_object('ref_journal_id', j.id, 'maker', p_maker));
    END IF;
END
$$;

-- Moves an unexplained difference to suspense:<channel>. Positive: the provider holds money
-- the switch cannot attribute (debit the counter-account, credit suspense); negative: the
-- switch booked money the provider does not hold (debit suspense, credit the counter-account).
-- The counter-account is clearing:<channel> unless p_from_account says otherwise.
CREATE FUNCTION ledger_to_suspense(p_channel text, p_amount_vnd bigint, p_memo text,
                                   p_maker text, p_payment_id text DEFAULT NULL,
                                   p_from_account text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM check_staff(p_maker, 'maker');
    PERFORM check_amount(p_amount_vnd, true);
    RETURN post_journal('suspense', p_payment_id, coalesce(p_memo, ''),
        jsonb_build_array(
            jsonb_build_object('account', coalesce(p_from_account, 'clearing:' || p_channel),
                               'amount_vnd', p_amount_vnd),
            jsonb_build_object('account', 'suspense:' || p_channel, 'amount_vnd', -p_amount_vnd)),
        NULL, jsonb_build_object('maker', p_maker));
END
$$;

-- Writes off a suspense balance; needs a maker and a different checker. Positive: a loss
-- (debit writeoff:<channel>, credit suspense:<channel>); negative: a gain (the reverse).
CREATE FUNCTION ledger_write_off(p_channel text, p_amount_vnd bigint, p_memo text,
                                 p_maker text, p_checker text, p_payment_id text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM check_staff(p_maker, 'maker');
    PERFORM check_staff(p_checker, 'checker');
    IF p_maker = p_checker THEN
        PERFORM fail('FG409', 'same_person',
                     format('a write-off needs a second person: "%s" cannot approve their own',
                            p_maker));
    END IF;
    PERFORM check_amount(p_amount_vnd, true);
    RETURN post_journal('write_off', p_payment_id, coalesce(p_memo, ''),
        jsonb_build_array(
            jsonb_build_object('account', 'writeoff:' || p_channel, 'amount_vnd', p_amount_vnd),
            jsonb_build_object('account', 'suspense:' || p_channel, 'amount_vnd', -p_amount_vnd)),
        NULL, jsonb_build_object('maker', p_maker, 'checker', p_checker));
END
$$;
