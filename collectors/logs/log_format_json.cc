// The JSON kind: one object per line, read with simdjson On-Demand.

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "collectors/logs/log_format.h"
#include "collectors/logs/log_format_internal.h"
#include "simdjson.h"

namespace sidecar::accesslog::internal {
namespace {

struct JsonKey {
  std::string key;
  Target target;
};

// nginx variable names, as people write `"status":"$status"` in a log_format escape=json.
std::vector<JsonKey> DefaultKeys() {
  std::vector<JsonKey> keys;
  auto add = [&](std::string key, Field field) {
    keys.push_back({std::move(key), Target::ForField(field)});
  };
  add("remote_addr", Field::kRemoteAddr);
  add("remote_user", Field::kRemoteUser);
  add("time_local", Field::kTime);
  add("time_iso8601", Field::kTime);
  keys.push_back({"request", Target::ForRequest()});
  add("request_method", Field::kMethod);
  add("request_uri", Field::kUri);
  add("uri", Field::kPath);
  add("args", Field::kQuery);
  add("server_protocol", Field::kProtocol);
  add("status", Field::kStatus);
  add("body_bytes_sent", Field::kBodyBytesSent);
  add("bytes_sent", Field::kBytesSent);
  add("request_length", Field::kRequestLength);
  add("request_time", Field::kRequestTime);
  add("upstream_response_time", Field::kUpstreamResponseTime);
  add("upstream_connect_time", Field::kUpstreamConnectTime);
  add("upstream_header_time", Field::kUpstreamHeaderTime);
  add("upstream_status", Field::kUpstreamStatus);
  add("upstream_addr", Field::kUpstreamAddr);
  add("host", Field::kHost);
  add("http_host", Field::kHost);
  add("server_name", Field::kServerName);
  add("scheme", Field::kScheme);
  add("http_referer", Field::kReferer);
  add("http_user_agent", Field::kUserAgent);
  return keys;
}

class JsonLogFormat final : public LogFormat {
 public:
  explicit JsonLogFormat(std::vector<JsonKey> keys) : keys_(std::move(keys)) {
    for (const JsonKey& key : keys_) {
      AddTargetFields(key.target, fields_);
    }
  }

  bool Parse(std::string_view line, LogRecord& out) override {
    out.Clear();
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    // simdjson reads up to SIMDJSON_PADDING bytes past the end; the line is not ours to pad.
    if (buffer_.size() < line.size() + simdjson::SIMDJSON_PADDING) {
      buffer_.resize(line.size() + simdjson::SIMDJSON_PADDING);
    }
    // On-Demand stops reading at the end of the object; text after it would go unnoticed.
    std::string_view trimmed = line;
    while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\t')) {
      trimmed.remove_suffix(1);
    }
    if (trimmed.empty() || trimmed.back() != '}') {
      return false;
    }
    std::memcpy(buffer_.data(), line.data(), line.size());
    if (ParseBuffer(line.size(), out)) {
      return true;
    }
    // nginx's escape=json passes bytes above 0x7F through, so a client can put invalid UTF-8 in
    // a line, which simdjson rejects. Replace those bytes and try again rather than lose the
    // request.
    if (IsValidUtf8(line)) {
      return false;
    }
    const std::string_view clean = SanitizeUtf8(line, sanitized_);
    if (buffer_.size() < clean.size() + simdjson::SIMDJSON_PADDING) {
      buffer_.resize(clean.size() + simdjson::SIMDJSON_PADDING);
    }
    std::memcpy(buffer_.data(), clean.data(), clean.size());
    out.Clear();
    return ParseBuffer(clean.size(), out);
  }

 private:
  bool ParseBuffer(std::size_t length, LogRecord& out) {
    simdjson::ondemand::document document;
    if (parser_.iterate(buffer_.data(), length, buffer_.size()).get(document)) {
      return false;
    }
    simdjson::ondemand::object object;
    if (document.get_object().get(object)) {
      return false;
    }
    for (auto field_result : object) {
      simdjson::ondemand::field field;
      if (std::move(field_result).get(field)) {
        return false;
      }
      std::string_view key;
      if (field.unescaped_key().get(key)) {
        return false;
      }
      simdjson::ondemand::value value = field.value();
      simdjson::ondemand::json_type type;
      if (value.type().get(type)) {
        return false;
      }
      std::string_view text;
      switch (type) {
        case simdjson::ondemand::json_type::string:
          if (value.get_string().get(text)) {
            return false;
          }
          break;
        case simdjson::ondemand::json_type::number:
        case simdjson::ondemand::json_type::boolean:
          text = value.raw_json_token();
          while (!text.empty() && (text.back() == ' ' || text.back() == '\t' ||
                                   text.back() == '\n' || text.back() == '\r')) {
            text.remove_suffix(1);
          }
          break;
        default:
          // null means missing; nested objects and arrays are skipped by the iterator.
          continue;
      }
      const JsonKey* target = Find(key);
      if (target == nullptr) {
        out.named.push_back({key, text});
      } else if (!Store(target->target, text, /*unescape=*/false, out)) {
        return false;
      }
    }
    return true;
  }

  const JsonKey* Find(std::string_view key) const {
    for (const JsonKey& candidate : keys_) {
      if (candidate.key == key) {
        return &candidate;
      }
    }
    return nullptr;
  }

  const std::vector<JsonKey> keys_;
  simdjson::ondemand::parser parser_;
  std::string buffer_;
  std::string sanitized_;
};

}  // namespace

std::unique_ptr<LogFormat> CompileJson(const LogFormatOptions& options, FormatError& error) {
  if (options.keys_as_named) {
    if (!options.json_keys.empty()) {
      error.message = "JSON key map given while every key is a named field";
      return nullptr;
    }
    return std::make_unique<JsonLogFormat>(std::vector<JsonKey>{});
  }
  std::vector<JsonKey> keys = DefaultKeys();
  for (const auto& mapping : options.json_keys) {
    // Named, not structured bindings: clang 14 (the fuzz build) cannot capture those.
    const std::string& name = mapping.first;
    const std::string& key = mapping.second;
    Target target;
    if (name == "request") {
      target = Target::ForRequest();
    } else if (std::optional<Field> field = FieldFromName(name)) {
      target = Target::ForField(*field);
    } else {
      error.message = "unknown field '" + name + "' in the JSON key map";
      return nullptr;
    }
    // The configured key replaces the defaults of that field, and takes the key from any other.
    std::erase_if(keys, [&](const JsonKey& existing) {
      return existing.key == key ||
             (existing.target.kind == target.kind && existing.target.field == target.field);
    });
    if (!key.empty()) {
      keys.push_back({key, std::move(target)});
    }
  }
  return std::make_unique<JsonLogFormat>(std::move(keys));
}

}  // namespace sidecar::accesslog::internal
