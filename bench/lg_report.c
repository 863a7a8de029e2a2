/* The load generator's report: the human table (modes side by side, the steps of the full
 * path, errors with their first bodies, the gateway's memory) and one JSON line per mode.
 * Split out of loadgen.c, which runs the users. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lg.h"
#include "lg_hist.h"

#include "banned.h"

const char *const lg_step_names[LG_STEPS] = {
    "create", "page", "checkout", "bank", "return", "verify", "request", "payment",
};
const char *const lg_mode_names[LG_MODES] = { "healthz", "readyz", "full" };
const char *const lg_slot_names[LG_SLOT_NAMED] = {
    "connection", "timeout", "eof", "malformed", "bad_body", "not_succeeded", "bad_status",
};

static double lg_elapsed_s(const struct lg_stats *st)
{
    int64_t us = st->end_us - st->start_us;
    return us <= 0 ? 1e-6 : (double)us / 1e6;
}

static enum lg_step lg_main_step(const struct lg_stats *st)
{
    return st->mode == LG_MODE_FULL ? LG_STEP_PAYMENT : LG_STEP_PROBE;
}

static double lg_ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static void lg_print_hist_row(FILE *out, const char *label, const struct lg_hist *h)
{
    fprintf(out, "  %-10s %10" PRIu64 " %9.2f %9.2f %9.2f %9.2f %9.2f\n", label, h->count,
            lg_ms(h->count ? h->sum_us / h->count : 0), lg_ms(lg_hist_percentile(h, 50.0)),
            lg_ms(lg_hist_percentile(h, 90.0)), lg_ms(lg_hist_percentile(h, 99.0)),
            lg_ms(h->max_us));
}

static void lg_print_summary(FILE *out, const struct lg_opts *o, const struct lg_stats *all,
                             size_t n)
{
    fprintf(out,
            "\nfeegate-loadgen  url=%s  concurrency=%u  duration=%us  payments_max=%" PRIu64
            "  verify=%s  pages=%s  %s\n\n",
            o->url, o->concurrency, o->duration_s, o->payments_max, o->verify ? "yes" : "no",
            o->lean ? "no" : "yes", o->rate_per_s > 0 ? "open loop" : "closed loop");
    if (o->rate_per_s > 0) {
        fprintf(out, "  open loop: %.1f payments/s offered\n", o->rate_per_s);
    }
    fprintf(out, "  %-8s %10s %10s %8s %9s %9s %9s %9s %9s\n", "mode", "done", "per_s", "errors",
            "p50_ms", "p90_ms", "p99_ms", "max_ms", "elapsed_s");
    for (size_t i = 0; i < n; i++) {
        const struct lg_stats *st = &all[i];
        const struct lg_hist *h = &st->hist[lg_main_step(st)];
        fprintf(out, "  %-8s %10" PRIu64 " %10.1f %8" PRIu64 " %9.2f %9.2f %9.2f %9.2f %9.2f%s\n",
                lg_mode_names[st->mode], st->completed, (double)st->completed / lg_elapsed_s(st),
                st->errors_total, lg_ms(lg_hist_percentile(h, 50.0)),
                lg_ms(lg_hist_percentile(h, 90.0)), lg_ms(lg_hist_percentile(h, 99.0)),
                lg_ms(h->max_us), lg_elapsed_s(st),
                st->storm ? "  ABORTED (connection storm)" : "");
    }
    for (size_t i = 0; i < n; i++) {
        if (all[i].mode == LG_MODE_FULL) {
            fprintf(out, "  (full: done = completed payment paths, per_s = payments/s; "
                         "latencies of the whole path)\n");
        }
    }
}

static void lg_print_steps(FILE *out, const struct lg_opts *o, const struct lg_stats *st)
{
    if (st->mode != LG_MODE_FULL) {
        return;
    }
    fprintf(out, "\n  %-10s %10s %9s %9s %9s %9s %9s   (full, per step, ms)\n", "step", "ok",
            "mean", "p50", "p90", "p99", "max");
    for (int s = LG_STEP_CREATE; s < LG_STEPS; s++) {
        bool page = s == LG_STEP_PAGE || s == LG_STEP_RETURN;
        if (s != LG_STEP_PROBE && (s != LG_STEP_VERIFY || o->verify) && (!page || !o->lean)) {
            lg_print_hist_row(out, lg_step_names[s], &st->hist[s]);
        }
    }
}

static void lg_slot_label(unsigned slot, char *out, size_t out_bytes)
{
    if (slot >= LG_SLOT_HTTP_MIN) {
        (void)snprintf(out, out_bytes, "%u", slot);
    } else {
        (void)snprintf(out, out_bytes, "%s", lg_slot_names[slot]);
    }
}

static void lg_print_errors(FILE *out, const struct lg_stats *st)
{
    char label[32];
    for (int s = 0; s < LG_STEPS; s++) {
        for (unsigned slot = 0; slot < LG_SLOTS; slot++) {
            if (st->errors[s][slot] == 0) {
                continue;
            }
            lg_slot_label(slot, label, sizeof(label));
            fprintf(out, "  error  %-8s %-9s %-14s %" PRIu64 "\n", lg_mode_names[st->mode],
                    lg_step_names[s], label, st->errors[s][slot]);
        }
    }
    for (size_t i = 0; i < st->n_samples; i++) {
        const struct lg_sample *sm = &st->samples[i];
        lg_slot_label(sm->slot, label, sizeof(label));
        fprintf(out, "  first  %-8s %-9s %-14s body: %s\n", lg_mode_names[st->mode],
                lg_step_names[sm->step], label, sm->text[0] != '\0' ? sm->text : "(none)");
    }
    if (st->abandoned > 0) {
        fprintf(out, "  %s: %" PRIu64 " requests still in flight at the hard deadline\n",
                lg_mode_names[st->mode], st->abandoned);
    }
}

static void lg_print_rss(FILE *out, const struct lg_opts *o, const struct lg_stats *all, size_t n)
{
    if (o->gateway_pid == 0) {
        return;
    }
    fprintf(out, "\n  gateway pid %ld memory:", o->gateway_pid);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "  %s peak VmRSS %.1f MiB (VmHWM %.1f MiB)", lg_mode_names[all[i].mode],
                (double)all[i].rss_peak_kib / 1024.0, (double)all[i].hwm_kib / 1024.0);
    }
    fprintf(out, "\n");
}

void lg_print_human(FILE *out, const struct lg_opts *o, const struct lg_stats *all, size_t n)
{
    lg_print_summary(out, o, all, n);
    for (size_t i = 0; i < n; i++) {
        lg_print_steps(out, o, &all[i]);
    }
    fprintf(out, "\n");
    for (size_t i = 0; i < n; i++) {
        lg_print_errors(out, &all[i]);
    }
    lg_print_rss(out, o, all, n);
    (void)fflush(out);
}

static void lg_json_hist(FILE *out, const char *name, const struct lg_hist *h, bool first)
{
    fprintf(out,
            "%s\"%s\":{\"count\":%" PRIu64 ",\"mean_us\":%" PRIu64 ",\"p50_us\":%" PRIu64
            ",\"p90_us\":%" PRIu64 ",\"p99_us\":%" PRIu64 ",\"max_us\":%" PRIu64 "}",
            first ? "" : ",", name, h->count, h->count ? h->sum_us / h->count : 0,
            lg_hist_percentile(h, 50.0), lg_hist_percentile(h, 90.0), lg_hist_percentile(h, 99.0),
            h->max_us);
}

static void lg_json_errors(FILE *out, const struct lg_stats *st)
{
    char label[32];
    bool first = true;
    fprintf(out, ",\"errors_by\":{");
    for (int s = 0; s < LG_STEPS; s++) {
        for (unsigned slot = 0; slot < LG_SLOTS; slot++) {
            if (st->errors[s][slot] == 0) {
                continue;
            }
            lg_slot_label(slot, label, sizeof(label));
            fprintf(out, "%s\"%s:%s\":%" PRIu64, first ? "" : ",", lg_step_names[s], label,
                    st->errors[s][slot]);
            first = false;
        }
    }
    fprintf(out, "}");
}

/* One JSON object per line, per mode, for docs/benchmarks.md and scripts. */
void lg_print_json(FILE *out, const struct lg_opts *o, const struct lg_stats *st)
{
    fprintf(
        out,
        "{\"mode\":\"%s\",\"channel\":\"%s\",\"concurrency\":%u,\"duration_s\":%u,\"verify\":%s,"
        "\"loop\":\"%s\",\"rate_per_s\":%.1f,\"offered\":%" PRIu64 ",\"behind_max\":%" PRIu64
        ",\"pages\":%s,"
        "\"elapsed_s\":%.3f,\"completed\":%" PRIu64 ",\"per_s\":%.1f,\"errors\":%" PRIu64
        ",\"abandoned\":%" PRIu64 ",\"aborted\":%s,\"steps\":{",
        lg_mode_names[st->mode], o->channel, o->concurrency, o->duration_s,
        o->verify ? "true" : "false", o->rate_per_s > 0 ? "open" : "closed", o->rate_per_s,
        st->offered, st->behind_max, o->lean ? "false" : "true", lg_elapsed_s(st), st->completed,
        (double)st->completed / lg_elapsed_s(st), st->errors_total, st->abandoned,
        st->storm ? "true" : "false");
    bool first = true;
    for (int s = 0; s < LG_STEPS; s++) {
        if (st->hist[s].count == 0 && s != (int)lg_main_step(st)) {
            continue;
        }
        lg_json_hist(out, lg_step_names[s], &st->hist[s], first);
        first = false;
    }
    fprintf(out, "}");
    lg_json_errors(out, st);
    fprintf(out, ",\"gateway_vmrss_peak_kib\":%ld,\"gateway_vmhwm_kib\":%ld}\n", st->rss_peak_kib,
            st->hwm_kib);
    (void)fflush(out);
}
