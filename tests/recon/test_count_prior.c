/* The spatial (neighbour) prior on counts, recon_count_opts_t.neighbour_prior:
 * on a flat 8-atom patch with SCS noise of a quarter library step, a column
 * measured 0.6 of a step above 8 atoms is put back to 8, a real 2-atom step
 * (a column exactly at 10 atoms) is kept, most independent miscounts are
 * repaired, edge columns are never touched, τ = 0 is the independent count,
 * and bad scales are refused. */
#include "recon.h"
#include "sdtest.h"

#include <math.h>
#include <string.h>

enum { NI = 9, NJ = 7, N = NI * NJ * 2 };

static double lib_au(int n) { return RECON_AU_OVER_PT * recon_lib_scs(recon_lib_pt, RECON_LIB_PT_N, n); }

/* uniform → normal by Box–Muller from a fixed LCG: the same patch every run */
static double lcg_normal(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    double u1 = ((double)(*s >> 11) + 0.5) * 0x1.0p-53;
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    double u2 = (double)(*s >> 11) * 0x1.0p-53;
    return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

/* [110] patch (4.078 × 2.884 Å cell, centred column); returns the indices of
 * the two probe columns (both interior). */
static void make_patch(recon_columns_t *c, int *ia, int *ib)
{
    sd_err_t e;
    recon_columns_alloc(c, N, &e);
    uint64_t seed = 12345;
    double step = lib_au(9) - lib_au(8);
    int n = 0;
    for (int i = 0; i < NI; i++)
        for (int j = 0; j < NJ; j++)
            for (int b = 0; b < 2; b++) {
                c->x[n] = 10 + i * 4.078 + b * 2.039;
                c->y[n] = 10 + j * 2.884 + b * 1.442;
                c->scs[n] = lib_au(8) + 0.25 * step * lcg_normal(&seed);
                c->count[n] = 8; /* the truth, overwritten by the counter */
                n++;
            }
    c->n = n;
    *ia = (2 * NJ + 3) * 2;     /* i = 2, j = 3, b = 0 */
    *ib = (6 * NJ + 3) * 2 + 1; /* i = 6, j = 3, b = 1 */
    c->scs[*ia] = lib_au(8) + 0.6 * step;
    c->scs[*ib] = lib_au(10);
}

static int count_patch(sdt_t *t, double tau, recon_columns_t *c, int *ia, int *ib)
{
    make_patch(c, ia, ib);
    recon_count_opts_t o;
    recon_count_opts_default(&o);
    o.rule = RECON_ORDER_LIBSCALE, o.lib_scale = RECON_AU_OVER_PT, o.neighbour_prior = tau;
    recon_count_info_t info;
    sd_err_t e;
    int rc = recon_count_scs(c, &o, &info, &e);
    CHECK_EQ_INT(t, rc, SD_OK);
    int64_t atoms = 0;
    for (int64_t i = 0; i < c->n; i++) atoms += c->count[i];
    CHECK_EQ_INT(t, info.atoms, atoms);
    return rc;
}

/* columns with fewer than 4 neighbours within 1.2 × the nearest distance */
static int is_edge(const recon_columns_t *c, int64_t i)
{
    int nb = 0;
    for (int64_t j = 0; j < c->n; j++)
        if (j != i && hypot(c->x[i] - c->x[j], c->y[i] - c->y[j]) < 1.2 * 2.497) nb++;
    return nb < 4;
}

static void test_prior_repairs_and_keeps_steps(sdt_t *t)
{
    recon_columns_t ind, pri;
    int ia, ib;
    count_patch(t, 0, &ind, &ia, &ib);
    count_patch(t, 0.4, &pri, &ia, &ib);
    CHECK_EQ_INT(t, ind.count[ia], 9); /* nearest library value */
    CHECK_EQ_INT(t, pri.count[ia], 8); /* the neighbours outweigh 0.1 step of evidence */
    CHECK_EQ_INT(t, ind.count[ib], 10);
    CHECK_EQ_INT(t, pri.count[ib], 10); /* a full 2-step of evidence is kept */
    int wrong_ind = 0, wrong_pri = 0, edge_changed = 0, edges = 0;
    for (int64_t i = 0; i < ind.n; i++) {
        if (i == ia || i == ib) continue;
        wrong_ind += ind.count[i] != 8, wrong_pri += pri.count[i] != 8;
        if (is_edge(&ind, i)) edges++, edge_changed += ind.count[i] != pri.count[i];
    }
    printf("  patch of %lld columns (%d at the edge): %d miscounted independently, %d with the prior\n",
           (long long)ind.n, edges, wrong_ind, wrong_pri);
    CHECK(t, edges > 10);
    CHECK_EQ_INT(t, edge_changed, 0);
    CHECK(t, wrong_ind >= 3);          /* a quarter-step noise: ~5 % miscounts */
    CHECK(t, wrong_pri < wrong_ind);   /* interior ones repaired */
    for (int64_t i = 0; i < pri.n; i++) CHECK(t, pri.prob[i] > 0 && pri.prob[i] <= 1);
    recon_columns_free(&ind), recon_columns_free(&pri);
}

static void test_prior_off_and_bad_scale(sdt_t *t)
{
    recon_columns_t a, b;
    int ia, ib;
    make_patch(&a, &ia, &ib);
    make_patch(&b, &ia, &ib);
    recon_count_opts_t o;
    recon_count_opts_default(&o);
    CHECK(t, o.neighbour_prior == 0); /* StatSTEM by default */
    sd_err_t e;
    CHECK_EQ_INT(t, recon_count_scs(&a, &o, NULL, &e), SD_OK);
    o.neighbour_prior = 0;
    CHECK_EQ_INT(t, recon_count_scs(&b, &o, NULL, &e), SD_OK);
    CHECK(t, !memcmp(a.count, b.count, (size_t)a.n * sizeof *a.count));
    o.neighbour_prior = -1;
    CHECK_EQ_INT(t, recon_count_scs(&b, &o, NULL, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "neighbour prior");
    o.neighbour_prior = NAN;
    CHECK_EQ_INT(t, recon_count_scs(&b, &o, NULL, &e), SD_ERANGE);
    /* the mixture counter takes the prior too (three columns or fewer: no prior, no error) */
    o.neighbour_prior = 0.4;
    CHECK_EQ_INT(t, recon_count_scs(&b, &o, NULL, &e), SD_OK);
    b.n = 3;
    CHECK_EQ_INT(t, recon_count_scs(&b, &o, NULL, &e), SD_OK);
    recon_columns_free(&a), recon_columns_free(&b);
}

SDT_MAIN(SDT_CASE(test_prior_repairs_and_keeps_steps), SDT_CASE(test_prior_off_and_bad_scale))
