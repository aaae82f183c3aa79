/* sd_config: defaults, loading, validation, unknown keys, round trip. */
#include "sd_config.h"
#include "sdtest.h"

#include <unistd.h>

static const char *write_tmp(const char *text, char *path, size_t len)
{
    snprintf(path, len, "test_config_%d.conf", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_defaults_valid(sdt_t *t)
{
    sd_config_t c;
    sd_err_t e;
    sd_config_defaults(&c);
    CHECK_EQ_INT(t, sd_config_validate(&c, &e), SD_OK);
    CHECK_NEAR(t, c.md.temperature_K, 673.0, 0);
    CHECK_NEAR(t, c.md.dt_fs, 5.0, 0);
    CHECK_EQ_INT(t, c.md.thermalize_steps, 20000);
    CHECK(t, !strcmp(c.ep.console_in, "tcp://*:5555"));
    CHECK(t, isnan(c.analyze.mask_z_below_A));
}

static void test_load_overrides(sdt_t *t)
{
    char p[256];
    sd_config_t c;
    sd_err_t e;
    write_tmp("workers = 2;\nmd = { temperature_K = 300.0; production_ns = 10; analyse_from_ns = 5; seed = 7; };\n"
              "analyze = { mask_z_below_A = 12.5; };\nendpoints = { console_in = \"tcp://*:6000\"; };\n",
              p, sizeof p);
    CHECK_EQ_INT(t, sd_config_load(p, &c, &e), SD_OK);
    CHECK_EQ_INT(t, c.workers, 2);
    CHECK_NEAR(t, c.md.temperature_K, 300.0, 0);
    CHECK_NEAR(t, c.md.production_ns, 10.0, 0);
    CHECK_EQ_INT(t, c.md.seed, 7);
    CHECK_NEAR(t, c.analyze.mask_z_below_A, 12.5, 0);
    CHECK(t, !strcmp(c.ep.console_in, "tcp://*:6000"));
    CHECK_NEAR(t, c.md.dt_fs, 5.0, 0); /* untouched default */
    remove(p);
}

static void test_rejections(sdt_t *t)
{
    char p[256];
    sd_config_t c;
    sd_err_t e;
    struct { const char *text; int code; const char *frag; } bad[] = {
        {"md = { temprature_K = 300.0; };", SD_EINVAL, "unknown setting 'md.temprature_K'"},
        {"md = { temperature_K = -5.0; };", SD_ERANGE, "md.temperature_K"},
        {"md = { temperature_K = \"hot\"; };", SD_EINVAL, "must be a number"},
        {"workers = 1.5;", SD_EINVAL, "workers must be an integer"},
        {"endpoints = { stats_pub = \"http://x\"; };", SD_EINVAL, "stats_pub"},
        {"md = { production_ns = 10.0; analyse_from_ns = 20.0; };", SD_ERANGE, "analyse_from_ns"},
        {"md = { dump_every_ns = 0.0000013; };", SD_EINVAL, "whole number"},
        {"security = { server_cert = \"a\"; };", SD_EINVAL, "set together"},
        {"md = { temperature_K = 300.0 ", SD_EFORMAT, "syntax error"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_tmp(bad[i].text, p, sizeof p);
        int rc = sd_config_load(p, &c, &e);
        CHECK_MSG(t, rc == bad[i].code, "case %zu: rc %d, want %d (%s)", i, rc, bad[i].code, e.msg);
        CHECK_STR_CONTAINS(t, e.msg, bad[i].frag);
        remove(p);
    }
    CHECK_EQ_INT(t, sd_config_load("/nonexistent/x.conf", &c, &e), SD_EIO);
}

static void test_write_roundtrip(sdt_t *t)
{
    sd_config_t a, b;
    sd_err_t e;
    sd_config_defaults(&a);
    a.md.temperature_K = 300.0;
    a.workers = 3;
    a.md.seed = 123456789012345ULL;
    a.analyze.mask_z_below_A = 4.25;
    char p[256];
    snprintf(p, sizeof p, "test_config_rt_%d.conf", (int)getpid());
    CHECK_EQ_INT(t, sd_config_write(p, &a, &e), SD_OK);
    CHECK_MSG(t, sd_config_load(p, &b, &e) == SD_OK, "%s", e.msg);
    CHECK_EQ_INT(t, b.workers, 3);
    CHECK_NEAR(t, b.md.temperature_K, 300.0, 0);
    CHECK(t, b.md.seed == 123456789012345ULL);
    CHECK_NEAR(t, b.analyze.mask_z_below_A, 4.25, 0);
    CHECK(t, !strcmp(a.ep.stats_pub, b.ep.stats_pub));
    remove(p);
}

SDT_MAIN(SDT_CASE(test_defaults_valid), SDT_CASE(test_load_overrides), SDT_CASE(test_rejections),
         SDT_CASE(test_write_roundtrip))
