/* test_abi.c -- freezes the layout of plugin ABI 1.0 (x86-64 and other
 * LP64 targets) and checks how the host reads plugin structs. A change
 * that moves or resizes a field of a published struct fails here first:
 * grow structs at the end only, and bump MCPD_ABI_MINOR. */
#include "plugin/host_api.h"
#include "mcpd/plugin.h"
#include "test.h"

#include <errno.h>
#include <stddef.h>

#if __SIZEOF_POINTER__ == 8
_Static_assert(offsetof(mcpd_plugin, struct_size) == 0, "mcpd_plugin layout");
_Static_assert(offsetof(mcpd_plugin, abi_major) == 4, "mcpd_plugin layout");
_Static_assert(offsetof(mcpd_plugin, abi_minor) == 6, "mcpd_plugin layout");
_Static_assert(offsetof(mcpd_plugin, abi_signature) == 8, "mcpd_plugin layout");
_Static_assert(offsetof(mcpd_plugin, jansson_delete) == 16, "mcpd_plugin layout");
_Static_assert(offsetof(mcpd_plugin, name) == 24, "mcpd_plugin layout");
_Static_assert(offsetof(mcpd_plugin, version) == 32, "mcpd_plugin layout");
_Static_assert(offsetof(mcpd_plugin, description) == 40, "mcpd_plugin layout");
_Static_assert(offsetof(mcpd_plugin, flags) == 48, "mcpd_plugin layout");
_Static_assert(offsetof(mcpd_plugin, init) == 56, "mcpd_plugin layout");
_Static_assert(offsetof(mcpd_plugin, shutdown) == 64, "mcpd_plugin layout");
_Static_assert(MCPD_PLUGIN_SIZE_V1_0 == 72, "ABI 1.0 descriptor size");
/* 1.2 appended reload(). */
_Static_assert(offsetof(mcpd_plugin, reload) == 72, "mcpd_plugin layout (1.2)");
_Static_assert(sizeof(mcpd_plugin) == 80, "mcpd_plugin size (1.2)");

/* mcpd_http_request and mcpd_http_response, new in 1.2. */
_Static_assert(offsetof(mcpd_http_request, flags) == 4, "mcpd_http_request layout");
_Static_assert(offsetof(mcpd_http_request, method) == 8, "mcpd_http_request layout");
_Static_assert(offsetof(mcpd_http_request, url) == 16, "mcpd_http_request layout");
_Static_assert(offsetof(mcpd_http_request, headers) == 24, "mcpd_http_request layout");
_Static_assert(offsetof(mcpd_http_request, n_headers) == 32, "mcpd_http_request layout");
_Static_assert(offsetof(mcpd_http_request, body) == 40, "mcpd_http_request layout");
_Static_assert(offsetof(mcpd_http_request, body_len) == 48, "mcpd_http_request layout");
_Static_assert(offsetof(mcpd_http_request, timeout_ms) == 56, "mcpd_http_request layout");
_Static_assert(offsetof(mcpd_http_request, connect_timeout_ms) == 60, "mcpd_http_request layout");
_Static_assert(offsetof(mcpd_http_request, max_response_bytes) == 64, "mcpd_http_request layout");
_Static_assert(offsetof(mcpd_http_request, label) == 72, "mcpd_http_request layout");
_Static_assert(MCPD_HTTP_REQUEST_SIZE_V1_2 == 80, "mcpd_http_request size (1.2)");
/* 1.3 appended the TLS, proxy and error-buffer fields. */
_Static_assert(offsetof(mcpd_http_request, ca_file) == 80, "mcpd_http_request layout (1.3)");
_Static_assert(offsetof(mcpd_http_request, client_cert_file) == 88,
               "mcpd_http_request layout (1.3)");
_Static_assert(offsetof(mcpd_http_request, client_key_file) == 96,
               "mcpd_http_request layout (1.3)");
_Static_assert(offsetof(mcpd_http_request, proxy) == 104, "mcpd_http_request layout (1.3)");
_Static_assert(offsetof(mcpd_http_request, error) == 112, "mcpd_http_request layout (1.3)");
_Static_assert(offsetof(mcpd_http_request, error_size) == 120, "mcpd_http_request layout (1.3)");
_Static_assert(sizeof(mcpd_http_request) == 128 && MCPD_HTTP_REQUEST_SIZE_V1_3 == 128,
               "mcpd_http_request size (1.3)");
_Static_assert(offsetof(mcpd_http_response, status) == 0, "mcpd_http_response layout");
_Static_assert(offsetof(mcpd_http_response, headers) == 8, "mcpd_http_response layout");
_Static_assert(offsetof(mcpd_http_response, n_headers) == 16, "mcpd_http_response layout");
_Static_assert(offsetof(mcpd_http_response, body) == 24, "mcpd_http_response layout");
_Static_assert(offsetof(mcpd_http_response, body_len) == 32, "mcpd_http_response layout");
_Static_assert(sizeof(mcpd_http_response) == 40, "mcpd_http_response size");

_Static_assert(offsetof(mcpd_tool, struct_size) == 0, "mcpd_tool layout");
_Static_assert(offsetof(mcpd_tool, flags) == 4, "mcpd_tool layout");
_Static_assert(offsetof(mcpd_tool, name) == 8, "mcpd_tool layout");
_Static_assert(offsetof(mcpd_tool, title) == 16, "mcpd_tool layout");
_Static_assert(offsetof(mcpd_tool, description) == 24, "mcpd_tool layout");
_Static_assert(offsetof(mcpd_tool, input_schema) == 32, "mcpd_tool layout");
_Static_assert(offsetof(mcpd_tool, output_schema) == 40, "mcpd_tool layout");
_Static_assert(offsetof(mcpd_tool, annotations) == 48, "mcpd_tool layout");
_Static_assert(offsetof(mcpd_tool, handler) == 56, "mcpd_tool layout");
_Static_assert(offsetof(mcpd_tool, tool_data) == 64, "mcpd_tool layout");
/* 1.3 appended required_scopes. */
_Static_assert(offsetof(mcpd_tool, required_scopes) == 72, "mcpd_tool layout (1.3)");
_Static_assert(offsetof(mcpd_tool, task_support) == 80, "mcpd_tool layout (1.3)");
_Static_assert(sizeof(mcpd_tool) == 88, "mcpd_tool size (1.3)");

_Static_assert(offsetof(mcpd_resource, uri) == 8, "mcpd_resource layout");
_Static_assert(offsetof(mcpd_resource, name) == 16, "mcpd_resource layout");
_Static_assert(offsetof(mcpd_resource, title) == 24, "mcpd_resource layout");
_Static_assert(offsetof(mcpd_resource, description) == 32, "mcpd_resource layout");
_Static_assert(offsetof(mcpd_resource, mime_type) == 40, "mcpd_resource layout");
_Static_assert(offsetof(mcpd_resource, annotations) == 48, "mcpd_resource layout");
_Static_assert(offsetof(mcpd_resource, handler) == 56, "mcpd_resource layout");
_Static_assert(offsetof(mcpd_resource, data) == 64, "mcpd_resource layout");
_Static_assert(offsetof(mcpd_resource, required_scopes) == 72, "mcpd_resource layout (1.3)");
_Static_assert(offsetof(mcpd_resource, cache_ttl_ms) == 80, "mcpd_resource layout (1.3)");
_Static_assert(sizeof(mcpd_resource) == 88, "mcpd_resource size (1.3)");

_Static_assert(offsetof(mcpd_resource_template, uri_template) == 8, "template layout");
_Static_assert(offsetof(mcpd_resource_template, handler) == 56, "template layout");
_Static_assert(offsetof(mcpd_resource_template, data) == 64, "template layout");
_Static_assert(MCPD_RESOURCE_TEMPLATE_SIZE_V1_0 == 72, "template size at 1.0");
/* 1.1 appended the completion provider. */
_Static_assert(offsetof(mcpd_resource_template, complete) == 72, "template layout (1.1)");
_Static_assert(offsetof(mcpd_resource_template, complete_data) == 80, "template layout (1.1)");
_Static_assert(offsetof(mcpd_resource_template, required_scopes) == 88, "template layout (1.3)");
_Static_assert(offsetof(mcpd_resource_template, cache_ttl_ms) == 96, "template layout (1.3)");
_Static_assert(sizeof(mcpd_resource_template) == 104, "template size (1.3)");
_Static_assert(MCPD_TOOL_SIZE_V1_0 == 72 && MCPD_RESOURCE_SIZE_V1_0 == 72, "1.0 sizes");

/* mcpd_prompt, new in 1.1. */
_Static_assert(offsetof(mcpd_prompt, name) == 8, "mcpd_prompt layout");
_Static_assert(offsetof(mcpd_prompt, title) == 16, "mcpd_prompt layout");
_Static_assert(offsetof(mcpd_prompt, description) == 24, "mcpd_prompt layout");
_Static_assert(offsetof(mcpd_prompt, arguments) == 32, "mcpd_prompt layout");
_Static_assert(offsetof(mcpd_prompt, handler) == 40, "mcpd_prompt layout");
_Static_assert(offsetof(mcpd_prompt, data) == 48, "mcpd_prompt layout");
_Static_assert(offsetof(mcpd_prompt, complete) == 56, "mcpd_prompt layout");
_Static_assert(offsetof(mcpd_prompt, complete_data) == 64, "mcpd_prompt layout");
_Static_assert(sizeof(mcpd_prompt) == 72 && MCPD_PROMPT_SIZE_V1_1 == 72, "mcpd_prompt size");

_Static_assert(offsetof(mcpd_host, struct_size) == 0, "mcpd_host layout");
_Static_assert(offsetof(mcpd_host, abi_major) == 4, "mcpd_host layout");
_Static_assert(offsetof(mcpd_host, abi_minor) == 6, "mcpd_host layout");
_Static_assert(offsetof(mcpd_host, register_tool) == 8, "mcpd_host layout");
_Static_assert(offsetof(mcpd_host, register_resource) == 16, "mcpd_host layout");
_Static_assert(offsetof(mcpd_host, register_resource_template) == 24, "mcpd_host layout");
_Static_assert(offsetof(mcpd_host, log) == 32, "mcpd_host layout");
_Static_assert(offsetof(mcpd_host, complete) == 40, "mcpd_host layout");
_Static_assert(offsetof(mcpd_host, fail) == 48, "mcpd_host layout");
_Static_assert(offsetof(mcpd_host, progress) == 56, "mcpd_host layout");
_Static_assert(offsetof(mcpd_host, notify_log) == 64, "mcpd_host layout");
_Static_assert(offsetof(mcpd_host, is_cancelled) == 72, "mcpd_host layout");
_Static_assert(offsetof(mcpd_host, on_cancel) == 80, "mcpd_host layout");
_Static_assert(offsetof(mcpd_host, queue_work) == 88, "mcpd_host layout");
_Static_assert(offsetof(mcpd_host, strerror) == 96, "mcpd_host layout");
_Static_assert(offsetof(mcpd_host, call_ctx) == 104, "mcpd_host layout");
/* 1.1 appended four functions after the 1.0 table (112 bytes). */
_Static_assert(offsetof(mcpd_host, register_prompt) == 112, "mcpd_host layout (1.1)");
_Static_assert(offsetof(mcpd_host, notify_resource_updated) == 120, "mcpd_host layout (1.1)");
_Static_assert(offsetof(mcpd_host, request) == 128, "mcpd_host layout (1.1)");
_Static_assert(offsetof(mcpd_host, call_client_capabilities) == 136, "mcpd_host layout (1.1)");
/* 1.2 appended eight more after the 1.1 table (144 bytes). */
_Static_assert(offsetof(mcpd_host, http_request) == 144, "mcpd_host layout (1.2)");
_Static_assert(offsetof(mcpd_host, http_cancel) == 152, "mcpd_host layout (1.2)");
_Static_assert(offsetof(mcpd_host, timer_start) == 160, "mcpd_host layout (1.2)");
_Static_assert(offsetof(mcpd_host, timer_stop) == 168, "mcpd_host layout (1.2)");
_Static_assert(offsetof(mcpd_host, update_begin) == 176, "mcpd_host layout (1.2)");
_Static_assert(offsetof(mcpd_host, update_commit) == 184, "mcpd_host layout (1.2)");
_Static_assert(offsetof(mcpd_host, update_abort) == 192, "mcpd_host layout (1.2)");
_Static_assert(offsetof(mcpd_host, call_header) == 200, "mcpd_host layout (1.2)");
/* 1.3 appended four more after the 1.2 table (208 bytes). */
_Static_assert(offsetof(mcpd_host, call_principal) == 208, "mcpd_host layout (1.3)");
_Static_assert(offsetof(mcpd_host, auth_enabled) == 216, "mcpd_host layout (1.3)");
_Static_assert(offsetof(mcpd_host, request_named) == 224, "mcpd_host layout (1.3)");
_Static_assert(offsetof(mcpd_host, read_resource) == 232, "mcpd_host layout (1.3)");
_Static_assert(sizeof(mcpd_host) == 240, "mcpd_host size (1.3)");
/* mcpd_principal, new in 1.3. */
_Static_assert(offsetof(mcpd_principal, kind) == 8, "mcpd_principal layout");
_Static_assert(offsetof(mcpd_principal, subject) == 16, "mcpd_principal layout");
_Static_assert(offsetof(mcpd_principal, client_id) == 24, "mcpd_principal layout");
_Static_assert(offsetof(mcpd_principal, issuer) == 32, "mcpd_principal layout");
_Static_assert(offsetof(mcpd_principal, scopes) == 40, "mcpd_principal layout");
_Static_assert(offsetof(mcpd_principal, n_scopes) == 48, "mcpd_principal layout");
_Static_assert(offsetof(mcpd_principal, claims) == 56, "mcpd_principal layout");
_Static_assert(offsetof(mcpd_principal, expires_at) == 64, "mcpd_principal layout");
_Static_assert(sizeof(mcpd_principal) == 72, "mcpd_principal size");
#endif

static void test_host_table(void) {
  const mcpd_host *h = host_api_table();
  CHECK_EQ_INT(h->struct_size, sizeof(mcpd_host));
  CHECK_EQ_INT(h->abi_major, MCPD_ABI_MAJOR);
  CHECK_EQ_INT(h->abi_minor, MCPD_ABI_MINOR);
  CHECK(MCPD_HOST_HAS(h, call_ctx));
  CHECK(MCPD_HOST_HAS(h, register_prompt) && MCPD_HOST_HAS(h, notify_resource_updated) &&
        MCPD_HOST_HAS(h, request) && MCPD_HOST_HAS(h, call_client_capabilities));
  CHECK(MCPD_HOST_HAS(h, http_request) && MCPD_HOST_HAS(h, http_cancel) &&
        MCPD_HOST_HAS(h, timer_start) && MCPD_HOST_HAS(h, timer_stop) &&
        MCPD_HOST_HAS(h, update_begin) && MCPD_HOST_HAS(h, update_commit) &&
        MCPD_HOST_HAS(h, update_abort) && MCPD_HOST_HAS(h, call_header));
  CHECK(MCPD_HOST_HAS(h, request_named) && MCPD_HOST_HAS(h, read_resource));
  CHECK(MCPD_HOST_HAS(h, register_tool));
  CHECK(h->register_tool && h->register_resource && h->register_resource_template && h->log &&
        h->complete && h->fail && h->progress && h->notify_log && h->is_cancelled && h->on_cancel &&
        h->queue_work && h->strerror && h->call_ctx);
  CHECK_EQ_STR(h->strerror(-EINVAL), "invalid argument");
}

static void test_host_has_older_host(void) {
  /* A plugin built against a newer header sees a smaller, older table: a
   * 1.0 host's table ends after call_ctx. */
  mcpd_host old = *host_api_table();
  old.struct_size = (uint32_t)(offsetof(mcpd_host, call_ctx) + sizeof(old.call_ctx));
  CHECK(MCPD_HOST_HAS(&old, call_ctx));
  CHECK(!MCPD_HOST_HAS(&old, register_prompt));
  CHECK(!MCPD_HOST_HAS(&old, request));
  /* A 1.1 host's table ends after call_client_capabilities. */
  old = *host_api_table();
  old.struct_size = (uint32_t)offsetof(mcpd_host, http_request);
  CHECK(MCPD_HOST_HAS(&old, call_client_capabilities));
  CHECK(!MCPD_HOST_HAS(&old, http_request) && !MCPD_HOST_HAS(&old, call_header));
  old.struct_size = (uint32_t)offsetof(mcpd_host, strerror);
  CHECK(!MCPD_HOST_HAS(&old, strerror));
  CHECK(MCPD_HOST_HAS(&old, queue_work));
  /* A 1.3 host from before read_resource was appended. */
  old = *host_api_table();
  old.struct_size = (uint32_t)offsetof(mcpd_host, read_resource);
  CHECK(MCPD_HOST_HAS(&old, request_named) && !MCPD_HOST_HAS(&old, read_resource));
}

struct v1 {
  uint32_t size, flags;
  const char *a;
};
struct v2 {
  uint32_t size, flags;
  const char *a;
  const char *b;
};

static void test_normalize(void) {
  struct v1 small = {sizeof(struct v1), 0, "x"};
  struct v2 big = {sizeof(struct v2), 0, "x", NULL};
  struct v2 dst;
  struct v1 dst1;

  /* An older plugin struct: the host's extra fields read as zero. */
  memset(&dst, 0xff, sizeof(dst));
  CHECK_EQ_INT(host_api_normalize(&dst, sizeof(dst), &small, small.size, sizeof(struct v1)), 0);
  CHECK(dst.a == small.a && dst.b == NULL);
  /* A newer plugin struct with an unused tail: accepted. */
  CHECK_EQ_INT(host_api_normalize(&dst1, sizeof(dst1), &big, big.size, sizeof(struct v1)), 0);
  CHECK(dst1.a == big.a);
  /* A newer plugin struct that uses the new field: refused. */
  big.b = "set";
  CHECK_EQ_INT(host_api_normalize(&dst1, sizeof(dst1), &big, big.size, sizeof(struct v1)), -E2BIG);
  /* Smaller than the first published size: refused. */
  CHECK_EQ_INT(host_api_normalize(&dst, sizeof(dst), &small, 4, sizeof(struct v1)), -EINVAL);
}

static void test_signature(void) {
  CHECK(strncmp(MCPD_ABI_SIGNATURE, "mcpd1:ptr", 9) == 0);
  CHECK(strstr(MCPD_ABI_SIGNATURE, ":jansson2:") != NULL);
}

int main(void) {
  RUN(test_host_table);
  RUN(test_host_has_older_host);
  RUN(test_normalize);
  RUN(test_signature);
  TEST_MAIN_END();
}
