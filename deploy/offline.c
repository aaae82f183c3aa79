/* `stemdyn offline`: the whole pipeline on a recording, in one process and
 * without sockets — count and reconstruct every frame (recon), run each
 * model's MD (sim_run, the worker's protocol and seeds), analyse every
 * snapshot (runstats).  It calls the same functions as the live stages, so
 * its statistics are what the live service must produce for the same
 * recording and configuration (the pipeline test checks that). */
#include "offline.h"

#include "analyze.h"
#include "recon.h"
#include "recon_service.h"
#include "runstats.h"
#include "sd_atoms.h"
#include "sd_clock.h"
#include "sd_config.h"
#include "sd_fs.h"
#include "sd_log.h"
#include "sd_msg.h"
#include "sd_recording.h"
#include "sim.h"
#include "sim_run.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Runs one model's MD and feeds every dump point to the statistics. */
static int run_md(const sd_config_t *cfg, const sd_atoms_t *model, int64_t frame, runstats_t *rs,
                  sd_err_t *e)
{
    sim_potential_t *p = sim_potential_new(cfg->md.potential, e);
    if (!p)
        return e->code;
    sim_run_config_t rc;
    sim_run_config_from_md(&cfg->md, frame, &rc);
    sim_run_t *r = sim_run_new(p, model->n, model->pos, &rc, e);
    int status = r ? SD_OK : e->code;
    int at_dump = r && sim_run_production_fs(r) >= 0;
    while (!status) {
        if (at_dump) {
            int k = runstats_push(rs, frame, sim_run_production_fs(r) * 1e-6, cfg->md.production_ns,
                                  0, sim_run_natoms(r), sim_run_positions(r), e);
            if (k < 0) {
                status = k;
                break;
            }
        }
        if (sim_run_done(r))
            break;
        status = sim_run_advance(r, 1 << 30, &at_dump, e);
    }
    sim_run_destroy(&r);
    sim_potential_destroy(&p);
    return status;
}

int offline_run(const sd_config_t *cfg, const char *recording, const char *outdir, sd_err_t *e)
{
    sd_rec_reader_t *rd = sd_rec_reader_open(recording, e);
    if (!rd)
        return e->code;
    dict_t *d = NULL;
    runstats_t *rs = NULL;
    const char *dpath = cfg->analyze.dictionary[0] ? cfg->analyze.dictionary : dict_default_path();
    runstats_opts_t o = {.dt_ns = cfg->md.dump_every_ns, .t_first_ns = cfg->md.analyse_from_ns,
                         .lens_rcut_A = cfg->analyze.lens_rcut_A,
                         .mask_z_below_A = cfg->analyze.mask_z_below_A};
    int rc = dict_load(dpath, &d, e);
    if (!rc && !(rs = runstats_new(d, &o, e)))
        rc = e->code;
    recon_series_t *hmm = NULL;
    sd_msg_series_start_t series;
    memset(&series, 0, sizeof series);
    int64_t last_frame = -1;
    uint64_t n = sd_rec_reader_count(rd);
    for (uint64_t i = 0; i < n && !rc; i++) {
        sd_rec_record_t rec;
        if ((rc = sd_rec_reader_read(rd, i, &rec, e)))
            break;
        sd_parts_t parts = {.n = (int)rec.n_parts};
        for (uint32_t q = 0; q < rec.n_parts && q < SD_PARTS_CAP; q++) {
            parts.data[q] = rec.parts[q];
            parts.len[q] = rec.lens[q];
        }
        sd_msg_t m;
        if (sd_msg_decode(&parts, &m, 0, NULL) != SD_OK)
            continue; /* the live path skips what it cannot decode, too */
        if (m.type == SD_MSG_SERIES_START) {
            if (strcmp(series.series_id, m.u.series_start.series_id)) {
                recon_series_destroy(&hmm);
                hmm = cfg->recon.series_aware ? recon_series_new(0.9) : NULL;
                last_frame = -1;
            }
            series = m.u.series_start;
        } else if (m.type == SD_MSG_FRAME && !strcmp(m.u.frame.series_id, series.series_id) &&
                   m.u.frame.frame_index > last_frame) {
            const sd_msg_frame_t *f = &m.u.frame;
            last_frame = f->frame_index;
            double dx = series.pixel_size_A > 0 ? series.pixel_size_A : cfg->recon.dx_A;
            double *img = malloc((size_t)f->width * (size_t)f->height * sizeof *img);
            sd_atoms_t *model = NULL;
            recon_frame_result_t fr;
            if (!img) {
                rc = sd_err_set(e, SD_ENOMEM, "out of memory");
            } else {
                sd_dtype_to_f64(f->dtype, f->pixels, (size_t)f->width * (size_t)f->height, img);
                sd_err_t fe;
                int frc = recon_service_frame_model(cfg, hmm, dx, img, f->height, f->width,
                                                    f->frame_index, &model, NULL, &fr, &fe);
                free(img);
                if (frc)
                    sd_log(SD_LOG_WARN, "offline", "frame %lld: %s", (long long)f->frame_index, fe.msg);
                else if (model && model->n > 0) {
                    sd_log(SD_LOG_INFO, "offline", "frame %lld: %lld columns, %lld atoms; MD…",
                           (long long)f->frame_index, fr.columns, (long long)model->n);
                    rc = run_md(cfg, model, f->frame_index, rs, e);
                }
            }
            sd_atoms_destroy(&model);
        }
        sd_msg_free(&m);
    }
    sd_rec_reader_destroy(&rd);
    recon_series_destroy(&hmm);
    if (!rc)
        rc = sd_fs_mkdir_p(outdir, e);
    if (!rc) {
        char path[4096];
        snprintf(path, sizeof path, "%s/state.json", outdir);
        char *js = NULL;
        size_t len = 0;
        rc = runstats_json(rs, series.series_id, &js, &len, e);
        FILE *f = rc ? NULL : fopen(path, "w");
        if (!rc && (!f || fwrite(js, 1, len, f) != len))
            rc = sd_err_set(e, SD_EIO, "cannot write %s", path);
        if (f)
            fclose(f);
        free(js);
        if (!rc)
            sd_log(SD_LOG_INFO, "offline", "%lld frames analysed; statistics in %s",
                   (long long)runstats_frames_total(rs), path);
    }
    runstats_destroy(&rs);
    dict_destroy(&d);
    return rc;
}

int offline_cmd(int argc, char **argv)
{
    static const struct option lo[] = {{"config", required_argument, 0, 'c'},
                                        {"output", required_argument, 0, 'o'},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
    const char *cfg_path = NULL, *out = NULL;
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "c:o:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': cfg_path = optarg; break;
        case 'o': out = optarg; break;
        case 'h':
            printf("usage: stemdyn offline RECORDING -o DIR [--config FILE]\n\n"
                   "Runs the whole pipeline on a recording in one process, without sockets:\n"
                   "counting and 3D reconstruction of every frame, the MD protocol of each\n"
                   "model (md.* settings, the workers' seeds), classification, LENS and\n"
                   "transition statistics of every snapshot.  Writes DIR/state.json, the same\n"
                   "state the live analyze process writes (compare, or `stemdyn report`).\n");
            return SD_EXIT_OK;
        default: return SD_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || !out)
        return sd_cli_fail("offline", SD_EXIT_USAGE, "usage: stemdyn offline RECORDING -o DIR [--config FILE]");
    sd_config_t c;
    sd_err_t e;
    if (sd_config_load(cfg_path, &c, &e))
        return sd_cli_fail("offline", SD_EXIT_FAIL, "%s", e.msg);
    if (offline_run(&c, argv[optind], out, &e))
        return sd_cli_fail("offline", SD_EXIT_FAIL, "%s", e.msg);
    return SD_EXIT_OK;
}
