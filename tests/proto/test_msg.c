/* sd_msg: round trip of every message type, and rejection of malformed
 * messages with the right status code AND a message naming the problem. */
#include "sd_crc32c.h"
#include "sd_msg.h"
#include "sdtest.h"

#include <msgpack.h>
#include <stdint.h>

#include "msg_samples.h"
#include "fuzz/fuzz_msg_common.h"

#include <dirent.h>

/* ---------- round trips ---------- */

static int same_bytes(const void *a, const void *b, size_t n)
{
    return (!n) || (a && b && !memcmp(a, b, n));
}

static void roundtrip_one(sdt_t *t, sd_msg_type_t type, int flags)
{
    sd_msg_t m, d;
    sd_parts_t p;
    sd_err_t e = {0, ""};
    make(&m, type);
    int rc = sd_msg_encode(&m, &p, &e);
    CHECK_MSG(t, rc == SD_OK, "encode %s: %s", sd_msg_type_name(type), e.msg);
    if (rc != SD_OK)
        return;
    char topic[80];
    snprintf(topic, sizeof topic, "%.*s", (int)p.len[0], (const char *)p.data[0]);
    CHECK(t, !strncmp(topic, sd_msg_type_name(type), strlen(sd_msg_type_name(type))));
    rc = sd_msg_decode(&p, &d, flags, &e);
    CHECK_MSG(t, rc == SD_OK, "decode %s: %s", sd_msg_type_name(type), e.msg);
    if (rc != SD_OK) {
        sd_parts_free(&p);
        return;
    }
    CHECK_EQ_INT(t, d.type, type);
    CHECK_EQ_INT(t, d.v_major, 1);
    CHECK_EQ_INT(t, d.v_minor, 0);
    CHECK_EQ_INT(t, d.ts_ns, m.ts_ns);
    CHECK(t, !strcmp(d.topic_suffix, m.topic_suffix));
    switch (type) {
    case SD_MSG_SERIES_START: {
        sd_msg_series_start_t *a = &m.u.series_start, *b = &d.u.series_start;
        CHECK(t, !strcmp(a->series_id, b->series_id));
        CHECK_EQ_INT(t, b->width, W);
        CHECK_EQ_INT(t, b->height, H);
        CHECK_EQ_INT(t, b->dtype, SD_DTYPE_U16);
        CHECK(t, b->pixel_size_A == a->pixel_size_A && b->dwell_time_s == a->dwell_time_s &&
                     b->frame_interval_s == a->frame_interval_s &&
                     b->beam_energy_keV == a->beam_energy_keV);
        CHECK(t, b->has_zone_axis && b->zone_axis[0] == 1 && b->zone_axis[1] == 1 &&
                     b->zone_axis[2] == 0);
        CHECK_EQ_INT(t, b->expected_frames, 100);
        CHECK(t, !strcmp(a->sample, b->sample) && !strcmp(b->element, "Au"));
        break;
    }
    case SD_MSG_FRAME: {
        sd_msg_frame_t *b = &d.u.frame;
        CHECK(t, !strcmp(b->series_id, "s1"));
        CHECK_EQ_INT(t, b->frame_index, 42);
        CHECK(t, b->seq == 1234567890123ull);
        CHECK_EQ_INT(t, b->t_acq_ns, m.u.frame.t_acq_ns);
        CHECK_EQ_INT(t, b->t_send_ns, m.u.frame.t_send_ns);
        CHECK_EQ_INT(t, b->width, W);
        CHECK_EQ_INT(t, b->height, H);
        CHECK_EQ_INT(t, b->dtype, SD_DTYPE_U16);
        CHECK_EQ_INT(t, b->crc32c, sd_crc32c(0, g_pix, sizeof g_pix));
        CHECK_EQ_INT(t, b->pixels_len, sizeof g_pix);
        CHECK(t, same_bytes(b->pixels, g_pix, sizeof g_pix));
        if (flags & SD_DECODE_BORROW)
            CHECK(t, b->pixels == (const void *)p.data[2]);
        else
            CHECK(t, b->pixels != (const void *)p.data[2]);
        break;
    }
    case SD_MSG_SERIES_END: {
        sd_msg_series_end_t *b = &d.u.series_end;
        CHECK(t, !strcmp(b->series_id, "s1") && !strcmp(b->reason, "acquisition finished"));
        CHECK(t, b->frames_sent == 99 && b->frames_dropped == 1);
        break;
    }
    case SD_MSG_COLUMNS: {
        sd_msg_columns_t *b = &d.u.columns;
        CHECK(t, b->n == NC && b->frame_index == 3 && b->dx_A == 0.1);
        CHECK(t, same_bytes(b->x, g_cx, sizeof g_cx) && same_bytes(b->y, g_cy, sizeof g_cy) &&
                     same_bytes(b->eta, g_eta, sizeof g_eta) &&
                     same_bytes(b->rho, g_rho, sizeof g_rho) &&
                     same_bytes(b->scs, g_scs, sizeof g_scs) &&
                     same_bytes(b->count, g_count, sizeof g_count) &&
                     same_bytes(b->prob, g_prob, sizeof g_prob));
        break;
    }
    case SD_MSG_MODEL: {
        sd_msg_model_t *a = &m.u.model, *b = &d.u.model;
        CHECK(t, !strcmp(b->model_id, a->model_id) && !strcmp(b->element, "Au"));
        CHECK(t, b->n_atoms == NA && same_bytes(b->pos, g_pos, sizeof g_pos));
        CHECK(t, same_bytes(b->column_id, g_colid, sizeof g_colid));
        CHECK(t, b->energy_eV == a->energy_eV && b->energy_per_atom_eV == a->energy_per_atom_eV);
        CHECK(t, !strcmp(b->prov.method, a->prov.method) && b->prov.iterations == 5000 &&
                     b->prov.seed == a->prov.seed && !strcmp(b->prov.software, a->prov.software));
        break;
    }
    case SD_MSG_SIM_JOB: {
        sd_msg_sim_job_t *a = &m.u.sim_job, *b = &d.u.sim_job;
        CHECK(t, !strcmp(b->job_id, a->job_id) && !strcmp(b->model_id, a->model_id) &&
                     !strcmp(b->series_id, a->series_id) && b->frame_index == 3);
        CHECK(t, b->temperature_K == 300 && b->dt_fs == 5 && b->thermalize_steps == 1000 &&
                     b->thermalize_dt_fs == 1 && b->production_time_fs == 1e6 &&
                     b->dump_every_fs == 1e3 && b->seed == 77 && b->damp_ps == 0.1);
        CHECK(t, b->n_atoms == NA && same_bytes(b->pos, g_pos, sizeof g_pos));
        CHECK(t, b->checkpoint_len == sizeof g_ckpt &&
                     same_bytes(b->checkpoint, g_ckpt, sizeof g_ckpt));
        break;
    }
    case SD_MSG_SNAPSHOT: {
        sd_msg_snapshot_t *b = &d.u.snapshot;
        CHECK(t, !strcmp(b->job_id, "job-7") && b->frame_index == 3 && b->step == 200000);
        CHECK(t, b->time_fs == 1e6 && b->temperature_K == 301.5 && b->epot_eV == -14.9 &&
                     b->ns_per_day == 250);
        CHECK(t, b->n_atoms == NA && same_bytes(b->pos, g_pos, sizeof g_pos));
        break;
    }
    case SD_MSG_STATS: {
        sd_msg_stats_t *a = &m.u.stats, *b = &d.u.stats;
        CHECK(t, b->seq == 17 && b->run_id == -1 && b->is_delta == 1 && b->k == K &&
                     b->frames == 1000);
        for (int i = 0; i < K; i++)
            CHECK(t, !strcmp(a->labels[i], b->labels[i]));
        CHECK(t, same_bytes(b->counts, g_counts, sizeof g_counts) &&
                     same_bytes(b->populations, g_pops, sizeof g_pops) &&
                     same_bytes(b->pop_mean, g_pm, sizeof g_pm) &&
                     same_bytes(b->pop_std, g_ps, sizeof g_ps) &&
                     same_bytes(b->P, g_P, sizeof g_P) && same_bytes(b->tau_ns, g_tau, sizeof g_tau));
        CHECK(t, b->has_lens && b->lens_fractions[1] == 0.3);
        CHECK(t, b->sim_ns == 12.5 && b->target_ns == 100 && b->ns_per_day == 300);
        CHECK_EQ_INT(t, b->n_latency, 2);
        CHECK(t, !strcmp(b->latency[1].name, "model_to_stats") && b->latency[0].p99_s == 0.9);
        CHECK(t, !strcmp(topic, "stats.all"));
        break;
    }
    case SD_MSG_ERROR: {
        sd_msg_error_t *a = &m.u.error, *b = &d.u.error;
        CHECK(t, b->code == SD_EFORMAT && !strcmp(a->origin, b->origin) &&
                     !strcmp(a->message, b->message) && !strcmp(b->series_id, "s1") &&
                     b->frame_index == 7 && b->job_id[0] == 0);
        break;
    }
    case SD_MSG_HEARTBEAT: {
        sd_msg_heartbeat_t *a = &m.u.heartbeat, *b = &d.u.heartbeat;
        CHECK(t, !strcmp(a->sender, b->sender) && !strcmp(b->role, "worker") &&
                     !strcmp(b->state, "busy") && b->t_ns == a->t_ns && b->load == 0.75);
        break;
    }
    default: break;
    }
    /* decode_as accepts the right type. */
    sd_msg_t d2;
    CHECK_EQ_INT(t, sd_msg_decode_as(&p, type, &d2, 0, &e), SD_OK);
    sd_msg_free(&d2);
    sd_msg_free(&d);
    sd_parts_free(&p);
    CHECK_EQ_INT(t, p.n, 0);
}

static void test_roundtrip_all_types(sdt_t *t)
{
    for (int ty = 1; ty < SD_MSG_TYPE_COUNT; ty++) {
        roundtrip_one(t, (sd_msg_type_t)ty, 0);
        roundtrip_one(t, (sd_msg_type_t)ty, SD_DECODE_BORROW);
    }
}

static void test_optional_fields_absent(sdt_t *t)
{
    sd_msg_t m, d;
    sd_parts_t p;
    sd_err_t e;
    /* series_start without zone axis / sample / element; model without column_id;
     * sim_job without checkpoint; stats without P, tau, lens, latency. */
    make(&m, SD_MSG_SERIES_START);
    m.u.series_start.has_zone_axis = 0;
    m.u.series_start.sample[0] = 0;
    m.u.series_start.element[0] = 0;
    CHECK_EQ_INT(t, sd_msg_encode(&m, &p, &e), SD_OK);
    CHECK_EQ_INT(t, sd_msg_decode(&p, &d, 0, &e), SD_OK);
    CHECK(t, !d.u.series_start.has_zone_axis && !d.u.series_start.sample[0]);
    sd_msg_free(&d);
    sd_parts_free(&p);

    make(&m, SD_MSG_MODEL);
    m.u.model.column_id = NULL;
    CHECK_EQ_INT(t, sd_msg_encode(&m, &p, &e), SD_OK);
    CHECK_EQ_INT(t, p.len[3], 0);
    CHECK_EQ_INT(t, sd_msg_decode(&p, &d, 0, &e), SD_OK);
    CHECK(t, d.u.model.column_id == NULL);
    sd_msg_free(&d);
    sd_parts_free(&p);

    make(&m, SD_MSG_SIM_JOB);
    m.u.sim_job.checkpoint = NULL;
    m.u.sim_job.checkpoint_len = 0;
    CHECK_EQ_INT(t, sd_msg_encode(&m, &p, &e), SD_OK);
    CHECK_EQ_INT(t, sd_msg_decode(&p, &d, 0, &e), SD_OK);
    CHECK(t, d.u.sim_job.checkpoint == NULL && d.u.sim_job.checkpoint_len == 0);
    sd_msg_free(&d);
    sd_parts_free(&p);

    make(&m, SD_MSG_STATS);
    m.u.stats.P = NULL;
    m.u.stats.tau_ns = NULL;
    m.u.stats.has_lens = 0;
    m.u.stats.n_latency = 0;
    m.topic_suffix[0] = 0;
    CHECK_EQ_INT(t, sd_msg_encode(&m, &p, &e), SD_OK);
    CHECK_EQ_INT(t, sd_msg_decode(&p, &d, 0, &e), SD_OK);
    CHECK(t, d.u.stats.P == NULL && d.u.stats.tau_ns == NULL && !d.u.stats.has_lens &&
                 d.u.stats.n_latency == 0 && d.topic_suffix[0] == 0);
    sd_msg_free(&d);
    sd_parts_free(&p);

    /* An error without references decodes frame_index as -1. */
    make(&m, SD_MSG_ERROR);
    m.u.error.series_id[0] = 0;
    m.u.error.frame_index = -1;
    CHECK_EQ_INT(t, sd_msg_encode(&m, &p, &e), SD_OK);
    CHECK_EQ_INT(t, sd_msg_decode(&p, &d, 0, &e), SD_OK);
    CHECK(t, d.u.error.frame_index == -1 && d.u.error.series_id[0] == 0);
    sd_msg_free(&d);
    sd_parts_free(&p);
}

/* ---------- malformed messages ---------- */

/* Header editing: re-packs the header of `src` with `key` removed (fn NULL)
 * or its value replaced by what fn packs (added when absent). */
typedef void (*packfn)(msgpack_packer *pk);

typedef struct edit {
    msgpack_sbuffer sb;
    sd_parts_t parts; /* views: src's parts with the header replaced */
} edit_t;

static void pk_s(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void edit_header(edit_t *ed, const sd_parts_t *src, const char *key, packfn fn)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    msgpack_unpack_next(&up, (const char *)src->data[1], src->len[1], &off);
    const msgpack_object_map *map = &up.data.via.map;
    int found = 0;
    for (uint32_t i = 0; i < map->size; i++)
        if (map->ptr[i].key.via.str.size == strlen(key) &&
            !memcmp(map->ptr[i].key.via.str.ptr, key, strlen(key)))
            found = 1;
    msgpack_sbuffer_init(&ed->sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &ed->sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, map->size + (found ? (fn ? 0 : -1) : (fn ? 1 : 0)));
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object_kv *kv = &map->ptr[i];
        if (kv->key.via.str.size == strlen(key) && !memcmp(kv->key.via.str.ptr, key, strlen(key))) {
            if (fn) {
                pk_s(&pk, key);
                fn(&pk);
            }
            continue;
        }
        msgpack_pack_object(&pk, kv->key);
        msgpack_pack_object(&pk, kv->val);
    }
    if (!found && fn) {
        pk_s(&pk, key);
        fn(&pk);
    }
    msgpack_unpacked_destroy(&up);
    ed->parts = *src;
    ed->parts.priv_ = NULL;
    ed->parts.free_ = NULL;
    ed->parts.data[1] = (const uint8_t *)ed->sb.data;
    ed->parts.len[1] = ed->sb.size;
}

static void edit_done(edit_t *ed)
{
    msgpack_sbuffer_destroy(&ed->sb);
}

/* Decodes `in` and checks the status and a fragment of the message. */
#define EXPECT_FAIL(t, in, code, frag)                                                       \
    do {                                                                                     \
        sd_msg_t d_;                                                                         \
        sd_err_t e_ = {0, ""};                                                               \
        int rc_ = sd_msg_decode((in), &d_, 0, &e_);                                           \
        CHECK_MSG(t, rc_ == (code), "status %d (%s), expected %d; message: %s", rc_,         \
                  sd_err_name(rc_), (code), e_.msg);                                         \
        CHECK_STR_CONTAINS(t, e_.msg, frag);                                                 \
        if (getenv("SDT_VERBOSE"))                                                           \
            fprintf(stderr, "  [%s] %s\n", sd_err_name(rc_), e_.msg);                        \
        if (rc_ == SD_OK)                                                                    \
            sd_msg_free(&d_);                                                                \
        else                                                                                 \
            CHECK(t, d_.owned_[0] == NULL && d_.type == SD_MSG_NONE);                        \
    } while (0)

static void v_str_abc(msgpack_packer *pk) { pk_s(pk, "abc"); }
static void v_neg5(msgpack_packer *pk) { msgpack_pack_int(pk, -5); }
static void v_nan(msgpack_packer *pk) { msgpack_pack_double(pk, NAN); }
static void v_inf(msgpack_packer *pk) { msgpack_pack_double(pk, INFINITY); }
static void v_bogus(msgpack_packer *pk) { pk_s(pk, "bogus"); }
static void v_ver2(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, 2);
    msgpack_pack_int(pk, 3);
}
static void v_ver0(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, 0);
    msgpack_pack_int(pk, 9);
}
static void v_ver_minor9(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, 9);
}
static void v_2e6(msgpack_packer *pk) { msgpack_pack_int64(pk, 2000000); }
static void v_zero(msgpack_packer *pk) { msgpack_pack_int(pk, 0); }
static void v_bad_id(msgpack_packer *pk) { pk_s(pk, "run/../etc"); }
static void v_long_id(msgpack_packer *pk)
{
    char s[201];
    memset(s, 'a', 200);
    s[200] = 0;
    pk_s(pk, s);
}
static void v_u64(msgpack_packer *pk) { pk_s(pk, "u64"); }
static void v_big_crc(msgpack_packer *pk) { msgpack_pack_uint64(pk, 0x100000000ull); }
static void v_bad_utf8(msgpack_packer *pk) { pk_s(pk, "bad \xff\xfe utf8"); }
static void v_huge_pe(msgpack_packer *pk) { msgpack_pack_double(pk, 99.0); }
static void v_bin7(msgpack_packer *pk)
{
    msgpack_pack_bin(pk, 7);
    msgpack_pack_bin_body(pk, "1234567", 7);
}
static void v_labels2(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    pk_s(pk, "a");
    pk_s(pk, "b");
}
static void v_P_bad(msgpack_packer *pk)
{
    double P[K * K] = {0.5, 0.1, 0, 0.2, 0.7, 0.1, 0, 0, 1};
    msgpack_pack_bin(pk, sizeof P);
    msgpack_pack_bin_body(pk, P, sizeof P);
}
static void v_tau_nan(msgpack_packer *pk)
{
    double tau[K * K] = {1, 1, 1, 1, NAN, 1, 1, 1, 1};
    msgpack_pack_bin(pk, sizeof tau);
    msgpack_pack_bin_body(pk, tau, sizeof tau);
}
static void v_dump_big(msgpack_packer *pk) { msgpack_pack_double(pk, 2e6); }
static void v_map(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    pk_s(pk, "x");
    msgpack_pack_int(pk, 1);
}

/* Encodes a valid message of `type` into *p (caller frees). */
static void valid(sd_msg_type_t type, sd_parts_t *p)
{
    sd_msg_t m;
    make(&m, type);
    sd_err_t e;
    if (sd_msg_encode(&m, p, &e) != SD_OK) {
        fprintf(stderr, "valid(%d): %s\n", (int)type, e.msg);
        abort();
    }
}

#define EDIT_FAIL(t, type, key, fn, code, frag)                                              \
    do {                                                                                     \
        sd_parts_t p_;                                                                       \
        edit_t ed_;                                                                          \
        valid(type, &p_);                                                                    \
        edit_header(&ed_, &p_, key, fn);                                                     \
        EXPECT_FAIL(t, &ed_.parts, code, frag);                                              \
        edit_done(&ed_);                                                                     \
        sd_parts_free(&p_);                                                                  \
    } while (0)

static void test_malformed_header_structure(sdt_t *t)
{
    sd_parts_t p, q;
    valid(SD_MSG_FRAME, &p);

    /* 1 truncated msgpack header */
    q = p;
    q.priv_ = NULL;
    q.len[1] = p.len[1] / 2;
    EXPECT_FAIL(t, &q, SD_EFORMAT, "truncated");

    /* 2 header not a map */
    static const uint8_t arr[] = {0x92, 0x01, 0x02};
    q.data[1] = arr;
    q.len[1] = sizeof arr;
    EXPECT_FAIL(t, &q, SD_EFORMAT, "not a msgpack map");

    /* 3 empty header */
    q.len[1] = 0;
    EXPECT_FAIL(t, &q, SD_EFORMAT, "header part is empty");

    /* 4 hostile element count: 5 bytes claiming 2^32-1 array elements */
    static const uint8_t hostile[] = {0x81, 0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff};
    q.data[1] = hostile;
    q.len[1] = sizeof hostile;
    EXPECT_FAIL(t, &q, SD_EFORMAT, "declares");

    /* 5 invalid msgpack byte 0xc1 */
    static const uint8_t c1[] = {0x81, 0xa1, 'x', 0xc1};
    q.data[1] = c1;
    q.len[1] = sizeof c1;
    EXPECT_FAIL(t, &q, SD_EFORMAT, "invalid msgpack byte 0xc1");

    /* 6 trailing bytes after the map */
    uint8_t trail[4096];
    memcpy(trail, p.data[1], p.len[1]);
    trail[p.len[1]] = 0x00;
    q.data[1] = trail;
    q.len[1] = p.len[1] + 1;
    EXPECT_FAIL(t, &q, SD_EFORMAT, "trailing");

    /* 7 nesting deeper than msgpack-c's stack: {"x": [[[[...]]]]} */
    uint8_t deep[200];
    deep[0] = 0x81;
    deep[1] = 0xa1;
    deep[2] = 'x';
    for (int i = 3; i < 199; i++)
        deep[i] = 0x91;
    deep[199] = 0x00;
    q.data[1] = deep;
    q.len[1] = sizeof deep;
    EXPECT_FAIL(t, &q, SD_EFORMAT, "nested deeper");

    /* 8 non-string key */
    static const uint8_t intkey[] = {0x81, 0x01, 0x02};
    q.data[1] = intkey;
    q.len[1] = sizeof intkey;
    EXPECT_FAIL(t, &q, SD_EFORMAT, "not a string");

    /* 9 too few parts */
    q = p;
    q.priv_ = NULL;
    q.n = 1;
    EXPECT_FAIL(t, &q, SD_EFORMAT, "too few parts");
    q.n = 2; /* a frame without its pixel part */
    EXPECT_FAIL(t, &q, SD_EFORMAT, "too few parts: a 'frame' message has 3, got 2");

    /* 10 too many parts (frame + 1 unexpected part; and over the hard limit) */
    q.n = 4;
    q.data[3] = (const uint8_t *)"x";
    q.len[3] = 1;
    EXPECT_FAIL(t, &q, SD_EFORMAT, "too many parts: a 'frame' message has 3, got 4");
    q.n = SD_MSG_MAX_PARTS + 1;
    for (int i = 3; i < q.n; i++) {
        q.data[i] = (const uint8_t *)"x";
        q.len[i] = 1;
    }
    EXPECT_FAIL(t, &q, SD_EFORMAT, "too many parts: 17");

    /* 11 topic does not match the type */
    q = p;
    q.priv_ = NULL;
    q.data[0] = (const uint8_t *)"frames";
    q.len[0] = 6;
    EXPECT_FAIL(t, &q, SD_EFORMAT, "topic 'frames' does not match type 'frame'");

    /* 12 header map with more than 256 entries */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 300);
    for (int i = 0; i < 300; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        pk_s(&pk, key);
        msgpack_pack_int(&pk, i);
    }
    q.data[1] = (const uint8_t *)sb.data;
    q.len[1] = sb.size;
    EXPECT_FAIL(t, &q, SD_ENOMEM, "300 entries");
    msgpack_sbuffer_destroy(&sb);

    /* decode_as with the wrong expected type */
    sd_msg_t d;
    sd_err_t e;
    CHECK_EQ_INT(t, sd_msg_decode_as(&p, SD_MSG_MODEL, &d, 0, &e), SD_EFORMAT);
    CHECK_STR_CONTAINS(t, e.msg, "expected a 'model' message, got 'frame'");
    sd_parts_free(&p);
}

static void dup_ts(msgpack_packer *pk) { msgpack_pack_int(pk, 5); }
static void v_utf8_ok(msgpack_packer *pk) { pk_s(pk, "2-byte \xc3\x85, 3-byte \xe2\x86\x92, 4-byte \xf0\x9f\x94\xac"); }
static void v_overlong(msgpack_packer *pk) { pk_s(pk, "overlong \xc0\xaf"); }
static void v_surrogate(msgpack_packer *pk) { pk_s(pk, "surrogate \xed\xa0\x80"); }
static void v_ctrl(msgpack_packer *pk) { pk_s(pk, "bell \x07"); }
static void v_zone_2(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, 1);
}
static void v_zone_000(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    for (int i = 0; i < 3; i++)
        msgpack_pack_int(pk, 0);
}
static void v_lens_big(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    for (int i = 0; i < 3; i++)
        msgpack_pack_double(pk, 0.5);
}
static void v_true(msgpack_packer *pk) { msgpack_pack_true(pk); }
static void v_nil(msgpack_packer *pk) { msgpack_pack_nil(pk); }
static void v_lat_bad(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    pk_s(pk, "x_to_y");
    msgpack_pack_array(pk, 2);
    msgpack_pack_double(pk, 2.0);
    msgpack_pack_double(pk, 1.0);
}
static void v_u64max(msgpack_packer *pk) { msgpack_pack_uint64(pk, UINT64_MAX); }
static void v_symbol(msgpack_packer *pk) { pk_s(pk, "gold"); }

static void test_malformed_more(sdt_t *t)
{
    /* Free text: valid multi-byte UTF-8 passes; overlong, surrogates, controls fail. */
    {
        sd_parts_t p;
        edit_t ed;
        valid(SD_MSG_SERIES_END, &p);
        edit_header(&ed, &p, "reason", v_utf8_ok);
        sd_msg_t d;
        sd_err_t e;
        CHECK_EQ_INT(t, sd_msg_decode(&ed.parts, &d, 0, &e), SD_OK);
        CHECK_STR_CONTAINS(t, d.u.series_end.reason, "\xf0\x9f\x94\xac");
        sd_msg_free(&d);
        edit_done(&ed);
        sd_parts_free(&p);
    }
    EDIT_FAIL(t, SD_MSG_SERIES_END, "reason", v_overlong, SD_ERANGE, "not valid UTF-8");
    EDIT_FAIL(t, SD_MSG_SERIES_END, "reason", v_surrogate, SD_ERANGE, "not valid UTF-8");
    EDIT_FAIL(t, SD_MSG_ERROR, "message", v_ctrl, SD_ERANGE, "control character 0x07");
    EDIT_FAIL(t, SD_MSG_ERROR, "message", v_nil, SD_EFORMAT, "field 'message' must be a string, got nil");
    /* zone axis shape and value */
    EDIT_FAIL(t, SD_MSG_SERIES_START, "zone_axis", v_zone_2, SD_EFORMAT, "array of 3 integers");
    EDIT_FAIL(t, SD_MSG_SERIES_START, "zone_axis", v_zone_000, SD_ERANGE, "must not be [0, 0, 0]");
    EDIT_FAIL(t, SD_MSG_SERIES_START, "element", v_symbol, SD_ERANGE, "is not a chemical symbol");
    /* stats structure */
    EDIT_FAIL(t, SD_MSG_STATS, "lens_fractions", v_lens_big, SD_ERANGE, "sums to 1.5 > 1");
    EDIT_FAIL(t, SD_MSG_STATS, "is_delta", v_zero, SD_EFORMAT, "field 'is_delta' must be a bool");
    EDIT_FAIL(t, SD_MSG_STATS, "progress", v_true, SD_EFORMAT, "field 'progress' must be a map");
    EDIT_FAIL(t, SD_MSG_STATS, "latency_s", v_lat_bad, SD_ERANGE, "field 'latency_s.x_to_y': p99 = 1 is below p50 = 2");
    EDIT_FAIL(t, SD_MSG_STATS, "run_id", v_u64max, SD_ERANGE, "is too large");
    EDIT_FAIL(t, SD_MSG_STATS, "labels", v_str_abc, SD_EFORMAT, "must be an array of strings");
    /* per-element payload ranges */
    {
        sd_parts_t p, q;
        valid(SD_MSG_COLUMNS, &p);
        double prob[NC] = {0.5, 1.5, 0};
        int32_t cnt[NC] = {1, -2, 0};
        q = p;
        q.priv_ = NULL;
        q.data[8] = (const uint8_t *)prob;
        EXPECT_FAIL(t, &q, SD_ERANGE, "field 'prob'[1] = 1.5 is outside [0, 1]");
        q.data[8] = p.data[8];
        q.data[7] = (const uint8_t *)cnt;
        EXPECT_FAIL(t, &q, SD_ERANGE, "field 'count'[1] = -2 is below -1");
        sd_parts_free(&p);
        valid(SD_MSG_SIM_JOB, &p);
        q = p;
        q.priv_ = NULL;
        q.len[2] = 0;
        EXPECT_FAIL(t, &q, SD_EFORMAT, "part 2 (pos) is 0 bytes, expected n_atoms*3*8 = 96");
        sd_parts_free(&p);
    }
    /* topic with a NUL, header over 1 MiB */
    {
        sd_parts_t p, q;
        valid(SD_MSG_HEARTBEAT, &p);
        q = p;
        q.priv_ = NULL;
        q.data[0] = (const uint8_t *)"heartbeat.a\0b";
        q.len[0] = 13;
        EXPECT_FAIL(t, &q, SD_EFORMAT, "topic contains a NUL byte");
        q.data[0] = (const uint8_t *)"heartbeat.a b";
        EXPECT_FAIL(t, &q, SD_ERANGE, "topic suffix");
        q.data[0] = p.data[0];
        q.len[0] = p.len[0];
        uint8_t *big = calloc(1, SD_MSG_MAX_HEADER + 1);
        q.data[1] = big;
        q.len[1] = SD_MSG_MAX_HEADER + 1;
        EXPECT_FAIL(t, &q, SD_ENOMEM, "over the limit of 1048576");
        free(big);
        sd_parts_free(&p);
    }
}

static void test_malformed_fields(sdt_t *t)
{
    /* 13 missing type / missing version */
    EDIT_FAIL(t, SD_MSG_FRAME, "type", NULL, SD_EFORMAT, "missing required field 'type'");
    EDIT_FAIL(t, SD_MSG_FRAME, "v", NULL, SD_EFORMAT, "missing required field 'v'");
    /* 14 unknown type */
    EDIT_FAIL(t, SD_MSG_FRAME, "type", v_bogus, SD_ENOTFOUND, "unknown message type 'bogus'");
    /* 15 newer / older major version */
    EDIT_FAIL(t, SD_MSG_HEARTBEAT, "v", v_ver2, SD_EVERSION,
              "protocol version 2.3 is newer than this stemdyn (1.0)");
    EDIT_FAIL(t, SD_MSG_HEARTBEAT, "v", v_ver0, SD_EVERSION, "0.9 is older");
    EDIT_FAIL(t, SD_MSG_HEARTBEAT, "v", v_str_abc, SD_EFORMAT, "field 'v' must be an array");
    /* 16 wrong field types */
    EDIT_FAIL(t, SD_MSG_FRAME, "width", v_str_abc, SD_EFORMAT,
              "frame: field 'width' must be an integer, got str");
    EDIT_FAIL(t, SD_MSG_SERIES_START, "pixel_size_A", v_str_abc, SD_EFORMAT,
              "field 'pixel_size_A' must be a number, got str");
    EDIT_FAIL(t, SD_MSG_MODEL, "provenance", v_str_abc, SD_EFORMAT,
              "field 'provenance' must be a map");
    EDIT_FAIL(t, SD_MSG_STATS, "counts", v_str_abc, SD_EFORMAT, "field 'counts' must be bin");
    /* 17 negative sizes / counts */
    EDIT_FAIL(t, SD_MSG_FRAME, "width", v_neg5, SD_ERANGE, "field 'width' = -5 is outside [1, 65536]");
    EDIT_FAIL(t, SD_MSG_MODEL, "n_atoms", v_neg5, SD_ERANGE, "field 'n_atoms' = -5");
    EDIT_FAIL(t, SD_MSG_SERIES_END, "frames_sent", v_neg5, SD_ERANGE,
              "field 'frames_sent' = -5 must be >= 0");
    EDIT_FAIL(t, SD_MSG_COLUMNS, "n", v_neg5, SD_ERANGE, "field 'n' = -5");
    /* 18 NaN / inf floats */
    EDIT_FAIL(t, SD_MSG_SERIES_START, "pixel_size_A", v_nan, SD_ERANGE,
              "field 'pixel_size_A' is not finite");
    EDIT_FAIL(t, SD_MSG_SIM_JOB, "temperature_K", v_inf, SD_ERANGE,
              "field 'temperature_K' is not finite");
    EDIT_FAIL(t, SD_MSG_SERIES_START, "pixel_size_A", v_neg5, SD_ERANGE,
              "field 'pixel_size_A' = -5 is outside (0, 10000]");
    /* 19 too many atoms */
    EDIT_FAIL(t, SD_MSG_MODEL, "n_atoms", v_2e6, SD_ENOMEM, "over the limit of 1000000 atoms");
    EDIT_FAIL(t, SD_MSG_SNAPSHOT, "n_atoms", v_2e6, SD_ENOMEM, "over the limit");
    /* 20 k = 0 groups, labels count != k, counts size mismatch */
    EDIT_FAIL(t, SD_MSG_STATS, "k", v_zero, SD_ERANGE, "field 'k' = 0 is outside [1, 64]");
    EDIT_FAIL(t, SD_MSG_STATS, "labels", v_labels2, SD_EFORMAT,
              "field 'labels' has 2 entries, expected k = 3");
    EDIT_FAIL(t, SD_MSG_STATS, "counts", v_bin7, SD_EFORMAT, "field 'counts' is 7 bytes, expected 72");
    EDIT_FAIL(t, SD_MSG_STATS, "P", v_P_bad, SD_ERANGE, "field 'P' row 0 sums to 0.6");
    EDIT_FAIL(t, SD_MSG_STATS, "tau_ns", v_tau_nan, SD_ERANGE, "tau_ns");
    /* 21 series_id with bad characters / too long / empty */
    EDIT_FAIL(t, SD_MSG_FRAME, "series_id", v_bad_id, SD_ERANGE,
              "field 'series_id' has character 0x2f");
    EDIT_FAIL(t, SD_MSG_FRAME, "series_id", v_long_id, SD_ERANGE,
              "field 'series_id' is 200 bytes, longer than 128");
    /* 22 bad enum and out-of-range integer */
    EDIT_FAIL(t, SD_MSG_FRAME, "dtype", v_u64, SD_ERANGE, "field 'dtype' = 'u64' is not one of");
    EDIT_FAIL(t, SD_MSG_FRAME, "crc32c", v_big_crc, SD_ERANGE, "does not fit 32 bits");
    /* 23 invalid UTF-8 in free text */
    EDIT_FAIL(t, SD_MSG_SERIES_END, "reason", v_bad_utf8, SD_ERANGE,
              "field 'reason' is not valid UTF-8");
    /* 24 cross-field consistency */
    EDIT_FAIL(t, SD_MSG_MODEL, "energy_per_atom_eV", v_huge_pe, SD_ERANGE,
              "field 'energy_per_atom_eV' = 99 is not energy_eV/n_atoms");
    EDIT_FAIL(t, SD_MSG_SIM_JOB, "dump_every_fs", v_dump_big, SD_ERANGE,
              "field 'dump_every_fs' = 2e+06 is outside (0, 1e+06]");
    /* 25 duplicate key */
    {
        sd_parts_t p;
        valid(SD_MSG_HEARTBEAT, &p);
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        size_t off = 0;
        msgpack_unpack_next(&up, (const char *)p.data[1], p.len[1], &off);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, up.data.via.map.size + 1);
        for (uint32_t i = 0; i < up.data.via.map.size; i++) {
            msgpack_pack_object(&pk, up.data.via.map.ptr[i].key);
            msgpack_pack_object(&pk, up.data.via.map.ptr[i].val);
        }
        pk_s(&pk, "ts");
        dup_ts(&pk);
        sd_parts_t q = p;
        q.priv_ = NULL;
        q.data[1] = (const uint8_t *)sb.data;
        q.len[1] = sb.size;
        EXPECT_FAIL(t, &q, SD_EFORMAT, "field 'ts' appears twice");
        msgpack_sbuffer_destroy(&sb);
        msgpack_unpacked_destroy(&up);
        sd_parts_free(&p);
    }
}

static void test_malformed_payload(sdt_t *t)
{
    sd_parts_t p, q;
    /* 26 pixel payload length != width*height*dtype */
    valid(SD_MSG_FRAME, &p);
    q = p;
    q.priv_ = NULL;
    q.len[2] = p.len[2] - 2;
    EXPECT_FAIL(t, &q, SD_EFORMAT, "pixel payload is 28 bytes, expected width*height*2 = 5*3*2 = 30");
    /* 27 CRC mismatch */
    uint8_t pix[sizeof g_pix];
    memcpy(pix, p.data[2], sizeof pix);
    pix[7] ^= 0x10;
    q.len[2] = sizeof pix;
    q.data[2] = pix;
    EXPECT_FAIL(t, &q, SD_ERANGE, "pixel CRC32C mismatch");
    sd_parts_free(&p);

    /* 28 atom arrays of unequal length (model column_id, snapshot positions) */
    valid(SD_MSG_MODEL, &p);
    q = p;
    q.priv_ = NULL;
    q.len[3] = p.len[3] - 4;
    EXPECT_FAIL(t, &q, SD_EFORMAT, "part 3 (column_id) is 12 bytes, expected 0 or n_atoms*4 = 16");
    q.len[3] = p.len[3];
    q.len[2] = p.len[2] + 24;
    EXPECT_FAIL(t, &q, SD_EFORMAT, "part 2 (pos) is 120 bytes, expected n_atoms*3*8 = 96");
    sd_parts_free(&p);

    /* 29 columns arrays of unequal length */
    valid(SD_MSG_COLUMNS, &p);
    q = p;
    q.priv_ = NULL;
    q.len[8] = 16;
    EXPECT_FAIL(t, &q, SD_EFORMAT, "part 8 (prob) is 16 bytes, expected n*8 = 24");
    sd_parts_free(&p);

    /* 30 NaN inside a position array */
    double pos[NA * 3];
    memcpy(pos, g_pos, sizeof pos);
    pos[5] = NAN;
    valid(SD_MSG_SNAPSHOT, &p);
    q = p;
    q.priv_ = NULL;
    q.data[2] = (const uint8_t *)pos;
    EXPECT_FAIL(t, &q, SD_ERANGE, "field 'pos'[5] is not finite");
    sd_parts_free(&p);
}

static void test_forward_compatible(sdt_t *t)
{
    /* Unknown extra fields are ignored. */
    sd_parts_t p;
    edit_t ed;
    valid(SD_MSG_FRAME, &p);
    edit_header(&ed, &p, "future_field", v_map);
    sd_msg_t d;
    sd_err_t e;
    CHECK_EQ_INT(t, sd_msg_decode(&ed.parts, &d, 0, &e), SD_OK);
    CHECK_EQ_INT(t, d.u.frame.frame_index, 42);
    sd_msg_free(&d);
    edit_done(&ed);

    /* A newer minor version may append parts; they are ignored. */
    edit_header(&ed, &p, "v", v_ver_minor9);
    ed.parts.n = 4;
    ed.parts.data[3] = (const uint8_t *)"extra";
    ed.parts.len[3] = 5;
    CHECK_EQ_INT(t, sd_msg_decode(&ed.parts, &d, 0, &e), SD_OK);
    CHECK_EQ_INT(t, d.v_minor, 9);
    sd_msg_free(&d);
    edit_done(&ed);
    sd_parts_free(&p);

    /* Integers are accepted where a float is expected (Python clients send 300). */
    sd_msg_t m;
    make(&m, SD_MSG_SIM_JOB);
    CHECK_EQ_INT(t, sd_msg_encode(&m, &p, &e), SD_OK);
    edit_header(&ed, &p, "temperature_K", dup_ts);
    CHECK_EQ_INT(t, sd_msg_decode(&ed.parts, &d, 0, &e), SD_OK);
    CHECK(t, d.u.sim_job.temperature_K == 5.0);
    sd_msg_free(&d);
    edit_done(&ed);
    sd_parts_free(&p);
}

static void test_encoder_refuses_invalid(sdt_t *t)
{
    sd_msg_t m;
    sd_parts_t p;
    sd_err_t e;
    make(&m, SD_MSG_SERIES_START);
    m.u.series_start.pixel_size_A = NAN;
    CHECK_EQ_INT(t, sd_msg_encode(&m, &p, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "series_start: field 'pixel_size_A' is not finite");
    CHECK_EQ_INT(t, p.n, 0);

    make(&m, SD_MSG_FRAME);
    m.u.frame.pixels_len -= 1;
    CHECK_EQ_INT(t, sd_msg_encode(&m, &p, &e), SD_EFORMAT);
    CHECK_STR_CONTAINS(t, e.msg, "pixel payload is 29 bytes");

    make(&m, SD_MSG_STATS);
    strcpy(m.u.stats.labels[2], "fcc");
    CHECK_EQ_INT(t, sd_msg_encode(&m, &p, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "field 'labels' has 'fcc' twice");

    make(&m, SD_MSG_HEARTBEAT);
    strcpy(m.topic_suffix, "a b");
    CHECK_EQ_INT(t, sd_msg_encode(&m, &p, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "topic suffix");

    sd_msg_init(&m, SD_MSG_NONE);
    CHECK_EQ_INT(t, sd_msg_encode(&m, &p, &e), SD_EINVAL);
}

static void test_names(sdt_t *t)
{
    for (int ty = 1; ty < SD_MSG_TYPE_COUNT; ty++) {
        const char *n = sd_msg_type_name((sd_msg_type_t)ty);
        CHECK(t, n && sd_msg_type_parse(n, strlen(n)) == (sd_msg_type_t)ty);
    }
    CHECK(t, sd_msg_type_name(SD_MSG_NONE) == NULL);
    CHECK(t, sd_msg_type_parse("fram", 4) == SD_MSG_NONE);
    CHECK_EQ_INT(t, sd_dtype_size(SD_DTYPE_F64), 8);
    CHECK_EQ_INT(t, sd_dtype_parse("u32", 3), SD_DTYPE_U32);
    CHECK_EQ_INT(t, sd_dtype_parse("u3", 2), SD_DTYPE_NONE);
}

/* The checked-in fuzz seeds are valid messages of the current protocol (a
 * change that breaks them must regenerate them: fuzz_gen_msg_corpus). */
static void test_fuzz_seeds_decode(sdt_t *t)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/../fuzz/corpus/msg", STEMDYN_TEST_DATA);
    DIR *d = opendir(dir);
    CHECK_MSG(t, d != NULL, "cannot open %s", dir);
    if (!d)
        return;
    int files = 0, types_seen = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        static uint8_t buf[1 << 16];
        FILE *f = fopen(path, "rb");
        CHECK(t, f != NULL);
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        sd_parts_t p = {0};
        fuzz_msg_split(buf, n, &p);
        sd_msg_t m;
        sd_err_t e;
        int rc = sd_msg_decode(&p, &m, 0, &e);
        CHECK_MSG(t, rc == SD_OK, "seed %s: %s", de->d_name, e.msg);
        if (rc == SD_OK) {
            types_seen |= 1 << m.type;
            sd_msg_free(&m);
        }
        files++;
    }
    closedir(d);
    CHECK(t, files >= SD_MSG_TYPE_COUNT - 1);
    CHECK_EQ_INT(t, types_seen, ((1 << SD_MSG_TYPE_COUNT) - 1) & ~1);
}

SDT_MAIN(SDT_CASE(test_roundtrip_all_types), SDT_CASE(test_fuzz_seeds_decode), SDT_CASE(test_optional_fields_absent),
         SDT_CASE(test_malformed_header_structure), SDT_CASE(test_malformed_fields),
         SDT_CASE(test_malformed_payload), SDT_CASE(test_malformed_more), SDT_CASE(test_forward_compatible),
         SDT_CASE(test_encoder_refuses_invalid), SDT_CASE(test_names))
