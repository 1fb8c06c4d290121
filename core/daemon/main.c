/* main.c -- the command line of mcpd. */
#include "lib/config.h"
#include "lib/log.h"
#include "mcpd/plugin.h"
#include "daemon/reload.h"
#include "daemon/server.h"
#include "lib/version.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out) {
  fprintf(out,
          "Usage: mcpd [OPTIONS]\n"
          "Serve MCP (Model Context Protocol) tools and resources from plugins over HTTP.\n"
          "\n"
          "  -c, --config FILE       read settings from a JSON file (README: Configuration)\n"
          "  -l, --listen HOST:PORT  address to listen on (default 127.0.0.1:8000;\n"
          "                          port 0 picks a free port, logged at start)\n"
          "  -p, --plugins DIR       directory of plugin .so files (default: plugins/ next\n"
          "                          to the binary if it exists, else %s)\n"
          "      --stdio             serve MCP on stdin/stdout (newline-delimited JSON-RPC)\n"
          "                          instead of HTTP, for clients that launch mcpd\n"
          "      --log-level LEVEL   debug, info, warn or error (default info)\n"
          "      --tls-cert FILE     serve HTTPS with this PEM certificate (chain);\n"
          "                          needs --tls-key (or tls.key_file in the config)\n"
          "      --tls-key FILE      the certificate's PEM private key (unencrypted)\n"
          "      --tls-client-ca FILE  require client certificates issued by a CA in\n"
          "                          this PEM file (mutual TLS)\n"
          "      --openapi URL|FILE  serve the operations of this OpenAPI document (JSON or\n"
          "                          YAML) as tools, with the http_backend plugin; repeat\n"
          "                          it for more APIs (added to the config file's backends)\n"
          "      --base-url URL      where the requests of the --openapi before it go\n"
          "                          (default: the document's servers; for a URL without\n"
          "                          servers, the host it came from)\n"
          "      --check             load the configuration and every plugin, print what\n"
          "                          would be served, exit 0 if all is well, 1 if not\n"
          "  -V, --version           print the version and exit\n"
          "  -h, --help              print this help and exit\n"
          "\n"
          "Options override the config file. Logs go to stderr, one line per event.\n"
          "Endpoints: POST, GET and DELETE /mcp (MCP Streamable HTTP, protocol revisions\n"
          "2024-11-05 to 2025-11-25); GET /sse and POST /messages (HTTP+SSE, 2024-11-05);\n"
          "GET /healthz (status), GET /metrics (Prometheus); all over HTTPS when a\n"
          "certificate is set.\n"
          "Signals: SIGTERM or SIGINT stop gracefully (in-flight calls finish first);\n"
          "SIGHUP re-reads the config file, the TLS certificate and key, and reloads\n"
          "changed plugins without dropping a connection or a call in flight.\n",
          MCPD_DEFAULT_PLUGIN_DIR);
}

/* The plugins directory the server takes when none is set (as server.c
 * does): plugins/ next to the binary if it exists, else the installed one. */
static void default_plugins_dir(char *out, size_t n) {
  char exe[PATH_MAX], *slash;
  ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  struct stat st;
  if (len > 0) {
    exe[len] = '\0';
    slash = strrchr(exe, '/');
    if (slash != NULL) {
      snprintf(out, n, "%.*s/plugins", (int)(slash - exe), exe);
      if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
        return;
    }
  }
  snprintf(out, n, "%s", MCPD_DEFAULT_PLUGIN_DIR);
}

/* --openapi serves nothing without http_backend: say so rather than start
 * an empty server. Returns 0 when its file is in the plugins directory. */
static int check_http_backend(const config *cfg) {
  char dir[PATH_MAX], path[PATH_MAX + 32];
  if (cfg->plugins_dir != NULL)
    snprintf(dir, sizeof(dir), "%s", cfg->plugins_dir);
  else
    default_plugins_dir(dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/http_backend.so", dir);
  if (access(path, R_OK) == 0)
    return 0;
  fprintf(stderr,
          "mcpd: --openapi needs the http_backend plugin, and the plugins directory %s has no "
          "http_backend.so: give the directory that holds it with --plugins DIR\n",
          dir);
  return -1;
}

/* Records --openapi (made a URL, see config_openapi_source; the copy goes
 * to sources[*count], freed by the caller) or --base-url. list and sources
 * have room for every argument. Returns 0, or -1 after saying why. */
static int openapi_option(config_openapi *list, char **sources, size_t *count, size_t cap,
                          int is_base_url, const char *value) {
  char cwd[PATH_MAX], src[PATH_MAX + 16], err[1024];
  const char *v = value;
  if (!is_base_url) {
    if (value[0] == '\0') {
      fprintf(stderr, "mcpd: --openapi needs a URL or a file\n");
      return -1;
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL)
      cwd[0] = '\0';
    if (cwd[0] == '\0' && value[0] != '/' && strstr(value, ":") == NULL) {
      fprintf(stderr, "mcpd: --openapi %s: cannot tell the current directory\n", value);
      return -1;
    }
    if (config_openapi_source(value, cwd, src, sizeof(src)) < 0) {
      fprintf(stderr, "mcpd: --openapi %s: too long\n", value);
      return -1;
    }
    if (*count < cap && (v = sources[*count] = strdup(src)) == NULL)
      return -1;
  }
  if (config_openapi_arg(list, count, cap, is_base_url, v, err, sizeof(err)) < 0) {
    fprintf(stderr, "mcpd: %s\nTry 'mcpd --help'.\n", err);
    return -1;
  }
  return 0;
}

/* The whole run; apis and sources have room for every argument. */
static int run(int argc, char **argv, config_openapi *apis, char **sources) {
  enum {
    OPT_LOG_LEVEL = 256,
    OPT_CHECK,
    OPT_STDIO,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_CA,
    OPT_OPENAPI,
    OPT_BASE_URL
  };
  static const struct option opts[] = {
      {"config", required_argument, NULL, 'c'},
      {"listen", required_argument, NULL, 'l'},
      {"plugins", required_argument, NULL, 'p'},
      {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
      {"check", no_argument, NULL, OPT_CHECK},
      {"stdio", no_argument, NULL, OPT_STDIO},
      {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
      {"tls-key", required_argument, NULL, OPT_TLS_KEY},
      {"tls-client-ca", required_argument, NULL, OPT_TLS_CA},
      {"openapi", required_argument, NULL, OPT_OPENAPI},
      {"base-url", required_argument, NULL, OPT_BASE_URL},
      {"version", no_argument, NULL, 'V'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *config_file = NULL, *listen = NULL, *plugins = NULL, *level = NULL;
  int check = 0, use_stdio = 0, c, r;
  char err[1024];
  config_args args;
  config cfg;
  server *srv;

  memset(&args, 0, sizeof(args));
  while ((c = getopt_long(argc, argv, "c:l:p:Vh", opts, NULL)) != -1) {
    switch (c) {
    case 'c':
      config_file = optarg;
      break;
    case 'l':
      listen = optarg;
      break;
    case 'p':
      plugins = optarg;
      break;
    case OPT_LOG_LEVEL:
      level = optarg;
      break;
    case OPT_CHECK:
      check = 1;
      break;
    case OPT_STDIO:
      use_stdio = 1;
      break;
    case OPT_TLS_CERT:
      args.tls_cert = optarg;
      break;
    case OPT_TLS_KEY:
      args.tls_key = optarg;
      break;
    case OPT_TLS_CA:
      args.tls_client_ca = optarg;
      break;
    case OPT_OPENAPI:
    case OPT_BASE_URL:
      if (openapi_option(apis, sources, &args.n_openapi, (size_t)argc, c == OPT_BASE_URL, optarg) <
          0)
        return 2;
      break;
    case 'V':
      printf("mcpd %s (plugin ABI %d.%d)\n", MCPD_VERSION, MCPD_ABI_MAJOR, MCPD_ABI_MINOR);
      return 0;
    case 'h':
      usage(stdout);
      return 0;
    default:
      fprintf(stderr, "Try 'mcpd --help'.\n");
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "mcpd: unexpected argument '%s'\nTry 'mcpd --help'.\n", argv[optind]);
    return 2;
  }
  args.openapi = apis;
  args.config_file = config_file;
  args.listen = listen;
  args.plugins_dir = plugins;
  args.log_level = -1;
  args.stdio = use_stdio;
  if (level != NULL) {
    args.log_level = log_level_parse(level);
    if (args.log_level < 0) {
      fprintf(stderr, "mcpd: --log-level: \"%s\" is not one of debug, info, warn, error\n", level);
      return 2;
    }
  }
  err[0] = '\0';
  if (config_build(&args, &cfg, err, sizeof(err)) < 0) {
    fprintf(stderr, "mcpd: %s\n", err);
    return 2;
  }
  if (args.n_openapi > 0 && check_http_backend(&cfg) < 0) {
    config_free(&cfg);
    return 1;
  }
  if (check)
    return server_check(&cfg, stdout);
  srv = calloc(1, sizeof(*srv));
  if (srv == NULL) {
    config_free(&cfg);
    return 1;
  }
  r = server_init(srv, &cfg, &args);
  if (r < 0) {
    /* The reason is logged. */
    server_abort(srv);
    free(srv);
    return 1;
  }
  srv->on_reload = reload_run;
  r = server_run(srv);
  free(srv);
  return r;
}

int main(int argc, char **argv) {
  config_openapi *apis = calloc((size_t)argc, sizeof(*apis));
  char **sources = calloc((size_t)argc, sizeof(*sources));
  int i, r = 1;
  if (apis != NULL && sources != NULL)
    r = run(argc, argv, apis, sources);
  for (i = 0; sources != NULL && i < argc; i++)
    free(sources[i]);
  free(sources);
  free(apis);
  return r;
}
