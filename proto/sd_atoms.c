#include "sd_atoms.h"

#include "sd_lmpdata.h"
#include "sd_xyz.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Standard atomic weights (IUPAC conventional values, u), Z = 1..96. */
static const struct {
    const char *sym;
    double mass;
} k_elements[] = {
    {"X", 0.0},        {"H", 1.008},       {"He", 4.002602},  {"Li", 6.94},      {"Be", 9.0121831},
    {"B", 10.81},      {"C", 12.011},      {"N", 14.007},     {"O", 15.999},     {"F", 18.998403163},
    {"Ne", 20.1797},   {"Na", 22.98976928}, {"Mg", 24.305},   {"Al", 26.9815385}, {"Si", 28.085},
    {"P", 30.973761998}, {"S", 32.06},     {"Cl", 35.45},     {"Ar", 39.948},    {"K", 39.0983},
    {"Ca", 40.078},    {"Sc", 44.955908},  {"Ti", 47.867},    {"V", 50.9415},    {"Cr", 51.9961},
    {"Mn", 54.938044}, {"Fe", 55.845},     {"Co", 58.933194}, {"Ni", 58.6934},   {"Cu", 63.546},
    {"Zn", 65.38},     {"Ga", 69.723},     {"Ge", 72.630},    {"As", 74.921595}, {"Se", 78.971},
    {"Br", 79.904},    {"Kr", 83.798},     {"Rb", 85.4678},   {"Sr", 87.62},     {"Y", 88.90584},
    {"Zr", 91.224},    {"Nb", 92.90637},   {"Mo", 95.95},     {"Tc", 97.90721},  {"Ru", 101.07},
    {"Rh", 102.90550}, {"Pd", 106.42},     {"Ag", 107.8682},  {"Cd", 112.414},   {"In", 114.818},
    {"Sn", 118.710},   {"Sb", 121.760},    {"Te", 127.60},    {"I", 126.90447},  {"Xe", 131.293},
    {"Cs", 132.90545196}, {"Ba", 137.327}, {"La", 138.90547}, {"Ce", 140.116},   {"Pr", 140.90766},
    {"Nd", 144.242},   {"Pm", 144.91276},  {"Sm", 150.36},    {"Eu", 151.964},   {"Gd", 157.25},
    {"Tb", 158.92535}, {"Dy", 162.500},    {"Ho", 164.93033}, {"Er", 167.259},   {"Tm", 168.93422},
    {"Yb", 173.045},   {"Lu", 174.9668},   {"Hf", 178.49},    {"Ta", 180.94788}, {"W", 183.84},
    {"Re", 186.207},   {"Os", 190.23},     {"Ir", 192.217},   {"Pt", 195.084},   {"Au", 196.966569},
    {"Hg", 200.592},   {"Tl", 204.38},     {"Pb", 207.2},     {"Bi", 208.98040}, {"Po", 208.98243},
    {"At", 209.98715}, {"Rn", 222.01758},  {"Fr", 223.01974}, {"Ra", 226.02541}, {"Ac", 227.02775},
    {"Th", 232.0377},  {"Pa", 231.03588},  {"U", 238.02891},  {"Np", 237.04817}, {"Pu", 244.06421},
    {"Am", 243.06138}, {"Cm", 247.07035},
};
#define NELEM ((int)(sizeof k_elements / sizeof k_elements[0]))

double sd_element_mass(const char *symbol)
{
    if (!symbol)
        return 0.0;
    for (int z = 1; z < NELEM; z++)
        if (!strcmp(k_elements[z].sym, symbol))
            return k_elements[z].mass;
    return 0.0;
}

int sd_element_number(const char *symbol)
{
    if (!symbol)
        return 0;
    for (int z = 1; z < NELEM; z++)
        if (!strcmp(k_elements[z].sym, symbol))
            return z;
    return 0;
}

const char *sd_element_symbol(int z)
{
    return (z >= 1 && z < NELEM) ? k_elements[z].sym : NULL;
}

const char *sd_element_by_mass(double mass)
{
    if (!(mass > 0.0) || !isfinite(mass))
        return NULL;
    int best = 0;
    double bd = 1e300;
    for (int z = 1; z < NELEM; z++) {
        double d = fabs(k_elements[z].mass - mass);
        if (d < bd) {
            bd = d;
            best = z;
        }
    }
    /* Ar/Ca and Co/Ni differ by ~0.1-0.2 u: a tight window keeps the match honest. */
    return bd <= 0.05 ? k_elements[best].sym : NULL;
}

sd_atoms_t *sd_atoms_new(int64_t n, const char *element)
{
    if (n < 0 || n > SD_ATOMS_MAX_N)
        return NULL;
    sd_atoms_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->n = n;
    size_t m = n > 0 ? (size_t)n : 1;
    a->pos = calloc(3 * m, sizeof *a->pos);
    a->type = calloc(m, sizeof *a->type);
    if (!a->pos || !a->type) {
        sd_atoms_destroy(&a);
        return NULL;
    }
    if (element && sd_atoms_species_index(a, element) < 0) {
        sd_atoms_destroy(&a);
        return NULL;
    }
    return a;
}

void sd_atoms_destroy(sd_atoms_t **p)
{
    if (!p || !*p)
        return;
    sd_atoms_t *a = *p;
    free(a->pos);
    free(a->type);
    for (int i = 0; i < a->nprops; i++) {
        free(a->props[i].real);
        free(a->props[i].ints);
    }
    for (int i = 0; i < a->ninfo; i++)
        free(a->info_val[i]);
    free(a);
    *p = NULL;
}

sd_atoms_t *sd_atoms_clone(const sd_atoms_t *a)
{
    if (!a)
        return NULL;
    sd_atoms_t *c = sd_atoms_new(a->n, NULL);
    if (!c)
        return NULL;
    size_t m = a->n > 0 ? (size_t)a->n : 0;
    if (m) {
        memcpy(c->pos, a->pos, 3 * m * sizeof *a->pos);
        memcpy(c->type, a->type, m * sizeof *a->type);
    }
    c->nspecies = a->nspecies;
    memcpy(c->species, a->species, sizeof c->species);
    c->has_cell = a->has_cell;
    memcpy(c->cell, a->cell, sizeof c->cell);
    memcpy(c->pbc, a->pbc, sizeof c->pbc);
    for (int i = 0; i < a->nprops; i++) {
        const sd_prop_t *s = &a->props[i];
        sd_prop_t *d = sd_atoms_add_prop(c, s->name, s->kind, s->ncols);
        if (!d) {
            sd_atoms_destroy(&c);
            return NULL;
        }
        if (m && s->kind == SD_PROP_REAL)
            memcpy(d->real, s->real, m * (size_t)s->ncols * sizeof *s->real);
        else if (m)
            memcpy(d->ints, s->ints, m * (size_t)s->ncols * sizeof *s->ints);
    }
    for (int i = 0; i < a->ninfo; i++)
        if (sd_atoms_set_info(c, a->info_key[i], a->info_val[i], NULL) != SD_OK) {
            sd_atoms_destroy(&c);
            return NULL;
        }
    return c;
}

int sd_atoms_species_index(sd_atoms_t *a, const char *element)
{
    if (!a || !element || !element[0] || strlen(element) >= sizeof a->species[0])
        return -1;
    for (int i = 0; i < a->nspecies; i++)
        if (!strcmp(a->species[i], element))
            return i;
    if (a->nspecies >= SD_ATOMS_MAX_SPECIES)
        return -1;
    snprintf(a->species[a->nspecies], sizeof a->species[0], "%s", element);
    return a->nspecies++;
}

sd_prop_t *sd_atoms_add_prop(sd_atoms_t *a, const char *name, sd_prop_kind_t kind, int ncols)
{
    if (!a || !name || !name[0] || strlen(name) >= sizeof a->props[0].name || ncols < 1 || ncols > 9 ||
        (kind != SD_PROP_REAL && kind != SD_PROP_INT) || !strcmp(name, "pos") || !strcmp(name, "species"))
        return NULL;
    size_t m = a->n > 0 ? (size_t)a->n : 1;
    double *real = NULL;
    int64_t *ints = NULL;
    if (kind == SD_PROP_REAL)
        real = calloc(m * (size_t)ncols, sizeof *real);
    else
        ints = calloc(m * (size_t)ncols, sizeof *ints);
    if (!real && !ints)
        return NULL;
    sd_prop_t *p = NULL;
    for (int i = 0; i < a->nprops; i++)
        if (!strcmp(a->props[i].name, name))
            p = &a->props[i];
    if (p) {
        free(p->real);
        free(p->ints);
    } else {
        if (a->nprops >= SD_ATOMS_MAX_PROPS) {
            free(real);
            free(ints);
            return NULL;
        }
        p = &a->props[a->nprops++];
        snprintf(p->name, sizeof p->name, "%s", name);
    }
    p->kind = kind;
    p->ncols = ncols;
    p->real = real;
    p->ints = ints;
    return p;
}

const sd_prop_t *sd_atoms_get_prop(const sd_atoms_t *a, const char *name)
{
    if (!a || !name)
        return NULL;
    for (int i = 0; i < a->nprops; i++)
        if (!strcmp(a->props[i].name, name))
            return &a->props[i];
    return NULL;
}

int sd_atoms_set_info(sd_atoms_t *a, const char *key, const char *value, sd_err_t *e)
{
    if (!a || !key || !value)
        return sd_err_set(e, SD_EINVAL, "sd_atoms_set_info: NULL argument");
    if (!key[0] || strlen(key) >= sizeof a->info_key[0])
        return sd_err_set(e, SD_EINVAL, "info key '%.80s' is empty or longer than %zu characters", key,
                          sizeof a->info_key[0] - 1);
    char *v = strdup(value);
    if (!v)
        return sd_err_set(e, SD_ENOMEM, "out of memory storing info '%s'", key);
    for (int i = 0; i < a->ninfo; i++)
        if (!strcmp(a->info_key[i], key)) {
            free(a->info_val[i]);
            a->info_val[i] = v;
            return SD_OK;
        }
    if (a->ninfo >= SD_ATOMS_MAX_INFO) {
        free(v);
        return sd_err_set(e, SD_ERANGE, "more than %d info keys (at '%s')", SD_ATOMS_MAX_INFO, key);
    }
    snprintf(a->info_key[a->ninfo], sizeof a->info_key[0], "%s", key);
    a->info_val[a->ninfo++] = v;
    return SD_OK;
}

const char *sd_atoms_get_info(const sd_atoms_t *a, const char *key)
{
    if (!a || !key)
        return NULL;
    for (int i = 0; i < a->ninfo; i++)
        if (!strcmp(a->info_key[i], key))
            return a->info_val[i];
    return NULL;
}

int sd_atoms_validate(const sd_atoms_t *a, sd_err_t *e)
{
    if (!a)
        return sd_err_set(e, SD_EINVAL, "no atoms (NULL frame)");
    if (a->n < 0 || a->n > SD_ATOMS_MAX_N)
        return sd_err_set(e, SD_ERANGE, "atom count %lld out of range", (long long)a->n);
    for (int64_t i = 0; i < a->n; i++) {
        for (int k = 0; k < 3; k++)
            if (!isfinite(a->pos[3 * i + k]))
                return sd_err_set(e, SD_ERANGE, "atom %lld: non-finite coordinate %c", (long long)i, "xyz"[k]);
        if (a->type[i] < 0 || a->type[i] >= (a->nspecies > 0 ? a->nspecies : 1))
            return sd_err_set(e, SD_ERANGE, "atom %lld: species index %d out of range (%d species)",
                              (long long)i, (int)a->type[i], a->nspecies);
    }
    if (a->has_cell)
        for (int k = 0; k < 9; k++)
            if (!isfinite(a->cell[k]))
                return sd_err_set(e, SD_ERANGE, "non-finite cell component %d", k);
    return SD_OK;
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcasecmp(s + n - m, suf);
}

int sd_atoms_read_any(const char *path, sd_atoms_t **out, sd_err_t *e)
{
    if (!path || !out)
        return sd_err_set(e, SD_EINVAL, "sd_atoms_read_any: NULL argument");
    *out = NULL;
    int is_xyz = -1;
    if (ends_with(path, ".xyz") || ends_with(path, ".extxyz"))
        is_xyz = 1;
    else if (ends_with(path, ".data") || ends_with(path, ".lmp"))
        is_xyz = 0;
    else {
        /* Sniff: an xyz file starts with a line holding only the atom count. */
        FILE *f = fopen(path, "rb");
        if (!f)
            return sd_err_set(e, errno == ENOENT ? SD_ENOTFOUND : SD_EIO, "%s: cannot open: %s", path,
                              strerror(errno));
        char line[256];
        is_xyz = 0;
        if (fgets(line, sizeof line, f)) {
            char *p = line;
            while (isspace((unsigned char)*p))
                p++;
            int digits = 0;
            while (isdigit((unsigned char)*p)) {
                p++;
                digits++;
            }
            while (isspace((unsigned char)*p))
                p++;
            is_xyz = digits > 0 && *p == '\0';
        }
        fclose(f);
    }
    if (!is_xyz)
        return sd_lmpdata_read(path, out, e);
    sd_xyz_reader_t *r = sd_xyz_reader_new(path, e);
    if (!r)
        return e ? e->code : SD_EIO;
    int rc = sd_xyz_reader_next(r, out, e);
    sd_xyz_reader_destroy(&r);
    if (rc == 0)
        return sd_err_set(e, SD_EFORMAT, "%s: no frame (empty file)", path);
    return rc < 0 ? rc : SD_OK;
}
