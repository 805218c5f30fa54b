/*
 * lmt_device.c - the Lua binding of devices (mtcnn.cuda).
 *
 * Works in every build: without the CUDA backend, or without a GPU,
 * available() is false and device_info() returns nil and the reason.
 */
#include "lmt.h"

/* cuda.available() -> true when a CUDA device can be used */
static int l_available(lua_State *L) {
    lua_pushboolean(L, mt_device_available(MT_CUDA));
    return 1;
}

/* cuda.compiled() -> true when this build contains the CUDA backend */
static int l_compiled(lua_State *L) {
    lua_pushboolean(L, mt_cuda_compiled());
    return 1;
}

/* cuda.device_info() -> {name, capability, memory, ...} | nil, reason */
static int l_device_info(lua_State *L) {
    mt_cuda_info info;
    if (mt_cuda_query(&info) != MT_OK) return mtL_fail(L);
    lua_createtable(L, 0, 9);
    lua_pushstring(L, info.name);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, info.index + 1);
    lua_setfield(L, -2, "index");
    lua_pushinteger(L, info.count);
    lua_setfield(L, -2, "count");
    lua_pushfstring(L, "%d.%d", info.major, info.minor);
    lua_setfield(L, -2, "capability");
    lua_pushinteger(L, (lua_Integer)info.total_mem);
    lua_setfield(L, -2, "total_memory");
    lua_pushinteger(L, (lua_Integer)info.free_mem);
    lua_setfield(L, -2, "free_memory");
    lua_pushinteger(L, info.multiprocessors);
    lua_setfield(L, -2, "multiprocessors");
    lua_pushinteger(L, info.runtime_version);
    lua_setfield(L, -2, "runtime_version");
    lua_pushinteger(L, info.driver_version);
    lua_setfield(L, -2, "driver_version");
    return 1;
}

/* cuda.synchronize() - waits for queued GPU work (for timing) */
static int l_synchronize(lua_State *L) {
    if (!mt_device_available(MT_CUDA)) return 0;
    const mt_backend *be = mt_backend_for(MT_CUDA);
    if (!be) return mtL_error(L, MT_ERR_DEVICE);
    MTL_CHECK(L, be->synchronize());
    return 0;
}

static const luaL_Reg cuda_functions[] = {{"available", l_available},
                                          {"compiled", l_compiled},
                                          {"device_info", l_device_info},
                                          {"synchronize", l_synchronize},
                                          {NULL, NULL}};

int mtL_open_cuda(lua_State *L) {
    luaL_newlib(L, cuda_functions);
    return 1;
}
