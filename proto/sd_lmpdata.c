#include "sd_lmpdata.h"

#include "sd_textio.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TYPES 1000
#define MIN_ATOM_LINE 10 /* "1 1 0 0 0\n" */
#define MAX_FILE_BYTES (16LL << 30)

typedef struct lmp_atom {
    int64_t id;
    int32_t type;
    double x[3];
    int64_t img[3];
} lmp_atom_t;

static int cmp_atom(const void *pa, const void *pb)
{
    const lmp_atom_t *a = pa, *b = pb;
    return (a->id > b->id) - (a->id < b->id);
}

/* Splits in place on whitespace; text after '#' goes to *comment (or is dropped). */
static int tokenize(char *s, char **tok, int max, char **comment)
{
    char *h = strchr(s, '#');
    if (comment)
        *comment = NULL;
    if (h) {
        *h = '\0';
        if (comment) {
            h++;
            while (isspace((unsigned char)*h))
                h++;
            *comment = h;
        }
    }
    return sd_split_ws(s, tok, max);
}

static int is_body_line(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return *s && (isdigit((unsigned char)*s) || *s == '-' || *s == '+' || *s == '.');
}

static int is_blank_or_comment(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return *s == '\0' || *s == '#';
}

static int64_t find_id(const lmp_atom_t *at, int64_t n, int64_t id)
{
    int64_t lo = 0, hi = n - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (at[mid].id == id)
            return mid;
        if (at[mid].id < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

enum section { SEC_NONE, SEC_MASSES, SEC_ATOMS, SEC_VELOCITIES, SEC_OTHER };

int sd_lmpdata_read_mem(const void *buf, size_t len, const char *name, sd_atoms_t **out, sd_err_t *e)
{
    if (!out)
        return sd_err_set(e, SD_EINVAL, "sd_lmpdata_read: NULL argument");
    *out = NULL;
    const char *nm = name ? name : "(memory)";
    sd_linesrc_t s;
    sd_linesrc_open_mem(&s, buf, len);
    int rc = sd_linesrc_next(&s, nm, e); /* title line */
    if (rc <= 0) {
        sd_linesrc_close(&s);
        return rc < 0 ? rc : sd_err_set(e, SD_EFORMAT, "%s: empty file", nm);
    }
    int64_t natoms = -1, ntypes = -1;
    double lo[3] = {-0.5, -0.5, -0.5}, hi[3] = {0.5, 0.5, 0.5}, tilt[3] = {0, 0, 0};
    double *mass = NULL;
    char (*mass_el)[8] = NULL;
    lmp_atom_t *at = NULL;
    double *velo = NULL;
    int64_t nat_read = 0, nvel_read = 0, nmass_read = 0;
    int have_atoms = 0, have_vel = 0, have_masses = 0;
    enum section sec = SEC_NONE;
    long sec_line = 0;
    char *tok[16];
    sd_atoms_t *a = NULL;
    rc = SD_OK;

    while ((rc = sd_linesrc_next(&s, nm, e)) > 0) {
        char *line = s.line;
        long ln = s.lineno;
        rc = SD_OK;
        if (is_blank_or_comment(line))
            continue;
        if (!is_body_line(line)) {
            /* a section keyword */
            char *cmt;
            int nt = tokenize(line, tok, 15, &cmt);
            if (nt > 15)
                nt = 15; /* tokenize only fills 15; the keyword check below fails on such lines anyway */
            char kw[64] = "";
            for (int i = 0; i < nt && i < 15; i++) {
                size_t u = strlen(kw);
                snprintf(kw + u, sizeof kw - u, "%s%s", i ? " " : "", tok[i]);
            }
            sec_line = ln;
            if (sec == SEC_NONE && (natoms < 0))
                rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: section '%s' before the 'atoms' header line", nm, ln, kw);
            else if (!strcmp(kw, "Masses")) {
                if (have_masses)
                    rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: second Masses section", nm, ln);
                sec = SEC_MASSES;
                have_masses = 1;
            } else if (!strcmp(kw, "Atoms")) {
                if (cmt && *cmt) {
                    char style[32];
                    if (sscanf(cmt, "%31s", style) == 1 && strcmp(style, "atomic"))
                        rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: atom_style '%s' not supported (only atomic)",
                                        nm, ln, style);
                }
                if (have_atoms)
                    rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: second Atoms section", nm, ln);
                sec = SEC_ATOMS;
                have_atoms = 1;
            } else if (!strcmp(kw, "Velocities")) {
                if (have_vel)
                    rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: second Velocities section", nm, ln);
                sec = SEC_VELOCITIES;
                have_vel = 1;
            } else if (!strcmp(kw, "Bonds") || !strcmp(kw, "Angles") || !strcmp(kw, "Dihedrals") ||
                       !strcmp(kw, "Impropers") || !strcmp(kw, "Ellipsoids") || !strcmp(kw, "Lines") ||
                       !strcmp(kw, "Triangles") || !strcmp(kw, "Bodies")) {
                rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: section '%s' not supported (atom_style atomic only)",
                                nm, ln, kw);
            } else if (nt >= 2 && !strcmp(tok[nt - 1], "Coeffs")) {
                sec = SEC_OTHER; /* Pair Coeffs etc.: not needed to build the atoms */
            } else {
                rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: unknown section '%s'", nm, ln, kw);
            }
            if (rc)
                break;
            if (sec == SEC_ATOMS || sec == SEC_VELOCITIES) {
                if (natoms < 0) {
                    rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: no 'atoms' header line", nm, ln);
                    break;
                }
            }
            continue;
        }
        if (sec == SEC_NONE) {
            /* header */
            int nt = tokenize(line, tok, 15, NULL);
            int64_t iv;
            double d[3];
            if (nt == 2 && !strcmp(tok[1], "atoms")) {
                if (sd_parse_i64(tok[0], &iv) || iv < 0) {
                    rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: bad atom count '%.40s'", nm, ln, tok[0]);
                    break;
                }
                if (iv > SD_ATOMS_MAX_N || iv > (int64_t)(len / MIN_ATOM_LINE)) {
                    rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: atom count %lld is more than the file can hold", nm,
                                    ln, (long long)iv);
                    break;
                }
                natoms = iv;
            } else if (nt == 3 && !strcmp(tok[1], "atom") && !strcmp(tok[2], "types")) {
                if (sd_parse_i64(tok[0], &iv) || iv < 1 || iv > MAX_TYPES) {
                    rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: atom types '%.40s' not in 1..%d", nm, ln, tok[0],
                                    MAX_TYPES);
                    break;
                }
                ntypes = iv;
            } else if (nt == 4 && tok[3][1] == 'h' && tok[3][2] == 'i' && !tok[3][3] && tok[2][1] == 'l' &&
                       tok[2][2] == 'o' && !tok[2][3] && tok[2][0] == tok[3][0] && tok[2][0] >= 'x' &&
                       tok[2][0] <= 'z') {
                int k = tok[2][0] - 'x';
                if (sd_parse_f64(tok[0], &d[0]) || sd_parse_f64(tok[1], &d[1]) || !(d[1] > d[0])) {
                    rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: bad %s %s bounds", nm, ln, tok[2], tok[3]);
                    break;
                }
                lo[k] = d[0];
                hi[k] = d[1];
            } else if (nt == 6 && !strcmp(tok[3], "xy") && !strcmp(tok[4], "xz") && !strcmp(tok[5], "yz")) {
                for (int k = 0; k < 3; k++)
                    if (sd_parse_f64(tok[k], &tilt[k])) {
                        rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: bad tilt factor '%.40s'", nm, ln, tok[k]);
                        break;
                    }
                if (rc)
                    break;
            } else if (nt >= 2 && !sd_parse_i64(tok[0], &iv) && isalpha((unsigned char)tok[1][0])) {
                /* bonds, angles, "extra bond per atom" …: must be zero for atomic style */
                if (iv != 0 && (!strcmp(tok[1], "bonds") || !strcmp(tok[1], "angles") ||
                                !strcmp(tok[1], "dihedrals") || !strcmp(tok[1], "impropers"))) {
                    rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: %lld %s: not supported (atom_style atomic only)",
                                    nm, ln, (long long)iv, tok[1]);
                    break;
                }
            } else {
                rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: unrecognised header line", nm, ln);
                break;
            }
            continue;
        }
        if (ntypes < 0)
            ntypes = 1; /* LAMMPS itself requires "atom types"; tolerate files with one type */
        if (sec == SEC_MASSES) {
            if (!mass) {
                mass = calloc((size_t)ntypes + 1, sizeof *mass);
                mass_el = calloc((size_t)ntypes + 1, sizeof *mass_el);
                if (!mass || !mass_el) {
                    rc = sd_err_set(e, SD_ENOMEM, "%s: out of memory", nm);
                    break;
                }
            }
            char *cmt;
            int nt = tokenize(line, tok, 15, &cmt);
            int64_t t;
            double m;
            if (nt != 2 || sd_parse_i64(tok[0], &t) || t < 1 || t > ntypes || sd_parse_f64(tok[1], &m) || !(m > 0)) {
                rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: Masses line must be 'type mass' with type in 1..%lld and mass > 0",
                                nm, ln, (long long)ntypes);
                break;
            }
            mass[t] = m;
            nmass_read++;
            char sym[8] = "";
            if (cmt && sscanf(cmt, "%7s", sym) == 1 && sd_element_mass(sym) > 0)
                snprintf(mass_el[t], sizeof mass_el[t], "%s", sym);
            continue;
        }
        if (sec == SEC_ATOMS) {
            if (!at) {
                at = calloc(natoms > 0 ? (size_t)natoms : 1, sizeof *at);
                if (!at) {
                    rc = sd_err_set(e, SD_ENOMEM, "%s: out of memory for %lld atoms", nm, (long long)natoms);
                    break;
                }
            }
            int nt = tokenize(line, tok, 15, NULL);
            if (nt != 5 && nt != 8) {
                rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: Atoms line has %d columns (atomic style: 5, or 8 with image flags)",
                                nm, ln, nt > 15 ? 16 : nt);
                break;
            }
            if (nat_read >= natoms) {
                rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: more Atoms lines than the %lld declared", nm, ln,
                                (long long)natoms);
                break;
            }
            lmp_atom_t *A = &at[nat_read];
            int64_t t;
            if (sd_parse_i64(tok[0], &A->id) || A->id < 1) {
                rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: bad atom id '%.40s'", nm, ln, tok[0]);
                break;
            }
            if (sd_parse_i64(tok[1], &t) || t < 1 || t > ntypes) {
                rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: atom type '%.40s' not in 1..%lld", nm, ln, tok[1],
                                (long long)ntypes);
                break;
            }
            A->type = (int32_t)t;
            for (int k = 0; k < 3 && !rc; k++)
                if (sd_parse_f64(tok[2 + k], &A->x[k]))
                    rc = sd_err_set(e, SD_ERANGE, "%s: line %ld: coordinate '%.40s' is not a finite number", nm, ln,
                                    tok[2 + k]);
            for (int k = 0; k < 3 && !rc && nt == 8; k++)
                if (sd_parse_i64(tok[5 + k], &A->img[k]) || llabs(A->img[k]) > 1000000)
                    rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: bad image flag '%.40s'", nm, ln, tok[5 + k]);
            if (rc)
                break;
            nat_read++;
            continue;
        }
        if (sec == SEC_VELOCITIES) {
            if (!have_atoms || nat_read != natoms) {
                rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: Velocities before a complete Atoms section", nm, ln);
                break;
            }
            if (!velo) {
                if (at && natoms > 0)
                    qsort(at, (size_t)natoms, sizeof *at, cmp_atom);
                velo = calloc(3 * (size_t)(natoms > 0 ? natoms : 1), sizeof *velo);
                if (!velo) {
                    rc = sd_err_set(e, SD_ENOMEM, "%s: out of memory", nm);
                    break;
                }
            }
            int nt = tokenize(line, tok, 15, NULL);
            int64_t id, idx;
            if (nt != 4 || sd_parse_i64(tok[0], &id) || (idx = find_id(at, natoms, id)) < 0) {
                rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: Velocities line must be 'id vx vy vz' with a known id",
                                nm, ln);
                break;
            }
            for (int k = 0; k < 3 && !rc; k++)
                if (sd_parse_f64(tok[1 + k], &velo[3 * idx + k]))
                    rc = sd_err_set(e, SD_ERANGE, "%s: line %ld: velocity '%.40s' is not a finite number", nm, ln,
                                    tok[1 + k]);
            if (rc)
                break;
            nvel_read++;
            continue;
        }
        /* SEC_OTHER: body lines of sections we do not need */
    }
    (void)sec_line;
    if (rc < 0)
        goto done;
    rc = SD_OK;
    if (natoms < 0) {
        rc = sd_err_set(e, SD_EFORMAT, "%s: no 'atoms' header line", nm);
        goto done;
    }
    if (natoms > 0 && !have_atoms) {
        rc = sd_err_set(e, SD_EFORMAT, "%s: no Atoms section (%lld atoms declared)", nm, (long long)natoms);
        goto done;
    }
    if (nat_read != natoms) {
        rc = sd_err_set(e, SD_EFORMAT, "%s: Atoms section has %lld lines, %lld atoms declared", nm,
                        (long long)nat_read, (long long)natoms);
        goto done;
    }
    if (have_vel && nvel_read != natoms) {
        rc = sd_err_set(e, SD_EFORMAT, "%s: Velocities section has %lld lines, %lld atoms declared", nm,
                        (long long)nvel_read, (long long)natoms);
        goto done;
    }
    if (ntypes < 0)
        ntypes = 1;
    if (!velo && at && natoms > 0)
        qsort(at, (size_t)natoms, sizeof *at, cmp_atom);
    int contiguous = 1;
    for (int64_t i = 0; i < natoms; i++) {
        if (i > 0 && at[i].id == at[i - 1].id) {
            rc = sd_err_set(e, SD_EFORMAT, "%s: duplicate atom id %lld", nm, (long long)at[i].id);
            goto done;
        }
        if (at[i].id != i + 1)
            contiguous = 0;
    }
    a = sd_atoms_new(natoms, NULL);
    if (!a) {
        rc = sd_err_set(e, SD_ENOMEM, "%s: out of memory for %lld atoms", nm, (long long)natoms);
        goto done;
    }
    int32_t type_species[MAX_TYPES + 1];
    for (int64_t t = 1; t <= ntypes; t++) {
        char sym[8];
        const char *el = NULL;
        if (mass_el && mass_el[t][0])
            el = mass_el[t];
        else if (mass && mass[t] > 0)
            el = sd_element_by_mass(mass[t]);
        if (el)
            snprintf(sym, sizeof sym, "%s", el);
        else
            snprintf(sym, sizeof sym, "X%d", (int)t);
        int si = sd_atoms_species_index(a, sym);
        if (si < 0) {
            rc = sd_err_set(e, SD_ERANGE, "%s: more than %d distinct species", nm, SD_ATOMS_MAX_SPECIES);
            goto done;
        }
        type_species[t] = si;
    }
    (void)nmass_read;
    a->has_cell = 1;
    a->cell[0] = hi[0] - lo[0];
    a->cell[3] = tilt[0];
    a->cell[4] = hi[1] - lo[1];
    a->cell[6] = tilt[1];
    a->cell[7] = tilt[2];
    a->cell[8] = hi[2] - lo[2];
    {
        char b[3][32], o[100];
        for (int k = 0; k < 3; k++)
            sd_fmt_f64(b[k], lo[k]);
        snprintf(o, sizeof o, "%s %s %s", b[0], b[1], b[2]);
        if ((rc = sd_atoms_set_info(a, "Origin", o, e)))
            goto done;
    }
    sd_prop_t *idp = NULL, *vp = NULL;
    if (!contiguous && !(idp = sd_atoms_add_prop(a, "id", SD_PROP_INT, 1))) {
        rc = sd_err_set(e, SD_ENOMEM, "%s: out of memory", nm);
        goto done;
    }
    if (have_vel && !(vp = sd_atoms_add_prop(a, "velo", SD_PROP_REAL, 3))) {
        rc = sd_err_set(e, SD_ENOMEM, "%s: out of memory", nm);
        goto done;
    }
    for (int64_t i = 0; i < natoms; i++) {
        const lmp_atom_t *A = &at[i];
        for (int k = 0; k < 3; k++) {
            /* unwrap: image flags count box vectors a, b, c */
            double x = A->x[k];
            for (int v = 0; v < 3; v++)
                x += (double)A->img[v] * a->cell[3 * v + k];
            a->pos[3 * i + k] = x;
        }
        a->type[i] = type_species[A->type];
        if (idp)
            idp->ints[i] = A->id;
        if (vp)
            memcpy(&vp->real[3 * i], &velo[3 * i], 3 * sizeof(double));
    }
    rc = SD_OK;
done:
    free(mass);
    free(mass_el);
    free(at);
    free(velo);
    sd_linesrc_close(&s);
    if (rc)
        sd_atoms_destroy(&a);
    *out = a;
    return rc;
}

int sd_lmpdata_read(const char *path, sd_atoms_t **out, sd_err_t *e)
{
    if (!path || !out)
        return sd_err_set(e, SD_EINVAL, "sd_lmpdata_read: NULL argument");
    *out = NULL;
    char *buf;
    size_t len;
    int rc = sd_read_file(path, MAX_FILE_BYTES, &buf, &len, e);
    if (rc)
        return rc;
    rc = sd_lmpdata_read_mem(buf, len, path, out, e);
    free(buf);
    return rc;
}

static int parse_origin(const char *s, double o[3])
{
    if (!s)
        return -1;
    char tmp[256], *tok[4];
    snprintf(tmp, sizeof tmp, "%s", s);
    if (tokenize(tmp, tok, 3, NULL) != 3)
        return -1;
    for (int k = 0; k < 3; k++)
        if (sd_parse_f64(tok[k], &o[k]))
            return -1;
    return 0;
}

int sd_lmpdata_write(const char *path, const sd_atoms_t *a, double pad, sd_err_t *e)
{
    if (!path || !a)
        return sd_err_set(e, SD_EINVAL, "sd_lmpdata_write: NULL argument");
    if (!(pad >= 0) || !isfinite(pad))
        return sd_err_set(e, SD_EINVAL, "%s: box padding %g must be >= 0", path, pad);
    int rc = sd_atoms_validate(a, e);
    if (rc)
        return sd_err_prefix(e, "%s", path);
    int ntypes = a->nspecies > 0 ? a->nspecies : 1;
    double masses[SD_ATOMS_MAX_SPECIES];
    for (int t = 0; t < ntypes; t++) {
        masses[t] = a->nspecies > 0 ? sd_element_mass(a->species[t]) : 0.0;
        if (!(masses[t] > 0))
            return sd_err_set(e, SD_ENOTFOUND, "%s: no atomic mass known for species '%s'", path,
                              a->nspecies > 0 ? a->species[t] : "(none)");
    }
    double lo[3], hi[3];
    int use_cell = a->has_cell && a->cell[1] == 0 && a->cell[2] == 0 && a->cell[3] == 0 && a->cell[5] == 0 &&
                   a->cell[6] == 0 && a->cell[7] == 0 && a->cell[0] > 0 && a->cell[4] > 0 && a->cell[8] > 0;
    if (use_cell) {
        double o[3] = {0, 0, 0};
        if (parse_origin(sd_atoms_get_info(a, "Origin"), o))
            o[0] = o[1] = o[2] = 0;
        for (int k = 0; k < 3; k++) {
            lo[k] = o[k];
            hi[k] = o[k] + a->cell[4 * k];
        }
        for (int64_t i = 0; i < a->n && use_cell; i++)
            for (int k = 0; k < 3; k++)
                if (a->pos[3 * i + k] < lo[k] || a->pos[3 * i + k] > hi[k])
                    use_cell = 0; /* LAMMPS would drop atoms outside the box */
    }
    if (!use_cell) {
        for (int k = 0; k < 3; k++) {
            lo[k] = a->n ? INFINITY : 0;
            hi[k] = a->n ? -INFINITY : 0;
        }
        for (int64_t i = 0; i < a->n; i++)
            for (int k = 0; k < 3; k++) {
                lo[k] = fmin(lo[k], a->pos[3 * i + k]);
                hi[k] = fmax(hi[k], a->pos[3 * i + k]);
            }
        for (int k = 0; k < 3; k++) {
            lo[k] -= pad;
            hi[k] += pad;
            if (!(hi[k] > lo[k]))
                hi[k] = lo[k] + 1.0;
        }
    }
    const sd_prop_t *vp = sd_atoms_get_prop(a, "velo");
    if (vp && (vp->kind != SD_PROP_REAL || vp->ncols != 3))
        vp = NULL;
    if (vp)
        for (int64_t i = 0; i < 3 * a->n; i++)
            if (!isfinite(vp->real[i]))
                return sd_err_set(e, SD_ERANGE, "%s: velocity of atom %lld is not finite", path, (long long)(i / 3));
    sd_atomic_file_t af;
    if ((rc = sd_atomic_open(&af, path, e)))
        return rc;
    FILE *f = af.f;
    char b[3][32];
    fprintf(f, "LAMMPS data file written by stemdyn (atom_style atomic)\n\n%lld atoms\n%d atom types\n\n",
            (long long)a->n, ntypes);
    for (int k = 0; k < 3; k++) {
        sd_fmt_f64(b[0], lo[k]);
        sd_fmt_f64(b[1], hi[k]);
        fprintf(f, "%s %s %clo %chi\n", b[0], b[1], 'x' + k, 'x' + k);
    }
    fputs("\nMasses\n\n", f);
    for (int t = 0; t < ntypes; t++) {
        sd_fmt_f64(b[0], masses[t]);
        fprintf(f, "%d %s # %s\n", t + 1, b[0], a->species[t]);
    }
    fputs("\nAtoms # atomic\n\n", f);
    for (int64_t i = 0; i < a->n; i++) {
        for (int k = 0; k < 3; k++)
            sd_fmt_f64(b[k], a->pos[3 * i + k]);
        fprintf(f, "%lld %d %s %s %s\n", (long long)(i + 1), a->type[i] + 1, b[0], b[1], b[2]);
    }
    if (vp) {
        fputs("\nVelocities\n\n", f);
        for (int64_t i = 0; i < a->n; i++) {
            for (int k = 0; k < 3; k++)
                sd_fmt_f64(b[k], vp->real[3 * i + k]);
            fprintf(f, "%lld %s %s %s\n", (long long)(i + 1), b[0], b[1], b[2]);
        }
    }
    return sd_atomic_commit(&af, e);
}
