// Maps the text of a YAML scalar back onto the file it came from, so that an error at some
// offset inside a block's SQL points at the file's own line and column.
#pragma once

#include <string>

#include "core/spec.hpp"

namespace YAML {
class Node;
}

namespace pgpipe::core {

// Locates the scalar `node` (loaded from `file`) byte by byte. Each byte of the text that is not
// blank is matched to the next equal byte of the file, skipping only blanks and line breaks:
// that undoes indentation, folding and line joining exactly, for plain, quoted, literal (|)
// and folded (>) scalars ('' in a single-quoted one is one quote). An escape of a double-quoted
// scalar (\t, \", \x41, an escaped line break) has no equal byte in the file: an exact column
// is impossible from there on, so matching stops and later offsets are reported at the
// scalar's start. A node without a position gives an empty result.
TextPosition LocateScalar(const std::string& file, const YAML::Node& node);

}  // namespace pgpipe::core
