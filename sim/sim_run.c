#include "sim_run.h"

#include "sd_config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sim_run {
    sim_run_config_t c;
    sim_md_t *md;
    int64_t steps_per_dump;
    int64_t prod_steps; /* production steps in total */
};

void sim_run_config_from_md(const struct sd_config_md *md, int64_t frame_index,
                            sim_run_config_t *out)
{
    memset(out, 0, sizeof *out);
    out->temp_K = md->temperature_K;
    out->dt_fs = md->dt_fs;
    out->thermalize_steps = md->thermalize_steps;
    out->thermalize_dt_fs = md->thermalize_dt_fs;
    out->production_fs = md->production_ns * 1e6;
    out->dump_every_fs = md->dump_every_ns * 1e6;
    out->damp_ps = md->damp_ps;
    out->seed = md->seed * 1000003ULL + (uint64_t)frame_index;
    out->minimize = 1;
}

static int check_config(const sim_run_config_t *c, int64_t *per_dump, int64_t *prod,
                        sd_err_t *e)
{
    if (!(c->temp_K > 0) || !(c->dt_fs > 0) || !(c->thermalize_dt_fs > 0) ||
        c->thermalize_steps < 0 || !(c->production_fs > 0) || !(c->dump_every_fs > 0) ||
        !(c->damp_ps > 0))
        return sd_err_set(e, SD_EINVAL, "MD protocol: temperatures, steps and times must be > 0");
    double k = c->dump_every_fs / c->dt_fs, m = c->production_fs / c->dt_fs;
    if (fabs(k - nearbyint(k)) > 1e-6 * k || k < 1)
        return sd_err_set(e, SD_EINVAL, "dump interval %g fs is not a whole number of %g fs steps",
                          c->dump_every_fs, c->dt_fs);
    *per_dump = (int64_t)nearbyint(k);
    *prod = (int64_t)nearbyint(m);
    return SD_OK;
}

static void md_config(const sim_run_config_t *c, sim_md_config_t *mc)
{
    sim_md_config_default(mc);
    mc->temp_K = c->temp_K;
    mc->dt_fs = c->thermalize_steps > 0 ? c->thermalize_dt_fs : c->dt_fs;
    mc->thermostat = SIM_LANGEVIN;
    mc->damp_ps = c->damp_ps;
    mc->seed = c->seed;
    mc->init_velocities = 1;
    mc->wall = c->wall;
}

sim_run_t *sim_run_new(const sim_potential_t *p, int64_t n, const double *pos,
                       const sim_run_config_t *c, sd_err_t *e)
{
    sim_run_t *r = calloc(1, sizeof *r);
    double *x = r ? malloc((size_t)(3 * n) * sizeof *x) : NULL;
    if (!r || !x || n < 1) {
        free(r);
        free(x);
        sd_err_set(e, n < 1 ? SD_EINVAL : SD_ENOMEM, n < 1 ? "no atoms" : "out of memory");
        return NULL;
    }
    r->c = *c;
    if (check_config(c, &r->steps_per_dump, &r->prod_steps, e)) {
        free(x);
        free(r);
        return NULL;
    }
    memcpy(x, pos, (size_t)(3 * n) * sizeof *x);
    int rc = SD_OK;
    if (c->minimize) {
        sim_min_opts_t mo;
        sim_min_opts_default(&mo);
        mo.wall = c->wall;
        rc = sim_minimize(p, n, x, &mo, NULL, e);
    }
    sim_md_config_t mc;
    md_config(c, &mc);
    if (!rc)
        r->md = sim_md_new_flat(p, n, x, NULL, &mc, e);
    free(x);
    if (!r->md) {
        free(r);
        return NULL;
    }
    return r;
}

sim_run_t *sim_run_restore(const sim_potential_t *p, const void *blob, size_t len,
                           const sim_run_config_t *c, sd_err_t *e)
{
    sim_run_t *r = calloc(1, sizeof *r);
    if (!r) {
        sd_err_set(e, SD_ENOMEM, "out of memory");
        return NULL;
    }
    r->c = *c;
    if (check_config(c, &r->steps_per_dump, &r->prod_steps, e)) {
        free(r);
        return NULL;
    }
    /* the checkpoint API is file based: stage the blob in a private temp file */
    char tmp[] = "/tmp/stemdyn-ckpt-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0 || write(fd, blob, len) != (ssize_t)len) {
        sd_err_set(e, SD_EIO, "cannot stage checkpoint: %s", strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(r);
        return NULL;
    }
    close(fd);
    r->md = sim_md_restore(p, tmp, e);
    unlink(tmp);
    if (!r->md) {
        free(r);
        return NULL;
    }
    return r;
}

void sim_run_destroy(sim_run_t **pr)
{
    if (!pr || !*pr)
        return;
    sim_md_destroy(&(*pr)->md);
    free(*pr);
    *pr = NULL;
}

static int64_t prod_step(const sim_run_t *r)
{
    return sim_md_step(r->md) - r->c.thermalize_steps;
}

int sim_run_advance(sim_run_t *r, int64_t max_steps, int *at_dump, sd_err_t *e)
{
    *at_dump = 0;
    if (max_steps < 1)
        return sd_err_set(e, SD_EINVAL, "max_steps must be >= 1");
    int64_t ps = prod_step(r);
    int64_t todo;
    if (ps < 0) {
        todo = -ps < max_steps ? -ps : max_steps;
    } else {
        if (ps >= r->prod_steps)
            return SD_OK;
        int64_t next = (ps / r->steps_per_dump + 1) * r->steps_per_dump;
        if (next > r->prod_steps)
            next = r->prod_steps;
        todo = next - ps < max_steps ? next - ps : max_steps;
    }
    int rc = sim_md_advance(r->md, todo, e);
    if (rc)
        return rc;
    ps = prod_step(r);
    if (ps == 0 && r->c.thermalize_steps > 0 && r->c.thermalize_dt_fs != r->c.dt_fs)
        if ((rc = sim_md_set_dt(r->md, r->c.dt_fs, e)))
            return rc;
    *at_dump = ps >= 0 && ps % r->steps_per_dump == 0;
    return SD_OK;
}

int sim_run_done(const sim_run_t *r)
{
    return prod_step(r) >= r->prod_steps;
}

double sim_run_production_fs(const sim_run_t *r)
{
    return (double)prod_step(r) * r->c.dt_fs;
}

int64_t sim_run_step(const sim_run_t *r)
{
    return sim_md_step(r->md);
}

int64_t sim_run_natoms(const sim_run_t *r)
{
    return sim_md_natoms(r->md);
}

const double *sim_run_positions(sim_run_t *r)
{
    return sim_md_positions(r->md);
}

double sim_run_temperature(const sim_run_t *r)
{
    return sim_md_temperature(r->md);
}

double sim_run_epot(const sim_run_t *r)
{
    return sim_md_potential_energy(r->md);
}

int sim_run_checkpoint(const sim_run_t *r, void **blob, size_t *len, sd_err_t *e)
{
    char tmp[] = "/tmp/stemdyn-ckpt-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0)
        return sd_err_set(e, SD_EIO, "cannot create a temporary file: %s", strerror(errno));
    close(fd);
    int rc = sim_md_checkpoint_write(r->md, tmp, e);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    FILE *f = fopen(tmp, "rb");
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    void *b = n > 0 ? malloc((size_t)n) : NULL;
    if (!f || !b || fseek(f, 0, SEEK_SET) || fread(b, 1, (size_t)n, f) != (size_t)n) {
        if (f)
            fclose(f);
        free(b);
        unlink(tmp);
        return sd_err_set(e, SD_EIO, "cannot read back the checkpoint");
    }
    fclose(f);
    unlink(tmp);
    *blob = b;
    *len = (size_t)n;
    return SD_OK;
}
