/* sd_atoms: ownership, properties, info, validation, periodic table and
 * format sniffing in sd_atoms_read_any. */
#include "sd_atoms.h"
#include "sdtest.h"

#include <stdint.h>
#include <unistd.h>

static void test_lifecycle(sdt_t *t)
{
    CHECK(t, sd_atoms_new(-1, NULL) == NULL);
    CHECK(t, sd_atoms_new(SD_ATOMS_MAX_N + 1, NULL) == NULL);
    sd_atoms_t *a = sd_atoms_new(5, "Au");
    CHECK(t, a && a->n == 5 && a->nspecies == 1 && a->type[4] == 0 && a->pos[14] == 0.0);
    CHECK_EQ_INT(t, sd_atoms_species_index(a, "Pt"), 1);
    CHECK_EQ_INT(t, sd_atoms_species_index(a, "Au"), 0);
    CHECK_EQ_INT(t, sd_atoms_species_index(a, "TooLongName"), -1);
    for (int i = 2; i < SD_ATOMS_MAX_SPECIES; i++) {
        char s[8];
        snprintf(s, sizeof s, "E%d", i);
        CHECK_EQ_INT(t, sd_atoms_species_index(a, s), i);
    }
    CHECK_EQ_INT(t, sd_atoms_species_index(a, "Full"), -1);

    sd_prop_t *f = sd_atoms_add_prop(a, "forces", SD_PROP_REAL, 3);
    CHECK(t, f && f->ncols == 3 && f->real && !f->ints);
    f->real[14] = 2.5;
    CHECK(t, sd_atoms_add_prop(a, "pos", SD_PROP_REAL, 3) == NULL);
    CHECK(t, sd_atoms_add_prop(a, "species", SD_PROP_INT, 1) == NULL);
    CHECK(t, sd_atoms_add_prop(a, "x", SD_PROP_REAL, 0) == NULL);
    CHECK(t, sd_atoms_add_prop(a, "x", SD_PROP_REAL, 10) == NULL);
    sd_prop_t *g = sd_atoms_add_prop(a, "tags", SD_PROP_INT, 1);
    CHECK(t, g && g->ints && !g->real);
    g->ints[3] = -7;
    /* replacing keeps the slot count */
    CHECK(t, sd_atoms_add_prop(a, "tags", SD_PROP_INT, 2) != NULL);
    CHECK_EQ_INT(t, a->nprops, 2);
    CHECK_EQ_INT(t, sd_atoms_get_prop(a, "tags")->ncols, 2);
    CHECK(t, sd_atoms_get_prop(a, "nope") == NULL);

    sd_err_t e = {0};
    CHECK_EQ_INT(t, sd_atoms_set_info(a, "energy", "-1.5", &e), SD_OK);
    CHECK_EQ_INT(t, sd_atoms_set_info(a, "energy", "-2.5", &e), SD_OK);
    CHECK_EQ_INT(t, a->ninfo, 1);
    CHECK(t, !strcmp(sd_atoms_get_info(a, "energy"), "-2.5"));
    CHECK(t, sd_atoms_get_info(a, "missing") == NULL);
    CHECK_EQ_INT(t, sd_atoms_set_info(a, "", "x", &e), SD_EINVAL);
    for (int i = 1; i < SD_ATOMS_MAX_INFO; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        CHECK_EQ_INT(t, sd_atoms_set_info(a, k, "v", &e), SD_OK);
    }
    CHECK_EQ_INT(t, sd_atoms_set_info(a, "one_too_many", "v", &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "one_too_many");

    a->has_cell = 1;
    a->cell[0] = 3;
    a->pos[7] = 1.25;
    sd_atoms_t *c = sd_atoms_clone(a);
    CHECK(t, c && c != a && c->pos != a->pos && c->pos[7] == 1.25 && c->cell[0] == 3 && c->nspecies == a->nspecies);
    CHECK(t, c && sd_atoms_get_prop(c, "forces")->real[14] == 2.5 && sd_atoms_get_prop(c, "forces")->real != f->real);
    CHECK(t, c && c->ninfo == a->ninfo && !strcmp(sd_atoms_get_info(c, "energy"), "-2.5"));
    sd_atoms_destroy(&c);
    CHECK(t, c == NULL);
    sd_atoms_destroy(&a);
    sd_atoms_destroy(&a); /* NULL-safe */
    sd_atoms_t *z = sd_atoms_new(0, NULL);
    CHECK(t, z && z->n == 0);
    sd_atoms_t *zc = sd_atoms_clone(z);
    CHECK(t, zc && zc->n == 0);
    CHECK(t, sd_atoms_add_prop(z, "q", SD_PROP_REAL, 1) != NULL);
    sd_atoms_destroy(&zc);
    sd_atoms_destroy(&z);
}

static void test_validate(sdt_t *t)
{
    sd_err_t e = {0};
    sd_atoms_t *a = sd_atoms_new(3, "Au");
    CHECK_EQ_INT(t, sd_atoms_validate(a, &e), SD_OK);
    a->pos[5] = INFINITY;
    CHECK_EQ_INT(t, sd_atoms_validate(a, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "atom 1: non-finite coordinate z");
    a->pos[5] = 0;
    a->type[2] = 4;
    CHECK_EQ_INT(t, sd_atoms_validate(a, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "atom 2: species index 4");
    a->type[2] = 0;
    a->has_cell = 1;
    a->cell[4] = NAN;
    CHECK_EQ_INT(t, sd_atoms_validate(a, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "cell");
    sd_atoms_destroy(&a);
    CHECK_EQ_INT(t, sd_atoms_validate(NULL, &e), SD_EINVAL);
}

static void test_elements(sdt_t *t)
{
    CHECK_NEAR(t, sd_element_mass("Au"), 196.966569, 1e-9);
    CHECK_NEAR(t, sd_element_mass("H"), 1.008, 1e-9);
    CHECK(t, sd_element_mass("Qq") == 0.0);
    CHECK_EQ_INT(t, sd_element_number("Pt"), 78);
    CHECK_EQ_INT(t, sd_element_number("Cm"), 96);
    CHECK(t, !strcmp(sd_element_symbol(79), "Au") && !strcmp(sd_element_symbol(1), "H"));
    CHECK(t, sd_element_symbol(0) == NULL && sd_element_symbol(97) == NULL);
    /* masses as LAMMPS files write them */
    CHECK(t, !strcmp(sd_element_by_mass(196.96655), "Au"));
    CHECK(t, !strcmp(sd_element_by_mass(196.96657), "Au"));
    CHECK(t, !strcmp(sd_element_by_mass(195.084), "Pt"));
    CHECK(t, !strcmp(sd_element_by_mass(192.217), "Ir"));
    CHECK(t, !strcmp(sd_element_by_mass(107.8682), "Ag"));
    CHECK(t, !strcmp(sd_element_by_mass(63.546), "Cu"));
    CHECK(t, sd_element_by_mass(40.0) == NULL); /* between Ar and Ca: ambiguous */
    CHECK(t, sd_element_by_mass(-1) == NULL && sd_element_by_mass(NAN) == NULL);
    /* every symbol maps back to its number and mass */
    for (int z = 1; z <= 96; z++) {
        const char *s = sd_element_symbol(z);
        CHECK_MSG(t, s && sd_element_number(s) == z && sd_element_mass(s) > 0, "Z=%d", z);
    }
}

static void test_read_any_sniff(sdt_t *t)
{
    char xyz[128], dat[128];
    snprintf(xyz, sizeof xyz, "/tmp/sdtest_atoms_%d_noext", (int)getpid());
    snprintf(dat, sizeof dat, "/tmp/sdtest_atoms_%d_noext2", (int)getpid());
    FILE *f = fopen(xyz, "w");
    fputs("  2 \ncomment\nAu 0 0 0\nAu 0 0 2.5\n", f);
    fclose(f);
    f = fopen(dat, "w");
    fputs("LAMMPS data\n\n2 atoms\n1 atom types\n-5 5 xlo xhi\n-5 5 ylo yhi\n-5 5 zlo zhi\n\nMasses\n\n1 195.084\n\n"
          "Atoms # atomic\n\n2 1 0 0 2.5\n1 1 0 0 0\n", f);
    fclose(f);
    sd_err_t e = {0};
    sd_atoms_t *a = NULL;
    CHECK_EQ_INT(t, sd_atoms_read_any(xyz, &a, &e), SD_OK);
    CHECK(t, a && a->n == 2 && a->pos[5] == 2.5 && !strcmp(a->species[0], "Au"));
    sd_atoms_destroy(&a);
    CHECK_EQ_INT(t, sd_atoms_read_any(dat, &a, &e), SD_OK);
    CHECK(t, a && a->n == 2 && a->pos[5] == 2.5 && a->pos[2] == 0 && !strcmp(a->species[0], "Pt"));
    sd_atoms_destroy(&a);
    unlink(xyz);
    unlink(dat);
    CHECK_EQ_INT(t, sd_atoms_read_any("/nonexistent/file", &a, &e), SD_ENOTFOUND);
    CHECK_STR_CONTAINS(t, e.msg, "/nonexistent/file");
    f = fopen(xyz, "w");
    fclose(f);
    CHECK_EQ_INT(t, sd_atoms_read_any(xyz, &a, &e), SD_EFORMAT); /* empty: sniffed as LAMMPS data */
    CHECK_STR_CONTAINS(t, e.msg, "empty file");
    unlink(xyz);
}

SDT_MAIN(SDT_CASE(test_lifecycle), SDT_CASE(test_validate), SDT_CASE(test_elements), SDT_CASE(test_read_any_sniff))
