/* sd_image — 2-D detector images and stacks: TIFF (libtiff; 8/16/32-bit
 * unsigned/signed int and 32/64-bit float, multi-page), MRC (modes 0,1,2,6,12),
 * raw little-endian + JSON sidecar (as ../shared/oracle/stem/: "shape",
 * "dtype", "dx_angstrom" …), and .npy (2-D or 3-D).  In memory every image is
 * float64, frames × height × width, row-major; pixel (row r, col c) sits at
 * x = c·dx, y = r·dx. */
#ifndef SD_IMAGE_H
#define SD_IMAGE_H

#include "sd_err.h"

#include <stddef.h>
#include <stdint.h>

#define SD_IMAGE_MAX_PIXELS (1LL << 30)

typedef enum sd_pixel_type {
    SD_PIX_U8, SD_PIX_U16, SD_PIX_U32, SD_PIX_I8, SD_PIX_I16, SD_PIX_I32, SD_PIX_F32, SD_PIX_F64,
    SD_PIX_F16, /* IEEE half: MRC mode 12, raw */
    SD_PIX_I64, /* .npy int64, raw */
} sd_pixel_type_t;

typedef struct sd_image {
    int64_t width, height, nframes;
    double *data;              /* owned, [nframes][height][width] */
    double dx;                 /* Å per pixel, 0 when unknown */
    sd_pixel_type_t src_type;  /* pixel type found in the file */
} sd_image_t;

/* Reads by extension (.tif/.tiff; .mrc/.mrcs/.st/.ali/.rec/.map; .npy; anything
 * else is raw with a JSON sidecar "path.json", or the path with its extension
 * replaced by ".json" as in ../shared/oracle/stem/).  Rejects empty images and
 * non-finite pixels; out->src_type is the stored pixel type.
 *  TIFF: grayscale pages of 8/16/32-bit (un)signed int or 16/32/64-bit float,
 *        strips or tiles, any libtiff compression; every page the same size and
 *        type (a page = a frame); dx from "dx_A=" in ImageDescription (ours).
 *  MRC:  little-endian, modes 0 (int8; uint8 when IMOD's stamp says unsigned),
 *        1, 2, 6, 12; axis order 1,2,3; exact file size; dx = cella.x / mx.
 *  raw:  sidecar keys "shape" ([rows, cols] or [frames, rows, cols]) and/or
 *        "shape_rows_cols", optional "nframes", "dtype" (numpy names or words:
 *        "float64 little-endian, row-major (C order)", "<f8", "uint16" …),
 *        "dx_A" (or "dx_angstrom", "dx"); other keys ignored; the data size
 *        must match exactly.
 *  npy:  2-D (one frame) or 3-D (frames first), any sd_npy dtype; dx = 0. */
int sd_image_read(const char *path, sd_image_t *out, sd_err_t *e);
void sd_image_free(sd_image_t *img);

/* Writers: every frame, converted (with rounding and clamping for integer types). */
int sd_image_write_tiff(const char *path, const sd_image_t *img, sd_pixel_type_t type, sd_err_t *e);
int sd_image_write_mrc(const char *path, const sd_image_t *img, sd_pixel_type_t type, sd_err_t *e);
/* Raw little-endian pixels at `path` plus `path`.json sidecar. */
int sd_image_write_raw(const char *path, const sd_image_t *img, sd_pixel_type_t type, sd_err_t *e);
/* float64 .npy: 2-D when nframes == 1, else frames × height × width. */
int sd_image_write_npy(const char *path, const sd_image_t *img, sd_err_t *e);
/* Writers are atomic (temporary file + rename) and validate every pixel first.
 * TIFF: every type but F16/I64; dx goes to ImageDescription "stemdyn dx_A=…".
 * MRC: I8 (mode 0), I16 (1), F32 (2), U16 (6), F16 (12); others SD_EINVAL.
 * Floats that do not fit the type (float32/float16 overflow) give SD_ERANGE. */

/* In-memory readers (buffers borrowed; `name` may be NULL, prefixes messages):
 * for fuzzing and for data that arrives over the wire. */
int sd_image_read_tiff_mem(const void *buf, size_t len, const char *name, sd_image_t *out, sd_err_t *e);
int sd_image_read_mrc_mem(const void *buf, size_t len, const char *name, sd_image_t *out, sd_err_t *e);
int sd_image_read_npy_mem(const void *buf, size_t len, const char *name, sd_image_t *out, sd_err_t *e);
/* raw pixels + the text of their JSON sidecar. */
int sd_image_read_raw_mem(const void *raw, size_t rawlen, const char *json, size_t jsonlen, const char *name,
                          sd_image_t *out, sd_err_t *e);

/* "uint8", "float64" …; "invalid" for a bad type. */
const char *sd_pixel_type_name(sd_pixel_type_t type);

/* Size in bytes of one pixel of `type`; 0 for an invalid type. */
int sd_pixel_size(sd_pixel_type_t type);
/* Converts n little-endian pixels of `type` to float64 (dst); validates finiteness. */
int sd_pixels_to_f64(const void *src, sd_pixel_type_t type, int64_t n, double *dst, sd_err_t *e);

#endif
