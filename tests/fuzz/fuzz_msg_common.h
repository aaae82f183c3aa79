/* Shared body of the wire-message fuzz harnesses (fuzz_msg*.c).
 *
 * Input framing: a sequence of parts, each a 4-byte little-endian length and
 * that many bytes (a length past the end takes what is left).  The per-type
 * harnesses (FUZZ_MSG_TYPE set) prepend the topic part themselves, so their
 * input is [header][payload…]; the generic harness reads all parts, topic
 * included, and lets sd_msg_decode dispatch on the header's type.
 *
 * Oracle besides the sanitizers: whatever decodes must re-encode and decode
 * again to the same type (decoder and encoder agree on what is valid). */
#ifndef FUZZ_MSG_COMMON_H
#define FUZZ_MSG_COMMON_H

#include "sd_msg.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Splits data into parts (views into data) after `first` pre-set parts. */
static inline void fuzz_msg_split(const uint8_t *data, size_t size, sd_parts_t *p)
{
    size_t i = 0;
    while (i < size && p->n < SD_PARTS_CAP) {
        size_t len;
        if (size - i < 4) {
            len = size - i;
        } else {
            len = (size_t)data[i] | (size_t)data[i + 1] << 8 | (size_t)data[i + 2] << 16 |
                  (size_t)data[i + 3] << 24;
            i += 4;
            if (len > size - i)
                len = size - i;
        }
        p->data[p->n] = data + i;
        p->len[p->n] = len;
        p->n++;
        i += len;
    }
}

static inline int fuzz_msg_run(const uint8_t *data, size_t size, sd_msg_type_t type)
{
    sd_parts_t p;
    memset(&p, 0, sizeof p);
    if (type != SD_MSG_NONE) {
        const char *topic = sd_msg_type_name(type);
        p.data[0] = (const uint8_t *)topic;
        p.len[0] = strlen(topic);
        p.n = 1;
    }
    fuzz_msg_split(data, size, &p);
    int flags = (size && (data[size - 1] & 1)) ? SD_DECODE_BORROW : 0;
    sd_msg_t m;
    sd_err_t e;
    int rc = type != SD_MSG_NONE ? sd_msg_decode_as(&p, type, &m, flags, &e)
                                 : sd_msg_decode(&p, &m, flags, &e);
    if (rc != SD_OK) {
        if (rc > 0 || e.msg[0] == '\0' || strnlen(e.msg, sizeof e.msg) == sizeof e.msg) {
            fprintf(stderr, "decoder failed without a message (rc %d)\n", rc);
            abort();
        }
        return 0;
    }
    sd_parts_t q;
    if (sd_msg_encode(&m, &q, &e) != SD_OK) {
        fprintf(stderr, "decoded %s does not re-encode: %s\n", sd_msg_type_name(m.type), e.msg);
        abort();
    }
    sd_msg_t m2;
    if (sd_msg_decode(&q, &m2, 0, &e) != SD_OK || m2.type != m.type) {
        fprintf(stderr, "re-encoded %s does not decode: %s\n", sd_msg_type_name(m.type), e.msg);
        abort();
    }
    sd_msg_free(&m2);
    sd_parts_free(&q);
    sd_msg_free(&m);
    return 0;
}

#endif
