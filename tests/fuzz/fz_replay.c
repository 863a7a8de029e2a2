/* Runs a fuzz target's LLVMFuzzerTestOneInput over files and directories of inputs, without
 * libFuzzer: the gcc and ASan builds replay the checked-in seeds (and any crash input added
 * to the corpus) as an ordinary test. Usage: fuzz_NAME_replay PATH... */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "gw_arena.h"
#include "gw_err.h"

#include "banned.h"

#define FZ_INPUT_BYTES_MAX ((size_t)1024 * 1024)

/* NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_file(const char *path, unsigned char *buf, long *n_run)
{
    FILE *f = fopen(path, "rbe");
    if (f == NULL) {
        (void)fprintf(stderr, "fz_replay: %s: %s\n", path, GW_STRERROR(errno));
        return 1;
    }
    size_t n = fread(buf, 1, FZ_INPUT_BYTES_MAX, f);
    bool bad = ferror(f) != 0;
    (void)fclose(f);
    if (bad) {
        (void)fprintf(stderr, "fz_replay: could not read %s\n", path);
        return 1;
    }
    /* A buffer of exactly the input's size, so that ASan sees a read past its end. */
    unsigned char *exact = gw_xmalloc(n > 0 ? n : 1);
    memcpy(exact, buf, n);
    (void)LLVMFuzzerTestOneInput(exact, n);
    gw_xfree(exact);
    (*n_run)++;
    return 0;
}

static int fz_path(const char *path, unsigned char *buf, long *n_run)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        (void)fprintf(stderr, "fz_replay: %s: %s\n", path, GW_STRERROR(errno));
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        return fz_file(path, buf, n_run);
    }
    DIR *d = opendir(path);
    if (d == NULL) {
        (void)fprintf(stderr, "fz_replay: %s: %s\n", path, GW_STRERROR(errno));
        return 1;
    }
    int rc = 0;
    const struct dirent *e;
    /* NOLINTNEXTLINE(concurrency-mt-unsafe): one thread, one directory stream at a time */
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char child[4096];
        int w = snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
        rc = w > 0 && (size_t)w < sizeof(child) ? fz_file(child, buf, n_run) : 1;
    }
    (void)closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        (void)fprintf(stderr, "usage: %s PATH...\n", argv[0]);
        return 2;
    }
    unsigned char *buf = gw_xcalloc(FZ_INPUT_BYTES_MAX, 1);
    long n_run = 0;
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        rc = fz_path(argv[i], buf, &n_run);
    }
    gw_xfree(buf);
    (void)printf("fz_replay: %ld inputs, %s\n", n_run, rc == 0 ? "no failure" : "stopped");
    return rc != 0 || n_run == 0 ? 1 : 0;
}
