// The out-of-line half of the C++/Postgres boundary: turning caught C++ exceptions into
// Postgres ERRORs and Postgres ERRORs into core::Error. See boundary.hpp for the rules.
extern "C" {
#include "postgres.h"

#include "utils/elog.h"
#include "utils/memutils.h"
}

#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "pg/boundary.hpp"

namespace pgpipe::pg {

namespace {

// Copies src into a fixed buffer, truncating; never allocates.
template <size_t N>
void CopyField(char (&dst)[N], const char* src) {
  std::snprintf(dst, N, "%s", src ? src : "");
}

}  // namespace

void CatchInto(CaughtError* out) noexcept {
  out->sqlstate[0] = out->message[0] = out->detail[0] = out->hint[0] = out->context[0] = '\0';
  try {
    throw;
  } catch (const core::Error& e) {
    CopyField(out->sqlstate, e.sqlstate().size() == 5 ? e.sqlstate().c_str() : "XX000");
    CopyField(out->message, e.message());
    CopyField(out->detail, e.detail().c_str());
    CopyField(out->hint, e.hint().c_str());
    CopyField(out->context, e.context().c_str());
  } catch (const std::bad_alloc&) {
    CopyField(out->sqlstate, "53200");
    CopyField(out->message, "out of memory in pg_pipeline");
  } catch (const std::exception& e) {
    CopyField(out->sqlstate, "XX000");
    std::snprintf(out->message, sizeof out->message, "internal error in pg_pipeline: %s", e.what());
  } catch (...) {
    CopyField(out->sqlstate, "XX000");
    CopyField(out->message, "internal error in pg_pipeline: unknown C++ exception");
  }
}

void RaiseCaught(const CaughtError& c) {
  const char* s = c.sqlstate;
  ereport(ERROR, (errcode(MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4])),
                  errmsg_internal("%s", c.message),
                  c.detail[0] ? errdetail_internal("%s", c.detail) : 0,
                  c.hint[0] ? errhint("%s", c.hint) : 0,
                  c.context[0] ? errcontext("%s", c.context) : 0));
  pg_unreachable();
}

void CheckStackOnExit(sigjmp_buf* on_entry, const char* function) noexcept {
  if (PG_exception_stack == on_entry) return;
  PG_exception_stack = on_entry;
  // A bug of ours, not the user's: reported, and the stack is sound again before any ereport.
  elog(WARNING, "pg_pipeline: %s left PG_exception_stack changed; restored it", function);
}

void ThrowPendingPgError(MemoryContext mcx) {
  MemoryContextSwitchTo(mcx);
  ErrorData* edata = CopyErrorData();
  FlushErrorState();
  std::string sqlstate = unpack_sql_state(edata->sqlerrcode);
  std::string message = edata->message ? edata->message : "unknown Postgres error";
  std::string detail = edata->detail ? edata->detail : "";
  std::string hint = edata->hint ? edata->hint : "";
  std::string context = edata->context ? edata->context : "";
  FreeErrorData(edata);
  throw core::Error(std::move(sqlstate), std::move(message), std::move(detail), std::move(hint),
                    std::move(context));
}

}  // namespace pgpipe::pg
