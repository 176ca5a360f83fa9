// The job store's schema (internal to store.cc).
#pragma once

#include <sqlite3.h>

#include <string>

#include "meanwhile/result.h"

namespace meanwhile::store_schema {

// Creates the tables (or checks that their version is one this build knows) and the database's
// uuid, in one BEGIN IMMEDIATE transaction. Returns the uuid.
Result<std::string> init(sqlite3* db);

}  // namespace meanwhile::store_schema
