/* sd_recording — the on-disk recording of a live session (`stemdyn ingest`):
 * an append-only file of length-prefixed, CRC32C-protected records, each one
 * wire message kept verbatim as its list of byte parts, plus a sidecar index
 * (PATH.idx) for seeking.  The recording is the source of truth: recon reads
 * frames back from it when it falls behind, replay streams it again.
 *
 * Layout (all integers little-endian):
 *
 *   file header, 32 bytes:
 *     0  char[6]  "SDREC\0"
 *     6  u16      major version (1); a reader refuses a newer major
 *     8  u16      minor version (0); newer minors are read (fields only added)
 *    10  u16      header bytes (32)
 *    12  u32      flags (0)
 *    16  i64      created, ns since the Unix epoch
 *    24  u32      reserved (0)
 *    28  u32      CRC32C of bytes 0..27
 *
 *   record (repeated, no padding):
 *     0  u32      magic 0x31524453 ("SDR1")
 *     4  u32      total record bytes, this header and the trailing CRC included
 *     8  i64      t_ns: receive time, ns since the Unix epoch (replay pacing)
 *    16  u32      kind: caller's message type (ingest: SD_REC_KIND_*)
 *    20  u32      n_parts (1 .. SD_REC_MAX_PARTS)
 *    24  i64      key: caller's seek key (ingest: frame index, -1 if none)
 *    32  u32[n]   part lengths
 *     .  bytes    the parts, concatenated
 *   end  u32      CRC32C of every preceding byte of the record
 *
 *   index PATH.idx, a cache that is rebuilt from the recording when missing
 *   or inconsistent: 16-byte header "SDRIDX\0" + u8 version(1) + u64 reserved,
 *   then one 32-byte entry per record, in record order:
 *     0 u64 offset, 8 i64 key, 16 u32 kind, 20 u32 record bytes,
 *    24 u32 CRC32C of bytes 0..23, 28 u32 reserved.
 *
 * Damage model: a crash mid-append leaves a torn tail (a record cut short or
 * failing its CRC with nothing valid after it); sd_rec_recover truncates it.
 * A bad record followed by valid ones is mid-file corruption: the reader
 * reports it precisely (record number, offset, cause), resynchronises on the
 * next valid record, and recovery refuses to truncate (data would be lost). */
#ifndef SD_RECORDING_H
#define SD_RECORDING_H

#include "sd_err.h"

#include <stddef.h>
#include <stdint.h>

enum {
    SD_REC_VERSION_MAJOR = 1,
    SD_REC_VERSION_MINOR = 0,
    SD_REC_HEADER_BYTES = 32,
    SD_REC_RECORD_HDR_BYTES = 32, /* fixed part, before the part lengths */
    SD_REC_IDX_HEADER_BYTES = 16,
    SD_REC_IDX_ENTRY_BYTES = 32,
    SD_REC_MAX_PARTS = 64,
};
#define SD_REC_RECORD_MAGIC 0x31524453u
/* Largest record accepted (bounds every allocation made from a length field). */
#define SD_REC_MAX_RECORD_BYTES ((uint64_t)1 << 30)

/* Record kinds used by ingest (the format itself treats kind as opaque). */
enum sd_rec_kind {
    SD_REC_KIND_OTHER = 0,
    SD_REC_KIND_SERIES_START = 1,
    SD_REC_KIND_FRAME = 2,
    SD_REC_KIND_SERIES_END = 3,
    /* or-ed in: written by ingest itself, not received (a series_end standing
     * in for one the console never sent: idle timeout, superseded series) */
    SD_REC_KIND_SYNTH = 0x100,
};

/* CRC32C (Castagnoli) as used by the recording; `crc` = 0 to start, or the
 * previous return value to continue over more bytes. */
uint32_t sd_rec_crc(uint32_t crc, const void *data, size_t len);

/* ---- encoding (pure functions over caller buffers) ---------------------- */

/* Writes the 32-byte file header. */
void sd_rec_header_encode(int64_t created_ns, uint8_t out[SD_REC_HEADER_BYTES]);
/* Checks magic, version and CRC; *created_ns may be NULL. */
int sd_rec_header_decode(const uint8_t *buf, size_t len, int64_t *created_ns, sd_err_t *e);

/* Bytes a record of these parts takes, or 0 when n_parts is out of
 * 1..SD_REC_MAX_PARTS or the total exceeds SD_REC_MAX_RECORD_BYTES. */
uint64_t sd_rec_record_size(uint32_t n_parts, const size_t *lens /* [n_parts] */);

/* Encodes one record into out[0..cap); returns SD_OK and *written, or
 * SD_EINVAL (bad n_parts/size) / SD_ENOMEM (cap too small). */
int sd_rec_record_encode(uint8_t *out, size_t cap, int64_t t_ns, uint32_t kind, int64_t key,
                         uint32_t n_parts, const void *const *parts /* [n_parts] */,
                         const size_t *lens /* [n_parts] */, size_t *written, sd_err_t *e);

/* A decoded record.  parts[i] point into the buffer that was decoded (or
 * into the reader's buffer, valid until the next read on that reader). */
typedef struct sd_rec_record {
    uint64_t offset;  /* file offset of the record (reader only) */
    uint32_t len;     /* total record bytes */
    int64_t t_ns;
    uint32_t kind;
    int64_t key;
    uint32_t n_parts;
    const uint8_t *parts[SD_REC_MAX_PARTS];
    size_t lens[SD_REC_MAX_PARTS];
} sd_rec_record_t;

/* Reads the record length from its first 8 bytes (have >= 8): SD_OK and *len,
 * or SD_EFORMAT (bad magic / impossible length). */
int sd_rec_record_peek(const uint8_t *buf, size_t have, uint32_t *len, sd_err_t *e);
/* Decodes and verifies (magic, lengths, CRC) one record of buf[0..have).
 * SD_EAGAIN: the record continues past `have` (a torn tail if at EOF). */
int sd_rec_record_decode(const uint8_t *buf, size_t have, sd_rec_record_t *out, sd_err_t *e);

/* Index entries (the recorder appends them; the reader checks them). */
typedef struct sd_rec_idx_entry {
    uint64_t offset;
    int64_t key;
    uint32_t kind;
    uint32_t len;
} sd_rec_idx_entry_t;
void sd_rec_idx_header_encode(uint8_t out[SD_REC_IDX_HEADER_BYTES]);
void sd_rec_idx_entry_encode(const sd_rec_idx_entry_t *x, uint8_t out[SD_REC_IDX_ENTRY_BYTES]);
int sd_rec_idx_entry_decode(const uint8_t *buf, sd_rec_idx_entry_t *x, sd_err_t *e);
/* "PATH.idx" into out (cap bytes); SD_EINVAL if it does not fit. */
int sd_rec_idx_path(const char *path, char *out, size_t cap, sd_err_t *e);

/* ---- reading ------------------------------------------------------------ */

typedef struct sd_rec_reader sd_rec_reader_t;

/* What the last scan found beyond the valid records. */
typedef struct sd_rec_scan_info {
    uint64_t n_records;     /* valid records */
    uint64_t valid_end;     /* offset just past the last valid record */
    uint64_t file_bytes;    /* file size when scanned */
    uint64_t torn_bytes;    /* bytes after the last valid record (torn tail) */
    uint64_t n_corrupt;     /* corrupt regions skipped between valid records */
    uint64_t first_corrupt_offset; /* offset of the first one (if n_corrupt) */
    int index_used;         /* 1: the sidecar index was valid and used */
    char first_corrupt_msg[256]; /* why the first corrupt region was rejected */
} sd_rec_scan_info_t;

/* Opens a recording read-only: checks the header, loads the sidecar index if
 * it agrees with the data (else scans the whole file, verifying every CRC).
 * Never modifies the files.  Returns NULL and *e on failure. */
sd_rec_reader_t *sd_rec_reader_open(const char *path, sd_err_t *e);
void sd_rec_reader_destroy(sd_rec_reader_t **r);

/* Picks up records appended since open/last refresh (a live recording). */
int sd_rec_reader_refresh(sd_rec_reader_t *r, sd_err_t *e);

uint64_t sd_rec_reader_count(const sd_rec_reader_t *r);
const sd_rec_scan_info_t *sd_rec_reader_info(const sd_rec_reader_t *r);
int64_t sd_rec_reader_created_ns(const sd_rec_reader_t *r);
/* Index entry of record i (< count), without reading the record. */
const sd_rec_idx_entry_t *sd_rec_reader_entry(const sd_rec_reader_t *r, uint64_t i);

/* Reads record i, verifying its CRC.  out's part pointers stay valid until
 * the next read on r.  SD_ERANGE if i >= count, SD_EFORMAT on corruption
 * (message: record number, offset and cause). */
int sd_rec_reader_read(sd_rec_reader_t *r, uint64_t i, sd_rec_record_t *out, sd_err_t *e);

/* First record number >= from with this kind and key, or -1. */
int64_t sd_rec_reader_find(const sd_rec_reader_t *r, uint32_t kind, int64_t key, uint64_t from);

/* ---- recovery (before appending to an existing recording) --------------- */

/* Makes PATH appendable after a crash: verifies every record (a full read
 * of the file), truncates a torn tail, and rewrites PATH.idx to match.  Refuses (SD_EFORMAT, nothing
 * changed) when a corrupt region is followed by valid records.  *info (may be
 * NULL) reports what was found; info->valid_end is where appending resumes. */
int sd_rec_recover(const char *path, sd_rec_scan_info_t *info, sd_err_t *e);

/* ---- forwarding cursor (PATH.cursor) ------------------------------------- */

/* How many records of PATH a consumer (ingest → recon) has already taken, so
 * a restarted ingest resumes forwarding where it stopped.  The file is one
 * line "sdrec-cursor N CRC32C-hex\n", replaced atomically (write + rename). */
int sd_rec_cursor_save(const char *path, uint64_t n, sd_err_t *e);
/* SD_ENOTFOUND when there is no cursor file; SD_EFORMAT when it is damaged. */
int sd_rec_cursor_load(const char *path, uint64_t *n, sd_err_t *e);

#endif
