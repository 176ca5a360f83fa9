// The job store's schema (internal to store.cc).
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

#include "meanwhile/result.h"

namespace meanwhile::store_schema {

// Creates the tables (or checks that their version is one this build knows) and the database's
// uuid, in one BEGIN IMMEDIATE transaction. Returns the uuid.
Result<std::string> init(sqlite3* db);

// "job store: WHAT: sqlite's message", coded from the connection's last error: busy for
// SQLITE_BUSY and SQLITE_LOCKED (another process holds the lock: retry), io for I/O, a full disk
// and a corrupt file, permission_denied for SQLITE_READONLY/SQLITE_PERM, else internal. Call it
// before anything (a rollback) resets that error.
Error sqlite_error(sqlite3* db, std::string_view what);

}  // namespace meanwhile::store_schema
