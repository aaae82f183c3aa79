/* The dashboard's data side: the JSON reader, recon's latest-frame file, the
 * session feed (parts for the gateway, the report document) and the report
 * tables. */
#include "sdtest.h"

#include "recon_latest.h"
#include "report_tables.h"
#include "sd_atoms.h"
#include "sd_msg.h"
#include "sd_npy.h"
#include "sjson.h"
#include "webfeed.h"
#include "webgw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void write_text(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(s, f);
        fclose(f);
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static void tmpdir(char *out, size_t cap, const char *tag)
{
    snprintf(out, cap, "/tmp/sd_webdata_%s_%d", tag, (int)getpid());
    mkdir(out, 0755);
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static void test_sjson(sdt_t *t)
{
    sd_err_t e;
    const char *doc = " {\"a\": {\"b\": [1, -2.5e1, null, true]}, \"s\": \"x\\\"y\\u0041\\n\", \"e\": [], "
                      "\"o\": {}, \"n\": 0} ";
    sjson_t *j = sjson_parse(doc, strlen(doc), &e);
    CHECK_MSG(t, j != NULL, "%s", e.msg);
    if (!j)
        return;
    CHECK_EQ_INT(t, sjson_type(j, 0), SJSON_OBJECT);
    CHECK_EQ_INT(t, sjson_len(j, 0), 5);
    int b = sjson_path(j, 0, "a.b");
    CHECK_EQ_INT(t, sjson_type(j, b), SJSON_ARRAY);
    CHECK_EQ_INT(t, sjson_len(j, b), 4);
    CHECK_NEAR(t, sjson_num(j, sjson_at(j, b, 1)), -25.0, 0);
    CHECK(t, isnan(sjson_num(j, sjson_at(j, b, 2))));
    CHECK_EQ_INT(t, sjson_type(j, sjson_at(j, b, 3)), SJSON_TRUE);
    CHECK_EQ_INT(t, sjson_at(j, b, 4), -1);
    /* iteration backwards and forwards through the cache gives the same nodes */
    int n3 = sjson_at(j, b, 3), n0 = sjson_at(j, b, 0);
    CHECK_EQ_INT(t, sjson_at(j, b, 3), n3);
    CHECK_EQ_INT(t, sjson_at(j, b, 0), n0);
    double v[4];
    CHECK_EQ_INT(t, sjson_numbers(j, b, v, 3, &e), SD_EFORMAT);
    CHECK_EQ_INT(t, sjson_numbers(j, b, v, 4, &e), SD_EFORMAT); /* true is not a number */
    size_t len = 0;
    const char *raw = sjson_raw(j, sjson_get(j, 0, "a"), &len);
    CHECK(t, raw && len == strlen("{\"b\": [1, -2.5e1, null, true]}") && !memcmp(raw, "{\"b\"", 4));
    char s[16];
    CHECK_EQ_INT(t, sjson_str(j, sjson_get(j, 0, "s"), s, sizeof s), 5);
    CHECK(t, !strcmp(s, "x\"yA\n"));
    CHECK_EQ_INT(t, sjson_str(j, sjson_get(j, 0, "s"), s, 3), -1);
    CHECK_EQ_INT(t, sjson_len(j, sjson_get(j, 0, "e")), 0);
    CHECK_EQ_INT(t, sjson_type(j, sjson_get(j, 0, "o")), SJSON_OBJECT);
    CHECK_EQ_INT(t, sjson_get(j, 0, "missing"), -1);
    CHECK_EQ_INT(t, sjson_type(j, sjson_path(j, 0, "missing.deeper")), SJSON_ABSENT);
    CHECK(t, sjson_raw(j, -1, &len) == NULL);
    sjson_destroy(&j);
    CHECK(t, j == NULL);
    static const char *bad[] = {"", "{", "[1,]", "{\"a\" 1}", "[1 2]", "01", "\"abc", "[1] x",
                                "{\"a\":tru}", "\"\\q\"", "[-]", "\"a\x01\"", "{1:2}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        j = sjson_parse(bad[i], strlen(bad[i]), &e);
        CHECK_MSG(t, j == NULL, "accepted '%s'", bad[i]);
        sjson_destroy(&j);
        CHECK_STR_CONTAINS(t, e.msg, "JSON:");
    }
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    CHECK(t, sjson_parse(deep, sizeof deep, &e) == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "nested too deeply");
}

/* A 2-group session of two runs, as analyze writes state.json. */
static const char *STATE =
    "{\"stats\":{\"session\":\"s\",\"dt_ns\":0.5,\"labels\":[\"b\",\"v'\"],"
    "\"merged\":{\"frames\":10,\"counts\":[[6,2],[1,1]],\"populations_mean\":[0.7,0.3],"
    "\"populations_std\":[0.1,0.05]},\"mean_P\":[[0.75,0.25],[0.5,0.5]],"
    "\"runs\":[{\"run_id\":3,\"frames\":5,\"sim_ns\":2.5,\"target_ns\":10,\"ns_per_day\":100,"
    "\"counts\":[[3,1],[0,0]],\"populations_mean\":[0.8,0.2],\"populations_std\":[0,0],"
    "\"lens_fractions\":[0.5,0.3,0.2]},"
    "{\"run_id\":7,\"frames\":5,\"sim_ns\":2.5,\"target_ns\":10,\"ns_per_day\":120,"
    "\"counts\":[[3,1],[1,1]],\"populations_mean\":[0.6,0.4],\"populations_std\":[0.1,0.1],"
    "\"lens_fractions\":[0.4,0.4,0.2]}],"
    "\"lens\":{\"run_id\":7,\"class_names\":[\"static\",\"intermediate\",\"dynamic\"],"
    "\"fractions_t\":[[0.5,0.6,0.3,0.1],[1.0,0.4,0.4,0.2]],\"kde\":{\"x\":[0,0.5,1],\"y\":[0.1,2,0.1]}}},"
    "\"model\":{\"run_id\":7,\"t_ns\":2.5,\"atoms\":[[0,0,0,0],[2.9,0,0,1]]}}\n";

static void test_report_tables(sdt_t *t)
{
    char dir[256];
    tmpdir(dir, sizeof dir, "tables");
    sd_err_t e;
    int n = 0;
    int rc = report_tables_write(STATE, strlen(STATE), dir, &n, &e);
    CHECK_MSG(t, rc == SD_OK, "%s", e.msg);
    CHECK_EQ_INT(t, n, 22);
    char path[512];
    sd_npy_t a;
    snprintf(path, sizeof path, "%s/counts_merged.npy", dir);
    if (sd_npy_read(path, &a, &e) == SD_OK) {
        CHECK_EQ_INT(t, a.dtype, SD_NPY_I64);
        CHECK(t, a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 2);
        const int64_t *c = a.data;
        CHECK(t, c[0] == 6 && c[1] == 2 && c[2] == 1 && c[3] == 1);
        sd_npy_free(&a);
    } else {
        CHECK_MSG(t, 0, "%s", e.msg);
    }
    snprintf(path, sizeof path, "%s/counts_runs.npy", dir);
    if (sd_npy_read(path, &a, &e) == SD_OK) {
        CHECK(t, a.ndim == 3 && a.shape[0] == 2 && a.shape[1] == 2 && a.shape[2] == 2);
        CHECK_EQ_INT(t, (int)((const int64_t *)a.data)[6], 1); /* run 7: 1→0 */
        sd_npy_free(&a);
    }
    snprintf(path, sizeof path, "%s/tau_merged.npy", dir);
    if (sd_npy_read(path, &a, &e) == SD_OK) {
        const double *tau = a.data;
        CHECK(t, isnan(tau[0]) && isnan(tau[3]));
        CHECK_NEAR(t, tau[1], 0.5 / 0.25, 1e-12); /* δt / P(b→v') */
        CHECK_NEAR(t, tau[2], 0.5 / 0.5, 1e-12);
        sd_npy_free(&a);
    }
    snprintf(path, sizeof path, "%s/populations_mean.npy", dir);
    if (sd_npy_read(path, &a, &e) == SD_OK) {
        CHECK(t, a.shape[0] == 3 && a.shape[1] == 2);
        CHECK_NEAR(t, ((const double *)a.data)[4], 0.7, 0); /* merged row last */
        sd_npy_free(&a);
    }
    snprintf(path, sizeof path, "%s/lens_fractions_t.npy", dir);
    if (sd_npy_read(path, &a, &e) == SD_OK) {
        CHECK(t, a.shape[0] == 2 && a.shape[1] == 4);
        CHECK_NEAR(t, ((const double *)a.data)[5], 0.4, 0);
        sd_npy_free(&a);
    }
    snprintf(path, sizeof path, "%s/P_merged.csv", dir);
    char *csv = slurp(path);
    CHECK(t, csv && !strcmp(csv, "from\\to,b,v'\nb,0.75,0.25\nv',0.5,0.5\n"));
    snprintf(path, sizeof path, "%s/runs.csv", dir);
    csv = slurp(path);
    CHECK_STR_CONTAINS(t, csv ? csv : "", "run_id,frames,sim_ns");
    CHECK_STR_CONTAINS(t, csv ? csv : "", "\n7,5,2.5,10,120,0.4,0.4,0.2\n");
    snprintf(path, sizeof path, "%s/populations.csv", dir);
    csv = slurp(path);
    CHECK_STR_CONTAINS(t, csv ? csv : "", "run 3,b,0.8,0\n");
    CHECK_STR_CONTAINS(t, csv ? csv : "", "merged,v',0.3,0.05\n");
    snprintf(path, sizeof path, "%s/counts_run_7.csv", dir);
    csv = slurp(path);
    CHECK_STR_CONTAINS(t, csv ? csv : "", "v',1,1\n");
    /* malformed documents name the problem */
    const char *bad = "{\"stats\":{\"labels\":[\"b\"],\"runs\":[{\"run_id\":1,\"counts\":[[1,2]]}]}}";
    CHECK_EQ_INT(t, report_tables_write(bad, strlen(bad), dir, NULL, &e), SD_EFORMAT);
    CHECK_STR_CONTAINS(t, e.msg, "stats.runs[0].counts");
    CHECK_EQ_INT(t, report_tables_write("{\"x\":1}", 7, dir, NULL, &e), SD_EFORMAT);
    CHECK_EQ_INT(t, report_tables_write("{", 1, dir, NULL, &e), SD_EFORMAT);
    CHECK_EQ_INT(t, report_tables_write(STATE, strlen(STATE), "/nonexistent/x", NULL, &e), SD_EIO);
    rm_rf(dir);
}

static void test_recon_latest(sdt_t *t)
{
    char dir[256];
    tmpdir(dir, sizeof dir, "latest");
    enum { W = 600, H = 300 };
    uint16_t *px = malloc((size_t)W * H * sizeof *px);
    for (int i = 0; i < W * H; i++)
        px[i] = (uint16_t)(i % W); /* a ramp along x */
    sd_msg_frame_t f;
    memset(&f, 0, sizeof f);
    snprintf(f.series_id, sizeof f.series_id, "ser\"ies");
    f.frame_index = 12;
    f.width = W;
    f.height = H;
    f.dtype = SD_DTYPE_U16;
    f.pixels = px;
    f.pixels_len = (size_t)W * H * 2;
    sd_atoms_t *m = sd_atoms_new(5, "Au");
    double pos[15] = {1, 2, 0, 1.2, 2.2, 2, 5, 6, 0, 5, 6, 2, 5, 6, 4};
    memcpy(m->pos, pos, sizeof pos);
    int32_t colid[5] = {0, 0, 2, 2, 2};
    sd_err_t e;
    CHECK_EQ_INT(t, recon_latest_write(dir, &f, 0.1, m, colid, &e), SD_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/latest.json", dir);
    char *txt = slurp(path);
    sjson_t *j = txt ? sjson_parse(txt, strlen(txt), &e) : NULL;
    CHECK_MSG(t, j != NULL, "latest.json does not parse: %s", e.msg);
    if (j) {
        CHECK_NEAR(t, sjson_num(j, sjson_get(j, 0, "index")), 12, 0);
        CHECK_NEAR(t, sjson_num(j, sjson_get(j, 0, "width_A")), 60, 1e-9);
        CHECK_NEAR(t, sjson_num(j, sjson_get(j, 0, "height_A")), 30, 1e-9);
        char sid[32];
        sjson_str(j, sjson_get(j, 0, "series_id"), sid, sizeof sid);
        CHECK(t, !strcmp(sid, "ser\"ies"));
        /* 600×300 → factor 3 → 200×100, base64 of 20000 bytes */
        CHECK_NEAR(t, sjson_num(j, sjson_path(j, 0, "thumb.w")), 200, 0);
        CHECK_NEAR(t, sjson_num(j, sjson_path(j, 0, "thumb.h")), 100, 0);
        size_t len = 0;
        sjson_raw(j, sjson_path(j, 0, "thumb.u8"), &len);
        CHECK_EQ_INT(t, (int)len, (20000 + 2) / 3 * 4 + 2);
        int cols = sjson_get(j, 0, "columns");
        CHECK_EQ_INT(t, sjson_len(j, cols), 2); /* column 1 has no atom */
        double c[3];
        CHECK_EQ_INT(t, sjson_numbers(j, sjson_at(j, cols, 0), c, 3, &e), SD_OK);
        CHECK(t, fabs(c[0] - 1.1) < 1e-9 && fabs(c[1] - 2.1) < 1e-9 && c[2] == 2);
        CHECK_EQ_INT(t, sjson_numbers(j, sjson_at(j, cols, 1), c, 3, &e), SD_OK);
        CHECK(t, c[0] == 5 && c[1] == 6 && c[2] == 3);
        CHECK_NEAR(t, sjson_num(j, sjson_get(j, 0, "atoms")), 5, 0);
        sjson_destroy(&j);
    }
    /* the thumbnail: box average and percentile stretch */
    double img[4 * 6];
    for (int i = 0; i < 24; i++)
        img[i] = i % 6;
    uint8_t th[64];
    int tw = 0, thh = 0;
    double lo, hi;
    recon_latest_thumb(img, 4, 6, 3, th, &thh, &tw, &lo, &hi);
    CHECK(t, tw == 3 && thh == 2);
    CHECK_NEAR(t, lo, 0.5, 1e-12);
    CHECK_NEAR(t, hi, 4.5, 1e-12);
    CHECK(t, th[0] == 0 && th[2] == 255 && th[1] == 128);
    /* bad input */
    CHECK_EQ_INT(t, recon_latest_write(dir, &f, 0, m, colid, &e), SD_EINVAL);
    f.pixels_len = 10;
    CHECK_EQ_INT(t, recon_latest_write(dir, &f, 0.1, m, colid, &e), SD_EINVAL);
    f.pixels_len = (size_t)W * H * 2;
    f.dtype = SD_DTYPE_NONE;
    CHECK_EQ_INT(t, recon_latest_write(dir, &f, 0.1, m, colid, &e), SD_EINVAL);
    f.dtype = SD_DTYPE_U16;
    CHECK_EQ_INT(t, recon_latest_write("/nonexistent", &f, 0.1, NULL, NULL, &e), SD_EIO);
    /* a NaN pixel (float frames) is skipped, not spread over the thumbnail */
    double fimg[8 * 8];
    for (int i = 0; i < 64; i++)
        fimg[i] = i;
    fimg[9] = NAN;
    sd_msg_frame_t ff = f;
    ff.width = ff.height = 8;
    ff.dtype = SD_DTYPE_F64;
    ff.pixels = fimg;
    ff.pixels_len = sizeof fimg;
    CHECK_EQ_INT(t, recon_latest_write(dir, &ff, 0.5, NULL, NULL, &e), SD_OK);
    txt = slurp(path);
    j = txt ? sjson_parse(txt, strlen(txt), &e) : NULL;
    CHECK(t, j && sjson_num(j, sjson_path(j, 0, "thumb.lo")) == 0 &&
                 sjson_num(j, sjson_path(j, 0, "thumb.hi")) == 62 && sjson_len(j, sjson_get(j, 0, "columns")) == 0);
    sjson_destroy(&j);
    sd_atoms_destroy(&m);
    free(px);
    rm_rf(dir);
}

static void test_feed(sdt_t *t)
{
    char dir[256], path[512];
    tmpdir(dir, sizeof dir, "feed");
    sd_err_t e;
    char *js = NULL;
    size_t len = 0;
    CHECK_EQ_INT(t, webfeed_session_json(dir, &js, &len, &e), SD_ENOTFOUND);
    snprintf(path, sizeof path, "%s/analyze", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/recon", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/analyze/state.json", dir);
    write_text(path, "{\"model\":{}}");
    CHECK_EQ_INT(t, webfeed_session_json(dir, &js, &len, &e), SD_EFORMAT);
    CHECK_STR_CONTAINS(t, e.msg, "not a stemdyn state file");
    write_text(path, STATE);
    snprintf(path, sizeof path, "%s/recon/latest.json", dir);
    write_text(path, "{\"index\":4,\"columns\":[[1,2,3]]}\n");
    snprintf(path, sizeof path, "%s/recon/latency.csv", dir);
    write_text(path, "series_id,frame_index,t_acq_ns,t_recv_ns,t_model_ns,columns,atoms,t_count_s,t_model3d_s\n"
                     "s,0,1000000000,1500000000,2000000000,1,1,0,0\n"
                     "s,1,2000000000,2100000000,2200000000,1,1,0,0\n");
    CHECK_EQ_INT(t, webfeed_session_json(dir, &js, &len, &e), SD_OK);
    sjson_t *j = js ? sjson_parse(js, len, &e) : NULL;
    CHECK_MSG(t, j != NULL, "report document does not parse: %s", e.msg);
    CHECK_NEAR(t, sjson_num(j, sjson_path(j, 0, "frame.index")), 4, 0);
    CHECK_NEAR(t, sjson_num(j, sjson_path(j, 0, "stats.dt_ns")), 0.5, 0);
    CHECK_EQ_INT(t, sjson_type(j, sjson_get(j, 0, "health")), SJSON_ABSENT); /* no recording */
    sjson_destroy(&j);
    free(js);

    /* live: the feed publishes each part once per change */
    webgw_opts_t o = {.host = "127.0.0.1", .port = 0};
    webgw_t *g = webgw_new(&o, &e);
    webfeed_t *f = webfeed_new(dir, &e);
    CHECK(t, g && f);
    if (g && f) {
        CHECK_EQ_INT(t, webfeed_poll(f, g, &e), 4); /* model, lens, frame, health (latency) */
        CHECK_NEAR(t, webfeed_dt_ns(f), 0.5, 0);
        size_t n = 0;
        uint64_t ver = 0;
        CHECK(t, webfeed_stats(f, &n, &ver) && n > 10 && ver == 1);
        /* state.json rewritten unchanged: nothing is sent again */
        struct timespec ts0 = {0, 20 * 1000 * 1000};
        nanosleep(&ts0, NULL);
        snprintf(path, sizeof path, "%s/analyze/state.json", dir);
        write_text(path, STATE);
        CHECK_EQ_INT(t, webfeed_poll(f, g, &e), 0);
        snprintf(path, sizeof path, "%s/recon/latest.json", dir);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        write_text(path, "{\"index\":5,\"columns\":[]}\n");
        CHECK_EQ_INT(t, webfeed_poll(f, g, &e), 1);
        nanosleep(&ts, NULL);
        write_text(path, "{\"index\":6,"); /* a torn file never reaches the page */
        CHECK_EQ_INT(t, webfeed_poll(f, g, &e), 0);
        CHECK_STR_CONTAINS(t, e.msg, "latest.json");
        snprintf(path, sizeof path, "%s/recon/latency.csv", dir);
        FILE *lf = fopen(path, "a");
        if (lf) {
            fputs("s,2,3000000000,3000000000,3100000000,1,1,0,0\n", lf);
            fclose(lf);
        }
        CHECK_EQ_INT(t, webfeed_poll(f, g, &e), 1); /* health */
    }
    webfeed_destroy(&f);
    webgw_destroy(&g);
    rm_rf(dir);
}

SDT_MAIN(SDT_CASE(test_sjson), SDT_CASE(test_report_tables), SDT_CASE(test_recon_latest),
         SDT_CASE(test_feed))
