/* auth_config.c -- parsing and checking the "auth" section. */
#include "lib/auth_config.h"

#include "lib/auth_jwt.h"
#include "lib/principal.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int auth_config_oauth(const auth_config *c) {
  return c != NULL && (c->jwt || c->introspection);
}

/* "http(s)://HOST[:PORT]..." -> the host, for the loopback test. */
int auth_config_url_loopback(const char *s) {
  const char *h, *end;
  size_t len;
  if (strncasecmp(s, "http://", 7) == 0)
    h = s + 7;
  else if (strncasecmp(s, "https://", 8) == 0)
    h = s + 8;
  else
    return 0;
  /* "http://127.0.0.1:80@evil.example/": what comes before '@' is not the
   * host. A URL with credentials is never loopback here. */
  if (memchr(h, '@', strcspn(h, "/?#")) != NULL)
    return 0;
  if (*h == '[') {
    end = strchr(h, ']');
    return end != NULL && (size_t)(end - h - 1) == 3 && strncmp(h + 1, "::1", 3) == 0;
  }
  len = strcspn(h, ":/?#");
  return (len == 9 && strncasecmp(h, "localhost", 9) == 0) ||
         (len >= 4 && strncmp(h, "127.", 4) == 0 && strspn(h, "0123456789.") == len);
}

static int is_http_url(const char *s) {
  return strncasecmp(s, "https://", 8) == 0 || strncasecmp(s, "http://", 7) == 0;
}

/* A URL mcpd fetches from or names as an authority: https://, or http://
 * to loopback only (a token or a key set over plain HTTP elsewhere could be
 * read or replaced on the way). */
static int check_url(const char *key, const char *s, char *err, size_t n) {
  if (!is_http_url(s) || strlen(s) < 10 || strchr(s, ' ') != NULL) {
    snprintf(err, n, "%s: \"%.100s\" is not an http(s) URL", key, s);
    return -EINVAL;
  }
  if (strncasecmp(s, "https://", 8) != 0 && !auth_config_url_loopback(s)) {
    snprintf(err, n, "%s: must be https:// (http:// only to a loopback address)", key);
    return -EINVAL;
  }
  return 0;
}

static int get_string(const json_t *v, const char *key, char **out, char *err, size_t n) {
  if (!json_is_string(v) || json_string_length(v) == 0 ||
      strlen(json_string_value(v)) != json_string_length(v)) {
    snprintf(err, n, "%s must be a non-empty string", key);
    return -EINVAL;
  }
  free(*out);
  *out = strdup(json_string_value(v));
  return *out ? 0 : -ENOMEM;
}

static int get_uint(const json_t *v, const char *key, unsigned lo, unsigned hi, unsigned *out,
                    char *err, size_t n) {
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
    snprintf(err, n, "%s must be an integer between %u and %u", key, lo, hi);
    return -EINVAL;
  }
  *out = (unsigned)json_integer_value(v);
  return 0;
}

static int get_bool(const json_t *v, const char *key, int *out, char *err, size_t n) {
  if (!json_is_boolean(v)) {
    snprintf(err, n, "%s must be true or false", key);
    return -EINVAL;
  }
  *out = json_is_true(v);
  return 0;
}

/* An array of scope-tokens, joined with spaces into *out. */
static int get_scopes(const json_t *v, const char *key, char **out, char *err, size_t n) {
  size_t i, len = 0;
  char *s;
  if (!json_is_array(v)) {
    snprintf(err, n, "%s must be an array of scopes", key);
    return -EINVAL;
  }
  for (i = 0; i < json_array_size(v); i++) {
    const json_t *e = json_array_get(v, i);
    if (!json_is_string(e) || !principal_scope_valid(json_string_value(e), json_string_length(e))) {
      snprintf(err, n, "%s[%zu]: %s%.60s%s is not a scope (no spaces, quotes or backslashes)", key,
               i, json_is_string(e) ? "\"" : "", json_is_string(e) ? json_string_value(e) : "this",
               json_is_string(e) ? "\"" : "");
      return -EINVAL;
    }
    len += json_string_length(e) + 1;
  }
  if ((s = malloc(len + 1)) == NULL)
    return -ENOMEM;
  s[0] = '\0';
  len = 0;
  for (i = 0; i < json_array_size(v); i++) {
    const json_t *e = json_array_get(v, i);
    if (len > 0)
      s[len++] = ' ';
    memcpy(s + len, json_string_value(e), json_string_length(e) + 1);
    len += json_string_length(e);
  }
  free(*out);
  *out = s;
  return 0;
}

static int get_list(const json_t *v, const char *key, char ***out, size_t *out_n, char *err,
                    size_t n) {
  size_t i, cnt;
  if (!json_is_array(v)) {
    snprintf(err, n, "%s must be an array of strings", key);
    return -EINVAL;
  }
  cnt = json_array_size(v);
  if ((*out = calloc(cnt + 1, sizeof(**out))) == NULL)
    return -ENOMEM;
  *out_n = cnt;
  for (i = 0; i < cnt; i++) {
    if (!json_is_string(json_array_get(v, i)) || json_string_length(json_array_get(v, i)) == 0) {
      snprintf(err, n, "%s[%zu] must be a non-empty string", key, i);
      return -EINVAL;
    }
    if (((*out)[i] = strdup(json_string_value(json_array_get(v, i)))) == NULL)
      return -ENOMEM;
  }
  return 0;
}

/* A secret: a literal, or "${NAME}" for environment variable NAME. */
static int get_secret(const json_t *v, const char *key, char **out, char *err, size_t n) {
  const char *s;
  int r = get_string(v, key, out, err, n);
  size_t len;
  if (r < 0)
    return r;
  s = *out;
  len = strlen(s);
  if (len > 3 && s[0] == '$' && s[1] == '{' && s[len - 1] == '}') {
    char name[128];
    const char *val;
    if (len - 3 >= sizeof(name)) {
      snprintf(err, n, "%s: the environment variable name is too long", key);
      return -EINVAL;
    }
    memcpy(name, s + 2, len - 3);
    name[len - 3] = '\0';
    val = getenv(name);
    if (val == NULL || val[0] == '\0') {
      snprintf(err, n, "%s: environment variable %s is not set", key, name);
      return -EINVAL;
    }
    free(*out);
    *out = strdup(val);
    return *out ? 0 : -ENOMEM;
  }
  return 0;
}

static int unknown(const char *section, const char *key, char *err, size_t n) {
  if (key[0] == '_')
    return 0; /* "_comment" keys annotate a file */
  snprintf(err, n, "unknown setting \"%s.%s\"", section, key);
  return -EINVAL;
}

static int sha256(const char *s, size_t len, uint8_t out[AUTH_DIGEST_LEN]) {
  unsigned olen = 0;
  return EVP_Digest(s, len, out, &olen, EVP_sha256(), NULL) == 1 && olen == AUTH_DIGEST_LEN
             ? 0
             : -ENOMEM;
}

static int parse_tokens(auth_config *c, const json_t *v, char *err, size_t n) {
  size_t i, j;
  if (!json_is_array(v)) {
    snprintf(err, n,
             "auth.tokens must be an array of {\"name\", \"token\" or \"sha256\", \"scopes\"}");
    return -EINVAL;
  }
  c->n_tokens = json_array_size(v);
  if ((c->tokens = calloc(c->n_tokens + 1, sizeof(*c->tokens))) == NULL)
    return -ENOMEM;
  for (i = 0; i < c->n_tokens; i++) {
    const json_t *t = json_array_get(v, i);
    auth_token_cfg *tc = &c->tokens[i];
    const json_t *name = json_object_get(t, "name"), *tok = json_object_get(t, "token"),
                 *hash = json_object_get(t, "sha256");
    const char *key;
    const json_t *x;
    char where[64];
    int r;
    snprintf(where, sizeof(where), "auth.tokens[%zu]", i);
    if (!json_is_object(t)) {
      snprintf(err, n, "%s must be an object", where);
      return -EINVAL;
    }
    json_object_foreach((json_t *)t, key, x) {
      if (strcmp(key, "name") != 0 && strcmp(key, "token") != 0 && strcmp(key, "sha256") != 0 &&
          strcmp(key, "scopes") != 0 && (r = unknown(where, key, err, n)) < 0)
        return r;
    }
    if (!json_is_string(name) || json_string_length(name) == 0 ||
        json_string_length(name) >= sizeof(tc->name) ||
        strspn(json_string_value(name), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789._-") != json_string_length(name)) {
      snprintf(err, n, "%s.name must be 1 to 64 characters of A-Z a-z 0-9 . _ -", where);
      return -EINVAL;
    }
    memcpy(tc->name, json_string_value(name), json_string_length(name) + 1);
    for (j = 0; j < i; j++) {
      if (strcmp(c->tokens[j].name, tc->name) == 0) {
        snprintf(err, n, "%s.name: \"%s\" is used twice", where, tc->name);
        return -EINVAL;
      }
    }
    if ((tok == NULL) == (hash == NULL)) {
      snprintf(err, n, "%s: give exactly one of \"token\" and \"sha256\"", where);
      return -EINVAL;
    }
    if (tok != NULL) {
      char *secret = NULL;
      char k2[80];
      snprintf(k2, sizeof(k2), "%s.token", where);
      if ((r = get_secret(tok, k2, &secret, err, n)) < 0) {
        free(secret);
        return r;
      }
      if (strlen(secret) < 16 || strspn(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
                                                "wxyz0123456789-._~+/=") != strlen(secret)) {
        snprintf(err, n,
                 "%s: at least 16 characters of A-Z a-z 0-9 - . _ ~ + / = (make one with "
                 "openssl rand -hex 32)",
                 k2);
        OPENSSL_cleanse(secret, strlen(secret));
        free(secret);
        return -EINVAL;
      }
      r = sha256(secret, strlen(secret), tc->digest);
      OPENSSL_cleanse(secret, strlen(secret));
      free(secret);
      if (r < 0)
        return r;
    } else {
      const char *h = json_is_string(hash) ? json_string_value(hash) : "";
      if (strlen(h) != 64 || strspn(h, "0123456789abcdefABCDEF") != 64) {
        snprintf(err, n, "%s.sha256 must be 64 hexadecimal digits (sha256sum of the token)", where);
        return -EINVAL;
      }
      for (j = 0; j < AUTH_DIGEST_LEN; j++) {
        unsigned b;
        sscanf(h + 2 * j, "%2x", &b);
        tc->digest[j] = (uint8_t)b;
      }
    }
    if (json_object_get(t, "scopes") != NULL) {
      char k2[80];
      snprintf(k2, sizeof(k2), "%s.scopes", where);
      if ((r = get_scopes(json_object_get(t, "scopes"), k2, &tc->scope, err, n)) < 0)
        return r;
    } else if ((tc->scope = strdup("")) == NULL) {
      return -ENOMEM;
    }
  }
  return 0;
}

static int parse_jwt(auth_config *c, const json_t *v, char *err, size_t n) {
  const char *key;
  const json_t *x;
  int r = 0;
  if (!json_is_object(v)) {
    snprintf(err, n,
             "auth.jwt must be an object with \"issuer\" and \"jwks_url\" or \"jwks_file\"");
    return -EINVAL;
  }
  c->jwt = 1;
  json_object_foreach((json_t *)v, key, x) {
    if (strcmp(key, "issuer") == 0)
      r = get_string(x, "auth.jwt.issuer", &c->jwt_issuer, err, n);
    else if (strcmp(key, "audience") == 0)
      r = get_string(x, "auth.jwt.audience", &c->jwt_audience, err, n);
    else if (strcmp(key, "jwks_url") == 0)
      r = get_string(x, "auth.jwt.jwks_url", &c->jwks_url, err, n);
    else if (strcmp(key, "jwks_file") == 0)
      r = get_string(x, "auth.jwt.jwks_file", &c->jwks_file, err, n);
    else if (strcmp(key, "ca_file") == 0)
      r = get_string(x, "auth.jwt.ca_file", &c->jwt_ca_file, err, n);
    else if (strcmp(key, "timeout_ms") == 0)
      r = get_uint(x, "auth.jwt.timeout_ms", 100, 60000, &c->jwt_timeout_ms, err, n);
    else if (strcmp(key, "leeway_s") == 0)
      r = get_uint(x, "auth.jwt.leeway_s", 0, 300, &c->leeway_s, err, n);
    else if (strcmp(key, "jwks_cooldown_s") == 0)
      r = get_uint(x, "auth.jwt.jwks_cooldown_s", 5, 86400, &c->jwks_cooldown_s, err, n);
    else if (strcmp(key, "jwks_refresh_s") == 0)
      r = get_uint(x, "auth.jwt.jwks_refresh_s", 60, 86400, &c->jwks_refresh_s, err, n);
    else if (strcmp(key, "scope_claim") == 0) {
      const char *s = json_string_value(x);
      if (s == NULL || (strcmp(s, "scope") != 0 && strcmp(s, "scp") != 0)) {
        snprintf(err, n, "auth.jwt.scope_claim must be \"scope\" or \"scp\"");
        return -EINVAL;
      }
      c->scope_claim_scp = s[1] == 'c' && s[2] == 'p';
    } else if (strcmp(key, "algorithms") == 0) {
      size_t i;
      if (!json_is_array(x) || json_array_size(x) == 0) {
        snprintf(err, n,
                 "auth.jwt.algorithms must be a non-empty array such as [\"RS256\", \"ES256\"]");
        return -EINVAL;
      }
      c->alg_mask = 0;
      for (i = 0; i < json_array_size(x); i++) {
        const char *a = json_string_value(json_array_get(x, i));
        unsigned bit = a ? auth_jwt_alg_bit(a) : 0;
        if (a != NULL && strcasecmp(a, "none") == 0) {
          snprintf(err, n, "auth.jwt.algorithms: \"none\" is never accepted");
          return -EINVAL;
        }
        if (a != NULL && (a[0] == 'H' || a[0] == 'h') && (a[1] == 'S' || a[1] == 's')) {
          snprintf(err, n,
                   "auth.jwt.algorithms: %.10s needs a shared secret; mcpd verifies with the "
                   "issuer's public keys only (RS*, PS*, ES*)",
                   a);
          return -EINVAL;
        }
        if (bit == 0) {
          snprintf(err, n,
                   "auth.jwt.algorithms: \"%.20s\" is not one of RS256 RS384 RS512 PS256 PS384 "
                   "PS512 ES256 ES384 ES512",
                   a ? a : "?");
          return -EINVAL;
        }
        c->alg_mask |= bit;
      }
    } else {
      r = unknown("auth.jwt", key, err, n);
    }
    if (r < 0)
      return r;
  }
  if (c->jwt_issuer == NULL) {
    snprintf(err, n, "auth.jwt.issuer is required (the \"iss\" of the tokens to accept)");
    return -EINVAL;
  }
  if ((c->jwks_url == NULL) == (c->jwks_file == NULL)) {
    snprintf(err, n, "auth.jwt: give exactly one of \"jwks_url\" and \"jwks_file\"");
    return -EINVAL;
  }
  if (c->jwks_url != NULL && (r = check_url("auth.jwt.jwks_url", c->jwks_url, err, n)) < 0)
    return r;
  return 0;
}

static int parse_introspection(auth_config *c, const json_t *v, char *err, size_t n) {
  const char *key;
  const json_t *x;
  int r = 0;
  if (!json_is_object(v)) {
    snprintf(err, n,
             "auth.introspection must be an object with \"endpoint\", \"client_id\" and "
             "\"client_secret\"");
    return -EINVAL;
  }
  c->introspection = 1;
  json_object_foreach((json_t *)v, key, x) {
    if (strcmp(key, "endpoint") == 0)
      r = get_string(x, "auth.introspection.endpoint", &c->intro_endpoint, err, n);
    else if (strcmp(key, "client_id") == 0)
      r = get_string(x, "auth.introspection.client_id", &c->intro_client_id, err, n);
    else if (strcmp(key, "client_secret") == 0)
      r = get_secret(x, "auth.introspection.client_secret", &c->intro_client_secret, err, n);
    else if (strcmp(key, "ca_file") == 0)
      r = get_string(x, "auth.introspection.ca_file", &c->intro_ca_file, err, n);
    else if (strcmp(key, "timeout_ms") == 0)
      r = get_uint(x, "auth.introspection.timeout_ms", 100, 60000, &c->intro_timeout_ms, err, n);
    else if (strcmp(key, "cache_s") == 0)
      r = get_uint(x, "auth.introspection.cache_s", 0, 3600, &c->intro_cache_s, err, n);
    else if (strcmp(key, "negative_cache_s") == 0)
      r = get_uint(x, "auth.introspection.negative_cache_s", 0, 60, &c->intro_negative_cache_s, err,
                   n);
    else if (strcmp(key, "max_in_flight") == 0)
      r = get_uint(x, "auth.introspection.max_in_flight", 1, 1024, &c->intro_max_in_flight, err, n);
    else if (strcmp(key, "require_audience") == 0)
      r = get_bool(x, "auth.introspection.require_audience", &c->intro_require_audience, err, n);
    else if (strcmp(key, "auth_method") == 0) {
      const char *s = json_string_value(x);
      if (s == NULL ||
          (strcmp(s, "client_secret_basic") != 0 && strcmp(s, "client_secret_post") != 0)) {
        snprintf(err, n,
                 "auth.introspection.auth_method must be \"client_secret_basic\" or "
                 "\"client_secret_post\"");
        return -EINVAL;
      }
      c->intro_post = strcmp(s, "client_secret_post") == 0;
    } else {
      r = unknown("auth.introspection", key, err, n);
    }
    if (r < 0)
      return r;
  }
  if (c->intro_endpoint == NULL || c->intro_client_id == NULL || c->intro_client_secret == NULL) {
    snprintf(err, n,
             "auth.introspection: \"endpoint\", \"client_id\" and \"client_secret\" are "
             "required");
    return -EINVAL;
  }
  return check_url("auth.introspection.endpoint", c->intro_endpoint, err, n);
}

static int parse_scopes(auth_config *c, const json_t *v, char *err, size_t n) {
  const char *key;
  const json_t *x;
  int r = 0;
  if (!json_is_object(v)) {
    snprintf(err, n, "auth.scopes must be an object");
    return -EINVAL;
  }
  json_object_foreach((json_t *)v, key, x) {
    if (strcmp(key, "required") == 0) {
      r = get_scopes(x, "auth.scopes.required", &c->scopes_required, err, n);
    } else if (strcmp(key, "default") == 0) {
      r = get_scopes(x, "auth.scopes.default", &c->scopes_default, err, n);
    } else if (strcmp(key, "supported") == 0) {
      char *joined = NULL;
      r = get_scopes(x, "auth.scopes.supported", &joined, err, n);
      free(joined);
      if (r == 0)
        r = get_list(x, "auth.scopes.supported", &c->scopes_supported, &c->n_supported, err, n);
    } else if (strcmp(key, "rules") == 0) {
      size_t i;
      if (!json_is_array(x)) {
        snprintf(err, n,
                 "auth.scopes.rules must be an array of {\"tools\": PATTERN, \"scopes\": [...]}");
        return -EINVAL;
      }
      c->n_rules = json_array_size(x);
      if ((c->rules = calloc(c->n_rules + 1, sizeof(*c->rules))) == NULL)
        return -ENOMEM;
      for (i = 0; i < c->n_rules; i++) {
        static const char *const kinds[] = {"tools", "resources", "prompts"};
        const json_t *rule = json_array_get(x, i);
        char where[64];
        int found = 0, k;
        const char *rk;
        const json_t *rv;
        snprintf(where, sizeof(where), "auth.scopes.rules[%zu]", i);
        if (!json_is_object(rule)) {
          snprintf(err, n, "%s must be an object", where);
          return -EINVAL;
        }
        json_object_foreach((json_t *)rule, rk, rv) {
          char k2[96];
          snprintf(k2, sizeof(k2), "%s.%s", where, rk);
          for (k = 0; k < 3; k++) {
            if (strcmp(rk, kinds[k]) == 0)
              break;
          }
          if (k < 3) {
            found++;
            c->rules[i].kind = (enum auth_rule_kind)k;
            if ((r = get_string(rv, k2, &c->rules[i].pattern, err, n)) < 0)
              return r;
          } else if (strcmp(rk, "scopes") == 0) {
            if ((r = get_scopes(rv, k2, &c->rules[i].scope, err, n)) < 0)
              return r;
          } else if ((r = unknown(where, rk, err, n)) < 0) {
            return r;
          }
        }
        if (found != 1) {
          snprintf(err, n, "%s: give exactly one of \"tools\", \"resources\", \"prompts\"", where);
          return -EINVAL;
        }
        if (c->rules[i].scope == NULL) {
          snprintf(err, n, "%s: \"scopes\" is required ([] lets any valid token through)", where);
          return -EINVAL;
        }
      }
    } else {
      r = unknown("auth.scopes", key, err, n);
    }
    if (r < 0)
      return r;
  }
  return 0;
}

int auth_config_parse(const json_t *v, auth_config **out, char *err, size_t n) {
  auth_config *c;
  const char *key;
  const json_t *x;
  int r = 0;
  size_t len;

  *out = NULL;
  if (!json_is_object(v)) {
    snprintf(err, n, "\"auth\" must be an object");
    return -EINVAL;
  }
  if ((c = calloc(1, sizeof(*c))) == NULL)
    return -ENOMEM;
  c->jwt_timeout_ms = 5000;
  c->alg_mask = AUTH_ALG_DEFAULT;
  c->leeway_s = 30;
  c->jwks_cooldown_s = 30;
  c->jwks_refresh_s = 3600;
  c->intro_cache_s = 60;
  c->intro_negative_cache_s = 5;
  c->intro_max_in_flight = 32;
  c->intro_require_audience = 1;
  c->intro_timeout_ms = 5000;
  c->cache_max = 10000;
  json_object_foreach((json_t *)v, key, x) {
    if (strcmp(key, "tokens") == 0) {
      r = parse_tokens(c, x, err, n);
    } else if (strcmp(key, "jwt") == 0) {
      r = parse_jwt(c, x, err, n);
    } else if (strcmp(key, "introspection") == 0) {
      r = parse_introspection(c, x, err, n);
    } else if (strcmp(key, "scopes") == 0) {
      r = parse_scopes(c, x, err, n);
    } else if (strcmp(key, "resource") == 0) {
      r = get_string(x, "auth.resource", &c->resource, err, n);
      if (r == 0) {
        len = strlen(c->resource);
        if (!is_http_url(c->resource) || strpbrk(c->resource, "?# ") != NULL ||
            c->resource[len - 1] == '/' || strchr(c->resource + 8, '/') == NULL) {
          snprintf(err, n,
                   "auth.resource: \"%.100s\" must be an absolute http(s) URL with a path and no "
                   "query, fragment or trailing \"/\" (e.g. \"https://mcp.example.com/mcp\"; "
                   "clients compare it exactly)",
                   c->resource);
          r = -EINVAL;
        }
      }
    } else if (strcmp(key, "resource_name") == 0) {
      r = get_string(x, "auth.resource_name", &c->resource_name, err, n);
    } else if (strcmp(key, "authorization_servers") == 0) {
      size_t i;
      r = get_list(x, "auth.authorization_servers", &c->authorization_servers, &c->n_as, err, n);
      for (i = 0; r == 0 && i < c->n_as; i++)
        r = check_url("auth.authorization_servers", c->authorization_servers[i], err, n);
    } else if (strcmp(key, "protect_metrics") == 0) {
      if (json_is_boolean(x)) {
        c->protect_metrics = json_is_true(x);
      } else if (json_is_string(x) &&
                 principal_scope_valid(json_string_value(x), json_string_length(x))) {
        c->protect_metrics = 1;
        r = get_string(x, "auth.protect_metrics", &c->metrics_scope, err, n);
      } else {
        snprintf(err, n, "auth.protect_metrics must be true, false, or a scope");
        r = -EINVAL;
      }
    } else if (strcmp(key, "cache") == 0) {
      const char *ck;
      const json_t *cv;
      if (!json_is_object(x)) {
        snprintf(err, n, "auth.cache must be an object like {\"max_entries\": 10000}");
        r = -EINVAL;
      }
      json_object_foreach((json_t *)x, ck, cv) {
        if (r < 0)
          break;
        if (strcmp(ck, "max_entries") == 0)
          r = get_uint(cv, "auth.cache.max_entries", 0, 10000000, &c->cache_max, err, n);
        else
          r = unknown("auth.cache", ck, err, n);
      }
    } else {
      r = unknown("auth", key, err, n);
    }
    if (r < 0)
      goto fail;
  }
  if (c->n_tokens == 0 && !c->jwt && !c->introspection) {
    snprintf(err, n, "auth: needs at least one of \"tokens\", \"jwt\", \"introspection\"");
    r = -EINVAL;
    goto fail;
  }
  if (c->introspection && !c->jwt && c->n_as == 0) {
    snprintf(err, n,
             "auth.authorization_servers is needed with introspection alone (clients "
             "must find the authorization server)");
    r = -EINVAL;
    goto fail;
  }
  if (c->n_as == 0 && c->jwt) {
    /* Published as the authorization server: the same rule as for an
     * explicit one (clients would fetch its metadata over plain HTTP). */
    if (strncasecmp(c->jwt_issuer, "http://", 7) == 0 &&
        (r = check_url("auth.jwt.issuer (the default authorization_servers)", c->jwt_issuer, err,
                       n)) < 0)
      goto fail;
    if ((c->authorization_servers = calloc(2, sizeof(char *))) == NULL ||
        (c->authorization_servers[0] = strdup(c->jwt_issuer)) == NULL) {
      r = -ENOMEM;
      goto fail;
    }
    c->n_as = 1;
  }
  if ((c->scopes_required == NULL && (c->scopes_required = strdup("")) == NULL) ||
      (c->scopes_default == NULL && (c->scopes_default = strdup("")) == NULL)) {
    r = -ENOMEM;
    goto fail;
  }
  *out = c;
  return 0;
fail:
  if (r == -ENOMEM)
    snprintf(err, n, "out of memory");
  auth_config_free(c);
  return r;
}

static void free_strv(char **v, size_t n) {
  size_t i;
  for (i = 0; v != NULL && i < n; i++)
    free(v[i]);
  free(v);
}

void auth_config_free(auth_config *c) {
  size_t i;
  if (c == NULL)
    return;
  free(c->resource);
  free(c->resource_name);
  free_strv(c->authorization_servers, c->n_as);
  for (i = 0; c->tokens != NULL && i < c->n_tokens; i++)
    free(c->tokens[i].scope);
  free(c->tokens);
  free(c->jwt_issuer);
  free(c->jwt_audience);
  free(c->jwks_url);
  free(c->jwks_file);
  free(c->jwt_ca_file);
  free(c->intro_endpoint);
  free(c->intro_client_id);
  if (c->intro_client_secret != NULL) {
    OPENSSL_cleanse(c->intro_client_secret, strlen(c->intro_client_secret));
    free(c->intro_client_secret);
  }
  free(c->intro_ca_file);
  free(c->scopes_required);
  free(c->scopes_default);
  free_strv(c->scopes_supported, c->n_supported);
  for (i = 0; c->rules != NULL && i < c->n_rules; i++) {
    free(c->rules[i].pattern);
    free(c->rules[i].scope);
  }
  free(c->rules);
  free(c->metrics_scope);
  free(c);
}
