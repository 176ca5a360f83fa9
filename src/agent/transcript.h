// Session transcripts: JSONL, one conversation message per line, in
// <data_dir>/sessions/<YYYYmmdd-HHMMSS>-<pid>.jsonl. A message is written once it is settled
// (sent to the model and answered), with one write() per line so a crash never leaves half a
// message behind more than once at the end (which loading skips).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lane/unique_fd.h"
#include "meanwhile/result.h"

namespace meanwhile::agent {

class Transcript {
 public:
  // Creates a new, empty session file (and the sessions directory).
  static Result<Transcript> create(const std::string& sessions_dir);
  // Opens the newest session for appending and returns its messages, repaired so they can be
  // sent again (see repair_conversation); what was repaired or skipped goes to `warnings`.
  static Result<Transcript> open_latest(const std::string& sessions_dir, nlohmann::json* messages,
                                        std::vector<std::string>* warnings);

  Status append(const nlohmann::json& message);
  const std::string& path() const { return path_; }

 private:
  Transcript(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  UniqueFd fd_;
};

// Reads a transcript file's messages (unparseable lines are skipped, with a warning).
Result<nlohmann::json> read_transcript(const std::string& path, std::vector<std::string>* warnings);

}  // namespace meanwhile::agent
