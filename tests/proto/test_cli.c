/* sd_cli and sd_err: strict option parsing. */
#include "sd_cli.h"
#include "sdtest.h"

static void test_parse_double(sdt_t *t)
{
    sd_err_t e;
    double v = 0;
    CHECK_EQ_INT(t, sd_cli_parse_double("673.5", "--temp", 0, 1e4, &v, &e), SD_OK);
    CHECK_NEAR(t, v, 673.5, 0);
    CHECK_EQ_INT(t, sd_cli_parse_double("abc", "--temp", 0, 1e4, &v, &e), SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "--temp");
    CHECK_EQ_INT(t, sd_cli_parse_double("1e5", "--temp", 0, 1e4, &v, &e), SD_ERANGE);
    CHECK_EQ_INT(t, sd_cli_parse_double("nan", "--temp", 0, 1e4, &v, &e), SD_ERANGE);
    CHECK_EQ_INT(t, sd_cli_parse_double("12x", "--temp", 0, 1e4, &v, &e), SD_EINVAL);
    CHECK_EQ_INT(t, sd_cli_parse_double("", "--temp", 0, 1e4, &v, &e), SD_EINVAL);
}

static void test_parse_i64(sdt_t *t)
{
    sd_err_t e;
    int64_t v = 0;
    CHECK_EQ_INT(t, sd_cli_parse_i64("20000", "--steps", 0, INT64_MAX, &v, &e), SD_OK);
    CHECK_EQ_INT(t, v, 20000);
    CHECK_EQ_INT(t, sd_cli_parse_i64("-1", "--steps", 0, INT64_MAX, &v, &e), SD_ERANGE);
    CHECK_EQ_INT(t, sd_cli_parse_i64("1.5", "--steps", 0, INT64_MAX, &v, &e), SD_EINVAL);
    CHECK_EQ_INT(t, sd_cli_parse_i64("99999999999999999999", "--steps", 0, INT64_MAX, &v, &e),
                 SD_EINVAL);
}

static void test_parse_duration(sdt_t *t)
{
    sd_err_t e;
    double fs = 0;
    CHECK_EQ_INT(t, sd_cli_parse_duration_fs("10ns", "--time", "fs", &fs, &e), SD_OK);
    CHECK_NEAR(t, fs, 1e7, 0);
    CHECK_EQ_INT(t, sd_cli_parse_duration_fs("5", "--dt", "fs", &fs, &e), SD_OK);
    CHECK_NEAR(t, fs, 5, 0);
    CHECK_EQ_INT(t, sd_cli_parse_duration_fs("2us", "--time", "fs", &fs, &e), SD_OK);
    CHECK_NEAR(t, fs, 2e9, 0);
    CHECK_EQ_INT(t, sd_cli_parse_duration_fs("3 parsecs", "--time", "fs", &fs, &e), SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "unit");
}

static void test_err_prefix(sdt_t *t)
{
    sd_err_t e;
    sd_err_set(&e, SD_EFORMAT, "line %d: bad", 3);
    sd_err_prefix(&e, "file %s", "a.xyz");
    CHECK_EQ_INT(t, e.code, SD_EFORMAT);
    CHECK(t, !strcmp(e.msg, "file a.xyz: line 3: bad"));
    CHECK(t, !strcmp(sd_err_name(SD_EVERSION), "unsupported version"));
}

SDT_MAIN(SDT_CASE(test_parse_double), SDT_CASE(test_parse_i64), SDT_CASE(test_parse_duration),
         SDT_CASE(test_err_prefix))
