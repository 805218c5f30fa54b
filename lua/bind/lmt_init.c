/*
 * lmt_init.c - luaopen_mtcnn_core, the C half of the mtcnn Lua modules.
 *
 * require "mtcnn.core" returns a table with one sub-table per C module
 * (core.tensor, core.cuda, ...). The Lua modules in lua/mtcnn/ build the
 * public API on top of it. The same entry point serves the mtcnn host
 * (through package.preload) and plain lua5.4 (through mtcnn/core.so).
 */
#include "lmt.h"

typedef struct mtL_module {
    const char *name;
    int (*open)(lua_State *L);
} mtL_module;

/* One line per C module; a new module adds its opener here. */
static const mtL_module modules[] = {
    {"tensor", mtL_open_tensor},
    {"cuda", mtL_open_cuda},
    {"sys", mtL_open_sys},
    {"nn", mtL_open_nn},
    {"optim", mtL_open_optim},
    {"image", mtL_open_image},
    {"box", mtL_open_box},
    {"sample", mtL_open_sample},
    {"detect", mtL_open_detect},
    {"eval", mtL_open_eval},
    {"record", mtL_open_record},
    {"loader", mtL_open_loader},
    {"plan", mtL_open_plan},
    {"gen", mtL_open_gen},
    {NULL, NULL},
};

int luaopen_mtcnn_core(lua_State *L) {
    mtL_install_gc_hook(L);
    lua_newtable(L);
    for (const mtL_module *m = modules; m->name; m++) {
        m->open(L);
        lua_setfield(L, -2, m->name);
    }
    lua_pushstring(L, MTCNN_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
