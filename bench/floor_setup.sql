-- bench/floor_setup.sql: the tables bench/floor.sql writes to, in a schema of their own
-- (floor), run by bench/run.sh on its throwaway cluster after the gateway's runs. Each is a
-- copy of a ledger table with the same columns, defaults and indexes (unique ones
-- included), and nothing else: no CHECK, no foreign key, no trigger, no function, no
-- grant. What bench/floor.sql measures is therefore the cost of writing one payment's rows
-- and index entries with PostgreSQL's durability, and nothing of the logic that decides
-- them (docs/benchmarks.md, "The floor of the data model").
\set ON_ERROR_STOP on
DROP SCHEMA IF EXISTS floor CASCADE;
CREATE SCHEMA floor;

DO $$
DECLARE
    t text;
    c record;
BEGIN
    FOREACH t IN ARRAY ARRAY['payments', 'payment_events', 'payment_attempts', 'idempotency',
        'provider_messages', 'journals', 'postings', 'receipt_series', 'receipts',
        'receipt_jobs', 'receipt_documents', 'outbox', 'webhook_deliveries', 'journal_seals']
    LOOP
        EXECUTE format('CREATE TABLE floor.%I (LIKE feegate.%I INCLUDING DEFAULTS'
                       ' INCLUDING INDEXES)', t, t);
        -- A serial column gets a sequence of its own (the copied default would draw from
        -- the ledger's).
        FOR c IN SELECT a.attname FROM pg_attribute a JOIN pg_attrdef d
                   ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                  WHERE a.attrelid = format('floor.%I', t)::regclass
                    AND pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%'
        LOOP
            EXECUTE format('CREATE SEQUENCE floor.%I', t || '_' || c.attname || '_seq');
            EXECUTE format('ALTER TABLE floor.%I ALTER COLUMN %I SET DEFAULT nextval(%L)', t,
                           c.attname, 'floor.' || t || '_' || c.attname || '_seq');
        END LOOP;
    END LOOP;
END $$;
CREATE SEQUENCE floor.seal_seq;

-- One receipt series, as every payment of the benchmark draws its number from the same
-- agency's series (gapless numbering: one row, updated under its lock).
INSERT INTO floor.receipt_series (template, series, next_number) VALUES ('01BLP0-001', 'FL-26E', 1);

-- Bodies of the sizes the ledger stores (outbox and idempotency bodies, provider messages,
-- the signed receipt XML), of random hex: they compress less than the real JSON and XML.
CREATE TABLE floor.blob (b text NOT NULL);
INSERT INTO floor.blob
SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 256);

-- Ids like the ledger's: the creation time in milliseconds, then 80 random bits.
CREATE FUNCTION floor.new_id(prefix text) RETURNS text LANGUAGE sql AS $$
    SELECT prefix || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
        || substr(md5(random()::text), 1, 20)
$$;
ANALYZE floor.receipt_series, floor.blob;
