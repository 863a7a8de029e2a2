/* gateway/routing.c, reload: the settings that need a restart ([server] listen, public_url,
 * loops, and all of [database]) are not taken over by SIGHUP; a file that changes one of them
 * is reloaded for the rest, and reload_partial is logged, for as long as the file differs
 * from what the server runs with. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "request.h"
#include "routing.h"

#include "banned.h"

static char dir[] = "/tmp/fg_reload_XXXXXX";
static char ini[64];
static char log_path[64];

static void write_ini(const char *database_extra)
{
    FILE *f = fopen(ini, "w");
    assert_non_null(f);
    (void)fprintf(f,
                  "[server]\nlisten = 127.0.0.1:18080\npublic_url = http://127.0.0.1:18080\n"
                  "loops = 2\n[database]\ndsn = dbname=feegate\nconns_per_loop = 4\n%s\n",
                  database_extra);
    assert_int_equal(fclose(f), 0);
}

/* Reloads with stderr (the log) going to log_path; returns the reload_partial lines logged. */
static int reload_partial_lines(struct gw_server *srv)
{
    int saved = dup(STDERR_FILENO);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    gw_routing_reload(srv);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(fd);
    close(saved);
    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    int reloaded = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        n += strstr(line, "reload_partial") != NULL;
        reloaded += strstr(line, "reloaded") != NULL;
    }
    (void)fclose(f);
    assert_true(reloaded >= 1); /* the rest of the file was taken over */
    return n;
}

static void test_database_changes_need_a_restart(void **state)
{
    (void)state;
    static struct gw_server srv;
    struct gw_errbuf eb = { .msg = "" };
    write_ini("");
    assert_int_equal(gw_config_load(ini, &srv.cfg, &eb), GW_OK);
    gw_routing_init(&srv, &srv.cfg);
    assert_int_equal(reload_partial_lines(&srv), 0);
    write_ini("query_timeout_ms = 2000");
    assert_int_equal(reload_partial_lines(&srv), 1);
    assert_int_equal(reload_partial_lines(&srv), 1); /* still differs from what runs */
    write_ini("conns_per_loop = 5");
    assert_int_equal(reload_partial_lines(&srv), 1);
    write_ini("");
    assert_int_equal(reload_partial_lines(&srv), 0);
    gw_routing_free(&srv);
}

int main(void)
{
    if (mkdtemp(dir) == NULL) {
        return 1;
    }
    (void)snprintf(ini, sizeof(ini), "%s/feegate.ini", dir);
    (void)snprintf(log_path, sizeof(log_path), "%s/log", dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_database_changes_need_a_restart),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    (void)unlink(ini);
    (void)unlink(log_path);
    (void)rmdir(dir);
    return rc;
}
