-- grants: what feegate_app, the gateway's role, may do: read the tables (not staff, whose
-- rows hold the finance staff's password hashes and TOTP secrets, nor staff_sessions) and
-- execute the functions of the contract. It cannot change audit_log (no grant, and its
-- append-only trigger for every role). It
-- writes nothing directly: every write goes through a SECURITY DEFINER function. Everything
-- else is the owner's (the role that ran `feegate migrate`).

SET LOCAL search_path = feegate, pg_temp;

GRANT USAGE ON SCHEMA feegate TO feegate_app;
GRANT SELECT ON ALL TABLES IN SCHEMA feegate TO feegate_app;
REVOKE SELECT ON staff, staff_sessions FROM feegate_app;
REVOKE ALL ON audit_log FROM feegate_app;
GRANT SELECT ON audit_log TO feegate_app;
-- Tables added by later migrations are readable too.
ALTER DEFAULT PRIVILEGES IN SCHEMA feegate GRANT SELECT ON TABLES TO feegate_app;

-- No function is executable by PUBLIC, except the row rules (payment_row_ok,
-- journal_row_ok, receipt_row_ok, receipt_document_ok, idem_key_ok, merchant_ref_ok) and the
-- limits (limits_*(), constants the row rules read): they are pure and run inside the CHECK
-- constraints of the tables, whoever writes the row; they keep PostgreSQL's default
-- privileges. (Default privileges per schema can only add to the global ones, so PUBLIC's
-- EXECUTE on new functions cannot be taken away in advance: a migration that adds a
-- function revokes it there.)
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = 'feegate'::regnamespace
               AND p.proname NOT IN ('payment_row_ok', 'journal_row_ok', 'receipt_row_ok',
                                     'receipt_document_ok', 'idem_key_ok', 'merchant_ref_ok')
               AND p.proname NOT LIKE 'limits\_%'
             ORDER BY p.oid LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

GRANT EXECUTE ON FUNCTION
    -- payments (the portal API and the checkout pages)
    api_create_payment(text, text, text, jsonb, text, text, bigint),
    api_get_payment(text, text),
    api_find_payments(text, text),
    api_cancel_payment(text, text, text, text, text, bigint),
    api_payment_events(text, text),
    api_catalog(text),
    checkout_view(text),
    checkout_begin(text, text, text),
    apply_provider_result(text, text, text, bigint, text, timestamptz, text, text),
    provider_message_pending(text, text, text),
    expire_due(int),
    clients_list(),
    -- signed requests accepted once (idempotency.sql)
    request_signatures_purge(int),
    payment_json(text),
    -- webhooks
    outbox_claim(int, int),
    outbox_result(bigint, bool, int, text),
    webhook_list(text, timestamptz, int),
    webhook_get(text, text),
    webhook_replay(text, text, timestamptz, timestamptz, text, bigint),
    -- recovery of unknown outcomes
    recovery_due(int, int),
    recovery_result(text, text, bigint, text, timestamptz, text, int),
    -- refunds
    api_refund_begin(text, text, text, text, bigint, text, text[], text, text[], text,
                     bigint),
    refund_result(text, text, text, text, text, text, int),
    refund_due(int, int),
    api_refunds(text, text),
    -- overpayments
    overpayment_refunds_begin(int, text[]),
    fin_overpayments(text, text),
    overpayment_transfer(text, text, text),
    -- receipts
    receipt_view(text),
    receipt_jobs_claim(int, int),
    receipt_job_fail(text, text),
    receipt_document_store(text, text, text, text),
    receipt_xml(text),
    receipt_verify(text),
    -- the ledger
    ledger_check(),
    ledger_check_base(),
    ledger_seal(int),
    -- reconciliation and the finance console
    stmt_import_check(text, date, text),
    stmt_import(text, date, text, text, text, text),
    recon_run(date, text),
    recon_resolve(bigint, text, text, text, text),
    recon_approve(bigint, text),
    recon_apply_answer(bigint, text, jsonb),
    recon_query_target(bigint, text),
    recon_query_result(bigint, text, text, bigint, text, timestamptz, text, text),
    day_report(date),
    day_close(date, text, bool),
    staff_login_hash(text),
    staff_sign_in(text, bool, text, text),
    staff_sign_out(text),
    fin_days(text),
    fin_imports(text, date),
    fin_exceptions(text, date),
    fin_report(text, date),
    fin_exception(text, bigint),
    fin_pending(text),
    fin_audit(text, int)
TO feegate_app;
