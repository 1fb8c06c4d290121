/* plugin_loader.c -- loading and unloading plugins.
 *
 * Checks, in order, so the log says exactly what is wrong with a file:
 * dlopen(RTLD_NOW | RTLD_LOCAL) (unresolved symbols fail here, not in the
 * middle of a request), the entry symbol (an entry of another ABI major is
 * named), the descriptor (size, major, minor, build signature, the jansson
 * identity, name syntax, flags, init), a name not already loaded, then
 * init(). A failure at any step leaves nothing of the plugin behind. */
#include "plugin_loader.h"

#include "host_api.h"
#include "log.h"
#include "registry.h"
#include "server.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
  int r;
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
  r = host_api_normalize(out, sizeof(*out), d, d->struct_size, MCPD_PLUGIN_SIZE_V1_0);
  if (r < 0) {
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

static void ctx_free(mcpd_ctx *ctx) {
  free(ctx->name);
  free(ctx->version);
  free(ctx->description);
  free(ctx->path);
  ctx->magic = 0;
  free(ctx);
}

/* Calls shutdown(), drops the plugin's registrations and unmaps it. */
static void ctx_unload(mcpd_ctx *ctx) {
  if (ctx->desc.shutdown != NULL)
    ctx->desc.shutdown(ctx, ctx->state);
  registry_remove_ctx(&ctx->srv->reg, ctx);
  if (ctx->dl != NULL)
    dlclose(ctx->dl);
  ctx_free(ctx);
}

int plugin_load_file(server *srv, const char *path, char *err, size_t n) {
  mcpd_entry_fn entry;
  const mcpd_plugin *d;
  mcpd_plugin desc;
  mcpd_ctx *ctx, *other;
  void *dl;
  int r, major;
  char sym[32];

  dlerror();
  dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (dl == NULL) {
    const char *why = dlerror();
    snprintf(err, n, "not a loadable shared object: %s", why ? why : "dlopen failed");
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
    dlclose(dl);
    return -ENOEXEC;
  }
  d = entry();
  if (d == NULL) {
    snprintf(err, n, "%s() returned NULL", MCPD_ENTRY_SYMBOL);
    dlclose(dl);
    return -ENOEXEC;
  }
  r = check_descriptor(d, &desc, err, n);
  if (r < 0) {
    dlclose(dl);
    return r;
  }
  for (other = srv->plugins.head; other != NULL; other = other->next) {
    if (strcmp(other->name, desc.name) == 0) {
      snprintf(err, n, "a plugin named \"%s\" is already loaded from %s", desc.name, other->path);
      dlclose(dl);
      return -EEXIST;
    }
  }
  ctx = calloc(1, sizeof(*ctx));
  if (ctx == NULL) {
    dlclose(dl);
    snprintf(err, n, "out of memory");
    return -ENOMEM;
  }
  ctx->magic = CTX_MAGIC;
  ctx->srv = srv;
  ctx->dl = dl;
  ctx->desc = desc;
  ctx->refs = 1;
  /* Copies: the descriptor's strings vanish with the mapping. */
  ctx->name = strdup(desc.name);
  ctx->version = strdup(desc.version);
  ctx->description = desc.description ? strdup(desc.description) : NULL;
  ctx->path = strdup(path);
  if (ctx->name == NULL || ctx->version == NULL || ctx->path == NULL ||
      (desc.description != NULL && ctx->description == NULL)) {
    ctx_free(ctx);
    dlclose(dl);
    snprintf(err, n, "out of memory");
    return -ENOMEM;
  }
  ctx->in_init = 1;
  r = desc.init(ctx, host_api_table(), config_plugin(&srv->cfg, ctx->name), &ctx->state);
  ctx->in_init = 0;
  if (r < 0) {
    if (ctx->last_refusal[0] != '\0')
      snprintf(err, n, "init() failed: %s (%d) after a refused registration: %s",
               host_api_table()->strerror(r), r, ctx->last_refusal);
    else
      snprintf(err, n, "init() failed: %s (%d)", host_api_table()->strerror(r), r);
    ctx_unload(ctx);
    return r;
  }
  if (r > 0) {
    snprintf(err, n, "init() returned %d; it must return 0 or a negative error", r);
    ctx_unload(ctx);
    return -EINVAL;
  }
  /* Append, keeping load order for listings and logs. */
  if (srv->plugins.head == NULL) {
    srv->plugins.head = ctx;
  } else {
    for (other = srv->plugins.head; other->next != NULL; other = other->next)
      ;
    other->next = ctx;
  }
  srv->plugins.count++;
  log_msg(&srv->log, LOG_INFO, "plugin_loaded",
          "plugin=%s version=%s file=%s tools=%u resources=%u templates=%u", ctx->name,
          ctx->version, path, ctx->n_tools, ctx->n_resources, ctx->n_templates);
  return 0;
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int plugin_load_dir(server *srv, const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *de;
  char **names = NULL, path[4096], err[1024], esc[1200];
  size_t count = 0, cap = 0, i;
  int loaded = 0;

  if (d == NULL) {
    int e = -errno;
    log_msg(&srv->log, LOG_WARN, "plugins_dir_unreadable", "dir=%s error=%s", dir, strerror(-e));
    return e;
  }
  while ((de = readdir(d)) != NULL) {
    size_t len = strlen(de->d_name);
    if (de->d_name[0] == '.' || len < 4 || strcmp(de->d_name + len - 3, ".so") != 0)
      continue;
    if (count == cap) {
      char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*nn));
      if (nn == NULL)
        break;
      names = nn;
    }
    names[count] = strdup(de->d_name);
    if (names[count] != NULL)
      count++;
  }
  closedir(d);
  if (count > 1)
    qsort(names, count, sizeof(*names), name_cmp);
  for (i = 0; i < count; i++) {
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    free(names[i]);
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
      continue;
    err[0] = '\0';
    if (plugin_load_file(srv, path, err, sizeof(err)) == 0) {
      loaded++;
    } else {
      srv->plugins.failed++;
      log_msg(&srv->log, LOG_ERROR, "plugin_skipped", "file=%s reason=%s", path,
              log_escape(err, esc, sizeof(esc)));
    }
  }
  free(names);
  return loaded;
}

void plugin_ref(mcpd_ctx *ctx) {
  ctx->refs++;
}

void plugin_unref(mcpd_ctx *ctx) {
  /* Unloading happens in plugin_unload_all(); the count gates it. */
  ctx->refs--;
}

unsigned plugin_unload_all(server *srv) {
  mcpd_ctx *ctx = srv->plugins.head, *next, **keep = &srv->plugins.head;
  unsigned stuck = 0;

  for (; ctx != NULL; ctx = next) {
    next = ctx->next;
    if (ctx->refs > 1) {
      log_msg(&srv->log, LOG_WARN, "plugin_left_loaded",
              "plugin=%s in_flight=%u reason=\"calls or work still running\"", ctx->name,
              ctx->refs - 1);
      stuck++;
      *keep = ctx;
      keep = &ctx->next;
      continue;
    }
    log_msg(&srv->log, LOG_INFO, "plugin_unloaded", "plugin=%s", ctx->name);
    ctx_unload(ctx);
    srv->plugins.count--;
  }
  *keep = NULL;
  return stuck;
}
