/* sd_npy — NumPy .npy arrays (format 1.0/2.0/3.0), C order, little-endian,
 * dtypes f8 f4 i8 i4 u1 (and b1 read as u1).  Readers validate the header,
 * the shape product against the file size, and refuse > SD_NPY_MAX_BYTES.
 * Big-endian ('>') arrays are byte-swapped on reading; 0-d arrays read as
 * ndim 0, count 1.  Writers emit little-endian version 1.0 files. */
#ifndef SD_NPY_H
#define SD_NPY_H

#include "sd_err.h"

#include <stddef.h>
#include <stdint.h>

#define SD_NPY_MAX_DIMS 8
#define SD_NPY_MAX_BYTES (8LL << 30)

typedef enum sd_npy_dtype {
    SD_NPY_F64, SD_NPY_F32, SD_NPY_I64, SD_NPY_I32, SD_NPY_U8,
} sd_npy_dtype_t;

typedef struct sd_npy {
    sd_npy_dtype_t dtype;
    int ndim;
    int64_t shape[SD_NPY_MAX_DIMS];
    int64_t count; /* product of shape */
    void *data;    /* owned, native byte order, C order */
} sd_npy_t;

/* Reads `path` into *out (free with sd_npy_free). Fortran-order arrays are
 * transposed to C order. */
int sd_npy_read(const char *path, sd_npy_t *out, sd_err_t *e);
/* Reads any numeric .npy converted to float64 (data owned by *out, dtype F64). */
int sd_npy_read_f64(const char *path, sd_npy_t *out, sd_err_t *e);
/* Reads any integer .npy converted to int64; float arrays are accepted when
 * every element is a whole number (counts saved as float), else SD_ERANGE. */
int sd_npy_read_i64(const char *path, sd_npy_t *out, sd_err_t *e);
void sd_npy_free(sd_npy_t *a);
/* sd_npy_read over buf[0..len) (borrowed; the result owns a copy); `name` (may
 * be NULL) prefixes messages.  The buffer must be exactly one .npy file. */
int sd_npy_read_mem(const void *buf, size_t len, const char *name, sd_npy_t *out, sd_err_t *e);
/* Bytes per element (8, 4, 8, 4, 1); 0 for an invalid dtype. */
int sd_npy_dtype_size(sd_npy_dtype_t t);
/* numpy descr string: "<f8", "<f4", "<i8", "<i4", "|u1". */
const char *sd_npy_dtype_name(sd_npy_dtype_t t);
/* Writes a version 1.0 header (magic … '\n', padded to 64 bytes as numpy
 * does) into buf[0..cap); *len = its size.  For streaming writers. */
int sd_npy_encode_header(sd_npy_dtype_t dtype, int ndim, const int64_t *shape, char *buf, size_t cap, size_t *len,
                         sd_err_t *e);

/* Writes data (C order, native) with the given dtype and shape; atomic
 * (temporary file + rename). */
int sd_npy_write(const char *path, sd_npy_dtype_t dtype, int ndim, const int64_t *shape,
                 const void *data, sd_err_t *e);

#endif
