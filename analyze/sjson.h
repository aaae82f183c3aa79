/* sjson — a small strict JSON reader for stemdyn's own documents
 * (DATA_DIR/analyze/state.json, DATA_DIR/recon/latest.json): parses the text
 * into a flat node table and answers lookups by key, index and dotted path.
 * Every node remembers its source span, so a subtree can be forwarded
 * verbatim (the web gateway relays parts of state.json without rebuilding
 * them).  Nodes are ints (0 = root, -1 = absent); every accessor accepts -1
 * and answers "absent", so lookups chain without checks in between. */
#ifndef SJSON_H
#define SJSON_H

#include "sd_err.h"

#include <stddef.h>
#include <stdint.h>

#define SJSON_MAX_DEPTH 64

typedef enum sjson_type {
    SJSON_ABSENT = 0, SJSON_NULL, SJSON_FALSE, SJSON_TRUE, SJSON_NUMBER, SJSON_STRING,
    SJSON_ARRAY, SJSON_OBJECT,
} sjson_type_t;

typedef struct sjson sjson_t;

/* Parses text[0..len) (copied).  NULL and *e (with the byte offset) when the
 * text is not one JSON value or nests deeper than SJSON_MAX_DEPTH. */
sjson_t *sjson_parse(const char *text, size_t len, sd_err_t *e);
void sjson_destroy(sjson_t **p);

sjson_type_t sjson_type(const sjson_t *j, int node);
/* Member `key` of an object node; -1 when absent or node is not an object. */
int sjson_get(const sjson_t *j, int node, const char *key);
/* Follows a dotted path of object keys from node ("stats.merged.counts"). */
int sjson_path(const sjson_t *j, int node, const char *path);
/* Number of elements (array) or members (object); 0 otherwise. */
int sjson_len(const sjson_t *j, int node);
/* Element i of an array (or value of member i of an object); -1 if out of range. */
int sjson_at(const sjson_t *j, int node, int i);
/* The number (NaN for null or a non-number). */
double sjson_num(const sjson_t *j, int node);
/* The source text of a node (borrowed from j, not NUL-terminated); NULL if absent. */
const char *sjson_raw(const sjson_t *j, int node, size_t *len);
/* A string node decoded into buf (\uXXXX beyond ASCII becomes '?'); returns
 * the length, or -1 if node is not a string or does not fit in cap. */
int sjson_str(const sjson_t *j, int node, char *buf, size_t cap);
/* Fills out [n] with the numbers of an array node of exactly n elements
 * (null → NaN); SD_EFORMAT otherwise. */
int sjson_numbers(const sjson_t *j, int node, double *out, int n, sd_err_t *e);

#endif
