/* sd_xyz — extended XYZ (ASE/OVITO flavour): multi-frame, Lattice="…",
 * Properties=species:S:1:pos:R:3:…, pbc="T T T", other key=value info.
 * Plain XYZ (no Properties) reads as species + pos (extra columns ignored,
 * atomic numbers accepted as species; a comment line that is not key=value
 * text is kept as info "comment").
 * Reading: kinds R → SD_PROP_REAL, I → SD_PROP_INT, L (T/F) → SD_PROP_INT 0/1;
 * "Z:I:1" without species gives the species.  String (S) columns other than
 * species cannot be stored: they are skipped and their names are listed in
 * info "skipped_properties".  Lattice without pbc means pbc="T T T" (ASE).
 * Every real value must be finite; messages name the file and line.
 * Writing: numbers in the shortest form that reads back bit-identical. */
#ifndef SD_XYZ_H
#define SD_XYZ_H

#include "sd_atoms.h"

#include <stdio.h>

typedef struct sd_xyz_reader sd_xyz_reader_t;

/* Opens `path` for frame-by-frame reading; NULL with *e filled on failure. */
sd_xyz_reader_t *sd_xyz_reader_new(const char *path, sd_err_t *e);
void sd_xyz_reader_destroy(sd_xyz_reader_t **r);
/* Like sd_xyz_reader_new over buf[0..len) (borrowed: must outlive the reader);
 * `name` (may be NULL) prefixes error messages. */
sd_xyz_reader_t *sd_xyz_reader_new_mem(const void *buf, size_t len, const char *name, sd_err_t *e);
/* Reads the next frame into *out (caller destroys).  Returns 1 on a frame,
 * 0 at clean end of file, < 0 on malformed input (message names the line). */
int sd_xyz_reader_next(sd_xyz_reader_t *r, sd_atoms_t **out, sd_err_t *e);

/* Reads every frame: *frames is a malloc'd array of *nframes owned frames;
 * free with sd_xyz_frames_free. */
int sd_xyz_read_all(const char *path, sd_atoms_t ***frames, int64_t *nframes, sd_err_t *e);
/* sd_xyz_read_all over a memory buffer (for fuzzing and embedded data). */
int sd_xyz_read_all_mem(const void *buf, size_t len, const char *name, sd_atoms_t ***frames, int64_t *nframes,
                        sd_err_t *e);
void sd_xyz_frames_free(sd_atoms_t ***frames, int64_t nframes);

/* Appends one frame (species, pos, then every property; info keys after
 * Lattice/Properties/pbc) to f, %.10f-or-better precision (round-trips). */
int sd_xyz_write(FILE *f, const sd_atoms_t *a, sd_err_t *e);
/* Writes all frames to `path` (truncating), atomically via a temporary file. */
int sd_xyz_write_file(const char *path, sd_atoms_t *const *frames, int64_t nframes, sd_err_t *e);

#endif
