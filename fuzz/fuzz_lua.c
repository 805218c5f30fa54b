/* fuzz_lua.c - the parsers written in Lua, run in an embedded Lua state with the project's
 * bindings (one executable per FUZZ_TARGET, chosen at build time).
 *
 * Why the embedded Lua rather than a C port: the code users run is the Lua module itself, so
 * the harness fuzzes that code and nothing else. libFuzzer cannot see Lua's control flow in
 * the (uninstrumented) interpreter, so a line hook maps every (previous line, line) pair the
 * Lua code steps through to a byte of libFuzzer's extra counters: new pairs are new coverage,
 * as new edges are in C.
 *
 * The contract checked: a reader returns its result or nil and a message; it never raises
 * (an error escaping a reader is a bug: "attempt to index a nil value" is not a message for a
 * user), never hangs (-timeout) and never grows without bound (-rss_limit_mb). */
#include "fuzz_util.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int luaopen_mtcnn_core(lua_State *L);

#define NCOUNTERS (1 << 16)
__attribute__((section("__libfuzzer_extra_counters"))) static uint8_t counters[NCOUNTERS];
static uintptr_t prev_line;

static void line_hook(lua_State *L, lua_Debug *ar) {
    if (!lua_getinfo(L, "S", ar)) return;
    uintptr_t here = ((uintptr_t)ar->source * 2654435761u) ^ (uintptr_t)ar->currentline;
    uintptr_t edge = (here ^ (prev_line >> 1)) % NCOUNTERS;
    if (counters[edge] < 255) counters[edge]++;
    prev_line = here;
}

/* Each target is a Lua function(data, path) that raises only on a broken contract. */
static const char *const driver =
    "local target, source = ...\n"
    "package.path = source .. '/lua/?.lua;' .. source .. '/lua/?/init.lua;' .. package.path\n"
    "local mtcnn = require 'mtcnn'\n"
    "local function result(ok, v, msg)\n"
    "  if v == nil and type(msg) ~= 'string' then error('nil without a message') end\n"
    "  return v\n"
    "end\n"
    "local json = require 'mtcnn.json'\n"
    "local T = {}\n"
    "function T.json(data)\n"
    "  local v = result(true, json.decode(data))\n"
    "  if v ~= nil then\n"
    "    local text = json.encode(v)\n"
    "    local back, err = json.decode(text)\n"
    "    if back == nil then error('encode gave text decode refuses: ' .. err .. ': ' .. text) end\n"
    "    if json.encode(back) ~= text then error('encode(decode(encode(v))) differs') end\n"
    "  end\n"
    "end\n"
    "function T.caffemodel(_, path) result(true, require('mtcnn.caffe').read_caffemodel(path)) end\n"
    "function T.prototxt(_, path) result(true, require('mtcnn.caffe').read_prototxt(path)) end\n"
    "local data = require 'mtcnn.data'\n"
    "function T.wider(_, path) result(true, data.read_wider(path, {check = false})) end\n"
    "function T.list(_, path) result(true, data.read_list(path, {check = false})) end\n"
    "function T.landmarks(_, path)\n"
    "  result(true, data.read_landmarks(path, {check = false}))\n"
    "  result(true, require('mtcnn.eval.landmarks').read_list(path))\n"
    "end\n"
    "function T.fddb(_, path)\n"
    "  local fddb = require 'mtcnn.eval.fddb'\n"
    "  result(true, fddb.read_ellipse_list(path))\n"
    "  result(true, fddb.read_sizes(path))\n"
    "  result(true, require('mtcnn.eval.predictions').read_rect_file(path))\n"
    "end\n"
    "function T.modelfile(_, path) result(true, mtcnn.models.load(path)) end\n"
    "function T.jsonl(_, path)\n"
    "  local p = require 'mtcnn.eval.predictions'\n"
    "  result(true, p.read_jsonl(path))\n"
    "  result(true, p.read_wider_file(path))\n"
    "end\n"
    "local run = assert(T[target], 'no fuzz target ' .. target)\n"
    "return function(d, path)\n"
    "  run(d, path)\n"
    "  collectgarbage('step', 64)\n"
    "end\n";

static lua_State *L;

static int traceback(lua_State *S) {
    luaL_traceback(S, S, lua_tostring(S, 1), 1);
    return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_mtcnn_core);
    lua_setfield(L, -2, "mtcnn.core");
    lua_pop(L, 1);
    lua_pushcfunction(L, traceback);
    if (luaL_loadstring(L, driver) != LUA_OK) goto fail;
    lua_pushstring(L, FUZZ_TARGET);
    lua_pushstring(L, MTCNN_SOURCE_DIR);
    if (lua_pcall(L, 2, 1, 1) != LUA_OK) goto fail;
    lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_run");
    lua_pop(L, 1);
    lua_sethook(L, line_hook, LUA_MASKLINE, 0);
    return 0;
fail:
    fprintf(stderr, "fuzz_%s: %s\n", FUZZ_TARGET, lua_tostring(L, -1));
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    const char *path = fuzz_file(data, n, ".txt");
    prev_line = 0;
    lua_pushcfunction(L, traceback);
    lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_run");
    lua_pushlstring(L, (const char *)data, n);
    lua_pushstring(L, path);
    if (lua_pcall(L, 2, 0, -4) != LUA_OK) {
        fprintf(stderr, "fuzz_%s: a reader raised instead of returning nil, message:\n%s\n",
                FUZZ_TARGET, lua_tostring(L, -1));
        abort();
    }
    lua_pop(L, 1);
    return 0;
}
