#include "sd_xyz.h"

#include "sd_textio.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Shortest possible atom line ("X 0 0 0\n"): bounds the atom count a file
 * of known size can hold before anything is allocated. */
#define MIN_ATOM_LINE 8

struct sd_xyz_reader {
    sd_linesrc_t src;
    char name[1024];
    int64_t frame;
};

static sd_xyz_reader_t *reader_alloc(const char *name)
{
    sd_xyz_reader_t *r = calloc(1, sizeof *r);
    if (r)
        snprintf(r->name, sizeof r->name, "%s", name ? name : "(memory)");
    return r;
}

sd_xyz_reader_t *sd_xyz_reader_new(const char *path, sd_err_t *e)
{
    if (!path) {
        sd_err_set(e, SD_EINVAL, "sd_xyz_reader_new: NULL path");
        return NULL;
    }
    sd_xyz_reader_t *r = reader_alloc(path);
    if (!r) {
        sd_err_set(e, SD_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    if (sd_linesrc_open_file(&r->src, path, e) != SD_OK) {
        free(r);
        return NULL;
    }
    return r;
}

sd_xyz_reader_t *sd_xyz_reader_new_mem(const void *buf, size_t len, const char *name, sd_err_t *e)
{
    sd_xyz_reader_t *r = reader_alloc(name);
    if (!r) {
        sd_err_set(e, SD_ENOMEM, "out of memory");
        return NULL;
    }
    sd_linesrc_open_mem(&r->src, buf, len);
    return r;
}

void sd_xyz_reader_destroy(sd_xyz_reader_t **pr)
{
    if (!pr || !*pr)
        return;
    sd_linesrc_close(&(*pr)->src);
    free(*pr);
    *pr = NULL;
}

/* ---- comment line: key=value pairs ------------------------------------ */

typedef struct kv {
    char key[64];
    char *val;
} kv_t;

typedef struct kvlist {
    kv_t *v;
    int n, cap;
} kvlist_t;

static void kv_free(kvlist_t *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i].val);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Reads a quoted string starting at *p == '"' (or '{'…'}' for ASE arrays)
 * or a bare token; returns malloc'd text, NULL on unterminated quote or OOM. */
static char *kv_token(const char **pp, int stop_at_eq, int *bad)
{
    const char *p = *pp;
    size_t cap = strlen(p) + 1, n = 0;
    char *out = malloc(cap);
    if (!out) {
        *bad = 2;
        return NULL;
    }
    if (*p == '"') {
        p++;
        while (*p && *p != '"') {
            if (*p == '\\' && p[1]) {
                p++;
                out[n++] = *p == 'n' ? '\n' : *p;
                p++;
            } else
                out[n++] = *p++;
        }
        if (*p != '"') {
            free(out);
            *bad = 1;
            return NULL;
        }
        p++;
    } else if (*p == '{' && !stop_at_eq) {
        while (*p && *p != '}')
            out[n++] = *p++;
        if (*p != '}') {
            free(out);
            *bad = 1;
            return NULL;
        }
        out[n++] = *p++;
    } else {
        while (*p && !isspace((unsigned char)*p) && !(stop_at_eq && *p == '=')) {
            if (*p == '"') {
                free(out);
                *bad = 1;
                return NULL;
            }
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    *pp = p;
    return out;
}

/* Parses the comment line; -1 with *why set when it is not key=value text. */
static int kv_parse(const char *line, kvlist_t *l, const char **why)
{
    const char *p = line;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            return 0;
        int bad = 0;
        char *key = kv_token(&p, 1, &bad);
        if (!key) {
            *why = bad == 2 ? "out of memory" : "unterminated quote";
            return -1;
        }
        if (!key[0] || strlen(key) >= sizeof l->v[0].key) {
            free(key);
            *why = "empty key or key longer than 63 characters";
            return -1;
        }
        const char *q = p;
        while (isspace((unsigned char)*q))
            q++;
        char *val;
        if (*q == '=') {
            q++;
            while (isspace((unsigned char)*q))
                q++;
            p = q;
            if (!*p) {
                free(key);
                *why = "missing value after '='";
                return -1;
            }
            val = kv_token(&p, 0, &bad);
            if (!val) {
                free(key);
                *why = bad == 2 ? "out of memory" : "unterminated quote";
                return -1;
            }
        } else {
            val = strdup("T"); /* a bare key is a true flag, as in ASE */
            if (!val) {
                free(key);
                *why = "out of memory";
                return -1;
            }
        }
        if (l->n == l->cap) {
            int cap = l->cap ? 2 * l->cap : 16;
            kv_t *nv = realloc(l->v, (size_t)cap * sizeof *nv);
            if (!nv) {
                free(key);
                free(val);
                *why = "out of memory";
                return -1;
            }
            l->v = nv;
            l->cap = cap;
        }
        snprintf(l->v[l->n].key, sizeof l->v[0].key, "%s", key);
        l->v[l->n].val = val;
        l->n++;
        free(key);
    }
}

static const char *kv_get(const kvlist_t *l, const char *key)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].key, key))
            return l->v[i].val;
    return NULL;
}

static int parse_bool(const char *t, int *out)
{
    if (!strcmp(t, "T") || !strcmp(t, "True") || !strcmp(t, "true") || !strcmp(t, "TRUE") || !strcmp(t, "1"))
        *out = 1;
    else if (!strcmp(t, "F") || !strcmp(t, "False") || !strcmp(t, "false") || !strcmp(t, "FALSE") ||
             !strcmp(t, "0"))
        *out = 0;
    else
        return -1;
    return 0;
}

/* ---- Properties=… ------------------------------------------------------ */

enum col_kind { COL_SPECIES, COL_POS, COL_REAL, COL_INT, COL_BOOL, COL_Z, COL_SKIP };

typedef struct colspec {
    enum col_kind kind;
    int ncols;
    int prop; /* index into atoms->props for REAL/INT/BOOL/Z */
    char name[64];
} colspec_t;

#define MAX_COLSPECS (SD_ATOMS_MAX_PROPS + 8)
#define MAX_COLUMNS 512

static int parse_properties(const char *spec, colspec_t *cs, int *ncs, const char *name, long line,
                            sd_err_t *e)
{
    char buf[4096];
    if (strlen(spec) >= sizeof buf)
        return sd_err_set(e, SD_EFORMAT, "%s: line %ld: Properties string too long", name, line);
    snprintf(buf, sizeof buf, "%s", spec);
    char *fields[3 * MAX_COLSPECS + 1];
    int nf = 0;
    char *p = buf;
    for (;;) {
        if (nf == 3 * MAX_COLSPECS + 1)
            return sd_err_set(e, SD_EFORMAT, "%s: line %ld: more than %d properties", name, line, MAX_COLSPECS);
        fields[nf++] = p;
        char *c = strchr(p, ':');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    if (nf % 3 != 0)
        return sd_err_set(e, SD_EFORMAT,
                          "%s: line %ld: Properties must be name:kind:count triples, got %d fields", name,
                          line, nf);
    int n = 0, total = 0, have_pos = 0;
    for (int i = 0; i < nf; i += 3) {
        const char *nm = fields[i], *kd = fields[i + 1];
        int64_t cnt;
        if (!nm[0] || strlen(nm) >= 64)
            return sd_err_set(e, SD_EFORMAT, "%s: line %ld: property name '%.80s' empty or too long", name,
                              line, nm);
        if (strlen(kd) != 1 || !strchr("RILS", kd[0]))
            return sd_err_set(e, SD_EFORMAT, "%s: line %ld: property '%s' has unknown kind '%.20s' (want R, I, L or S)",
                              name, line, nm, kd);
        if (sd_parse_i64(fields[i + 2], &cnt) || cnt < 1 || cnt > 9)
            return sd_err_set(e, SD_EFORMAT, "%s: line %ld: property '%s' has column count '%.20s' (want 1..9)",
                              name, line, nm, fields[i + 2]);
        for (int j = 0; j < n; j++)
            if (!strcmp(cs[j].name, nm))
                return sd_err_set(e, SD_EFORMAT, "%s: line %ld: duplicate property '%s'", name, line, nm);
        colspec_t *c = &cs[n++];
        memset(c, 0, sizeof *c);
        snprintf(c->name, sizeof c->name, "%s", nm);
        c->ncols = (int)cnt;
        c->prop = -1;
        if (!strcmp(nm, "species")) {
            if (kd[0] != 'S' || cnt != 1)
                return sd_err_set(e, SD_EFORMAT, "%s: line %ld: 'species' must be S:1", name, line);
            c->kind = COL_SPECIES;
        } else if (!strcmp(nm, "pos") || !strcmp(nm, "positions")) {
            if (kd[0] != 'R' || cnt != 3 || have_pos)
                return sd_err_set(e, SD_EFORMAT, "%s: line %ld: positions must be one R:3 property", name, line);
            c->kind = COL_POS;
            have_pos = 1;
        } else if (!strcmp(nm, "Z") && kd[0] == 'I' && cnt == 1) {
            c->kind = COL_Z;
        } else if (kd[0] == 'R') {
            c->kind = COL_REAL;
        } else if (kd[0] == 'I') {
            c->kind = COL_INT;
        } else if (kd[0] == 'L') {
            c->kind = COL_BOOL;
        } else {
            c->kind = COL_SKIP; /* string columns other than species are not representable */
        }
        total += c->ncols;
    }
    if (!have_pos)
        return sd_err_set(e, SD_EFORMAT, "%s: line %ld: Properties has no pos:R:3", name, line);
    if (total > MAX_COLUMNS)
        return sd_err_set(e, SD_EFORMAT, "%s: line %ld: %d columns per atom is too many", name, line, total);
    *ncs = n;
    return SD_OK;
}

/* ---- frame reader -------------------------------------------------------- */

static int is_blank(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

int sd_xyz_reader_next(sd_xyz_reader_t *r, sd_atoms_t **out, sd_err_t *e)
{
    if (!r || !out)
        return sd_err_set(e, SD_EINVAL, "sd_xyz_reader_next: NULL argument");
    *out = NULL;
    sd_linesrc_t *s = &r->src;
    const char *nm = r->name;
    int rc;
    /* Blank lines between frames and at the end are tolerated. */
    do {
        rc = sd_linesrc_next(s, nm, e);
        if (rc <= 0)
            return rc;
    } while (is_blank(s->line));

    char *t0 = s->line;
    while (isspace((unsigned char)*t0))
        t0++;
    char *t1 = t0 + strlen(t0);
    while (t1 > t0 && isspace((unsigned char)t1[-1]))
        *--t1 = '\0';
    int64_t n;
    if (sd_parse_i64(t0, &n) || n < 0)
        return sd_err_set(e, SD_EFORMAT, "%s: line %ld: expected an atom count, got '%.60s'", nm, s->lineno, t0);
    if (n > SD_ATOMS_MAX_N)
        return sd_err_set(e, SD_ENOMEM, "%s: line %ld: atom count %lld exceeds the limit %lld", nm, s->lineno,
                          (long long)n, (long long)SD_ATOMS_MAX_N);
    int64_t rem = sd_linesrc_remaining(s);
    if (rem >= 0 && n > rem / MIN_ATOM_LINE)
        return sd_err_set(e, SD_EFORMAT, "%s: line %ld: atom count %lld cannot fit in the %lld bytes that follow",
                          nm, s->lineno, (long long)n, (long long)rem);
    long count_line = s->lineno;

    rc = sd_linesrc_next(s, nm, e);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return sd_err_set(e, SD_EFORMAT, "%s: line %ld: file ends before the comment line of frame %lld", nm,
                          count_line + 1, (long long)r->frame);
    long cline = s->lineno;
    kvlist_t kv = {0};
    const char *why = NULL;
    int structured = 1;
    if (kv_parse(s->line, &kv, &why) != 0) {
        kv_free(&kv);
        if (strstr(s->line, "Properties=") || strstr(s->line, "Lattice="))
            return sd_err_set(e, SD_EFORMAT, "%s: line %ld: bad extxyz header: %s", nm, cline, why);
        structured = 0; /* plain xyz: free-form comment */
    } else if (kv.n > SD_ATOMS_MAX_INFO && !kv_get(&kv, "Properties") && !kv_get(&kv, "Lattice")) {
        kv_free(&kv);
        structured = 0; /* a long free-form comment, not key=value info */
    }

    colspec_t cs[MAX_COLSPECS];
    int ncs = 0, plain = 1;
    sd_atoms_t *a = NULL;
    char *comment = NULL;
    if (!structured) {
        comment = strdup(s->line);
        if (!comment)
            return sd_err_set(e, SD_ENOMEM, "%s: out of memory", nm);
    }
    const char *props = structured ? kv_get(&kv, "Properties") : NULL;
    if (props) {
        plain = 0;
        rc = parse_properties(props, cs, &ncs, nm, cline, e);
        if (rc)
            goto fail;
    } else {
        cs[0] = (colspec_t){COL_SPECIES, 1, -1, "species"};
        cs[1] = (colspec_t){COL_POS, 3, -1, "pos"};
        ncs = 2;
    }
    {
        /* each atom line holds ncol tokens, each at least one byte plus a separator */
        int ncol0 = 0;
        for (int i = 0; i < ncs; i++)
            ncol0 += cs[i].ncols;
        rem = sd_linesrc_remaining(s);
        if (rem >= 0 && n > (rem + 1) / (2 * ncol0)) { /* the last line may lack its newline */
            rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: %lld atoms of %d columns cannot fit in the %lld bytes that follow",
                            nm, cline, (long long)n, ncol0, (long long)rem);
            goto fail;
        }
    }
    a = sd_atoms_new(n, NULL);
    if (!a) {
        rc = sd_err_set(e, SD_ENOMEM, "%s: out of memory for %lld atoms", nm, (long long)n);
        goto fail;
    }
    if (comment) {
        rc = sd_atoms_set_info(a, "comment", comment, e);
        if (rc)
            goto fail;
    }
    char skipped[512] = "";
    for (int i = 0; i < ncs; i++) {
        colspec_t *c = &cs[i];
        if (c->kind == COL_SKIP) {
            size_t used = strlen(skipped);
            snprintf(skipped + used, sizeof skipped - used, "%s%s", used ? "," : "", c->name);
            continue;
        }
        if (c->kind == COL_SPECIES || c->kind == COL_POS)
            continue;
        sd_prop_t *p = sd_atoms_add_prop(a, c->name, c->kind == COL_REAL ? SD_PROP_REAL : SD_PROP_INT, c->ncols);
        if (!p) {
            rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: cannot store property '%s' (reserved name or more than %d)",
                            nm, cline, c->name, SD_ATOMS_MAX_PROPS);
            goto fail;
        }
        c->prop = (int)(p - a->props);
    }
    int have_species = 0, have_z = -1;
    for (int i = 0; i < ncs; i++) {
        if (cs[i].kind == COL_SPECIES)
            have_species = 1;
        if (cs[i].kind == COL_Z)
            have_z = i;
    }
    if (skipped[0] && (rc = sd_atoms_set_info(a, "skipped_properties", skipped, e)))
        goto fail;

    if (structured) {
        for (int i = 0; i < kv.n; i++) {
            const char *k = kv.v[i].key, *v = kv.v[i].val;
            if (!strcmp(k, "Properties"))
                continue;
            if (!strcmp(k, "Lattice")) {
                char tmp[1024];
                snprintf(tmp, sizeof tmp, "%s", v);
                char *tok[10];
                int nt = sd_split_ws(tmp, tok, 9);
                if (nt != 9) {
                    rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: Lattice needs 9 numbers, got %d", nm, cline, nt);
                    goto fail;
                }
                for (int k2 = 0; k2 < 9; k2++)
                    if (sd_parse_f64(tok[k2], &a->cell[k2])) {
                        rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: Lattice value '%.40s' is not a finite number",
                                        nm, cline, tok[k2]);
                        goto fail;
                    }
                a->has_cell = 1;
                if (!kv_get(&kv, "pbc"))
                    a->pbc[0] = a->pbc[1] = a->pbc[2] = 1; /* ASE's default with a Lattice */
                continue;
            }
            if (!strcmp(k, "pbc")) {
                char tmp[256];
                snprintf(tmp, sizeof tmp, "%s", v);
                char *tok[4];
                int nt = sd_split_ws(tmp, tok, 3);
                if (nt != 3 || parse_bool(tok[0], &a->pbc[0]) || parse_bool(tok[1], &a->pbc[1]) ||
                    parse_bool(tok[2], &a->pbc[2])) {
                    rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: pbc must be three of T/F, got '%.40s'", nm, cline, v);
                    goto fail;
                }
                continue;
            }
            if ((rc = sd_atoms_set_info(a, k, v, e))) {
                sd_err_prefix(e, "%s: line %ld", nm, cline);
                goto fail;
            }
        }
    }
    kv_free(&kv);

    int ncol = 0;
    for (int i = 0; i < ncs; i++)
        ncol += cs[i].ncols;
    char *tok[MAX_COLUMNS + 1];
    for (int64_t i = 0; i < n; i++) {
        rc = sd_linesrc_next(s, nm, e);
        if (rc < 0)
            goto fail;
        if (rc == 0) {
            rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: file ends after %lld of %lld atoms (frame %lld)", nm,
                            s->lineno + 1, (long long)i, (long long)n, (long long)r->frame);
            goto fail;
        }
        int nt = sd_split_ws(s->line, tok, MAX_COLUMNS);
        if (plain ? nt < ncol : nt != ncol) {
            rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: expected %s%d columns, got %s%d", nm, s->lineno,
                            plain ? "at least " : "", ncol, nt > MAX_COLUMNS ? "more than " : "",
                            nt > MAX_COLUMNS ? MAX_COLUMNS : nt);
            goto fail;
        }
        int t = 0;
        for (int c = 0; c < ncs; c++) {
            colspec_t *C = &cs[c];
            sd_prop_t *P = C->prop >= 0 ? &a->props[C->prop] : NULL;
            for (int k = 0; k < C->ncols; k++, t++) {
                const char *x = tok[t];
                switch (C->kind) {
                case COL_SPECIES: {
                    const char *sym = x;
                    int64_t z;
                    if (!sd_parse_i64(x, &z)) {
                        sym = sd_element_symbol((int)(z > 0 && z < 1000 ? z : 0));
                        if (!sym) {
                            rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: unknown atomic number '%.20s'", nm,
                                            s->lineno, x);
                            goto fail;
                        }
                    }
                    int si = sd_atoms_species_index(a, sym);
                    if (si < 0) {
                        rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: species '%.20s' is longer than 7 characters "
                                        "or more than %d species", nm, s->lineno, x, SD_ATOMS_MAX_SPECIES);
                        goto fail;
                    }
                    a->type[i] = si;
                    break;
                }
                case COL_POS:
                    if (sd_parse_f64(x, &a->pos[3 * i + k])) {
                        rc = sd_err_set(e, SD_ERANGE, "%s: line %ld: coordinate '%.40s' is not a finite number",
                                        nm, s->lineno, x);
                        goto fail;
                    }
                    break;
                case COL_REAL:
                    if (sd_parse_f64(x, &P->real[i * C->ncols + k])) {
                        rc = sd_err_set(e, SD_ERANGE, "%s: line %ld: %s value '%.40s' is not a finite number", nm,
                                        s->lineno, C->name, x);
                        goto fail;
                    }
                    break;
                case COL_INT:
                case COL_Z:
                    if (sd_parse_i64(x, &P->ints[i * C->ncols + k])) {
                        rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: %s value '%.40s' is not an integer", nm,
                                        s->lineno, C->name, x);
                        goto fail;
                    }
                    break;
                case COL_BOOL: {
                    int b;
                    if (parse_bool(x, &b)) {
                        rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: %s value '%.40s' is not T or F", nm,
                                        s->lineno, C->name, x);
                        goto fail;
                    }
                    P->ints[i * C->ncols + k] = b;
                    break;
                }
                case COL_SKIP:
                    break;
                }
            }
        }
        if (!have_species && have_z >= 0) {
            int64_t z = a->props[cs[have_z].prop].ints[i];
            const char *sym = sd_element_symbol((int)(z > 0 && z < 1000 ? z : 0));
            int si = sym ? sd_atoms_species_index(a, sym) : -1;
            if (si < 0) {
                rc = sd_err_set(e, SD_EFORMAT, "%s: line %ld: bad atomic number %lld", nm, s->lineno, (long long)z);
                goto fail;
            }
            a->type[i] = si;
        }
    }
    free(comment);
    r->frame++;
    *out = a;
    return 1;
fail:
    kv_free(&kv);
    free(comment);
    sd_atoms_destroy(&a);
    return rc ? rc : SD_EFORMAT;
}

static int read_all(sd_xyz_reader_t *r, sd_atoms_t ***frames, int64_t *nframes, sd_err_t *e)
{
    sd_atoms_t **v = NULL;
    int64_t n = 0, cap = 0;
    for (;;) {
        sd_atoms_t *a = NULL;
        int rc = sd_xyz_reader_next(r, &a, e);
        if (rc < 0) {
            sd_xyz_frames_free(&v, n);
            return rc;
        }
        if (rc == 0)
            break;
        if (n == cap) {
            int64_t nc = cap ? 2 * cap : 16;
            sd_atoms_t **nv = realloc(v, (size_t)nc * sizeof *nv);
            if (!nv) {
                sd_atoms_destroy(&a);
                sd_xyz_frames_free(&v, n);
                return sd_err_set(e, SD_ENOMEM, "%s: out of memory after %lld frames", r->name, (long long)n);
            }
            v = nv;
            cap = nc;
        }
        v[n++] = a;
    }
    *frames = v;
    *nframes = n;
    return SD_OK;
}

int sd_xyz_read_all(const char *path, sd_atoms_t ***frames, int64_t *nframes, sd_err_t *e)
{
    if (!frames || !nframes)
        return sd_err_set(e, SD_EINVAL, "sd_xyz_read_all: NULL argument");
    *frames = NULL;
    *nframes = 0;
    sd_xyz_reader_t *r = sd_xyz_reader_new(path, e);
    if (!r)
        return e ? e->code : SD_EIO;
    int rc = read_all(r, frames, nframes, e);
    sd_xyz_reader_destroy(&r);
    return rc;
}

int sd_xyz_read_all_mem(const void *buf, size_t len, const char *name, sd_atoms_t ***frames, int64_t *nframes,
                        sd_err_t *e)
{
    if (!frames || !nframes)
        return sd_err_set(e, SD_EINVAL, "sd_xyz_read_all_mem: NULL argument");
    *frames = NULL;
    *nframes = 0;
    sd_xyz_reader_t *r = sd_xyz_reader_new_mem(buf, len, name, e);
    if (!r)
        return SD_ENOMEM;
    int rc = read_all(r, frames, nframes, e);
    sd_xyz_reader_destroy(&r);
    return rc;
}

void sd_xyz_frames_free(sd_atoms_t ***frames, int64_t nframes)
{
    if (!frames || !*frames)
        return;
    for (int64_t i = 0; i < nframes; i++)
        sd_atoms_destroy(&(*frames)[i]);
    free(*frames);
    *frames = NULL;
}

/* ---- writer -------------------------------------------------------------- */

static int needs_quotes(const char *v)
{
    if (!*v)
        return 1;
    for (const char *p = v; *p; p++)
        if (isspace((unsigned char)*p) || *p == '"' || *p == '=' || *p == '\\')
            return 1;
    return *v == '{';
}

static void put_quoted(FILE *f, const char *v)
{
    if (!needs_quotes(v)) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', f);
        if (*p == '\n') {
            fputs("\\n", f);
            continue;
        }
        fputc(*p, f);
    }
    fputc('"', f);
}

int sd_xyz_write(FILE *f, const sd_atoms_t *a, sd_err_t *e)
{
    if (!f || !a)
        return sd_err_set(e, SD_EINVAL, "sd_xyz_write: NULL argument");
    int rc = sd_atoms_validate(a, e);
    if (rc)
        return rc;
    for (int p = 0; p < a->nprops; p++) {
        const sd_prop_t *P = &a->props[p];
        if (P->kind == SD_PROP_REAL)
            for (int64_t i = 0; i < a->n * P->ncols; i++)
                if (!isfinite(P->real[i]))
                    return sd_err_set(e, SD_ERANGE, "property '%s' of atom %lld is not finite", P->name,
                                      (long long)(i / P->ncols));
        for (const char *c = P->name; *c; c++)
            if (isspace((unsigned char)*c) || *c == ':' || *c == '"' || *c == '=')
                return sd_err_set(e, SD_EINVAL, "property name '%s' cannot be written to extxyz", P->name);
    }
    char b[3][32];
    fprintf(f, "%lld\n", (long long)a->n);
    if (a->has_cell) {
        fputs("Lattice=\"", f);
        for (int k = 0; k < 9; k++) {
            sd_fmt_f64(b[0], a->cell[k]);
            fprintf(f, "%s%s", k ? " " : "", b[0]);
        }
        fputs("\" ", f);
    }
    fputs("Properties=species:S:1:pos:R:3", f);
    for (int p = 0; p < a->nprops; p++)
        fprintf(f, ":%s:%c:%d", a->props[p].name, a->props[p].kind == SD_PROP_REAL ? 'R' : 'I', a->props[p].ncols);
    fprintf(f, " pbc=\"%c %c %c\"", a->pbc[0] ? 'T' : 'F', a->pbc[1] ? 'T' : 'F', a->pbc[2] ? 'T' : 'F');
    for (int i = 0; i < a->ninfo; i++) {
        const char *k = a->info_key[i];
        if (!strcmp(k, "Lattice") || !strcmp(k, "Properties") || !strcmp(k, "pbc"))
            continue;
        fputc(' ', f);
        put_quoted(f, k);
        fputc('=', f);
        put_quoted(f, a->info_val[i] ? a->info_val[i] : "");
    }
    fputc('\n', f);
    for (int64_t i = 0; i < a->n; i++) {
        const char *sym = a->nspecies > 0 ? a->species[a->type[i]] : "X";
        for (int k = 0; k < 3; k++)
            sd_fmt_f64(b[k], a->pos[3 * i + k]);
        fprintf(f, "%s %s %s %s", sym, b[0], b[1], b[2]);
        for (int p = 0; p < a->nprops; p++) {
            const sd_prop_t *P = &a->props[p];
            for (int k = 0; k < P->ncols; k++) {
                if (P->kind == SD_PROP_REAL) {
                    sd_fmt_f64(b[0], P->real[i * P->ncols + k]);
                    fprintf(f, " %s", b[0]);
                } else
                    fprintf(f, " %lld", (long long)P->ints[i * P->ncols + k]);
            }
        }
        fputc('\n', f);
    }
    if (ferror(f))
        return sd_err_set(e, SD_EIO, "write error");
    return SD_OK;
}

int sd_xyz_write_file(const char *path, sd_atoms_t *const *frames, int64_t nframes, sd_err_t *e)
{
    if (!path || (!frames && nframes > 0) || nframes < 0)
        return sd_err_set(e, SD_EINVAL, "sd_xyz_write_file: bad arguments");
    sd_atomic_file_t af;
    int rc = sd_atomic_open(&af, path, e);
    if (rc)
        return rc;
    for (int64_t i = 0; i < nframes; i++) {
        rc = sd_xyz_write(af.f, frames[i], e);
        if (rc) {
            sd_atomic_abort(&af);
            return sd_err_prefix(e, "%s: frame %lld", path, (long long)i);
        }
    }
    return sd_atomic_commit(&af, e);
}
