/* report_tables — every table of a session's state document (state.json,
 * see README "Web dashboard") as CSV (labelled, for people and spreadsheets)
 * and .npy (for NumPy), written into one directory by `stemdyn report`:
 *
 *   runs.csv / runs.npy              [nruns][8] run_id, frames, sim_ns, target_ns,
 *                                    ns_per_day, LENS fractions static/intermediate/dynamic
 *   counts_merged.csv / .npy         [k][k] int64 transition counts i→j summed over runs
 *   counts_runs.npy                  [nruns][k][k] int64 (run order of runs.csv)
 *   counts_run_ID.csv                one per run
 *   P_merged.csv / .npy              [k][k] row-normalised merged counts (NaN: row unobserved)
 *   P_mean_runs.csv / .npy           [k][k] the paper's mean of the runs' row-normalised P
 *   tau_merged.csv / .npy            [k][k] τ_ij = δt / P_ij in ns (NaN: i = j or P_ij = 0)
 *   populations.csv                  scope, environment, mean, std (each run, then "merged")
 *   populations_mean.npy / _std.npy  [nruns + 1][k] (last row: merged)
 *   lens_fractions_t.csv / .npy      [n][4] t_ns, static, intermediate, dynamic
 *   lens_kde.csv / .npy              [n][2] LENS value, density
 *
 * CSV: header row, '.' never used for missing values (empty field instead);
 * numbers %.10g. */
#ifndef REPORT_TABLES_H
#define REPORT_TABLES_H

#include "sd_err.h"

#include <stddef.h>

/* Parses json[0..len) (a state document) and writes the tables into dir
 * (created if missing).  *nfiles (may be NULL) gets the number of files
 * written.  SD_EFORMAT names the first missing/malformed field. */
int report_tables_write(const char *json, size_t len, const char *dir, int *nfiles, sd_err_t *e);

#endif
