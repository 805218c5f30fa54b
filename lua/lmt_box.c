/* lmt_box.c - the Lua binding of box geometry (issue 4): not written yet. */
#include "lmt.h"

int mtL_open_box(lua_State *L) {
    lua_newtable(L);
    return 1;
}
