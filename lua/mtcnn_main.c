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
 *   - commands: `mtcnn NAME args` runs scripts/NAME.lua, `mtcnn NAME WORD args`
 *     scripts/NAME_WORD.lua (mtcnn eval wider, mtcnn train pnet); --help lists them;
 *   - the REPL has readline editing, completion of Lua names and a persistent
 *     history of whole entries, prints values readably (mtcnn.repl), continues
 *     incomplete chunks, and Ctrl-C discards the line being typed or interrupts
 *     the running code, C calls included (the core polls mt_interrupted()).
 */
#include <dirent.h>
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

#include "core/mt_common.h"

int luaopen_mtcnn_core(lua_State *L);

static const char *progname = "mtcnn";

/* ---- messages ----------------------------------------------------------------------------- */

/* A bad command line: the problem and a hint, not the whole help. */
static void print_usage(const char *badoption) {
    if (badoption[1] == 'e' || badoption[1] == 'l')
        fprintf(stderr, "%s: '%s' needs an argument\n", progname, badoption);
    else
        fprintf(stderr, "%s: unrecognized option '%s'\n", progname, badoption);
    fprintf(stderr, "usage: %s [options] [script | command] [args]  (%s --help for more)\n",
            progname, progname);
}

/* The names of home/scripts/PREFIX*.lua without ".lua", sorted, into names (at most max,
 * each strdup'ed); returns how many. */
static int list_scripts(const char *home, const char *prefix, char **names, int max) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/scripts", home);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    size_t lp = strlen(prefix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".lua") == 0 &&
            strncmp(e->d_name, prefix, lp) == 0) {
            names[n] = strdup(e->d_name);
            if (!names[n]) break;
            names[n][len - 4] = '\0';
            n++;
        }
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* a few dozen names: insertion sort */
        for (int j = i; j > 0 && strcmp(names[j], names[j - 1]) < 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    return n;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
}

static void print_help(const char *home) {
    printf("usage: %s [options] [script | command] [args]\n"
           "\n"
           "The mtcnn face detector's host: a Lua 5.4 interpreter with the project's modules.\n"
           "Without a script or command an interactive session starts (when stdin is a terminal).\n"
           "\n"
           "commands (the project's scripts/, each with its own --help):\n",
           progname);
    char *names[256];
    int n = list_scripts(home, "", names, 256);
    int col = 0;
    for (int i = 0; i < n; i++) {
        int w = (int)strlen(names[i]) + 2;
        if (col + w > 78) {
            putchar('\n');
            col = 0;
        }
        printf("%s%s", col == 0 ? "  " : "  ", names[i]);
        col += w;
    }
    if (n > 0) putchar('\n');
    free_names(names, n);
    printf("  NAME args runs scripts/NAME.lua, NAME WORD args scripts/NAME_WORD.lua\n"
           "  (%s eval wider, %s train pnet); a path runs that script.\n"
           "\n"
           "examples:\n"
           "  %s detect photo.jpg --draw out       faces, their scores and landmarks\n"
           "  %s detect --help                     every option of a command\n"
           "  %s info                              version, CPUs, CUDA device\n"
           "\n"
           "options (as the lua command's):\n"
           "  -e stat   execute string 'stat'\n"
           "  -i        enter interactive mode after executing 'script'\n"
           "  -l mod    require library 'mod' into global 'mod'\n"
           "  -l g=mod  require library 'mod' into global 'g'\n"
           "  -v, --version  show version information\n"
           "  -E        ignore environment variables\n"
           "  -W        turn warnings on\n"
           "  --        stop handling options\n"
           "  -         stop handling options and execute stdin\n"
           "  --help    show this help\n"
           "\n"
           "Scripts not found from the current folder are looked up in the project's folder\n"
           "(%s) and its scripts/ folder.\n",
           progname, progname, progname, progname, progname, home);
    fflush(stdout);
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
static int in_repl;                      /* Ctrl-C ends calls, never the REPL's process */
static volatile sig_atomic_t sigint_count; /* Ctrl-C presses during the current call */

static int msghandler(lua_State *L);

/* Hook installed by the signal handler: raises an error in the running code. When a C call
 * stopped on the interrupt request and raised, its error is already on its way: the hook then
 * meets the call of the message handler and only clears itself. */
static void stop_hook(lua_State *L, lua_Debug *ar) {
    lua_sethook(L, NULL, 0, 0);
    mt_interrupt_set(0);
    if (ar->event == LUA_HOOKCALL && lua_getinfo(L, "f", ar)) {
        int handling = lua_tocfunction(L, -1) == msghandler;
        lua_pop(L, 1);
        if (handling) return;
    }
    luaL_error(L, "interrupted!");
}

/* SIGINT while code runs: the next Lua instruction raises, and the core's long loops stop at
 * their next check (mt_interrupted). In a script a second Ctrl-C ends the process, as with
 * lua; in the REPL it is the third, for a C call that never checks. */
static void on_sigint_running(int sig) {
    mt_interrupt_set(1);
    lua_sethook(global_L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
    sigint_count = sigint_count + 1;
    if (!in_repl) {
        signal(sig, SIG_DFL);
    } else if (sigint_count == 2) {
        static const char note[] = "\n(still in a C call that has not stopped yet; "
                                   "a third Ctrl-C ends mtcnn)\n";
        ssize_t w = write(STDERR_FILENO, note, sizeof note - 1);
        (void)w;
        signal(sig, SIG_DFL);
    }
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
    sigint_count = 0;
    mt_interrupt_set(0);
    signal(SIGINT, on_sigint_running);
    int status = lua_pcall(L, narg, nres, base);
    signal(SIGINT, SIG_DFL);
    /* a Ctrl-C at the very end must not reach the next call */
    lua_sethook(L, NULL, 0, 0);
    mt_interrupt_set(0);
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

/* A plain word (a command name, not a path): lower-case letters, digits, '_' and '-'. */
static int is_word(const char *s) {
    if (!*s || *s == '-' || *s == '_') return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* `mtcnn NAME [WORD] args`: NAME that is no file is a command. NAME WORD is
 * scripts/NAME_WORD.lua, or the one scripts/NAME_WORD_*.lua (mtcnn gen pnet); else NAME is
 * scripts/NAME.lua. Sets *words to the arguments used (1 or 2) and returns 1 with the script
 * in buf; returns 0 when NAME is no command, printing what NAME could be when it is a prefix
 * of some (mtcnn eval). */
static int resolve_command(char **argv, int argc, int script, const char *home, char *buf,
                           size_t n, int *words) {
    const char *name = argv[script];
    if (!is_word(name)) return 0;
    if (script + 1 < argc && is_word(argv[script + 1])) {
        snprintf(buf, n, "%s/scripts/%s_%s.lua", home, name, argv[script + 1]);
        if (is_file(buf)) {
            *words = 2;
            return 1;
        }
        char prefix[PATH_MAX], *names[8];
        snprintf(prefix, sizeof prefix, "%s_%s_", name, argv[script + 1]);
        int k = list_scripts(home, prefix, names, 8);
        if (k == 1) snprintf(buf, n, "%s/scripts/%s.lua", home, names[0]);
        free_names(names, k);
        if (k == 1) {
            *words = 2;
            return 1;
        }
    }
    snprintf(buf, n, "%s/scripts/%s.lua", home, name);
    if (is_file(buf)) {
        *words = 1;
        return 1;
    }
    char prefix[PATH_MAX], *names[64];
    snprintf(prefix, sizeof prefix, "%s_", name);
    int k = list_scripts(home, prefix, names, 64);
    if (k > 0) {
        fprintf(stderr, "%s: '%s' needs one of:", progname, name);
        for (int i = 0; i < k; i++) fprintf(stderr, " %s", names[i] + strlen(prefix));
        fprintf(stderr, "  (e.g. %s %s %s --help)\n", progname, name, names[0] + strlen(prefix));
    } else {
        fprintf(stderr, "%s: no script or command '%s' (%s --help lists the commands)\n", progname,
                name, progname);
    }
    free_names(names, k);
    return -1;
}

/* ---- arguments ---------------------------------------------------------------------------- */

enum { HAS_ERROR = 1, HAS_I = 2, HAS_V = 4, HAS_E = 8, HAS_UPPER_E = 16, HAS_HELP = 32 };

/* Scans the options; returns flags and sets *first to the script's index
 * (argc when there is none). Mirrors the standalone interpreter's rules. */
static int collect_args(char **argv, int argc, int *first) {
    int flags = 0;
    for (int i = 1; i < argc; i++) {
        *first = i;
        if (argv[i][0] != '-') return flags; /* the script */
        switch (argv[i][1]) {
        case '-':
            if (strcmp(argv[i], "--help") == 0) return flags | HAS_HELP;
            if (strcmp(argv[i], "--version") == 0) {
                flags |= HAS_V;
                break;
            }
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
        if (opt == '-') continue; /* --version */
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
    /* each entry is written after a "#<time>" line, so that an entry of several lines (a
     * for loop typed on three) reads back as one */
    history_write_timestamps = 1;
    history_multiline_entries = 1;
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

/* The REPL's Lua side (mtcnn.repl), kept in the registry; nil when it could not be loaded. */
static const char *REPL_KEY = "mtcnn.repl";

/* Pushes field `name` of mtcnn.repl (nil when absent). */
static void push_repl_field(lua_State *L, const char *name) {
    if (lua_getfield(L, LUA_REGISTRYINDEX, REPL_KEY) != LUA_TTABLE) return;
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
}

/* Prints the values left by a REPL chunk with mtcnn.repl.show (tables readable), or the
 * global print. */
static void print_results(lua_State *L) {
    int n = lua_gettop(L);
    if (n == 0) return;
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    push_repl_field(L, "show");
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        lua_getglobal(L, "print");
    }
    lua_insert(L, 1);
    if (docall(L, n, 0) != LUA_OK)
        print_message(lua_pushfstring(L, "error printing the result (%s)", lua_tostring(L, -1)));
}

/* ---- completion: readline asks mtcnn.repl.complete for the names that fit the word ---- */

static lua_State *completion_L;
static char **completion_list; /* the candidates of the current word, NULL-terminated */
static size_t completion_next;

/* Frees the candidates readline has not taken. */
static void completion_clear(void) {
    if (completion_list) {
        for (size_t i = completion_next; completion_list[i]; i++) free(completion_list[i]);
        free(completion_list);
    }
    completion_list = NULL;
    completion_next = 0;
}

/* Calls repl.complete(line, start, end): 1 with completion_list set, 0 for "complete file
 * names instead" (nil: the word is in a string), -1 when it failed. */
static int completion_fetch(int start, int end) {
    lua_State *L = completion_L;
    int top = lua_gettop(L);
    completion_clear();
    push_repl_field(L, "complete");
    if (!lua_isfunction(L, -1)) {
        lua_settop(L, top);
        return -1;
    }
    lua_pushstring(L, rl_line_buffer);
    lua_pushinteger(L, start);
    lua_pushinteger(L, end);
    if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
        lua_settop(L, top);
        return -1;
    }
    if (lua_isnil(L, -1)) {
        lua_settop(L, top);
        return 0;
    }
    if (!lua_istable(L, -1)) {
        lua_settop(L, top);
        return -1;
    }
    size_t n = (size_t)lua_rawlen(L, -1);
    completion_list = (char **)calloc(n + 1, sizeof(char *));
    if (!completion_list) {
        lua_settop(L, top);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        const char *c = lua_tostring(L, -1);
        if (c && (completion_list[k] = strdup(c)) != NULL) k++;
        lua_pop(L, 1);
    }
    lua_settop(L, top);
    return 1;
}

/* readline's generator: hands out the fetched candidates one by one (readline frees them). */
static char *completion_generator(const char *text, int state) {
    (void)text, (void)state;
    if (!completion_list) return NULL;
    char *c = completion_list[completion_next];
    if (c) completion_next++;
    return c;
}

static char **complete(const char *text, int start, int end) {
    int r = completion_fetch(start, end);
    if (r == 0) return NULL; /* a string: readline completes file names */
    rl_attempted_completion_over = 1;
    rl_completion_append_character = '\0'; /* "mtcnn.detector" may go on with "." */
    if (r < 0) return NULL;
    char **matches = rl_completion_matches(text, completion_generator);
    completion_clear();
    return matches;
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

/* require(name) into the global `global` (NULL: into the registry's REPL_KEY); 1 on success. */
static int repl_require(lua_State *L, const char *name, const char *global) {
    lua_getglobal(L, "require");
    lua_pushstring(L, name);
    if (docall(L, 1, 1) != LUA_OK) {
        report(L, LUA_ERRRUN);
        return 0;
    }
    if (global) lua_setglobal(L, global);
    else lua_setfield(L, LUA_REGISTRYINDEX, REPL_KEY);
    return 1;
}

static void repl(lua_State *L, int banner) {
    const char *saved = progname;
    progname = NULL; /* errors in the REPL are printed without the program name */
    in_repl = 1;
    use_readline = isatty(STDIN_FILENO);
    if (use_readline) {
        rl_readline_name = "mtcnn";
        rl_catch_signals = 0;
        completion_L = L;
        rl_attempted_completion_function = complete;
        /* a word is a dotted name: '.' and ':' do not break it */
        rl_completer_word_break_characters = " \t\n\"\\'`@$><=;|&{(,)[]+-*/%^~#";
        rl_completer_quote_characters = "\"'";
        history_open();
    }
    /* the modules, ready to use; help(x) and the printer */
    repl_require(L, "mtcnn", "mtcnn");
    if (repl_require(L, "mtcnn.repl", NULL)) {
        push_repl_field(L, "help");
        lua_setglobal(L, "help");
        if (banner) {
            push_repl_field(L, "banner");
            if (docall(L, 0, 1) == LUA_OK && lua_isstring(L, -1)) puts(lua_tostring(L, -1));
            lua_settop(L, 0);
        }
    }
    fflush(stdout);
    while (repl_step(L) >= 0) {
    }
    lua_settop(L, 0);
    putchar('\n');
    fflush(stdout);
    in_repl = 0;
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
    if (flags & HAS_HELP) {
        char home[PATH_MAX];
        find_home(home, sizeof home, !(flags & HAS_UPPER_E) && getenv("LUA_NOENV") == NULL);
        print_help(home);
        lua_pushboolean(L, 1);
        return 1;
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
    if (script_path && !is_file(script_path) && strcmp(script_path, "-") != 0) {
        int words = 1;
        int r = resolve_command(argv, argc, script, home, resolved, sizeof resolved, &words);
        if (r < 0) return 0;
        if (r > 0) {
            script_path = resolved;
            if (words == 2) { /* the second word is part of the name, not an argument */
                for (int i = script + 1; i + 1 < argc; i++) argv[i] = argv[i + 1];
                argc--;
            }
        }
    }
    create_arg_table(L, argv, argc, script, script_path);
    lua_gc(L, LUA_GCGEN, 0, 0);
    if (!(flags & HAS_UPPER_E) && handle_luainit(L) != LUA_OK) return 0;
    if (!run_args(L, argv, script)) return 0;
    if (script < argc && handle_script(L, argv, script, script_path) != LUA_OK) return 0;
    if (flags & HAS_I) {
        repl(L, 0);
    } else if (script == argc && !(flags & (HAS_E | HAS_V))) {
        if (isatty(STDIN_FILENO)) {
            print_version();
            repl(L, 1);
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
