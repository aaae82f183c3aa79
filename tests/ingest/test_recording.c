/* The recording format (proto/sd_recording): records round-trip with their
 * parts, every damage is detected and located, torn tails are recovered,
 * mid-file corruption is reported and never truncated away, the sidecar index
 * is checked against the data. */
#include "sd_recording.h"
#include "sdtest.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static void tmp_path(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "/tmp/sd_rec_test_%d_%s.sdrec", (int)getpid(), tag);
    char ip[600];
    snprintf(ip, sizeof ip, "%s.idx", buf);
    unlink(buf);
    unlink(ip);
}

static void rm_rec(const char *p)
{
    char ip[600];
    snprintf(ip, sizeof ip, "%s.idx", p);
    unlink(p);
    unlink(ip);
}

/* Writes n records with plain stdio (the format is defined without the
 * recorder); record i has kind 2, key 100+i, parts "hdr<i>" and i*7 bytes. */
static uint64_t write_file(const char *path, int n, uint64_t *offsets)
{
    FILE *f = fopen(path, "wb");
    uint8_t h[SD_REC_HEADER_BYTES];
    sd_rec_header_encode(123456789, h);
    fwrite(h, 1, sizeof h, f);
    uint64_t off = SD_REC_HEADER_BYTES;
    uint8_t *buf = malloc(1 << 16);
    for (int i = 0; i < n; i++) {
        char hdr[32];
        snprintf(hdr, sizeof hdr, "hdr%d", i);
        uint8_t pay[1024];
        for (int j = 0; j < i * 7; j++) pay[j] = (uint8_t)(i + j);
        const void *parts[2] = {hdr, pay};
        size_t lens[2] = {strlen(hdr), (size_t)i * 7};
        size_t w;
        sd_rec_record_encode(buf, 1 << 16, 1000 + i, SD_REC_KIND_FRAME, 100 + i, 2, parts,
                             lens, &w, NULL);
        if (offsets) offsets[i] = off;
        fwrite(buf, 1, w, f);
        off += w;
    }
    free(buf);
    fclose(f);
    return off;
}

static int check_record(const sd_rec_record_t *r, int i)
{
    char hdr[32];
    snprintf(hdr, sizeof hdr, "hdr%d", i);
    if (r->n_parts != 2 || r->kind != SD_REC_KIND_FRAME || r->key != 100 + i ||
        r->t_ns != 1000 + i || r->lens[0] != strlen(hdr) || memcmp(r->parts[0], hdr, r->lens[0]) ||
        r->lens[1] != (size_t)i * 7)
        return 0;
    for (int j = 0; j < i * 7; j++)
        if (r->parts[1][j] != (uint8_t)(i + j)) return 0;
    return 1;
}

static void flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    uint8_t b;
    if (pread(fd, &b, 1, (off_t)off) != 1) abort();
    b ^= 0x40;
    if (pwrite(fd, &b, 1, (off_t)off) != 1) abort();
    close(fd);
}

static uint64_t fsize(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void test_encode_decode(sdt_t *t)
{
    uint8_t buf[256];
    const char *a = "topic", *b = "";
    const void *parts[3] = {a, b, "xyz"};
    size_t lens[3] = {5, 0, 3};
    size_t w = 0;
    CHECK_EQ_INT(t, sd_rec_record_size(3, lens), 32 + 12 + 8 + 4);
    CHECK_EQ_INT(t, sd_rec_record_encode(buf, sizeof buf, 7, 1, -1, 3, parts, lens, &w, NULL),
                 SD_OK);
    CHECK_EQ_INT(t, w, 56);
    sd_rec_record_t r;
    CHECK_EQ_INT(t, sd_rec_record_decode(buf, w, &r, NULL), SD_OK);
    CHECK_EQ_INT(t, r.n_parts, 3);
    CHECK_EQ_INT(t, r.key, -1);
    CHECK(t, r.lens[0] == 5 && !memcmp(r.parts[0], "topic", 5));
    CHECK(t, r.lens[1] == 0 && r.lens[2] == 3 && !memcmp(r.parts[2], "xyz", 3));
    /* every single-bit flip anywhere in the record is caught */
    int caught = 0;
    for (size_t i = 0; i < w; i++) {
        buf[i] ^= 1;
        caught += sd_rec_record_decode(buf, w, &r, NULL) != SD_OK;
        buf[i] ^= 1;
    }
    CHECK_EQ_INT(t, caught, (long long)w);
    sd_err_t e;
    CHECK_EQ_INT(t, sd_rec_record_decode(buf, w - 1, &r, &e), SD_EAGAIN);
    CHECK_EQ_INT(t, sd_rec_record_encode(buf, 10, 7, 1, -1, 3, parts, lens, &w, &e), SD_ENOMEM);
    CHECK_EQ_INT(t, sd_rec_record_encode(buf, sizeof buf, 7, 1, -1, 0, parts, lens, &w, &e),
                 SD_EINVAL);
    /* header: version and CRC */
    uint8_t h[SD_REC_HEADER_BYTES];
    int64_t c = 0;
    sd_rec_header_encode(42, h);
    CHECK_EQ_INT(t, sd_rec_header_decode(h, sizeof h, &c, NULL), SD_OK);
    CHECK_EQ_INT(t, c, 42);
    h[6] = 2; /* major 2 */
    CHECK_EQ_INT(t, sd_rec_header_decode(h, sizeof h, &c, &e), SD_EVERSION);
    CHECK_STR_CONTAINS(t, e.msg, "version 2");
    sd_rec_header_encode(42, h);
    h[20] ^= 1;
    CHECK_EQ_INT(t, sd_rec_header_decode(h, sizeof h, &c, &e), SD_EFORMAT);
    CHECK_STR_CONTAINS(t, e.msg, "CRC32C");
}

static void test_read_scan_and_find(sdt_t *t)
{
    char p[512];
    tmp_path(p, sizeof p, "scan");
    uint64_t end = write_file(p, 20, NULL);
    sd_err_t e;
    sd_rec_reader_t *r = sd_rec_reader_open(p, &e);
    CHECK(t, r != NULL);
    if (!r) return;
    const sd_rec_scan_info_t *in = sd_rec_reader_info(r);
    CHECK_EQ_INT(t, sd_rec_reader_count(r), 20);
    CHECK_EQ_INT(t, in->index_used, 0);
    CHECK_EQ_INT(t, in->valid_end, end);
    CHECK_EQ_INT(t, in->torn_bytes, 0);
    CHECK_EQ_INT(t, in->n_corrupt, 0);
    CHECK_EQ_INT(t, sd_rec_reader_created_ns(r), 123456789);
    int ok = 0;
    for (int i = 19; i >= 0; i--) { /* random access, backwards */
        sd_rec_record_t rec;
        if (sd_rec_reader_read(r, (uint64_t)i, &rec, &e) == SD_OK && check_record(&rec, i)) ok++;
    }
    CHECK_EQ_INT(t, ok, 20);
    CHECK_EQ_INT(t, sd_rec_reader_find(r, SD_REC_KIND_FRAME, 113, 0), 13);
    CHECK_EQ_INT(t, sd_rec_reader_find(r, SD_REC_KIND_FRAME, 113, 14), -1);
    CHECK_EQ_INT(t, sd_rec_reader_find(r, SD_REC_KIND_SERIES_END, 113, 0), -1);
    sd_rec_record_t rec;
    CHECK_EQ_INT(t, sd_rec_reader_read(r, 20, &rec, &e), SD_ERANGE);
    sd_rec_reader_destroy(&r);
    CHECK(t, r == NULL);
    rm_rec(p);
}

static void test_torn_tail_recovery(sdt_t *t)
{
    char p[512];
    tmp_path(p, sizeof p, "torn");
    uint64_t off[12];
    uint64_t end = write_file(p, 12, off);
    /* crash mid-append: the last record is cut short */
    CHECK_EQ_INT(t, truncate(p, (off_t)(end - 5)), 0);
    sd_err_t e;
    sd_rec_reader_t *r = sd_rec_reader_open(p, &e);
    CHECK(t, r != NULL);
    if (!r) return;
    CHECK_EQ_INT(t, sd_rec_reader_count(r), 11);
    CHECK_EQ_INT(t, sd_rec_reader_info(r)->torn_bytes, end - 5 - off[11]);
    CHECK_EQ_INT(t, sd_rec_reader_info(r)->n_corrupt, 0);
    sd_rec_reader_destroy(&r);
    CHECK_EQ_INT(t, fsize(p), end - 5); /* the reader never modifies */

    /* a torn tail whose length field survived but whose bytes are garbage */
    write_file(p, 12, off);
    flip_byte(p, off[11] + 40);
    sd_rec_scan_info_t info;
    CHECK_EQ_INT(t, sd_rec_recover(p, &info, &e), SD_OK);
    CHECK_EQ_INT(t, info.n_records, 11);
    CHECK_EQ_INT(t, info.torn_bytes, end - off[11]);
    CHECK_EQ_INT(t, fsize(p), off[11]);
    char ip[600];
    snprintf(ip, sizeof ip, "%s.idx", p);
    CHECK_EQ_INT(t, fsize(ip), SD_REC_IDX_HEADER_BYTES + 11 * SD_REC_IDX_ENTRY_BYTES);
    r = sd_rec_reader_open(p, &e);
    CHECK(t, r && sd_rec_reader_info(r)->index_used == 1 && sd_rec_reader_count(r) == 11);
    sd_rec_reader_destroy(&r);
    rm_rec(p);
}

static void test_mid_file_corruption(sdt_t *t)
{
    char p[512];
    tmp_path(p, sizeof p, "corrupt");
    uint64_t off[10];
    uint64_t end = write_file(p, 10, off);
    flip_byte(p, off[3] + 33); /* inside record 3's part table */
    sd_err_t e;
    sd_rec_reader_t *r = sd_rec_reader_open(p, &e);
    CHECK(t, r != NULL);
    if (!r) return;
    const sd_rec_scan_info_t *in = sd_rec_reader_info(r);
    CHECK_EQ_INT(t, sd_rec_reader_count(r), 9); /* resynchronised after record 3 */
    CHECK_EQ_INT(t, in->n_corrupt, 1);
    CHECK_EQ_INT(t, in->first_corrupt_offset, off[3]);
    CHECK_STR_CONTAINS(t, in->first_corrupt_msg, "CRC32C mismatch");
    CHECK_EQ_INT(t, sd_rec_reader_entry(r, 3)->key, 104);
    sd_rec_reader_destroy(&r);
    /* recovery refuses: valid records follow the damage */
    sd_rec_scan_info_t info;
    CHECK_EQ_INT(t, sd_rec_recover(p, &info, &e), SD_EFORMAT);
    CHECK_STR_CONTAINS(t, e.msg, "refusing");
    CHECK_EQ_INT(t, fsize(p), end);

    /* with a valid index, the damage is found when the record is read */
    write_file(p, 10, off);
    CHECK_EQ_INT(t, sd_rec_recover(p, &info, &e), SD_OK);
    flip_byte(p, off[5] + 60);
    r = sd_rec_reader_open(p, &e);
    CHECK(t, r && sd_rec_reader_info(r)->index_used == 1 && sd_rec_reader_count(r) == 10);
    sd_rec_record_t rec;
    if (r) {
        CHECK_EQ_INT(t, sd_rec_reader_read(r, 5, &rec, &e), SD_EFORMAT);
        CHECK_STR_CONTAINS(t, e.msg, "record 5 at offset");
        CHECK_STR_CONTAINS(t, e.msg, "CRC32C mismatch");
        CHECK_EQ_INT(t, sd_rec_reader_read(r, 6, &rec, &e), SD_OK);
    }
    sd_rec_reader_destroy(&r);
    /* recovery does not trust the index: it finds the damage and refuses */
    CHECK_EQ_INT(t, sd_rec_recover(p, &info, &e), SD_EFORMAT);
    CHECK_EQ_INT(t, info.first_corrupt_offset, off[5]);
    rm_rec(p);
}

static void test_stale_index_rebuilt(sdt_t *t)
{
    char p[512], q[512];
    tmp_path(p, sizeof p, "idxA");
    tmp_path(q, sizeof q, "idxB");
    write_file(p, 8, NULL);
    write_file(q, 15, NULL);
    sd_err_t e;
    CHECK_EQ_INT(t, sd_rec_recover(q, NULL, &e), SD_OK);
    /* give p the index of q (more records, different offsets) */
    char pi[600], qi[600];
    snprintf(pi, sizeof pi, "%s.idx", p);
    snprintf(qi, sizeof qi, "%s.idx", q);
    CHECK_EQ_INT(t, rename(qi, pi), 0);
    sd_rec_reader_t *r = sd_rec_reader_open(p, &e);
    CHECK(t, r != NULL);
    if (r) {
        CHECK_EQ_INT(t, sd_rec_reader_count(r), 8);
        int ok = 0;
        for (int i = 0; i < 8; i++) {
            sd_rec_record_t rec;
            ok += sd_rec_reader_read(r, (uint64_t)i, &rec, NULL) == SD_OK && check_record(&rec, i);
        }
        CHECK_EQ_INT(t, ok, 8);
    }
    sd_rec_reader_destroy(&r);
    /* live reading: refresh picks up appended records */
    write_file(q, 3, NULL);
    unlink(qi);
    r = sd_rec_reader_open(q, &e);
    CHECK(t, r && sd_rec_reader_count(r) == 3);
    write_file(q, 6, NULL); /* same first 3 records, 3 more appended */
    if (r) {
        CHECK_EQ_INT(t, sd_rec_reader_refresh(r, &e), SD_OK);
        CHECK_EQ_INT(t, sd_rec_reader_count(r), 6);
        sd_rec_record_t rec;
        CHECK(t, sd_rec_reader_read(r, 5, &rec, NULL) == SD_OK && check_record(&rec, 5));
    }
    rm_rec(p);
    sd_rec_reader_destroy(&r);
    rm_rec(q);
}

static void test_bad_files(sdt_t *t)
{
    char p[512];
    tmp_path(p, sizeof p, "bad");
    sd_err_t e;
    CHECK(t, sd_rec_reader_open(p, &e) == NULL);
    CHECK_EQ_INT(t, e.code, SD_ENOTFOUND);
    FILE *f = fopen(p, "wb");
    fputs("P5\n2 2\n255\nabcd", f);
    fclose(f);
    CHECK(t, sd_rec_reader_open(p, &e) == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "not a stemdyn recording");
    /* header only: zero records, clean */
    write_file(p, 0, NULL);
    sd_rec_reader_t *r = sd_rec_reader_open(p, &e);
    CHECK(t, r && sd_rec_reader_count(r) == 0 && sd_rec_reader_info(r)->torn_bytes == 0);
    sd_rec_reader_destroy(&r);
    rm_rec(p);
}

/* Random damage (bit flips, truncation, inserted garbage): the reader never
 * crashes or returns a record that is not one of those written, and recovery
 * either refuses or leaves a file whose every record reads back intact. */
static void test_random_damage(sdt_t *t)
{
    char p[512];
    tmp_path(p, sizeof p, "fuzz");
    uint64_t seed = 12345;
    int bad_reads = 0, wrong = 0, recovered_ok = 0, recover_runs = 0;
    for (int it = 0; it < 300; it++) {
        uint64_t off[10];
        rm_rec(p); /* no index: the reader scans and verifies */
        uint64_t end = write_file(p, 10, off);
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int mode = (int)(seed >> 60) % 3;
        uint64_t pos = SD_REC_HEADER_BYTES + (seed >> 20) % (end - SD_REC_HEADER_BYTES);
        if (mode == 0) {
            for (int k = 0; k < 1 + (int)((seed >> 8) % 4); k++)
                flip_byte(p, SD_REC_HEADER_BYTES + ((seed >> (k * 7)) % (end - SD_REC_HEADER_BYTES)));
        } else if (mode == 1) {
            CHECK_EQ_INT(t, truncate(p, (off_t)pos), 0);
        } else { /* garbage in the middle: shifts every later record */
            FILE *f = fopen(p, "rb");
            uint8_t *buf = malloc(end + 64);
            size_t n = fread(buf, 1, end, f);
            fclose(f);
            f = fopen(p, "wb");
            fwrite(buf, 1, pos, f);
            fwrite("\x53\x44\x52\x31garbage-garbage", 1, 19, f);
            fwrite(buf + pos, 1, n - pos, f);
            fclose(f);
            free(buf);
        }
        sd_rec_reader_t *r = sd_rec_reader_open(p, NULL);
        if (!r) continue; /* only a damaged header may refuse */
        CHECK(t, sd_rec_reader_count(r) <= 10);
        for (uint64_t i = 0; i < sd_rec_reader_count(r); i++) {
            sd_rec_record_t rec;
            if (sd_rec_reader_read(r, i, &rec, NULL) != SD_OK) {
                bad_reads++;
                continue;
            }
            int k = (int)(rec.key - 100);
            if (k < 0 || k >= 10 || !check_record(&rec, k)) wrong++;
        }
        sd_rec_reader_destroy(&r);
        sd_rec_scan_info_t info;
        recover_runs++;
        if (sd_rec_recover(p, &info, NULL) == SD_OK) {
            r = sd_rec_reader_open(p, NULL);
            int all = r && sd_rec_reader_info(r)->torn_bytes == 0;
            for (uint64_t i = 0; all && i < sd_rec_reader_count(r); i++) {
                sd_rec_record_t rec;
                all = sd_rec_reader_read(r, i, &rec, NULL) == SD_OK;
            }
            recovered_ok += all;
            if (!all) fprintf(stderr, "iteration %d: recovered file does not read back\n", it);
            sd_rec_reader_destroy(&r);
        } else {
            recovered_ok++; /* refusing (mid-file damage) is a correct outcome */
        }
    }
    CHECK_EQ_INT(t, wrong, 0);
    CHECK_EQ_INT(t, bad_reads, 0); /* a scan-built index holds verified records only */
    CHECK_EQ_INT(t, recovered_ok, recover_runs);
    rm_rec(p);
}

SDT_MAIN(SDT_CASE(test_random_damage), SDT_CASE(test_encode_decode), SDT_CASE(test_read_scan_and_find),
         SDT_CASE(test_torn_tail_recovery), SDT_CASE(test_mid_file_corruption),
         SDT_CASE(test_stale_index_rebuilt), SDT_CASE(test_bad_files))
