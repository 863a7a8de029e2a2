/* Named fault points (fault.h, docs/reliability.md#fault-points). The one piece of state is
 * the armed point and its countdown; the check at each point is inline in fault.h. */
#include "fault.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_log.h"

#include "banned.h"

enum gw_fault_point gw_fault_armed = GW_FAULT_NONE;

/* Hits left before the kill; the hit that takes it from 1 to 0 kills. */
static _Atomic long fault_countdown;

static const char *const fault_names[GW_FAULT_COUNT] = {
    [GW_FAULT_NONE] = "none",
    [GW_FAULT_CREATE_COMMITTED] = "create_committed",
    [GW_FAULT_CHECKOUT_COMMITTED] = "checkout_committed",
    [GW_FAULT_CALLBACK_COMMITTED] = "callback_committed",
    [GW_FAULT_OUTBOX_CLAIMED] = "outbox_claimed",
    [GW_FAULT_OUTBOX_POSTED] = "outbox_posted",
    [GW_FAULT_RECEIPT_NUMBERED] = "receipt_numbered",
    [GW_FAULT_RECEIPT_SIGNED] = "receipt_signed",
    [GW_FAULT_REFUND_BEGUN] = "refund_begun",
    [GW_FAULT_REFUND_ANSWERED] = "refund_answered",
};

const char *gw_fault_name(enum gw_fault_point p)
{
    return p > GW_FAULT_NONE && p < GW_FAULT_COUNT ? fault_names[p] : NULL;
}

static bool fault_parse_nth(const char *s, long *out)
{
    if (s[0] < '0' || s[0] > '9') {
        return false;
    }
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0' || v < 1 || v > GW_FAULT_NTH_MAX) {
        return false;
    }
    *out = v;
    return true;
}

enum gw_err gw_fault_init(struct gw_errbuf *eb)
{
    const char *v = getenv("FEEGATE_FAULT");
    gw_fault_armed = GW_FAULT_NONE;
    if (v == NULL || v[0] == '\0') {
        return GW_OK;
    }
    size_t name_len = strcspn(v, ":");
    long nth = 1;
    if (v[name_len] == ':' && !fault_parse_nth(v + name_len + 1, &nth)) {
        return gw_fail(eb, GW_ERR_INVALID,
                       "FEEGATE_FAULT \"%.64s\": the count after ':' must be 1..%d", v,
                       GW_FAULT_NTH_MAX);
    }
    for (int p = GW_FAULT_NONE + 1; p < GW_FAULT_COUNT; p++) {
        if (strlen(fault_names[p]) == name_len && strncmp(fault_names[p], v, name_len) == 0) {
            atomic_store(&fault_countdown, nth);
            gw_fault_armed = (enum gw_fault_point)p;
            gw_log_warn("fault_armed",
                        "\"point\":\"%s\",\"nth\":%ld,\"note\":\"FEEGATE_FAULT is set: this "
                        "process will kill itself at that point (docs/reliability.md)\"",
                        fault_names[p], nth);
            return GW_OK;
        }
    }
    return gw_fail(
        eb, GW_ERR_INVALID,
        "FEEGATE_FAULT \"%.64s\" names no fault point (docs/reliability.md#fault-points)", v);
}

void gw_fault_hit(enum gw_fault_point p)
{
    if (p != gw_fault_armed || atomic_fetch_sub(&fault_countdown, 1) != 1) {
        return;
    }
    /* One line straight to stderr (no buffer to flush), then the kill: nothing else runs,
     * as when the machine loses power or the kernel's OOM killer strikes. */
    static const char msg[] = "{\"event\":\"fault_point_kill\",\"point\":\"";
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)!write(STDERR_FILENO, fault_names[p], strlen(fault_names[p]));
    (void)!write(STDERR_FILENO, "\"}\n", 3);
    (void)kill(getpid(), SIGKILL);
    _exit(137); /* not reached: SIGKILL cannot be caught */
}
