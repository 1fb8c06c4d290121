/* oauth_cc.c -- the client credentials grant for a backend's own token (see
 * oauth_cc.h). One request at a time; the waits are a doubly linked list so
 * that a cancelled call leaves it in O(1). */
#define _POSIX_C_SOURCE 200809L
#include "oauth_cc.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TOKEN_MAX        8192 /* bytes of an access token */
#define DEFAULT_LIFE_S   300  /* no expires_in */
#define EARLY_S          30   /* a token is renewed this long before it expires */
#define TOKEN_RESP_BYTES (256u << 10)

struct oauth_cc_wait {
  oauth_cc_wait *prev, *next;
  oauth_cc *cc;
  oauth_cc_fn cb;
  void *arg;
};

struct oauth_cc {
  const mcpd_host *host;
  mcpd_ctx *ctx;
  char *label;
  char *token_url;
  char *auth_line; /* "Authorization: Basic ..." (client_secret_basic), or NULL */
  char *body;      /* the form: grant_type, scope, resource (and the credentials for _post) */
  unsigned timeout_ms, connect_timeout_ms;
  oauth_cc_prepare_fn prepare;
  void *prepare_arg;
  char *token;         /* the kept token, or NULL */
  int64_t renew_at_ms; /* monotonic: fetch a new one from then on */
  mcpd_http *fetching; /* the token request in flight */
  char why[400];       /* the host's sentence about a failed request */
  oauth_cc_wait *first, *last;
  unsigned requests;
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- encodings ------------------------------------------------------------------ */

typedef struct strb {
  char *p;
  size_t len, cap;
  int oom;
} strb;

static void sput(strb *b, const char *s, size_t n) {
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->len + n + 1) * 2;
    char *np = realloc(b->p, cap);
    if (np == NULL) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sputs(strb *b, const char *s) {
  sput(b, s, strlen(s));
}

/* application/x-www-form-urlencoded (RFC 6749 appendix B): unreserved kept,
 * space as '+', the rest %XX. */
static void form_enc(strb *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    char e[3];
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
        ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      sput(b, (const char *)&ch, 1);
    } else if (ch == ' ') {
      sput(b, "+", 1);
    } else {
      e[0] = '%';
      e[1] = hex[ch >> 4];
      e[2] = hex[ch & 15];
      sput(b, e, 3);
    }
  }
}

static void base64(strb *b, const unsigned char *s, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i;
  for (i = 0; i + 2 < n; i += 3) {
    char o[4] = {tab[s[i] >> 2], tab[((s[i] & 3) << 4) | (s[i + 1] >> 4)],
                 tab[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)], tab[s[i + 2] & 63]};
    sput(b, o, 4);
  }
  if (n - i == 1) {
    char o[4] = {tab[s[i] >> 2], tab[(s[i] & 3) << 4], '=', '='};
    sput(b, o, 4);
  } else if (n - i == 2) {
    char o[4] = {tab[s[i] >> 2], tab[((s[i] & 3) << 4) | (s[i + 1] >> 4)],
                 tab[(s[i + 1] & 15) << 2], '='};
    sput(b, o, 4);
  }
}

/* ---- the source ----------------------------------------------------------------- */

oauth_cc *oauth_cc_new(const mcpd_host *host, mcpd_ctx *ctx, const oauth_cc_settings *s) {
  oauth_cc *cc = calloc(1, sizeof(*cc));
  strb body = {0}, cred = {0}, line = {0};
  if (cc == NULL)
    return NULL;
  cc->host = host;
  cc->ctx = ctx;
  cc->timeout_ms = s->timeout_ms;
  cc->connect_timeout_ms = s->connect_timeout_ms;
  cc->prepare = s->prepare;
  cc->prepare_arg = s->prepare_arg;
  cc->label = strdup(s->label);
  cc->token_url = strdup(s->token_url);
  sputs(&body, "grant_type=client_credentials");
  if (s->scope != NULL && s->scope[0] != '\0') {
    sputs(&body, "&scope=");
    form_enc(&body, s->scope);
  }
  if (s->resource != NULL) {
    sputs(&body, "&resource=");
    form_enc(&body, s->resource);
  }
  if (s->post) {
    sputs(&body, "&client_id=");
    form_enc(&body, s->client_id);
    sputs(&body, "&client_secret=");
    form_enc(&body, s->client_secret);
  } else {
    /* RFC 6749 §2.3.1: both form-encoded, then joined by ':'. */
    form_enc(&cred, s->client_id);
    sputs(&cred, ":");
    form_enc(&cred, s->client_secret);
    sputs(&line, "Authorization: Basic ");
    if (!cred.oom)
      base64(&line, (const unsigned char *)cred.p, cred.len);
    cc->auth_line = line.oom ? NULL : line.p;
    if (cred.p != NULL) {
      memset(cred.p, 0, cred.len);
      free(cred.p);
    }
  }
  cc->body = body.oom ? NULL : body.p;
  if (cc->label == NULL || cc->token_url == NULL || cc->body == NULL ||
      (!s->post && cc->auth_line == NULL)) {
    if (body.oom)
      free(body.p);
    if (line.oom)
      free(line.p);
    oauth_cc_free(cc);
    return NULL;
  }
  return cc;
}

static void forget_token(oauth_cc *cc) {
  if (cc->token != NULL) {
    memset(cc->token, 0, strlen(cc->token));
    free(cc->token);
  }
  cc->token = NULL;
  cc->renew_at_ms = 0;
}

void oauth_cc_free(oauth_cc *cc) {
  if (cc == NULL)
    return;
  while (cc->first != NULL)
    oauth_cc_cancel(cc->first);
  forget_token(cc);
  if (cc->body != NULL)
    memset(cc->body, 0, strlen(cc->body));
  if (cc->auth_line != NULL)
    memset(cc->auth_line, 0, strlen(cc->auth_line));
  free(cc->body);
  free(cc->auth_line);
  free(cc->label);
  free(cc->token_url);
  free(cc);
}

void oauth_cc_cancel(oauth_cc_wait *w) {
  oauth_cc *cc = w->cc;
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    cc->first = w->next;
  if (w->next != NULL)
    w->next->prev = w->prev;
  else
    cc->last = w->prev;
  free(w);
}

void oauth_cc_invalidate(oauth_cc *cc, const char *token) {
  if (cc->token != NULL && token != NULL && strcmp(cc->token, token) == 0)
    forget_token(cc);
}

unsigned oauth_cc_requests(const oauth_cc *cc) {
  return cc->requests;
}

/* Whether s is a short OAuth error code that is safe to show: the codes of RFC
 * 6749 §5.2 and the like ([A-Za-z0-9_.-], at most 64 bytes). */
static int safe_code(const char *s) {
  size_t n = s != NULL ? strlen(s) : 0;
  return n > 0 && n <= 64 &&
         strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/* Whether t can be sent as a Bearer token: visible ASCII, no spaces. */
static int token_ok(const char *t, size_t n) {
  size_t i;
  if (n == 0 || n > TOKEN_MAX)
    return 0;
  for (i = 0; i < n; i++) {
    if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
      return 0;
  }
  return 1;
}

/* Takes the token from a 2xx answer. 0, or -EPROTO with why. */
static int take_token(oauth_cc *cc, const mcpd_http_response *resp, char *why, size_t n) {
  json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL), *v;
  const char *tok, *type;
  double life = DEFAULT_LIFE_S;
  int64_t ms;
  if (!json_is_object(j)) {
    json_decref(j);
    snprintf(why, n, "HTTP %d with a body that is not a JSON object", resp->status);
    return -EPROTO;
  }
  tok = json_string_value(json_object_get(j, "access_token"));
  if (tok == NULL || !token_ok(tok, json_string_length(json_object_get(j, "access_token")))) {
    json_decref(j);
    snprintf(why, n, "HTTP %d without a usable access_token", resp->status);
    return -EPROTO;
  }
  type = json_string_value(json_object_get(j, "token_type"));
  if (type != NULL && strcasecmp(type, "bearer") != 0) {
    snprintf(why, n, "token_type %s is not Bearer", safe_code(type) ? type : "(unknown)");
    json_decref(j);
    return -EPROTO;
  }
  v = json_object_get(j, "expires_in");
  if (json_is_number(v) && json_number_value(v) > 0)
    life = json_number_value(v);
  else if (json_is_string(v) && atof(json_string_value(v)) > 0)
    life = atof(json_string_value(v));
  if (life > 86400.0 * 365)
    life = 86400.0 * 365;
  /* Renewed EARLY_S before it expires; a token that lives less than twice
   * that is renewed at half its life. */
  ms = (int64_t)((life > 2 * EARLY_S ? life - EARLY_S : life / 2) * 1000.0);
  forget_token(cc);
  cc->token = strdup(tok);
  json_decref(j);
  if (cc->token == NULL) {
    snprintf(why, n, "out of memory");
    return -ENOMEM;
  }
  cc->renew_at_ms = now_ms() + ms;
  return 0;
}

static void on_token(void *arg, int err, const mcpd_http_response *resp) {
  oauth_cc *cc = arg;
  char why[400];
  int r = err;

  cc->fetching = NULL;
  why[0] = '\0';
  if (err != 0) {
    snprintf(why, sizeof(why), "%s", cc->why[0] != '\0' ? cc->why : cc->host->strerror(err));
  } else if (resp->status < 200 || resp->status > 299) {
    json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
    const char *code = json_string_value(json_object_get(j, "error"));
    snprintf(why, sizeof(why), "HTTP %d%s%s", resp->status, safe_code(code) ? " " : "",
             safe_code(code) ? code : "");
    json_decref(j);
    r = -EACCES;
  } else {
    r = take_token(cc, resp, why, sizeof(why));
  }
  if (r != 0 && err != -ESHUTDOWN)
    cc->host->log(cc->ctx, MCPD_LOG_WARNING, "backend=%s no access token from token_url: %s",
                  cc->label, why);
  /* One at a time from the head: a callback may cancel another wait. */
  while (cc->first != NULL) {
    oauth_cc_wait *w = cc->first;
    oauth_cc_fn cb = w->cb;
    void *warg = w->arg;
    oauth_cc_cancel(w);
    if (r == 0 && cc->token == NULL) {
      /* A callback invalidated the new token already: the rest try again. */
      r = -EACCES;
      snprintf(why, sizeof(why), "the backend refused the new token");
    }
    cb(warg, r, r == 0 ? cc->token : NULL, why);
  }
}

int oauth_cc_get(oauth_cc *cc, const char **token, oauth_cc_fn cb, void *arg, oauth_cc_wait **wait,
                 char *why, size_t why_n) {
  oauth_cc_wait *w;
  *token = NULL;
  *wait = NULL;
  if (cc->token != NULL && now_ms() < cc->renew_at_ms) {
    *token = cc->token;
    return 0;
  }
  w = calloc(1, sizeof(*w));
  if (w == NULL)
    return -ENOMEM;
  if (cc->fetching == NULL) {
    mcpd_http_request hr;
    const char *lines[3];
    size_t n = 0;
    int r;
    lines[n++] = "Content-Type: application/x-www-form-urlencoded";
    lines[n++] = "Accept: application/json";
    if (cc->auth_line != NULL)
      lines[n++] = cc->auth_line;
    memset(&hr, 0, sizeof(hr));
    hr.struct_size = sizeof(hr);
    hr.method = "POST";
    hr.url = cc->token_url;
    hr.headers = lines;
    hr.n_headers = n;
    hr.body = cc->body;
    hr.body_len = strlen(cc->body);
    hr.timeout_ms = cc->timeout_ms;
    hr.connect_timeout_ms = cc->connect_timeout_ms;
    hr.max_response_bytes = TOKEN_RESP_BYTES;
    hr.label = cc->label;
    cc->prepare(cc->prepare_arg, &hr, cc->why, sizeof(cc->why));
    r = cc->host->http_request(cc->ctx, &hr, on_token, cc, &cc->fetching);
    if (r < 0) {
      cc->fetching = NULL;
      free(w);
      snprintf(why, why_n, "%s", cc->host->strerror(r));
      return r;
    }
    cc->requests++;
  }
  w->cc = cc;
  w->cb = cb;
  w->arg = arg;
  w->prev = cc->last;
  if (cc->last != NULL)
    cc->last->next = w;
  else
    cc->first = w;
  cc->last = w;
  *wait = w;
  return OAUTH_CC_PENDING;
}
