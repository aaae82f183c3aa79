/* The recorder (ingest_recorder_*), with both backends: everything appended
 * is in the file in order and durable after flush; syncs happen every N
 * records and every T seconds; a reopened recording is recovered and appended
 * to; a write failure (EFBIG through RLIMIT_FSIZE, as ENOSPC would) is
 * alerted, counted, leaves a valid file and recording resumes; memory and disk
 * budget are bounded and refusals are reported, never silent. */
#include "ingest.h"
#include "sdtest.h"

#include <liburing.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void tmp_path(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "/tmp/sd_recorder_test_%d_%s.sdrec", (int)getpid(), tag);
    char ip[600];
    snprintf(ip, sizeof ip, "%s.idx", buf);
    unlink(buf);
    unlink(ip);
}

static void rm_rec(const char *p)
{
    char ip[600];
    snprintf(ip, sizeof ip, "%s.idx", p);
    unlink(p);
    unlink(ip);
}

static const char *bname(int b) { return b == INGEST_BACKEND_URING ? "uring" : "pwrite"; }

static int uring_available(void)
{
    struct io_uring ring;
    if (io_uring_queue_init(4, &ring, 0) < 0) return 0;
    io_uring_queue_exit(&ring);
    return 1;
}

/* Opens with the backend; where io_uring is blocked (containers) the uring
 * cases say so and pass without running (the pwrite cases still run). */
#define OPEN_OR_SKIP(r, p, o, backend)                                                     \
    do {                                                                                   \
        if ((backend) == INGEST_BACKEND_URING && !uring_available()) {                     \
            fprintf(stderr, "io_uring unavailable here: uring case not run\n");            \
            return;                                                                        \
        }                                                                                  \
        (r) = open_b(p, o, backend);                                                       \
    } while (0)

static ingest_recorder_t *open_b(const char *p, ingest_recorder_opts_t *o, int backend)
{
    o->backend = backend;
    sd_err_t e;
    ingest_recorder_t *r = ingest_recorder_open(p, o, &e);
    if (!r) fprintf(stderr, "open %s (%s): %s\n", p, bname(backend), e.msg);
    return r;
}

/* Record i: kind FRAME, key i, parts "frame", then i%5 + 1 payload parts. */
static int append_i(ingest_recorder_t *r, int i, size_t psize, uint8_t *pay)
{
    const void *parts[8];
    size_t lens[8];
    parts[0] = "frame";
    lens[0] = 5;
    int np = 1 + i % 5;
    for (int k = 1; k <= np; k++) {
        uint8_t *q = pay + (size_t)(k - 1) * psize; /* pay holds 5 * psize bytes */
        memset(q, (uint8_t)(i * 3 + k), psize);
        parts[k] = q;
        lens[k] = psize / (size_t)k;
    }
    return ingest_recorder_append(r, 1000 + i, SD_REC_KIND_FRAME, i, (uint32_t)np + 1, parts,
                                  lens, NULL, NULL);
}

static int check_i(const sd_rec_record_t *rec, int i, size_t psize)
{
    int np = 1 + i % 5;
    if (rec->key != i || rec->t_ns != 1000 + i || rec->n_parts != (uint32_t)np + 1 ||
        rec->lens[0] != 5 || memcmp(rec->parts[0], "frame", 5))
        return 0;
    for (int k = 1; k <= np; k++) {
        if (rec->lens[k] != psize / (size_t)k) return 0;
        for (size_t j = 0; j < rec->lens[k]; j++)
            if (rec->parts[k][j] != (uint8_t)(i * 3 + k)) return 0;
    }
    return 1;
}

static void run_basic(sdt_t *t, int backend)
{
    char p[512];
    tmp_path(p, sizeof p, bname(backend));
    ingest_recorder_opts_t o;
    ingest_recorder_opts_default(&o);
    o.sync_every = 8;
    o.arena_bytes = 1 << 20;
    o.max_inflight = 16;
    ingest_recorder_t *r;
    OPEN_OR_SKIP(r, p, &o, backend);
    CHECK(t, r != NULL);
    if (!r) return;
    enum { N = 300, PS = 5000 };
    uint8_t *pay = malloc(5 * PS);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        int rc;
        while ((rc = append_i(r, i, PS, pay)) == SD_EAGAIN) ingest_recorder_poll(r, NULL);
        ok += rc == SD_OK;
    }
    CHECK_EQ_INT(t, ok, N);
    sd_err_t e;
    CHECK_EQ_INT(t, ingest_recorder_flush(r, &e), SD_OK);
    ingest_recorder_stats_t s;
    ingest_recorder_stats(r, &s);
    CHECK_EQ_INT(t, s.backend, backend);
    CHECK_EQ_INT(t, s.appended, N);
    CHECK_EQ_INT(t, s.written, N);
    CHECK_EQ_INT(t, s.durable, N);
    CHECK_EQ_INT(t, s.lost, 0);
    CHECK_MSG(t, s.syncs >= N / 8, "%llu syncs for %d records every 8",
              (unsigned long long)s.syncs, N);
    CHECK_EQ_INT(t, s.inflight_bytes, 0);
    if (backend == INGEST_BACKEND_URING)
        fprintf(stderr, "io_uring registered buffers: %d\n", s.registered_buffers);
    int good = 0;
    for (int i = 0; i < N; i += 7) {
        sd_rec_record_t rec;
        good += ingest_recorder_read(r, (uint64_t)i, &rec, &e) == SD_OK && check_i(&rec, i, PS);
    }
    CHECK_EQ_INT(t, good, (N + 6) / 7);
    struct stat st;
    stat(p, &st);
    CHECK_EQ_INT(t, (uint64_t)st.st_size, s.bytes);
    ingest_recorder_destroy(&r);
    CHECK(t, r == NULL);

    /* an independent reader sees all of it, through the recorder's index */
    sd_rec_reader_t *rd = sd_rec_reader_open(p, &e);
    CHECK(t, rd != NULL);
    if (rd) {
        CHECK_EQ_INT(t, sd_rec_reader_count(rd), N);
        CHECK_EQ_INT(t, sd_rec_reader_info(rd)->index_used, 1);
        CHECK_EQ_INT(t, sd_rec_reader_info(rd)->torn_bytes, 0);
        good = 0;
        for (int i = 0; i < N; i++) {
            sd_rec_record_t rec;
            good += sd_rec_reader_read(rd, (uint64_t)i, &rec, &e) == SD_OK && check_i(&rec, i, PS);
        }
        CHECK_EQ_INT(t, good, N);
    }
    sd_rec_reader_destroy(&rd);

    /* reopen after a crash mid-append (a torn tail): recovered, appended to */
    FILE *f = fopen(p, "ab");
    fwrite("\x53\x44\x52\x31\xff\x00\x00\x00garbage", 1, 15, f);
    fclose(f);
    r = open_b(p, &o, backend);
    CHECK(t, r != NULL);
    if (r) {
        for (int i = N; i < N + 10; i++) CHECK_EQ_INT(t, append_i(r, i, 100, pay), SD_OK);
        CHECK_EQ_INT(t, ingest_recorder_flush(r, &e), SD_OK);
        ingest_recorder_stats(r, &s);
        CHECK_EQ_INT(t, s.durable, N + 10);
        ingest_recorder_destroy(&r);
        rd = sd_rec_reader_open(p, &e);
        CHECK(t, rd && sd_rec_reader_count(rd) == N + 10);
        sd_rec_record_t rec;
        CHECK(t, rd && sd_rec_reader_read(rd, N + 9, &rec, &e) == SD_OK &&
                     check_i(&rec, N + 9, 100));
        CHECK(t, rd && sd_rec_reader_read(rd, N - 1, &rec, &e) == SD_OK &&
                     check_i(&rec, N - 1, PS));
        sd_rec_reader_destroy(&rd);
    }
    free(pay);
    rm_rec(p);
}

static void test_basic_uring(sdt_t *t) { run_basic(t, INGEST_BACKEND_URING); }
static void test_basic_pwrite(sdt_t *t) { run_basic(t, INGEST_BACKEND_PWRITE); }

static void run_time_sync(sdt_t *t, int backend)
{
    char p[512];
    tmp_path(p, sizeof p, "tsync");
    ingest_recorder_opts_t o;
    ingest_recorder_opts_default(&o);
    o.sync_every = 100000;
    o.sync_interval_s = 0.05;
    ingest_recorder_t *r;
    OPEN_OR_SKIP(r, p, &o, backend);
    CHECK(t, r != NULL);
    if (!r) return;
    uint8_t pay[5 * 64];
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(t, append_i(r, i, 64, pay), SD_OK);
    ingest_recorder_stats_t s;
    for (int k = 0; k < 400; k++) { /* up to 2 s */
        ingest_recorder_poll(r, NULL);
        ingest_recorder_stats(r, &s);
        if (s.durable == 3) break;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    CHECK_MSG(t, s.durable == 3, "%s: durable %llu of 3 after the sync interval", bname(backend),
              (unsigned long long)s.durable);
    /* a requested sync (series end) */
    CHECK_EQ_INT(t, append_i(r, 3, 64, pay), SD_OK);
    ingest_recorder_request_sync(r);
    for (int k = 0; k < 400 && s.durable < 4; k++) {
        ingest_recorder_poll(r, NULL);
        ingest_recorder_stats(r, &s);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    CHECK_EQ_INT(t, s.durable, 4);
    ingest_recorder_destroy(&r);
    rm_rec(p);
}

static void test_time_sync_uring(sdt_t *t) { run_time_sync(t, INGEST_BACKEND_URING); }
static void test_time_sync_pwrite(sdt_t *t) { run_time_sync(t, INGEST_BACKEND_PWRITE); }

typedef struct alerts {
    int n, last_code, n_ok;
    char last[1024];
} alerts_t;

static void on_alert(void *ud, int code, const char *msg)
{
    alerts_t *a = ud;
    a->n++;
    if (code == SD_OK) a->n_ok++;
    else {
        a->last_code = code;
        snprintf(a->last, sizeof a->last, "%s", msg);
    }
}

/* The disk "fills" at 64 KiB (RLIMIT_FSIZE with SIGXFSZ ignored: writes past
 * it fail with EFBIG exactly as they would with ENOSPC). */
static void run_disk_full(sdt_t *t, int backend)
{
    char p[512];
    tmp_path(p, sizeof p, "full");
    alerts_t al = {0};
    ingest_recorder_opts_t o;
    ingest_recorder_opts_default(&o);
    o.sync_every = 4;
    o.retry_s = 0.05;
    o.min_free_bytes = 0;
    o.alert = on_alert;
    o.alert_ud = &al;
    ingest_recorder_t *r;
    OPEN_OR_SKIP(r, p, &o, backend);
    CHECK(t, r != NULL);
    if (!r) return;
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    signal(SIGXFSZ, SIG_IGN);
    CHECK_EQ_INT(t, setrlimit(RLIMIT_FSIZE, &lim), 0);
    uint8_t *pay = malloc(5 * 4000);
    int ok = 0, refused = 0;
    for (int i = 0; i < 60; i++) {
        int rc = append_i(r, i, 4000, pay);
        ok += rc == SD_OK;
        refused += rc != SD_OK;
        ingest_recorder_poll(r, NULL);
    }
    sd_err_t e;
    int frc = ingest_recorder_flush(r, &e);
    ingest_recorder_stats_t s;
    ingest_recorder_stats(r, &s);
    CHECK_MSG(t, s.lost > 0 && al.last_code == SD_EIO, "%s: lost %llu, alert code %d",
              bname(backend), (unsigned long long)s.lost, al.last_code);
    CHECK_STR_CONTAINS(t, al.last, "File too large");
    CHECK_STR_CONTAINS(t, al.last, "lost");
    CHECK_EQ_INT(t, s.appended, ok);
    CHECK_EQ_INT(t, s.written + s.lost, (uint64_t)ok);
    (void)frc;
    struct stat st;
    stat(p, &st);
    CHECK_MSG(t, (uint64_t)st.st_size <= 64 * 1024 && (uint64_t)st.st_size == s.bytes,
              "file %lld bytes, recorder says %llu", (long long)st.st_size,
              (unsigned long long)s.bytes);
    /* the disk frees up: recording resumes after retry_s, the file stays valid */
    setrlimit(RLIMIT_FSIZE, &old);
    uint64_t written_before = s.written;
    struct timespec ts = {0, 80000000};
    nanosleep(&ts, NULL);
    int resumed = 0;
    for (int i = 100; i < 110; i++) resumed += append_i(r, i, 100, pay) == SD_OK;
    CHECK_EQ_INT(t, resumed, 10);
    CHECK_EQ_INT(t, ingest_recorder_flush(r, &e), SD_OK);
    CHECK(t, al.n_ok >= 1); /* "resuming" was announced */
    ingest_recorder_destroy(&r);
    sd_rec_reader_t *rd = sd_rec_reader_open(p, &e);
    CHECK(t, rd != NULL);
    if (rd) {
        CHECK_EQ_INT(t, sd_rec_reader_count(rd), written_before + 10);
        CHECK_EQ_INT(t, sd_rec_reader_info(rd)->torn_bytes, 0);
        CHECK_EQ_INT(t, sd_rec_reader_info(rd)->n_corrupt, 0);
        sd_rec_record_t rec;
        CHECK(t, sd_rec_reader_read(rd, written_before, &rec, &e) == SD_OK && rec.key == 100);
    }
    sd_rec_reader_destroy(&rd);
    free(pay);
    signal(SIGXFSZ, SIG_DFL);
    rm_rec(p);
}

static void test_disk_full_uring(sdt_t *t) { run_disk_full(t, INGEST_BACKEND_URING); }
static void test_disk_full_pwrite(sdt_t *t) { run_disk_full(t, INGEST_BACKEND_PWRITE); }

/* Input faster than the disk with a tiny arena: every append is either taken
 * (and then in the file, in order) or refused with SD_EAGAIN — none vanishes. */
static void run_bounded(sdt_t *t, int backend)
{
    char p[512];
    tmp_path(p, sizeof p, "bounded");
    ingest_recorder_opts_t o;
    ingest_recorder_opts_default(&o);
    o.arena_bytes = 64 * 1024;
    o.max_inflight = 4;
    o.sync_every = 2;
    ingest_recorder_t *r;
    OPEN_OR_SKIP(r, p, &o, backend);
    CHECK(t, r != NULL);
    if (!r) return;
    uint8_t *pay = malloc(5 * 70000);
    int ok = 0, again = 0, other = 0;
    int64_t *keys = malloc(2000 * sizeof *keys);
    for (int i = 0; i < 2000; i++) {
        int rc = append_i(r, i, 3000, pay);
        if (rc == SD_OK) keys[ok++] = i;
        else if (rc == SD_EAGAIN) again++;
        else other++;
    }
    fprintf(stderr, "%s: 2000 appends without waiting: %d taken, %d refused (EAGAIN)\n",
            bname(backend), ok, again);
    CHECK_EQ_INT(t, other, 0);
    sd_err_t e;
    /* a record larger than the in-flight memory is refused outright */
    const void *parts[1] = {pay};
    size_t lens[1] = {70000};
    CHECK_EQ_INT(t, ingest_recorder_append(r, 0, 0, 0, 1, parts, lens, NULL, &e), SD_EINVAL);
    CHECK_EQ_INT(t, ingest_recorder_flush(r, &e), SD_OK);
    ingest_recorder_stats_t s;
    ingest_recorder_stats(r, &s);
    CHECK_EQ_INT(t, s.refused, again + 1);
    CHECK_EQ_INT(t, s.durable, ok);
    ingest_recorder_destroy(&r);
    sd_rec_reader_t *rd = sd_rec_reader_open(p, &e);
    int match = 0;
    for (int i = 0; rd && i < ok; i++)
        match += sd_rec_reader_entry(rd, (uint64_t)i)->key == keys[i];
    CHECK_EQ_INT(t, match, ok);
    sd_rec_reader_destroy(&rd);
    free(keys);
    free(pay);
    rm_rec(p);
}

static void test_bounded_uring(sdt_t *t) { run_bounded(t, INGEST_BACKEND_URING); }
static void test_bounded_pwrite(sdt_t *t) { run_bounded(t, INGEST_BACKEND_PWRITE); }

static void test_disk_budget(sdt_t *t)
{
    char p[512];
    tmp_path(p, sizeof p, "budget");
    alerts_t al = {0};
    ingest_recorder_opts_t o;
    ingest_recorder_opts_default(&o);
    o.max_bytes = 10000;
    o.min_free_bytes = 0; /* count only the budget alert, whatever the disk */
    o.alert = on_alert;
    o.alert_ud = &al;
    ingest_recorder_t *r = ingest_recorder_open(p, &o, NULL);
    CHECK(t, r != NULL);
    if (!r) return;
    uint8_t pay[1000];
    int ok = 0, nomem = 0;
    for (int i = 0; i < 20; i++) {
        const void *parts[1] = {pay};
        size_t lens[1] = {sizeof pay};
        int rc = ingest_recorder_append(r, 0, SD_REC_KIND_FRAME, i, 1, parts, lens, NULL, NULL);
        ok += rc == SD_OK;
        nomem += rc == SD_ENOMEM;
    }
    CHECK_EQ_INT(t, ok, (10000 - 32) / (1000 + 40));
    CHECK_EQ_INT(t, nomem, 20 - ok);
    CHECK_EQ_INT(t, al.n, 1); /* alerted once, not per message */
    CHECK_EQ_INT(t, al.last_code, SD_ENOMEM);
    CHECK_STR_CONTAINS(t, al.last, "budget");
    ingest_recorder_destroy(&r);
    rm_rec(p);
}

static void test_low_space_alert(sdt_t *t)
{
    char p[512];
    tmp_path(p, sizeof p, "space");
    alerts_t al = {0};
    ingest_recorder_opts_t o;
    ingest_recorder_opts_default(&o);
    o.min_free_bytes = (uint64_t)1 << 62; /* more than any disk has: "nearly full" */
    o.alert = on_alert;
    o.alert_ud = &al;
    ingest_recorder_t *r = ingest_recorder_open(p, &o, NULL);
    CHECK(t, r != NULL);
    if (!r) return;
    uint8_t pay[5 * 64];
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(t, append_i(r, i, 64, pay), SD_OK);
    ingest_recorder_poll(r, NULL);
    CHECK_EQ_INT(t, al.n, 1); /* once, not per record */
    CHECK_EQ_INT(t, al.last_code, SD_ENOMEM);
    CHECK_STR_CONTAINS(t, al.last, "nearly full");
    CHECK_EQ_INT(t, ingest_recorder_flush(r, NULL), SD_OK); /* still recording */
    ingest_recorder_stats_t s;
    ingest_recorder_stats(r, &s);
    CHECK_EQ_INT(t, s.durable, 5);
    ingest_recorder_destroy(&r);
    rm_rec(p);
}

static void test_open_errors(sdt_t *t)
{
    sd_err_t e;
    CHECK(t, ingest_recorder_open("/nonexistent-dir/x.sdrec", NULL, &e) == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "/nonexistent-dir/x.sdrec");
    char p[512];
    tmp_path(p, sizeof p, "notrec");
    FILE *f = fopen(p, "wb");
    fputs("hello, this is not a recording at all", f);
    fclose(f);
    CHECK(t, ingest_recorder_open(p, NULL, &e) == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "not a stemdyn recording");
    rm_rec(p);
}

SDT_MAIN(SDT_CASE(test_basic_uring), SDT_CASE(test_basic_pwrite), SDT_CASE(test_time_sync_uring),
         SDT_CASE(test_time_sync_pwrite), SDT_CASE(test_disk_full_uring),
         SDT_CASE(test_disk_full_pwrite), SDT_CASE(test_bounded_uring),
         SDT_CASE(test_bounded_pwrite), SDT_CASE(test_disk_budget), SDT_CASE(test_low_space_alert),
         SDT_CASE(test_open_errors))
