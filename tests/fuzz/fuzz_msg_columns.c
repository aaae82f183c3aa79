/* libFuzzer harness for the 'columns' decoder (input: [header][payload…], see fuzz_msg_common.h). */
#include "fuzz_msg_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_msg_run(data, size, SD_MSG_COLUMNS);
}
