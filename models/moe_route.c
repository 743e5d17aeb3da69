#include "moe_route.h"
#include "util/keys.h"
#include <string.h>

/* one line per route, in router= index order (append only: checkpoints store the index) */
#define MOE_ROUTE_LIST(X) \
    X(moe_route_topk)     \
    X(moe_route_expert_choice) \
    X(moe_route_sinkhorn)

#define DECLARE(r) extern const MoeRoute r;
#define ADDRESS(r) &r,
MOE_ROUTE_LIST(DECLARE)
const MoeRoute *const MOE_ROUTES[] = {MOE_ROUTE_LIST(ADDRESS)};
const int MOE_ROUTE_COUNT = (int)(sizeof MOE_ROUTES / sizeof MOE_ROUTES[0]);

int moe_route_find(const char *name) {
    for (int i = 0; i < MOE_ROUTE_COUNT; i++)
        if (!strcmp(MOE_ROUTES[i]->name, name)) return i;
    return -1;
}

static const char *route_name(int i) { return MOE_ROUTES[i]->name; }

const char *moe_route_names(void) {
    static char names[1024];
    return names[0] ? names : key_join_names(names, sizeof names, route_name, MOE_ROUTE_COUNT);
}
