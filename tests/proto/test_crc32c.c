/* CRC32C: published check values, chaining, and hardware == table on
 * buffers of every length/alignment up to a few cache lines. */
#include "sd_crc32c.h"
#include "sdtest.h"

#include <stdint.h>

static void test_check_values(sdt_t *t)
{
    /* RFC 3720 / iSCSI check value and the B.4 test patterns. */
    CHECK_EQ_INT(t, sd_crc32c(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ_INT(t, sd_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    uint8_t z[32] = {0}, ff[32], inc[32], dec[32];
    for (int i = 0; i < 32; i++) {
        ff[i] = 0xff;
        inc[i] = (uint8_t)i;
        dec[i] = (uint8_t)(31 - i);
    }
    CHECK_EQ_INT(t, sd_crc32c(0, z, 32), 0x8A9136AAu);
    CHECK_EQ_INT(t, sd_crc32c(0, ff, 32), 0x62A8AB43u);
    CHECK_EQ_INT(t, sd_crc32c(0, inc, 32), 0x46DD794Eu);
    CHECK_EQ_INT(t, sd_crc32c(0, dec, 32), 0x113FDB5Cu);
    CHECK_EQ_INT(t, sd_crc32c(0, NULL, 0), 0u);
    CHECK_EQ_INT(t, sd_crc32c(0, "a", 1), 0xC1D04330u);
}

static void test_chaining(sdt_t *t)
{
    const char *s = "The quick brown fox jumps over the lazy dog";
    size_t n = strlen(s);
    uint32_t whole = sd_crc32c(0, s, n);
    CHECK_EQ_INT(t, whole, 0x22620404u);
    for (size_t cut = 0; cut <= n; cut++)
        CHECK_EQ_INT(t, sd_crc32c(sd_crc32c(0, s, cut), s + cut, n - cut), whole);
}

static void test_hw_matches_table(sdt_t *t)
{
    uint8_t buf[512 + 8];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    int bad = 0;
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len <= 512; len++)
            bad += sd_crc32c(0x12345678u, buf + off, len) != sd_crc32c_sw(0x12345678u, buf + off, len);
    CHECK_EQ_INT(t, bad, 0);
    /* Long buffers take the 3-stream path (blocks of 3 x 4096 bytes). */
    size_t big = 3 * 4096 * 4 + 123;
    uint8_t *b = malloc(big + 8);
    for (size_t i = 0; i < big + 8; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (uint8_t)x;
    }
    static const size_t lens[] = {3 * 4096 - 1, 3 * 4096, 3 * 4096 + 1, 6 * 4096 + 8,
                                  3 * 4096 * 4 + 123};
    for (size_t off = 0; off < 8; off += 3)
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
            CHECK_EQ_INT(t, sd_crc32c(7, b + off, lens[i]), sd_crc32c_sw(7, b + off, lens[i]));
    uint32_t whole = sd_crc32c(0, b, big);
    CHECK_EQ_INT(t, sd_crc32c(sd_crc32c(0, b, 5000), b + 5000, big - 5000), whole);
    free(b);
    fprintf(stderr, "hardware crc32c: %s\n", sd_crc32c_hw_available() ? "yes" : "no");
}

SDT_MAIN(SDT_CASE(test_check_values), SDT_CASE(test_chaining), SDT_CASE(test_hw_matches_table))
