// The one way pg_pipeline waits: on the process latch (and optionally a file descriptor), for
// at most a given time, serving interrupts (cancel, terminate, statement_timeout) when it wakes.
#pragma once

namespace pgpipe::pg {

// Sleeps until the latch is set, `fd` (when >= 0) is readable, or `timeout_ms` passes; then
// checks for interrupts, so a cancel comes back as a thrown core::Error 57014.
void WaitOnLatch(long timeout_ms, int fd = -1);

}  // namespace pgpipe::pg
