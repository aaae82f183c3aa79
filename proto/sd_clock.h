/* sd_clock — monotonic and wall clocks in nanoseconds. */
#ifndef SD_CLOCK_H
#define SD_CLOCK_H
#include <stdint.h>
/* CLOCK_MONOTONIC, for durations and timeouts. */
int64_t sd_clock_mono_ns(void);
/* CLOCK_REALTIME since the Unix epoch, for timestamps that cross processes. */
int64_t sd_clock_wall_ns(void);
#endif
