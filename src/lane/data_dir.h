// The data directory (<workspace>/.meanwhile by default) holds the job store, the logs and the
// transcripts: private to its user. A repository can ship a `.meanwhile/`, so what is found
// there is checked before it is used.
#pragma once

#include <string>

#include "meanwhile/result.h"

namespace meanwhile {

// Creates `dir` and `dir/logs` (0700) if needed, and checks them: refused when owned by another
// user, or when `dir` is a symbolic link and `refuse_symlink` (the default location inside a
// workspace, which a cloned repository controls). Tightens existing modes to 0700 / 0600
// (jobs.db and its -wal/-shm, logs) and writes `dir/.gitignore` (`*`) so the directory never
// shows in `git status`. Creates jobs.db as 0600 before SQLite opens it (SQLite gives its WAL
// files the database file's mode).
Status prepare_data_dir(const std::string& dir, bool refuse_symlink);

}  // namespace meanwhile
