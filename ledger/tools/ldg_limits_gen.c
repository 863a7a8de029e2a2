/* ldg_limits_gen OUT: writes the SQL limits functions of schema feegate from
 * common/gw_limits.h. Built and run at build time (ledger/CMakeLists.txt); `feegate migrate`
 * applies its output before each migration and on every run (ldg_migrate.c), so the SQL's
 * limits are the C compiler's values of the same macros the gateway is built with: they
 * cannot drift from gw_limits.h. Each limit is an IMMUTABLE SQL function returning a
 * constant, limits_<name without GW_, lower case>(), e.g. limits_webhook_attempts_max().
 * Executable by PUBLIC, explicitly (whatever ran before, e.g. the schema's own revoke): they
 * are constants, and the row rules, which any writer's CHECK runs, read them. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "gw_limits.h"

#include "banned.h"

struct ldg_limit {
    const char *name; /* the function: limits_<name>() */
    const char *type; /* int or bigint */
    int64_t value;
};

#define LDG_LIMIT(n, t, v)  \
    {                       \
#n, t, (int64_t)(v) \
    }

static const struct ldg_limit ldg_limits[] = {
    LDG_LIMIT(webhook_attempts_max, "int", GW_WEBHOOK_ATTEMPTS_MAX),
    LDG_LIMIT(items_max, "int", GW_ITEMS_MAX),
    LDG_LIMIT(expires_in_s_min, "int", GW_EXPIRES_IN_S_MIN),
    LDG_LIMIT(expires_in_s_max, "int", GW_EXPIRES_IN_S_MAX),
    LDG_LIMIT(expires_in_s_default, "int", GW_EXPIRES_IN_S_DEFAULT),
    LDG_LIMIT(amount_vnd_max, "bigint", GW_AMOUNT_VND_MAX),
    LDG_LIMIT(order_ref_bytes_max, "int", GW_ORDER_REF_BYTES_MAX),
    LDG_LIMIT(idem_key_bytes_max, "int", GW_IDEM_KEY_BYTES_MAX),
    LDG_LIMIT(client_id_bytes_max, "int", GW_CLIENT_ID_BYTES_MAX),
    LDG_LIMIT(client_secret_bytes_max, "int", GW_CLIENT_SECRET_BYTES_MAX),
    LDG_LIMIT(code_bytes_max, "int", GW_CODE_BYTES_MAX),
    LDG_LIMIT(merchant_ref_bytes_max, "int", GW_MERCHANT_REF_BYTES_MAX),
    LDG_LIMIT(staff_failures_max, "int", GW_STAFF_FAILURES_MAX),
    LDG_LIMIT(staff_lockout_s, "int", GW_STAFF_LOCKOUT_S),
    LDG_LIMIT(staff_session_idle_s, "int", GW_STAFF_SESSION_IDLE_S),
    LDG_LIMIT(staff_session_s_max, "int", GW_STAFF_SESSION_S_MAX),
    LDG_LIMIT(checkout_attempts_shown_max, "int", GW_CHECKOUT_ATTEMPTS_SHOWN_MAX),
    LDG_LIMIT(lookup_code_chars, "int", GW_LOOKUP_CODE_CHARS),
};

_Static_assert(GW_EXPIRES_IN_S_MAX <= INT32_MAX, "an SQL int holds expires_in_s");

int main(int argc, char **argv)
{
    const size_t n = sizeof(ldg_limits) / sizeof(ldg_limits[0]);
    FILE *f;

    if (argc != 2) {
        (void)fputs("usage: ldg_limits_gen OUT.sql\n", stderr);
        return 2;
    }
    f = fopen(argv[1], "w");
    if (f == NULL) {
        perror(argv[1]);
        return 1;
    }
    (void)fputs("-- Generated at build time by ledger/tools/ldg_limits_gen.c from "
                "common/gw_limits.h: do not edit.\n"
                "SET LOCAL search_path = feegate, pg_temp;\n",
                f);
    for (size_t i = 0; i < n; i++) {
        (void)fprintf(f,
                      "CREATE OR REPLACE FUNCTION limits_%s() RETURNS %s\n"
                      "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT %" PRId64 "::%s $$;\n"
                      "GRANT EXECUTE ON FUNCTION limits_%s() TO PUBLIC;\n",
                      ldg_limits[i].name, ldg_limits[i].type, ldg_limits[i].value,
                      ldg_limits[i].type, ldg_limits[i].name);
    }
    if (fclose(f) != 0) {
        perror(argv[1]);
        return 1;
    }
    return 0;
}
