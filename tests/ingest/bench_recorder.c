/* Recorder throughput: 1 MiB records (a 512x512 f32 frame) appended as fast as
 * the recorder takes them, fdatasync every 32 records, both backends, against
 * the anchor of a plain synchronous loop (pwrite + fdatasync every 32 in the
 * caller's thread — what a naive receiver would do, blocking acquisition).
 * Prints MB/s and the longest time one append call held the caller (the
 * number that matters for "never slows the console").
 * usage: ingest_bench_recorder [N_RECORDS] [DIR] */
#include "ingest.h"
#include "sd_clock.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { REC = 1 << 20 };

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* p99 of the per-call times (ms) in t[0..n) */
static double p99(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    return t[(int)(0.99 * (n - 1))];
}

static double run(int backend, int n, const char *dir, double *max_call_ms, double *p99_ms)
{
    double *times = malloc(sizeof(double) * (size_t)n * 4);
    int nt = 0;
    char p[512], ip[600];
    snprintf(p, sizeof p, "%s/bench_rec_%d.sdrec", dir, (int)getpid());
    snprintf(ip, sizeof ip, "%s.idx", p);
    unlink(p);
    unlink(ip);
    ingest_recorder_opts_t o;
    ingest_recorder_opts_default(&o);
    o.backend = backend;
    o.sync_every = 32;
    uint8_t *buf = malloc(REC);
    memset(buf, 7, REC);
    ingest_recorder_t *r = ingest_recorder_open(p, &o, NULL);
    if (!r) {
        free(times);
        free(buf);
        return -1;
    }
    int64_t t0 = sd_clock_mono_ns();
    *max_call_ms = 0;
    for (int i = 0; i < n; i++) {
        const void *parts[2] = {"frame", buf};
        size_t lens[2] = {5, REC - 64};
        for (;;) {
            int64_t c0 = sd_clock_mono_ns();
            int rc = ingest_recorder_append(r, 0, SD_REC_KIND_FRAME, i, 2, parts, lens, NULL, NULL);
            double ms = (double)(sd_clock_mono_ns() - c0) * 1e-6;
            if (ms > *max_call_ms) *max_call_ms = ms;
            if (nt < 4 * n) times[nt++] = ms;
            if (rc == SD_OK) break;
            ingest_recorder_poll(r, NULL); /* memory full: the disk is the limit */
            usleep(100);
        }
    }
    ingest_recorder_flush(r, NULL);
    double s = (double)(sd_clock_mono_ns() - t0) * 1e-9;
    ingest_recorder_destroy(&r);
    unlink(p);
    unlink(ip);
    free(buf);
    *p99_ms = p99(times, nt);
    free(times);
    return (double)n * REC / s / 1e6;
}

static double run_sync_anchor(int n, const char *dir, double *max_call_ms)
{
    char p[512];
    snprintf(p, sizeof p, "%s/bench_sync_%d.bin", dir, (int)getpid());
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    uint8_t *buf = malloc(REC);
    memset(buf, 7, REC);
    int64_t t0 = sd_clock_mono_ns();
    *max_call_ms = 0;
    for (int i = 0; i < n; i++) {
        int64_t c0 = sd_clock_mono_ns();
        if (pwrite(fd, buf, REC, (off_t)i * REC) != REC) return -1;
        if ((i + 1) % 32 == 0) fdatasync(fd);
        double ms = (double)(sd_clock_mono_ns() - c0) * 1e-6;
        if (ms > *max_call_ms) *max_call_ms = ms;
    }
    fdatasync(fd);
    double s = (double)(sd_clock_mono_ns() - t0) * 1e-9;
    close(fd);
    unlink(p);
    free(buf);
    return (double)n * REC / s / 1e6;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 512;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    if (n < 32) n = 32;
    double m_u, m_p, m_a, q_u = 0, q_p = 0;
    double u = run(INGEST_BACKEND_URING, n, dir, &m_u, &q_u);
    double pw = run(INGEST_BACKEND_PWRITE, n, dir, &m_p, &q_p);
    double a = run_sync_anchor(n, dir, &m_a);
    printf("recorder, %d x 1 MiB records, fdatasync every 32, dir %s\n", n, dir);
    if (u > 0)
        printf("  io_uring backend : %8.1f MB/s  append call p99 %7.3f ms, max %7.3f ms\n", u,
               q_u, m_u);
    else printf("  io_uring backend : unavailable here\n");
    printf("  pwrite backend   : %8.1f MB/s  append call p99 %7.3f ms, max %7.3f ms\n", pw, q_p,
           m_p);
    printf("  anchor (sync loop in the caller): %8.1f MB/s  longest call %7.3f ms\n", a, m_a);
    if (u > 0) printf("  ratio uring/anchor %.2f, pwrite/anchor %.2f\n", u / a, pw / a);
    return 0;
}
