-- 001_schema: the application role, the catalogue, payments, the ledger, receipts, the
-- outbox and idempotency tables, with their indexes and integrity triggers.
-- Applied by `feegate migrate` inside one transaction (no BEGIN/COMMIT here).

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'feegate_app') THEN
        CREATE ROLE feegate_app NOLOGIN;
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS feegate;
REVOKE ALL ON SCHEMA feegate FROM PUBLIC;
GRANT USAGE ON SCHEMA feegate TO feegate_app;
-- Functions created later by this role are not executable by PUBLIC.
ALTER DEFAULT PRIVILEGES IN SCHEMA feegate REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

SET LOCAL search_path = feegate, pg_temp;

-- Catalogue -------------------------------------------------------------------------------

CREATE TABLE clients (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    secret      text NOT NULL CHECK (length(secret) BETWEEN 16 AND 128),
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
    code             text PRIMARY KEY CHECK (code ~ '^[A-Z0-9_-]{1,32}$'),
    name             text NOT NULL,
    tax_code         text NOT NULL CHECK (tax_code ~ '^[0-9]{10}(-[0-9]{3})?$'),
    address          text NOT NULL DEFAULT '',
    receipt_template text NOT NULL,
    receipt_series   text NOT NULL,
    FOREIGN KEY (receipt_template, receipt_series) REFERENCES receipt_series (template, series)
);

CREATE TABLE treasury_accounts (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Z0-9_-]{1,32}$'),
    agency_code text NOT NULL REFERENCES agencies (code),
    name        text NOT NULL,
    bank_name   text NOT NULL,
    account_no  text NOT NULL
);

-- amounts_vnd NULL: any amount in [min, max] (and a multiple of amount_step_vnd if set,
-- for per-copy fees); otherwise one of the listed amounts.
CREATE TABLE fees (
    agency_code     text NOT NULL REFERENCES agencies (code),
    fee_code        text NOT NULL CHECK (fee_code ~ '^[A-Z0-9_-]{1,32}$'),
    name            text NOT NULL,
    amount_vnd_min  bigint NOT NULL CHECK (amount_vnd_min > 0),
    amount_vnd_max  bigint NOT NULL CHECK (amount_vnd_max <= 1000000000000),
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
    code    text PRIMARY KEY CHECK (code ~ '^[a-z0-9_]{1,32}$'),
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
INSERT INTO payment_statuses VALUES ('created'), ('pending'), ('succeeded'), ('failed'),
    ('expired'), ('cancelled'), ('partially_refunded'), ('refunded');

CREATE TABLE payment_event_kinds (event text PRIMARY KEY);
INSERT INTO payment_event_kinds VALUES ('checkout'), ('provider_succeeded'),
    ('provider_failed'), ('cancel'), ('expire'), ('refund_partial'), ('refund_full');

CREATE TABLE payments (
    id              text PRIMARY KEY, -- pay_ + 32 hex, made by api_create_payment
    client_id       text NOT NULL REFERENCES clients (id),
    order_ref       text NOT NULL CHECK (length(order_ref) BETWEEN 1 AND 64),
    agency_code     text NOT NULL REFERENCES agencies (code),
    status          text NOT NULL DEFAULT 'created' CHECK (status IN ('created', 'pending',
                        'succeeded', 'failed', 'expired', 'cancelled', 'partially_refunded',
                        'refunded')),
    late            bool NOT NULL DEFAULT false,
    amount_vnd      bigint NOT NULL CHECK (amount_vnd > 0 AND amount_vnd <= 1000000000000),
    payer           jsonb NOT NULL DEFAULT '{}',
    items           jsonb NOT NULL CHECK (jsonb_typeof(items) = 'array'),
    channel         text REFERENCES channels (code),
    merchant_ref    text,
    provider_txn_id text,
    return_url      text,
    locale          text NOT NULL DEFAULT 'vi' CHECK (locale IN ('vi', 'en')),
    base_url        text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    paid_at         timestamptz,
    refunded_vnd    bigint NOT NULL DEFAULT 0 CHECK (refunded_vnd >= 0 AND
                        refunded_vnd <= amount_vnd),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    event_seq       int NOT NULL DEFAULT 1 -- seq of the last payment_events row
);
-- One live payment per order_ref. A late success (after expiry or cancellation) is not
-- counted: the money was taken and must be booked even if the portal has created a new
-- payment for the same order_ref meanwhile.
CREATE UNIQUE INDEX payments_live_order_ref ON payments (client_id, order_ref)
    WHERE status IN ('created', 'pending', 'succeeded', 'partially_refunded') AND NOT late;
CREATE INDEX payments_order_ref ON payments (client_id, order_ref, created_at DESC);
CREATE INDEX payments_expiry ON payments (expires_at) WHERE status IN ('created', 'pending');

CREATE TABLE payment_attempts (
    merchant_ref text PRIMARY KEY CHECK (length(merchant_ref) <= 40), -- FG + 20 hex
    payment_id   text NOT NULL REFERENCES payments (id),
    channel      text NOT NULL REFERENCES channels (code),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_attempts_payment ON payment_attempts (payment_id);

-- The state machine as data: one row for every (status, event) pair.
CREATE TABLE payment_transitions (
    from_status text NOT NULL REFERENCES payment_statuses (status),
    event       text NOT NULL REFERENCES payment_event_kinds (event),
    to_status   text REFERENCES payment_statuses (status),
    outcome     text NOT NULL CHECK (outcome IN ('apply', 'apply_late', 'ignore', 'reject')),
    PRIMARY KEY (from_status, event),
    CHECK ((outcome IN ('apply', 'apply_late')) = (to_status IS NOT NULL))
);

CREATE TABLE payment_events (
    id          bigserial PRIMARY KEY,
    payment_id  text NOT NULL REFERENCES payments (id),
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
                     'amount_mismatch')),
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
    payment_id   text REFERENCES payments (id),
    business_day date NOT NULL,
    memo         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);
-- A payment is settled at most once.
CREATE UNIQUE INDEX journals_payment_success ON journals (payment_id)
    WHERE kind = 'payment_success';
CREATE INDEX journals_payment ON journals (payment_id);

-- Debit positive, credit negative. Foreign keys cost one query per row on the success path;
-- the rows here are written only by post_journal and receipts/outbox only by the success
-- path with the payment locked, so they are verified by ledger_check() instead.
CREATE TABLE postings (
    id           bigserial PRIMARY KEY,
    journal_id   bigint NOT NULL, -- journals(id); no FK on the hot path, ledger_check verifies
    account_code text NOT NULL, -- accounts(code); checked by post_journal and ledger_check
    amount_vnd   bigint NOT NULL CHECK (amount_vnd <> 0)
);
CREATE INDEX postings_journal ON postings (journal_id);
CREATE INDEX postings_account ON postings (account_code);

CREATE TABLE receipts (
    id          text PRIMARY KEY, -- rcp_ + 32 hex
    payment_id  text NOT NULL UNIQUE REFERENCES payments (id),
    agency_code text NOT NULL, -- copied from the payment's agency (and its series)
    template    text NOT NULL,
    series      text NOT NULL,
    number      int NOT NULL CHECK (number > 0),
    issued_at   timestamptz NOT NULL DEFAULT now(),
    amount_vnd  bigint NOT NULL CHECK (amount_vnd > 0),
    payer       jsonb NOT NULL,
    items       jsonb NOT NULL,
    UNIQUE (template, series, number)
);

-- Outbox ----------------------------------------------------------------------------------

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

-- Idempotency -----------------------------------------------------------------------------

-- The row is claimed (http_status 0) at the start of the operation and completed before
-- commit, so a concurrent request with the same key waits on the primary key.
CREATE TABLE idempotency (
    client_id      text NOT NULL REFERENCES clients (id),
    idem_key       text NOT NULL CHECK (idem_key ~ '^[A-Za-z0-9_-]{1,255}$'),
    request_sha256 text NOT NULL,
    http_status    int NOT NULL,
    body           text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, idem_key)
);
CREATE INDEX idempotency_created ON idempotency (created_at);

-- Integrity triggers ----------------------------------------------------------------------

-- Append-only evidence and ledger tables, for every role (superusers included).
CREATE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'FG500', MESSAGE = 'append_only',
        DETAIL = format('%s on %s is forbidden: the table is append-only', TG_OP,
                        TG_TABLE_NAME);
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['journals', 'postings', 'payment_events', 'receipts',
                             'provider_messages'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON feegate.%I '
                       'FOR EACH ROW EXECUTE FUNCTION feegate.forbid_change()',
                       t || '_append_only', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON feegate.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION feegate.forbid_change()',
                       t || '_no_truncate', t);
    END LOOP;
END
$$;

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

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA feegate FROM PUBLIC;
