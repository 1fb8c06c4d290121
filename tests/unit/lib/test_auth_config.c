/* test_auth_config.c -- the "auth" section: every error path with its exact
 * sentence (and never a secret in it), the defaults, what each key sets,
 * ${ENV} secrets, the http:// to loopback rule, and auth_config_oauth. */
#include "lib/auth_config.h"
#include "lib/auth_jwt.h"
#include "test.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A literal token that passes the rules (16+ characters of the set). */
#define TOK  "tok_abcdefghijklmnop"
#define TOKS "{\"tokens\":[{\"name\":\"ci\",\"token\":\"" TOK "\"}]"
#define JWT  "\"jwt\":{\"issuer\":\"https://idp.example\",\"jwks_url\":\"https://idp.example/jwks\"}"
#define INTRO                                                                                      \
  "\"introspection\":{\"endpoint\":\"https://idp.example/introspect\",\"client_id\":\"mcpd\","     \
  "\"client_secret\":\"s3cr3t-client\"}"

/* Parses text (the auth object). -999 when text is not JSON (a broken test). */
static int parse(const char *text, auth_config **out, char *err, size_t n) {
  json_error_t je;
  json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
  int r;
  if (v == NULL) {
    fprintf(stderr, "bad test JSON: %s: %s\n", text, je.text);
    *out = NULL;
    return -999;
  }
  r = auth_config_parse(v, out, err, n);
  json_decref(v);
  return r;
}

/* text must be refused with exactly msg, leave *out NULL, and never show
 * secret (may be NULL) in the message. */
static void expect_err_at(int line, const char *text, const char *msg, const char *secret) {
  auth_config *c = (auth_config *)&c; /* not NULL: the call must clear it */
  char err[512] = "";
  int r = parse(text, &c, err, sizeof(err));
  int before = test_failures;
  CHECK_EQ_INT(r, -EINVAL);
  CHECK(c == NULL);
  CHECK_EQ_STR(err, msg);
  if (secret != NULL)
    CHECK(strstr(err, secret) == NULL);
  if (test_failures != before)
    fprintf(stderr, "  (case at line %d: %s)\n", line, text);
  if (r == 0)
    auth_config_free(c);
}
#define expect_err(text, msg)           expect_err_at(__LINE__, text, msg, NULL)
#define expect_err_secret(text, msg, s) expect_err_at(__LINE__, text, msg, s)

/* text must parse; the caller frees the result. */
static auth_config *ok_at(int line, const char *text) {
  auth_config *c = NULL;
  char err[512] = "";
  int r = parse(text, &c, err, sizeof(err));
  if (r != 0 || c == NULL)
    fprintf(stderr, "  (case at line %d: %s: %d %s)\n", line, text, r, err);
  CHECK_EQ_INT(r, 0);
  CHECK(c != NULL);
  return c;
}
#define ok(text) ok_at(__LINE__, text)

static void sha256_of(const char *s, uint8_t out[AUTH_DIGEST_LEN]) {
  unsigned len = 0;
  CHECK(EVP_Digest(s, strlen(s), out, &len, EVP_sha256(), NULL) == 1);
  CHECK_EQ_INT(len, AUTH_DIGEST_LEN);
}

/* ---- the section as a whole ------------------------------------------------ */

static void test_top_level(void) {
  auth_config *c;
  expect_err("[]", "\"auth\" must be an object");
  expect_err("{}", "auth: needs at least one of \"tokens\", \"jwt\", \"introspection\"");
  expect_err("{\"tokens\":[]}",
             "auth: needs at least one of \"tokens\", \"jwt\", \"introspection\"");
  expect_err("{\"_comment\":\"only a note\"}",
             "auth: needs at least one of \"tokens\", \"jwt\", \"introspection\"");
  expect_err(TOKS ",\"foo\":1}", "unknown setting \"auth.foo\"");
  expect_err(TOKS ",\"Tokens\":1}", "unknown setting \"auth.Tokens\"");
  c = ok(TOKS ",\"_comment\":\"who may call\",\"_x\":[1,2]}");
  auth_config_free(c);
  auth_config_free(NULL);
}

static void test_defaults(void) {
  auth_config *c = ok(TOKS "}");
  if (c == NULL)
    return;
  CHECK(c->resource == NULL);
  CHECK(c->resource_name == NULL);
  CHECK_EQ_INT(c->n_as, 0);
  CHECK(c->authorization_servers == NULL);
  CHECK_EQ_INT(c->jwt, 0);
  CHECK_EQ_INT(c->introspection, 0);
  CHECK_EQ_INT(c->jwt_timeout_ms, 5000);
  CHECK_EQ_INT(c->alg_mask, AUTH_ALG_DEFAULT);
  CHECK_EQ_INT(c->leeway_s, 30);
  CHECK_EQ_INT(c->scope_claim_scp, 0);
  CHECK_EQ_INT(c->jwks_cooldown_s, 30);
  CHECK_EQ_INT(c->jwks_refresh_s, 3600);
  CHECK_EQ_INT(c->intro_cache_s, 60);
  CHECK_EQ_INT(c->intro_negative_cache_s, 5);
  CHECK_EQ_INT(c->intro_max_in_flight, 32);
  CHECK_EQ_INT(c->intro_require_audience, 1);
  CHECK_EQ_INT(c->intro_timeout_ms, 5000);
  CHECK_EQ_INT(c->intro_post, 0);
  CHECK_EQ_STR(c->scopes_required, "");
  CHECK_EQ_STR(c->scopes_default, "");
  CHECK(c->scopes_supported == NULL);
  CHECK_EQ_INT(c->n_rules, 0);
  CHECK_EQ_INT(c->protect_metrics, 0);
  CHECK(c->metrics_scope == NULL);
  CHECK_EQ_INT(c->cache_max, 10000);
  CHECK_EQ_INT(auth_config_oauth(c), 0); /* static tokens alone: no discovery */
  auth_config_free(c);
  CHECK_EQ_INT(auth_config_oauth(NULL), 0);
}

/* ---- tokens ---------------------------------------------------------------- */

static void test_tokens_good(void) {
  uint8_t want[AUTH_DIGEST_LEN];
  auth_config *c =
      ok("{\"tokens\":[{\"name\":\"ci\",\"token\":\"" TOK "\",\"scopes\":[\"a\",\"b:c\"]},"
         "{\"name\":\"A-z_0.9\",\"sha256\":"
         "\"00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\","
         "\"_comment\":\"ops\"}]}");
  if (c == NULL)
    return;
  CHECK_EQ_INT(c->n_tokens, 2);
  CHECK_EQ_STR(c->tokens[0].name, "ci");
  sha256_of(TOK, want);
  CHECK(memcmp(c->tokens[0].digest, want, AUTH_DIGEST_LEN) == 0);
  CHECK_EQ_STR(c->tokens[0].scope, "a b:c");
  CHECK_EQ_STR(c->tokens[1].name, "A-z_0.9");
  CHECK_EQ_INT(c->tokens[1].digest[0], 0x00);
  CHECK_EQ_INT(c->tokens[1].digest[1], 0x11);
  CHECK_EQ_INT(c->tokens[1].digest[10], 0xaa);
  CHECK_EQ_INT(c->tokens[1].digest[15], 0xff);
  CHECK_EQ_INT(c->tokens[1].digest[31], 0xff);
  CHECK_EQ_STR(c->tokens[1].scope, ""); /* no "scopes": none */
  auth_config_free(c);

  /* 64 characters is the longest name; 16 the shortest token. */
  c = ok(
      "{\"tokens\":[{\"name\":\"0123456789012345678901234567890123456789012345678901234567890123\","
      "\"token\":\"0123456789abcdef\",\"scopes\":[]}]}");
  if (c != NULL) {
    CHECK_EQ_INT(strlen(c->tokens[0].name), 64);
    CHECK_EQ_STR(c->tokens[0].scope, "");
    sha256_of("0123456789abcdef", want);
    CHECK(memcmp(c->tokens[0].digest, want, AUTH_DIGEST_LEN) == 0);
  }
  auth_config_free(c);

  /* Every character of the token alphabet. */
  c = ok("{\"tokens\":[{\"name\":\"x\",\"token\":\"AZaz09-._~+/=AZaz09-._~+/=\"}]}");
  if (c != NULL) {
    sha256_of("AZaz09-._~+/=AZaz09-._~+/=", want);
    CHECK(memcmp(c->tokens[0].digest, want, AUTH_DIGEST_LEN) == 0);
  }
  auth_config_free(c);
}

static void test_tokens_bad(void) {
  static const char short_msg[] =
      "auth.tokens[0].token: at least 16 characters of A-Z a-z 0-9 - . _ ~ + / = (make one with "
      "openssl rand -hex 32)";
  static const char name_msg[] =
      "auth.tokens[0].name must be 1 to 64 characters of A-Z a-z 0-9 . _ -";
  static const char one_msg[] = "auth.tokens[0]: give exactly one of \"token\" and \"sha256\"";
  static const char hex_msg[] =
      "auth.tokens[0].sha256 must be 64 hexadecimal digits (sha256sum of the token)";

  expect_err("{\"tokens\":{}}",
             "auth.tokens must be an array of {\"name\", \"token\" or \"sha256\", \"scopes\"}");
  expect_err("{\"tokens\":[1]}", "auth.tokens[0] must be an object");
  expect_err_secret("{\"tokens\":[{\"name\":\"a\",\"token\":\"" TOK "\"},7]}",
                    "auth.tokens[1] must be an object", TOK);
  expect_err_secret("{\"tokens\":[{\"name\":\"a\",\"token\":\"" TOK "\",\"scope\":[]}]}",
                    "unknown setting \"auth.tokens[0].scope\"", TOK);

  /* Names. */
  expect_err_secret("{\"tokens\":[{\"token\":\"" TOK "\"}]}", name_msg, TOK);
  expect_err_secret("{\"tokens\":[{\"name\":\"\",\"token\":\"" TOK "\"}]}", name_msg, TOK);
  expect_err_secret("{\"tokens\":[{\"name\":3,\"token\":\"" TOK "\"}]}", name_msg, TOK);
  expect_err_secret("{\"tokens\":[{\"name\":\"a b\",\"token\":\"" TOK "\"}]}", name_msg, TOK);
  expect_err_secret("{\"tokens\":[{\"name\":\"a/b\",\"token\":\"" TOK "\"}]}", name_msg, TOK);
  expect_err_secret("{\"tokens\":[{\"name\":\"caf\\u00e9\",\"token\":\"" TOK "\"}]}", name_msg,
                    TOK);
  expect_err_secret("{\"tokens\":[{\"name\":\"a\\u0000b\",\"token\":\"" TOK "\"}]}", name_msg, TOK);
  expect_err_secret("{\"tokens\":[{\"name\":"
                    "\"01234567890123456789012345678901234567890123456789012345678901234\","
                    "\"token\":\"" TOK "\"}]}",
                    name_msg, TOK);
  expect_err_secret("{\"tokens\":[{\"name\":\"ci\",\"token\":\"" TOK "\"},"
                    "{\"name\":\"ops\",\"sha256\":"
                    "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"},"
                    "{\"name\":\"ci\",\"token\":\"" TOK "x\"}]}",
                    "auth.tokens[2].name: \"ci\" is used twice", TOK);

  /* Exactly one of token and sha256. */
  expect_err("{\"tokens\":[{\"name\":\"a\"}]}", one_msg);
  expect_err_secret("{\"tokens\":[{\"name\":\"a\",\"token\":\"" TOK "\",\"sha256\":"
                    "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}]}",
                    one_msg, TOK);

  /* Literal tokens: too short, a byte outside the set, not a string. */
  expect_err_secret("{\"tokens\":[{\"name\":\"a\",\"token\":\"short-secret-15\"}]}", short_msg,
                    "short-secret-15");
  expect_err_secret("{\"tokens\":[{\"name\":\"a\",\"token\":\"AZaz09-._~+/=\"}]}", short_msg,
                    "AZaz09-._~+/=");
  expect_err_secret("{\"tokens\":[{\"name\":\"a\",\"token\":\"abcdefghijklmnop!q\"}]}", short_msg,
                    "abcdefghijklmnop!q");
  expect_err_secret("{\"tokens\":[{\"name\":\"a\",\"token\":\"abcdefghijklmnop q\"}]}", short_msg,
                    "abcdefghijklmnop q");
  expect_err_secret("{\"tokens\":[{\"name\":\"a\",\"token\":\"abcdefghijklmnop\\\"q\"}]}",
                    short_msg, "abcdefghijklmnop");
  expect_err_secret("{\"tokens\":[{\"name\":\"a\",\"token\":\"abcdefghijklmnop\\u00e9\"}]}",
                    short_msg, "abcdefghijklmnop");
  expect_err("{\"tokens\":[{\"name\":\"a\",\"token\":\"\"}]}",
             "auth.tokens[0].token must be a non-empty string");
  expect_err("{\"tokens\":[{\"name\":\"a\",\"token\":12345678901234567}]}",
             "auth.tokens[0].token must be a non-empty string");
  /* A NUL inside would cut the secret short. */
  expect_err_secret("{\"tokens\":[{\"name\":\"a\",\"token\":\"abcdefghijklmnop\\u0000qrst\"}]}",
                    "auth.tokens[0].token must be a non-empty string", "abcdefghijklmnop");

  /* sha256. */
  expect_err("{\"tokens\":[{\"name\":\"a\",\"sha256\":"
             "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeef\"}]}",
             hex_msg); /* 63 */
  expect_err("{\"tokens\":[{\"name\":\"a\",\"sha256\":"
             "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0\"}]}",
             hex_msg); /* 65 */
  expect_err("{\"tokens\":[{\"name\":\"a\",\"sha256\":"
             "\"g0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}]}",
             hex_msg);
  expect_err("{\"tokens\":[{\"name\":\"a\",\"sha256\":"
             "\" 0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}]}",
             hex_msg);
  expect_err("{\"tokens\":[{\"name\":\"a\",\"sha256\":\"\"}]}", hex_msg);
  expect_err("{\"tokens\":[{\"name\":\"a\",\"sha256\":42}]}", hex_msg);
  expect_err("{\"tokens\":[{\"name\":\"a\",\"sha256\":null}]}", hex_msg);

  /* Scopes. */
  expect_err_secret("{\"tokens\":[{\"name\":\"a\",\"token\":\"" TOK "\",\"scopes\":\"a b\"}]}",
                    "auth.tokens[0].scopes must be an array of scopes", TOK);
  expect_err_secret(
      "{\"tokens\":[{\"name\":\"a\",\"token\":\"" TOK "\",\"scopes\":[\"ok\",\"a b\"]}]}",
      "auth.tokens[0].scopes[1]: \"a b\" is not a scope (no spaces, quotes or backslashes)", TOK);
  expect_err_secret("{\"tokens\":[{\"name\":\"a\",\"token\":\"" TOK "\",\"scopes\":[1]}]}",
                    "auth.tokens[0].scopes[0]: this is not a scope (no spaces, quotes or "
                    "backslashes)",
                    TOK);
  expect_err_secret("{\"tokens\":[{\"name\":\"a\",\"token\":\"" TOK "\",\"scopes\":[\"\"]}]}",
                    "auth.tokens[0].scopes[0]: \"\" is not a scope (no spaces, quotes or "
                    "backslashes)",
                    TOK);
  expect_err_secret("{\"tokens\":[{\"name\":\"a\",\"token\":\"" TOK "\",\"scopes\":[\"a\\\\b\"]}]}",
                    "auth.tokens[0].scopes[0]: \"a\\b\" is not a scope (no spaces, quotes or "
                    "backslashes)",
                    TOK);
}

static void test_tokens_env(void) {
  static const char env_value[] = "from-the-environment-0123456789";
  uint8_t want[AUTH_DIGEST_LEN];
  auth_config *c;

  setenv("MCPD_TEST_AUTH_TOKEN", env_value, 1);
  unsetenv("MCPD_TEST_AUTH_UNSET");
  c = ok("{\"tokens\":[{\"name\":\"env\",\"token\":\"${MCPD_TEST_AUTH_TOKEN}\"}]}");
  if (c != NULL) {
    sha256_of(env_value, want);
    CHECK(memcmp(c->tokens[0].digest, want, AUTH_DIGEST_LEN) == 0);
    sha256_of("${MCPD_TEST_AUTH_TOKEN}", want);
    CHECK(memcmp(c->tokens[0].digest, want, AUTH_DIGEST_LEN) != 0);
  }
  auth_config_free(c);

  expect_err("{\"tokens\":[{\"name\":\"env\",\"token\":\"${MCPD_TEST_AUTH_UNSET}\"}]}",
             "auth.tokens[0].token: environment variable MCPD_TEST_AUTH_UNSET is not set");
  setenv("MCPD_TEST_AUTH_EMPTY", "", 1);
  expect_err("{\"tokens\":[{\"name\":\"env\",\"token\":\"${MCPD_TEST_AUTH_EMPTY}\"}]}",
             "auth.tokens[0].token: environment variable MCPD_TEST_AUTH_EMPTY is not set");
  /* The variable's value obeys the literal's rules, and stays out of err. */
  setenv("MCPD_TEST_AUTH_SHORT", "tiny-secret", 1);
  expect_err_secret("{\"tokens\":[{\"name\":\"env\",\"token\":\"${MCPD_TEST_AUTH_SHORT}\"}]}",
                    "auth.tokens[0].token: at least 16 characters of A-Z a-z 0-9 - . _ ~ + / = "
                    "(make one with openssl rand -hex 32)",
                    "tiny-secret");
  setenv("MCPD_TEST_AUTH_SPACE", "a secret with spaces in it", 1);
  expect_err_secret("{\"tokens\":[{\"name\":\"env\",\"token\":\"${MCPD_TEST_AUTH_SPACE}\"}]}",
                    "auth.tokens[0].token: at least 16 characters of A-Z a-z 0-9 - . _ ~ + / = "
                    "(make one with openssl rand -hex 32)",
                    "secret with");
  {
    char text[512], name[200], msg[300];
    memset(name, 'N', 128);
    name[128] = '\0';
    snprintf(text, sizeof(text), "{\"tokens\":[{\"name\":\"env\",\"token\":\"${%s}\"}]}", name);
    expect_err(text, "auth.tokens[0].token: the environment variable name is too long");
    name[127] = '\0'; /* 127 fits: then it is just unset */
    snprintf(text, sizeof(text), "{\"tokens\":[{\"name\":\"env\",\"token\":\"${%s}\"}]}", name);
    snprintf(msg, sizeof(msg), "auth.tokens[0].token: environment variable %s is not set", name);
    expect_err(text, msg);
  }
  /* "${}" and "$X" are literals (and here too short / not in the set). */
  expect_err("{\"tokens\":[{\"name\":\"env\",\"token\":\"${}\"}]}",
             "auth.tokens[0].token: at least 16 characters of A-Z a-z 0-9 - . _ ~ + / = (make one "
             "with openssl rand -hex 32)");
  unsetenv("MCPD_TEST_AUTH_TOKEN");
  unsetenv("MCPD_TEST_AUTH_EMPTY");
  unsetenv("MCPD_TEST_AUTH_SHORT");
  unsetenv("MCPD_TEST_AUTH_SPACE");
}

/* ---- jwt ------------------------------------------------------------------- */

static void test_jwt_good(void) {
  auth_config *c = ok("{" JWT "}");
  if (c != NULL) {
    CHECK_EQ_INT(c->jwt, 1);
    CHECK_EQ_STR(c->jwt_issuer, "https://idp.example");
    CHECK_EQ_STR(c->jwks_url, "https://idp.example/jwks");
    CHECK(c->jwks_file == NULL);
    CHECK(c->jwt_audience == NULL);
    /* authorization_servers defaults to [issuer] */
    CHECK_EQ_INT(c->n_as, 1);
    CHECK_EQ_STR(c->authorization_servers[0], "https://idp.example");
    CHECK_EQ_INT(auth_config_oauth(c), 1);
  }
  auth_config_free(c);

  c = ok("{\"jwt\":{\"issuer\":\"https://idp.example/realms/x\",\"audience\":\"api://mcpd\","
         "\"jwks_file\":\"/etc/mcpd/jwks.json\",\"ca_file\":\"/etc/ca.pem\",\"timeout_ms\":100,"
         "\"leeway_s\":0,\"jwks_cooldown_s\":5,\"jwks_refresh_s\":60,\"scope_claim\":\"scp\","
         "\"algorithms\":[\"RS256\",\"ES384\",\"PS512\"],\"_comment\":\"x\"},"
         "\"authorization_servers\":[\"https://as1.example\",\"http://127.0.0.1:9000\"],"
         "\"resource\":\"https://mcp.example.com/mcp\",\"resource_name\":\"Example\"}");
  if (c != NULL) {
    CHECK_EQ_STR(c->jwt_audience, "api://mcpd");
    CHECK_EQ_STR(c->jwks_file, "/etc/mcpd/jwks.json");
    CHECK(c->jwks_url == NULL);
    CHECK_EQ_STR(c->jwt_ca_file, "/etc/ca.pem");
    CHECK_EQ_INT(c->jwt_timeout_ms, 100);
    CHECK_EQ_INT(c->leeway_s, 0);
    CHECK_EQ_INT(c->jwks_cooldown_s, 5);
    CHECK_EQ_INT(c->jwks_refresh_s, 60);
    CHECK_EQ_INT(c->scope_claim_scp, 1);
    CHECK_EQ_INT(c->alg_mask, AUTH_ALG_RS256 | AUTH_ALG_ES384 | AUTH_ALG_PS512);
    CHECK_EQ_INT(c->n_as, 2); /* given: not replaced by the issuer */
    CHECK_EQ_STR(c->authorization_servers[0], "https://as1.example");
    CHECK_EQ_STR(c->authorization_servers[1], "http://127.0.0.1:9000");
    CHECK_EQ_STR(c->resource, "https://mcp.example.com/mcp");
    CHECK_EQ_STR(c->resource_name, "Example");
  }
  auth_config_free(c);

  /* The upper ends of the ranges, and scope_claim "scope". */
  c = ok("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"timeout_ms\":60000,\"leeway_s\":300,"
         "\"jwks_cooldown_s\":86400,\"jwks_refresh_s\":86400,\"scope_claim\":\"scope\"}}");
  if (c != NULL) {
    CHECK_EQ_INT(c->jwt_timeout_ms, 60000);
    CHECK_EQ_INT(c->leeway_s, 300);
    CHECK_EQ_INT(c->jwks_cooldown_s, 86400);
    CHECK_EQ_INT(c->jwks_refresh_s, 86400);
    CHECK_EQ_INT(c->scope_claim_scp, 0);
  }
  auth_config_free(c);

  /* http:// is fine to a loopback key set. */
  c = ok("{\"jwt\":{\"issuer\":\"i\",\"jwks_url\":\"http://127.0.0.1:8080/jwks\"}}");
  auth_config_free(c);
  c = ok("{\"jwt\":{\"issuer\":\"i\",\"jwks_url\":\"http://localhost:8080/jwks\"}}");
  auth_config_free(c);
  c = ok("{\"jwt\":{\"issuer\":\"i\",\"jwks_url\":\"http://[::1]:8080/jwks\"}}");
  auth_config_free(c);
  c = ok("{\"jwt\":{\"issuer\":\"i\",\"jwks_url\":\"HTTPS://IDP.EXAMPLE/jwks\"}}");
  auth_config_free(c);
}

static void test_jwt_bad(void) {
  static const char https_msg[] =
      "auth.jwt.jwks_url: must be https:// (http:// only to a loopback address)";
  static const char one_msg[] = "auth.jwt: give exactly one of \"jwks_url\" and \"jwks_file\"";
  static const char not_one_of[] =
      " is not one of RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512";
  char msg[300];

  expect_err("{\"jwt\":true}",
             "auth.jwt must be an object with \"issuer\" and \"jwks_url\" or \"jwks_file\"");
  expect_err("{\"jwt\":{\"jwks_url\":\"https://idp.example/jwks\"}}",
             "auth.jwt.issuer is required (the \"iss\" of the tokens to accept)");
  expect_err("{\"jwt\":{\"issuer\":\"\",\"jwks_file\":\"f\"}}",
             "auth.jwt.issuer must be a non-empty string");
  expect_err("{\"jwt\":{\"issuer\":[\"i\"],\"jwks_file\":\"f\"}}",
             "auth.jwt.issuer must be a non-empty string");
  expect_err("{\"jwt\":{\"issuer\":\"i\"}}", one_msg);
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_url\":\"https://idp.example/jwks\","
             "\"jwks_file\":\"f\"}}",
             one_msg);
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":5}}",
             "auth.jwt.jwks_file must be a non-empty string");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"audience\":\"\"}}",
             "auth.jwt.audience must be a non-empty string");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"ca_file\":\"\"}}",
             "auth.jwt.ca_file must be a non-empty string");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"foo\":1}}",
             "unknown setting \"auth.jwt.foo\"");
  {
    auth_config *c = ok("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"_comment\":\"x\"}}");
    auth_config_free(c);
  }

  /* Key set URLs. */
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_url\":\"http://idp.example/jwks\"}}", https_msg);
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_url\":\"http://10.0.0.1/jwks\"}}", https_msg);
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_url\":\"http://127.0.0.1.evil.example/jwks\"}}",
             https_msg);
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_url\":\"http://localhost.evil.example/jwks\"}}",
             https_msg);
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_url\":\"http://[::2]/jwks\"}}", https_msg);
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_url\":\"ftp://idp.example/jwks\"}}",
             "auth.jwt.jwks_url: \"ftp://idp.example/jwks\" is not an http(s) URL");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_url\":\"https://\"}}",
             "auth.jwt.jwks_url: \"https://\" is not an http(s) URL");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_url\":\"https://idp.example/a b\"}}",
             "auth.jwt.jwks_url: \"https://idp.example/a b\" is not an http(s) URL");

  /* Algorithms. */
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"algorithms\":[]}}",
             "auth.jwt.algorithms must be a non-empty array such as [\"RS256\", \"ES256\"]");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"algorithms\":\"RS256\"}}",
             "auth.jwt.algorithms must be a non-empty array such as [\"RS256\", \"ES256\"]");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"algorithms\":[\"none\"]}}",
             "auth.jwt.algorithms: \"none\" is never accepted");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"algorithms\":[\"RS256\",\"NoNe\"]}}",
             "auth.jwt.algorithms: \"none\" is never accepted");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"algorithms\":[\"HS256\"]}}",
             "auth.jwt.algorithms: HS256 needs a shared secret; mcpd verifies with the issuer's "
             "public keys only (RS*, PS*, ES*)");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"algorithms\":[\"hs512\"]}}",
             "auth.jwt.algorithms: hs512 needs a shared secret; mcpd verifies with the issuer's "
             "public keys only (RS*, PS*, ES*)");
  snprintf(msg, sizeof(msg), "auth.jwt.algorithms: \"EdDSA\"%s", not_one_of);
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"algorithms\":[\"EdDSA\"]}}", msg);
  snprintf(msg, sizeof(msg), "auth.jwt.algorithms: \"rs256\"%s", not_one_of);
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"algorithms\":[\"rs256\"]}}", msg);
  snprintf(msg, sizeof(msg), "auth.jwt.algorithms: \"?\"%s", not_one_of);
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"algorithms\":[256]}}", msg);

  /* Ranges. */
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"leeway_s\":301}}",
             "auth.jwt.leeway_s must be an integer between 0 and 300");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"leeway_s\":-1}}",
             "auth.jwt.leeway_s must be an integer between 0 and 300");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"leeway_s\":\"30\"}}",
             "auth.jwt.leeway_s must be an integer between 0 and 300");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"leeway_s\":30.0}}",
             "auth.jwt.leeway_s must be an integer between 0 and 300");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"leeway_s\":4294967326}}",
             "auth.jwt.leeway_s must be an integer between 0 and 300"); /* 2^32 + 30 */
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"jwks_cooldown_s\":4}}",
             "auth.jwt.jwks_cooldown_s must be an integer between 5 and 86400");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"jwks_cooldown_s\":86401}}",
             "auth.jwt.jwks_cooldown_s must be an integer between 5 and 86400");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"jwks_refresh_s\":59}}",
             "auth.jwt.jwks_refresh_s must be an integer between 60 and 86400");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"jwks_refresh_s\":86401}}",
             "auth.jwt.jwks_refresh_s must be an integer between 60 and 86400");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"timeout_ms\":99}}",
             "auth.jwt.timeout_ms must be an integer between 100 and 60000");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"timeout_ms\":60001}}",
             "auth.jwt.timeout_ms must be an integer between 100 and 60000");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"scope_claim\":\"scopes\"}}",
             "auth.jwt.scope_claim must be \"scope\" or \"scp\"");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"scope_claim\":\"sc\"}}",
             "auth.jwt.scope_claim must be \"scope\" or \"scp\"");
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_file\":\"f\",\"scope_claim\":1}}",
             "auth.jwt.scope_claim must be \"scope\" or \"scp\"");
}

/* ---- introspection ----------------------------------------------------------- */

static void test_introspection(void) {
  static const char req_msg[] =
      "auth.introspection: \"endpoint\", \"client_id\" and \"client_secret\" are required";
  auth_config *c;

  c = ok("{" INTRO ",\"authorization_servers\":[\"https://idp.example\"]}");
  if (c != NULL) {
    CHECK_EQ_INT(c->introspection, 1);
    CHECK_EQ_INT(c->jwt, 0);
    CHECK_EQ_STR(c->intro_endpoint, "https://idp.example/introspect");
    CHECK_EQ_STR(c->intro_client_id, "mcpd");
    CHECK_EQ_STR(c->intro_client_secret, "s3cr3t-client");
    CHECK_EQ_INT(c->intro_post, 0);
    CHECK_EQ_INT(c->n_as, 1);
    CHECK_EQ_INT(auth_config_oauth(c), 1);
  }
  auth_config_free(c);

  /* Alone, it needs authorization_servers; with jwt, the issuer serves. */
  expect_err("{" INTRO "}", "auth.authorization_servers is needed with introspection alone "
                            "(clients must find the authorization server)");
  expect_err("{" INTRO ",\"tokens\":[{\"name\":\"a\",\"token\":\"" TOK "\"}]}",
             "auth.authorization_servers is needed with introspection alone (clients must find "
             "the authorization server)");
  c = ok("{" INTRO "," JWT "}");
  if (c != NULL) {
    CHECK_EQ_INT(c->n_as, 1);
    CHECK_EQ_STR(c->authorization_servers[0], "https://idp.example");
  }
  auth_config_free(c);

  setenv("MCPD_TEST_AUTH_CS", "secret-from-env", 1);
  c = ok("{\"introspection\":{\"endpoint\":\"http://127.0.0.1:1/i\",\"client_id\":\"c\","
         "\"client_secret\":\"${MCPD_TEST_AUTH_CS}\",\"auth_method\":\"client_secret_post\","
         "\"cache_s\":3600,\"negative_cache_s\":60,\"max_in_flight\":1024,"
         "\"require_audience\":false,\"ca_file\":\"/ca.pem\",\"timeout_ms\":60000,"
         "\"_comment\":\"ok\"},\"authorization_servers\":[\"https://idp.example\"]}");
  if (c != NULL) {
    CHECK_EQ_STR(c->intro_client_secret, "secret-from-env");
    CHECK_EQ_INT(c->intro_post, 1);
    CHECK_EQ_INT(c->intro_cache_s, 3600);
    CHECK_EQ_INT(c->intro_negative_cache_s, 60);
    CHECK_EQ_INT(c->intro_max_in_flight, 1024);
    CHECK_EQ_INT(c->intro_require_audience, 0);
    CHECK_EQ_STR(c->intro_ca_file, "/ca.pem");
    CHECK_EQ_INT(c->intro_timeout_ms, 60000);
  }
  auth_config_free(c);
  unsetenv("MCPD_TEST_AUTH_CS");
  expect_err(
      "{\"introspection\":{\"endpoint\":\"https://i.example/i\",\"client_id\":\"c\","
      "\"client_secret\":\"${MCPD_TEST_AUTH_CS}\"},\"authorization_servers\":[\"https://a\"]}",
      "auth.introspection.client_secret: environment variable MCPD_TEST_AUTH_CS is not set");
  c = ok("{\"introspection\":{\"endpoint\":\"https://i.example/i\",\"client_id\":\"c\","
         "\"client_secret\":\"x\",\"auth_method\":\"client_secret_basic\"},"
         "\"authorization_servers\":[\"https://a.example\"]}");
  if (c != NULL)
    CHECK_EQ_INT(c->intro_post, 0);
  auth_config_free(c);

  expect_err("{\"introspection\":\"https://idp.example/introspect\"}",
             "auth.introspection must be an object with \"endpoint\", \"client_id\" and "
             "\"client_secret\"");
  expect_err("{\"introspection\":{\"client_id\":\"c\",\"client_secret\":\"x\"}}", req_msg);
  expect_err_secret("{\"introspection\":{\"endpoint\":\"https://i.example/i\","
                    "\"client_secret\":\"hunter2-secret\"}}",
                    req_msg, "hunter2");
  expect_err("{\"introspection\":{\"endpoint\":\"https://i.example/i\",\"client_id\":\"c\"}}",
             req_msg);
  expect_err_secret("{\"introspection\":{\"endpoint\":\"http://idp.example/i\",\"client_id\":\"c\","
                    "\"client_secret\":\"hunter2-secret\"}}",
                    "auth.introspection.endpoint: must be https:// (http:// only to a loopback "
                    "address)",
                    "hunter2");
  expect_err("{\"introspection\":{\"endpoint\":\"idp.example/i\",\"client_id\":\"c\","
             "\"client_secret\":\"x\"}}",
             "auth.introspection.endpoint: \"idp.example/i\" is not an http(s) URL");
  expect_err_secret("{\"introspection\":{\"endpoint\":\"https://i.example/i\",\"client_id\":\"c\","
                    "\"client_secret\":\"hunter2-secret\",\"auth_method\":\"private_key_jwt\"}}",
                    "auth.introspection.auth_method must be \"client_secret_basic\" or "
                    "\"client_secret_post\"",
                    "hunter2");
  expect_err("{\"introspection\":{\"endpoint\":\"https://i.example/i\",\"client_id\":\"c\","
             "\"client_secret\":\"\"}}",
             "auth.introspection.client_secret must be a non-empty string");
  expect_err("{\"introspection\":{\"endpoint\":\"https://i.example/i\",\"client_id\":\"c\","
             "\"client_secret\":\"x\",\"foo\":1}}",
             "unknown setting \"auth.introspection.foo\"");
  expect_err("{\"introspection\":{\"endpoint\":\"https://i.example/i\",\"client_id\":\"c\","
             "\"client_secret\":\"x\",\"cache_s\":3601}}",
             "auth.introspection.cache_s must be an integer between 0 and 3600");
  expect_err("{\"introspection\":{\"endpoint\":\"https://i.example/i\",\"client_id\":\"c\","
             "\"client_secret\":\"x\",\"negative_cache_s\":61}}",
             "auth.introspection.negative_cache_s must be an integer between 0 and 60");
  expect_err("{\"introspection\":{\"endpoint\":\"https://i.example/i\",\"client_id\":\"c\","
             "\"client_secret\":\"x\",\"max_in_flight\":0}}",
             "auth.introspection.max_in_flight must be an integer between 1 and 1024");
  expect_err("{\"introspection\":{\"endpoint\":\"https://i.example/i\",\"client_id\":\"c\","
             "\"client_secret\":\"x\",\"max_in_flight\":1025}}",
             "auth.introspection.max_in_flight must be an integer between 1 and 1024");
  expect_err("{\"introspection\":{\"endpoint\":\"https://i.example/i\",\"client_id\":\"c\","
             "\"client_secret\":\"x\",\"timeout_ms\":99}}",
             "auth.introspection.timeout_ms must be an integer between 100 and 60000");
  expect_err("{\"introspection\":{\"endpoint\":\"https://i.example/i\",\"client_id\":\"c\","
             "\"client_secret\":\"x\",\"require_audience\":\"yes\"}}",
             "auth.introspection.require_audience must be true or false");
}

/* ---- scopes ------------------------------------------------------------------ */

static void test_scopes(void) {
  auth_config *c = ok(TOKS ",\"scopes\":{\"required\":[\"mcp\",\"mcp:use\"],"
                           "\"default\":[\"basic\"],\"supported\":[\"z\",\"a\"],"
                           "\"_comment\":\"x\",\"rules\":["
                           "{\"tools\":\"admin_*\",\"scopes\":[\"admin\",\"write\"]},"
                           "{\"resources\":\"file:///*\",\"scopes\":[]},"
                           "{\"prompts\":\"p\",\"scopes\":[\"prompts\"],\"_why\":1}]}}");
  if (c == NULL)
    return;
  CHECK_EQ_STR(c->scopes_required, "mcp mcp:use");
  CHECK_EQ_STR(c->scopes_default, "basic");
  CHECK_EQ_INT(c->n_supported, 2);
  CHECK_EQ_STR(c->scopes_supported[0], "z");
  CHECK_EQ_STR(c->scopes_supported[1], "a");
  CHECK_EQ_INT(c->n_rules, 3);
  CHECK_EQ_INT(c->rules[0].kind, AUTH_RULE_TOOLS);
  CHECK_EQ_STR(c->rules[0].pattern, "admin_*");
  CHECK_EQ_STR(c->rules[0].scope, "admin write");
  CHECK_EQ_INT(c->rules[1].kind, AUTH_RULE_RESOURCES);
  CHECK_EQ_STR(c->rules[1].pattern, "file:///*");
  CHECK_EQ_STR(c->rules[1].scope, "");
  CHECK_EQ_INT(c->rules[2].kind, AUTH_RULE_PROMPTS);
  CHECK_EQ_STR(c->rules[2].pattern, "p");
  CHECK_EQ_STR(c->rules[2].scope, "prompts");
  auth_config_free(c);

  expect_err(TOKS ",\"scopes\":[]}", "auth.scopes must be an object");
  expect_err(TOKS ",\"scopes\":{\"foo\":[]}}", "unknown setting \"auth.scopes.foo\"");
  expect_err(TOKS ",\"scopes\":{\"required\":\"mcp\"}}",
             "auth.scopes.required must be an array of scopes");
  expect_err(TOKS ",\"scopes\":{\"default\":[\"a\",\"b c\"]}}",
             "auth.scopes.default[1]: \"b c\" is not a scope (no spaces, quotes or backslashes)");
  expect_err(TOKS ",\"scopes\":{\"supported\":[\"a\\\"b\"]}}",
             "auth.scopes.supported[0]: \"a\"b\" is not a scope (no spaces, quotes or "
             "backslashes)");
  expect_err(TOKS ",\"scopes\":{\"supported\":[null]}}",
             "auth.scopes.supported[0]: this is not a scope (no spaces, quotes or backslashes)");
  expect_err(TOKS ",\"scopes\":{\"rules\":{}}}",
             "auth.scopes.rules must be an array of {\"tools\": PATTERN, \"scopes\": [...]}");
  expect_err(TOKS ",\"scopes\":{\"rules\":[\"x\"]}}", "auth.scopes.rules[0] must be an object");
  expect_err(TOKS ",\"scopes\":{\"rules\":[{\"scopes\":[]}]}}",
             "auth.scopes.rules[0]: give exactly one of \"tools\", \"resources\", \"prompts\"");
  expect_err(TOKS ",\"scopes\":{\"rules\":[{\"tools\":\"a\",\"scopes\":[]},"
                  "{\"tools\":\"a\",\"prompts\":\"b\",\"scopes\":[]}]}}",
             "auth.scopes.rules[1]: give exactly one of \"tools\", \"resources\", \"prompts\"");
  expect_err(TOKS ",\"scopes\":{\"rules\":[{\"resources\":\"a\",\"prompts\":\"b\",\"tools\":\"c\","
                  "\"scopes\":[]}]}}",
             "auth.scopes.rules[0]: give exactly one of \"tools\", \"resources\", \"prompts\"");
  expect_err(TOKS ",\"scopes\":{\"rules\":[{\"tools\":\"a\"}]}}",
             "auth.scopes.rules[0]: \"scopes\" is required ([] lets any valid token through)");
  expect_err(TOKS ",\"scopes\":{\"rules\":[{\"tools\":\"\",\"scopes\":[]}]}}",
             "auth.scopes.rules[0].tools must be a non-empty string");
  expect_err(TOKS ",\"scopes\":{\"rules\":[{\"prompts\":7,\"scopes\":[]}]}}",
             "auth.scopes.rules[0].prompts must be a non-empty string");
  expect_err(TOKS ",\"scopes\":{\"rules\":[{\"tools\":\"a\",\"scopes\":[\"x y\"]}]}}",
             "auth.scopes.rules[0].scopes[0]: \"x y\" is not a scope (no spaces, quotes or "
             "backslashes)");
  expect_err(TOKS ",\"scopes\":{\"rules\":[{\"tools\":\"a\",\"scopes\":\"x\"}]}}",
             "auth.scopes.rules[0].scopes must be an array of scopes");
  expect_err(TOKS ",\"scopes\":{\"rules\":[{\"tools\":\"a\",\"scopes\":[],\"tool\":\"b\"}]}}",
             "unknown setting \"auth.scopes.rules[0].tool\"");
}

/* ---- resource, authorization servers, metrics, cache --------------------------- */

static void test_resource(void) {
  static const char *const good[] = {"https://mcp.example.com/mcp", "http://localhost:8000/mcp",
                                     "https://mcp.example.com/a/b", "HTTPS://x.example/m"};
  static const char *const bad[] = {
      "https://mcp.example.com",   "https://mcp.example.com/",  "https://mcp.example.com/mcp/",
      "https://x.example/mcp?a=1", "https://x.example/mcp#top", "mcp.example.com/mcp",
      "ftp://x.example/mcp",       "https://x.example/m cp",    "/mcp"};
  size_t i;
  for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    char text[300];
    auth_config *c;
    snprintf(text, sizeof(text), TOKS ",\"resource\":\"%s\"}", good[i]);
    c = ok(text);
    if (c != NULL)
      CHECK_EQ_STR(c->resource, good[i]);
    auth_config_free(c);
  }
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char text[300], msg[400];
    snprintf(text, sizeof(text), TOKS ",\"resource\":\"%s\"}", bad[i]);
    snprintf(msg, sizeof(msg),
             "auth.resource: \"%s\" must be an absolute http(s) URL with a path and no query, "
             "fragment or trailing \"/\" (e.g. \"https://mcp.example.com/mcp\"; clients compare it "
             "exactly)",
             bad[i]);
    expect_err(text, msg);
  }
  expect_err(TOKS ",\"resource\":\"\"}", "auth.resource must be a non-empty string");
  expect_err(TOKS ",\"resource_name\":1}", "auth.resource_name must be a non-empty string");
}

static void test_authorization_servers(void) {
  expect_err(TOKS ",\"authorization_servers\":\"https://a.example\"}",
             "auth.authorization_servers must be an array of strings");
  expect_err(TOKS ",\"authorization_servers\":[\"https://a.example\",\"\"]}",
             "auth.authorization_servers[1] must be a non-empty string");
  expect_err(TOKS ",\"authorization_servers\":[\"https://a.example\",\"http://b.example\"]}",
             "auth.authorization_servers: must be https:// (http:// only to a loopback address)");
  expect_err(TOKS ",\"authorization_servers\":[\"a.example\"]}",
             "auth.authorization_servers: \"a.example\" is not an http(s) URL");
}

static void test_protect_metrics(void) {
  auth_config *c = ok(TOKS ",\"protect_metrics\":true}");
  if (c != NULL) {
    CHECK_EQ_INT(c->protect_metrics, 1);
    CHECK(c->metrics_scope == NULL);
  }
  auth_config_free(c);
  c = ok(TOKS ",\"protect_metrics\":false}");
  if (c != NULL) {
    CHECK_EQ_INT(c->protect_metrics, 0);
    CHECK(c->metrics_scope == NULL);
  }
  auth_config_free(c);
  c = ok(TOKS ",\"protect_metrics\":\"metrics:read\"}");
  if (c != NULL) {
    CHECK_EQ_INT(c->protect_metrics, 1);
    CHECK_EQ_STR(c->metrics_scope, "metrics:read");
  }
  auth_config_free(c);
  expect_err(TOKS ",\"protect_metrics\":\"a b\"}",
             "auth.protect_metrics must be true, false, or a scope");
  expect_err(TOKS ",\"protect_metrics\":\"\"}",
             "auth.protect_metrics must be true, false, or a scope");
  expect_err(TOKS ",\"protect_metrics\":1}",
             "auth.protect_metrics must be true, false, or a scope");
  expect_err(TOKS ",\"protect_metrics\":null}",
             "auth.protect_metrics must be true, false, or a scope");
}

static void test_cache(void) {
  auth_config *c = ok(TOKS ",\"cache\":{\"max_entries\":0}}");
  if (c != NULL)
    CHECK_EQ_INT(c->cache_max, 0);
  auth_config_free(c);
  c = ok(TOKS ",\"cache\":{\"max_entries\":10000000,\"_comment\":\"big\"}}");
  if (c != NULL)
    CHECK_EQ_INT(c->cache_max, 10000000);
  auth_config_free(c);
  expect_err(TOKS ",\"cache\":{\"max_entries\":10000001}}",
             "auth.cache.max_entries must be an integer between 0 and 10000000");
  expect_err(TOKS ",\"cache\":{\"max_entries\":-1}}",
             "auth.cache.max_entries must be an integer between 0 and 10000000");
  expect_err(TOKS ",\"cache\":{\"entries\":5}}", "unknown setting \"auth.cache.entries\"");
  expect_err(TOKS ",\"cache\":5}", "auth.cache must be an object like {\"max_entries\": 10000}");
  expect_err(TOKS ",\"cache\":[]}", "auth.cache must be an object like {\"max_entries\": 10000}");
}

/* ---- loopback ---------------------------------------------------------------- */

static void test_url_loopback(void) {
  CHECK_EQ_INT(auth_config_url_loopback("http://127.0.0.1/x"), 1);
  CHECK_EQ_INT(auth_config_url_loopback("http://127.0.0.1:8080/x"), 1);
  CHECK_EQ_INT(auth_config_url_loopback("http://127.1.2.3"), 1);
  CHECK_EQ_INT(auth_config_url_loopback("https://localhost:1/"), 1);
  CHECK_EQ_INT(auth_config_url_loopback("HTTP://LOCALHOST/"), 1);
  CHECK_EQ_INT(auth_config_url_loopback("http://[::1]:80/"), 1);
  CHECK_EQ_INT(auth_config_url_loopback("http://[::1]"), 1);
  CHECK_EQ_INT(auth_config_url_loopback("http://[::2]/"), 0);
  CHECK_EQ_INT(auth_config_url_loopback("http://[::1/"), 0);
  CHECK_EQ_INT(auth_config_url_loopback("http://[0:0:0:0:0:0:0:1]/"), 0); /* spelled out: no */
  CHECK_EQ_INT(auth_config_url_loopback("http://128.0.0.1/"), 0);
  CHECK_EQ_INT(auth_config_url_loopback("http://127.0.0.1.evil.example/"), 0);
  CHECK_EQ_INT(auth_config_url_loopback("http://localhost.evil.example/"), 0);
  CHECK_EQ_INT(auth_config_url_loopback("http://localhos/"), 0);
  CHECK_EQ_INT(auth_config_url_loopback("http://127/"), 0);
  CHECK_EQ_INT(auth_config_url_loopback("ftp://127.0.0.1/"), 0);
  CHECK_EQ_INT(auth_config_url_loopback("127.0.0.1"), 0);
  CHECK_EQ_INT(auth_config_url_loopback(""), 0);
}

/* A URL with user information before its host is judged by the host, never
 * by what comes before '@': these name evil.example, so they are not
 * loopback, and auth.jwt.jwks_url refuses them over plain http://. */
static void test_url_loopback_userinfo(void) {
  CHECK_EQ_INT(auth_config_url_loopback("http://127.0.0.1:80@evil.example/jwks"), 0);
  CHECK_EQ_INT(auth_config_url_loopback("http://localhost:x@evil.example/jwks"), 0);
  CHECK_EQ_INT(auth_config_url_loopback("http://[::1]@evil.example/jwks"), 0);
  expect_err("{\"jwt\":{\"issuer\":\"i\",\"jwks_url\":\"http://127.0.0.1:80@evil.example/jwks\"}}",
             "auth.jwt.jwks_url: must be https:// (http:// only to a loopback address)");
}

int main(void) {
  RUN(test_top_level);
  RUN(test_defaults);
  RUN(test_tokens_good);
  RUN(test_tokens_bad);
  RUN(test_tokens_env);
  RUN(test_jwt_good);
  RUN(test_jwt_bad);
  RUN(test_introspection);
  RUN(test_scopes);
  RUN(test_resource);
  RUN(test_authorization_servers);
  RUN(test_protect_metrics);
  RUN(test_cache);
  RUN(test_url_loopback);
  RUN(test_url_loopback_userinfo);
  TEST_MAIN_END();
}
