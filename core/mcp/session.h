/* session.h -- MCP sessions: the table of live sessions keyed by their
 * Mcp-Session-Id, each with the state of one client conversation
 * (negotiated revision, client capabilities, log level, calls in flight).
 * Idle sessions expire. A full table, or a client address at its own cap,
 * makes room by evicting an idle session (see session_create_for()).
 * Loop thread only. */
#ifndef MCPD_SESSION_H
#define MCPD_SESSION_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "lib/list.h"
#include "lib/strmap.h"

struct mcpd_call;
struct mcp_sink;

#define SESSION_ID_LEN     32 /* 128 random bits in hex */
#define SESSION_PREFIX_MAX 15 /* config "session_id_prefix" */
/* A signed id (session_sign()): what the session needs, then its MAC, in
 * base64url: at most 60 + 16 bytes, 102 characters. */
#define SESSION_SIGNED_MAX 102
#define SESSION_ID_MAX     (SESSION_PREFIX_MAX + SESSION_SIGNED_MAX)
#define SESSION_KEY_LEN    32
#define SESSION_CLIENT_MAX 48 /* a client address as text, with its NUL */

/* The sessions of one client address (see session_create_for()). */
typedef struct session_client {
  char addr[SESSION_CLIENT_MAX]; /* the key in session_table.clients */
  unsigned count;
  list_node sessions; /* session.by_client, least recently active first */
} session_client;

typedef struct session {
  char id[SESSION_ID_MAX + 1]; /* the table's prefix, then the random part */
  int version;                 /* negotiated enum protocol_version; -1 before initialize */
  int initialized;             /* notifications/initialized received */
  int log_level;               /* notifications/message below it are dropped */
  json_t *client_capabilities; /* owned; {} until initialize */
  json_t *client_info;         /* owned; NULL until initialize */
  uint64_t last_active;        /* loop time, ms */
  list_node lru;               /* in the table's list, least recently active first */
  list_node fresh;             /* in the table's list of sessions no request has used
                                  since the one that created them; alone once used */
  session_client *client;      /* its client address; NULL when created without one */
  list_node by_client;         /* in client->sessions */
  list_node calls;             /* calls in flight (mcpd_call.s_link) */
  list_node requests;          /* our requests to the client awaiting an answer */
  json_t *subscriptions;       /* owned: resources/subscribe URIs, as an object set */
  struct mcp_sink *out;        /* the transport's channel for messages the server
                                  starts (a GET stream, an HTTP+SSE stream, stdout);
                                  NULL when there is none */
  uint64_t next_request_id;    /* for our requests to the client */
  list_node streams;           /* the transport's SSE streams (sse_stream.s_link) */
  void *standalone;            /* the standalone (GET) stream, or NULL */
  unsigned next_stream_no;
  unsigned holds;                  /* streams and calls that keep it from expiring */
  unsigned n_calls;                /* calls in flight */
  int removing;                    /* session_remove() is under way (re-entry is a no-op) */
  int legacy;                      /* created by GET /sse: only POST /messages may use it */
  int owned;                       /* owner is set: the session belongs to that principal */
  char origin[SESSION_CLIENT_MAX]; /* detached: its request's client address ("": unknown),
                                      for the per-client caps of what outlives it (tasks) */
  json_t *task_watch;              /* owned object set, or NULL: the tasks a listen stream
                                      reports (notifications/tasks) */
  uint8_t owner[32];               /* the key of the principal that created it (auth on) */
} session;

typedef struct session_table session_table;

/* Called when a session is removed (DELETE, expiry, shutdown), before it
 * is freed, so the owners of streams and calls can let go of it. */
typedef void (*session_remove_cb)(session_table *t, session *s, const char *why, void *arg);

struct session_table {
  strmap map;
  list_node lru;   /* sessions, least recently active first */
  list_node fresh; /* sessions never used since they were created, oldest first */
  unsigned count, max;
  unsigned max_per_client; /* sessions of one client address (session_create_for()) */
  strmap clients;          /* address -> session_client */
  uint64_t idle_ms;        /* 0: sessions never expire */
  uv_loop_t *loop;
  uv_timer_t sweep;
  session_remove_cb on_remove;
  void *arg;
  char prefix[SESSION_PREFIX_MAX + 1]; /* put before new ids (scale-out routing) */
  uint64_t created_total, expired_total, evicted_total, restored_total;
  /* Signs session ids (session_sign()) so that another instance, or this
   * one after a restart, can take a session up again (session_restore()). */
  unsigned char sign_key[SESSION_KEY_LEN];
  int signing;
  /* Signed ids deleted here: never taken up again by this instance (the
   * newest SESSION_TOMBSTONES; the others expire with their ids). */
  strmap tombstones;
  list_node tombstone_order;
  unsigned n_tombstones;
  uint64_t refused_log_ms; /* see session_refusal_log_due() */
  unsigned refused_quiet;
};

/* Initialises an empty table (max_per_client starts at max: no cap of
 * its own until the owner sets the field). Returns 0. */
int session_table_init(session_table *t, uv_loop_t *loop, unsigned max, uint64_t idle_ms,
                       session_remove_cb on_remove, void *arg);

/* Changes the idle limit (0: sessions never expire), starting or stopping
 * the sweep to match: a reload calls this. */
void session_table_set_idle(session_table *t, uint64_t idle_ms);

/* Creates a session with a fresh random id for the client at address
 * client (borrowed, copied; at most SESSION_CLIENT_MAX - 1 bytes are kept;
 * NULL: no address, no per-client cap). Returns 0 and sets *out (owned by
 * the table); -EDQUOT when that address already holds max_per_client
 * sessions and each has an open stream or a call in flight; -EAGAIN when
 * the table is full and every session is busy that way; -ENOMEM; or the
 * error of getrandom(2).
 *
 * Making room, so that one client cannot push the others out: a client at
 * its cap loses its own least valuable idle session. A full table evicts,
 * in this order, the first idle session found among: the client's own
 * sessions that were never used after the request that created them, then
 * anybody's such sessions (oldest first), then the client's own least
 * recently active one, then anybody's. A session that was used is thus kept
 * over a newer one that never was. */
int session_create_for(session_table *t, const char *client, session **out);

/* session_create_for(t, NULL, out): a session with no client address
 * (stdio, tests). */
int session_create(session_table *t, session **out);

/* Whether a refused session should be logged now: at most one line a
 * second, so that a flood against a full table cannot flood the log too.
 * *quiet gets how many refusals went unlogged before this one. */
int session_refusal_log_due(session_table *t, unsigned *quiet);

/* Looks a session up by id and marks it active (and used: see
 * session_create_for()). NULL when unknown. */
session *session_find(session_table *t, const char *id, size_t len);

/* session_find(), for a caller: owner (borrowed, 32 bytes; NULL: no
 * check) must be the key of the principal that created the session. A
 * session of anyone else, or of nobody, is NULL, and is not touched. */
session *session_find_owned(session_table *t, const char *id, size_t len, const uint8_t *owner);

/* A session of one request, in no table (the 2026-07-28 era has no
 * sessions, but a call needs one to belong to while it runs): version,
 * and the client's capabilities (a reference is kept: never changed
 * afterwards; NULL: {}), no resource subscriptions (NULL until a listen
 * sets them). NULL
 * without memory. Free with session_free_detached() once the transport
 * is done with it and dispatch_session_closed() has run. */
session *session_new_detached(int version, const json_t *capabilities);

/* Frees a session from session_new_detached(). */
void session_free_detached(session *s);

/* Gives s (just initialized) a self-validating id: its random part, its
 * negotiated version, the client capabilities that matter (sampling,
 * elicitation with its modes, roots), its owner and an expiry, signed with
 * t->sign_key; the table re-keys it. Returns 0, or a negative error (s
 * keeps its id). */
int session_sign(session_table *t, session *s, int64_t expires_s);

/* Takes up a session this table does not hold from its signed id (id, len
 * bytes): made by an instance with the same key, unexpired at now_s, and
 * owned by owner (32 bytes; NULL when auth is off: then only an unowned
 * id). Creates it like session_create_for() (client counts the same), with
 * the id's version, capabilities and owner, initialized. NULL when the id
 * is not such an id, or no room (nothing is evicted for it that a new
 * session would not evict). */
session *session_restore(session_table *t, const char *id, size_t len, const uint8_t *owner,
                         const char *client, int64_t now_s);

#define SESSION_TOMBSTONES 10000

/* Remembers that the signed id of s was deleted (DELETE): this table never
 * takes it up again. */
void session_bury(session_table *t, const session *s);

/* Removes and frees a session (on_remove runs first). */
void session_remove(session_table *t, session *s, const char *why);

/* Marks a session active now. */
void session_touch(session_table *t, session *s);

/* Removes every session and closes the sweep timer. */
void session_table_close(session_table *t);

#endif
