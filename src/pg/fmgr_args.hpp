// Reading SQL arguments into C++ values and making SQL results from them, through PgCall.
#pragma once

#include <string>

namespace pgpipe::pg {

// Argument `n` of a text parameter as a std::string ("" when NULL).
std::string TextArg(FunctionCallInfo fcinfo, int n);

// True when argument `n` is SQL NULL.
bool ArgIsNull(FunctionCallInfo fcinfo, int n);

// A text Datum holding `s`, in the current memory context.
Datum TextResult(const std::string& s);

// A jsonb Datum parsed from JSON text `json`.
Datum JsonbResult(const std::string& json);

}  // namespace pgpipe::pg
