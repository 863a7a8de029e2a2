-- schema: the application role, schema feegate and every table, with its indexes and row
-- rules. The functions are in the other files (core, state_machine, ledger, idempotency,
-- payments_api, receipts, webhooks, recovery, refunds, recon, checks), the integrity
-- triggers in integrity.sql, the privileges in grants.sql.
-- Applied by `feegate migrate` inside one transaction (no BEGIN/COMMIT here).

SET LOCAL search_path = feegate, pg_temp;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'feegate_app') THEN
        CREATE ROLE feegate_app NOLOGIN;
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS feegate;

REVOKE ALL ON SCHEMA feegate FROM PUBLIC;

-- HMAC-SHA1 for the staff's TOTP codes (recon.sql, totp_code), checked inside the database so
-- that the secrets never reach the gateway's role. A trusted extension of PostgreSQL's own.
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA feegate;

-- What feegate_app may use is granted in grants.sql.

-- Row rules ---------------------------------------------------------------------------------

-- Limits. The values the schema shares with the gateway (the lengths of an order_ref, an
-- Idempotency-Key, a client id and secret, an agency or fee code and a merchant_ref; the
-- amount ceiling; the lines of a payment; the expiry bounds and default; a webhook's
-- delivery attempts) are read from limits_<name>(), an IMMUTABLE SQL function returning the
-- constant of common/gw_limits.h. ledger/tools/ldg_limits_gen.c generates them at build
-- time, and `feegate migrate` applies them before every migration and on every run, so a
-- changed limit reaches the database with the binary that has it, without a migration.
-- Where a limit is read:
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
-- A CHECK is not re-validated when a limit changes: a new limit applies to new rows. The row
-- rules run in CHECK constraints, in whatever session writes the row (an operator's psql has
-- search_path "$user", public): they name the limits with their schema.

-- The CHECK constraints of the payment path's tables are one per table, each calling an
-- IMMUTABLE PL/pgSQL function that states the rules (payments_row, journals_row,
-- receipts_row, receipt_documents_row). PostgreSQL prepares a table's CHECK constraints
-- again for every INSERT or UPDATE statement: each is read back from its stored node string,
-- simplified by the planner and compiled, before it is evaluated once for the statement's
-- row. On the benchmark machine six separate checks of payments cost 25 µs per statement (9
-- µs for the status list alone), and a payment is inserted once and updated twice. A
-- function call is cheap to prepare, and PL/pgSQL keeps its compiled expressions for the
-- whole session: the same six rules cost 6.5 µs per statement. The three-valued logic is
-- that of separate checks (a CHECK passes on NULL, and so does an AND of rules none of which
-- is false). A violation names the table's one constraint; the rules are listed here and in
-- docs/ledger.md.
--
-- Cheap patterns: no rule here uses bounded repetition in a regular expression.
-- PostgreSQL's engine expands a bound such as {1,255} into as many copies of its atom, and
-- matching walks them: '^[A-Za-z0-9_-]{1,255}$' cost about 50 µs per evaluation on the
-- benchmark machine, against 0.5 µs for '^[A-Za-z0-9_-]+$' with a length test, and
-- '^[0-9a-f]{64}$' 9 µs against 2.5 µs (the idempotency key alone, matched three times per
-- payment, was a twelfth of the database's work for a whole payment). '^[C]{a,b}$' is
-- written '^[C]+$' (or '^[C]*$') with a length between a and b; the classes are ASCII, so
-- length() in characters is the count the bound counted. Short fixed bounds ({2}, {3}, {6},
-- {10}) are left as they are: their expansion is small.

CREATE FUNCTION payment_row_ok(p_order_ref text, p_status text, p_amount_vnd bigint,
                               p_items jsonb, p_locale text, p_refunded_vnd bigint)
RETURNS bool
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN length(p_order_ref) BETWEEN 1 AND feegate.limits_order_ref_bytes_max()
       AND p_status IN ('created', 'pending', 'succeeded', 'expired', 'cancelled',
                        'partially_refunded', 'refunded')
       AND p_amount_vnd > 0 AND p_amount_vnd <= feegate.limits_amount_vnd_max()
       AND jsonb_typeof(p_items) = 'array'
       AND p_locale IN ('vi', 'en')
       AND p_refunded_vnd >= 0 AND p_refunded_vnd <= p_amount_vnd;
END
$$;

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

CREATE FUNCTION receipt_document_ok(p_kind text, p_body text, p_sha256 text,
                                    p_signed_at timestamptz, p_cert_fingerprint text)
RETURNS bool
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN p_kind = 'xml'
       AND length(p_body) BETWEEN 1 AND 1000000
       AND length(p_sha256) = 64 AND p_sha256 ~ '^[0-9a-f]+$'
       AND coalesce(length(p_cert_fingerprint) = 64 AND p_cert_fingerprint ~ '^[0-9a-f]+$',
                    true)
       AND (p_signed_at IS NULL) = (p_cert_fingerprint IS NULL);
END
$$;

CREATE FUNCTION journal_row_ok(p_kind text, p_maker text, p_checker text,
                               p_ref_journal_id bigint)
RETURNS bool
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (p_kind <> 'write_off'
            OR (p_maker IS NOT NULL AND p_checker IS NOT NULL AND p_maker <> p_checker))
       AND (p_kind NOT IN ('reversal', 'correction') OR p_ref_journal_id IS NOT NULL);
END
$$;

CREATE FUNCTION receipt_row_ok(p_number int, p_amount_vnd bigint) RETURNS bool
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN p_number > 0 AND p_amount_vnd > 0;
END
$$;

-- Catalogue -------------------------------------------------------------------------------

CREATE TABLE clients (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]+$' AND
                                    length(id) <= limits_client_id_bytes_max()),
    secret      text NOT NULL CHECK (length(secret) BETWEEN 16 AND
                                                limits_client_secret_bytes_max()),
    webhook_url text CHECK (webhook_url ~ '^https?://'),
    name        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Gapless receipt numbering: one counter row per (template, series), updated with a row
-- lock by the success path in the same transaction as the receipt it numbers.
CREATE TABLE receipt_series (
    template    text NOT NULL CHECK (template ~ '^[0-9A-Z]{6}-[0-9]{3}$'),
    series      text NOT NULL CHECK (series ~ '^[A-Z]{2}-[0-9]{2}[ETP]$'),
    next_number int NOT NULL DEFAULT 1 CHECK (next_number BETWEEN 1 AND 10000000),
    PRIMARY KEY (template, series)
);

CREATE TABLE agencies (
    code             text PRIMARY KEY CHECK (code ~ '^[A-Z0-9_-]+$' AND
                                         length(code) <= limits_code_bytes_max()),
    name             text NOT NULL,
    tax_code         text NOT NULL CHECK (tax_code ~ '^[0-9]{10}(-[0-9]{3})?$'),
    address          text NOT NULL DEFAULT '',
    receipt_template text NOT NULL,
    receipt_series   text NOT NULL,
    FOREIGN KEY (receipt_template, receipt_series) REFERENCES receipt_series (template, series)
);

CREATE TABLE treasury_accounts (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Z0-9_-]+$' AND length(code) <= 32),
    agency_code text NOT NULL REFERENCES agencies (code),
    name        text NOT NULL,
    bank_name   text NOT NULL,
    account_no  text NOT NULL
);

-- amounts_vnd NULL: any amount in [min, max] (and a multiple of amount_step_vnd if set,
-- for per-copy fees); otherwise one of the listed amounts.
CREATE TABLE fees (
    agency_code     text NOT NULL REFERENCES agencies (code),
    fee_code        text NOT NULL CHECK (fee_code ~ '^[A-Z0-9_-]+$' AND
                                         length(fee_code) <= limits_code_bytes_max()),
    name            text NOT NULL,
    amount_vnd_min  bigint NOT NULL CHECK (amount_vnd_min > 0),
    amount_vnd_max  bigint NOT NULL CHECK (amount_vnd_max <= limits_amount_vnd_max()),
    amounts_vnd     bigint[],
    amount_step_vnd bigint CHECK (amount_step_vnd > 0),
    PRIMARY KEY (agency_code, fee_code),
    CHECK (amount_vnd_min <= amount_vnd_max)
);

-- Shares in basis points summing to 10000 per fee (checked at commit); the remainder of
-- the integer division goes to the split with the highest ordinal.
CREATE TABLE fee_splits (
    agency_code      text NOT NULL,
    fee_code         text NOT NULL,
    ordinal          int NOT NULL CHECK (ordinal > 0),
    treasury_account text NOT NULL REFERENCES treasury_accounts (code),
    share_bp         int NOT NULL CHECK (share_bp > 0 AND share_bp <= 10000),
    PRIMARY KEY (agency_code, fee_code, ordinal),
    UNIQUE (agency_code, fee_code, treasury_account),
    FOREIGN KEY (agency_code, fee_code) REFERENCES fees (agency_code, fee_code)
);

CREATE TABLE channels (
    code    text PRIMARY KEY CHECK (code ~ '^[a-z0-9_]+$' AND length(code) <= 32),
    name    text NOT NULL,
    enabled bool NOT NULL DEFAULT true
);

CREATE TABLE agency_channels (
    agency_code text NOT NULL REFERENCES agencies (code),
    channel     text NOT NULL REFERENCES channels (code),
    PRIMARY KEY (agency_code, channel)
);

CREATE TABLE client_agencies (
    client_id   text NOT NULL REFERENCES clients (id),
    agency_code text NOT NULL REFERENCES agencies (code),
    PRIMARY KEY (client_id, agency_code)
);

-- Payments --------------------------------------------------------------------------------

CREATE TABLE payment_statuses (status text PRIMARY KEY);

-- No 'failed': a declined attempt closes the attempt, not the payment, which stays payable
-- (pending) until it is paid, cancelled or expires (payments_api.sql, apply_provider_result).
INSERT INTO payment_statuses VALUES ('created'), ('pending'), ('succeeded'),
    ('expired'), ('cancelled'), ('partially_refunded'), ('refunded');

CREATE TABLE payment_event_kinds (event text PRIMARY KEY);

INSERT INTO payment_event_kinds VALUES ('checkout'), ('provider_succeeded'),
    ('provider_failed'), ('cancel'), ('expire'), ('refund_partial'), ('refund_full');

CREATE TABLE payments (
    id              text PRIMARY KEY, -- pay_ + 32 hex, made by api_create_payment
    client_id       text NOT NULL, -- clients(id)
    order_ref       text NOT NULL,
    agency_code     text NOT NULL, -- agencies(code)
    status          text NOT NULL DEFAULT 'created',
    late            bool NOT NULL DEFAULT false,
    amount_vnd      bigint NOT NULL,
    payer           jsonb NOT NULL DEFAULT '{}',
    items           jsonb NOT NULL,
    channel         text, -- channels(code)
    merchant_ref    text,
    provider_txn_id text,
    return_url      text,
    locale          text NOT NULL DEFAULT 'vi',
    base_url        text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    paid_at         timestamptz,
    refunded_vnd    bigint NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    event_seq       int NOT NULL DEFAULT 1, -- seq of the last payment_events row
    CONSTRAINT payments_row CHECK (payment_row_ok(order_ref, status, amount_vnd, items, locale,
                                                  refunded_vnd))
);

-- One live payment per order_ref. A late success (after expiry or cancellation) is not
-- counted: the money was taken and must be booked even if the portal has created a new
-- payment for the same order_ref meanwhile.
CREATE UNIQUE INDEX payments_live_order_ref ON payments (client_id, order_ref)
    WHERE status IN ('created', 'pending', 'succeeded', 'partially_refunded') AND NOT late;

CREATE INDEX payments_order_ref ON payments (client_id, order_ref, created_at DESC);

CREATE INDEX payments_expiry ON payments (expires_at) WHERE status IN ('created', 'pending');

CREATE TABLE payment_attempts (
    merchant_ref text PRIMARY KEY CHECK (merchant_ref_ok(merchant_ref)), -- FG + 20 hex
    payment_id   text NOT NULL, -- payments(id)
    channel      text NOT NULL, -- channels(code)
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- the provider declined this attempt: it is closed, the payment stays payable
    -- (apply_provider_result, payments_api.sql)
    declined_at  timestamptz,
    -- recovery (recovery.sql): when to query the provider next, and what it said
    next_query_at     timestamptz NOT NULL DEFAULT now() + interval '1 minute',
    queries           int NOT NULL DEFAULT 0,
    last_query_at     timestamptz,
    last_query_result text,
    final             bool NOT NULL DEFAULT false, -- nothing more to learn from the provider
    exhausted         bool NOT NULL DEFAULT false  -- query window over, outcome unknown
);

CREATE INDEX payment_attempts_payment ON payment_attempts (payment_id);

-- The state machine as data: one row for every (status, event) pair.
CREATE TABLE payment_transitions (
    from_status text NOT NULL REFERENCES payment_statuses (status),
    event       text NOT NULL REFERENCES payment_event_kinds (event),
    to_status   text REFERENCES payment_statuses (status),
    outcome     text NOT NULL CHECK (outcome IN ('apply', 'apply_late', 'ignore', 'reject',
                                                 'overpay')),
    PRIMARY KEY (from_status, event),
    CHECK ((outcome IN ('apply', 'apply_late')) = (to_status IS NOT NULL))
);

CREATE TABLE payment_events (
    id          bigserial PRIMARY KEY,
    payment_id  text NOT NULL, -- payments(id)
    seq         int NOT NULL,
    event       text NOT NULL,
    from_status text,
    to_status   text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (payment_id, seq)
);

-- Raw verified provider messages, the evidence for reconciliation; append-only.
CREATE TABLE provider_messages (
    id           bigserial PRIMARY KEY,
    channel      text NOT NULL,
    merchant_ref text NOT NULL,
    source       text NOT NULL,
    raw          text NOT NULL,
    verdict      text NOT NULL CHECK (verdict IN ('applied', 'duplicate', 'not_found',
                     'amount_mismatch', 'pending')), -- pending: e.g. VNPAY's 07, kept too
    received_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX provider_messages_ref ON provider_messages (merchant_ref);

-- Ledger ----------------------------------------------------------------------------------

CREATE TABLE accounts (
    code text PRIMARY KEY CHECK (code ~ '^[a-z_]+:[A-Za-z0-9_-]+$'),
    name text NOT NULL,
    type text NOT NULL CHECK (type IN ('asset', 'liability', 'expense', 'income', 'equity'))
);

CREATE TABLE journals (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL,
    payment_id   text, -- payments(id)
    business_day date NOT NULL,
    memo         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    late           bool NOT NULL DEFAULT false,
    ref_journal_id bigint, -- the journal a reversal or correction refers to
    maker          text,   -- staff id of whoever asked for it (NULL: the system)
    checker        text,   -- staff id of the second person (write-offs)
    CONSTRAINT journals_row CHECK (journal_row_ok(kind, maker, checker, ref_journal_id))
);

-- A payment is settled at most once.
CREATE UNIQUE INDEX journals_payment_success ON journals (payment_id)
    WHERE kind = 'payment_success';

CREATE INDEX journals_payment ON journals (payment_id);

-- Debit positive, credit negative; written only by post_journal.
CREATE TABLE postings (
    id           bigserial PRIMARY KEY,
    journal_id   bigint NOT NULL, -- journals(id)
    account_code text NOT NULL, -- accounts(code)
    amount_vnd   bigint NOT NULL CHECK (amount_vnd <> 0)
);

CREATE INDEX postings_journal ON postings (journal_id);

CREATE INDEX postings_account ON postings (account_code);

-- Receipts --------------------------------------------------------------------------------

CREATE TABLE receipts (
    id          text PRIMARY KEY, -- rcp_ + 32 hex
    -- payments(id); NULL for a correction (receipt_links says whose payment it was)
    payment_id  text UNIQUE,
    agency_code text NOT NULL, -- copied from the payment's agency (and its series)
    template    text NOT NULL,
    series      text NOT NULL,
    number      int NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    amount_vnd  bigint NOT NULL,
    payer       jsonb NOT NULL,
    items       jsonb NOT NULL,
    -- what the citizen holds: printed on the receipt and in its QR code, the key of the public
    -- verification page (receipt_verify); random (lookup_code_new, receipts.sql), written
    -- at numbering time
    lookup_code text NOT NULL UNIQUE
                CHECK (length(lookup_code) = 12 AND lookup_code ~ '^[0-9A-HJKMNP-TV-Z]+$'),
    UNIQUE (template, series, number),
    CONSTRAINT receipts_row CHECK (receipt_row_ok(number, amount_vnd))
);

-- Outbox (webhooks.sql) -------------------------------------------------------------------

-- next_attempt_at NULL: not scheduled (delivered, dead, or the client had no webhook URL
-- when the event happened), so the claim index only holds work to do.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    event_id        text NOT NULL UNIQUE, -- evt_ + 32 hex
    client_id       text NOT NULL, -- the payment's client
    payment_id      text,
    type            text NOT NULL,
    body            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz,
    attempts        int NOT NULL DEFAULT 0,
    delivered_at    timestamptz,
    dead_at         timestamptz, -- dead letter: gave up after the last attempt
    last_error      text,
    lease_until     timestamptz
);

CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE next_attempt_at IS NOT NULL;

CREATE INDEX outbox_payment ON outbox (payment_id);

CREATE TABLE webhook_deliveries (
    id          bigserial PRIMARY KEY,
    outbox_id   bigint NOT NULL REFERENCES outbox (id),
    attempt     int NOT NULL,
    http_status int,
    error       text,
    at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhook_deliveries_outbox ON webhook_deliveries (outbox_id);

-- Idempotency (idempotency.sql) -----------------------------------------------------------

-- One row per (client, key): written once with its response by a create or a cancel
-- (idem_put), or claimed with http_status 0 by a refund and completed when the provider's
-- answer comes (idem_claim, idem_store). Concurrent requests with one key serialise on an
-- advisory lock (idem_lock).
CREATE TABLE idempotency (
    client_id      text NOT NULL, -- clients(id)
    idem_key       text NOT NULL CHECK (idem_key_ok(idem_key)),
    request_sha256 text NOT NULL,
    http_status    int NOT NULL,
    body           text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, idem_key)
);

CREATE INDEX idempotency_created ON idempotency (created_at);

-- One row per signed portal or staff request that changes something, kept until no gateway
-- would accept a copy of it any more (request_once, idempotency.sql; docs/api.md,
-- "Replayed requests"). expires_at is the request's timestamp plus GW_AUTH_REPLAY_KEEP_S;
-- the client-list refresh of every gateway deletes what has expired.
CREATE TABLE request_signatures (
    client_id  text NOT NULL, -- the portal client who signed
    signature  text NOT NULL, -- the X-Feegate-Signature value
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (client_id, signature)
);

CREATE INDEX request_signatures_expires ON request_signatures (expires_at);

-- Receipt documents (receipts.sql) --------------------------------------------------------

-- Jobs are work, not evidence: claimed with a lease, deleted when the document is stored.
CREATE TABLE receipt_jobs (
    receipt_id  text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    attempts    int NOT NULL DEFAULT 0,
    last_error  text
);

CREATE INDEX receipt_jobs_due ON receipt_jobs (created_at);

CREATE TABLE receipt_documents (
    id               bigserial PRIMARY KEY,
    receipt_id       text NOT NULL, -- receipts(id)
    kind             text NOT NULL,
    body             text NOT NULL,
    sha256           text NOT NULL,
    signed_at        timestamptz, -- NULL: no signing certificate was configured
    cert_fingerprint text,
    stored_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (receipt_id, kind),
    CONSTRAINT receipt_documents_row CHECK (receipt_document_ok(kind, body, sha256, signed_at,
                                                                cert_fingerprint))
);

CREATE TABLE receipt_links (
    receipt_id  text PRIMARY KEY REFERENCES receipts (id),
    original_id text NOT NULL REFERENCES receipts (id),
    kind        text NOT NULL CHECK (kind IN ('adjustment', 'replacement')),
    payment_id  text NOT NULL REFERENCES payments (id),
    delta_vnd   bigint NOT NULL, -- new amount minus the original's
    reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    CHECK (receipt_id <> original_id)
);

CREATE INDEX receipt_links_original ON receipt_links (original_id);

CREATE TABLE receipt_marks (
    id            bigserial PRIMARY KEY,
    receipt_id    text NOT NULL REFERENCES receipts (id),
    mark          text NOT NULL CHECK (mark IN ('cancelled', 'adjusted', 'replaced')),
    by_receipt_id text REFERENCES receipts (id),
    reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    at            timestamptz NOT NULL DEFAULT now(),
    CHECK ((mark = 'cancelled') = (by_receipt_id IS NULL))
);

-- A receipt ends at most once: cancelled or replaced.
CREATE UNIQUE INDEX receipt_marks_final ON receipt_marks (receipt_id)
    WHERE mark IN ('cancelled', 'replaced');

-- A journal is reversed at most once.
CREATE UNIQUE INDEX journals_reversal ON journals (ref_journal_id) WHERE kind = 'reversal';

-- Business days, settlements, the hash chain (ledger.sql) ---------------------------------

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

-- A payment's part for one treasury account is settled once (the primary key).
CREATE TABLE settlement_items (
    payment_id       text NOT NULL,
    treasury_account text NOT NULL,
    journal_id       bigint NOT NULL,
    gross_vnd        bigint NOT NULL CHECK (gross_vnd > 0),
    PRIMARY KEY (payment_id, treasury_account)
);

CREATE INDEX settlement_items_journal ON settlement_items (journal_id);

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

-- Reconciliation (recon.sql) --------------------------------------------------------------

-- Finance staff (docs/console.md). The password is an argon2id hash (libsodium's
-- crypto_pwhash_str, made by `feegate staff add`); the TOTP secret (RFC 6238, HMAC-SHA1, 30 s,
-- 6 digits) never leaves the database: codes are checked by staff_sign_in. Neither is readable
-- by feegate_app (grants.sql).
CREATE TABLE staff (
    id             text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]+$' AND length(id) <= 64),
    name           text NOT NULL DEFAULT '',
    role           text NOT NULL CHECK (role IN ('clerk', 'approver', 'auditor', 'admin')),
    password_hash  text NOT NULL CHECK (password_hash LIKE '$argon2id$%'
                                        AND length(password_hash) <= 256),
    totp_secret    bytea NOT NULL CHECK (octet_length(totp_secret) BETWEEN 16 AND 64),
    totp_last_step bigint NOT NULL DEFAULT 0, -- a code is accepted once (RFC 6238, 5.2)
    failures       int NOT NULL DEFAULT 0,    -- failed sign-ins in a row
    locked_until   timestamptz,
    active         bool NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- A signed-in member: the token is 32 random bytes given once to the client; only its
-- SHA-256 is kept. It ends at sign-out, after GW_STAFF_SESSION_IDLE_S unused, and
-- GW_STAFF_SESSION_S_MAX after sign-in.
CREATE TABLE staff_sessions (
    id           bigserial PRIMARY KEY,
    token_sha256 bytea NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
    staff_id     text NOT NULL REFERENCES staff (id),
    from_addr    text NOT NULL DEFAULT '' CHECK (length(from_addr) <= 200),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz
);

-- Who did what, when, from where, with the state before and after: written by the finance
-- functions (recon.sql), append-only for every role (integrity.sql's forbid_change).
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    staff_id   text,    -- NULL: the database owner's tools, or an unknown name at sign-in
    session_id bigint,
    from_addr  text NOT NULL DEFAULT '',
    action     text NOT NULL,
    object     text NOT NULL DEFAULT '',
    before     jsonb,
    after      jsonb
);

CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE statement_files (
    id           bigserial PRIMARY KEY,
    provider     text NOT NULL REFERENCES channels (code),
    business_day date NOT NULL,
    format       text NOT NULL CHECK (format IN ('canonical', 'vnpay', 'momo', 'zalopay',
                                                 'camt053')),
    file_sha256  text NOT NULL CHECK (length(file_sha256) = 64 AND file_sha256 ~ '^[0-9a-f]+$'),
    file_name    text NOT NULL DEFAULT '',
    lines_read   int NOT NULL CHECK (lines_read >= 0),
    lines_added  int NOT NULL CHECK (lines_added >= 0),
    staff_id     text REFERENCES staff (id),
    imported_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, file_sha256)
);

CREATE INDEX statement_files_day ON statement_files (business_day, provider);

-- A line's identity is its content (provider, kind, references, amounts, status, booking
-- time) and its occurrence among identical lines of its file: the same file twice, or the
-- same lines in another order, add nothing, while a line the provider repeated is kept
-- (occurrence 2) and reported as a duplicate.
CREATE TABLE statement_lines (
    id              bigserial PRIMARY KEY,
    file_id         bigint NOT NULL, -- statement_files(id), written in the same function:
                                     -- no per-row foreign key check on a million lines
    line_no         int NOT NULL,
    provider        text NOT NULL,
    business_day    date NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('payment', 'refund')),
    merchant_ref    text NOT NULL CHECK (merchant_ref ~ '^[A-Za-z0-9_.:/-]+$' AND
                                         length(merchant_ref) <= 64),
    provider_txn_id text NOT NULL CHECK (length(provider_txn_id) <= 64),
    amount_vnd      bigint NOT NULL CHECK (amount_vnd > 0 AND
                                           amount_vnd <= limits_amount_vnd_max()),
    fee_vnd         bigint NOT NULL CHECK (fee_vnd >= 0 AND fee_vnd <= amount_vnd),
    status          text NOT NULL CHECK (status IN ('succeeded', 'failed')),
    booked_on       date NOT NULL,      -- the booking date in Vietnam
    booked_at       timestamptz,        -- NULL when the statement gives a date only
    content_sha256  text NOT NULL,
    occurrence      int NOT NULL CHECK (occurrence > 0),
    UNIQUE (provider, content_sha256, occurrence)
);

CREATE INDEX statement_lines_day ON statement_lines (business_day, provider, kind, merchant_ref);

CREATE INDEX statement_lines_ref ON statement_lines (merchant_ref);

-- Successes are looked up by their paid day.
CREATE INDEX payments_paid_at ON payments (paid_at) WHERE paid_at IS NOT NULL;

CREATE TABLE recon_runs (
    id           bigserial PRIMARY KEY,
    business_day date NOT NULL,
    staff_id     text REFERENCES staff (id),
    started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at  timestamptz,
    summary      jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX recon_runs_day ON recon_runs (business_day);

CREATE TABLE recon_exceptions (
    id                   bigserial PRIMARY KEY,
    business_day         date NOT NULL,
    provider             text NOT NULL,
    category             text NOT NULL CHECK (category IN ('missing_at_provider',
                             'missing_at_switch', 'amount_mismatch', 'status_mismatch',
                             'duplicate_line', 'out_of_day', 'overpayment')),
    merchant_ref         text NOT NULL,
    kind                 text NOT NULL DEFAULT 'payment',
    payment_id           text REFERENCES payments (id),
    statement_amount_vnd bigint,
    switch_amount_vnd    bigint,
    diff_vnd             bigint NOT NULL DEFAULT 0, -- statement money minus ledger money
    line_count           int NOT NULL DEFAULT 0,
    detail               text NOT NULL DEFAULT '',
    state                text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved',
                             'carried_forward')),
    run_id               bigint REFERENCES recon_runs (id),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (business_day, provider, category, kind, merchant_ref)
);

CREATE INDEX recon_exceptions_state ON recon_exceptions (business_day, state);

-- The trail. A row is never deleted; an action waiting for its checker is updated once, by
-- recon_approve, with the checker and the journal.
CREATE TABLE recon_actions (
    id           bigserial PRIMARY KEY,
    exception_id bigint NOT NULL REFERENCES recon_exceptions (id),
    action       text NOT NULL CHECK (action IN ('query', 'apply_answer', 'correct',
                     'suspense', 'write_off', 'carry_forward', 'rematched')),
    status       text NOT NULL CHECK (status IN ('requested', 'pending_approval', 'done',
                     'answered')),
    staff_id     text REFERENCES staff (id),
    approved_by  text REFERENCES staff (id),
    journal_id   bigint,
    account_code text,
    note         text NOT NULL DEFAULT '',
    data         jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    decided_at   timestamptz,
    CHECK (approved_by IS NULL OR approved_by <> staff_id)
);

CREATE INDEX recon_actions_exception ON recon_actions (exception_id);

CREATE UNIQUE INDEX recon_actions_one_pending ON recon_actions (exception_id)
    WHERE status = 'pending_approval';

CREATE TABLE day_reports (
    business_day date PRIMARY KEY,
    closed_by    text NOT NULL REFERENCES staff (id),
    closed_at    timestamptz NOT NULL DEFAULT now(),
    report       jsonb NOT NULL
);

CREATE INDEX payment_attempts_due ON payment_attempts (next_query_at) WHERE NOT final;

-- Refunds (refunds.sql) -------------------------------------------------------------------

CREATE SEQUENCE refund_ref_seq;

CREATE TABLE refunds (
    id                 text PRIMARY KEY,  -- rf_ + 32 hex
    ref                text NOT NULL UNIQUE, -- sent to the provider: 12 digits (ZaloPay wants digits)
    payment_id         text NOT NULL REFERENCES payments (id),
    client_id          text NOT NULL REFERENCES clients (id),
    idem_key           text,
    channel            text NOT NULL REFERENCES channels (code),
    amount_vnd         bigint NOT NULL CHECK (amount_vnd > 0),
    full_refund        bool NOT NULL,
    reason             text NOT NULL DEFAULT '' CHECK (length(reason) <= 200),
    status             text NOT NULL DEFAULT 'sending'
                           CHECK (status IN ('sending', 'pending', 'succeeded', 'failed')),
    provider_refund_id text,
    provider_code      text,
    request_id         text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    next_query_at      timestamptz NOT NULL DEFAULT now() + interval '1 minute',
    queries            int NOT NULL DEFAULT 0,
    exhausted          bool NOT NULL DEFAULT false,
    -- only the payment's latest refund can be asked about (refunds.sql)
    query_ambiguous    bool NOT NULL DEFAULT false,
    -- a refund the switch sends on its own of an overpayment (overpayments.sql): it refunds
    -- the overpaying attempt, not the payment; NULL for a portal's refund
    overpayment_id     text,
    UNIQUE (client_id, idem_key)
);

CREATE INDEX refunds_payment ON refunds (payment_id, created_at);

CREATE INDEX refunds_due ON refunds (next_query_at) WHERE status IN ('sending', 'pending');

-- Overpayments (overpayments.sql) ---------------------------------------------------------

-- A success of another attempt of a payment that was already paid: the citizen paid twice
-- (went back from one bank's page and paid at another). The money is owed back to the
-- citizen: owed, then refunding (a refund of that attempt through its provider) and
-- refunded, or to_transfer (the provider cannot refund it, or refused) and transferred (the
-- finance staff paid it back by bank transfer). One per attempt (merchant_ref).
CREATE TABLE overpayments (
    id              text PRIMARY KEY, -- ovp_ + 32 hex
    payment_id      text NOT NULL REFERENCES payments (id),
    merchant_ref    text NOT NULL UNIQUE REFERENCES payment_attempts (merchant_ref),
    channel         text NOT NULL REFERENCES channels (code),
    amount_vnd      bigint NOT NULL CHECK (amount_vnd > 0),
    provider_txn_id text,
    paid_at         timestamptz NOT NULL,
    state           text NOT NULL DEFAULT 'owed'
                        CHECK (state IN ('owed', 'refunding', 'refunded', 'to_transfer',
                                         'transferred')),
    journal_id      bigint NOT NULL REFERENCES journals (id), -- the overpayment journal
    refund_id       text, -- refunds(id): the refund sent for it, if any
    transfer_ref    text CHECK (length(transfer_ref) <= 64),
    transferred_by  text REFERENCES staff (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'transferred') = (transfer_ref IS NOT NULL))
);

CREATE INDEX overpayments_payment ON overpayments (payment_id);

CREATE INDEX overpayments_owed ON overpayments (created_at) WHERE state = 'owed';

CREATE INDEX refunds_overpayment ON refunds (overpayment_id) WHERE overpayment_id IS NOT NULL;

ALTER TABLE refunds ADD CONSTRAINT refunds_overpayment_fk FOREIGN KEY (overpayment_id)
    REFERENCES overpayments (id) ON DELETE RESTRICT ON UPDATE RESTRICT;

ALTER TABLE overpayments ADD CONSTRAINT overpayments_refund_fk FOREIGN KEY (refund_id)
    REFERENCES refunds (id) ON DELETE RESTRICT ON UPDATE RESTRICT;

-- Every provider answer about a refund, as received (evidence, append-only).
CREATE TABLE refund_messages (
    id          bigserial PRIMARY KEY,
    refund_id   text NOT NULL REFERENCES refunds (id),
    source      text NOT NULL,   -- refund, refund_query
    outcome     text NOT NULL,   -- accepted, rejected, pending, error
    raw         text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- References ----------------------------------------------------------------------------------

-- Every row a payment writes carries its foreign keys: a payment system's references are
-- enforced when the row is written. ledger_check() (checks.sql) proves the same references
-- after the fact, a second line of defence and the only one against a superuser who writes
-- with session_replication_role = replica (which skips the keys' triggers as it skips every
-- other trigger); it also runs on a schedule inside the gateway and before a day is closed.
--
-- Inserting the child looks the parent up and locks it FOR KEY SHARE until commit, so a
-- concurrent DELETE (or a change of the key) of the parent waits for the writer, and then
-- sees its row and is refused; the other way round, a writer that comes after a committed
-- delete is refused (23503). A key share lock conflicts with no other key share lock and
-- with no UPDATE that keeps the key, so payments of one client, agency or channel do not
-- wait for each other, nor for an edit of the catalogue row. What it costs is one lookup by
-- primary key per referencing row written (docs/benchmarks.md, "Foreign keys back on the
-- payment's rows"); an UPDATE that keeps the key checks nothing.
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
-- catalogue declare theirs in their tables above.) Deleting or renaming a referenced
-- client, agency, channel or payment is answered by refuse_referenced (integrity.sql)
-- before the key's 23503.

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
