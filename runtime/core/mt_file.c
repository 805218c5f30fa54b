/* mt_file.c - CRC-32C and the temporary-file-then-rename writer. */
#include "core/mt_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define MT_HAVE_SSE42_PATH 1
#endif

static uint32_t crc_table[8][256];
static int crc_table_ready;

static void crc_init_table(void) {
    /* reflected Castagnoli polynomial; tables for slicing by 8 bytes */
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
    __atomic_store_n(&crc_table_ready, 1, __ATOMIC_RELEASE);
}

static uint32_t crc_soft(uint32_t c, const unsigned char *p, size_t n) {
    if (!__atomic_load_n(&crc_table_ready, __ATOMIC_ACQUIRE)) crc_init_table();
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= c;
        c = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
            crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
            crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
            crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    return c;
}

#ifdef MT_HAVE_SSE42_PATH
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const unsigned char *p,
                                                         size_t n) {
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c64 = _mm_crc32_u64(c64, w);
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
    while (n--) c = _mm_crc32_u8(c, *p++);
    return c;
}
#endif

uint32_t mt_crc32c(uint32_t crc, const void *data, size_t n) {
    uint32_t c = ~crc;
#ifdef MT_HAVE_SSE42_PATH
    if (__builtin_cpu_supports("sse4.2")) return ~crc_hw(c, (const unsigned char *)data, n);
#endif
    return ~crc_soft(c, (const unsigned char *)data, n);
}

/* ---- atomic writer ---------------------------------------------------------------------- */

mt_status mt_atomic_open(mt_atomic_file *af, const char *path) {
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    af->path = (char *)malloc(n + 1);
    af->tmp = (char *)malloc(n + 32);
    if (!af->path || !af->tmp) {
        free(af->path);
        free(af->tmp);
        af->path = af->tmp = NULL;
        return mt_fail(MT_ERR_OOM, "%s: out of memory", path);
    }
    memcpy(af->path, path, n + 1);
    snprintf(af->tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f) {
        mt_status st = mt_fail(MT_ERR_IO, "%s: cannot create file: %s", path, strerror(errno));
        free(af->path);
        free(af->tmp);
        af->path = af->tmp = NULL;
        return st;
    }
    return MT_OK;
}

mt_status mt_atomic_write(mt_atomic_file *af, const void *data, size_t n) {
    if (n && fwrite(data, 1, n, af->f) != n)
        return mt_fail(MT_ERR_IO, "%s: write failed: %s", af->path, strerror(errno));
    return MT_OK;
}

void mt_sync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n == 0) n = 1;
        if (n >= sizeof dir) return;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

mt_status mt_atomic_commit(mt_atomic_file *af) {
    mt_status st = MT_OK;
    if (fflush(af->f) != 0 || fsync(fileno(af->f)) != 0)
        st = mt_fail(MT_ERR_IO, "%s: write failed: %s", af->path, strerror(errno));
    if (fclose(af->f) != 0 && st == MT_OK)
        st = mt_fail(MT_ERR_IO, "%s: write failed: %s", af->path, strerror(errno));
    af->f = NULL;
    if (st == MT_OK && rename(af->tmp, af->path) != 0)
        st = mt_fail(MT_ERR_IO, "%s: cannot rename the temporary file into place: %s", af->path,
                     strerror(errno));
    if (st != MT_OK) {
        unlink(af->tmp);
    } else {
        mt_sync_parent_dir(af->path);
    }
    free(af->path);
    free(af->tmp);
    af->path = af->tmp = NULL;
    return st;
}

void mt_atomic_abort(mt_atomic_file *af) {
    if (af->f) fclose(af->f);
    if (af->tmp) unlink(af->tmp);
    free(af->path);
    free(af->tmp);
    memset(af, 0, sizeof *af);
}

mt_status mt_read_exact(FILE *f, void *dst, size_t n, const char *path, const char *what) {
    size_t got = n ? fread(dst, 1, n, f) : 0;
    if (got != n) {
        if (ferror(f))
            return mt_fail(MT_ERR_IO, "%s: read error in %s: %s", path, what, strerror(errno));
        return mt_fail(MT_ERR_FORMAT, "%s: truncated file: %s needs %zu bytes, only %zu left",
                       path, what, n, got);
    }
    return MT_OK;
}
