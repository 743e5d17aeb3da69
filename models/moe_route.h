/* The route table: how an MoE layer turns each sub-token's expert probabilities into
 * assignments. A route is one file defining one MoeRoute, plus its line in MOE_ROUTE_LIST
 * (moe_route.c); the `router=` key takes the names, in this order (checkpoints store the
 * index, so new routes go at the end). */
#ifndef MOEH_MOE_ROUTE_H
#define MOEH_MOE_ROUTE_H
#include "moe.h"
#include "util/keys.h"

typedef struct {
    const char *name;  /* the router= value */
    const char *help;
    int balanced;      /* balanced by construction: no balance loss, no loss-free bias */
    int always_capped; /* the capacity applies in evaluation too: no capped evaluation beside
                          the dropless one (they are the same) */
    int sees_batch;    /* a (sub-)token's routing in a dropless evaluation depends on the other
                          tokens of its batch (expert choice: the experts pick among them), so a
                          later token can change an earlier one's output: refused on causal
                          tasks (model_route_check). test_moe's causality test holds every
                          route to this flag, both ways. */
    /* routed assignment slots the layer's buffers need for S sub-tokens, at any capacity the
     * route accepts */
    long (*max_assignments)(const MoeShape *s, int S);
    /* From L->select (which experts) and L->probs (gates), the routed assignments 0 .. n-1:
     * L->choice, L->asg_token, L->gate, L->slot (the row within its expert's block, -1 when
     * capacity drops it), L->count[0 .. N), L->frac (share of top-1 choices, for the balance
     * loss; 0 when balanced) and L->stats.dropped. With L->freeze_routing only the gates (and
     * frac) are recomputed. Returns n. */
    int (*route)(MoeLayer *L, int capped); /* capped: the capacity applies (training, or an
                                              evaluation at the training capacity) */
    /* adds d(objective)/d(probs) from L->dgate of the routed assignments into L->dprobs */
    void (*backward)(MoeLayer *L);
    /* NULL if the route can run this shape and capacity, else why (naming the key) */
    const char *(*check)(const MoeShape *s, double capacity);
    /* the route's own keys (whole numbers, at most MOE_ROUTE_ARGS, each with omit_at_default):
     * their values reach the route as MoeShape.route_arg[i], 0 meaning the declared default */
    const KeyDef *keys;
    int n_keys;
} MoeRoute;

/* Token choice, for the routes that pick per sub-token (route_topk.c): each sub-token takes
 * the topk experts of highest L->select[e] * scale[e] (scale NULL: 1), gates the chosen
 * probabilities renormalised over the k, capacity served rank by rank in token order. */
int moe_route_token_choice(MoeLayer *L, int training, const float *scale);
void moe_route_token_choice_backward(MoeLayer *L);

extern const MoeRoute *const MOE_ROUTES[];
extern const int MOE_ROUTE_COUNT;
/* index in MOE_ROUTES, -1 if none has that name */
int moe_route_find(const char *name);
/* the names joined by '|' (for the router= key's help and checking) */
const char *moe_route_names(void);

#endif
