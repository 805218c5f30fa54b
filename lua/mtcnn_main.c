/*
 * mtcnn_main.c - the `mtcnn` host: a Lua 5.4 interpreter with the project's
 * modules built in.
 *
 * It takes the arguments of the standalone `lua` command (script and args,
 * -e, -l, -i, -v, -E, -W, --, -) with the same exit codes, so that tools such
 * as busted can run under it (busted --lua=build/mtcnn). Differences:
 *   - package.path starts with the project's lua/ folder (build tree or
 *     install), and "mtcnn.core" is preloaded;
 *   - a script path that does not exist is looked up in the project's folder
 *     and its scripts/ folder, so `mtcnn scripts/detect.lua` works anywhere;
 *   - the REPL has readline editing and a persistent history, prints the
 *     values of expressions, continues incomplete chunks, and Ctrl-C discards
 *     the line being typed or interrupts the running code.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <readline/history.h>
#include <readline/readline.h>

int luaopen_mtcnn_core(lua_State *L);

static const char *progname = "mtcnn";

/* ---- messages ----------------------------------------------------------------------------- */

static void print_usage(const char *badoption) {
    if (badoption[1] == 'e' || badoption[1] == 'l')
        fprintf(stderr, "%s: '%s' needs an argument\n", progname, badoption);
    else
        fprintf(stderr, "%s: unrecognized option '%s'\n", progname, badoption);
    fprintf(stderr,
            "usage: %s [options] [script [args]]\n"
            "Available options are:\n"
            "  -e stat   execute string 'stat'\n"
            "  -i        enter interactive mode after executing 'script'\n"
            "  -l mod    require library 'mod' into global 'mod'\n"
            "  -l g=mod  require library 'mod' into global 'g'\n"
            "  -v        show version information\n"
            "  -E        ignore environment variables\n"
            "  -W        turn warnings on\n"
            "  --        stop handling options\n"
            "  -         stop handling options and execute stdin\n"
            "Without a script, an interactive session starts (when stdin is a terminal).\n"
            "Scripts not found from the current folder are looked up in the project's\n"
            "folder and its scripts/ folder (e.g. %s scripts/detect.lua --help).\n",
            progname, progname);
}

static void print_message(const char *msg) {
    if (progname) fprintf(stderr, "%s: %s\n", progname, msg);
    else fprintf(stderr, "%s\n", msg);
    fflush(stderr);
}

/* Prints an error left on the stack by a failed call. */
static int report(lua_State *L, int status) {
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        print_message(msg ? msg : "(error object is not a string)");
        lua_pop(L, 1);
    }
    return status;
}

static void print_version(void) {
    printf("mtcnn %s -- %s\n", MTCNN_VERSION, LUA_COPYRIGHT);
    fflush(stdout);
}

/* ---- protected calls with interruption ---------------------------------------------------- */

static lua_State *global_L;

/* Hook installed by the signal handler: raises an error in the running code. */
static void stop_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

/* SIGINT while Lua code runs: make the next Lua instruction raise. A second
 * Ctrl-C before that (e.g. inside a long C call) ends the process. */
static void on_sigint_running(int sig) {
    signal(sig, SIG_DFL);
    lua_sethook(global_L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* Message handler: the error plus a traceback. */
static int msghandler(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Calls the function below narg arguments with a traceback handler and
 * Ctrl-C handling. */
static int docall(lua_State *L, int narg, int nres) {
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    global_L = L;
    signal(SIGINT, on_sigint_running);
    int status = lua_pcall(L, narg, nres, base);
    signal(SIGINT, SIG_DFL);
    lua_remove(L, base);
    return status;
}

static int dochunk(lua_State *L, int status) {
    if (status == LUA_OK) status = docall(L, 0, 0);
    return report(L, status);
}

static int dostring(lua_State *L, const char *s, const char *name) {
    return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l [g=]mod: global g (or mod) = require(mod) */
static int dolibrary(lua_State *L, char *spec) {
    char *eq = strchr(spec, '=');
    const char *global = spec;
    if (eq) {
        *eq = '\0';
        spec = eq + 1;
    }
    lua_getglobal(L, "require");
    lua_pushstring(L, spec);
    int status = docall(L, 1, 1);
    if (status == LUA_OK) lua_setglobal(L, global);
    return report(L, status);
}

/* ---- project paths ------------------------------------------------------------------------ */

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The project's home, the first of: $MTCNN_HOME; the install tree next to
 * the executable (<prefix>/share/mtcnn); the project folder holding the
 * build folder (<project>/build/mtcnn); the source tree the build came from. */
static void find_home(char *home, size_t n, int use_env) {
    char probe[PATH_MAX + 64];
    const char *env = use_env ? getenv("MTCNN_HOME") : NULL;
    if (env && *env) {
        snprintf(home, n, "%s", env);
        return;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        snprintf(probe, sizeof probe, "%s/../share/mtcnn/lua/mtcnn/init.lua", exe);
        if (is_file(probe) && snprintf(home, n, "%s/../share/mtcnn", exe) < (int)n) return;
        snprintf(probe, sizeof probe, "%s/../lua/mtcnn/init.lua", exe);
        if (is_file(probe)) {
            /* canonical form: "<project>", not "<project>/build/.." */
            char *up = strrchr(exe, '/');
            if (up) *up = '\0';
            if (snprintf(home, n, "%s", exe) < (int)n) return;
        }
    }
    snprintf(home, n, "%s", MTCNN_SOURCE_DIR);
}

/* Prepends home/lua to package.path, preloads mtcnn.core, records home. */
static void setup_paths(lua_State *L, const char *home) {
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;%s", home, home, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 1);
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_mtcnn_core);
    lua_setfield(L, -2, "mtcnn.core");
    lua_pop(L, 2);
    /* the Lua side reads the home from here (mtcnn.home) */
    lua_pushstring(L, home);
    lua_setfield(L, LUA_REGISTRYINDEX, "mtcnn.home");
}

/* A script that is not where the user said: try home/<path> and
 * home/scripts/<basename>. Returns path itself when nothing better exists. */
static const char *resolve_script(const char *path, const char *home, char *buf, size_t n) {
    if (strcmp(path, "-") == 0 || is_file(path) || path[0] == '/') return path;
    snprintf(buf, n, "%s/%s", home, path);
    if (is_file(buf)) return buf;
    const char *base = strrchr(path, '/');
    snprintf(buf, n, "%s/scripts/%s", home, base ? base + 1 : path);
    if (is_file(buf)) return buf;
    return path;
}

/* ---- arguments ---------------------------------------------------------------------------- */

enum { HAS_ERROR = 1, HAS_I = 2, HAS_V = 4, HAS_E = 8, HAS_UPPER_E = 16 };

/* Scans the options; returns flags and sets *first to the script's index
 * (argc when there is none). Mirrors the standalone interpreter's rules. */
static int collect_args(char **argv, int argc, int *first) {
    int flags = 0;
    for (int i = 1; i < argc; i++) {
        *first = i;
        if (argv[i][0] != '-') return flags; /* the script */
        switch (argv[i][1]) {
        case '-':
            if (argv[i][2] != '\0') return HAS_ERROR;
            *first = i + 1;
            return flags;
        case '\0': return flags; /* "-": stdin is the script */
        case 'E':
            if (argv[i][2] != '\0') return HAS_ERROR;
            flags |= HAS_UPPER_E;
            break;
        case 'W':
            if (argv[i][2] != '\0') return HAS_ERROR;
            break;
        case 'i':
            if (argv[i][2] != '\0') return HAS_ERROR;
            flags |= HAS_I | HAS_V;
            break;
        case 'v':
            if (argv[i][2] != '\0') return HAS_ERROR;
            flags |= HAS_V;
            break;
        case 'e':
            flags |= HAS_E;
            /* fall through */
        case 'l':
            if (argv[i][2] == '\0') {
                i++;
                if (i >= argc || argv[i][0] == '-') return HAS_ERROR;
            }
            break;
        default: return HAS_ERROR;
        }
    }
    *first = argc;
    return flags;
}

/* Runs -e and -l in order, and turns on warnings for -W. */
static int run_args(lua_State *L, char **argv, int n) {
    for (int i = 1; i < n; i++) {
        char opt = argv[i][1];
        if (opt == 'W') {
            lua_warning(L, "@on", 0);
            continue;
        }
        if (opt != 'e' && opt != 'l') continue;
        char *extra = argv[i] + 2;
        if (*extra == '\0') extra = argv[++i];
        int st = opt == 'e' ? dostring(L, extra, "=(command line)") : dolibrary(L, extra);
        if (st != LUA_OK) return 0;
    }
    return 1;
}

/* arg[0] = script, arg[1..] = its arguments, arg[-k] = what came before. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script,
                             const char *script_path) {
    if (script == argc) script = 0; /* no script: arg[0] is the program */
    lua_createtable(L, argc - script - 1, script + 1);
    for (int i = 0; i < argc; i++) {
        if (i == script && script_path) lua_pushstring(L, script_path);
        else lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static int handle_script(lua_State *L, char **argv, int script, const char *path) {
    const char *fname = strcmp(path, "-") == 0 && strcmp(argv[script - 1], "--") != 0 ? NULL : path;
    int status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        /* the script's arguments: arg[1..n] pushed as varargs */
        lua_getglobal(L, "arg");
        int n = (int)luaL_len(L, -1);
        luaL_checkstack(L, n + 3, "too many arguments to script");
        for (int i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
        lua_remove(L, -n - 1);
        status = docall(L, n, LUA_MULTRET);
    }
    return report(L, status);
}

static int handle_luainit(lua_State *L) {
    const char *name = "=LUA_INIT_5_4";
    const char *init = getenv(name + 1);
    if (init == NULL) {
        name = "=LUA_INIT";
        init = getenv(name + 1);
    }
    if (init == NULL) return LUA_OK;
    if (init[0] == '@') return dochunk(L, luaL_loadfile(L, init + 1));
    return dostring(L, init, name);
}

/* ---- the REPL ----------------------------------------------------------------------------- */

static volatile sig_atomic_t sigint_pending;
static char *cb_line;
static int cb_done;

static void on_sigint_reading(int sig) {
    (void)sig;
    sigint_pending = 1;
}

static void on_readline_line(char *line) {
    cb_line = line;
    cb_done = 1;
    rl_callback_handler_remove();
}

/* Result of reading one line. */
enum { READ_LINE, READ_EOF, READ_INTERRUPT };

/* Reads a line with readline's callback interface, so that Ctrl-C can drop
 * the line being edited without leaving the REPL. */
static int read_tty_line(const char *prompt, char **out) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint_reading; /* no SA_RESTART: select() must return */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    sigint_pending = 0;
    cb_done = 0;
    cb_line = NULL;
    rl_callback_handler_install(prompt, on_readline_line);
    int result = READ_LINE;
    while (!cb_done) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(fileno(rl_instream), &fds);
        int r = select(fileno(rl_instream) + 1, &fds, NULL, NULL, NULL);
        if (sigint_pending) {
            sigint_pending = 0;
            rl_free_line_state();
            rl_callback_sigcleanup();
            rl_callback_handler_remove();
            rl_crlf();
            fputs("(interrupted: line discarded)\n", rl_outstream);
            fflush(rl_outstream);
            result = READ_INTERRUPT;
            break;
        }
        if (r < 0) {
            if (errno == EINTR) continue;
            rl_callback_handler_remove();
            result = READ_EOF;
            break;
        }
        if (r > 0) rl_callback_read_char();
    }
    sigaction(SIGINT, &old, NULL);
    if (result == READ_LINE) {
        if (!cb_line) return READ_EOF;
        *out = cb_line;
    }
    return result;
}

/* Plain reading for a REPL on a pipe (-i with redirected input). */
static int read_plain_line(const char *prompt, char **out) {
    char buf[LUAL_BUFFERSIZE];
    fputs(prompt, stdout);
    fflush(stdout);
    if (!fgets(buf, sizeof buf, stdin)) return READ_EOF;
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n') buf[--n] = '\0';
    *out = strdup(buf);
    return *out ? READ_LINE : READ_EOF;
}

static int use_readline;
static char history_path[PATH_MAX];

static int read_line(const char *prompt, char **out) {
    return use_readline ? read_tty_line(prompt, out) : read_plain_line(prompt, out);
}

static void history_open(void) {
    const char *env = getenv("MTCNN_HISTORY");
    const char *home = getenv("HOME");
    if (env) snprintf(history_path, sizeof history_path, "%s", env);
    else if (home) snprintf(history_path, sizeof history_path, "%s/.mtcnn_history", home);
    else history_path[0] = '\0';
    stifle_history(1000);
    if (history_path[0]) read_history(history_path);
}

static void history_add(const char *line) {
    if (!use_readline || !line[0]) return;
    add_history(line);
    if (history_path[0] && append_history(1, history_path) != 0) write_history(history_path);
}

/* A chunk is incomplete when it fails to compile at the end of input. */
static int incomplete(lua_State *L, int status) {
    if (status != LUA_ERRSYNTAX) return 0;
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    const char *eof = "<eof>";
    size_t k = strlen(eof);
    if (len >= k && strcmp(msg + len - k, eof) == 0) {
        lua_pop(L, 1);
        return 1;
    }
    return 0;
}

/* Prints the values left by a REPL chunk with the global print. */
static void print_results(lua_State *L) {
    int n = lua_gettop(L);
    if (n == 0) return;
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
        print_message(lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1)));
}

/* Reads and runs one statement or expression, continuing incomplete lines.
 * Returns -1 at end of input. */
static int repl_step(lua_State *L) {
    lua_settop(L, 0);
    char *line = NULL;
    int r = read_line("> ", &line);
    if (r == READ_EOF) return -1;
    if (r == READ_INTERRUPT) return 0;
    /* a leading '=' is the old shorthand for "return" */
    const char *text = line[0] == '=' ? line + 1 : line;
    char *expr = (char *)malloc(strlen(text) + 8);
    if (!expr) {
        free(line);
        return -1;
    }
    sprintf(expr, "return %s", text);
    int status = luaL_loadbuffer(L, expr, strlen(expr), "=stdin");
    free(expr);
    if (status != LUA_OK) {
        lua_pop(L, 1);
        /* a statement: accumulate lines while the chunk is incomplete */
        lua_pushstring(L, line);
        for (;;) {
            size_t len;
            const char *chunk = lua_tolstring(L, 1, &len);
            status = luaL_loadbuffer(L, chunk, len, "=stdin");
            if (!incomplete(L, status)) break;
            char *more = NULL;
            int rr = read_line(">> ", &more);
            if (rr != READ_LINE) {
                free(line);
                return rr == READ_EOF ? -1 : 0; /* Ctrl-C drops the whole chunk */
            }
            lua_pushfstring(L, "%s\n%s", lua_tostring(L, 1), more);
            lua_replace(L, 1);
            free(more);
        }
        history_add(lua_tostring(L, 1));
        lua_remove(L, 1);
    } else {
        history_add(line);
    }
    free(line);
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) print_results(L);
    else report(L, status);
    return 0;
}

static void repl(lua_State *L) {
    const char *saved = progname;
    progname = NULL; /* errors in the REPL are printed without the program name */
    use_readline = isatty(STDIN_FILENO);
    if (use_readline) {
        rl_readline_name = "mtcnn";
        rl_catch_signals = 0;
        history_open();
    }
    /* the modules, ready to use */
    lua_getglobal(L, "require");
    lua_pushstring(L, "mtcnn");
    if (docall(L, 1, 1) == LUA_OK) lua_setglobal(L, "mtcnn");
    else report(L, LUA_ERRRUN);
    while (repl_step(L) >= 0) {
    }
    lua_settop(L, 0);
    putchar('\n');
    fflush(stdout);
    progname = saved;
}

/* ---- main --------------------------------------------------------------------------------- */

static int pmain(lua_State *L) {
    int argc = (int)lua_tointeger(L, 1);
    char **argv = (char **)lua_touserdata(L, 2);
    int script = argc;
    int flags = collect_args(argv, argc, &script);
    luaL_checkversion(L);
    if (argv[0] && argv[0][0]) progname = argv[0];
    if (flags == HAS_ERROR) {
        print_usage(argv[script]);
        return 0;
    }
    if (flags & HAS_V) print_version();
    if (flags & HAS_UPPER_E) {
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
    }
    luaL_openlibs(L);
    char home[PATH_MAX];
    find_home(home, sizeof home, !(flags & HAS_UPPER_E));
    setup_paths(L, home);

    char resolved[PATH_MAX + 64];
    const char *script_path = script < argc ? resolve_script(argv[script], home, resolved,
                                                             sizeof resolved)
                                            : NULL;
    create_arg_table(L, argv, argc, script, script_path);
    lua_gc(L, LUA_GCGEN, 0, 0);
    if (!(flags & HAS_UPPER_E) && handle_luainit(L) != LUA_OK) return 0;
    if (!run_args(L, argv, script)) return 0;
    if (script < argc && handle_script(L, argv, script, script_path) != LUA_OK) return 0;
    if (flags & HAS_I) {
        repl(L);
    } else if (script == argc && !(flags & (HAS_E | HAS_V))) {
        if (isatty(STDIN_FILENO)) {
            print_version();
            puts("The mtcnn modules are loaded: try  T = mtcnn.tensor; t = T.ones(2, 3); t\n"
                 "Ctrl-C interrupts, Ctrl-D quits.");
            repl(L);
        } else if (dochunk(L, luaL_loadfile(L, NULL)) != LUA_OK) {
            return 0;
        }
    }
    lua_pushboolean(L, 1);
    return 1;
}

int main(int argc, char **argv) {
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        print_message("cannot create state: not enough memory");
        return EXIT_FAILURE;
    }
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status = lua_pcall(L, 2, 1, 0);
    int ok = lua_toboolean(L, -1);
    report(L, status);
    lua_close(L);
    return (ok && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}
