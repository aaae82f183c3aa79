/* The ingest commands as real processes on the local machine (ipc endpoints):
 * `stemdyn console` → `stemdyn ingest` → a recon PULL in this test; `stemdyn
 * replay` of the recording into a second ingest reproduces it byte for byte;
 * a full disk budget is reported loudly (exit 1, error replies to the
 * console); `stemdyn keygen` + CURVE admit the keyed console and refuse one
 * without keys; bad options exit 2. */
#include "ingest.h"
#include "sd_image.h"
#include "sd_msg.h"
#include "sd_wire.h"
#include "sdtest.h"

#include <czmq.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[200];

static const char *bin(void)
{
    const char *b = getenv("STEMDYN_BIN");
    return b ? b : STEMDYN_BIN;
}

/* Starts `stemdyn args…` with stdout/stderr to DIR/<tag>.out/.err. */
static pid_t spawn(const char *tag, char *const *args)
{
    char out[300], err[300];
    snprintf(out, sizeof out, "%s/%s.out", dir, tag);
    snprintf(err, sizeof err, "%s/%s.err", dir, tag);
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        char *argv[64];
        int n = 0;
        argv[n++] = (char *)bin();
        for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
        argv[n] = NULL;
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Exit status, or -1 (and the process killed) after timeout_s. */
static int wait_for(pid_t pid, double timeout_s)
{
    for (int i = 0; i < (int)(timeout_s * 100); i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -2;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* Waits until ingest has bound its ipc endpoint (the socket file exists), so
 * a console never races a slow start (ASan, a loaded machine). */
static void wait_bound(const char *endpoint)
{
    const char *path = endpoint + strlen("ipc://");
    for (int i = 0; i < 1000; i++) {
        struct stat st;
        if (stat(path, &st) == 0) return;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
}

static void slurp(const char *tag, const char *ext, char *buf, size_t n)
{
    char p[300];
    snprintf(p, sizeof p, "%s/%s.%s", dir, tag, ext);
    buf[0] = '\0';
    FILE *f = fopen(p, "r");
    if (!f) return;
    size_t k = fread(buf, 1, n - 1, f);
    buf[k] = '\0';
    fclose(f);
}

static long long json_num(const char *js, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(js, k);
    return p ? atoll(p + strlen(k)) : -999;
}

static void ep(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "ipc://%s/%s", dir, name);
}

static void test_console_ingest_recon_replay(sdt_t *t)
{
    char in[300], recon[300], ret[300], rec[300];
    ep(in, sizeof in, "in1");
    ep(recon, sizeof recon, "recon1");
    ep(ret, sizeof ret, "ret1");
    snprintf(rec, sizeof rec, "%s/one.sdrec", dir);
    zsock_t *pull = zsock_new(ZMQ_PULL);
    zsock_connect(pull, "%s", recon);
    zsock_set_rcvtimeo(pull, 100);
    char *ia[] = {"ingest", "--bind", in, "--recon", recon, "--reply-to", ret, "--recording", rec,
                  "--exit-after-series", "1", "--fsync-every", "2", NULL};
    pid_t ip = spawn("ingest1", ia);
    wait_bound(in);
    char *ca[] = {"console", "--synthetic", "12", "--interval", "0.01", "--size", "40x30",
                  "--to", in, "--return", ret, "--series-id", "cli1", "--wait", "0.2", NULL};
    pid_t cp = spawn("console1", ca);
    CHECK_EQ_INT(t, wait_for(cp, 30), 0);
    /* recon receives the series verbatim and in order */
    int got = 0, order = 1;
    for (int tries = 0; tries < 100 && got < 14; tries++) {
        sd_msg_t m;
        if (sd_wire_recv_msg(pull, &m, NULL, 0, NULL) != SD_OK) continue;
        if (got == 0) order &= m.type == SD_MSG_SERIES_START;
        else if (got == 13) order &= m.type == SD_MSG_SERIES_END;
        else order &= m.type == SD_MSG_FRAME && m.u.frame.frame_index == got - 1 &&
                      m.u.frame.width == 40 && m.u.frame.dtype == SD_DTYPE_F32;
        got++;
        sd_msg_free(&m);
    }
    CHECK_EQ_INT(t, got, 14);
    CHECK_MSG(t, order, "recon got the series out of order");
    CHECK_EQ_INT(t, wait_for(ip, 30), 0);
    char out[4096];
    slurp("ingest1", "out", out, sizeof out);
    CHECK_EQ_INT(t, json_num(out, "accepted"), 14);
    CHECK_EQ_INT(t, json_num(out, "durable"), 14);
    CHECK_EQ_INT(t, json_num(out, "forwarded"), 14);
    CHECK_EQ_INT(t, json_num(out, "malformed"), 0);
    CHECK_MSG(t, json_num(out, "syncs") >= 7, "syncs %lld (every 2 of 14)",
              json_num(out, "syncs"));
    zsock_destroy(&pull);

    /* replay the recording into a second ingest: the same bytes arrive */
    char in2[300], rec2[300];
    ep(in2, sizeof in2, "in2");
    snprintf(rec2, sizeof rec2, "%s/two.sdrec", dir);
    char *ia2[] = {"ingest", "--bind", in2, "--no-recon", "--no-reply", "--recording", rec2,
                   "--exit-after-series", "1", NULL};
    ip = spawn("ingest2", ia2);
    wait_bound(in2);
    char *ra[] = {"replay", rec, "--to", in2, "--speed", "0", NULL};
    pid_t rp = spawn("replay", ra);
    CHECK_EQ_INT(t, wait_for(rp, 30), 0);
    CHECK_EQ_INT(t, wait_for(ip, 30), 0);
    sd_rec_reader_t *a = sd_rec_reader_open(rec, NULL), *b = sd_rec_reader_open(rec2, NULL);
    CHECK(t, a && b && sd_rec_reader_count(a) == 14 && sd_rec_reader_count(b) == 14);
    int same = 0;
    for (uint64_t i = 0; a && b && i < 14; i++) {
        sd_rec_record_t ra_, rb_;
        if (sd_rec_reader_read(a, i, &ra_, NULL) || sd_rec_reader_read(b, i, &rb_, NULL)) break;
        int eq = ra_.n_parts == rb_.n_parts && ra_.kind == rb_.kind && ra_.key == rb_.key;
        for (uint32_t k = 0; eq && k < ra_.n_parts; k++) {
            /* the two readers share nothing: copy one side before comparing */
            eq = ra_.lens[k] == rb_.lens[k];
        }
        if (eq) {
            uint8_t *cp_ = malloc(ra_.len);
            size_t off = 0;
            for (uint32_t k = 0; k < ra_.n_parts; k++) {
                memcpy(cp_ + off, ra_.parts[k], ra_.lens[k]);
                off += ra_.lens[k];
            }
            off = 0;
            for (uint32_t k = 0; k < rb_.n_parts; k++) {
                eq &= !memcmp(cp_ + off, rb_.parts[k], rb_.lens[k]);
                off += rb_.lens[k];
            }
            free(cp_);
        }
        same += eq;
    }
    CHECK_EQ_INT(t, same, 14);
    sd_rec_reader_destroy(&a);
    sd_rec_reader_destroy(&b);

    /* replay from frame 5: series_start, then frames 5.. and series_end */
    char in3[300], rec3[300];
    ep(in3, sizeof in3, "in3");
    snprintf(rec3, sizeof rec3, "%s/three.sdrec", dir);
    char *ia3[] = {"ingest", "--bind", in3, "--no-recon", "--no-reply", "--recording", rec3,
                   "--exit-after-series", "1", NULL};
    ip = spawn("ingest3", ia3);
    wait_bound(in3);
    char *ra3[] = {"replay", rec, "--to", in3, "--speed", "0", "--from-frame", "5", NULL};
    rp = spawn("replay3", ra3);
    CHECK_EQ_INT(t, wait_for(rp, 30), 0);
    CHECK_EQ_INT(t, wait_for(ip, 30), 0);
    slurp("ingest3", "out", out, sizeof out);
    CHECK_EQ_INT(t, json_num(out, "accepted"), 1 + 7 + 1);
    CHECK_EQ_INT(t, json_num(out, "frames_missing"), 5);
}

static void test_disk_budget_is_loud(sdt_t *t)
{
    char in[300], ret[300], rec[300];
    ep(in, sizeof in, "in4");
    ep(ret, sizeof ret, "ret4");
    snprintf(rec, sizeof rec, "%s/four.sdrec", dir);
    char *ia[] = {"ingest", "--bind", in, "--no-recon", "--reply-to", ret, "--recording", rec,
                  "--max-disk-mb", "1", "--exit-after-series", "1", NULL};
    pid_t ip = spawn("ingest4", ia);
    wait_bound(in);
    /* 64x64 f32 frames: 16 KiB each, 1 MiB holds ~63 */
    char *ca[] = {"console", "--synthetic", "100", "--interval", "0.01", "--size", "64x64",
                  "--to", in, "--return", ret, "--series-id", "full", "--wait", "1.5", NULL};
    pid_t cp = spawn("console4", ca);
    CHECK_EQ_INT(t, wait_for(cp, 30), 0);
    CHECK_EQ_INT(t, wait_for(ip, 30), 1); /* messages were not recorded: exit 1 */
    char out[4096], err[65536], cout[65536];
    slurp("ingest4", "out", out, sizeof out);
    slurp("ingest4", "err", err, sizeof err);
    slurp("console4", "out", cout, sizeof cout);
    long long acc = json_num(out, "accepted"), unrec = json_num(out, "unrecorded");
    CHECK_MSG(t, unrec > 0 && acc == 102, "accepted %lld, unrecorded %lld", acc, unrec);
    CHECK_EQ_INT(t, json_num(out, "recorded") + unrec, acc);
    CHECK_STR_CONTAINS(t, err, "disk budget");
    CHECK_STR_CONTAINS(t, err, "NOT recorded");
    CHECK_STR_CONTAINS(t, cout, "NOT RECORDED");
    struct stat st;
    CHECK(t, stat(rec, &st) == 0 && st.st_size <= (1 << 20));
}

static void test_keygen_and_curve(sdt_t *t)
{
    char kdir[300], server[300], clients[300], cons[300], pub[300];
    snprintf(kdir, sizeof kdir, "%s/keys", dir);
    snprintf(clients, sizeof clients, "%s/keys/clients", dir);
    snprintf(server, sizeof server, "%s/keys/server", dir);
    snprintf(cons, sizeof cons, "%s/keys/console", dir);
    snprintf(pub, sizeof pub, "%s/keys/clients/console", dir);
    zsys_dir_create("%s", clients);
    char *ka[] = {"keygen", server, NULL};
    CHECK_EQ_INT(t, wait_for(spawn("keygen1", ka), 10), 0);
    char *kb[] = {"keygen", cons, NULL};
    CHECK_EQ_INT(t, wait_for(spawn("keygen2", kb), 10), 0);
    CHECK_EQ_INT(t, wait_for(spawn("keygen3", kb), 10), 1); /* never overwrites */
    char kout[256];
    slurp("keygen1", "out", kout, sizeof kout);
    CHECK_EQ_INT(t, strlen(kout), 41); /* Z85 public key + newline */
    char sec[320];
    snprintf(sec, sizeof sec, "%s_secret", server);
    struct stat st;
    CHECK(t, stat(sec, &st) == 0 && (st.st_mode & 077) == 0);
    /* allow the console: its public certificate goes into clients/ */
    char cmd[800];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", cons, pub);
    CHECK_EQ_INT(t, system(cmd), 0);

    char in[300], rec[300];
    ep(in, sizeof in, "in5");
    snprintf(rec, sizeof rec, "%s/five.sdrec", dir);
    char *ia[] = {"ingest", "--bind", in, "--no-recon", "--no-reply", "--recording", rec,
                  "--server-cert", server, "--client-certs", clients, "--exit-after-series", "1",
                  NULL};
    pid_t ip = spawn("ingest5", ia);
    wait_bound(in);
    /* without keys: refused (its frames never arrive) */
    char *na[] = {"console", "--synthetic", "3", "--interval", "0.01", "--size", "16x16", "--to",
                  in, "--no-return", "--series-id", "nokeys", "--wait", "0", "--linger", "0.5",
                  NULL};
    /* refused, it may still queue a frame or two before the handshake fails,
     * or find no peer and say so (exit 1): either way it must not hang */
    int nrc = wait_for(spawn("console5a", na), 30);
    CHECK_MSG(t, nrc == 0 || nrc == 1, "console without keys: exit %d", nrc);
    char *ga[] = {"console", "--synthetic", "3", "--interval", "0.01", "--size", "16x16", "--to",
                  in, "--no-return", "--series-id", "keyed", "--wait", "0", "--client-cert",
                  cons, "--server-public", server, NULL};
    CHECK_EQ_INT(t, wait_for(spawn("console5b", ga), 30), 0);
    CHECK_EQ_INT(t, wait_for(ip, 30), 0);
    char out[4096], err[16384];
    slurp("ingest5", "out", out, sizeof out);
    slurp("ingest5", "err", err, sizeof err);
    CHECK_EQ_INT(t, json_num(out, "accepted"), 5);
    CHECK_EQ_INT(t, json_num(out, "received"), 5);
    CHECK_MSG(t, json_num(out, "auth_failures") >= 1, "auth_failures %lld",
              json_num(out, "auth_failures"));
    CHECK_STR_CONTAINS(t, err, "refused a peer");
    sd_rec_reader_t *r = sd_rec_reader_open(rec, NULL);
    CHECK(t, r && sd_rec_reader_count(r) == 5);
    sd_rec_reader_destroy(&r);
}

/* An image directory streamed by `replay DIR` and by `console --images DIR`:
 * every frame of every image file, by name, pixels intact (as f32). */
static void test_image_directory(sdt_t *t)
{
    char idir[300], p[400];
    snprintf(idir, sizeof idir, "%s/images", dir);
    zsys_dir_create("%s", idir);
    double px[2 * 16 * 20];
    for (int i = 0; i < 2 * 16 * 20; i++) px[i] = 100 + i;
    sd_image_t a = {20, 16, 2, px, 0.25, SD_PIX_U16};
    sd_image_t b = {20, 16, 1, px, 0.25, SD_PIX_U16};
    sd_err_t e;
    snprintf(p, sizeof p, "%s/a.tif", idir);
    CHECK_EQ_INT(t, sd_image_write_tiff(p, &a, SD_PIX_U16, &e), SD_OK);
    snprintf(p, sizeof p, "%s/b.tif", idir);
    CHECK_EQ_INT(t, sd_image_write_tiff(p, &b, SD_PIX_U16, &e), SD_OK);
    snprintf(p, sizeof p, "%s/notes.txt", idir);
    FILE *f = fopen(p, "w");
    fputs("not an image\n", f);
    fclose(f);

    char in[300], rec[300];
    ep(in, sizeof in, "in6");
    snprintf(rec, sizeof rec, "%s/six.sdrec", dir);
    char *ia[] = {"ingest", "--bind", in, "--no-recon", "--no-reply", "--recording", rec,
                  "--exit-after-series", "2", NULL};
    pid_t ip = spawn("ingest6", ia);
    wait_bound(in);
    char *ra[] = {"replay", idir, "--to", in, "--speed", "0", "--series-id", "imgs", NULL};
    CHECK_EQ_INT(t, wait_for(spawn("replay6", ra), 30), 0);
    char *ca[] = {"console", "--images", idir, "--to", in, "--no-return", "--interval", "0.01",
                  "--wait", "0", "--series-id", "imgs2", NULL};
    CHECK_EQ_INT(t, wait_for(spawn("console6", ca), 30), 0);
    CHECK_EQ_INT(t, wait_for(ip, 30), 0);
    char out[4096];
    slurp("ingest6", "out", out, sizeof out);
    CHECK_EQ_INT(t, json_num(out, "accepted"), 10);
    CHECK_EQ_INT(t, json_num(out, "malformed"), 0);
    sd_rec_reader_t *r = sd_rec_reader_open(rec, NULL);
    CHECK(t, r && sd_rec_reader_count(r) == 10);
    int good = 0;
    for (uint64_t i = 0; r && i < 10; i++) {
        sd_rec_record_t x;
        if (sd_rec_reader_read(r, i, &x, NULL) != SD_OK) continue;
        sd_parts_t pp = {0};
        pp.n = (int)x.n_parts;
        for (uint32_t k = 0; k < x.n_parts; k++) {
            pp.data[k] = x.parts[k];
            pp.len[k] = x.lens[k];
        }
        sd_msg_t m;
        if (sd_msg_decode(&pp, &m, 0, NULL) != SD_OK) continue;
        if (m.type == SD_MSG_SERIES_START)
            good += m.u.series_start.width == 20 && m.u.series_start.height == 16 &&
                    fabs(m.u.series_start.pixel_size_A - 0.25) < 1e-12;
        else if (m.type == SD_MSG_FRAME) {
            const float *q = m.u.frame.pixels;
            /* frames: a.tif 0, a.tif 1, b.tif 0 */
            int64_t fi = m.u.frame.frame_index, base = fi == 1 ? 320 : 0;
            int ok = m.u.frame.width == 20 && fi <= 2;
            for (int j = 0; ok && j < 320; j++) ok = q[j] == (float)(100 + base + j);
            good += ok;
        } else good += m.type == SD_MSG_SERIES_END;
        sd_msg_free(&m);
    }
    CHECK_EQ_INT(t, good, 10);
    sd_rec_reader_destroy(&r);
    /* an image of another size stops the series with a clear error */
    sd_image_t c = {8, 8, 1, px, 0, SD_PIX_U16};
    snprintf(p, sizeof p, "%s/c.tif", idir);
    CHECK_EQ_INT(t, sd_image_write_tiff(p, &c, SD_PIX_U16, &e), SD_OK);
    char in7[300];
    ep(in7, sizeof in7, "in7");
    char *rb[] = {"replay", idir, "--to", in7, "--speed", "0", "--linger", "0", NULL};
    CHECK_EQ_INT(t, wait_for(spawn("replay7", rb), 30), 1);
    char err[4096];
    slurp("replay7", "err", err, sizeof err);
    CHECK_STR_CONTAINS(t, err, "c.tif: 8x8, but the series is 20x16");
}

/* --model-series: each model rendered by `stemdyn stem-sim`, then streamed */
static void test_model_series(sdt_t *t)
{
    char mdir[300];
    snprintf(mdir, sizeof mdir, "%s/models", dir);
    zsys_dir_create("%s", mdir);
    const double a = 4.08;
    const double basis[4][3] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
    for (int m = 0; m < 3; m++) { /* Au fcc 4x4x3 cells, [001] along z, shifted a little */
        char p[400];
        snprintf(p, sizeof p, "%s/m%d.xyz", mdir, m);
        FILE *f = fopen(p, "w");
        fprintf(f, "192\nLattice=\"%g 0 0 0 %g 0 0 0 %g\" Properties=species:S:1:pos:R:3 "
                "pbc=\"T T F\"\n", 4 * a, 4 * a, 3 * a + 20);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 3; k++)
                    for (int b = 0; b < 4; b++)
                        fprintf(f, "Au %.4f %.4f %.4f\n", (i + basis[b][0]) * a + 0.02 * m,
                                (j + basis[b][1]) * a, (k + basis[b][2]) * a);
        fclose(f);
    }
    char in[300], rec[300];
    ep(in, sizeof in, "in8");
    snprintf(rec, sizeof rec, "%s/eight.sdrec", dir);
    char *ia[] = {"ingest", "--bind", in, "--no-recon", "--no-reply", "--recording", rec,
                  "--exit-after-series", "1", NULL};
    pid_t ip = spawn("ingest8", ia);
    wait_bound(in);
    char *ca[] = {"console", "--model-series", mdir, "--zone", "z", "--size", "48x48",
                  "--pixel-size", "0.3", "--to", in, "--no-return", "--interval", "0.01",
                  "--wait", "0", "--series-id", "models", NULL};
    CHECK_EQ_INT(t, wait_for(spawn("console8", ca), 60), 0);
    CHECK_EQ_INT(t, wait_for(ip, 30), 0);
    char out[4096];
    slurp("ingest8", "out", out, sizeof out);
    CHECK_EQ_INT(t, json_num(out, "accepted"), 5);
    CHECK_EQ_INT(t, json_num(out, "malformed"), 0);
    /* the frames are images of columns: not flat, and they differ (models shift) */
    sd_rec_reader_t *r = sd_rec_reader_open(rec, NULL);
    double sum[3] = {0}, var[3] = {0};
    for (int i = 0; r && i < 3; i++) {
        sd_rec_record_t x;
        if (sd_rec_reader_read(r, (uint64_t)i + 1, &x, NULL) != SD_OK) continue;
        sd_parts_t pp = {0};
        pp.n = (int)x.n_parts;
        for (uint32_t k = 0; k < x.n_parts; k++) {
            pp.data[k] = x.parts[k];
            pp.len[k] = x.lens[k];
        }
        sd_msg_t m;
        if (sd_msg_decode(&pp, &m, 0, NULL) != SD_OK || m.type != SD_MSG_FRAME) continue;
        const float *q = m.u.frame.pixels;
        for (int j = 0; j < 48 * 48; j++) sum[i] += q[j];
        for (int j = 0; j < 48 * 48; j++) var[i] += (q[j] - sum[i] / 2304) * (q[j] - sum[i] / 2304);
        sd_msg_free(&m);
    }
    sd_rec_reader_destroy(&r);
    CHECK_MSG(t, var[0] > 0 && var[1] > 0 && var[2] > 0, "flat frames");
    CHECK(t, sum[0] != sum[1] || sum[1] != sum[2]);
}

static void test_usage_errors(sdt_t *t)
{
    char *a[] = {"ingest", "--hwm", "0", NULL};
    CHECK_EQ_INT(t, wait_for(spawn("u1", a), 10), 2);
    char err[4096];
    slurp("u1", "err", err, sizeof err);
    CHECK_STR_CONTAINS(t, err, "stemdyn ingest: ");
    CHECK_STR_CONTAINS(t, err, "--hwm");
    char *b[] = {"replay", "/nonexistent.sdrec", "--to", "ipc:///tmp/x", NULL};
    CHECK_EQ_INT(t, wait_for(spawn("u2", b), 10), 1);
    char *c[] = {"console", "--size", "12", NULL};
    CHECK_EQ_INT(t, wait_for(spawn("u3", c), 10), 2);
    char *d[] = {"ingest", "--help", NULL};
    CHECK_EQ_INT(t, wait_for(spawn("u4", d), 10), 0);
    char out[8192];
    slurp("u4", "out", out, sizeof out);
    CHECK_STR_CONTAINS(t, out, "usage: stemdyn ingest");
    char *f[] = {"replay", "--speed", "-1", "x", NULL};
    CHECK_EQ_INT(t, wait_for(spawn("u5", f), 10), 2);
}

int main(int argc, char **argv)
{
    snprintf(dir, sizeof dir, "/tmp/sd_ingest_cli_%d", (int)getpid());
    zsys_dir_create("%s", dir);
    static const sdt_case_t cases[] = {
        SDT_CASE(test_console_ingest_recon_replay), SDT_CASE(test_disk_budget_is_loud),
        SDT_CASE(test_keygen_and_curve), SDT_CASE(test_image_directory),
        SDT_CASE(test_model_series),
        SDT_CASE(test_usage_errors)};
    int rc = sdt_run(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (rc == 0 && system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    return rc;
}
