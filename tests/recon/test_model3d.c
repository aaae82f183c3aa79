/* 3D reconstruction: start model (StatSTEM rule, reproduced on its PtIr
 * example), local SMATB energy changes against full sums and sim_compute,
 * the Monte-Carlo search and the build on a synthetic FCC particle. */
#include "model3d.h"
#include "recon.h"
#include "sd_atoms.h"
#include "sd_msg.h"
#include "sdtest.h"
#include "sim.h"

#include <stdint.h>

static void test_fcc_a0(sdt_t *t)
{
    sim_potential_t *p = sim_potential_new("Au", NULL);
    CHECK(t, p != NULL);
    if (!p) return;
    double ecoh;
    double a0 = recon_m3_fcc_a0(p, &ecoh);
    /* oracle README §1: bulk check a0 = 4.06417 Å, E_coh = -3.810033 eV/atom */
    CHECK_NEAR(t, a0, 4.06417, 5e-5);
    CHECK_NEAR(t, ecoh, -3.810033, 2e-6);
    sim_potential_destroy(&p);
}

static void test_start_levels(sdt_t *t)
{
    /* max n = 3 (odd) → s = -1; sublattice 1 gets -0.5 repeat */
    int32_t count[4] = {3, 2, 1, 0}, sub[4] = {0, 1, 1, 0}, bot[4];
    recon_m3_start_levels(4, count, sub, 0.5, bot);
    /* n=3: k - 2 → -1,0,1 → bottom -1 repeat = -2 half */
    CHECK_EQ_INT(t, bot[0], -2);
    /* n=2, sub 1: k - 2 - 0.5 → -1.5 → -3 half */
    CHECK_EQ_INT(t, bot[1], -3);
    /* n=1, sub 1: k - 1 - 0.5 → -0.5 → -1 half */
    CHECK_EQ_INT(t, bot[2], -1);
    CHECK_EQ_INT(t, bot[3], 0);
    count[0] = 4; /* max even → s = +1 */
    recon_m3_start_levels(4, count, sub, 0.5, bot);
    CHECK_EQ_INT(t, bot[0], -4); /* k - 3 → -2 */
    CHECK_EQ_INT(t, bot[1], -1); /* k - 2 + 0.5 → -0.5 */
}

/* PtIr_columns.csv (StatSTEM counts) → start model == PtIr_model3D_statstem.csv */
static int read_ptir(const char *path, int ncolsw, double *buf, int maxrows)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    int n = 0;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return -1;
    }
    while (n < maxrows && fgets(line, sizeof line, f)) {
        char *s = line;
        for (int k = 0; k < ncolsw; k++) {
            buf[n * ncolsw + k] = strtod(s, &s);
            if (*s == ',') s++;
        }
        n++;
    }
    fclose(f);
    return n;
}

static void test_statstem_ptir(sdt_t *t)
{
    char p1[1024], p2[1024];
    sdt_shared_or_skip("oracle/stem/PtIr_columns.csv", p1, sizeof p1);
    sdt_shared_or_skip("oracle/stem/PtIr_model3D_statstem.csv", p2, sizeof p2);
    static double cbuf[200 * 6], mbuf[1000 * 3];
    int nc = read_ptir(p1, 6, cbuf, 200), nm = read_ptir(p2, 3, mbuf, 1000);
    CHECK_EQ_INT(t, nc, 135);
    CHECK_EQ_INT(t, nm, 788);
    if (nc != 135 || nm != 788) return;
    double x[135], y[135];
    int32_t cnt[135], sub[135], bot[135];
    for (int i = 0; i < nc; i++) {
        x[i] = cbuf[6 * i];
        y[i] = cbuf[6 * i + 1];
        cnt[i] = (int32_t)cbuf[6 * i + 5];
    }
    int ng = recon_m3_sublattice(nc, x, y, sub, NULL);
    CHECK_EQ_INT(t, ng, 1);
    /* StatSTEM's example output puts the second sublattice half a repeat
     * *below* (its projected cell for PtIr; max count 10 is even, so s = +1):
     * zinfo_b = -0.5.  The PtIr repeat along [110] is 2.7748 Å. */
    recon_m3_start_levels(nc, cnt, sub, -0.5, bot);
    int64_t natoms = 0;
    for (int i = 0; i < nc; i++) natoms += cnt[i];
    CHECK_EQ_INT(t, natoms, 788);
    double *pos = malloc((size_t)natoms * 3 * sizeof *pos);
    recon_m3_positions(nc, x, y, cnt, bot, 2.7748, pos, NULL);
    /* sublattice labels are defined up to a swap: try both */
    int best = 0;
    for (int swap = 0; swap < 2; swap++) {
        int32_t s2[135];
        for (int i = 0; i < nc; i++) s2[i] = swap ? 1 - sub[i] : sub[i];
        recon_m3_start_levels(nc, cnt, s2, -0.5, bot);
        recon_m3_positions(nc, x, y, cnt, bot, 2.7748, pos, NULL);
        /* every StatSTEM atom must be one of ours (same x, y exactly; z 1e-9) */
        int matched = 0;
        for (int a = 0; a < nm; a++) {
            for (int64_t b = 0; b < natoms; b++)
                if (pos[3 * b] == mbuf[3 * a] && pos[3 * b + 1] == mbuf[3 * a + 1] &&
                    fabs(pos[3 * b + 2] - mbuf[3 * a + 2]) < 1e-9) {
                    matched++;
                    break;
                }
        }
        if (matched > best) best = matched;
    }
    CHECK_EQ_INT(t, best, 788);
    free(pos);
}

/* A truncated-sphere FCC particle with [110] along z (columns along z). */
static int64_t fcc110_particle(double a0, double radius, double zcut, double bcut, double *pos,
                               int64_t max)
{
    const double s2 = sqrt(2.0);
    int m = (int)(radius / (a0 / 2)) + 2;
    int64_t n = 0;
    for (int i = -m; i <= m; i++)
        for (int j = -m; j <= m; j++)
            for (int k = -m; k <= m; k++) {
                if ((i + j + k) & 1) continue;
                double cx = 0.5 * a0 * i, cy = 0.5 * a0 * j, cz = 0.5 * a0 * k;
                /* frame: x' = [001], y' = [1-10]/√2, z' = [110]/√2 */
                double X = cz, Y = (cx - cy) / s2, Z = (cx + cy) / s2;
                if (X * X + Y * Y + Z * Z > radius * radius || X < -zcut || Z < -bcut) continue;
                if (n < max) {
                    pos[3 * n] = X + 0.013; /* break exact symmetry ties */
                    pos[3 * n + 1] = Y;
                    pos[3 * n + 2] = Z;
                }
                n++;
            }
    return n;
}

static void test_mc_energy(sdt_t *t)
{
    sim_potential_t *p = sim_potential_new("Au", NULL);
    if (!p) {
        CHECK(t, p != NULL);
        return;
    }
    double a0 = recon_m3_fcc_a0(p, NULL), c = a0 / sqrt(2.0);
    static double pos[3 * 4000];
    int64_t n = fcc110_particle(a0, 11.0, 100, 100, pos, 4000);
    CHECK(t, n > 200 && n < 4000);
    recon_columns_t cols;
    int64_t *coa = malloc((size_t)n * sizeof *coa);
    double *zlo, *zhi;
    const double ax[3] = {0, 0, 1};
    CHECK_EQ_INT(t, recon_columns_from_model(n, pos, ax, 0, 0, &cols, coa, &zlo, &zhi, NULL, NULL), SD_OK);
    int32_t *sub = malloc((size_t)cols.n * sizeof *sub), *bot = malloc((size_t)cols.n * sizeof *bot);
    CHECK_EQ_INT(t, recon_m3_sublattice(cols.n, cols.x, cols.y, sub, NULL), 1);
    /* the true sublattice: parity of the truth's bottom level */
    int agree = 0;
    for (int64_t j = 0; j < cols.n; j++) {
        long lev = lround(zlo[j] / (0.5 * c));
        agree += (int)((lev & 1) == sub[j]);
    }
    CHECK_MSG(t, agree == cols.n || agree == 0, "sublattice agrees on %d of %lld", agree,
              (long long)cols.n);
    recon_m3_start_levels(cols.n, cols.count, sub, 0.5, bot);
    recon_m3_mc_t *mc = recon_m3_mc_new(p, cols.n, cols.x, cols.y, cols.count, bot, c, NULL);
    CHECK(t, mc != NULL);
    if (mc) {
        double *mp = malloc((size_t)n * 3 * sizeof *mp);
        /* incremental energy equals a full recompute and sim_compute */
        double e0 = recon_m3_mc_energy(mc), ef;
        recon_m3_positions(cols.n, cols.x, cols.y, cols.count, recon_m3_mc_bottoms(mc), c, mp,
                           NULL);
        CHECK_EQ_INT(t, sim_compute(p, n, mp, &ef, NULL, NULL, NULL), SD_OK);
        CHECK_NEAR(t, e0, ef, 1e-8);
        uint64_t r = 12345;
        double maxdev = 0;
        for (int it = 0; it < 300; it++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            int64_t j = (int64_t)((r >> 33) % (uint64_t)cols.n);
            int dir = (r >> 20) & 1 ? 1 : -1;
            double before = recon_m3_mc_energy(mc);
            double d0 = recon_m3_mc_move(mc, j, dir, 0);
            CHECK_NEAR(t, recon_m3_mc_energy(mc), before, 0); /* apply = 0 restores */
            double d1 = recon_m3_mc_move(mc, j, dir, it % 3 != 0);
            CHECK_NEAR(t, d0, d1, 1e-12);
            if (it % 25 == 0) {
                double full = recon_m3_mc_energy_full(mc);
                double dev = fabs(full - recon_m3_mc_energy(mc));
                if (dev > maxdev) maxdev = dev;
                recon_m3_positions(cols.n, cols.x, cols.y, cols.count, recon_m3_mc_bottoms(mc),
                                   c, mp, NULL);
                double es;
                CHECK_EQ_INT(t, sim_compute(p, n, mp, &es, NULL, NULL, NULL), SD_OK);
                CHECK_NEAR(t, full, es, 1e-8);
            }
        }
        CHECK_MSG(t, maxdev < 1e-9, "incremental energy drift %.3g eV", maxdev);
        free(mp);
    }
    recon_m3_mc_destroy(&mc);
    CHECK(t, mc == NULL);
    free(sub);
    free(bot);
    free(coa);
    free(zlo);
    free(zhi);
    recon_columns_free(&cols);
    sim_potential_destroy(&p);
}

/* count of atoms per column_id equals the input count */
static int counts_kept(const sd_atoms_t *m, const recon_columns_t *cols)
{
    const sd_prop_t *pr = sd_atoms_get_prop(m, "column_id");
    if (!pr) return 0;
    int32_t *got = calloc((size_t)cols->n + 1, sizeof *got);
    for (int64_t a = 0; a < m->n; a++) {
        if (pr->ints[a] < 0 || pr->ints[a] >= cols->n) {
            free(got);
            return 0;
        }
        got[pr->ints[a]]++;
    }
    int ok = 1;
    for (int64_t j = 0; j < cols->n; j++)
        if (got[j] != (cols->count[j] > 0 ? cols->count[j] : 0)) ok = 0;
    free(got);
    return ok;
}

static void test_build_synthetic(sdt_t *t)
{
    static double pos[3 * 4000];
    /* flat-bottomed (supported-like) particle, also cut across the beam so
     * that the symmetric start model is wrong */
    int64_t n = fcc110_particle(4.06417, 12.0, 6.0, 5.0, pos, 4000);
    recon_columns_t cols;
    double *zlo, *zhi;
    const double ax[3] = {0, 0, 1};
    CHECK_EQ_INT(t, recon_columns_from_model(n, pos, ax, 0, 0, &cols, NULL, &zlo, &zhi, NULL, NULL), SD_OK);
    int64_t tot = 0;
    for (int64_t j = 0; j < cols.n; j++) tot += cols.count[j];
    CHECK_EQ_INT(t, tot, n);
    recon_model3d_opts_t o;
    recon_model3d_opts_default(&o);
    sd_atoms_t *m = NULL;
    recon_model3d_info_t info;
    sd_err_t e;
    int rc = recon_model3d_build(&cols, &o, &m, &info, &e);
    CHECK_MSG(t, rc == SD_OK, "%s", e.msg);
    if (rc == SD_OK) {
        CHECK_EQ_INT(t, m->n, n);
        CHECK(t, counts_kept(m, &cols));
        CHECK(t, info.e_mc <= info.e_start);
        CHECK(t, o.relax ? info.e_final < info.e_mc : 1);
        CHECK(t, info.accepted > 0 && info.nminima >= 1);
        double frac;
        int mir;
        CHECK_EQ_INT(t, recon_model3d_extent_match(m, cols.n, zlo, zhi, info.c, &frac, &mir, NULL),
                     SD_OK);
        printf("synthetic %lld atoms, %lld columns: extent match %.3f (mirror %d), E/atom start "
               "%.4f mc %.4f final %.4f, chi %.4f, %lld accepted, %d minima, t %.1f ms "
               "(mc %.2f, relax %.1f)\n",
               (long long)n, (long long)cols.n, frac, mir, info.e_start, info.e_mc, info.e_final,
               info.chi, (long long)info.accepted, info.nminima, 1e3 * info.t_total_s,
               1e3 * info.t_mc_s, 1e3 * info.t_relax_s);
        CHECK(t, frac > 0 && frac <= 1);
        double zm = 0;
        for (int64_t a = 0; a < m->n; a++) zm += m->pos[3 * a + 2] / (double)m->n;
        CHECK_NEAR(t, zm, 0, 1e-9);
        CHECK_NEAR(t, atof(sd_atoms_get_info(m, "energy_per_atom")), info.e_final, 1e-8);
        /* same seed, same model */
        sd_atoms_t *m2 = NULL;
        CHECK_EQ_INT(t, recon_model3d_build(&cols, &o, &m2, NULL, NULL), SD_OK);
        if (m2) CHECK(t, m2->n == m->n && !memcmp(m2->pos, m->pos, (size_t)m->n * 3 * sizeof(double)));
        sd_atoms_destroy(&m2);
        /* the optional finite-temperature relaxation: MD then a quench */
        recon_model3d_opts_t om = o;
        om.md_steps = 40;
        om.max_minima = 1;
        recon_model3d_info_t im;
        rc = recon_model3d_build(&cols, &om, &m2, &im, &e);
        CHECK_MSG(t, rc == SD_OK, "%s", e.msg);
        CHECK_EQ_INT(t, im.md_steps, 40);
        if (m2) CHECK(t, counts_kept(m2, &cols) && isfinite(im.e_final) && im.e_final < im.e_mc);
        sd_atoms_destroy(&m2);
        om.md_dt_fs = 0;
        CHECK_EQ_INT(t, recon_model3d_build(&cols, &om, &m2, NULL, &e), SD_ERANGE);
        CHECK_STR_CONTAINS(t, e.msg, "MD options");
    }
    sd_atoms_destroy(&m);
    free(zlo);
    free(zhi);
    recon_columns_free(&cols);
}

static void test_build_edge_cases(sdt_t *t)
{
    recon_columns_t cols;
    sd_err_t e;
    sd_atoms_t *m = NULL;
    recon_model3d_info_t info;
    /* no columns → empty model */
    CHECK_EQ_INT(t, recon_columns_alloc(&cols, 0, NULL), SD_OK);
    CHECK_EQ_INT(t, recon_model3d_build(&cols, NULL, &m, &info, &e), SD_OK);
    CHECK(t, m && m->n == 0 && sd_atoms_get_prop(m, "column_id"));
    sd_atoms_destroy(&m);
    recon_columns_free(&cols);
    /* uncounted / empty columns are skipped */
    CHECK_EQ_INT(t, recon_columns_alloc(&cols, 3, NULL), SD_OK);
    cols.x[1] = 5;
    cols.x[2] = 10;
    cols.count[1] = 0;
    cols.count[2] = 3;
    CHECK_EQ_INT(t, recon_model3d_build(&cols, NULL, &m, &info, &e), SD_OK);
    CHECK(t, m && m->n == 3);
    CHECK_EQ_INT(t, info.ncolumns_skipped, 2);
    if (m) CHECK(t, counts_kept(m, &cols));
    sd_atoms_destroy(&m);
    /* duplicate columns */
    cols.count[0] = 2;
    cols.x[1] = 0.4;
    cols.count[1] = 2;
    CHECK_EQ_INT(t, recon_model3d_build(&cols, NULL, &m, &info, &e), SD_EPHYS);
    CHECK_STR_CONTAINS(t, e.msg, "duplicate column");
    CHECK(t, m == NULL);
    cols.x[1] = NAN;
    CHECK_EQ_INT(t, recon_model3d_build(&cols, NULL, &m, &info, &e), SD_ERANGE);
    cols.x[1] = 3;
    recon_model3d_opts_t o;
    recon_model3d_opts_default(&o);
    o.threshold = 1.0;
    CHECK_EQ_INT(t, recon_model3d_build(&cols, &o, &m, &info, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "threshold");
    recon_model3d_opts_default(&o);
    o.temp_K = -1;
    CHECK_EQ_INT(t, recon_model3d_build(&cols, &o, &m, &info, &e), SD_ERANGE);
    recon_model3d_opts_default(&o);
    snprintf(o.potential, sizeof o.potential, "Xx");
    CHECK(t, recon_model3d_build(&cols, &o, &m, &info, &e) == SD_ENOTFOUND);
    recon_model3d_opts_default(&o);
    o.zinfo_b = 0.3;
    CHECK_EQ_INT(t, recon_model3d_build(&cols, &o, &m, &info, &e), SD_ERANGE);
    recon_columns_free(&cols);
}

static void test_model_message(sdt_t *t)
{
    recon_columns_t cols;
    CHECK_EQ_INT(t, recon_columns_alloc(&cols, 3, NULL), SD_OK);
    double xs[3] = {0, 2.04, 4.08}, ys[3] = {0, 1.44, 0};
    int32_t cs[3] = {3, 4, 3};
    for (int i = 0; i < 3; i++) cols.x[i] = xs[i], cols.y[i] = ys[i], cols.count[i] = cs[i];
    sd_atoms_t *m = NULL;
    recon_model3d_opts_t o;
    recon_model3d_opts_default(&o);
    o.iterations = 100;
    CHECK_EQ_INT(t, recon_model3d_build(&cols, &o, &m, NULL, NULL), SD_OK);
    sd_msg_t msg;
    sd_msg_init(&msg, SD_MSG_MODEL);
    int32_t *cid = NULL;
    sd_err_t e;
    int rc = recon_model3d_to_msg(m, &o, "series-1", 7, "model-7", &msg.u.model, &cid, &e);
    CHECK_MSG(t, rc == SD_OK, "%s", e.msg);
    if (rc == SD_OK) {
        CHECK_EQ_INT(t, msg.u.model.n_atoms, 10);
        CHECK_EQ_INT(t, msg.u.model.frame_index, 7);
        CHECK(t, !strcmp(msg.u.model.element, "Au"));
        CHECK(t, cid && cid[0] == 0 && cid[9] == 2);
        CHECK_NEAR(t, msg.u.model.energy_per_atom_eV * 10, msg.u.model.energy_eV, 1e-9);
        CHECK_EQ_INT(t, msg.u.model.prov.iterations, 100);
        rc = sd_msg_validate(&msg, &e);
        CHECK_MSG(t, rc == SD_OK, "%s", e.msg);
        sd_parts_t parts;
        rc = sd_msg_encode(&msg, &parts, &e);
        CHECK_MSG(t, rc == SD_OK, "%s", e.msg);
        if (rc == SD_OK) {
            sd_msg_t back;
            rc = sd_msg_decode_as(&parts, SD_MSG_MODEL, &back, 0, &e);
            CHECK_MSG(t, rc == SD_OK, "%s", e.msg);
            if (rc == SD_OK) {
                CHECK_EQ_INT(t, back.u.model.n_atoms, 10);
                CHECK_NEAR(t, back.u.model.pos[3 * 9 + 2], m->pos[3 * 9 + 2], 0);
                CHECK_EQ_INT(t, back.u.model.column_id[4], cid[4]);
            }
            sd_msg_free(&back);
            sd_parts_free(&parts);
        }
    }
    free(cid);
    sd_atoms_destroy(&m);
    /* empty model: refused with a clear status */
    cols.count[0] = cols.count[1] = cols.count[2] = 0;
    CHECK_EQ_INT(t, recon_model3d_build(&cols, &o, &m, NULL, NULL), SD_OK);
    CHECK_EQ_INT(t, recon_model3d_to_msg(m, &o, "s", 0, "m", &msg.u.model, &cid, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "empty model");
    CHECK(t, cid == NULL);
    sd_atoms_destroy(&m);
    recon_columns_free(&cols);
}

/* The z-extent metric: shift and mirror invariance, one wrong column. */
static void test_extent_match(sdt_t *t)
{
    const double c = 2.87;
    /* 4 columns: truth extents (Å) */
    double zlo[4] = {0, c / 2, -c, 0}, zhi[4] = {2 * c, 1.5 * c, c, 3 * c};
    int32_t cnt[4] = {3, 2, 3, 4};
    sd_atoms_t *m = sd_atoms_new(12, "Au");
    sd_prop_t *pr = m ? sd_atoms_add_prop(m, "column_id", SD_PROP_INT, 1) : NULL;
    CHECK(t, pr != NULL);
    if (!pr) {
        sd_atoms_destroy(&m);
        return;
    }
    for (int mir = 0; mir < 2; mir++) {
        int64_t a = 0;
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < cnt[j]; k++, a++) {
                double z = zlo[j] + k * c + 7.3; /* shifted copy of the truth */
                m->pos[3 * a + 2] = mir ? -z : z;
                pr->ints[a] = j;
            }
        double f;
        int mirrored;
        CHECK_EQ_INT(t, recon_model3d_extent_match(m, 4, zlo, zhi, c, &f, &mirrored, NULL), SD_OK);
        CHECK_NEAR(t, f, 1.0, 0);
        CHECK_EQ_INT(t, mirrored, mir);
    }
    /* column 2 one repeat too high: 3 of 4 */
    for (int64_t a = 0; a < 12; a++)
        if (pr->ints[a] == 2) m->pos[3 * a + 2] -= c; /* mirrored copy: -c is up */
    double f;
    CHECK_EQ_INT(t, recon_model3d_extent_match(m, 4, zlo, zhi, c, &f, NULL, NULL), SD_OK);
    CHECK_NEAR(t, f, 0.75, 0);
    /* a column the model lacks counts as a mismatch */
    for (int64_t a = 0; a < 12; a++)
        if (pr->ints[a] == 3) pr->ints[a] = 2;
    CHECK_EQ_INT(t, recon_model3d_extent_match(m, 4, zlo, zhi, c, &f, NULL, NULL), SD_OK);
    CHECK(t, f <= 0.5);
    sd_atoms_destroy(&m);
}

/* Columns that are no lattice at all (a miscounted, noisy frame): the
 * build must still keep every count and give finite energies. */
static void test_build_random_columns(sdt_t *t)
{
    uint64_t r = 99;
    for (int trial = 0; trial < 4; trial++) {
        recon_columns_t cols;
        int n = 3 + 20 * trial;
        CHECK_EQ_INT(t, recon_columns_alloc(&cols, n, NULL), SD_OK);
        int m = 0;
        for (int tries = 0; m < n && tries < 10000; tries++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            double x = (double)(r >> 40) / (double)(1 << 24) * 25.0;
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            double y = (double)(r >> 40) / (double)(1 << 24) * 25.0;
            int ok = 1;
            for (int k = 0; k < m; k++)
                if (hypot(x - cols.x[k], y - cols.y[k]) < 2.0) ok = 0;
            if (!ok) continue;
            cols.x[m] = x;
            cols.y[m] = y;
            cols.count[m] = (int32_t)((r >> 20) % 14) - 1; /* -1..12 */
            m++;
        }
        cols.n = m;
        sd_atoms_t *mod = NULL;
        recon_model3d_info_t info;
        sd_err_t e;
        recon_model3d_opts_t o;
        recon_model3d_opts_default(&o);
        o.iterations = 500;
        int rc = recon_model3d_build(&cols, &o, &mod, &info, &e);
        CHECK_MSG(t, rc == SD_OK, "trial %d: %s", trial, e.msg);
        if (mod) {
            CHECK(t, counts_kept(mod, &cols));
            CHECK(t, isfinite(info.e_final) && isfinite(info.fitness));
        }
        sd_atoms_destroy(&mod);
        cols.n = n;
        recon_columns_free(&cols);
    }
    /* one very long column */
    recon_columns_t one;
    CHECK_EQ_INT(t, recon_columns_alloc(&one, 1, NULL), SD_OK);
    one.count[0] = 400;
    sd_atoms_t *mod = NULL;
    CHECK_EQ_INT(t, recon_model3d_build(&one, NULL, &mod, NULL, NULL), SD_OK);
    CHECK(t, mod && mod->n == 400);
    sd_atoms_destroy(&mod);
    recon_columns_free(&one);
}

SDT_MAIN(SDT_CASE(test_fcc_a0), SDT_CASE(test_model_message), SDT_CASE(test_extent_match),
         SDT_CASE(test_build_random_columns), SDT_CASE(test_start_levels), SDT_CASE(test_statstem_ptir),
         SDT_CASE(test_mc_energy), SDT_CASE(test_build_synthetic), SDT_CASE(test_build_edge_cases))
