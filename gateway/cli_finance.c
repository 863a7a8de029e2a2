/* The finance command line (docs/reconciliation.md): statement import, recon run,
 * exceptions, resolve, approve, answer, day close and report. Each command is one blocking
 * call into ledger/ (never on an event loop), against FEEGATE_DSN or --dsn, in a staff
 * session: the one FEEGATE_SESSION names (`feegate staff sign-in`), or one signed in for this
 * command with `--staff S` (password and code, cli_staff.c) and ended after it. Without
 * either, only the database owner's login may act (docs/console.md#controls). Results are
 * JSON on stdout; errors one line on stderr with exit 1; usage errors exit 2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "gw_buf.h"
#include "gw_time.h"
#include "ldg_recon.h"

#include "banned.h"

#define FIN_OUT_BYTES_MAX ((size_t)256 * 1024 * 1024)

struct fin_args {
    const char *pos[4]; /* positional arguments after the subcommand */
    int n_pos;
    const char *dsn, *provider, *date, *format, *staff, *out, *note, *account, *out_dir;
    const char *session; /* the staff session token the SQL functions take */
    bool carry_forward;
    bool stats; /* --stats: elapsed time and peak memory on stderr */
};

static int fin_usage(void)
{
    (void)fputs(
        "usage: feegate statement import FILE --provider P --date D "
        "[--format canonical|vnpay|momo|zalopay|camt053] [--staff S] [--stats]\n"
        "       feegate recon run DATE [--staff S]\n"
        "       feegate recon exceptions DATE\n"
        "       feegate recon resolve ID query|correct|suspense|write_off --staff S "
        "[--note T] [--account A]\n"
        "       feegate recon approve ID --staff S\n"
        "       feegate recon answer ID ANSWER_JSON --staff S\n"
        "       feegate day close DATE --staff S [--carry-forward] [--out-dir DIR]\n"
        "       feegate day report DATE --format csv|json|html --out FILE\n"
        "DATE is a business day, YYYY-MM-DD in Asia/Ho_Chi_Minh; FEEGATE_DSN or --dsn.\n"
        "Actions run in the session FEEGATE_SESSION (feegate staff sign-in), or --staff S signs\n"
        "in for one command (FEEGATE_STAFF_PASSWORD and FEEGATE_STAFF_TOTP, or the terminal).\n",
        stderr);
    return 2;
}

static bool fin_parse(int argc, char **argv, int first, struct fin_args *a)
{
    static const char *const opts[] = { "--dsn", "--provider", "--date",    "--format", "--staff",
                                        "--out", "--note",     "--account", "--out-dir" };
    memset(a, 0, sizeof(*a));
    const char **dst[] = { &a->dsn, &a->provider, &a->date,    &a->format, &a->staff,
                           &a->out, &a->note,     &a->account, &a->out_dir };
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--carry-forward") == 0 || strcmp(argv[i], "--stats") == 0) {
            *(argv[i][2] == 'c' ? &a->carry_forward : &a->stats) = true;
            continue;
        }
        bool matched = false;
        for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]) && !matched; k++) {
            if (strcmp(argv[i], opts[k]) == 0) {
                if (i + 1 >= argc) {
                    return false;
                }
                *dst[k] = argv[++i];
                matched = true;
            }
        }
        if (matched) {
            continue;
        }
        if (strncmp(argv[i], "--", 2) == 0 || a->n_pos == 4) {
            return false;
        }
        a->pos[a->n_pos++] = argv[i];
    }
    if (a->dsn == NULL) {
        a->dsn = getenv("FEEGATE_DSN");
    }
    return true;
}

static bool date_ok(const char *d)
{
    if (d == NULL || !ldg_day_valid(d)) {
        (void)fprintf(stderr, "feegate: \"%s\" is not a date YYYY-MM-DD\n", d ? d : "");
        return false;
    }
    return true;
}

static bool id_ok(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s)) {
        (void)fprintf(stderr, "feegate: \"%s\" is not an exception id\n", s ? s : "");
        return false;
    }
    return true;
}

/* Runs `SELECT sql` and prints its one value. */
static int fin_call(const struct fin_args *a, const char *sql, int n, const char *const *params)
{
    if (a->dsn == NULL) {
        (void)fputs("feegate: set FEEGATE_DSN or pass --dsn\n", stderr);
        return 2;
    }
    struct gw_buf out;
    gw_buf_init(&out, FIN_OUT_BYTES_MAX);
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err = ldg_call_text_blocking(a->dsn, sql, n, params, &out, &eb);
    if (err == GW_OK) {
        (void)printf("%s\n", gw_buf_str(&out));
    } else {
        (void)fprintf(stderr, "feegate: %s\n", eb.msg);
    }
    gw_buf_release(&out);
    return err == GW_OK ? 0 : 1;
}

static int cmd_import(const struct fin_args *a)
{
    struct ldg_import_req req = { .path = a->pos[1],
                                  .provider = a->provider,
                                  .day = a->date,
                                  .staff = a->session,
                                  .progress = stderr };
    req.opts.currency = "VND";
    if (a->n_pos != 2 || a->provider == NULL || a->date == NULL) {
        return fin_usage();
    }
    if (!date_ok(a->date)) {
        return 1;
    }
    if (a->format != NULL && !ldg_stmt_format_parse(a->format, &req.opts.format)) {
        (void)fprintf(stderr, "feegate: unknown statement format \"%s\"\n", a->format);
        return 2;
    }
    if (a->dsn == NULL) {
        (void)fputs("feegate: set FEEGATE_DSN or pass --dsn\n", stderr);
        return 2;
    }
    struct ldg_import_result res;
    struct gw_errbuf eb = { .msg = "" };
    if (ldg_stmt_import_blocking(a->dsn, &req, &res, &eb) != GW_OK) {
        (void)fprintf(stderr, "feegate: statement %s refused, nothing imported: %s\n", req.path,
                      eb.msg);
        return 1;
    }
    (void)printf("{\"file_id\":%lld,\"business_day\":\"%s\",\"timezone\":\"Asia/Ho_Chi_Minh\","
                 "\"lines_read\":%ld,\"lines_added\":%ld,\"replayed\":%s}\n",
                 res.file_id, a->date, res.lines_read, res.lines_added,
                 res.replayed ? "true" : "false");
    return 0;
}

static int cmd_recon(const struct fin_args *a)
{
    const char *sub = a->pos[0];
    if (a->n_pos == 2 && strcmp(sub, "run") == 0 && date_ok(a->pos[1])) {
        const char *p[2] = { a->pos[1], a->session };
        return fin_call(a, "feegate.recon_run($1::date, $2)", 2, p);
    }
    if (a->n_pos == 2 && strcmp(sub, "exceptions") == 0 && date_ok(a->pos[1])) {
        const char *p[2] = { a->session, a->pos[1] };
        return fin_call(a, "feegate.fin_exceptions($1, $2::date)", 2, p);
    }
    if (a->n_pos == 3 && strcmp(sub, "resolve") == 0 && id_ok(a->pos[1])) {
        const char *p[5] = { a->pos[1], a->pos[2], a->session, a->note, a->account };
        return fin_call(a, "feegate.recon_resolve($1::bigint, $2, $3, $4, $5)", 5, p);
    }
    if (a->n_pos == 2 && strcmp(sub, "approve") == 0 && id_ok(a->pos[1])) {
        const char *p[2] = { a->pos[1], a->session };
        return fin_call(a, "feegate.recon_approve($1::bigint, $2)", 2, p);
    }
    if (a->n_pos == 3 && strcmp(sub, "answer") == 0 && id_ok(a->pos[1])) {
        const char *p[3] = { a->pos[1], a->session, a->pos[2] };
        return fin_call(a, "feegate.recon_apply_answer($1::bigint, $2, $3::jsonb)", 3, p);
    }
    return fin_usage();
}

static int write_file(const char *path, const struct gw_buf *b)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(b->data, 1, b->len, f) != b->len) {
        (void)fprintf(stderr, "feegate: could not write \"%s\": %s\n", path, GW_STRERROR(errno));
        if (f != NULL) {
            (void)fclose(f);
        }
        return 1;
    }
    return fclose(f) == 0 ? 0 : 1;
}

/* Renders the report JSON in fmt and writes it to path. */
static int write_report(const char *json, enum ldg_report_format fmt, const char *path)
{
    struct gw_buf b;
    gw_buf_init(&b, FIN_OUT_BYTES_MAX);
    struct gw_errbuf eb = { .msg = "" };
    int rc = 1;
    if (ldg_report_render(json, fmt, &b, &eb) != GW_OK) {
        (void)fprintf(stderr, "feegate: %s\n", eb.msg);
    } else {
        rc = write_file(path, &b);
    }
    gw_buf_release(&b);
    return rc;
}

static int cmd_day_close(const struct fin_args *a)
{
    if (a->dsn == NULL) {
        return fin_usage();
    }
    const char *p[3] = { a->pos[1], a->session, a->carry_forward ? "true" : "false" };
    struct gw_buf out;
    gw_buf_init(&out, FIN_OUT_BYTES_MAX);
    struct gw_errbuf eb = { .msg = "" };
    int rc = 1;
    if (ldg_call_text_blocking(a->dsn, "feegate.day_close($1::date, $2, $3::bool)", 3, p, &out,
                               &eb) != GW_OK) {
        (void)fprintf(stderr, "feegate: day %s not closed: %s\n", a->pos[1], eb.msg);
    } else {
        static const char *const ext[] = { "json", "csv", "html" };
        rc = 0;
        for (int i = 0; i < 3 && rc == 0; i++) {
            char path[1024];
            (void)snprintf(path, sizeof(path), "%s/report-%s.%s",
                           a->out_dir != NULL ? a->out_dir : ".", a->pos[1], ext[i]);
            rc = write_report(gw_buf_str(&out), (enum ldg_report_format)i, path);
            if (rc == 0) {
                (void)printf("wrote %s\n", path);
            }
        }
        (void)printf("business day %s (Asia/Ho_Chi_Minh) closed\n", a->pos[1]);
    }
    gw_buf_release(&out);
    return rc;
}

static int cmd_day(const struct fin_args *a)
{
    if (a->n_pos != 2 || !date_ok(a->pos[1])) {
        return a->n_pos != 2 ? fin_usage() : 1;
    }
    if (strcmp(a->pos[0], "close") == 0) {
        return cmd_day_close(a);
    }
    enum ldg_report_format fmt;
    if (strcmp(a->pos[0], "report") != 0 || a->format == NULL || a->out == NULL ||
        !ldg_report_format_parse(a->format, &fmt) || a->dsn == NULL) {
        return fin_usage();
    }
    const char *p[1] = { a->pos[1] };
    struct gw_buf out;
    gw_buf_init(&out, FIN_OUT_BYTES_MAX);
    struct gw_errbuf eb = { .msg = "" };
    int rc = 1;
    if (ldg_call_text_blocking(a->dsn, "feegate.day_report($1::date)", 1, p, &out, &eb) != GW_OK) {
        (void)fprintf(stderr, "feegate: %s\n", eb.msg);
    } else {
        rc = write_report(gw_buf_str(&out), fmt, a->out);
    }
    gw_buf_release(&out);
    return rc;
}

/* Elapsed time and peak resident memory (getrusage: VmHWM of this process). */
static int with_stats(const struct fin_args *a, int rc, int64_t t0_us)
{
    struct rusage ru;
    if (a->stats && getrusage(RUSAGE_SELF, &ru) == 0) {
        (void)fprintf(stderr, "stats: %.3f s, peak memory %ld KiB\n",
                      (double)(gw_monotonic_us() - t0_us) / 1e6, ru.ru_maxrss);
    }
    return rc;
}

static int fin_dispatch(const char *cmd, struct fin_args *a, int64_t t0)
{
    if (strcmp(cmd, "statement") == 0 && strcmp(a->pos[0], "import") == 0) {
        return with_stats(a, cmd_import(a), t0);
    }
    if (strcmp(cmd, "recon") == 0) {
        return with_stats(a, cmd_recon(a), t0);
    }
    if (strcmp(cmd, "day") == 0) {
        return cmd_day(a);
    }
    return fin_usage();
}

int gw_cli_finance(int argc, char **argv)
{
    struct fin_args a;
    int64_t t0 = gw_monotonic_us();
    if (argc < 3 || !fin_parse(argc, argv, 2, &a) || a.n_pos < 1) {
        return fin_usage();
    }
    a.session = getenv("FEEGATE_SESSION");
    if (a.session != NULL && a.session[0] == '\0') {
        a.session = NULL;
    }
    struct gw_cli_session s = { .dsn = a.dsn, .staff = a.staff };
    if (a.staff != NULL) {
        if (a.dsn == NULL) {
            (void)fputs("feegate: set FEEGATE_DSN or pass --dsn\n", stderr);
            return 2;
        }
        if (!gw_cli_staff_sign_in(&s)) {
            return 1;
        }
        a.session = s.token;
    }
    int rc = fin_dispatch(argv[1], &a, t0);
    if (a.staff != NULL) {
        gw_cli_staff_sign_out(&s);
    }
    return rc;
}
