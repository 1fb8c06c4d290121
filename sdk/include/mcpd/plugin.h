/*
 * mcpd/plugin.h -- the plugin ABI of mcpd, version 1.
 *
 * This is the only header a plugin includes. A plugin is a shared object that
 * exports exactly one symbol, mcpd_plugin_v1(), returning a constant
 * descriptor. mcpd loads it with dlopen(RTLD_NOW | RTLD_LOCAL), checks the
 * descriptor, and calls its init() with a table of host functions through
 * which the plugin registers tools, resources and resource templates.
 *
 * HOW THIS ABI GROWS (the rules that keep old plugins working):
 *   - MCPD_ABI_MAJOR changes when anything is removed, reordered or changes
 *     meaning. A host loads a plugin only if the majors are equal.
 *   - MCPD_ABI_MINOR changes when something is appended. A host loads a
 *     plugin whose minor is lower than or equal to its own.
 *   - Structs only grow at the end. Every struct a plugin passes in starts
 *     with struct_size (the plugin's sizeof); the host copies min(sizes) into
 *     a zeroed struct, so a field the plugin does not know reads as 0/NULL.
 *     A plugin struct larger than the host knows is accepted only if the
 *     unknown tail is all zero bytes.
 *   - The host table (mcpd_host) also only grows at the end; test for a
 *     function added after 1.0 with MCPD_HOST_HAS(host, member).
 *   - Unknown bits in any flags field are rejected with -EINVAL.
 *
 * CONVENTIONS used in the comments below:
 *   borrowed  the callee may read it during the call only; the caller keeps it.
 *   copied    the callee copies what it keeps; the caller may free it after.
 *   stolen    the callee takes over the caller's reference (jansson's term).
 *   new ref   the callee returns a reference the caller must json_decref().
 *   LOOP      call only on the loop thread: from init(), a handler, a cancel
 *             callback or an after_work callback.
 *   ANY       thread-safe: call from any thread.
 *   Errors are negative errno values (-EINVAL, -ENOMEM, ...); host->strerror()
 *   turns one into text. MCPD_PENDING is the only positive return value.
 *
 * ABI HISTORY:
 *   1.0  first version.
 *   1.1  prompts (mcpd_prompt, register_prompt); completion providers for
 *        prompt and resource-template arguments (mcpd_prompt.complete,
 *        mcpd_resource_template.complete, appended); resource update
 *        notifications (notify_resource_updated); requests to the client
 *        from inside a handler (request: sampling, elicitation, roots);
 *        call_client_capabilities.
 *   1.2  an asynchronous HTTP client on the host's loop (http_request,
 *        http_cancel, mcpd_http_request, mcpd_http_response); timers
 *        (timer_start, timer_stop); changing a plugin's registrations after
 *        init() (update_begin, update_commit, update_abort: clients get
 *        list_changed); the MCP client's HTTP request headers of a call
 *        (call_header); a reload() callback in the descriptor for plugins
 *        that stay loaded across a SIGHUP.
 *   1.3  https:// in http_request, with a CA file, a client certificate, a
 *        proxy, MCPD_HTTP_INSECURE_SKIP_VERIFY and a sentence saying what
 *        went wrong (mcpd_http_request: ca_file, client_cert_file,
 *        client_key_file, proxy, error, error_size, appended). The MCP
 *        client who made a call, when mcpd authenticates its clients
 *        (mcpd_principal, call_principal, auth_enabled); scopes a tool,
 *        resource or template needs (required_scopes, appended to
 *        mcpd_tool, mcpd_resource and mcpd_resource_template). The
 *        2026-07-28 era: request_named (named questions for input_required
 *        results); task_support, appended to mcpd_tool (calls that run as
 *        tasks); cache_ttl_ms, appended to mcpd_resource and
 *        mcpd_resource_template (cache hints of reads). read_resource (a
 *        plugin reads a resource of this server as its call's caller).
 */
#ifndef MCPD_PLUGIN_H
#define MCPD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#if !defined(JANSSON_THREAD_SAFE_REFCOUNT)
#error "mcpd plugins need jansson >= 2.11 with atomic reference counts"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define MCPD_ABI_MAJOR 1
#define MCPD_ABI_MINOR 3

#define MCPD__STR2(x) #x
#define MCPD__STR(x)  MCPD__STR2(x)

/* Build-configuration fingerprint: the host refuses a plugin whose signature
 * differs (pointer size, jansson major version, jansson integer width). */
#define MCPD_ABI_SIGNATURE                                                                         \
  "mcpd" MCPD__STR(MCPD_ABI_MAJOR) ":ptr" MCPD__STR(__SIZEOF_POINTER__) ":jansson" MCPD__STR(      \
      JANSSON_MAJOR_VERSION) ":jint" MCPD__STR(JSON_INTEGER_IS_LONG_LONG)

#if defined(__GNUC__)
#define MCPD_EXPORT        __attribute__((visibility("default")))
#define MCPD__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MCPD_EXPORT
#define MCPD__PRINTF(f, a)
#endif

/* Return values of handlers and host functions. */
#define MCPD_OK      0 /* done; for a handler: *result is set */
#define MCPD_PENDING 1 /* handler only: the call completes later, see complete() */

/* Log levels, the eight of RFC 5424 as MCP names them, lowest first. They are
 * used both for the daemon's log (host->log) and for notifications/message
 * sent to the client (host->notify_log). */
enum mcpd_log_level {
  MCPD_LOG_DEBUG = 0,
  MCPD_LOG_INFO = 1,
  MCPD_LOG_NOTICE = 2,
  MCPD_LOG_WARNING = 3,
  MCPD_LOG_ERROR = 4,
  MCPD_LOG_CRITICAL = 5,
  MCPD_LOG_ALERT = 6,
  MCPD_LOG_EMERGENCY = 7
};

/* One loaded instance of a plugin. Opaque; valid from init() until
 * shutdown() returns. */
typedef struct mcpd_ctx mcpd_ctx;

/* One request in flight (a tools/call or a resources/read). Opaque; valid
 * from the moment the handler is called until the plugin completes it
 * (handler returns MCPD_OK or a negative error, or complete()/fail() is
 * called). After that the plugin must not touch it again. */
typedef struct mcpd_call mcpd_call;

/* A tool handler. LOOP; must not block (use queue_work() for blocking work).
 *   call       the call in flight; keep it to complete later.
 *   args       borrowed, read-only: the "arguments" object, already checked
 *              against the tool's input schema (an empty object when the
 *              client sent none). Valid until the call completes;
 *              json_incref() it to use it on another thread.
 *   tool_data  the pointer given at registration, untouched by the host.
 *   result     on MCPD_OK, set *result to a new ref to a CallToolResult
 *              object ({"content":[...], "isError":false, ...}); the host
 *              steals it. The mcpd_result_*() helpers below build one.
 * Returns MCPD_OK (done), MCPD_PENDING (complete()/fail() follows, exactly
 * once, from any thread), or a negative error which becomes a JSON-RPC error
 * (-EINVAL: -32602 Invalid params; anything else: -32603 Internal error).
 * A failure the model can act on (bad input, backend down) should be a result
 * with "isError": true, not a negative return. */
typedef int (*mcpd_tool_fn)(mcpd_call *call, const json_t *args, void *tool_data, json_t **result);

/* A resource handler, for a resource or a resource template. LOOP; must not
 * block. Same completion rules as a tool handler.
 *   uri     borrowed: the URI the client asked for, valid until completion.
 *   vars    borrowed: for a template, an object of the variables matched in
 *           the URI (percent-decoded UTF-8 strings, exactly as described at
 *           mcpd_resource_template); for a plain resource, {}.
 *   data    the pointer given at registration.
 *   result  on MCPD_OK, a new ref to a ReadResourceResult object
 *           ({"contents":[{"uri":..., "mimeType":..., "text"|"blob":...}]});
 *           see mcpd_contents_text() and mcpd_contents_blob().
 * Return -ENOENT when the URI matches the template but names nothing that
 * exists: the client gets the MCP "Resource not found" error. */
typedef int (*mcpd_resource_fn)(mcpd_call *call, const char *uri, const json_t *vars, void *data,
                                json_t **result);

/* Called once, LOOP, when a call is cancelled (notifications/cancelled from
 * the client, the client went away, or the host's call deadline passed) and
 * the plugin has not completed it yet. The plugin must still complete the
 * call (its result is then dropped). */
typedef void (*mcpd_cancel_fn)(mcpd_call *call, void *arg);

/* queue_work() callbacks. work runs on a worker thread of the host's pool
 * and may block; after_work runs afterwards on the loop thread (LOOP) with
 * status 0, or -ECANCELED if the host cancelled the work before it started
 * (at shutdown). */
typedef void (*mcpd_work_fn)(void *arg);
typedef void (*mcpd_after_work_fn)(void *arg, int status);

/* A completion provider (1.1): suggests values for one argument of a
 * prompt or a resource template, for completion/complete. LOOP; same
 * completion rules as a tool handler.
 *   argument  borrowed: the argument's name.
 *   value     borrowed: what the user typed so far (may be "").
 *   context   borrowed: an object of the arguments already resolved
 *             (name -> string); {} when the client sent none.
 *   data      the pointer given at registration (complete_data).
 *   result    on MCPD_OK, a new ref to the completion object
 *             {"values": ["..."], "total": n, "hasMore": bool} (at most 100
 *             values; total and hasMore optional). */
typedef int (*mcpd_complete_fn)(mcpd_call *call, const char *argument, const char *value,
                                const json_t *context, void *data, json_t **result);

/* The client's answer to a request made with host->request() (1.1). LOOP.
 *   status  0: result is the client's result object (borrowed, valid
 *           during the callback); -EPROTO: the client answered with a
 *           JSON-RPC error, result is that error object; -ETIMEDOUT: no
 *           answer in time; -ECANCELED: the call was cancelled or its
 *           session ended first (result is NULL for these two).
 *   arg     the pointer given to request(). */
typedef void (*mcpd_response_fn)(mcpd_call *call, int status, const json_t *result, void *arg);

/* An HTTP request in flight, from http_request() (1.2). Opaque. */
typedef struct mcpd_http mcpd_http;

/* An HTTP request to make with http_request() (1.2). Zero-initialise, then
 * fill. Everything is copied by http_request(), except the error buffer. */
typedef struct mcpd_http_request {
  uint32_t struct_size;       /* sizeof(mcpd_http_request) */
  uint32_t flags;             /* 0, or MCPD_HTTP_INSECURE_SKIP_VERIFY (1.3) */
  const char *method;         /* required: "GET", "POST", ... */
  const char *url;            /* required: "http://host[:port]/path?query" or, since 1.3,
                                 "https://..." (percent-encoded already: a space, control
                                 or non-ASCII byte is -EINVAL); a 1.2 host refuses https://
                                 (-EPROTONOSUPPORT) */
  const char *const *headers; /* "Name: value" lines (no CR/LF), n_headers of them; Host,
                                 Content-Length, Connection and Transfer-Encoding are the
                                 host's and are skipped */
  size_t n_headers;
  const void *body; /* may be NULL */
  size_t body_len;
  unsigned timeout_ms;         /* the whole exchange; 0: 30 s */
  unsigned connect_timeout_ms; /* 0: 5 s (the TCP connect; the TLS handshake counts
                                  against timeout_ms) */
  size_t max_response_bytes;   /* the response body; 0: 10 MiB; more is -E2BIG */
  const char *label;           /* for the host's metrics and logs, e.g. the backend's
                                  name; NULL: "host:port" */
  /* ---- 1.3 ---- */
  const char *ca_file;          /* PEM file of the CA certificates the server's must chain
                                   to, instead of the system's store; NULL: the system's
                                   (or the file in SSL_CERT_FILE / CURL_CA_BUNDLE) */
  const char *client_cert_file; /* PEM client certificate for servers that ask for one
                                   (mutual TLS); NULL: none */
  const char *client_key_file;  /* its PEM private key; NULL: in client_cert_file */
  const char *proxy;            /* "http://host:port" of an HTTP proxy (CONNECT for
                                   https://); NULL: the environment's HTTPS_PROXY,
                                   http_proxy (lower case only) and NO_PROXY; "": none */
  char *error;                  /* NULL, or error_size bytes, owned by the plugin and valid
                                   until the callback has run: on failure the host writes
                                   a sentence there (NUL-terminated) saying what went
                                   wrong ("the server's certificate has expired") */
  size_t error_size;
} mcpd_http_request;

/* mcpd_http_request.flags (1.3): accept any server certificate, whoever
 * signed it and whatever host it names. For development only: mcpd logs a
 * warning the first time each plugin version uses it. */
#define MCPD_HTTP_INSECURE_SKIP_VERIFY 0x1u

/* A response, as the callback sees it (1.2). Borrowed: valid during the
 * callback only. */
typedef struct mcpd_http_response {
  int status;                 /* 200, 404, ... (never 1xx) */
  const char *const *headers; /* "name: value" lines, names in lower case */
  size_t n_headers;
  const char *body; /* body_len bytes, then a NUL the server did not send */
  size_t body_len;
} mcpd_http_response;

/* The end of an http_request() (1.2). LOOP. err 0: resp is the response
 * (any status); else resp is NULL and err one of -ETIMEDOUT, -ECONNREFUSED,
 * -ECONNRESET (closed before a whole response), -EHOSTUNREACH (the name
 * did not resolve), -EPROTO (not HTTP, or not TLS on an https:// URL), -E2BIG
 * (over max_response_bytes), -EAGAIN (too many requests waiting for a
 * connection), -ECANCELED (http_cancel()), -ESHUTDOWN (mcpd is stopping);
 * since 1.3 also -EKEYREJECTED (the server's certificate was not accepted:
 * unknown CA, self-signed, expired, another host name), -ECONNABORTED (the
 * server refused the TLS handshake, e.g. it wants a client certificate or
 * does not accept this one) and -EINVAL (the CA, certificate or key file
 * cannot be used). The request's error buffer (1.3) then says which, in
 * words. */
typedef void (*mcpd_http_fn)(void *arg, int err, const mcpd_http_response *resp);

/* The value of header name (lower case) in resp, or NULL (1.2). */
static inline const char *mcpd_http_header(const mcpd_http_response *resp, const char *name) {
  size_t i, n = strlen(name);
  for (i = 0; i < resp->n_headers; i++) {
    const char *h = resp->headers[i];
    if (strncmp(h, name, n) == 0 && h[n] == ':')
      return h[n + 1] == ' ' ? h + n + 2 : h + n + 1;
  }
  return NULL;
}

/* A timer from timer_start() (1.2). Opaque. */
typedef struct mcpd_timer mcpd_timer;

/* A timer fired (1.2). LOOP. The timer is gone when this is called. */
typedef void (*mcpd_timer_fn)(void *arg);

/* A tool, passed to register_tool(). Zero-initialise, then fill. */
typedef struct mcpd_tool {
  uint32_t struct_size;        /* sizeof(mcpd_tool) */
  uint32_t flags;              /* reserved: must be 0 */
  const char *name;            /* copied; required; [A-Za-z0-9_.-], 1..128 chars, unique */
  const char *title;           /* copied; optional display name */
  const char *description;     /* copied; optional but strongly advised: the model reads it */
  const json_t *input_schema;  /* borrowed, deep-copied; JSON Schema with "type":"object";
                                  NULL means {"type":"object"}. A property with
                                  "x-mcp-header": "Name" must come, from a 2026-07-28
                                  client, with a matching Mcp-Param-Name header (mcpd
                                  checks it before the handler runs) */
  const json_t *output_schema; /* borrowed, deep-copied; optional; "type":"object" */
  const json_t *annotations;   /* borrowed, deep-copied; optional ToolAnnotations object
                                  (readOnlyHint, destructiveHint, ...) */
  mcpd_tool_fn handler;        /* required */
  void *tool_data;             /* passed to handler; owned by the plugin */
  /* ---- 1.3 ---- */
  /* Scopes a caller needs, when mcpd authenticates its clients: a NULL-
   * terminated list of alternatives, each a space-separated set of scopes
   * that must all be held ({"repo:read", "admin", NULL}: either;
   * {"a b", NULL}: both). Copied. NULL: the plugin asks for none (the
   * config's auth.scopes rules and default still apply; they also take
   * precedence). Set it only when MCPD_HOST_HAS(host, call_principal): an
   * older host refuses a struct with fields it does not know. */
  const char *const *required_scopes;
  /* Whether a call may run as a task (the tasks extension of 2026-07-28,
   * io.modelcontextprotocol/tasks): MCPD_TASK_FORBIDDEN (0, the default),
   * MCPD_TASK_OPTIONAL or MCPD_TASK_REQUIRED. A call becomes a task when
   * the tool allows it, the client's request declares the extension, and
   * the handler returned MCPD_PENDING with no question to the client left
   * open: the client then gets a task id at once and polls for the result.
   * Questions asked before the handler returns are settled first with
   * input_required results (see request_named); questions asked once the
   * call is a task wait in the task until the client answers them
   * (tasks/update): the handler's callback gets the answer, its run goes
   * on. progress() messages become the task's statusMessage; a cancelled
   * task cancels the call (cancel callback). REQUIRED: a modern client
   * that does not declare the extension gets -32021 and the handler does
   * not run; legacy clients (no tasks) get the call run as usual. Set it
   * only when MCPD_HOST_HAS(host, call_principal). */
  uint32_t task_support;
} mcpd_tool;

/* mcpd_tool.task_support (1.3). */
#define MCPD_TASK_FORBIDDEN 0
#define MCPD_TASK_OPTIONAL  1
#define MCPD_TASK_REQUIRED  2

/* A resource with a fixed URI, passed to register_resource(). */
typedef struct mcpd_resource {
  uint32_t struct_size;      /* sizeof(mcpd_resource) */
  uint32_t flags;            /* reserved: must be 0 */
  const char *uri;           /* copied; required; unique among resources */
  const char *name;          /* copied; required */
  const char *title;         /* copied; optional */
  const char *description;   /* copied; optional */
  const char *mime_type;     /* copied; optional */
  const json_t *annotations; /* borrowed, deep-copied; optional Annotations object */
  mcpd_resource_fn handler;  /* required; vars is {} */
  void *data;                /* passed to handler; owned by the plugin */
  /* ---- 1.3 ---- */
  const char *const *required_scopes; /* as in mcpd_tool */
  /* How long, in milliseconds, a 2026-07-28 client may reuse what a read
   * returned before reading again (the result's ttlMs; cacheScope is
   * "private" while mcpd authenticates its clients). 0: not at all. A
   * result that sets "ttlMs" itself overrides it. */
  uint32_t cache_ttl_ms;
} mcpd_resource;

/* A family of resources described by an RFC 6570 URI template, passed to
 * register_resource_template(). The host matches a requested URI against the
 * template and passes the variables to the handler, each percent-decoded
 * (%XX; never '+' as a space) into a UTF-8 string without NUL; a URI whose
 * values do not decode so matches nothing. What each expression can hold:
 *   {var}, {.var}, {/var}  a simple string: never a '/' (raw or %2F), never
 *       exactly "." or "..", never '?' or '#' (and {.var} no raw '.'). A URI
 *       that would give anything else matches nothing (the client gets
 *       "Resource not found"), so such a value is safe as one file name.
 *   {+var}, {#var}  any characters, '/' and ".." included (a path).
 *   {/var*}  one or more '/'-separated segments, joined by '/' ("/a/b" gives
 *       "a/b"); '/' and ".." included.
 *   {?a,b}, {&a,b}  query parameters, each optional (absent from vars when
 *       not in the URI); any text, '/' and ".." included.
 * A plugin that uses a value of the last three kinds as a path checks it. */
typedef struct mcpd_resource_template {
  uint32_t struct_size;      /* sizeof(mcpd_resource_template) */
  uint32_t flags;            /* reserved: must be 0 */
  const char *uri_template;  /* copied; required, e.g. "db://tables/{table}" */
  const char *name;          /* copied; required */
  const char *title;         /* copied; optional */
  const char *description;   /* copied; optional */
  const char *mime_type;     /* copied; optional */
  const json_t *annotations; /* borrowed, deep-copied; optional */
  mcpd_resource_fn handler;  /* required */
  void *data;                /* passed to handler; owned by the plugin */
  /* ---- 1.1 ---- */
  mcpd_complete_fn complete; /* optional: completes the template's variables */
  void *complete_data;       /* passed to complete */
  /* ---- 1.3 ---- */
  const char *const *required_scopes; /* as in mcpd_tool */
  uint32_t cache_ttl_ms;              /* as in mcpd_resource */
} mcpd_resource_template;

/* A prompt (1.1), passed to register_prompt(): a message template the user
 * picks in the client, filled with arguments by the handler.
 * The handler (an mcpd_tool_fn) gets the arguments as an object of strings,
 * already checked: every required argument present, every value a string,
 * no unknown name. On MCPD_OK it sets a GetPromptResult
 * ({"description": "...", "messages": [{"role": "user", "content":
 * {"type": "text", "text": "..."}}]}). */
typedef struct mcpd_prompt {
  uint32_t struct_size;      /* sizeof(mcpd_prompt) */
  uint32_t flags;            /* reserved: must be 0 */
  const char *name;          /* copied; required; unique among prompts */
  const char *title;         /* copied; optional */
  const char *description;   /* copied; optional */
  const json_t *arguments;   /* borrowed, deep-copied; optional array of
                                {"name", "title"?, "description"?, "required"?} */
  mcpd_tool_fn handler;      /* required */
  void *data;                /* passed to handler */
  mcpd_complete_fn complete; /* optional: completes the arguments */
  void *complete_data;       /* passed to complete */
} mcpd_prompt;

/* The authenticated MCP client a call came from (1.3), from
 * host->call_principal(). Owned by the host, read-only. */
typedef struct mcpd_principal {
  uint32_t struct_size;      /* the host's sizeof: see MCPD_PRINCIPAL_HAS */
  uint32_t flags;            /* 0 */
  const char *kind;          /* "token" (a static token of auth.tokens), "jwt",
                                "introspection", or "mtls" (a verified client
                                certificate while auth is off) */
  const char *subject;       /* never NULL: the token's "sub" (else its client id),
                                a static token's name, or the certificate's subject */
  const char *client_id;     /* "client_id", else "azp"; NULL when unknown */
  const char *issuer;        /* "iss"; NULL for static tokens and mtls */
  const char *const *scopes; /* n_scopes scopes, sorted, then NULL */
  size_t n_scopes;
  const json_t *claims; /* borrowed, read-only object: the verified JWT claims, the
                           introspection answer, or {"sub", "scope"} for a static token
                           or a certificate; json_incref() it to keep it longer */
  int64_t expires_at;   /* Unix time the credential expires; 0: never */
} mcpd_principal;

/* True if principal p has field f (a host newer than the plugin may have more). */
#define MCPD_PRINCIPAL_HAS(p, f) (offsetof(mcpd_principal, f) + sizeof((p)->f) <= (p)->struct_size)

/* The host's services. The host owns this table; it lives as long as the
 * mcpd_ctx it was given with. Plugins never write to it. */
typedef struct mcpd_host {
  uint32_t struct_size; /* sizeof(mcpd_host) in the host's build */
  uint16_t abi_major;   /* MCPD_ABI_MAJOR of the host */
  uint16_t abi_minor;   /* MCPD_ABI_MINOR of the host */

  /* ---- 1.0 ---- */

  /* Registers a tool. LOOP, during init() only. tool is borrowed; everything
   * it points to is copied. Returns 0, -EINVAL (bad field, with a log line
   * saying which), -EEXIST (a tool of that name exists, in this plugin or in
   * another one), -EPERM (called outside init()). */
  int (*register_tool)(mcpd_ctx *ctx, const mcpd_tool *tool);

  /* Registers a resource. Same rules as register_tool(); -EEXIST when the
   * URI is taken. */
  int (*register_resource)(mcpd_ctx *ctx, const mcpd_resource *resource);

  /* Registers a resource template. Same rules; -EINVAL for a template the
   * host cannot parse; -EEXIST when the template string is taken. */
  int (*register_resource_template)(mcpd_ctx *ctx, const mcpd_resource_template *tmpl);

  /* Writes a line to the daemon's log, tagged with the plugin's name. ANY.
   * level is an mcpd_log_level; fmt and its arguments are borrowed. */
  void (*log)(mcpd_ctx *ctx, int level, const char *fmt, ...) MCPD__PRINTF(3, 4);

  /* Completes a call that its handler left MCPD_PENDING. ANY, exactly once
   * per call (complete() or fail(), not both). result is stolen: a
   * CallToolResult for a tool, a ReadResourceResult for a resource. Returns 0,
   * -EINVAL (call or result is NULL), -EALREADY (already completed; result
   * is released). After it returns the plugin must not use call again. */
  int (*complete)(mcpd_call *call, json_t *result);

  /* Completes a pending call with a JSON-RPC error. ANY, exactly once.
   * err: -EINVAL gives -32602 Invalid params, -ENOENT on a resource gives
   * "Resource not found", anything else -32603 Internal error. message is
   * copied; NULL means strerror(err). */
  int (*fail)(mcpd_call *call, int err, const char *message);

  /* Sends notifications/progress for the call to the client. ANY, before the
   * call completes. progress must increase from one report to the next
   * (a report that does not is dropped); total <= 0 means unknown; message
   * is copied, may be NULL. Returns 0 also when the client did not ask for
   * progress (no progressToken): the report is then dropped silently. The
   * first report switches the HTTP response to an SSE stream. */
  int (*progress)(mcpd_call *call, double progress, double total, const char *message);

  /* Sends notifications/message (a log message for the client) about the
   * call, on its response stream. ANY, before the call completes. level is
   * an mcpd_log_level; messages below the session's logging/setLevel are
   * dropped. logger is copied, may be NULL. data is stolen (any JSON value,
   * typically a string); NULL is -EINVAL. */
  int (*notify_log)(mcpd_call *call, int level, const char *logger, json_t *data);

  /* Returns 1 if the call was cancelled, else 0. ANY. */
  int (*is_cancelled)(const mcpd_call *call);

  /* Sets the function called (LOOP, at most once) when the call is
   * cancelled. LOOP. Replaces an earlier one; cb NULL removes it. If the call
   * is already cancelled, cb runs before on_cancel() returns. Returns 0. */
  int (*on_cancel)(mcpd_call *call, mcpd_cancel_fn cb, void *arg);

  /* Runs work(arg) on a worker thread, then after_work(arg, status) on the
   * loop thread. LOOP, but not from init() (-EPERM there). The plugin stays
   * loaded until after_work has run. Returns 0, or a negative error (then
   * neither callback runs; -ESHUTDOWN while mcpd stops). The pool is shared
   * fairly: work queued from a call's handler, or from the after_work of
   * such work, is that call's session's, and one session's work holds at
   * most limits.max_workers_per_session workers at once; more of it waits,
   * in the order queued, for the session's own work to finish. Work queued
   * from elsewhere (a timer, an HTTP callback) goes to the pool at once. */
  int (*queue_work)(mcpd_ctx *ctx, mcpd_work_fn work, mcpd_after_work_fn after_work, void *arg);

  /* Returns a static description of a negative error code. ANY. */
  const char *(*strerror)(int err);

  /* Returns the ctx a call belongs to (for queue_work from a handler). ANY. */
  mcpd_ctx *(*call_ctx)(const mcpd_call *call);

  /* ---- 1.1 ---- */

  /* Registers a prompt. LOOP, during init() only; like register_tool().
   * -EEXIST when the name is taken. */
  int (*register_prompt)(mcpd_ctx *ctx, const mcpd_prompt *prompt);

  /* Tells every session subscribed to uri (resources/subscribe) that the
   * resource changed: notifications/resources/updated {uri}. ANY. uri is
   * copied. Returns 0 (also when nobody is subscribed). */
  int (*notify_resource_updated)(mcpd_ctx *ctx, const char *uri);

  /* Sends a request to the client from inside a call (before it completes),
   * and calls cb with the client's answer later. LOOP. method is one of
   * "sampling/createMessage", "elicitation/create", "roots/list" (or
   * "ping"); params is stolen (may be NULL). timeout_ms 0 means the host's
   * default (timeouts.client_request_ms). cb runs exactly once, unless this
   * returns an error. Returns 0; -ENOTSUP when the client did not declare
   * the capability the method needs (sampling, elicitation, roots) or its
   * transport cannot carry requests (a plain JSON response); -EINVAL for
   * another method; -EALREADY when the call has completed; -ECANCELED when
   * it was cancelled or its session is gone. The call stays valid until cb
   * has run. */
  int (*request)(mcpd_call *call, const char *method, json_t *params, unsigned timeout_ms,
                 mcpd_response_fn cb, void *arg);

  /* Returns the capabilities the client declared in initialize (borrowed,
   * read-only, valid until the call completes; {} when unknown). LOOP. */
  const json_t *(*call_client_capabilities)(const mcpd_call *call);

  /* ---- 1.2 ---- */

  /* Sends an HTTP request without blocking, on the host's loop, over a
   * pool of keep-alive connections per origin (HTTP/1.1, or HTTP/2 where an
   * https:// server offers it; https:// since 1.3); cb(arg, ...) runs once,
   * LOOP, later (never from inside this function). LOOP, also in init().
   * req is copied. Sets *handle (may be NULL) for http_cancel(), valid until
   * cb starts. The plugin stays loaded until cb has run; if init() fails,
   * the requests it started are dropped without their callbacks. Returns
   * 0; -EINVAL (bad URL or header; logged), -EPROTONOSUPPORT (a scheme other
   * than http:// and https://; https:// too on a 1.2 host),
   * -ESHUTDOWN, -ENOMEM, -ESTALE (this version was replaced or removed by
   * a reload and its drain deadline passed: its timers were stopped and
   * its requests cancelled): then cb never runs. */
  int (*http_request)(mcpd_ctx *ctx, const mcpd_http_request *req, mcpd_http_fn cb, void *arg,
                      mcpd_http **handle);

  /* Aborts a request whose callback has not run yet: it runs later with
   * -ECANCELED. LOOP. Use it from a call's cancel callback. */
  void (*http_cancel)(mcpd_http *handle);

  /* Calls cb(arg) once, LOOP, after ms milliseconds. LOOP, also in init().
   * Sets *timer (may be NULL) for timer_stop(), valid until cb starts. The
   * plugin stays loaded until the timer fired or was stopped, or until the
   * drain deadline of a version a reload took out of service. Returns 0,
   * -ENOMEM, -ESHUTDOWN or -ESTALE (as for http_request). */
  int (*timer_start)(mcpd_ctx *ctx, unsigned ms, mcpd_timer_fn cb, void *arg, mcpd_timer **timer);

  /* Stops a timer that has not fired: cb never runs. LOOP. */
  void (*timer_stop)(mcpd_timer *timer);

  /* Starts replacing the plugin's tools, resources, templates and prompts
   * after init() (for a plugin whose list comes from elsewhere, e.g. a
   * document fetched later). LOOP, not in init(). The register_*() functions
   * then build a new set, which update_commit() puts in service in place of
   * the current one. Returns 0, -EBUSY (an update is already open), -EPERM
   * (in init()), -ESTALE (this version is out of service). */
  int (*update_begin)(mcpd_ctx *ctx);

  /* Replaces the plugin's registrations with the set built since
   * update_begin(), all at once, and tells every session that can hear it
   * which lists changed (notifications/tools/list_changed, ...). LOOP.
   * Calls already running on the old set finish normally: keep the old
   * handlers' data alive until they complete. Returns 0; -EEXIST (a name
   * of the new set belongs to another plugin: nothing changes, the log
   * says which); -EINVAL (no update open); -ESTALE (this version of the
   * plugin is out of service: a reload replaced or removed it); -ENOMEM.
   * The update is closed either way. */
  int (*update_commit)(mcpd_ctx *ctx);

  /* Drops the set built since update_begin(). LOOP. */
  void (*update_abort)(mcpd_ctx *ctx);

  /* The value of header name (any case) in the MCP client's HTTP request
   * that carried the call, or NULL: absent, or not over HTTP (stdio).
   * LOOP, only while the handler runs (before it returns); copy what you
   * keep. For forwarding a client's credentials: forward only what the
   * user configured. */
  const char *(*call_header)(const mcpd_call *call, const char *name);

  /* ---- 1.3 and later: appended here, never inserted above ---- */

  /* The authenticated caller of call (borrowed, read-only), or NULL: mcpd
   * does not authenticate its clients (no "auth" section) and no client
   * certificate was verified, or stdio. ANY thread, from the handler's start
   * until the call completes: the pointer and all it points to stay valid
   * that long. Authorize with it; never with call_header("authorization"),
   * which is NULL while auth is on. */
  const mcpd_principal *(*call_principal)(const mcpd_call *call);

  /* 1 when mcpd authenticates its MCP clients (an "auth" section), else 0.
   * LOOP, also in init() and reload(). A plugin that forwards its client's
   * headers must then never forward Authorization: the client's token is
   * for mcpd alone. */
  int (*auth_enabled)(const mcpd_ctx *ctx);

  /* request(), with a name for the question: in the 2026-07-28 era, where
   * mcpd cannot ask the client in the middle of a call, the call ends with
   * an input_required result whose inputRequests carry the open questions
   * under their names, and the client retries it with the answers; the
   * handler then runs again from the start, and each question it asks
   * again by the same name is answered at once (on a later loop turn, as
   * ever). So a handler must ask the same questions, by the same names, in
   * every run. key: 1 to 64 of [A-Za-z0-9_.-]; request() names them r0,
   * r1, ... in the order asked. In the legacy era the name is not used. LOOP;
   * returns as request(), and -EINVAL for a bad key. */
  int (*request_named)(mcpd_call *call, const char *key, const char *method, json_t *params,
                       unsigned timeout_ms, mcpd_response_fn cb, void *arg);

  /* Reads resource uri of this server (one a plugin registered, or a match
   * of a resource template; borrowed, copied) on behalf of call, as call's
   * caller: when mcpd authenticates its clients, the caller must hold the
   * scopes the resource needs. LOOP. The resource's handler runs on a later
   * loop turn, in a call of its own with no session (call_principal() is
   * call's caller; its progress and log messages go nowhere) and the
   * host's call timeout. cb(call, status, result, arg) runs once, LOOP, on
   * a later loop turn (never inside read_resource()): status 0 with result
   * the ReadResourceResult ({"contents":[...]}); -ENOENT (no such
   * resource, or its handler said -ENOENT); -EACCES (the caller lacks a
   * scope: result's message and data.scope name it); -EPROTO (another
   * failure of the handler, or its timeout); -ECANCELED (call was
   * cancelled first, or mcpd is stopping: result NULL); -ENOMEM (result
   * NULL). For the other errors result is the JSON-RPC error object. result
   * is borrowed during cb. call stays valid (and the plugin loaded) until
   * cb has run. Returns 0; -EINVAL (call, uri or cb NULL), -EALREADY
   * (call has completed), -ENOMEM: then cb never runs. */
  int (*read_resource)(mcpd_call *call, const char *uri, mcpd_response_fn cb, void *arg);
} mcpd_host;

/* True if the host table has function `member` (for functions added after
 * 1.0). Example: if (MCPD_HOST_HAS(host, some_new_fn)) host->some_new_fn(...) */
#define MCPD_HOST_HAS(h, member)                                                                   \
  (offsetof(mcpd_host, member) + sizeof((h)->member) <= (h)->struct_size && (h)->member != NULL)

/* The plugin descriptor, returned by the entry symbol. */
typedef struct mcpd_plugin {
  uint32_t struct_size;             /* sizeof(mcpd_plugin): use MCPD_PLUGIN_HEADER */
  uint16_t abi_major;               /* MCPD_ABI_MAJOR the plugin was built with */
  uint16_t abi_minor;               /* MCPD_ABI_MINOR the plugin was built with */
  const char *abi_signature;        /* MCPD_ABI_SIGNATURE */
  void (*jansson_delete)(json_t *); /* json_delete: proves the plugin uses the host's
                                       shared libjansson, not a private copy */
  const char *name;                 /* required: [a-z0-9_]{1,64}; the key of the plugin's
                                       object in the "plugins" section of the config */
  const char *version;              /* required: the plugin's own version, free form */
  const char *description;          /* optional: one line for logs and --check */
  uint32_t flags;                   /* reserved: must be 0 */

  /* Called once, LOOP, after loading. Register tools and resources here.
   *   host    the host table; valid until shutdown() returns; keep it.
   *   config  borrowed: the plugin's object from the config file ({} when
   *           absent); valid during init() only (json_deep_copy() to keep).
   *   state   set *state to anything; it is passed to shutdown().
   * Return 0, or a negative error: the plugin is then unloaded (shutdown() is
   * still called, so free what init() made) and its registrations dropped. */
  int (*init)(mcpd_ctx *ctx, const mcpd_host *host, const json_t *config, void **state);

  /* Called once, LOOP, when the plugin is unloaded, after every call and
   * queued work of this plugin has completed. Join every thread the plugin
   * started and free everything; no plugin code may run after it returns.
   * Optional (NULL). */
  void (*shutdown)(mcpd_ctx *ctx, void *state);

  /* ---- 1.2 ---- */

  /* Called LOOP on SIGHUP when the plugin stays loaded (its file and its
   * settings did not change), e.g. to fetch again a document its tools come
   * from. Optional (NULL). */
  void (*reload)(mcpd_ctx *ctx, void *state);
} mcpd_plugin;

/* The size each struct had when it was first published: a host accepts
 * nothing smaller. */
#define MCPD_TOOL_SIZE_V1_0              (offsetof(mcpd_tool, tool_data) + sizeof(void *))
#define MCPD_RESOURCE_SIZE_V1_0          (offsetof(mcpd_resource, data) + sizeof(void *))
#define MCPD_RESOURCE_TEMPLATE_SIZE_V1_0 (offsetof(mcpd_resource_template, data) + sizeof(void *))
#define MCPD_PROMPT_SIZE_V1_1            (offsetof(mcpd_prompt, complete_data) + sizeof(void *))
#define MCPD_HTTP_REQUEST_SIZE_V1_2      (offsetof(mcpd_http_request, label) + sizeof(void *))
#define MCPD_HTTP_REQUEST_SIZE_V1_3      (offsetof(mcpd_http_request, error_size) + sizeof(size_t))

/* The smallest descriptor size a 1.x host accepts. */
#define MCPD_PLUGIN_SIZE_V1_0 (offsetof(mcpd_plugin, shutdown) + sizeof(void (*)(void)))

/* Fills the fixed fields of a descriptor:
 *   static const mcpd_plugin desc = { MCPD_PLUGIN_HEADER, .name = "x", ... }; */
#define MCPD_PLUGIN_HEADER                                                                         \
  .struct_size = sizeof(mcpd_plugin), .abi_major = MCPD_ABI_MAJOR, .abi_minor = MCPD_ABI_MINOR,    \
  .abi_signature = MCPD_ABI_SIGNATURE, .jansson_delete = json_delete

/* The entry symbol. The ABI major is part of its name, so a host of another
 * major never mistakes the plugin for one of its own. It must return the
 * same pointer every time and have no side effects. */
#define MCPD_ENTRY_SYMBOL "mcpd_plugin_v1"
typedef const mcpd_plugin *(*mcpd_entry_fn)(void);

/* Defines the entry symbol for a descriptor: MCPD_PLUGIN_DEFINE(desc) */
#define MCPD_PLUGIN_DEFINE(desc)                                                                   \
  MCPD_EXPORT const mcpd_plugin *mcpd_plugin_v1(void);                                             \
  const mcpd_plugin *mcpd_plugin_v1(void) {                                                        \
    return &(desc);                                                                                \
  }

/* ------------------------------------------------------------------------ */
/* Result helpers. They use jansson only, and return a new ref (NULL when out
 * of memory, which the host reports as -32603). */

/* {"content":[{"type":"text","text":text}]}. text is copied (UTF-8). */
static inline json_t *mcpd_result_text(const char *text) {
  return json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", text ? text : "");
}

/* Like mcpd_result_text() with "isError": true: a failure the model sees. */
static inline json_t *mcpd_result_error(const char *text) {
  return json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", text ? text : "",
                   "isError", 1);
}

/* A structured result: "structuredContent": value (stolen; must be an object
 * for clients before protocol 2026) and a text copy of it in "content" for
 * clients that predate structured output (the host drops structuredContent
 * for sessions older than 2025-06-18). */
static inline json_t *mcpd_result_json(json_t *value) {
  char *text;
  json_t *r;
  if (value == NULL)
    return NULL;
  text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
  if (text == NULL) {
    json_decref(value);
    return NULL;
  }
  r = json_pack("{s:[{s:s,s:s}],s:o}", "content", "type", "text", "text", text, "structuredContent",
                value);
  free(text);
  return r;
}

/* Base64 (RFC 4648, with padding) of len bytes at data; a new string or NULL.
 * The caller frees it with free(). */
static inline char *mcpd_base64(const void *data, size_t len) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *p = (const unsigned char *)data;
  size_t i, o = 0;
  char *out;
  if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
    return NULL;
  out = (char *)malloc((len + 2) / 3 * 4 + 1);
  if (out == NULL)
    return NULL;
  for (i = 0; i + 2 < len; i += 3) {
    uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) | p[i + 2];
    out[o++] = tab[v >> 18];
    out[o++] = tab[(v >> 12) & 63];
    out[o++] = tab[(v >> 6) & 63];
    out[o++] = tab[v & 63];
  }
  if (i < len) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < len)
      v |= (uint32_t)p[i + 1] << 8;
    out[o++] = tab[v >> 18];
    out[o++] = tab[(v >> 12) & 63];
    out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  out[o] = '\0';
  return out;
}

/* {"content":[{"type":"image","data":<base64>,"mimeType":mime}]}. data is
 * borrowed (len bytes, encoded here); mime is copied, e.g. "image/png". */
static inline json_t *mcpd_result_image(const void *data, size_t len, const char *mime) {
  char *b64 = mcpd_base64(data, len);
  json_t *r;
  if (b64 == NULL)
    return NULL;
  r = json_pack("{s:[{s:s,s:s,s:s}]}", "content", "type", "image", "data", b64, "mimeType",
                mime ? mime : "application/octet-stream");
  free(b64);
  return r;
}

/* {"contents":[{"uri":uri,"mimeType":mime,"text":text}]}: a text resource.
 * All strings are copied; mime may be NULL. */
static inline json_t *mcpd_contents_text(const char *uri, const char *mime, const char *text) {
  json_t *item = json_pack("{s:s,s:s}", "uri", uri ? uri : "", "text", text ? text : "");
  if (item != NULL && mime != NULL)
    json_object_set_new(item, "mimeType", json_string(mime));
  return item ? json_pack("{s:[o]}", "contents", item) : NULL;
}

/* {"contents":[{"uri":uri,"mimeType":mime,"blob":<base64>}]}: a binary
 * resource. data is borrowed (len bytes); strings are copied. */
static inline json_t *mcpd_contents_blob(const char *uri, const char *mime, const void *data,
                                         size_t len) {
  char *b64 = mcpd_base64(data, len);
  json_t *item;
  if (b64 == NULL)
    return NULL;
  item = json_pack("{s:s,s:s}", "uri", uri ? uri : "", "blob", b64);
  free(b64);
  if (item != NULL && mime != NULL)
    json_object_set_new(item, "mimeType", json_string(mime));
  return item ? json_pack("{s:[o]}", "contents", item) : NULL;
}

#ifdef __cplusplus
}
#endif
#endif /* MCPD_PLUGIN_H */
