/* canary.h — the server's own connectivity: every RCA_CANARY_INTERVAL it probes each RCA_CANARIES
 * host ("gateway" = its default gateway) by ICMP echo and, when that gets no answer, by a TCP
 * connect (a refusal counts as an answer). One answering canary means the server is connected;
 * none answering means the server itself is cut off, and silence from workers says nothing
 * about them.
 *
 * Canaries only count once one of them has answered since the server started: on a host where
 * they can never answer (no route, ICMP and TCP filtered) the server would otherwise call
 * itself cut off for ever. Until then, and when RCA_CANARIES is "none", canaries_guarding() is
 * false and DOWN detection does not wait for them.
 *
 * Probes run on the loop (src/probe: ping, then the tcp type of the probe table); state is read
 * and changed on the loop thread only. */
#ifndef FAULTLINE_CANARY_H
#define FAULTLINE_CANARY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "server/settings.h"

struct canaries;

/* Called on the loop thread when the verdict changes: cut_off true when no canary answered the
 * last round. evidence is a JSON object (borrowed for the call) with each canary's result. */
typedef void (*canary_change_cb)(bool cut_off, json_t *evidence, void *ctx);

/* Starts probing (first round at once). Returns NULL with err set when RCA_CANARIES is bad. */
struct canaries *canaries_start(uv_loop_t *loop, const struct rca_settings *settings,
                                canary_change_cb on_change, void *ctx, char *err, size_t errlen);

/* Stops the timer and the round in flight (its probes are cancelled); the state is freed once
 * the handles are closed (the loop must run on). NULL is a no-op. */
void canaries_stop(struct canaries *c);

/* True when canaries are configured and one has answered since start. */
bool canaries_guarding(const struct canaries *c);

/* True when the last finished round got no answer (only meaningful while guarding). */
bool canaries_cut_off(const struct canaries *c);

/* True once a round that started at or after since_mono has a verdict: an answer from any
 * canary, or no answer from all of them. Otherwise starts such a round (unless one is
 * running, in which case another follows it) and returns false. */
bool canaries_verdict_since(struct canaries *c, int64_t since_mono);

/* {"guarding":bool,"cut_off":bool,"checked_at":ISO|null,"canaries":[{"target","addr","icmp",
 * "tcp","answered","rtt_ms","error"}]} — a new reference. */
json_t *canaries_json(const struct canaries *c);

#endif
