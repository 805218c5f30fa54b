/*
 * lmt_aux.c - the binding toolkit (see lmt.h): errors, optional arguments and option-table
 * fields, enums with every accepted spelling, classes and boxed handles, and the one policy
 * that lets the collector see the C memory of tensors and images.
 */
#include "lmt.h"

#include "core/mt_alloc.h"
#include "detect/mt_box.h"
#include "eval/mt_eval.h"
#include "image/mt_image.h"
#include "image/mt_image_io.h"
#include "image/mt_resize.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------------------------ */

int mtL_error(lua_State *L, mt_status st) {
    (void)st;
    return mtL_errorf(L, "%s", mt_last_error());
}

int mtL_errorf(lua_State *L, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    luaL_where(L, 1);
    lua_pushstring(L, msg);
    lua_concat(L, 2);
    lua_error(L);
#if defined(__GNUC__)
    __builtin_unreachable();
#else
    return 0;
#endif
}

int mtL_fail(lua_State *L) {
    luaL_pushfail(L);
    lua_pushstring(L, mt_last_error());
    return 2;
}

int mtL_softfail(lua_State *L, mt_status st) {
    if (st == MT_ERR_IO || st == MT_ERR_FORMAT || st == MT_ERR_UNSUPPORTED) return mtL_fail(L);
    return mtL_error(L, st);
}

/* ---- arguments ----------------------------------------------------------------------------- */

void *mtL_alloc(lua_State *L, int64_t n, size_t size) {
    return lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * size, 0);
}

int mtL_optboolean(lua_State *L, int idx, int def) {
    return lua_isnoneornil(L, idx) ? def : lua_toboolean(L, idx);
}

mt_tensor *mtL_opttensor(lua_State *L, int idx) {
    return lua_isnoneornil(L, idx) ? NULL : mtL_checktensor(L, idx);
}

int mtL_checkintrange(lua_State *L, int idx, lua_Integer lo, lua_Integer hi, const char *what) {
    lua_Integer v = luaL_checkinteger(L, idx);
    if (v < lo || v > hi)
        mtL_errorf(L, "%s: %lld is out of range %lld..%lld", what, (long long)v, (long long)lo,
                   (long long)hi);
    return (int)v;
}

/* ---- fields of option tables --------------------------------------------------------------- */

int mtL_fielderror(lua_State *L, const char *name, const char *msg) {
    lua_Debug ar;
    if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) && ar.name)
        return mtL_errorf(L, "bad field '%s' to '%s' (%s)", name, ar.name, msg);
    return mtL_errorf(L, "bad field '%s' (%s)", name, msg);
}

static int field_typeerror(lua_State *L, const char *name, const char *expected) {
    return mtL_fielderror(
        L, name, lua_pushfstring(L, "%s expected, got %s", expected, luaL_typename(L, -1)));
}

/* Pushes field name of the table at idx; nil when idx holds no table. Returns its type. */
static int push_field(lua_State *L, int idx, const char *name) {
    if (lua_istable(L, idx)) return lua_getfield(L, idx, name);
    lua_pushnil(L);
    return LUA_TNIL;
}

/* Pops the field push_field pushed; raises when ok is false. */
static void pop_field(lua_State *L, int ok, const char *name, const char *expected) {
    if (!ok) field_typeerror(L, name, expected);
    lua_pop(L, 1);
}

lua_Number mtL_optfieldnumber(lua_State *L, int idx, const char *name, lua_Number def) {
    int ok = 1;
    lua_Number v = push_field(L, idx, name) == LUA_TNIL ? def : lua_tonumberx(L, -1, &ok);
    pop_field(L, ok, name, "number");
    return v;
}

lua_Integer mtL_optfieldinteger(lua_State *L, int idx, const char *name, lua_Integer def) {
    int ok = 1;
    lua_Integer v = push_field(L, idx, name) == LUA_TNIL ? def : lua_tointegerx(L, -1, &ok);
    pop_field(L, ok, name, "integer");
    return v;
}

int mtL_optfieldboolean(lua_State *L, int idx, const char *name, int def) {
    int v = push_field(L, idx, name) == LUA_TNIL ? def : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

const char *mtL_optfieldstring(lua_State *L, int idx, const char *name, const char *def) {
    int t = push_field(L, idx, name);
    const char *v = t == LUA_TSTRING ? lua_tostring(L, -1) : def;
    pop_field(L, t == LUA_TSTRING || t == LUA_TNIL, name, "string"); /* v lives on in the table */
    return v;
}

/* ---- enums --------------------------------------------------------------------------------- */

int mtL_findenum(const mtL_enum *names, const char *s) {
    for (const mtL_enum *e = names; e->name; e++)
        if (strcmp(e->name, s) == 0) return e->value;
    return MTL_NONE;
}

const char *mtL_enumname(const mtL_enum *names, int value) {
    for (const mtL_enum *e = names; e->name; e++)
        if (e->value == value) return e->name;
    return NULL;
}

/* Pushes '"a", "b" or "c" expected, got 'x'' for the values of names (their first spellings). */
static const char *enum_message(lua_State *L, const mtL_enum *names, const char *got) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int count = 0, last = 0;
    for (const mtL_enum *e = names; e->name; e++)
        if (mtL_enumname(names, e->value) == e->name) count++;
    for (const mtL_enum *e = names; e->name; e++) {
        if (mtL_enumname(names, e->value) != e->name) continue; /* an alias */
        if (last > 0) luaL_addstring(&b, last + 1 == count ? " or " : ", ");
        last++;
        luaL_addchar(&b, '"');
        luaL_addstring(&b, e->name);
        luaL_addchar(&b, '"');
    }
    luaL_addstring(&b, " expected, got '");
    luaL_addstring(&b, got);
    luaL_addchar(&b, '\'');
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

int mtL_checkenum(lua_State *L, int idx, int def, const mtL_enum *names) {
    if (def != MTL_NONE && lua_isnoneornil(L, idx)) return def;
    const char *s = luaL_checkstring(L, idx);
    int v = mtL_findenum(names, s);
    if (v == MTL_NONE) return luaL_argerror(L, idx, enum_message(L, names, s));
    return v;
}

int mtL_optfieldenum(lua_State *L, int idx, const char *name, int def, const mtL_enum *names) {
    int t = push_field(L, idx, name);
    int v = t == LUA_TSTRING ? mtL_findenum(names, lua_tostring(L, -1)) : def;
    if (v == MTL_NONE && t == LUA_TSTRING)
        mtL_fielderror(L, name, enum_message(L, names, lua_tostring(L, -1)));
    pop_field(L, t == LUA_TSTRING || t == LUA_TNIL, name, "string");
    return v;
}

/* The original MATLAB code spells the NMS overlaps 'Union' and 'Min'. */
const mtL_enum mtL_overlaps[] = {
    {"union", MT_OVERLAP_UNION},
    {"min", MT_OVERLAP_MIN},
    {"Union", MT_OVERLAP_UNION},
    {"Min", MT_OVERLAP_MIN},
    {NULL, 0},
};
const mtL_enum mtL_interps[] = {
    {"area", MT_INTERP_AREA}, {"bilinear", MT_INTERP_BILINEAR}, {NULL, 0}};
const mtL_enum mtL_square_modes[] = {
    {"rerec", MT_SQUARE_REREC}, {"inclusive", MT_SQUARE_INCLUSIVE}, {NULL, 0}};
const mtL_enum mtL_image_formats[] = {
    {"jpg", MT_FORMAT_JPEG}, {"jpeg", MT_FORMAT_JPEG}, {"png", MT_FORMAT_PNG}, {NULL, 0}};
const mtL_enum mtL_devices[] = {{"cpu", MT_CPU}, {"cuda", MT_CUDA}, {NULL, 0}};
const mtL_enum mtL_wider_ariths[] = {
    {"int32", MT_WIDER_INT32}, {"double", MT_WIDER_DOUBLE}, {NULL, 0}};
const mtL_enum mtL_fddb_shapes[] = {{"ellipse", 0}, {"rect", 1}, {NULL, 0}};
const mtL_enum mtL_colours[] = {
    {"red", 0xff0000},    {"green", 0x00ff00},  {"blue", 0x0000ff}, {"white", 0xffffff},
    {"black", 0x000000},  {"yellow", 0xffff00}, {"cyan", 0x00ffff}, {"magenta", 0xff00ff},
    {"orange", 0xffa500}, {"grey", 0x808080},   {"gray", 0x808080}, {NULL, 0},
};

/* ---- classes and boxed handles ------------------------------------------------------------- */

/* The state a failed allocation collects garbage in: the last one that made or used a box,
 * so that a coroutine that finished is not kept as the hook's state. */
static lua_State *hook_state;

/* __gc, __close and the close method of a handle class (upvalue 1: the class). */
static int release_method(lua_State *L) {
    const mtL_class *c = (const mtL_class *)lua_touserdata(L, lua_upvalueindex(1));
    luaL_checkudata(L, 1, c->name);
    mtL_releasebox(L, 1, c);
    return 0;
}

/* __index of a class with getters: a method (upvalue 1), else the getter's value (upvalue 2). */
static int index_getters(lua_State *L) {
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(2)) != LUA_TFUNCTION) return 1; /* nil: no such key */
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
}

void mtL_newclass(lua_State *L, const mtL_class *c, const luaL_Reg *methods, const luaL_Reg *meta,
                  const luaL_Reg *getters) {
    luaL_newmetatable(L, c->name); /* also sets __name */
    lua_newtable(L);
    if (methods) luaL_setfuncs(L, methods, 0);
    if (c->release) {
        lua_pushlightuserdata(L, (void *)c);
        lua_pushcclosure(L, release_method, 1);
        if (c->close) {
            lua_pushvalue(L, -1);
            lua_setfield(L, -3, c->close);
        }
        lua_pushvalue(L, -1);
        lua_setfield(L, -4, "__gc");
        lua_setfield(L, -3, "__close");
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "methods");
    if (getters) {
        lua_newtable(L);
        luaL_setfuncs(L, getters, 0);
        lua_pushcclosure(L, index_getters, 2);
    }
    lua_setfield(L, -2, "__index");
    if (meta) luaL_setfuncs(L, meta, 0);
}

void *mtL_newbox(lua_State *L, const mtL_class *c, size_t size, int nuv) {
    mtL_gc_pressure(L);
    void *box = lua_newuserdatauv(L, size, nuv);
    memset(box, 0, size);
    luaL_setmetatable(L, c->name);
    return box;
}

mtL_box *mtL_tobox(lua_State *L, int idx, const mtL_class *c) {
    return (mtL_box *)luaL_testudata(L, idx, c->name);
}

void *mtL_testbox(lua_State *L, int idx, const mtL_class *c) {
    mtL_box *box = mtL_tobox(L, idx, c);
    if (!box) return NULL;
    if (!box->obj) mtL_errorf(L, "bad argument #%d: the %s was %s", idx, c->what, c->gone);
    hook_state = L;
    return box->obj;
}

void *mtL_checkbox(lua_State *L, int idx, const mtL_class *c) {
    void *obj = mtL_testbox(L, idx, c);
    if (!obj) luaL_typeerror(L, idx, c->name);
    return obj;
}

void mtL_releasebox(lua_State *L, int idx, const mtL_class *c) {
    mtL_box *box = mtL_tobox(L, idx, c);
    if (!box || !box->obj) return;
    void *obj = box->obj;
    box->obj = NULL; /* wipe the pointer before it dangles */
    c->release(obj);
}

void *mtL_newguard(lua_State *L, size_t size, lua_CFunction gc) {
    void *p = lua_newuserdatauv(L, size, 0);
    memset(p, 0, size);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    return p;
}

/* ---- memory -------------------------------------------------------------------------------- */

static void gc_hook(void *ud) {
    (void)ud;
    if (hook_state) lua_gc(hook_state, LUA_GCCOLLECT);
}

void mtL_install_gc_hook(lua_State *L) {
    hook_state = L;
    mt_set_gc_hook(gc_hook, NULL);
}

/* Garbage tensors and images hold at most what the bindings' C memory grew by since the last
 * collection; collect once that is as much as what was held then, or 32 MiB, whichever is
 * more. The 32 MiB keep garbage images within the image cache (96 MiB, runtime/image/
 * mt_image.c): a script that forgets img:free() still decodes into reused memory, which on
 * this machine is 3 ms for a 1024x800 JPEG against 10-20 ms into fresh pages. A full
 * collection: the host runs the generational collector, whose minor collections do not
 * finalise old boxes. */
#define GC_MIN_GROWTH ((size_t)32 << 20)

static size_t held_after_gc;

static size_t held_bytes(void) {
    return mt_buffer_bytes_live(MT_CPU) + mt_buffer_bytes_live(MT_CUDA) + mt_image_bytes_live();
}

void mtL_gc_pressure(lua_State *L) {
    hook_state = L;
    size_t held = held_bytes();
    size_t allowed = held_after_gc > GC_MIN_GROWTH ? held_after_gc : GC_MIN_GROWTH;
    if (held > held_after_gc + allowed) {
        lua_gc(L, LUA_GCCOLLECT);
        held_after_gc = held_bytes();
    } else if (held < held_after_gc) {
        held_after_gc = held; /* objects were released explicitly */
    }
}
