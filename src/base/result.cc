#include "meanwhile/result.h"

#include <cerrno>
#include <cstring>

namespace meanwhile {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::internal:
      return "internal";
    case ErrorCode::invalid_argument:
      return "invalid_argument";
    case ErrorCode::not_found:
      return "not_found";
    case ErrorCode::already_exists:
      return "already_exists";
    case ErrorCode::permission_denied:
      return "permission_denied";
    case ErrorCode::busy:
      return "busy";
    case ErrorCode::resource_exhausted:
      return "resource_exhausted";
    case ErrorCode::unavailable:
      return "unavailable";
    case ErrorCode::io:
      return "io";
    case ErrorCode::closed:
      return "closed";
    case ErrorCode::failed_precondition:
      return "failed_precondition";
  }
  return "internal";
}

ErrorCode posix_error_code(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ESRCH:
      return ErrorCode::not_found;
    case EACCES:
    case EPERM:
      return ErrorCode::permission_denied;
    case EMFILE:
    case ENFILE:
    case EAGAIN:
    case ENOMEM:
      return ErrorCode::resource_exhausted;
    case EBUSY:
      return ErrorCode::busy;
    case EINVAL:
    case ENAMETOOLONG:
      return ErrorCode::invalid_argument;
    case EEXIST:
      return ErrorCode::already_exists;
    default:
      return ErrorCode::io;
  }
}

Error posix_error(const std::string& what, int err, std::string field) {
  return Error{posix_error_code(err), what + ": " + std::strerror(err), err, std::move(field)};
}

}  // namespace meanwhile
