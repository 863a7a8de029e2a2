/* The adapter registry: every provider protocol compiled into feegate, in one
 * NULL-terminated table (libevent's eventops[], curl's available_backends[]). The gateway
 * calls gw_adapter_registry_check once at startup, so a table with a missing op, an op its
 * capabilities do not promise or a stale ABI stops the process before it takes a payment.
 * Adding a provider is one line in gw_adapters[] (docs/adapters.md, "Adding a provider"). */
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

/* Whether the ops of one capability are all set with the bit and all NULL without it. */
static bool cap_matches(const struct gw_adapter_ops *ops, uint32_t cap, bool has1, bool has2)
{
    bool want = (ops->caps & cap) != 0;
    return has1 == want && has2 == want;
}

static bool replies_complete(const struct gw_adapter_reply *replies)
{
    if (replies == NULL) {
        return false;
    }
    for (size_t v = 0; v < GW_CB_VERDICTS; v++) {
        if (replies[v].http_status < 200 || replies[v].http_status > 599 ||
            replies[v].content_type == NULL || replies[v].body == NULL) {
            return false;
        }
    }
    return true;
}

/* Checks one table on its own: name, ABI, ops against capabilities, callback answers. */
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
    if (ops->callback_parse == NULL || ops->return_parse == NULL) {
        return gw_fail(eb, GW_ERR_INTERNAL, "adapter %s has a null op", ops->name);
    }
    if (!cap_matches(ops, GW_ADAPTER_CAP_REDIRECT, ops->checkout != NULL, ops->checkout != NULL) ||
        !cap_matches(ops, GW_ADAPTER_CAP_QUERY, ops->query_build != NULL,
                     ops->query_parse != NULL) ||
        !cap_matches(ops, GW_ADAPTER_CAP_CREATE, ops->create_build != NULL,
                     ops->create_parse != NULL) ||
        !cap_matches(ops, GW_ADAPTER_CAP_REFUND, ops->refund_build != NULL,
                     ops->refund_parse != NULL) ||
        !cap_matches(ops, GW_ADAPTER_CAP_REFUND_QUERY, ops->refund_query_build != NULL,
                     ops->refund_query_parse != NULL)) {
        return gw_fail(eb, GW_ERR_INTERNAL, "adapter %s: its ops do not match its caps", ops->name);
    }
    if (!(ops->caps & (GW_ADAPTER_CAP_REDIRECT | GW_ADAPTER_CAP_CREATE))) {
        return gw_fail(eb, GW_ERR_INTERNAL, "adapter %s has no way to check out", ops->name);
    }
    if (!replies_complete(ops->callback_replies)) {
        return gw_fail(eb, GW_ERR_INTERNAL, "adapter %s lacks a callback answer", ops->name);
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

void gw_adapter_callback_reply(const struct gw_adapter_ops *ops, enum gw_callback_verdict verdict,
                               struct gw_adapter_reply *out)
{
    size_t i = (size_t)verdict;
    if (i >= GW_CB_VERDICTS) {
        i = GW_CB_RETRY_LATER; /* unknown to the table: let the provider try again */
    }
    *out = ops->callback_replies[i];
}

const char *gw_pay_outcome_name(enum gw_pay_outcome o)
{
    switch (o) {
    case GW_PAY_SUCCEEDED:
        return "succeeded";
    case GW_PAY_FAILED:
        return "failed";
    case GW_PAY_NOT_FOUND:
        return "not_found";
    case GW_PAY_PENDING:
        break;
    }
    return "pending";
}

const char *gw_refund_outcome_name(enum gw_refund_outcome o)
{
    return o == GW_REFUND_ACCEPTED ? "accepted" : o == GW_REFUND_REJECTED ? "rejected" : "pending";
}
