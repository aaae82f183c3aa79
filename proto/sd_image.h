/* sd_image — 2-D detector images and stacks: TIFF (libtiff; 8/16/32-bit
 * unsigned/signed int and 32/64-bit float, multi-page), MRC (modes 0,1,2,6,12),
 * raw little-endian + JSON sidecar (as ../shared/oracle/stem/: "shape",
 * "dtype", "dx_angstrom" …), and .npy (2-D or 3-D).  In memory every image is
 * float64, frames × height × width, row-major; pixel (row r, col c) sits at
 * x = c·dx, y = r·dx. */
#ifndef SD_IMAGE_H
#define SD_IMAGE_H

#include "sd_err.h"

#include <stdint.h>

#define SD_IMAGE_MAX_PIXELS (1LL << 30)

typedef enum sd_pixel_type {
    SD_PIX_U8, SD_PIX_U16, SD_PIX_U32, SD_PIX_I8, SD_PIX_I16, SD_PIX_I32, SD_PIX_F32, SD_PIX_F64,
} sd_pixel_type_t;

typedef struct sd_image {
    int64_t width, height, nframes;
    double *data;              /* owned, [nframes][height][width] */
    double dx;                 /* Å per pixel, 0 when unknown */
    sd_pixel_type_t src_type;  /* pixel type found in the file */
} sd_image_t;

/* Reads by extension (.tif/.tiff, .mrc, .npy, anything else with a .json
 * sidecar as raw).  Rejects empty images and non-finite pixels. */
int sd_image_read(const char *path, sd_image_t *out, sd_err_t *e);
void sd_image_free(sd_image_t *img);

/* Writers: every frame, converted (with rounding and clamping for integer types). */
int sd_image_write_tiff(const char *path, const sd_image_t *img, sd_pixel_type_t type, sd_err_t *e);
int sd_image_write_mrc(const char *path, const sd_image_t *img, sd_pixel_type_t type, sd_err_t *e);
/* Raw little-endian pixels at `path` plus `path`.json sidecar. */
int sd_image_write_raw(const char *path, const sd_image_t *img, sd_pixel_type_t type, sd_err_t *e);

/* Size in bytes of one pixel of `type`; 0 for an invalid type. */
int sd_pixel_size(sd_pixel_type_t type);
/* Converts n little-endian pixels of `type` to float64 (dst); validates finiteness. */
int sd_pixels_to_f64(const void *src, sd_pixel_type_t type, int64_t n, double *dst, sd_err_t *e);

#endif
