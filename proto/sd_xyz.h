/* sd_xyz — extended XYZ (ASE/OVITO flavour): multi-frame, Lattice="…",
 * Properties=species:S:1:pos:R:3:…, pbc="T T T", other key=value info.
 * Plain XYZ (no Properties) reads as species + pos. */
#ifndef SD_XYZ_H
#define SD_XYZ_H

#include "sd_atoms.h"

#include <stdio.h>

typedef struct sd_xyz_reader sd_xyz_reader_t;

/* Opens `path` for frame-by-frame reading; NULL with *e filled on failure. */
sd_xyz_reader_t *sd_xyz_reader_new(const char *path, sd_err_t *e);
void sd_xyz_reader_destroy(sd_xyz_reader_t **r);
/* Reads the next frame into *out (caller destroys).  Returns 1 on a frame,
 * 0 at clean end of file, < 0 on malformed input (message names the line). */
int sd_xyz_reader_next(sd_xyz_reader_t *r, sd_atoms_t **out, sd_err_t *e);

/* Reads every frame: *frames is a malloc'd array of *nframes owned frames;
 * free with sd_xyz_frames_free. */
int sd_xyz_read_all(const char *path, sd_atoms_t ***frames, int64_t *nframes, sd_err_t *e);
void sd_xyz_frames_free(sd_atoms_t ***frames, int64_t nframes);

/* Appends one frame (species, pos, then every property; info keys after
 * Lattice/Properties/pbc) to f, %.10f-or-better precision (round-trips). */
int sd_xyz_write(FILE *f, const sd_atoms_t *a, sd_err_t *e);
/* Writes all frames to `path` (truncating), atomically via a temporary file. */
int sd_xyz_write_file(const char *path, sd_atoms_t *const *frames, int64_t nframes, sd_err_t *e);

#endif
