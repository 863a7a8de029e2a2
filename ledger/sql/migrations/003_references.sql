-- 003_references: the rows a payment writes carry foreign keys again.
--
-- Migration 1 left them without: ledger_check() proved the references after the fact, and
-- refuse_referenced (integrity.sql) refused to delete or rename a referenced client, agency,
-- channel or payment. Neither holds at the moment a row is written. ledger_check runs when
-- someone runs it, and the delete trigger only sees committed rows: a catalogue row deleted
-- while a create is in flight (the create has read the row, not yet committed its payment)
-- is gone when the payment commits, an orphan. A payment system's references are enforced
-- when the row is written.
--
-- A foreign key does that: inserting the child looks the parent up and locks it FOR KEY
-- SHARE until commit, so a concurrent DELETE (or a change of the key) of the parent waits
-- for the writer, and then sees its row and is refused; the other way round, a writer that
-- comes after a committed delete is refused (23503). A key share lock conflicts with no
-- other key share lock and with no UPDATE that keeps the key, so payments of one client,
-- agency or channel do not wait for each other, nor for an edit of the catalogue row. What
-- it costs is one lookup by primary key per referencing row written (docs/benchmarks.md,
-- "Foreign keys back on the payment's rows"); an UPDATE that keeps the key checks nothing.
--
-- Every key is plain (checked at the end of each statement, not deferrable) and ON DELETE
-- RESTRICT ON UPDATE RESTRICT. The tables and their references:
--   payments            client, agency, channel (NULL until checkout)
--   payment_events      payment
--   payment_attempts    payment, channel
--   journals            payment (NULL for journals of no payment), the journal a reversal
--                       or correction refers to
--   postings            journal, account
--   receipts            payment (NULL for a correction), agency, (template, series)
--   receipt_jobs        receipt
--   receipt_documents   receipt
--   idempotency         client
--   outbox              client, payment
--   settlement_items    payment, journal, treasury account
-- (refunds, refund_messages, receipt_links, receipt_marks, webhook_deliveries and the
-- catalogue had theirs already.)
--
-- Adding a key validates the rows already there: on a database that has an orphan this
-- migration fails, naming the constraint, and applies nothing; `feegate ledger check` names
-- the rows (rows_reference_catalogue, rows_reference_payments, documents_reference_receipts,
-- posting_accounts_exist, postings_have_journal). The table locks are taken for the
-- validation only, in the migration's transaction.
--
-- What stays:
--   * ledger_check's reference checks: a second line of defence, and the only one against
--     a superuser who writes with session_replication_role = replica (which skips the
--     keys' triggers as it skips every other trigger).
--   * refuse_referenced, for its answer: deleting or renaming a referenced client, agency,
--     channel or payment is refused with FG409 row_referenced and a hint (disable a
--     catalogue row instead), the error the tests and operators know, before the key's
--     23503. Its DELETE trigger runs BEFORE the row is deleted, after the row is locked: a
--     writer in flight holds its key share lock, so the delete waits for it and the trigger
--     then sees its committed row. The trigger on a change of the key is an AFTER trigger
--     (a BEFORE UPDATE trigger would lock every updated payment once more), and AFTER
--     triggers of one event fire in the order of their names: it is renamed to sort before
--     the keys' RI_ConstraintTrigger_* triggers ("A_" is uppercase, and sorts before "R").
--     The TRUNCATE triggers are unchanged: a key does not stop TRUNCATE ... CASCADE.

SET LOCAL search_path = feegate, pg_temp;

ALTER TABLE payments
    ADD CONSTRAINT payments_client_fk FOREIGN KEY (client_id) REFERENCES clients (id)
        ON DELETE RESTRICT ON UPDATE RESTRICT,
    ADD CONSTRAINT payments_agency_fk FOREIGN KEY (agency_code) REFERENCES agencies (code)
        ON DELETE RESTRICT ON UPDATE RESTRICT,
    ADD CONSTRAINT payments_channel_fk FOREIGN KEY (channel) REFERENCES channels (code)
        ON DELETE RESTRICT ON UPDATE RESTRICT;

ALTER TABLE payment_events
    ADD CONSTRAINT payment_events_payment_fk FOREIGN KEY (payment_id) REFERENCES payments (id)
        ON DELETE RESTRICT ON UPDATE RESTRICT;

ALTER TABLE payment_attempts
    ADD CONSTRAINT payment_attempts_payment_fk FOREIGN KEY (payment_id)
        REFERENCES payments (id) ON DELETE RESTRICT ON UPDATE RESTRICT,
    ADD CONSTRAINT payment_attempts_channel_fk FOREIGN KEY (channel) REFERENCES channels (code)
        ON DELETE RESTRICT ON UPDATE RESTRICT;

ALTER TABLE journals
    ADD CONSTRAINT journals_payment_fk FOREIGN KEY (payment_id) REFERENCES payments (id)
        ON DELETE RESTRICT ON UPDATE RESTRICT,
    ADD CONSTRAINT journals_ref_journal_fk FOREIGN KEY (ref_journal_id) REFERENCES journals (id)
        ON DELETE RESTRICT ON UPDATE RESTRICT;

ALTER TABLE postings
    ADD CONSTRAINT postings_journal_fk FOREIGN KEY (journal_id) REFERENCES journals (id)
        ON DELETE RESTRICT ON UPDATE RESTRICT,
    ADD CONSTRAINT postings_account_fk FOREIGN KEY (account_code) REFERENCES accounts (code)
        ON DELETE RESTRICT ON UPDATE RESTRICT;

ALTER TABLE receipts
    ADD CONSTRAINT receipts_payment_fk FOREIGN KEY (payment_id) REFERENCES payments (id)
        ON DELETE RESTRICT ON UPDATE RESTRICT,
    ADD CONSTRAINT receipts_agency_fk FOREIGN KEY (agency_code) REFERENCES agencies (code)
        ON DELETE RESTRICT ON UPDATE RESTRICT,
    ADD CONSTRAINT receipts_series_fk FOREIGN KEY (template, series)
        REFERENCES receipt_series (template, series) ON DELETE RESTRICT ON UPDATE RESTRICT;

ALTER TABLE receipt_jobs
    ADD CONSTRAINT receipt_jobs_receipt_fk FOREIGN KEY (receipt_id) REFERENCES receipts (id)
        ON DELETE RESTRICT ON UPDATE RESTRICT;

ALTER TABLE receipt_documents
    ADD CONSTRAINT receipt_documents_receipt_fk FOREIGN KEY (receipt_id)
        REFERENCES receipts (id) ON DELETE RESTRICT ON UPDATE RESTRICT;

ALTER TABLE idempotency
    ADD CONSTRAINT idempotency_client_fk FOREIGN KEY (client_id) REFERENCES clients (id)
        ON DELETE RESTRICT ON UPDATE RESTRICT;

ALTER TABLE outbox
    ADD CONSTRAINT outbox_client_fk FOREIGN KEY (client_id) REFERENCES clients (id)
        ON DELETE RESTRICT ON UPDATE RESTRICT,
    ADD CONSTRAINT outbox_payment_fk FOREIGN KEY (payment_id) REFERENCES payments (id)
        ON DELETE RESTRICT ON UPDATE RESTRICT;

ALTER TABLE settlement_items
    ADD CONSTRAINT settlement_items_payment_fk FOREIGN KEY (payment_id)
        REFERENCES payments (id) ON DELETE RESTRICT ON UPDATE RESTRICT,
    ADD CONSTRAINT settlement_items_journal_fk FOREIGN KEY (journal_id)
        REFERENCES journals (id) ON DELETE RESTRICT ON UPDATE RESTRICT,
    ADD CONSTRAINT settlement_items_treasury_fk FOREIGN KEY (treasury_account)
        REFERENCES treasury_accounts (code) ON DELETE RESTRICT ON UPDATE RESTRICT;

-- The triggers on a change of a referenced key: same function and arguments, renamed to fire
-- before the keys' RI triggers (see above).
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT t.tgname, c.relname
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'feegate' AND t.tgname LIKE '%\_key\_referenced'
               AND NOT t.tgisinternal LOOP
        EXECUTE format('ALTER TRIGGER %I ON feegate.%I RENAME TO %I', r.tgname, r.relname,
                       'A_' || r.tgname);
    END LOOP;
END
$$;

-- Day close runs ledger_check() first (day_close, recon.sql, calls recon_day_freeze once
-- it has checked the day's reconciliation; the command line and /v1/finance/ both close
-- through it). A day whose books fail a check is not frozen: the close is refused with FG409
-- ledger_check_failed naming the failed checks, and nothing is written. The check runs
-- before the SHARE lock on journals, which would hold every payment's success for as long
-- as the check takes; a journal committed between the check and the lock is checked by the
-- next run (the gateway's periodic check, docs/ledger.md).
CREATE OR REPLACE FUNCTION recon_day_freeze(p_day date, p_staff text) RETURNS void
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
