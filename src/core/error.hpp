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
inline constexpr const char* kReservedName = "42939";
}  // namespace sqlstate

// Whether trying again can help, as far as the code that raised an error knows. kUnknown errors
// are classified by their SQLSTATE (ClassifyForRetry in retry_class.hpp).
enum class RetryClass {
  kUnknown,    // the raiser does not say
  kTransient,  // a dropped connection, a timeout, HTTP 429/503...: retry per the block's policy
  kPermanent,  // HTTP 404, a refused URL, a limit hit: the same attempt fails the same way
};

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

  RetryClass retry_class() const { return retry_class_; }
  // Seconds the server asked us to wait before trying again (HTTP Retry-After), 0 = not said.
  double retry_after_s() const { return retry_after_s_; }

  // Records whether a retry can help and, when the server said so, after how many seconds.
  Error& SetRetry(RetryClass retry_class, double retry_after_s = 0) {
    retry_class_ = retry_class;
    retry_after_s_ = retry_after_s > 0 ? retry_after_s : 0;
    return *this;
  }

  // Returns a copy with one more context line (innermost first, as Postgres prints them); the
  // retry class and delay travel with it.
  Error WithContext(const std::string& line) const {
    Error copy(sqlstate_, what(), detail_, hint_,
               context_.empty() ? line : context_ + "\n" + line);
    copy.SetRetry(retry_class_, retry_after_s_);
    return copy;
  }

 private:
  std::string sqlstate_;
  std::string detail_;
  std::string hint_;
  std::string context_;
  RetryClass retry_class_ = RetryClass::kUnknown;
  double retry_after_s_ = 0;
};

}  // namespace pgpipe::core
