/* sim — public API of the sim stage (the only header other stages and the
 * stemdyn binary include).  See README.md and ../shared/DESIGN.md.
 *
 * Units are LAMMPS "metal": Å, eV, eV/Å, amu; times in fs at this API
 * (LAMMPS uses ps internally; the conversion is ours), velocities in Å/ps,
 * temperatures in K.  Positions are flat row-major arrays pos[3*i + k].
 * The system is a free cluster: no periodic box.
 *
 * Three layers:
 *   1. potentials     — sim_potential_*: SMATB (LAMMPS pair_style smatb/single,
 *                       quintic tail) parameter sets by name;
 *   2. numerics       — sim_compute (convenience), sim_ws_* (re-usable
 *                       workspace: neighbour list, no per-call allocation),
 *                       sim_energy_delta (cheap energy change of a local move),
 *                       sim_minimize (FIRE / CG, LAMMPS-like stopping);
 *   3. dynamics       — sim_md_*: velocity Verlet + Langevin (LAMMPS
 *                       `fix langevin … zero yes`) or NVE, counter-based RNG,
 *                       bitwise-reproducible checkpoints. */
#ifndef SIM_H
#define SIM_H

#include "sd_atoms.h"
#include "sd_cli.h"
#include "sd_err.h"

#include <stdint.h>

/* Subcommands this stage contributes to `stemdyn`, NULL-terminated. */
extern const sd_cli_cmd_t sim_commands[];

/* ------------------------------------------------------------------------ */
/* 1. Potentials                                                             */

/* SMATB parameters in LAMMPS pair_coeff order (R0 p q A xi Rsc Rc) plus the
 * quintic tail coefficients derived from them (alpha: a3..a5, Xi: x3..x5). */
typedef struct sim_smatb_params {
    char name[32];    /* "Au", "Au-CR93", … */
    char element[8];  /* "Au" */
    double mass;      /* amu */
    double r0, p, q, A, xi, rs, rc; /* Å, -, -, eV, eV, Å, Å */
    double a3, a4, a5, x3, x4, x5;  /* tail (derived; filled by the library) */
} sim_smatb_params_t;

/* Immutable after creation: one potential may be shared by any number of
 * threads, workspaces and runs. */
typedef struct sim_potential sim_potential_t;

/* A potential by parameter-set name: "Au" (the paper's set, default),
 * "Au-CR93", "Ag-CR93", "Cu-CR93", "Pt-CR93", "Pd-CR93", "Ni-CR93",
 * "Al-CR93" (Cleri & Rosato 1993, Rsc = 2·R0, Rc = √5·R0: see sim_potential.c); an
 * element symbol alone ("Ag") selects that element's default set ("Au" for
 * Au, "<El>-CR93" otherwise).  NULL on unknown names (SD_ENOTFOUND in *e).
 * Caller owns the result (sim_potential_destroy). */
sim_potential_t *sim_potential_new(const char *name, sd_err_t *e);
/* A potential from explicit parameters (tail coefficients are recomputed;
 * a3..x5 on input are ignored).  NULL with SD_EINVAL on inconsistent values. */
sim_potential_t *sim_potential_new_params(const sim_smatb_params_t *prm, sd_err_t *e);
void sim_potential_destroy(sim_potential_t **p);
/* Interaction cut-off Rc (Å); also the neighbour cut-off (as smatb/single). */
double sim_potential_cutoff(const sim_potential_t *p);
double sim_potential_mass(const sim_potential_t *p);        /* amu */
const char *sim_potential_element(const sim_potential_t *p); /* borrowed */
/* Full parameter set (tail coefficients included). */
void sim_potential_params(const sim_potential_t *p, sim_smatb_params_t *out);
/* Names of the built-in sets: returns the count; names[i] borrowed, static. */
int sim_potential_names(const char *const **names);
/* The pair functions at distance r (for tabulation/export): alpha(r) and
 * Xi(r)^2 with their r-derivatives; all 0 for r >= Rc. */
void sim_potential_pair(const sim_potential_t *p, double r, double *alpha, double *dalpha,
                        double *xi2, double *dxi2);

/* ------------------------------------------------------------------------ */
/* 2. Energies, forces, minimisation                                         */

/* Convenience path: builds its own neighbour structures (allocates).
 * energy_total (may be NULL), e_atom [n] (may be NULL: per-atom SMATB energy
 * E_i = sum_j alpha(r_ij) - sqrt(sum_j Xi(r_ij)^2)), forces [n][3] (may be
 * NULL) are outputs owned by the caller.  Validates the input: n >= 1, finite
 * coordinates (SD_ERANGE), no two atoms closer than 1.0 Å (SD_EPHYS). */
int sim_compute(const sim_potential_t *p, int64_t n, const double *pos /* [n][3] */,
                double *energy_total, double *e_atom /* [n] */, double *forces /* [n][3] */,
                sd_err_t *e);

/* Re-usable workspace for repeated evaluations on n atoms (Verlet neighbour
 * list with skin, rebuilt when an atom moved more than skin/2; no allocation
 * per call once sized).  skin <= 0 selects the default 0.5 Å.  The potential
 * must outlive the workspace.  Not thread-safe: one workspace per thread. */
typedef struct sim_ws sim_ws_t;
sim_ws_t *sim_ws_new(const sim_potential_t *p, int64_t n, double skin, sd_err_t *e);
void sim_ws_destroy(sim_ws_t **w);
/* Same outputs and contract as sim_compute, for the n given at _new.  Does
 * not check for overlaps (cheap path); coordinates must be finite. */
int sim_ws_compute(sim_ws_t *w, const double *pos /* [n][3] */, double *energy_total,
                   double *e_atom /* [n] */, double *forces /* [n][3] */, sd_err_t *e);

/* Change of the total energy when the m atoms idx[0..m-1] (distinct, in
 * [0, n)) move from pos[idx[k]] to newpos[k], everything else fixed:
 * *dE = E(new) - E(pos).  Costs O(n + m·neighbours), no allocation beyond a
 * few small buffers; pos is not modified.  For Monte-Carlo moves.  SMATB
 * only (no wall).  ~25 µs for one atom of a 1038-atom particle. */
int sim_energy_delta(const sim_potential_t *p, int64_t n, const double *pos /* [n][3] */,
                     int64_t m, const int64_t *idx /* [m] */, const double *newpos /* [m][3] */,
                     double *dE, sd_err_t *e);

/* Optional external wall (the paper's substrate mimic): LAMMPS-style 9-3
 * Lennard-Jones wall on the plane z = z0 acting on atoms above it,
 * E(d) = eps [ (2/15)(sigma/d)^9 - (sigma/d)^3 ] - E(cutoff), d = z - z0,
 * for 0 < d < cutoff (LAMMPS fix wall/lj93 zlo with offset).  Only atoms
 * within `cutoff` of the plane (the bottom layers) feel it.  enabled = 0: off. */
typedef struct sim_wall {
    int enabled;
    double z0;      /* Å, plane position (below the particle) */
    double epsilon; /* eV */
    double sigma;   /* Å */
    double cutoff;  /* Å */
} sim_wall_t;

typedef enum sim_min_style { SIM_MIN_CG = 0, SIM_MIN_FIRE = 1 } sim_min_style_t;

typedef struct sim_min_opts {
    sim_min_style_t style; /* default CG (LAMMPS min_style cg) */
    double etol;     /* |ΔE| <= etol·(|E|+|E_prev|+eps)/2 stops (LAMMPS); 0 = off */
    double ftol;     /* |F| (2-norm of the whole force vector, LAMMPS) <= ftol stops; 0 = off */
    int64_t maxiter; /* iterations */
    int64_t maxeval; /* force evaluations */
    double dmax;     /* largest move of one atom per line search / FIRE step, Å (LAMMPS 0.1) */
    sim_wall_t wall; /* off by default */
} sim_min_opts_t;

/* The paper's setting: CG, etol 1e-6, ftol 1e-8, maxiter 1000, maxeval 10000,
 * dmax 0.1, no wall. */
void sim_min_opts_default(sim_min_opts_t *o);

typedef enum sim_min_stop {
    SIM_STOP_ETOL = 1,
    SIM_STOP_FTOL = 2,
    SIM_STOP_MAXITER = 3,
    SIM_STOP_MAXEVAL = 4,
    SIM_STOP_LINESEARCH = 5, /* no energy decrease possible (round-off floor) */
} sim_min_stop_t;

typedef struct sim_min_result {
    double energy;       /* final total energy (eV, wall included) */
    double energy_start;
    double fmax;         /* largest force component at the end, eV/Å */
    double fnorm;        /* 2-norm of the force vector at the end */
    int64_t iterations;
    int64_t evaluations;
    sim_min_stop_t stop;
} sim_min_result_t;

/* Minimises pos [n][3] in place.  o = NULL: defaults.  r may be NULL.
 * Returns SD_OK whenever a stopping criterion was met (maxiter included:
 * read r->stop); < 0 on invalid input. */
int sim_minimize(const sim_potential_t *p, int64_t n, double *pos /* [n][3] */,
                 const sim_min_opts_t *o, sim_min_result_t *r, sd_err_t *e);
/* Stopping reason as text (LAMMPS wording), static string. */
const char *sim_min_stop_name(sim_min_stop_t s);

/* ------------------------------------------------------------------------ */
/* 3. Molecular dynamics                                                     */

typedef enum sim_thermostat { SIM_NVE = 0, SIM_LANGEVIN = 1 } sim_thermostat_t;

typedef struct sim_md_config {
    double temp_K;        /* thermostat target and initial velocities */
    double dt_fs;         /* step (changeable later with sim_md_set_dt) */
    sim_thermostat_t thermostat; /* default SIM_LANGEVIN */
    double damp_ps;       /* Langevin damping time, default 100 ps (paper) */
    uint64_t seed;        /* RNG key: velocities and Langevin noise */
    int init_velocities;  /* 1 (default): Maxwell–Boltzmann at temp_K with zero
                             linear and angular momentum; 0: take the
                             "velo"/"vel" property (Å/ps) of the start, else 0 */
    double skin;          /* neighbour skin, Å (<= 0: default) */
    sim_wall_t wall;      /* off by default */
} sim_md_config_t;

/* Defaults: 300 K, 5 fs, Langevin, 100 ps, seed 1, init_velocities 1. */
void sim_md_config_default(sim_md_config_t *c);

typedef struct sim_md sim_md_t;

/* A run starting from `start` (single species = the potential's element,
 * positions validated like sim_compute).  Copies what it needs: `start` may be
 * freed afterwards; `p` must outlive the run. */
sim_md_t *sim_md_new(const sim_potential_t *p, const sd_atoms_t *start,
                     const sim_md_config_t *cfg, sd_err_t *e);
/* Same from flat arrays: vel [n][3] Å/ps may be NULL (then init_velocities
 * decides). */
sim_md_t *sim_md_new_flat(const sim_potential_t *p, int64_t n, const double *pos /* [n][3] */,
                          const double *vel /* [n][3] */, const sim_md_config_t *cfg,
                          sd_err_t *e);
void sim_md_destroy(sim_md_t **md);

/* Advances nsteps steps.  The trajectory is a pure function of (start, cfg,
 * sequence of set_dt/set_temperature calls, total steps): splitting the
 * steps over calls, or over a checkpoint + restore, gives bitwise identical
 * states.  SD_ERANGE if the system blew up (non-finite positions). */
int sim_md_advance(sim_md_t *md, int64_t nsteps, sd_err_t *e);
/* Changes the time step / thermostat target from the next step on. */
int sim_md_set_dt(sim_md_t *md, double dt_fs, sd_err_t *e);
int sim_md_set_temperature(sim_md_t *md, double temp_K, sd_err_t *e);

int64_t sim_md_natoms(const sim_md_t *md);
int64_t sim_md_step(const sim_md_t *md);      /* steps done since the start */
double sim_md_time_fs(const sim_md_t *md);    /* simulated time (sum of dt) */
/* Current positions [n][3] (Å) / velocities [n][3] (Å/ps), in the atom order
 * of the start; borrowed, valid until the next call that changes the run. */
const double *sim_md_positions(sim_md_t *md);
const double *sim_md_velocities(sim_md_t *md);
double sim_md_potential_energy(const sim_md_t *md); /* eV, wall included */
double sim_md_kinetic_energy(const sim_md_t *md);   /* eV */
/* Kinetic temperature with 3N-3 degrees of freedom (LAMMPS `temp`). */
double sim_md_temperature(const sim_md_t *md);
/* A new frame (caller destroys) with species, pos, "velo" (Å/ps) and info
 * step, time_fs, time_ns, energy (potential), temperature. */
int sim_md_snapshot(sim_md_t *md, sd_atoms_t **out, sd_err_t *e);

/* Writes the complete state (configuration, positions, velocities, forces,
 * step, time, RNG key, neighbour-list reference) to `path` atomically
 * (temporary file + fsync + rename).  Binary, versioned, CRC-protected. */
int sim_md_checkpoint_write(const sim_md_t *md, const char *path, sd_err_t *e);
/* Restores a run from a checkpoint; continuing it is bitwise identical to the
 * uninterrupted run.  `p` must be the same parameter set (checked). */
sim_md_t *sim_md_restore(const sim_potential_t *p, const char *path, sd_err_t *e);

#endif
