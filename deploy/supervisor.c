#include "supervisor.h"

#include "sd_clock.h"
#include "sd_log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct child {
    char name[64];
    char *argv[SUPERVISOR_MAX_ARGS + 1];
    pid_t pid;            /* 0 when not running */
    int restarts;
    double backoff_s;
    int64_t started_ns;
    int64_t restart_at_ns;/* when a dead child is due to start again */
} child_t;

struct supervisor {
    supervisor_opts_t o;
    int n;
    child_t c[SUPERVISOR_MAX_CHILDREN];
};

supervisor_t *supervisor_new(const supervisor_opts_t *opts)
{
    supervisor_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->o = opts ? *opts
                : (supervisor_opts_t){.grace_s = 10, .backoff_min_s = 0.5, .backoff_max_s = 30,
                                      .stable_s = 60};
    return s;
}

void supervisor_destroy(supervisor_t **p)
{
    if (!p || !*p)
        return;
    for (int i = 0; i < (*p)->n; i++)
        for (int a = 0; (*p)->c[i].argv[a]; a++)
            free((*p)->c[i].argv[a]);
    free(*p);
    *p = NULL;
}

int supervisor_add(supervisor_t *s, const char *name, char *const argv[], sd_err_t *e)
{
    if (s->n >= SUPERVISOR_MAX_CHILDREN)
        return sd_err_set(e, SD_ENOMEM, "too many children (max %d)", SUPERVISOR_MAX_CHILDREN);
    child_t *c = &s->c[s->n];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    int a = 0;
    for (; argv[a]; a++) {
        if (a >= SUPERVISOR_MAX_ARGS)
            return sd_err_set(e, SD_EINVAL, "%s: more than %d arguments", name, SUPERVISOR_MAX_ARGS);
        c->argv[a] = strdup(argv[a]);
        if (!c->argv[a])
            return sd_err_set(e, SD_ENOMEM, "out of memory");
    }
    if (a == 0)
        return sd_err_set(e, SD_EINVAL, "%s: empty command", name);
    c->backoff_s = s->o.backoff_min_s;
    s->n++;
    return SD_OK;
}

int supervisor_restarts(const supervisor_t *s, int i)
{
    return (i >= 0 && i < s->n) ? s->c[i].restarts : -1;
}

static int spawn(child_t *c, const sigset_t *orig_mask)
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* a stage must not outlive its supervisor (even one killed with -9) */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() == 1)
            _exit(0);
        sigprocmask(SIG_SETMASK, orig_mask, NULL);
        execv(c->argv[0], c->argv);
        _exit(127);
    }
    c->pid = pid;
    c->started_ns = sd_clock_mono_ns();
    sd_log(SD_LOG_INFO, "run", "started %s (pid %d)", c->name, (int)pid);
    return 0;
}

static child_t *by_pid(supervisor_t *s, pid_t pid)
{
    for (int i = 0; i < s->n; i++)
        if (s->c[i].pid == pid)
            return &s->c[i];
    return NULL;
}

/* Reaps every exited child; schedules restarts unless stopping. */
static void reap(supervisor_t *s, int stopping)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        child_t *c = by_pid(s, pid);
        if (!c)
            continue;
        c->pid = 0;
        if (stopping)
            continue;
        int64_t now = sd_clock_mono_ns();
        if ((double)(now - c->started_ns) / 1e9 > s->o.stable_s)
            c->backoff_s = s->o.backoff_min_s;
        if (WIFSIGNALED(status))
            sd_log(SD_LOG_WARN, "run", "%s (pid %d) killed by signal %d; restarting in %.1f s",
                   c->name, (int)pid, WTERMSIG(status), c->backoff_s);
        else
            sd_log(SD_LOG_WARN, "run", "%s (pid %d) exited with status %d; restarting in %.1f s",
                   c->name, (int)pid, WEXITSTATUS(status), c->backoff_s);
        c->restart_at_ns = now + (int64_t)(c->backoff_s * 1e9);
        c->backoff_s *= 2;
        if (c->backoff_s > s->o.backoff_max_s)
            c->backoff_s = s->o.backoff_max_s;
    }
}

static void stop_all(supervisor_t *s)
{
    for (int i = s->n - 1; i >= 0; i--)
        if (s->c[i].pid > 0)
            kill(s->c[i].pid, SIGTERM);
    int64_t deadline = sd_clock_mono_ns() + (int64_t)(s->o.grace_s * 1e9);
    for (;;) {
        reap(s, 1);
        int alive = 0;
        for (int i = 0; i < s->n; i++)
            alive += s->c[i].pid > 0;
        if (!alive)
            return;
        if (sd_clock_mono_ns() > deadline)
            break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < s->n; i++)
        if (s->c[i].pid > 0) {
            sd_log(SD_LOG_WARN, "run", "%s did not stop within %.0f s: killing", s->c[i].name,
                   s->o.grace_s);
            kill(s->c[i].pid, SIGKILL);
            waitpid(s->c[i].pid, NULL, 0);
            s->c[i].pid = 0;
        }
}

int supervisor_run(supervisor_t *s, double max_seconds, sd_err_t *e)
{
    sigset_t set, orig;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &orig);
    for (int i = 0; i < s->n; i++) {
        int rc = spawn(&s->c[i], &orig);
        if (rc) {
            stop_all(s);
            sigprocmask(SIG_SETMASK, &orig, NULL);
            return sd_err_set(e, SD_EIO, "cannot start %s: %s", s->c[i].name, strerror(-rc));
        }
    }
    int64_t end = max_seconds > 0 ? sd_clock_mono_ns() + (int64_t)(max_seconds * 1e9) : 0;
    int stop = 0;
    while (!stop) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            sd_log(SD_LOG_INFO, "run", "signal %d: stopping all stages", sig);
            stop = 1;
            break;
        }
        reap(s, 0);
        int64_t now = sd_clock_mono_ns();
        for (int i = 0; i < s->n; i++) {
            child_t *c = &s->c[i];
            if (c->pid == 0 && now >= c->restart_at_ns) {
                c->restarts++;
                if (spawn(c, &orig))
                    c->restart_at_ns = now + (int64_t)(c->backoff_s * 1e9);
            }
        }
        if (end && now >= end)
            stop = 1;
    }
    stop_all(s);
    sigprocmask(SIG_SETMASK, &orig, NULL);
    return SD_OK;
}
