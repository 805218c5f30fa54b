/*
 * lmt_sys.c - small system services for scripts (mtcnn.sys): a monotonic
 * clock for benchmarks, sleeping, the CPU count, the kernels' thread count,
 * and whether a stream is a terminal (progress bars draw only on terminals).
 */
#include "lmt.h"

#include "core/mt_file.h"
#include "core/mt_threads.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* sys.clock() -> seconds from an arbitrary origin, monotonic, ns resolution */
static int l_clock(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

/* sys.sleep(seconds): in slices of at most 50 ms, ending early on an interrupt request
 * (Ctrl-C in the host) */
static int l_sleep(lua_State *L) {
    lua_Number s = luaL_checknumber(L, 1);
    luaL_argcheck(L, s >= 0, 1, "negative duration");
    while (s > 0 && !mt_interrupted()) {
        lua_Number slice = s < 0.05 ? s : 0.05;
        struct timespec ts = {0, (long)(slice * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !mt_interrupted()) {
        }
        s -= slice;
    }
    if (mt_interrupted()) MTL_CHECK(L, mt_interrupt_fail("sleep"));
    return 0;
}

/* sys.crc32c(bytes [, crc = 0]) -> the CRC-32C of the bytes, continuing from crc */
static int l_crc32c(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_Integer crc = luaL_optinteger(L, 2, 0);
    luaL_argcheck(L, crc >= 0 && crc <= 0xffffffffLL, 2, "not a 32-bit CRC");
    lua_pushinteger(L, (lua_Integer)mt_crc32c((uint32_t)crc, s, n));
    return 1;
}

/* sys.cpu_count() -> online processors */
static int l_cpu_count(lua_State *L) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    lua_pushinteger(L, n > 0 ? n : 1);
    return 1;
}

/* sys.isatty(file) -> true when the Lua file (io.stderr, ...) is a terminal */
static int l_isatty(lua_State *L) {
    luaL_Stream *s = (luaL_Stream *)luaL_checkudata(L, 1, LUA_FILEHANDLE);
    lua_pushboolean(L, s->f != NULL && isatty(fileno(s->f)));
    return 1;
}

/* sys.pid() -> the process id (for temporary names) */
static int l_pid(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

/* sys.listdir(path) -> sorted list of entry names (without . and ..) | nil, message */
static int l_listdir(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    DIR *d = opendir(path);
    if (!d) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", path, strerror(errno));
        return 2;
    }
    lua_newtable(L);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        lua_pushstring(L, e->d_name);
        lua_rawseti(L, -2, ++n);
    }
    closedir(d);
    /* sort with table.sort so the order does not depend on the file system */
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, -3);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    return 1;
}

/* sys.stat(path) -> {type = "file"|"directory"|"other", size, mtime, id} | nil, message;
 * id is "device:inode", the same for every name of one file or folder (links, other
 * spellings), so that a folder walk can visit each real folder once. */
static int l_stat(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (stat(path, &st) != 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", path, strerror(errno));
        return 2;
    }
    lua_createtable(L, 0, 4);
    lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "directory" : "other");
    lua_setfield(L, -2, "type");
    lua_pushfstring(L, "%I:%I", (lua_Integer)st.st_dev, (lua_Integer)st.st_ino);
    lua_setfield(L, -2, "id");
    lua_pushinteger(L, (lua_Integer)st.st_size);
    lua_setfield(L, -2, "size");
    lua_pushnumber(L, (lua_Number)st.st_mtim.tv_sec + (lua_Number)st.st_mtim.tv_nsec * 1e-9);
    lua_setfield(L, -2, "mtime");
    return 1;
}

/* sys.realpath(path) -> the absolute path without links, "." or ".." | nil, message */
static int l_realpath(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    char *r = realpath(path, NULL);
    if (!r) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", path, strerror(errno));
        return 2;
    }
    lua_pushstring(L, r);
    free(r);
    return 1;
}

static int close_stream(lua_State *L) {
    luaL_Stream *p = (luaL_Stream *)luaL_checkudata(L, 1, LUA_FILEHANDLE);
    return luaL_fileresult(L, fclose(p->f) == 0, NULL);
}

/* sys.open(path [, mode = "rb"]) -> a Lua file | nil, message. For reading ("r", "rb"): only
 * a regular file opens; a folder, a device or a FIFO is refused without waiting for a FIFO's
 * writer. Other modes open as io.open does. */
static int l_open(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    const char *mode = luaL_optstring(L, 2, "rb");
    luaL_Stream *p = (luaL_Stream *)lua_newuserdatauv(L, sizeof(luaL_Stream), 0);
    p->closef = NULL; /* (a closed file until it opens) */
    luaL_setmetatable(L, LUA_FILEHANDLE);
    if (strcmp(mode, "r") == 0 || strcmp(mode, "rb") == 0) {
        if (mt_fopen_regular(path, &p->f) != MT_OK) return mtL_fail(L);
    } else {
        p->f = fopen(path, mode);
        if (!p->f) {
            luaL_pushfail(L);
            lua_pushfstring(L, "%s: %s", path, strerror(errno));
            return 2;
        }
    }
    p->closef = close_stream;
    return 1;
}

/* sys.fsync(file) -> true | nil, message: the Lua file's buffer written (fflush) and its
 * data on the disk (fsync); a full disk shows here, not at exit */
static int l_fsync(lua_State *L) {
    luaL_Stream *p = (luaL_Stream *)luaL_checkudata(L, 1, LUA_FILEHANDLE);
    if (!p->closef) return mtL_errorf(L, "fsync: the file is closed");
    errno = 0;
    int ok = fflush(p->f) == 0 && fsync(fileno(p->f)) == 0;
    /* (fsync of a pipe or terminal fails with EINVAL: nothing to make durable there) */
    if (!ok && errno == EINVAL) ok = 1;
    return luaL_fileresult(L, ok, NULL);
}

/* sys.mkdir(path) -> true | nil, message; creates missing parents; an existing folder is fine */
static int l_mkdir(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    size_t n = strlen(path);
    char *buf = (char *)malloc(n + 1);
    if (!buf) return mtL_errorf(L, "mkdir: out of memory");
    memcpy(buf, path, n + 1);
    int ok = 1;
    for (size_t i = 1; i <= n && ok; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) ok = 0;
        buf[i] = saved;
    }
    struct stat st;
    int err = errno;
    if (ok && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))) {
        ok = 0;
        err = ENOTDIR;
    }
    free(buf);
    if (!ok) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: cannot create folder: %s", path, strerror(err));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* sys.threads() -> threads the C kernels use */
static int l_threads(lua_State *L) {
    lua_pushinteger(L, mt_threads_count());
    return 1;
}

/* sys.set_threads(n) - also settable at start-up with MTCNN_THREADS */
static int l_set_threads(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1 && n <= MT_MAX_THREADS, 1, "thread count out of range 1..64");
    mt_threads_set((int)n);
    return 0;
}

static const luaL_Reg sys_functions[] = {{"clock", l_clock},         {"sleep", l_sleep},
                                         {"cpu_count", l_cpu_count}, {"isatty", l_isatty},
                                         {"pid", l_pid},             {"threads", l_threads},
                                         {"set_threads", l_set_threads}, {"listdir", l_listdir},
                                         {"stat", l_stat},           {"mkdir", l_mkdir},
                                         {"crc32c", l_crc32c},       {"realpath", l_realpath},
                                         {"open", l_open},           {"fsync", l_fsync},
                                         {NULL, NULL}};

int mtL_open_sys(lua_State *L) {
    luaL_newlib(L, sys_functions);
    return 1;
}
