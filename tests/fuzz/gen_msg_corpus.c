/* Writes the seed corpora of the wire-message fuzz harnesses:
 *   OUT/msg_<type>/<variant>  [header][payload…]       (per-type harnesses)
 *   OUT/msg/<type>_<variant>  [topic][header][payload…] (generic harness)
 * in the framing of fuzz_msg_common.h (4-byte LE length + bytes per part).
 * Every seed is checked to decode.  Run: fuzz_gen_msg_corpus tests/fuzz/corpus */
#include "msg_samples.h"
#include "sd_msg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static void put_part(FILE *f, const uint8_t *p, size_t n)
{
    uint8_t l[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    fwrite(l, 1, 4, f);
    fwrite(p, 1, n, f);
}

static void write_seed(const char *out, const sd_msg_t *m, const char *variant)
{
    sd_parts_t p;
    sd_err_t e;
    if (sd_msg_encode(m, &p, &e) != SD_OK) {
        fprintf(stderr, "encode: %s\n", e.msg);
        exit(1);
    }
    sd_msg_t d;
    if (sd_msg_decode(&p, &d, 0, &e) != SD_OK) {
        fprintf(stderr, "seed does not decode: %s\n", e.msg);
        exit(1);
    }
    sd_msg_free(&d);
    const char *name = sd_msg_type_name(m->type);
    char path[1024];
    for (int generic = 0; generic < 2; generic++) {
        if (generic) {
            snprintf(path, sizeof path, "%s/msg", out);
            mkdir(path, 0755);
            snprintf(path, sizeof path, "%s/msg/%s_%s", out, name, variant);
        } else {
            snprintf(path, sizeof path, "%s/msg_%s", out, name);
            mkdir(path, 0755);
            snprintf(path, sizeof path, "%s/msg_%s/%s", out, name, variant);
        }
        FILE *f = fopen(path, "wb");
        if (!f) {
            fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
            exit(1);
        }
        for (int i = generic ? 0 : 1; i < p.n; i++)
            put_part(f, p.data[i], p.len[i]);
        fclose(f);
    }
    sd_parts_free(&p);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    const char *out = argv[1];
    mkdir(out, 0755);
    sd_msg_t m;
    for (int t = 1; t < SD_MSG_TYPE_COUNT; t++) {
        make(&m, (sd_msg_type_t)t);
        write_seed(out, &m, "full");
    }
    /* Variants: optional parts absent, other pixel types, other shapes. */
    make(&m, SD_MSG_SERIES_START);
    m.u.series_start.has_zone_axis = 0;
    m.u.series_start.sample[0] = m.u.series_start.element[0] = 0;
    m.u.series_start.dtype = SD_DTYPE_F32;
    write_seed(out, &m, "minimal");
    static uint8_t px8[7 * 2];
    static double px64[2 * 2] = {1.5, -2, 0, 1e300};
    make(&m, SD_MSG_FRAME);
    m.u.frame.dtype = SD_DTYPE_U8;
    m.u.frame.width = 7;
    m.u.frame.height = 2;
    m.u.frame.pixels = px8;
    m.u.frame.pixels_len = sizeof px8;
    write_seed(out, &m, "u8");
    make(&m, SD_MSG_FRAME);
    m.u.frame.dtype = SD_DTYPE_F64;
    m.u.frame.width = 2;
    m.u.frame.height = 2;
    m.u.frame.pixels = px64;
    m.u.frame.pixels_len = sizeof px64;
    strcpy(m.topic_suffix, "cam0");
    write_seed(out, &m, "f64");
    make(&m, SD_MSG_MODEL);
    m.u.model.column_id = NULL;
    m.u.model.prov.software[0] = 0;
    write_seed(out, &m, "no_column_id");
    make(&m, SD_MSG_COLUMNS);
    m.u.columns.n = 0;
    write_seed(out, &m, "empty");
    make(&m, SD_MSG_SIM_JOB);
    m.u.sim_job.checkpoint = NULL;
    m.u.sim_job.checkpoint_len = 0;
    write_seed(out, &m, "fresh");
    make(&m, SD_MSG_STATS);
    m.u.stats.P = m.u.stats.tau_ns = NULL;
    m.u.stats.has_lens = 0;
    m.u.stats.n_latency = 0;
    m.u.stats.k = 1;
    m.u.stats.run_id = 12;
    snprintf(m.topic_suffix, sizeof m.topic_suffix, "12");
    write_seed(out, &m, "k1");
    make(&m, SD_MSG_ERROR);
    m.u.error.series_id[0] = 0;
    m.u.error.frame_index = -1;
    strcpy(m.u.error.job_id, "job-7");
    write_seed(out, &m, "job");
    printf("corpus written to %s\n", out);
    return 0;
}
