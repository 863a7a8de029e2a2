-- 017_hot_path_references: the rows a payment writes no longer carry foreign keys; the
-- references are proven by ledger_check() and the referenced rows are protected by triggers.
--
-- A foreign key costs one query per written row (a FOR KEY SHARE lookup of the referenced
-- row, run as a trigger at the end of the statement), and a full payment wrote ten of them:
-- the payment (its client, agency and channel), its history rows, its attempt (the payment
-- and the channel), its success journal, its receipt, its idempotency key (the client) and
-- its receipt document. Postings, outbox rows and receipt jobs have been written that way
-- since the start (001, 007). Every row concerned is written by this schema's functions
-- only, which read the referenced row in the same transaction before they write (the
-- client's agency, the fee, the channel, the payment locked FOR UPDATE), and the
-- application's role may not write tables at all.
--
-- What the keys guaranteed is kept in two halves:
--   * the referencing side, proven after the fact: ledger_check() gains
--     rows_reference_catalogue, rows_reference_payments and documents_reference_receipts;
--   * the referenced side, refused at once: a referenced client, agency, channel or payment
--     cannot be deleted or renamed, and those tables cannot be truncated (refuse_referenced,
--     a row trigger that runs only on DELETE and on an UPDATE of the key column, never on the
--     payment path). Catalogue rows are retired by disabling them, not by deleting them.

SET LOCAL search_path = feegate, pg_temp;

ALTER TABLE payments DROP CONSTRAINT payments_client_id_fkey,
                     DROP CONSTRAINT payments_agency_code_fkey,
                     DROP CONSTRAINT payments_channel_fkey;
ALTER TABLE payment_attempts DROP CONSTRAINT payment_attempts_payment_id_fkey,
                             DROP CONSTRAINT payment_attempts_channel_fkey;
ALTER TABLE payment_events DROP CONSTRAINT payment_events_payment_id_fkey;
ALTER TABLE journals DROP CONSTRAINT journals_payment_id_fkey;
ALTER TABLE receipts DROP CONSTRAINT receipts_payment_id_fkey;
ALTER TABLE idempotency DROP CONSTRAINT idempotency_client_id_fkey;
ALTER TABLE receipt_documents DROP CONSTRAINT receipt_documents_receipt_id_fkey;

-- refuse_referenced(key column, then pairs of (table, column) that hold that key): refuses to
-- delete a row, or to change its key, while any of those columns holds the key; refuses
-- TRUNCATE outright.
CREATE FUNCTION refuse_referenced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_key text;
    v_used bool;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION USING ERRCODE = 'FG409', MESSAGE = 'row_referenced',
            DETAIL = format('TRUNCATE on %s is forbidden: other tables reference its rows',
                            TG_TABLE_NAME);
    END IF;
    v_key := to_jsonb(OLD) ->> TG_ARGV[0];
    IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) ->> TG_ARGV[0]) IS NOT DISTINCT FROM v_key THEN
        RETURN NEW;
    END IF;
    FOR i IN 1 .. (TG_NARGS - 1) / 2 LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM feegate.%I WHERE %I = $1)',
                       TG_ARGV[2 * i - 1], TG_ARGV[2 * i])
            INTO v_used USING v_key;
        IF v_used THEN
            RAISE EXCEPTION USING ERRCODE = 'FG409', MESSAGE = 'row_referenced',
                DETAIL = format('%s "%s" is referenced by %s.%s: it cannot be %s',
                                TG_TABLE_NAME, v_key, TG_ARGV[2 * i - 1], TG_ARGV[2 * i],
                                CASE TG_OP WHEN 'DELETE' THEN 'deleted' ELSE 'renamed' END),
                HINT = CASE TG_TABLE_NAME WHEN 'payments' THEN 'A payment is never deleted.'
                       ELSE 'Disable a catalogue row instead of deleting it.' END;
        END IF;
    END LOOP;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;

-- One trigger for DELETE (before) and one for a change of the key (after: an AFTER row
-- trigger on a column is only queued when the column is set, while a BEFORE UPDATE row
-- trigger would make every update of a payment fetch and lock its row once more).
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES
        ('clients', 'id', $a$'id', 'payments', 'client_id', 'idempotency', 'client_id'$a$),
        ('agencies', 'code', $a$'code', 'payments', 'agency_code'$a$),
        ('channels', 'code', $a$'code', 'payments', 'channel', 'payment_attempts', 'channel'$a$),
        ('payments', 'id', $a$'id', 'payment_events', 'payment_id', 'payment_attempts',
                               'payment_id', 'journals', 'payment_id', 'receipts',
                               'payment_id'$a$)) AS v(tab, key, args) LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE DELETE ON feegate.%I FOR EACH ROW '
                       'EXECUTE FUNCTION feegate.refuse_referenced(%s)',
                       r.tab || '_referenced', r.tab, r.args);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE OF %I ON feegate.%I FOR EACH ROW '
                       'EXECUTE FUNCTION feegate.refuse_referenced(%s)',
                       r.tab || '_key_referenced', r.key, r.tab, r.args);
    END LOOP;
END
$$;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['clients', 'agencies', 'channels', 'payments'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON feegate.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION feegate.refuse_referenced()',
                       t || '_no_truncate', t);
    END LOOP;
END
$$;

-- ledger_check: the previous definition plus the references -------------------------------

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

CREATE OR REPLACE FUNCTION ledger_check() RETURNS TABLE (check_name text, violations bigint,
                                                         detail text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
    SELECT * FROM ledger_check_base()
    UNION ALL
    SELECT * FROM ledger_check_more()
    UNION ALL
    SELECT * FROM ledger_check_refs()
$$;

REVOKE ALL ON FUNCTION refuse_referenced(), ledger_check_refs() FROM PUBLIC;
