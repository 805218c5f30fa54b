/*
 * lmt_sys.c - small system services for scripts (mtcnn.sys): a monotonic
 * clock for benchmarks, sleeping, the CPU count, the kernels' thread count,
 * and whether a stream is a terminal (progress bars draw only on terminals).
 */
#include "lmt.h"

#include "../runtime/mt_threads.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* sys.clock() -> seconds from an arbitrary origin, monotonic, ns resolution */
static int l_clock(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

/* sys.sleep(seconds) */
static int l_sleep(lua_State *L) {
    lua_Number s = luaL_checknumber(L, 1);
    luaL_argcheck(L, s >= 0, 1, "negative duration");
    struct timespec ts = {(time_t)s, (long)((s - (lua_Number)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    return 0;
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
                                         {"set_threads", l_set_threads}, {NULL, NULL}};

int mtL_open_sys(lua_State *L) {
    luaL_newlib(L, sys_functions);
    return 1;
}
