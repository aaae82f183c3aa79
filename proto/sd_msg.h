/* sd_msg — stemdyn's wire messages: typed structs, encoding to a multipart
 * message [topic][msgpack header map][payload parts…] and strict decoding.
 * Every field (name, msgpack type, unit, range) is documented in PROTOCOL.md.
 *
 * Ownership contract
 *  - Encoding: sd_msg_encode() validates *m exactly as the decoder would (so a
 *    message that leaves is one a receiver accepts), then fills *out.  The
 *    topic and msgpack header are owned by *out; payload parts POINT INTO the
 *    caller's arrays (pixels, positions …), which must stay alive and unchanged
 *    until *out is sent or released with sd_parts_free().
 *  - Decoding: sd_msg_decode() reads only in->data[i][0..len[i]) and never
 *    trusts a size it has not checked against the bytes actually there.  All
 *    arrays and strings of the result are owned by *out (release with
 *    sd_msg_free()), except with SD_DECODE_BORROW where the byte payloads
 *    frame.pixels and sim_job.checkpoint point into *in, which must then
 *    outlive *out.  Typed arrays (double, int32, int64) are always copied to
 *    aligned memory.  On failure *out is left empty (nothing to free, but
 *    sd_msg_free on it is harmless).
 *  - Strings are fixed-size, NUL-terminated char arrays inside the structs.
 *  - Multi-byte payload data is little-endian (stemdyn supports LE hosts only). */
#ifndef SD_MSG_H
#define SD_MSG_H

#include "sd_err.h"

#include <stddef.h>
#include <stdint.h>

#define SD_PROTO_MAJOR 1
#define SD_PROTO_MINOR 0

/* Limits (a decoder refuses anything larger; see PROTOCOL.md "Limits"). */
#define SD_MSG_ID_MAX 128          /* series_id, job_id, model_id, sender, origin */
#define SD_MSG_NAME_MAX 64         /* element, labels, role, state, method, software … */
#define SD_MSG_TEXT_MAX 1024       /* free text: reason, error message, sample */
#define SD_MSG_MAX_PARTS 16        /* parts of one multipart message */
#define SD_PARTS_CAP 20            /* sd_parts_t capacity: a message + routing envelope */
#define SD_MSG_MAX_HEADER (1u << 20)   /* bytes of the msgpack header part */
#define SD_MSG_MAX_MAP 256         /* entries of any map in a header */
#define SD_MSG_MAX_DIM 65536       /* image width or height */
#define SD_MSG_MAX_ATOMS 1000000   /* atoms of model/sim_job/snapshot */
#define SD_MSG_MAX_COLUMNS 1000000 /* atomic columns of a columns message */
#define SD_MSG_MAX_CHECKPOINT (256u << 20) /* bytes of a sim_job checkpoint */
#define SD_STATS_MAX_K 64          /* groups (classes) of a stats message */
#define SD_STATS_MAX_LATENCY 16    /* latency entries of a stats message */

/* ---- multipart messages ---- */

/* A multipart message as views: part i is data[i][0..len[i]).  Part 0 is the
 * topic, part 1 the msgpack header, parts 2… the payload.  `priv_` owns
 * whatever the views point into when the parts came from sd_msg_encode or
 * sd_wire_recv; a hand-built sd_parts_t (priv_ = NULL) owns nothing. */
typedef struct sd_parts {
    int n;
    const uint8_t *data[SD_PARTS_CAP];
    size_t len[SD_PARTS_CAP];
    void *priv_;
    void (*free_)(void *priv); /* releases priv_ */
} sd_parts_t;

/* Releases what *p owns and empties it (n = 0).  NULL-safe, idempotent. */
void sd_parts_free(sd_parts_t *p);

/* A non-owning view of in's parts from index `skip` on (e.g. past a ROUTER
 * identity frame); *in keeps ownership and must outlive *view. */
int sd_parts_view(const sd_parts_t *in, int skip, sd_parts_t *view, sd_err_t *e);

/* ---- message types and pixel types ---- */

typedef enum sd_msg_type {
    SD_MSG_NONE = 0,
    SD_MSG_SERIES_START,
    SD_MSG_FRAME,
    SD_MSG_SERIES_END,
    SD_MSG_COLUMNS,
    SD_MSG_MODEL,
    SD_MSG_SIM_JOB,
    SD_MSG_SNAPSHOT,
    SD_MSG_STATS,
    SD_MSG_ERROR,
    SD_MSG_HEARTBEAT,
    SD_MSG_TYPE_COUNT
} sd_msg_type_t;

/* Wire name of a type ("frame" …), NULL for SD_MSG_NONE or out of range. */
const char *sd_msg_type_name(sd_msg_type_t t);
/* Type of a wire name, SD_MSG_NONE when unknown. */
sd_msg_type_t sd_msg_type_parse(const char *name, size_t len);

typedef enum sd_dtype {
    SD_DTYPE_NONE = 0,
    SD_DTYPE_U8, SD_DTYPE_U16, SD_DTYPE_U32, SD_DTYPE_F32, SD_DTYPE_F64
} sd_dtype_t;

/* Bytes per pixel (0 for an invalid dtype) and wire name ("u16" …). */
size_t sd_dtype_size(sd_dtype_t d);
const char *sd_dtype_name(sd_dtype_t d);
sd_dtype_t sd_dtype_parse(const char *name, size_t len);

/* Converts n little-endian pixels of dtype d at src to float64 (dst [n]). */
void sd_dtype_to_f64(sd_dtype_t d, const void *src, size_t n, double *dst);

/* ---- per-type contents (units in the field names; see PROTOCOL.md) ---- */

typedef struct sd_msg_series_start {
    char series_id[SD_MSG_ID_MAX + 1];  /* 1..128 of [A-Za-z0-9._-] */
    int32_t width, height;              /* pixels, 1..65536 */
    sd_dtype_t dtype;
    double pixel_size_A;                /* (0, 1e4] */
    double dwell_time_s;                /* (0, 1] */
    double frame_interval_s;            /* (0, 3600] */
    double beam_energy_keV;             /* (0, 1e4] */
    int has_zone_axis;
    int32_t zone_axis[3];               /* [uvw], |.| <= 100, not all 0 */
    uint64_t expected_frames;           /* 0 = unknown */
    char sample[SD_MSG_TEXT_MAX + 1];   /* optional free text, "" = none */
    char element[SD_MSG_NAME_MAX + 1];  /* optional chemical symbol, "" = none */
} sd_msg_series_start_t;

typedef struct sd_msg_frame {
    char series_id[SD_MSG_ID_MAX + 1];
    int64_t frame_index;                /* >= 0 */
    uint64_t seq;                       /* per-sender monotonic counter */
    int64_t t_acq_ns, t_send_ns;        /* Unix epoch ns, >= 0 */
    int32_t width, height;              /* repeated so a frame is self-describing */
    sd_dtype_t dtype;
    uint32_t crc32c;                    /* decode: verified; encode: computed, input ignored */
    const void *pixels;                 /* [height][width] dtype, little-endian */
    size_t pixels_len;                  /* bytes = width*height*sd_dtype_size(dtype) */
} sd_msg_frame_t;

typedef struct sd_msg_series_end {
    char series_id[SD_MSG_ID_MAX + 1];
    uint64_t frames_sent, frames_dropped;
    char reason[SD_MSG_TEXT_MAX + 1];   /* "" allowed */
} sd_msg_series_end_t;

typedef struct sd_msg_columns {
    char series_id[SD_MSG_ID_MAX + 1];
    int64_t frame_index;                /* >= 0 */
    double dx_A;                        /* Å per pixel of the source image, > 0 */
    int64_t n;                          /* 0..SD_MSG_MAX_COLUMNS */
    const double *x, *y;                /* [n] Å */
    const double *eta;                  /* [n] Gaussian height, image units */
    const double *rho;                  /* [n] Gaussian width Å, >= 0 */
    const double *scs;                  /* [n] image units·Å² */
    const int32_t *count;               /* [n] atoms in column, -1 = not counted */
    const double *prob;                 /* [n] posterior of that count, [0,1] */
} sd_msg_columns_t;

typedef struct sd_msg_provenance {
    char method[SD_MSG_NAME_MAX + 1];   /* required, non-empty */
    int64_t iterations;                 /* >= 0 */
    uint64_t seed;
    char software[SD_MSG_NAME_MAX + 1]; /* "" = not given */
} sd_msg_provenance_t;

typedef struct sd_msg_model {
    char series_id[SD_MSG_ID_MAX + 1];
    int64_t frame_index;                /* >= 0 */
    char model_id[SD_MSG_ID_MAX + 1];
    char element[SD_MSG_NAME_MAX + 1];  /* chemical symbol of every atom */
    int64_t n_atoms;                    /* 1..SD_MSG_MAX_ATOMS */
    const double *pos;                  /* [n_atoms][3] Å */
    const int32_t *column_id;           /* [n_atoms] >= -1, or NULL = not given */
    double energy_eV;
    double energy_per_atom_eV;          /* = energy_eV / n_atoms (rel. 1e-6) */
    sd_msg_provenance_t prov;
} sd_msg_model_t;

typedef struct sd_msg_sim_job {
    char job_id[SD_MSG_ID_MAX + 1];
    char model_id[SD_MSG_ID_MAX + 1];
    char series_id[SD_MSG_ID_MAX + 1];
    int64_t frame_index;                /* >= 0 */
    char element[SD_MSG_NAME_MAX + 1];
    double temperature_K;               /* (0, 1e4] */
    double dt_fs;                       /* (0, 100] */
    int64_t thermalize_steps;           /* >= 0 */
    double thermalize_dt_fs;            /* (0, 100] */
    double production_time_fs;          /* (0, 1e12] */
    double dump_every_fs;               /* (0, production_time_fs] */
    uint64_t seed;
    double damp_ps;                     /* thermostat damping time, (0, 1e6] */
    int64_t n_atoms;                    /* 1..SD_MSG_MAX_ATOMS */
    const double *pos;                  /* [n_atoms][3] Å */
    const void *checkpoint;             /* opaque resume blob, NULL/0 = fresh start */
    size_t checkpoint_len;
} sd_msg_sim_job_t;

typedef struct sd_msg_snapshot {
    char job_id[SD_MSG_ID_MAX + 1];
    int64_t frame_index;                /* run index (source frame), >= 0 */
    int64_t step;                       /* MD step, >= 0 */
    double time_fs;                     /* simulated time, >= 0 */
    char element[SD_MSG_NAME_MAX + 1];
    int64_t n_atoms;                    /* 1..SD_MSG_MAX_ATOMS */
    const double *pos;                  /* [n_atoms][3] Å */
    double temperature_K;               /* instantaneous, >= 0 */
    double epot_eV;                     /* potential energy */
    double ns_per_day;                  /* simulation speed, >= 0 */
} sd_msg_snapshot_t;

typedef struct sd_msg_latency {
    char name[SD_MSG_NAME_MAX + 1];     /* identifier, e.g. "frame_to_model" */
    double p50_s, p99_s;                /* 0 <= p50 <= p99 */
} sd_msg_latency_t;

typedef struct sd_msg_stats {
    uint64_t seq;                       /* publisher sequence number */
    int64_t run_id;                     /* run (frame_index), -1 = merged over runs */
    int is_delta;                       /* 1: counts are increments since seq-1 */
    int32_t k;                          /* groups, 1..SD_STATS_MAX_K */
    char labels[SD_STATS_MAX_K][SD_MSG_NAME_MAX + 1]; /* [k], non-empty */
    int64_t frames;                     /* frames (snapshots) analysed, >= 0 */
    const int64_t *counts;              /* [k][k] transitions i->j, >= 0 */
    const int64_t *populations;         /* [k] atoms per group in the latest frame, >= 0 */
    const double *pop_mean, *pop_std;   /* [k] fraction of atoms per group over frames, [0,1] */
    const double *P;                    /* [k][k] row-normalised counts, or NULL */
    const double *tau_ns;               /* [k][k] lifetimes ns (>= 0, -1 = undefined), or NULL */
    int has_lens;
    double lens_fractions[3];           /* LENS classes (static, intermediate, dynamic), [0,1] */
    double sim_ns, target_ns, ns_per_day; /* progress, >= 0 */
    int n_latency;                      /* 0..SD_STATS_MAX_LATENCY */
    sd_msg_latency_t latency[SD_STATS_MAX_LATENCY];
} sd_msg_stats_t;

typedef struct sd_msg_error {
    int32_t code;                       /* sd_status value (negative) or other */
    char origin[SD_MSG_ID_MAX + 1];     /* sender id, non-empty */
    char message[SD_MSG_TEXT_MAX + 1];  /* non-empty human-readable text */
    char series_id[SD_MSG_ID_MAX + 1];  /* "" = none */
    int64_t frame_index;                /* -1 = none */
    char job_id[SD_MSG_ID_MAX + 1];     /* "" = none */
} sd_msg_error_t;

typedef struct sd_msg_heartbeat {
    char sender[SD_MSG_ID_MAX + 1];
    char role[SD_MSG_NAME_MAX + 1];     /* identifier, e.g. "worker" */
    char state[SD_MSG_NAME_MAX + 1];    /* identifier, e.g. "idle" */
    int64_t t_ns;                       /* Unix epoch ns, >= 0 */
    double load;                        /* >= 0 (e.g. busy fraction or queue length) */
} sd_msg_heartbeat_t;

/* A decoded or to-be-encoded message: a tagged union. */
typedef struct sd_msg {
    sd_msg_type_t type;
    uint32_t v_major, v_minor;          /* decode: as received; encode: ignored (1.0 sent) */
    int64_t ts_ns;                      /* send time, Unix epoch ns; encode: 0 = now */
    char topic_suffix[SD_MSG_NAME_MAX + 1]; /* topic = type["." suffix]; "" = none */
    union {
        sd_msg_series_start_t series_start;
        sd_msg_frame_t frame;
        sd_msg_series_end_t series_end;
        sd_msg_columns_t columns;
        sd_msg_model_t model;
        sd_msg_sim_job_t sim_job;
        sd_msg_snapshot_t snapshot;
        sd_msg_stats_t stats;
        sd_msg_error_t error;
        sd_msg_heartbeat_t heartbeat;
    } u;
    void *owned_[8];                    /* private: memory sd_msg_free releases */
} sd_msg_t;

/* Zeroes *m and sets its type (encoding starts here). */
void sd_msg_init(sd_msg_t *m, sd_msg_type_t type);

/* Releases the memory a decode gave *m and zeroes it.  NULL-safe. */
void sd_msg_free(sd_msg_t *m);

/* Checks every field of *m (types, ranges, finiteness, cross-field sizes);
 * SD_OK or SD_EFORMAT/SD_ERANGE/SD_ENOMEM/SD_EINVAL naming the field. */
int sd_msg_validate(const sd_msg_t *m, sd_err_t *e);

/* Validates *m and encodes it into *out (see the ownership contract above).
 * *out is overwritten without being freed first; on failure it is empty. */
int sd_msg_encode(const sd_msg_t *m, sd_parts_t *out, sd_err_t *e);

enum { SD_DECODE_BORROW = 1 };

/* Strictly decodes *in into *out.  Errors: SD_EFORMAT (structure, missing or
 * mistyped field, sizes), SD_EVERSION (newer major), SD_ERANGE (values,
 * NaN/inf, CRC mismatch), SD_ENOMEM (over a limit), SD_ENOTFOUND (unknown
 * message type: a newer minor version may add types; receivers log and skip).
 * Unknown header fields are ignored. */
int sd_msg_decode(const sd_parts_t *in, sd_msg_t *out, int flags, sd_err_t *e);

/* As sd_msg_decode but refuses (SD_EFORMAT) any type other than `expect`. */
int sd_msg_decode_as(const sd_parts_t *in, sd_msg_type_t expect, sd_msg_t *out, int flags,
                     sd_err_t *e);

#endif
