// Writing SQL text from C++ without Postgres: identifiers and literals quoted the way the
// server reads them. Used to build the statements the executor runs.
#pragma once

#include <string>
#include <vector>

namespace pgpipe::core {

// "name" with embedded quotes doubled; always quoted, so case and keywords are kept.
std::string QuoteIdent(const std::string& name);

// schema.table, both quoted.
std::string QualifiedName(const std::string& schema, const std::string& table);

// 'text' with embedded quotes doubled (an E'' literal when it holds a backslash).
std::string QuoteLiteral(const std::string& text);

// Comma-separated quoted identifiers.
std::string IdentList(const std::vector<std::string>& names);

}  // namespace pgpipe::core
