/* fuzz_util.h - what the harnesses share: the input as a file, quiet failures. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Writes the input to this process's scratch file (under $TMPDIR, /tmp by default) and
 * returns its path; the same path for every input of a run. Aborts when it cannot. */
const char *fuzz_file(const uint8_t *data, size_t n, const char *suffix);

#endif
