/* Helper for interop_ase_numpy.py and interop_lammps.py:
 *   interop_helper write DIR  — writes ours.extxyz and ours_<dtype>.npy with
 *                               patterns the script recomputes in Python;
 *   interop_helper read DIR   — reads ase.extxyz / np_*.npy written by ASE and
 *                               numpy and compares with the reference arrays
 *                               the script saved beside them;
 *   interop_helper write_lmp DIR / read_lmp DIR — ours.data for LAMMPS, and
 *                               LAMMPS's write_data output compared bit for bit.
 * Exit 0 when everything matches, 1 on any mismatch (printed). */
#include "sd_image.h"
#include "sd_lmpdata.h"
#include "sd_npy.h"
#include "sd_xyz.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fails;

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fails++;                                                                               \
            fprintf(stderr, "interop_helper:%d: %s: ", __LINE__, #cond);                           \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

static void pattern(void *d, sd_npy_dtype_t dt, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case SD_NPY_F64: ((double *)d)[i] = (double)i * 0.1 - 7.0 / 3.0; break;
        case SD_NPY_F32: ((float *)d)[i] = (float)((double)i * 0.1 - 7.0 / 3.0); break;
        case SD_NPY_I64: ((int64_t *)d)[i] = i * 1000000007LL - (1LL << 40); break;
        case SD_NPY_I32: ((int32_t *)d)[i] = (int32_t)(i * 7 - 50); break;
        case SD_NPY_U8: ((uint8_t *)d)[i] = (uint8_t)((i * 37) % 256); break;
        }
    }
}

/* Image pattern shared with the script: frame f, pixel i (row-major 5x7). */
static double img_value(sd_pixel_type_t t, int f, int i)
{
    int k = f * 35 + i;
    switch (t) {
    case SD_PIX_U16: return (double)((k * 997) % 65536);
    case SD_PIX_F32: return k * 0.25 - 3.0;
    case SD_PIX_I32: return k * 100003.0 - 1000000.0;
    default: return (double)(k % 256);
    }
}

static const struct {
    const char *name;
    sd_pixel_type_t type;
} k_tiffs[] = {{"u8", SD_PIX_U8}, {"u16", SD_PIX_U16}, {"i32", SD_PIX_I32}, {"f32", SD_PIX_F32}};

static int do_write(const char *dir)
{
    char p[4096];
    sd_err_t e = {0};
    static const char *names[] = {"f8", "f4", "i8", "i4", "u1"};
    int64_t shape[3] = {3, 4, 5};
    for (int dt = SD_NPY_F64; dt <= SD_NPY_U8; dt++) {
        void *d = malloc(60 * 8);
        pattern(d, (sd_npy_dtype_t)dt, 60);
        snprintf(p, sizeof p, "%s/ours_%s.npy", dir, names[dt]);
        EXPECT(sd_npy_write(p, (sd_npy_dtype_t)dt, 3, shape, d, &e) == SD_OK, "%s", e.msg);
        free(d);
    }
    double scalar = 2.5;
    snprintf(p, sizeof p, "%s/ours_0d.npy", dir);
    EXPECT(sd_npy_write(p, SD_NPY_F64, 0, NULL, &scalar, &e) == SD_OK, "%s", e.msg);
    int64_t es[2] = {0, 3};
    snprintf(p, sizeof p, "%s/ours_empty.npy", dir);
    EXPECT(sd_npy_write(p, SD_NPY_F64, 2, es, NULL, &e) == SD_OK, "%s", e.msg);

    for (size_t k = 0; k < sizeof k_tiffs / sizeof k_tiffs[0]; k++) {
        double px[3 * 35];
        for (int f = 0; f < 3; f++)
            for (int i = 0; i < 35; i++)
                px[f * 35 + i] = img_value(k_tiffs[k].type, f, i);
        sd_image_t img = {7, 5, 3, px, 0.5, SD_PIX_F64};
        snprintf(p, sizeof p, "%s/ours_%s.tif", dir, k_tiffs[k].name);
        EXPECT(sd_image_write_tiff(p, &img, k_tiffs[k].type, &e) == SD_OK, "%s", e.msg);
    }

    sd_atoms_t *fr[2];
    sd_atoms_t *a = fr[0] = sd_atoms_new(5, "Au");
    int pt = sd_atoms_species_index(a, "Pt");
    sd_prop_t *f = sd_atoms_add_prop(a, "forces", SD_PROP_REAL, 3);
    sd_prop_t *en = sd_atoms_add_prop(a, "energies", SD_PROP_REAL, 1);
    sd_prop_t *tg = sd_atoms_add_prop(a, "tags", SD_PROP_INT, 1);
    for (int i = 0; i < 5; i++) {
        a->type[i] = i % 2 ? pt : 0;
        for (int k = 0; k < 3; k++) {
            a->pos[3 * i + k] = 0.1 * i + k + 1.0 / 3.0;
            f->real[3 * i + k] = -0.01 * i + 0.001 * k;
        }
        en->real[i] = -3.81 + 0.001 * i;
        tg->ints[i] = 10 * i;
    }
    a->has_cell = 1;
    double cell[9] = {20, 0, 0, 0.5, 21, 0, 0, 0, 22};
    memcpy(a->cell, cell, sizeof cell);
    a->pbc[0] = a->pbc[1] = 1;
    sd_atoms_set_info(a, "step", "42", NULL);
    sd_atoms_set_info(a, "label", "two words", NULL);
    sd_atoms_t *b = fr[1] = sd_atoms_new(3, "Cu");
    for (int i = 0; i < 9; i++)
        b->pos[i] = 1e-7 * i - 12345.678;
    snprintf(p, sizeof p, "%s/ours.extxyz", dir);
    EXPECT(sd_xyz_write_file(p, fr, 2, &e) == SD_OK, "%s", e.msg);
    sd_atoms_destroy(&fr[0]);
    sd_atoms_destroy(&fr[1]);
    return fails ? 1 : 0;
}

static int load(const char *dir, const char *name, sd_npy_t *a)
{
    char p[4096];
    sd_err_t e = {0};
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int rc = sd_npy_read(p, a, &e);
    EXPECT(rc == SD_OK, "%s", e.msg);
    return rc;
}

static int do_read(const char *dir)
{
    char p[4096];
    sd_err_t e = {0};
    /* numpy-written arrays of every dtype, C and Fortran order */
    static const struct {
        const char *file;
        sd_npy_dtype_t dt;
    } np_files[] = {{"np_f8.npy", SD_NPY_F64},  {"np_f4.npy", SD_NPY_F32},  {"np_i8.npy", SD_NPY_I64},
                    {"np_i4.npy", SD_NPY_I32},  {"np_u1.npy", SD_NPY_U8},   {"np_f8_fortran.npy", SD_NPY_F64},
                    {"np_i4_fortran.npy", SD_NPY_I32}, {"np_f8_v2.npy", SD_NPY_F64}, {"np_f8_be.npy", SD_NPY_F64}};
    for (size_t i = 0; i < sizeof np_files / sizeof np_files[0]; i++) {
        sd_npy_t a;
        if (load(dir, np_files[i].file, &a))
            continue;
        EXPECT(a.dtype == np_files[i].dt && a.ndim == 3 && a.shape[0] == 3 && a.shape[1] == 4 && a.shape[2] == 5,
               "%s: dtype %d ndim %d", np_files[i].file, (int)a.dtype, a.ndim);
        unsigned char want[60 * 8];
        pattern(want, np_files[i].dt, 60);
        EXPECT(a.count == 60 && memcmp(a.data, want, 60 * (size_t)sd_npy_dtype_size(a.dtype)) == 0,
               "%s: values differ from the pattern", np_files[i].file);
        sd_npy_free(&a);
    }
    sd_npy_t bl;
    if (!load(dir, "np_bool.npy", &bl)) {
        EXPECT(bl.dtype == SD_NPY_U8 && bl.count == 4 && !memcmp(bl.data, "\1\0\0\1", 4), "np_bool.npy");
        sd_npy_free(&bl);
    }

    /* PIL-written TIFFs (multi-page) */
    for (size_t k = 0; k < sizeof k_tiffs / sizeof k_tiffs[0]; k++) {
        sd_image_t img;
        snprintf(p, sizeof p, "%s/pil_%s.tif", dir, k_tiffs[k].name);
        if (access(p, F_OK) != 0)
            continue; /* the script had no PIL */
        if (sd_image_read(p, &img, &e) != SD_OK) {
            EXPECT(0, "%s", e.msg);
            continue;
        }
        EXPECT(img.width == 7 && img.height == 5 && img.nframes == 3, "%s: %lldx%lldx%lld", p,
               (long long)img.nframes, (long long)img.height, (long long)img.width);
        int ok = img.width * img.height * img.nframes == 105;
        for (int f = 0; ok && f < 3; f++)
            for (int i = 0; ok && i < 35; i++)
                ok = img.data[f * 35 + i] == img_value(k_tiffs[k].type, f, i);
        EXPECT(ok, "%s: pixel values differ", p);
        sd_image_free(&img);
    }

    /* ASE-written extxyz vs the arrays ASE itself read back from it */
    snprintf(p, sizeof p, "%s/ase.extxyz", dir);
    sd_atoms_t **fr = NULL;
    int64_t nf = 0;
    EXPECT(sd_xyz_read_all(p, &fr, &nf, &e) == SD_OK, "%s", e.msg);
    EXPECT(nf == 2, "ase.extxyz: %lld frames", (long long)nf);
    if (nf >= 1) {
        sd_atoms_t *a = fr[0];
        sd_npy_t pos, frc, ene, cell, pbc, num;
        if (!load(dir, "ase_pos.npy", &pos)) {
            EXPECT(pos.count == 3 * a->n && !memcmp(pos.data, a->pos, (size_t)pos.count * 8), "positions differ");
            sd_npy_free(&pos);
        }
        const sd_prop_t *fp = sd_atoms_get_prop(a, "forces");
        EXPECT(fp && fp->kind == SD_PROP_REAL && fp->ncols == 3, "no forces R:3 property");
        if (fp && !load(dir, "ase_forces.npy", &frc)) {
            EXPECT(frc.count == 3 * a->n && !memcmp(frc.data, fp->real, (size_t)frc.count * 8), "forces differ");
            sd_npy_free(&frc);
        }
        const sd_prop_t *ep = sd_atoms_get_prop(a, "energies");
        EXPECT(ep && ep->kind == SD_PROP_REAL && ep->ncols == 1, "no energies R:1 property");
        if (ep && !load(dir, "ase_energies.npy", &ene)) {
            EXPECT(ene.count == a->n && !memcmp(ene.data, ep->real, (size_t)ene.count * 8), "energies differ");
            sd_npy_free(&ene);
        }
        if (!load(dir, "ase_cell.npy", &cell)) {
            EXPECT(a->has_cell && cell.count == 9 && !memcmp(cell.data, a->cell, 72), "cell differs");
            sd_npy_free(&cell);
        }
        if (!load(dir, "ase_pbc.npy", &pbc)) {
            const uint8_t *b = pbc.data;
            EXPECT(pbc.count == 3 && b[0] == a->pbc[0] && b[1] == a->pbc[1] && b[2] == a->pbc[2], "pbc differs");
            sd_npy_free(&pbc);
        }
        if (!load(dir, "ase_numbers.npy", &num)) {
            int ok = num.count == a->n;
            for (int64_t i = 0; ok && i < a->n; i++)
                ok = sd_element_number(a->species[a->type[i]]) == ((int64_t *)num.data)[i];
            EXPECT(ok, "species differ");
            sd_npy_free(&num);
        }
        const char *lab = sd_atoms_get_info(a, "label");
        EXPECT(lab && !strcmp(lab, "hello world"), "info label = %s", lab ? lab : "(missing)");
        const char *st = sd_atoms_get_info(a, "step");
        EXPECT(st && !strcmp(st, "7"), "info step = %s", st ? st : "(missing)");
    }
    if (nf == 2)
        EXPECT(fr[1]->n == 2 && !fr[1]->has_cell, "frame 2: n %lld", (long long)fr[1]->n);
    sd_xyz_frames_free(&fr, nf);
    return fails ? 1 : 0;
}

/* LAMMPS: a two-species frame with velocities; LAMMPS reads it and writes it back. */
static sd_atoms_t *lmp_frame(void)
{
    sd_atoms_t *a = sd_atoms_new(6, "Au");
    int pt = sd_atoms_species_index(a, "Pt");
    sd_prop_t *v = sd_atoms_add_prop(a, "velo", SD_PROP_REAL, 3);
    for (int i = 0; i < 6; i++) {
        a->type[i] = i % 3 == 2 ? pt : 0;
        for (int k = 0; k < 3; k++) {
            a->pos[3 * i + k] = 2.88 * i / 3.0 + 1.1 * k - 4.0 / 7.0;
            v->real[3 * i + k] = 0.1 * (i - k) + 1.0 / 3.0;
        }
    }
    return a;
}

static int do_write_lmp(const char *dir)
{
    char p[4096];
    sd_err_t e = {0};
    sd_atoms_t *a = lmp_frame();
    snprintf(p, sizeof p, "%s/ours.data", dir);
    EXPECT(sd_lmpdata_write(p, a, 5.0, &e) == SD_OK, "%s", e.msg);
    sd_atoms_destroy(&a);
    return fails ? 1 : 0;
}

static int do_read_lmp(const char *dir)
{
    char p[4096];
    sd_err_t e = {0};
    sd_atoms_t *want = lmp_frame(), *got = NULL;
    snprintf(p, sizeof p, "%s/lammps_out.data", dir);
    EXPECT(sd_lmpdata_read(p, &got, &e) == SD_OK, "%s", e.msg);
    if (got) {
        EXPECT(got->n == 6 && !memcmp(got->pos, want->pos, sizeof(double) * 18), "positions differ after LAMMPS");
        int ok = got->n == 6;
        for (int i = 0; ok && i < 6; i++)
            ok = !strcmp(got->species[got->type[i]], want->species[want->type[i]]);
        EXPECT(ok, "species differ after LAMMPS");
        const sd_prop_t *v = sd_atoms_get_prop(got, "velo");
        EXPECT(v && !memcmp(v->real, sd_atoms_get_prop(want, "velo")->real, sizeof(double) * 18),
               "velocities differ after LAMMPS");
    }
    sd_atoms_destroy(&got);
    sd_atoms_destroy(&want);
    return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s write|read DIR\n", argv[0]);
        return 2;
    }
    if (!strcmp(argv[1], "write"))
        return do_write(argv[2]);
    if (!strcmp(argv[1], "read"))
        return do_read(argv[2]);
    if (!strcmp(argv[1], "write_lmp"))
        return do_write_lmp(argv[2]);
    if (!strcmp(argv[1], "read_lmp"))
        return do_read_lmp(argv[2]);
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
}
