/* fuzz_tensor.c - .mtt tensor files: the header, the shape arithmetic, the values' checksum,
 * truncation, and the same bytes through a file (mt_tensor_load). */
#include "core/mt_tensor_io.h"
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    mt_tensor *t = NULL;
    FILE *f = fmemopen((void *)data, n ? n : 1, "rb");
    if (!f) return 0;
    if (n && mt_tensor_read_stream(&t, f, "input") == MT_OK) mt_tensor_release(t);
    fclose(f);
    t = NULL;
    if (mt_tensor_load(&t, fuzz_file(data, n, ".mtt")) == MT_OK) mt_tensor_release(t);
    return 0;
}
