/* ingest_recorder — appends wire messages to a recording without ever
 * blocking the caller on the disk.
 *
 * Records are encoded into one arena (a ring of bytes, the bounded in-flight
 * memory) and written from there, in file order, at offsets fixed at append
 * time.  Backends:
 *  - io_uring: the arena is registered once (io_uring_register_buffers) and
 *    written with write_fixed; every sync_every records the write carries
 *    IOSQE_IO_LINK|IOSQE_IO_DRAIN and an fdatasync follows it, so the sync
 *    starts only after every earlier write completed and covers them all;
 *    a time-based or requested sync is a standalone drained fdatasync.
 *  - pwrite: one writer thread drains the same ring with pwrite and calls
 *    fdatasync on the same schedule (for containers that block io_uring).
 * The caller's thread reaps completions in poll(); records become "written"
 * in order (a contiguous prefix) and "durable" when a covering sync ends.
 *
 * A failed or short write (ENOSPC, EFBIG, EIO) stops new submissions; once
 * nothing is in flight the file is truncated to the failed record, every
 * record from there on is counted lost, an alert says so, and appends are
 * refused for retry_s before recording resumes at the same offset, so the
 * file never holds a hole and record numbers stay those of the file. */
#include "ingest.h"

#include "sd_clock.h"
#include "sd_log.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum slot_state { S_FREE = 0, S_QUEUED, S_SUBMITTED, S_DONE, S_FAILED };

typedef struct slot {
    uint64_t rec_no, file_off;
    uint32_t len, done; /* done: bytes written so far (short writes resume) */
    size_t a_off;
    int state;
    int err; /* positive errno of a failed write */
} slot_t;

#define SYNC_TAG (1ull << 63)

struct ingest_recorder {
    char *path;
    int fd, rfd, ifd;
    ingest_recorder_opts_t o;
    int backend, registered;

    uint8_t *arena;
    size_t a_cap, a_tail;
    slot_t *slots;
    uint32_t n_slots;
    uint64_t s_head, s_tail; /* monotonic counters, slot = counter % n_slots */

    sd_rec_idx_entry_t *meta; /* every record in the file (read-back, index) */
    uint64_t n_meta, meta_cap;
    uint64_t next_off;

    uint64_t written, durable, idx_written, lost, refused, syncs, appended;
    uint64_t sync_sub_wm;     /* records covered by the last submitted sync */
    int64_t first_unsynced_ns;
    int sync_req;
    uint64_t sync_errors;

    int failing, fail_pending, budget_alerted, low_space_alerted;
    int64_t next_space_check_ns;
    int64_t retry_at_ns;

    /* io_uring */
    struct io_uring ring;
    int ring_ok;
    uint32_t inflight_ops, syncs_inflight;

    /* pwrite thread; mu guards slots[].state, s_tail, th_* and sync_req */
    pthread_t th;
    int th_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, th_stalled;
    uint64_t th_next, th_unsynced, th_last_rec, th_durable, th_syncs, th_sync_errors;
    int64_t th_first_unsynced_ns;

    uint8_t *rbuf;
    size_t rbuf_cap;
};

void ingest_recorder_opts_default(ingest_recorder_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->backend = INGEST_BACKEND_AUTO;
    o->sync_every = 32;
    o->sync_interval_s = 1.0;
    o->arena_bytes = (size_t)64 << 20;
    o->max_inflight = 256;
    o->max_bytes = 0;
    o->retry_s = 1.0;
    o->min_free_bytes = (uint64_t)256 << 20;
}

static void alert(ingest_recorder_t *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void alert(ingest_recorder_t *r, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sd_log(code == SD_OK ? SD_LOG_WARN : SD_LOG_ERROR, "recorder", "%s", msg);
    if (r->o.alert) r->o.alert(r->o.alert_ud, code, msg);
}

/* ---- arena ring ------------------------------------------------------- */

static int arena_alloc(ingest_recorder_t *r, size_t len, size_t *off)
{
    if (r->s_head == r->s_tail) r->a_tail = 0;
    if (r->s_head == r->s_tail) {
        if (len > r->a_cap) return -1;
        *off = 0;
    } else {
        size_t first = r->slots[r->s_head % r->n_slots].a_off;
        if (r->a_tail > first) { /* used: [first, a_tail) */
            if (r->a_cap - r->a_tail >= len) *off = r->a_tail;
            else if (first >= len) *off = 0;
            else return -1;
        } else { /* wrapped: used [first, cap) and [0, a_tail) */
            if (first - r->a_tail >= len) *off = r->a_tail;
            else return -1;
        }
    }
    r->a_tail = *off + len;
    return 0;
}

static size_t arena_used(const ingest_recorder_t *r)
{
    if (r->s_head == r->s_tail) return 0;
    size_t first = r->slots[r->s_head % r->n_slots].a_off;
    return r->a_tail > first ? r->a_tail - first : r->a_cap - first + r->a_tail;
}

/* ---- pwrite writer thread ------------------------------------------- */

static int64_t ns_of_s(double s) { return (int64_t)(s * 1e9); }

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t k = pwrite(fd, p, n, (off_t)off);
        if (k < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (k == 0) return ENOSPC;
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

static void *writer_main(void *arg)
{
    ingest_recorder_t *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        int64_t now = sd_clock_mono_ns();
        int64_t due = r->th_first_unsynced_ns + ns_of_s(r->o.sync_interval_s);
        if (r->th_unsynced &&
            (r->th_unsynced >= r->o.sync_every || now >= due || r->th_stalled ||
             (r->sync_req && r->th_next >= r->s_tail))) {
            uint64_t wm = r->th_last_rec;
            r->th_unsynced = 0;
            r->sync_req = 0;
            pthread_mutex_unlock(&r->mu);
            int rc = fdatasync(r->fd);
            pthread_mutex_lock(&r->mu);
            if (rc == 0) {
                if (wm > r->th_durable) r->th_durable = wm;
                r->th_syncs++;
            } else {
                r->th_sync_errors++;
            }
            continue;
        }
        if (!r->th_stalled && r->th_next < r->s_tail) {
            slot_t *s = &r->slots[r->th_next % r->n_slots];
            slot_t c = *s;
            pthread_mutex_unlock(&r->mu);
            int err = pwrite_all(r->fd, r->arena + c.a_off, c.len, c.file_off);
            pthread_mutex_lock(&r->mu);
            if (err) {
                s->state = S_FAILED;
                s->err = err;
                r->th_stalled = 1; /* the owner truncates and resets the queue */
            } else {
                s->state = S_DONE;
                if (r->th_unsynced++ == 0) r->th_first_unsynced_ns = sd_clock_mono_ns();
                r->th_last_rec = c.rec_no + 1;
                r->th_next++;
            }
            continue;
        }
        if (r->sync_req && !r->th_unsynced) r->sync_req = 0;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait_ns = r->th_unsynced ? (due > now ? due - now : 0) : 200000000;
        ts.tv_sec += wait_ns / 1000000000;
        ts.tv_nsec += wait_ns % 1000000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- open / close ------------------------------------------------------ */

static int meta_push(ingest_recorder_t *r, const sd_rec_idx_entry_t *x)
{
    if (r->n_meta == r->meta_cap) {
        uint64_t c = r->meta_cap ? 2 * r->meta_cap : 4096;
        sd_rec_idx_entry_t *p = realloc(r->meta, c * sizeof *p);
        if (!p) return SD_ENOMEM;
        r->meta = p;
        r->meta_cap = c;
    }
    r->meta[r->n_meta++] = *x;
    return SD_OK;
}

static int create_files(ingest_recorder_t *r, const char *ipath, sd_err_t *e)
{
    uint8_t h[SD_REC_HEADER_BYTES], ih[SD_REC_IDX_HEADER_BYTES];
    sd_rec_header_encode(sd_clock_wall_ns(), h);
    sd_rec_idx_header_encode(ih);
    int err = pwrite_all(r->fd, h, sizeof h, 0);
    if (!err && fdatasync(r->fd) != 0) err = errno;
    if (err) return sd_err_set(e, SD_EIO, "%s: writing the header: %s", r->path, strerror(err));
    if (ftruncate(r->ifd, 0) != 0 || (err = pwrite_all(r->ifd, ih, sizeof ih, 0)) != 0)
        return sd_err_set(e, SD_EIO, "%s: %s", ipath, strerror(err ? err : errno));
    r->next_off = SD_REC_HEADER_BYTES;
    return SD_OK;
}

static int load_existing(ingest_recorder_t *r, sd_err_t *e)
{
    sd_rec_scan_info_t info;
    int rc = sd_rec_recover(r->path, &info, e);
    if (rc) return rc;
    if (info.torn_bytes)
        sd_log(SD_LOG_WARN, "recorder", "%s: truncated a torn tail of %llu bytes after record %llu",
               r->path, (unsigned long long)info.torn_bytes, (unsigned long long)info.n_records);
    sd_rec_reader_t *rd = sd_rec_reader_open(r->path, e);
    if (!rd) return e ? e->code : SD_EIO;
    for (uint64_t i = 0; i < sd_rec_reader_count(rd) && rc == SD_OK; i++)
        if (meta_push(r, sd_rec_reader_entry(rd, i)))
            rc = sd_err_set(e, SD_ENOMEM, "out of memory for the index of %s", r->path);
    r->next_off = sd_rec_reader_info(rd)->valid_end;
    sd_rec_reader_destroy(&rd);
    r->written = r->durable = r->idx_written = r->sync_sub_wm = r->n_meta;
    return rc;
}

static int setup_uring(ingest_recorder_t *r, sd_err_t *e)
{
    unsigned depth = 2 * r->n_slots + 4;
    int rc = io_uring_queue_init(depth, &r->ring, 0);
    if (rc < 0)
        return sd_err_set(e, SD_EIO, "io_uring_queue_init: %s", strerror(-rc));
    r->ring_ok = 1;
    struct iovec iov = {r->arena, r->a_cap};
    rc = io_uring_register_buffers(&r->ring, &iov, 1);
    if (rc == 0) r->registered = 1;
    else
        sd_log(SD_LOG_WARN, "recorder", "io_uring_register_buffers (%zu bytes): %s; using "
               "unregistered writes (raise RLIMIT_MEMLOCK to enable)", r->a_cap, strerror(-rc));
    return SD_OK;
}

ingest_recorder_t *ingest_recorder_open(const char *path, const ingest_recorder_opts_t *o,
                                        sd_err_t *e)
{
    ingest_recorder_t *r = calloc(1, sizeof *r);
    if (!r) {
        sd_err_set(e, SD_ENOMEM, "out of memory");
        return NULL;
    }
    r->fd = r->rfd = r->ifd = -1;
    if (o) r->o = *o;
    else ingest_recorder_opts_default(&r->o);
    if (r->o.sync_every < 1) r->o.sync_every = 1;
    if (!(r->o.sync_interval_s > 0)) r->o.sync_interval_s = 1.0;
    if (r->o.max_inflight < 1) r->o.max_inflight = 1;
    if (r->o.arena_bytes < 4096) r->o.arena_bytes = 4096;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->path = strdup(path);
    r->n_slots = r->o.max_inflight;
    r->slots = calloc(r->n_slots, sizeof *r->slots);
    r->a_cap = r->o.arena_bytes;
    if (!r->path || !r->slots || posix_memalign((void **)&r->arena, 4096, r->a_cap) != 0) {
        r->arena = NULL;
        sd_err_set(e, SD_ENOMEM, "recorder: cannot allocate %zu bytes of in-flight memory",
                   r->a_cap);
        goto fail;
    }
    memset(r->arena, 0, r->a_cap); /* fault the pages in now, not during acquisition */
    char ipath[4096];
    if (sd_rec_idx_path(path, ipath, sizeof ipath, e)) goto fail;
    struct stat st;
    int exists = stat(path, &st) == 0 && st.st_size > 0;
    if (exists && load_existing(r, e)) goto fail;
    r->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    r->rfd = r->fd >= 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    r->ifd = open(ipath, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (r->fd < 0 || r->rfd < 0 || r->ifd < 0) {
        sd_err_set(e, SD_EIO, "%s: %s", r->fd < 0 || r->rfd < 0 ? path : ipath, strerror(errno));
        goto fail;
    }
    if (!exists && create_files(r, ipath, e)) goto fail;

    int want = r->o.backend;
    if (want != INGEST_BACKEND_PWRITE) {
        sd_err_t ue;
        sd_err_clear(&ue);
        if (setup_uring(r, &ue) == SD_OK) {
            r->backend = INGEST_BACKEND_URING;
        } else if (want == INGEST_BACKEND_URING) {
            sd_err_set(e, SD_EIO, "%s: io_uring unavailable (%s)", path, ue.msg);
            goto fail;
        } else {
            sd_log(SD_LOG_WARN, "recorder", "%s; falling back to pwrite + fdatasync", ue.msg);
        }
    }
    if (r->backend != INGEST_BACKEND_URING) {
        r->backend = INGEST_BACKEND_PWRITE;
        r->th_last_rec = r->th_durable = r->n_meta;
        if (pthread_create(&r->th, NULL, writer_main, r) != 0) {
            sd_err_set(e, SD_EIO, "recorder: cannot start the writer thread");
            goto fail;
        }
        r->th_started = 1;
    }
    return r;
fail:
    ingest_recorder_destroy(&r);
    return NULL;
}

void ingest_recorder_destroy(ingest_recorder_t **pr)
{
    if (!pr || !*pr) return;
    ingest_recorder_t *r = *pr;
    if (r->fd >= 0 && (r->ring_ok || r->th_started)) {
        sd_err_t e;
        if (ingest_recorder_flush(r, &e) != SD_OK)
            sd_log(SD_LOG_ERROR, "recorder", "closing %s: %s", r->path, e.msg);
    }
    if (r->th_started) {
        pthread_mutex_lock(&r->mu);
        r->stop = 1;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->th, NULL);
    }
    if (r->ring_ok) io_uring_queue_exit(&r->ring);
    if (r->fd >= 0) close(r->fd);
    if (r->rfd >= 0) close(r->rfd);
    if (r->ifd >= 0) close(r->ifd);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->path);
    free(r->slots);
    free(r->arena);
    free(r->meta);
    free(r->rbuf);
    free(r);
    *pr = NULL;
}

/* ---- completions and failures ----------------------------------------- */

/* Drops everything from the failed record on (nothing may be in flight). */
static void handle_failure(ingest_recorder_t *r)
{
    slot_t *s = NULL;
    for (uint64_t i = r->s_head; i < r->s_tail; i++)
        if (r->slots[i % r->n_slots].state == S_FAILED) {
            s = &r->slots[i % r->n_slots];
            break;
        }
    r->fail_pending = 0;
    if (!s) return;
    uint64_t k = s->rec_no, off = s->file_off, nlost = r->n_meta - k;
    int err = s->err;
    int trc = ftruncate(r->fd, (off_t)off);
    r->n_meta = k;
    r->next_off = off;
    r->lost += nlost;
    r->s_head = r->s_tail;
    r->a_tail = 0;
    if (r->written > k) r->written = k;
    if (r->durable > k) r->durable = k;
    if (r->idx_written > k) r->idx_written = k;
    if (r->sync_sub_wm > k) r->sync_sub_wm = k;
    r->first_unsynced_ns = 0;
    if (r->backend == INGEST_BACKEND_PWRITE) {
        r->th_next = r->s_tail;
        r->th_stalled = 0;
        r->th_unsynced = 0;
        if (r->th_last_rec > k) r->th_last_rec = k;
        if (r->th_durable > k) r->th_durable = k;
    }
    r->failing = 1;
    r->retry_at_ns = sd_clock_mono_ns() + ns_of_s(r->o.retry_s);
    alert(r, SD_EIO, "recording %s: writing record %llu at offset %llu failed: %s%s; %llu "
          "record(s) lost (%llu lost in all); recording paused for %.1f s%s",
          r->path, (unsigned long long)k, (unsigned long long)off, strerror(err),
          err == ENOSPC ? " (disk full)" : err == EFBIG ? " (file size limit)" : "",
          (unsigned long long)nlost, (unsigned long long)r->lost, r->o.retry_s,
          trc ? "; truncating the failed tail also failed" : "");
}

static void advance_done(ingest_recorder_t *r)
{
    while (r->s_head < r->s_tail) {
        slot_t *s = &r->slots[r->s_head % r->n_slots];
        if (s->state != S_DONE) break;
        r->written = s->rec_no + 1;
        s->state = S_FREE;
        r->s_head++;
    }
}

static void reap_uring(ingest_recorder_t *r)
{
    struct io_uring_cqe *cqe;
    while (io_uring_peek_cqe(&r->ring, &cqe) == 0) {
        uint64_t ud = io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&r->ring, cqe);
        r->inflight_ops--;
        if (ud & SYNC_TAG) {
            r->syncs_inflight--;
            uint64_t wm = ud & ~SYNC_TAG;
            if (res == 0) {
                r->syncs++;
                if (wm > r->durable && wm <= r->n_meta) r->durable = wm;
            } else if (res == -ECANCELED) { /* its linked write failed or was short */
                if (r->sync_sub_wm > r->durable) r->sync_sub_wm = r->durable;
                r->first_unsynced_ns = 0; /* sync again at the next poll */
            } else {
                r->sync_errors++;
                if (r->sync_sub_wm > r->durable) r->sync_sub_wm = r->durable;
                alert(r, SD_EIO, "recording %s: fdatasync failed: %s", r->path, strerror(-res));
            }
            continue;
        }
        slot_t *s = &r->slots[ud % r->n_slots];
        if (res > 0 && s->done + (uint32_t)res < s->len) {
            /* short write: write the rest; its next attempt tells why */
            s->done += (uint32_t)res;
            struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
            if (sqe) {
                io_uring_prep_write(sqe, r->fd, r->arena + s->a_off + s->done, s->len - s->done,
                                    s->file_off + s->done);
                io_uring_sqe_set_data64(sqe, ud);
                r->inflight_ops++;
                io_uring_submit(&r->ring);
                continue;
            }
            res = 0;
        }
        if (res > 0) {
            s->state = S_DONE;
        } else {
            s->state = S_FAILED;
            s->err = res < 0 ? -res : ENOSPC; /* 0 bytes written to a file: out of space */
            r->failing = r->fail_pending = 1;
        }
    }
}

static int submit_sync(ingest_recorder_t *r)
{
    if (io_uring_sq_space_left(&r->ring) < 1) return -1;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    io_uring_prep_fsync(sqe, r->fd, IORING_FSYNC_DATASYNC);
    sqe->flags |= IOSQE_IO_DRAIN;
    io_uring_sqe_set_data64(sqe, SYNC_TAG | r->n_meta);
    r->sync_sub_wm = r->n_meta;
    r->inflight_ops++;
    r->syncs_inflight++;
    r->sync_req = 0;
    io_uring_submit(&r->ring);
    return 0;
}

static void flush_index(ingest_recorder_t *r)
{
    enum { B = 64 };
    uint8_t buf[B * SD_REC_IDX_ENTRY_BYTES];
    while (r->idx_written < r->durable) {
        uint64_t n = r->durable - r->idx_written;
        if (n > B) n = B;
        for (uint64_t j = 0; j < n; j++)
            sd_rec_idx_entry_encode(&r->meta[r->idx_written + j], buf + j * SD_REC_IDX_ENTRY_BYTES);
        uint64_t off = SD_REC_IDX_HEADER_BYTES + r->idx_written * SD_REC_IDX_ENTRY_BYTES;
        /* The index is a cache the reader checks against the data: a failed
         * write is logged, never fatal. */
        int err = pwrite_all(r->ifd, buf, (size_t)n * SD_REC_IDX_ENTRY_BYTES, off);
        if (err) {
            sd_log(SD_LOG_WARN, "recorder", "%s.idx: %s (the index will be rebuilt on open)",
                   r->path, strerror(err));
            r->idx_written = r->durable;
            break;
        }
        r->idx_written += n;
    }
}

/* Warns before the disk is full (once, re-armed when space comes back). */
static void check_space(ingest_recorder_t *r, int64_t now)
{
    r->next_space_check_ns = now + 1000000000;
    struct statvfs sv;
    if (fstatvfs(r->fd, &sv) != 0) return;
    uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
    if (avail < r->o.min_free_bytes && !r->low_space_alerted) {
        r->low_space_alerted = 1;
        alert(r, SD_ENOMEM, "recording %s: the disk is nearly full (%llu MiB free, alert below "
              "%llu MiB); recording stops when it is full", r->path,
              (unsigned long long)(avail >> 20), (unsigned long long)(r->o.min_free_bytes >> 20));
    } else if (avail >= 2 * r->o.min_free_bytes && r->low_space_alerted) {
        r->low_space_alerted = 0;
    }
}

int ingest_recorder_poll(ingest_recorder_t *r, sd_err_t *e)
{
    int64_t now = sd_clock_mono_ns();
    if (r->backend == INGEST_BACKEND_URING) {
        reap_uring(r);
        advance_done(r);
        if (r->fail_pending && r->inflight_ops == 0) handle_failure(r);
        if (!r->failing && r->n_meta > r->sync_sub_wm && r->syncs_inflight == 0 &&
            (r->sync_req || now - r->first_unsynced_ns >= ns_of_s(r->o.sync_interval_s)))
            submit_sync(r);
        if (r->sync_req && r->n_meta <= r->sync_sub_wm) r->sync_req = 0;
    } else {
        pthread_mutex_lock(&r->mu);
        advance_done(r);
        if (r->th_stalled) {
            r->failing = 1;
            /* the thread is parked: nothing in flight */
            handle_failure(r);
        }
        if (r->th_durable > r->durable) r->durable = r->th_durable;
        r->syncs = r->th_syncs;
        r->sync_errors = r->th_sync_errors;
        pthread_mutex_unlock(&r->mu);
    }
    if (r->failing && !r->fail_pending && now >= r->retry_at_ns &&
        (r->backend != INGEST_BACKEND_URING || r->inflight_ops == 0)) {
        r->failing = 0;
        alert(r, SD_OK, "recording %s: resuming at record %llu (offset %llu)", r->path,
              (unsigned long long)r->n_meta, (unsigned long long)r->next_off);
    }
    flush_index(r);
    if (r->o.min_free_bytes && now >= r->next_space_check_ns) check_space(r, now);
    (void)e;
    return SD_OK;
}

void ingest_recorder_request_sync(ingest_recorder_t *r)
{
    if (r->backend == INGEST_BACKEND_PWRITE) {
        pthread_mutex_lock(&r->mu);
        r->sync_req = 1;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
    } else {
        r->sync_req = 1;
    }
}

/* ---- append -------------------------------------------------------------- */

int ingest_recorder_append(ingest_recorder_t *r, int64_t t_ns, uint32_t kind, int64_t key,
                           uint32_t n_parts, const void *const *parts, const size_t *lens,
                           uint64_t *rec_no, sd_err_t *e)
{
    ingest_recorder_poll(r, NULL);
    if (r->failing) {
        r->refused++;
        return sd_err_set(e, SD_EIO, "recording %s is paused after a write failure", r->path);
    }
    uint64_t size = sd_rec_record_size(n_parts, lens);
    if (size == 0 || size > r->a_cap) {
        r->refused++;
        return sd_err_set(e, SD_EINVAL, "record of %u parts (%llu bytes) exceeds the recorder's "
                          "limits (1..%d parts, %zu bytes)", n_parts, (unsigned long long)size,
                          SD_REC_MAX_PARTS, r->a_cap);
    }
    if (r->o.max_bytes && r->next_off + size > r->o.max_bytes) {
        r->refused++;
        if (!r->budget_alerted) {
            r->budget_alerted = 1;
            alert(r, SD_ENOMEM, "recording %s: disk budget of %llu bytes exhausted; further "
                  "messages are not recorded", r->path, (unsigned long long)r->o.max_bytes);
        }
        return sd_err_set(e, SD_ENOMEM, "recording %s: disk budget of %llu bytes exhausted",
                          r->path, (unsigned long long)r->o.max_bytes);
    }
    size_t a_off;
    if (r->s_tail - r->s_head >= r->n_slots || arena_alloc(r, (size_t)size, &a_off) != 0) {
        r->refused++;
        return sd_err_set(e, SD_EAGAIN, "recorder %s: in-flight memory full (%zu of %zu bytes, "
                          "%llu records): the disk is slower than the input", r->path,
                          arena_used(r), r->a_cap, (unsigned long long)(r->s_tail - r->s_head));
    }
    size_t wrote;
    sd_rec_record_encode(r->arena + a_off, (size_t)size, t_ns, kind, key, n_parts, parts, lens,
                         &wrote, NULL);
    sd_rec_idx_entry_t x = {r->next_off, key, kind, (uint32_t)size};
    if (meta_push(r, &x) != SD_OK) {
        r->a_tail = a_off; /* give the arena bytes back */
        r->refused++;
        return sd_err_set(e, SD_ENOMEM, "recorder: out of memory for the index");
    }
    slot_t s = {r->n_meta - 1, r->next_off, (uint32_t)size, 0, a_off, S_QUEUED, 0};
    r->next_off += size;
    r->appended++;
    if (rec_no) *rec_no = s.rec_no;
    if (r->n_meta - 1 == r->sync_sub_wm) r->first_unsynced_ns = sd_clock_mono_ns();

    if (r->backend == INGEST_BACKEND_URING) {
        int link = r->n_meta - r->sync_sub_wm >= r->o.sync_every;
        /* SQ entries are twice the slots and every submission is flushed at
         * once: there is always room for a write and its sync */
        struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
        if (r->registered)
            io_uring_prep_write_fixed(sqe, r->fd, r->arena + a_off, s.len, s.file_off, 0);
        else
            io_uring_prep_write(sqe, r->fd, r->arena + a_off, s.len, s.file_off);
        io_uring_sqe_set_data64(sqe, r->s_tail);
        s.state = S_SUBMITTED;
        r->slots[r->s_tail % r->n_slots] = s;
        r->s_tail++;
        r->inflight_ops++;
        if (link) {
            sqe->flags |= IOSQE_IO_LINK | IOSQE_IO_DRAIN;
            struct io_uring_sqe *fs = io_uring_get_sqe(&r->ring);
            io_uring_prep_fsync(fs, r->fd, IORING_FSYNC_DATASYNC);
            io_uring_sqe_set_data64(fs, SYNC_TAG | r->n_meta);
            r->sync_sub_wm = r->n_meta;
            r->inflight_ops++;
            r->syncs_inflight++;
        }
        io_uring_submit(&r->ring);
    } else {
        pthread_mutex_lock(&r->mu);
        r->slots[r->s_tail % r->n_slots] = s;
        r->s_tail++;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    return SD_OK;
}

/* ---- flush, stats, read-back --------------------------------------------- */

int ingest_recorder_flush(ingest_recorder_t *r, sd_err_t *e)
{
    uint64_t lost0 = r->lost, serr0 = r->sync_errors;
    ingest_recorder_request_sync(r);
    for (;;) {
        ingest_recorder_poll(r, NULL);
        int idle = r->backend == INGEST_BACKEND_URING ? r->inflight_ops == 0
                                                      : r->s_head == r->s_tail;
        if (r->lost != lost0)
            return sd_err_set(e, SD_EIO, "recording %s: %llu record(s) lost to a write failure",
                              r->path, (unsigned long long)(r->lost - lost0));
        if (r->sync_errors != serr0)
            return sd_err_set(e, SD_EIO, "recording %s: fdatasync failed", r->path);
        if (idle && r->s_head == r->s_tail && r->durable >= r->n_meta) return SD_OK;
        if (r->backend == INGEST_BACKEND_URING && r->inflight_ops) {
            struct io_uring_cqe *cqe;
            io_uring_wait_cqe(&r->ring, &cqe); /* consumed by the next poll */
        } else {
            if (r->backend == INGEST_BACKEND_URING && r->n_meta > r->durable) r->sync_req = 1;
            if (r->backend == INGEST_BACKEND_PWRITE && r->s_head == r->s_tail &&
                r->n_meta > r->durable)
                ingest_recorder_request_sync(r);
            struct timespec ts = {0, 500000};
            nanosleep(&ts, NULL);
        }
    }
}

void ingest_recorder_stats(const ingest_recorder_t *r, ingest_recorder_stats_t *s)
{
    memset(s, 0, sizeof *s);
    s->backend = r->backend;
    s->registered_buffers = r->registered;
    s->appended = r->appended;
    s->written = r->written;
    s->durable = r->durable;
    s->lost = r->lost;
    s->refused = r->refused;
    s->syncs = r->syncs;
    s->bytes = r->written ? r->meta[r->written - 1].offset + r->meta[r->written - 1].len
                          : SD_REC_HEADER_BYTES;
    s->inflight_bytes = arena_used(r);
    s->failing = r->failing;
}

int ingest_recorder_read(ingest_recorder_t *r, uint64_t rec_no, sd_rec_record_t *out,
                         sd_err_t *e)
{
    if (rec_no >= r->written)
        return sd_err_set(e, SD_ERANGE, "record %llu is not written yet (%llu written)",
                          (unsigned long long)rec_no, (unsigned long long)r->written);
    const sd_rec_idx_entry_t *x = &r->meta[rec_no];
    if (x->len > r->rbuf_cap) {
        uint8_t *b = realloc(r->rbuf, x->len);
        if (!b) return sd_err_set(e, SD_ENOMEM, "out of memory reading record %llu",
                                  (unsigned long long)rec_no);
        r->rbuf = b;
        r->rbuf_cap = x->len;
    }
    size_t done = 0;
    while (done < x->len) {
        ssize_t k = pread(r->rfd, r->rbuf + done, x->len - done, (off_t)(x->offset + done));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            return sd_err_set(e, SD_EIO, "%s: reading record %llu at offset %llu: %s", r->path,
                              (unsigned long long)rec_no, (unsigned long long)x->offset,
                              k < 0 ? strerror(errno) : "unexpected end of file");
        done += (size_t)k;
    }
    int rc = sd_rec_record_decode(r->rbuf, x->len, out, e);
    if (rc) return sd_err_prefix(e, "%s: record %llu at offset %llu", r->path,
                                 (unsigned long long)rec_no, (unsigned long long)x->offset);
    out->offset = x->offset;
    return SD_OK;
}
