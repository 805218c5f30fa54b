/* lmt_nn.c - the Lua binding of layers and losses (issue 3): not written yet. */
#include "lmt.h"

int mtL_open_nn(lua_State *L) {
    lua_newtable(L);
    return 1;
}
