/* libFuzzer harness for the .npy reader (input: the bytes of a file).
 * Oracle: an accepted array re-encoded with our header reads back identical. */
#include "sd_npy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sd_err_t e = {0};
    sd_npy_t a;
    if (sd_npy_read_mem(data, size, "fuzz.npy", &a, &e) != SD_OK) {
        if (a.data != NULL || e.msg[0] == '\0')
            abort();
        return 0;
    }
    int64_t count = 1;
    for (int i = 0; i < a.ndim; i++)
        count *= a.shape[i];
    if (count != a.count || a.ndim < 0 || a.ndim > SD_NPY_MAX_DIMS)
        abort();
    size_t nb = (size_t)a.count * (size_t)sd_npy_dtype_size(a.dtype);
    char hdr[1024];
    size_t hl;
    if (sd_npy_encode_header(a.dtype, a.ndim, a.shape, hdr, sizeof hdr, &hl, &e) != SD_OK)
        abort();
    unsigned char *buf = malloc(hl + nb + 1);
    if (buf) {
        memcpy(buf, hdr, hl);
        if (nb)
            memcpy(buf + hl, a.data, nb);
        sd_npy_t b;
        if (sd_npy_read_mem(buf, hl + nb, "fuzz-rewrite.npy", &b, &e) != SD_OK || b.dtype != a.dtype ||
            b.ndim != a.ndim || b.count != a.count || (nb && memcmp(a.data, b.data, nb)))
            abort();
        sd_npy_free(&b);
        free(buf);
    }
    sd_npy_free(&a);
    return 0;
}
