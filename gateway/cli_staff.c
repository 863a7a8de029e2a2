/* The staff command line (docs/console.md#controls): `staff add` (as the database owner: the
 * argon2id hash of the password with libsodium, a TOTP secret shown as an otpauth:// URI and,
 * on a terminal, as a QR code), `staff sign-in` (password checked here against the stored
 * hash, the TOTP code checked by the database, a session token printed for the shell) and
 * `staff sign-out`; and the sign-in the finance commands use for `--staff`. Blocking: the
 * command line only, never an event loop. */
#include <jansson.h>
#include <liboath/oath.h>
#include <qrencode.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "gw_arena.h"
#include "gw_buf.h"
#include "gw_crypto.h"
#include "gw_limits.h"
#include "ldg_recon.h"

#include "banned.h"

#define STAFF_OUT_BYTES_MAX     ((size_t)64 * 1024)
#define STAFF_TOTP_SECRET_BYTES 20 /* RFC 4226's recommended 160 bits for HMAC-SHA1 */

_Static_assert(GW_STAFF_TOKEN_HEX_BYTES == 64, "struct gw_cli_session's token holds 64 hex");

static int staff_usage(void)
{
    (void)fputs(
        "usage: feegate staff add ID clerk|approver|auditor|admin [--name N]"
        "   (FEEGATE_ADMIN_DSN)\n"
        "       feegate staff sign-in ID     prints export FEEGATE_SESSION=...\n"
        "       feegate staff sign-out       ends FEEGATE_SESSION\n"
        "The password comes from FEEGATE_STAFF_PASSWORD, the code from FEEGATE_STAFF_TOTP,\n"
        "or both from the terminal.\n",
        stderr);
    return 2;
}

/* One line from the terminal with echo off (the password, the code). */
static bool staff_prompt(const char *what, bool hide, char *out, size_t cap)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (tty == NULL || !isatty(fileno(tty))) {
        if (tty != NULL) {
            (void)fclose(tty);
        }
        return false;
    }
    struct termios old;
    struct termios quiet;
    bool restore = hide && tcgetattr(fileno(tty), &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        (void)tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
    }
    (void)fprintf(tty, "%s: ", what);
    (void)fflush(tty);
    bool ok = fgets(out, (int)cap, tty) != NULL;
    if (restore) {
        (void)tcsetattr(fileno(tty), TCSAFLUSH, &old);
        (void)fputc('\n', tty);
    }
    (void)fclose(tty);
    out[ok ? strcspn(out, "\r\n") : 0] = '\0';
    return ok;
}

/* What to ask for: the environment variable, else the terminal's prompt. */
struct staff_ask {
    const char *env;
    const char *prompt;
    bool hide;
};

/* A secret from the environment, else from the terminal; false if neither gives one. */
static bool staff_secret(const struct staff_ask *ask, char *out, size_t cap)
{
    const char *v = getenv(ask->env);
    if (v != NULL && v[0] != '\0') {
        if (strlen(v) >= cap) {
            return false;
        }
        memcpy(out, v, strlen(v) + 1);
        return true;
    }
    return staff_prompt(ask->prompt, ask->hide, out, cap) && out[0] != '\0';
}

/* One call: `SELECT sql` with n parameters p. */
struct staff_q {
    const char *dsn;
    const char *sql;
    int n;
    const char *const *p;
};

static enum gw_err staff_call(const struct staff_q *q, struct gw_buf *out, struct gw_errbuf *eb)
{
    gw_buf_init(out, STAFF_OUT_BYTES_MAX);
    enum gw_err err = ldg_call_text_blocking(q->dsn, q->sql, q->n, q->p, out, eb);
    if (err != GW_OK) {
        gw_buf_release(out);
    }
    return err;
}

/* The QR code of text on the terminal, two modules per character cell. */
static void staff_qr(const char *text)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
    if (qr == NULL) {
        return;
    }
    int w = qr->width;
    for (int y = -2; y < w + 2; y += 2) {
        for (int x = -2; x < w + 2; x++) {
            bool top = y >= 0 && y < w && x >= 0 && x < w && (qr->data[y * w + x] & 1);
            bool bot =
                y + 1 >= 0 && y + 1 < w && x >= 0 && x < w && (qr->data[(y + 1) * w + x] & 1);
            /* Dark modules drawn as the background: light text on a dark terminal. */
            (void)fputs(top ? (bot ? " " : "\u2584") : (bot ? "\u2580" : "\u2588"), stdout);
        }
        (void)fputc('\n', stdout);
    }
    QRcode_free(qr);
}

/* The new member's password: FEEGATE_STAFF_PASSWORD, or 96 random bits in hex. */
static bool staff_new_password(char out[GW_STAFF_PASSWORD_BYTES_MAX + 1], bool *generated)
{
    const char *env = getenv("FEEGATE_STAFF_PASSWORD");
    if (env != NULL && env[0] != '\0') {
        size_t n = strlen(env);
        if (n < GW_STAFF_PASSWORD_BYTES_MIN || n > GW_STAFF_PASSWORD_BYTES_MAX) {
            (void)fprintf(stderr, "feegate: FEEGATE_STAFF_PASSWORD must be %d to %d bytes\n",
                          GW_STAFF_PASSWORD_BYTES_MIN, GW_STAFF_PASSWORD_BYTES_MAX);
            return false;
        }
        memcpy(out, env, n + 1);
        *generated = false;
        return true;
    }
    unsigned char pw[12];
    if (gw_random_bytes(pw, sizeof(pw)) != GW_OK) {
        (void)fputs("feegate: no random bytes\n", stderr);
        return false;
    }
    gw_hex_encode(pw, sizeof(pw), out);
    *generated = true;
    return true;
}

/* The TOTP secret: m->totp_b32 decoded when it is given (kept between demo runs), else 160
 * new random bits, written back to it in base32 without padding. */
static bool staff_totp_secret(char totp_b32[GW_CLI_TOTP_B32_BYTES], unsigned char *raw,
                              size_t raw_len)
{
    if (oath_init() != OATH_OK) {
        return false;
    }
    char *out = NULL;
    size_t out_len = 0;
    bool ok;
    if (totp_b32[0] != '\0') {
        ok = oath_base32_decode(totp_b32, strlen(totp_b32), &out, &out_len) == OATH_OK &&
             out_len == raw_len;
        if (ok) {
            memcpy(raw, out, raw_len);
        }
    } else {
        ok = gw_random_bytes(raw, raw_len) == GW_OK &&
             oath_base32_encode((const char *)raw, raw_len, &out, &out_len) == OATH_OK &&
             out_len < GW_CLI_TOTP_B32_BYTES;
        if (ok) {
            out[strcspn(out, "=")] = '\0'; /* otpauth:// takes base32 without padding */
            memcpy(totp_b32, out, strlen(out) + 1);
        }
    }
    gw_libc_free(out);
    oath_done();
    return ok;
}

enum gw_err gw_cli_staff_save(const char *admin_dsn, struct gw_cli_member *m, struct gw_errbuf *eb)
{
    unsigned char raw[STAFF_TOTP_SECRET_BYTES];
    char hex[2 * STAFF_TOTP_SECRET_BYTES + 1];
    if (!staff_totp_secret(m->totp_b32, raw, sizeof(raw))) {
        return gw_fail(eb, GW_ERR_INVALID, "no TOTP secret (a bad one given, or no randomness)");
    }
    gw_hex_encode(raw, sizeof(raw), hex);
    char hash[crypto_pwhash_STRBYTES];
    if (sodium_init() < 0 || crypto_pwhash_str(hash, m->password, strlen(m->password),
                                               crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                               crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        return gw_fail(eb, GW_ERR_NOMEM, "could not hash the password (out of memory?)");
    }
    const char *p[5] = { m->id, m->role, m->name, hash, hex };
    struct gw_buf out;
    const struct staff_q q = { admin_dsn, "feegate.staff_upsert($1, $2, $3, $4, $5)", 5, p };
    enum gw_err err = staff_call(&q, &out, eb);
    if (err == GW_OK) {
        gw_buf_release(&out);
    }
    return err;
}

static int staff_add(int argc, char **argv)
{
    const char *name = NULL;
    if (argc == 7 && strcmp(argv[5], "--name") == 0) {
        name = argv[6];
    } else if (argc != 5) {
        return staff_usage();
    }
    const char *dsn = getenv("FEEGATE_ADMIN_DSN");
    if (dsn == NULL || dsn[0] == '\0') {
        (void)fputs("feegate: staff add needs FEEGATE_ADMIN_DSN (the database owner)\n", stderr);
        return 2;
    }
    char password[GW_STAFF_PASSWORD_BYTES_MAX + 1];
    bool generated = false;
    if (!staff_new_password(password, &generated)) {
        return 1;
    }
    struct gw_cli_member m = {
        .id = argv[3], .role = argv[4], .name = name, .password = password, .totp_b32 = ""
    };
    struct gw_errbuf eb = { .msg = "" };
    int rc = 1;
    if (gw_cli_staff_save(dsn, &m, &eb) != GW_OK) {
        (void)fprintf(stderr, "feegate: staff %s not saved: %s\n", argv[3], eb.msg);
    } else {
        char uri[256];
        (void)snprintf(uri, sizeof(uri),
                       "otpauth://totp/feegate:%s?secret=%s&issuer=feegate&algorithm=SHA1"
                       "&digits=6&period=30",
                       argv[3], m.totp_b32);
        (void)printf("staff %s (%s) saved; its sessions ended\n", argv[3], argv[4]);
        if (generated) {
            (void)printf("password: %s\n", password);
        }
        (void)printf("totp: %s\n", uri);
        if (isatty(fileno(stdout))) {
            staff_qr(uri);
        }
        rc = 0;
    }
    sodium_memzero(password, sizeof(password));
    return rc;
}

/* Signs in: the stored hash checked here, the code by staff_sign_in. */
bool gw_cli_staff_sign_in(struct gw_cli_session *s)
{
    char password[GW_STAFF_PASSWORD_BYTES_MAX + 1];
    char code[16];
    static const struct staff_ask ask_pw = { "FEEGATE_STAFF_PASSWORD", "password", true };
    static const struct staff_ask ask_code = { "FEEGATE_STAFF_TOTP", "one-time code", false };
    if (!staff_secret(&ask_pw, password, sizeof(password)) ||
        !staff_secret(&ask_code, code, sizeof(code))) {
        (void)fprintf(stderr,
                      "feegate: staff %s needs a password and a one-time code "
                      "(FEEGATE_STAFF_PASSWORD and FEEGATE_STAFF_TOTP, or a terminal)\n",
                      s->staff);
        return false;
    }
    struct gw_buf out;
    struct gw_errbuf eb = { .msg = "" };
    const char *p1[1] = { s->staff };
    const struct staff_q q1 = { s->dsn, "feegate.staff_login_hash($1)", 1, p1 };
    if (staff_call(&q1, &out, &eb) != GW_OK) {
        (void)fprintf(stderr, "feegate: %s\n", eb.msg);
        return false;
    }
    bool pw_ok = sodium_init() >= 0 && out.len > 0 &&
                 crypto_pwhash_str_verify(gw_buf_str(&out), password, strlen(password)) == 0;
    gw_buf_release(&out);
    sodium_memzero(password, sizeof(password));
    char from[96];
    const char *user = getenv("USER");
    (void)snprintf(from, sizeof(from), "cli:%s", user != NULL ? user : "?");
    const char *p2[4] = { s->staff, pw_ok ? "true" : "false", code, from };
    const struct staff_q q2 = { s->dsn, "feegate.staff_sign_in($1, $2::bool, $3, $4)", 4, p2 };
    if (staff_call(&q2, &out, &eb) != GW_OK) {
        (void)fprintf(stderr, "feegate: %s\n", eb.msg);
        return false;
    }
    json_t *j = json_loads(gw_buf_str(&out), 0, NULL);
    gw_buf_release(&out);
    const char *status = json_string_value(json_object_get(j, "status"));
    const char *tok = json_string_value(json_object_get(j, "token"));
    bool ok = status != NULL && strcmp(status, "ok") == 0 && tok != NULL &&
              strlen(tok) == GW_STAFF_TOKEN_HEX_BYTES;
    if (ok) {
        memcpy(s->token, tok, GW_STAFF_TOKEN_HEX_BYTES + 1);
    } else {
        const char *msg = json_string_value(json_object_get(j, "message"));
        (void)fprintf(stderr, "feegate: sign-in of %s refused: %s\n", s->staff,
                      msg != NULL ? msg : "no answer");
    }
    json_decref(j);
    return ok;
}

void gw_cli_staff_sign_out(const struct gw_cli_session *s)
{
    struct gw_buf out;
    struct gw_errbuf eb = { .msg = "" };
    const char *p[1] = { s->token };
    const struct staff_q q = { s->dsn, "feegate.staff_sign_out($1)::text", 1, p };
    if (staff_call(&q, &out, &eb) == GW_OK) {
        gw_buf_release(&out);
    } else {
        (void)fprintf(stderr, "feegate: sign-out: %s\n", eb.msg);
    }
}

int gw_cli_staff(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[2], "add") == 0) {
        return staff_add(argc, argv);
    }
    const char *dsn = getenv("FEEGATE_DSN");
    if (argc < 3) {
        return staff_usage();
    }
    if (dsn == NULL || dsn[0] == '\0') {
        (void)fputs("feegate: set FEEGATE_DSN\n", stderr);
        return 2;
    }
    struct gw_cli_session s = { .dsn = dsn, .staff = argc == 4 ? argv[3] : NULL };
    if (argc == 4 && strcmp(argv[2], "sign-in") == 0) {
        if (!gw_cli_staff_sign_in(&s)) {
            return 1;
        }
        (void)printf("export FEEGATE_SESSION='%s'\n", s.token);
        return 0;
    }
    const char *session = getenv("FEEGATE_SESSION");
    if (argc == 3 && strcmp(argv[2], "sign-out") == 0 && session != NULL &&
        strlen(session) < sizeof(s.token)) {
        memcpy(s.token, session, strlen(session) + 1);
        gw_cli_staff_sign_out(&s);
        return 0;
    }
    return staff_usage();
}
