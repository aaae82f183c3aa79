/* sd_crc32c — CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum stemdyn puts on every frame's pixels (iSCSI/ext4/SSE4.2 variant).
 *
 * Contract: pure functions, no state.  Chaining: crc = sd_crc32c(0, a, na);
 * crc = sd_crc32c(crc, b, nb) equals sd_crc32c(0, ab, na + nb).
 * Check value: sd_crc32c(0, "123456789", 9) == 0xE3069283. */
#ifndef SD_CRC32C_H
#define SD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of buf[0..len) continuing from a previous result crc (0 to start).
 * Uses the SSE4.2 crc32 instruction when the CPU has it (compile-time
 * __SSE4_2__, else a run-time check on x86-64), a byte table otherwise.
 * buf may be NULL when len == 0. */
uint32_t sd_crc32c(uint32_t crc, const void *buf, size_t len);

/* The portable table implementation (always available; for tests). */
uint32_t sd_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* 1 when sd_crc32c uses the hardware instruction on this machine. */
int sd_crc32c_hw_available(void);

#endif
