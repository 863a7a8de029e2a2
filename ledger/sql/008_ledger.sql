-- 008_ledger: the complete ledger (docs/ledger.md, "Posting rules" and "Tamper evidence").
--   accounts        the chart: clearing, payable, fees, refunds, suspense, writeoff, bank,
--                   income, equity; created on demand by ledger_account() only, and for every
--                   channel and treasury account when it is inserted
--   journals        + late, ref_journal_id, maker, checker (write-offs need two people)
--   business_days   open | closed per calendar day in Asia/Ho_Chi_Minh; post_journal refuses
--                   a closed or future day; business_day_events is the append-only history
--   settlement_items  a payment's part for a treasury account is settled at most once
--   post_journal    redefined (from 003): business day, metadata, accounts checked
--   book_success    redefined (from 003): flags late payments
--   ledger_settle, ledger_refund, ledger_refund_paid, ledger_fee_topup, ledger_correct,
--   ledger_to_suspense, ledger_write_off   the posting rules (owner only)
--   journal_seals   the hash chain, filled in journal id order by ledger_seal(max) outside
--                   the payment transaction (the gateway calls it every second)
--   ledger_check    wraps the previous definition (renamed ledger_check_base) and adds the
--                   invariants of this file

SET LOCAL search_path = feegate, pg_temp;

-- Chart of accounts -------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION account_type(p_code text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    CASE split_part(p_code, ':', 1)
        WHEN 'clearing' THEN RETURN 'asset';
        WHEN 'bank' THEN RETURN 'asset';
        WHEN 'payable' THEN RETURN 'liability';
        WHEN 'refunds' THEN RETURN 'liability';
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
-- suspense, writeoff) need the channel, payable accounts the treasury account; bank, income
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
    IF v_prefix IN ('clearing', 'fees', 'refunds', 'suspense', 'writeoff') THEN
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
                                 WHEN v_prefix IN ('clearing', 'fees', 'refunds', 'suspense',
                                                   'writeoff') THEN 'channel'
                                 ELSE 'prefix' END);
    END IF;
    INSERT INTO accounts (code, name, type)
        VALUES (p_code, v_prefix || ' ' || v_name, account_type(p_code))
        ON CONFLICT DO NOTHING;
    RETURN p_code;
END
$$;

CREATE FUNCTION accounts_of_new_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    p text;
BEGIN
    IF TG_TABLE_NAME = 'channels' THEN
        FOREACH p IN ARRAY ARRAY['clearing', 'fees', 'refunds', 'suspense', 'writeoff'] LOOP
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
SELECT ledger_account(p || ':' || c.code) FROM channels c,
    unnest(ARRAY['clearing', 'fees', 'refunds', 'suspense', 'writeoff']) p;
SELECT ledger_account('payable:' || code) FROM treasury_accounts;

-- Journals: metadata --------------------------------------------------------------------------

ALTER TABLE journals
    ADD COLUMN late bool NOT NULL DEFAULT false,
    ADD COLUMN ref_journal_id bigint,  -- the journal a reversal or correction refers to
    ADD COLUMN maker text,             -- staff id of whoever asked for it (NULL: the system)
    ADD COLUMN checker text,           -- staff id of the second person (write-offs)
    ADD CONSTRAINT journals_two_people CHECK (kind <> 'write_off' OR (maker IS NOT NULL AND
                                               checker IS NOT NULL AND maker <> checker)),
    ADD CONSTRAINT journals_ref CHECK (kind NOT IN ('reversal', 'correction') OR
                                       ref_journal_id IS NOT NULL);
-- A journal is reversed at most once.
CREATE UNIQUE INDEX journals_reversal ON journals (ref_journal_id) WHERE kind = 'reversal';

-- Business days -------------------------------------------------------------------------------

-- A day without a row is open. Closing is one-way; every change is kept in
-- business_day_events (append-only).
CREATE TABLE business_days (
    day       date PRIMARY KEY,
    status    text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    closed_at timestamptz,
    closed_by text,
    CHECK ((status = 'closed') = (closed_at IS NOT NULL AND closed_by IS NOT NULL))
);

CREATE TABLE business_day_events (
    id      bigserial PRIMARY KEY,
    day     date NOT NULL,
    status  text NOT NULL,
    by_whom text,
    at      timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION business_days_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND NEW.day <> OLD.day) THEN
        RAISE EXCEPTION USING ERRCODE = 'FG500', MESSAGE = 'append_only',
            DETAIL = format('%s of business day %s is forbidden', TG_OP, OLD.day);
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status = 'closed' THEN
        RAISE EXCEPTION USING ERRCODE = 'FG409', MESSAGE = 'business_day_closed',
            DETAIL = format('business day %s is closed for good', OLD.day);
    END IF;
    INSERT INTO feegate.business_day_events (day, status, by_whom)
        VALUES (NEW.day, NEW.status, NEW.closed_by);
    RETURN NEW;
END
$$;
CREATE TRIGGER business_days_history BEFORE INSERT OR UPDATE OR DELETE ON business_days
    FOR EACH ROW EXECUTE FUNCTION business_days_history();
CREATE TRIGGER business_days_no_truncate BEFORE TRUNCATE ON business_days
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- Settlements ---------------------------------------------------------------------------------

-- A payment's part for one treasury account is settled once (the primary key).
CREATE TABLE settlement_items (
    payment_id       text NOT NULL,
    treasury_account text NOT NULL,
    journal_id       bigint NOT NULL,
    gross_vnd        bigint NOT NULL CHECK (gross_vnd > 0),
    PRIMARY KEY (payment_id, treasury_account)
);
CREATE INDEX settlement_items_journal ON settlement_items (journal_id);

-- The hash chain --------------------------------------------------------------------------------

CREATE TABLE journal_seals (
    seq        bigint PRIMARY KEY,
    journal_id bigint NOT NULL UNIQUE,
    prev_hash  bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash       bytea NOT NULL CHECK (octet_length(hash) = 32),
    sealed_at  timestamptz NOT NULL DEFAULT now()
);

-- Journal ids below the sealer's high-water mark that were not committed when it passed
-- them (a transaction still open, or rolled back). Bookkeeping, not evidence.
CREATE TABLE seal_gaps (
    journal_id bigint PRIMARY KEY,
    noted_at   timestamptz NOT NULL DEFAULT now()
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['journal_seals', 'settlement_items', 'business_day_events'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON feegate.%I '
                       'FOR EACH ROW EXECUTE FUNCTION feegate.forbid_change()',
                       t || '_append_only', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON feegate.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION feegate.forbid_change()',
                       t || '_no_truncate', t);
    END LOOP;
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

-- The write path ------------------------------------------------------------------------------

DROP FUNCTION post_journal(text, text, text, jsonb);

-- The only write path into the ledger. p_postings is [{"account":..,"amount_vnd":..}], debit
-- positive, credit negative, at least two, summing to zero. p_day: the business day (NULL:
-- today in Asia/Ho_Chi_Minh); a future or closed day is refused. p_meta: optional
-- {"late": bool, "ref_journal_id": id, "maker": staff, "checker": staff}. Accounts missing
-- from the chart are created by ledger_account (which refuses unknown ones). The closed-day
-- test runs after the journal row is inserted: day close takes a SHARE lock on journals
-- first, so either this journal is committed before the day closes or it sees it closed.
CREATE FUNCTION post_journal(p_kind text, p_payment_id text, p_memo text, p_postings jsonb,
                             p_day date DEFAULT NULL, p_meta jsonb DEFAULT NULL)
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
    PERFORM ledger_account(a) FROM (
        SELECT DISTINCT e ->> 'account' AS a FROM jsonb_array_elements(p_postings) e
        WHERE NOT EXISTS (SELECT 1 FROM accounts c WHERE c.code = e ->> 'account')) m;
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
-- amount, credit payable:<treasury> per fee split. At most once per payment (unique index).
CREATE OR REPLACE FUNCTION book_success(p payments) RETURNS bigint
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

-- Posting rules -------------------------------------------------------------------------------

-- Staff ids: 1 to 64 of [A-Za-z0-9_.@-].
CREATE FUNCTION check_staff(p_who text, p_role text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_who IS NULL OR p_who !~ '^[A-Za-z0-9_.@-]{1,64}$' THEN
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

-- ledger_check: the previous definition plus the invariants of this file -------------------

ALTER FUNCTION ledger_check() RENAME TO ledger_check_base;

CREATE FUNCTION ledger_check_more() RETURNS TABLE (check_name text, violations bigint, detail text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
    WITH checks (ord, name, bad) AS (
        SELECT 1, 'accounts_in_chart',
            (SELECT array_agg(a.code ORDER BY a.code) FROM accounts a
             WHERE a.type IS DISTINCT FROM (CASE split_part(a.code, ':', 1)
                 WHEN 'clearing' THEN 'asset' WHEN 'bank' THEN 'asset'
                 WHEN 'payable' THEN 'liability' WHEN 'refunds' THEN 'liability'
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

CREATE FUNCTION ledger_check() RETURNS TABLE (check_name text, violations bigint, detail text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
    SELECT * FROM ledger_check_base()
    UNION ALL
    SELECT * FROM ledger_check_more()
$$;

-- Privileges ----------------------------------------------------------------------------------

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA feegate FROM PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA feegate TO feegate_app;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA feegate FROM feegate_app;
GRANT EXECUTE ON FUNCTION ledger_check(), ledger_seal(int) TO feegate_app;
