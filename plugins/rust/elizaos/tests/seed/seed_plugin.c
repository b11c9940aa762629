/* A native plugin written from the seed README's "FFI Exports" list alone: the eight C
 * functions, plain JSON strings allocated with malloc and released by elizaos_free_string,
 * int statuses, NULL on failure. No elizaos_last_error, no elizaos_abi_version. The manifest
 * carries elizaOS members the interop protocol does not define (must-ignore, protocol.md 1). */
#include <stdlib.h>
#include <string.h>

static int initialised = 0;

static char *dup_json(const char *text) {
    size_t n = strlen(text) + 1;
    char *out = malloc(n);
    if (out != NULL) memcpy(out, text, n);
    return out;
}

char *elizaos_get_manifest(void) {
    return dup_json(
        "{\"name\":\"@seed/plugin-greeter\",\"description\":\"Greets\",\"version\":\"0.1.0\","
        "\"language\":\"c\",\"priority\":5,\"dependencies\":[\"@elizaos/plugin-sql\"],"
        "\"config\":{\"GREETING\":null},"
        "\"actions\":[{\"name\":\"greet\",\"description\":\"Say hello\",\"similes\":[\"HELLO\"],"
        "\"examples\":[[{\"name\":\"user\",\"content\":{\"text\":\"hi\"}}]]}],"
        "\"providers\":[{\"name\":\"clock\",\"description\":\"A fixed time\",\"position\":3}],"
        "\"evaluators\":[]}");
}

int elizaos_init(const char *config_json) {
    if (config_json == NULL) return -2;
    initialised = 1;
    return 0;
}

int elizaos_validate_action(const char *name, const char *memory_json, const char *state_json) {
    (void)memory_json;
    (void)state_json;
    if (name == NULL) return -2;
    return strcmp(name, "greet") == 0 ? 1 : -1;
}

char *elizaos_invoke_action(const char *name, const char *memory_json, const char *state_json,
                            const char *options_json) {
    (void)memory_json;
    (void)state_json;
    (void)options_json;
    if (name == NULL || strcmp(name, "greet") != 0) return NULL;
    return dup_json("{\"success\":true,\"text\":\"Hello from C!\",\"extra\":{\"kept\":true}}");
}

char *elizaos_get_provider(const char *name, const char *memory_json, const char *state_json) {
    (void)memory_json;
    (void)state_json;
    if (name == NULL || strcmp(name, "clock") != 0) return NULL;
    return dup_json("{\"text\":\"It is noon.\",\"values\":{\"hour\":12}}");
}

int elizaos_validate_evaluator(const char *name, const char *memory_json, const char *state_json) {
    (void)name;
    (void)memory_json;
    (void)state_json;
    return -1;
}

char *elizaos_invoke_evaluator(const char *name, const char *memory_json, const char *state_json) {
    (void)name;
    (void)memory_json;
    (void)state_json;
    return NULL;
}

void elizaos_free_string(char *ptr) { free(ptr); }
