/* sd_recording — see sd_recording.h for the layout and the damage model. */
#include "sd_recording.h"

#include "sd_crc32c.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char HDR_MAGIC[6] = {'S', 'D', 'R', 'E', 'C', '\0'};
static const char IDX_MAGIC[7] = {'S', 'D', 'R', 'I', 'D', 'X', '\0'};
enum { IDX_VERSION = 1, RESYNC_CHUNK = 1 << 20 };

uint32_t sd_rec_crc(uint32_t crc, const void *data, size_t len)
{
    return sd_crc32c(crc, data, len);
}

/* ---- little-endian helpers (the format is LE whatever the host) --------- */

static void put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* ---- header -------------------------------------------------------------- */

void sd_rec_header_encode(int64_t created_ns, uint8_t out[SD_REC_HEADER_BYTES])
{
    memset(out, 0, SD_REC_HEADER_BYTES);
    memcpy(out, HDR_MAGIC, 6);
    put_u16(out + 6, SD_REC_VERSION_MAJOR);
    put_u16(out + 8, SD_REC_VERSION_MINOR);
    put_u16(out + 10, SD_REC_HEADER_BYTES);
    put_u32(out + 12, 0);
    put_u64(out + 16, (uint64_t)created_ns);
    put_u32(out + 24, 0);
    put_u32(out + 28, sd_rec_crc(0, out, 28));
}

int sd_rec_header_decode(const uint8_t *buf, size_t len, int64_t *created_ns, sd_err_t *e)
{
    if (memcmp(buf, HDR_MAGIC, len < 6 ? len : 6) != 0 || len == 0)
        return sd_err_set(e, SD_EFORMAT, "not a stemdyn recording (no \"SDREC\" magic)");
    if (len < SD_REC_HEADER_BYTES)
        return sd_err_set(e, SD_EFORMAT, "recording header cut short: %zu bytes, need %d", len,
                          SD_REC_HEADER_BYTES);
    uint16_t major = get_u16(buf + 6);
    if (major > SD_REC_VERSION_MAJOR)
        return sd_err_set(e, SD_EVERSION, "recording format version %u is newer than this "
                          "stemdyn reads (%d)", major, SD_REC_VERSION_MAJOR);
    if (major == 0 || get_u16(buf + 10) != SD_REC_HEADER_BYTES)
        return sd_err_set(e, SD_EFORMAT, "recording header: bad version %u or header size %u",
                          major, get_u16(buf + 10));
    uint32_t want = get_u32(buf + 28), got = sd_rec_crc(0, buf, 28);
    if (want != got)
        return sd_err_set(e, SD_EFORMAT, "recording header: CRC32C mismatch (stored %08x, "
                          "computed %08x)", want, got);
    if (created_ns) *created_ns = (int64_t)get_u64(buf + 16);
    return SD_OK;
}

/* ---- records --------------------------------------------------------------- */

uint64_t sd_rec_record_size(uint32_t n_parts, const size_t *lens)
{
    if (n_parts < 1 || n_parts > SD_REC_MAX_PARTS) return 0;
    uint64_t n = SD_REC_RECORD_HDR_BYTES + 4ull * n_parts + 4;
    for (uint32_t i = 0; i < n_parts; i++) {
        if (lens[i] > SD_REC_MAX_RECORD_BYTES) return 0;
        n += lens[i];
        if (n > SD_REC_MAX_RECORD_BYTES) return 0;
    }
    return n;
}

int sd_rec_record_encode(uint8_t *out, size_t cap, int64_t t_ns, uint32_t kind, int64_t key,
                         uint32_t n_parts, const void *const *parts, const size_t *lens,
                         size_t *written, sd_err_t *e)
{
    uint64_t n = sd_rec_record_size(n_parts, lens);
    if (n == 0)
        return sd_err_set(e, SD_EINVAL, "record of %u parts: part count must be 1..%d and "
                          "the total at most %llu bytes", n_parts, SD_REC_MAX_PARTS,
                          (unsigned long long)SD_REC_MAX_RECORD_BYTES);
    if (n > cap)
        return sd_err_set(e, SD_ENOMEM, "record of %llu bytes does not fit a %zu-byte buffer",
                          (unsigned long long)n, cap);
    put_u32(out, SD_REC_RECORD_MAGIC);
    put_u32(out + 4, (uint32_t)n);
    put_u64(out + 8, (uint64_t)t_ns);
    put_u32(out + 16, kind);
    put_u32(out + 20, n_parts);
    put_u64(out + 24, (uint64_t)key);
    uint8_t *p = out + SD_REC_RECORD_HDR_BYTES;
    for (uint32_t i = 0; i < n_parts; i++, p += 4) put_u32(p, (uint32_t)lens[i]);
    for (uint32_t i = 0; i < n_parts; i++) {
        if (lens[i]) memcpy(p, parts[i], lens[i]);
        p += lens[i];
    }
    put_u32(p, sd_rec_crc(0, out, (size_t)(p - out)));
    *written = (size_t)n;
    return SD_OK;
}

int sd_rec_record_peek(const uint8_t *buf, size_t have, uint32_t *len, sd_err_t *e)
{
    if (have < 8) return sd_err_set(e, SD_EAGAIN, "record header cut short (%zu bytes)", have);
    uint32_t magic = get_u32(buf), n = get_u32(buf + 4);
    if (magic != SD_REC_RECORD_MAGIC)
        return sd_err_set(e, SD_EFORMAT, "bad record magic %08x (want %08x)", magic,
                          SD_REC_RECORD_MAGIC);
    if (n < SD_REC_RECORD_HDR_BYTES + 8 || n > SD_REC_MAX_RECORD_BYTES)
        return sd_err_set(e, SD_EFORMAT, "impossible record length %u", n);
    *len = n;
    return SD_OK;
}

int sd_rec_record_decode(const uint8_t *buf, size_t have, sd_rec_record_t *out, sd_err_t *e)
{
    uint32_t n;
    int rc = sd_rec_record_peek(buf, have, &n, e);
    if (rc) return rc;
    if (have < n)
        return sd_err_set(e, SD_EAGAIN, "record of %u bytes cut short at %zu", n, have);
    uint32_t want = get_u32(buf + n - 4), got = sd_rec_crc(0, buf, n - 4);
    if (want != got)
        return sd_err_set(e, SD_EFORMAT, "CRC32C mismatch (stored %08x, computed %08x)", want,
                          got);
    uint32_t np = get_u32(buf + 20);
    if (np < 1 || np > SD_REC_MAX_PARTS)
        return sd_err_set(e, SD_EFORMAT, "part count %u out of 1..%d", np, SD_REC_MAX_PARTS);
    uint64_t body = SD_REC_RECORD_HDR_BYTES + 4ull * np;
    if (body + 4 > n) return sd_err_set(e, SD_EFORMAT, "part table overruns the record");
    const uint8_t *p = buf + body;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < np; i++) {
        size_t l = get_u32(buf + SD_REC_RECORD_HDR_BYTES + 4 * i);
        sum += l;
        if (body + sum + 4 > n)
            return sd_err_set(e, SD_EFORMAT, "part %u overruns the record", i);
        out->parts[i] = p;
        out->lens[i] = l;
        p += l;
    }
    if (body + sum + 4 != n)
        return sd_err_set(e, SD_EFORMAT, "parts fill %llu of %u record bytes",
                          (unsigned long long)(body + sum + 4), n);
    out->len = n;
    out->t_ns = (int64_t)get_u64(buf + 8);
    out->kind = get_u32(buf + 16);
    out->key = (int64_t)get_u64(buf + 24);
    out->n_parts = np;
    return SD_OK;
}

/* ---- index entries ------------------------------------------------------- */

void sd_rec_idx_header_encode(uint8_t out[SD_REC_IDX_HEADER_BYTES])
{
    memset(out, 0, SD_REC_IDX_HEADER_BYTES);
    memcpy(out, IDX_MAGIC, 7);
    out[7] = IDX_VERSION;
}

void sd_rec_idx_entry_encode(const sd_rec_idx_entry_t *x, uint8_t out[SD_REC_IDX_ENTRY_BYTES])
{
    put_u64(out, x->offset);
    put_u64(out + 8, (uint64_t)x->key);
    put_u32(out + 16, x->kind);
    put_u32(out + 20, x->len);
    put_u32(out + 24, sd_rec_crc(0, out, 24));
    put_u32(out + 28, 0);
}

int sd_rec_idx_entry_decode(const uint8_t *buf, sd_rec_idx_entry_t *x, sd_err_t *e)
{
    if (get_u32(buf + 24) != sd_rec_crc(0, buf, 24))
        return sd_err_set(e, SD_EFORMAT, "index entry CRC32C mismatch");
    x->offset = get_u64(buf);
    x->key = (int64_t)get_u64(buf + 8);
    x->kind = get_u32(buf + 16);
    x->len = get_u32(buf + 20);
    return SD_OK;
}

int sd_rec_idx_path(const char *path, char *out, size_t cap, sd_err_t *e)
{
    int n = snprintf(out, cap, "%s.idx", path);
    if (n < 0 || (size_t)n >= cap)
        return sd_err_set(e, SD_EINVAL, "recording path too long: %s", path);
    return SD_OK;
}

/* ---- reader ---------------------------------------------------------------- */

struct sd_rec_reader {
    int fd;
    char *path;
    int64_t created_ns;
    sd_rec_idx_entry_t *ent;
    uint64_t n, cap;
    uint8_t *buf;
    size_t buf_cap;
    sd_rec_scan_info_t info;
};

static int read_full(int fd, void *dst, size_t len, uint64_t off, size_t *got)
{
    size_t done = 0;
    *got = 0;
    while (done < len) {
        ssize_t k = pread(fd, (uint8_t *)dst + done, len - done, (off_t)(off + done));
        if (k < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (k == 0) break;
        done += (size_t)k;
    }
    *got = done;
    return 0;
}

static int reader_buf(sd_rec_reader_t *r, size_t need, sd_err_t *e)
{
    if (need <= r->buf_cap) return SD_OK;
    size_t c = r->buf_cap ? r->buf_cap : 4096;
    while (c < need) c *= 2;
    uint8_t *b = realloc(r->buf, c);
    if (!b) return sd_err_set(e, SD_ENOMEM, "out of memory for a %zu-byte record", need);
    r->buf = b;
    r->buf_cap = c;
    return SD_OK;
}

static int reader_push(sd_rec_reader_t *r, const sd_rec_idx_entry_t *x, sd_err_t *e)
{
    if (r->n == r->cap) {
        uint64_t c = r->cap ? 2 * r->cap : 1024;
        sd_rec_idx_entry_t *p = realloc(r->ent, c * sizeof *p);
        if (!p) return sd_err_set(e, SD_ENOMEM, "out of memory for the recording index");
        r->ent = p;
        r->cap = c;
    }
    r->ent[r->n++] = *x;
    return SD_OK;
}

/* Tries to read and verify a record at off (file size fsize).  Returns SD_OK,
 * SD_EAGAIN (runs past EOF), SD_EFORMAT (bad), SD_EIO. */
static int try_record(sd_rec_reader_t *r, uint64_t off, uint64_t fsize, sd_rec_record_t *rec,
                      sd_err_t *e)
{
    uint8_t h[8];
    size_t got = 0;
    if (off >= fsize || fsize - off < 8) return sd_err_set(e, SD_EAGAIN, "record header cut short");
    int rc = read_full(r->fd, h, 8, off, &got);
    if (rc) return sd_err_set(e, SD_EIO, "%s: read at offset %llu: %s", r->path,
                              (unsigned long long)off, strerror(-rc));
    uint32_t len;
    if ((rc = sd_rec_record_peek(h, got, &len, e))) return rc;
    if (off + len > fsize)
        return sd_err_set(e, SD_EAGAIN, "record of %u bytes runs past the end of the file", len);
    if ((rc = reader_buf(r, len, e))) return rc;
    rc = read_full(r->fd, r->buf, len, off, &got);
    if (rc) return sd_err_set(e, SD_EIO, "%s: read at offset %llu: %s", r->path,
                              (unsigned long long)off, strerror(-rc));
    if ((rc = sd_rec_record_decode(r->buf, got, rec, e))) return rc;
    rec->offset = off;
    return SD_OK;
}

/* Finds the next offset > off where a valid record starts, or returns 0. */
static uint64_t resync(sd_rec_reader_t *r, uint64_t off, uint64_t fsize)
{
    uint8_t *chunk = malloc(RESYNC_CHUNK);
    if (!chunk) return 0;
    uint64_t found = 0;
    for (uint64_t base = off + 1; base + 8 <= fsize && !found; base += RESYNC_CHUNK - 3) {
        size_t got = 0;
        if (read_full(r->fd, chunk, RESYNC_CHUNK, base, &got) || got < 4) break;
        for (size_t i = 0; i + 4 <= got; i++) {
            if (get_u32(chunk + i) != SD_REC_RECORD_MAGIC) continue;
            sd_rec_record_t rec;
            if (try_record(r, base + i, fsize, &rec, NULL) == SD_OK) {
                found = base + i;
                break;
            }
        }
        if (got < RESYNC_CHUNK) break;
    }
    free(chunk);
    return found;
}

/* Scans records from off to EOF, appending index entries. */
static int scan_from(sd_rec_reader_t *r, uint64_t off, uint64_t fsize, sd_err_t *e)
{
    sd_rec_record_t rec;
    while (off < fsize) {
        sd_err_t why;
        sd_err_clear(&why);
        int rc = try_record(r, off, fsize, &rec, &why);
        if (rc == SD_OK) {
            sd_rec_idx_entry_t x = {off, rec.key, rec.kind, rec.len};
            if ((rc = reader_push(r, &x, e))) return rc;
            off += rec.len;
            continue;
        }
        if (rc == SD_EIO || rc == SD_ENOMEM) return sd_err_set(e, rc, "%s", why.msg);
        uint64_t next = resync(r, off, fsize);
        if (!next) break; /* nothing valid after: a torn tail */
        if (r->info.n_corrupt++ == 0) {
            r->info.first_corrupt_offset = off;
            snprintf(r->info.first_corrupt_msg, sizeof r->info.first_corrupt_msg,
                     "after record %llu, bytes %llu..%llu: %.160s", (unsigned long long)r->n,
                     (unsigned long long)off, (unsigned long long)next, why.msg);
        }
        off = next;
    }
    r->info.n_records = r->n;
    r->info.valid_end = r->n ? r->ent[r->n - 1].offset + r->ent[r->n - 1].len
                             : (uint64_t)SD_REC_HEADER_BYTES;
    r->info.file_bytes = fsize;
    r->info.torn_bytes = fsize - r->info.valid_end;
    return SD_OK;
}

/* Loads PATH.idx entries that agree with the data; returns the count kept
 * (0 when the index is absent or unusable). */
static uint64_t load_index(sd_rec_reader_t *r, uint64_t fsize)
{
    char ip[4096];
    if (sd_rec_idx_path(r->path, ip, sizeof ip, NULL)) return 0;
    FILE *f = fopen(ip, "rb");
    if (!f) return 0;
    uint8_t h[SD_REC_IDX_HEADER_BYTES], b[SD_REC_IDX_ENTRY_BYTES];
    if (fread(h, 1, sizeof h, f) != sizeof h || memcmp(h, IDX_MAGIC, 7) || h[7] != IDX_VERSION) {
        fclose(f);
        return 0;
    }
    uint64_t prev_end = SD_REC_HEADER_BYTES;
    while (fread(b, 1, sizeof b, f) == sizeof b) {
        sd_rec_idx_entry_t x;
        if (sd_rec_idx_entry_decode(b, &x, NULL)) break;
        if (x.offset < prev_end || x.len < SD_REC_RECORD_HDR_BYTES + 8 ||
            x.offset + x.len > fsize)
            break;
        if (reader_push(r, &x, NULL)) break;
        if (x.offset > prev_end && r->info.n_corrupt++ == 0) {
            r->info.first_corrupt_offset = prev_end;
            snprintf(r->info.first_corrupt_msg, sizeof r->info.first_corrupt_msg,
                     "bytes %llu..%llu skipped by the index", (unsigned long long)prev_end,
                     (unsigned long long)x.offset);
        }
        prev_end = x.offset + x.len;
    }
    fclose(f);
    /* The last entry must be a valid record with the same kind and key;
     * otherwise the index belongs to another file or version: rescan. */
    while (r->n) {
        sd_rec_record_t rec;
        const sd_rec_idx_entry_t *x = &r->ent[r->n - 1];
        if (try_record(r, x->offset, fsize, &rec, NULL) == SD_OK && rec.len == x->len &&
            rec.kind == x->kind && rec.key == x->key)
            break;
        r->n = 0;
        r->info.n_corrupt = 0;
        r->info.first_corrupt_msg[0] = '\0';
    }
    return r->n;
}

static int file_size(int fd, uint64_t *sz, const char *path, sd_err_t *e)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return sd_err_set(e, SD_EIO, "%s: stat: %s", path, strerror(errno));
    *sz = (uint64_t)st.st_size;
    return SD_OK;
}

static sd_rec_reader_t *reader_open(const char *path, int use_index, sd_err_t *e)
{
    sd_rec_reader_t *r = calloc(1, sizeof *r);
    if (!r) {
        sd_err_set(e, SD_ENOMEM, "out of memory");
        return NULL;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    r->path = strdup(path);
    if (r->fd < 0) {
        sd_err_set(e, errno == ENOENT ? SD_ENOTFOUND : SD_EIO, "%s: %s", path, strerror(errno));
        sd_rec_reader_destroy(&r);
        return NULL;
    }
    uint8_t h[SD_REC_HEADER_BYTES];
    size_t got = 0;
    uint64_t fsize = 0;
    if (!r->path || file_size(r->fd, &fsize, path, e) ||
        read_full(r->fd, h, sizeof h, 0, &got) != 0 ||
        sd_rec_header_decode(h, got, &r->created_ns, e) != SD_OK) {
        if (!r->path) sd_err_set(e, SD_ENOMEM, "out of memory");
        sd_err_prefix(e, "%s", path);
        sd_rec_reader_destroy(&r);
        return NULL;
    }
    uint64_t start = SD_REC_HEADER_BYTES;
    if (use_index && load_index(r, fsize)) {
        r->info.index_used = 1;
        start = r->ent[r->n - 1].offset + r->ent[r->n - 1].len;
    }
    if (scan_from(r, start, fsize, e) != SD_OK) {
        sd_err_prefix(e, "%s", path);
        sd_rec_reader_destroy(&r);
        return NULL;
    }
    return r;
}

sd_rec_reader_t *sd_rec_reader_open(const char *path, sd_err_t *e)
{
    return reader_open(path, 1, e);
}

void sd_rec_reader_destroy(sd_rec_reader_t **pr)
{
    if (!pr || !*pr) return;
    sd_rec_reader_t *r = *pr;
    if (r->fd >= 0) close(r->fd);
    free(r->path);
    free(r->ent);
    free(r->buf);
    free(r);
    *pr = NULL;
}

int sd_rec_reader_refresh(sd_rec_reader_t *r, sd_err_t *e)
{
    uint64_t fsize = 0;
    int rc = file_size(r->fd, &fsize, r->path, e);
    if (rc) return rc;
    uint64_t start = r->info.valid_end;
    if (fsize <= start) return SD_OK;
    return scan_from(r, start, fsize, e);
}

uint64_t sd_rec_reader_count(const sd_rec_reader_t *r) { return r->n; }
const sd_rec_scan_info_t *sd_rec_reader_info(const sd_rec_reader_t *r) { return &r->info; }
int64_t sd_rec_reader_created_ns(const sd_rec_reader_t *r) { return r->created_ns; }

const sd_rec_idx_entry_t *sd_rec_reader_entry(const sd_rec_reader_t *r, uint64_t i)
{
    return i < r->n ? &r->ent[i] : NULL;
}

int sd_rec_reader_read(sd_rec_reader_t *r, uint64_t i, sd_rec_record_t *out, sd_err_t *e)
{
    if (i >= r->n)
        return sd_err_set(e, SD_ERANGE, "%s: record %llu out of range (%llu records)", r->path,
                          (unsigned long long)i, (unsigned long long)r->n);
    const sd_rec_idx_entry_t *x = &r->ent[i];
    uint64_t fsize = 0;
    int rc = file_size(r->fd, &fsize, r->path, e);
    if (rc) return rc;
    sd_err_t why;
    sd_err_clear(&why);
    rc = try_record(r, x->offset, fsize, out, &why);
    if (rc == SD_OK && (out->len != x->len || out->kind != x->kind || out->key != x->key)) {
        rc = SD_EFORMAT;
        sd_err_set(&why, rc, "record disagrees with the index");
    }
    if (rc)
        return sd_err_set(e, rc == SD_EAGAIN ? SD_EFORMAT : rc,
                          "%s: record %llu at offset %llu: %s", r->path, (unsigned long long)i,
                          (unsigned long long)x->offset, why.msg);
    return SD_OK;
}

int64_t sd_rec_reader_find(const sd_rec_reader_t *r, uint32_t kind, int64_t key, uint64_t from)
{
    for (uint64_t i = from; i < r->n; i++)
        if (r->ent[i].kind == kind && r->ent[i].key == key) return (int64_t)i;
    return -1;
}

/* ---- recovery ------------------------------------------------------------ */

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t k = write(fd, b, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

int sd_rec_recover(const char *path, sd_rec_scan_info_t *info, sd_err_t *e)
{
    /* Every record is verified (the index is not trusted here): appending
     * after undetected damage would bury it under good data. */
    sd_rec_reader_t *r = reader_open(path, 0, e);
    if (!r) return e ? e->code : SD_EIO;
    int rc = SD_OK;
    if (info) *info = r->info;
    if (r->info.n_corrupt) {
        rc = sd_err_set(e, SD_EFORMAT, "%s: corrupt data between valid records (%s); refusing "
                        "to append: move the file aside or replay what is readable",
                        path, r->info.first_corrupt_msg);
        goto out;
    }
    if (r->info.torn_bytes) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t)r->info.valid_end) != 0 || fdatasync(fd) != 0) {
            rc = sd_err_set(e, SD_EIO, "%s: truncating the torn tail at %llu: %s", path,
                            (unsigned long long)r->info.valid_end, strerror(errno));
            if (fd >= 0) close(fd);
            goto out;
        }
        close(fd);
    }
    /* Rewrite the index whole (atomic rename): it is a cache of the data. */
    char ip[4096], tp[4200];
    if ((rc = sd_rec_idx_path(path, ip, sizeof ip, e))) goto out;
    snprintf(tp, sizeof tp, "%s.tmp", ip);
    int fd = open(tp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = sd_err_set(e, SD_EIO, "%s: %s", tp, strerror(errno));
        goto out;
    }
    uint8_t hb[SD_REC_IDX_HEADER_BYTES];
    sd_rec_idx_header_encode(hb);
    int wr = write_all(fd, hb, sizeof hb);
    enum { BATCH = 1024 };
    uint8_t *eb = malloc((size_t)BATCH * SD_REC_IDX_ENTRY_BYTES);
    if (!eb) wr = -ENOMEM;
    for (uint64_t i = 0; i < r->n && !wr; i += BATCH) {
        uint64_t m = r->n - i < BATCH ? r->n - i : BATCH;
        for (uint64_t j = 0; j < m; j++)
            sd_rec_idx_entry_encode(&r->ent[i + j], eb + j * SD_REC_IDX_ENTRY_BYTES);
        wr = write_all(fd, eb, (size_t)m * SD_REC_IDX_ENTRY_BYTES);
    }
    free(eb);
    if (!wr && fdatasync(fd) != 0) wr = -errno;
    close(fd);
    if (wr || rename(tp, ip) != 0) {
        rc = sd_err_set(e, SD_EIO, "%s: writing the index: %s", ip, strerror(wr ? -wr : errno));
        unlink(tp);
    }
out:
    sd_rec_reader_destroy(&r);
    return rc;
}

/* ---- cursor ---------------------------------------------------------------- */

int sd_rec_cursor_save(const char *path, uint64_t n, sd_err_t *e)
{
    char cp[4096], tp[4200], line[96];
    if (snprintf(cp, sizeof cp, "%s.cursor", path) >= (int)sizeof cp)
        return sd_err_set(e, SD_EINVAL, "recording path too long: %s", path);
    snprintf(tp, sizeof tp, "%s.tmp", cp);
    int len = snprintf(line, sizeof line, "sdrec-cursor %llu", (unsigned long long)n);
    len += snprintf(line + len, sizeof line - (size_t)len, " %08x\n",
                    sd_rec_crc(0, line, (size_t)len));
    int fd = open(tp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return sd_err_set(e, SD_EIO, "%s: %s", tp, strerror(errno));
    int wr = write_all(fd, line, (size_t)len);
    close(fd);
    if (wr || rename(tp, cp) != 0) {
        unlink(tp);
        return sd_err_set(e, SD_EIO, "%s: %s", cp, strerror(wr ? -wr : errno));
    }
    return SD_OK;
}

int sd_rec_cursor_load(const char *path, uint64_t *n, sd_err_t *e)
{
    char cp[4096], line[96] = {0};
    if (snprintf(cp, sizeof cp, "%s.cursor", path) >= (int)sizeof cp)
        return sd_err_set(e, SD_EINVAL, "recording path too long: %s", path);
    FILE *f = fopen(cp, "r");
    if (!f) return sd_err_set(e, SD_ENOTFOUND, "%s: %s", cp, strerror(errno));
    size_t got = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    unsigned long long v;
    unsigned crc;
    int used = 0;
    if (got == 0 || sscanf(line, "sdrec-cursor %llu %8x\n%n", &v, &crc, &used) != 2 ||
        (size_t)used != got)
        return sd_err_set(e, SD_EFORMAT, "%s: not a cursor file", cp);
    const char *sp = strrchr(line, ' ');
    if (sd_rec_crc(0, line, (size_t)(sp - line)) != crc)
        return sd_err_set(e, SD_EFORMAT, "%s: CRC32C mismatch", cp);
    *n = v;
    return SD_OK;
}
