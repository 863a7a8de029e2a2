-- 002_limits: the SQL takes the limits it shares with the gateway from common/gw_limits.h.
--
-- The schema repeated some of gw_limits.h's values as literals: the 40 delivery attempts of
-- a webhook (GW_WEBHOOK_ATTEMPTS_MAX), the 50 lines of a payment (GW_ITEMS_MAX), the expiry
-- bounds and default (GW_EXPIRES_IN_S_*), the amount ceiling (GW_AMOUNT_VND_MAX), and the
-- lengths of an order_ref, an Idempotency-Key, a client id and secret, an agency or fee code
-- and a merchant_ref. Each now reads limits_<name>(), an IMMUTABLE SQL function returning
-- the constant: generated at build time from gw_limits.h by ledger/tools/ldg_limits_gen.c
-- and applied by `feegate migrate` before every migration and on every run, so a changed
-- limit reaches the database with the binary that has it, without a migration.
--
-- Where the limit is read:
--   * in PL/pgSQL (outbox_result, check_items, api_create_payment, idem_lock, and the row
--     rule payment_row_ok): the call is planned once per session and folded to its
--     constant, free after the first use;
--   * in the CHECK constraints of the catalogue and the statements (clients, agencies, fees,
--     statement_lines), written at human pace or by one INSERT per file: directly;
--   * in the CHECK constraints of the payment path (payment_attempts, idempotency): through
--     an IMMUTABLE PL/pgSQL rule (merchant_ref_ok, idem_key_ok). A CHECK is prepared again
--     for every INSERT statement, and inlining an SQL function there cost about 45 µs per
--     statement (20,000 single-row INSERTs from PL/pgSQL, PostgreSQL 15, a 2-core VM),
--     while a PL/pgSQL rule cost about what the literal did.
-- A CHECK is not re-validated when a limit changes: a new limit applies to new rows.
-- Every rule accepts exactly what it accepted with gw_limits.h's current values.

SET LOCAL search_path = feegate, pg_temp;

-- Rules of the payment path's keys ----------------------------------------------------------

-- The row rules run in CHECK constraints, in whatever session writes the row (an operator's
-- psql has search_path "$user", public): they name the limits with their schema.

-- An Idempotency-Key: 1 to GW_IDEM_KEY_BYTES_MAX of [A-Za-z0-9_-] (a class and a length,
-- no bounded repetition). For idem_lock and the idempotency table's CHECK.
CREATE FUNCTION idem_key_ok(p_key text) RETURNS bool
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN p_key ~ '^[A-Za-z0-9_-]+$'
       AND length(p_key) <= feegate.limits_idem_key_bytes_max();
END
$$;

-- A checkout attempt's merchant_ref: at most GW_MERCHANT_REF_BYTES_MAX characters.
CREATE FUNCTION merchant_ref_ok(p_merchant_ref text) RETURNS bool
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN length(p_merchant_ref) <= feegate.limits_merchant_ref_bytes_max();
END
$$;

-- Like the other row rules, they keep PostgreSQL's default privileges: pure, and run by the
-- CHECK constraints of whoever writes the row.

-- CHECK constraints (same names) ----------------------------------------------------------

ALTER TABLE clients
    DROP CONSTRAINT clients_id_check,
    ADD CONSTRAINT clients_id_check
        CHECK (id ~ '^[A-Za-z0-9_.-]+$' AND length(id) <= limits_client_id_bytes_max()),
    DROP CONSTRAINT clients_secret_check,
    ADD CONSTRAINT clients_secret_check
        CHECK (length(secret) BETWEEN 16 AND limits_client_secret_bytes_max());
ALTER TABLE agencies
    DROP CONSTRAINT agencies_code_check,
    ADD CONSTRAINT agencies_code_check
        CHECK (code ~ '^[A-Z0-9_-]+$' AND length(code) <= limits_code_bytes_max());
ALTER TABLE fees
    DROP CONSTRAINT fees_fee_code_check,
    ADD CONSTRAINT fees_fee_code_check
        CHECK (fee_code ~ '^[A-Z0-9_-]+$' AND length(fee_code) <= limits_code_bytes_max()),
    DROP CONSTRAINT fees_amount_vnd_max_check,
    ADD CONSTRAINT fees_amount_vnd_max_check CHECK (amount_vnd_max <= limits_amount_vnd_max());
ALTER TABLE statement_lines
    DROP CONSTRAINT statement_lines_amount_vnd_check,
    ADD CONSTRAINT statement_lines_amount_vnd_check
        CHECK (amount_vnd > 0 AND amount_vnd <= limits_amount_vnd_max());
ALTER TABLE payment_attempts
    DROP CONSTRAINT payment_attempts_merchant_ref_check,
    ADD CONSTRAINT payment_attempts_merchant_ref_check CHECK (merchant_ref_ok(merchant_ref));
ALTER TABLE idempotency
    DROP CONSTRAINT idempotency_idem_key_check,
    ADD CONSTRAINT idempotency_idem_key_check CHECK (idem_key_ok(idem_key));

-- Functions: those of the schema, with the limits read -------------------------------------

-- The payments row rule (schema.sql): order_ref length and amount ceiling.
CREATE OR REPLACE FUNCTION payment_row_ok(p_order_ref text, p_status text, p_amount_vnd bigint,
                               p_items jsonb, p_locale text, p_refunded_vnd bigint)
RETURNS bool
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN length(p_order_ref) BETWEEN 1 AND feegate.limits_order_ref_bytes_max()
       AND p_status IN ('created', 'pending', 'succeeded', 'failed', 'expired', 'cancelled',
                        'partially_refunded', 'refunded')
       AND p_amount_vnd > 0 AND p_amount_vnd <= feegate.limits_amount_vnd_max()
       AND jsonb_typeof(p_items) = 'array'
       AND p_locale IN ('vi', 'en')
       AND p_refunded_vnd >= 0 AND p_refunded_vnd <= p_amount_vnd;
END
$$;

-- Webhook delivery (webhooks.sql): dead after limits_webhook_attempts_max() attempts.
CREATE OR REPLACE FUNCTION outbox_result(id bigint, ok bool, http_status int, error text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_attempt int;
BEGIN
    UPDATE outbox o SET
        attempts = o.attempts + 1,
        lease_until = NULL,
        delivered_at = CASE WHEN ok THEN now() END,
        dead_at = CASE WHEN NOT ok AND o.attempts + 1 >= limits_webhook_attempts_max() THEN now()
                  END,
        next_attempt_at = CASE WHEN ok OR o.attempts + 1 >= limits_webhook_attempts_max() THEN NULL
                               ELSE now() + least(3600, 5 * power(2, least(o.attempts, 20)))
                                            * interval '1 second' END,
        last_error = CASE WHEN ok THEN NULL ELSE left(error, 1000) END
    WHERE o.id = outbox_result.id AND o.delivered_at IS NULL AND o.dead_at IS NULL
    RETURNING o.attempts INTO v_attempt;
    IF NOT FOUND THEN
        SELECT o.attempts INTO v_attempt FROM outbox o WHERE o.id = outbox_result.id;
        IF NOT FOUND THEN
            PERFORM fail('FG404', 'outbox_not_found',
                         format('outbox row %s does not exist', outbox_result.id));
        END IF;
    END IF;
    INSERT INTO webhook_deliveries (outbox_id, attempt, http_status, error)
        VALUES (outbox_result.id, v_attempt, http_status, left(error, 1000));
END
$$;

-- A payment's lines (payments_api.sql): at most limits_items_max().
CREATE OR REPLACE FUNCTION check_items(p_agency text, p_items jsonb, p_total bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
    v_sum numeric := 0;
    v_items jsonb := '[]';
BEGIN
    IF jsonb_typeof(p_items) IS DISTINCT FROM 'array' OR jsonb_array_length(p_items) = 0
       OR jsonb_array_length(p_items) > limits_items_max() THEN
        PERFORM fail('FG422', 'invalid_items',
                     format('items must be an array of 1 to %s fee lines', limits_items_max()));
    END IF;
    FOR r IN SELECT e ->> 'fee_code' AS fee_code, (e ->> 'amount_vnd')::bigint AS amt, f
             FROM jsonb_array_elements(p_items) WITH ORDINALITY AS t(e, ord)
             LEFT JOIN fees f ON f.agency_code = p_agency AND f.fee_code = e ->> 'fee_code'
             ORDER BY ord LOOP
        IF (r.f).fee_code IS NULL THEN
            PERFORM fail('FG422', 'unknown_fee', format('fee "%s" does not exist for agency "%s"',
                                                        r.fee_code, p_agency));
        END IF;
        IF r.amt IS NULL OR r.amt < (r.f).amount_vnd_min OR r.amt > (r.f).amount_vnd_max
           OR ((r.f).amounts_vnd IS NOT NULL AND r.amt <> ALL ((r.f).amounts_vnd))
           OR ((r.f).amount_step_vnd IS NOT NULL AND r.amt % (r.f).amount_step_vnd <> 0) THEN
            PERFORM fail('FG422', 'amount_not_allowed',
                         format('%s VND is not an allowed amount for fee "%s"', r.amt,
                                r.fee_code));
        END IF;
        v_sum := v_sum + r.amt;
        v_items := v_items || jsonb_build_object('fee_code', r.fee_code, 'amount_vnd', r.amt);
    END LOOP;
    IF p_total IS NULL OR v_sum <> p_total THEN
        PERFORM fail('FG422', 'amount_mismatch',
                     format('amount_vnd %s is not the sum of the items (%s)', p_total, v_sum));
    END IF;
    RETURN v_items;
END
$$;

-- A payment's expiry (payments_api.sql): default and bounds.
CREATE OR REPLACE FUNCTION api_create_payment(client text, idem_key text, req_sha256 text,
                                              req jsonb, base_url text)
RETURNS TABLE (http_status int, body text, replayed bool)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_prev record;
    v_id text := hex_id('pay_');
    v_agency text := req ->> 'agency_code';
    v_expires_s int := coalesce((req ->> 'expires_in_s')::int, limits_expires_in_s_default());
    v_items jsonb;
    v_body text;
BEGIN
    v_prev := idem_lock(client, idem_key, req_sha256);
    IF v_prev.o_status IS NOT NULL THEN
        RETURN QUERY SELECT v_prev.o_status, v_prev.o_body, true;
        RETURN;
    END IF;
    PERFORM 1 FROM client_agencies ca
        WHERE ca.client_id = client AND ca.agency_code = v_agency;
    IF NOT FOUND THEN
        PERFORM fail('FG422', 'unknown_agency',
                     format('agency "%s" does not exist or is not open to this client',
                            v_agency));
    END IF;
    IF v_expires_s NOT BETWEEN limits_expires_in_s_min() AND limits_expires_in_s_max() THEN
        PERFORM fail('FG422', 'invalid_expires_in',
                     format('expires_in_s must be %s to %s', limits_expires_in_s_min(),
                            limits_expires_in_s_max()));
    END IF;
    v_items := check_items(v_agency, req -> 'items', (req ->> 'amount_vnd')::bigint);
    INSERT INTO payments AS p (id, client_id, order_ref, agency_code, amount_vnd, payer, items,
                               return_url, locale, base_url, expires_at)
        VALUES (v_id, client, req ->> 'order_ref', v_agency, (req ->> 'amount_vnd')::bigint,
                coalesce(req -> 'payer', '{}'), v_items, req ->> 'return_url',
                coalesce(req ->> 'locale', 'vi'), base_url,
                now() + v_expires_s * interval '1 second')
        ON CONFLICT (client_id, order_ref)
            WHERE status IN ('created', 'pending', 'succeeded', 'partially_refunded')
              AND NOT late
        DO NOTHING;
    IF NOT FOUND THEN
        PERFORM fail('FG409', 'order_ref_in_use',
                     format('order_ref "%s" already has a live payment', req ->> 'order_ref'));
    END IF;
    INSERT INTO payment_events (payment_id, seq, event, from_status, to_status)
        VALUES (v_id, 1, 'create', NULL, 'created');
    v_body := payment_json(v_id)::text;
    PERFORM idem_put(client, idem_key, req_sha256, 201, v_body);
    RETURN QUERY SELECT 201, v_body, false;
END
$$;

-- The Idempotency-Key (idempotency.sql), by idem_key_ok.
CREATE OR REPLACE FUNCTION idem_lock(p_client text, p_key text, p_sha text,
                          OUT o_status int, OUT o_body text)
LANGUAGE plpgsql AS $$
DECLARE
    v_sha text;
BEGIN
    IF p_key IS NULL THEN
        RETURN;
    END IF;
    IF NOT idem_key_ok(p_key) THEN
        PERFORM fail('FG400', 'invalid_idempotency_key',
                     format('Idempotency-Key must be 1-%s of [A-Za-z0-9_-]',
                            limits_idem_key_bytes_max()));
    END IF;
    PERFORM pg_advisory_xact_lock(idem_lock_key(p_client, p_key));
    SELECT request_sha256, http_status, body INTO v_sha, o_status, o_body
        FROM idempotency WHERE client_id = p_client AND idem_key = p_key;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF o_status = 0 THEN
        PERFORM fail('FG409', 'idempotency_key_in_progress',
                     format('a request with key "%s" is still in progress', p_key));
    END IF;
    IF v_sha <> coalesce(p_sha, '') THEN
        PERFORM fail('FG409', 'idempotency_key_reused',
                     format('key "%s" was used with another request', p_key));
    END IF;
END
$$;
