/* supervisor: restarts a crashing child with back-off, stops the rest gracefully. */
#include "sdtest.h"
#include "supervisor.h"

#include <signal.h>
#include <unistd.h>

static void test_restart_and_graceful_stop(sdt_t *t)
{
    char marker[128];
    snprintf(marker, sizeof marker, "sup_test_%d.log", (int)getpid());
    remove(marker);
    supervisor_opts_t o = {.grace_s = 5, .backoff_min_s = 0.1, .backoff_max_s = 0.4, .stable_s = 60};
    supervisor_t *s = supervisor_new(&o);
    CHECK(t, s != NULL);
    sd_err_t e;
    char *crasher[] = {"/bin/sh", "-c", "exit 3", NULL};
    char script[512];
    /* a well-behaved stage: records that it got SIGTERM and exits 0 */
    snprintf(script, sizeof script,
             "trap 'echo term >> %s; exit 0' TERM; while true; do sleep 0.05; done", marker);
    char *steady[] = {"/bin/sh", "-c", script, NULL};
    CHECK_EQ_INT(t, supervisor_add(s, "crasher", crasher, &e), SD_OK);
    CHECK_EQ_INT(t, supervisor_add(s, "steady", steady, &e), SD_OK);
    CHECK_EQ_INT(t, supervisor_run(s, 1.5, &e), SD_OK);
    int r0 = supervisor_restarts(s, 0), r1 = supervisor_restarts(s, 1);
    CHECK_MSG(t, r0 >= 2 && r0 <= 8, "crasher restarted %d times in 1.5 s with 0.1..0.4 s back-off", r0);
    CHECK_EQ_INT(t, r1, 0);
    FILE *f = fopen(marker, "r");
    char line[32] = "";
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = 0;
        fclose(f);
    }
    CHECK_MSG(t, !strncmp(line, "term", 4), "steady child did not get SIGTERM");
    remove(marker);
    supervisor_destroy(&s);
    CHECK(t, s == NULL);
}

static void test_bad_args(sdt_t *t)
{
    supervisor_t *s = supervisor_new(NULL);
    sd_err_t e;
    char *empty[] = {NULL};
    CHECK_EQ_INT(t, supervisor_add(s, "x", empty, &e), SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "empty command");
    char *missing[] = {"/nonexistent/binary", NULL};
    CHECK_EQ_INT(t, supervisor_add(s, "missing", missing, &e), SD_OK);
    /* exec failure shows up as exit 127 and restarts, never a hang or crash */
    supervisor_opts_t o = {.grace_s = 1, .backoff_min_s = 0.05, .backoff_max_s = 0.1, .stable_s = 60};
    supervisor_t *s2 = supervisor_new(&o);
    CHECK_EQ_INT(t, supervisor_add(s2, "missing", missing, &e), SD_OK);
    CHECK_EQ_INT(t, supervisor_run(s2, 0.5, &e), SD_OK);
    CHECK(t, supervisor_restarts(s2, 0) >= 2);
    supervisor_destroy(&s2);
    supervisor_destroy(&s);
}

SDT_MAIN(SDT_CASE(test_restart_and_graceful_stop), SDT_CASE(test_bad_args))
