/* libFuzzer harness for the extended-XYZ reader (input: the text of a file).
 * Oracle beyond "no crash": whatever the reader accepts, the writer writes and
 * the reader reads back with the same atom counts and bit-identical positions. */
#include "sd_xyz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sd_err_t e = {0};
    sd_atoms_t **fr = NULL;
    int64_t nf = 0;
    int rc = sd_xyz_read_all_mem(data, size, "fuzz.xyz", &fr, &nf, &e);
    if (rc != SD_OK) {
        if (fr != NULL || nf != 0 || e.msg[0] == '\0')
            abort(); /* failures leave nothing behind and always explain themselves */
        return 0;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int wrote = m != NULL;
    for (int64_t i = 0; wrote && i < nf; i++)
        if (sd_atoms_validate(fr[i], &e) != SD_OK)
            abort(); /* the reader must only produce valid frames */
        else if (sd_xyz_write(m, fr[i], &e) != SD_OK)
            wrote = 0; /* e.g. a property name the writer cannot express */
    if (m)
        fclose(m);
    if (wrote) {
        sd_atoms_t **back = NULL;
        int64_t nb = 0;
        if (sd_xyz_read_all_mem(buf, len, "fuzz-rewrite.xyz", &back, &nb, &e) != SD_OK || nb != nf)
            abort();
        for (int64_t i = 0; i < nf; i++)
            if (back[i]->n != fr[i]->n ||
                (fr[i]->n && memcmp(back[i]->pos, fr[i]->pos, (size_t)fr[i]->n * 3 * sizeof(double))))
                abort();
        sd_xyz_frames_free(&back, nb);
    }
    free(buf);
    sd_xyz_frames_free(&fr, nf);
    return 0;
}
