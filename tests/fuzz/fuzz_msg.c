/* libFuzzer harness for the generic decoder: all parts (topic included) come
 * from the input and sd_msg_decode dispatches on the header's type. */
#include "fuzz_msg_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_msg_run(data, size, SD_MSG_NONE);
}
