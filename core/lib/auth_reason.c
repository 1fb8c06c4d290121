/* auth_reason.c -- the sentences for auth_reason codes. */
#include "lib/auth_reason.h"

static const struct {
  const char *name, *text;
} reasons[] = {
    /* indexed by AUTH_R_LAST - r */
    {"malformed", "the token is malformed"},
    {"algorithm", "the token's signing algorithm is not allowed"},
    {"unknown_kid", "the token is signed with an unknown key"},
    {"signature", "the token's signature does not verify"},
    {"expired", "the token has expired"},
    {"not_yet_valid", "the token is not valid yet"},
    {"audience", "the token is for another resource"},
    {"issuer", "the token's issuer is not trusted"},
    {"claims", "the token lacks a required claim"},
    {"inactive", "the token is not active"},
    {"unknown_token", "the token is not recognised"},
    {"unavailable", "the authorization server cannot be reached"},
    {"busy", "too many tokens are being verified; try again"},
};

const char *auth_reason_str(int r) {
  return AUTH_IS_REASON(r) ? reasons[AUTH_R_LAST - r].text : "unknown reason";
}

const char *auth_reason_name(int r) {
  return AUTH_IS_REASON(r) ? reasons[AUTH_R_LAST - r].name : "other";
}
