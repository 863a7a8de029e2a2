/* The load generator's options, statistics and report (bench/loadgen.c runs the users,
 * bench/lg_report.c prints what they measured). */
#ifndef LG_H
#define LG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gw_limits.h"
#include "lg_hist.h"

/* Limits of the load generator itself: every bound has a name. */
#define LG_CONCURRENCY_MAX      2048 /* two connections per user: stays below the fd limit */
#define LG_DURATION_S_MAX       3600
#define LG_TIMEOUT_S_DEFAULT    15 /* the bank step includes the callback round trip */
#define LG_DRAIN_GRACE_S        2  /* after the deadline, in-flight work gets timeout + this */
#define LG_MIX_MAX              8  /* catalogue lines in --mix */
#define LG_BACKOFF_MS           20 /* a user waits this long after a connection-level failure */
#define LG_STORM_IN_ROW_MIN     64 /* connection failures in a row, without any answer: abort */
#define LG_MODES_MAX            3
#define LG_CHANNELS_MAX         8 /* channels in one --channel A+B+... mix */
#define LG_HOST_BYTES_MAX       256
#define LG_PAYMENT_ID_BYTES_MAX 128
#define LG_SAMPLES_MAX          16 /* first bodies of distinct errors, kept for the report */
#define LG_SAMPLE_BYTES_MAX     200
#define LG_SIGN_BODY_BYTES_MAX  GW_HTTP_BODY_BYTES_MAX

enum lg_mode {
    LG_MODE_HEALTHZ,
    LG_MODE_READYZ,
    LG_MODE_FULL
};

enum lg_step {
    LG_STEP_CREATE,
    LG_STEP_PAGE, /* GET /pay/{id}: the checkout page the citizen reads */
    LG_STEP_CHECKOUT,
    LG_STEP_BANK,   /* the provider's page; contains the callback to the gateway */
    LG_STEP_RETURN, /* the provider's 303 back to the gateway's /return page, followed */
    LG_STEP_VERIFY,
    LG_STEP_PROBE,
    LG_STEP_PAYMENT, /* the whole path, create to the last expected answer */
    LG_STEPS,
};

/* Error slots: below LG_SLOT_HTTP_MIN are failures without a usable HTTP status; from 100
 * to 599 the slot is the unexpected status itself. */
enum {
    LG_SLOT_CONNECTION,    /* refused, reset, could not connect */
    LG_SLOT_TIMEOUT,       /* no answer within --timeout */
    LG_SLOT_EOF,           /* the peer closed the connection mid-request */
    LG_SLOT_MALFORMED,     /* invalid headers, too long a body */
    LG_SLOT_BAD_BODY,      /* expected status, but a body or Location we cannot use */
    LG_SLOT_NOT_SUCCEEDED, /* --verify: the payment is not "succeeded" */
    LG_SLOT_BAD_STATUS,    /* a status outside 100..599 */
    LG_SLOT_HTTP_MIN = 100,
    LG_SLOTS = 600,
};

struct lg_sample {
    enum lg_step step;
    unsigned slot;
    char text[LG_SAMPLE_BYTES_MAX];
};

struct lg_stats {
    enum lg_mode mode;
    struct lg_hist hist[LG_STEPS];
    uint64_t errors[LG_STEPS][LG_SLOTS];
    uint64_t errors_total;
    uint64_t completed; /* iterations that ended as expected */
    uint64_t abandoned; /* still in flight at the hard deadline */
    int64_t start_us;
    int64_t end_us;
    long rss_peak_kib;   /* peak VmRSS of --gateway-pid seen while this mode ran; -1: none */
    long hwm_kib;        /* its VmHWM at the end of the mode (peak since it started) */
    bool storm;          /* aborted on a connection storm */
    uint64_t offered;    /* open loop: arrivals due by the deadline */
    uint64_t behind_max; /* open loop: most arrivals waiting for a free user at once */
    struct lg_sample samples[LG_SAMPLES_MAX];
    size_t n_samples;
};

struct lg_opts {
    const char *url;
    char host[LG_HOST_BYTES_MAX];
    uint16_t port;
    char host_header[LG_HOST_BYTES_MAX + 8];
    const char *client;
    const char *secret;
    const char *agency;
    const char *fee;
    int64_t amount_vnd;

    /* --mix: catalogue lines that virtual user i takes as i modulo n_mix (several agencies
     * spread the receipt series); empty: the single --agency/--fee/--amount. */
    struct lg_mix {
        char agency[32];
        char fee[32];
        int64_t amount_vnd;
    } mix[LG_MIX_MAX];

    size_t n_mix;
    /* --channel: what the checkout form posts (default sandbox); A+B+...: user i posts
     * the (i mod n)th, a mix of providers in one run */
    char channel[LG_CHANNELS_MAX * 24];
    char channels[LG_CHANNELS_MAX][24];
    size_t n_channels;
    unsigned concurrency;
    unsigned duration_s;
    unsigned timeout_s;
    uint64_t payments_max; /* 0: bounded by the duration only */
    enum lg_mode modes[LG_MODES_MAX];
    size_t n_modes;
    long gateway_pid;  /* 0: not polled */
    double rate_per_s; /* --rate: open loop, payments started per second; 0: closed loop */
    bool lean;         /* --lean: without the checkout page and the return page */
    bool verify;
    bool json;
    /* --ack-log: one line per answer that acknowledged something, flushed at once (the crash
     * suite, tests/crash/, checks each against the ledger); NULL: none */
    const char *ack_log_path;
    FILE *ack_log;
};

#define LG_MODES      (LG_MODE_FULL + 1)
#define LG_SLOT_NAMED (LG_SLOT_BAD_STATUS + 1) /* the slots below 100 that have a name */

extern const char *const lg_step_names[LG_STEPS];
extern const char *const lg_mode_names[LG_MODES];
extern const char *const lg_slot_names[LG_SLOT_NAMED];

/* The table of every mode run (stdout, or stderr with --json). */
void lg_print_human(FILE *out, const struct lg_opts *o, const struct lg_stats *all, size_t n);
/* One JSON object per line, per mode. */
void lg_print_json(FILE *out, const struct lg_opts *o, const struct lg_stats *st);

#endif
