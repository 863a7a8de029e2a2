-- 024_catalogue_search_path: adding a channel or a treasury account works from any session.
--
-- accounts_of_new_row (008), the trigger that opens the ledger accounts of a new channel or
-- treasury account, calls ledger_account, whose queries name their tables without the
-- schema: it relied on the caller's search_path. The API functions set it, but an operator
-- adding a treasury account with psql (search_path "$user", public) got 'relation
-- "accounts" does not exist' and could not add it. The trigger now sets the path itself; it
-- runs only when the catalogue grows, never on the payment path.

SET LOCAL search_path = feegate, pg_temp;

ALTER FUNCTION accounts_of_new_row() SET search_path = feegate, pg_temp;
