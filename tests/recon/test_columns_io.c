/* columns.csv round trip and reader validation. */
#include "recon.h"
#include "sdtest.h"

#include <stdio.h>
#include <unistd.h>

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void test_alloc_defaults(sdt_t *t)
{
    recon_columns_t c;
    sd_err_t e;
    CHECK_EQ_INT(t, recon_columns_alloc(&c, 5, &e), SD_OK);
    CHECK_EQ_INT(t, c.n, 5);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(t, c.count[i], -1);
        CHECK(t, c.x[i] == 0.0 && c.prob[i] == 0.0);
    }
    recon_columns_free(&c);
    CHECK(t, c.x == NULL && c.n == 0);
    recon_columns_free(&c); /* idempotent */
    CHECK_EQ_INT(t, recon_columns_alloc(&c, -3, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "out of range");
    CHECK_EQ_INT(t, recon_columns_alloc(&c, 0, &e), SD_OK);
    CHECK_EQ_INT(t, c.n, 0);
    recon_columns_free(&c);
}

static void test_round_trip(sdt_t *t)
{
    const char *path = "recon_cols_rt.csv";
    recon_columns_t c, d;
    sd_err_t e;
    const int n = 130; /* > initial growth chunk */
    CHECK_EQ_INT(t, recon_columns_alloc(&c, n, &e), SD_OK);
    for (int i = 0; i < n; i++) {
        c.x[i] = 1.0 / 3.0 + i;
        c.y[i] = -2.5e-3 * i;
        c.eta[i] = 1234.5678901 * i;
        c.rho[i] = 0.6;
        c.scs[i] = 2 * 3.14159 * c.eta[i] * 0.36;
        c.count[i] = i % 11;
        c.prob[i] = 0.5 + 0.003 * i;
    }
    CHECK_EQ_INT(t, recon_columns_write_csv(path, &c, &e), SD_OK);
    CHECK_EQ_INT(t, recon_columns_read_csv(path, &d, &e), SD_OK);
    CHECK_EQ_INT(t, d.n, n);
    for (int i = 0; i < n && d.n == n; i++) {
        CHECK_NEAR(t, d.x[i], c.x[i], 1e-9 * fabs(c.x[i]));
        CHECK_NEAR(t, d.y[i], c.y[i], 1e-12);
        CHECK_NEAR(t, d.eta[i], c.eta[i], 1e-9 * fabs(c.eta[i]) + 1e-12);
        CHECK_NEAR(t, d.scs[i], c.scs[i], 1e-9 * fabs(c.scs[i]) + 1e-12);
        CHECK_EQ_INT(t, d.count[i], c.count[i]);
        CHECK_NEAR(t, d.prob[i], c.prob[i], 1e-9);
    }
    recon_columns_free(&c);
    recon_columns_free(&d);
    unlink(path);
}

static void test_any_order_minimal(sdt_t *t)
{
    const char *path = "recon_cols_min.csv";
    recon_columns_t d;
    sd_err_t e;
    write_file(path, "\xEF\xBB\xBF" "count, extra ,y,x\r\n3,foo,2.0,1.5\r\n\r\n-1,bar,4,7e-1\r\n7.0,,0,0");
    CHECK_EQ_INT(t, recon_columns_read_csv(path, &d, &e), SD_OK);
    CHECK_EQ_INT(t, d.n, 3);
    if (d.n == 3) {
        CHECK_EQ_INT(t, d.count[0], 3);
        CHECK_NEAR(t, d.x[0], 1.5, 0);
        CHECK_NEAR(t, d.y[0], 2.0, 0);
        CHECK_EQ_INT(t, d.count[1], -1);
        CHECK_NEAR(t, d.x[1], 0.7, 1e-15);
        CHECK_EQ_INT(t, d.count[2], 7);
        CHECK(t, d.eta[0] == 0.0 && d.prob[2] == 0.0);
    }
    recon_columns_free(&d);

    write_file(path, "x,y,count\n");
    CHECK_EQ_INT(t, recon_columns_read_csv(path, &d, &e), SD_OK);
    CHECK_EQ_INT(t, d.n, 0);
    recon_columns_free(&d);
    unlink(path);
}

static void expect_bad(sdt_t *t, const char *text, int code, const char *msg)
{
    const char *path = "recon_cols_bad.csv";
    recon_columns_t d;
    sd_err_t e;
    write_file(path, text);
    int rc = recon_columns_read_csv(path, &d, &e);
    CHECK_MSG(t, rc == code, "input %s: rc %d, want %d (%s)", text, rc, code, e.msg);
    CHECK_STR_CONTAINS(t, e.msg, msg);
    CHECK(t, d.x == NULL && d.n == 0);
    unlink(path);
}

static void test_bad_input(sdt_t *t)
{
    expect_bad(t, "", SD_EFORMAT, "empty file");
    expect_bad(t, "x,y\n1,2\n", SD_EFORMAT, "x, y and count");
    expect_bad(t, "x,y,count,x\n1,2,3,4\n", SD_EFORMAT, "twice");
    expect_bad(t, "x,y,count\n1,2\n", SD_EFORMAT, ":2: 2 fields");
    expect_bad(t, "x,y,count\n1,2,3\n1,nan,3\n", SD_EFORMAT, ":3: y 'nan'");
    expect_bad(t, "x,y,count\n1,2,3.5\n", SD_EFORMAT, "count '3.5'");
    expect_bad(t, "x,y,count\n1,2,-4\n", SD_EFORMAT, "count '-4'");
    expect_bad(t, "x,y,count\n1,2,\n", SD_EFORMAT, "count ''");
    expect_bad(t, "x,y,count,probability\n1,2,3,1.5\n", SD_ERANGE, "outside 0..1");
    expect_bad(t, "x,y,count\n1x,2,3\n", SD_EFORMAT, "x '1x'");
    recon_columns_t d;
    sd_err_t e;
    CHECK_EQ_INT(t, recon_columns_read_csv("/nonexistent/dir/c.csv", &d, &e), SD_ENOTFOUND);
    CHECK_STR_CONTAINS(t, e.msg, "/nonexistent/dir/c.csv");
}

SDT_MAIN(SDT_CASE(test_alloc_defaults), SDT_CASE(test_round_trip),
         SDT_CASE(test_any_order_minimal), SDT_CASE(test_bad_input))
