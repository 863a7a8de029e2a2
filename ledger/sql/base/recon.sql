-- recon: statements, three-way matching, exceptions and their resolution, finance staff,
-- closing the business day and its report (docs/reconciliation.md).
--   staff, staff_sessions finance staff (clerk, approver, auditor, admin): argon2id
--                         password hash, TOTP secret, lock-out; their sessions
--   audit_log             who did what, when, from where, before and after (append-only)
--   statement_files       one row per imported file (provider, day, sha256)
--   statement_lines       the lines, unique by (provider, content sha256, occurrence)
--   recon_runs            each matching run with its counts
--   recon_exceptions      every difference found, with its category and state
--   recon_actions         the trail: queries, answers, corrections, suspense, write-offs,
--                         approvals, carry-forwards, rematches
--   day_reports           the report frozen when the day was closed
-- The business day is the calendar day in Asia/Ho_Chi_Minh (UTC+7, no DST). The tables are
-- in schema.sql.

SET LOCAL search_path = feegate, pg_temp;

-- [start, end) of a business day as timestamptz.
CREATE FUNCTION recon_day_start(p_day date) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_day::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'
$$;

CREATE FUNCTION recon_today() RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date
$$;

-- Staff identity (docs/console.md#controls). Every finance function takes a session token,
-- never a staff id: staff_session turns the token into the signed-in member and checks the
-- role, so the gateway's role cannot act as anyone it has no session of. Sessions are made by
-- staff_sign_in once the password (argon2id, checked by the caller with libsodium against
-- staff_login_hash) and the TOTP code (checked here: the secret never leaves the database)
-- are right. The signed-in member, session and address are kept in the transaction's
-- settings feegate.staff, feegate.session_id and feegate.from for audit().

-- RFC 6238 / RFC 4226: the 6-digit code of a 30 s step, HMAC-SHA1 with dynamic truncation.
CREATE FUNCTION totp_code(p_secret bytea, p_step bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    WITH h AS (SELECT hmac(int8send(p_step), p_secret, 'sha1') AS m),
    o AS (SELECT m, get_byte(m, 19) & 15 AS k FROM h)
    SELECT lpad(((((get_byte(m, k) & 127)::bigint << 24) | (get_byte(m, k + 1) << 16)
                  | (get_byte(m, k + 2) << 8) | get_byte(m, k + 3)) % 1000000)::text, 6, '0')
    FROM o
$$;

-- One row of the audit log, as the member of this transaction's session (or the owner).
CREATE FUNCTION audit(p_action text, p_object text, p_before jsonb, p_after jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit_log (staff_id, session_id, from_addr, action, object, before, after)
    VALUES (nullif(current_setting('feegate.staff', true), ''),
            nullif(current_setting('feegate.session_id', true), '')::bigint,
            coalesce(nullif(current_setting('feegate.from', true), ''),
                     'db:' || session_user || '@' || coalesce(host(inet_client_addr()), 'local')),
            p_action, coalesce(p_object, ''), p_before, p_after)
$$;

-- The member signed in with this session token, active, with one of the roles: FG401 when the
-- token is no live session (unknown, signed out, idle too long, past its limit), FG403 when
-- the role may not act. The session's last use is now.
CREATE FUNCTION staff_session(p_session text, p_roles text[]) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v staff_sessions;
    s staff;
BEGIN
    IF p_session IS NOT NULL AND p_session ~ '^[0-9a-f]{64}$' THEN
        SELECT * INTO v FROM staff_sessions
            WHERE token_sha256 = sha256(convert_to(p_session, 'UTF8')) FOR UPDATE;
    END IF;
    IF v.id IS NULL OR v.ended_at IS NOT NULL OR v.expires_at <= now()
       OR v.last_seen_at + limits_staff_session_idle_s() * interval '1 second' <= now() THEN
        PERFORM fail('FG401', 'not_signed_in',
                     'no live session: sign in (the session may have ended or timed out)');
    END IF;
    SELECT * INTO s FROM staff WHERE id = v.staff_id AND active;
    IF NOT FOUND THEN
        PERFORM fail('FG401', 'not_signed_in', 'the session''s staff member is not active');
    END IF;
    IF NOT s.role = ANY (p_roles) THEN
        PERFORM fail('FG403', 'forbidden',
                     format('staff "%s" is %s; this needs %s', s.id, s.role,
                            array_to_string(p_roles, ' or ')));
    END IF;
    UPDATE staff_sessions SET last_seen_at = now() WHERE id = v.id;
    PERFORM set_config('feegate.staff', s.id, true),
            set_config('feegate.session_id', v.id::text, true),
            set_config('feegate.from', v.from_addr, true);
    RETURN s.id;
END
$$;

-- As staff_session, but NULL is the database owner's own tools (a login that is a member of
-- the schema's owner: `feegate statement import` and `recon run` without --staff as the
-- owner). The gateway's role is no such member: without a session it is refused. Returns
-- the staff id, NULL for the owner.
CREATE FUNCTION staff_or_owner(p_session text, p_roles text[]) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF p_session IS NOT NULL THEN
        RETURN staff_session(p_session, p_roles);
    END IF;
    IF NOT pg_has_role(session_user, (SELECT nspowner FROM pg_namespace
                                      WHERE nspname = 'feegate'), 'MEMBER') THEN
        PERFORM fail('FG401', 'not_signed_in',
                     format('role %s acts only in a staff session', session_user));
    END IF;
    PERFORM set_config('feegate.staff', '', true), set_config('feegate.session_id', '', true),
            set_config('feegate.from', '', true);
    RETURN NULL;
END
$$;

-- The argon2id hash the caller checks the password against ('' for no such active member:
-- the caller's check then fails, and staff_sign_in counts nothing for a name that is not
-- staff).
CREATE FUNCTION staff_login_hash(p_id text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
    SELECT coalesce((SELECT password_hash FROM staff WHERE id = p_id AND active), '')
$$;

-- Signs a member in: p_password_ok is the caller's check of the password against
-- staff_login_hash, p_code the TOTP code (this step or the one before or after, never one
-- used already). Returns {"status": "ok", "token", "staff", "role", "expires_at"} or
-- {"status": "refused"|"locked", "message"}: it does not raise, so that a failure is counted
-- and audited. GW_STAFF_FAILURES_MAX failures in a row lock the member out for
-- GW_STAFF_LOCKOUT_S; a locked member is refused even with the right password and code.
CREATE FUNCTION staff_sign_in(p_id text, p_password_ok bool, p_code text, p_from text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    s staff;
    v_step bigint := floor(extract(epoch FROM now()) / 30)::bigint;
    v_match bigint;
    v_token text;
    v_session staff_sessions;
BEGIN
    PERFORM set_config('feegate.staff', coalesce(left(p_id, 64), ''), true),
            set_config('feegate.session_id', '', true),
            set_config('feegate.from', left(coalesce(p_from, ''), 200), true);
    SELECT * INTO s FROM staff WHERE id = p_id AND active FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM set_config('feegate.staff', '', true);
        PERFORM audit('sign_in_refused', 'staff ' || left(coalesce(p_id, ''), 64), NULL,
                      jsonb_build_object('reason', 'unknown'));
        RETURN jsonb_build_object('status', 'refused', 'message',
                                  'wrong name, password or code');
    END IF;
    IF s.locked_until > now() THEN
        PERFORM audit('sign_in_refused', 'staff ' || s.id, NULL,
                      jsonb_build_object('reason', 'locked', 'until', ts_text(s.locked_until)));
        RETURN jsonb_build_object('status', 'locked', 'message',
                                  format('locked after %s failed sign-ins, until %s',
                                         limits_staff_failures_max(), ts_text(s.locked_until)));
    END IF;
    IF p_code ~ '^[0-9]{6}$' THEN
        SELECT k INTO v_match FROM generate_series(v_step - 1, v_step + 1) k
            WHERE k > s.totp_last_step AND totp_code(s.totp_secret, k) = p_code
            ORDER BY k DESC LIMIT 1;
    END IF;
    IF NOT coalesce(p_password_ok, false) OR v_match IS NULL THEN
        UPDATE staff SET failures = failures + 1,
                         locked_until = CASE WHEN failures + 1 >= limits_staff_failures_max()
                             THEN now() + limits_staff_lockout_s() * interval '1 second' END
            WHERE id = s.id RETURNING * INTO s;
        PERFORM audit('sign_in_refused', 'staff ' || s.id, NULL,
                      jsonb_build_object('reason', CASE WHEN NOT coalesce(p_password_ok, false)
                                         THEN 'password' ELSE 'code' END,
                                         'failures', s.failures,
                                         'locked_until', ts_text(s.locked_until)));
        RETURN jsonb_build_object('status', CASE WHEN s.locked_until IS NOT NULL
                                                 THEN 'locked' ELSE 'refused' END,
                                  'message', 'wrong name, password or code');
    END IF;
    UPDATE staff SET failures = 0, locked_until = NULL, totp_last_step = v_match
        WHERE id = s.id;
    v_token := encode(gen_random_bytes(32), 'hex');
    INSERT INTO staff_sessions (token_sha256, staff_id, from_addr, expires_at)
        VALUES (sha256(convert_to(v_token, 'UTF8')), s.id, left(coalesce(p_from, ''), 200),
                now() + limits_staff_session_s_max() * interval '1 second')
        RETURNING * INTO v_session;
    PERFORM set_config('feegate.session_id', v_session.id::text, true);
    PERFORM audit('sign_in', 'staff ' || s.id, NULL,
                  jsonb_build_object('session_id', v_session.id,
                                     'expires_at', ts_text(v_session.expires_at)));
    RETURN jsonb_build_object('status', 'ok', 'token', v_token, 'staff', s.id, 'role', s.role,
                              'name', s.name, 'expires_at', ts_text(v_session.expires_at));
END
$$;

-- Ends a session (true if it was live).
CREATE FUNCTION staff_sign_out(p_session text) RETURNS bool
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    UPDATE staff_sessions SET ended_at = now()
        WHERE p_session ~ '^[0-9a-f]{64}$'
          AND token_sha256 = sha256(convert_to(p_session, 'UTF8')) AND ended_at IS NULL
        RETURNING id INTO v_id;
    IF v_id IS NOT NULL THEN
        PERFORM set_config('feegate.session_id', v_id::text, true),
                set_config('feegate.staff', (SELECT staff_id FROM staff_sessions
                                             WHERE id = v_id), true),
                set_config('feegate.from', (SELECT from_addr FROM staff_sessions
                                            WHERE id = v_id), true);
        PERFORM audit('sign_out', 'session ' || v_id, NULL, NULL);
    END IF;
    RETURN v_id IS NOT NULL;
END
$$;

-- The ledger's view of a day: closed or not (business_days, ledger.sql).
CREATE FUNCTION recon_day_closed(p_day date) RETURNS bool
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM business_days d WHERE d.day = p_day AND d.status = 'closed')
$$;

CREATE FUNCTION recon_require_open_day(p_day date) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_day IS NULL OR p_day < date '2000-01-01' OR p_day > recon_today() THEN
        PERFORM fail('FG422', 'invalid_day',
                     format('business day %s is not a day up to today (Asia/Ho_Chi_Minh)',
                            coalesce(p_day::text, 'NULL')));
    END IF;
    IF recon_day_closed(p_day) THEN
        PERFORM fail('FG409', 'day_closed', format('business day %s is closed', p_day));
    END IF;
END
$$;

-- Whether a file was imported already (then the importer stops: it adds nothing).
CREATE FUNCTION stmt_import_check(p_provider text, p_day date, p_sha256 text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    f statement_files;
BEGIN
    PERFORM 1 FROM channels WHERE code = p_provider;
    IF NOT FOUND THEN
        PERFORM fail('FG422', 'unknown_provider',
                     format('provider "%s" is not a channel of this switch', p_provider));
    END IF;
    PERFORM recon_require_open_day(p_day);
    SELECT * INTO f FROM statement_files WHERE provider = p_provider AND file_sha256 = p_sha256;
    IF FOUND THEN
        RETURN format('already imported as file %s for %s on %s (%s lines)', f.id,
                      f.business_day, ts_text(f.imported_at), f.lines_read);
    END IF;
    RETURN NULL;
END
$$;

-- Moves the lines the importer COPYed into its temporary table pg_temp.stmt_stage into
-- statement_lines, in the importer's transaction. Returns (file_id, lines_read,
-- lines_added, replayed).
CREATE FUNCTION stmt_import(p_provider text, p_day date, p_format text, p_sha256 text,
                            p_file_name text, p_session text)
RETURNS TABLE (file_id bigint, lines_read int, lines_added int, replayed bool)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_staff text;
    v_id bigint;
    v_read int;
    v_added int;
    v_msg text;
BEGIN
    v_staff := staff_or_owner(p_session, ARRAY['clerk', 'approver']);
    v_msg := stmt_import_check(p_provider, p_day, p_sha256);
    IF v_msg IS NOT NULL THEN
        RETURN QUERY SELECT f.id, f.lines_read, 0, true FROM statement_files f
            WHERE f.provider = p_provider AND f.file_sha256 = p_sha256;
        RETURN;
    END IF;
    SELECT count(*) INTO v_read FROM pg_temp.stmt_stage;
    INSERT INTO statement_files (provider, business_day, format, file_sha256, file_name,
                                 lines_read, lines_added, staff_id)
        VALUES (p_provider, p_day, p_format, p_sha256, left(coalesce(p_file_name, ''), 200),
                v_read, 0, v_staff)
        RETURNING id INTO v_id;
    INSERT INTO statement_lines (file_id, line_no, provider, business_day, kind, merchant_ref,
                                 provider_txn_id, amount_vnd, fee_vnd, status, booked_on,
                                 booked_at, content_sha256, occurrence)
        SELECT v_id, s.line_no, p_provider, p_day, s.kind, s.merchant_ref, s.provider_txn_id,
               s.amount_vnd, s.fee_vnd, s.status, s.booked_on, s.booked_at, s.content_sha256,
               row_number() OVER (PARTITION BY s.content_sha256 ORDER BY s.line_no)
        FROM pg_temp.stmt_stage s
        ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_added = ROW_COUNT;
    UPDATE statement_files SET lines_added = v_added WHERE id = v_id;
    PERFORM audit('statement_import', 'file ' || v_id, NULL, jsonb_build_object(
        'provider', p_provider, 'business_day', p_day, 'format', p_format, 'sha256', p_sha256,
        'file_name', p_file_name, 'lines_read', v_read, 'lines_added', v_added));
    RETURN QUERY SELECT v_id, v_read, v_added, false;
END
$$;

-- Every difference of one business day, computed from sets (the order of the lines cannot
-- matter): statement lines of the day grouped by (provider, kind, merchant_ref); the
-- switch's successes paid in the day; their success journals. A line of an attempt booked
-- as an overpayment (overpayments.sql) is matched against the overpayment, and its refund
-- line against the overpayment's refund: when they agree the line lands in the category
-- overpayment, explained (recon_run records it resolved); a success of an attempt that is not
-- the one that paid its payment, and not booked as an overpayment, is a double payment the
-- switch has not booked (status_mismatch).
CREATE FUNCTION recon_differences(p_day date)
RETURNS TABLE (provider text, category text, kind text, merchant_ref text, payment_id text,
               statement_amount_vnd bigint, switch_amount_vnd bigint, diff_vnd bigint,
               line_count int, detail text)
LANGUAGE sql STABLE AS $$
    WITH l AS (
        SELECT s.provider, s.kind, s.merchant_ref, count(*)::int AS n,
               min(s.amount_vnd) AS amt_min, max(s.amount_vnd) AS amt_max,
               bool_or(s.status = 'succeeded') AS any_ok,
               min(s.booked_on) AS b_min, max(s.booked_on) AS b_max
        FROM statement_lines s WHERE s.business_day = p_day
        GROUP BY s.provider, s.kind, s.merchant_ref
    ), lp AS (
        SELECT l.*, p.id AS pid, p.status AS pstatus, p.amount_vnd AS pamt,
               p.refunded_vnd AS prefunded, p.merchant_ref AS pref,
               (p.paid_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS pday,
               p.status IN ('succeeded', 'partially_refunded', 'refunded') AS pok,
               o.id AS oid, o.amount_vnd AS oamt, o.state AS ostate,
               (o.paid_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS oday,
               CASE WHEN o.id IS NOT NULL THEN
                   (SELECT coalesce(sum(r.amount_vnd), 0) FROM refunds r
                    WHERE r.overpayment_id = o.id AND r.status = 'succeeded') END AS orefunded
        FROM l
        LEFT JOIN payment_attempts a ON a.merchant_ref = l.merchant_ref AND a.channel = l.provider
        LEFT JOIN payments p ON p.id = a.payment_id
        LEFT JOIN overpayments o ON o.merchant_ref = l.merchant_ref AND o.channel = l.provider
    ), dp AS MATERIALIZED (
        SELECT p.id, p.channel, p.merchant_ref, p.amount_vnd, p.status
        FROM payments p
        WHERE p.paid_at >= recon_day_start(p_day) AND p.paid_at < recon_day_start(p_day + 1)
          AND p.status IN ('succeeded', 'partially_refunded', 'refunded')
    ), bk AS (
        -- each success journal's debit to the provider's clearing account, joined as sets
        SELECT dp.id, sum(po.amount_vnd) AS booked
        FROM dp JOIN journals j ON j.payment_id = dp.id AND j.kind = 'payment_success'
        JOIN postings po ON po.journal_id = j.id AND po.account_code = 'clearing:' || dp.channel
        GROUP BY dp.id
    ), sw AS (
        SELECT dp.*, bk.booked FROM dp LEFT JOIN bk ON bk.id = dp.id
    )
    -- duplicate lines
    SELECT provider, 'duplicate_line', kind, merchant_ref, pid, amt_max, pamt, 0::bigint, n,
           format('%s lines for one transaction', n)
    FROM lp WHERE n > 1
    UNION ALL
    -- the provider collected, the switch has no such attempt
    SELECT provider, 'missing_at_switch', kind, merchant_ref, NULL, amt_min, NULL,
           CASE WHEN kind = 'payment' THEN amt_min ELSE -amt_min END, n,
           format('no %s with this reference at the switch', kind)
    FROM lp WHERE pid IS NULL AND any_ok
    UNION ALL
    -- the provider says succeeded, the switch does not (or the other way round)
    SELECT provider, 'status_mismatch', kind, merchant_ref, pid, amt_min, pamt,
           CASE WHEN any_ok THEN amt_min ELSE -pamt END, n,
           CASE WHEN any_ok THEN format('provider succeeded, switch %s', pstatus)
                ELSE format('provider failed, switch %s', pstatus) END
    FROM lp WHERE kind = 'payment' AND pid IS NOT NULL
              AND ((any_ok AND NOT pok) OR (NOT any_ok AND pok AND pref = merchant_ref))
    UNION ALL
    -- a second success of a paid payment the switch has not booked as an overpayment
    SELECT provider, 'status_mismatch', kind, merchant_ref, pid, amt_min, NULL::bigint, amt_min,
           n, format('provider succeeded on attempt %s, the payment was paid through %s: a '
                     'double payment not booked as an overpayment', merchant_ref, pref)
    FROM lp WHERE kind = 'payment' AND any_ok AND pok AND oid IS NULL
              AND pref IS DISTINCT FROM merchant_ref
    UNION ALL
    SELECT provider, 'amount_mismatch', kind, merchant_ref, pid, amt_min, pamt,
           amt_min - pamt, n, format('statement %s VND, switch %s VND', amt_min, pamt)
    FROM lp WHERE kind = 'payment' AND any_ok AND pok AND oid IS NULL
              AND pref IS NOT DISTINCT FROM merchant_ref AND (amt_min <> pamt OR amt_max <> pamt)
    UNION ALL
    -- the double payment booked as an overpayment, and the refund of it
    SELECT provider, CASE WHEN amt_min = amt_max AND amt_min = CASE WHEN kind = 'payment'
                                                                  THEN oamt ELSE orefunded END
                          THEN 'overpayment' ELSE 'amount_mismatch' END,
           kind, merchant_ref, pid, amt_min,
           CASE WHEN kind = 'payment' THEN oamt ELSE orefunded END,
           CASE WHEN kind = 'payment' THEN amt_min - oamt ELSE orefunded - amt_min END, n,
           format('%s of overpayment %s (%s): statement %s VND, switch %s VND',
                  CASE WHEN kind = 'payment' THEN 'second success' ELSE 'refund' END, oid,
                  ostate, amt_min, CASE WHEN kind = 'payment' THEN oamt ELSE orefunded END)
    FROM lp WHERE any_ok AND oid IS NOT NULL
    UNION ALL
    -- refunds: against what the switch refunded
    SELECT provider, 'amount_mismatch', kind, merchant_ref, pid, amt_min, prefunded,
           prefunded - amt_min, n,
           format('statement refund %s VND, switch refunded %s VND', amt_min, prefunded)
    FROM lp WHERE kind = 'refund' AND any_ok AND pid IS NOT NULL AND oid IS NULL
              AND amt_min <> prefunded
    UNION ALL
    SELECT provider, 'out_of_day', kind, merchant_ref, pid, amt_min, pamt, 0::bigint, n,
           CASE WHEN b_min <> p_day OR b_max <> p_day
                THEN format('booked on %s, statement of %s', CASE WHEN b_min <> p_day
                            THEN b_min ELSE b_max END, p_day)
                ELSE format('paid at the switch on %s, statement of %s', pday, p_day) END
    FROM lp WHERE any_ok AND (b_min <> p_day OR b_max <> p_day
                              OR (kind = 'payment' AND pok AND coalesce(oday, pday) <> p_day))
    UNION ALL
    -- the switch booked a success the provider's statements of the day do not show
    SELECT sw.channel, 'missing_at_provider', 'payment', sw.merchant_ref, sw.id, NULL,
           sw.amount_vnd, -sw.amount_vnd, 0,
           'succeeded at the switch, not in the statements of the day'
    FROM sw WHERE NOT EXISTS (SELECT 1 FROM l WHERE l.provider = sw.channel
                                AND l.kind = 'payment' AND l.merchant_ref = sw.merchant_ref)
    UNION ALL
    SELECT o.channel, 'missing_at_provider', 'payment', o.merchant_ref, o.payment_id, NULL,
           o.amount_vnd, -o.amount_vnd, 0,
           format('overpayment %s booked at the switch, not in the statements of the day', o.id)
    FROM overpayments o
    WHERE o.paid_at >= recon_day_start(p_day) AND o.paid_at < recon_day_start(p_day + 1)
      AND NOT EXISTS (SELECT 1 FROM l WHERE l.provider = o.channel AND l.kind = 'payment'
                        AND l.merchant_ref = o.merchant_ref)
    UNION ALL
    -- three-way: the switch's success and its journal must agree
    SELECT sw.channel, CASE WHEN sw.booked IS NULL THEN 'status_mismatch'
                            ELSE 'amount_mismatch' END, 'payment', sw.merchant_ref, sw.id,
           NULL, sw.amount_vnd, 0::bigint, 0,
           CASE WHEN sw.booked IS NULL THEN 'succeeded at the switch, no journal in the ledger'
                ELSE format('switch %s VND, ledger %s VND', sw.amount_vnd, sw.booked) END
    FROM sw WHERE sw.booked IS DISTINCT FROM sw.amount_vnd
$$;

-- Runs the matching for a day: records the run, inserts new exceptions, keeps the state of
-- known ones, and resolves (action 'rematched') open ones that no longer differ. A line
-- explained by an overpayment (category overpayment) is recorded resolved at once. Refused
-- for a closed day. Returns the run's summary.
CREATE FUNCTION recon_run(p_day date, p_session text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_staff text;
    v_run bigint;
    v_summary jsonb;
BEGIN
    v_staff := staff_or_owner(p_session, ARRAY['clerk', 'approver']);
    PERFORM recon_require_open_day(p_day);
    -- One run per day at a time.
    PERFORM pg_advisory_xact_lock(7378415059000000000 + (p_day - date '2000-01-01'));
    INSERT INTO recon_runs (business_day, staff_id) VALUES (p_day, v_staff) RETURNING id INTO v_run;
    CREATE TEMP TABLE recon_found ON COMMIT DROP AS SELECT * FROM recon_differences(p_day);
    INSERT INTO recon_exceptions AS e (business_day, provider, category, kind, merchant_ref,
                                       payment_id, statement_amount_vnd, switch_amount_vnd,
                                       diff_vnd, line_count, detail, run_id, state)
        SELECT p_day, f.provider, f.category, f.kind, f.merchant_ref, f.payment_id,
               f.statement_amount_vnd, f.switch_amount_vnd, f.diff_vnd, f.line_count,
               f.detail, v_run,
               CASE WHEN f.category = 'overpayment' THEN 'resolved' ELSE 'open' END
        FROM recon_found f
        ON CONFLICT (business_day, provider, category, kind, merchant_ref) DO UPDATE
            SET statement_amount_vnd = EXCLUDED.statement_amount_vnd,
                switch_amount_vnd = EXCLUDED.switch_amount_vnd, diff_vnd = EXCLUDED.diff_vnd,
                line_count = EXCLUDED.line_count, detail = EXCLUDED.detail,
                run_id = EXCLUDED.run_id, updated_at = now()
            WHERE e.state = 'open' AND NOT EXISTS (SELECT 1 FROM recon_actions a
                    WHERE a.exception_id = e.id AND a.status = 'pending_approval');
    WITH gone AS (
        UPDATE recon_exceptions e SET state = 'resolved', updated_at = now()
        WHERE e.business_day = p_day AND e.state = 'open'
          AND NOT EXISTS (SELECT 1 FROM recon_found f WHERE f.provider = e.provider
                            AND f.category = e.category AND f.kind = e.kind
                            AND f.merchant_ref = e.merchant_ref)
          AND NOT EXISTS (SELECT 1 FROM recon_actions a WHERE a.exception_id = e.id
                            AND a.status = 'pending_approval')
        RETURNING e.id
    )
    INSERT INTO recon_actions (exception_id, action, status, staff_id, note, decided_at)
        SELECT id, 'rematched', 'done', v_staff, format('no longer differs in run %s', v_run),
               now() FROM gone;
    SELECT jsonb_build_object(
        'run_id', v_run,
        'business_day', p_day,
        'timezone', 'Asia/Ho_Chi_Minh',
        'statement_lines', (SELECT count(*) FROM statement_lines WHERE business_day = p_day),
        'switch_payments', (SELECT count(*) FROM payments p
                            WHERE p.paid_at >= recon_day_start(p_day)
                              AND p.paid_at < recon_day_start(p_day + 1)
                              AND p.status IN ('succeeded', 'partially_refunded', 'refunded')),
        'differences', (SELECT count(*) FROM recon_found),
        'by_category', coalesce((SELECT jsonb_object_agg(category, n) FROM
                            (SELECT category, count(*) AS n FROM recon_found GROUP BY 1) c),
                            '{}'),
        'open_exceptions', (SELECT count(*) FROM recon_exceptions
                            WHERE business_day = p_day AND state = 'open'))
        INTO v_summary;
    UPDATE recon_runs SET finished_at = clock_timestamp(), summary = v_summary WHERE id = v_run;
    DROP TABLE recon_found;
    PERFORM audit('recon_run', 'day ' || p_day, NULL, v_summary);
    RETURN v_summary;
END
$$;

-- The correcting journal that brings the provider's clearing account in line with the
-- statement, against p_account: diff > 0 (the provider holds more than the ledger says)
-- debits clearing and credits the account; diff < 0 the other way round. It refers to the
-- payment's success journal when there is one; maker and checker are in its metadata.
-- Through the one write path.
CREATE FUNCTION recon_post(e recon_exceptions, p_account text, p_memo text, p_maker text,
                           p_checker text)
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF e.diff_vnd = 0 THEN
        RETURN NULL;
    END IF;
    RETURN post_journal('recon_correction', e.payment_id, p_memo, jsonb_build_array(
        jsonb_build_object('account', 'clearing:' || e.provider, 'amount_vnd', e.diff_vnd),
        jsonb_build_object('account', p_account, 'amount_vnd', -e.diff_vnd)),
        NULL, jsonb_build_object('maker', p_maker, 'checker', p_checker));
END
$$;

CREATE FUNCTION recon_exception_lock(p_id bigint) RETURNS recon_exceptions
LANGUAGE plpgsql AS $$
DECLARE
    e recon_exceptions;
BEGIN
    SELECT * INTO e FROM recon_exceptions WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail('FG404', 'exception_not_found', format('no exception %s', p_id));
    END IF;
    IF e.state = 'resolved' THEN
        PERFORM fail('FG409', 'exception_resolved', format('exception %s is resolved already',
                                                           p_id));
    END IF;
    RETURN e;
END
$$;

CREATE FUNCTION recon_exception_json(p_id bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', e.id, 'business_day', e.business_day, 'provider', e.provider,
        'category', e.category, 'kind', e.kind, 'merchant_ref', e.merchant_ref,
        'payment_id', e.payment_id, 'statement_amount_vnd', e.statement_amount_vnd,
        'switch_amount_vnd', e.switch_amount_vnd, 'diff_vnd', e.diff_vnd,
        'line_count', e.line_count, 'detail', e.detail, 'state', e.state,
        'actions', coalesce((SELECT jsonb_agg(jsonb_build_object(
            'id', a.id, 'action', a.action, 'status', a.status, 'staff', a.staff_id,
            'approved_by', a.approved_by, 'journal_id', a.journal_id,
            'account', a.account_code, 'note', a.note, 'data', a.data,
            'created_at', ts_text(a.created_at), 'decided_at', ts_text(a.decided_at))
            ORDER BY a.id) FROM recon_actions a WHERE a.exception_id = e.id), '[]'))
    FROM recon_exceptions e WHERE e.id = p_id
$$;

-- One resolving action on an exception, by a clerk or an approver (docs/console.md#controls):
--   query      records a status query to the provider (recon_apply_answer applies the answer)
--   correct    for a difference with money: asks for the correcting journal against
--              p_account (an existing account, not the provider's clearing, suspense or a
--              write-off account); an approver other than the maker posts it with
--              recon_approve. For a difference without money (out of day, duplicate) it
--              records the fix at once.
--   suspense   posts the difference to suspense:<provider> (ledger_to_suspense): money stays
--              on the books, waiting for its explanation
--   write_off  asks for a write-off to writeoff:<provider>; an approver other than the maker
--              posts it with recon_approve (ledger_to_suspense, then ledger_write_off)
-- No one posts a correction or a write-off alone. Returns the exception with its trail.
CREATE FUNCTION recon_resolve(p_id bigint, p_action text, p_session text, p_note text,
                              p_account text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_staff text;
    e recon_exceptions;
    v_journal bigint;
    v_memo text;
    v_before jsonb;
BEGIN
    v_staff := staff_session(p_session, ARRAY['clerk', 'approver']);
    IF p_action IS NULL OR p_action NOT IN ('query', 'correct', 'suspense', 'write_off') THEN
        PERFORM fail('FG422', 'invalid_action',
                     format('action "%s" is not query, correct, suspense or write_off',
                            p_action));
    END IF;
    e := recon_exception_lock(p_id);
    v_before := recon_exception_json(p_id);
    PERFORM 1 FROM recon_actions WHERE exception_id = p_id AND status = 'pending_approval';
    IF FOUND THEN
        PERFORM fail('FG409', 'action_pending',
                     format('exception %s has an action waiting for approval', p_id));
    END IF;
    v_memo := format('recon %s %s %s %s: %s', e.business_day, e.category, e.provider,
                     e.merchant_ref, coalesce(p_note, ''));
    IF p_action = 'query' THEN
        INSERT INTO recon_actions (exception_id, action, status, staff_id, note, data)
            VALUES (p_id, 'query', 'requested', v_staff, coalesce(p_note, ''),
                    jsonb_build_object('channel', e.provider, 'merchant_ref', e.merchant_ref));
    ELSIF p_action = 'write_off' THEN
        INSERT INTO recon_actions (exception_id, action, status, staff_id, account_code, note)
            VALUES (p_id, 'write_off', 'pending_approval', v_staff, 'writeoff:' || e.provider,
                    coalesce(p_note, ''));
    ELSIF p_action = 'correct' AND e.diff_vnd <> 0 THEN
        PERFORM 1 FROM accounts WHERE code = p_account;
        IF NOT FOUND OR p_account = 'clearing:' || e.provider THEN
            PERFORM fail('FG422', 'unknown_account',
                         format('account "%s" does not exist or is the provider''s clearing',
                                coalesce(p_account, '')));
        END IF;
        IF p_account LIKE 'writeoff:%' OR p_account LIKE 'suspense:%' THEN
            PERFORM fail('FG422', 'account_not_allowed',
                         format('account "%s": a write-off or suspense is its own action',
                                p_account));
        END IF;
        INSERT INTO recon_actions (exception_id, action, status, staff_id, account_code, note)
            VALUES (p_id, 'correct', 'pending_approval', v_staff, p_account,
                    coalesce(p_note, ''));
    ELSE
        IF p_action = 'suspense' THEN
            p_account := 'suspense:' || e.provider;
            IF e.diff_vnd <> 0 THEN
                v_journal := ledger_to_suspense(e.provider, e.diff_vnd, v_memo, v_staff,
                                                e.payment_id);
            END IF;
        END IF;
        INSERT INTO recon_actions (exception_id, action, status, staff_id, journal_id,
                                   account_code, note, decided_at)
            VALUES (p_id, p_action, 'done', v_staff, v_journal,
                    CASE WHEN e.diff_vnd <> 0 THEN p_account END, coalesce(p_note, ''), now());
        UPDATE recon_exceptions SET state = 'resolved', updated_at = now() WHERE id = p_id;
    END IF;
    PERFORM audit('recon_resolve:' || p_action, 'exception ' || p_id, v_before,
                  recon_exception_json(p_id));
    RETURN recon_exception_json(p_id);
END
$$;

-- The checker: an approver other than the maker posts the pending correction or write-off.
CREATE FUNCTION recon_approve(p_id bigint, p_session text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_staff text;
    e recon_exceptions;
    a recon_actions;
    v_journal bigint;
    v_memo text;
    v_before jsonb;
BEGIN
    v_staff := staff_session(p_session, ARRAY['approver']);
    e := recon_exception_lock(p_id);
    v_before := recon_exception_json(p_id);
    SELECT * INTO a FROM recon_actions
        WHERE exception_id = p_id AND status = 'pending_approval' FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail('FG409', 'nothing_to_approve',
                     format('exception %s has no action waiting for approval', p_id));
    END IF;
    IF a.staff_id = v_staff THEN
        PERFORM fail('FG409', 'same_person',
                     format('staff "%s" made this %s and cannot also approve it', v_staff,
                            a.action));
    END IF;
    v_memo := format('recon %s %s %s %s: %s', e.business_day, e.category, e.provider,
                     e.merchant_ref, a.note);
    IF a.action = 'correct' THEN
        v_journal := recon_post(e, a.account_code, v_memo, a.staff_id, v_staff);
    ELSIF e.diff_vnd <> 0 THEN
        -- The difference goes to suspense (by the maker), and out of it to writeoff (maker
        -- and checker): a loss when the switch booked more than the provider holds.
        PERFORM ledger_to_suspense(e.provider, e.diff_vnd, v_memo, a.staff_id, e.payment_id);
        v_journal := ledger_write_off(e.provider, -e.diff_vnd, v_memo, a.staff_id, v_staff,
                                      e.payment_id);
    END IF;
    UPDATE recon_actions SET status = 'done', approved_by = v_staff, journal_id = v_journal,
                             decided_at = now()
        WHERE id = a.id;
    UPDATE recon_exceptions SET state = 'resolved', updated_at = now() WHERE id = p_id;
    PERFORM audit('recon_approve:' || a.action, 'exception ' || p_id, v_before,
                  recon_exception_json(p_id));
    RETURN recon_exception_json(p_id);
END
$$;

-- Applies the provider's answer to a status query (the gateway sends the query and calls
-- this with what came back): {"status": "succeeded"|"failed"|"not_found"|"pending",
-- "amount_vnd", "provider_txn_id", "paid_at" (RFC 3339)}. A success for a known attempt goes
-- through apply_provider_result, like a callback; when the switch then agrees with the
-- statement the exception is resolved. The answer is kept in the trail either way.
CREATE FUNCTION recon_apply_answer(p_id bigint, p_session text, p_answer jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_staff text;
    e recon_exceptions;
    v_status text := p_answer ->> 'status';
    v_verdict text := 'recorded';
    v_resolved bool := false;
BEGIN
    v_staff := staff_session(p_session, ARRAY['clerk', 'approver']);
    e := recon_exception_lock(p_id);
    IF v_status IS NULL OR v_status NOT IN ('succeeded', 'failed', 'not_found', 'pending') THEN
        PERFORM fail('FG422', 'invalid_answer',
                     'status must be succeeded, failed, not_found or pending');
    END IF;
    IF v_status = 'succeeded' AND e.kind = 'payment' THEN
        v_verdict := apply_provider_result(e.provider, e.merchant_ref, 'succeeded',
                                           (p_answer ->> 'amount_vnd')::bigint,
                                           p_answer ->> 'provider_txn_id',
                                           (p_answer ->> 'paid_at')::timestamptz,
                                           'recon_query', p_answer::text);
        v_resolved := v_verdict IN ('applied', 'duplicate')
                      AND e.category IN ('status_mismatch', 'missing_at_switch')
                      AND EXISTS (SELECT 1 FROM payment_attempts a JOIN payments p
                                    ON p.id = a.payment_id
                                  WHERE a.merchant_ref = e.merchant_ref
                                    AND p.status IN ('succeeded', 'partially_refunded',
                                                     'refunded'));
    END IF;
    UPDATE recon_actions SET status = 'answered', decided_at = now()
        WHERE exception_id = p_id AND action = 'query' AND status = 'requested';
    INSERT INTO recon_actions (exception_id, action, status, staff_id, note, data, decided_at)
        VALUES (p_id, 'apply_answer', 'done', v_staff, v_verdict, p_answer, now());
    IF v_resolved THEN
        UPDATE recon_exceptions SET state = 'resolved', updated_at = now() WHERE id = p_id;
    END IF;
    PERFORM audit('recon_answer', 'exception ' || p_id, p_answer, recon_exception_json(p_id));
    RETURN recon_exception_json(p_id);
END
$$;

-- The day's figures per agency, treasury account and provider: counts, gross, provider
-- fees (from the statement lines; a treasury account bears them in proportion to its part
-- of each payment), refunds (refund lines of the day), net = gross - fees - refunds, and
-- open exceptions. Overpayments are not the agencies' money: they are counted apart
-- ("overpayments": those paid in the day, by state, and their refund lines of the day), and
-- the refund of an overpayment is not a refund of its payment.
CREATE FUNCTION day_report(p_day date) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v jsonb;
BEGIN
    SELECT report INTO v FROM day_reports WHERE business_day = p_day;
    IF FOUND THEN
        RETURN v;
    END IF;
    RETURN day_report_compute(p_day);
END
$$;

CREATE FUNCTION day_report_compute(p_day date) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH fees AS (
        SELECT s.provider, s.merchant_ref, min(s.fee_vnd) AS fee FROM statement_lines s
        WHERE s.business_day = p_day AND s.kind = 'payment' AND s.status = 'succeeded'
        GROUP BY s.provider, s.merchant_ref
    ), refunds AS (
        SELECT a.payment_id, sum(s.amount_vnd)::bigint AS refund FROM statement_lines s
        JOIN payment_attempts a ON a.merchant_ref = s.merchant_ref AND a.channel = s.provider
        WHERE s.business_day = p_day AND s.kind = 'refund' AND s.status = 'succeeded'
          AND NOT EXISTS (SELECT 1 FROM overpayments o WHERE o.merchant_ref = s.merchant_ref)
        GROUP BY a.payment_id
    ), ovp AS (
        SELECT o.* FROM overpayments o
        WHERE o.paid_at >= recon_day_start(p_day) AND o.paid_at < recon_day_start(p_day + 1)
    ), pay AS (
        SELECT p.id, p.agency_code, p.channel, p.amount_vnd, p.items,
               coalesce(f.fee, 0) AS fee, coalesce(r.refund, 0) AS refund
        FROM payments p
        LEFT JOIN fees f ON f.provider = p.channel AND f.merchant_ref = p.merchant_ref
        LEFT JOIN refunds r ON r.payment_id = p.id
        WHERE p.paid_at >= recon_day_start(p_day) AND p.paid_at < recon_day_start(p_day + 1)
          AND p.status IN ('succeeded', 'partially_refunded', 'refunded')
    ), exc AS (
        SELECT e.*, p.agency_code FROM recon_exceptions e
        LEFT JOIN payments p ON p.id = e.payment_id
        WHERE e.business_day = p_day AND e.state <> 'resolved'
    ), tparts AS (
        SELECT pay.id, s.treasury_account, s.amount_vnd AS part,
               pay.fee * s.amount_vnd / pay.amount_vnd AS fee,
               pay.refund * s.amount_vnd / pay.amount_vnd AS refund
        FROM pay, LATERAL split_items(pay.agency_code, pay.items) s
    ), ag AS (
        SELECT a.code, a.name, count(pay.id) AS n,
               coalesce(sum(pay.amount_vnd), 0)::bigint AS gross,
               coalesce(sum(pay.fee), 0)::bigint AS fees,
               coalesce(sum(pay.refund), 0)::bigint AS refunds,
               (SELECT count(*) FROM exc WHERE exc.agency_code = a.code) AS open_exc
        FROM agencies a LEFT JOIN pay ON pay.agency_code = a.code
        GROUP BY a.code, a.name
    ), tr AS (
        SELECT t.code, t.agency_code, t.name, t.bank_name, t.account_no,
               count(tp.id) AS n, coalesce(sum(tp.part), 0)::bigint AS gross,
               coalesce(sum(tp.fee), 0)::bigint AS fees,
               coalesce(sum(tp.refund), 0)::bigint AS refunds,
               (SELECT count(DISTINCT exc.id) FROM exc
                JOIN payments p ON p.id = exc.payment_id,
                LATERAL split_items(p.agency_code, p.items) s
                WHERE s.treasury_account = t.code) AS open_exc
        FROM treasury_accounts t LEFT JOIN tparts tp ON tp.treasury_account = t.code
        GROUP BY t.code, t.agency_code, t.name, t.bank_name, t.account_no
    ), pr AS (
        SELECT c.code, c.name, count(pay.id) AS n,
               coalesce(sum(pay.amount_vnd), 0)::bigint AS gross,
               coalesce(sum(pay.fee), 0)::bigint AS fees,
               coalesce(sum(pay.refund), 0)::bigint AS refunds,
               (SELECT count(*) FROM statement_lines s
                WHERE s.business_day = p_day AND s.provider = c.code) AS lines,
               (SELECT count(*) FROM exc WHERE exc.provider = c.code) AS open_exc
        FROM channels c LEFT JOIN pay ON pay.channel = c.code
        GROUP BY c.code, c.name
    )
    SELECT jsonb_build_object(
        'business_day', p_day,
        'timezone', 'Asia/Ho_Chi_Minh',
        'day_start', ts_text(recon_day_start(p_day)),
        'day_end', ts_text(recon_day_start(p_day + 1)),
        'closed', recon_day_closed(p_day),
        'generated_at', ts_text(now()),
        'totals', (SELECT jsonb_build_object('count', count(*),
                       'gross_vnd', coalesce(sum(amount_vnd), 0)::bigint,
                       'fees_vnd', coalesce(sum(fee), 0)::bigint,
                       'refunds_vnd', coalesce(sum(refund), 0)::bigint,
                       'net_vnd', coalesce(sum(amount_vnd - fee - refund), 0)::bigint,
                       'open_exceptions', (SELECT count(*) FROM exc)) FROM pay),
        'agencies', (SELECT coalesce(jsonb_agg(jsonb_build_object('code', code, 'name', name,
                         'count', n, 'gross_vnd', gross, 'fees_vnd', fees,
                         'refunds_vnd', refunds, 'net_vnd', gross - fees - refunds,
                         'open_exceptions', open_exc) ORDER BY code), '[]') FROM ag),
        'treasury_accounts', (SELECT coalesce(jsonb_agg(jsonb_build_object('code', code,
                         'agency_code', agency_code, 'name', name, 'bank_name', bank_name,
                         'account_no', account_no, 'count', n, 'gross_vnd', gross,
                         'fees_vnd', fees, 'refunds_vnd', refunds,
                         'net_vnd', gross - fees - refunds, 'open_exceptions', open_exc)
                         ORDER BY code), '[]') FROM tr),
        'providers', (SELECT coalesce(jsonb_agg(jsonb_build_object('code', code, 'name', name,
                         'count', n, 'gross_vnd', gross, 'fees_vnd', fees,
                         'refunds_vnd', refunds, 'net_vnd', gross - fees - refunds,
                         'statement_lines', lines, 'open_exceptions', open_exc)
                         ORDER BY code), '[]') FROM pr),
        'overpayments', jsonb_build_object(
            'count', (SELECT count(*) FROM ovp),
            'amount_vnd', (SELECT coalesce(sum(amount_vnd), 0)::bigint FROM ovp),
            'by_state', (SELECT coalesce(jsonb_object_agg(state, n), '{}') FROM
                (SELECT state, count(*) AS n FROM ovp GROUP BY 1) x),
            'refund_lines_vnd', (SELECT coalesce(sum(s.amount_vnd), 0)::bigint
                                 FROM statement_lines s JOIN overpayments o
                                     ON o.merchant_ref = s.merchant_ref AND o.channel = s.provider
                                 WHERE s.business_day = p_day AND s.kind = 'refund'
                                   AND s.status = 'succeeded'),
            'owed_vnd', (SELECT coalesce(sum(amount_vnd), 0)::bigint FROM ovp
                         WHERE state IN ('owed', 'refunding', 'to_transfer'))),
        'exceptions', jsonb_build_object(
            'by_category', (SELECT coalesce(jsonb_object_agg(category, n), '{}') FROM
                (SELECT category, count(*) AS n FROM recon_exceptions
                 WHERE business_day = p_day GROUP BY 1) x),
            'by_state', (SELECT coalesce(jsonb_object_agg(state, n), '{}') FROM
                (SELECT state, count(*) AS n FROM recon_exceptions
                 WHERE business_day = p_day GROUP BY 1) x)))
$$;

-- Closes a day: refused while exceptions are open unless p_carry_forward (each open one is
-- then carried forward, with a trail row), refused before the day has been reconciled, for
-- today or later, and for a closed day. Freezes the day in the ledger (no journal may be
-- dated into it) and stores the report. Returns the report.
CREATE FUNCTION day_close(p_day date, p_session text, p_carry_forward bool) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_staff text;
    v_open bigint;
    v_report jsonb;
BEGIN
    v_staff := staff_session(p_session, ARRAY['approver']);
    PERFORM recon_require_open_day(p_day);
    IF p_day >= recon_today() THEN
        PERFORM fail('FG422', 'day_not_over',
                     format('business day %s is not over yet (Asia/Ho_Chi_Minh)', p_day));
    END IF;
    PERFORM pg_advisory_xact_lock(7378415059000000000 + (p_day - date '2000-01-01'));
    PERFORM 1 FROM recon_runs WHERE business_day = p_day AND finished_at IS NOT NULL;
    IF NOT FOUND THEN
        PERFORM fail('FG409', 'not_reconciled',
                     format('business day %s has not been reconciled (feegate recon run)',
                            p_day));
    END IF;
    SELECT count(*) INTO v_open FROM recon_exceptions WHERE business_day = p_day
        AND state = 'open';
    IF v_open > 0 AND NOT coalesce(p_carry_forward, false) THEN
        PERFORM fail('FG409', 'open_exceptions',
                     format('business day %s has %s open exceptions: resolve them or carry '
                            'them forward', p_day, v_open));
    END IF;
    WITH cf AS (
        UPDATE recon_exceptions SET state = 'carried_forward', updated_at = now()
        WHERE business_day = p_day AND state = 'open' RETURNING id
    )
    INSERT INTO recon_actions (exception_id, action, status, staff_id, note, decided_at)
        SELECT id, 'carry_forward', 'done', v_staff,
               format('carried forward when %s was closed', p_day), now() FROM cf;
    v_report := day_report_compute(p_day) || jsonb_build_object('closed', true,
                    'closed_by', v_staff, 'closed_at', ts_text(now()));
    PERFORM recon_day_freeze(p_day, v_staff);
    INSERT INTO day_reports (business_day, closed_by, report) VALUES (p_day, v_staff, v_report);
    PERFORM audit('day_close', 'day ' || p_day, NULL, jsonb_build_object(
        'carry_forward', coalesce(p_carry_forward, false), 'totals', v_report -> 'totals'));
    RETURN v_report;
END
$$;

-- Freezes the day in the ledger's business_days. The SHARE lock on journals
-- waits for journals being written and holds new ones until commit, so no journal can slip
-- into the day after it is seen closed (post_journal checks business_days).
--
-- It runs ledger_check() first: a day whose books fail a check is not frozen; the close is
-- refused with FG409 ledger_check_failed naming the failed checks, and nothing is written
-- (day_close calls it once the day's reconciliation is checked; the command line and
-- /v1/finance/ both close through it). The check runs before the SHARE lock on journals,
-- which would hold every payment's success for as long as the check takes; a journal
-- committed between the check and the lock is checked by the next run (the gateway's
-- periodic check, docs/ledger.md).
CREATE FUNCTION recon_day_freeze(p_day date, p_staff text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_failed text;
BEGIN
    SELECT string_agg(format('%s (%s)', c.check_name, c.violations), ', '
                      ORDER BY c.check_name)
        INTO v_failed FROM ledger_check() c WHERE c.violations > 0;
    IF v_failed IS NOT NULL THEN
        PERFORM fail('FG409', 'ledger_check_failed',
                     format('business day %s not closed: the ledger check fails: %s '
                            '(feegate ledger check)', p_day, v_failed));
    END IF;
    LOCK TABLE journals IN SHARE MODE;
    INSERT INTO business_days AS d (day, status, closed_at, closed_by)
        VALUES (p_day, 'closed', now(), p_staff)
        ON CONFLICT (day) DO UPDATE SET status = 'closed', closed_at = now(),
                                        closed_by = p_staff;
END
$$;

CREATE FUNCTION fin_days(p_session text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_staff text;
BEGIN
    v_staff := staff_or_owner(p_session, ARRAY['clerk', 'approver', 'auditor']);
    RETURN (SELECT jsonb_build_object('timezone', 'Asia/Ho_Chi_Minh', 'days',
        coalesce(jsonb_agg(jsonb_build_object(
            'business_day', d,
            'closed', recon_day_closed(d),
            'statement_files', (SELECT count(*) FROM statement_files f WHERE f.business_day = d),
            'statement_lines', (SELECT count(*) FROM statement_lines l WHERE l.business_day = d),
            'runs', (SELECT count(*) FROM recon_runs r WHERE r.business_day = d),
            'open_exceptions', (SELECT count(*) FROM recon_exceptions e
                                WHERE e.business_day = d AND e.state = 'open'))
            ORDER BY d DESC), '[]'))::text
        FROM (SELECT business_day AS d FROM statement_files
              UNION SELECT business_day FROM recon_runs
              UNION SELECT business_day FROM recon_exceptions
              ORDER BY 1 DESC LIMIT 366) days);
END
$$;

CREATE FUNCTION fin_imports(p_session text, p_day date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_staff text;
BEGIN
    v_staff := staff_or_owner(p_session, ARRAY['clerk', 'approver', 'auditor']);
    RETURN jsonb_build_object('business_day', p_day, 'timezone', 'Asia/Ho_Chi_Minh',
        'files', coalesce((SELECT jsonb_agg(jsonb_build_object('id', f.id,
            'provider', f.provider, 'format', f.format, 'sha256', f.file_sha256,
            'file_name', f.file_name, 'lines_read', f.lines_read, 'lines_added', f.lines_added,
            'staff', f.staff_id, 'imported_at', ts_text(f.imported_at)) ORDER BY f.id)
            FROM statement_files f WHERE f.business_day = p_day), '[]'),
        'runs', coalesce((SELECT jsonb_agg(r.summary || jsonb_build_object(
            'started_at', ts_text(r.started_at), 'finished_at', ts_text(r.finished_at),
            'staff', r.staff_id) ORDER BY r.id)
            FROM recon_runs r WHERE r.business_day = p_day), '[]'))::text;
END
$$;

CREATE FUNCTION fin_exceptions(p_session text, p_day date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_staff text;
BEGIN
    v_staff := staff_or_owner(p_session, ARRAY['clerk', 'approver', 'auditor']);
    RETURN jsonb_build_object('business_day', p_day, 'timezone', 'Asia/Ho_Chi_Minh',
        'exceptions', coalesce((SELECT jsonb_agg(recon_exception_json(e.id)
                                ORDER BY e.category, e.provider, e.merchant_ref, e.kind)
                                FROM recon_exceptions e WHERE e.business_day = p_day), '[]'))::text;
END
$$;

-- One exception with its trail (the console's exception page).
CREATE FUNCTION fin_exception(p_session text, p_id bigint) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_staff text;
BEGIN
    v_staff := staff_or_owner(p_session, ARRAY['clerk', 'approver', 'auditor']);
    RETURN recon_exception_json(p_id)::text;
END
$$;

-- The exceptions with an action waiting for an approver (the console's approvals queue),
-- oldest first.
CREATE FUNCTION fin_pending(p_session text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_staff text;
BEGIN
    v_staff := staff_or_owner(p_session, ARRAY['approver', 'auditor']);
    RETURN jsonb_build_object('exceptions', coalesce((SELECT jsonb_agg(
        recon_exception_json(e.id) ORDER BY e.id) FROM recon_exceptions e
        WHERE EXISTS (SELECT 1 FROM recon_actions a WHERE a.exception_id = e.id
                      AND a.status = 'pending_approval')), '[]'))::text;
END
$$;

-- The newest p_limit rows of the audit log (at most 500), newest first.
CREATE FUNCTION fin_audit(p_session text, p_limit int) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_staff text;
BEGIN
    v_staff := staff_or_owner(p_session, ARRAY['clerk', 'approver', 'auditor']);
    RETURN jsonb_build_object('rows', coalesce((SELECT jsonb_agg(jsonb_build_object(
        'id', a.id, 'at', ts_text(a.at), 'staff', a.staff_id, 'from', a.from_addr,
        'action', a.action, 'object', a.object) ORDER BY a.id DESC)
        FROM (SELECT * FROM audit_log ORDER BY id DESC
              LIMIT least(greatest(coalesce(p_limit, 100), 1), 500)) a), '[]'))::text;
END
$$;

CREATE FUNCTION fin_report(p_session text, p_day date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_staff text;
BEGIN
    v_staff := staff_or_owner(p_session, ARRAY['clerk', 'approver', 'auditor']);
    RETURN day_report(p_day)::text;
END
$$;

-- Adds or updates a member of the finance staff (owner only: `feegate staff add`, which hashes
-- the password with argon2id and makes the TOTP secret). Updating resets the lock-out and the
-- last code used, and ends the member's sessions.
CREATE FUNCTION staff_upsert(p_id text, p_role text, p_name text, p_password_hash text,
                             p_totp_secret_hex text) RETURNS void
LANGUAGE plpgsql SET search_path = feegate, pg_temp AS $$
DECLARE
    v_before jsonb;
BEGIN
    PERFORM staff_or_owner(NULL, NULL);
    SELECT jsonb_build_object('role', role, 'name', name, 'active', active) INTO v_before
        FROM staff WHERE id = p_id;
    INSERT INTO staff (id, role, name, password_hash, totp_secret)
        VALUES (p_id, p_role, coalesce(p_name, ''), p_password_hash,
                decode(p_totp_secret_hex, 'hex'))
        ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role,
            name = CASE WHEN p_name IS NULL THEN staff.name ELSE EXCLUDED.name END,
            password_hash = EXCLUDED.password_hash, totp_secret = EXCLUDED.totp_secret,
            totp_last_step = 0, failures = 0, locked_until = NULL, active = true;
    UPDATE staff_sessions SET ended_at = now() WHERE staff_id = p_id AND ended_at IS NULL;
    PERFORM audit('staff_upsert', 'staff ' || p_id, v_before,
                  (SELECT jsonb_build_object('role', role, 'name', name, 'active', active)
                   FROM staff WHERE id = p_id));
END
$$;

-- The provider's status query as a resolving action, sent by the gateway.
--
-- POST /v1/finance/exceptions/{id}/query runs in three steps, because the provider call
-- happens between two transactions:
--   recon_query_target   checks the staff member and the exception and returns the checkout
--                        attempt to ask about (reference, channel, amounts and times the
--                        adapter needs to build the channel's status query);
--   (the gateway builds, sends and verifies the query with the channel's adapter)
--   recon_query_result   applies the verified answer through recovery_result, exactly like
--                        the recovery poller does (a success or failure is applied like a
--                        callback, with source 'query'), writes the query in the
--                        exception's trail and resolves the exception when the switch then
--                        agrees with the statement. An answer that settles nothing (pending,
--                        not found, no answer, a bad signature) leaves it open, with the
--                        reason in the trail.

CREATE FUNCTION recon_query_attempt(e recon_exceptions) RETURNS payment_attempts
LANGUAGE plpgsql STABLE AS $$
DECLARE
    a payment_attempts;
BEGIN
    IF e.kind <> 'payment' THEN
        PERFORM fail('FG422', 'not_queryable',
                     format('exception %s is about a %s: only payments are queried', e.id,
                            e.kind));
    END IF;
    SELECT * INTO a FROM payment_attempts x
        WHERE x.merchant_ref = e.merchant_ref AND x.channel = e.provider;
    IF NOT FOUND THEN
        PERFORM fail('FG422', 'not_queryable',
                     format('"%s" is no checkout attempt of %s: nothing to ask the provider',
                            e.merchant_ref, e.provider));
    END IF;
    RETURN a;
END
$$;

CREATE FUNCTION recon_query_target(p_id bigint, p_session text)
RETURNS TABLE (merchant_ref text, channel text, payment_id text, amount_vnd bigint,
               created_at_unix bigint, expires_at_unix bigint, provider_txn_id text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_staff text;
    e recon_exceptions;
    a payment_attempts;
BEGIN
    v_staff := staff_session(p_session, ARRAY['clerk', 'approver']);
    SELECT * INTO e FROM recon_exceptions x WHERE x.id = p_id;
    IF NOT FOUND THEN
        PERFORM fail('FG404', 'exception_not_found', format('no exception %s', p_id));
    END IF;
    IF e.state = 'resolved' THEN
        PERFORM fail('FG409', 'exception_resolved',
                     format('exception %s is resolved already', p_id));
    END IF;
    a := recon_query_attempt(e);
    RETURN QUERY
        SELECT a.merchant_ref, a.channel, a.payment_id, p.amount_vnd,
               extract(epoch FROM a.created_at)::bigint, extract(epoch FROM p.expires_at)::bigint,
               p.provider_txn_id
        FROM payments p WHERE p.id = a.payment_id;
END
$$;

-- p_outcome: succeeded, failed, pending, not_found (a verified answer) or error (no answer,
-- a timeout, an answer that did not verify: p_reason says which). The attempt's recovery
-- schedule is kept (an exhausted attempt stays exhausted unless the answer settles it).
CREATE FUNCTION recon_query_result(p_id bigint, p_session text, p_outcome text,
                                   p_amount_vnd bigint, p_provider_txn_id text,
                                   p_paid_at timestamptz, p_raw text, p_reason text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_staff text;
    e recon_exceptions;
    a payment_attempts;
    v_next int;
    v_verdict text;
    v_resolved bool;
    v_note text;
BEGIN
    v_staff := staff_session(p_session, ARRAY['clerk', 'approver']);
    IF p_outcome IS NULL OR p_outcome NOT IN ('succeeded', 'failed', 'pending', 'not_found',
                                              'error') THEN
        PERFORM fail('FG422', 'invalid_outcome',
                     format('outcome "%s" is not known', coalesce(p_outcome, '')));
    END IF;
    e := recon_exception_lock(p_id);
    a := recon_query_attempt(e);
    v_next := CASE WHEN a.exhausted THEN NULL
                   ELSE greatest(ceil(extract(epoch FROM a.next_query_at - now())), 0)::int END;
    v_verdict := recovery_result(a.merchant_ref, p_outcome, p_amount_vnd, p_provider_txn_id,
                                 p_paid_at, coalesce(p_raw, ''), v_next);
    v_resolved := p_outcome = 'succeeded' AND v_verdict IN ('applied', 'duplicate')
                  AND e.category IN ('status_mismatch', 'missing_at_switch')
                  AND EXISTS (SELECT 1 FROM payments p WHERE p.id = a.payment_id
                                AND p.status IN ('succeeded', 'partially_refunded',
                                                 'refunded'));
    v_note := CASE
        WHEN p_outcome = 'error' THEN
            format('no usable answer from %s: %s', e.provider, coalesce(p_reason, 'unknown'))
        WHEN p_outcome = 'not_found' THEN
            format('%s answered not_found: it has no payment "%s"', e.provider, a.merchant_ref)
        WHEN v_resolved THEN
            format('%s answered %s: %s, the switch now agrees', e.provider, p_outcome, v_verdict)
        ELSE format('%s answered %s: %s, the exception stays open', e.provider, p_outcome,
                    v_verdict) END;
    UPDATE recon_actions SET status = 'answered', decided_at = now()
        WHERE exception_id = p_id AND action = 'query' AND status = 'requested';
    INSERT INTO recon_actions (exception_id, action, status, staff_id, note, data, decided_at)
        VALUES (p_id, 'query', CASE WHEN v_resolved THEN 'done' ELSE 'answered' END, v_staff,
                v_note, jsonb_build_object(
                    'channel', a.channel, 'merchant_ref', a.merchant_ref,
                    'outcome', p_outcome, 'verdict', v_verdict, 'amount_vnd', p_amount_vnd,
                    'provider_txn_id', p_provider_txn_id, 'paid_at', ts_text(p_paid_at),
                    'reason', p_reason, 'answer', left(coalesce(p_raw, ''), 4000)),
                now());
    IF v_resolved THEN
        UPDATE recon_exceptions SET state = 'resolved', updated_at = now() WHERE id = p_id;
    ELSE
        UPDATE recon_exceptions SET updated_at = now() WHERE id = p_id;
    END IF;
    PERFORM audit('recon_query', 'exception ' || p_id, NULL, recon_exception_json(p_id));
    RETURN recon_exception_json(p_id);
END
$$;
