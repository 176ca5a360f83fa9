#include "llm/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>

namespace meanwhile::llm {

namespace {

constexpr std::size_t kMaxErrorBody = 1u << 20;
constexpr long kPollTickMs = 50;  // upper bound on how late a cancel is noticed

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// What the libcurl callbacks see during one transfer.
struct Transfer {
  const HttpClient::Sink* sink = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  HttpOutcome outcome;
  bool sink_failed = false;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  HttpOutcome& out = transfer->outcome;
  if (line.starts_with("HTTP/")) {
    // A new response (after "100 Continue" or a redirect): forget the previous one's headers.
    out.content_type.clear();
    out.retry_after.reset();
    std::string_view rest =
        line.substr(line.find(' ') == std::string_view::npos ? line.size() : line.find(' ') + 1);
    long status = 0;
    std::from_chars(rest.data(), rest.data() + rest.size(), status);
    out.status = status;
    std::size_t space = rest.find(' ');
    out.reason = space == std::string_view::npos ? "" : std::string(trim(rest.substr(space + 1)));
    return line.size();
  }
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return line.size();
  std::string name = lower(trim(line.substr(0, colon)));
  std::string_view value = trim(line.substr(colon + 1));
  if (name == "content-type") {
    out.content_type = lower(value);
  } else if (name == "retry-after") {
    out.retry_after = parse_retry_after(value);
  }
  return line.size();
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string_view bytes(data, size * count);
  HttpOutcome& out = transfer->outcome;
  if (out.status >= 200 && out.status < 300) {
    if (!(*transfer->sink)(bytes)) {
      transfer->sink_failed = true;
      return 0;  // any count other than bytes.size() aborts with CURLE_WRITE_ERROR
    }
  } else if (out.body.size() < kMaxErrorBody) {
    out.body.append(bytes.substr(0, kMaxErrorBody - out.body.size()));
  }
  return bytes.size();
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  return transfer->cancel && transfer->cancel->load() ? 1 : 0;
}

struct UrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};

// True when `url` names this machine (localhost, 127.0.0.0/8, ::1). A proxy from the environment
// cannot reach our loopback, so those requests go direct; everything else keeps libcurl's
// http_proxy / https_proxy / no_proxy handling.
bool is_loopback_url(const std::string& url) {
  std::unique_ptr<CURLU, UrlDeleter> parsed(curl_url());
  if (!parsed || curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return false;
  }
  char* host = nullptr;
  if (curl_url_get(parsed.get(), CURLUPART_HOST, &host, 0) != CURLUE_OK || !host) return false;
  std::string name = lower(host);
  curl_free(host);
  return name == "localhost" || name.ends_with(".localhost") || name.starts_with("127.") ||
         name == "[::1]";
}

void global_init_once() {
  static std::once_flag flag;
  std::call_once(flag, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

struct HttpClient::Handles {
  CURL* easy = nullptr;
  CURLM* multi = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  ~Handles() {
    if (easy) curl_easy_cleanup(easy);
    if (multi) curl_multi_cleanup(multi);
  }
};

HttpClient::HttpClient() : handles_(std::make_unique<Handles>()) {
  global_init_once();
  handles_->easy = curl_easy_init();
  handles_->multi = curl_multi_init();
}

HttpClient::~HttpClient() = default;

HttpOutcome HttpClient::post(const std::string& url, const std::vector<std::string>& headers,
                             const std::string& body, const Sink& sink,
                             const std::atomic<bool>* cancel, std::chrono::milliseconds timeout) {
  std::lock_guard lock(mutex_);
  Transfer transfer;
  transfer.sink = &sink;
  transfer.cancel = cancel;
  CURL* easy = handles_->easy;
  CURLM* multi = handles_->multi;
  if (!easy || !multi) {
    transfer.outcome.kind = HttpOutcome::Kind::connection_error;
    transfer.outcome.error = "libcurl could not be initialised";
    return transfer.outcome;
  }

  Slist header_list;
  for (const std::string& header : headers) {
    curl_slist* grown = curl_slist_append(header_list.get(), header.c_str());
    if (grown) {
      (void)header_list.release();
      header_list.reset(grown);
    }
  }
  // No "Expect: 100-continue" round trip before large bodies.
  if (curl_slist* grown = curl_slist_append(header_list.get(), "Expect:")) {
    (void)header_list.release();
    header_list.reset(grown);
  }

  handles_->error[0] = '\0';
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "meanwhile/" MEANWHILE_VERSION);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  // NULL restores the default: the no_proxy environment variable decides.
  curl_easy_setopt(easy, CURLOPT_NOPROXY, is_loopback_url(url) ? "*" : nullptr);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, handles_->error);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  long timeout_ms = static_cast<long>(std::max<std::int64_t>(1, timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms, 30000L));

  bool cancelled = false;
  CURLcode result = CURLE_OK;
  std::string multi_error;
  curl_multi_add_handle(multi, easy);
  for (;;) {
    int running = 0;
    CURLMcode code = curl_multi_perform(multi, &running);
    if (code != CURLM_OK) {
      multi_error = curl_multi_strerror(code);
      break;
    }
    if (running == 0) break;
    if (cancel && cancel->load()) {
      cancelled = true;
      break;
    }
    code = curl_multi_poll(multi, nullptr, 0, kPollTickMs, nullptr);
    if (code != CURLM_OK) {
      multi_error = curl_multi_strerror(code);
      break;
    }
  }
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
    if (message->msg == CURLMSG_DONE && message->easy_handle == easy) {
      result = message->data.result;
    }
  }
  curl_multi_remove_handle(multi, easy);
  // The list and the callbacks' state die with this call; don't leave the handle pointing at them.
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, nullptr);

  HttpOutcome& out = transfer.outcome;
  if (cancelled || result == CURLE_ABORTED_BY_CALLBACK) {
    out.kind = HttpOutcome::Kind::cancelled;
  } else if (transfer.sink_failed) {
    out.kind = HttpOutcome::Kind::sink_failed;
  } else if (!multi_error.empty()) {
    out.kind = HttpOutcome::Kind::connection_error;
    out.error = multi_error;
  } else if (result != CURLE_OK) {
    out.kind = HttpOutcome::Kind::connection_error;
    out.error = handles_->error[0] ? handles_->error : curl_easy_strerror(result);
  } else {
    out.kind = HttpOutcome::Kind::response;
  }
  return out;
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  constexpr double kMaxSeconds = 24 * 3600;
  if (std::all_of(value.begin(), value.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; })) {
    double seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc() || end != value.data() + value.size() || !std::isfinite(seconds)) {
      return std::nullopt;
    }
    seconds = std::clamp(seconds, 0.0, kMaxSeconds);
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
  }
  std::string date(value);
  time_t when = curl_getdate(date.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  double seconds = std::clamp(std::difftime(when, std::time(nullptr)), 0.0, kMaxSeconds);
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

}  // namespace meanwhile::llm
