/* lmt_optim.c - the Lua binding of optimisers (issue 3): not written yet. */
#include "lmt.h"

int mtL_open_optim(lua_State *L) {
    lua_newtable(L);
    return 1;
}
