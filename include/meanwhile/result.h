// Result<T>: a value or an Error. The public API never throws; every call that can fail
// returns one of these. An Error carries a code that callers decide by (never by its text), the
// errno behind it when there is one, the argument at fault when there is one, and a message
// written for a person (or a model) to act on.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace meanwhile {

// What kind of failure: callers branch on this, and the tests assert it.
enum class ErrorCode {
  internal,             // a broken invariant or an unclassified failure
  invalid_argument,     // the request is wrong: fix it (the field says which part)
  not_found,            // no such job, file or directory
  already_exists,       // e.g. a job id taken by another store
  permission_denied,    // EACCES, EPERM
  busy,                 // the store is locked by another process: try again
  resource_exhausted,   // out of fds, processes or memory (EMFILE, EAGAIN, ENOMEM): transient
  unavailable,          // a service (the store, a cluster controller) cannot be reached now
  io,                   // reading or writing failed (EIO, ENOSPC, …)
  closed,               // the lane or the object is closing or closed
  failed_precondition,  // the call is valid but not now (e.g. stdin of a job without a pipe)
};

// The code's name as written in docs and JSON ("not_found").
const char* error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;
  int sys_errno = 0;  // the errno behind it, or 0
  std::string field;  // the argument at fault ("watch", "filter", "cwd"), or empty
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // The value. Calling these on an error is a programming error: it prints the error and
  // aborts (a clear report rather than std::bad_variant_access escaping as an exception).
  T& value() & { return *checked(); }
  const T& value() const& { return *checked(); }
  T&& value() && { return std::move(*checked()); }
  T* operator->() { return checked(); }
  const T* operator->() const { return checked(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // The error's message, code and details. On a value: an empty message and ErrorCode::internal
  // (so that logging a result never fails).
  const std::string& error() const { return error_info().message; }
  ErrorCode code() const { return error_info().code; }
  const Error& error_info() const {
    static const Error none{};
    const Error* e = std::get_if<1>(&v_);
    return e != nullptr ? *e : none;
  }

 private:
  T* checked() const {
    const T* value = std::get_if<0>(&v_);
    if (value == nullptr) {
      std::fprintf(stderr, "meanwhile: Result::value() called on an error (%s): %s\n",
                   error_code_name(code()), error().c_str());
      std::abort();
    }
    return const_cast<T*>(value);
  }

  std::variant<T, Error> v_;
};

// For calls that return nothing on success.
struct Ok {};
using Status = Result<Ok>;

// An unclassified error (ErrorCode::internal). Prefer the coded forms below where a caller
// might act on the kind.
inline Error make_error(std::string message) {
  return Error{ErrorCode::internal, std::move(message), 0, {}};
}

inline Error make_error(ErrorCode code, std::string message, std::string field = {}) {
  return Error{code, std::move(message), 0, std::move(field)};
}

// The same error (code, errno, field) with its message prefixed: "PREFIX" + message.
inline Error with_prefix(std::string prefix, Error error) {
  error.message.insert(0, prefix);
  return error;
}

// The same error naming the argument at fault.
inline Error with_field(std::string field, Error error) {
  error.field = std::move(field);
  return error;
}

// The one way to build an error from errno: "WHAT: strerror(err)", with the code derived from
// err (posix_error_code) and err kept.
Error posix_error(const std::string& what, int err, std::string field = {});

// The code an errno value maps to: ENOENT/ENOTDIR/ESRCH not_found, EACCES/EPERM
// permission_denied, EMFILE/ENFILE/EAGAIN/ENOMEM resource_exhausted, EBUSY busy,
// EINVAL/ENAMETOOLONG invalid_argument, EEXIST already_exists, anything else (EIO, ENOSPC) io.
ErrorCode posix_error_code(int err);

}  // namespace meanwhile
