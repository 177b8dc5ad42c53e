// The one error type of the Postgres-free zone. It carries what an ereport needs (SQLSTATE,
// message, detail, hint, context) as plain strings, so the boundary in src/pg can turn it into
// a Postgres ERROR after every C++ destructor has run. (Headers of src/core do not include
// pg_free.hpp: src/pg includes them after postgres.h; only core .cpp files do.)
#pragma once

#include <stdexcept>
#include <string>

namespace pgpipe::core {

// Standard SQLSTATEs the core zone raises; the closest one wins (STYLE.md, "Errors users see").
namespace sqlstate {
inline constexpr const char* kInvalidParameterValue = "22023";
inline constexpr const char* kBadCopyFileFormat = "22P04";
inline constexpr const char* kCharacterNotInRepertoire = "22021";
inline constexpr const char* kSyntaxError = "42601";
inline constexpr const char* kInvalidObjectDefinition = "42P17";
inline constexpr const char* kDuplicateObject = "42710";
inline constexpr const char* kUndefinedObject = "42704";
inline constexpr const char* kUndefinedTable = "42P01";
inline constexpr const char* kInvalidName = "42602";
inline constexpr const char* kDatatypeMismatch = "42804";
inline constexpr const char* kUndefinedParameter = "42P02";
inline constexpr const char* kConnectionFailure = "08006";
inline constexpr const char* kConnectionException = "08000";
inline constexpr const char* kQueryCanceled = "57014";
inline constexpr const char* kProgramLimitExceeded = "54000";
inline constexpr const char* kInsufficientPrivilege = "42501";
inline constexpr const char* kDataCorrupted = "XX001";
inline constexpr const char* kDataException = "22000";
inline constexpr const char* kInternalError = "XX000";
inline constexpr const char* kExternalRoutineException = "38000";
inline constexpr const char* kIoError = "58030";
inline constexpr const char* kCheckViolation = "23514";
inline constexpr const char* kFeatureNotSupported = "0A000";
inline constexpr const char* kObjectNotInPrerequisiteState = "55000";
inline constexpr const char* kInvalidTransactionState = "25000";
inline constexpr const char* kInvalidColumnReference = "42P10";
inline constexpr const char* kUndefinedColumn = "42703";
inline constexpr const char* kNotNullViolation = "23502";
inline constexpr const char* kCardinalityViolation = "21000";
}  // namespace sqlstate

// An error raised by pg_pipeline code, with the fields of a Postgres ErrorData.
class Error : public std::runtime_error {
 public:
  Error(std::string sqlstate, std::string message, std::string detail = {},
        std::string hint = {}, std::string context = {})
      : std::runtime_error(message),
        sqlstate_(std::move(sqlstate)),
        detail_(std::move(detail)),
        hint_(std::move(hint)),
        context_(std::move(context)) {}

  const std::string& sqlstate() const { return sqlstate_; }
  const char* message() const { return what(); }
  const std::string& detail() const { return detail_; }
  const std::string& hint() const { return hint_; }
  const std::string& context() const { return context_; }

  // Returns a copy with one more context line (innermost first, as Postgres prints them).
  Error WithContext(const std::string& line) const {
    return Error(sqlstate_, what(), detail_, hint_,
                 context_.empty() ? line : context_ + "\n" + line);
  }

 private:
  std::string sqlstate_;
  std::string detail_;
  std::string hint_;
  std::string context_;
};

}  // namespace pgpipe::core
