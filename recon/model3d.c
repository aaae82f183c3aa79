/* model3d — 3D model from counted columns: StatSTEM start model on FCC sites,
 * the paper's iterative local-minima search, relaxation, fitness choice.
 *
 * The paper (Cioni et al., Adv. Sci. 2024, Methods "Reconstruction Based on
 * Atom-Counting Results"): "In each iteration, a random atomic column was
 * displaced upward or downward within the interval [-a, a] … the Boltzmann
 * probability factor P = exp(-ΔE/kB T) … If P for the candidate structure
 * exceeded a specified threshold, it was accepted … otherwise, the previous
 * configuration continued.  This process repeated for 2000 iterations …
 * A threshold of 0.9 was selected".  Our reading:
 *   - a move shifts one random column by ±1 repeat c (the only whole-lattice
 *     shift within ±a, since 2c = √2·a > a), so atoms stay on FCC sites;
 *   - acceptance is deterministic: P > 0.9  ⇔  ΔE < kT·ln(1/0.9) ≈ 0.105 kT
 *     (6.1 meV at 673 K): every downhill move and slightly uphill ones;
 *   - "candidate structures linked to a local minimum": states of the
 *     accepted trajectory that an uphill move leaves after a downhill one
 *     (and the last state if it was reached downhill).  The lowest distinct
 *     ones are relaxed (the paper: 5 ns NVT MD; we minimise, MD is not done)
 *     and scored by f = E/atom + α·χ (paper eq. 2), χ from the atom counts and
 *     projected column positions after relaxation (as Yu et al.).
 * The support (CeO2, LJ in the paper) is not modelled.
 *
 * Energy changes are exact SMATB differences computed locally: shifting a
 * column of identical atoms up by one repeat equals removing its bottom atom
 * and adding one above its top, so only atoms within Rc of those two sites
 * change their density.  Sites lie on a lattice of half repeats along z and
 * the columns' in-plane distances are fixed, so alpha and Xi² are tabulated
 * per neighbouring column pair and level difference once: a move costs a few
 * hundred table look-ups and square roots, no exponential. */
#include "model3d.h"
#include "stemsim.h"

#include "sd_atoms.h"
#include "sd_clock.h"
#include "sd_msg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KB_EV 8.617333262e-5 /* Boltzmann constant, eV/K (CODATA 2018) */
#define DEG (M_PI / 180.0)
#define FCC110_ANGLE 54.7356103172 /* atan(√2): nn directions in the [110] projection */

/* ------------------------------------------------------------------------ */
/* small utilities                                                           */

static int64_t floordiv(int64_t a, int64_t b) /* b > 0 */
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The recon stream (xoshiro256** seeded by splitmix64, stemsim.c): local and reproducible. */
static int64_t rng_below(recon_rng_t *r, int64_t n) { return (int64_t)((recon_rng_next(r) >> 11) % (uint64_t)n); }

/* ------------------------------------------------------------------------ */
/* FCC lattice constant of the potential                                     */

static double fcc_energy(const sim_potential_t *p, double a)
{
    double rc = sim_potential_cutoff(p);
    int m = (int)ceil(rc / (a / 2)) + 1;
    double pair = 0, rho = 0;
    /* FCC sites: integer (i, j, k) in units of a/2 with i+j+k even */
    for (int i = -m; i <= m; i++)
        for (int j = -m; j <= m; j++)
            for (int k = -m; k <= m; k++) {
                if (((i + j + k) & 1) || (i == 0 && j == 0 && k == 0)) continue;
                double r = 0.5 * a * sqrt((double)(i * i + j * j + k * k));
                if (r >= rc) continue;
                double al, dal, x2, dx2;
                sim_potential_pair(p, r, &al, &dal, &x2, &dx2);
                pair += al;
                rho += x2;
            }
    return pair - sqrt(rho);
}

double recon_m3_fcc_a0(const sim_potential_t *p, double *ecoh)
{
    /* bracket around a0 ≈ 0.815 Rc (Rc = √3·R0, a0 ≈ √2·R0 for SMATB sets);
     * the bulk energy is unimodal over [0.5, 1.2]·Rc */
    double rc = sim_potential_cutoff(p);
    double lo = 0.5 * rc, hi = 1.2 * rc;
    const double g = 0.5 * (sqrt(5.0) - 1.0);
    double x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo);
    double f1 = fcc_energy(p, x1), f2 = fcc_energy(p, x2);
    for (int it = 0; it < 200 && hi - lo > 1e-12; it++) {
        if (f1 < f2) {
            hi = x2;
            x2 = x1;
            f2 = f1;
            x1 = hi - g * (hi - lo);
            f1 = fcc_energy(p, x1);
        } else {
            lo = x1;
            x1 = x2;
            f1 = f2;
            x2 = lo + g * (hi - lo);
            f2 = fcc_energy(p, x2);
        }
    }
    double a = 0.5 * (lo + hi);
    if (ecoh) *ecoh = fcc_energy(p, a);
    return a;
}

/* ------------------------------------------------------------------------ */
/* sublattices of the projected [110] cell                                   */

int recon_m3_sublattice(int64_t n, const double *x, const double *y, int32_t *sub, sd_err_t *e)
{
    if (n < 0 || (n > 0 && (!x || !y || !sub)))
        return sd_err_set(e, SD_EINVAL, "sublattice: bad arguments");
    if (n == 0) return 0;
    for (int64_t i = 0; i < n; i++) sub[i] = -1;
    if (n == 1) {
        sub[0] = 0;
        return 1;
    }
    int rc = SD_OK;
    double *nnd = malloc((size_t)n * sizeof *nnd);
    int64_t *queue = malloc((size_t)n * sizeof *queue);
    if (!nnd || !queue) {
        rc = sd_err_set(e, SD_ENOMEM, "sublattice: out of memory (%lld columns)", (long long)n);
        goto out;
    }
    /* nearest-neighbour distances; O(n²) is fine for the few thousand
     * columns of one frame */
    for (int64_t i = 0; i < n; i++) {
        double best = INFINITY;
        for (int64_t j = 0; j < n; j++) {
            if (j == i) continue;
            double d2 = (x[j] - x[i]) * (x[j] - x[i]) + (y[j] - y[i]) * (y[j] - y[i]);
            if (d2 < best) best = d2;
        }
        nnd[i] = sqrt(best);
    }
    double *tmp = malloc((size_t)n * sizeof *tmp);
    if (!tmp) {
        rc = sd_err_set(e, SD_ENOMEM, "sublattice: out of memory");
        goto out;
    }
    memcpy(tmp, nnd, (size_t)n * sizeof *tmp);
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_double);
    double dmed = tmp[n / 2];
    free(tmp);
    /* neighbour pairs: the 4 short (0.866c) and 2 long (c) nearest pairs of
     * the [110] projection fall below 1.3× the nearest distance */
    double rcut = 1.3 * dmed, rcut2 = rcut * rcut;

    /* direction u of the repeat: maximise the number of pair directions
     * near φ, φ+54.74° and φ-54.74° (mod 180°); the kernel width (8°)
     * tolerates the shear of real images.  Pair angles go into a 0.25°
     * histogram first, so the scan costs O(bins·kernel), not O(pairs·bins). */
    enum { NPHI = 720, KW = 32 /* 8° in bins */ };
    double hist[NPHI], score[NPHI];
    memset(hist, 0, sizeof hist);
    memset(score, 0, sizeof score);
    int64_t npairs = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) {
            double dx = x[j] - x[i], dy = y[j] - y[i];
            double d2 = dx * dx + dy * dy;
            if (d2 > rcut2) continue;
            npairs++;
            double th = atan2(dy, dx) / DEG + 360.0; /* > 0 */
            int b = (int)lround(th * (NPHI / 180.0)) % NPHI;
            hist[b] += 1.0;
        }
    const int soff = (int)lround(FCC110_ANGLE * (NPHI / 180.0));
    for (int k = 0; k < NPHI; k++)
        for (int s = -1; s <= 1; s++)
            for (int db = -KW + 1; db < KW; db++) {
                int b = ((k + s * soff + db) % NPHI + 2 * NPHI) % NPHI;
                score[k] += hist[b] * (1.0 - fabs((double)db) / KW);
            }
    int kbest = 0;
    for (int k = 1; k < NPHI; k++)
        if (score[k] > score[kbest]) kbest = k;
    double phi = kbest * (180.0 / NPHI) * DEG;
    /* e: perpendicular to the repeat, the direction of the cell's a axis */
    double ex = -sin(phi), ey = cos(phi);
    /* half cell along e: median |Δw| of the short (±54.74°) pairs */
    double *hw = malloc((size_t)(npairs > 0 ? npairs : 1) * sizeof *hw);
    if (!hw) {
        rc = sd_err_set(e, SD_ENOMEM, "sublattice: out of memory");
        goto out;
    }
    int64_t nh = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) {
            double dx = x[j] - x[i], dy = y[j] - y[i];
            if (dx * dx + dy * dy > rcut2) continue;
            double w = fabs(dx * ex + dy * ey), v = fabs(dx * ey - dy * ex) + 1e-300;
            double ang = atan2(w, v) / DEG; /* angle from u */
            if (fabs(ang - FCC110_ANGLE) < 15.0) hw[nh++] = w;
        }
    double half = 0;
    if (nh > 0) {
        qsort(hw, (size_t)nh, sizeof *hw, cmp_double);
        half = hw[nh / 2];
    }
    free(hw);
    if (!(half > 0)) half = dmed * 0.8165; /* a/2 = 0.8165 × the short distance */

    /* parity propagation (BFS) from the most central column of each group */
    double cx = 0, cy = 0;
    for (int64_t i = 0; i < n; i++) {
        cx += x[i];
        cy += y[i];
    }
    cx /= (double)n;
    cy /= (double)n;
    int ngroups = 0;
    for (;;) {
        int64_t seed = -1;
        double best = INFINITY;
        for (int64_t i = 0; i < n; i++) {
            if (sub[i] >= 0) continue;
            double d2 = (x[i] - cx) * (x[i] - cx) + (y[i] - cy) * (y[i] - cy);
            if (d2 < best) {
                best = d2;
                seed = i;
            }
        }
        if (seed < 0) break;
        ngroups++;
        sub[seed] = 0;
        int64_t qh = 0, qt = 0;
        queue[qt++] = seed;
        while (qh < qt) {
            int64_t i = queue[qh++];
            for (int64_t j = 0; j < n; j++) {
                if (sub[j] >= 0) continue;
                double dx = x[j] - x[i], dy = y[j] - y[i];
                if (dx * dx + dy * dy > rcut2) continue;
                long steps = lround((dx * ex + dy * ey) / half);
                sub[j] = (int32_t)((sub[i] + (steps & 1)) & 1);
                queue[qt++] = j;
            }
        }
    }
    rc = ngroups;
out:
    free(nnd);
    free(queue);
    return rc;
}

void recon_m3_start_levels(int64_t n, const int32_t *count, const int32_t *sub, double zinfo_b,
                           int32_t *bottom)
{
    int32_t nmax = 0;
    for (int64_t i = 0; i < n; i++)
        if (count[i] > nmax) nmax = count[i];
    int s = (nmax & 1) ? -1 : 1;
    int32_t off_b = (int32_t)lround(2.0 * s * zinfo_b); /* half repeats */
    for (int64_t i = 0; i < n; i++) {
        if (count[i] <= 0) {
            bottom[i] = 0;
            continue;
        }
        /* k = 1: (1 - ceil((n+1)/2)) repeats, in half repeats ×2 */
        int32_t k0 = 1 - (count[i] + 2) / 2; /* ceil((n+1)/2) = floor((n+2)/2) */
        bottom[i] = 2 * k0 + (sub[i] ? off_b : 0);
    }
}

void recon_m3_positions(int64_t ncol, const double *x, const double *y, const int32_t *count,
                        const int32_t *bottom, double c, double *pos, int64_t *colid)
{
    int64_t a = 0;
    for (int64_t j = 0; j < ncol; j++)
        for (int32_t k = 0; k < count[j]; k++, a++) {
            pos[3 * a] = x[j];
            pos[3 * a + 1] = y[j];
            pos[3 * a + 2] = (bottom[j] + 2 * k) * 0.5 * c;
            if (colid) colid[a] = j;
        }
}

/* ------------------------------------------------------------------------ */
/* Monte-Carlo state                                                         */

struct recon_m3_mc {
    int64_t ncol, natoms;
    int H, W;           /* largest |level difference| within Rc; table width 2H+1 */
    int32_t *count, *bottom;
    int64_t *off;       /* [ncol+1] first atom of each column in rho */
    double *rho;        /* [natoms] Σ Xi² of atom k (bottom to top) of column j */
    int64_t *nbs;       /* [ncol+1] CSR neighbour columns (self included) */
    int32_t *nbc;
    double *ta, *tx;    /* [nnb][W] alpha and Xi² at level difference h + H */
    double energy;
    /* undo log of the last move */
    int64_t ulen, ucap;
    int64_t *uidx;
    double *uold;
    double *ucol; /* copy of the moved column's rho */
    int64_t ucolj;
    int32_t ubottom;
    double uenergy;
};

static void mc_free(recon_m3_mc_t *m)
{
    free(m->count);
    free(m->bottom);
    free(m->off);
    free(m->rho);
    free(m->nbs);
    free(m->nbc);
    free(m->ta);
    free(m->tx);
    free(m->uidx);
    free(m->uold);
    free(m->ucol);
    free(m);
}

void recon_m3_mc_destroy(recon_m3_mc_t **m)
{
    if (!m || !*m) return;
    mc_free(*m);
    *m = NULL;
}

/* Σ over atoms within H levels of level h in the columns neighbouring j
 * (self included, skipping the atom of column j at index `skip`, -1: none):
 * returns Σ alpha, and Σ Xi² in *rho_sum; when delta != 0 adds delta·Xi²
 * to each of those atoms' rho (logging the old values). */
static double site_sum(recon_m3_mc_t *m, int64_t j, int32_t h, int64_t skip, double delta,
                       double *rho_sum, double *dsqrt)
{
    double sa = 0, sx = 0, ds = 0;
    const int H = m->H, W = m->W;
    for (int64_t q = m->nbs[j]; q < m->nbs[j + 1]; q++) {
        int64_t K = m->nbc[q];
        int32_t nk = m->count[K];
        if (nk <= 0) continue;
        int32_t bk = m->bottom[K];
        int64_t ilo = -floordiv(-(int64_t)(h - H - bk), 2); /* ceil */
        int64_t ihi = floordiv((int64_t)(h + H - bk), 2);
        if (ilo < 0) ilo = 0;
        if (ihi > nk - 1) ihi = nk - 1;
        const double *ta = m->ta + q * W, *tx = m->tx + q * W;
        for (int64_t i = ilo; i <= ihi; i++) {
            if (K == j && i == skip) continue;
            int dh = bk + 2 * (int)i - h + H;
            double xv = tx[dh];
            sa += ta[dh];
            sx += xv;
            if (delta != 0 && xv != 0) {
                int64_t idx = m->off[K] + i;
                double r0 = m->rho[idx], r1 = r0 + delta * xv;
                if (r1 < 0) r1 = 0; /* round-off when the last neighbour leaves */
                ds += sqrt(r1) - sqrt(r0);
                m->uidx[m->ulen] = idx;
                m->uold[m->ulen++] = r0;
                m->rho[idx] = r1;
            }
        }
    }
    if (rho_sum) *rho_sum = sx;
    if (dsqrt) *dsqrt = ds;
    return sa;
}

/* Full energy; refill = 1 also recomputes every rho. */
static double mc_full(recon_m3_mc_t *m, int refill)
{
    double E = 0;
    for (int64_t j = 0; j < m->ncol; j++)
        for (int32_t k = 0; k < m->count[j]; k++) {
            double sx;
            double sa = site_sum(m, j, m->bottom[j] + 2 * k, k, 0, &sx, NULL);
            if (refill) m->rho[m->off[j] + k] = sx;
            E += sa - sqrt(sx);
        }
    return E;
}

recon_m3_mc_t *recon_m3_mc_new(const sim_potential_t *p, int64_t ncol, const double *x,
                               const double *y, const int32_t *count, const int32_t *bottom,
                               double c, sd_err_t *e)
{
    if (!p || ncol < 0 || (ncol > 0 && (!x || !y || !count || !bottom)) || !(c > 0.5) ||
        !(c < 20)) {
        sd_err_set(e, SD_EINVAL, "model3d: bad arguments (ncol %lld, c %g)", (long long)ncol, c);
        return NULL;
    }
    recon_m3_mc_t *m = calloc(1, sizeof *m);
    if (!m) goto oom;
    double rc = sim_potential_cutoff(p);
    m->ncol = ncol;
    m->H = (int)floor(rc / (0.5 * c));
    m->W = 2 * m->H + 1;
    size_t nc = (size_t)(ncol > 0 ? ncol : 1);
    m->count = malloc(nc * sizeof *m->count);
    m->bottom = malloc(nc * sizeof *m->bottom);
    m->off = malloc((nc + 1) * sizeof *m->off);
    m->nbs = malloc((nc + 1) * sizeof *m->nbs);
    if (!m->count || !m->bottom || !m->off || !m->nbs) goto oom;
    int32_t maxcount = 0;
    m->off[0] = 0;
    for (int64_t j = 0; j < ncol; j++) {
        m->count[j] = count[j] > 0 ? count[j] : 0;
        m->bottom[j] = bottom[j];
        m->off[j + 1] = m->off[j] + m->count[j];
        if (m->count[j] > maxcount) maxcount = m->count[j];
        if (!isfinite(x[j]) || !isfinite(y[j])) {
            sd_err_set(e, SD_ERANGE, "model3d: column %lld has a non-finite position",
                       (long long)j);
            mc_free(m);
            return NULL;
        }
    }
    m->natoms = m->off[ncol];
    m->rho = malloc((size_t)(m->natoms > 0 ? m->natoms : 1) * sizeof *m->rho);
    if (!m->rho) goto oom;
    /* neighbour columns: two passes (count, fill) */
    int64_t nnb = 0, maxnb = 0;
    double rc2 = rc * rc, dmin2 = 0.25 * c * c;
    for (int pass = 0; pass < 2; pass++) {
        nnb = 0;
        for (int64_t j = 0; j < ncol; j++) {
            m->nbs[j] = nnb;
            for (int64_t k = 0; k < ncol; k++) {
                double dx = x[k] - x[j], dy = y[k] - y[j], d2 = dx * dx + dy * dy;
                if (d2 >= rc2) continue;
                if (pass == 0 && k != j && d2 < dmin2 && m->count[j] > 0 && m->count[k] > 0) {
                    sd_err_set(e, SD_EPHYS,
                               "model3d: columns %lld and %lld are %.3f Å apart in projection "
                               "(< c/2 = %.3f Å): duplicate column?",
                               (long long)j, (long long)k, sqrt(d2), 0.5 * c);
                    mc_free(m);
                    return NULL;
                }
                if (pass == 1) {
                    m->nbc[nnb] = (int32_t)k;
                    double *ta = m->ta + nnb * m->W, *tx = m->tx + nnb * m->W;
                    for (int h = -m->H; h <= m->H; h++) {
                        double r = sqrt(d2 + (0.5 * c * h) * (0.5 * c * h));
                        double al = 0, dal, x2 = 0, dx2;
                        if (!(k == j && h == 0)) sim_potential_pair(p, r, &al, &dal, &x2, &dx2);
                        ta[h + m->H] = al;
                        tx[h + m->H] = x2;
                    }
                }
                nnb++;
            }
            if (nnb - m->nbs[j] > maxnb) maxnb = nnb - m->nbs[j];
        }
        m->nbs[ncol] = nnb;
        if (pass == 0) {
            size_t sz = (size_t)(nnb > 0 ? nnb : 1);
            m->nbc = malloc(sz * sizeof *m->nbc);
            m->ta = malloc(sz * (size_t)m->W * sizeof *m->ta);
            m->tx = malloc(sz * (size_t)m->W * sizeof *m->tx);
            if (!m->nbc || !m->ta || !m->tx) goto oom;
        }
    }
    /* undo capacity: two sites, each touching the atoms of one parity within
     * ±H levels (<= H+1) of every neighbour column */
    m->ucap = 2 * (int64_t)(m->H + 1) * (maxnb + 1) + 16;
    m->uidx = malloc((size_t)m->ucap * sizeof *m->uidx);
    m->uold = malloc((size_t)m->ucap * sizeof *m->uold);
    m->ucol = malloc((size_t)(maxcount + 1) * sizeof *m->ucol);
    if (!m->uidx || !m->uold || !m->ucol) goto oom;
    m->energy = mc_full(m, 1);
    return m;
oom:
    sd_err_set(e, SD_ENOMEM, "model3d: out of memory (%lld columns)", (long long)ncol);
    if (m) mc_free(m);
    return NULL;
}

double recon_m3_mc_energy(const recon_m3_mc_t *m) { return m->energy; }

double recon_m3_mc_energy_full(const recon_m3_mc_t *m)
{
    return mc_full((recon_m3_mc_t *)m, 0); /* refill = 0: reads only */
}

const int32_t *recon_m3_mc_bottoms(const recon_m3_mc_t *m) { return m->bottom; }

void recon_m3_mc_set_bottoms(recon_m3_mc_t *m, const int32_t *bottom)
{
    memcpy(m->bottom, bottom, (size_t)m->ncol * sizeof *m->bottom);
    m->energy = mc_full(m, 1);
}

/* Applies the move (logging for mc_undo) and returns ΔE. */
static double mc_do(recon_m3_mc_t *m, int64_t j, int dir)
{
    int32_t n = m->count[j];
    m->ulen = 0;
    m->ucolj = j;
    m->ubottom = m->bottom[j];
    m->uenergy = m->energy;
    if (n <= 0) return 0;
    double *col = m->rho + m->off[j];
    memcpy(m->ucol, col, (size_t)n * sizeof *col);
    int32_t b = m->bottom[j];
    /* remove the end atom opposite the motion */
    int64_t kr = dir > 0 ? 0 : n - 1;
    int32_t hr = b + 2 * (int32_t)kr;
    double rho_r = col[kr], ds;
    double sa = site_sum(m, j, hr, kr, -1.0, NULL, &ds);
    double dE = -2.0 * sa + sqrt(rho_r) - ds; /* ds < 0 : neighbours lose density */
    /* close the gap: the column now spans n-1 atoms */
    if (dir > 0) {
        memmove(col, col + 1, (size_t)(n - 1) * sizeof *col);
        m->bottom[j] = b + 2;
    }
    m->count[j] = n - 1;
    /* add the new atom beyond the other end */
    int32_t ha = dir > 0 ? b + 2 * n : b - 2;
    double rho_a;
    sa = site_sum(m, j, ha, -1, 1.0, &rho_a, &ds);
    dE += 2.0 * sa - sqrt(rho_a) - ds;
    /* site_sum above saw the new atom's neighbours; now place it */
    m->count[j] = n;
    if (dir > 0) {
        col[n - 1] = rho_a;
    } else {
        memmove(col + 1, col, (size_t)(n - 1) * sizeof *col);
        col[0] = rho_a;
        m->bottom[j] = b - 2;
    }
    m->energy += dE;
    return dE;
}

static void mc_undo(recon_m3_mc_t *m)
{
    for (int64_t u = m->ulen - 1; u >= 0; u--) m->rho[m->uidx[u]] = m->uold[u];
    int64_t j = m->ucolj;
    if (m->count[j] > 0)
        memcpy(m->rho + m->off[j], m->ucol, (size_t)m->count[j] * sizeof *m->rho);
    m->bottom[j] = m->ubottom;
    m->energy = m->uenergy;
    m->ulen = 0;
}

double recon_m3_mc_move(recon_m3_mc_t *m, int64_t col, int dir, int apply)
{
    if (col < 0 || col >= m->ncol || (dir != 1 && dir != -1)) return NAN;
    double dE = mc_do(m, col, dir);
    if (!apply) mc_undo(m);
    return dE;
}

/* ------------------------------------------------------------------------ */
/* the search                                                                */

void recon_model3d_opts_default(recon_model3d_opts_t *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->potential, sizeof o->potential, "Au");
    o->c = 0;
    o->zinfo_b = 0.5;
    o->temp_K = 673.0;
    o->threshold = 0.9;
    o->iterations = 2000;
    o->seed = 1;
    o->max_minima = 2;
    o->alpha = 0.1;
    o->relax = 1;
    o->relax_etol = 1e-5;
    o->relax_ftol = 0;
    o->relax_maxiter = 200;
    o->md_steps = 0;
    o->md_dt_fs = 2.0;
    o->md_damp_ps = 0.1;
}

typedef struct {
    double energy;
    int32_t *bottom;
} minimum_t;

/* Keeps the k lowest distinct states. */
static void keep_minimum(minimum_t *mins, int *nmin, int kmax, int64_t ncol,
                         const int32_t *bottom, double energy)
{
    for (int i = 0; i < *nmin; i++)
        if (!memcmp(mins[i].bottom, bottom, (size_t)ncol * sizeof *bottom)) return;
    int slot;
    if (*nmin < kmax) {
        slot = (*nmin)++;
    } else {
        slot = 0;
        for (int i = 1; i < *nmin; i++)
            if (mins[i].energy > mins[slot].energy) slot = i;
        if (mins[slot].energy <= energy) return;
    }
    mins[slot].energy = energy;
    memcpy(mins[slot].bottom, bottom, (size_t)ncol * sizeof *bottom);
}

static int cmp_min(const void *a, const void *b)
{
    double x = ((const minimum_t *)a)->energy, y = ((const minimum_t *)b)->energy;
    return (x > y) - (x < y);
}

/* χ of relaxed positions against the input columns: atoms go to the nearest
 * column among their own column's neighbours. */
static void fitness_chi(int64_t ncol, const double *x, const double *y, const int32_t *count,
                        const int64_t *nbs, const int32_t *nbc, int64_t natoms,
                        const double *pos, const int64_t *colid, double *work /* [3 ncol] */,
                        double *chi_count, double *chi_disp)
{
    double *cnt = work, *sx = work + ncol, *sy = work + 2 * ncol;
    memset(work, 0, 3 * (size_t)ncol * sizeof *work);
    for (int64_t a = 0; a < natoms; a++) {
        int64_t j = colid[a], best = j;
        double bd = INFINITY;
        for (int64_t q = nbs[j]; q < nbs[j + 1]; q++) {
            int64_t k = nbc[q];
            if (count[k] <= 0) continue;
            double dx = pos[3 * a] - x[k], dy = pos[3 * a + 1] - y[k], d2 = dx * dx + dy * dy;
            if (d2 < bd) {
                bd = d2;
                best = k;
            }
        }
        cnt[best] += 1;
        sx[best] += pos[3 * a];
        sy[best] += pos[3 * a + 1];
    }
    double dn = 0, dr = 0;
    int64_t nused = 0;
    for (int64_t j = 0; j < ncol; j++) {
        if (count[j] <= 0 && cnt[j] == 0) continue;
        dn += fabs(cnt[j] - count[j]);
        if (cnt[j] > 0) {
            dr += hypot(sx[j] / cnt[j] - x[j], sy[j] / cnt[j] - y[j]);
            nused++;
        }
    }
    *chi_count = natoms > 0 ? 0.5 * dn / (double)natoms : 0;
    *chi_disp = nused > 0 ? dr / (double)nused : 0;
}

/* Minimise; with md_steps > 0 also a short Langevin MD at temp_K and a
 * second minimisation (quench), so that candidates are compared at local
 * minima reached through finite-temperature motion. */
static int relax_candidate(const sim_potential_t *pot, int64_t natoms, double *pos,
                           const recon_model3d_opts_t *o, double *E, recon_model3d_info_t *info,
                           sd_err_t *e)
{
    sim_min_opts_t mo;
    sim_min_opts_default(&mo);
    mo.etol = o->relax_etol;
    mo.ftol = o->relax_ftol;
    mo.maxiter = o->relax_maxiter;
    mo.maxeval = 10 * o->relax_maxiter + 10;
    sim_min_result_t mr;
    int rc = sim_minimize(pot, natoms, pos, &mo, &mr, e);
    if (rc < 0) return rc;
    info->relax_iterations += mr.iterations;
    if (o->md_steps > 0) {
        sim_md_config_t cfg;
        sim_md_config_default(&cfg);
        cfg.temp_K = o->temp_K;
        cfg.dt_fs = o->md_dt_fs;
        cfg.damp_ps = o->md_damp_ps;
        cfg.seed = o->seed;
        sim_md_t *md = sim_md_new_flat(pot, natoms, pos, NULL, &cfg, e);
        if (!md) return e && e->code ? e->code : SD_EINVAL;
        rc = sim_md_advance(md, o->md_steps, e);
        if (rc == SD_OK) memcpy(pos, sim_md_positions(md), (size_t)natoms * 3 * sizeof *pos);
        sim_md_destroy(&md);
        if (rc) return rc;
        info->md_steps += o->md_steps;
        rc = sim_minimize(pot, natoms, pos, &mo, &mr, e);
        if (rc < 0) return rc;
        info->relax_iterations += mr.iterations;
    }
    *E = mr.energy;
    return SD_OK;
}

static double secs(int64_t t0) { return (double)(sd_clock_mono_ns() - t0) * 1e-9; }

int recon_model3d_build(const recon_columns_t *cols, const recon_model3d_opts_t *o_in,
                        sd_atoms_t **out, recon_model3d_info_t *info_out, sd_err_t *e)
{
    int64_t t0 = sd_clock_mono_ns();
    if (!cols || !out) return sd_err_set(e, SD_EINVAL, "model3d: NULL argument");
    *out = NULL;
    recon_model3d_opts_t o;
    if (o_in) o = *o_in;
    else recon_model3d_opts_default(&o);
    recon_model3d_info_t info;
    memset(&info, 0, sizeof info);
    if (cols->n < 0 || (cols->n > 0 && (!cols->x || !cols->y || !cols->count)))
        return sd_err_set(e, SD_EINVAL, "model3d: columns not allocated");
    if (!(o.temp_K > 0) || !isfinite(o.temp_K))
        return sd_err_set(e, SD_ERANGE, "model3d: temperature %g K must be > 0", o.temp_K);
    if (!(o.threshold > 0 && o.threshold < 1))
        return sd_err_set(e, SD_ERANGE, "model3d: threshold %g must be in (0, 1)", o.threshold);
    /* 1e8 also bounds the levels of a random-walking isolated column in int32 */
    if (o.iterations < 0 || o.iterations > 100000000LL)
        return sd_err_set(e, SD_ERANGE, "model3d: iterations %lld out of range 0..1e8",
                          (long long)o.iterations);
    if (o.max_minima < 1 || o.max_minima > 1000)
        return sd_err_set(e, SD_ERANGE, "model3d: max_minima %d out of range 1..1000",
                          o.max_minima);
    if (!isfinite(o.alpha) || o.alpha < 0)
        return sd_err_set(e, SD_ERANGE, "model3d: alpha %g must be >= 0", o.alpha);
    if (!(fabs(o.zinfo_b) <= 1.0) || fabs(2 * o.zinfo_b - lround(2 * o.zinfo_b)) > 1e-9)
        return sd_err_set(e, SD_ERANGE, "model3d: zinfo_b %g must be a multiple of 0.5 in [-1, 1]",
                          o.zinfo_b);
    if (o.md_steps < 0 || o.md_steps > 100000000LL || !(o.md_dt_fs > 0 && o.md_dt_fs <= 20) ||
        !(o.md_damp_ps > 0 && o.md_damp_ps < 1e6))
        return sd_err_set(e, SD_ERANGE,
                          "model3d: MD options out of range (steps %lld, dt %g fs, damp %g ps)",
                          (long long)o.md_steps, o.md_dt_fs, o.md_damp_ps);
    if (!isfinite(o.c) || o.c > 20 || (o.c > 0 && o.c < 1.0))
        return sd_err_set(e, SD_ERANGE, "model3d: repeat c = %g Å out of range 1..20", o.c);

    sim_potential_t *pot = sim_potential_new(o.potential[0] ? o.potential : "Au", e);
    if (!pot) return sd_err_prefix(e, "model3d");
    int rc = SD_OK;
    double c = o.c;
    if (!(c > 0)) c = recon_m3_fcc_a0(pot, NULL) / sqrt(2.0);
    info.c = c;

    /* used columns */
    int64_t nu = 0;
    for (int64_t i = 0; i < cols->n; i++) {
        if (cols->count[i] > 0) {
            if (!isfinite(cols->x[i]) || !isfinite(cols->y[i])) {
                sim_potential_destroy(&pot);
                return sd_err_set(e, SD_ERANGE, "model3d: column %lld position is not finite",
                                  (long long)i);
            }
            if (cols->count[i] > 10000) {
                sim_potential_destroy(&pot);
                return sd_err_set(e, SD_ERANGE, "model3d: column %lld count %d is implausible",
                                  (long long)i, (int)cols->count[i]);
            }
            nu++;
        }
    }
    info.ncolumns = nu;
    info.ncolumns_skipped = cols->n - nu;
    size_t nus = (size_t)(nu > 0 ? nu : 1);
    double *x = malloc(nus * sizeof *x), *y = malloc(nus * sizeof *y);
    int32_t *cnt = malloc(nus * sizeof *cnt), *sub = malloc(nus * sizeof *sub);
    int32_t *bot = malloc(nus * sizeof *bot);
    int64_t *map = malloc(nus * sizeof *map);
    recon_m3_mc_t *mc = NULL;
    minimum_t *mins = NULL;
    double *pos = NULL, *best_pos = NULL, *work = NULL;
    int64_t *colid = NULL;
    sd_atoms_t *atoms = NULL;
    if (!x || !y || !cnt || !sub || !bot || !map) {
        rc = sd_err_set(e, SD_ENOMEM, "model3d: out of memory");
        goto done;
    }
    int64_t natoms = 0;
    for (int64_t i = 0, u = 0; i < cols->n; i++)
        if (cols->count[i] > 0) {
            x[u] = cols->x[i];
            y[u] = cols->y[i];
            cnt[u] = cols->count[i];
            natoms += cnt[u];
            map[u++] = i;
        }
    info.natoms = natoms;

    if (nu == 0) { /* no particle: an empty model, not an error */
        atoms = sd_atoms_new(0, sim_potential_element(pot));
        if (!atoms || !sd_atoms_add_prop(atoms, "column_id", SD_PROP_INT, 1)) {
            rc = sd_err_set(e, SD_ENOMEM, "model3d: out of memory");
            goto done;
        }
        goto finish;
    }

    rc = recon_m3_sublattice(nu, x, y, sub, e);
    if (rc < 0) goto done;
    info.ngroups = rc;
    rc = SD_OK;
    recon_m3_start_levels(nu, cnt, sub, o.zinfo_b, bot);
    mc = recon_m3_mc_new(pot, nu, x, y, cnt, bot, c, e);
    if (!mc) {
        rc = e ? e->code : SD_EINVAL;
        goto done;
    }
    info.e_start = recon_m3_mc_energy(mc) / (double)natoms;
    info.t_setup_s = secs(t0);

    /* ---- Monte-Carlo local-minima search ---- */
    int64_t t1 = sd_clock_mono_ns();
    int kmax = o.max_minima;
    mins = calloc((size_t)kmax, sizeof *mins);
    int32_t *prevb = malloc(nus * sizeof *prevb);
    if (!mins || !prevb) {
        free(prevb);
        rc = sd_err_set(e, SD_ENOMEM, "model3d: out of memory");
        goto done;
    }
    for (int i = 0; i < kmax; i++) {
        mins[i].bottom = malloc(nus * sizeof *mins[i].bottom);
        if (!mins[i].bottom) {
            free(prevb);
            rc = sd_err_set(e, SD_ENOMEM, "model3d: out of memory");
            goto done;
        }
    }
    int nmin = 0;
    recon_rng_t rng;
    recon_rng_seed(&rng, o.seed);
    double de_max = -KB_EV * o.temp_K * log(o.threshold); /* P > thr ⇔ ΔE < de_max */
    int last_down = 1; /* the start counts as reached "downhill" */
    for (int64_t it = 0; it < o.iterations; it++) {
        int64_t j = rng_below(&rng, nu);
        int dir = (recon_rng_next(&rng) >> 63) ? 1 : -1;
        double before = recon_m3_mc_energy(mc);
        double dE = mc_do(mc, j, dir);
        if (!(dE < de_max)) {
            mc_undo(mc);
            continue;
        }
        info.accepted++;
        if (dE > 0 && last_down) {
            /* the state before this uphill move was a local minimum */
            memcpy(prevb, recon_m3_mc_bottoms(mc), nus * sizeof *prevb);
            prevb[j] -= 2 * dir;
            keep_minimum(mins, &nmin, kmax, nu, prevb, before);
        }
        last_down = dE < 0;
    }
    if (last_down || nmin == 0)
        keep_minimum(mins, &nmin, kmax, nu, recon_m3_mc_bottoms(mc), recon_m3_mc_energy(mc));
    free(prevb);
    qsort(mins, (size_t)nmin, sizeof *mins, cmp_min);
    info.nminima = nmin;
    info.t_mc_s = secs(t1);

    /* ---- relax and score each candidate ---- */
    int64_t t2 = sd_clock_mono_ns();
    pos = malloc((size_t)natoms * 3 * sizeof *pos);
    best_pos = malloc((size_t)natoms * 3 * sizeof *best_pos);
    colid = malloc((size_t)natoms * sizeof *colid);
    work = malloc(3 * nus * sizeof *work);
    if (!pos || !best_pos || !colid || !work) {
        rc = sd_err_set(e, SD_ENOMEM, "model3d: out of memory");
        goto done;
    }
    double best_f = INFINITY;
    for (int i = 0; i < nmin; i++) {
        recon_m3_positions(nu, x, y, cnt, mins[i].bottom, c, pos, colid);
        double E = mins[i].energy, cc = 0, cd = 0;
        if (o.relax) {
            rc = relax_candidate(pot, natoms, pos, &o, &E, &info, e);
            if (rc < 0) {
                sd_err_prefix(e, "model3d: relaxing local minimum %d", i);
                goto done;
            }
            fitness_chi(nu, x, y, cnt, mc->nbs, mc->nbc, natoms, pos, colid, work, &cc, &cd);
        }
        double epa = E / (double)natoms;
        double f = epa + o.alpha * (cc + cd);
        if (f < best_f) {
            best_f = f;
            info.chosen = i;
            info.e_mc = mins[i].energy / (double)natoms;
            info.e_final = epa;
            info.chi_count = cc;
            info.chi_disp = cd;
            info.chi = cc + cd;
            info.fitness = f;
            memcpy(best_pos, pos, (size_t)natoms * 3 * sizeof *pos);
        }
    }
    info.t_relax_s = secs(t2);

    /* ---- output frame ---- */
    recon_m3_positions(nu, x, y, cnt, mins[info.chosen].bottom, c, pos, colid);
    atoms = sd_atoms_new(natoms, sim_potential_element(pot));
    sd_prop_t *pr = atoms ? sd_atoms_add_prop(atoms, "column_id", SD_PROP_INT, 1) : NULL;
    if (!pr) {
        rc = sd_err_set(e, SD_ENOMEM, "model3d: out of memory");
        goto done;
    }
    /* a common shift along the beam is invisible in projection and free for the
     * MC (isolated columns even random-walk): put the centre of mass at z = 0 */
    double zm = 0;
    for (int64_t a = 0; a < natoms; a++) zm += best_pos[3 * a + 2] / (double)natoms;
    for (int64_t a = 0; a < natoms; a++) best_pos[3 * a + 2] -= zm;
    memcpy(atoms->pos, best_pos, (size_t)natoms * 3 * sizeof *pos);
    for (int64_t a = 0; a < natoms; a++) pr->ints[a] = map[colid[a]];

finish:;
    char buf[64];
    struct {
        const char *k;
        double v;
    } kv[] = {{"energy", info.e_final * (double)natoms},
              {"energy_per_atom", info.e_final},
              {"fitness", info.fitness},
              {"chi", info.chi},
              {"c", c},
              {"temp_K", o.temp_K}};
    for (size_t k = 0; k < sizeof kv / sizeof kv[0]; k++) {
        snprintf(buf, sizeof buf, "%.10g", kv[k].v);
        rc = sd_atoms_set_info(atoms, kv[k].k, buf, e);
        if (rc) goto done;
    }
    rc = sd_atoms_set_info(atoms, "potential", sim_potential_element(pot), e);
    if (rc) goto done;
    info.t_total_s = secs(t0);
    *out = atoms;
    atoms = NULL;
done:
    if (mins)
        for (int i = 0; i < o.max_minima; i++) free(mins[i].bottom);
    free(mins);
    recon_m3_mc_destroy(&mc);
    sd_atoms_destroy(&atoms);
    free(x);
    free(y);
    free(cnt);
    free(sub);
    free(bot);
    free(map);
    free(pos);
    free(best_pos);
    free(colid);
    free(work);
    sim_potential_destroy(&pot);
    if (info_out) *info_out = info;
    return rc;
}

int recon_model3d_to_msg(const sd_atoms_t *model, const recon_model3d_opts_t *o_in,
                         const char *series_id, int64_t frame_index, const char *model_id,
                         sd_msg_model_t *msg, int32_t **colid, sd_err_t *e)
{
    if (!model || !msg || !colid || !series_id || !model_id)
        return sd_err_set(e, SD_EINVAL, "model message: NULL argument");
    *colid = NULL;
    recon_model3d_opts_t o;
    if (o_in) o = *o_in;
    else recon_model3d_opts_default(&o);
    if (model->n < 1)
        return sd_err_set(e, SD_ERANGE, "model message: empty model (frame %lld has no atoms)",
                          (long long)frame_index);
    if (model->nspecies != 1)
        return sd_err_set(e, SD_EINVAL, "model message: %d species, the message carries one",
                          model->nspecies);
    if (strlen(series_id) > SD_MSG_ID_MAX || strlen(model_id) > SD_MSG_ID_MAX)
        return sd_err_set(e, SD_ERANGE, "model message: id longer than %d characters",
                          SD_MSG_ID_MAX);
    const char *en = sd_atoms_get_info(model, "energy");
    char *end = NULL;
    double E = en ? strtod(en, &end) : NAN;
    if (!en || *end || !isfinite(E))
        return sd_err_set(e, SD_ENOTFOUND, "model message: model has no finite info 'energy'");
    const sd_prop_t *pr = sd_atoms_get_prop(model, "column_id");
    int32_t *cid = NULL;
    if (pr && pr->kind == SD_PROP_INT && pr->ncols == 1) {
        cid = malloc((size_t)model->n * sizeof *cid);
        if (!cid) return sd_err_set(e, SD_ENOMEM, "model message: out of memory");
        for (int64_t a = 0; a < model->n; a++)
            cid[a] = (pr->ints[a] >= -1 && pr->ints[a] <= INT32_MAX) ? (int32_t)pr->ints[a] : -1;
    }
    memset(msg, 0, sizeof *msg);
    snprintf(msg->series_id, sizeof msg->series_id, "%s", series_id);
    snprintf(msg->model_id, sizeof msg->model_id, "%s", model_id);
    snprintf(msg->element, sizeof msg->element, "%s", model->species[0]);
    msg->frame_index = frame_index;
    msg->n_atoms = model->n;
    msg->pos = model->pos;
    msg->column_id = cid;
    msg->energy_eV = E;
    msg->energy_per_atom_eV = E / (double)model->n;
    snprintf(msg->prov.method, sizeof msg->prov.method, "statstem-start+mc-local-minima");
    msg->prov.iterations = o.iterations;
    msg->prov.seed = o.seed;
    snprintf(msg->prov.software, sizeof msg->prov.software, "stemdyn recon");
    *colid = cid;
    return SD_OK;
}
