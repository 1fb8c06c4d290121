/* test_loader.c -- the plugin loader on a temporary plugins directory
 * holding copies of the fixture plugins tests/CMakeLists.txt builds, with
 * a plugin_env wired as the daemon's init_core() wires it (loop, log,
 * registry, call engine and dispatcher, HTTP client, config). Covers:
 * plugin_set_init (the runtime directory is made, copies left by dead
 * processes and by this one are removed, others kept); plugin_scan loading
 * good plugins (their tools in the registry, one private copy each, an
 * ABI 1.0 plugin too), rescans that change nothing, every broken fixture
 * refused with its reason and nothing of it in service, a duplicate tool
 * and a duplicate plugin name refused, an unreadable directory; replacing
 * a file (a new version serves, the tool list follows), a settings-only
 * change (reloaded), removing a file (retired); and references: a call in
 * flight on a replaced version still completes on that version, and a
 * retired version stays loaded until its last reference goes, then its
 * copy is removed. Failures: a plugin whose init() had a registration
 * refused does not serve even when init() returns 0; a failed file is
 * remembered and skipped (init() not run again) until it changes, its
 * settings change, or the name another plugin held is free; a replaced
 * plugin's tools keep their places in the lists. */
#include "mcp/dispatch.h"
#include "plugin/plugin_ctx.h"
#include "plugin/plugin_env.h"
#include "plugin/plugin_loader.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MCPD_FIXTURES
#error "build with -DMCPD_FIXTURES=\"<build>/tests/fixtures\""
#endif
#ifndef MCPD_BUNDLED
#error "build with -DMCPD_BUNDLED=\"<build>/plugins\""
#endif

#define GOOD   MCPD_FIXTURES "/good/"
#define BAD    MCPD_FIXTURES "/bad/"
#define RELOAD MCPD_FIXTURES "/reload/"

/* ---- the environment, as init_core() wires it ----------------------------------- */

static uv_loop_t loop;
static config cfg;
static logger lg;
static registry reg;
static call_engine calls;
static session_table sessions;
static dispatch d;
static http_client http;
static plugin_set set;
static plugin_env env;
static int stopping;
static int log_fd = -1;
static char root[64], plugins_dir[128], run_dir[160];

static const call_plugin_ops ops = {.ref = plugin_ref, .unref = plugin_unref, .name = plugin_name};

static void on_session_removed(session_table *t, session *s, const char *why, void *arg) {
  (void)t, (void)why;
  dispatch_session_closed(arg, s);
}

static void lists_changed(plugin_env *e, const int changed[REG_LISTS]) {
  (void)e, (void)changed;
}

/* Runs before plugin_set_init() (to plant files in the runtime dir). */
static void (*before_init)(void);

static void setup(void) {
  snprintf(root, sizeof(root), "/tmp/mcpd-ut-loader-XXXXXX");
  CHECK(mkdtemp(root) != NULL);
  snprintf(plugins_dir, sizeof(plugins_dir), "%s/plugins", root);
  snprintf(run_dir, sizeof(run_dir), "%s/run/deeper", root);
  CHECK_EQ_INT(mkdir(plugins_dir, 0755), 0);
  if (before_init != NULL)
    before_init();

  CHECK_EQ_INT(uv_loop_init(&loop), 0);
  CHECK_EQ_INT(config_init(&cfg), 0);
  log_init(&lg, LOGLVL_DEBUG, log_fd);
  http_client_init(&http, &loop, &lg, NULL);
  registry_init(&reg);
  session_table_init(&sessions, &loop, cfg.max_sessions, cfg.session_idle_ms, on_session_removed,
                     &d);
  CHECK_EQ_INT(dispatch_init(&d, &loop, &reg, &calls, &sessions, &cfg, &lg), 0);
  call_engine_set_plugin_ops(&calls, &ops);
  stopping = 0;
  memset(&env, 0, sizeof(env));
  memset(&set, 0, sizeof(set));
  env.loop = &loop;
  env.log = &lg;
  env.reg = &reg;
  env.calls = &calls;
  env.http = &http;
  env.cfg = &cfg;
  env.stopping = &stopping;
  env.lists_changed = lists_changed;
  env.arg = NULL;
  env.plugins = &set;
  CHECK_EQ_INT(plugin_set_init(&env, run_dir, cfg.drain_timeout_ms), 0);
}

static int count_in(const char *dir, const char *suffix) {
  DIR *dh = opendir(dir);
  struct dirent *de;
  int n = 0;
  if (dh == NULL)
    return -1;
  while ((de = readdir(dh)) != NULL) {
    size_t len = strlen(de->d_name), sl = strlen(suffix);
    if (de->d_name[0] != '.' && len >= sl && strcmp(de->d_name + len - sl, suffix) == 0)
      n++;
  }
  closedir(dh);
  return n;
}

/* Private copies of loaded versions. */
static int copies(void) {
  return count_in(run_dir, ".so");
}

static void remove_dir(const char *dir) {
  DIR *dh = opendir(dir);
  struct dirent *de;
  char path[512];
  if (dh == NULL)
    return;
  while ((de = readdir(dh)) != NULL) {
    struct stat st;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
      remove_dir(path);
    else
      unlink(path);
  }
  closedir(dh);
  rmdir(dir);
}

static void teardown(void) {
  session_table_close(&sessions);
  http_client_close(&http);
  CHECK_EQ_INT(plugin_unload_all(&env), 0);
  /* Every version unloaded: no copy is left behind. */
  CHECK_EQ_INT(copies(), 0);
  plugin_set_close(&set);
  call_engine_drain(&calls);
  dispatch_close(&d);
  call_engine_close(&calls);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
  http_client_free(&http);
  CHECK_EQ_INT(reg.lists[REG_TOOL].count, 0);
  registry_free(&reg);
  config_free(&cfg);
  remove_dir(root);
  before_init = NULL;
}

/* ---- helpers -------------------------------------------------------------------------- */

/* Copies src into the plugins directory as name, through a new file renamed
 * into place (a new inode, as an installer does). */
static int install(const char *src, const char *name) {
  char tmp[256], dst[256], chunk[65536];
  int in, out;
  ssize_t r;
  snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", plugins_dir, name);
  snprintf(dst, sizeof(dst), "%s/%s", plugins_dir, name);
  in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    fprintf(stderr, "cannot open fixture %s\n", src);
    return -1;
  }
  out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    close(in);
    return -1;
  }
  while ((r = read(in, chunk, sizeof(chunk))) > 0) {
    if (write(out, chunk, (size_t)r) != r) {
      r = -1;
      break;
    }
  }
  close(in);
  close(out);
  if (r < 0)
    return -1;
  return rename(tmp, dst);
}

static void uninstall(const char *name) {
  char path[256];
  snprintf(path, sizeof(path), "%s/%s", plugins_dir, name);
  CHECK_EQ_INT(unlink(path), 0);
}

static void uninstall_all(void) {
  DIR *dh = opendir(plugins_dir);
  struct dirent *de;
  char path[512];
  while (dh != NULL && (de = readdir(dh)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    snprintf(path, sizeof(path), "%s/%s", plugins_dir, de->d_name);
    unlink(path);
  }
  if (dh != NULL)
    closedir(dh);
}

static int scan(plugin_scan_result *res) {
  return plugin_scan(&env, plugins_dir, res);
}

static unsigned list_len(const list_node *head) {
  const list_node *n;
  unsigned k = 0;
  for (n = head->next; n != head; n = n->next)
    k++;
  return k;
}

static mcpd_ctx *active(const char *name) {
  list_node *n;
  for (n = set.active.next; n != &set.active; n = n->next) {
    mcpd_ctx *ctx = list_entry(n, mcpd_ctx, link);
    if (strcmp(ctx->name, name) == 0)
      return ctx;
  }
  return NULL;
}

static reg_tool *tool(const char *name) {
  return (reg_tool *)registry_get(&reg, REG_TOOL, name, strlen(name));
}

/* Turns the loop a few times (the reaper unloads on a later turn). */
static void turn(int times) {
  while (times-- > 0)
    uv_run(&loop, UV_RUN_NOWAIT);
}

/* A sink that keeps the final message. */
typedef struct fake_sink {
  mcp_sink sink;
  json_t *final;
  int finals;
} fake_sink;

static int fake_send(mcp_sink *sink, session *s, const json_t *msg, int final) {
  fake_sink *f = (fake_sink *)sink;
  (void)s;
  if (final) {
    f->finals++;
    json_decref(f->final);
    f->final = msg ? json_deep_copy(msg) : json_null();
  }
  return 0;
}

static void keep_alive_cb(uv_timer_t *t) {
  (void)t;
}

static int run_until(const int *flag, unsigned ms) {
  uv_timer_t keep;
  uint64_t end;
  uv_timer_init(&loop, &keep);
  uv_timer_start(&keep, keep_alive_cb, 60000, 0);
  uv_update_time(&loop);
  end = uv_now(&loop) + ms;
  while (!*flag && uv_now(&loop) < end) {
    uv_run(&loop, UV_RUN_NOWAIT);
    if (!*flag)
      uv_sleep(1);
    uv_update_time(&loop);
  }
  uv_close((uv_handle_t *)&keep, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  return *flag;
}

static session *new_session(void) {
  session *s = NULL;
  json_t *root_msg, *resp = NULL;
  jsonrpc_msg m;
  mcpd_call *pending = NULL;
  CHECK_EQ_INT(session_create(&sessions, &s), 0);
  root_msg = json_loads("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
                        "{\"protocolVersion\":\"2025-06-18\"}}",
                        0, NULL);
  jsonrpc_classify(root_msg, &m);
  dispatch_message(&d, s, &m, NULL, &resp, &pending);
  json_decref(root_msg);
  json_decref(resp);
  return s;
}

/* Calls a tool: returns the text of a synchronous answer (static buffer),
 * or "PENDING" (the sink gets the answer), or "ERROR <message>". */
static const char *call_tool(session *s, const char *name, const char *args, fake_sink *f) {
  static char out[256];
  char text[512];
  json_t *root_msg, *resp = NULL;
  jsonrpc_msg m;
  mcpd_call *pending = NULL;
  int rc;
  snprintf(text, sizeof(text),
           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
           "{\"name\":\"%s\",\"arguments\":%s}}",
           name, args ? args : "{}");
  root_msg = json_loads(text, 0, NULL);
  jsonrpc_classify(root_msg, &m);
  rc = dispatch_message(&d, s, &m, f ? &f->sink : NULL, &resp, &pending);
  json_decref(root_msg);
  if (rc == DISPATCH_PENDING)
    return "PENDING";
  if (json_object_get(resp, "error") != NULL)
    snprintf(out, sizeof(out), "ERROR %s",
             json_string_value(json_object_get(json_object_get(resp, "error"), "message")));
  else
    snprintf(out, sizeof(out), "%s",
             json_string_value(json_object_get(
                 json_array_get(json_object_get(json_object_get(resp, "result"), "content"), 0),
                 "text")));
  json_decref(resp);
  return out;
}

/* ---- tests ------------------------------------------------------------------------------- */

static char own_leftover[256], dead_leftover[256], live_leftover[256], other_file[256];

static void plant_leftovers(void) {
  char run_parent[160];
  pid_t child;
  int fd;
  snprintf(run_parent, sizeof(run_parent), "%s/run", root);
  CHECK_EQ_INT(mkdir(run_parent, 0700), 0);
  CHECK_EQ_INT(mkdir(run_dir, 0700), 0);
  /* A process that has exited: its pid names no process now. */
  child = fork();
  if (child == 0)
    _exit(0);
  waitpid(child, NULL, 0);
  snprintf(own_leftover, sizeof(own_leftover), "%s/hello.%ld.3.so", run_dir, (long)getpid());
  snprintf(dead_leftover, sizeof(dead_leftover), "%s/hello.%ld.1.so", run_dir, (long)child);
  snprintf(live_leftover, sizeof(live_leftover), "%s/hello.1.2.so", run_dir); /* pid 1 runs */
  snprintf(other_file, sizeof(other_file), "%s/notes.txt", run_dir);
  fd = open(own_leftover, O_WRONLY | O_CREAT, 0600);
  close(fd);
  fd = open(dead_leftover, O_WRONLY | O_CREAT, 0600);
  close(fd);
  fd = open(live_leftover, O_WRONLY | O_CREAT, 0600);
  close(fd);
  fd = open(other_file, O_WRONLY | O_CREAT, 0600);
  close(fd);
}

static void test_set_init(void) {
  struct stat st;
  before_init = plant_leftovers;
  setup();
  CHECK_EQ_INT(stat(run_dir, &st), 0);
  CHECK(S_ISDIR(st.st_mode));
  CHECK(access(own_leftover, F_OK) < 0);
  CHECK(access(dead_leftover, F_OK) < 0);
  CHECK_EQ_INT(access(live_leftover, F_OK), 0);
  CHECK_EQ_INT(access(other_file, F_OK), 0);
  unlink(live_leftover); /* not ours: teardown counts copies */
  CHECK_EQ_INT(set.count, 0);
  teardown();

  /* A fresh runtime directory is made (with its parents), 0700. */
  setup();
  CHECK_EQ_INT(stat(run_dir, &st), 0);
  CHECK(S_ISDIR(st.st_mode));
  CHECK_EQ_INT(st.st_mode & 0777, 0700);
  teardown();
}

static void test_load_good(void) {
  plugin_scan_result res;
  mcpd_ctx *kit, *old;
  session *s;

  setup();
  CHECK_EQ_INT(install(GOOD "testkit.so", "testkit.so"), 0);
  CHECK_EQ_INT(install(GOOD "old_minor.so", "old_minor.so"), 0);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.loaded, 2);
  CHECK_EQ_INT(res.failed, 0);
  CHECK_EQ_STR(res.first_error, "");
  CHECK_EQ_INT(set.count, 2);
  CHECK_EQ_INT(set.failed, 0);
  kit = active("testkit");
  old = active("old_minor");
  CHECK(kit != NULL && old != NULL);
  if (kit == NULL || old == NULL)
    goto out;
  /* Active in file-name order. */
  CHECK(list_entry(set.active.next, mcpd_ctx, link) == old);
  CHECK_EQ_STR(kit->version, "0.0.1");
  CHECK(strstr(kit->path, "/plugins/testkit.so") != NULL);
  CHECK_EQ_INT(kit->refs, 1);
  CHECK(!kit->retired);
  /* Its registrations are in service, owned by it. */
  CHECK(tool("sleep") != NULL && tool("sleep")->e.ctx == kit);
  CHECK_EQ_STR(tool("sleep")->e.owner, "testkit");
  CHECK(registry_get(&reg, REG_RESOURCE, "testkit://counter", 17) != NULL);
  CHECK(tool("old_tool") != NULL && tool("old_tool")->e.ctx == old);
  CHECK_EQ_INT(kit->staged.lists[REG_TOOL].count, 0);
  /* One private copy each, named after the file. */
  CHECK_EQ_INT(copies(), 2);
  CHECK(strncmp(kit->copy_path, run_dir, strlen(run_dir)) == 0);
  CHECK(access(kit->copy_path, F_OK) == 0);

  /* They answer. */
  s = new_session();
  CHECK_EQ_STR(call_tool(s, "no_args", NULL, NULL), "no arguments");
  CHECK_EQ_INT(kit->refs, 1); /* the call's reference came and went */

  /* Nothing changed: nothing reloads. */
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.unchanged, 2);
  CHECK_EQ_INT(res.loaded + res.replaced + res.removed + res.failed, 0);
  CHECK(active("testkit") == kit);
  CHECK_EQ_INT(copies(), 2);
  /* Files that are not *.so, or hidden, are not plugins. */
  CHECK_EQ_INT(install(GOOD "testkit.so", "testkit.so.bak"), 0);
  CHECK_EQ_INT(install(GOOD "testkit.so", ".hidden.so"), 0);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.unchanged, 2);
  CHECK_EQ_INT(res.failed + res.loaded, 0);
out:
  teardown();
}

static void test_load_bad(void) {
  /* why, or else why2 (the ELF check in front of dlopen words it so). */
  static const struct {
    const char *file, *why, *why2;
  } cases[] = {
      {"bad_init_fails.so", "init() failed: ", NULL},
      {"bad_major.so", "built for plugin ABI 2 (exports mcpd_plugin_v2)", NULL},
      {"bad_newer_minor.so", "newer than this mcpd's", NULL},
      {"bad_signature.so", "build signature \"mcpd1:ptr4:jansson2:jint0\" differs", NULL},
      {"bad_no_entry.so", "no entry symbol mcpd_plugin_v1", NULL},
      {"bad_size.so", "descriptor struct_size 8 is smaller", NULL},
      {"bad_work_in_init.so", "init() failed: ", NULL},
      {"bad_exports_nothing.so", "no entry symbol mcpd_plugin_v1", NULL},
      {"not_elf.so", "not a loadable shared object", "not an ELF file"},
  };
  plugin_scan_result res;
  size_t i;
  int k, ok;

  setup();
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char src[256], path[256];
    snprintf(src, sizeof(src), BAD "%s", cases[i].file);
    snprintf(path, sizeof(path), "%s/%s", plugins_dir, cases[i].file);
    uninstall_all();
    CHECK_EQ_INT(install(src, cases[i].file), 0);
    CHECK_EQ_INT(scan(&res), 0);
    CHECK_EQ_INT(res.failed, 1);
    CHECK_EQ_INT(res.loaded, 0);
    CHECK_EQ_INT(set.failed, 1);
    CHECK_EQ_INT(set.count, 0);
    /* "file: reason" */
    CHECK(strncmp(res.first_error, path, strlen(path)) == 0);
    ok = strstr(res.first_error, cases[i].why) != NULL ||
         (cases[i].why2 != NULL && strstr(res.first_error, cases[i].why2) != NULL);
    if (!ok)
      fprintf(stderr, "  %s: \"%s\" lacks \"%s\"\n", cases[i].file, res.first_error, cases[i].why);
    CHECK(ok);
    /* Nothing of it in service, nothing loaded, no copy left. */
    for (k = 0; k < REG_KINDS; k++)
      CHECK_EQ_INT(reg.lists[k].count, 0);
    CHECK(list_empty(&set.draining));
    CHECK_EQ_INT(copies(), 0);
  }

  /* A failed file next to a good one: the good one loads. */
  uninstall_all();
  CHECK_EQ_INT(install(BAD "bad_major.so", "a.so"), 0);
  CHECK_EQ_INT(install(GOOD "testkit.so", "b.so"), 0);
  CHECK_EQ_INT(install(BAD "not_elf.so", "c.so"), 0);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.loaded, 1);
  CHECK_EQ_INT(res.failed, 2);
  CHECK(strstr(res.first_error, "/a.so: ") != NULL); /* the first, in name order */
  CHECK(active("testkit") != NULL);
  CHECK(tool("sleep") != NULL);
  CHECK_EQ_INT(copies(), 1);

  /* A tool another plugin has: init() fails on the refused registration,
   * and the one that had it keeps it. */
  uninstall_all();
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.removed, 1);
  CHECK_EQ_INT(copies(), 1); /* retired: unloaded on a later loop turn */
  turn(3);
  CHECK_EQ_INT(copies(), 0);
  CHECK(list_empty(&set.draining));
  CHECK_EQ_INT(install(MCPD_BUNDLED "/hello.so", "hello.so"), 0);
  CHECK_EQ_INT(install(BAD "bad_dup_tool.so", "zz_dup.so"), 0);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.loaded, 1);
  CHECK_EQ_INT(res.failed, 1);
  CHECK(strstr(res.first_error, "/zz_dup.so: ") != NULL);
  CHECK(strstr(res.first_error, "tool \"echo\" is already registered by plugin \"hello\"") != NULL);
  CHECK(tool("echo") != NULL && tool("echo")->e.ctx == active("hello"));
  CHECK(active("bad_dup_tool") == NULL);
  CHECK_EQ_INT(set.count, 1);
  CHECK_EQ_INT(copies(), 1);

  /* Two files of one plugin: the second is refused. */
  CHECK_EQ_INT(install(RELOAD "versioned_v1.so", "v_a.so"), 0);
  CHECK_EQ_INT(install(RELOAD "versioned_v2.so", "v_b.so"), 0);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.loaded, 1);
  CHECK_EQ_INT(res.failed, 1);       /* v_b.so */
  CHECK_EQ_INT(res.still_failed, 1); /* zz_dup.so: skipped, hello still has "echo" */
  CHECK_EQ_INT(set.failed, 2);
  CHECK(active("versioned") != NULL && strcmp(active("versioned")->version, "v1") == 0);
  CHECK(tool("only_in_v2") == NULL);

  /* An unreadable directory: an error, and nothing changes. */
  {
    unsigned before = set.count;
    CHECK(plugin_scan(&env, "/nonexistent/mcpd-plugins", &res) < 0);
    CHECK(strstr(res.first_error, "/nonexistent/mcpd-plugins") != NULL);
    CHECK_EQ_INT(set.count, before);
    CHECK(tool("echo") != NULL);
  }
  teardown();
}

/* The names of the tools, in list order, joined by spaces. */
static const char *tool_order(void) {
  static char out[512];
  size_t i, len = 0;
  out[0] = '\0';
  for (i = 0; i < reg.lists[REG_TOOL].count && len < sizeof(out); i++)
    len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? " " : "",
                            reg.lists[REG_TOOL].items[i]->key);
  return out;
}

static void test_refused_and_remembered(void) {
  plugin_scan_result res;
  uint64_t gen;
  char path[256], before[512];
  struct timespec times[2];

  setup();
  /* A registration refused in init() keeps the plugin out, even though
   * init() returned 0: nothing of it serves. */
  CHECK_EQ_INT(install(MCPD_BUNDLED "/hello.so", "hello.so"), 0);
  CHECK_EQ_INT(install(BAD "bad_half.so", "z_half.so"), 0);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.loaded, 1);
  CHECK_EQ_INT(res.failed, 1);
  CHECK(strstr(res.first_error, "/z_half.so: init() returned 0 after 1 refused registration(s)") !=
        NULL);
  CHECK(strstr(res.first_error, "tool \"echo\" is already registered by plugin \"hello\"") != NULL);
  CHECK(active("bad_half") == NULL);
  CHECK(tool("half_own") == NULL);
  CHECK(tool("echo") != NULL && tool("echo")->e.ctx == active("hello"));
  CHECK_EQ_INT(copies(), 1);

  /* Remembered: the next scans skip it without loading it (no new
   * version number is used), while hello still holds "echo". */
  gen = set.next_gen;
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.failed, 0);
  CHECK_EQ_INT(res.still_failed, 1);
  CHECK_EQ_INT(set.failed, 1);
  CHECK_EQ_INT(set.next_gen, gen);
  CHECK(strstr(res.newest_error, "/z_half.so: ") != NULL);
  CHECK_EQ_STR(res.first_error, "");

  /* Once hello is gone, "echo" is free: it is tried again, and loads. */
  uninstall("hello.so");
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.removed, 1);
  CHECK_EQ_INT(res.loaded, 1);
  CHECK(active("bad_half") != NULL && tool("half_own") != NULL);
  CHECK_EQ_STR(res.newest_error, "");
  CHECK_EQ_INT(set.failed, 0);
  uninstall_all();
  CHECK_EQ_INT(scan(&res), 0);
  turn(3);

  /* An init() that fails: run once, then skipped until the file changes. */
  CHECK_EQ_INT(install(BAD "bad_init_fails.so", "broken.so"), 0);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.failed, 1);
  gen = set.next_gen;
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.failed, 0);
  CHECK_EQ_INT(res.still_failed, 1);
  CHECK_EQ_INT(set.next_gen, gen);
  /* Touched: tried again. */
  snprintf(path, sizeof(path), "%s/broken.so", plugins_dir);
  clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec += 10;
  times[1] = times[0];
  CHECK_EQ_INT(utimensat(AT_FDCWD, path, times, 0), 0);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.failed, 1);
  CHECK_EQ_INT(res.still_failed, 0);
  CHECK(set.next_gen > gen);
  /* Its settings changed: tried again too. */
  gen = set.next_gen;
  json_object_set_new(cfg.plugins, "bad_init_fails", json_pack("{s:i}", "retry", 1));
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.failed, 1);
  CHECK(set.next_gen > gen);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.still_failed, 1);
  /* Two broken files: the newest failure is the one named. */
  CHECK_EQ_INT(install(BAD "not_elf.so", "z_broken.so"), 0);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.failed, 1);
  CHECK_EQ_INT(res.still_failed, 1);
  CHECK(strstr(res.newest_error, "/z_broken.so: ") != NULL);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK(strstr(res.newest_error, "/z_broken.so: ") != NULL);
  uninstall("z_broken.so");
  CHECK_EQ_INT(scan(&res), 0);
  CHECK(strstr(res.newest_error, "/broken.so: ") != NULL);
  /* Removed: forgotten. */
  uninstall("broken.so");
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_STR(res.newest_error, "");
  CHECK_EQ_INT(set.failed, 0);

  /* A file replaced by an identical copy: its tools keep their places. */
  CHECK_EQ_INT(install(MCPD_BUNDLED "/hello.so", "a_hello.so"), 0);
  CHECK_EQ_INT(install(RELOAD "versioned_v1.so", "versioned.so"), 0);
  CHECK_EQ_INT(scan(&res), 0);
  snprintf(before, sizeof(before), "%s", tool_order());
  CHECK(strncmp(before, "echo", 4) == 0);
  CHECK_EQ_INT(install(MCPD_BUNDLED "/hello.so", "a_hello.so"), 0);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.replaced, 1);
  CHECK_EQ_STR(tool_order(), before);
  teardown();
}

static void test_replace_and_refs(void) {
  plugin_scan_result res;
  mcpd_ctx *v1, *v2, *v3;
  session *s;
  fake_sink f;
  const char *text;

  setup();
  s = new_session();
  CHECK_EQ_INT(install(RELOAD "versioned_v1.so", "versioned.so"), 0);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.loaded, 1);
  v1 = active("versioned");
  CHECK(v1 != NULL);
  if (v1 == NULL)
    goto out;
  CHECK_EQ_STR(v1->version, "v1");
  CHECK_EQ_STR(call_tool(s, "which", NULL, NULL), "v1");
  CHECK(tool("only_in_v2") == NULL);

  /* A slow call in flight on v1: the call and its queued work hold it. */
  memset(&f, 0, sizeof(f));
  f.sink.send = fake_send;
  CHECK_EQ_STR(call_tool(s, "slow_which", "{\"ms\":400}", &f), "PENDING");
  CHECK_EQ_INT(v1->refs, 3);

  /* The file is replaced: v2 serves at once, v1 drains. */
  CHECK_EQ_INT(install(RELOAD "versioned_v2.so", "versioned.so"), 0);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.replaced, 1);
  CHECK_EQ_INT(res.loaded + res.failed, 0);
  v2 = active("versioned");
  CHECK(v2 != NULL && v2 != v1);
  if (v2 == NULL)
    goto out;
  CHECK_EQ_STR(v2->version, "v2");
  CHECK_EQ_INT(set.count, 1);
  CHECK(tool("only_in_v2") != NULL);
  CHECK(tool("which") != NULL && tool("which")->e.ctx == v2);
  CHECK_EQ_STR(call_tool(s, "which", NULL, NULL), "v2");
  CHECK(v1->retired);
  CHECK_EQ_INT(list_len(&set.draining), 1);
  CHECK(list_entry(set.draining.next, mcpd_ctx, link) == v1);
  CHECK_EQ_INT(v1->refs, 2); /* the serving reference went */
  CHECK_EQ_INT(copies(), 2);
  turn(3);
  CHECK_EQ_INT(copies(), 2); /* still loaded: its call runs */

  /* The call completes on the version it started on; then v1 unloads. */
  CHECK(run_until(&f.finals, 5000));
  text = json_string_value(json_object_get(
      json_array_get(json_object_get(json_object_get(f.final, "result"), "content"), 0), "text"));
  CHECK_EQ_STR(text, "v1");
  turn(3);
  CHECK(list_empty(&set.draining));
  CHECK(list_empty(&set.reap));
  CHECK_EQ_INT(copies(), 1);
  json_decref(f.final);

  /* A replacement that fails to load: the version serving goes on. */
  CHECK_EQ_INT(install(BAD "not_elf.so", "versioned.so"), 0);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.failed, 1);
  CHECK_EQ_INT(res.replaced, 0);
  CHECK(active("versioned") == v2);
  CHECK_EQ_STR(call_tool(s, "which", NULL, NULL), "v2");
  CHECK_EQ_INT(install(RELOAD "versioned_v2.so", "versioned.so"), 0);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.replaced, 1);
  v2 = active("versioned");
  turn(3);
  CHECK_EQ_INT(copies(), 1);

  /* Only the settings changed: a new version with them. */
  json_object_set_new(cfg.plugins, "versioned", json_pack("{s:s}", "greeting", "hi"));
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.replaced, 1);
  v3 = active("versioned");
  CHECK(v3 != NULL && v3 != v2);
  CHECK_EQ_STR(call_tool(s, "which", NULL, NULL), "v2 hi");
  turn(3);
  CHECK_EQ_INT(copies(), 1);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.unchanged, 1);
  if (v3 == NULL)
    goto out;

  /* Removed while a reference is held: retired, out of service, but
   * loaded until the reference goes. */
  plugin_ref(v3);
  uninstall("versioned.so");
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.removed, 1);
  CHECK_EQ_INT(set.count, 0);
  CHECK(tool("which") == NULL);
  CHECK(v3->retired);
  CHECK_EQ_INT(v3->refs, 1);
  CHECK_EQ_INT(list_len(&set.draining), 1);
  turn(3);
  CHECK_EQ_INT(copies(), 1);
  CHECK(strncmp(call_tool(s, "which", NULL, NULL), "ERROR Unknown tool", 18) == 0);
  plugin_unref(v3); /* v3 is gone after the next turn */
  CHECK_EQ_INT(list_len(&set.reap), 1);
  turn(3);
  CHECK(list_empty(&set.draining));
  CHECK(list_empty(&set.reap));
  CHECK_EQ_INT(copies(), 0);
  /* The name is free for a new file. */
  CHECK_EQ_INT(install(RELOAD "versioned_v1.so", "again.so"), 0);
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.loaded, 1);
  CHECK_EQ_STR(call_tool(s, "which", NULL, NULL), "v1 hi");
out:
  teardown();
}

/* Past drain_ms, the calls of a retired version are cancelled; it unloads
 * once they complete. plugin_unload_all() counts what it cannot unload. */
static void test_drain_deadline(void) {
  plugin_scan_result res;
  mcpd_ctx *v1;
  session *s;
  fake_sink f;
  uint64_t start;
  const char *text;

  setup();
  set.drain_ms = 100;
  s = new_session();
  CHECK_EQ_INT(install(RELOAD "versioned_v1.so", "versioned.so"), 0);
  CHECK_EQ_INT(scan(&res), 0);
  v1 = active("versioned");
  CHECK(v1 != NULL && v1->refs == 1);
  memset(&f, 0, sizeof(f));
  f.sink.send = fake_send;
  CHECK_EQ_STR(call_tool(s, "slow_which", "{\"ms\":20000}", &f), "PENDING");
  uninstall("versioned.so");
  CHECK_EQ_INT(scan(&res), 0);
  CHECK_EQ_INT(res.removed, 1);
  uv_update_time(&loop);
  start = uv_now(&loop);
  CHECK(run_until(&f.finals, 5000));
  /* Cancelled at the deadline: the work stopped early and answered. */
  CHECK(uv_now(&loop) - start >= 90);
  CHECK(uv_now(&loop) - start < 5000);
  text = json_string_value(json_object_get(
      json_array_get(json_object_get(json_object_get(f.final, "result"), "content"), 0), "text"));
  CHECK_EQ_STR(text, "v1");
  json_decref(f.final);
  turn(3);
  CHECK(list_empty(&set.draining));
  CHECK_EQ_INT(copies(), 0);

  /* A reference still held at shutdown: counted, and the version stays. */
  CHECK_EQ_INT(install(RELOAD "versioned_v1.so", "versioned.so"), 0);
  CHECK_EQ_INT(scan(&res), 0);
  v1 = active("versioned");
  if (v1 != NULL) {
    plugin_ref(v1);
    CHECK_EQ_INT(plugin_unload_all(&env), 1);
    CHECK_EQ_INT(set.count, 0);
    CHECK(tool("which") == NULL);
    CHECK_EQ_INT(copies(), 1);
    plugin_unref(v1);
    turn(3);
    CHECK_EQ_INT(copies(), 0);
  }
  teardown();
}

int main(void) {
  log_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  RUN(test_set_init);
  RUN(test_load_good);
  RUN(test_load_bad);
  RUN(test_refused_and_remembered);
  RUN(test_replace_and_refs);
  RUN(test_drain_deadline);
  close(log_fd);
  TEST_MAIN_END();
}
