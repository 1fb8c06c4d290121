/* plugin_loader.c -- plugin versions.
 *
 * Each version is loaded from its own copy of the file (a new name and a
 * new inode in the runtime directory), because glibc hands back the mapping
 * it already has for a path it has seen, and because writing into a mapped
 * file crashes the code running from it. Two versions of one plugin can so
 * be mapped at once: the new one serves new calls while the old one drains.
 *
 * Checks, in order, so the log says exactly what is wrong with a file:
 * dlopen(RTLD_NOW | RTLD_LOCAL) (unresolved symbols fail here, not in the
 * middle of a request), the entry symbol (an entry of another ABI major is
 * named), the descriptor (size, major, minor, build signature, the jansson
 * identity, name syntax, flags, init), a name no other plugin serves, then
 * init(), whose registrations go to a staging registry. A version goes into
 * service only when all of that worked, every registration included: a
 * plugin that ignores a refused registration would serve half its tools.
 *
 * A file that failed is remembered (struct failure), so that each reload
 * does not run a broken file's init() again and count it as a new failure:
 * it is tried again once its plugin_file_id or its settings change, or,
 * when the reason was a name another plugin held, once that name is free. */
#include "plugin/plugin_loader.h"

#include "mcp/call.h"
#include "lib/error.h"
#include "plugin/host_api.h"
#include "lib/log.h"
#include "lib/crash.h"
#include "plugin/elf_check.h"
#include "plugin/plugin_env.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void ctx_idle(mcpd_ctx *ctx);

/* load_why.taken_kind for a plugin name another loaded plugin has. */
#define TAKEN_PLUGIN_NAME REG_KINDS

/* What load_version() found out about a failure besides its message. */
typedef struct load_why {
  int remember;        /* the reason lies in the file or its init(): skip it until it changes */
  char name[65];       /* the plugin's name once its descriptor was read, else "" */
  int taken_kind;      /* -1; or a name another plugin held: an enum reg_kind or
                          TAKEN_PLUGIN_NAME ... */
  char taken_key[256]; /* ... and that name */
} load_why;

/* A file that failed to load, and what decided it. */
typedef struct failure {
  list_node link; /* in plugin_set.failures */
  char *path;
  plugin_file_id file;
  char *name;      /* the plugin's name, or NULL when it failed before that was known */
  json_t *config;  /* with name: the settings its init() got */
  int taken_kind;  /* as in load_why */
  char *taken_key; /* NULL when taken_kind is -1 */
  char *error;     /* "file: reason", for /healthz */
  uint64_t seq;    /* larger is newer */
} failure;

static int valid_plugin_name(const char *s) {
  size_t i;
  for (i = 0; s[i] != '\0'; i++) {
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
      return 0;
  }
  return i >= 1 && i <= 64;
}

/* Validates a descriptor and copies it into *out. */
static int check_descriptor(const mcpd_plugin *d, mcpd_plugin *out, char *err, size_t n) {
  if (d->struct_size < MCPD_PLUGIN_SIZE_V1_0) {
    snprintf(err, n, "descriptor struct_size %u is smaller than the ABI 1.0 size %zu",
             d->struct_size, (size_t)MCPD_PLUGIN_SIZE_V1_0);
    return -ENOEXEC;
  }
  if (d->abi_major != MCPD_ABI_MAJOR) {
    snprintf(err, n, "built for plugin ABI %u.%u; this mcpd speaks ABI %d.x", d->abi_major,
             d->abi_minor, MCPD_ABI_MAJOR);
    return -ENOEXEC;
  }
  if (d->abi_minor > MCPD_ABI_MINOR) {
    snprintf(err, n, "built for plugin ABI %u.%u, newer than this mcpd's %d.%d: upgrade mcpd",
             d->abi_major, d->abi_minor, MCPD_ABI_MAJOR, MCPD_ABI_MINOR);
    return -ENOEXEC;
  }
  if (host_api_normalize(out, sizeof(*out), d, d->struct_size, MCPD_PLUGIN_SIZE_V1_0) < 0) {
    snprintf(err, n, "descriptor struct_size %u has non-zero fields unknown to this mcpd",
             d->struct_size);
    return -ENOEXEC;
  }
  if (out->abi_signature == NULL || strcmp(out->abi_signature, MCPD_ABI_SIGNATURE) != 0) {
    snprintf(err, n, "build signature \"%s\" differs from mcpd's \"%s\" (rebuild the plugin)",
             out->abi_signature ? out->abi_signature : "(null)", MCPD_ABI_SIGNATURE);
    return -ENOEXEC;
  }
  if (out->jansson_delete != json_delete) {
    snprintf(err, n,
             "the plugin uses its own copy of jansson; link it with the shared "
             "libjansson (-ljansson)");
    return -ENOEXEC;
  }
  if (out->name == NULL || !valid_plugin_name(out->name)) {
    snprintf(err, n, "plugin name \"%s\" is not 1 to 64 characters of a-z 0-9 _",
             out->name ? out->name : "(null)");
    return -ENOEXEC;
  }
  if (out->version == NULL) {
    snprintf(err, n, "the descriptor has no version");
    return -ENOEXEC;
  }
  if (out->flags != 0) {
    snprintf(err, n, "unknown bits 0x%x in descriptor flags", out->flags);
    return -ENOEXEC;
  }
  if (out->init == NULL) {
    snprintf(err, n, "the descriptor has no init function");
    return -ENOEXEC;
  }
  return 0;
}

/* ---- the runtime directory ---------------------------------------------- */

static int make_dir(const char *path) {
  char tmp[PATH_MAX];
  char *p;
  struct stat st;
  if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
    return -ENAMETOOLONG;
  for (p = tmp + 1; *p != '\0'; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
      return -errno;
    *p = '/';
  }
  if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
    return -errno;
  if (stat(tmp, &st) < 0)
    return -errno;
  return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Copies are named <file>.<pid>.<gen>.so: removes those whose process is
 * gone (a crash left them), and none of a running mcpd sharing the dir. */
static void remove_leftovers(plugin_env *env, const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *de;
  char path[PATH_MAX];
  unsigned removed = 0;

  if (d == NULL)
    return;
  while ((de = readdir(d)) != NULL) {
    const char *end = de->d_name + strlen(de->d_name), *gen_dot, *pid_dot;
    long pid;
    if (end - de->d_name < 8 || strcmp(end - 3, ".so") != 0)
      continue;
    gen_dot = end - 3;
    for (pid_dot = gen_dot - 1; pid_dot > de->d_name && *pid_dot != '.'; pid_dot--)
      ;
    for (pid_dot--; pid_dot > de->d_name && *pid_dot != '.'; pid_dot--)
      ;
    if (pid_dot <= de->d_name || sscanf(pid_dot + 1, "%ld.", &pid) != 1 || pid <= 0)
      continue;
    if (pid == (long)getpid() || (kill((pid_t)pid, 0) < 0 && errno == ESRCH)) {
      snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
      if (unlink(path) == 0)
        removed++;
    }
  }
  closedir(d);
  if (removed > 0)
    log_msg(env->log, LOGLVL_INFO, "plugin_copies_removed", "dir=%s files=%u", dir, removed);
}

/* Copies the open file src into a new file at dst (read-only, 0500). */
static int copy_file(int src, const char *dst) {
  char chunk[65536];
  int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0500);
  ssize_t r = 0;
  if (out < 0)
    return -errno;
  for (;;) {
    ssize_t w, off = 0;
    r = read(src, chunk, sizeof(chunk));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    while (off < r) {
      w = write(out, chunk + off, (size_t)(r - off));
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0) {
        r = -1;
        break;
      }
      off += w;
    }
    if (r < 0)
      break;
  }
  if (r < 0) {
    int e = -errno;
    close(out);
    unlink(dst);
    return e;
  }
  if (close(out) < 0) {
    unlink(dst);
    return -EIO;
  }
  return 0;
}

/* ---- versions ------------------------------------------------------------- */

static void ctx_free(mcpd_ctx *ctx) {
  registry_free(&ctx->staged);
  json_decref(ctx->config);
  free(ctx->name);
  free(ctx->version);
  free(ctx->description);
  free(ctx->path);
  free(ctx->copy_path);
  ctx->magic = 0;
  free(ctx);
}

/* shutdown(), dlclose(), and the copy goes. The version must be out of
 * service with nothing in flight. */
static void ctx_unload(mcpd_ctx *ctx) {
  plugin_env *env = ctx->env;
  void *still;
  host_api_forget(ctx); /* nothing of it may call back after shutdown() */
  if (ctx->desc.shutdown != NULL) {
    crash_scope scope = {.plugin = ctx->name, .version = ctx->version, .kind = "shutdown"};
    crash_enter(&scope);
    ctx->desc.shutdown(ctx, ctx->state);
    crash_leave(&scope);
  }
  registry_remove_ctx(env->reg, ctx); /* nothing should be left; be sure */
  if (ctx->dl != NULL) {
    dlclose(ctx->dl);
    /* dlclose may keep the object (thread-local destructors, nodelete). */
    still = dlopen(ctx->copy_path, RTLD_NOW | RTLD_NOLOAD);
    if (still != NULL) {
      log_msg(env->log, LOGLVL_WARN, "plugin_still_resident",
              "plugin=%s gen=%llu file=%s reason=\"dlclose kept it mapped (thread-local "
              "destructors or nodelete); it stays until mcpd exits\"",
              ctx->name, (unsigned long long)ctx->gen, ctx->copy_path);
      dlclose(still);
    }
  }
  if (ctx->copy_path != NULL)
    unlink(ctx->copy_path);
  ctx_free(ctx);
}

/* Loads a version of the plugin in path. On success *out is loaded and
 * initialised but not serving: its registrations wait in ctx->staged. */
static int load_version(plugin_env *env, const char *path, const mcpd_ctx *replaces, mcpd_ctx **out,
                        load_why *why, char *err, size_t n) {
  crash_scope scope = {0};
  plugin_set *set = env->plugins;
  mcpd_entry_fn entry;
  const mcpd_plugin *d;
  mcpd_plugin desc;
  mcpd_ctx *ctx;
  list_node *node;
  struct stat st;
  char copy[PATH_MAX], sym[32];
  const char *base = strrchr(path, '/');
  void *dl;
  int fd, r, major;
  uint64_t gen;

  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) < 0) {
    snprintf(err, n, "cannot open: %s", error_strerror(-errno));
    if (fd >= 0)
      close(fd);
    return -EIO;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    snprintf(err, n, "not a regular file");
    return -ENOEXEC;
  }
  gen = ++set->next_gen;
  base = base ? base + 1 : path;
  if (snprintf(copy, sizeof(copy), "%s/%.*s.%ld.%llu.so", set->runtime_dir, (int)(strlen(base) - 3),
               base, (long)getpid(), (unsigned long long)gen) >= (int)sizeof(copy)) {
    close(fd);
    snprintf(err, n, "the runtime directory path is too long");
    return -ENAMETOOLONG;
  }
  r = copy_file(fd, copy);
  close(fd);
  if (r < 0) {
    snprintf(err, n, "cannot copy to %.900s: %s", copy, error_strerror(r));
    return r;
  }
  /* From here on a failure is the file's (or its init()'s), save for
   * running out of memory: worth remembering. */
  why->remember = 1;
  /* The copy, not the original: it is what dlopen() maps, and nobody
   * else writes it. A truncated file would fault inside dlopen(). */
  fd = open(copy, O_RDONLY | O_CLOEXEC);
  r = fd < 0 ? -EIO : elf_check_fd(fd, err, n);
  if (fd < 0)
    snprintf(err, n, "cannot open the copy: %s", error_strerror(-errno));
  else
    close(fd);
  if (r < 0) {
    unlink(copy);
    return r;
  }
  dlerror();
  dl = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
  if (dl == NULL) {
    const char *dl_err = dlerror();
    snprintf(err, n, "not a loadable shared object: %s", dl_err ? dl_err : "dlopen failed");
    unlink(copy);
    return -ENOEXEC;
  }
  *(void **)&entry = dlsym(dl, MCPD_ENTRY_SYMBOL);
  if (entry == NULL) {
    for (major = 0; major < 10; major++) {
      snprintf(sym, sizeof(sym), "mcpd_plugin_v%d", major);
      if (major != MCPD_ABI_MAJOR && dlsym(dl, sym) != NULL)
        break;
    }
    if (major < 10)
      snprintf(err, n, "built for plugin ABI %d (exports %s); this mcpd speaks ABI %d", major, sym,
               MCPD_ABI_MAJOR);
    else
      snprintf(err, n, "no entry symbol %s: not an mcpd plugin (use MCPD_PLUGIN_DEFINE)",
               MCPD_ENTRY_SYMBOL);
    r = -ENOEXEC;
    goto fail_dl;
  }
  d = entry();
  if (d == NULL) {
    snprintf(err, n, "%s() returned NULL", MCPD_ENTRY_SYMBOL);
    r = -ENOEXEC;
    goto fail_dl;
  }
  r = check_descriptor(d, &desc, err, n);
  if (r < 0)
    goto fail_dl;
  snprintf(why->name, sizeof(why->name), "%s", desc.name);
  for (node = set->active.next; node != &set->active; node = node->next) {
    const mcpd_ctx *other = list_entry(node, mcpd_ctx, link);
    if (other != replaces && strcmp(other->name, desc.name) == 0) {
      snprintf(err, n, "a plugin named \"%s\" is already loaded from %s", desc.name, other->path);
      why->taken_kind = TAKEN_PLUGIN_NAME;
      snprintf(why->taken_key, sizeof(why->taken_key), "%s", desc.name);
      r = -EEXIST;
      goto fail_dl;
    }
  }
  ctx = calloc(1, sizeof(*ctx));
  if (ctx == NULL) {
    r = -ENOMEM;
    why->remember = 0;
    snprintf(err, n, "out of memory");
    goto fail_dl;
  }
  ctx->magic = CTX_MAGIC;
  ctx->env = env;
  ctx->on_idle = ctx_idle;
  ctx->dl = dl;
  ctx->desc = desc;
  ctx->gen = gen;
  ctx->refs = 1;
  ctx->replaces = replaces;
  ctx->taken_kind = -1;
  ctx->file.dev = st.st_dev;
  ctx->file.ino = st.st_ino;
  ctx->file.size = st.st_size;
  ctx->file.mtime = st.st_mtim;
  list_init(&ctx->link);
  list_init(&ctx->async);
  registry_init(&ctx->staged);
  /* Copies: the descriptor's strings vanish with the mapping. */
  ctx->name = strdup(desc.name);
  ctx->version = strdup(desc.version);
  ctx->description = desc.description ? strdup(desc.description) : NULL;
  ctx->path = strdup(path);
  ctx->copy_path = strdup(copy);
  ctx->config = json_deep_copy(config_plugin(env->cfg, desc.name));
  if (ctx->name == NULL || ctx->version == NULL || ctx->path == NULL || ctx->copy_path == NULL ||
      ctx->config == NULL || (desc.description != NULL && ctx->description == NULL)) {
    ctx->desc.shutdown = NULL; /* init() never ran */
    ctx_unload(ctx);
    why->remember = 0;
    snprintf(err, n, "out of memory");
    return -ENOMEM;
  }
  ctx->in_init = 1;
  scope.plugin = ctx->name;
  scope.version = ctx->version;
  scope.kind = "init";
  scope.name = path;
  crash_enter(&scope);
  r = desc.init(ctx, host_api_table(), ctx->config, &ctx->state);
  crash_leave(&scope);
  ctx->in_init = 0;
  ctx->replaces = NULL;
  if (ctx->taken_kind >= 0) {
    why->taken_kind = ctx->taken_kind;
    snprintf(why->taken_key, sizeof(why->taken_key), "%s", ctx->taken_key);
  }
  if (r != 0) {
    if (r > 0)
      snprintf(err, n, "init() returned %d; it must return 0 or a negative error", r);
    else if (ctx->last_refusal[0] != '\0')
      snprintf(err, n, "init() failed: %s (%d) after a refused registration: %s", error_strerror(r),
               r, ctx->last_refusal);
    else
      snprintf(err, n, "init() failed: %s (%d)", error_strerror(r), r);
    if (r == -ENOMEM)
      why->remember = 0;
    ctx_unload(ctx);
    return r > 0 ? -EINVAL : r;
  }
  if (ctx->n_refused > 0) {
    /* In service it would lack what was refused, and nobody would know
     * which of its tools are missing: the same rule as a failed init(). */
    snprintf(err, n,
             "init() returned 0 after %u refused registration(s), so it does not go into "
             "service; the last: %s",
             ctx->n_refused, ctx->last_refusal);
    r = ctx->taken_kind >= 0 ? -EEXIST : -EINVAL;
    ctx_unload(ctx);
    return r;
  }
  *out = ctx;
  return 0;

fail_dl:
  dlclose(dl);
  unlink(copy);
  return r;
}

/* Inserts ctx into the active list, which stays in file-name order. */
static void activate(plugin_set *set, mcpd_ctx *ctx) {
  list_node *node;
  for (node = set->active.next; node != &set->active; node = node->next) {
    if (strcmp(list_entry(node, mcpd_ctx, link)->path, ctx->path) > 0)
      break;
  }
  list_insert_tail(node, &ctx->link); /* before node */
  set->count++;
}

static void start_drain_timer(plugin_set *set);

/* Takes a serving version out of service; it unloads when idle. */
static void retire(plugin_env *env, mcpd_ctx *ctx, const char *why) {
  plugin_set *set = env->plugins;
  registry_remove_ctx(env->reg, ctx);
  list_remove(&ctx->link);
  set->count--;
  ctx->retired = 1;
  ctx->retired_at = uv_now(env->loop);
  list_insert_tail(&set->draining, &ctx->link);
  log_msg(env->log, LOGLVL_INFO, "plugin_retired",
          "plugin=%s version=%s gen=%llu reason=%s in_flight=%u", ctx->name, ctx->version,
          (unsigned long long)ctx->gen, why, ctx->refs - 1);
  start_drain_timer(set);
  plugin_unref(ctx); /* the serving reference */
}

/* Puts a loaded version in service, replacing old (if any). Returns 0, or
 * -ENOMEM with nothing changed. */
static int commit(plugin_env *env, mcpd_ctx *ctx, mcpd_ctx *old) {
  registry old_entries;
  int r;

  registry_init(&old_entries);
  /* In the old version's places: a file replaced by an identical copy
   * changes no list, and clients hear nothing. */
  r = registry_replace_ctx(env->reg, old, &ctx->staged, &old_entries);
  if (r < 0) {
    registry_free(&old_entries);
    return r;
  }
  registry_free(&old_entries);
  activate(env->plugins, ctx);
  host_api_activated(ctx);
  log_msg(env->log, LOGLVL_INFO, "plugin_loaded",
          "plugin=%s version=%s gen=%llu file=%s tools=%u resources=%u templates=%u prompts=%u%s",
          ctx->name, ctx->version, (unsigned long long)ctx->gen, ctx->path, ctx->n_tools,
          ctx->n_resources, ctx->n_templates, ctx->n_prompts,
          old != NULL ? " replaces_previous=1" : "");
  if (old != NULL)
    retire(env, old, "replaced");
  return 0;
}

static void reaper_cb(uv_idle_t *idle);

/* A retired version's last reference went (plugin_unref()). */
static void ctx_idle(mcpd_ctx *ctx) {
  plugin_set *set = ctx->env->plugins;
  /* Not from here: the caller may be on its way back out of plugin code. */
  list_remove(&ctx->link);
  list_insert_tail(&set->reap, &ctx->link);
  if (set->handles_open)
    uv_idle_start(&set->reaper, reaper_cb);
}

static void reap_all(plugin_set *set) {
  while (!list_empty(&set->reap)) {
    mcpd_ctx *ctx = list_entry(set->reap.next, mcpd_ctx, link);
    list_remove(&ctx->link);
    log_msg(ctx->env->log, LOGLVL_INFO, "plugin_unloaded", "plugin=%s version=%s gen=%llu",
            ctx->name, ctx->version, (unsigned long long)ctx->gen);
    ctx_unload(ctx);
  }
}

static void reaper_cb(uv_idle_t *idle) {
  plugin_set *set = idle->data;
  uv_idle_stop(idle);
  reap_all(set);
}

/* Past the drain deadline, the calls of a retired version are cancelled
 * (it still unloads only once they complete). */
static void drain_cb(uv_timer_t *t) {
  plugin_set *set = t->data;
  list_node *node, *next, *cn;
  int waiting = 0;

  /* next first: host_api_abandon() may drop ctx's last reference, which
   * moves it to the reap list. */
  for (node = set->draining.next; node != &set->draining; node = next) {
    mcpd_ctx *ctx = list_entry(node, mcpd_ctx, link);
    plugin_env *env = ctx->env;
    unsigned cancelled = 0;
    next = node->next;
    if (ctx->drain_cancelled)
      continue;
    waiting = 1;
    if (set->drain_ms == 0 || uv_now(env->loop) - ctx->retired_at < set->drain_ms)
      continue;
    ctx->drain_cancelled = 1;
    for (cn = env->calls->live.next; cn != &env->calls->live; cn = cn->next) {
      mcpd_call *call = list_entry(cn, mcpd_call, e_link);
      if (call->ctx == ctx) {
        call_cancel(call);
        cancelled++;
      }
    }
    log_msg(env->log, LOGLVL_WARN, "plugin_drain_deadline",
            "plugin=%s gen=%llu after_ms=%u calls_cancelled=%u in_flight=%u", ctx->name,
            (unsigned long long)ctx->gen, set->drain_ms, cancelled, ctx->refs);
    host_api_abandon(ctx);
  }
  if (!waiting)
    uv_timer_stop(t);
}

static void start_drain_timer(plugin_set *set) {
  uint64_t period;
  if (!set->handles_open || set->drain_ms == 0 || uv_is_active((uv_handle_t *)&set->drain_timer))
    return;
  period = set->drain_ms / 4 < 50 ? 50 : (set->drain_ms / 4 > 1000 ? 1000 : set->drain_ms / 4);
  uv_timer_start(&set->drain_timer, drain_cb, period, period);
  uv_unref((uv_handle_t *)&set->drain_timer);
}

/* ---- scanning --------------------------------------------------------------- */

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.so files of dir, sorted; *out holds full paths. */
static int list_dir(const char *dir, char ***out, size_t *count) {
  DIR *d = opendir(dir);
  struct dirent *de;
  char **names = NULL;
  size_t n = 0, cap = 0;

  if (d == NULL)
    return -errno;
  while ((de = readdir(d)) != NULL) {
    size_t len = strlen(de->d_name);
    struct stat st;
    char *path;
    if (de->d_name[0] == '.' || len < 4 || strcmp(de->d_name + len - 3, ".so") != 0)
      continue;
    if (asprintf(&path, "%s/%s", dir, de->d_name) < 0)
      continue;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
      free(path);
      continue;
    }
    if (n == cap) {
      char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*nn));
      if (nn == NULL) {
        free(path);
        break;
      }
      names = nn;
    }
    names[n++] = path;
  }
  closedir(d);
  if (n > 1)
    qsort(names, n, sizeof(*names), name_cmp);
  *out = names;
  *count = n;
  return 0;
}

static mcpd_ctx *active_by_path(plugin_set *set, const char *path) {
  list_node *node;
  for (node = set->active.next; node != &set->active; node = node->next) {
    mcpd_ctx *ctx = list_entry(node, mcpd_ctx, link);
    if (strcmp(ctx->path, path) == 0)
      return ctx;
  }
  return NULL;
}

static int same_file(const mcpd_ctx *ctx, const struct stat *st) {
  return ctx->file.dev == st->st_dev && ctx->file.ino == st->st_ino &&
         ctx->file.size == st->st_size && ctx->file.mtime.tv_sec == st->st_mtim.tv_sec &&
         ctx->file.mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* ---- remembered failures ----------------------------------------------------- */

static void failure_free(failure *f) {
  list_remove(&f->link);
  free(f->path);
  free(f->name);
  json_decref(f->config);
  free(f->taken_key);
  free(f->error);
  free(f);
}

static failure *failure_find(plugin_set *set, const char *path) {
  list_node *node;
  for (node = set->failures.next; node != &set->failures; node = node->next) {
    failure *f = list_entry(node, failure, link);
    if (strcmp(f->path, path) == 0)
      return f;
  }
  return NULL;
}

/* Remembers that path (whose stat is st) failed as why says, replacing
 * what was remembered for it. Out of memory, it is simply not remembered
 * (and tried again next time). */
static void failure_note(plugin_env *env, const char *path, const struct stat *st,
                         const load_why *why, const char *error) {
  plugin_set *set = env->plugins;
  failure *f = failure_find(set, path);
  if (f != NULL)
    failure_free(f);
  if (!why->remember)
    return;
  f = calloc(1, sizeof(*f));
  if (f == NULL)
    return;
  list_init(&f->link);
  f->path = strdup(path);
  f->error = strdup(error);
  f->file.dev = st->st_dev;
  f->file.ino = st->st_ino;
  f->file.size = st->st_size;
  f->file.mtime = st->st_mtim;
  f->taken_kind = why->taken_kind;
  f->seq = ++set->next_failure;
  if (why->name[0] != '\0') {
    f->name = strdup(why->name);
    f->config = json_deep_copy(config_plugin(env->cfg, why->name));
  }
  if (why->taken_kind >= 0)
    f->taken_key = strdup(why->taken_key);
  if (f->path == NULL || f->error == NULL ||
      (why->name[0] != '\0' && (f->name == NULL || f->config == NULL)) ||
      (why->taken_kind >= 0 && f->taken_key == NULL)) {
    failure_free(f);
    return;
  }
  list_insert_tail(&set->failures, &f->link);
}

/* Whether the name that made f fail is still held by a plugin in service. */
static int still_taken(plugin_env *env, const failure *f) {
  enum reg_kind kind;
  list_node *node;
  if (f->taken_kind < 0)
    return 1; /* not a name: nothing of that kind to wait for */
  if (f->taken_kind == TAKEN_PLUGIN_NAME) {
    for (node = env->plugins->active.next; node != &env->plugins->active; node = node->next) {
      const mcpd_ctx *other = list_entry(node, mcpd_ctx, link);
      if (strcmp(other->name, f->taken_key) == 0 && strcmp(other->path, f->path) != 0)
        return 1;
    }
    return 0;
  }
  kind = (enum reg_kind)f->taken_kind;
  return registry_get(env->reg, kind, f->taken_key, strlen(f->taken_key)) != NULL;
}

/* Whether loading f's file again would fail the same way: the same file,
 * the same settings, and the name it wanted still held. */
static int failure_stands(plugin_env *env, const failure *f, const struct stat *st) {
  return f->file.dev == st->st_dev && f->file.ino == st->st_ino && f->file.size == st->st_size &&
         f->file.mtime.tv_sec == st->st_mtim.tv_sec &&
         f->file.mtime.tv_nsec == st->st_mtim.tv_nsec &&
         (f->name == NULL || json_equal(f->config, (json_t *)config_plugin(env->cfg, f->name))) &&
         still_taken(env, f);
}

/* Sets res->newest_error: the first failure of this scan, else the newest
 * one remembered, else "". */
static void newest_error(plugin_set *set, plugin_scan_result *res) {
  const failure *newest = NULL;
  list_node *node;
  if (res->failed > 0) {
    snprintf(res->newest_error, sizeof(res->newest_error), "%s", res->first_error);
    return;
  }
  for (node = set->failures.next; node != &set->failures; node = node->next) {
    const failure *f = list_entry(node, failure, link);
    if (newest == NULL || f->seq > newest->seq)
      newest = f;
  }
  snprintf(res->newest_error, sizeof(res->newest_error), "%s", newest ? newest->error : "");
}

/* Forgets the failures of files no longer in paths. */
static void failures_prune(plugin_set *set, char **paths, size_t count) {
  list_node *node, *tmp;
  size_t i;
  list_foreach_safe(node, tmp, &set->failures) {
    failure *f = list_entry(node, failure, link);
    int present = 0;
    for (i = 0; i < count && !present; i++)
      present = strcmp(paths[i], f->path) == 0;
    if (!present)
      failure_free(f);
  }
}

int plugin_scan(plugin_env *env, const char *dir, plugin_scan_result *res) {
  plugin_set *set = env->plugins;
  char **paths = NULL, err[1024], esc[1200];
  size_t count = 0, i;
  list_node *node, *tmp;
  int r;

  memset(res, 0, sizeof(*res));
  r = list_dir(dir, &paths, &count);
  if (r < 0) {
    log_msg(env->log, LOGLVL_WARN, "plugins_dir_unreadable", "dir=%s error=%s", dir,
            error_strerror(r));
    snprintf(res->first_error, sizeof(res->first_error), "%s: %s", dir, error_strerror(r));
    return r;
  }
  /* Removed files first: their names may be taken by new ones. */
  list_foreach_safe(node, tmp, &set->active) {
    mcpd_ctx *ctx = list_entry(node, mcpd_ctx, link);
    int present = 0;
    for (i = 0; i < count && !present; i++)
      present = strcmp(paths[i], ctx->path) == 0;
    if (!present) {
      retire(env, ctx, "removed");
      res->removed++;
    }
  }
  failures_prune(set, paths, count);
  for (i = 0; i < count; i++) {
    mcpd_ctx *old = active_by_path(set, paths[i]), *ctx = NULL;
    failure *known = NULL;
    load_why why;
    struct stat st;
    char error[512];
    if (stat(paths[i], &st) < 0)
      continue;
    if (old != NULL && same_file(old, &st) &&
        json_equal(old->config, (json_t *)config_plugin(env->cfg, old->name))) {
      res->unchanged++;
      if ((known = failure_find(set, paths[i])) != NULL)
        failure_free(known); /* the version that failed was moved away again */
      /* It stays: it may want to refresh what its tools come from. */
      if (old->desc.reload != NULL)
        old->desc.reload(old, old->state);
      continue;
    }
    known = failure_find(set, paths[i]);
    if (known != NULL && failure_stands(env, known, &st)) {
      res->still_failed++;
      log_msg(env->log, LOGLVL_INFO, "plugin_still_skipped",
              "file=%s reason=\"it failed before%s, and neither the file nor its settings "
              "changed (touch it to try again)\"%s",
              paths[i], known->taken_kind >= 0 ? " for a name another plugin still has" : "",
              old != NULL ? " kept=previous_version" : "");
      continue;
    }
    memset(&why, 0, sizeof(why));
    why.taken_kind = -1;
    err[0] = '\0';
    r = load_version(env, paths[i], old, &ctx, &why, err, sizeof(err));
    if (r == 0) {
      r = commit(env, ctx, old);
      if (r < 0) {
        snprintf(err, sizeof(err), "out of memory putting it in service");
        why.remember = 0;
        ctx_unload(ctx);
      }
    }
    if (r < 0) {
      snprintf(error, sizeof(error), "%.200s: %.300s", paths[i], err);
      if (res->failed++ == 0)
        snprintf(res->first_error, sizeof(res->first_error), "%s", error);
      failure_note(env, paths[i], &st, &why, error);
      log_msg(env->log, LOGLVL_ERROR, "plugin_skipped", "file=%s reason=%s%s", paths[i],
              log_escape(err, esc, sizeof(esc)), old != NULL ? " kept=previous_version" : "");
    } else {
      if (known != NULL)
        failure_free(known);
      if (old != NULL)
        res->replaced++;
      else
        res->loaded++;
    }
  }
  for (i = 0; i < count; i++)
    free(paths[i]);
  free(paths);
  set->failed = res->failed + res->still_failed;
  newest_error(set, res);
  return 0;
}

/* ---- the set ---------------------------------------------------------------- */

int plugin_set_init(plugin_env *env, const char *runtime_dir, unsigned drain_ms) {
  plugin_set *set = env->plugins;
  int r;

  list_init(&set->active);
  list_init(&set->draining);
  list_init(&set->reap);
  list_init(&set->failures);
  set->drain_ms = drain_ms;
  set->runtime_dir = strdup(runtime_dir);
  if (set->runtime_dir == NULL)
    return -ENOMEM;
  r = make_dir(runtime_dir);
  if (r < 0) {
    log_msg(env->log, LOGLVL_ERROR, "runtime_dir_unusable", "dir=%s error=%s", runtime_dir,
            error_strerror(r));
    return r;
  }
  remove_leftovers(env, runtime_dir);
  uv_idle_init(env->loop, &set->reaper);
  set->reaper.data = set;
  uv_timer_init(env->loop, &set->drain_timer);
  set->drain_timer.data = set;
  set->handles_open = 1;
  return 0;
}

unsigned plugin_unload_all(plugin_env *env) {
  plugin_set *set = env->plugins;
  list_node *node;
  unsigned left = 0;

  while (!list_empty(&set->active))
    retire(env, list_entry(set->active.next, mcpd_ctx, link), "shutdown");
  reap_all(set);
  for (node = set->draining.next; node != &set->draining; node = node->next) {
    mcpd_ctx *ctx = list_entry(node, mcpd_ctx, link);
    log_msg(env->log, LOGLVL_WARN, "plugin_left_loaded",
            "plugin=%s gen=%llu in_flight=%u reason=\"calls or work still running\"", ctx->name,
            (unsigned long long)ctx->gen, ctx->refs);
    left++;
  }
  return left;
}

void plugin_set_close(plugin_set *set) {
  while (set->failures.next != NULL && !list_empty(&set->failures))
    failure_free(list_entry(set->failures.next, failure, link));
  if (set->handles_open) {
    set->handles_open = 0;
    uv_close((uv_handle_t *)&set->reaper, NULL);
    uv_close((uv_handle_t *)&set->drain_timer, NULL);
  }
  free(set->runtime_dir);
  set->runtime_dir = NULL;
}
