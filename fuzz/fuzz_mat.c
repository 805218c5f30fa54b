/* fuzz_mat.c - the MAT-file (level 5) reader: tags, compressed elements, arrays, cells and
 * structs nested to any depth, sparse and character arrays. */
#include "eval/mt_matfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    mt_mat_list list = {0, NULL};
    if (mt_mat_parse(data, n, "input", &list) == MT_OK) mt_mat_list_free(&list);
    return 0;
}
