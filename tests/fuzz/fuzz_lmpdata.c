/* libFuzzer harness for the LAMMPS data reader (input: the text of a file).
 * Oracle: an accepted file gives a valid frame (finite coordinates, species
 * indices in range, velocities finite). */
#include "sd_lmpdata.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sd_err_t e = {0};
    sd_atoms_t *a = NULL;
    if (sd_lmpdata_read_mem(data, size, "fuzz.data", &a, &e) != SD_OK) {
        if (a != NULL || e.msg[0] == '\0')
            abort();
        return 0;
    }
    if (!a || sd_atoms_validate(a, &e) != SD_OK || !a->has_cell)
        abort();
    const sd_prop_t *v = sd_atoms_get_prop(a, "velo");
    for (int64_t i = 0; v && i < 3 * a->n; i++)
        if (!isfinite(v->real[i]))
            abort();
    sd_atoms_destroy(&a);
    return 0;
}
