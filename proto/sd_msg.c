/* sd_msg — encoding and strict decoding of stemdyn wire messages.
 *
 * Decoding never hands hostile bytes to msgpack-c unchecked: msgpack-c
 * allocates count × 24 bytes for an array header before it has seen the
 * elements, so a 5-byte header declaring 2^32 elements would ask for 96 GiB.
 * mp_scan() first walks the header without allocating and refuses any
 * array/map that declares more elements than bytes remain (each element takes
 * at least one byte); only then does msgpack_unpack_next() build the object
 * tree, whose size is thus bounded by 24 × the header length. */
#include "sd_msg.h"

#include "sd_clock.h"
#include "sd_crc32c.h"

#include <math.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "stemdyn payload parts are little-endian raw arrays; big-endian hosts are not supported"
#endif

/* Parts per type: topic + header + payload parts (see PROTOCOL.md). */
static const int type_parts[SD_MSG_TYPE_COUNT] = {
    [SD_MSG_SERIES_START] = 2, [SD_MSG_FRAME] = 3,    [SD_MSG_SERIES_END] = 2,
    [SD_MSG_COLUMNS] = 9,      [SD_MSG_MODEL] = 4,    [SD_MSG_SIM_JOB] = 4,
    [SD_MSG_SNAPSHOT] = 3,     [SD_MSG_STATS] = 2,    [SD_MSG_ERROR] = 2,
    [SD_MSG_HEARTBEAT] = 2,
};

static const char *const type_names[SD_MSG_TYPE_COUNT] = {
    [SD_MSG_SERIES_START] = "series_start", [SD_MSG_FRAME] = "frame",
    [SD_MSG_SERIES_END] = "series_end",     [SD_MSG_COLUMNS] = "columns",
    [SD_MSG_MODEL] = "model",               [SD_MSG_SIM_JOB] = "sim_job",
    [SD_MSG_SNAPSHOT] = "snapshot",         [SD_MSG_STATS] = "stats",
    [SD_MSG_ERROR] = "error",               [SD_MSG_HEARTBEAT] = "heartbeat",
};

static const char *const dtype_names[] = {NULL, "u8", "u16", "u32", "f32", "f64"};
static const size_t dtype_sizes[] = {0, 1, 2, 4, 4, 8};

const char *sd_msg_type_name(sd_msg_type_t t)
{
    return (t > SD_MSG_NONE && t < SD_MSG_TYPE_COUNT) ? type_names[t] : NULL;
}

sd_msg_type_t sd_msg_type_parse(const char *name, size_t len)
{
    for (int t = 1; t < SD_MSG_TYPE_COUNT; t++)
        if (strlen(type_names[t]) == len && !memcmp(type_names[t], name, len))
            return (sd_msg_type_t)t;
    return SD_MSG_NONE;
}

size_t sd_dtype_size(sd_dtype_t d)
{
    return (d > SD_DTYPE_NONE && d <= SD_DTYPE_F64) ? dtype_sizes[d] : 0;
}

const char *sd_dtype_name(sd_dtype_t d)
{
    return (d > SD_DTYPE_NONE && d <= SD_DTYPE_F64) ? dtype_names[d] : NULL;
}

sd_dtype_t sd_dtype_parse(const char *name, size_t len)
{
    for (int d = 1; d <= SD_DTYPE_F64; d++)
        if (strlen(dtype_names[d]) == len && !memcmp(dtype_names[d], name, len))
            return (sd_dtype_t)d;
    return SD_DTYPE_NONE;
}

void sd_parts_free(sd_parts_t *p)
{
    if (!p)
        return;
    if (p->free_ && p->priv_)
        p->free_(p->priv_);
    memset(p, 0, sizeof *p);
}

int sd_parts_view(const sd_parts_t *in, int skip, sd_parts_t *view, sd_err_t *e)
{
    memset(view, 0, sizeof *view);
    if (!in || in->n < 0 || in->n > SD_PARTS_CAP || skip < 0 || skip > in->n)
        return sd_err_set(e, SD_EINVAL, "sd_parts_view: cannot skip %d of %d parts", skip,
                          in ? in->n : 0);
    view->n = in->n - skip;
    for (int i = 0; i < view->n; i++) {
        view->data[i] = in->data[skip + i];
        view->len[i] = in->len[skip + i];
    }
    return SD_OK;
}

void sd_msg_init(sd_msg_t *m, sd_msg_type_t type)
{
    memset(m, 0, sizeof *m);
    m->type = type;
}

void sd_msg_free(sd_msg_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < sizeof m->owned_ / sizeof m->owned_[0]; i++)
        free(m->owned_[i]);
    memset(m, 0, sizeof *m);
}

/* ======================================================================
 * Field validation on the structs (shared by encoder and decoder)
 * ====================================================================== */

static bool is_id_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

/* Identifier: 1..max of [A-Za-z0-9._-] (safe in file names and topics). */
static int check_id(const char *s, size_t max, bool optional, const char *field, sd_err_t *e)
{
    size_t n = strnlen(s, max + 1);
    if (n == 0) {
        if (optional)
            return SD_OK;
        return sd_err_set(e, SD_ERANGE, "field '%s' must not be empty", field);
    }
    if (n > max)
        return sd_err_set(e, SD_ERANGE, "field '%s' is longer than %zu characters", field, max);
    for (size_t i = 0; i < n; i++)
        if (!is_id_char((unsigned char)s[i]))
            return sd_err_set(e, SD_ERANGE,
                              "field '%s' has character 0x%02x at %zu (allowed: A-Z a-z 0-9 . _ -)",
                              field, (unsigned char)s[i], i);
    return SD_OK;
}

/* Chemical symbol: an upper-case letter and up to two lower-case letters. */
static int check_element(const char *s, bool optional, const char *field, sd_err_t *e)
{
    size_t n = strnlen(s, SD_MSG_NAME_MAX + 1);
    if (n == 0 && optional)
        return SD_OK;
    bool ok = n >= 1 && n <= 3 && s[0] >= 'A' && s[0] <= 'Z';
    for (size_t i = 1; ok && i < n; i++)
        ok = s[i] >= 'a' && s[i] <= 'z';
    if (!ok)
        return sd_err_set(e, SD_ERANGE, "field '%s' = '%.16s' is not a chemical symbol (e.g. Au)",
                          field, s);
    return SD_OK;
}

/* Free text: valid UTF-8 without control characters other than tab and
 * newline, at most max bytes (web clients put it into JSON and HTML). */
static int check_text(const char *s, size_t max, bool allow_empty, const char *field, sd_err_t *e)
{
    size_t n = strnlen(s, max + 1);
    if (n > max)
        return sd_err_set(e, SD_ERANGE, "field '%s' is longer than %zu bytes", field, max);
    if (n == 0 && !allow_empty)
        return sd_err_set(e, SD_ERANGE, "field '%s' must not be empty", field);
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t k;
        unsigned cp;
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
                return sd_err_set(e, SD_ERANGE, "field '%s' has control character 0x%02x at %zu",
                                  field, c, i);
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3;
            cp = c & 0x07;
        } else {
            return sd_err_set(e, SD_ERANGE, "field '%s' is not valid UTF-8 (byte %zu)", field, i);
        }
        if (i + k >= n)
            return sd_err_set(e, SD_ERANGE, "field '%s' is not valid UTF-8 (byte %zu)", field, i);
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return sd_err_set(e, SD_ERANGE, "field '%s' is not valid UTF-8 (byte %zu)", field,
                                  i + j);
            cp = (cp << 6) | (p[i + j] & 0x3f);
        }
        static const unsigned min_cp[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return sd_err_set(e, SD_ERANGE, "field '%s' is not valid UTF-8 (byte %zu)", field, i);
        i += k + 1;
    }
    return SD_OK;
}

/* lo < x <= hi (open_lo) or lo <= x <= hi, and finite. */
static int check_f64(double x, double lo, double hi, bool open_lo, const char *field, sd_err_t *e)
{
    if (!isfinite(x))
        return sd_err_set(e, SD_ERANGE, "field '%s' is not finite (%g)", field, x);
    if ((open_lo ? !(x > lo) : !(x >= lo)) || !(x <= hi))
        return sd_err_set(e, SD_ERANGE, "field '%s' = %g is outside %s%g, %g]", field, x,
                          open_lo ? "(" : "[", lo, hi);
    return SD_OK;
}

static int check_i64(int64_t x, int64_t lo, int64_t hi, const char *field, sd_err_t *e)
{
    if (x < lo || x > hi)
        return sd_err_set(e, SD_ERANGE, "field '%s' = %lld is outside [%lld, %lld]", field,
                          (long long)x, (long long)lo, (long long)hi);
    return SD_OK;
}

static int check_finite_array(const double *a, size_t n, const char *field, sd_err_t *e)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i]))
            return sd_err_set(e, SD_ERANGE, "field '%s'[%zu] is not finite (%g)", field, i, a[i]);
    return SD_OK;
}

#define TRY(expr)                                                                              \
    do {                                                                                       \
        int rc_ = (expr);                                                                      \
        if (rc_ != SD_OK)                                                                      \
            return rc_;                                                                        \
    } while (0)

static const int64_t T_MAX = INT64_MAX;

static int v_series_start(const sd_msg_series_start_t *s, sd_err_t *e)
{
    TRY(check_id(s->series_id, SD_MSG_ID_MAX, false, "series_id", e));
    TRY(check_i64(s->width, 1, SD_MSG_MAX_DIM, "width", e));
    TRY(check_i64(s->height, 1, SD_MSG_MAX_DIM, "height", e));
    if (!sd_dtype_size(s->dtype))
        return sd_err_set(e, SD_ERANGE, "field 'dtype' is not one of u8 u16 u32 f32 f64");
    TRY(check_f64(s->pixel_size_A, 0, 1e4, true, "pixel_size_A", e));
    TRY(check_f64(s->dwell_time_s, 0, 1, true, "dwell_time_s", e));
    TRY(check_f64(s->frame_interval_s, 0, 3600, true, "frame_interval_s", e));
    TRY(check_f64(s->beam_energy_keV, 0, 1e4, true, "beam_energy_keV", e));
    if (s->has_zone_axis) {
        for (int i = 0; i < 3; i++)
            TRY(check_i64(s->zone_axis[i], -100, 100, "zone_axis", e));
        if (!s->zone_axis[0] && !s->zone_axis[1] && !s->zone_axis[2])
            return sd_err_set(e, SD_ERANGE, "field 'zone_axis' must not be [0, 0, 0]");
    }
    TRY(check_text(s->sample, SD_MSG_TEXT_MAX, true, "sample", e));
    TRY(check_element(s->element, true, "element", e));
    return SD_OK;
}

static int v_frame(const sd_msg_frame_t *f, sd_err_t *e)
{
    TRY(check_id(f->series_id, SD_MSG_ID_MAX, false, "series_id", e));
    TRY(check_i64(f->frame_index, 0, T_MAX, "frame_index", e));
    TRY(check_i64(f->t_acq_ns, 0, T_MAX, "t_acq_ns", e));
    TRY(check_i64(f->t_send_ns, 0, T_MAX, "t_send_ns", e));
    TRY(check_i64(f->width, 1, SD_MSG_MAX_DIM, "width", e));
    TRY(check_i64(f->height, 1, SD_MSG_MAX_DIM, "height", e));
    size_t ds = sd_dtype_size(f->dtype);
    if (!ds)
        return sd_err_set(e, SD_ERANGE, "field 'dtype' is not one of u8 u16 u32 f32 f64");
    uint64_t want = (uint64_t)f->width * (uint64_t)f->height * ds;
    if (f->pixels_len != want)
        return sd_err_set(e, SD_EFORMAT,
                          "pixel payload is %zu bytes, expected width*height*%zu = %d*%d*%zu = %llu",
                          f->pixels_len, ds, (int)f->width, (int)f->height, ds,
                          (unsigned long long)want);
    if (!f->pixels)
        return sd_err_set(e, SD_EINVAL, "field 'pixels' is NULL");
    return SD_OK;
}

static int v_series_end(const sd_msg_series_end_t *s, sd_err_t *e)
{
    TRY(check_id(s->series_id, SD_MSG_ID_MAX, false, "series_id", e));
    TRY(check_text(s->reason, SD_MSG_TEXT_MAX, true, "reason", e));
    return SD_OK;
}

static int v_columns(const sd_msg_columns_t *c, sd_err_t *e)
{
    TRY(check_id(c->series_id, SD_MSG_ID_MAX, false, "series_id", e));
    TRY(check_i64(c->frame_index, 0, T_MAX, "frame_index", e));
    TRY(check_f64(c->dx_A, 0, 1e4, true, "dx_A", e));
    if (c->n > SD_MSG_MAX_COLUMNS)
        return sd_err_set(e, SD_ENOMEM, "field 'n' = %lld is over the limit of %d columns",
                          (long long)c->n, SD_MSG_MAX_COLUMNS);
    TRY(check_i64(c->n, 0, SD_MSG_MAX_COLUMNS, "n", e));
    size_t n = (size_t)c->n;
    if (n && (!c->x || !c->y || !c->eta || !c->rho || !c->scs || !c->count || !c->prob))
        return sd_err_set(e, SD_EINVAL, "columns: an array pointer is NULL with n = %zu", n);
    TRY(check_finite_array(c->x, n, "x", e));
    TRY(check_finite_array(c->y, n, "y", e));
    TRY(check_finite_array(c->eta, n, "eta", e));
    TRY(check_finite_array(c->rho, n, "rho", e));
    TRY(check_finite_array(c->scs, n, "scs", e));
    for (size_t i = 0; i < n; i++) {
        if (c->rho[i] < 0)
            return sd_err_set(e, SD_ERANGE, "field 'rho'[%zu] = %g is negative", i, c->rho[i]);
        if (c->count[i] < -1)
            return sd_err_set(e, SD_ERANGE, "field 'count'[%zu] = %d is below -1", i,
                              (int)c->count[i]);
        if (!(c->prob[i] >= 0 && c->prob[i] <= 1))
            return sd_err_set(e, SD_ERANGE, "field 'prob'[%zu] = %g is outside [0, 1]", i,
                              c->prob[i]);
    }
    return SD_OK;
}

static int check_natoms(int64_t n, const double *pos, sd_err_t *e)
{
    if (n > SD_MSG_MAX_ATOMS)
        return sd_err_set(e, SD_ENOMEM, "field 'n_atoms' = %lld is over the limit of %d atoms",
                          (long long)n, SD_MSG_MAX_ATOMS);
    TRY(check_i64(n, 1, SD_MSG_MAX_ATOMS, "n_atoms", e));
    if (!pos)
        return sd_err_set(e, SD_EINVAL, "field 'pos' is NULL");
    return check_finite_array(pos, (size_t)n * 3, "pos", e);
}

static int v_model(const sd_msg_model_t *m, sd_err_t *e)
{
    TRY(check_id(m->series_id, SD_MSG_ID_MAX, false, "series_id", e));
    TRY(check_i64(m->frame_index, 0, T_MAX, "frame_index", e));
    TRY(check_id(m->model_id, SD_MSG_ID_MAX, false, "model_id", e));
    TRY(check_element(m->element, false, "element", e));
    TRY(check_natoms(m->n_atoms, m->pos, e));
    if (m->column_id)
        for (int64_t i = 0; i < m->n_atoms; i++)
            if (m->column_id[i] < -1)
                return sd_err_set(e, SD_ERANGE, "field 'column_id'[%lld] = %d is below -1",
                                  (long long)i, (int)m->column_id[i]);
    TRY(check_f64(m->energy_eV, -1e12, 1e12, false, "energy_eV", e));
    TRY(check_f64(m->energy_per_atom_eV, -1e12, 1e12, false, "energy_per_atom_eV", e));
    double want = m->energy_eV / (double)m->n_atoms;
    if (fabs(m->energy_per_atom_eV - want) > 1e-6 * fmax(1.0, fabs(want)))
        return sd_err_set(e, SD_ERANGE,
                          "field 'energy_per_atom_eV' = %.10g is not energy_eV/n_atoms = %.10g",
                          m->energy_per_atom_eV, want);
    TRY(check_text(m->prov.method, SD_MSG_NAME_MAX, false, "provenance.method", e));
    TRY(check_i64(m->prov.iterations, 0, T_MAX, "provenance.iterations", e));
    TRY(check_text(m->prov.software, SD_MSG_NAME_MAX, true, "provenance.software", e));
    return SD_OK;
}

static int v_sim_job(const sd_msg_sim_job_t *j, sd_err_t *e)
{
    TRY(check_id(j->job_id, SD_MSG_ID_MAX, false, "job_id", e));
    TRY(check_id(j->model_id, SD_MSG_ID_MAX, false, "model_id", e));
    TRY(check_id(j->series_id, SD_MSG_ID_MAX, false, "series_id", e));
    TRY(check_i64(j->frame_index, 0, T_MAX, "frame_index", e));
    TRY(check_element(j->element, false, "element", e));
    TRY(check_f64(j->temperature_K, 0, 1e4, true, "temperature_K", e));
    TRY(check_f64(j->dt_fs, 0, 100, true, "dt_fs", e));
    TRY(check_i64(j->thermalize_steps, 0, T_MAX, "thermalize_steps", e));
    TRY(check_f64(j->thermalize_dt_fs, 0, 100, true, "thermalize_dt_fs", e));
    TRY(check_f64(j->production_time_fs, 0, 1e12, true, "production_time_fs", e));
    TRY(check_f64(j->dump_every_fs, 0, j->production_time_fs, true, "dump_every_fs", e));
    TRY(check_f64(j->damp_ps, 0, 1e6, true, "damp_ps", e));
    TRY(check_natoms(j->n_atoms, j->pos, e));
    if (j->checkpoint_len > SD_MSG_MAX_CHECKPOINT)
        return sd_err_set(e, SD_ENOMEM, "checkpoint is %zu bytes, over the limit of %u",
                          j->checkpoint_len, SD_MSG_MAX_CHECKPOINT);
    if (j->checkpoint_len && !j->checkpoint)
        return sd_err_set(e, SD_EINVAL, "field 'checkpoint' is NULL with a non-zero length");
    return SD_OK;
}

static int v_snapshot(const sd_msg_snapshot_t *s, sd_err_t *e)
{
    TRY(check_id(s->job_id, SD_MSG_ID_MAX, false, "job_id", e));
    TRY(check_i64(s->frame_index, 0, T_MAX, "frame_index", e));
    TRY(check_i64(s->step, 0, T_MAX, "step", e));
    TRY(check_f64(s->time_fs, 0, 1e15, false, "time_fs", e));
    TRY(check_element(s->element, false, "element", e));
    TRY(check_natoms(s->n_atoms, s->pos, e));
    TRY(check_f64(s->temperature_K, 0, 1e6, false, "temperature_K", e));
    TRY(check_f64(s->epot_eV, -1e12, 1e12, false, "epot_eV", e));
    TRY(check_f64(s->ns_per_day, 0, 1e9, false, "ns_per_day", e));
    return SD_OK;
}

static int v_stats(const sd_msg_stats_t *s, sd_err_t *e)
{
    TRY(check_i64(s->run_id, -1, T_MAX, "run_id", e));
    TRY(check_i64(s->k, 1, SD_STATS_MAX_K, "k", e));
    TRY(check_i64(s->frames, 0, T_MAX, "frames", e));
    size_t k = (size_t)s->k;
    char fname[32];
    for (size_t i = 0; i < k; i++) {
        snprintf(fname, sizeof fname, "labels[%zu]", i);
        TRY(check_text(s->labels[i], SD_MSG_NAME_MAX, false, fname, e));
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s->labels[i], s->labels[j]))
                return sd_err_set(e, SD_ERANGE, "field 'labels' has '%s' twice", s->labels[i]);
    }
    if (!s->counts || !s->populations || !s->pop_mean || !s->pop_std)
        return sd_err_set(e, SD_EINVAL, "stats: counts/populations/pop_mean/pop_std is NULL");
    for (size_t i = 0; i < k * k; i++)
        if (s->counts[i] < 0)
            return sd_err_set(e, SD_ERANGE, "field 'counts'[%zu][%zu] = %lld is negative", i / k,
                              i % k, (long long)s->counts[i]);
    for (size_t i = 0; i < k; i++) {
        if (s->populations[i] < 0)
            return sd_err_set(e, SD_ERANGE, "field 'populations'[%zu] is negative", i);
        TRY(check_f64(s->pop_mean[i], 0, 1, false, "pop_mean", e));
        TRY(check_f64(s->pop_std[i], 0, 1, false, "pop_std", e));
    }
    if (s->P) {
        for (size_t i = 0; i < k; i++) {
            double sum = 0;
            for (size_t j = 0; j < k; j++) {
                TRY(check_f64(s->P[i * k + j], 0, 1, false, "P", e));
                sum += s->P[i * k + j];
            }
            if (sum != 0 && fabs(sum - 1) > 1e-6)
                return sd_err_set(e, SD_ERANGE,
                                  "field 'P' row %zu sums to %.9g (must be 1, or 0 for no data)",
                                  i, sum);
        }
    }
    if (s->tau_ns)
        for (size_t i = 0; i < k * k; i++) {
            double t = s->tau_ns[i];
            if (!(isfinite(t) && (t >= 0 || t == -1)))
                return sd_err_set(e, SD_ERANGE,
                                  "field 'tau_ns'[%zu][%zu] = %g (must be >= 0, or -1 = undefined)",
                                  i / k, i % k, t);
        }
    if (s->has_lens) {
        double sum = 0;
        for (int i = 0; i < 3; i++) {
            TRY(check_f64(s->lens_fractions[i], 0, 1, false, "lens_fractions", e));
            sum += s->lens_fractions[i];
        }
        if (sum > 1 + 1e-6)
            return sd_err_set(e, SD_ERANGE, "field 'lens_fractions' sums to %.9g > 1", sum);
    }
    TRY(check_f64(s->sim_ns, 0, 1e12, false, "progress.sim_ns", e));
    TRY(check_f64(s->target_ns, 0, 1e12, false, "progress.target_ns", e));
    TRY(check_f64(s->ns_per_day, 0, 1e12, false, "progress.ns_per_day", e));
    TRY(check_i64(s->n_latency, 0, SD_STATS_MAX_LATENCY, "latency (entries)", e));
    for (int i = 0; i < s->n_latency; i++) {
        const sd_msg_latency_t *l = &s->latency[i];
        TRY(check_id(l->name, SD_MSG_NAME_MAX, false, "latency name", e));
        for (int j = 0; j < i; j++)
            if (!strcmp(l->name, s->latency[j].name))
                return sd_err_set(e, SD_ERANGE, "field 'latency' has '%s' twice", l->name);
        snprintf(fname, sizeof fname, "latency_s.%.16s", l->name);
        TRY(check_f64(l->p50_s, 0, 1e9, false, fname, e));
        TRY(check_f64(l->p99_s, 0, 1e9, false, fname, e));
        if (l->p99_s < l->p50_s)
            return sd_err_set(e, SD_ERANGE, "field '%s': p99 = %g is below p50 = %g", fname,
                              l->p99_s, l->p50_s);
    }
    return SD_OK;
}

static int v_error(const sd_msg_error_t *r, sd_err_t *e)
{
    TRY(check_id(r->origin, SD_MSG_ID_MAX, false, "origin", e));
    TRY(check_text(r->message, SD_MSG_TEXT_MAX, false, "message", e));
    TRY(check_id(r->series_id, SD_MSG_ID_MAX, true, "series_id", e));
    TRY(check_i64(r->frame_index, -1, T_MAX, "frame_index", e));
    TRY(check_id(r->job_id, SD_MSG_ID_MAX, true, "job_id", e));
    return SD_OK;
}

static int v_heartbeat(const sd_msg_heartbeat_t *h, sd_err_t *e)
{
    TRY(check_id(h->sender, SD_MSG_ID_MAX, false, "sender", e));
    TRY(check_id(h->role, SD_MSG_NAME_MAX, false, "role", e));
    TRY(check_id(h->state, SD_MSG_NAME_MAX, false, "state", e));
    TRY(check_i64(h->t_ns, 0, T_MAX, "t_ns", e));
    TRY(check_f64(h->load, 0, 1e9, false, "load", e));
    return SD_OK;
}

int sd_msg_validate(const sd_msg_t *m, sd_err_t *e)
{
    if (!m)
        return sd_err_set(e, SD_EINVAL, "message is NULL");
    const char *name = sd_msg_type_name(m->type);
    if (!name)
        return sd_err_set(e, SD_EINVAL, "message type %d is not a stemdyn message type",
                          (int)m->type);
    int rc = check_id(m->topic_suffix, SD_MSG_NAME_MAX, true, "topic suffix", e);
    if (rc == SD_OK)
        rc = check_i64(m->ts_ns, 0, T_MAX, "ts", e);
    if (rc == SD_OK) {
        switch (m->type) {
        case SD_MSG_SERIES_START: rc = v_series_start(&m->u.series_start, e); break;
        case SD_MSG_FRAME: rc = v_frame(&m->u.frame, e); break;
        case SD_MSG_SERIES_END: rc = v_series_end(&m->u.series_end, e); break;
        case SD_MSG_COLUMNS: rc = v_columns(&m->u.columns, e); break;
        case SD_MSG_MODEL: rc = v_model(&m->u.model, e); break;
        case SD_MSG_SIM_JOB: rc = v_sim_job(&m->u.sim_job, e); break;
        case SD_MSG_SNAPSHOT: rc = v_snapshot(&m->u.snapshot, e); break;
        case SD_MSG_STATS: rc = v_stats(&m->u.stats, e); break;
        case SD_MSG_ERROR: rc = v_error(&m->u.error, e); break;
        case SD_MSG_HEARTBEAT: rc = v_heartbeat(&m->u.heartbeat, e); break;
        default: rc = sd_err_set(e, SD_EINVAL, "bad type"); break;
        }
    }
    if (rc != SD_OK)
        sd_err_prefix(e, "%s", name);
    return rc;
}

/* ======================================================================
 * Encoding
 * ====================================================================== */

typedef struct enc_priv {
    char topic[SD_MSG_NAME_MAX * 2 + 2];
    msgpack_sbuffer sb;
} enc_priv_t;

static void enc_priv_free(void *p)
{
    enc_priv_t *ep = p;
    msgpack_sbuffer_destroy(&ep->sb);
    free(ep);
}

/* A map body under construction: keys are counted so the map header (whose
 * size depends on the count) can be written in front of the body at the end. */
typedef struct pk {
    msgpack_sbuffer sb;
    msgpack_packer p;
    uint32_t n;
    int rc;
} pk_t;

static void pk_init(pk_t *k)
{
    msgpack_sbuffer_init(&k->sb);
    msgpack_packer_init(&k->p, &k->sb, msgpack_sbuffer_write);
    k->n = 0;
    k->rc = 0;
}

static void pk_rawstr(pk_t *k, const char *s)
{
    size_t n = strlen(s);
    k->rc |= msgpack_pack_str(&k->p, n);
    k->rc |= msgpack_pack_str_body(&k->p, s, n);
}

static void pk_key(pk_t *k, const char *key)
{
    k->n++;
    pk_rawstr(k, key);
}

static void pk_str(pk_t *k, const char *key, const char *v)
{
    pk_key(k, key);
    pk_rawstr(k, v);
}

static void pk_i64(pk_t *k, const char *key, int64_t v)
{
    pk_key(k, key);
    k->rc |= msgpack_pack_int64(&k->p, v);
}

static void pk_u64(pk_t *k, const char *key, uint64_t v)
{
    pk_key(k, key);
    k->rc |= msgpack_pack_uint64(&k->p, v);
}

static void pk_f64(pk_t *k, const char *key, double v)
{
    pk_key(k, key);
    k->rc |= msgpack_pack_double(&k->p, v);
}

static void pk_bool(pk_t *k, const char *key, int v)
{
    pk_key(k, key);
    k->rc |= v ? msgpack_pack_true(&k->p) : msgpack_pack_false(&k->p);
}

static void pk_bin(pk_t *k, const char *key, const void *p, size_t n)
{
    pk_key(k, key);
    k->rc |= msgpack_pack_bin(&k->p, n);
    if (n)
        k->rc |= msgpack_pack_bin_body(&k->p, p, n);
}

static void enc_series_start(pk_t *k, const sd_msg_series_start_t *s)
{
    pk_str(k, "series_id", s->series_id);
    pk_i64(k, "width", s->width);
    pk_i64(k, "height", s->height);
    pk_str(k, "dtype", sd_dtype_name(s->dtype));
    pk_f64(k, "pixel_size_A", s->pixel_size_A);
    pk_f64(k, "dwell_time_s", s->dwell_time_s);
    pk_f64(k, "frame_interval_s", s->frame_interval_s);
    pk_f64(k, "beam_energy_keV", s->beam_energy_keV);
    if (s->has_zone_axis) {
        pk_key(k, "zone_axis");
        k->rc |= msgpack_pack_array(&k->p, 3);
        for (int i = 0; i < 3; i++)
            k->rc |= msgpack_pack_int32(&k->p, s->zone_axis[i]);
    }
    pk_u64(k, "expected_frames", s->expected_frames);
    if (s->sample[0])
        pk_str(k, "sample", s->sample);
    if (s->element[0])
        pk_str(k, "element", s->element);
}

static void enc_frame(pk_t *k, const sd_msg_frame_t *f, uint32_t crc)
{
    pk_str(k, "series_id", f->series_id);
    pk_i64(k, "frame_index", f->frame_index);
    pk_u64(k, "seq", f->seq);
    pk_i64(k, "t_acq_ns", f->t_acq_ns);
    pk_i64(k, "t_send_ns", f->t_send_ns);
    pk_i64(k, "width", f->width);
    pk_i64(k, "height", f->height);
    pk_str(k, "dtype", sd_dtype_name(f->dtype));
    pk_u64(k, "crc32c", crc);
}

static void enc_series_end(pk_t *k, const sd_msg_series_end_t *s)
{
    pk_str(k, "series_id", s->series_id);
    pk_u64(k, "frames_sent", s->frames_sent);
    pk_u64(k, "frames_dropped", s->frames_dropped);
    pk_str(k, "reason", s->reason);
}

static void enc_columns(pk_t *k, const sd_msg_columns_t *c)
{
    pk_str(k, "series_id", c->series_id);
    pk_i64(k, "frame_index", c->frame_index);
    pk_f64(k, "dx_A", c->dx_A);
    pk_i64(k, "n", c->n);
}

static void enc_model(pk_t *k, const sd_msg_model_t *m)
{
    pk_str(k, "series_id", m->series_id);
    pk_i64(k, "frame_index", m->frame_index);
    pk_str(k, "model_id", m->model_id);
    pk_str(k, "element", m->element);
    pk_i64(k, "n_atoms", m->n_atoms);
    pk_f64(k, "energy_eV", m->energy_eV);
    pk_f64(k, "energy_per_atom_eV", m->energy_per_atom_eV);
    pk_key(k, "provenance");
    int np = m->prov.software[0] ? 4 : 3;
    k->rc |= msgpack_pack_map(&k->p, (size_t)np);
    pk_rawstr(k, "method");
    pk_rawstr(k, m->prov.method);
    pk_rawstr(k, "iterations");
    k->rc |= msgpack_pack_int64(&k->p, m->prov.iterations);
    pk_rawstr(k, "seed");
    k->rc |= msgpack_pack_uint64(&k->p, m->prov.seed);
    if (m->prov.software[0]) {
        pk_rawstr(k, "software");
        pk_rawstr(k, m->prov.software);
    }
}

static void enc_sim_job(pk_t *k, const sd_msg_sim_job_t *j)
{
    pk_str(k, "job_id", j->job_id);
    pk_str(k, "model_id", j->model_id);
    pk_str(k, "series_id", j->series_id);
    pk_i64(k, "frame_index", j->frame_index);
    pk_str(k, "element", j->element);
    pk_f64(k, "temperature_K", j->temperature_K);
    pk_f64(k, "dt_fs", j->dt_fs);
    pk_i64(k, "thermalize_steps", j->thermalize_steps);
    pk_f64(k, "thermalize_dt_fs", j->thermalize_dt_fs);
    pk_f64(k, "production_time_fs", j->production_time_fs);
    pk_f64(k, "dump_every_fs", j->dump_every_fs);
    pk_u64(k, "seed", j->seed);
    pk_f64(k, "damp_ps", j->damp_ps);
    pk_i64(k, "n_atoms", j->n_atoms);
}

static void enc_snapshot(pk_t *k, const sd_msg_snapshot_t *s)
{
    pk_str(k, "job_id", s->job_id);
    pk_i64(k, "frame_index", s->frame_index);
    pk_i64(k, "step", s->step);
    pk_f64(k, "time_fs", s->time_fs);
    pk_str(k, "element", s->element);
    pk_i64(k, "n_atoms", s->n_atoms);
    pk_f64(k, "temperature_K", s->temperature_K);
    pk_f64(k, "epot_eV", s->epot_eV);
    pk_f64(k, "ns_per_day", s->ns_per_day);
}

static void enc_stats(pk_t *k, const sd_msg_stats_t *s)
{
    size_t kk = (size_t)s->k;
    pk_u64(k, "seq", s->seq);
    pk_i64(k, "run_id", s->run_id);
    pk_bool(k, "is_delta", s->is_delta);
    pk_i64(k, "k", s->k);
    pk_key(k, "labels");
    k->rc |= msgpack_pack_array(&k->p, kk);
    for (size_t i = 0; i < kk; i++)
        pk_rawstr(k, s->labels[i]);
    pk_i64(k, "frames", s->frames);
    pk_bin(k, "counts", s->counts, kk * kk * 8);
    pk_bin(k, "populations", s->populations, kk * 8);
    pk_bin(k, "pop_mean", s->pop_mean, kk * 8);
    pk_bin(k, "pop_std", s->pop_std, kk * 8);
    if (s->P)
        pk_bin(k, "P", s->P, kk * kk * 8);
    if (s->tau_ns)
        pk_bin(k, "tau_ns", s->tau_ns, kk * kk * 8);
    if (s->has_lens) {
        pk_key(k, "lens_fractions");
        k->rc |= msgpack_pack_array(&k->p, 3);
        for (int i = 0; i < 3; i++)
            k->rc |= msgpack_pack_double(&k->p, s->lens_fractions[i]);
    }
    pk_key(k, "progress");
    k->rc |= msgpack_pack_map(&k->p, 3);
    pk_rawstr(k, "sim_ns");
    k->rc |= msgpack_pack_double(&k->p, s->sim_ns);
    pk_rawstr(k, "target_ns");
    k->rc |= msgpack_pack_double(&k->p, s->target_ns);
    pk_rawstr(k, "ns_per_day");
    k->rc |= msgpack_pack_double(&k->p, s->ns_per_day);
    pk_key(k, "latency_s");
    k->rc |= msgpack_pack_map(&k->p, (size_t)s->n_latency);
    for (int i = 0; i < s->n_latency; i++) {
        pk_rawstr(k, s->latency[i].name);
        k->rc |= msgpack_pack_array(&k->p, 2);
        k->rc |= msgpack_pack_double(&k->p, s->latency[i].p50_s);
        k->rc |= msgpack_pack_double(&k->p, s->latency[i].p99_s);
    }
}

static void enc_error(pk_t *k, const sd_msg_error_t *r)
{
    pk_i64(k, "code", r->code);
    pk_str(k, "origin", r->origin);
    pk_str(k, "message", r->message);
    if (r->series_id[0])
        pk_str(k, "series_id", r->series_id);
    if (r->frame_index >= 0)
        pk_i64(k, "frame_index", r->frame_index);
    if (r->job_id[0])
        pk_str(k, "job_id", r->job_id);
}

static void enc_heartbeat(pk_t *k, const sd_msg_heartbeat_t *h)
{
    pk_str(k, "sender", h->sender);
    pk_str(k, "role", h->role);
    pk_str(k, "state", h->state);
    pk_i64(k, "t_ns", h->t_ns);
    pk_f64(k, "load", h->load);
}

static void add_part(sd_parts_t *out, const void *p, size_t n)
{
    out->data[out->n] = n ? p : (const uint8_t *)"";
    out->len[out->n] = n;
    out->n++;
}

int sd_msg_encode(const sd_msg_t *m, sd_parts_t *out, sd_err_t *e)
{
    if (!out)
        return sd_err_set(e, SD_EINVAL, "sd_msg_encode: out is NULL");
    memset(out, 0, sizeof *out);
    TRY(sd_msg_validate(m, e));

    uint32_t crc = 0;
    if (m->type == SD_MSG_FRAME)
        crc = sd_crc32c(0, m->u.frame.pixels, m->u.frame.pixels_len);

    pk_t k;
    pk_init(&k);
    k.n = 3; /* v, type, ts */
    switch (m->type) {
    case SD_MSG_SERIES_START: enc_series_start(&k, &m->u.series_start); break;
    case SD_MSG_FRAME: enc_frame(&k, &m->u.frame, crc); break;
    case SD_MSG_SERIES_END: enc_series_end(&k, &m->u.series_end); break;
    case SD_MSG_COLUMNS: enc_columns(&k, &m->u.columns); break;
    case SD_MSG_MODEL: enc_model(&k, &m->u.model); break;
    case SD_MSG_SIM_JOB: enc_sim_job(&k, &m->u.sim_job); break;
    case SD_MSG_SNAPSHOT: enc_snapshot(&k, &m->u.snapshot); break;
    case SD_MSG_STATS: enc_stats(&k, &m->u.stats); break;
    case SD_MSG_ERROR: enc_error(&k, &m->u.error); break;
    case SD_MSG_HEARTBEAT: enc_heartbeat(&k, &m->u.heartbeat); break;
    default: break;
    }

    enc_priv_t *ep = calloc(1, sizeof *ep);
    if (!ep || k.rc) {
        free(ep);
        msgpack_sbuffer_destroy(&k.sb);
        return sd_err_set(e, SD_ENOMEM, "%s: out of memory while encoding",
                          sd_msg_type_name(m->type));
    }
    const char *name = sd_msg_type_name(m->type);
    if (m->topic_suffix[0])
        snprintf(ep->topic, sizeof ep->topic, "%s.%s", name, m->topic_suffix);
    else
        snprintf(ep->topic, sizeof ep->topic, "%s", name);

    msgpack_sbuffer_init(&ep->sb);
    msgpack_packer p;
    msgpack_packer_init(&p, &ep->sb, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&p, k.n);
    rc |= msgpack_pack_str(&p, 1);
    rc |= msgpack_pack_str_body(&p, "v", 1);
    rc |= msgpack_pack_array(&p, 2);
    rc |= msgpack_pack_uint32(&p, SD_PROTO_MAJOR);
    rc |= msgpack_pack_uint32(&p, SD_PROTO_MINOR);
    rc |= msgpack_pack_str(&p, 4);
    rc |= msgpack_pack_str_body(&p, "type", 4);
    rc |= msgpack_pack_str(&p, strlen(name));
    rc |= msgpack_pack_str_body(&p, name, strlen(name));
    rc |= msgpack_pack_str(&p, 2);
    rc |= msgpack_pack_str_body(&p, "ts", 2);
    rc |= msgpack_pack_int64(&p, m->ts_ns ? m->ts_ns : sd_clock_wall_ns());
    rc |= msgpack_sbuffer_write(&ep->sb, k.sb.data, k.sb.size);
    msgpack_sbuffer_destroy(&k.sb);
    if (rc || ep->sb.size > SD_MSG_MAX_HEADER) {
        size_t sz = ep->sb.size;
        enc_priv_free(ep);
        return sd_err_set(e, SD_ENOMEM, "%s: header of %zu bytes could not be built (limit %u)",
                          name, sz, SD_MSG_MAX_HEADER);
    }

    out->priv_ = ep;
    out->free_ = enc_priv_free;
    add_part(out, ep->topic, strlen(ep->topic));
    add_part(out, ep->sb.data, ep->sb.size);
    switch (m->type) {
    case SD_MSG_FRAME: add_part(out, m->u.frame.pixels, m->u.frame.pixels_len); break;
    case SD_MSG_COLUMNS: {
        const sd_msg_columns_t *c = &m->u.columns;
        size_t n = (size_t)c->n;
        add_part(out, c->x, n * 8);
        add_part(out, c->y, n * 8);
        add_part(out, c->eta, n * 8);
        add_part(out, c->rho, n * 8);
        add_part(out, c->scs, n * 8);
        add_part(out, c->count, n * 4);
        add_part(out, c->prob, n * 8);
        break;
    }
    case SD_MSG_MODEL:
        add_part(out, m->u.model.pos, (size_t)m->u.model.n_atoms * 24);
        add_part(out, m->u.model.column_id,
                 m->u.model.column_id ? (size_t)m->u.model.n_atoms * 4 : 0);
        break;
    case SD_MSG_SIM_JOB:
        add_part(out, m->u.sim_job.pos, (size_t)m->u.sim_job.n_atoms * 24);
        add_part(out, m->u.sim_job.checkpoint, m->u.sim_job.checkpoint_len);
        break;
    case SD_MSG_SNAPSHOT:
        add_part(out, m->u.snapshot.pos, (size_t)m->u.snapshot.n_atoms * 24);
        break;
    default: break;
    }
    return SD_OK;
}

/* ======================================================================
 * Decoding
 * ====================================================================== */

static uint64_t be_read(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Walks one msgpack object spanning exactly p[0..n) without allocating.
 * `pending` counts objects still to read; refusing pending > bytes left
 * bounds what msgpack-c will later allocate. */
static int mp_scan(const uint8_t *p, size_t n, sd_err_t *e)
{
    size_t i = 0;
    uint64_t pending = 1;
    while (pending) {
        if (i >= n)
            return sd_err_set(e, SD_EFORMAT,
                              "header: truncated msgpack (ends at byte %zu, %llu value(s) missing)",
                              n, (unsigned long long)pending);
        size_t at = i;
        uint8_t b = p[i++];
        pending--;
        uint64_t skip = 0, add = 0;
        size_t lenb = 0;   /* bytes of a length field that follows */
        size_t countb = 0; /* bytes of an array/map count that follows */
        int is_map = 0;
        if (b <= 0x7f || b >= 0xe0) {
        } else if (b <= 0x8f) {
            add = 2u * (b & 0x0fu);
        } else if (b <= 0x9f) {
            add = b & 0x0fu;
        } else if (b <= 0xbf) {
            skip = b & 0x1fu;
        } else {
            switch (b) {
            case 0xc0: case 0xc2: case 0xc3: break;
            case 0xc4: case 0xd9: lenb = 1; break;
            case 0xc5: case 0xda: lenb = 2; break;
            case 0xc6: case 0xdb: lenb = 4; break;
            case 0xc7: lenb = 1; skip = 1; break; /* ext: length, then a type byte */
            case 0xc8: lenb = 2; skip = 1; break;
            case 0xc9: lenb = 4; skip = 1; break;
            case 0xca: skip = 4; break;
            case 0xcb: skip = 8; break;
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xce: case 0xd2: skip = 4; break;
            case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break;
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc: countb = 2; break;
            case 0xdd: countb = 4; break;
            case 0xde: countb = 2; is_map = 1; break;
            case 0xdf: countb = 4; is_map = 1; break;
            default:
                return sd_err_set(e, SD_EFORMAT, "header: invalid msgpack byte 0x%02x at byte %zu",
                                  b, at);
            }
        }
        size_t fb = lenb + countb;
        if (fb > n - i)
            return sd_err_set(e, SD_EFORMAT, "header: truncated msgpack at byte %zu", at);
        if (lenb)
            skip += be_read(p + i, lenb);
        if (countb)
            add = be_read(p + i, countb) * (is_map ? 2u : 1u);
        i += fb;
        if (skip > n - i)
            return sd_err_set(e, SD_EFORMAT,
                              "header: truncated msgpack at byte %zu (needs %llu bytes, %zu left)",
                              at, (unsigned long long)skip, n - i);
        i += (size_t)skip;
        pending += add;
        if (pending > n - i)
            return sd_err_set(e, SD_EFORMAT,
                              "header: msgpack at byte %zu declares %llu value(s) but only %zu "
                              "byte(s) remain (truncated or hostile)",
                              at, (unsigned long long)pending, n - i);
    }
    if (i != n)
        return sd_err_set(e, SD_EFORMAT, "header: %zu trailing byte(s) after the msgpack map",
                          n - i);
    return SD_OK;
}

typedef struct hdr {
    const msgpack_object_map *map;
} hdr_t;

static const char *obj_type_name(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "float";
    case MSGPACK_OBJECT_STR: return "str";
    case MSGPACK_OBJECT_BIN: return "bin";
    case MSGPACK_OBJECT_ARRAY: return "array";
    case MSGPACK_OBJECT_MAP: return "map";
    case MSGPACK_OBJECT_EXT: return "ext";
    default: return "unknown";
    }
}

/* Finds key in a map: *val = NULL when absent (an error when required);
 * a key given twice is refused since which one counts would be ambiguous. */
static int map_find(const msgpack_object_map *map, const char *key, const msgpack_object **val,
                    bool required, sd_err_t *e)
{
    size_t kl = strlen(key);
    *val = NULL;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
            !memcmp(k->via.str.ptr, key, kl)) {
            if (*val)
                return sd_err_set(e, SD_EFORMAT, "field '%s' appears twice", key);
            *val = &map->ptr[i].val;
        }
    }
    if (!*val && required)
        return sd_err_set(e, SD_EFORMAT, "missing required field '%s'", key);
    return SD_OK;
}

static int wrong_type(const char *key, const char *want, const msgpack_object *o, sd_err_t *e)
{
    return sd_err_set(e, SD_EFORMAT, "field '%s' must be %s, got %s", key, want,
                      obj_type_name(o));
}

static int obj_i64(const msgpack_object *o, const char *key, int64_t *out, sd_err_t *e)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return sd_err_set(e, SD_ERANGE, "field '%s' = %llu is too large", key,
                              (unsigned long long)o->via.u64);
        *out = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
    } else {
        return wrong_type(key, "an integer", o, e);
    }
    return SD_OK;
}

static int obj_f64(const msgpack_object *o, const char *key, double *out, sd_err_t *e)
{
    if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
        *out = o->via.f64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        *out = (double)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *out = (double)o->via.i64;
    else
        return wrong_type(key, "a number", o, e);
    if (!isfinite(*out))
        return sd_err_set(e, SD_ERANGE, "field '%s' is not finite (%g)", key, *out);
    return SD_OK;
}

/* Copies a str into buf (capacity max+1); refuses over-long strings and NULs. */
static int obj_str(const msgpack_object *o, const char *key, char *buf, size_t max, sd_err_t *e)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return wrong_type(key, "a string", o, e);
    size_t n = o->via.str.size;
    if (n > max)
        return sd_err_set(e, SD_ERANGE, "field '%s' is %zu bytes, longer than %zu", key, n, max);
    if (n && memchr(o->via.str.ptr, 0, n))
        return sd_err_set(e, SD_EFORMAT, "field '%s' contains a NUL byte", key);
    if (n)
        memcpy(buf, o->via.str.ptr, n);
    buf[n] = '\0';
    return SD_OK;
}

static int get_i64(const hdr_t *h, const char *key, int64_t *out, bool required, sd_err_t *e)
{
    const msgpack_object *o;
    TRY(map_find(h->map, key, &o, required, e));
    return o ? obj_i64(o, key, out, e) : SD_OK;
}

static int get_i32(const hdr_t *h, const char *key, int32_t *out, sd_err_t *e)
{
    int64_t v = 0;
    TRY(get_i64(h, key, &v, true, e));
    if (v < INT32_MIN || v > INT32_MAX)
        return sd_err_set(e, SD_ERANGE, "field '%s' = %lld does not fit 32 bits", key,
                          (long long)v);
    *out = (int32_t)v;
    return SD_OK;
}

static int get_u64(const hdr_t *h, const char *key, uint64_t *out, bool required, sd_err_t *e)
{
    const msgpack_object *o;
    TRY(map_find(h->map, key, &o, required, e));
    if (!o)
        return SD_OK;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return sd_err_set(e, SD_ERANGE, "field '%s' = %lld must be >= 0", key,
                          (long long)o->via.i64);
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return wrong_type(key, "an unsigned integer", o, e);
    *out = o->via.u64;
    return SD_OK;
}

static int get_f64(const hdr_t *h, const char *key, double *out, sd_err_t *e)
{
    const msgpack_object *o;
    TRY(map_find(h->map, key, &o, true, e));
    return obj_f64(o, key, out, e);
}

static int get_str(const hdr_t *h, const char *key, char *buf, size_t max, bool required,
                   sd_err_t *e)
{
    const msgpack_object *o;
    TRY(map_find(h->map, key, &o, required, e));
    return o ? obj_str(o, key, buf, max, e) : SD_OK;
}

static int get_dtype(const hdr_t *h, sd_dtype_t *d, sd_err_t *e)
{
    char buf[8];
    TRY(get_str(h, "dtype", buf, sizeof buf - 1, true, e));
    *d = sd_dtype_parse(buf, strlen(buf));
    if (*d == SD_DTYPE_NONE)
        return sd_err_set(e, SD_ERANGE, "field 'dtype' = '%s' is not one of u8 u16 u32 f32 f64",
                          buf);
    return SD_OK;
}

/* The decoder's result memory: every allocation is recorded in m->owned_. */
static void *own_alloc(sd_msg_t *m, size_t n, sd_err_t *e)
{
    for (size_t i = 0; i < sizeof m->owned_ / sizeof m->owned_[0]; i++)
        if (!m->owned_[i]) {
            m->owned_[i] = malloc(n ? n : 1);
            if (!m->owned_[i])
                sd_err_set(e, SD_ENOMEM, "out of memory (%zu bytes)", n);
            return m->owned_[i];
        }
    sd_err_set(e, SD_ENOMEM, "internal: too many allocations for one message");
    return NULL;
}

/* Copies payload part `idx` (of exactly `want` bytes) into aligned owned memory. */
static int take_part(const sd_parts_t *in, int idx, const char *what, size_t want, sd_msg_t *m,
                     const void **dst, sd_err_t *e)
{
    if (in->len[idx] != want)
        return sd_err_set(e, SD_EFORMAT, "part %d (%s) is %zu bytes, expected %zu", idx, what,
                          in->len[idx], want);
    void *p = own_alloc(m, want, e);
    if (!p)
        return SD_ENOMEM;
    if (want)
        memcpy(p, in->data[idx], want);
    *dst = p;
    return SD_OK;
}

static int get_bin(const hdr_t *h, const char *key, size_t want, bool required, sd_msg_t *m,
                   const void **dst, sd_err_t *e)
{
    const msgpack_object *o;
    TRY(map_find(h->map, key, &o, required, e));
    if (!o)
        return SD_OK;
    if (o->type != MSGPACK_OBJECT_BIN)
        return wrong_type(key, "bin (raw little-endian array)", o, e);
    if (o->via.bin.size != want)
        return sd_err_set(e, SD_EFORMAT, "field '%s' is %u bytes, expected %zu", key,
                          o->via.bin.size, want);
    void *p = own_alloc(m, want, e);
    if (!p)
        return SD_ENOMEM;
    if (want)
        memcpy(p, o->via.bin.ptr, want);
    *dst = p;
    return SD_OK;
}

static int get_natoms(const hdr_t *h, int64_t *n, sd_err_t *e)
{
    TRY(get_i64(h, "n_atoms", n, true, e));
    if (*n > SD_MSG_MAX_ATOMS)
        return sd_err_set(e, SD_ENOMEM, "field 'n_atoms' = %lld is over the limit of %d atoms",
                          (long long)*n, SD_MSG_MAX_ATOMS);
    return check_i64(*n, 1, SD_MSG_MAX_ATOMS, "n_atoms", e);
}

static int d_series_start(const hdr_t *h, sd_msg_series_start_t *s, sd_err_t *e)
{
    TRY(get_str(h, "series_id", s->series_id, SD_MSG_ID_MAX, true, e));
    TRY(get_i32(h, "width", &s->width, e));
    TRY(get_i32(h, "height", &s->height, e));
    TRY(get_dtype(h, &s->dtype, e));
    TRY(get_f64(h, "pixel_size_A", &s->pixel_size_A, e));
    TRY(get_f64(h, "dwell_time_s", &s->dwell_time_s, e));
    TRY(get_f64(h, "frame_interval_s", &s->frame_interval_s, e));
    TRY(get_f64(h, "beam_energy_keV", &s->beam_energy_keV, e));
    const msgpack_object *za;
    TRY(map_find(h->map, "zone_axis", &za, false, e));
    if (za && za->type != MSGPACK_OBJECT_NIL) {
        if (za->type != MSGPACK_OBJECT_ARRAY || za->via.array.size != 3)
            return sd_err_set(e, SD_EFORMAT, "field 'zone_axis' must be an array of 3 integers");
        for (int i = 0; i < 3; i++) {
            int64_t v = 0;
            TRY(obj_i64(&za->via.array.ptr[i], "zone_axis", &v, e));
            TRY(check_i64(v, -100, 100, "zone_axis", e));
            s->zone_axis[i] = (int32_t)v;
        }
        s->has_zone_axis = 1;
    }
    TRY(get_u64(h, "expected_frames", &s->expected_frames, false, e));
    TRY(get_str(h, "sample", s->sample, SD_MSG_TEXT_MAX, false, e));
    TRY(get_str(h, "element", s->element, SD_MSG_NAME_MAX, false, e));
    return SD_OK;
}

static int d_frame(const hdr_t *h, const sd_parts_t *in, int flags, sd_msg_t *m, sd_err_t *e)
{
    sd_msg_frame_t *f = &m->u.frame;
    TRY(get_str(h, "series_id", f->series_id, SD_MSG_ID_MAX, true, e));
    TRY(get_i64(h, "frame_index", &f->frame_index, true, e));
    TRY(get_u64(h, "seq", &f->seq, true, e));
    TRY(get_i64(h, "t_acq_ns", &f->t_acq_ns, true, e));
    TRY(get_i64(h, "t_send_ns", &f->t_send_ns, true, e));
    TRY(get_i32(h, "width", &f->width, e));
    TRY(get_i32(h, "height", &f->height, e));
    TRY(get_dtype(h, &f->dtype, e));
    uint64_t crc;
    TRY(get_u64(h, "crc32c", &crc, true, e));
    if (crc > 0xffffffffu)
        return sd_err_set(e, SD_ERANGE, "field 'crc32c' = %llu does not fit 32 bits",
                          (unsigned long long)crc);
    f->crc32c = (uint32_t)crc;
    TRY(check_i64(f->width, 1, SD_MSG_MAX_DIM, "width", e));
    TRY(check_i64(f->height, 1, SD_MSG_MAX_DIM, "height", e));
    uint64_t want = (uint64_t)f->width * (uint64_t)f->height * sd_dtype_size(f->dtype);
    if (in->len[2] != want)
        return sd_err_set(e, SD_EFORMAT,
                          "pixel payload is %zu bytes, expected width*height*%zu = %d*%d*%zu = %llu",
                          in->len[2], sd_dtype_size(f->dtype), (int)f->width, (int)f->height,
                          sd_dtype_size(f->dtype), (unsigned long long)want);
    uint32_t got = sd_crc32c(0, in->data[2], in->len[2]);
    if (got != f->crc32c)
        return sd_err_set(e, SD_ERANGE,
                          "pixel CRC32C mismatch: header says 0x%08x, payload has 0x%08x "
                          "(corrupted in transit?)",
                          f->crc32c, got);
    if (flags & SD_DECODE_BORROW) {
        f->pixels = in->data[2];
        f->pixels_len = in->len[2];
        return SD_OK;
    }
    f->pixels_len = in->len[2];
    return take_part(in, 2, "pixels", in->len[2], m, &f->pixels, e);
}

static int d_series_end(const hdr_t *h, sd_msg_series_end_t *s, sd_err_t *e)
{
    TRY(get_str(h, "series_id", s->series_id, SD_MSG_ID_MAX, true, e));
    TRY(get_u64(h, "frames_sent", &s->frames_sent, true, e));
    TRY(get_u64(h, "frames_dropped", &s->frames_dropped, true, e));
    TRY(get_str(h, "reason", s->reason, SD_MSG_TEXT_MAX, true, e));
    return SD_OK;
}

static int d_columns(const hdr_t *h, const sd_parts_t *in, sd_msg_t *m, sd_err_t *e)
{
    sd_msg_columns_t *c = &m->u.columns;
    TRY(get_str(h, "series_id", c->series_id, SD_MSG_ID_MAX, true, e));
    TRY(get_i64(h, "frame_index", &c->frame_index, true, e));
    TRY(get_f64(h, "dx_A", &c->dx_A, e));
    TRY(get_i64(h, "n", &c->n, true, e));
    if (c->n > SD_MSG_MAX_COLUMNS)
        return sd_err_set(e, SD_ENOMEM, "field 'n' = %lld is over the limit of %d columns",
                          (long long)c->n, SD_MSG_MAX_COLUMNS);
    TRY(check_i64(c->n, 0, SD_MSG_MAX_COLUMNS, "n", e));
    size_t n = (size_t)c->n;
    /* All lengths first: nothing is allocated for a message that lies about n. */
    static const char *const names[7] = {"x", "y", "eta", "rho", "scs", "count", "prob"};
    for (int i = 0; i < 7; i++) {
        size_t want = n * (i == 5 ? 4 : 8);
        if (in->len[2 + i] != want)
            return sd_err_set(e, SD_EFORMAT,
                              "part %d (%s) is %zu bytes, expected n*%d = %zu (arrays of "
                              "unequal length)",
                              2 + i, names[i], in->len[2 + i], i == 5 ? 4 : 8, want);
    }
    const void *p[7];
    for (int i = 0; i < 7; i++)
        TRY(take_part(in, 2 + i, names[i], in->len[2 + i], m, &p[i], e));
    c->x = p[0];
    c->y = p[1];
    c->eta = p[2];
    c->rho = p[3];
    c->scs = p[4];
    c->count = p[5];
    c->prob = p[6];
    return SD_OK;
}

static int d_model(const hdr_t *h, const sd_parts_t *in, sd_msg_t *m, sd_err_t *e)
{
    sd_msg_model_t *d = &m->u.model;
    TRY(get_str(h, "series_id", d->series_id, SD_MSG_ID_MAX, true, e));
    TRY(get_i64(h, "frame_index", &d->frame_index, true, e));
    TRY(get_str(h, "model_id", d->model_id, SD_MSG_ID_MAX, true, e));
    TRY(get_str(h, "element", d->element, SD_MSG_NAME_MAX, true, e));
    TRY(get_natoms(h, &d->n_atoms, e));
    TRY(get_f64(h, "energy_eV", &d->energy_eV, e));
    TRY(get_f64(h, "energy_per_atom_eV", &d->energy_per_atom_eV, e));
    const msgpack_object *pv;
    TRY(map_find(h->map, "provenance", &pv, true, e));
    if (pv->type != MSGPACK_OBJECT_MAP)
        return wrong_type("provenance", "a map", pv, e);
    if (pv->via.map.size > SD_MSG_MAX_MAP)
        return sd_err_set(e, SD_ENOMEM, "field 'provenance' has %u entries (limit %d)",
                          pv->via.map.size, SD_MSG_MAX_MAP);
    hdr_t ph = {&pv->via.map};
    TRY(get_str(&ph, "method", d->prov.method, SD_MSG_NAME_MAX, true, e));
    TRY(get_i64(&ph, "iterations", &d->prov.iterations, false, e));
    TRY(get_u64(&ph, "seed", &d->prov.seed, false, e));
    TRY(get_str(&ph, "software", d->prov.software, SD_MSG_NAME_MAX, false, e));
    size_t n = (size_t)d->n_atoms;
    if (in->len[2] != n * 24)
        return sd_err_set(e, SD_EFORMAT,
                          "part 2 (pos) is %zu bytes, expected n_atoms*3*8 = %zu (atom arrays of "
                          "unequal length)",
                          in->len[2], n * 24);
    if (in->len[3] != 0 && in->len[3] != n * 4)
        return sd_err_set(e, SD_EFORMAT,
                          "part 3 (column_id) is %zu bytes, expected 0 or n_atoms*4 = %zu (atom "
                          "arrays of unequal length)",
                          in->len[3], n * 4);
    TRY(take_part(in, 2, "pos", n * 24, m, (const void **)&d->pos, e));
    if (in->len[3])
        TRY(take_part(in, 3, "column_id", n * 4, m, (const void **)&d->column_id, e));
    return SD_OK;
}

static int d_sim_job(const hdr_t *h, const sd_parts_t *in, int flags, sd_msg_t *m, sd_err_t *e)
{
    sd_msg_sim_job_t *j = &m->u.sim_job;
    TRY(get_str(h, "job_id", j->job_id, SD_MSG_ID_MAX, true, e));
    TRY(get_str(h, "model_id", j->model_id, SD_MSG_ID_MAX, true, e));
    TRY(get_str(h, "series_id", j->series_id, SD_MSG_ID_MAX, true, e));
    TRY(get_i64(h, "frame_index", &j->frame_index, true, e));
    TRY(get_str(h, "element", j->element, SD_MSG_NAME_MAX, true, e));
    TRY(get_f64(h, "temperature_K", &j->temperature_K, e));
    TRY(get_f64(h, "dt_fs", &j->dt_fs, e));
    TRY(get_i64(h, "thermalize_steps", &j->thermalize_steps, true, e));
    TRY(get_f64(h, "thermalize_dt_fs", &j->thermalize_dt_fs, e));
    TRY(get_f64(h, "production_time_fs", &j->production_time_fs, e));
    TRY(get_f64(h, "dump_every_fs", &j->dump_every_fs, e));
    TRY(get_u64(h, "seed", &j->seed, true, e));
    TRY(get_f64(h, "damp_ps", &j->damp_ps, e));
    TRY(get_natoms(h, &j->n_atoms, e));
    size_t n = (size_t)j->n_atoms;
    if (in->len[2] != n * 24)
        return sd_err_set(e, SD_EFORMAT, "part 2 (pos) is %zu bytes, expected n_atoms*3*8 = %zu",
                          in->len[2], n * 24);
    if (in->len[3] > SD_MSG_MAX_CHECKPOINT)
        return sd_err_set(e, SD_ENOMEM, "part 3 (checkpoint) is %zu bytes, over the limit of %u",
                          in->len[3], SD_MSG_MAX_CHECKPOINT);
    TRY(take_part(in, 2, "pos", n * 24, m, (const void **)&j->pos, e));
    j->checkpoint_len = in->len[3];
    if (!in->len[3])
        j->checkpoint = NULL;
    else if (flags & SD_DECODE_BORROW)
        j->checkpoint = in->data[3];
    else
        TRY(take_part(in, 3, "checkpoint", in->len[3], m, &j->checkpoint, e));
    return SD_OK;
}

static int d_snapshot(const hdr_t *h, const sd_parts_t *in, sd_msg_t *m, sd_err_t *e)
{
    sd_msg_snapshot_t *s = &m->u.snapshot;
    TRY(get_str(h, "job_id", s->job_id, SD_MSG_ID_MAX, true, e));
    TRY(get_i64(h, "frame_index", &s->frame_index, true, e));
    TRY(get_i64(h, "step", &s->step, true, e));
    TRY(get_f64(h, "time_fs", &s->time_fs, e));
    TRY(get_str(h, "element", s->element, SD_MSG_NAME_MAX, true, e));
    TRY(get_natoms(h, &s->n_atoms, e));
    TRY(get_f64(h, "temperature_K", &s->temperature_K, e));
    TRY(get_f64(h, "epot_eV", &s->epot_eV, e));
    TRY(get_f64(h, "ns_per_day", &s->ns_per_day, e));
    size_t n = (size_t)s->n_atoms;
    if (in->len[2] != n * 24)
        return sd_err_set(e, SD_EFORMAT, "part 2 (pos) is %zu bytes, expected n_atoms*3*8 = %zu",
                          in->len[2], n * 24);
    return take_part(in, 2, "pos", n * 24, m, (const void **)&s->pos, e);
}

static int d_stats(const hdr_t *h, sd_msg_t *m, sd_err_t *e)
{
    sd_msg_stats_t *s = &m->u.stats;
    TRY(get_u64(h, "seq", &s->seq, true, e));
    TRY(get_i64(h, "run_id", &s->run_id, true, e));
    const msgpack_object *o;
    TRY(map_find(h->map, "is_delta", &o, false, e));
    if (o) {
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return wrong_type("is_delta", "a bool", o, e);
        s->is_delta = o->via.boolean ? 1 : 0;
    }
    TRY(get_i32(h, "k", &s->k, e));
    TRY(check_i64(s->k, 1, SD_STATS_MAX_K, "k", e));
    size_t k = (size_t)s->k;
    TRY(map_find(h->map, "labels", &o, true, e));
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return wrong_type("labels", "an array of strings", o, e);
    if (o->via.array.size != k)
        return sd_err_set(e, SD_EFORMAT, "field 'labels' has %u entries, expected k = %zu",
                          o->via.array.size, k);
    for (size_t i = 0; i < k; i++)
        TRY(obj_str(&o->via.array.ptr[i], "labels", s->labels[i], SD_MSG_NAME_MAX, e));
    TRY(get_i64(h, "frames", &s->frames, true, e));
    TRY(get_bin(h, "counts", k * k * 8, true, m, (const void **)&s->counts, e));
    TRY(get_bin(h, "populations", k * 8, true, m, (const void **)&s->populations, e));
    TRY(get_bin(h, "pop_mean", k * 8, true, m, (const void **)&s->pop_mean, e));
    TRY(get_bin(h, "pop_std", k * 8, true, m, (const void **)&s->pop_std, e));
    TRY(get_bin(h, "P", k * k * 8, false, m, (const void **)&s->P, e));
    TRY(get_bin(h, "tau_ns", k * k * 8, false, m, (const void **)&s->tau_ns, e));
    TRY(map_find(h->map, "lens_fractions", &o, false, e));
    if (o) {
        if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3)
            return sd_err_set(e, SD_EFORMAT, "field 'lens_fractions' must be an array of 3 numbers");
        for (int i = 0; i < 3; i++)
            TRY(obj_f64(&o->via.array.ptr[i], "lens_fractions", &s->lens_fractions[i], e));
        s->has_lens = 1;
    }
    TRY(map_find(h->map, "progress", &o, true, e));
    if (o->type != MSGPACK_OBJECT_MAP)
        return wrong_type("progress", "a map", o, e);
    if (o->via.map.size > SD_MSG_MAX_MAP)
        return sd_err_set(e, SD_ENOMEM, "field 'progress' has %u entries (limit %d)",
                          o->via.map.size, SD_MSG_MAX_MAP);
    hdr_t ph = {&o->via.map};
    TRY(get_f64(&ph, "sim_ns", &s->sim_ns, e));
    TRY(get_f64(&ph, "target_ns", &s->target_ns, e));
    TRY(get_f64(&ph, "ns_per_day", &s->ns_per_day, e));
    TRY(map_find(h->map, "latency_s", &o, false, e));
    if (o) {
        if (o->type != MSGPACK_OBJECT_MAP)
            return wrong_type("latency_s", "a map", o, e);
        if (o->via.map.size > SD_STATS_MAX_LATENCY)
            return sd_err_set(e, SD_ENOMEM, "field 'latency_s' has %u entries (limit %d)",
                              o->via.map.size, SD_STATS_MAX_LATENCY);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            sd_msg_latency_t *l = &s->latency[i];
            TRY(obj_str(&kv->key, "latency_s key", l->name, SD_MSG_NAME_MAX, e));
            if (kv->val.type != MSGPACK_OBJECT_ARRAY || kv->val.via.array.size != 2)
                return sd_err_set(e, SD_EFORMAT,
                                  "field 'latency_s.%s' must be an array [p50, p99]", l->name);
            TRY(obj_f64(&kv->val.via.array.ptr[0], "latency_s p50", &l->p50_s, e));
            TRY(obj_f64(&kv->val.via.array.ptr[1], "latency_s p99", &l->p99_s, e));
        }
        s->n_latency = (int)o->via.map.size;
    }
    return SD_OK;
}

static int d_error(const hdr_t *h, sd_msg_error_t *r, sd_err_t *e)
{
    TRY(get_i32(h, "code", &r->code, e));
    TRY(get_str(h, "origin", r->origin, SD_MSG_ID_MAX, true, e));
    TRY(get_str(h, "message", r->message, SD_MSG_TEXT_MAX, true, e));
    TRY(get_str(h, "series_id", r->series_id, SD_MSG_ID_MAX, false, e));
    r->frame_index = -1;
    TRY(get_i64(h, "frame_index", &r->frame_index, false, e));
    TRY(get_str(h, "job_id", r->job_id, SD_MSG_ID_MAX, false, e));
    return SD_OK;
}

static int d_heartbeat(const hdr_t *h, sd_msg_heartbeat_t *b, sd_err_t *e)
{
    TRY(get_str(h, "sender", b->sender, SD_MSG_ID_MAX, true, e));
    TRY(get_str(h, "role", b->role, SD_MSG_NAME_MAX, true, e));
    TRY(get_str(h, "state", b->state, SD_MSG_NAME_MAX, true, e));
    TRY(get_i64(h, "t_ns", &b->t_ns, true, e));
    TRY(get_f64(h, "load", &b->load, e));
    return SD_OK;
}

/* Everything up to the type-specific fields: parts, topic, header, version. */
static int decode_common(const sd_parts_t *in, sd_msg_type_t expect, msgpack_unpacked *up,
                         hdr_t *h, sd_msg_t *out, sd_err_t *e)
{
    if (in->n < 0 || in->n > SD_PARTS_CAP)
        return sd_err_set(e, SD_EINVAL, "part count %d is outside 0..%d", in->n, SD_PARTS_CAP);
    if (in->n < 2)
        return sd_err_set(e, SD_EFORMAT,
                          "too few parts: %d (a message is [topic][header][payload...])", in->n);
    if (in->n > SD_MSG_MAX_PARTS)
        return sd_err_set(e, SD_EFORMAT, "too many parts: %d (limit %d)", in->n,
                          SD_MSG_MAX_PARTS);
    for (int i = 0; i < in->n; i++)
        if (!in->data[i] && in->len[i])
            return sd_err_set(e, SD_EINVAL, "part %d is NULL", i);
    if (in->len[1] > SD_MSG_MAX_HEADER)
        return sd_err_set(e, SD_ENOMEM, "header is %zu bytes, over the limit of %u", in->len[1],
                          SD_MSG_MAX_HEADER);
    if (in->len[1] == 0)
        return sd_err_set(e, SD_EFORMAT, "header part is empty (expected a msgpack map)");
    TRY(mp_scan(in->data[1], in->len[1], e));
    if ((in->data[1][0] & 0xf0) != 0x80 && in->data[1][0] != 0xde && in->data[1][0] != 0xdf)
        return sd_err_set(e, SD_EFORMAT, "header is not a msgpack map");
    size_t off = 0;
    msgpack_unpack_return ur =
        msgpack_unpack_next(up, (const char *)in->data[1], in->len[1], &off);
    if (ur != MSGPACK_UNPACK_SUCCESS || off != in->len[1] || up->data.type != MSGPACK_OBJECT_MAP)
        return sd_err_set(e, SD_EFORMAT, "header: msgpack nested deeper than 32 levels or malformed");
    h->map = &up->data.via.map;
    if (h->map->size > SD_MSG_MAX_MAP)
        return sd_err_set(e, SD_ENOMEM, "header map has %u entries (limit %d)", h->map->size,
                          SD_MSG_MAX_MAP);
    for (uint32_t i = 0; i < h->map->size; i++)
        if (h->map->ptr[i].key.type != MSGPACK_OBJECT_STR)
            return sd_err_set(e, SD_EFORMAT, "header map key %u is %s, not a string", i,
                              obj_type_name(&h->map->ptr[i].key));

    /* Version first: a newer major may have changed everything else. */
    const msgpack_object *v;
    TRY(map_find(h->map, "v", &v, true, e));
    if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size < 2 ||
        v->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        v->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return sd_err_set(e, SD_EFORMAT, "field 'v' must be an array [major, minor] of unsigned "
                                         "integers");
    uint64_t maj = v->via.array.ptr[0].via.u64, min = v->via.array.ptr[1].via.u64;
    if (maj > SD_PROTO_MAJOR)
        return sd_err_set(e, SD_EVERSION,
                          "protocol version %llu.%llu is newer than this stemdyn (%d.%d); "
                          "upgrade the receiver",
                          (unsigned long long)maj, (unsigned long long)min, SD_PROTO_MAJOR,
                          SD_PROTO_MINOR);
    if (maj < SD_PROTO_MAJOR)
        return sd_err_set(e, SD_EVERSION,
                          "protocol version %llu.%llu is older than this stemdyn (%d.%d) supports",
                          (unsigned long long)maj, (unsigned long long)min, SD_PROTO_MAJOR,
                          SD_PROTO_MINOR);
    if (min > UINT32_MAX)
        return sd_err_set(e, SD_ERANGE, "field 'v' minor version %llu is too large",
                          (unsigned long long)min);
    out->v_major = (uint32_t)maj;
    out->v_minor = (uint32_t)min;

    const msgpack_object *t;
    TRY(map_find(h->map, "type", &t, true, e));
    if (t->type != MSGPACK_OBJECT_STR)
        return wrong_type("type", "a string", t, e);
    sd_msg_type_t type = sd_msg_type_parse(t->via.str.ptr, t->via.str.size);
    if (type == SD_MSG_NONE)
        return sd_err_set(e, SD_ENOTFOUND, "unknown message type '%.*s'",
                          (int)(t->via.str.size > 64 ? 64 : t->via.str.size), t->via.str.ptr);
    const char *name = sd_msg_type_name(type);
    if (expect != SD_MSG_NONE && type != expect)
        return sd_err_set(e, SD_EFORMAT, "expected a '%s' message, got '%s'",
                          sd_msg_type_name(expect), name);
    out->type = type;

    /* Topic = type name, optionally "." and a suffix (SUB prefix filtering). */
    size_t nl = strlen(name), tl = in->len[0];
    const char *topic = (const char *)in->data[0];
    if (tl < nl || memcmp(topic, name, nl) || (tl > nl && topic[nl] != '.') || tl == nl + 1)
        return sd_err_set(e, SD_EFORMAT, "topic '%.*s' does not match type '%s'",
                          (int)(tl > 64 ? 64 : tl), topic, name);
    if (tl > nl) {
        if (tl - nl - 1 > SD_MSG_NAME_MAX)
            return sd_err_set(e, SD_ERANGE, "topic suffix is longer than %d characters",
                              SD_MSG_NAME_MAX);
        memcpy(out->topic_suffix, topic + nl + 1, tl - nl - 1);
        out->topic_suffix[tl - nl - 1] = '\0';
        if (strlen(out->topic_suffix) != tl - nl - 1)
            return sd_err_set(e, SD_EFORMAT, "topic contains a NUL byte");
    }

    /* Parts: exactly the type's count; a newer minor may append parts. */
    int want = type_parts[type];
    if (in->n < want)
        return sd_err_set(e, SD_EFORMAT, "too few parts: a '%s' message has %d, got %d", name,
                          want, in->n);
    if (in->n > want && min <= SD_PROTO_MINOR)
        return sd_err_set(e, SD_EFORMAT, "too many parts: a '%s' message has %d, got %d", name,
                          want, in->n);

    int64_t ts;
    TRY(get_i64(h, "ts", &ts, true, e));
    out->ts_ns = ts;
    return SD_OK;
}

int sd_msg_decode_as(const sd_parts_t *in, sd_msg_type_t expect, sd_msg_t *out, int flags,
                     sd_err_t *e)
{
    if (!out)
        return sd_err_set(e, SD_EINVAL, "sd_msg_decode: out is NULL");
    memset(out, 0, sizeof *out);
    if (!in)
        return sd_err_set(e, SD_EINVAL, "sd_msg_decode: in is NULL");
    if (expect < SD_MSG_NONE || expect >= SD_MSG_TYPE_COUNT)
        return sd_err_set(e, SD_EINVAL, "sd_msg_decode_as: %d is not a message type", (int)expect);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    hdr_t h = {NULL};
    int rc = decode_common(in, expect, &up, &h, out, e);
    if (rc == SD_OK) {
        switch (out->type) {
        case SD_MSG_SERIES_START: rc = d_series_start(&h, &out->u.series_start, e); break;
        case SD_MSG_FRAME: rc = d_frame(&h, in, flags, out, e); break;
        case SD_MSG_SERIES_END: rc = d_series_end(&h, &out->u.series_end, e); break;
        case SD_MSG_COLUMNS: rc = d_columns(&h, in, out, e); break;
        case SD_MSG_MODEL: rc = d_model(&h, in, out, e); break;
        case SD_MSG_SIM_JOB: rc = d_sim_job(&h, in, flags, out, e); break;
        case SD_MSG_SNAPSHOT: rc = d_snapshot(&h, in, out, e); break;
        case SD_MSG_STATS: rc = d_stats(&h, out, e); break;
        case SD_MSG_ERROR: rc = d_error(&h, &out->u.error, e); break;
        case SD_MSG_HEARTBEAT: rc = d_heartbeat(&h, &out->u.heartbeat, e); break;
        default: rc = sd_err_set(e, SD_EINVAL, "bad type"); break;
        }
        if (rc != SD_OK)
            sd_err_prefix(e, "%s", sd_msg_type_name(out->type));
        else
            rc = sd_msg_validate(out, e); /* ranges and cross-field rules */
    }
    msgpack_unpacked_destroy(&up);
    if (rc != SD_OK)
        sd_msg_free(out);
    return rc;
}

int sd_msg_decode(const sd_parts_t *in, sd_msg_t *out, int flags, sd_err_t *e)
{
    return sd_msg_decode_as(in, SD_MSG_NONE, out, flags, e);
}

void sd_dtype_to_f64(sd_dtype_t d, const void *src, size_t n, double *dst)
{
    const uint8_t *b = src;
    switch (d) {
    case SD_DTYPE_U8:
        for (size_t i = 0; i < n; i++)
            dst[i] = b[i];
        break;
    case SD_DTYPE_U16:
        for (size_t i = 0; i < n; i++) {
            uint16_t v;
            memcpy(&v, b + 2 * i, 2);
            dst[i] = v;
        }
        break;
    case SD_DTYPE_U32:
        for (size_t i = 0; i < n; i++) {
            uint32_t v;
            memcpy(&v, b + 4 * i, 4);
            dst[i] = v;
        }
        break;
    case SD_DTYPE_F32:
        for (size_t i = 0; i < n; i++) {
            float v;
            memcpy(&v, b + 4 * i, 4);
            dst[i] = v;
        }
        break;
    case SD_DTYPE_F64:
        memcpy(dst, b, n * sizeof *dst);
        break;
    default:
        memset(dst, 0, n * sizeof *dst);
    }
}
