/* libFuzzer harness for the image decoders.  The input goes to every
 * in-memory reader: TIFF (libtiff through our client I/O), MRC, .npy, and raw
 * + JSON sidecar (sidecar text = bytes before the first NUL, pixels = bytes
 * after it).  Oracle: an accepted image is non-empty, within the pixel limit,
 * and every pixel is finite. */
#include "sd_image.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(int rc, sd_image_t *m, const sd_err_t *e)
{
    if (rc != SD_OK) {
        if (m->data != NULL || e->msg[0] == '\0')
            abort();
        return;
    }
    if (m->width < 1 || m->height < 1 || m->nframes < 1 ||
        m->width * m->height * m->nframes > SD_IMAGE_MAX_PIXELS || !(m->dx >= 0))
        abort();
    for (int64_t i = 0; i < m->width * m->height * m->nframes; i++)
        if (!isfinite(m->data[i]))
            abort();
    sd_image_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sd_err_t e = {0};
    sd_image_t m;
    check(sd_image_read_tiff_mem(data, size, "fuzz.tif", &m, &e), &m, &e);
    check(sd_image_read_mrc_mem(data, size, "fuzz.mrc", &m, &e), &m, &e);
    check(sd_image_read_npy_mem(data, size, "fuzz.npy", &m, &e), &m, &e);
    const uint8_t *nul = size ? memchr(data, 0, size) : NULL;
    size_t jl = nul ? (size_t)(nul - data) : size;
    const uint8_t *raw = nul ? nul + 1 : data + size;
    check(sd_image_read_raw_mem(raw, size - jl - (nul ? 1 : 0), (const char *)data, jl, "fuzz.raw", &m, &e), &m, &e);
    return 0;
}
