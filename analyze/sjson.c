#include "sjson.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct node {
    sjson_type_t type;
    size_t start, end;         /* source span of the value */
    size_t kstart, kend;       /* object members: span of the key, quotes excluded */
    int first, next, n;        /* first child, next sibling, number of children */
    double num;
} node_t;

struct sjson {
    char *text;
    size_t len, pos;
    node_t *nodes;
    int nn, cap;
    /* sjson_at cache: iterating an array is linear, not quadratic */
    int at_node, at_i, at_child;
    sd_err_t *e;
};

static int new_node(sjson_t *j, sjson_type_t t)
{
    if (j->nn == j->cap) {
        int cap = j->cap ? 2 * j->cap : 256;
        node_t *q = realloc(j->nodes, (size_t)cap * sizeof *q);
        if (!q)
            return -1;
        j->nodes = q;
        j->cap = cap;
    }
    node_t *n = &j->nodes[j->nn];
    memset(n, 0, sizeof *n);
    n->type = t;
    n->first = n->next = -1;
    n->start = j->pos;
    return j->nn++;
}

static void ws(sjson_t *j)
{
    while (j->pos < j->len && (j->text[j->pos] == ' ' || j->text[j->pos] == '\n' ||
                               j->text[j->pos] == '\r' || j->text[j->pos] == '\t'))
        j->pos++;
}

static int fail(sjson_t *j, const char *what)
{
    sd_err_set(j->e, SD_EFORMAT, "JSON: %s at byte %zu", what, j->pos);
    return -1;
}

/* Skips a string starting at pos (the opening quote); validates escapes. */
static int skip_string(sjson_t *j)
{
    j->pos++;
    while (j->pos < j->len) {
        unsigned char c = (unsigned char)j->text[j->pos++];
        if (c == '"')
            return 0;
        if (c < 0x20)
            return fail(j, "control character in string");
        if (c == '\\') {
            if (j->pos >= j->len)
                break;
            char x = j->text[j->pos++];
            if (x == 'u') {
                for (int k = 0; k < 4; k++, j->pos++)
                    if (j->pos >= j->len || !strchr("0123456789abcdefABCDEF", j->text[j->pos]) ||
                        !j->text[j->pos])
                        return fail(j, "bad \\u escape");
            } else if (!strchr("\"\\/bfnrt", x) || !x) {
                return fail(j, "bad escape");
            }
        }
    }
    return fail(j, "unterminated string");
}

static int parse_value(sjson_t *j, int depth);

static int parse_container(sjson_t *j, int depth, int is_obj)
{
    int me = new_node(j, is_obj ? SJSON_OBJECT : SJSON_ARRAY);
    if (me < 0)
        return fail(j, "out of memory");
    char close = is_obj ? '}' : ']';
    j->pos++;
    ws(j);
    int last = -1;
    if (j->pos < j->len && j->text[j->pos] == close) {
        j->pos++;
        j->nodes[me].end = j->pos;
        return me;
    }
    for (;;) {
        size_t ks = 0, ke = 0;
        if (is_obj) {
            ws(j);
            if (j->pos >= j->len || j->text[j->pos] != '"')
                return fail(j, "object key expected");
            ks = j->pos + 1;
            if (skip_string(j))
                return -1;
            ke = j->pos - 1;
            ws(j);
            if (j->pos >= j->len || j->text[j->pos] != ':')
                return fail(j, "':' expected");
            j->pos++;
        }
        int kid = parse_value(j, depth + 1);
        if (kid < 0)
            return -1;
        j->nodes[kid].kstart = ks;
        j->nodes[kid].kend = ke;
        if (last < 0)
            j->nodes[me].first = kid;
        else
            j->nodes[last].next = kid;
        last = kid;
        j->nodes[me].n++;
        ws(j);
        if (j->pos < j->len && j->text[j->pos] == ',') {
            j->pos++;
            continue;
        }
        if (j->pos < j->len && j->text[j->pos] == close) {
            j->pos++;
            j->nodes[me].end = j->pos;
            return me;
        }
        return fail(j, is_obj ? "',' or '}' expected" : "',' or ']' expected");
    }
}

static int parse_value(sjson_t *j, int depth)
{
    if (depth > SJSON_MAX_DEPTH)
        return fail(j, "nested too deeply");
    ws(j);
    if (j->pos >= j->len)
        return fail(j, "value expected");
    char c = j->text[j->pos];
    if (c == '{' || c == '[')
        return parse_container(j, depth, c == '{');
    static const struct { const char *w; sjson_type_t t; } words[] = {
        {"null", SJSON_NULL}, {"true", SJSON_TRUE}, {"false", SJSON_FALSE}};
    for (int w = 0; w < 3; w++) {
        size_t n = strlen(words[w].w);
        if (j->len - j->pos >= n && !memcmp(j->text + j->pos, words[w].w, n)) {
            int me = new_node(j, words[w].t);
            if (me < 0)
                return fail(j, "out of memory");
            j->pos += n;
            j->nodes[me].end = j->pos;
            j->nodes[me].num = NAN;
            return me;
        }
    }
    if (c == '"') {
        int me = new_node(j, SJSON_STRING);
        if (me < 0)
            return fail(j, "out of memory");
        if (skip_string(j))
            return -1;
        j->nodes[me].end = j->pos;
        j->nodes[me].num = NAN;
        return me;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        /* JSON's number grammar is a subset of strtod's: check the characters,
         * then let strtod (the text is NUL-terminated) do the conversion */
        size_t p = j->pos;
        while (p < j->len && strchr("+-0123456789.eE", j->text[p]) && j->text[p])
            p++;
        char *end = NULL;
        double v = strtod(j->text + j->pos, &end);
        if (end != j->text + p || (p - j->pos > 1 && c == '0' && j->text[j->pos + 1] != '.' &&
                                   j->text[j->pos + 1] != 'e' && j->text[j->pos + 1] != 'E'))
            return fail(j, "bad number");
        int me = new_node(j, SJSON_NUMBER);
        if (me < 0)
            return fail(j, "out of memory");
        j->pos = p;
        j->nodes[me].end = p;
        j->nodes[me].num = v;
        return me;
    }
    return fail(j, "unexpected character");
}

sjson_t *sjson_parse(const char *text, size_t len, sd_err_t *e)
{
    sjson_t *j = calloc(1, sizeof *j);
    if (!j || !(j->text = malloc(len + 1))) {
        free(j);
        sd_err_set(e, SD_ENOMEM, "JSON: out of memory for %zu bytes", len);
        return NULL;
    }
    memcpy(j->text, text, len);
    j->text[len] = 0;
    j->len = len;
    j->e = e;
    j->at_node = -1;
    int root = parse_value(j, 0);
    if (root == 0) {
        ws(j);
        if (j->pos != j->len)
            root = fail(j, "trailing characters");
    }
    if (root != 0) {
        sjson_destroy(&j);
        return NULL;
    }
    j->e = NULL;
    return j;
}

void sjson_destroy(sjson_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->text);
    free((*p)->nodes);
    free(*p);
    *p = NULL;
}

sjson_type_t sjson_type(const sjson_t *j, int node)
{
    return node >= 0 && node < j->nn ? j->nodes[node].type : SJSON_ABSENT;
}

int sjson_get(const sjson_t *j, int node, const char *key)
{
    if (sjson_type(j, node) != SJSON_OBJECT)
        return -1;
    size_t kl = strlen(key);
    for (int c = j->nodes[node].first; c >= 0; c = j->nodes[c].next) {
        const node_t *n = &j->nodes[c];
        if (n->kend - n->kstart == kl && !memcmp(j->text + n->kstart, key, kl))
            return c;
    }
    return -1;
}

int sjson_path(const sjson_t *j, int node, const char *path)
{
    char key[128];
    while (node >= 0 && *path) {
        size_t k = strcspn(path, ".");
        if (k >= sizeof key)
            return -1;
        memcpy(key, path, k);
        key[k] = 0;
        node = sjson_get(j, node, key);
        path += k + (path[k] == '.');
    }
    return node;
}

int sjson_len(const sjson_t *j, int node)
{
    sjson_type_t t = sjson_type(j, node);
    return t == SJSON_ARRAY || t == SJSON_OBJECT ? j->nodes[node].n : 0;
}

int sjson_at(const sjson_t *cj, int node, int i)
{
    sjson_t *j = (sjson_t *)cj; /* the cache is not part of the value */
    if (i < 0 || i >= sjson_len(j, node))
        return -1;
    int c = j->nodes[node].first, k = 0;
    if (j->at_node == node && j->at_i <= i) {
        c = j->at_child;
        k = j->at_i;
    }
    for (; k < i; k++)
        c = j->nodes[c].next;
    j->at_node = node;
    j->at_i = i;
    j->at_child = c;
    return c;
}

double sjson_num(const sjson_t *j, int node)
{
    return sjson_type(j, node) == SJSON_NUMBER ? j->nodes[node].num : NAN;
}

const char *sjson_raw(const sjson_t *j, int node, size_t *len)
{
    if (sjson_type(j, node) == SJSON_ABSENT)
        return NULL;
    *len = j->nodes[node].end - j->nodes[node].start;
    return j->text + j->nodes[node].start;
}

int sjson_str(const sjson_t *j, int node, char *buf, size_t cap)
{
    if (sjson_type(j, node) != SJSON_STRING || cap == 0)
        return -1;
    size_t o = 0;
    for (size_t p = j->nodes[node].start + 1; p + 1 < j->nodes[node].end; p++) {
        char c = j->text[p];
        if (c == '\\') {
            char x = j->text[++p];
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            if (x == 'u') {
                unsigned v = (unsigned)strtoul((char[5]){j->text[p + 1], j->text[p + 2],
                                                         j->text[p + 3], j->text[p + 4], 0},
                                               NULL, 16);
                c = v < 0x80 ? (char)v : '?';
                p += 4;
            } else {
                c = to[strchr(from, x) - from];
            }
        }
        if (o + 1 >= cap)
            return -1;
        buf[o++] = c;
    }
    buf[o] = 0;
    return (int)o;
}

int sjson_numbers(const sjson_t *j, int node, double *out, int n, sd_err_t *e)
{
    if (sjson_type(j, node) != SJSON_ARRAY || sjson_len(j, node) != n)
        return sd_err_set(e, SD_EFORMAT, "expected an array of %d numbers", n);
    int i = 0;
    for (int c = j->nodes[node].first; c >= 0; c = j->nodes[c].next, i++) {
        sjson_type_t t = j->nodes[c].type;
        if (t != SJSON_NUMBER && t != SJSON_NULL)
            return sd_err_set(e, SD_EFORMAT, "element %d is not a number", i);
        out[i] = j->nodes[c].num;
    }
    return SD_OK;
}
