/* env.c — struct probe_env: the loop-wide resources the probes of one loop share (ICMP sockets,
 * the tcp probes' epoll fd, c-ares channels, the libcurl multi handle, TLS credentials), each
 * made on first use so that a loop pays only for the kinds of probes it runs. See
 * probe_type.h. */
#include "probe/probe_internal.h"

#include <stdio.h>
#include <stdlib.h>

struct probe_env *probe_env_new(uv_loop_t *loop, char *err, size_t errlen)
{
    struct probe_env *env = calloc(1, sizeof *env);
    if (!env) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    env->loop = loop;
    return env;
}

void probe_env_hold(struct probe_env *env)
{
    env->holds++;
}

void probe_env_release(struct probe_env *env)
{
    if (--env->holds == 0 && env->closing)
        free(env);
}

void probe_env_close(struct probe_env *env)
{
    if (!env)
        return;
    env->closing = true;
    probe_env_hold(env); /* released below, so an env with nothing open is freed here */
    icmp_close_all(env);
    probe_curl_close(env);
    probe_ares_close_all(env);
    probe_tls_free_credentials(env);
    sockwatch_close(env);
    probe_env_release(env);
}
