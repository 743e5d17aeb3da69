#include "util/stop.h"
#include <signal.h>

static volatile sig_atomic_t requested = 0;

void stop_request(void) { requested = 1; }
int stop_requested(void) { return requested != 0; }
