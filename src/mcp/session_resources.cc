// Session: job logs as resources (meanwhile://jobs/{id}/log), so that clients that attach
// resources (Claude Code's @-mentions) can attach a log. resources/list gives the live jobs,
// resources/read a range of one log, resources/subscribe an update when the job starts or ends.
#include <charconv>

#include <fmt/format.h>

#include "mcp/params.h"
#include "mcp/session.h"
#include "tools/format.h"

namespace meanwhile::mcp {
namespace {

// The spec's code for a resource that does not exist.
constexpr int kResourceNotFound = -32002;
constexpr std::string_view kPrefix = "meanwhile://jobs/";
constexpr std::string_view kSuffix = "/log";
constexpr std::size_t kDefaultLines = 200;
constexpr std::size_t kMaxLines = 100000;
constexpr std::size_t kMaxReadBytes = 1 << 20;

std::string log_uri(const JobId& id) {
  return std::string(kPrefix) + id + std::string(kSuffix);
}

// "meanwhile://jobs/12/log?tail=50": the job id and the read it asks for.
struct LogUri {
  JobId id;
  ReadMode mode = ReadMode::tail;
  std::size_t lines = kDefaultLines;
};

Result<LogUri> parse_log_uri(std::string_view uri) {
  const auto bad = [&] {
    return make_error(ErrorCode::invalid_argument,
                      "Invalid params: uri: expected meanwhile://jobs/{id}/log (optionally "
                      "?tail=N, ?head=N or ?all), got \"" +
                          std::string(uri.substr(0, 200)) + "\"");
  };
  if (uri.substr(0, kPrefix.size()) != kPrefix) return bad();
  std::string_view rest = uri.substr(kPrefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash > 19) return bad();
  LogUri out;
  out.id = std::string(rest.substr(0, slash));
  for (char c : out.id)
    if (c < '0' || c > '9') return bad();
  rest = rest.substr(slash);
  std::string_view query;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (rest != kSuffix) return bad();
  if (query.empty()) return out;
  if (query == "all") {
    out.mode = ReadMode::all;
    return out;
  }
  const auto eq = query.find('=');
  if (eq == std::string_view::npos) return bad();
  const std::string_view key = query.substr(0, eq), value = query.substr(eq + 1);
  if (key != "tail" && key != "head") return bad();
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n == 0 || n > kMaxLines)
    return bad();
  out.mode = key == "tail" ? ReadMode::tail : ReadMode::head;
  out.lines = n;
  return out;
}

}  // namespace

void Session::list_resources(const json& id, const json& params) {
  auto cursor = params.find("cursor");
  if (cursor != params.end() && !cursor->is_null()) {
    return respond_error(id, jsonrpc::kInvalidParams,
                         "Invalid params: cursor: not a cursor this server returned");
  }
  json resources = json::array();
  for (const JobInfo& job : lane_.list(0)) {  // the live jobs: queued or running
    if (is_terminal(job.status)) continue;
    resources.push_back({{"uri", log_uri(job.id)},
                         {"name", "task-" + job.id + "-log"},
                         {"title", "task " + job.id + " log"},
                         {"description", format_job_line(job)},
                         {"mimeType", "text/plain"},
                         {"size", job.bytes_logged}});
  }
  respond(id, json{{"resources", std::move(resources)}});
}

void Session::list_resource_templates(const json& id, const json&) {
  respond(id, json{{"resourceTemplates",
                    json::array({{{"uriTemplate", "meanwhile://jobs/{id}/log"},
                                  {"name", "job-log"},
                                  {"title", "A background job's output"},
                                  {"description",
                                   "The output of task {id}: the last 200 lines by default; "
                                   "add ?tail=N or ?head=N for N lines, or ?all for all of it "
                                   "(at most 1 MiB, cut in the middle)."},
                                  {"mimeType", "text/plain"}}})}});
}

void Session::read_resource(const json& id, const json& params) {
  auto uri = required_string(params, "uri");
  if (!uri) return respond_error(id, jsonrpc::kInvalidParams, uri.error());
  auto parsed = parse_log_uri(*uri);
  if (!parsed) return respond_error(id, jsonrpc::kInvalidParams, parsed.error());
  ReadRequest read;
  read.id = parsed->id;
  read.mode = parsed->mode;
  read.lines = parsed->lines;
  read.reader = "mcp-resource";
  read.max_bytes = kMaxReadBytes;
  auto output = lane_.read_output(read);
  if (!output) {
    if (output.error_info().code == ErrorCode::not_found)
      return respond_error(id, kResourceNotFound, "Resource not found: " + *uri);
    return respond_error(id, jsonrpc::kInternalError,
                         "cannot read " + *uri + ": " + output.error());
  }
  respond(
      id,
      json{{"contents",
            json::array({{{"uri", *uri}, {"mimeType", "text/plain"}, {"text", output->text}}})}});
}

void Session::subscribe_resource(const json& id, const json& params, bool subscribe) {
  auto uri = required_string(params, "uri");
  if (!uri) return respond_error(id, jsonrpc::kInvalidParams, uri.error());
  auto parsed = parse_log_uri(*uri);
  if (!parsed) return respond_error(id, jsonrpc::kInvalidParams, parsed.error());
  if (subscribe && !lane_.get(parsed->id))
    return respond_error(id, kResourceNotFound, "Resource not found: " + *uri);
  {
    std::lock_guard lock(subscriptions_mu_);
    if (subscribe)
      subscriptions_.insert(parsed->id);
    else
      subscriptions_.erase(parsed->id);
  }
  respond(id, json::object());
}

// On the events thread, for every status change of one of our jobs.
void Session::announce_resource_changes(const JobInfo& job) {
  bool subscribed = false;
  {
    std::lock_guard lock(subscriptions_mu_);
    subscribed = subscriptions_.count(job.id) > 0;
  }
  if (subscribed) {
    outbox_.send(jsonrpc::make_notification("notifications/resources/updated",
                                            json{{"uri", log_uri(job.id)}}),
                 /*droppable=*/true);
  }
  // The live list changes when a job starts or ends.
  if (job.status == JobStatus::running || is_terminal(job.status)) {
    outbox_.send(jsonrpc::make_notification("notifications/resources/list_changed", json::object()),
                 /*droppable=*/true);
  }
}

}  // namespace meanwhile::mcp
