// Argument and result conversions: see fmgr_args.hpp.
extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
}

#include "pg/boundary.hpp"
#include "pg/fmgr_args.hpp"

namespace pgpipe::pg {

bool ArgIsNull(FunctionCallInfo fcinfo, int n) {
  return PG_NARGS() <= n || PG_ARGISNULL(n);
}

std::string TextArg(FunctionCallInfo fcinfo, int n) {
  if (ArgIsNull(fcinfo, n)) return {};
  const char* value = PgCall([&] { return text_to_cstring(PG_GETARG_TEXT_PP(n)); });
  return value;
}

Datum TextResult(const std::string& s) {
  return PgCall([&] {
    return PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size())));
  });
}

Datum JsonbResult(const std::string& json) {
  const char* text = json.c_str();
  return PgCall([&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(text)); });
}

}  // namespace pgpipe::pg
