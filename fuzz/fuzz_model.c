/* fuzz_model.c - .mtn model files (header, description, tensor records, trailer). The JSON
 * description is read by Lua: fuzz_modelfile covers models.load as a whole. */
#include "nn/mt_model_io.h"
#include "fuzz_util.h"

#include <string.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char *header = NULL;
    size_t len = 0;
    int count = 0;
    mt_tensor **tensors = NULL;
    if (mt_model_load(fuzz_file(data, n, ".mtn"), &header, &len, &count, &tensors) == MT_OK) {
        if (strlen(header) > len) abort();
        mt_model_free(header, count, tensors);
    }
    return 0;
}
