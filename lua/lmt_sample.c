/* lmt_sample.c - the Lua binding of crop sampling (issue 4): not written yet. */
#include "lmt.h"

int mtL_open_sample(lua_State *L) {
    lua_newtable(L);
    return 1;
}
