/* The adapter registry: every provider protocol compiled into feegate, in one
 * NULL-terminated table (libevent's eventops[], curl's available_backends[]). The gateway
 * calls gw_adapter_registry_check once at startup, so a table with a missing op or a stale
 * ABI stops the process before it takes a payment. */
#include <string.h>

#include "adapter.h"
#include "gw_assert.h"

#include "banned.h"

const struct gw_adapter_ops *const gw_adapters[] = {
    &gw_adapter_sandbox, &gw_adapter_vnpay, &gw_adapter_momo, &gw_adapter_zalopay, NULL,
};

const struct gw_adapter_ops *gw_adapter_find(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; gw_adapters[i] != NULL; i++) {
        if (strcmp(gw_adapters[i]->name, name) == 0) {
            return gw_adapters[i];
        }
    }
    return NULL;
}

/* Checks one table on its own: name, ABI and that no op is NULL. */
static enum gw_err registry_check_one(const struct gw_adapter_ops *ops, size_t index,
                                      struct gw_errbuf *eb)
{
    if (ops->name == NULL || ops->name[0] == '\0') {
        return gw_fail(eb, GW_ERR_INTERNAL, "adapter %zu has no name", index);
    }
    if (ops->abi_version != GW_ADAPTER_ABI) {
        return gw_fail(eb, GW_ERR_INTERNAL, "adapter %s has abi %u, expected %u", ops->name,
                       (unsigned)ops->abi_version, (unsigned)GW_ADAPTER_ABI);
    }
    if (ops->checkout == NULL || ops->callback_parse == NULL || ops->callback_reply == NULL ||
        ops->return_parse == NULL || ops->query_build == NULL || ops->query_parse == NULL ||
        ops->create_build == NULL || ops->create_parse == NULL || ops->refund_build == NULL ||
        ops->refund_parse == NULL || ops->refund_query_build == NULL ||
        ops->refund_query_parse == NULL) {
        return gw_fail(eb, GW_ERR_INTERNAL, "adapter %s has a null op", ops->name);
    }
    return GW_OK;
}

enum gw_err gw_adapter_registry_check(struct gw_errbuf *eb)
{
    for (size_t i = 0; gw_adapters[i] != NULL; i++) {
        enum gw_err err = registry_check_one(gw_adapters[i], i, eb);
        if (err != GW_OK) {
            return err;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(gw_adapters[j]->name, gw_adapters[i]->name) == 0) {
                return gw_fail(eb, GW_ERR_INTERNAL, "adapter name %s registered twice",
                               gw_adapters[i]->name);
            }
        }
    }
    return GW_OK;
}

enum gw_err gw_adapter_unsupported_query(const struct gw_adapter_config *cfg,
                                         const struct gw_charge *charge, struct gw_arena *arena,
                                         struct gw_adapter_http *req, struct gw_errbuf *eb)
{
    (void)charge;
    (void)arena;
    (void)req;
    return gw_fail(eb, GW_ERR_INVALID, "%s: not supported",
                   cfg != NULL && cfg->channel != NULL ? cfg->channel : "adapter");
}

enum gw_err gw_adapter_unsupported_parse(const struct gw_adapter_config *cfg,
                                         const struct gw_adapter_input *in, struct gw_arena *arena,
                                         struct gw_adapter_result *out, struct gw_errbuf *eb)
{
    (void)in;
    (void)arena;
    (void)out;
    return gw_fail(eb, GW_ERR_INVALID, "%s: not supported",
                   cfg != NULL && cfg->channel != NULL ? cfg->channel : "adapter");
}

enum gw_err gw_adapter_unsupported_create_parse(const struct gw_adapter_config *cfg,
                                                const struct gw_adapter_input *in,
                                                struct gw_arena *arena,
                                                struct gw_adapter_created *out,
                                                struct gw_errbuf *eb)
{
    (void)in;
    (void)arena;
    (void)out;
    return gw_fail(eb, GW_ERR_INVALID, "%s: not supported",
                   cfg != NULL && cfg->channel != NULL ? cfg->channel : "adapter");
}

enum gw_err gw_adapter_unsupported_refund(const struct gw_adapter_config *cfg,
                                          const struct gw_refund *refund, struct gw_arena *arena,
                                          struct gw_adapter_http *req, struct gw_errbuf *eb)
{
    (void)refund;
    (void)arena;
    (void)req;
    return gw_fail(eb, GW_ERR_INVALID, "%s: not supported",
                   cfg != NULL && cfg->channel != NULL ? cfg->channel : "adapter");
}

enum gw_err gw_adapter_unsupported_refund_parse(const struct gw_adapter_config *cfg,
                                                const struct gw_adapter_input *in,
                                                struct gw_arena *arena,
                                                struct gw_refund_result *out, struct gw_errbuf *eb)
{
    (void)in;
    (void)arena;
    (void)out;
    return gw_fail(eb, GW_ERR_INVALID, "%s: not supported",
                   cfg != NULL && cfg->channel != NULL ? cfg->channel : "adapter");
}

enum gw_err gw_adapter_unsupported_checkout(const struct gw_adapter_config *cfg,
                                            const struct gw_charge *charge, struct gw_arena *arena,
                                            char **redirect_url, struct gw_errbuf *eb)
{
    (void)charge;
    (void)arena;
    if (redirect_url != NULL) {
        *redirect_url = NULL;
    }
    return gw_fail(eb, GW_ERR_INVALID, "%s: not supported",
                   cfg != NULL && cfg->channel != NULL ? cfg->channel : "adapter");
}
