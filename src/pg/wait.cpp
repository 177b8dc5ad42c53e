// Waiting on the latch: see wait.hpp.
extern "C" {
#include "postgres.h"

#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/wait_event.h"
}

#include "pg/boundary.hpp"
#include "pg/wait.hpp"

namespace pgpipe::pg {

void WaitOnLatch(long timeout_ms, int fd) {
  PgCall([&] {
    int events = WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH;
    int rc = fd >= 0 ? WaitLatchOrSocket(MyLatch, events | WL_SOCKET_READABLE, fd, timeout_ms,
                                         PG_WAIT_EXTENSION)
                     : WaitLatch(MyLatch, events, timeout_ms, PG_WAIT_EXTENSION);
    if (rc & WL_LATCH_SET) ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
  });
}

}  // namespace pgpipe::pg
