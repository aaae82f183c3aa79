/* Internal interfaces of the sim stage (not for other stages). */
#ifndef SIM_INTERNAL_H
#define SIM_INTERNAL_H

#include "sim.h"

#include <math.h>
#include <stdint.h>

struct sim_potential {
    sim_smatb_params_t prm;
    double rc, rc2, rs, rs2;
    double p_r0, q2_r0; /* p/R0, 2q/R0 */
    double A_ep, xi2_eq;
};

/* alpha(r), alpha'(r), Xi(r)^2, (Xi^2)'(r); zeros beyond Rc. */
static inline void sim_pair_eval(const sim_potential_t *p, double r, double *a, double *da,
                                 double *x2, double *dx2)
{
    const sim_smatb_params_t *c = &p->prm;
    if (r >= p->rc) {
        *a = *da = *x2 = *dx2 = 0;
    } else if (r < p->rs) {
        double ea = c->A * exp(c->p * (1.0 - r / c->r0));
        double ex = c->xi * c->xi * exp(2.0 * c->q * (1.0 - r / c->r0));
        *a = ea;
        *da = -p->p_r0 * ea;
        *x2 = ex;
        *dx2 = -p->q2_r0 * ex;
    } else {
        double t = r - p->rc;
        double t2 = t * t;
        *a = t2 * t * (c->a3 + t * (c->a4 + t * c->a5));
        *da = t2 * (3.0 * c->a3 + t * (4.0 * c->a4 + t * 5.0 * c->a5));
        double x = t2 * t * (c->x3 + t * (c->x4 + t * c->x5));
        double dx = t2 * (3.0 * c->x3 + t * (4.0 * c->x4 + t * 5.0 * c->x5));
        *x2 = x * x;
        *dx2 = 2.0 * x * dx;
    }
}

/* Verlet half neighbour list (each pair once, j != i; CSR, rows padded to a
 * multiple of 8 with the sentinel index n, whose coordinates are far away)
 * built with a cell grid and a half stencil
 * from reference positions; rebuilt by the caller when an atom moved more
 * than skin/2 from its reference. */
typedef struct sim_nlist {
    int64_t n;
    double rcut, skin;
    int64_t *start;   /* [n+1] */
    int32_t *j;       /* [cap] */
    int64_t cap;
    double *xr, *yr, *zr; /* [n] reference positions of the last build */
    int32_t *cell_of, *cell_start, *cell_atoms;
    double *xs, *ys, *zs; /* coordinates in cell order */
    int32_t *spos;        /* [n] position of each atom in cell order */
    int64_t ncell_cap;
    int64_t nbuilds;
} sim_nlist_t;

struct sim_ws {
    const sim_potential_t *p;
    int64_t n;
    double skin;
    /* SoA, n+1 entries (index n = sentinel) */
    double *x, *y, *z, *rho, *g, *fx, *fy, *fz, *epair;
    /* per-entry cache of the first pass, [nl.cap] */
    double *cdx, *cdy, *cdz, *ca, *cx;
    sim_nlist_t nl;
    /* AVX-512 path: the entries within Rc, compacted every step into two
     * streams, r < Rsc (exponentials) from 0 and Rsc <= r < Rc (quintic
     * tail) from nl.cap + 16; arrays [2 (nl.cap + 16)] */
    int32_t *di, *dj; /* [2 (nl.cap + 16) + 16] pair atoms */
    int64_t *dstart;  /* [n+1] row starts in the exponential stream */
    int64_t *dstartt; /* [n+1] row starts in the tail stream */
    double *q4;      /* [n+1][4] positions as quadruples (64-byte aligned) */
    double *f4;      /* [n+1][4] force accumulators as quadruples (64-byte aligned) */
    double *dr2, *da, *dx2, *dca, *dcx;
    int valid; /* list built at least once */
};

/* Allocates/frees list storage for n atoms. */
int sim_nlist_init(sim_nlist_t *nl, int64_t n, double rcut, double skin, sd_err_t *e);
void sim_nlist_free(sim_nlist_t *nl);
/* Builds from x,y,z [n]; may grow nl->j (returns SD_ENOMEM on failure). *grew
 * is set when the capacity changed (per-entry caches must grow too). */
int sim_nlist_build(sim_nlist_t *nl, const double *x, const double *y, const double *z,
                    int *grew, sd_err_t *e);
/* 1 when some atom moved more than skin/2 from the reference positions. */
int sim_nlist_needs_rebuild(const sim_nlist_t *nl, const double *x, const double *y,
                            const double *z);

/* Forces and energies from w->x,y,z (SoA, internal order), rebuilding the
 * list when needed.  Results in w->fx,fy,fz; per-atom energies into eatom
 * when non-NULL; total into *etot when non-NULL. */
int sim_ws_force_soa(sim_ws_t *w, double *etot, double *eatom, sd_err_t *e);
/* The portable kernel on the same workspace (always compiled): the
 * reference the AVX-512 path is tested against. */
int sim_ws_force_soa_scalar(sim_ws_t *w, double *etot, double *eatom, sd_err_t *e);
/* Forces the list to be rebuilt from the current w->x,y,z (or from given
 * reference positions: a restored run rebuilds exactly the list it had). */
int sim_ws_rebuild(sim_ws_t *w, sd_err_t *e);
int sim_ws_rebuild_from(sim_ws_t *w, const double *x, const double *y, const double *z,
                        sd_err_t *e);

/* Checks n >= 1, finite coordinates, no pair closer than dmin. */
int sim_check_positions(int64_t n, const double *pos, double dmin, sd_err_t *e);

/* Wall energy and forces (added into f [n][3] AoS when non-NULL). */
double sim_wall_apply(const sim_wall_t *w, int64_t n, const double *pos, double *f);
double sim_wall_apply_soa(const sim_wall_t *w, int64_t n, const double *z, double *fz);
int sim_wall_check(const sim_wall_t *w, sd_err_t *e);

/* 64-bit mixer of SplitMix64 (Steele, Lea & Flood 2014). */
static inline uint64_t sim_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif
