/* mt_file.c - CRC-32C and the temporary-file-then-rename writer. */
#include "core/mt_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    /* whatever is at the temporary name (a stale file, a link planted there) is removed, and
     * the file created anew ("x": O_EXCL, which follows no link), so that the data never goes
     * through a link to another file and no link is renamed into place */
    unlink(af->tmp);
    af->f = fopen(af->tmp, "wbx");
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

/* ---- reading regular files ------------------------------------------------------------------ */

static const char *kind_of(mode_t m) {
    return S_ISDIR(m) ? "a folder" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device"
           : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a plain file";
}

mt_status mt_open_regular(const char *path, int write, int *fd) {
    *fd = open(path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK);
    if (*fd < 0) return mt_fail(MT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        mt_status st = mt_fail(MT_ERR_IO, "%s: not a regular file (%s)", path,
                               fstat(*fd, &sb) == 0 ? kind_of(sb.st_mode) : strerror(errno));
        close(*fd);
        *fd = -1;
        return st;
    }
    int flags = fcntl(*fd, F_GETFL);
    if (flags >= 0) fcntl(*fd, F_SETFL, flags & ~O_NONBLOCK);
    return MT_OK;
}

mt_status mt_fopen_regular(const char *path, FILE **f) {
    int fd;
    *f = NULL;
    MT_TRY(mt_open_regular(path, 0, &fd));
    *f = fdopen(fd, "rb");
    if (!*f) {
        mt_status st = mt_fail(MT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
        return st;
    }
    return MT_OK;
}

mt_status mt_read_file(const char *path, uint8_t **data, size_t *n, size_t max_bytes) {
    *data = NULL;
    *n = 0;
    int fd;
    MT_TRY(mt_open_regular(path, 0, &fd));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        mt_status st = mt_fail(MT_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return st;
    }
    if ((uint64_t)sb.st_size > max_bytes) {
        close(fd);
        return mt_fail(MT_ERR_ARG, "%s: the file is too large (%.1f MiB, at most %.1f MiB)", path,
                       (double)sb.st_size / 1048576.0, (double)max_bytes / 1048576.0);
    }
    size_t size = (size_t)sb.st_size, got = 0;
    uint8_t *buf = (uint8_t *)malloc(size + 1);
    if (!buf) {
        close(fd);
        return mt_fail(MT_ERR_OOM, "%s: out of memory reading %zu bytes", path, size);
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    int err = errno;
    close(fd);
    if (got != size) {
        free(buf);
        return mt_fail(MT_ERR_IO, "%s: read error: %s", path,
                       got < size ? "the file shrank while it was read" : strerror(err));
    }
    buf[size] = '\0';
    *data = buf;
    *n = size;
    return MT_OK;
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
