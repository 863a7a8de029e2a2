-- integrity: the triggers that keep the tables honest whoever writes to them (superusers
-- included): evidence and ledger tables are append-only, a journal balances at commit, a
-- fee's splits sum to 10000 basis points, a business day's history is kept, a referenced
-- catalogue row or payment cannot be deleted or renamed.

SET LOCAL search_path = feegate, pg_temp;

-- Append-only evidence and ledger tables, for every role (superusers included).
CREATE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'FG500', MESSAGE = 'append_only',
        DETAIL = format('%s on %s is forbidden: the table is append-only', TG_OP,
                        TG_TABLE_NAME);
END
$$;

-- The evidence (payment history, provider messages, receipts and their documents, links
-- and marks) and the ledger (journals, postings, seals, settlements, business day history).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['journals', 'postings', 'payment_events', 'receipts',
                             'provider_messages', 'receipt_documents', 'receipt_links',
                             'receipt_marks', 'journal_seals', 'settlement_items',
                             'business_day_events', 'audit_log'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON feegate.%I '
                       'FOR EACH ROW EXECUTE FUNCTION feegate.forbid_change()',
                       t || '_append_only', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON feegate.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION feegate.forbid_change()',
                       t || '_no_truncate', t);
    END LOOP;
END
$$;

CREATE TRIGGER refund_messages_append_only BEFORE UPDATE OR DELETE ON refund_messages
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- At commit, once per journal: its postings sum to zero and there are at least two.
CREATE FUNCTION journal_balanced_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    total numeric;
BEGIN
    SELECT count(*), coalesce(sum(amount_vnd), 0) INTO n, total
        FROM feegate.postings WHERE journal_id = NEW.id;
    IF n < 2 OR total <> 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'FG500', MESSAGE = 'journal_unbalanced',
            DETAIL = format('journal %s has %s postings summing to %s', NEW.id, n, total);
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER journals_balanced AFTER INSERT ON journals
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION journal_balanced_at_commit();

-- At commit, once per changed fee: its splits sum to exactly 10000 basis points.
CREATE FUNCTION fee_splits_complete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
    total bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        r := OLD;
    ELSE
        r := NEW;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM feegate.fees f
                   WHERE f.agency_code = r.agency_code AND f.fee_code = r.fee_code) THEN
        RETURN NULL;
    END IF;
    SELECT coalesce(sum(share_bp), 0) INTO total FROM feegate.fee_splits s
        WHERE s.agency_code = r.agency_code AND s.fee_code = r.fee_code;
    IF total <> 10000 THEN
        RAISE EXCEPTION USING ERRCODE = 'FG500', MESSAGE = 'fee_splits_incomplete',
            DETAIL = format('splits of fee %s/%s sum to %s basis points, not 10000',
                            r.agency_code, r.fee_code, total);
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER fees_have_splits AFTER INSERT OR UPDATE ON fees
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fee_splits_complete();

CREATE CONSTRAINT TRIGGER fee_splits_sum AFTER INSERT OR UPDATE OR DELETE ON fee_splits
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fee_splits_complete();

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

CREATE FUNCTION recon_forbid_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'FG500', MESSAGE = 'append_only',
        DETAIL = format('%s on %s is forbidden: the trail is kept', TG_OP, TG_TABLE_NAME);
END
$$;

CREATE TRIGGER recon_actions_no_delete BEFORE DELETE ON recon_actions
    FOR EACH ROW EXECUTE FUNCTION recon_forbid_delete();

CREATE TRIGGER recon_actions_no_truncate BEFORE TRUNCATE ON recon_actions
    FOR EACH STATEMENT EXECUTE FUNCTION recon_forbid_delete();

CREATE TRIGGER day_reports_no_change BEFORE UPDATE OR DELETE ON day_reports
    FOR EACH ROW EXECUTE FUNCTION recon_forbid_delete();

-- refuse_referenced(key column, then pairs of (table, column) that hold that key): refuses to
-- delete a row, or to change its key, while any of those columns holds the key; refuses
-- TRUNCATE outright.
--
-- The foreign keys (schema.sql, "References") already refuse such a delete or change with
-- 23503. This trigger stays for its answer: FG409 row_referenced and a hint (disable a
-- catalogue row instead), the error the tests and operators know, given before the key's.
-- Its DELETE trigger runs BEFORE the row is deleted, after the row is locked: a writer in
-- flight holds its key share lock, so the delete waits for it and the trigger then sees its
-- committed row. The trigger on a change of the key is an AFTER trigger (a BEFORE UPDATE
-- trigger would lock every updated payment once more), and AFTER triggers of one event fire
-- in the order of their names: it is named "A_<table>_key_referenced" to sort before the
-- keys' RI_ConstraintTrigger_* triggers ("A_" is uppercase, and sorts before "R"). A key
-- does not stop TRUNCATE ... CASCADE: the TRUNCATE triggers do.
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
                       'A_' || r.tab || '_key_referenced', r.key, r.tab, r.args);
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
