/* lmt_image.c - the Lua binding of images (issue 4): not written yet. */
#include "lmt.h"

int mtL_open_image(lua_State *L) {
    lua_newtable(L);
    return 1;
}
